// SPDX-License-Identifier: MIT
// basic_session<Stream, Logic>: drives a sans-I/O session over an Asio stream: one reader, the only writer, deadlines.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/asio_compat.hpp>
#include <rtmpx/driver/send_gate.hpp>
#include <rtmpx/driver/session_lock.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/protocol/output_queue.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// What the logic a session drives may ask of its driver.
struct session_port {
    asio::any_io_executor executor;          ///< the session's executor (single-threaded)
    const send_gate* gate = nullptr;         ///< how far behind the peer is (readable from any thread)
    std::function<void()> poke;              ///< on the executor: output or deadlines changed outside `put`/`on_time`
    std::function<void()> frames_waiting;    ///< from any thread: frames wait in a subscriber's queue
    bool writes_directly = false;            ///< `frames_waiting` may write to the socket on the caller's thread
    std::weak_ptr<void> owner;               ///< the driver: lock it to outlive a wait (a coroutine)
};

/**
 * What `basic_session` drives: a sans-I/O session plus its owner's frame sources.
 * - `std::size_t put(std::span<const std::byte>, protocol::time_point)`: input; returns bytes consumed
 * - `void on_time(protocol::time_point)`, `std::optional<protocol::time_point> next_deadline()`
 * - `bool collect(bool frames_may_go)`: moves waiting frames into the output when they may go;
 *   false when frames wait for the peer
 * - `protocol::output_queue& output()`
 * - `bool closing()`, `bool flush_on_close()`, `void close(std::error_code, bool flush)`
 * - `void wrote(std::size_t bytes)`: a write completed (statistics)
 * - `void attach(session_port)`: before anything else; `void finish(std::error_code)`: after the last I/O
 */
template <class L>
concept session_logic = requires(L& l, std::span<const std::byte> in, protocol::time_point now, bool b,
                                 std::error_code ec, std::size_t n, session_port port) {
    { l.put(in, now) } -> std::same_as<std::size_t>;
    l.on_time(now);
    { l.next_deadline() } -> std::same_as<std::optional<protocol::time_point>>;
    { l.collect(b) } -> std::convertible_to<bool>;
    { l.output() } -> std::same_as<protocol::output_queue&>;
    { l.closing() } -> std::convertible_to<bool>;
    { l.flush_on_close() } -> std::convertible_to<bool>;
    l.close(ec, b);
    l.wrote(n);
    l.attach(port);
    l.finish(ec);
};

/**
 * A stream with a handshake of its own under RTMP's (TLS): `start()` runs it before the session
 * reads or writes, `finish(bound)` ends it politely (close_notify) within `bound`, and
 * `is_ordinary_end(ec)` tells which read errors are a peer's ordinary end.
 */
template <class S>
concept layered_stream = requires(S& s, std::chrono::milliseconds bound, std::error_code ec) {
    { s.start() } -> std::same_as<asio::awaitable<std::error_code>>;
    { s.finish(bound) } -> std::same_as<asio::awaitable<void>>;
    { S::is_ordinary_end(ec) } -> std::convertible_to<bool>;
};

/// Whether the writer may try a write at once on the non-blocking socket (not through TLS: a
/// record must not be cut by a socket that is full).
template <class S>
constexpr bool writes_at_once() {
    if constexpr (requires { S::immediate_writes; }) return S::immediate_writes;
    else return true;
}

