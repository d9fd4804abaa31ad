// SPDX-License-Identifier: MIT
// Tests for protocol/server_session.hpp: recorded and scripted client bytes in, events and bytes out, time by hand.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/protocol/server_session.hpp>

#include "../support.hpp"
#include "session_wire.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using namespace std::chrono_literals;
using rtmpx_test::bytes;
using rtmpx_test::wire_message;

namespace {

const time_point t0 = time_point{} + 1000h;

// The owner of a session under test: it writes down what it is told and answers as scripted.
struct recorder {
    server_session<recorder>* session = nullptr;
    std::vector<std::string> events;
    bool accept = true;
    bool allow_stream = true;
    bool allow_play = true;
    bool honour_pause = true;
    bool close_on_create = false;  // the stream handler allows the stream, then ends the connection
    std::vector<std::byte> play_data;  // video data handed back on play start
    std::vector<command> calls;
    std::vector<std::pair<double, call_result>> answers;

    bool on_connect(const connect_command& c) {
        events.push_back("connect " + c.app);
        return accept;
    }
    bool on_create_stream(std::uint32_t id, const amf0::value&) {
        events.push_back(fmt::format("create {}", id));
        if (close_on_create) session->close(error::handler_exception, false);
        return allow_stream;
    }
    bool on_play(play_request& r) {
        events.push_back(r.is_start ? fmt::format("play {} {} {}", r.stream_id, r.stream_name, r.start)
                                    : fmt::format("stop {}", r.stream_id));
        if (r.is_start) r.video_data = play_data;
        return allow_play;
    }
    bool on_pause(std::uint32_t id, bool pause, double) {
        events.push_back(fmt::format("{} {}", pause ? "pause" : "resume", id));
        return honour_pause;
    }
    void on_receive_video(std::uint32_t id, bool enable) { events.push_back(fmt::format("receiveVideo {} {}", id, enable)); }
    void on_stream_deleted(std::uint32_t id, std::error_code) { events.push_back(fmt::format("deleted {}", id)); }
    void on_call(command& c) {
        events.push_back("call " + c.name);
        calls.push_back(c);
    }
    void on_call_answered(double txn, call_result&& r) { answers.emplace_back(txn, std::move(r)); }
    void on_refused(std::error_code why, std::uint32_t id) { events.push_back(fmt::format("refused {} {}", id, why.message())); }
    bool on_publish(publish_request& r) {
        events.push_back(fmt::format("publish {} {} {}", r.stream_id, r.stream_name, r.type));
        if (!allow_publish) r.refusal = "NetStream.Publish.Denied";
        return allow_publish;
    }
    void on_media(media_in& m) {
        events.push_back(fmt::format("media {} {} {} {}", m.stream_id, static_cast<int>(m.type), m.timestamp.value(), m.payload.size()));
        media.push_back(m);
    }
    void on_unpublish(std::uint32_t id) { events.push_back(fmt::format("unpublish {}", id)); }

    bool allow_publish = true;
    std::vector<media_in> media;
};

server_options test_options() {
    server_options o;
    o.timeouts.ping = 0ms;  // pings only where a test asks for them
    return o;
}

// A session and the client's view of it: C0 C1 in, S0 S1 S2 read, C2 (= S1) out.
struct fixture {
    explicit fixture(server_options o = test_options()) : options(std::move(o)), session(owner, options, t0, 42) {
        owner.session = &session;
    }

    // Feeds the client's bytes in pieces of `step` (unconsumed bytes stay for the next piece);
    // returns what the server sent, decoded.
    std::vector<wire_message> put(std::span<const std::byte> in, time_point now = t0, std::size_t step = 1 << 20) {
        for (std::size_t fed = 0; fed < in.size();) {
            const std::size_t n = std::min(step, in.size() - fed);
            pending.insert(pending.end(), in.begin() + static_cast<std::ptrdiff_t>(fed),
                           in.begin() + static_cast<std::ptrdiff_t>(fed + n));
            fed += n;
            const std::size_t used = session.put(pending, now);
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        }
        return output();
    }
    std::vector<wire_message> put(const command& c, std::uint32_t stream_id = 0, time_point now = t0) {
        return put(client.bytes(c, stream_id), now);
    }
    std::vector<wire_message> put(const message& m, time_point now = t0) { return put(client.bytes(m), now); }
    std::vector<wire_message> output() { return reader.read(rtmpx_test::take_output(session.output())); }

