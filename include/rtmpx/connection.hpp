// SPDX-License-Identifier: MIT
// connection: one client, as its handlers see it; the protocol rules live in its server session.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/asio_compat.hpp>
#include <rtmpx/driver/session.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/impl/server_state.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/protocol/server_session.hpp>
#include <rtmpx/statistics.hpp>
#include <rtmpx/stream.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * One client connection. Its handlers run on the connection's thread (its own, or a pool
 * thread's), except frame handlers (see `stream`). The protocol itself is the connection's
 * `protocol::server_session`; the I/O is a `driver::basic_session` that owns the connection.
 *
 * Lifetime: a `connection&` passed to a handler is valid during that call (and across the
 * suspensions of a coroutine call handler).
 */
class connection {
public:
    connection(std::shared_ptr<detail::server_state> server, std::uint64_t id, std::string peer, protocol::time_point now,
               std::uint64_t random_seed)
        : server_(std::move(server)),
          id_(id),
          peer_(std::move(peer)),
          session_(*this, server_->options, now, random_seed ^ id) {}

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// A number unique within the process, for logs.
    std::uint64_t id() const noexcept { return id_; }
    /// The client's address, "ip:port".
    const std::string& peer_address() const noexcept { return peer_; }
    /// The `connect` command that opened this connection (empty before it).
    const connect_command& connect_info() const noexcept { return connect_; }
    /// The server's options.
    const server_options& options() const noexcept { return server_->options; }
    /// The executor all of this connection's handlers (but frame handlers) run on.
    const asio::any_io_executor& get_executor() const noexcept { return port_.executor; }

    /// Registers the stream handler, asked on every `createStream`; `nullptr` removes it (every
    /// stream is then allowed, with no handlers).
    template <class F>
    void on_stream(F handler) {
        static_assert(stream_handler<F>, "on_stream: expected bool (stream&, stream_event const&)");
        stream_handler_ = std::move(handler);
    }
    void on_stream(std::nullptr_t) { stream_handler_ = nullptr; }

    /// Registers a handler for the remote procedure `name`; `nullptr` removes it.
    template <class F>
    void on_call(std::string name, F handler) {
        static_assert(call_handler<F>,
                      "on_call: expected bool or awaitable<bool> (connection&, call_event const&, amf0::value& response)");
        call_handlers_[std::move(name)] = wrap_call(std::move(handler));
    }
    void on_call(std::string_view name, std::nullptr_t) {
        if (auto it = call_handlers_.find(name); it != call_handlers_.end()) call_handlers_.erase(it);
    }
    /// Registers the default handler, for calls no named handler takes; `nullptr` removes it.
    template <class F>
    void on_call(F handler) {
        static_assert(call_handler<F>,
                      "on_call: expected bool or awaitable<bool> (connection&, call_event const&, amf0::value& response)");
        default_call_ = wrap_call(std::move(handler));
    }
    void on_call(std::nullptr_t) { default_call_ = nullptr; }

    /**
     * Calls procedure `name` on the client and waits for its `_result` or `_error`, at most
     * `options().timeouts.call`. Coroutine; run it on `get_executor()` (for instance with
     * `asio::co_spawn`), or `co_await` it from a coroutine call handler.
     * Errors (in `call_result::error`): `error::call_timeout`, `error::too_many_pending_calls`,
     * `error::shutdown` when the connection ends first.
     */
    template <class... Args>
    asio::awaitable<call_result> call(std::string name, Args&&... args) {
        return call_with_timeout(std::move(name), {amf0::value(std::forward<Args>(args))...}, options().timeouts.call);
    }

    /// `call` with explicit arguments and timeout. Coroutine.
    asio::awaitable<call_result> call_with_timeout(std::string name, std::vector<amf0::value> args,
                                                   std::chrono::milliseconds timeout) {
        auto keep = port_.owner.lock();  // the connection outlives the wait
        std::error_code ec;
        const double txn =
            session_.call(std::move(name), std::move(args), std::chrono::steady_clock::now() + timeout, ec);
        if (ec) co_return call_result{ec, false, {}, {}};
        port_.poke();
        waiting_call call{asio::steady_timer(port_.executor, protocol::time_point::max()), std::nullopt};
        waiting_calls_[txn] = &call;
        co_await call.timer.async_wait(detail::use_tuple);
        waiting_calls_.erase(txn);
        if (!call.result) co_return call_result{error::shutdown, false, {}, {}};
        co_return std::move(*call.result);
    }

    /// Sends `name(args...)` to the client without expecting an answer (transaction id 0).
    template <class... Args>
    void notify(std::string name, Args&&... args) {
        session_.notify(std::move(name), {amf0::value(std::forward<Args>(args))...});
        port_.poke();
    }