/// I/O settings of a session.
struct session_io_options {
    std::chrono::milliseconds write_timeout{10'000};  ///< a write that makes no progress ends the session
    std::chrono::milliseconds close_timeout{2'000};   ///< TLS: how long the close_notify at the end may take
    std::size_t socket_unsent_limit = 64u << 10;      ///< kernel-held unsent bytes above which frames wait
    std::size_t outqueue_full_bytes = 128u << 10;     ///< unsent bytes at which producers hear `outqueue_is_full`
};

/**
 * Runs one connection: `Stream` is the transport (a TCP or local socket, or TLS over TCP: see
 * `layered_stream`), `Logic` the session with its owner (see `session_logic`). Everything happens on the stream's executor:
 * - one **reader** feeds the session what arrives;
 * - the **writer** is the only code that writes to the stream: it gathers everything queued into
 *   one write and tries it at once on the non-blocking socket; only what the socket does not
 *   take waits in an asynchronous write. Frames that arrive while it sleeps are written from the
 *   frames-waiting handler the same way, without waking it;
 * - one **deadline timer** follows the session's `next_deadline()` (and the write timeout);
 * - the **send gate** holds frames back while the kernel holds too many unsent bytes.
 *
 * Frames queued from another thread (a frame source) wake the writer with one post per burst;
 * with a lock (`set_lock`), the queuing thread instead takes the lock, and when the
 * writer is idle writes the frames itself, as far as the socket takes them at once (the writer
 * takes over the rest): the session's thread then does not wake for frames at all.
 *
 * The session ends when the logic is closing: at once, or after the queue is written (a flush;
 * a peer that half-closes still gets its replies). Then `Logic::finish` runs.
 *
 * Lifetime: owned by a `std::shared_ptr`; `run` keeps it alive until the session has ended.
 */
template <class Stream, class Logic>
class basic_session : public std::enable_shared_from_this<basic_session<Stream, Logic>> {
public:
    template <class... Args>
    basic_session(Stream stream, session_io_options io, Args&&... logic_args)
        : stream_(std::move(stream)),
          io_(io),
          gate_(io.socket_unsent_limit, io.outqueue_full_bytes),
          wake_(stream_.get_executor()),
          deadline_(stream_.get_executor()),
          writer_done_(stream_.get_executor()),
          logic_(std::forward<Args>(logic_args)...) {
        static_assert(session_logic<Logic>, "basic_session: Logic does not satisfy driver::session_logic");
    }

    basic_session(const basic_session&) = delete;
    basic_session& operator=(const basic_session&) = delete;

    Logic& logic() noexcept { return logic_; }

    /// Before `run`: the lock every handler of the session runs under (its executor is a
    /// `locking_executor` with it). With one, a thread that queued frames writes them itself
    /// when the writer is idle.
    void set_lock(std::shared_ptr<session_lock> lock) noexcept { lock_ = std::move(lock); }
    Stream& stream() noexcept { return stream_; }

    /// The whole session, until it ends and `Logic::finish` has run. Coroutine.
    asio::awaitable<void> run() {
        auto self = this->shared_from_this();
        std::weak_ptr<basic_session> weak = self;
        logic_.attach(session_port{
            stream_.get_executor(), &gate_, [this] { after_activity(); },
            [weak] {
                auto s = weak.lock();
                if (!s || s->write_directly()) return;
                if (!s->wake_posted_.exchange(true, std::memory_order_acq_rel))
                    asio::post(s->stream_.get_executor(), [s] { s->frames_waiting(); });
            },
            lock_ != nullptr && writes_at_once<Stream>(), weak});
        std::error_code ignored;
        stream_.lowest_layer().non_blocking(true, ignored);  // for the immediate writes; async operations are unaffected
        asio::co_spawn(stream_.get_executor(), deadline_loop(), [self](std::exception_ptr e) {
            if (!e) return;
            self->logic_.close(std::make_error_code(std::errc::state_not_recoverable), false);
            self->after_activity();
        });
        if constexpr (layered_stream<Stream>) {
            // The lower layer's handshake first (TLS); the session's own handshake deadline covers it.
            const std::error_code ec = co_await stream_.start();
            if (ec) logic_.close(ec, false);
            if (logic_.closing()) {
                done_ = true;
                deadline_.cancel();
                close_stream();
                logic_.finish(ec);
                co_return;
            }
        }
        writer_running_ = true;
        asio::co_spawn(stream_.get_executor(), write_loop(), [self](std::exception_ptr e) {
            self->writer_ended(e);
        });
        const std::error_code ec = co_await read_loop();
        logic_.close(ec, ec ? false : true);  // the peer's end (or half-close): send what is queued first
        after_activity();
        if (writer_running_) {
            writer_done_.expires_at(protocol::time_point::max());
            co_await writer_done_.async_wait(detail::use_tuple);
        }
        done_ = true;
        deadline_.cancel();
        if constexpr (layered_stream<Stream>) {
            if (polite_end_ && stream_.lowest_layer().is_open()) co_await stream_.finish(io_.close_timeout);
        }
        close_stream();
        logic_.finish(ec);
    }

private:
    using clock = std::chrono::steady_clock;
    static constexpr auto congestion_recheck = std::chrono::milliseconds(10);

    // ---- reading -------------------------------------------------------------------------------

    asio::awaitable<std::error_code> read_loop() {
        for (;;) {
            // Small to start (players send only commands, and a handshake packet fits); the
            // session consumes as it goes, so the buffer grows only while one read brings more.
            if (rbuf_.size() - rlen_ < 512) rbuf_.resize(std::max<std::size_t>(rbuf_.size() * 2, 2048));
            auto [ec, n] = co_await stream_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                                                            detail::use_tuple);
            if (logic_.closing()) co_return std::error_code{};
            if (ec) {
                if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return std::error_code{};
                if constexpr (layered_stream<Stream>) {
                    if (Stream::is_ordinary_end(ec)) co_return std::error_code{};
                }
                co_return ec;
            }
            rlen_ += n;
            const std::size_t used = logic_.put(std::span<const std::byte>(rbuf_.data(), rlen_), clock::now());
            std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(used), rbuf_.begin() + static_cast<std::ptrdiff_t>(rlen_),
                      rbuf_.begin());
            rlen_ -= used;
            after_activity();
            if (logic_.closing()) co_return std::error_code{};
        }
    }

