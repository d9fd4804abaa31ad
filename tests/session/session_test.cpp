// SPDX-License-Identifier: MIT
// Session tests: a real server over an in-memory socket pair, driven by a scripted client.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "../support.hpp"
#include "test_client.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using namespace std::chrono_literals;
using rtmpx_test::is_command;
using rtmpx_test::local_server;
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
    std::mutex reasons_mutex;
    std::vector<std::error_code> reasons;  // why each claimed connection ended

    std::vector<std::error_code> close_reasons() {
        std::lock_guard lock(reasons_mutex);
        return reasons;
    }

    void install(local_server& srv) {
        srv.install([this](connection& c, const connect_event& e) {
            if (!e.is_create) {
                {
                    std::lock_guard lock(reasons_mutex);
                    reasons.push_back(e.reason);
                }
                ++closes;
                if (e.reason == error::shutdown) ++shutdown_closes;
                return true;
            }
            if (e.command.app != "live") return false;
            ++connects;
            c.on_stream([this](rtmpx::stream& s, const stream_event& se) {
                if (!se.is_create) {
                    ++stream_removes;
                    return true;
                }
                ++stream_creates;
                s.on_frame([n = 0](rtmpx::stream&, encoded_frame& out, bool) mutable {
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
        app.install(srv);
        test_client client(srv);
        client.handshake();
        CHECK(client.server_version() == 3);
        client.connect("live");
        std::vector<message_type> types;
        std::optional<command> result;
        while (auto m = client.next()) {
            types.push_back(m->header.type);
            if (m->header.type == message_type::command_amf0) {
                result = std::get<command>(std::move(m->body));
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
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
        std::vector<int> asked;
        local_server srv(fast_options());
        srv.install([&](connection&, const connect_event& e) {
            if (e.is_create) asked.push_back(1);
            return false;
        });
        const auto second = srv.install([&](connection&, const connect_event& e) {
            if (e.is_create) asked.push_back(2);
            return true;
        });
        srv.install([&](connection&, const connect_event& e) {
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
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
            auto& d = m->body;
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.send(command{"createStream", 2, amf0::value::null(), {}});
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
    }

    TEST_CASE("play on a stream that was never created gets StreamNotFound") {
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
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
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
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

    TEST_CASE("a drain asks the clients that declared Reconnect to move, ends the others at the deadline, tells each handler once") {
        raw_frame_app app;
        local_server srv(fast_options());
        app.install(srv);
        auto mover = std::make_unique<test_client>(srv);  // declares Reconnect
        test_client stayer(srv, false);                   // a legacy player
        for (test_client* c : {mover.get(), &stayer}) {
            const auto sid = connect_and_create(*c);
            c->send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
            REQUIRE(c->wait_for([](const decoded_message& d, const message_header&) { return std::holds_alternative<media_message>(d); }));
        }
        std::thread drain([&] { srv.drain(std::chrono::milliseconds(600), "rtmp://127.0.0.1:1936/live"); });
        auto request = mover->wait_for([](const decoded_message& d, const message_header&) {
            const auto* c = std::get_if<command>(&d);
            return c && c->name == "onStatus" && !c->arguments.empty() &&
                   c->arguments[0]["code"].as_string() == "NetConnection.Connect.ReconnectRequest";
        });
        REQUIRE(request);
        CHECK(std::get<command>(*request).arguments[0]["tcUrl"].as_string() == "rtmp://127.0.0.1:1936/live");
        mover.reset();  // it leaves for the other server
        // The legacy player is not asked, and plays on until the deadline ends it.
        CHECK_FALSE(stayer.wait_for([](const decoded_message& d, const message_header&) {
            const auto* c = std::get_if<command>(&d);
            return c && c->name == "onStatus";
        }));
        drain.join();
        CHECK(srv.connection_count() == 0);
        CHECK(app.closes == 2);
        const auto reasons = app.close_reasons();
        CHECK(std::count(reasons.begin(), reasons.end(), make_error_code(error::drained)) == 1);
        CHECK(std::count(reasons.begin(), reasons.end(), std::error_code{}) == 1);
    }
}

TEST_SUITE("session calls") {
    // A connection with a few call handlers, for the tests below.
    void install_calls(local_server& srv) {
        srv.install([](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_call("add", [](connection&, const call_event& call, amf0::value& out) {
                out = call.arguments.at(0).as_number() + call.arguments.at(1).as_number();
                return true;
            });
            c.on_call("refuse", [](connection&, const call_event&, amf0::value&) { return false; });
            c.on_call("boom", [](connection&, const call_event&, amf0::value&) -> bool {
                throw std::runtime_error("boom");
            });
            c.on_call("ask", [](connection& conn, const call_event&, amf0::value& out) -> asio::awaitable<bool> {
                std::vector<amf0::value> args;  // (not a braced list: GCC 12 rejects those in co_await)
                args.emplace_back(41);
                auto r = co_await conn.call_with_timeout("question", std::move(args), 300ms);
                if (r.error) {
                    out = r.error == error::call_timeout ? amf0::value("timeout") : amf0::value("error");
                    co_return true;
                }
                out = r.values.at(0).as_number() + 1;
                co_return r.ok;
            });
            c.on_call("removeAdd", [](connection& conn, const call_event&, amf0::value&) {
                conn.on_call("add", nullptr);
                return true;
            });
            return true;
        });
    }

    command call_and_wait(test_client& client, std::string name, std::vector<amf0::value> args, double txn) {
        client.send(command{std::move(name), txn, amf0::value::null(), std::move(args)});
        auto d = client.wait_for([txn](const decoded_message& m, const message_header&) {
            const auto* c = std::get_if<command>(&m);
            return c && (c->name == "_result" || c->name == "_error") && c->transaction_id == txn;
        });
        REQUIRE(d);
        return std::get<command>(*d);
    }

    TEST_CASE("a named call gets _result with the response; failures get _error with an info object") {
        local_server srv(fast_options());
        install_calls(srv);
        test_client client(srv);
        client.handshake();
        client.connect("app");
        REQUIRE(client.next_command()->name == "_result");

        auto sum = call_and_wait(client, "add", {2, 3}, 10);
        CHECK(sum.name == "_result");
        CHECK(sum.arguments.at(0).as_number() == 5);

        auto refused = call_and_wait(client, "refuse", {}, 11);
        CHECK(refused.name == "_error");
        CHECK(refused.arguments.at(0)["level"].as_string() == "error");
        CHECK(refused.arguments.at(0)["code"].as_string() == "NetConnection.Call.Failed");

        auto unknown = call_and_wait(client, "nothing", {}, 12);
        CHECK(unknown.name == "_error");
        CHECK(unknown.arguments.at(0)["description"].as_string() == "Method not found (nothing).");

        auto thrown = call_and_wait(client, "boom", {}, 13);
        CHECK(thrown.name == "_error");

        // Transaction id 0: no answer at all. The next answer is for the next call.
        client.send(command{"add", 0, amf0::value::null(), {1, 1}});
        auto after = call_and_wait(client, "add", {1, 2}, 14);
        CHECK(after.arguments.at(0).as_number() == 3);

        // A handler can unregister another; the call then fails.
        CHECK(call_and_wait(client, "removeAdd", {}, 15).name == "_result");
        CHECK(call_and_wait(client, "add", {1, 2}, 16).name == "_error");
    }

    TEST_CASE("with call_errors_as_result, failures come as _result carrying the error object") {
        auto o = fast_options();
        o.call_errors_as_result = true;
        local_server srv(o);
        install_calls(srv);
        test_client client(srv);
        client.handshake();
        client.connect("app");
        REQUIRE(client.next_command()->name == "_result");
        auto r = call_and_wait(client, "nothing", {}, 10);
        CHECK(r.name == "_result");
        CHECK(r.arguments.at(0)["code"].as_string() == "NetConnection.Call.Failed");
    }

    TEST_CASE("a coroutine handler calls the client back and uses its answer, or times out") {
        local_server srv(fast_options());
        install_calls(srv);
        test_client client(srv);
        client.handshake();
        client.connect("app");
        REQUIRE(client.next_command()->name == "_result");

        client.send(command{"ask", 20, amf0::value::null(), {}});
        auto question = client.wait_for([](const decoded_message& m, const message_header&) { return is_command(m, "question"); });
        REQUIRE(question);
        const auto& q = std::get<command>(*question);
        CHECK(q.arguments.at(0).as_number() == 41);
        client.send(command{"_result", q.transaction_id, amf0::value::null(), {amf0::value(100)}});
        auto answer = client.wait_for([](const decoded_message& m, const message_header&) {
            const auto* c = std::get_if<command>(&m);
            return c && c->transaction_id == 20;
        });
        REQUIRE(answer);
        CHECK(std::get<command>(*answer).arguments.at(0).as_number() == 101);

        // Unanswered: the handler sees a timeout.
        client.send(command{"ask", 21, amf0::value::null(), {}});
        auto timed_out = client.wait_for([](const decoded_message& m, const message_header&) {
            const auto* c = std::get_if<command>(&m);
            return c && c->transaction_id == 21;
        });
        REQUIRE(timed_out);
        CHECK(std::get<command>(*timed_out).arguments.at(0).as_string() == "timeout");
    }
}

TEST_SUITE("session streams") {
    TEST_CASE("pause and play(false) stop frames; resume starts again on a key frame") {
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
        app.install(srv);
        test_client client(srv);
        const auto sid = connect_and_create(client);
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return std::holds_alternative<media_message>(d);
        }));
        client.send(command{"pause", 0, amf0::value::null(), {true, 0}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return status_code(d) == "NetStream.Pause.Notify";
        }));
        client.send(command{"pause", 0, amf0::value::null(), {false, 0}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return status_code(d) == "NetStream.Unpause.Notify";
        }));
        auto first = client.wait_for([](const decoded_message& d, const message_header&) {
            return std::holds_alternative<media_message>(d);
        });
        REQUIRE(first);
        // Frames in flight before the pause may still arrive; the first after the resume is a key
        // frame. The raw app makes every 10th frame a key frame, so check within 10 frames.
        bool key_seen = std::get<media_message>(*first).payload[0] == std::byte{0x17};
        for (int i = 0; i < 12 && !key_seen; ++i) {
            auto m = client.wait_for([](const decoded_message& d, const message_header&) {
                return std::holds_alternative<media_message>(d);
            });
            REQUIRE(m);
            key_seen = std::get<media_message>(*m).payload[0] == std::byte{0x17};
        }
        CHECK(key_seen);

        client.send(command{"play", 4, amf0::value::null(), {false}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return status_code(d) == "NetStream.Play.Stop";
        }));
        auto eof = client.wait_for([](const decoded_message& d, const message_header&) {
            auto* uc = std::get_if<user_control>(&d);
            return uc && uc->event == user_control_event::stream_eof;
        });
        CHECK(eof);
    }

    TEST_CASE("the play handler hears of a stop after the frame thread has stopped") {
        std::atomic<int> frame_calls{0};
        std::atomic<int> calls_during_stop{-1};
        local_server srv(fast_options());
        srv.install([&](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_stream([&](rtmpx::stream& s, const stream_event&) {
                s.on_frame([&](rtmpx::stream&, encoded_frame& out, bool) {
                    ++frame_calls;
                    out.data = {std::byte{0x17}, std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}};
                    out.key_frame = true;
                    return true;
                });
                s.on_play([&](rtmpx::stream&, play_event& pe) {
                    if (pe.is_start) return true;
                    const int before = frame_calls;
                    std::this_thread::sleep_for(150ms);  // several frame intervals: a running frame thread shows
                    calls_during_stop = frame_calls - before;
                    return true;
                });
                return true;
            });
            return true;
        });
        test_client client(srv);
        const auto sid = connect_and_create(client);
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return std::holds_alternative<media_message>(d);
        }));
        client.send(command{"play", 4, amf0::value::null(), {false}}, sid);
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
            return status_code(d) == "NetStream.Play.Stop";
        }));
        CHECK(calls_during_stop == 0);
    }

    TEST_CASE("stream properties: render_rate validated, user_ keys free, others refused") {
        std::vector<std::error_code> results;
        std::optional<std::string> rate_after;
        local_server srv(fast_options());
        srv.install([&](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_stream([&](rtmpx::stream& s, const stream_event& se) {
                if (!se.is_create) return true;
                results.push_back(s.set_property("render_rate", "60"));
                results.push_back(s.set_property("render_rate", "0"));
                results.push_back(s.set_property("render_rate", "10000"));
                results.push_back(s.set_property("render_rate", "fast"));
                results.push_back(s.set_property("user_anything", "x"));
                results.push_back(s.set_property("bitrate", "1"));
                rate_after = s.property("render_rate");
                CHECK(s.property("user_anything") == std::optional<std::string>("x"));
                CHECK_FALSE(s.use_codec("no such codec"));
                return true;
            });
            return true;
        });
        test_client client(srv);
        connect_and_create(client);
        REQUIRE(results.size() == 6);
        CHECK(!results[0]);
        CHECK(results[1] == error::invalid_property_value);
        CHECK(results[2] == error::invalid_property_value);
        CHECK(results[3] == error::invalid_property_value);
        CHECK(!results[4]);
        CHECK(results[5] == error::invalid_property);
        CHECK(rate_after == std::optional<std::string>("60"));
    }
}

