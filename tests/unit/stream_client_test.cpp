// SPDX-License-Identifier: MIT
// Tests for protocol/stream_client.hpp, protocol/url.hpp and protocol/backoff.hpp: publishing
// and playing against our own server session, no socket in between; URLs; waits.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/protocol/backoff.hpp>
#include <rtmpx/protocol/server_session.hpp>
#include <rtmpx/protocol/stream_client.hpp>
#include <rtmpx/protocol/url.hpp>

#include "../support.hpp"
#include "session_wire.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using namespace std::chrono_literals;
using rtmpx_test::bytes;

namespace {

const time_point t0 = time_point{} + 1000h;

// A server session owner that says what it is asked and keeps what is published.
struct origin {
    server_session<origin>* session = nullptr;
    std::vector<std::string> events;
    std::vector<media_in> media;
    bool accept_connect = true;
    bool allow_create = true;
    bool allow_play = true;
    std::string publish_refusal;  // empty: accepted

    bool on_connect(const connect_command& c) {
        events.push_back(fmt::format("connect {} {}", c.app, c.tc_url));
        return accept_connect;
    }
    bool on_create_stream(std::uint32_t id, const amf0::value&) {
        events.push_back(fmt::format("create {}", id));
        return allow_create;
    }
    bool on_play(play_request& r) {
        if (r.is_start) events.push_back(fmt::format("play {} {}", r.stream_id, r.stream_name));
        return allow_play || !r.is_start;
    }
    bool on_pause(std::uint32_t, bool, double) { return true; }
    void on_receive_video(std::uint32_t, bool) {}
    void on_stream_deleted(std::uint32_t id, std::error_code) { events.push_back(fmt::format("deleted {}", id)); }
    void on_call(command& c) {
        events.push_back(c.name);
        session->answer_call(c.transaction_id, c.name, call_outcome::ok, amf0::value::null());
    }
    void on_call_answered(double, call_result&&) {}
    void on_refused(std::error_code, std::uint32_t) {}
    bool on_publish(publish_request& r) {
        events.push_back(fmt::format("publish {} {} {}", r.stream_id, r.stream_name, r.type));
        if (publish_refusal.empty()) return true;
        r.refusal = publish_refusal;
        return false;
    }
    void on_media(media_in& m) { media.push_back(std::move(m)); }
    void on_unpublish(std::uint32_t id) { events.push_back(fmt::format("unpublish {}", id)); }
};

// A stream client owner that says what it is told.
struct client_owner {
    std::vector<std::string> events;
    std::vector<media_in> media;
    void on_started() { events.push_back("started"); }
    void on_media(media_in& m) { media.push_back(std::move(m)); }
    void on_news(bool published) { events.push_back(published ? "published" : "unpublished"); }
};

// A client and an origin connected back to back; `converse` moves bytes until both are quiet.
struct loop {
    explicit loop(stream_client_mode mode, std::string url = "rtmp://origin.example:1935/live/cam?token=abc")
        : server(owner, server_settings, t0, 1) {
        owner.session = &server;
        std::error_code ec;
        target = parse_rtmp_url(url, ec);
        REQUIRE_FALSE(ec);
        client = std::make_unique<stream_client<client_owner>>(cli, target, mode, stream_client_options{}, t0, 2);
    }

    void converse(time_point now = t0) {
        for (int i = 0; i < 20; ++i) {
            const auto up = rtmpx_test::take_output(client->output());
            if (!up.empty()) server.put(up, now);
            sent.insert(sent.end(), up.begin(), up.end());
            const auto down = rtmpx_test::take_output(server.output());
            if (!down.empty()) client->put(down, now);
            if (up.empty() && down.empty()) break;
        }
    }

    origin owner;
    server_options server_settings;  // the session keeps a reference
    server_session<origin> server;
    client_owner cli;
    rtmp_url target;
    std::unique_ptr<stream_client<client_owner>> client;
    std::vector<std::byte> sent;  // everything the client wrote

    // The names of the commands the client sent, in order.
    std::vector<std::string> commands_sent() {
        std::vector<std::string> out;
        for (const auto& m : rtmpx_test::wire_reader(1 + 2 * 1536).read(sent))
            if (m.command()) out.push_back(m.name());
        return out;
    }
};

shared_frame frame(std::uint32_t ts, bool key, std::shared_ptr<const stream_config> config, media_kind kind = media_kind::video) {
    auto f = std::make_shared<media_frame>();
    f->kind = kind;
    f->tag = kind == media_kind::video ? bytes({key ? 0x17 : 0x27, 0x01, 0, 0, 0, 0xaa}) : bytes({0xaf, 0x01, 0x21});
    f->timestamp = ts;
    f->key_frame = key;
    f->config = std::move(config);
    return f;
}

} // namespace

