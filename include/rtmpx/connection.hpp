// SPDX-License-Identifier: MIT
// basic_connection: one client, driven by coroutines on its own thread (reader, writer, watchdog).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <linux/sockios.h>
#include <sys/ioctl.h>
#endif

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <rtmpx/amf0.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/detail/asio_compat.hpp>
#include <rtmpx/detail/chunk_reader.hpp>
#include <rtmpx/detail/chunk_writer.hpp>
#include <rtmpx/detail/handshake.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/messages.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/stream.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN

template <class Socket>
class basic_connection;

/// What a call handler is told: a remote procedure call from the client.
struct call_event {
    std::string_view procedure;               ///< the command name
    double transaction_id = 0;                ///< 0: the client expects no reply
    const amf0::value& command_object;        ///< usually null
    const std::vector<amf0::value>& arguments;///< the user arguments
};

namespace detail {
template <class R>
concept awaitable_bool = std::same_as<R, asio::awaitable<bool>>;
}

/**
 * `bool (connection&, call_event const&, amf0::value& response)`, or the same returning
 * `asio::awaitable<bool>` (a coroutine, e.g. one that calls the client back): handles a remote
 * call. True sends `_result` with `response`; false sends `_error` (with `response` as the info
 * object when it has properties, else a NetConnection.Call.Failed one). A handler that throws
 * gets the client an `_error`; the connection lives on. Thread: the connection's thread; while a
 * coroutine handler is suspended, the connection handles no other message. Lifetime: the
 * arguments stay valid until the handler returns or its coroutine completes.
 */
template <class F, class Connection>
concept call_handler =
    std::invocable<F&, Connection&, const call_event&, amf0::value&> &&
    (detail::boolean_result<std::invoke_result_t<F&, Connection&, const call_event&, amf0::value&>> ||
     detail::awaitable_bool<std::invoke_result_t<F&, Connection&, const call_event&, amf0::value&>>);

/// The client's answer to a call the server made (`basic_connection::call`).
struct call_result {
    std::error_code error;             ///< set when there was no answer: timeout, closed, too many calls
    bool ok = false;                   ///< `_result` (true) or `_error` (false)
    amf0::value object;                ///< the answer's command object
    std::vector<amf0::value> values;   ///< the values after it
};

/// Figures about one connection, for display and logging.
struct connection_statistics {
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t writes = 0;            ///< socket writes; each gathers every message queued by then
    std::uint64_t frames_sent = 0;
    std::uint64_t frames_dropped = 0;
    std::size_t queued_bytes = 0;        ///< bytes waiting to be written
    std::size_t streams = 0;
    std::size_t playing_streams = 0;
    std::uint32_t chunk_size_in = 128;   ///< the client's chunk size
    std::uint32_t chunk_size_out = 128;  ///< ours
    std::uint64_t acknowledged_bytes = 0;///< the client's last acknowledgement
    std::chrono::milliseconds uptime{0};
    std::chrono::microseconds round_trip{0};  ///< from the last answered ping (0: none yet)

    /// The same figures as key/value text, for printing.
    std::vector<std::pair<std::string, std::string>> to_map() const {
        return {{"bytes_in", std::to_string(bytes_in)},
                {"bytes_out", std::to_string(bytes_out)},
                {"messages_in", std::to_string(messages_in)},
                {"messages_out", std::to_string(messages_out)},
                {"writes", std::to_string(writes)},
                {"frames_sent", std::to_string(frames_sent)},
                {"frames_dropped", std::to_string(frames_dropped)},
                {"queued_bytes", std::to_string(queued_bytes)},
                {"streams", std::to_string(streams)},
                {"playing_streams", std::to_string(playing_streams)},
                {"chunk_size_in", std::to_string(chunk_size_in)},
                {"chunk_size_out", std::to_string(chunk_size_out)},
                {"acknowledged_bytes", std::to_string(acknowledged_bytes)},
                {"uptime_ms", std::to_string(uptime.count())},
                {"round_trip_us", std::to_string(round_trip.count())}};
    }
};

namespace detail {

/// What every connection of one server shares: options, log, codecs, connect handlers.
template <class Socket>
struct server_state {
    using connect_fn = std::function<bool(basic_connection<Socket>&, const connect_event&)>;

    explicit server_state(server_options o) : options(std::move(o)) {}

    std::vector<std::shared_ptr<connect_fn>> connect_handlers() const {
        std::lock_guard lock(mutex);
        std::vector<std::shared_ptr<connect_fn>> out;
        out.reserve(handlers.size());
        for (const auto& h : handlers) out.push_back(h.second);
        return out;
    }

    server_options options;
    logger log;
    codec_registry codecs;
    // Totals over all connections, for basic_server::statistics (relaxed atomics: display only).
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> frames_sent{0};
    std::atomic<std::uint64_t> frames_dropped{0};
    std::atomic<std::int64_t> playing_streams{0};
    mutable std::mutex mutex;
    std::vector<std::pair<std::uint64_t, std::shared_ptr<connect_fn>>> handlers;
    std::uint64_t next_handler_id = 1;
};

/// A message waiting for the writer; the payload is shared and immutable.
struct outgoing {
    message_header header;
    std::shared_ptr<const std::vector<std::byte>> payload;
};

template <class Socket>
std::string describe_peer(const Socket& socket) {
    std::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return "unknown";
    if constexpr (requires { ep.address(); ep.port(); }) {
        const auto addr = ep.address();
        return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), ep.port())
                            : fmt::format("{}:{}", addr.to_string(), ep.port());
    } else {
        return "local";
    }
}

} // namespace detail

/**
 * One client connection. Each runs on its own thread and executor; all its handlers run there
 * except frame handlers (see `basic_stream`). The session is three coroutines: a reader
 * (handshake, chunk stream, command dispatch), the single writer, and a watchdog for timeouts.
 *
 * Lifetime: a `connection&` passed to a handler is valid during that call.
 */
template <class Socket>
class basic_connection : public std::enable_shared_from_this<basic_connection<Socket>> {
public:
    using socket_type = Socket;
    using stream_type = basic_stream<Socket>;
    using executor_type = typename Socket::executor_type;

    basic_connection(Socket socket, std::shared_ptr<detail::server_state<Socket>> server, std::uint64_t id)
        : socket_(std::move(socket)),
          server_(std::move(server)),
          id_(id),
          peer_(detail::describe_peer(socket_)),
          reader_(server_->options.chunks),
          writer_(128),
          wake_(socket_.get_executor()),
          watchdog_(socket_.get_executor()),
          writer_done_(socket_.get_executor()),
          ping_timer_(socket_.get_executor()),
          started_(std::chrono::steady_clock::now()) {}

