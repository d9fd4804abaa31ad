// SPDX-License-Identifier: MIT
// Session tests of taking streams in: publishers into a relay with players watching, the publish
// and media handlers, publisher limits and bad input, and recording.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <rtmpx/flv_file.hpp>
#include <rtmpx/recorder.hpp>
#include <rtmpx/relay.hpp>

#include "../support.hpp"
#include "test_client.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using namespace std::chrono_literals;
using rtmpx_test::bytes;
using rtmpx_test::local_server;
using rtmpx_test::status_code;
using rtmpx_test::test_client;

namespace {

const std::vector<std::byte> avc_config = bytes({0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e});
const std::vector<std::byte> aac_config = bytes({0xaf, 0x00, 0x12, 0x10});

std::vector<std::byte> video(bool key, int n) { return bytes({key ? 0x17 : 0x27, 0x01, 0, 0, 0, n & 0xff}); }
std::vector<std::byte> audio(int n) { return bytes({0xaf, 0x01, 0x21, n & 0xff}); }

message media(message_type type, std::uint32_t ts, std::uint32_t sid, std::vector<std::byte> payload) {
    return message{{type == message_type::audio ? 4u : 6u, type, rtmp_timestamp(ts), sid}, std::move(payload)};
}

// A client that publishes `name` on `app`; the status the server answered with.
struct publishing_client {
    explicit publishing_client(local_server& srv) : client(srv) {}

    // Opens the stream first (once).
    std::string publish(const std::string& app, const std::string& name) {
        if (sid == 0) sid = client.open_stream(app);
        REQUIRE(sid != 0);
        client.send(command{"publish", txn++, amf0::value::null(), {amf0::value(name), amf0::value("live")}}, sid);
        auto status = client.wait_for([](const decoded_message& d, const message_header&) { return !status_code(d).empty(); });
        return status ? status_code(*status) : "";
    }

    // onMetaData, both sequence headers, then `frames` video frames (a key frame every 10th) at
    // 33 ms with an audio frame after each, from `ts`.
    void stream(std::uint32_t ts, int frames, bool configs = true) {
        if (configs) {
            client.send(to_message(data_message{"@setDataFrame", {amf0::value("onMetaData"),
                                                                  amf0::value::ecma_array({{"width", amf0::value(320)}})}},
                                   sid));
            client.send(media(message_type::video, ts, sid, avc_config));
            client.send(media(message_type::audio, ts, sid, aac_config));
        }
        for (int i = 0; i < frames; ++i) {
            client.send(media(message_type::video, ts + 33 * i, sid, video(i % 10 == 0, i)));
            client.send(media(message_type::audio, ts + 33 * i + 10, sid, audio(i)));
        }
    }

    test_client client;
    std::uint32_t sid = 0;
    double txn = 3;
};

// A client that plays `name` on `app`.
struct watcher_client {
    explicit watcher_client(local_server& srv) : client(srv) {}

    std::string play(const std::string& app, const std::string& name) {
        sid = client.open_stream(app);
        REQUIRE(sid != 0);
        client.play(sid, name);
        auto status = client.wait_for(
            [](const decoded_message& d, const message_header&) { return status_code(d) == "NetStream.Play.Start" || status_code(d).find("Failed") != std::string::npos; });
        return status ? status_code(*status) : "";
    }

    // Every media message and status until `count` media messages came, or the status `until`
    // (or the reads time out).
    struct event {
        std::string what;  // "video", "audio", "meta", or a status code
        std::uint32_t ts;
        std::vector<std::byte> payload;
    };
    std::vector<event> collect(std::size_t count, std::string_view until = {}) {
        std::vector<event> out;
        std::size_t media_count = 0;
        while (media_count < count) {
            auto r = client.next(2000);
            if (!r) break;
            if (auto* m = std::get_if<media_message>(&r->body)) {
                out.push_back({m->type == message_type::video ? "video" : "audio", r->header.timestamp.value(), m->payload});
                ++media_count;
            } else if (auto* d = std::get_if<data_message>(&r->body); d && d->handler == "onMetaData") {
                out.push_back({"meta", r->header.timestamp.value(), {}});
            } else if (const auto code = status_code(r->body); !code.empty()) {
                out.push_back({code, r->header.timestamp.value(), {}});
                if (code == until) break;
            }
        }
        return out;
    }