TEST_SUITE("stream_client") {
    TEST_CASE("URLs: app, instance, key with its query; the query goes into the tcUrl too; bad ones refused") {
        std::error_code ec;
        auto u = parse_rtmp_url("rtmp://cdn.example/live2/app/key?token=x", ec);
        REQUIRE_FALSE(ec);
        CHECK(u.host == "cdn.example");
        CHECK(u.port == 1935);
        CHECK(u.app == "live2/app");
        CHECK(u.name == "key?token=x");
        CHECK(u.tc_url == "rtmp://cdn.example:1935/live2/app?token=x");
        u = parse_rtmp_url("rtmps://[::1]:4443/live/k", ec);
        REQUIRE_FALSE(ec);
        CHECK(u.tls);
        CHECK(u.host == "::1");
        CHECK(u.port == 4443);
        CHECK(u.tc_url == "rtmps://[::1]:4443/live");
        CHECK(parse_rtmp_url("rtmps://h/live/k", ec).port == 443);
        for (const char* bad : {"http://h/live/k", "rtmp://h/live", "rtmp://h/live/", "rtmp:///live/k", "rtmp://h:0/live/k",
                                "rtmp://h:99999/live/k", "rtmp://h:x/live/k", "rtmp://h/", "rtmp://h:/live/k"}) {
            parse_rtmp_url(bad, ec);
            CHECK_MESSAGE(ec == std::errc::invalid_argument, bad);
        }
    }

    TEST_CASE("backoff: doubles from the first wait up to the bound, jittered below it, and starts over") {
        backoff b(backoff_policy{1000ms, 8000ms, 2.0, 0.25}, 7);
        std::vector<long> waits;
        for (int i = 0; i < 6; ++i) waits.push_back(b.next().count());
        const long bounds[] = {1000, 2000, 4000, 8000, 8000, 8000};
        for (int i = 0; i < 6; ++i) {
            CHECK(waits[i] <= bounds[i]);
            CHECK(waits[i] >= bounds[i] * 3 / 4);
        }
        CHECK(b.failures() == 6);
        b.reset();
        CHECK(b.next().count() <= 1000);
        backoff other(backoff_policy{1000ms, 8000ms, 2.0, 0.25}, 8);
        CHECK(other.next() != backoff(backoff_policy{1000ms, 8000ms, 2.0, 0.25}, 7).next());  // seeds spread clients
    }

    TEST_CASE("publishing as OBS does: connect, releaseStream, FCPublish, createStream, publish; frames from a key frame") {
        loop l(stream_client_mode::publish);
        l.converse();
        CHECK(l.owner.events ==
              std::vector<std::string>{"connect live rtmp://origin.example:1935/live?token=abc", "create 1", "publish 1 cam?token=abc live"});
        CHECK(l.commands_sent() == std::vector<std::string>{"connect", "releaseStream", "FCPublish", "createStream", "publish"});
        CHECK(l.cli.events == std::vector<std::string>{"started"});
        REQUIRE(l.client->started());
        auto config = std::make_shared<stream_config>();
        config->metadata = std::make_shared<const std::vector<std::byte>>(
            encode_payload(make_on_metadata(amf0::value::ecma_array({{"width", amf0::value(320)}}))));
        config->sequence_header = std::make_shared<const std::vector<std::byte>>(bytes({0x17, 0x00, 0, 0, 0, 0x01}));
        config->audio_sequence_header = std::make_shared<const std::vector<std::byte>>(bytes({0xaf, 0x00, 0x12, 0x10}));
        l.client->start_timeline(5000);  // where an earlier connection's timeline ended
        CHECK_FALSE(l.client->send_frame(frame(100, false, config)));  // not a key frame: waits
        CHECK(l.client->send_frame(frame(133, true, config)));
        CHECK(l.client->send_frame(frame(140, false, config, media_kind::audio)));
        CHECK(l.client->send_frame(frame(166, false, config)));
        l.converse();
        REQUIRE(l.owner.media.size() == 6);
        CHECK(l.owner.media[0].type == media_type::metadata);  // @setDataFrame removed by the origin: it was sent
        CHECK(l.owner.media[1].payload == *config->sequence_header);
        CHECK(l.owner.media[2].payload == *config->audio_sequence_header);
        CHECK(l.owner.media[3].timestamp.value() == 5000);
        CHECK(l.owner.media[4].timestamp.value() == 5007);
        CHECK(l.owner.media[5].timestamp.value() == 5033);
        CHECK(l.client->timestamp() == 5033);
        l.client->finish_publish();
        l.converse();
        CHECK(l.owner.events.back() == "deleted 1");
        CHECK(l.owner.events[l.owner.events.size() - 2] == "unpublish 1");
        CHECK(l.client->closing());
        CHECK_FALSE(l.client->reason());
    }

    TEST_CASE("refusals: a refused connect and BadName/Denied will not change; another error may") {
        SUBCASE("connect refused") {
            loop l(stream_client_mode::publish);
            l.owner.accept_connect = false;
            l.converse();
            REQUIRE(l.client->refusal());
            CHECK(l.client->refusal()->code == "NetConnection.Connect.Rejected");
            CHECK(l.client->refusal()->permanent);
            CHECK(l.client->reason() == error::rejected_by_handler);
        }
        SUBCASE("publish refused") {
            loop l(stream_client_mode::publish);
            l.owner.publish_refusal = "NetStream.Publish.Denied";
            l.converse();
            REQUIRE(l.client->refusal());
            CHECK(l.client->refusal()->code == "NetStream.Publish.Denied");
            CHECK(l.client->refusal()->permanent);
            CHECK(l.client->reason() == error::publish_refused);
            CHECK_FALSE(l.client->started());
        }
        SUBCASE("a play refused (Play.Failed): reported, but not permanent") {
            loop l(stream_client_mode::play);
            l.owner.allow_play = false;
            l.converse();
            REQUIRE(l.client->refusal());
            CHECK(l.client->refusal()->code == "NetStream.Play.Failed");
            CHECK_FALSE(l.client->refusal()->permanent);
            CHECK(l.client->closing());
        }
        SUBCASE("no Publish.Start in time: the start timeout, not a refusal") {
            loop l(stream_client_mode::publish);
            l.owner.allow_create = false;  // createStream gets an _error: the publish never starts
            l.converse();
            l.client->on_time(t0 + 9999ms);
            CHECK_FALSE(l.client->closing());
            l.client->on_time(t0 + 10s);
            CHECK(l.client->reason() == error::connect_timeout);
            CHECK_FALSE(l.client->refusal());
        }
    }

    TEST_CASE("playing: media, metadata and the publisher's news reach the owner; silence ends it") {
        loop l(stream_client_mode::play, "rtmp://origin/live/cam");
        l.converse();
        CHECK(l.owner.events.back() == "play 1 cam");
        CHECK(l.cli.events == std::vector<std::string>{"started"});
        auto config = std::make_shared<stream_config>();
        config->metadata = std::make_shared<const std::vector<std::byte>>(
            encode_payload(make_on_metadata(amf0::value::ecma_array({{"width", amf0::value(320)}}))));
        l.server.send_frame(1, frame(10, true, config));
        l.server.send_frame(1, frame(20, false, config, media_kind::audio));
        auto news = std::make_shared<media_frame>();
        news->kind = media_kind::unpublished;
        l.server.send_frame(1, news);
        l.converse();
        REQUIRE(l.cli.media.size() == 3);
        CHECK(l.cli.media[0].type == media_type::metadata);
        CHECK(l.cli.media[1].type == media_type::video);
        CHECK(l.cli.media[2].type == media_type::audio);
        CHECK(l.cli.media[2].timestamp.value() == 10);
        CHECK(l.cli.events.back() == "unpublished");
        l.client->on_time(t0 + 9s);
        CHECK_FALSE(l.client->closing());
        l.client->on_time(t0 + 10s);
        CHECK(l.client->reason() == error::idle_timeout);
    }

    TEST_CASE("round trip: the client's own pings, answered by the server") {
        loop l(stream_client_mode::publish);
        l.converse();
        REQUIRE(l.client->next_deadline());
        l.client->on_time(t0 + 5s);
        const auto up = rtmpx_test::take_output(l.client->output());
        l.server.put(up, t0 + 5s);
        l.client->put(rtmpx_test::take_output(l.server.output()), t0 + 5s + 1500us);
        CHECK(l.client->round_trip() == 1500us);
    }
}
