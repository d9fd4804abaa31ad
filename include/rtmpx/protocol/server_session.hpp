// SPDX-License-Identifier: MIT
// The server side of one RTMP connection, sans I/O: bytes in, events out, answers in, bytes out.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/handshake.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/output_queue.hpp>
#include <rtmpx/protocol/pending_calls.hpp>
#include <rtmpx/protocol/session_base.hpp>
#include <rtmpx/protocol/server_session_events.hpp>
#include <rtmpx/protocol/server_streams.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The rules of the server side of an RTMP connection, with no I/O, no threads and no clock:
 * every call that depends on time takes `now`.
 *
 * Bytes from the client go to `put`; what to send collects in `output()`; `next_deadline()` says
 * when `on_time` must be called next (handshake, connect and idle timeouts, pings, the answers
 * to the server's own calls, play durations, publish timeouts). The owner (a `Handler`, see
 * `server_session_handler`) is told of connect, createStream, play, pause, publish, media,
 * deleteStream and remote calls, and answers; the session sends what players and publishers
 * need in the order they need it (`../shared/reference/players.md`): window size, peer
 * bandwidth and chunk size before the connect `_result`; StreamBegin, Play.Reset, Play.Start
 * and `|RtmpSampleAccess` before media; NetStream.Publish.Start. The NetStream half lives in
 * `server_streams`.
 *
 * The session ends with `close` (by the owner, a timeout, a protocol error or a limit); the
 * owner then stops I/O and calls `finish`, which ends the streams and the pending calls.
 *
 * Errors: malformed input, limits and timeouts close the session; `reason()` says why.
 * `Handler` must satisfy `server_session_handler` (checked when the session is constructed).
 */
template <class Handler>
class server_session : public session_base<server_handshake> {
public:
    server_session(Handler& handler, const server_options& options, time_point now, std::uint64_t random_seed)
        : session_base(server_handshake(random_seed), options.chunks),
          handler_(handler),
          options_(options),
          started_(now),
          deadline_handshake_(now + options.timeouts.handshake) {
        // Checked here, not on the class: the owner that holds the session is complete only now.
        static_assert(server_session_handler<Handler>, "server_session: Handler lacks a callback (see server_session_handler)");
    }

    server_session(const server_session&) = delete;
    server_session& operator=(const server_session&) = delete;

    // ---- input -------------------------------------------------------------------------------

    /// Consumes client bytes: every complete message is handled. Returns the bytes consumed; the
    /// rest (an incomplete chunk header) must be passed again with more. Consumes nothing once
    /// the session is closing.
    std::size_t put(std::span<const std::byte> in, time_point now) {
        if (closing_) return 0;
        now_ = now;
        std::size_t used = 0;
        if (phase_ == phase::handshake) {
            used = put_handshake(in);
            if (closing_ || !handshake_done()) return used;
            phase_ = phase::handshaken;
            deadline_handshake_.reset();
            deadline_connect_ = now + options_.timeouts.connect;
        }
        used += put_chunks(in.subspan(used), [this](message&& m) { dispatch(std::move(m)); });
        if (deadline_idle_) deadline_idle_ = now + options_.timeouts.idle;
        acknowledge();
        return used;
    }