    basic_connection(const basic_connection&) = delete;
    basic_connection& operator=(const basic_connection&) = delete;

    /// A number unique within the process, for logs.
    std::uint64_t id() const noexcept { return id_; }
    /// The client's address, "ip:port".
    const std::string& peer_address() const noexcept { return peer_; }
    /// The `connect` command that opened this connection (empty before it).
    const connect_command& connect_info() const noexcept { return connect_; }
    /// The server's options.
    const server_options& options() const noexcept { return server_->options; }
    /// The executor all of this connection's handlers (but frame handlers) run on.
    executor_type get_executor() noexcept { return socket_.get_executor(); }

    /// Registers the stream handler, asked on every `createStream`; `nullptr` removes it (every
    /// stream is then allowed, with no handlers).
    template <class F>
    void on_stream(F handler) {
        static_assert(stream_handler<F, stream_type>, "on_stream: expected bool (stream&, stream_event const&)");
        stream_handler_ = std::move(handler);
    }
    void on_stream(std::nullptr_t) { stream_handler_ = nullptr; }

    /// Registers a handler for the remote procedure `name`; `nullptr` removes it.
    template <class F>
    void on_call(std::string name, F handler) {
        static_assert(call_handler<F, basic_connection>,
                      "on_call: expected bool or awaitable<bool> (connection&, call_event const&, amf0::value& response)");
        call_handlers_[std::move(name)] = wrap_call(std::move(handler));
    }
    void on_call(std::string_view name, std::nullptr_t) {
        if (auto it = call_handlers_.find(name); it != call_handlers_.end()) call_handlers_.erase(it);
    }
    /// Registers the default handler, for calls no named handler takes; `nullptr` removes it.
    template <class F>
    void on_call(F handler) {
        static_assert(call_handler<F, basic_connection>,
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
        auto self = this->shared_from_this();  // the connection outlives the wait
        if (ended_ || phase_ != phase::connected) co_return call_result{error::shutdown, false, {}, {}};
        if (pending_calls_.size() >= options().max_pending_calls)
            co_return call_result{error::too_many_pending_calls, false, {}, {}};
        const double txn = next_call_txn_++;
        pending_call pending{asio::steady_timer(get_executor(), timeout), std::nullopt};
        pending_calls_[txn] = &pending;
        send(command{std::move(name), txn, amf0::value::null(), std::move(args)});
        co_await pending.timer.async_wait(detail::use_tuple);
        pending_calls_.erase(txn);
        if (!pending.result) co_return call_result{ended_ ? error::shutdown : error::call_timeout, false, {}, {}};
        co_return std::move(*pending.result);
    }

    /// Sends `name(args...)` to the client without expecting an answer (transaction id 0).
    template <class... Args>
    void notify(std::string name, Args&&... args) {
        send(command{std::move(name), 0, amf0::value::null(), {amf0::value(std::forward<Args>(args))...}});
    }

    /// The stream with message stream id `id`, or null. The pointer is valid during the handler
    /// call it was obtained in.
    stream_type* find_stream(std::uint32_t id) noexcept {
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
        s.bytes_in = bytes_in_;
        s.bytes_out = bytes_out_;
        s.messages_in = messages_in_;
        s.messages_out = messages_out_;
        s.writes = writes_;
        s.queued_bytes = pending_bytes_.load(std::memory_order_relaxed) + kernel_unsent_.load(std::memory_order_relaxed);
        s.streams = streams_.size();
        for (const auto& st : streams_) {
            s.frames_sent += st->frames_sent();
            s.frames_dropped += st->frames_dropped();
            if (st->playing()) ++s.playing_streams;
        }
        s.frames_sent += closed_frames_sent_;
        s.frames_dropped += closed_frames_dropped_;
        s.chunk_size_in = reader_.chunk_size();
        s.chunk_size_out = writer_.chunk_size();
        s.acknowledged_bytes = acknowledged_;
        s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
        s.round_trip = round_trip_;
        return s;
    }

    /// Ends the connection: what is queued is still written, then it closes. Thread: the
    /// connection's (post to `get_executor()` from elsewhere).
    void close(std::error_code reason = {}) { end(reason, true); }

    /// The session: runs until the connection ends. Coroutine. Called by the server.
    asio::awaitable<void> run() {
        auto self = this->shared_from_this();
        arm(deadline_handshake_, started_ + options().timeouts.handshake);
        asio::co_spawn(get_executor(), watchdog(), [self](std::exception_ptr) {});
        std::error_code ec = co_await handshake();
        if (!ec && !ended_) {
            writer_running_ = true;
            asio::co_spawn(get_executor(), write_loop(), [self](std::exception_ptr) {
                self->writer_running_ = false;
                self->writer_done_.cancel();
            });
            ec = co_await read_loop();
        }
        end(ec, false);
        if (writer_running_) {
            writer_done_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await writer_done_.async_wait(detail::use_tuple);
        }
        teardown();
        watchdog_.cancel();
        ping_timer_.cancel();
    }

private:
    template <class S>
    friend class basic_stream;
    template <class S>
    friend class basic_server;

    using clock = std::chrono::steady_clock;
    enum class phase { handshake, handshaken, connected };

    detail::logger& log() { return server_->log; }

    std::unique_ptr<video_codec> make_codec(std::string_view name) { return server_->codecs.make(name); }

    // ---- ending --------------------------------------------------------------------------

    // Ends the connection once; the first reason wins. With `flush`, the writer sends what is
    // queued and then closes the socket; otherwise the socket closes now.
    void end(std::error_code reason, bool flush) {
        if (ended_) return;
        ended_ = true;
        reason_ = reason;
        if (flush && writer_running_) {
            wake_.cancel();
        } else {
            close_socket();
        }
    }

    void close_socket() {
        std::error_code ignored;
        if constexpr (requires { socket_.shutdown(Socket::shutdown_both, ignored); })
            socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
        wake_.cancel();
    }

    // After the reader and writer have stopped: streams end, then the claiming connect handler
    // learns the connection ended.
    void teardown() {
        for (auto& pending : pending_calls_) pending.second->timer.cancel();  // their callers see `shutdown`
        for (auto& s : streams_) {
            stop_play(*s, reason_, false);
            call_stream_handler(*s, false);
            closed_frames_sent_ += s->frames_sent();
            closed_frames_dropped_ += s->frames_dropped();
        }
        streams_.clear();
        if (claimed_) {
            try {
                (*claimed_)(*this, connect_event{false, connect_, reason_});
            } catch (...) {
                log().log(log_level::error, id_, "session", error::handler_exception, "connect handler threw on close");
            }
            claimed_.reset();
        }
        log().log(log_level::info, id_, "session", reason_, "connection from {} closed: {}", peer_,
                  reason_ ? reason_.message() : "by the client");
    }

    // ---- timeouts ------------------------------------------------------------------------

    void arm(std::optional<clock::time_point>& slot, clock::time_point when) {
        slot = when;
        if (when < watchdog_armed_) watchdog_.cancel();  // wake the watchdog to re-arm earlier
    }

    asio::awaitable<void> watchdog() {
        while (!ended_) {
            clock::time_point next = clock::now() + std::chrono::hours(1);
            for (const auto* d : {&deadline_handshake_, &deadline_connect_, &deadline_idle_, &deadline_write_})
                if (*d && **d < next) next = **d;
            watchdog_armed_ = next;
            watchdog_.expires_at(next);
            co_await watchdog_.async_wait(detail::use_tuple);
            watchdog_armed_ = clock::time_point::max();
            const auto now = clock::now();
            if (ended_) break;
            if (deadline_handshake_ && *deadline_handshake_ <= now) {
                end(error::handshake_timeout, false);
            } else if (deadline_connect_ && *deadline_connect_ <= now) {
                end(error::connect_timeout, false);
            } else if (deadline_write_ && *deadline_write_ <= now) {
                end(error::write_timeout, false);
            } else if (deadline_idle_ && *deadline_idle_ <= now) {
                if (std::none_of(streams_.begin(), streams_.end(), [](const auto& s) { return s->playing(); })) {
                    end(error::idle_timeout, false);
                } else {
                    deadline_idle_ = now + options().timeouts.idle;
                }
            }
        }
    }

    // ---- reading -------------------------------------------------------------------------

    asio::awaitable<std::error_code> read_some() {
        // Small to start (players only send commands, and a handshake packet fits); the reader
        // consumes as it goes, so the buffer grows only while one read brings more than it has
        // room for.
        if (rbuf_.size() - rlen_ < 512) rbuf_.resize(std::max<std::size_t>(rbuf_.size() * 2, 2048));
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                                                        detail::use_tuple);
        if (ec) co_return ec;
        rlen_ += n;
        bytes_in_ += n;
        if (deadline_idle_) deadline_idle_ = clock::now() + options().timeouts.idle;
        co_return std::error_code{};
    }

