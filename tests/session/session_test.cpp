// SPDX-License-Identifier: MIT
// Session tests: a real server over an in-memory socket pair, driven by a scripted client.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support.hpp"
#include "test_client.hpp"

using namespace rtmpx;
using namespace std::chrono_literals;
using rtmpx_test::is_command;
using rtmpx_test::local_connection;
using rtmpx_test::local_server;
using rtmpx_test::local_stream;
using rtmpx_test::status_code;
using rtmpx_test::test_client;

namespace {

server_options fast_options() {
    server_options o;
    o.timeouts.handshake = 2s;
    o.timeouts.connect = 2s;
    o.timeouts.idle = 5s;
    return o;
}

// A server whose "live" app allows streams that send raw frames (no codec) of a known shape.
struct raw_frame_app {
    std::atomic<int> connects{0};
    std::atomic<int> closes{0};
    std::atomic<int> stream_creates{0};
    std::atomic<int> stream_removes{0};
    std::atomic<int> shutdown_closes{0};

    void install(local_server& srv) {
        srv.install([this](local_connection& c, const connect_event& e) {
            if (!e.is_create) {
                ++closes;
                if (e.reason == error::shutdown) ++shutdown_closes;
                return true;
            }
            if (e.command.app != "live") return false;
            ++connects;
            c.on_stream([this](local_stream& s, const stream_event& se) {
                if (!se.is_create) {
                    ++stream_removes;
                    return true;
                }
                ++stream_creates;
                s.on_frame([n = 0](local_stream&, encoded_frame& out, bool) mutable {
                    // An FLV video tag body: key frame every 10th, codec id 7, then a counter.
                    const bool key = n % 10 == 0;
                    out.data = {std::byte(key ? 0x17 : 0x27), std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0},
                                std::byte(n & 0xff)};
                    out.key_frame = key;
                    ++n;
                    return true;
                });
                return true;
            });
            return true;
        });
    }
};

// connect + createStream, returning the stream id.
std::uint32_t connect_and_create(test_client& client) {
    client.handshake();
    client.connect("live");
    auto result = client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); });
    REQUIRE(result);
    client.send(command{"createStream", 2, amf0::value::null(), {}});
    auto created = client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); });
    REQUIRE(created);
    const auto& c = std::get<command>(*created);
    CHECK(c.transaction_id == 2);
    CHECK(c.object.is_null());
    REQUIRE(c.arguments.size() == 1);
    CHECK(c.arguments[0].is_number());
    return static_cast<std::uint32_t>(c.arguments[0].as_number());
}

} // namespace