    /// The time passed: fires the timeouts, pings and play durations due by `now`.
    void on_time(time_point now) {
        if (closing_) return;
        now_ = now;
        if (deadline_handshake_ && *deadline_handshake_ <= now) return close(error::handshake_timeout, false);
        if (deadline_connect_ && *deadline_connect_ <= now) return close(error::connect_timeout, false);
        if (deadline_idle_ && *deadline_idle_ <= now) {
            if (playing_streams() == 0)
                return close(error::idle_timeout, false);
            deadline_idle_ = now + options_.timeouts.idle;
        }
        if (next_ping_ && *next_ping_ <= now) {
            ping_sent_ = now;
            ping_stamp_ = static_cast<std::uint32_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()) | 1u;
            send(to_message(user_control::ping_request(ping_stamp_)));
            next_ping_ = now + options_.timeouts.ping;
        }
        while (!closing_) {
            const auto txn = calls_.take_expired(now);
            if (!txn) break;
            handler_.on_call_answered(*txn, call_result{error::call_timeout, false, {}, {}});
        }
        streams_.on_time(now);
    }

    /// When `on_time` must be called next, if ever.
    std::optional<time_point> next_deadline() const {
        if (closing_) return std::nullopt;
        std::optional<time_point> next;
        auto consider = [&next](const std::optional<time_point>& t) {
            if (t && (!next || *t < *next)) next = t;
        };
        consider(deadline_handshake_);
        consider(deadline_connect_);
        consider(deadline_idle_);
        consider(next_ping_);
        consider(calls_.next_deadline());
        consider(streams_.next_deadline());
        return next;
    }

    // ---- answers and requests from the owner ---------------------------------------------------

    /**
     * Answers remote call `txn` (nothing is sent for transaction id 0). `ok`: `_result` with
     * `response`. Otherwise an `_error` (or, with `call_errors_as_result`, a `_result`) carrying
     * `response` when it is an object with properties and the handler refused, else a
     * NetConnection.Call.Failed info object saying what happened.
     */
    void answer_call(double txn, std::string_view name, call_outcome outcome, amf0::value response) {
        if (txn == 0 || closing_) return;
        if (outcome == call_outcome::ok) {
            send(make_result(txn, amf0::value::null(), {std::move(response)}));
            return;
        }
        if (outcome != call_outcome::refused || !response.has_properties()) response = call_failure_info(outcome, name);
        send_call_failure(txn, std::move(response));
    }

    /**
     * Calls procedure `name` on the client; its answer (or `error::call_timeout` at `deadline`)
     * comes to `on_call_answered` with the returned transaction id.
     * Errors: `error::shutdown` before connect or once closing, `error::too_many_pending_calls`.
     */
    double call(std::string name, std::vector<amf0::value> args, time_point deadline, std::error_code& ec) {
        ec.clear();
        if (closing_ || phase_ != phase::connected) {
            ec = error::shutdown;
            return 0;
        }
        if (calls_.size() >= options_.max_pending_calls) {
            ec = error::too_many_pending_calls;
            return 0;
        }
        const double txn = calls_.add(deadline);
        send(command{std::move(name), txn, amf0::value::null(), std::move(args)});
        return txn;
    }

    /// Sends `name(args...)` to the client with transaction id 0 (no answer expected).
    void notify(std::string name, std::vector<amf0::value> args) {
        send(command{std::move(name), 0, amf0::value::null(), std::move(args)});
    }

    /// Sends one frame on playing stream `stream_id`. False when it was not sent: the stream does
    /// not play (or is paused), or waits for a key frame, or its play failed on a codec the client
    /// did not declare (then call `end_refused_plays` once the frames are sent).
    bool send_frame(std::uint32_t stream_id, const shared_frame& f) { return streams_.send_frame(stream_id, f); }

    /**
     * Asks the client to connect again, to `tc_url` when not empty (Enhanced RTMP's
     * NetConnection.Connect.ReconnectRequest), if it declared that it honours the request
     * (`caps_ex::reconnect` in connect). False, and nothing sent, otherwise.
     */
    bool request_reconnect(std::string_view tc_url, std::string_view description) {
        if (phase_ != phase::connected || closing_ || !client_caps_ || (client_caps_->caps_ex & enhanced::caps_ex::reconnect) == 0)
            return false;
        send(to_message(make_reconnect_request(tc_url, description), 0, chunk_stream::command));
        return true;
    }

    /// Plays that failed on a codec the client did not declare (NetStream.Play.Failed is sent)
    /// stop: the owner hears `on_play` with is_start false.
    void end_refused_plays() { streams_.end_refused(); }

    /// The stream's producer failed: it stops (the owner hears `on_play` with is_start false),
    /// and the player gets NetStream.Failed and StreamEOF.
    void fail_stream(std::uint32_t stream_id) { streams_.fail(stream_id); }

    /**
     * The transport is done (after `close`, or the peer went away): pending calls get
     * `error::shutdown`, playing streams stop and every stream is deleted (the owner hears of
     * each). Call once.
     */
    void finish(std::error_code why) {
        close(why, false);
        for (const double txn : calls_.take_all()) handler_.on_call_answered(txn, call_result{error::shutdown, false, {}, {}});
        streams_.finish(reason());
    }

    // ---- state ---------------------------------------------------------------------------------

    /// Whether `connect` has been accepted.
    bool connected() const noexcept { return phase_ == phase::connected; }
    bool playing(std::uint32_t stream_id) const noexcept { return streams_.playing(stream_id); }
    bool paused(std::uint32_t stream_id) const noexcept { return streams_.paused(stream_id); }
    /// Streams that play now.
    std::size_t playing_streams() const noexcept { return streams_.playing_count(); }
    /// The sequence number of the client's last acknowledgement.
    std::uint64_t acknowledged() const noexcept { return acknowledged_; }
    /// Media and data messages dropped because their stream does not publish, and because they
    /// were too short for their tag header.
    std::uint64_t media_dropped() const noexcept { return streams_.media_dropped(); }
    /// Streams that publish now.
    std::size_t publishing_streams() const noexcept { return streams_.publishing_count(); }
    /// From the last answered ping (0: none yet).
    std::chrono::microseconds round_trip() const noexcept { return round_trip_; }
    time_point started() const noexcept { return started_; }

