// SPDX-License-Identifier: MIT
// The client side of one RTMP connection, sans I/O: handshake, connect, createStream, play, publish.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/limits.hpp>
#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
#include <rtmpx/protocol/handshake.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/output_queue.hpp>
#include <rtmpx/protocol/session_base.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Settings of a client session.
struct client_options {
    chunk_limits chunks;                    ///< what the server may send
    amf_limits amf;
    std::uint32_t chunk_size = 4096;        ///< announced right after the handshake (128: none sent)
    std::uint32_t window_ack_size = 2'500'000;  ///< sent when connect succeeds, as FFmpeg does (0: none)
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds connect_timeout{10'000};  ///< from `connect` to its answer
    std::string flash_ver = "LNX 9,0,124,2";  ///< what FFmpeg sends as a player
    /// What `connect` declares about Enhanced RTMP (fourCcList, the FourCC info maps, capsEx):
    /// by default a forwarder's "any codec"; `{}` declares nothing, as a legacy client.
    enhanced::capabilities enhanced = enhanced::forwarder_capabilities();
};

/**
 * What a client session tells its owner (all on the owner's thread, during `put`):
 * - `void on_message(const message_header&, decoded_message&)`: required; every message from the
 *   server, after the session has applied its own rules (acknowledgements, pings, chunk size);
 *   it may be moved from.
 * - optional: `on_connected(const command& result)`, `on_connect_failed(const command& error)`,
 *   `on_stream_created(double txn, std::uint32_t stream_id)`,
 *   `on_status(std::uint32_t stream_id, const amf0::value& info)` (onStatus on a stream).
 */
template <class H>
concept client_session_handler = requires(H& h, const message_header& mh, decoded_message& d) { h.on_message(mh, d); };

/**
 * The rules of the client side of an RTMP connection, without I/O, threads or a clock: the
 * plain handshake (C0 C1 at once, C2 after S1), then commands as the owner asks (connect,
 * createStream, play, publish, calls), acknowledgements of the server's window (RTMP 1.0
 * §5.4.3) and answers to its pings. Requests made before the handshake ends wait for it.
 *
 * Errors: malformed input, a refused or unanswered connect, the handshake and connect timeouts
 * close the session; `reason()` says why.
 */
template <class Handler>
class client_session : public session_base<client_handshake> {
public:
    client_session(Handler& handler, client_options options, time_point now, std::uint64_t random_seed)
        : session_base(client_handshake(random_seed), options.chunks),
          handler_(handler),
          options_(std::move(options)),
          deadline_handshake_(now + options_.handshake_timeout) {
        static_assert(client_session_handler<Handler>, "client_session: Handler needs on_message(message_header const&, decoded_message&)");
    }

    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    /// Consumes server bytes; returns how many (an incomplete chunk header stays with the caller).
    /// (`now` is taken for symmetry with the server session; no client rule depends on it yet.)
    std::size_t put(std::span<const std::byte> in, time_point /*now*/) {
        if (closing_) return 0;
        std::size_t used = 0;
        if (!handshake_done()) {
            if (server_version_ == 0 && !in.empty()) server_version_ = detail::u8(in[0]);  // S0
            used = put_handshake(in);  // S0 S1 S2; C2 goes out
            if (closing_ || !handshake_done()) return used;
            deadline_handshake_.reset();
            if (options_.chunk_size != 128) send(to_message(set_chunk_size{options_.chunk_size}));
            auto waiting = std::move(waiting_);
            waiting_.clear();
            for (const auto& m : waiting) send(m);
        }
        used += put_chunks(in.subspan(used), [this](message&& m) { dispatch(std::move(m)); });
        // RTMP 1.0 §5.4.3: acknowledge once the server's window has passed since the last one.
        if (const auto ack = acknowledgement_due()) send(to_message(*ack));
        return used;
    }

    /// The time passed: the handshake and connect timeouts.
    void on_time(time_point now) {
        if (closing_) return;
        if (deadline_handshake_ && *deadline_handshake_ <= now) return close(error::handshake_timeout, false);
        if (deadline_connect_ && *deadline_connect_ <= now) return close(error::connect_timeout, false);
    }

    std::optional<time_point> next_deadline() const {
        if (closing_) return std::nullopt;
        if (deadline_handshake_) return deadline_handshake_;
        return deadline_connect_;
    }

    // ---- requests ------------------------------------------------------------------------------

    /**
     * Sends `connect` to application `app` with the command object players send (FFmpeg's: app,
     * flashVer, tcUrl, fpad, capabilities, audio/video codecs, videoFunction, objectEncoding 0),
     * then the Enhanced RTMP declaration of `client_options::enhanced`, plus `extra` properties
     * (replacing those of the same name) and user `arguments`. Returns the transaction id. The
     * answer must come within `connect_timeout`.
     */
    double connect(std::string app, std::string tc_url, time_point now, amf0::properties extra = {},
                   std::vector<amf0::value> arguments = {}) {
        amf0::properties props = {{"app", amf0::value(std::move(app))},
                                  {"flashVer", amf0::value(options_.flash_ver)},
                                  {"tcUrl", amf0::value(std::move(tc_url))},
                                  {"fpad", amf0::value(false)},
                                  {"capabilities", amf0::value(15)},
                                  {"audioCodecs", amf0::value(4071)},
                                  {"videoCodecs", amf0::value(252)},
                                  {"videoFunction", amf0::value(1)},
                                  {"objectEncoding", amf0::value(0)}};
        for (auto& e : enhanced::capabilities_properties(options_.enhanced)) props.push_back(std::move(e));
        for (auto& e : extra) {
            auto it = std::find_if(props.begin(), props.end(), [&](const auto& p) { return p.first == e.first; });
            if (it != props.end()) {
                it->second = std::move(e.second);
            } else {
                props.push_back(std::move(e));
            }
        }
        connect_txn_ = next_txn_++;
        deadline_connect_ = now + options_.connect_timeout;
        send(command{"connect", connect_txn_, amf0::value::object(std::move(props)), std::move(arguments)});
        return connect_txn_;
    }