TEST_SUITE("session") {
    TEST_CASE("a claimed connect gets window, bandwidth, chunk size and _result, in that order") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        client.handshake();
        CHECK(client.s0s1s2[0] == std::byte{3});
        client.connect("live");
        std::vector<message_type> types;
        std::optional<command> result;
        while (auto m = client.next()) {
            types.push_back(m->header.type);
            if (m->header.type == message_type::command_amf0) {
                std::error_code ec;
                result = std::get<command>(decode_message(std::move(*m), ec));
                break;
            }
        }
        CHECK(types == std::vector<message_type>{message_type::window_ack_size, message_type::set_peer_bandwidth,
                                                 message_type::set_chunk_size, message_type::user_control,
                                                 message_type::command_amf0});
        REQUIRE(result);
        CHECK(result->name == "_result");
        CHECK(result->transaction_id == 1);
        CHECK(result->arguments.at(0)["code"].as_string() == "NetConnection.Connect.Success");
        client.close();
        srv.wait();
        CHECK(app.connects == 1);
        CHECK(app.closes == 1);
    }

    TEST_CASE("a connect nobody claims gets NetConnection.Connect.Rejected and is closed") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.connect("other");
        auto err = client.next_command();
        REQUIRE(err);
        CHECK(err->name == "_error");
        CHECK(err->arguments.at(0)["code"].as_string() == "NetConnection.Connect.Rejected");
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
        srv.wait();
        CHECK(app.closes == 0);  // never claimed: no close callback
    }

    TEST_CASE("connect handlers are asked in order until one claims") {
        local_server srv(fast_options());
        std::vector<int> asked;
        srv.install([&](local_connection&, const connect_event& e) {
            if (e.is_create) asked.push_back(1);
            return false;
        });
        const auto second = srv.install([&](local_connection&, const connect_event& e) {
            if (e.is_create) asked.push_back(2);
            return true;
        });
        srv.install([&](local_connection&, const connect_event& e) {
            if (e.is_create) asked.push_back(3);
            return true;
        });
        {
            test_client client(srv);
            client.handshake();
            client.connect("any");
            CHECK(client.next_command()->name == "_result");
            client.close();
            srv.wait();
        }
        CHECK(asked == std::vector<int>{1, 2});
        CHECK(srv.remove(second));
        CHECK_FALSE(srv.remove(second));
        asked.clear();
        test_client client(srv);
        client.handshake();
        client.connect("any");
        CHECK(client.next_command()->name == "_result");
        CHECK(asked == std::vector<int>{1, 3});
    }

    TEST_CASE("play sends StreamBegin, Play.Reset, Play.Start and sample access on the stream, then frames") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        const auto sid = connect_and_create(client);
        CHECK(sid == 1);
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);

        std::vector<std::string> seen;
        int frames = 0;
        std::uint32_t last_ts = 0;
        bool first_is_key = false;
        while (frames < 12) {
            auto m = client.next();
            REQUIRE(m);
            const auto h = m->header;
            std::error_code ec;
            auto d = decode_message(std::move(*m), ec);
            if (auto* uc = std::get_if<user_control>(&d); uc && uc->event == user_control_event::stream_begin) {
                CHECK(uc->value == sid);
                seen.push_back("StreamBegin");
            } else if (auto code = status_code(d); !code.empty()) {
                CHECK(h.stream_id == sid);
                CHECK(std::get<command>(d).arguments[0]["level"].as_string() == "status");
                seen.push_back(code);
            } else if (auto* dm = std::get_if<data_message>(&d)) {
                CHECK(h.stream_id == sid);
                seen.push_back(dm->handler);
            } else if (auto* media = std::get_if<media_message>(&d)) {
                CHECK(h.stream_id == sid);
                if (frames == 0) first_is_key = media->payload[0] == std::byte{0x17};
                CHECK(h.timestamp.value() >= last_ts);
                last_ts = h.timestamp.value();
                ++frames;
            }
        }
        CHECK(seen == std::vector<std::string>{"StreamBegin", "NetStream.Play.Reset", "NetStream.Play.Start",
                                               "|RtmpSampleAccess"});
        CHECK(first_is_key);
        CHECK(last_ts > 0);
        client.close();
        srv.wait();
        CHECK(app.stream_creates == 1);
        CHECK(app.stream_removes == 1);
        CHECK(app.closes == 1);
    }

    TEST_CASE("deleteStream ends the stream and tells the stream handler") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        const auto sid = connect_and_create(client);
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return std::holds_alternative<media_message>(d);
        }));
        client.send(command{"deleteStream", 4, amf0::value::null(), {sid}});
        // A ping round trip proves the server handled deleteStream before it.
        client.send(to_message(user_control::ping_request(77)));
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            auto* uc = std::get_if<user_control>(&d);
            return uc && uc->event == user_control_event::ping_response && uc->value == 77;
        }));
        CHECK(app.stream_removes == 1);
        client.close();
        srv.wait();
        CHECK(app.stream_removes == 1);  // exactly once
    }

    TEST_CASE("commands before connect close the connection") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.send(command{"createStream", 2, amf0::value::null(), {}});
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
    }

    TEST_CASE("play on a stream that was never created gets StreamNotFound") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.connect("live");
        REQUIRE(client.next_command()->name == "_result");
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, 5);
        auto d = client.wait_for([](const decoded_message& m, const message_header&) { return !status_code(m).empty(); });
        REQUIRE(d);
        CHECK(status_code(*d) == "NetStream.Play.StreamNotFound");
    }

    TEST_CASE("a client that never completes the handshake is dropped after the timeout") {
        auto o = fast_options();
        o.timeouts.handshake = 200ms;
        local_server srv(o);
        test_client client(srv);
        client.write_raw(rtmpx_test::bytes({3}));  // C0 only
        const auto start = std::chrono::steady_clock::now();
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
        CHECK(std::chrono::steady_clock::now() - start < 4s);
    }

    TEST_CASE("a client that handshakes but never connects is dropped after the connect timeout") {
        auto o = fast_options();
        o.timeouts.connect = 200ms;
        local_server srv(o);
        test_client client(srv);
        client.handshake();
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
    }

    TEST_CASE("a bad C0 version closes the connection") {
        local_server srv(fast_options());
        test_client client(srv);
        client.write_raw(rtmpx_test::bytes({6}));
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
    }

    TEST_CASE("the window acknowledgement and ping are answered") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.connect("live");
        REQUIRE(client.next_command()->name == "_result");
        client.send(to_message(window_ack_size{100}));
        std::vector<std::byte> big(300, std::byte{0x05});  // three null values: a harmless data message
        client.send(message{{3, message_type::data_amf0, rtmp_timestamp(0), 0}, big});
        auto ack = client.wait_for([](const decoded_message& d, const message_header&) {
            return std::holds_alternative<acknowledgement>(d);
        });
        REQUIRE(ack);
        CHECK(std::get<acknowledgement>(*ack).sequence_number >= 100);
    }

    TEST_CASE("shutdown ends live connections and tells each claiming handler exactly once") {
        local_server srv(fast_options());
        raw_frame_app app;
        app.install(srv);
        std::vector<std::unique_ptr<test_client>> clients;
        for (int i = 0; i < 3; ++i) {
            clients.push_back(std::make_unique<test_client>(srv));
            const auto sid = connect_and_create(*clients.back());
            clients.back()->send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        }
        for (auto& c : clients)
            REQUIRE(c->wait_for([](const decoded_message& d, const message_header&) {
                return std::holds_alternative<media_message>(d);
            }));
        CHECK(srv.connection_count() == 3);
        srv.stop();
        CHECK(srv.connection_count() == 0);
        CHECK(app.closes == 3);
        CHECK(app.stream_removes == 3);
        CHECK(app.shutdown_closes == 3);
    }
}
