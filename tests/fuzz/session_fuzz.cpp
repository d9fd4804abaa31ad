// SPDX-License-Identifier: MIT
// Fuzz target: one server session, sans I/O, fed what a client sends, with time passed by hand.
//
// Input: the client-to-server bytes from C0 on (the seed corpus holds recorded sessions, so a
// valid handshake prefix comes from there). The session gets them in pieces whose sizes the last
// input byte decides; between pieces 10 ms pass, the owner answers deferred calls, every playing
// stream gets a frame and the output is "written". After the input, time runs on for a minute:
// a session that plays nothing must have closed by then. Everything is deterministic: no socket,
// no thread, no clock.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rtmpx/protocol/server_session.hpp>

#include "fuzz_common.hpp"

namespace {

using namespace std::chrono_literals;
using rtmpx::protocol::call_outcome;
using rtmpx::protocol::time_point;

rtmpx::server_options fuzz_options() {
    rtmpx::server_options o;
    o.timeouts.handshake = 1s;
    o.timeouts.connect = 1s;
    o.timeouts.idle = 1s;
    o.timeouts.ping = 50ms;  // so that pings go out (and their answers matter) within a session
    o.max_streams_per_connection = 4;
    o.max_pending_calls = 4;
    o.max_queued_messages = 256;
    o.max_queued_bytes = 1u << 20;
    return o;
}

// The owner a small render server would be: app "live", some streams and plays refused, calls
// answered at once, later, or by calling the client back.
struct owner {
    rtmpx::protocol::server_session<owner>* session = nullptr;
    time_point now{};
    std::vector<std::pair<double, std::string>> deferred;  // calls to answer on a later tick
    std::vector<std::uint32_t> streams;
    int play_events = 0;
    int deleted = 0;

    bool on_connect(const rtmpx::protocol::connect_command& c) {
        if (c.app == "fail") session->close(rtmpx::error::handler_exception, false);
        return c.app == "live";
    }
    bool on_create_stream(std::uint32_t id, const rtmpx::amf0::value&) {
        RTMPX_FUZZ_CHECK(id != 0);
        if (id % 3 == 0) return false;
        streams.push_back(id);
        return true;
    }
    bool on_play(rtmpx::protocol::play_request& r) {
        ++play_events;
        if (r.is_start && r.stream_name == "refused") return false;
        r.video_data = {std::byte{0x17}, std::byte{0}};
        return true;
    }
    bool on_pause(std::uint32_t, bool pause, double) { return pause || play_events % 2 == 0; }
    void on_receive_video(std::uint32_t, bool) {}
    void on_stream_deleted(std::uint32_t id, std::error_code) {
        ++deleted;
        std::erase(streams, id);
    }
    void on_call(rtmpx::protocol::command& c) {
        if (c.name == "later") {
            deferred.emplace_back(c.transaction_id, c.name);
        } else if (c.name == "ask") {
            std::error_code ec;
            session->call("question", {rtmpx::amf0::value(c.name)}, now + 300ms, ec);
            session->answer_call(c.transaction_id, c.name, ec ? call_outcome::refused : call_outcome::ok,
                                 ec ? rtmpx::protocol::status_info("error", "Fuzz.Busy", ec.message()) : rtmpx::amf0::value());
        } else if (c.name == "fail") {
            session->answer_call(c.transaction_id, c.name, call_outcome::refused, rtmpx::protocol::status_info("error", "Fuzz.Failed", "no"));
        } else if (c.name == "throw") {
            session->answer_call(c.transaction_id, c.name, call_outcome::threw, {});
        } else if (c.name == "echo") {
            session->answer_call(c.transaction_id, c.name, call_outcome::ok,
                                 c.arguments.empty() ? rtmpx::amf0::value() : std::move(c.arguments[0]));
        } else {
            session->answer_call(c.transaction_id, c.name, call_outcome::not_found, {});
        }
    }
    void on_call_answered(double, rtmpx::protocol::call_result&&) {}
    void on_refused(std::error_code why, std::uint32_t) { RTMPX_FUZZ_CHECK(why); }
    bool on_publish(rtmpx::protocol::publish_request& r) {
        if (r.stream_name == "denied") r.refusal = "NetStream.Publish.Denied";
        return r.stream_name != "denied";
    }
    void on_media(rtmpx::protocol::media_in& m) {
        RTMPX_FUZZ_CHECK(!m.payload.empty() || m.type == rtmpx::protocol::media_type::data ||
                         m.type == rtmpx::protocol::media_type::metadata);
        ++media;
    }
    void on_unpublish(std::uint32_t) { ++unpublished; }
    int media = 0;
    int unpublished = 0;
};

// A key frame and an inter frame, with one configuration.
rtmpx::protocol::shared_frame make_frame(bool key) {
    static const auto config = [] {
        auto c = std::make_shared<rtmpx::protocol::stream_config>();
        c->metadata = std::make_shared<const std::vector<std::byte>>(std::vector<std::byte>{std::byte{0x02}, std::byte{0}, std::byte{0}});
        c->sequence_header = std::make_shared<const std::vector<std::byte>>(std::vector<std::byte>{std::byte{0x17}, std::byte{0}});
        return std::shared_ptr<const rtmpx::protocol::stream_config>(c);
    }();
    auto f = std::make_shared<rtmpx::protocol::media_frame>();
    f->tag = {std::byte(key ? 0x17 : 0x27), std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0x42}};
    f->key_frame = key;
    f->config = config;
    return f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const rtmpx::server_options options = fuzz_options();
    const auto input = rtmpx_fuzz::as_bytes(data, size);
    rtmpx_fuzz::piece_sizes pieces(size > 0 ? data[size - 1] : 0);