    /// The stream with message stream id `id`, or null. The pointer is valid during the handler
    /// call it was obtained in.
    stream* find_stream(std::uint32_t id) noexcept {
        for (auto& s : streams_)
            if (s->id() == id) return s.get();
        return nullptr;
    }

    /// Sets a connection property (any key).
    void set_property(std::string key, std::string value) { properties_[std::move(key)] = std::move(value); }
    /// A connection property, if set.
    std::optional<std::string> property(std::string_view key) const {
        auto it = properties_.find(key);
        if (it == properties_.end()) return std::nullopt;
        return it->second;
    }

    /// Figures about this connection.
    connection_statistics statistics() const {
        connection_statistics s;
        s.bytes_in = session_.bytes_in();
        s.bytes_out = bytes_out_;
        s.messages_in = session_.messages_in();
        s.messages_out = session_.output().messages();
        s.writes = writes_;
        s.queued_bytes = port_.gate ? port_.gate->queued_bytes() : 0;
        s.streams = streams_.size();
        s.frames_sent = closed_frames_sent_;
        s.frames_dropped = closed_frames_dropped_;
        for (const auto& st : streams_) {
            s.frames_sent += st->frames_sent();
            s.frames_dropped += st->frames_dropped();
            if (st->playing()) ++s.playing_streams;
            if (st->publishing()) ++s.publishing_streams;
        }
        s.media_in = media_in_;
        s.media_dropped = session_.media_dropped();
        s.chunk_size_in = session_.chunk_size_in();
        s.chunk_size_out = session_.output().chunk_size();
        s.acknowledged_bytes = session_.acknowledged();
        s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - session_.started());
        s.round_trip = session_.round_trip();
        return s;
    }

    /// Ends the connection: what is queued is still written, then it closes. Thread: the
    /// connection's (post to `get_executor()` from elsewhere).
    void close(std::error_code reason = {}) {
        session_.close(reason, true);
        if (port_.poke) port_.poke();
    }