private:
    friend class server_streams<server_session>;
    enum class phase { handshake, handshaken, connected };

    // ---- sending -------------------------------------------------------------------------------

    // Queues a message; beyond the queue limits the connection is closed (a client that does not
    // read while it keeps asking).
    void send(const message& m) {
        if (closing_) return;
        if (output_.pending_messages() >= options_.max_queued_messages ||
            output_.unwritten_bytes() + m.payload.size() > options_.max_queued_bytes) {
            close(error::queue_full, false);
            return;
        }
        output_.write(m);
    }

    void send(const command& c, std::uint32_t stream_id = 0) {
        send(to_message(c, stream_id, stream_id == 0 ? chunk_stream::command : chunk_stream::stream_command));
    }

    void send(const std::vector<message>& ms) {
        for (const auto& m : ms) send(m);
    }

    // A failed call: `_error`, or `_result` carrying the error object for clients that cannot
    // read `_error` (python-librtmp waits for `_result` only).
    void send_call_failure(double txn, amf0::value info) {
        if (options_.call_errors_as_result) {
            send(make_result(txn, amf0::value::null(), {std::move(info)}));
        } else {
            send(make_error(txn, std::move(info)));
        }
    }

    // RTMP 1.0 §5.4.3: acknowledge once the client's window has passed since the last one.
    void acknowledge() {
        if (const auto ack = acknowledgement_due()) send(to_message(*ack));
    }

    // ---- receiving -----------------------------------------------------------------------------

    void dispatch(message m) {
        const message_header header = m.header;
        std::error_code ec;
        auto decoded = decode_message(std::move(m), ec, options_.amf);
        if (ec) return close(ec, false);
        if (auto* c = std::get_if<command>(&decoded)) {
            on_command(std::move(*c), header);
        } else if (auto* uc = std::get_if<user_control>(&decoded)) {
            if (uc->event == user_control_event::ping_request) send(to_message(user_control::ping_response(uc->value)));
            if (uc->event == user_control_event::ping_response && ping_stamp_ != 0 && uc->value == ping_stamp_)
                round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(now_ - ping_sent_);
        } else if (auto* w = std::get_if<window_ack_size>(&decoded)) {
            peer_window_ = w->window;
        } else if (auto* a = std::get_if<acknowledgement>(&decoded)) {
            acknowledged_ = a->sequence_number;
        } else if (auto* media = std::get_if<media_message>(&decoded)) {
            streams_.media(header, media->type == message_type::audio ? media_type::audio : media_type::video,
                           std::move(media->payload));
        } else if (auto* data = std::get_if<data_message>(&decoded)) {
            streams_.data(header, std::move(*data));
        } else if (auto* aggregate = std::get_if<aggregate_message>(&decoded)) {
            for (auto& part : aggregate->parts) {  // RTMP 1.0 §7.1.6: the parts are messages of their own
                if (closing_) break;
                if (part.header.type != message_type::aggregate) dispatch(std::move(part));
            }
        }
        // Set Chunk Size and Abort were applied by the reader.
    }

    void on_command(command c, const message_header& header) {
        std::error_code ec;
        const double txn = c.transaction_id;
        auto typed = parse_command(std::move(c), ec);
        if (ec) return close(ec, false);
        if (auto* connect = std::get_if<connect_command>(&typed)) return on_connect(*connect);
        if (phase_ != phase::connected) return close(error::unexpected_command, false);  // nothing before connect
        if (auto* call = std::get_if<call_command>(&typed)) return on_call_command(call->cmd);
        if (auto* cs = std::get_if<create_stream_command>(&typed)) return streams_.create(*cs);
        if (auto* play = std::get_if<play_command>(&typed)) return streams_.play(*play, header.stream_id);
        if (auto* pause = std::get_if<pause_command>(&typed)) return streams_.pause(*pause, header.stream_id);
        if (auto* pub = std::get_if<publish_command>(&typed)) return streams_.publish(*pub, header.stream_id);
        if (auto* del = std::get_if<delete_stream_command>(&typed)) {
            if (del->stream_name.empty()) return streams_.delete_stream(static_cast<std::uint32_t>(del->stream_id));
            return streams_.delete_named(del->stream_name);
        }
        if (auto* fc = std::get_if<fc_publish_command>(&typed)) {
            if (txn != 0) send(make_result(txn));
            return send(command{"onFCPublish", 0, amf0::value::null(),
                                {status_info("status", "NetStream.Publish.Start", fc->stream_name)}});
        }
        if (auto* fc = std::get_if<fc_unpublish_command>(&typed)) {
            if (txn != 0) send(make_result(txn));
            streams_.unpublish_named(fc->stream_name);
            return send(command{"onFCUnpublish", 0, amf0::value::null(),
                                {status_info("status", "NetStream.Unpublish.Success", fc->stream_name)}});
        }
        if (auto* ra = std::get_if<receive_audio_command>(&typed)) return streams_.receive_audio(header.stream_id, ra->enable);
        if (auto* rv = std::get_if<receive_video_command>(&typed)) return streams_.receive_video(header.stream_id, rv->enable);
        if (std::holds_alternative<close_stream_command>(typed)) return streams_.delete_stream(header.stream_id);
        if (txn == 0) return;
        if (std::holds_alternative<get_stream_length_command>(typed)) {
            // A live stream has no length; an _error here would end an FFmpeg player.
            return send(make_result(txn, amf0::value::null(), {amf0::value(0)}));
        }
        if (std::holds_alternative<fc_subscribe_command>(typed) || std::holds_alternative<release_stream_command>(typed))
            return send(make_result(txn));
        // seek, play2: not served by a live server.
        send(make_error(txn, status_info("error", "NetConnection.Call.Failed", "not supported by this server")));
    }

    void on_connect(const connect_command& cmd) {
        if (phase_ != phase::handshaken) return close(error::unexpected_command, false);
        const bool accepted = handler_.on_connect(cmd);
        if (closing_) return;
        if (!accepted) {
            send(make_error(cmd.transaction_id,
                            status_info("error", "NetConnection.Connect.Rejected", "Connection rejected.")));
            return close(error::rejected_by_handler, true);
        }
        phase_ = phase::connected;
        client_caps_ = std::make_shared<const enhanced::capabilities>(cmd.enhanced);
        deadline_connect_.reset();
        deadline_idle_ = now_ + options_.timeouts.idle;
        if (options_.timeouts.ping.count() > 0) next_ping_ = now_ + options_.timeouts.ping;
        // The order players expect (players.md): window, peer bandwidth, chunk size, result.
        send(to_message(window_ack_size{options_.window_ack_size}));
        send(to_message(set_peer_bandwidth{options_.peer_bandwidth, bandwidth_limit::dynamic}));
        send(to_message(set_chunk_size{options_.chunk_size}));
        send(to_message(user_control::stream_begin(0)));
        send(make_connect_result(cmd.transaction_id, cmd.object_encoding, cmd.enhanced));
    }

    void on_call_command(command& c) {
        const double txn = c.transaction_id;
        if (c.name == "_result" || c.name == "_error") {  // an answer to one of our calls
            if (!calls_.take(txn)) return;  // late or unknown: ignored
            handler_.on_call_answered(txn, call_result{{}, c.name == "_result", std::move(c.object), std::move(c.arguments)});
            return;
        }
        if (c.name == "_checkbw") {
            if (txn != 0) send(make_result(txn));
            return;
        }
        handler_.on_call(c);
    }

    Handler& handler_;
    const server_options& options_;
    const time_point started_;
    time_point now_ = started_;
    phase phase_ = phase::handshake;

    std::optional<time_point> deadline_handshake_;
    std::optional<time_point> deadline_connect_;
    std::optional<time_point> deadline_idle_;
    std::optional<time_point> next_ping_;
    time_point ping_sent_{};
    std::uint32_t ping_stamp_ = 0;
    std::chrono::microseconds round_trip_{0};

    server_streams<server_session> streams_{*this};
    pending_calls calls_;  // the server's calls waiting for an answer
    std::shared_ptr<const enhanced::capabilities> client_caps_;  // what the client declared in connect
    std::uint64_t acknowledged_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