    owner o;
    o.now = time_point{} + 1h;
    rtmpx::protocol::server_session<owner> session(o, options, o.now, 42);
    o.session = &session;

    // What the driver does after input or time: answer what waits, feed frames, write the output.
    std::size_t tick = 0;
    auto drive = [&] {
        if (!o.deferred.empty()) {
            const auto [txn, name] = o.deferred.front();
            o.deferred.erase(o.deferred.begin());
            session.answer_call(txn, name, tick % 2 ? call_outcome::ok : call_outcome::refused, rtmpx::amf0::value(1));
        }
        for (const auto id : o.streams) session.send_frame(id, make_frame(tick % 8 == 0));
        ++tick;
        auto& out = session.output();
        RTMPX_FUZZ_CHECK(out.unwritten_bytes() <= options.max_queued_bytes + (64u << 10));
        if (out.has_pending()) {
            RTMPX_FUZZ_CHECK(out.begin_write().size() > 0);
            out.end_write();
        }
        RTMPX_FUZZ_CHECK(session.closing() || session.next_deadline());
    };

    std::vector<std::byte> pending;
    std::size_t fed = 0;
    while (fed < input.size() && !session.closing()) {
        const std::size_t n = pieces.next(input.size() - fed);
        pending.insert(pending.end(), input.begin() + static_cast<std::ptrdiff_t>(fed),
                       input.begin() + static_cast<std::ptrdiff_t>(fed + n));
        fed += n;
        const std::size_t used = session.put(pending, o.now);
        RTMPX_FUZZ_CHECK(used <= pending.size());
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        RTMPX_FUZZ_CHECK(session.closing() || pending.size() <= 18);  // at most one incomplete chunk header
        o.now += 10ms;
        session.on_time(o.now);
        drive();
    }
    // The client says no more: time runs on; every timeout that applies fires.
    for (int i = 0; i < 600 && !session.closing(); ++i) {
        o.now += 100ms;
        if (const auto next = session.next_deadline()) RTMPX_FUZZ_CHECK(*next > o.now - 1s);
        session.on_time(o.now);
        drive();
    }
    RTMPX_FUZZ_CHECK(session.closing() || session.playing_streams() > 0);
    session.finish({});
    RTMPX_FUZZ_CHECK(o.streams.empty());
    return 0;
}