    void consume(std::size_t n) {
        std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(n), rbuf_.begin() + static_cast<std::ptrdiff_t>(rlen_),
                  rbuf_.begin());
        rlen_ -= n;
    }

    asio::awaitable<std::error_code> handshake() {
        std::random_device rd;
        detail::server_handshake hs((std::uint64_t{rd()} << 32) ^ rd() ^ id_);
        while (!hs.done()) {
            if (auto ec = co_await read_some()) co_return ec;
            std::error_code ec;
            const std::size_t n = hs.put(std::span<const std::byte>(rbuf_.data(), rlen_), ec);
            if (ec) co_return ec;
            consume(n);
            if (!hs.output().empty()) {
                auto [wec, written] = co_await asio::async_write(
                    socket_, asio::buffer(hs.output().data(), hs.output().size()), detail::use_tuple);
                if (wec) co_return wec;
                bytes_out_ += written;
                server_->bytes_out.fetch_add(written, std::memory_order_relaxed);
                hs.consume_output();
            }
        }
        phase_ = phase::handshaken;
        deadline_handshake_.reset();
        arm(deadline_connect_, clock::now() + options().timeouts.connect);
        co_return std::error_code{};
    }

    asio::awaitable<std::error_code> read_loop() {
        for (;;) {
            std::size_t used = 0;
            for (;;) {
                std::error_code ec;
                used += reader_.put(std::span<const std::byte>(rbuf_.data() + used, rlen_ - used), ec);
                if (ec) co_return ec;
                if (!reader_.has_message()) break;
                ++messages_in_;
                co_await dispatch(reader_.take_message());
                if (ended_) co_return reason_;
            }
            consume(used);
            acknowledge();
            if (auto ec = co_await read_some()) {
                if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return std::error_code{};
                co_return ended_ ? reason_ : ec;
            }
        }
    }

    // RTMP 1.0 §5.4.3: acknowledge once the client's window has passed since the last one.
    void acknowledge() {
        if (client_window_ == 0 || bytes_in_ - last_ack_ < client_window_) return;
        last_ack_ = bytes_in_;
        send(to_message(acknowledgement{static_cast<std::uint32_t>(bytes_in_)}));
    }

    // ---- writing -------------------------------------------------------------------------

    // Queues a message for the writer (and wakes it). Errors end the connection.
    void send(message m) {
        if (ended_) return;
        if (queue_.size() >= options().max_queued_messages ||
            pending_bytes_.load(std::memory_order_relaxed) + m.payload.size() > options().max_queued_bytes) {
            end(error::queue_full, false);
            return;
        }
        pending_bytes_.fetch_add(m.payload.size(), std::memory_order_relaxed);
        queue_.push_back({m.header, std::make_shared<const std::vector<std::byte>>(std::move(m.payload))});
        wake_.cancel();
    }

    void send(const command& c, std::uint32_t stream_id = 0) {
        send(to_message(c, stream_id, stream_id == 0 ? chunk_stream::command : chunk_stream::stream_command));
    }

    void count_frame_sent(stream_type& s) {
        s.frames_sent_.fetch_add(1, std::memory_order_relaxed);
        server_->frames_sent.fetch_add(1, std::memory_order_relaxed);
    }

    // Called (through a post) when a frame thread queued a frame.
    void frames_ready() {
        wake_posted_.store(false, std::memory_order_relaxed);
        if (writer_asleep_ && !ended_ && unwritten_.empty()) {
            // The writer sleeps with nothing queued: write the frames from here, and wake it only
            // if the socket did not take them all or the client is behind.
            if (write_ready() && unwritten_.empty()) return;
        }
        wake_.cancel();
    }

    // Bytes the kernel holds for this socket that it has not sent yet (TCP on Linux; else 0).
    // A client that reads slowly shows here first: the kernel's buffers fill before ours do.
    std::size_t kernel_unsent() {
#if defined(__linux__) && defined(SIOCOUTQNSD)
        if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
            int n = 0;
            if (socket_.is_open() && ::ioctl(socket_.native_handle(), SIOCOUTQNSD, &n) == 0 && n > 0)
                return static_cast<std::size_t>(n);
        }
