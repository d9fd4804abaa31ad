// SPDX-License-Identifier: MIT
// Tests for protocol/client_session.hpp: against recorded ffmpeg servers, and against our own server session.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/protocol/client_session.hpp>
#include <rtmpx/protocol/server_session.hpp>

#include "../support.hpp"
#include "session_wire.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using namespace std::chrono_literals;
using rtmpx_test::bytes;

namespace {

const time_point t0 = time_point{} + 1000h;

// A client owner that writes down what it is told.
struct client_owner {
    std::vector<std::string> events;
    std::vector<rtmpx_test::wire_message> messages;

    void on_message(const message_header& h, decoded_message& d) { messages.push_back({h, std::move(d)}); }
    void on_connected(const command& c) { events.push_back(fmt::format("connected {}", c.transaction_id)); }
    void on_connect_failed(const command& c) { events.push_back(fmt::format("connect failed {}", c.transaction_id)); }
    void on_stream_created(double txn, std::uint32_t id) { events.push_back(fmt::format("stream {} {}", txn, id)); }
    void on_status(std::uint32_t id, const amf0::value& info) {
        events.push_back(fmt::format("status {} {}", id, info["code"].as_string()));
    }
};

// The client's output after its handshake, as a server reads it.
struct server_view {
    rtmpx_test::wire_reader reader{1 + 2 * 1536};  // C0 C1 C2
    std::vector<rtmpx_test::wire_message> read(output_queue& out) { return reader.read(rtmpx_test::take_output(out)); }
};

std::vector<std::string> command_names(const std::vector<rtmpx_test::wire_message>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms)
        if (m.command()) out.push_back(m.name());
    return out;
}

// A server session that accepts everything, for the loop-back test.
struct accepting_server {
    server_session<accepting_server>* session = nullptr;
    bool on_connect(const connect_command&) { return true; }
    bool on_create_stream(std::uint32_t, const amf0::value&) { return true; }
    bool on_play(play_request&) { return true; }
    bool on_pause(std::uint32_t, bool, double) { return true; }
    void on_receive_video(std::uint32_t, bool) {}
    void on_stream_deleted(std::uint32_t, std::error_code) {}
    void on_call(command& c) { session->answer_call(c.transaction_id, c.name, call_outcome::ok, amf0::value(c.name)); }
    void on_call_answered(double, call_result&&) {}
    void on_refused(std::error_code, std::uint32_t) {}
    bool on_publish(publish_request&) { return true; }
    void on_media(media_in& m) { media.push_back(std::move(m)); }
    void on_unpublish(std::uint32_t) {}
    std::vector<media_in> media;
};

} // namespace