    void handshake() {
        std::vector<std::byte> c0c1(1537, std::byte{0});
        c0c1[0] = std::byte{3};
        put(c0c1);
        REQUIRE(reader.handshake.size() == 3073);
        put(std::span<const std::byte>(reader.handshake).subspan(1, 1536));  // C2 = S1
    }
    std::vector<wire_message> connect(const std::string& app = "live") {
        handshake();
        return put(command{"connect", 1, amf0::value::object({{"app", app}, {"tcUrl", "rtmp://h/" + app}}), {}});
    }
    std::uint32_t create_stream(double txn = 2) {
        const auto out = put(command{"createStream", txn, amf0::value::null(), {}});
        REQUIRE(out.size() == 1);
        REQUIRE(out[0].name() == "_result");
        return static_cast<std::uint32_t>(out[0].command()->arguments.at(0).as_number());
    }

    server_options options;
    recorder owner;
    server_session<recorder> session;
    rtmpx_test::wire_reader reader{3073};
    rtmpx_test::wire_writer client;
    std::vector<std::byte> pending;
};

std::vector<std::string> names(const std::vector<wire_message>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) {
        if (!m.status().empty()) {
            out.push_back(m.status());
        } else if (m.command()) {
            out.push_back(m.name());
        } else if (const auto* d = std::get_if<data_message>(&m.body)) {
            out.push_back(d->handler);
        } else if (const auto* uc = std::get_if<user_control>(&m.body)) {
            out.push_back(fmt::format("user_control {} {}", static_cast<int>(uc->event), uc->value));
        } else {
            out.push_back(fmt::format("type {}", static_cast<int>(m.header.type)));
        }
    }
    return out;
}

shared_frame frame(std::uint32_t ts, bool key, std::shared_ptr<const stream_config> config = nullptr) {
    auto f = std::make_shared<media_frame>();
    f->tag = {std::byte(key ? 0x17 : 0x27), std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte(ts & 0xff)};
    f->timestamp = ts;
    f->key_frame = key;
    f->config = std::move(config);
    return f;
}

} // namespace