#endif
        return 0;
    }

    // An upper bound of `kernel_unsent()`: the last answer plus what was written since. The kernel
    // is asked again (a system call) only when that bound reaches the limit frames wait at, so a
    // client that keeps up costs one ioctl every few frames rather than one per write.
    std::size_t unsent_bound() {
        if (unsent_known_ + written_since_known_ >= options().socket_unsent_limit) {
            unsent_known_ = kernel_unsent();
            written_since_known_ = 0;
        }
        return unsent_known_ + written_since_known_;
    }

    // Moves queued messages and, unless the client is behind, frames into the chunk writer's
    // output. Returns false when frames wait because the kernel still holds too much unsent.
    bool collect() {
        while (!queue_.empty()) {
            detail::outgoing o = std::move(queue_.front());
            queue_.pop_front();
            writer_.write(o.header, *o.payload, out_);
            if (o.header.type == message_type::set_chunk_size && o.payload->size() == 4)
                writer_.set_chunk_size(detail::load_be32(*o.payload));  // applies after this message
            inflight_.push_back(std::move(o.payload));
            ++messages_out_;
        }
        const std::size_t unsent = unsent_bound();
        kernel_unsent_.store(unsent, std::memory_order_relaxed);
        bool frames_wait = false;
        for (auto& s : streams_) {
            if (s->playing() && s->subscriber_) {
                frames_wait = !collect_broadcast(*s, unsent) || frames_wait;
                continue;
            }
            if (!s->playing() || !s->queue_) continue;
            if (unsent >= options().socket_unsent_limit) {
                // Frames stay queued; when the queue is full the frame thread drops up to the next
                // key frame, which keeps what the client still gets decodable.
                frames_wait = frames_wait || s->queue_->front() != nullptr;
                continue;
            }
            while (auto* item = s->queue_->front()) {
                add_frame(*s, *item);
                s->queue_->pop();
            }
        }
        pending_bytes_.store(out_.size(), std::memory_order_relaxed);
        return !frames_wait;
    }

    // A stream's broadcast frames, like `collect` does a stream's own. False when they wait.
    bool collect_broadcast(stream_type& s, std::size_t unsent) {
        auto& queue = s.subscriber_->queue;
        if (s.paused()) {
            s.join_frames_.clear();
            while (queue.front()) queue.pop();
            return true;
        }
        if (unsent >= options().socket_unsent_limit) return queue.front() == nullptr && s.join_frames_.empty();
        for (const auto& f : s.join_frames_) add_broadcast_frame(s, f);
        s.join_frames_.clear();
        while (auto* f = queue.front()) {
            add_broadcast_frame(s, *f);
            queue.pop();
        }
        return true;
    }

    // The message is written from the shared payload: chunk headers are this connection's own,
    // the bytes are not copied.
    void write_shared(const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
        writer_.write(h, *payload, out_);
        inflight_.push_back(std::move(payload));
        ++messages_out_;
    }

    void write_direct(const message_header& h, std::vector<std::byte> payload) {
        write_shared(h, std::make_shared<const std::vector<std::byte>>(std::move(payload)));
    }

    void send_config(stream_type& s, const detail::broadcast_config& config) {
        if (config.metadata)
            write_shared({chunk_stream::stream_command, message_type::data_amf0, rtmp_timestamp(0), s.id()},
                         config.metadata);
        if (config.sequence_header)
            write_shared({chunk_stream::video, message_type::video, rtmp_timestamp(s.last_timestamp_), s.id()},
                         config.sequence_header);
    }

    // One frame of a broadcast: its configuration first when it is new to this player, then
    // the frame, timed from this player's first frame.
    void add_broadcast_frame(stream_type& s, const detail::shared_frame& f) {
        if (f->config != s.sent_config_) {
            s.sent_config_ = f->config;
            send_config(s, *f->config);
        }
        if (!s.sent_key_frame_ && !f->key_frame) {  // players must start on a key frame
            s.count_frame_dropped();
            return;
        }
        if (!s.broadcast_base_) s.broadcast_base_ = f->timestamp;
        const std::uint32_t relative = f->timestamp - *s.broadcast_base_;
        const std::uint32_t ts = s.sent_key_frame_ ? std::max(relative, s.last_timestamp_ + 1) : relative;
        s.last_timestamp_ = ts;
        s.sent_key_frame_ = true;
        write_shared({chunk_stream::video, message_type::video, rtmp_timestamp(ts), s.id()},
                     std::shared_ptr<const std::vector<std::byte>>(f, &f->tag));
        count_frame_sent(s);
    }

    // One frame from the frame thread: metadata and codec configuration first when they are
    // new, then the frame in an FLV video tag (RTMP carries FLV tag bodies, FLV spec E.4.3).
    void add_frame(stream_type& s, detail::queued_frame& item) {
        // Never backwards, and strictly forward from frame to frame (players reject equal DTS).
        const std::uint32_t ts = s.sent_key_frame_ ? std::max(item.timestamp, s.last_timestamp_ + 1) : item.timestamp;
        s.last_timestamp_ = ts;
        const message_header video{chunk_stream::video, message_type::video, rtmp_timestamp(ts), s.id()};
        video_codec* codec = s.codec();
        if (!codec) {
            write_direct(video, std::move(item.frame.data));
            count_frame_sent(s);
            return;
        }
        const std::uint8_t codec_id = codec->flv_codec_id();
        if (item.config) {
            auto meta = amf0::value::ecma_array({{"width", amf0::value(item.width)},
                                                 {"height", amf0::value(item.height)},
                                                 {"framerate", amf0::value(s.render_rate())},
                                                 {"videocodecid", amf0::value(codec_id)},
                                                 {"encoder", amf0::value("rtmpx")}});
            // At timestamp 0: FFmpeg's FLV reader treats metadata at a later time as a data stream.
            auto m = to_message(make_on_metadata(std::move(meta)), s.id(), chunk_stream::stream_command,
                                rtmp_timestamp(0));
            write_direct(m.header, std::move(m.payload));
            if (codec_id == 7 && !item.config->empty()) {
                std::vector<std::byte> seq = {std::byte{0x17}, std::byte{0x00}, std::byte{0}, std::byte{0}, std::byte{0}};
                seq.insert(seq.end(), item.config->begin(), item.config->end());  // key frame, AVC sequence header
                write_direct(video, std::move(seq));
            }
        }
        if (!s.sent_key_frame_ && !item.frame.key_frame) {  // players must start on a key frame
            s.count_frame_dropped();
            return;
        }
        s.sent_key_frame_ = true;
        std::vector<std::byte> tag;
        tag.reserve(5 + item.frame.data.size());
        detail::append_video_tag_header(tag, codec_id, item.frame.key_frame);
        tag.insert(tag.end(), item.frame.data.begin(), item.frame.data.end());
        write_direct(video, std::move(tag));
        count_frame_sent(s);
    }

    // Drops the first `n` bytes of a buffer sequence.
    static void consume_buffers(std::vector<asio::const_buffer>& buffers, std::size_t n) {
        auto it = buffers.begin();
        for (; it != buffers.end() && n >= it->size(); ++it) n -= it->size();
        buffers.erase(buffers.begin(), it);
        if (!buffers.empty()) buffers.front() += n;
    }

    // Collects what is ready into one gathered write and writes it at once, as far as the socket
    // takes it; the rest stays in `unwritten_` for the writer's asynchronous write. Returns false
    // when frames wait because the client is behind.
    bool write_ready() {
        const bool frames_flowing = collect();
        if (out_.empty()) return frames_flowing;
        unwritten_.clear();
        out_.for_each_buffer([&](std::span<const std::byte> b) { unwritten_.emplace_back(b.data(), b.size()); });
        std::error_code ec;
        const std::size_t n = socket_.write_some(unwritten_, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
        ++writes_;
        wrote(n);
        if (ec) {
            end(ec, false);
            written_all();
            return frames_flowing;
        }
        consume_buffers(unwritten_, n);
        if (unwritten_.empty()) written_all();
        return frames_flowing;
    }

    void wrote(std::size_t n) {
        written_since_known_ += n;
        bytes_out_ += n;
        server_->bytes_out.fetch_add(n, std::memory_order_relaxed);
    }

    void written_all() {
        // A burst (a joining player's cached group) leaves no large buffers behind.
        constexpr std::size_t usual = 64;
        out_.clear_and_trim(usual);
        unwritten_.clear();
        inflight_.clear();
        if (inflight_.capacity() > usual) {
            unwritten_.shrink_to_fit();
            inflight_.shrink_to_fit();
        }
        pending_bytes_.store(0, std::memory_order_relaxed);
    }

    // The single writer. Frames that arrive while it sleeps are written by `frames_ready` without
    // waking it; it wakes for messages, for what the socket did not take, and while the client
    // is behind.
    asio::awaitable<void> write_loop() {
        std::error_code ignored;
        socket_.non_blocking(true, ignored);  // for the immediate writes; async ops are unaffected
        for (;;) {
            if (!unwritten_.empty()) {
                arm(deadline_write_, clock::now() + options().timeouts.write);
                auto [ec, n] = co_await asio::async_write(socket_, unwritten_, detail::use_tuple);
                deadline_write_.reset();
                wrote(n);
                written_all();
                if (ec) {
                    end(ec, false);
                    break;
                }
            }
            const bool frames_flowing = write_ready();
            if (!unwritten_.empty()) continue;
            if (ended_) break;
            // Nothing to write: sleep until woken; while the client is behind, look again
            // shortly (the kernel tells no one when its unsent bytes go down).
            wake_.expires_at(frames_flowing ? clock::time_point::max() : clock::now() + congestion_recheck);
            writer_asleep_ = true;
            co_await wake_.async_wait(detail::use_tuple);
            writer_asleep_ = false;
        }
        close_socket();  // after a flush: the reader sees the end and the session finishes
        writer_running_ = false;
        writer_done_.cancel();
    }

    // ---- dispatch ------------------------------------------------------------------------

    asio::awaitable<void> dispatch(message m) {
        const message_header header = m.header;
        std::error_code ec;
        auto decoded = decode_message(std::move(m), ec, options().amf);
        if (ec) {
            end(ec, false);
            co_return;
        }
        if (auto* c = std::get_if<command>(&decoded)) {
            co_await on_command(std::move(*c), header);
        } else if (auto* uc = std::get_if<user_control>(&decoded)) {
            if (uc->event == user_control_event::ping_request) send(to_message(user_control::ping_response(uc->value)));
            if (uc->event == user_control_event::ping_response && uc->value == ping_stamp_ && ping_stamp_ != 0)
                round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - ping_sent_);
        } else if (auto* w = std::get_if<window_ack_size>(&decoded)) {
            client_window_ = w->window;
        } else if (auto* a = std::get_if<acknowledgement>(&decoded)) {
            acknowledged_ = a->sequence_number;
        }
        // Chunk size and abort were applied by the reader; media, data and the rest are not
        // for a server that only plays.
    }

    std::shared_ptr<stream_type> find_shared(std::uint32_t id) {
        for (auto& s : streams_)
            if (s->id() == id) return s;
        return nullptr;
    }

    asio::awaitable<void> on_command(command c, const message_header& header) {
        std::error_code ec;
        const double txn = c.transaction_id;
        auto typed = parse_command(std::move(c), ec);
        if (ec) {
            end(ec, false);
            co_return;
        }
        if (auto* connect = std::get_if<connect_command>(&typed)) {
            on_connect(std::move(*connect));
            co_return;
        }
        if (phase_ != phase::connected) {  // nothing but connect before connect
            end(error::unexpected_command, false);
            co_return;
        }
        if (auto* call = std::get_if<call_command>(&typed)) {
            on_call_command(std::move(call->cmd));
            co_return;
        }
        std::visit(
            [&](auto& cmd) {
                using T = std::decay_t<decltype(cmd)>;
                if constexpr (std::is_same_v<T, create_stream_command>) {
                    on_create_stream(cmd);
                } else if constexpr (std::is_same_v<T, play_command>) {
                    on_play(cmd, header.stream_id);
                } else if constexpr (std::is_same_v<T, pause_command>) {
                    on_pause(cmd, header.stream_id);
                } else if constexpr (std::is_same_v<T, delete_stream_command>) {
                    delete_stream(static_cast<std::uint32_t>(cmd.stream_id));
                } else if constexpr (std::is_same_v<T, close_stream_command>) {
                    delete_stream(header.stream_id);
                } else if constexpr (std::is_same_v<T, get_stream_length_command>) {
                    // A live stream has no length; an _error here would end an FFmpeg player.
                    if (txn != 0) send(make_result(txn, amf0::value::null(), {amf0::value(0)}));
                } else if constexpr (std::is_same_v<T, fc_subscribe_command> ||
                                     std::is_same_v<T, release_stream_command> ||
                                     std::is_same_v<T, fc_publish_command>) {
                    if (txn != 0) send(make_result(txn));
                } else if constexpr (std::is_same_v<T, receive_video_command>) {
                    if (auto* s = find_stream(header.stream_id)) set_paused(*s, !cmd.enable, false);
                } else if constexpr (std::is_same_v<T, call_command>) {
                    // handled above
                } else {
                    // publish, seek, play2, receiveAudio/Video: not served by a render server.
                    if (txn != 0)
                        send(make_error(txn, status_info("error", "NetConnection.Call.Failed",
                                                         "not supported by this server")));
                }
            },
            typed);
    }

    void on_connect(connect_command cmd) {
        if (phase_ != phase::handshaken) {
            end(error::unexpected_command, false);
            return;
        }
        connect_ = std::move(cmd);
        for (const auto& handler : server_->connect_handlers()) {
            bool claimed = false;
            try {
                claimed = (*handler)(*this, connect_event{true, connect_, {}});
            } catch (...) {
                log().log(log_level::error, id_, "session", error::handler_exception, "connect handler threw");
                end(error::handler_exception, false);
                return;
            }
            if (claimed) {
                claimed_ = handler;
                break;
            }
        }
        const double txn = connect_.transaction_id;
        if (!claimed_) {
            send(make_error(txn, status_info("error", "NetConnection.Connect.Rejected", "Connection rejected.")));
            log().log(log_level::info, id_, "session", error::rejected_by_handler, "connect to app '{}' refused",
                      connect_.app);
            end(error::rejected_by_handler, true);
            return;
        }
        phase_ = phase::connected;
        deadline_connect_.reset();
        arm(deadline_idle_, clock::now() + options().timeouts.idle);
        // The order players expect (players.md): window, peer bandwidth, chunk size, result.
        send(to_message(window_ack_size{options().window_ack_size}));
        send(to_message(set_peer_bandwidth{options().peer_bandwidth, bandwidth_limit::dynamic}));
        send(to_message(set_chunk_size{options().chunk_size}));
        send(to_message(user_control::stream_begin(0)));
        send(make_connect_result(txn, connect_.object_encoding));
        if (options().timeouts.ping.count() > 0) {
            auto self = this->shared_from_this();
            asio::co_spawn(get_executor(), ping_loop(), [self](std::exception_ptr) {});
        }
        log().log(log_level::info, id_, "session", {}, "connect from {} to app '{}' accepted", peer_, connect_.app);
    }

    bool call_stream_handler(stream_type& s, bool is_create, const amf0::value& object = amf0::value()) {
        if (!stream_handler_) return true;
        try {
            return static_cast<bool>(stream_handler_(s, stream_event{is_create, object, is_create ? std::error_code{} : reason_}));
        } catch (...) {
            log().log(log_level::error, id_, "stream", error::handler_exception, "stream handler threw");
            if (is_create) end(error::handler_exception, false);
            return false;
        }
    }

    void on_create_stream(const create_stream_command& cmd) {
        if (streams_.size() >= options().max_streams_per_connection) {
            send(make_error(cmd.transaction_id,
                            status_info("error", "NetConnection.Call.Failed", "too many streams on this connection")));
            return;
        }
        auto s = std::make_shared<stream_type>(*this, next_stream_id_++, options().default_render_rate);
        if (!call_stream_handler(*s, true, cmd.object)) {
            if (!ended_)
                send(make_error(cmd.transaction_id,
                                status_info("error", "NetConnection.Call.Failed", "stream refused")));
            return;
        }
        const std::uint32_t sid = s->id();
        streams_.push_back(std::move(s));
        send(make_result(cmd.transaction_id, amf0::value::null(), {amf0::value(sid)}));
    }

    void send_status(std::uint32_t stream_id, std::string_view level, std::string_view code, std::string description) {
        auto info = status_info(level, code, description);
        send(make_on_status(std::move(info)), stream_id);
    }

    void on_play(const play_command& cmd, std::uint32_t stream_id) {
        stream_type* s = find_stream(stream_id);
        if (!s) {
            send_status(stream_id, "error", "NetStream.Play.StreamNotFound", "No such stream.");
            return;
        }
        if (cmd.stop) {  // NetStream.play(false): stop playing
            stop_play(*s, {}, true);
            return;
        }
        if (s->playing_) stop_play(*s, {}, false);
        play_event ev{true, cmd.stream_name, cmd.start, {}};
        bool allowed = true;
        if (s->play_) {
            try {
                allowed = static_cast<bool>(s->play_(*s, ev));
            } catch (...) {
                log().log(log_level::error, id_, "stream", error::handler_exception, "play handler threw");
                allowed = false;
            }
        }
        if (!allowed) {
            send_status(stream_id, "error", "NetStream.Play.Failed", fmt::format("Play of {} refused.", cmd.stream_name));
            return;
        }
        s->name_ = cmd.stream_name;
        send(to_message(user_control::stream_begin(stream_id)));
        send_status(stream_id, "status", "NetStream.Play.Reset", fmt::format("Playing and resetting {}.", s->name_));
        send_status(stream_id, "status", "NetStream.Play.Start", fmt::format("Started playing {}.", s->name_));
        send(to_message(data_message{"|RtmpSampleAccess", {amf0::value(true), amf0::value(true)}}, stream_id));
        if (!ev.video_data.data.empty())
            send(message{{chunk_stream::video, message_type::video, rtmp_timestamp(0), stream_id},
                         std::move(ev.video_data.data)});
        start_play(*s);
        log().log(log_level::info, id_, "stream", {}, "stream {} plays '{}'", stream_id, s->name_);
    }

    void start_play(stream_type& s) {
        s.playing_ = true;
        server_->playing_streams.fetch_add(1, std::memory_order_relaxed);
        s.paused_ = false;
        s.sent_key_frame_ = false;
        s.last_timestamp_ = 0;
        s.sent_config_.reset();
        s.broadcast_base_.reset();
        if (s.broadcast_) {
            subscribe(s);
            return;
        }
        if (s.render_) {
            s.render_alive_ = std::make_shared<bool>(true);
            auto self = this->shared_from_this();
            asio::co_spawn(get_executor(), render_loop(find_shared(s.id()), s.render_alive_),
                           [self](std::exception_ptr) {});
        }
        if (s.frame_) {
            auto self = this->shared_from_this();
            const std::uint32_t sid = s.id();
            s.start_frame_thread(
                options().frame_queue_frames,
                [self] {
                    if (!self->wake_posted_.exchange(true, std::memory_order_relaxed))
                        asio::post(self->get_executor(), [self] { self->frames_ready(); });
                },
                [self] {
                    return self->pending_bytes_.load(std::memory_order_relaxed) +
                           self->kernel_unsent_.load(std::memory_order_relaxed) >=
                       self->options().outqueue_full_bytes;
                },
                [self, sid] { asio::post(self->get_executor(), [self, sid] { self->stream_failed(sid); }); });
        }
    }

    // A stream that plays a broadcast: its player gets the configuration and the cached group
    // at once, then every frame the broadcast publishes, through a queue of its own.
    void subscribe(stream_type& s) {
        auto sub = std::make_shared<detail::broadcast_subscriber>(s.broadcast_->options().player_queue_frames);
        sub->dropped = &s.frames_dropped_;
        sub->dropped_total = &server_->frames_dropped;
        // Valid while subscribed: the stream unsubscribes before the connection goes away.
        sub->wake = [this, weak = this->weak_from_this()] {
            if (wake_posted_.exchange(true, std::memory_order_relaxed)) return;
            if (auto self = weak.lock()) asio::post(get_executor(), [self] { self->frames_ready(); });
        };
        auto join = s.broadcast_->subscribe(sub);
        s.subscriber_ = std::move(sub);
        s.join_frames_ = std::move(join);  // written after the replies to play
        wake_.cancel();
    }

    // Stops playing: loops end, the play handler hears of it, the player gets Play.Stop and EOF.
    void stop_play(stream_type& s, std::error_code, bool notify_client) {
        if (!s.playing_) return;
        s.playing_ = false;
        server_->playing_streams.fetch_sub(1, std::memory_order_relaxed);
        if (s.subscriber_) {
            s.broadcast_->unsubscribe(s.subscriber_.get());
            s.subscriber_.reset();
            s.join_frames_.clear();
        }
        if (s.render_alive_) *s.render_alive_ = false;
        s.render_alive_.reset();
        s.stop_frame_thread();
        if (s.queue_) {
            while (s.queue_->front()) s.queue_->pop();
        }
        play_event ev{false, s.name_, 0, {}};
        if (s.play_) {
            try {
                s.play_(s, ev);
            } catch (...) {
                log().log(log_level::error, id_, "stream", error::handler_exception, "play handler threw on stop");
            }
        }
        if (notify_client && !ended_) {
            if (!ev.video_data.data.empty())
                send(message{{chunk_stream::video, message_type::video, rtmp_timestamp(s.last_timestamp_), s.id()},
                             std::move(ev.video_data.data)});
            send_status(s.id(), "status", "NetStream.Play.Stop", fmt::format("Stopped playing {}.", s.name_));
            send(to_message(user_control::stream_eof(s.id())));
        }
    }

    // A render or frame handler returned false: the stream stops with an error status.
    void stream_failed(std::uint32_t sid) {
        stream_type* s = find_stream(sid);
        if (!s || !s->playing_) return;
        log().log(log_level::warning, id_, "stream", error::handler_failed, "stream {} stopped: a handler failed", sid);
        stop_play(*s, error::handler_failed, false);
        if (!ended_) {
            send_status(sid, "error", "NetStream.Failed", "The stream's handler failed.");
            send(to_message(user_control::stream_eof(sid)));
        }
    }

    // Pings the client now and then; the answer gives the round-trip time.
    asio::awaitable<void> ping_loop() {
        while (!ended_) {
            ping_timer_.expires_after(options().timeouts.ping);
            co_await ping_timer_.async_wait(detail::use_tuple);
            if (ended_) break;
            ping_sent_ = clock::now();
            ping_stamp_ = static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(ping_sent_ - started_).count()) | 1u;
            send(to_message(user_control::ping_request(ping_stamp_)));
        }
    }

    asio::awaitable<void> render_loop(std::shared_ptr<stream_type> s, std::shared_ptr<bool> alive) {
        asio::steady_timer timer(get_executor());
        auto next = clock::now();
        while (*alive) {
            timer.expires_at(next);
            co_await timer.async_wait(detail::use_tuple);
            if (!*alive || ended_) break;
            if (!s->paused()) {
                bool ok = false;
                try {
                    ok = static_cast<bool>(s->render_(*s));
                } catch (...) {
                    ok = false;
                }
                if (!ok) {
                    stream_failed(s->id());
                    break;
                }
            }
            next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / s->render_rate()));
            if (const auto now = clock::now(); next < now) next = now;
        }
    }

    void on_pause(const pause_command& cmd, std::uint32_t stream_id) {
        stream_type* s = find_stream(stream_id);
        if (!s || !s->playing_) return;
        bool honoured = true;
        if (s->pause_) {
            try {
                honoured = static_cast<bool>(s->pause_(*s, pause_event{cmd.pause, cmd.milliseconds}));
            } catch (...) {
                log().log(log_level::error, id_, "stream", error::handler_exception, "pause handler threw");
                honoured = false;
            }
        }
        if (honoured) set_paused(*s, cmd.pause, true);
    }

    // Pause stops render calls and frames; resume restarts them, with a key frame first.
    // `receiveVideo false/true` does the same without status messages.
    void set_paused(stream_type& s, bool pause, bool notify) {
        if (!s.playing_) return;
        s.paused_ = pause;
        if (!pause) {
            s.sent_key_frame_ = false;
            s.force_key_.store(true);
            if (s.subscriber_) s.broadcast_->request_key_frame();
        }
        if (!notify) return;
        if (pause) {
            send_status(s.id(), "status", "NetStream.Pause.Notify", fmt::format("Paused {}.", s.name_));
        } else {
            send_status(s.id(), "status", "NetStream.Unpause.Notify", fmt::format("Unpaused {}.", s.name_));
        }
    }

    void delete_stream(std::uint32_t sid) {
        auto it = std::find_if(streams_.begin(), streams_.end(), [sid](const auto& s) { return s->id() == sid; });
        if (it == streams_.end()) return;
        auto s = *it;
        stop_play(*s, {}, false);
        streams_.erase(it);
        call_stream_handler(*s, false);
        closed_frames_sent_ += s->frames_sent();
        closed_frames_dropped_ += s->frames_dropped();
    }

    // A call handler: plain functions run inline, in message order; coroutines run on their own
    // so that the connection goes on reading (their answer may need the client's next message).
    struct call_entry {
        std::function<bool(basic_connection&, const call_event&, amf0::value&)> plain;
        std::function<asio::awaitable<bool>(basic_connection&, const call_event&, amf0::value&)> coroutine;
    };

    template <class F>
    static std::shared_ptr<call_entry> wrap_call(F f) {
        using R = std::invoke_result_t<F&, basic_connection&, const call_event&, amf0::value&>;
        auto entry = std::make_shared<call_entry>();
        if constexpr (detail::awaitable_bool<R>) {
            entry->coroutine = std::move(f);
        } else {
            entry->plain = std::move(f);
        }
        return entry;
    }

    struct pending_call {
        asio::steady_timer timer;
        std::optional<call_result> result;
    };

    // A `_result` or `_error` from the client answers one of our calls.
    void on_reply(command& c) {
        auto it = pending_calls_.find(c.transaction_id);
        if (it == pending_calls_.end()) return;  // late or unknown: ignored
        it->second->result = call_result{{}, c.name == "_result", std::move(c.object), std::move(c.arguments)};
        it->second->timer.cancel();
    }

    // Reports a failed call: `_error`, or `_result` carrying the error object when the option
    // for clients that cannot read `_error` (python-librtmp) is on.
    void send_call_failure(double txn, amf0::value info) {
        if (options().call_errors_as_result) {
            send(make_result(txn, amf0::value::null(), {std::move(info)}));
        } else {
            send(make_error(txn, std::move(info)));
        }
    }

    void on_call_command(command c) {
        const double txn = c.transaction_id;
        if (c.name == "_result" || c.name == "_error") {
            on_reply(c);
            return;
        }
        if (c.name == "_checkbw") {
            if (txn != 0) send(make_result(txn));
            return;
        }
        std::shared_ptr<call_entry> handler;  // held for the whole call, even if unregistered meanwhile
        if (auto it = call_handlers_.find(c.name); it != call_handlers_.end()) {
            handler = it->second;
        } else {
            handler = default_call_;
        }
        if (!handler) {
            if (txn != 0)
                send_call_failure(txn, status_info("error", "NetConnection.Call.Failed",
                                                   fmt::format("Method not found ({}).", c.name)));
            return;
        }
        if (handler->coroutine) {
            auto self = this->shared_from_this();
            asio::co_spawn(get_executor(), run_coroutine_call(std::move(handler), std::move(c)),
                           [self](std::exception_ptr) {});
            return;
        }
        amf0::value response;
        bool ok = false;
        bool threw = false;
        try {
            ok = static_cast<bool>(handler->plain(*this, call_event{c.name, txn, c.object, c.arguments}, response));
        } catch (const std::exception& e) {
            threw = log_call_exception(c.name, e.what());
        } catch (...) {
            threw = log_call_exception(c.name, "unknown exception");
        }
        finish_call(c, ok && !threw, threw, std::move(response));
    }

    asio::awaitable<void> run_coroutine_call(std::shared_ptr<call_entry> handler, command c) {
        amf0::value response;
        bool ok = false;
        bool threw = false;
        try {
            ok = co_await handler->coroutine(*this, call_event{c.name, c.transaction_id, c.object, c.arguments},
                                             response);
        } catch (const std::exception& e) {
            threw = log_call_exception(c.name, e.what());
        } catch (...) {
            threw = log_call_exception(c.name, "unknown exception");
        }
        finish_call(c, ok && !threw, threw, std::move(response));
    }

    bool log_call_exception(std::string_view name, std::string_view what) {
        log().log(log_level::error, id_, "call", error::handler_exception, "call handler for {} threw: {}", name, what);
        return true;
    }

    // Answers a call: `_result` with the response, or a failure (transaction id 0: no answer).
    void finish_call(const command& c, bool ok, bool threw, amf0::value response) {
        if (c.transaction_id == 0 || ended_) return;
        if (ok) {
            send(make_result(c.transaction_id, amf0::value::null(), {std::move(response)}));
            return;
        }
        if (threw || !response.has_properties())
            response = status_info("error", "NetConnection.Call.Failed",
                                   threw ? fmt::format("The handler of {} failed.", c.name)
                                         : fmt::format("Call to {} failed.", c.name));
        send_call_failure(c.transaction_id, std::move(response));
    }

    // ---- state ---------------------------------------------------------------------------

    Socket socket_;
    std::shared_ptr<detail::server_state<Socket>> server_;
    const std::uint64_t id_;
    const std::string peer_;
    phase phase_ = phase::handshake;
    bool ended_ = false;
    std::error_code reason_;

    std::vector<std::byte> rbuf_;
    std::size_t rlen_ = 0;
    detail::chunk_reader reader_;
    detail::chunk_writer writer_;
    detail::chunked_output out_;
    std::vector<std::shared_ptr<const std::vector<std::byte>>> inflight_;
    std::vector<asio::const_buffer> unwritten_;  // the part of the gathered write the socket has not taken
    bool writer_asleep_ = false;
    std::deque<detail::outgoing> queue_;
    std::atomic<std::size_t> pending_bytes_{0};
    std::atomic<std::size_t> kernel_unsent_{0};  // for other threads: the last unsent_bound()
    std::size_t unsent_known_ = 0;          // the kernel's last answer
    std::size_t written_since_known_ = 0;   // bytes written since
    static constexpr auto congestion_recheck = std::chrono::milliseconds(10);
    std::atomic<bool> wake_posted_{false};
    asio::steady_timer wake_;
    asio::steady_timer watchdog_;
    asio::steady_timer writer_done_;
    asio::steady_timer ping_timer_;
    std::uint32_t ping_stamp_ = 0;
    clock::time_point ping_sent_;
    std::chrono::microseconds round_trip_{0};
    bool writer_running_ = false;
    clock::time_point watchdog_armed_ = clock::time_point::max();
    std::optional<clock::time_point> deadline_handshake_;
    std::optional<clock::time_point> deadline_connect_;
    std::optional<clock::time_point> deadline_idle_;
    std::optional<clock::time_point> deadline_write_;

    connect_command connect_;
    std::shared_ptr<typename detail::server_state<Socket>::connect_fn> claimed_;
    std::function<bool(stream_type&, const stream_event&)> stream_handler_;
    std::map<std::string, std::shared_ptr<call_entry>, std::less<>> call_handlers_;
    std::shared_ptr<call_entry> default_call_;
    std::map<double, pending_call*> pending_calls_;
    double next_call_txn_ = 1;
    std::map<std::string, std::string, std::less<>> properties_;
    std::vector<std::shared_ptr<stream_type>> streams_;
    std::uint32_t next_stream_id_ = 1;

    const clock::time_point started_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::uint64_t messages_in_ = 0;
    std::uint64_t messages_out_ = 0;
    std::uint64_t writes_ = 0;
    std::uint64_t last_ack_ = 0;
    std::uint32_t client_window_ = 0;
    std::uint64_t acknowledged_ = 0;
    std::uint64_t closed_frames_sent_ = 0;
    std::uint64_t closed_frames_dropped_ = 0;
};

RTMPX_NAMESPACE_END