    test_client client;
    std::uint32_t sid = 0;
};

// What the first `n` events were (all of them by default).
std::vector<std::string> whats(const std::vector<watcher_client::event>& events, std::size_t n = SIZE_MAX) {
    std::vector<std::string> out;
    for (const auto& e : events)
        if (out.size() < n) out.push_back(e.what);
    return out;
}

// A relay on app "relay", with the close reason of each connection kept.
struct relay_app {
    explicit relay_app(relay_options o = {}) : names(std::move(o)) {}

    void install(local_server& srv) {
        srv.install([this](connection& c, const connect_event& e) {
            if (e.command.app != "relay") return false;
            if (!e.is_create) {
                std::lock_guard lock(mutex);
                reasons.push_back(e.reason);
                return true;
            }
            c.on_stream([this](stream& s, const stream_event& se) {
                if (se.is_create) names.attach(s);
                return true;
            });
            return true;
        });
    }

    std::vector<std::error_code> close_reasons() {
        std::lock_guard lock(mutex);
        return reasons;
    }

    rtmpx::relay names;
    std::mutex mutex;
    std::vector<std::error_code> reasons;
};

template <class P>
bool eventually(P p, std::chrono::milliseconds limit = 3s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (p()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return p();
}

std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

// (type, timestamp) of each tag of an FLV file.
std::vector<std::pair<int, std::uint32_t>> flv_tags(const std::vector<std::byte>& file) {
    std::vector<std::pair<int, std::uint32_t>> out;
    std::size_t pos = 13;
    auto u8 = [&](std::size_t i) { return static_cast<std::uint32_t>(file[i]); };
    while (pos + 11 <= file.size()) {
        const std::uint32_t size = u8(pos + 1) << 16 | u8(pos + 2) << 8 | u8(pos + 3);
        const std::uint32_t ts = u8(pos + 4) << 16 | u8(pos + 5) << 8 | u8(pos + 6) | u8(pos + 7) << 24;
        if (pos + 11 + size + 4 > file.size()) break;
        out.emplace_back(static_cast<int>(u8(pos)), ts);
        pos += 11 + size + 4;
    }
    return out;
}

} // namespace

TEST_SUITE("session ingest") {
    TEST_CASE("a relay: the player gets metadata, both sequence headers, then video from a key frame and audio, from 0") {
        relay_app app;
        local_server srv;
        app.install(srv);
        publishing_client pub(srv);
        REQUIRE(pub.publish("relay", "cam?token=abc") == "NetStream.Publish.Start");  // the query is not the name
        watcher_client watcher(srv);
        REQUIRE(watcher.play("relay", "cam") == "NetStream.Play.Start");
        pub.stream(5000, 12);
        const auto events = watcher.collect(26);  // both sequence headers and 12 frames of each
        REQUIRE(events.size() >= 4);
        CHECK(whats(events, 4) == std::vector<std::string>{"meta", "video", "audio", "video"});
        CHECK(events[1].payload == avc_config);
        CHECK(events[2].payload == aac_config);
        CHECK(events[3].payload == video(true, 0));
        CHECK(events[3].ts == 0);
        CHECK(events[4].what == "audio");
        CHECK(events[4].ts == 10);
        CHECK(events.back().ts == 11 * 33 + 10);
        CHECK(app.names.live_names() == std::vector<std::string>{"relay/cam"});

        // A player joining mid-group starts at once from the cached key frame, audio in order.
        watcher_client late(srv);
        REQUIRE(late.play("relay", "cam") == "NetStream.Play.Start");
        const auto joined = late.collect(6);
        REQUIRE(joined.size() >= 5);
        CHECK(whats(joined, 5) ==
              std::vector<std::string>{"meta", "video", "audio", "video", "audio"});
        CHECK(joined[3].payload == video(true, 10));
        CHECK(joined[3].ts == 0);
        CHECK(joined[4].ts == 10);
    }

    TEST_CASE("the publisher leaves and comes back: players get the news and a timeline that goes on, near wall time") {
        relay_app app;
        local_server srv;
        app.install(srv);
        watcher_client watcher(srv);
        REQUIRE(watcher.play("relay", "show") == "NetStream.Play.Start");
        {
            publishing_client pub(srv);
            REQUIRE(pub.publish("relay", "show") == "NetStream.Publish.Start");
            pub.stream(90'000, 10);
            pub.client.send(command{"FCUnpublish", 5, amf0::value::null(), {amf0::value("show")}});
            pub.client.send(command{"deleteStream", 6, amf0::value::null(), {amf0::value(pub.sid)}});
            auto ended = pub.client.wait_for(
                [](const decoded_message& d, const message_header&) { return status_code(d) == "NetStream.Unpublish.Success"; });
            CHECK(ended);
        }
        const auto first = watcher.collect(1000, "NetStream.Play.UnpublishNotify");
        REQUIRE(!first.empty());
        CHECK(first.front().what == "NetStream.Play.PublishNotify");
        CHECK(first.back().what == "NetStream.Play.UnpublishNotify");
        const auto last_ts = first[first.size() - 2].ts;
        CHECK(eventually([&] { return app.names.live_names().empty(); }));

        std::this_thread::sleep_for(300ms);
        publishing_client again(srv);  // a new publisher: timestamps from 0, a new sequence header
        REQUIRE(again.publish("relay", "show") == "NetStream.Publish.Start");
        again.stream(0, 3);
        const auto second = watcher.collect(7);
        REQUIRE(second.size() >= 5);
        CHECK(whats(second, 5) ==
              std::vector<std::string>{"NetStream.Play.PublishNotify", "meta", "video", "audio", "video"});
        CHECK(second[4].payload == video(true, 0));
        CHECK(second[4].ts > last_ts + 250);  // the time the stream was away
        CHECK(second[4].ts < last_ts + 3000);
        std::uint32_t previous = 0;
        for (const auto& e : second) {
            if (e.what != "video" && e.what != "audio") continue;
            CHECK(e.ts >= previous);
            previous = e.ts;
        }
    }

    TEST_CASE("a second publisher of a live name is refused with BadName; with takeover it replaces the first") {
        SUBCASE("refused") {
            relay_app app;
            local_server srv;
            app.install(srv);
            publishing_client first(srv), second(srv);
            REQUIRE(first.publish("relay", "cam") == "NetStream.Publish.Start");
            CHECK(second.publish("relay", "cam") == "NetStream.Publish.BadName");
            CHECK(second.publish("relay", "other") == "NetStream.Publish.Start");  // the connection lives on
        }
        SUBCASE("takeover") {
            relay_options o;
            o.takeover = true;
            relay_app app(o);
            local_server srv;
            app.install(srv);
            watcher_client watcher(srv);
            REQUIRE(watcher.play("relay", "cam") == "NetStream.Play.Start");
            publishing_client first(srv), second(srv);
            REQUIRE(first.publish("relay", "cam") == "NetStream.Publish.Start");
            first.stream(0, 3);
            REQUIRE(second.publish("relay", "cam") == "NetStream.Publish.Start");
            CHECK(first.client.closed_by_server());
            CHECK(eventually([&] {
                const auto reasons = app.close_reasons();
                return std::count(reasons.begin(), reasons.end(), std::error_code(error::publisher_replaced)) == 1;
            }));
            second.stream(0, 2);
            const auto news = whats(watcher.collect(12));
            CHECK(std::count(news.begin(), news.end(), "NetStream.Play.PublishNotify") == 2);
            CHECK(std::count(news.begin(), news.end(), "NetStream.Play.UnpublishNotify") == 0);
        }
    }

    TEST_CASE("publish handlers: refusals carry their status; no handler refuses; media arrives in order with its timestamps") {
        local_server srv;
        std::mutex mutex;
        std::vector<std::string> seen;
        srv.install([&](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_stream([&](stream& s, const stream_event& se) {
                if (!se.is_create) return true;
                if (s.id() == 1) {  // the second stream has no publish handler
                    s.on_publish([&](stream&, publish_event& pe) {
                        std::lock_guard lock(mutex);
                        seen.push_back(fmt::format("{} {} {} {} {}", pe.is_start ? "start" : "end", pe.stream_name, pe.query,
                                                   pe.type, pe.connect.app));
                        if (pe.query == "token=bad") {
                            pe.refusal = publish_refusal::denied;
                            pe.description = "bad token";
                            return false;
                        }
                        return true;
                    });
                    s.on_media([&](stream&, const media_event& me) {
                        std::lock_guard lock(mutex);
                        seen.push_back(fmt::format("media {} {} {}", static_cast<int>(me.type), me.timestamp, me.payload.size()));
                    });
                }
                return true;
            });
            return true;
        });
        publishing_client pub(srv);
        CHECK(pub.publish("app", "cam?token=bad") == "NetStream.Publish.Denied");
        pub.client.send(command{"publish", 4, amf0::value::null(), {amf0::value("cam?token=good"), amf0::value("live")}}, pub.sid);
        CHECK(pub.client.wait_for([](const decoded_message& d, const message_header&) {
            return status_code(d) == "NetStream.Publish.Start";
        }));
        pub.client.send(media(message_type::video, 1000, pub.sid, video(true, 1)));
        pub.client.send(media(message_type::video, 1033, pub.sid, bytes({0x17, 0x01})));  // too short: dropped
        pub.client.send(media(message_type::audio, 1010, pub.sid, audio(1)));
        const data_message text{"onTextData", {amf0::value::object({{"text", amf0::value("hi")}})}};
        pub.client.send(to_message(text, pub.sid));
        // A second stream on the connection has no publish handler: refused.
        pub.client.send(command{"createStream", 5, amf0::value::null(), {}});
        auto created = pub.client.wait_command("_result");
        REQUIRE(created);
        const auto second = static_cast<std::uint32_t>(created->arguments.at(0).as_number());
        pub.client.send(command{"publish", 6, amf0::value::null(), {amf0::value("x"), amf0::value("live")}}, second);
        CHECK(pub.client.wait_for([](const decoded_message& d, const message_header&) {
            return status_code(d) == "NetStream.Publish.Denied";
        }));
        pub.client.send(command{"deleteStream", 7, amf0::value::null(), {amf0::value(pub.sid)}});
        CHECK(eventually([&] {
            std::lock_guard lock(mutex);
            return seen.size() >= 6;
        }));
        std::lock_guard lock(mutex);
        CHECK(seen == std::vector<std::string>{"start cam token=bad live app", "start cam token=good live app", "media 1 1000 6",
                                               "media 0 1010 4", fmt::format("media 3 0 {}", encode_payload(text).size()),
                                               "end cam   app"});
    }

    TEST_CASE("max_publishers: one more publish is rejected, and counted out of the server's figures") {
        server_options o;
        o.max_publishers = 1;
        relay_app app;
        local_server srv(o);
        app.install(srv);
        publishing_client a(srv), b(srv);
        REQUIRE(a.publish("relay", "one") == "NetStream.Publish.Start");
        CHECK(eventually([&] { return srv.statistics().publishing_streams == 1; }));
        CHECK(b.publish("relay", "two") == "NetStream.Publish.Rejected");
        a.client.close();
        CHECK(eventually([&] { return srv.statistics().publishing_streams == 0; }));
        CHECK(b.publish("relay", "two") == "NetStream.Publish.Start");
    }

    TEST_CASE("a publisher that dies in the middle of a message: players hear it left, the name is free again") {
        relay_app app;
        local_server srv;
        app.install(srv);
        watcher_client watcher(srv);
        REQUIRE(watcher.play("relay", "cut") == "NetStream.Play.Start");
        {
            publishing_client pub(srv);
            REQUIRE(pub.publish("relay", "cut") == "NetStream.Publish.Start");
            pub.stream(0, 2);
            // The first chunk of a 300-byte video message (chunk size 128), then the end.
            auto half = bytes({0x06, 0, 0, 0, 0, 0x01, 0x2c, 0x09});
            for (int i = 0; i < 4; ++i) half.push_back(std::byte(i == 0 ? pub.sid : 0));
            half.resize(12 + 128, std::byte{0x27});
            pub.client.write_raw(half);
            pub.client.close();
        }
        const auto events = watcher.collect(1000, "NetStream.Play.UnpublishNotify");
        REQUIRE(!events.empty());
        CHECK(events.back().what == "NetStream.Play.UnpublishNotify");
        publishing_client next(srv);
        CHECK(next.publish("relay", "cut") == "NetStream.Publish.Start");
    }

    TEST_CASE("pinned names: every pin and the publisher share one broadcast, kept while pinned") {
        relay_app app;
        local_server srv;
        app.install(srv);
        auto a = app.names.pin("relay", "cam");
        auto b = app.names.pin("relay", "cam");
        REQUIRE(a);
        CHECK(a.get() == b.get());
        {
            publishing_client pub(srv);
            REQUIRE(pub.publish("relay", "cam") == "NetStream.Publish.Start");
            CHECK(app.names.find("relay", "cam").get() == a.get());
            pub.stream(0, 3);
            CHECK(eventually([&] { return a->frames() >= 6; }));
        }
        CHECK(eventually([&] { return app.names.live_names().empty(); }));
        CHECK(app.names.size() == 1);  // no publisher, no player, but pinned
        a.reset();
        CHECK(app.names.size() == 1);
        b.reset();
        CHECK(app.names.size() == 0);
    }

    TEST_CASE("a publisher that sends nothing for the publish timeout is closed") {
        server_options o;
        o.timeouts.publish = 300ms;
        relay_app app;
        local_server srv(o);
        app.install(srv);
        publishing_client pub(srv);
        REQUIRE(pub.publish("relay", "quiet") == "NetStream.Publish.Start");
        CHECK(pub.client.closed_by_server());
        CHECK(eventually([&] { return app.close_reasons().size() == 1; }));
        CHECK(app.close_reasons().at(0) == error::publish_timeout);
    }

    TEST_CASE("a slow player loses video to the next key frame but keeps its audio") {
        driver::frame_source source(driver::frame_source_options{false, 0, 0, false});
        auto sub = std::make_shared<driver::subscriber>(8);
        sub->wake = [] {};
        source.subscribe(sub);
        source.push(media_kind::video, video(true, 0), 0);
        for (int i = 1; i < 7; ++i) source.push(media_kind::video, video(false, i), 33u * i);  // the 7th: 3/4 full, dropped
        for (int i = 0; i < 3; ++i) source.push(media_kind::audio, audio(i), 200u + 20u * i);
        std::vector<media_kind> kinds;
        while (auto* f = sub->queue.front()) {
            kinds.push_back((*f)->kind);
            sub->queue.pop();
        }
        CHECK(kinds == std::vector<media_kind>{media_kind::video, media_kind::video, media_kind::video, media_kind::video,
                                               media_kind::video, media_kind::video, media_kind::audio, media_kind::audio});
        source.push(media_kind::video, video(false, 9), 400);  // waits for a key frame after the drop
        CHECK(sub->queue.front() == nullptr);
        source.push(media_kind::video, video(true, 10), 433);
        REQUIRE(sub->queue.front() != nullptr);
        CHECK((*sub->queue.front())->key_frame);
    }

    TEST_CASE("a big fan-out that writes is woken from helper threads too, every subscriber, and none once unsubscribed") {
        driver::frame_source_options o{false, 0, 0, false};
        o.fanout_batch = 8;    // 40 subscribers: this thread and 2 helpers
        o.fanout_threads = 2;
        driver::frame_source source(o);
        struct watched {
            std::atomic<int> wakes{0};
            std::atomic<bool> gone{false};  // set once unsubscribe returned: no wake may follow
        };
        std::atomic<int> late{0};
        std::mutex threads_mutex;
        std::vector<std::thread::id> threads;
        std::vector<std::shared_ptr<driver::subscriber>> subs;
        std::vector<std::shared_ptr<watched>> seen;
        for (int i = 0; i < 40; ++i) {
            auto sub = std::make_shared<driver::subscriber>(64);
            sub->wake_writes = true;  // as a player whose wake writes to its socket
            auto w = std::make_shared<watched>();
            sub->wake = [w, &late, &threads_mutex, &threads] {
                if (w->gone.load()) ++late;
                ++w->wakes;
                std::lock_guard lock(threads_mutex);
                if (std::find(threads.begin(), threads.end(), std::this_thread::get_id()) == threads.end())
                    threads.push_back(std::this_thread::get_id());
            };
            source.subscribe(sub);
            subs.push_back(sub);
            seen.push_back(w);
        }
        for (int i = 0; i < 10; ++i) source.push(media_kind::video, video(true, i), 33u * i);
        CHECK(eventually([&] {
            return std::all_of(seen.begin(), seen.end(), [](const auto& w) { return w->wakes.load() > 0; });
        }));
        for (const auto& sub : subs) CHECK(sub->queue.size_approx() == 10);  // every frame, queued once
        {
            std::lock_guard lock(threads_mutex);
            CHECK(threads.size() >= 2);  // the pushing thread and at least one helper
        }

        // Frames keep coming from another thread while the subscribers leave one by one.
        std::atomic<bool> stop{false};
        std::thread pusher([&] {
            for (std::uint32_t t = 400; !stop.load(); t += 33) {
                for (const auto& sub : subs) sub->discard();  // room for more (the queues' consumer is idle)
                source.push(media_kind::video, video(true, static_cast<int>(t)), t);
            }
        });
        for (std::size_t i = 0; i < subs.size(); ++i) {
            std::this_thread::sleep_for(1ms);
            source.unsubscribe(subs[i].get());
            seen[i]->gone.store(true);
        }
        stop.store(true);
        pusher.join();
        CHECK(late.load() == 0);

        // Wakes that only post (a pool's players) stay on the publishing thread: no helper.
        driver::frame_source posting(o);
        std::atomic<int> elsewhere{0};
        std::vector<std::shared_ptr<driver::subscriber>> posted;
        for (int i = 0; i < 40; ++i) {
            auto sub = std::make_shared<driver::subscriber>(4);
            sub->wake = [&elsewhere, me = std::this_thread::get_id()] {
                if (std::this_thread::get_id() != me) ++elsewhere;
            };
            posting.subscribe(sub);
            posted.push_back(sub);
        }
        posting.push(media_kind::video, video(true, 0), 0);
        CHECK(elsewhere.load() == 0);
    }

    TEST_CASE("news of the publisher reaches a player whose queue is full, after what it had queued, and none is lost") {
        driver::frame_source source(driver::frame_source_options{false, 0, 0, false});
        auto sub = std::make_shared<driver::subscriber>(4);
        sub->wake = [] {};
        source.subscribe(sub);
        const auto first = source.claim();
        source.push(media_kind::video, video(true, 0), 0, first);
        for (int i = 0; i < 6; ++i) source.push(media_kind::audio, audio(i), 10u * i, first);  // the queue fills up
        source.release(first);                           // UnpublishNotify: aside, the queue is full
        const auto second = source.claim();              // PublishNotify: aside too, after it
        CHECK_FALSE(source.push(media_kind::video, video(true, 1), 0, first));  // the old claim no longer holds
        source.push(media_kind::video, video(true, 2), 0, second);  // waits behind the news: dropped
        std::vector<media_kind> kinds;
        sub->drain([&](const shared_frame& f) { kinds.push_back(f->kind); });
        CHECK(kinds == std::vector<media_kind>{media_kind::published, media_kind::video, media_kind::audio, media_kind::audio,
                                               media_kind::unpublished, media_kind::published});
        source.push(media_kind::video, video(true, 3), 33, second);  // the news was taken: media flows again
        kinds.clear();
        sub->drain([&](const shared_frame& f) { kinds.push_back(f->kind); });
        CHECK(kinds == std::vector<media_kind>{media_kind::video});
    }

    TEST_CASE("a recorder writes a broadcast to FLV from a key frame, timestamps from 0; a full disk is a clear error") {
        auto show = std::make_shared<broadcast>();
        show->push_video_tag(avc_config, 0);
        show->push_audio_tag(aac_config, 0);
        show->push_video_tag(video(false, 0), 100);  // before any key frame: not recorded
        const std::string path = "rtmpx-recorder-test.flv";
        {
            recorder rec(show);
            std::error_code ec;
            rec.start(path, ec);
            REQUIRE_FALSE(ec);
            show->push_video_tag(video(false, 1), 133);
            show->push_video_tag(video(true, 2), 166);
            show->push_audio_tag(audio(2), 170);
            show->push_video_tag(video(false, 3), 200);
            CHECK(eventually([&] { return rec.frames_written() == 3; }));
            CHECK_FALSE(rec.stop());
        }
        const auto tags = flv_tags(read_file(path));
        std::remove(path.c_str());
        CHECK(tags == std::vector<std::pair<int, std::uint32_t>>{{9, 0}, {8, 0}, {9, 0}, {8, 4}, {9, 34}});

        // A file that cannot be written at all: a clear error at once.
        {
            recorder full(show);
            std::error_code ec;
            full.start("/dev/full", ec);
            CHECK(ec == std::errc::no_space_on_device);
        }

        // A file that stops taking data mid-recording (its size limit): the error comes at once,
        // the recording stops, and what was written stays readable.
        rlimit before{};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &before) == 0);
        const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit small = before;
        small.rlim_cur = 160;  // room for the header, the configuration and a frame or two
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        std::error_code failure;
        {
            recorder limited(show);
            std::atomic<int> errors{0};
            limited.on_error([&](std::error_code ec) {
                failure = ec;
                ++errors;
            });
            std::error_code ec;
            limited.start(path, ec);
            REQUIRE_FALSE(ec);
            for (int i = 0; i < 20; ++i) show->push_video_tag(video(i == 0, 5 + i), 300 + 33u * i);
            CHECK(eventually([&] { return errors == 1; }));
            CHECK(limited.stop() == std::errc::file_too_large);
            CHECK(limited.frames_written() >= 1);
        }
        ::setrlimit(RLIMIT_FSIZE, &before);
        std::signal(SIGXFSZ, old_handler);
        CHECK(failure == std::errc::file_too_large);
        const auto kept = flv_tags(read_file(path));
        std::remove(path.c_str());
        REQUIRE(kept.size() >= 3);
        CHECK(kept[2] == std::pair<int, std::uint32_t>{9, 0});  // the key frame that started it
    }
}