TEST_SUITE("server_session") {
    TEST_CASE("an ffmpeg player's recorded bytes: connect, createStream, play, answered in the order players need") {
        const auto c2s = rtmpx_test::load_fixture("play_c2s.bin");
        for (std::size_t step : {std::size_t{1}, std::size_t{97}, std::size_t{1} << 20}) {
            CAPTURE(step);
            fixture f;
            const auto out = f.put(c2s, t0, step);
            CHECK(f.owner.events == std::vector<std::string>{"connect live", "create 1", "play 1 fixture -2000"});
            CHECK_FALSE(f.session.closing());
            CHECK(f.reader.handshake.size() == 3073);
            CHECK(f.reader.handshake[0] == std::byte{3});
            CHECK(names(out) == std::vector<std::string>{
                                    "type 5", "type 6", "type 1", "user_control 0 0", "_result",  // connect
                                    "_result",                                                   // createStream: 1
                                    "_result",                                                   // _checkbw
                                    "_result",                                                   // getStreamLength: 0
                                    "user_control 0 1", "NetStream.Play.Reset", "NetStream.Play.Start",
                                    "|RtmpSampleAccess"});
            CHECK(out[4].command()->arguments.at(0)["code"].as_string() == "NetConnection.Connect.Success");
            CHECK(out[5].command()->transaction_id == 2);
            CHECK(out[5].command()->object.is_null());
            CHECK(out[5].command()->arguments.at(0).as_number() == 1);
            CHECK(out[7].command()->arguments.at(0).as_number() == 0);  // an _error would end FFmpeg
            for (std::size_t i = 8; i < out.size(); ++i) CHECK(out[i].header.stream_id == (i == 8 ? 0u : 1u));
            CHECK(f.session.playing(1));
        }
    }

    TEST_CASE("the replies to connect, byte for byte") {
        fixture f;
        f.handshake();
        f.session.put(f.client.bytes(command{"connect", 1, amf0::value::object({{"app", "live"}}), {}}), t0);
        const auto wire = rtmpx_test::take_output(f.session.output());
        const auto expected = bytes({
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x05, 0x00, 0x00, 0x00, 0x00,  // fmt 0, csid 2, len 4, Window Ack Size
            0x00, 0x26, 0x25, 0xa0,                                                  //   2,500,000
            0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x06,                          // fmt 1, len 5, Set Peer Bandwidth
            0x00, 0x26, 0x25, 0xa0, 0x02,                                            //   2,500,000, dynamic
            0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01,                          // fmt 1, len 4, Set Chunk Size
            0x00, 0x00, 0x10, 0x00,                                                  //   4096
            0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x04,                          // fmt 1, len 6, User Control
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                      //   Stream Begin 0
            0x03, 0x00, 0x00, 0x00,                                                  // fmt 0, csid 3, ts 0, then the _result
        });
        REQUIRE(wire.size() > expected.size());
        CHECK(std::vector<std::byte>(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(expected.size())) == expected);
        CHECK(f.session.output().chunk_size() == 4096);  // what follows is chunked at the size announced
    }

    TEST_CASE("a refused connect gets NetConnection.Connect.Rejected, then the session closes after a flush") {
        fixture f;
        f.owner.accept = false;
        const auto out = f.connect("other");
        REQUIRE(out.size() == 1);
        CHECK(out[0].name() == "_error");
        CHECK(out[0].command()->arguments.at(0)["code"].as_string() == "NetConnection.Connect.Rejected");
        CHECK(f.session.closing());
        CHECK(f.session.flush_on_close());
        CHECK(f.session.reason() == error::rejected_by_handler);
    }

    TEST_CASE("commands before connect, and a second connect, end the session") {
        SUBCASE("createStream first") {
            fixture f;
            f.handshake();
            f.put(command{"createStream", 2, amf0::value::null(), {}});
            CHECK(f.session.reason() == error::unexpected_command);
        }
        SUBCASE("connect twice") {
            fixture f;
            f.connect();
            f.put(command{"connect", 3, amf0::value::object({{"app", "live"}}), {}});
            CHECK(f.session.reason() == error::unexpected_command);
            CHECK_FALSE(f.session.flush_on_close());
        }
        SUBCASE("a C0 that is not 3") {
            fixture f;
            f.put(bytes({6}));
            CHECK(f.session.reason() == error::bad_handshake_version);
            CHECK(f.session.put(bytes({3}), t0) == 0);  // a closing session consumes nothing
        }
    }

    TEST_CASE("timeouts fire at their deadline, passed in by hand") {
        SUBCASE("handshake") {
            fixture f;
            CHECK(f.session.next_deadline() == t0 + 10s);
            f.session.on_time(t0 + 9999ms);
            CHECK_FALSE(f.session.closing());
            f.session.on_time(t0 + 10s);
            CHECK(f.session.reason() == error::handshake_timeout);
        }
        SUBCASE("connect, from the end of the handshake") {
            fixture f;
            f.handshake();
            f.session.on_time(t0 + 9s);
            CHECK_FALSE(f.session.closing());
            CHECK(f.session.next_deadline() == t0 + 10s);
            f.session.on_time(t0 + 10s);
            CHECK(f.session.reason() == error::connect_timeout);
        }
        SUBCASE("idle: nothing received and nothing playing") {
            fixture f;
            f.connect();
            f.put(to_message(user_control::ping_request(5)), t0 + 30s);  // input pushes the deadline on
            f.session.on_time(t0 + 60s);
            CHECK_FALSE(f.session.closing());
            f.session.on_time(t0 + 90s);
            CHECK(f.session.reason() == error::idle_timeout);
        }
        SUBCASE("a playing connection is not idle") {
            fixture f;
            f.connect();
            const auto sid = f.create_stream();
            f.put(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
            for (int minute = 1; minute <= 5; ++minute) f.session.on_time(t0 + std::chrono::minutes(minute));
            CHECK_FALSE(f.session.closing());
        }
    }

    TEST_CASE("pings go out at their interval; the answer gives the round-trip time") {
        auto o = test_options();
        o.timeouts.ping = 10s;
        fixture f(o);
        f.connect();
        CHECK(f.session.next_deadline() == t0 + 10s);  // the ping comes before the idle timeout
        f.session.on_time(t0 + 10s);
        const auto out = f.output();
        REQUIRE(out.size() == 1);
        const auto& ping = std::get<user_control>(out[0].body);
        CHECK(ping.event == user_control_event::ping_request);
        CHECK(ping.value == (10000u | 1u));  // ms since the session began, odd so never 0
        f.put(to_message(user_control::ping_response(ping.value)), t0 + 10s + 1500us);
        CHECK(f.session.round_trip() == 1500us);
        CHECK(f.session.next_deadline() == t0 + 20s);
    }

    TEST_CASE("the client's pings are answered and its window acknowledged") {
        fixture f;
        f.connect();
        auto out = f.put(to_message(user_control::ping_request(77)));
        REQUIRE(out.size() == 1);
        CHECK(std::get<user_control>(out[0].body) == user_control::ping_response(77));
        f.put(to_message(window_ack_size{100}));
        out = f.put(message{{3, message_type::data_amf0, rtmp_timestamp(0), 0}, std::vector<std::byte>(300, std::byte{0x05})});
        REQUIRE(out.size() == 1);
        CHECK(std::get<acknowledgement>(out[0].body).sequence_number == f.session.bytes_in());
    }

    TEST_CASE("play sends StreamBegin, Reset, Start, sample access and the play handler's data; stop sends Stop and EOF") {
        fixture f;
        f.owner.play_data = bytes({0x17, 0x00, 0xaa});
        f.connect();
        const auto sid = f.create_stream();
        auto out = f.put(command{"play", 3, amf0::value::null(), {"cam", -2000}}, sid);
        CHECK(names(out) == std::vector<std::string>{"user_control 0 1", "NetStream.Play.Reset", "NetStream.Play.Start",
                                                     "|RtmpSampleAccess", "type 9"});
        CHECK(std::get<media_message>(out.back().body).payload == f.owner.play_data);
        out = f.put(command{"play", 4, amf0::value::null(), {false}}, sid);
        CHECK(names(out) == std::vector<std::string>{"NetStream.Play.Stop", "user_control 1 1"});
        CHECK(f.owner.events.back() == "stop 1");
        CHECK_FALSE(f.session.playing(sid));
    }

    TEST_CASE("a refused play gets NetStream.Play.Failed; play on an unknown stream gets StreamNotFound") {
        fixture f;
        f.owner.allow_play = false;
        f.connect();
        const auto sid = f.create_stream();
        auto out = f.put(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetStream.Play.Failed");
        CHECK(out[0].header.stream_id == sid);
        out = f.put(command{"play", 4, amf0::value::null(), {"cam"}}, 9);
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetStream.Play.StreamNotFound");
        CHECK(f.owner.events.back() == fmt::format("refused 9 {}", make_error_code(error::stream_not_found).message()));
    }

    TEST_CASE("play honours its duration: a live stream plays that long, then NetStream.Play.Stop") {
        fixture f;
        f.connect();
        const auto sid = f.create_stream();
        f.put(command{"play", 3, amf0::value::null(), {"cam", -1000, 2500}}, sid);  // 2.5 s (milliseconds, as librtmp sends)
        CHECK(f.session.next_deadline() == t0 + 2500ms);
        f.session.on_time(t0 + 2499ms);
        CHECK(f.session.playing(sid));
        f.session.on_time(t0 + 2500ms);
        CHECK_FALSE(f.session.playing(sid));
        CHECK(names(f.output()) == std::vector<std::string>{"NetStream.Play.Stop", "user_control 1 1"});
        CHECK(f.owner.events.back() == "stop 1");
    }

    TEST_CASE("frames: configuration first, a key frame first, timestamps from 0 and strictly increasing") {
        fixture f;
        f.connect();
        const auto sid = f.create_stream();
        CHECK_FALSE(f.session.send_frame(sid, frame(0, true)));  // not playing yet
        f.put(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        auto config = std::make_shared<stream_config>();
        config->metadata = std::make_shared<const std::vector<std::byte>>(bytes({0x02, 0x00, 0x01, 0x78}));
        config->sequence_header = std::make_shared<const std::vector<std::byte>>(bytes({0x17, 0x00, 0x00, 0x00, 0x00}));
        CHECK_FALSE(f.session.send_frame(sid, frame(1000, false, config)));  // waits for a key frame
        CHECK(f.session.send_frame(sid, frame(1040, true, config)));
        CHECK(f.session.send_frame(sid, frame(1040, false, config)));  // same time: one ms later
        CHECK(f.session.send_frame(sid, frame(1073, false, config)));
        const auto out = f.output();
        REQUIRE(out.size() == 5);
        CHECK(out[0].header.type == message_type::data_amf0);  // onMetaData, at 0
        CHECK(out[0].header.timestamp.value() == 0);
        CHECK(std::get<media_message>(out[1].body).payload == *config->sequence_header);
        std::vector<std::uint32_t> ts;
        for (std::size_t i = 2; i < out.size(); ++i) ts.push_back(out[i].header.timestamp.value());
        CHECK(ts == std::vector<std::uint32_t>{0, 1, 33});
        for (const auto& m : out) CHECK(m.header.stream_id == sid);
    }

    TEST_CASE("pause and resume: the handler decides; no frames while paused, a key frame after") {
        fixture f;
        f.connect();
        const auto sid = f.create_stream();
        f.put(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        f.session.send_frame(sid, frame(0, true));
        f.output();
        auto out = f.put(command{"pause", 0, amf0::value::null(), {true, 1000}}, sid);
        CHECK(names(out) == std::vector<std::string>{"NetStream.Pause.Notify"});
        CHECK_FALSE(f.session.send_frame(sid, frame(40, true)));
        out = f.put(command{"pause", 0, amf0::value::null(), {false, 1000}}, sid);
        CHECK(names(out) == std::vector<std::string>{"NetStream.Unpause.Notify"});
        CHECK_FALSE(f.session.send_frame(sid, frame(80, false)));
        CHECK(f.session.send_frame(sid, frame(120, true)));
        f.output();
        f.owner.honour_pause = false;
        out = f.put(command{"pause", 0, amf0::value::null(), {true, 0}}, sid);
        CHECK(out.empty());
        CHECK_FALSE(f.session.paused(sid));
        CHECK(f.owner.events == std::vector<std::string>{"connect live", "create 1", "play 1 cam -2", "pause 1", "resume 1", "pause 1"});
    }

    TEST_CASE("createStream beyond the limit, and a refused stream, get _error") {
        auto o = test_options();
        o.max_streams_per_connection = 1;
        fixture f(o);
        f.connect();
        f.create_stream();
        auto out = f.put(command{"createStream", 3, amf0::value::null(), {}});
        REQUIRE(out.size() == 1);
        CHECK(out[0].name() == "_error");
        CHECK(f.owner.events.back() == fmt::format("refused 0 {}", make_error_code(error::too_many_streams).message()));
        f.put(command{"deleteStream", 4, amf0::value::null(), {1}});
        f.owner.allow_stream = false;
        out = f.put(command{"createStream", 5, amf0::value::null(), {}});
        REQUIRE(out.size() == 1);
        CHECK(out[0].name() == "_error");
        CHECK(f.owner.events == std::vector<std::string>{"connect live", "create 1", "refused 0 too many streams on this connection",
                                                         "deleted 1", "create 2"});
    }

    TEST_CASE("a stream allowed by a handler that also closes the connection is still deleted at the end") {
        fixture f;
        f.owner.close_on_create = true;
        f.connect();
        f.put(command{"createStream", 2, amf0::value::null(), {}});
        CHECK(f.session.reason() == error::handler_exception);
        f.session.finish({});
        CHECK(f.owner.events == std::vector<std::string>{"connect live", "create 1", "deleted 1"});
    }

    TEST_CASE("remote calls: each outcome gets its answer; transaction id 0 gets none") {
        fixture f;
        f.connect();
        f.put(command{"add", 10, amf0::value::null(), {1, 2}});
        REQUIRE(f.owner.calls.size() == 1);
        CHECK(f.owner.calls[0].arguments.size() == 2);
        auto answer = [&](double txn, call_outcome outcome, amf0::value response) {
            f.session.answer_call(txn, "add", outcome, std::move(response));
            auto out = f.output();
            REQUIRE(out.size() <= 1);
            return out;
        };
        auto out = answer(10, call_outcome::ok, amf0::value(3));
        CHECK(out[0].name() == "_result");
        CHECK(out[0].command()->arguments.at(0).as_number() == 3);
        out = answer(11, call_outcome::refused, status_info("error", "App.No", "no"));
        CHECK(out[0].name() == "_error");
        CHECK(out[0].command()->arguments.at(0)["code"].as_string() == "App.No");
        out = answer(12, call_outcome::refused, amf0::value("not an object"));
        CHECK(out[0].command()->arguments.at(0)["description"].as_string() == "Call to add failed.");
        out = answer(13, call_outcome::threw, {});
        CHECK(out[0].command()->arguments.at(0)["description"].as_string() == "The handler of add failed.");
        out = answer(14, call_outcome::not_found, {});
        CHECK(out[0].command()->arguments.at(0)["description"].as_string() == "Method not found (add).");
        CHECK(answer(0, call_outcome::ok, amf0::value(1)).empty());
    }

    TEST_CASE("with call_errors_as_result, failures come as _result carrying the error object") {
        auto o = test_options();
        o.call_errors_as_result = true;
        fixture f(o);
        f.connect();
        f.session.answer_call(5, "x", call_outcome::not_found, {});
        const auto out = f.output();
        REQUIRE(out.size() == 1);
        CHECK(out[0].name() == "_result");
        CHECK(out[0].command()->arguments.at(0)["code"].as_string() == "NetConnection.Call.Failed");
    }

    TEST_CASE("calls to the client: answered, timed out, too many, or cut short by the end") {
        auto o = test_options();
        o.max_pending_calls = 2;
        fixture f(o);
        std::error_code ec;
        f.session.call("early", {}, t0 + 1s, ec);
        CHECK(ec == error::shutdown);  // not connected yet
        f.connect();
        const double a = f.session.call("question", {amf0::value(41)}, t0 + 5s, ec);
        REQUIRE(!ec);
        const double b = f.session.call("other", {}, t0 + 3s, ec);
        REQUIRE(!ec);
        f.session.call("third", {}, t0 + 3s, ec);
        CHECK(ec == error::too_many_pending_calls);
        auto out = f.output();
        REQUIRE(out.size() == 2);
        CHECK(out[0].name() == "question");
        CHECK(out[0].command()->transaction_id == a);
        f.put(command{"_result", a, amf0::value::null(), {amf0::value(42)}});
        REQUIRE(f.owner.answers.size() == 1);
        CHECK(f.owner.answers[0].first == a);
        CHECK(f.owner.answers[0].second.ok);
        CHECK(f.owner.answers[0].second.values.at(0).as_number() == 42);
        CHECK(f.session.next_deadline() == t0 + 3s);
        f.session.on_time(t0 + 3s);
        REQUIRE(f.owner.answers.size() == 2);
        CHECK(f.owner.answers[1].first == b);
        CHECK(f.owner.answers[1].second.error == error::call_timeout);
        f.put(command{"_error", b, amf0::value::null(), {}});  // late: ignored
        CHECK(f.owner.answers.size() == 2);
        f.session.call("last", {}, t0 + 9s, ec);
        f.session.finish({});
        REQUIRE(f.owner.answers.size() == 3);
        CHECK(f.owner.answers[2].second.error == error::shutdown);
    }

    TEST_CASE("a client that asks without reading is closed when the queue limit is reached") {
        auto o = test_options();
        o.max_queued_messages = 10;
        fixture f(o);
        f.connect();
        std::vector<std::byte> pings;
        for (int i = 0; i < 20; ++i) {
            const auto b = f.client.bytes(to_message(user_control::ping_request(static_cast<std::uint32_t>(i))));
            pings.insert(pings.end(), b.begin(), b.end());
        }
        f.session.put(pings, t0);  // nothing is written meanwhile
        CHECK(f.session.reason() == error::queue_full);
        CHECK_FALSE(f.session.flush_on_close());
    }

    TEST_CASE("deleteStream and the end of the session tell the owner of every stream once") {
        fixture f;
        f.connect();
        const auto one = f.create_stream(2);
        const auto two = f.create_stream(3);
        f.put(command{"play", 4, amf0::value::null(), {"a"}}, one);
        f.put(command{"play", 5, amf0::value::null(), {"b"}}, two);
        f.put(command{"deleteStream", 6, amf0::value::null(), {one}});
        f.put(command{"closeStream", 0, amf0::value::null(), {}}, 7);  // an unknown stream: nothing
        f.session.finish(error::shutdown);
        CHECK(f.owner.events == std::vector<std::string>{"connect live", "create 1", "create 2", "play 1 a -2", "play 2 b -2",
                                                         "stop 1", "deleted 1", "stop 2", "deleted 2"});
        CHECK(f.session.reason() == error::shutdown);
    }

    TEST_CASE("an ffmpeg publisher's recorded bytes: publish accepted, metadata and every video message to the owner, then the end") {
        const auto c2s = rtmpx_test::load_fixture("publish_c2s.bin");
        fixture f;
        const auto out = f.put(c2s, t0, 97);
        std::vector<std::string> commands;
        for (const auto& e : f.owner.events)
            if (e.rfind("media", 0) != 0) commands.push_back(e);
        CHECK(commands == std::vector<std::string>{"connect live", "create 1", "publish 1 fixture live", "unpublish 1", "deleted 1"});
        REQUIRE(f.owner.media.size() == 13);  // onMetaData and 12 video messages
        CHECK(f.owner.media[0].type == media_type::metadata);
        std::vector<amf0::value> meta;
        std::error_code ec;
        REQUIRE(amf0::decode_all(f.owner.media[0].payload, meta, ec));
        CHECK(meta.at(0).as_string() == "onMetaData");  // @setDataFrame removed
        CHECK(meta.at(1)["width"].as_number() == 64);
        CHECK(f.owner.media[1].type == media_type::video);
        CHECK(f.owner.media[1].payload.at(1) == std::byte{0x00});  // the AVC sequence header first
        CHECK(f.owner.media.back().timestamp.value() == 900);
        const auto n = names(out);
        const std::vector<std::string> expected_start{"type 5", "type 6", "type 1", "user_control 0 0", "_result",  // connect
                                                      "_result",                               // releaseStream
                                                      "_result", "onFCPublish",                // FCPublish
                                                      "_result",                               // createStream: 1
                                                      "_result",                               // _checkbw
                                                      "user_control 0 1", "NetStream.Publish.Start"};
        REQUIRE(n.size() >= expected_start.size());
        CHECK(std::vector<std::string>(n.begin(), n.begin() + static_cast<std::ptrdiff_t>(expected_start.size())) == expected_start);
        CHECK(std::vector<std::string>(n.end() - 3, n.end()) == std::vector<std::string>{"_result", "NetStream.Unpublish.Success", "onFCUnpublish"});
        CHECK(f.session.media_dropped() == 0);
    }

    TEST_CASE("publish: refused with the owner's status, on an unknown stream, twice; media outside a publish is dropped") {
        fixture f;
        f.connect();
        const auto sid = f.create_stream();
        auto out = f.put(message{{4, message_type::video, rtmp_timestamp(0), sid}, bytes({0x17, 0x01, 0, 0, 0, 0xaa})});
        CHECK(out.empty());
        CHECK(f.session.media_dropped() == 1);
        f.owner.allow_publish = false;
        out = f.put(command{"publish", 3, amf0::value::null(), {"cam", "live"}}, sid);
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetStream.Publish.Denied");
        CHECK(out[0].command()->arguments.at(0)["level"].as_string() == "error");
        out = f.put(command{"publish", 4, amf0::value::null(), {"cam", "live"}}, 7);  // a stream it did not create
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetStream.Publish.BadName");
        f.owner.allow_publish = true;
        out = f.put(command{"publish", 5, amf0::value::null(), {"cam", "live"}}, sid);
        CHECK(names(out) == std::vector<std::string>{"user_control 0 1", "NetStream.Publish.Start"});
        out = f.put(command{"publish", 6, amf0::value::null(), {"cam2", "live"}}, sid);
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetStream.Publish.BadName");  // already publishing
        out = f.put(command{"play", 7, amf0::value::null(), {"cam"}}, sid);
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetStream.Play.Failed");  // a stream does one or the other
    }

    TEST_CASE("media of a publish: too short tags dropped, aggregates split, @setDataFrame removed, timestamps kept") {
        fixture f;
        f.connect();
        const auto sid = f.create_stream();
        f.put(command{"publish", 3, amf0::value::null(), {"cam", "live"}}, sid);
        f.owner.media.clear();
        f.put(message{{4, message_type::video, rtmp_timestamp(10), sid}, bytes({0x17, 0x01})});  // AVC needs 5 bytes
        f.put(message{{4, message_type::audio, rtmp_timestamp(10), sid}, bytes({0xaf})});        // AAC needs 2
        CHECK(f.session.media_dropped() == 2);
        CHECK(f.owner.media.empty());
        // An aggregate of an audio and a video message (RTMP 1.0 §7.1.6): timestamps from the message's.
        const auto agg = bytes({0x08, 0x00, 0x00, 0x02, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00,  // audio, 2 bytes, ts 100
                                0xaf, 0x01, 0x00, 0x00, 0x00, 0x0d,                             // body, back pointer
                                0x09, 0x00, 0x00, 0x05, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00, 0x00,  // video, 5 bytes, ts 120
                                0x27, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10});
        f.put(message{{4, message_type::aggregate, rtmp_timestamp(1000), sid}, agg});
        REQUIRE(f.owner.media.size() == 2);
        CHECK(f.owner.media[0].type == media_type::audio);
        CHECK(f.owner.media[0].timestamp.value() == 1000);
        CHECK(f.owner.media[1].type == media_type::video);
        CHECK(f.owner.media[1].timestamp.value() == 1020);
        f.put(to_message(data_message{"@setDataFrame", {amf0::value("onMetaData"), amf0::value::ecma_array({{"width", 640}})}}, sid));
        REQUIRE(f.owner.media.size() == 3);
        CHECK(f.owner.media[2].type == media_type::metadata);
        CHECK(f.owner.media[2].payload == encode_payload(make_on_metadata(amf0::value::ecma_array({{"width", 640}}))));
    }

    TEST_CASE("a publisher that sends nothing for the publish timeout is closed; deleteStream by name ends a publish") {
        SUBCASE("timeout") {
            auto o = test_options();
            o.timeouts.publish = 3s;
            fixture f(o);
            f.connect();
            const auto sid = f.create_stream();
            f.put(command{"publish", 3, amf0::value::null(), {"cam", "live"}}, sid);
            f.put(message{{4, message_type::video, rtmp_timestamp(0), sid}, bytes({0x17, 0x01, 0, 0, 0, 0xaa})}, t0 + 1s);
            CHECK(f.session.next_deadline() == t0 + 4s);
            f.session.on_time(t0 + 3999ms);
            CHECK_FALSE(f.session.closing());
            f.session.on_time(t0 + 4s);
            CHECK(f.session.reason() == error::publish_timeout);
        }
        SUBCASE("deleteStream(name), as GStreamer sends it") {
            fixture f;
            f.connect();
            const auto sid = f.create_stream();
            f.put(command{"publish", 3, amf0::value::null(), {"cam", "live"}}, sid);
            const auto out = f.put(command{"deleteStream", 4, amf0::value::null(), {"cam"}});
            CHECK(names(out) == std::vector<std::string>{"NetStream.Unpublish.Success"});
            CHECK(f.owner.events.back() == "deleted 1");
            CHECK(f.owner.events[f.owner.events.size() - 2] == "unpublish 1");
        }
    }

    TEST_CASE("a player gets audio as it comes (no key-frame wait), the audio sequence header, and news of the publisher") {
        fixture f;
        f.connect();
        const auto sid = f.create_stream();
        f.put(command{"play", 3, amf0::value::null(), {"cam"}}, sid);
        f.output();
        auto config = std::make_shared<stream_config>();
        config->audio_sequence_header = std::make_shared<const std::vector<std::byte>>(bytes({0xaf, 0x00, 0x12, 0x10}));
        auto audio = [&](std::uint32_t ts) {
            auto a = std::make_shared<media_frame>();
            a->kind = media_kind::audio;
            a->tag = bytes({0xaf, 0x01, 0x21});
            a->timestamp = ts;
            a->config = config;
            return shared_frame(a);
        };
        CHECK(f.session.send_frame(sid, audio(500)));
        CHECK_FALSE(f.session.send_frame(sid, frame(510, false, config)));  // video still waits for a key frame
        CHECK(f.session.send_frame(sid, frame(520, true, config)));
        CHECK(f.session.send_frame(sid, audio(515)));  // a little behind the video: never backwards
        auto news = std::make_shared<media_frame>();
        news->kind = media_kind::unpublished;
        CHECK(f.session.send_frame(sid, news));
        CHECK_FALSE(f.session.send_frame(sid, frame(600, false, config)));  // the next publisher starts on a key frame
        auto out = f.output();
        CHECK(names(out) == std::vector<std::string>{"type 8", "type 8", "type 9", "type 8", "NetStream.Play.UnpublishNotify"});
        CHECK(std::get<media_message>(out[0].body).payload == *config->audio_sequence_header);
        CHECK(out[1].header.timestamp.value() == 0);
        CHECK(out[2].header.timestamp.value() == 20);
        CHECK(out[3].header.timestamp.value() == 20);
        f.put(command{"receiveAudio", 0, amf0::value::null(), {false}}, sid);
        CHECK_FALSE(f.session.send_frame(sid, audio(700)));
    }

    TEST_CASE("a reconnect request goes to a client that declared it honours one, with the new tcUrl") {
        fixture legacy;
        legacy.connect();
        CHECK_FALSE(legacy.session.request_reconnect("rtmp://other:1935/live", "moving"));
        CHECK(legacy.output().empty());

        fixture f;
        f.handshake();
        f.put(command{"connect", 1,
                      amf0::value::object({{"app", "live"}, {"tcUrl", "rtmp://h/live"}, {"fourCcList", amf0::value::strict_array({"*"})},
                                           {"capsEx", 1}}),
                      {}});
        REQUIRE(f.session.request_reconnect("rtmp://other:1935/live", "moving"));
        auto out = f.output();
        REQUIRE(out.size() == 1);
        CHECK(out[0].status() == "NetConnection.Connect.ReconnectRequest");
        CHECK(out[0].header.stream_id == 0);
        CHECK(out[0].command()->transaction_id == 0);
        const auto& info = out[0].command()->arguments.at(0);
        CHECK(info["level"].as_string() == "status");
        CHECK(info["tcUrl"].as_string() == "rtmp://other:1935/live");
        CHECK(info["description"].as_string() == "moving");
        REQUIRE(f.session.request_reconnect("", "again"));  // no tcUrl: the same server
        out = f.output();
        REQUIRE(out.size() == 1);
        CHECK(out[0].command()->arguments.at(0).find("tcUrl") == nullptr);
    }

    TEST_CASE("a play of a codec the client did not declare fails at once, and the play ends for the owner") {
        fixture f;
        f.connect();  // a legacy client
        const auto sid = f.create_stream();
        f.put(command{"play", 3, amf0::value::null(), {"av1"}}, sid);
        auto config = std::make_shared<stream_config>();
        config->sequence_header = std::make_shared<const std::vector<std::byte>>(bytes({0x90, 'a', 'v', '0', '1', 0x81}));
        auto key = std::make_shared<media_frame>();
        key->tag = bytes({0x91, 'a', 'v', '0', '1', 0x12, 0x00});
        key->key_frame = true;
        key->config = config;
        CHECK_FALSE(f.session.send_frame(sid, key));
        auto out = f.output();
        REQUIRE(out.size() == 2);
        CHECK(out[0].status() == "NetStream.Play.Failed");
        CHECK(out[0].header.stream_id == sid);
        CHECK(out[1].header.type == message_type::user_control);
        CHECK(f.session.playing(sid));  // until the driver ends refused plays
        f.session.end_refused_plays();
        CHECK_FALSE(f.session.playing(sid));
        CHECK(f.owner.events.back() == "stop 1");
        CHECK(f.output().empty());  // Play.Failed said it all
    }
}