private:
    template <class H>
    friend class protocol::server_session;
    template <class S>
    friend class protocol::server_streams;
    template <class S, class L>
    friend class driver::basic_session;
    template <class S>
    friend class basic_server;

    // A call handler: plain functions run inline, in message order; coroutines run on their own,
    // so that the connection goes on reading (their answer may need the client's next message).
    struct call_entry {
        std::function<bool(connection&, const call_event&, amf0::value&)> plain;
        std::function<asio::awaitable<bool>(connection&, const call_event&, amf0::value&)> coroutine;
    };

    struct waiting_call {
        asio::steady_timer timer;
        std::optional<call_result> result;
    };

    template <class F>
    static std::shared_ptr<call_entry> wrap_call(F f) {
        using R = std::invoke_result_t<F&, connection&, const call_event&, amf0::value&>;
        auto entry = std::make_shared<call_entry>();
        if constexpr (detail::awaitable_bool<R>) {
            entry->coroutine = std::move(f);
        } else {
            entry->plain = std::move(f);
        }
        return entry;
    }

    const detail::logger& log() const noexcept { return server_->log; }

    std::shared_ptr<stream> find_shared(std::uint32_t id) {
        for (auto& s : streams_)
            if (s->id() == id) return s;
        return nullptr;
    }

    // ---- driven by driver::basic_session (driver::session_logic) --------------------------------

    void attach(driver::session_port port) { port_ = std::move(port); }
    std::size_t put(std::span<const std::byte> in, protocol::time_point now) { return session_.put(in, now); }
    void on_time(protocol::time_point now) { session_.on_time(now); }
    std::optional<protocol::time_point> next_deadline() const { return session_.next_deadline(); }
    protocol::output_queue& output() noexcept { return session_.output(); }
    bool closing() const noexcept { return session_.closing(); }
    bool flush_on_close() const noexcept { return session_.flush_on_close(); }
    void close(std::error_code reason, bool flush) { session_.close(reason, flush); }

    // A drain: a client that declared it honours a reconnect request is asked to connect again.
    void request_reconnect(const std::string& tc_url) {
        const std::string why = tc_url.empty() ? std::string("The server is going away: connect again.")
                                               : fmt::format("The server is going away: connect to {}.", tc_url);
        if (!session_.request_reconnect(tc_url, why)) return;
        log().log(log_level::info, id_, "session", {}, "asked the client to reconnect{}{}", tc_url.empty() ? "" : " to ", tc_url);
        if (port_.poke) port_.poke();
    }

    void wrote(std::size_t n) {
        ++writes_;
        bytes_out_ += n;
        server_->bytes_out.fetch_add(n, std::memory_order_relaxed);
    }

    // Frames of every playing stream into the output (when they may go); false when any wait.
    bool collect(bool may_go) {
        bool flowing = true;
        std::vector<std::uint32_t> failed;
        for (auto& s : streams_) {
            if (!s->playing()) continue;
            if (s->media_failed()) {
                failed.push_back(s->id());
                continue;
            }
            const std::uint32_t sid = s->id();
            flowing = s->collect(may_go, [&](const protocol::shared_frame& f) { return session_.send_frame(sid, f); }) && flowing;
        }
        for (const auto sid : failed) stream_failed(sid);
        session_.end_refused_plays();
        return flowing;
    }

    // After the last I/O: streams end, pending calls fail, then the claiming connect handler
    // learns the connection ended.
    void finish(std::error_code reason) {
        session_.finish(reason);
        const std::error_code why = session_.reason();
        if (claimed_) {
            detail::guarded_call(log(), id_, "connect", "a closing connection",
                                 [&] { return (*claimed_)(*this, connect_event{false, connect_, why}); });
            claimed_.reset();
        }
        log().log(log_level::info, id_, "session", why, "connection from {} closed: {}", peer_,
                  why ? why.message() : "by the client");
    }

    // ---- protocol::server_session callbacks ----------------------------------------------------

    bool on_connect(const connect_command& cmd) {
        connect_ = cmd;
        for (const auto& handler : server_->connect_handlers()) {
            const auto claimed = detail::guarded_call(log(), id_, "connect", "a new connection",
                                                      [&] { return static_cast<bool>((*handler)(*this, connect_event{true, connect_, {}})); });
            if (!claimed) {
                session_.close(error::handler_exception, false);
                return false;
            }
            if (*claimed) {
                claimed_ = handler;
                log().log(log_level::info, id_, "session", {}, "connect from {} to app '{}' accepted", peer_, connect_.app);
                return true;
            }
        }
        log().log(log_level::info, id_, "session", error::rejected_by_handler, "connect to app '{}' refused", connect_.app);
        return false;
    }

    bool call_stream_handler(stream& s, bool is_create, const amf0::value& object, std::error_code reason) {
        if (!stream_handler_) return true;
        const auto ok = detail::guarded_call(log(), id_, "stream", s.subject(), [&] {
            return static_cast<bool>(stream_handler_(s, stream_event{is_create, object, reason}));
        });
        if (!ok && is_create) session_.close(error::handler_exception, false);
        return ok.value_or(false);
    }

    bool on_create_stream(std::uint32_t id, const amf0::value& object) {
        auto s = std::make_shared<stream>(*this, server_, id, id_);
        if (!call_stream_handler(*s, true, object, {})) return false;
        streams_.push_back(std::move(s));
        return true;
    }

    bool on_play(protocol::play_request& request) {
        auto s = find_shared(request.stream_id);
        if (!s) return false;
        if (!request.is_start) s->stop_media();  // the stop handler may free what the frame thread used
        play_event ev{request.is_start, request.stream_name, request.start, {}};
        bool allowed = true;
        if (s->play_) {
            const auto ok = detail::guarded_call(log(), id_, "play", s->subject(), [&] { return static_cast<bool>(s->play_(*s, ev)); });
            allowed = ok.value_or(false);
        }
        if (request.is_start && allowed) {
            const std::uint32_t sid = s->id();
            s->start_media(std::string(request.stream_name), port_, connect_.enhanced, [this, sid] { stream_failed(sid); });
            log().log(log_level::info, id_, "stream", {}, "stream {} plays '{}'", sid, request.stream_name);
        }
        request.video_data = std::move(ev.video_data.data);
        return allowed;
    }

    bool on_pause(std::uint32_t id, bool pause, double ms) {
        stream* s = find_stream(id);
        if (!s) return false;
        bool honoured = true;
        if (s->pause_) {
            const auto ok = detail::guarded_call(log(), id_, "pause", s->subject(),
                                                 [&] { return static_cast<bool>(s->pause_(*s, pause_event{pause, ms})); });
            honoured = ok.value_or(false);
        }
        if (honoured) s->set_paused(pause);
        return honoured;
    }

    void on_receive_video(std::uint32_t id, bool enable) {
        if (stream* s = find_stream(id)) s->set_paused(!enable);
    }

    void on_stream_deleted(std::uint32_t id, std::error_code reason) {
        auto it = std::find_if(streams_.begin(), streams_.end(), [id](const auto& s) { return s->id() == id; });
        if (it == streams_.end()) return;
        auto s = std::move(*it);
        streams_.erase(it);
        s->stop_media();
        s->end_publish(connect_);  // a publish the session never started (it was closing) ends here
        call_stream_handler(*s, false, amf0::value(), reason);
        closed_frames_sent_ += s->frames_sent();
        closed_frames_dropped_ += s->frames_dropped();
    }

    bool on_publish(protocol::publish_request& request) {
        auto s = find_shared(request.stream_id);
        if (!s) return false;
        const auto publishing = server_->publishing_streams.load(std::memory_order_relaxed);
        if (publishing >= static_cast<std::int64_t>(options().max_publishers)) {
            request.refusal = "NetStream.Publish.Rejected";
            request.description = "Too many publishers.";
            log().log(log_level::warning, id_, "session", error::too_many_publishers, "publish of '{}' refused: {} publishers",
                      request.stream_name, options().max_publishers);
            return false;
        }
        // Another publisher taking the stream's broadcast over ends this connection, on its thread.
        auto evict = [executor = port_.executor, weak = port_.owner, this] {
            asio::post(executor, [weak, this] {
                if (auto keep = weak.lock()) close(error::publisher_replaced);
            });
        };
        if (!s->begin_publish(request, connect_, std::move(evict))) return false;
        log().log(log_level::info, id_, "stream", {}, "stream {} publishes '{}'", s->id(), request.stream_name);
        return true;
    }

    void on_media(protocol::media_in& m) {
        ++media_in_;
        if (stream* s = find_stream(m.stream_id)) s->published(m);
    }

    void on_unpublish(std::uint32_t id) {
        if (stream* s = find_stream(id)) s->end_publish(connect_);
    }

    void on_refused(std::error_code why, std::uint32_t stream_id) {
        log().log(log_level::info, id_, "session", why, "request refused (stream {}): {}", stream_id, why.message());
    }

    // A render or frame handler failed: the stream stops with an error status.
    void stream_failed(std::uint32_t sid) {
        if (!session_.playing(sid)) return;
        session_.fail_stream(sid);
        if (port_.poke) port_.poke();
    }

    void on_call(protocol::command& c) {
        std::shared_ptr<call_entry> handler;  // held for the whole call, even if unregistered meanwhile
        if (auto it = call_handlers_.find(c.name); it != call_handlers_.end()) {
            handler = it->second;
        } else {
            handler = default_call_;
        }
        if (!handler) return session_.answer_call(c.transaction_id, c.name, protocol::call_outcome::not_found, {});
        if (handler->coroutine) {
            asio::co_spawn(port_.executor, run_coroutine_call(std::move(handler), std::move(c)),
                           [keep = port_.owner.lock(), this](std::exception_ptr e) {
                               if (e) log().log(log_level::error, id_, "call", error::handler_exception, "call coroutine ended by an exception");
                           });
            return;
        }
        amf0::value response;
        const auto ok = detail::guarded_call(log(), id_, "call", c.name, [&] {
            return static_cast<bool>(handler->plain(*this, call_event{c.name, c.transaction_id, c.object, c.arguments}, response));
        });
        finish_call(c, ok, std::move(response));
    }

    asio::awaitable<void> run_coroutine_call(std::shared_ptr<call_entry> handler, protocol::command c) {
        amf0::value response;
        std::optional<bool> ok;
        try {
            ok = co_await handler->coroutine(*this, call_event{c.name, c.transaction_id, c.object, c.arguments}, response);
        } catch (...) {
            detail::log_handler_exception(log(), id_, "call", c.name, std::current_exception());  // the call fails
        }
        finish_call(c, ok, std::move(response));
        if (port_.poke) port_.poke();
    }

    void finish_call(const protocol::command& c, std::optional<bool> ok, amf0::value response) {
        const auto outcome = !ok ? protocol::call_outcome::threw : *ok ? protocol::call_outcome::ok : protocol::call_outcome::refused;
        session_.answer_call(c.transaction_id, c.name, outcome, std::move(response));
    }

    void on_call_answered(double txn, call_result&& result) {
        auto it = waiting_calls_.find(txn);
        if (it == waiting_calls_.end()) return;
        it->second->result = std::move(result);
        it->second->timer.cancel();
    }

    // ---- state ---------------------------------------------------------------------------------

    std::shared_ptr<detail::server_state> server_;
    const std::uint64_t id_;
    const std::string peer_;
    driver::session_port port_;
    protocol::server_session<connection> session_;
    connect_command connect_;
    std::shared_ptr<detail::server_state::connect_fn> claimed_;
    std::function<bool(stream&, const stream_event&)> stream_handler_;
    std::map<std::string, std::shared_ptr<call_entry>, std::less<>> call_handlers_;
    std::shared_ptr<call_entry> default_call_;
    std::map<double, waiting_call*> waiting_calls_;
    std::map<std::string, std::string, std::less<>> properties_;
    std::vector<std::shared_ptr<stream>> streams_;
    std::uint64_t bytes_out_ = 0;
    std::uint64_t writes_ = 0;
    std::uint64_t closed_frames_sent_ = 0;
    std::uint64_t closed_frames_dropped_ = 0;
    std::uint64_t media_in_ = 0;
};

RTMPX_NAMESPACE_END