TEST_SUITE("session limits and faults") {
    TEST_CASE("a connection that plays nothing and sends nothing is closed after the idle timeout") {
        auto o = fast_options();
        o.timeouts.idle = 300ms;
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(o);
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.connect("live");
        REQUIRE(client.next_command()->name == "_result");
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
        srv.wait();
        CHECK(app.close_reasons() == std::vector<std::error_code>{error::idle_timeout});
    }

    TEST_CASE("a playing connection is not idle") {
        auto o = fast_options();
        o.timeouts.idle = 300ms;
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(o);
        app.install(srv);
        test_client client(srv);
        const auto sid = connect_and_create(client);
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        const auto until = std::chrono::steady_clock::now() + 1s;
        int frames = 0;
        while (std::chrono::steady_clock::now() < until) {
            auto m = client.next();
            REQUIRE(m);
            frames += m->header.type == message_type::video;
        }
        CHECK(frames > 20);
        CHECK(app.closes == 0);
    }

    TEST_CASE("connections beyond max_connections are closed at once") {
        auto o = fast_options();
        o.max_connections = 2;
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(o);
        app.install(srv);
        test_client a(srv), b(srv);
        a.handshake();
        b.handshake();
        test_client c(srv);
        CHECK(c.closed_by_server());
        CHECK_FALSE(c.timed_out);
        CHECK(srv.connection_count() == 2);
    }

    TEST_CASE("createStream beyond max_streams_per_connection gets _error") {
        auto o = fast_options();
        o.max_streams_per_connection = 2;
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(o);
        app.install(srv);
        test_client client(srv);
        client.handshake();
        client.connect("live");
        REQUIRE(client.next_command()->name == "_result");
        for (double txn : {2.0, 3.0, 4.0}) client.send(command{"createStream", txn, amf0::value::null(), {}});
        std::vector<std::string> answers;
        for (int i = 0; i < 3; ++i) answers.push_back(client.next_command()->name);
        CHECK(answers == std::vector<std::string>{"_result", "_result", "_error"});
    }

    TEST_CASE("server calls beyond max_pending_calls fail at once") {
        auto o = fast_options();
        o.max_pending_calls = 1;
        local_server srv(o);
        srv.install([](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_call("ask", [](connection& conn, const call_event&, amf0::value& out) -> asio::awaitable<bool> {
                auto r = co_await conn.call("question");
                out = r.error ? amf0::value(r.error.message()) : amf0::value("answered");
                co_return true;
            });
            return true;
        });
        test_client client(srv);
        client.handshake();
        client.connect("app");
        REQUIRE(client.next_command()->name == "_result");
        client.send(command{"ask", 10, amf0::value::null(), {}});
        client.send(command{"ask", 11, amf0::value::null(), {}});
        auto second = client.wait_for([](const decoded_message& m, const message_header&) {
            const auto* c = std::get_if<command>(&m);
            return c && c->transaction_id == 11;
        });
        REQUIRE(second);
        CHECK(std::get<command>(*second).arguments.at(0).as_string() == make_error_code(error::too_many_pending_calls).message());
    }

    TEST_CASE("a client that plays and never reads is dropped after the write timeout") {
        auto o = fast_options();
        o.timeouts.write = 500ms;
        std::atomic<int> write_timeouts{0};  // declared first: the server's logger uses it
        local_server srv(o);
        srv.install([](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_stream([](rtmpx::stream& s, const stream_event&) {
                s.on_frame([](rtmpx::stream&, encoded_frame& out, bool) {
                    out.data.assign(64 * 1024, std::byte{0x17});  // big key frames fill the socket quickly
                    out.key_frame = true;
                    return true;
                });
                return true;
            });
            return true;
        });
        srv.set_logger([&](const log_record& r) {
            if (r.error == error::write_timeout && r.category == std::string_view("session")) ++write_timeouts;
        }, log_level::info);
        test_client client(srv);
        const auto sid = connect_and_create(client);
        client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        // Never read again: the server's writes stall, then it gives up on this client only.
        const auto start = std::chrono::steady_clock::now();
        while (srv.connection_count() > 0 && std::chrono::steady_clock::now() - start < 10s) std::this_thread::sleep_for(20ms);
        CHECK(srv.connection_count() == 0);
        CHECK(write_timeouts == 1);
    }

    TEST_CASE("a client that half-closes still receives the replies queued for it") {
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
        srv.install([](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_call("big", [](connection&, const call_event&, amf0::value& out) {
                out = std::string(1 << 20, 'x');  // far more than a socket buffer holds
                return true;
            });
            return true;
        });
        test_client client(srv);
        client.handshake();
        client.connect("app");
        REQUIRE(client.wait_command("_result"));
        client.send(command{"big", 2, amf0::value::null(), {}});
        client.shutdown_send();  // the server reads the end while its reply is still being written
        std::this_thread::sleep_for(200ms);
        auto reply = client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); });
        REQUIRE(reply);
        CHECK(std::get<command>(*reply).arguments.at(0).as_string().size() == std::size_t{1} << 20);
        CHECK(client.closed_by_server());
        CHECK_FALSE(client.timed_out);
    }

    TEST_CASE("a client that half-closes and never reads is dropped after the write timeout") {
        auto o = fast_options();
        o.timeouts.write = 300ms;
        local_server srv(o);
        srv.install([](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_call("big", [](connection&, const call_event&, amf0::value& out) {
                out = std::string(4 << 20, 'x');  // the flush cannot finish: nobody reads
                return true;
            });
            return true;
        });
        test_client client(srv);
        client.handshake();
        client.connect("app");
        REQUIRE(client.wait_command("_result"));
        client.send(command{"big", 2, amf0::value::null(), {}});
        client.shutdown_send();
        const auto start = std::chrono::steady_clock::now();
        while (srv.connection_count() > 0 && std::chrono::steady_clock::now() - start < 5s) std::this_thread::sleep_for(10ms);
        CHECK(srv.connection_count() == 0);
    }

    TEST_CASE("abrupt disconnects at every phase end the connection once, and the server goes on") {
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
        app.install(srv);
        SUBCASE("mid-handshake") {
            test_client client(srv);
            std::vector<std::byte> partial(700, std::byte{0});
            partial[0] = std::byte{3};
            client.write_raw(partial);
            client.close();
        }
        SUBCASE("between the chunks of one message") {
            test_client client(srv);
            client.handshake();
            auto m = to_message(command{"connect", 1, amf0::value::object({{"app", "live"}, {"tcUrl", std::string(300, 'x')}}), {}});
            protocol::chunk_writer w(128);
            protocol::chunked_output out;
            w.write(m.header, m.payload, out);
            auto bytes = out.flatten();
            bytes.resize(200);  // the first chunk and part of the second
            client.write_raw(bytes);
            client.close();
        }
        SUBCASE("mid-frame and while playing") {
            test_client client(srv);
            const auto sid = connect_and_create(client);
            client.send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
            REQUIRE(client.next());
            client.close();
        }
        SUBCASE("during a remote call") {
            srv.install([](connection& c, const connect_event& e) {
                if (!e.is_create) return true;
                c.on_call("slow", [](connection& conn, const call_event&, amf0::value&) -> asio::awaitable<bool> {
                    co_await conn.call("neverAnswered");
                    co_return true;
                });
                return true;
            });
            test_client client(srv);
            client.handshake();
            client.connect("other");
            REQUIRE(client.next_command()->name == "_result");
            client.send(command{"slow", 5, amf0::value::null(), {}});
            REQUIRE(client.wait_for([](const decoded_message& m, const message_header&) { return is_command(m, "neverAnswered"); }));
            client.close();
        }
        const auto start = std::chrono::steady_clock::now();
        while (srv.connection_count() > 0 && std::chrono::steady_clock::now() - start < 5s) std::this_thread::sleep_for(10ms);
        CHECK(srv.connection_count() == 0);
        CHECK(app.closes <= 1);
        // The server still serves.
        test_client next(srv);
        next.handshake();
        next.connect("live");
        CHECK(next.next_command()->name == "_result");
    }

    TEST_CASE("a handler that blocks stalls only its own connection") {
        local_server srv(fast_options());
        std::atomic<bool> release{false};
        srv.install([&](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_call("block", [&](connection&, const call_event&, amf0::value&) {
                while (!release) std::this_thread::sleep_for(5ms);
                return true;
            });
            c.on_call("ping", [](connection&, const call_event&, amf0::value& out) {
                out = "pong";
                return true;
            });
            return true;
        });
        test_client blocked(srv), other(srv);
        for (auto* c : {&blocked, &other}) {
            c->handshake();
            c->connect("app");
            REQUIRE(c->next_command()->name == "_result");
        }
        blocked.send(command{"block", 2, amf0::value::null(), {}});
        other.send(command{"ping", 2, amf0::value::null(), {}});
        auto pong = other.next_command();
        REQUIRE(pong);
        CHECK(pong->arguments.at(0).as_string() == "pong");
        release = true;
        CHECK(blocked.next_command()->name == "_result");
    }

    TEST_CASE("shutdown while 20 streams play tells every claiming handler once, within the deadline") {
        raw_frame_app app;  // declared first: it outlives the server
        local_server srv(fast_options());
        app.install(srv);
        std::vector<std::unique_ptr<test_client>> clients;
        for (int i = 0; i < 20; ++i) {
            clients.push_back(std::make_unique<test_client>(srv));
            const auto sid = connect_and_create(*clients.back());
            clients.back()->send(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        }
        for (auto& c : clients)
            REQUIRE(c->wait_for([](const decoded_message& d, const message_header&) {
                return std::holds_alternative<media_message>(d);
            }));
        const auto start = std::chrono::steady_clock::now();
        srv.stop(200ms);
        CHECK(std::chrono::steady_clock::now() - start < 3s);
        CHECK(srv.connection_count() == 0);
        CHECK(app.closes == 20);
        CHECK(app.shutdown_closes == 20);
        CHECK(app.stream_removes == 20);
    }

    TEST_CASE("a server started and stopped over and over never hangs in stop") {
        // stop() waits on the acceptor's thread for the listening socket's close; that thread
        // must still be running when it asks, however quickly the close ended the accept loop.
        auto finished = std::make_shared<std::promise<void>>();
        auto done = finished->get_future();
        std::thread([finished] {
            for (int i = 0; i < 2000; ++i) {
                rtmpx::server s;
                s.start("127.0.0.1:0");
                s.stop();
            }
            finished->set_value();
        }).detach();
        REQUIRE_MESSAGE(done.wait_for(60s) == std::future_status::ready, "server::stop hung");
    }
}