    // The logic did something (input, time, a handler): close at once if it asks to, follow an
    // earlier deadline, and let the writer see new output.
    void after_activity() {
        if (logic_.closing() && !logic_.flush_on_close()) close_stream();
        rearm();
        if (logic_.output().has_pending() || logic_.closing()) wake_.cancel();
    }

    // ---- deadlines -----------------------------------------------------------------------------

    std::optional<protocol::time_point> next_deadline() {
        auto next = logic_.next_deadline();
        if (write_deadline_ && (!next || *write_deadline_ < *next)) next = write_deadline_;
        return next;
    }

    void rearm() {
        const auto next = next_deadline();
        if (next && *next < armed_) deadline_.cancel();  // the loop re-arms earlier
    }

    asio::awaitable<void> deadline_loop() {
        while (!done_) {
            armed_ = next_deadline().value_or(protocol::time_point::max());
            deadline_.expires_at(armed_);
            co_await deadline_.async_wait(detail::use_tuple);
            armed_ = protocol::time_point::max();
            if (done_) break;
            const auto now = clock::now();
            if (write_deadline_ && *write_deadline_ <= now) {  // a write that makes no progress
                write_deadline_.reset();
                logic_.close(make_error_code(error::write_timeout), false);
                close_stream();
            }
            logic_.on_time(now);
            after_activity();
        }
    }

    // ---- writing -------------------------------------------------------------------------------

    // Drops the first `n` bytes of a buffer sequence.
    static void consume_buffers(std::vector<asio::const_buffer>& buffers, std::size_t n) {
        auto it = buffers.begin();
        for (; it != buffers.end() && n >= it->size(); ++it) n -= it->size();
        buffers.erase(buffers.begin(), it);
        if (!buffers.empty()) buffers.front() += n;
    }