    /// Sends `createStream`; `on_stream_created` gets the id. Returns the transaction id.
    double create_stream() {
        const double txn = next_txn_++;
        create_stream_txns_.insert(txn);
        send(command{"createStream", txn, amf0::value::null(), {}});
        return txn;
    }

    /// Calls `name(args...)` on the server; returns the transaction id its answer carries.
    double call(std::string name, std::vector<amf0::value> args) {
        const double txn = next_txn_++;
        send(command{std::move(name), txn, amf0::value::null(), std::move(args)});
        return txn;
    }

    /// Sends `play(name, start, duration)` on stream `stream_id`, then Set Buffer Length as
    /// FFmpeg does (`buffer_ms`, 0: none). FFmpeg's default start is -2000 (live or recorded).
    void play(std::uint32_t stream_id, std::string_view name, double start = -2000, double duration = -1,
              std::uint32_t buffer_ms = 3000) {
        std::vector<amf0::value> args{amf0::value(name), amf0::value(start)};
        if (duration >= 0) args.emplace_back(duration);
        send(command{"play", next_txn_++, amf0::value::null(), std::move(args)}, stream_id);
        if (buffer_ms > 0) send(to_message(user_control::set_buffer_length(stream_id, buffer_ms)));
    }

    /// Sends `publish(name, type)` on stream `stream_id`.
    void publish(std::uint32_t stream_id, std::string_view name, std::string_view type = "live") {
        send(command{"publish", next_txn_++, amf0::value::null(), {amf0::value(name), amf0::value(type)}}, stream_id);
    }

    /// Sends `deleteStream(stream_id)`.
    void delete_stream(std::uint32_t stream_id) {
        send(command{"deleteStream", next_txn_++, amf0::value::null(), {amf0::value(stream_id)}});
    }

    /// Sends a command on stream `stream_id` (0: the NetConnection).
    void send(const command& c, std::uint32_t stream_id = 0) {
        send(to_message(c, stream_id, stream_id == 0 ? chunk_stream::command : chunk_stream::client_stream_command));
    }

    /// Sends any message (copied), after the handshake.
    void send(const message& m) {
        if (closing_) return;
        if (!handshake_done()) {
            waiting_.push_back(m);
            return;
        }
        output_.write(m);
    }

    /// Sends a message whose payload is shared (media); it is dropped before the handshake ends.
    void send_shared(const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
        if (closing_ || !handshake_done()) return;
        output_.write_shared(h, std::move(payload));
    }

    // ---- state ---------------------------------------------------------------------------------

    /// The version byte of the server's S0.
    std::uint8_t server_version() const noexcept { return server_version_; }
    /// Whether `connect` got its `_result`.
    bool connected() const noexcept { return connected_; }

private:
    void dispatch(message m) {
        const message_header header = m.header;
        std::error_code ec;
        auto decoded = decode_message(std::move(m), ec, options_.amf);
        if (ec) return close(ec, false);
        if (auto* uc = std::get_if<user_control>(&decoded)) {
            if (uc->event == user_control_event::ping_request) send(to_message(user_control::ping_response(uc->value)));
        } else if (auto* w = std::get_if<window_ack_size>(&decoded)) {
            peer_window_ = w->window;
        } else if (auto* c = std::get_if<command>(&decoded)) {
            on_command(*c, header.stream_id);
        }
        handler_.on_message(header, decoded);
    }

    void on_command(const command& c, std::uint32_t stream_id) {
        const bool result = c.name == "_result";
        if ((result || c.name == "_error") && c.transaction_id == connect_txn_ && connect_txn_ != 0) {
            connect_txn_ = 0;
            deadline_connect_.reset();
            if (result) {
                connected_ = true;
                if (options_.window_ack_size > 0) send(to_message(window_ack_size{options_.window_ack_size}));
                if constexpr (requires { handler_.on_connected(c); }) handler_.on_connected(c);
            } else {
                if constexpr (requires { handler_.on_connect_failed(c); }) handler_.on_connect_failed(c);
                close(error::rejected_by_handler, false);
            }
            return;
        }
        if (result && create_stream_txns_.erase(c.transaction_id) > 0) {
            const auto id = c.arguments.empty() ? 0 : c.arguments[0].as_number();
            if constexpr (requires { handler_.on_stream_created(c.transaction_id, std::uint32_t{}); })
                handler_.on_stream_created(c.transaction_id, static_cast<std::uint32_t>(id));
            return;
        }
        if (c.name == "onStatus" && !c.arguments.empty()) {
            if constexpr (requires { handler_.on_status(stream_id, c.arguments[0]); })
                handler_.on_status(stream_id, c.arguments[0]);
        }
    }

    Handler& handler_;
    client_options options_;
    std::vector<message> waiting_;  // sent before the handshake ended
    bool connected_ = false;
    std::uint8_t server_version_ = 0;
    std::optional<time_point> deadline_handshake_;
    std::optional<time_point> deadline_connect_;
    double next_txn_ = 1;
    double connect_txn_ = 0;
    std::set<double> create_stream_txns_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
