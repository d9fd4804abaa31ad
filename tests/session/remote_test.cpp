// SPDX-License-Identifier: MIT
// Session tests of rtmpx as a client: a publisher and a puller against rtmpx servers on
// 127.0.0.1, an origin that goes away and comes back, a refusal that will not change.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <rtmpx/remote.hpp>
#include <rtmpx/relay.hpp>
#include <rtmpx/server.hpp>

#include "remote_support.hpp"

using namespace rtmpx;
using namespace std::chrono_literals;
using namespace remote_support;

namespace {

// A server whose app "in" accepts every publish and keeps the video timestamps of each.
struct origin {
    server srv;
    std::mutex mutex;
    std::vector<std::vector<std::uint32_t>> publishes;  // video timestamps, one list per publish
    std::string refusal;                                // "denied": every publish is refused so

    void install() {
        srv.install([this](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            if (e.command.app != "in") return false;
            c.on_stream([this](stream& s, const stream_event& se) {
                if (!se.is_create) return true;
                s.on_publish([this](stream&, publish_event& pe) {
                    if (!pe.is_start) return true;
                    if (!refusal.empty()) {
                        pe.refusal = publish_refusal::denied;
                        pe.description = refusal;
                        return false;
                    }
                    std::lock_guard lock(mutex);
                    publishes.emplace_back();
                    return true;
                });
                s.on_media([this](stream&, const media_event& me) {
                    std::lock_guard lock(mutex);
                    if (me.type == media_type::video && !publishes.empty()) publishes.back().push_back(me.timestamp);
                });
                return true;
            });
            return true;
        });
    }
    std::vector<std::vector<std::uint32_t>> seen() {
        std::lock_guard lock(mutex);
        return publishes;
    }
};

// A server whose app "live" plays `show` on any stream name.
void serve_broadcast(server& srv, std::shared_ptr<broadcast> show) {
    srv.install([show](connection& c, const connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        c.on_stream([show](stream& s, const stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
            return true;
        });
        return true;
    });
}

remote_options quick() {
    remote_options o;
    o.link.backoff = protocol::backoff_policy{100ms, 400ms, 2.0, 0.25};
    o.link.connect_timeout = 2s;
    return o;
}

} // namespace