    // Collects what is ready into one gathered write and writes it at once, as far as the socket
    // takes it; the rest stays in `unwritten_` for the writer's asynchronous write. Returns false
    // when frames wait because the peer is behind.
    bool write_ready() {
        const bool flowing = logic_.collect(!logic_.closing() && gate_.open(stream_.lowest_layer()));
        auto& out = logic_.output();
        if (out.has_pending() && stream_.lowest_layer().is_open()) {
            const auto& batch = out.begin_write();
            unwritten_.clear();
            batch.for_each_buffer([&](std::span<const std::byte> b) { unwritten_.emplace_back(b.data(), b.size()); });
            std::error_code ec;
            std::size_t n = 0;
            if constexpr (writes_at_once<Stream>()) n = stream_.write_some(unwritten_, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
            wrote(n);
            if (ec) {
                unwritten_.clear();
                out.end_write();
                logic_.close(ec, false);
                close_stream();
            } else {
                consume_buffers(unwritten_, n);
                if (unwritten_.empty()) out.end_write();
            }
        }
        gate_.set_queued(out.unwritten_bytes());
        return flowing;
    }

    void wrote(std::size_t n) {
        gate_.wrote(n);
        logic_.wrote(n);
    }

    asio::awaitable<void> write_loop() {
        bool failed = false;
        for (;;) {
            if (!unwritten_.empty()) {
                write_deadline_ = clock::now() + io_.write_timeout;
                rearm();
                auto [ec, n] = co_await asio::async_write(stream_, unwritten_, detail::use_tuple);
                write_deadline_.reset();
                wrote(n);
                unwritten_.clear();
                logic_.output().end_write();
                gate_.set_queued(logic_.output().unwritten_bytes());
                if (ec) {
                    logic_.close(ec, false);
                    failed = true;
                    break;
                }
            }
            const bool flowing = write_ready();
            if (!unwritten_.empty()) continue;
            if (logic_.closing() || !stream_.lowest_layer().is_open()) break;
            // Nothing to write: sleep until woken; while the peer is behind, look again shortly
            // (the kernel tells no one when its unsent bytes go down).
            wake_.expires_at(flowing ? protocol::time_point::max() : clock::now() + congestion_recheck);
            writer_asleep_ = true;
            co_await wake_.async_wait(detail::use_tuple);
            writer_asleep_ = false;
        }
        if constexpr (layered_stream<Stream>) {
            // After a flush: the reader sees the end (the socket still sends), and `run` ends the
            // lower layer politely.
            if (!failed && logic_.closing() && stream_.lowest_layer().is_open()) {
                polite_end_ = true;
                std::error_code ignored;
                stream_.lowest_layer().shutdown(asio::socket_base::shutdown_receive, ignored);
                co_return;
            }
        }
        (void)failed;
        close_stream();  // after a flush: the reader sees the end and the session finishes
    }

    void writer_ended(std::exception_ptr e) {
        if (e) logic_.close(std::make_error_code(std::errc::state_not_recoverable), false);
        writer_running_ = false;
        if (e || !polite_end_) close_stream();
        writer_done_.cancel();
    }

    // Posted when a subscriber queued frames.
    void frames_waiting() {
        // An exchange, not a store: it orders this against the queues read below, so that a frame
        // whose producer saw the flag still set is seen here (a store may pass those reads).
        wake_posted_.exchange(false, std::memory_order_acq_rel);
        write_or_wake();
    }

    // Frames wait: written at once if the writer sleeps with nothing queued, else the writer's.
    void write_or_wake() {
        if (writer_asleep_ && unwritten_.empty() && !logic_.closing()) {
            // The writer sleeps with nothing queued: write from here, and wake it only if the
            // socket did not take everything or the peer is behind.
            if (write_ready() && unwritten_.empty()) return;
        }
        wake_.cancel();
    }

    // From a thread that queued frames: under the session's lock (when no other thread holds
    // it), what the posted `frames_waiting` would do. False when it could not take the lock.
    bool write_directly() {
        if constexpr (!writes_at_once<Stream>()) {
            return false;
        } else {
            if (!lock_ || !lock_->try_take()) return false;
            std::lock_guard<session_lock> held(*lock_, std::adopt_lock);
            if (done_) return true;
            write_or_wake();
            return true;
        }
    }

    void close_stream() {
        auto& socket = stream_.lowest_layer();
        if (!socket.is_open()) return;
        std::error_code ignored;
        if constexpr (requires { socket.shutdown(asio::socket_base::shutdown_both, ignored); })
            socket.shutdown(asio::socket_base::shutdown_both, ignored);
        socket.close(ignored);
        wake_.cancel();
    }

    Stream stream_;
    const session_io_options io_;
    std::shared_ptr<session_lock> lock_;
    send_gate gate_;
    asio::steady_timer wake_;
    asio::steady_timer deadline_;
    asio::steady_timer writer_done_;
    std::vector<std::byte> rbuf_;
    std::size_t rlen_ = 0;
    std::vector<asio::const_buffer> unwritten_;  // the part of the gathered write the socket has not taken
    std::optional<protocol::time_point> write_deadline_;
    protocol::time_point armed_ = protocol::time_point::max();
    std::atomic<bool> wake_posted_{false};
    bool writer_asleep_ = false;
    bool writer_running_ = false;
    bool done_ = false;
    bool polite_end_ = false;  // the writer flushed everything: the lower layer may end politely
    Logic logic_;
};

} // namespace driver
RTMPX_NAMESPACE_END