TEST_SUITE("client_session") {
    TEST_CASE("C0 C1 go out at once; C2 echoes S1; requests made earlier follow the handshake") {
        client_owner owner;
        client_options o;
        o.chunk_size = 128;
        client_session<client_owner> client(owner, o, t0, 9);
        client.connect("live", "rtmp://127.0.0.1/live", t0);  // before the handshake: it waits
        const auto c0c1 = rtmpx_test::take_output(client.output());
        REQUIRE(c0c1.size() == 1537);
        CHECK(c0c1[0] == std::byte{3});
        CHECK(std::vector<std::byte>(c0c1.begin() + 5, c0c1.begin() + 9) == bytes({0, 0, 0, 0}));  // zero version: plain
        std::vector<std::byte> s0s1s2(3073, std::byte{0x11});
        s0s1s2[0] = std::byte{3};
        CHECK(client.put(std::span(s0s1s2).first(1000), t0) == 1000);
        CHECK_FALSE(client.output().has_pending());
        CHECK(client.put(std::span(s0s1s2).subspan(1000), t0) == 2073);
        CHECK(client.handshake_done());
        const auto after = rtmpx_test::take_output(client.output());
        REQUIRE(after.size() > 1536);
        CHECK(std::vector<std::byte>(after.begin(), after.begin() + 1536) == std::vector<std::byte>(1536, std::byte{0x11}));
        CHECK(after[1536] == std::byte{0x03});  // then connect, on chunk stream 3
    }

    TEST_CASE("against ffmpeg's recorded player session: connect, createStream and Play.Start understood") {
        const auto s2c = rtmpx_test::load_fixture("play_s2c.bin");
        client_owner owner;
        client_session<client_owner> client(owner, {}, t0, 9);
        server_view server;
        client.connect("live", "rtmp://127.0.0.1/live", t0);
        CHECK(client.create_stream() == 2);
        std::vector<std::byte> pending;
        for (std::size_t at = 0; at < s2c.size(); at += 61) {  // odd pieces; an incomplete header waits for more
            const auto piece = std::span(s2c).subspan(at, std::min<std::size_t>(61, s2c.size() - at));
            pending.insert(pending.end(), piece.begin(), piece.end());
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(client.put(pending, t0)));
        }
        CHECK(pending.empty());
        CHECK_MESSAGE(!client.closing(), client.reason().message());
        CHECK(client.connected());
        CHECK(owner.events == std::vector<std::string>{"connected 1", "stream 2 1", "status 1 NetStream.Play.Start"});
        CHECK(owner.messages.size() > 25);  // the media too, every message
        // What the client sent after its handshake: Set Chunk Size, connect, createStream, then the
        // window it announces once connected.
        const auto sent = server.read(client.output());
        REQUIRE(sent.size() >= 4);
        CHECK(std::get<set_chunk_size>(sent[0].body).chunk_size == 4096);
        CHECK(command_names(sent) == std::vector<std::string>{"connect", "createStream"});
        CHECK(std::get<window_ack_size>(sent[3].body).window == 2'500'000);
        const auto& object = sent[1].command()->object;
        CHECK(object["app"].as_string() == "live");
        CHECK(object["flashVer"].as_string() == "LNX 9,0,124,2");
        CHECK(object["videoCodecs"].as_number() == 252);
        // Enhanced RTMP, as a forwarder declares it: any codec, multitrack, ModEx, nano offsets.
        REQUIRE(object["fourCcList"].is_strict_array());
        CHECK(object["fourCcList"].elements().at(0).as_string() == "*");
        CHECK(object["videoFourCcInfoMap"]["*"].as_number() == 4);
        CHECK(object["audioFourCcInfoMap"]["*"].as_number() == 4);
        CHECK(object["capsEx"].as_number() == 15);
        const auto declared = rtmpx::protocol::enhanced::read_capabilities(object);
        CHECK(declared.declared);
        CHECK(declared.accepts_video(rtmpx::protocol::enhanced::video_fourcc::av1));
    }

    TEST_CASE("against ffmpeg's recorded publish session: the publisher's sequence is understood") {
        const auto s2c = rtmpx_test::load_fixture("publish_s2c.bin");
        client_owner owner;
        client_session<client_owner> client(owner, {}, t0, 9);
        client.connect("live", "rtmp://127.0.0.1/live", t0, {{"type", amf0::value("nonprivate")}});
        client.call("releaseStream", {amf0::value("fixture")});
        client.call("FCPublish", {amf0::value("fixture")});
        CHECK(client.create_stream() == 4);
        client.put(s2c, t0);
        CHECK(owner.events == std::vector<std::string>{"connected 1", "stream 4 1", "status 1 NetStream.Publish.Start"});
        client.publish(1, "fixture");
        server_view server;
        const auto sent = server.read(client.output());
        CHECK(command_names(sent) == std::vector<std::string>{"connect", "releaseStream", "FCPublish", "createStream", "publish"});
        CHECK(sent[1].command()->object["type"].as_string() == "nonprivate");
        CHECK(sent.back().header.stream_id == 1);
        CHECK(sent.back().header.chunk_stream_id == chunk_stream::client_stream_command);
    }

    TEST_CASE("acknowledges the server's window and answers its pings") {
        client_owner owner;
        client_options o;
        o.chunk_size = 128;
        client_session<client_owner> client(owner, o, t0, 9);
        std::vector<std::byte> hs(3073, std::byte{0});
        hs[0] = std::byte{3};
        client.put(hs, t0);
        rtmpx_test::take_output(client.output());
        rtmpx_test::wire_writer server;
        const auto in = rtmpx_test::concat(
            {server.bytes(to_message(window_ack_size{200})), server.bytes(to_message(user_control::ping_request(5))),
             server.bytes(message{{3, message_type::data_amf0, rtmp_timestamp(0), 0}, std::vector<std::byte>(250, std::byte{0x05})})});
        CHECK(client.put(in, t0) == in.size());
        rtmpx_test::wire_reader reader(0);
        const auto sent = reader.read(rtmpx_test::take_output(client.output()));
        REQUIRE(sent.size() == 2);
        CHECK(std::get<user_control>(sent[0].body) == user_control::ping_response(5));
        CHECK(std::get<acknowledgement>(sent[1].body).sequence_number == client.bytes_in());
    }

    TEST_CASE("a refused connect, a bad S0 and silence close it with the reason") {
        SUBCASE("refused") {
            client_owner owner;
            client_session<client_owner> client(owner, {}, t0, 9);
            client.connect("live", "rtmp://h/live", t0);
            std::vector<std::byte> hs(3073, std::byte{0});
            hs[0] = std::byte{3};
            client.put(hs, t0);
            rtmpx_test::wire_writer server;
            client.put(server.bytes(make_error(1, status_info("error", "NetConnection.Connect.Rejected", "no"))), t0);
            CHECK(owner.events == std::vector<std::string>{"connect failed 1"});
            CHECK_FALSE(client.connected());
            CHECK(client.reason() == error::rejected_by_handler);
        }
        SUBCASE("bad S0") {
            client_owner owner;
            client_session<client_owner> client(owner, {}, t0, 9);
            client.put(bytes({6}), t0);
            CHECK(client.reason() == error::bad_handshake_version);
        }
        SUBCASE("no handshake, then no answer to connect") {
            client_owner owner;
            client_session<client_owner> client(owner, {}, t0, 9);
            CHECK(client.next_deadline() == t0 + 10s);
            client.on_time(t0 + 10s);
            CHECK(client.reason() == error::handshake_timeout);
            client_session<client_owner> other(owner, {}, t0, 9);
            std::vector<std::byte> hs(3073, std::byte{0});
            hs[0] = std::byte{3};
            other.put(hs, t0);
            other.connect("live", "rtmp://h/live", t0 + 1s);
            other.on_time(t0 + 10s);
            CHECK_FALSE(other.closing());
            other.on_time(t0 + 11s);
            CHECK(other.reason() == error::connect_timeout);
        }
    }

    TEST_CASE("a client session and a server session talk to each other, no socket in between") {
        accepting_server srv_owner;
        server_options so;
        server_session<accepting_server> server(srv_owner, so, t0, 1);
        srv_owner.session = &server;
        client_owner cli_owner;
        client_session<client_owner> client(cli_owner, {}, t0, 2);
        auto pump = [&](auto& from, auto& to) {
            const auto b = rtmpx_test::take_output(from.output());
            if (!b.empty()) CHECK(to.put(b, t0) == b.size());
            return !b.empty();
        };
        client.connect("live", "rtmp://h/live", t0);
        client.create_stream();
        auto converse = [&] {
            for (int i = 0; i < 10; ++i) {
                const bool up = pump(client, server);
                const bool down = pump(server, client);
                if (!up && !down) break;
            }
        };
        converse();
        CHECK(cli_owner.events == std::vector<std::string>{"connected 1", "stream 2 1"});
        client.play(1, "cam");
        const double txn = client.call("hello", {});
        converse();
        CHECK(cli_owner.events.back() == "status 1 NetStream.Play.Start");
        CHECK(server.playing(1));
        CHECK(server.chunk_size_in() == 4096);
        CHECK(client.chunk_size_in() == 4096);
        bool answered = false;
        for (const auto& m : cli_owner.messages)
            if (m.command() && m.name() == "_result" && m.command()->transaction_id == txn)
                answered = m.command()->arguments.at(0).as_string() == "hello";
        CHECK(answered);
    }
}