TEST_SUITE("session remote") {
    TEST_CASE("a publisher pushes a broadcast into another server's relay; its players get it; stop is polite") {
        server srv;
        relay names;
        srv.install(names.app("relay"));
        srv.start("127.0.0.1:0");
        auto show = ticking_broadcast();
        show->start();
        publisher pub(show, "rtmp://127.0.0.1:" + std::to_string(srv.port()) + "/relay/cam");
        state_log states;
        states.watch(pub);
        pub.start();
        REQUIRE(eventually([&] { return states.count(remote_state::started) == 1; }));
        CHECK(eventually([&] {
            auto b = names.find("relay", "cam");
            return b && b->frames() > 20;
        }));
        CHECK(names.live_names() == std::vector<std::string>{"relay/cam"});
        CHECK(pub.statistics().frames_sent > 20);
        CHECK(pub.statistics().bytes_out > 100);
        pub.stop();
        CHECK(states.last().state == remote_state::stopped);
        CHECK(eventually([&] { return names.live_names().empty(); }));  // FCUnpublish and deleteStream arrived
        CHECK(states.count(remote_state::retrying) == 0);
        show->stop();
    }

    TEST_CASE("the origin goes away and comes back: the publisher retries, publishes again, the timeline goes on") {
        auto show = ticking_broadcast();
        show->start();
        auto first = std::make_unique<origin>();
        first->install();
        first->srv.start("127.0.0.1:0");
        const auto port = first->srv.port();
        publisher pub(show, "rtmp://127.0.0.1:" + std::to_string(port) + "/in/cam", quick());
        state_log states;
        states.watch(pub);
        pub.start();
        REQUIRE(eventually([&] {
            const auto s = first->seen();
            return s.size() == 1 && s[0].size() > 15;
        }));
        const auto before = first->seen()[0].back();
        first->srv.stop();
        REQUIRE(eventually([&] { return states.count(remote_state::retrying) >= 1; }));
        std::this_thread::sleep_for(300ms);
        origin second;
        second.install();
        second.srv.start("127.0.0.1:" + std::to_string(port));
        REQUIRE(eventually([&] {
            const auto s = second.seen();
            return s.size() == 1 && s[0].size() > 5;
        }));
        const auto after = second.seen()[0].front();
        CHECK(after > before + 300);   // the time away is on the timeline
        CHECK(after < before + 10000);
        CHECK(states.count(remote_state::started) == 2);
        CHECK(pub.statistics().reconnects >= 1);
        pub.stop();
        show->stop();
    }

    TEST_CASE("a refusal that will not change is reported once and not retried; a malformed URL is refused at start") {
        origin o;
        o.refusal = "no publishing here";
        o.install();
        o.srv.start("127.0.0.1:0");
        auto show = ticking_broadcast();
        publisher pub(show, "rtmp://127.0.0.1:" + std::to_string(o.srv.port()) + "/in/cam", quick());
        state_log states;
        states.watch(pub);
        pub.start();
        REQUIRE(eventually([&] { return states.count(remote_state::failed) == 1; }));
        std::this_thread::sleep_for(500ms);  // longer than the first waits: nothing more happens
        CHECK(states.count(remote_state::connecting) == 1);
        CHECK(states.count(remote_state::retrying) == 0);
        CHECK(states.last().refusal == "NetStream.Publish.Denied: no publishing here");
        CHECK(pub.state() == remote_state::failed);

        publisher bad(show, "http://127.0.0.1/in/cam");
        std::error_code ec;
        bad.start(ec);
        CHECK(ec == std::errc::invalid_argument);
    }

    TEST_CASE("nothing listens: the publisher keeps trying with growing waits, and gives up after max_failures") {
        auto show = ticking_broadcast();
        auto o = quick();
        o.link.max_failures = 3;
        publisher pub(show, "rtmp://127.0.0.1:1/in/cam", o);  // port 1: connection refused
        state_log states;
        states.watch(pub);
        pub.start();
        REQUIRE(eventually([&] { return states.count(remote_state::failed) == 1; }));
        CHECK(states.count(remote_state::retrying) == 2);
        CHECK(states.count(remote_state::connecting) == 3);
        CHECK(states.last().error.value() == ECONNREFUSED);  // asio reports system errors in its own category
    }

    TEST_CASE("a puller plays another server's stream into a local broadcast, whose players hear when it stops") {
        server srv;
        relay names;
        srv.install(names.app("relay"));
        srv.start("127.0.0.1:0");
        auto show = ticking_broadcast();
        show->start();
        const std::string url = "rtmp://127.0.0.1:" + std::to_string(srv.port()) + "/relay/cam";
        publisher pub(show, url);
        pub.start();
        auto edge = std::make_shared<broadcast>();
        puller pull(url, edge);
        state_log states;
        states.watch(pull);
        pull.start();
        REQUIRE(eventually([&] { return states.count(remote_state::started) == 1; }));
        CHECK(eventually([&] { return edge->frames() > 20 && edge->has_publisher(); }));
        CHECK(pull.statistics().frames_sent > 20);
        pull.stop();
        CHECK_FALSE(edge->has_publisher());
        pub.stop();
        show->stop();
    }

    TEST_CASE("a drained origin moves a puller: the new connection takes over at a key frame, the old one leaves") {
        auto show = ticking_broadcast();
        show->start();
        server first, second;
        serve_broadcast(first, show);
        serve_broadcast(second, show);
        first.start("127.0.0.1:0");
        second.start("127.0.0.1:0");
        auto edge = std::make_shared<broadcast>();
        puller pull("rtmp://127.0.0.1:" + std::to_string(first.port()) + "/live/cam", edge, quick());
        state_log states;
        states.watch(pull);
        pull.start();
        REQUIRE(eventually([&] { return states.count(remote_state::started) == 1 && edge->frames() > 10; }));
        std::thread drain([&] { first.drain(5s, "rtmp://127.0.0.1:" + std::to_string(second.port()) + "/live"); });
        CHECK(eventually([&] { return states.count(remote_state::started) == 2; }));
        drain.join();  // the old connection left by itself, before the deadline
        CHECK(first.connection_count() == 0);
        CHECK(second.connection_count() == 1);
        const auto at_switch = edge->frames();
        CHECK(eventually([&] { return edge->frames() > at_switch + 10; }));
        CHECK(edge->has_publisher());
        CHECK(states.count(remote_state::retrying) == 0);
        pull.stop();
        show->stop();
    }

    TEST_CASE("a drained origin moves a publisher: it publishes on the new server, then leaves the old one") {
        origin a, b;
        a.install();
        b.install();
        a.srv.start("127.0.0.1:0");
        b.srv.start("127.0.0.1:0");
        auto show = ticking_broadcast();
        show->start();
        publisher pub(show, "rtmp://127.0.0.1:" + std::to_string(a.srv.port()) + "/in/cam", quick());
        state_log states;
        states.watch(pub);
        pub.start();
        REQUIRE(eventually([&] { return a.seen().size() == 1 && a.seen()[0].size() > 10; }));
        a.srv.drain(5s, "rtmp://127.0.0.1:" + std::to_string(b.srv.port()) + "/in");
        CHECK(a.srv.connection_count() == 0);
        CHECK(states.count(remote_state::started) == 2);
        REQUIRE(eventually([&] { return b.seen().size() == 1 && b.seen()[0].size() > 10; }));
        CHECK(a.seen().size() == 1);  // no second publish on the drained server
        CHECK(states.count(remote_state::retrying) == 0);
        pub.stop();
        show->stop();
    }
}
