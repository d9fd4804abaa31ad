// SPDX-License-Identifier: MIT
// basic_server: accepts on its own thread and runs every connection on a thread of its own (or on
// one thread of a fixed pool).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>

#include <rtmpx/config.hpp>
#include <rtmpx/connection.hpp>
#include <rtmpx/driver/asio_compat.hpp>
#include <rtmpx/driver/executor_pool.hpp>
#include <rtmpx/driver/session.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/impl/server_state.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/statistics.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * What a listener runs its connections on: `wrap` turns an accepted TCP connection into the
 * stream a session reads and writes (`stream_type`, see `driver::basic_session`). `plain_tcp` is
 * RTMP as it is; `tls_listener` (in <rtmpx/tls.hpp>) is RTMPS.
 */
template <class T>
concept listener_transport = requires(const T& t, asio::ip::tcp::socket socket) {
    typename T::stream_type;
    { t.wrap(std::move(socket)) } -> std::same_as<typename T::stream_type>;
    { T::scheme } -> std::convertible_to<std::string_view>;
};

/// Plain RTMP over TCP.
struct plain_tcp {
    using stream_type = asio::ip::tcp::socket;
    static constexpr std::string_view scheme = "rtmp";
    stream_type wrap(asio::ip::tcp::socket socket) const { return socket; }
};

/**
 * An RTMP server: install connect handlers, `start` it on an address, and players connect.
 *
 * The acceptor runs on a thread of its own; every connection runs on its own thread with its own
 * single-threaded executor, so a slow handler stalls only its own connection. With
 * `server_options::threads` set to N, connections instead share a pool of N threads, each
 * connection pinned to one of them (the least busy when it arrived): thousands of players then
 * cost N threads, and a slow handler stalls the connections of its thread. Several servers can
 * live in one process; they share nothing.
 *
 * It may listen on several addresses, each with its transport: plain RTMP on one, RTMPS on
 * another (`start(address, tls_listener(...))`, <rtmpx/tls.hpp>). `Socket` is what `serve`
 * takes: any connected Asio stream socket (tests use a local socket pair). Handlers see the same
 * `connection` and `stream` types whatever the transport.
 *
 * Thread: the public members may be called from any thread.
 */
template <class Socket = asio::ip::tcp::socket>
class basic_server {
public:
    explicit basic_server(server_options options = {})
        : state_(std::make_shared<detail::server_state>(std::move(options))), pool_(state_->options.threads) {
        pool_.on_thread_done([this] {
            // The acceptor's thread joins a finished connection's thread and frees its executor
            // (descriptors included) right away; without an acceptor, the next launch or wait does.
            std::lock_guard lock(accept_mutex_);
            if (!listeners_.empty()) asio::post(accept_context_, [this] { pool_.reap(); });
        });
    }

    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    /// Stops accepting, ends every connection and waits for them.
    ~basic_server() { stop(); }

    /**
     * Installs a connect handler, asked after those installed before it. Returns a handle for
     * `remove`. See `connect_handler` for the signature.
     */
    template <class F>
    std::uint64_t install(F handler) {
        static_assert(connect_handler<F>, "install: expected bool (connection&, connect_event const&)");
        std::lock_guard lock(state_->mutex);
        const std::uint64_t handle = state_->next_handler_id++;
        state_->handlers.emplace_back(handle, std::make_shared<detail::server_state::connect_fn>(std::move(handler)));
        return handle;
    }

    /// Removes a connect handler; connections it already claimed keep it. False if unknown.
    bool remove(std::uint64_t handle) {
        std::lock_guard lock(state_->mutex);
        auto& hs = state_->handlers;
        auto it = std::find_if(hs.begin(), hs.end(), [handle](const auto& h) { return h.first == handle; });
        if (it == hs.end()) return false;
        hs.erase(it);
        return true;
    }

    /// Installs the log sink (silent by default). Call before `start`.
    template <class F>
    void set_logger(F sink, log_level level = log_level::info) {
        static_assert(log_sink<F>, "set_logger: expected void (log_record const&)");
        state_->log = detail::logger(std::move(sink), level);
    }

    /// The codecs streams can choose by name; add your own encoders here.
    codec_registry& codecs() noexcept { return state_->codecs; }

    /// The options the server was made with.
    const server_options& options() const noexcept { return state_->options; }

    /**
     * Listens on "host:port" (IPv4, or IPv6 in brackets; port 0 picks a free port) and starts
     * accepting on the server's own thread. Call again to listen on more addresses, each with its
     * own transport (plain RTMP by default; `tls_listener` for RTMPS); `port(i)` and
     * `listen_address(i)` name them in the order they were started.
     * Errors: a bad address (std::errc::invalid_argument), an address in use.
     */
    template <listener_transport Transport = plain_tcp>
    void start(std::string_view address, Transport transport, std::error_code& ec)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>
    {
        ec.clear();
        asio::ip::tcp::endpoint endpoint;
        if (!parse_address(address, endpoint)) {
            ec = std::make_error_code(std::errc::invalid_argument);
            return;
        }
        auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(accept_context_);
        acceptor->open(endpoint.protocol(), ec);
        if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor->bind(endpoint, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return;
        listener l{std::move(acceptor), {}, std::string(Transport::scheme)};
        l.local = l.acceptor->local_endpoint(ec);
        if (ec) return;
        auto& accepting = *l.acceptor;
        std::string where;
        {
            std::lock_guard lock(accept_mutex_);
            listeners_.push_back(std::move(l));
            where = describe(listeners_.back());
        }
        asio::co_spawn(accept_context_, accept_loop(accepting, std::move(transport)), [this](std::exception_ptr e) {
            if (e) state_->log.log(log_level::error, 0, "server", {}, "accept loop ended by an exception");
        });
        if (!acceptor_thread_.joinable()) {
            // The guard keeps the acceptor's thread running until `stop` is done with it: a
            // handler posted there (the acceptors' close, stop's wait for it) always runs.
            accept_work_.emplace(accept_context_.get_executor());
            acceptor_thread_ = std::thread([this] { accept_context_.run(); });
        }
        state_->log.log(log_level::info, 0, "server", {}, "listening on {}", where);
    }

    /// Plain RTMP on `address`.
    void start(std::string_view address, std::error_code& ec)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>
    {
        start(address, plain_tcp{}, ec);
    }

    /// Throwing form of `start`. @throws std::system_error
    template <listener_transport Transport = plain_tcp>
    void start(std::string_view address, Transport transport = {})
        requires std::is_same_v<Socket, asio::ip::tcp::socket>
    {
        std::error_code ec;
        start(address, std::move(transport), ec);
        if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot listen on {}", address)));
    }

    /// The address of the `listener`-th `start`, "host:port" with the real port (empty if none).
    std::string listen_address(std::size_t listener = 0) const {
        std::lock_guard lock(accept_mutex_);
        return listener < listeners_.size() ? host_port(listeners_[listener].local.address(), listeners_[listener].local.port())
                                            : std::string{};
    }

    /// The port of the `listener`-th `start` (0 if none).
    std::uint16_t port(std::size_t listener = 0) const {
        std::lock_guard lock(accept_mutex_);
        return listener < listeners_.size() ? listeners_[listener].local.port() : 0;
    }

    /**
     * Serves an already connected socket (any transport), on a new thread like an accepted one.
     * The socket is moved onto the connection's own executor.
     */
    void serve(Socket socket) {
        std::error_code ec;
        if (connection_count() >= state_->options.max_connections) {
            socket.close(ec);  // refused like an accepted connection beyond the limit
            return;
        }
        const auto protocol = socket.local_endpoint(ec).protocol();
        auto slot = pool_.reserve(producer_writes());
        auto native = socket.release(ec);
        if (ec) return pool_.unreserve(slot);
        launch<Socket>(slot, Socket(slot->executor(), protocol, native));
    }

    /// Stops accepting new connections at once; live connections run on until they end.
    void shutdown() {
        if (!accept_work_) return;
        asio::post(accept_context_, [this] {
            std::lock_guard lock(accept_mutex_);
            for (auto& l : listeners_) {
                std::error_code ignored;
                l.acceptor->close(ignored);
            }
        });
    }

    /// Ends every live connection (what is queued is still sent), with `reason` as its cause.
    void close_all(std::error_code reason = error::shutdown) {
        pool_.close_all(reason);
    }

    /// Waits until every connection has ended.
    void wait() { pool_.wait(); }

    /// Waits up to `timeout` for every connection to end; true if they all did.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return pool_.wait_for(timeout);
    }

    /**
     * Shuts down: stops accepting, gives live connections `grace` to end on their own, ends the
     * rest, and waits for them. Safe to call more than once.
     */
    template <class Rep = long, class Period = std::ratio<1>>
    void stop(std::chrono::duration<Rep, Period> grace = std::chrono::seconds(0)) {
        shutdown();
        if (accept_work_) {
            // Wait for the close: a connection accepted before it is launched before it, and so
            // is among those close_all ends.
            std::promise<void> closed;
            asio::post(accept_context_, [&closed] { closed.set_value(); });
            closed.get_future().wait();
            accept_work_.reset();
        }
        if (!wait_for(grace)) {
            close_all(error::shutdown);
            wait();
        }
        accept_context_.stop();
        if (acceptor_thread_.joinable()) acceptor_thread_.join();
        pool_.join();
    }

    /// Totals over all connections since the server was made. Thread: any.
    server_statistics statistics() const {
        server_statistics s;
        s.connections = connection_count();
        const auto playing = state_->playing_streams.load(std::memory_order_relaxed);
        s.playing_streams = playing > 0 ? static_cast<std::size_t>(playing) : 0;
        const auto publishing = state_->publishing_streams.load(std::memory_order_relaxed);
        s.publishing_streams = publishing > 0 ? static_cast<std::size_t>(publishing) : 0;
        s.bytes_out = state_->bytes_out.load(std::memory_order_relaxed);
        s.frames_sent = state_->frames_sent.load(std::memory_order_relaxed);
        s.frames_dropped = state_->frames_dropped.load(std::memory_order_relaxed);
        return s;
    }

    /// Connections being served now.
    std::size_t connection_count() const { return pool_.live(); }

private:
    struct listener {
        std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
        asio::ip::tcp::endpoint local;
        std::string scheme;
    };

    // "host:port", an IPv6 host in brackets.
    static std::string host_port(const asio::ip::address& addr, std::uint16_t port) {
        return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), port) : fmt::format("{}:{}", addr.to_string(), port);
    }

    static std::string describe(const listener& l) { return l.scheme + "://" + host_port(l.local.address(), l.local.port()); }

    static bool parse_address(std::string_view text, asio::ip::tcp::endpoint& out) {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return false;
        std::string host(text.substr(0, colon));
        const std::string_view port_text = text.substr(colon + 1);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host == "localhost") host = "127.0.0.1";
        if (host.empty()) host = "0.0.0.0";
        unsigned port = 0;
        if (port_text.empty() || port_text.size() > 5) return false;
        for (char c : port_text) {
            if (c < '0' || c > '9') return false;
            port = port * 10 + static_cast<unsigned>(c - '0');
        }
        if (port > 65535) return false;
        std::error_code ec;
        const auto addr = asio::ip::make_address(host, ec);
        if (ec) return false;
        out = asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(port));
        return true;
    }

    template <class S>
    static std::string describe_peer(const S& socket) {
        std::error_code ec;
        auto ep = socket.remote_endpoint(ec);
        if (ec) return "unknown";
        if constexpr (requires { ep.address(); ep.port(); }) {
            return host_port(ep.address(), ep.port());
        } else {
            return "local";
        }
    }

    template <class Transport>
    asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, Transport transport) {
        for (;;) {
            auto slot = pool_.reserve(producer_writes());
            asio::ip::tcp::socket socket(slot->executor());
            auto [ec] = co_await acceptor.async_accept(socket, detail::use_tuple);
            const bool full = connection_count() >= state_->options.max_connections;
            if (ec || full) pool_.unreserve(slot);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
            if (ec) continue;  // a connection that failed before we got it
            if (full) {
                std::error_code ignored;
                socket.close(ignored);  // refused cleanly: the client sees the connection close
                state_->log.log(log_level::warning, 0, "server", error::too_many_connections,
                                "connection refused: {} connections", state_->options.max_connections);
                continue;
            }
            std::error_code ignored;
            socket.set_option(asio::ip::tcp::no_delay(true), ignored);
            launch<typename Transport::stream_type>(slot, transport.wrap(std::move(socket)));
        }
    }

    template <class Stream>
    void launch(const std::shared_ptr<driver::executor_pool::slot>& slot, Stream stream) {
        using session_type = driver::basic_session<Stream, connection>;
        const std::uint64_t id = next_connection_id_.fetch_add(1, std::memory_order_relaxed);
        std::random_device rd;
        const auto& o = state_->options;
        std::string peer = describe_peer(stream.lowest_layer());
        driver::session_io_options io{o.timeouts.write};
        io.socket_unsent_limit = o.socket_unsent_limit;
        io.outqueue_full_bytes = o.outqueue_full_bytes;
        auto session = std::make_shared<session_type>(
            std::move(stream), io,
            state_, id, std::move(peer), std::chrono::steady_clock::now(), (std::uint64_t{rd()} << 32) ^ rd());
        session->set_lock(slot->lock());
        std::weak_ptr<session_type> weak = session;
        auto close = [weak](std::error_code reason) {
            if (auto s = weak.lock()) asio::dispatch(s->stream().get_executor(), [s, reason] { s->logic().close(reason); });
        };
        pool_.launch(slot, std::move(close), [&](asio::io_context&) {
            // The completion handler owns the session until it has finished.
            asio::co_spawn(session->stream().get_executor(), session->run(), [this, state = state_, id, session, slot](std::exception_ptr e) mutable {
                session.reset();
                pool_.finished(slot);
                if (e) detail::log_handler_exception(state->log, id, "session", "a connection", e);
            });
        });
    }

    // With a thread per connection, the producers of frames write to idle players' sockets
    // themselves; a pool's threads write for their connections (one thread writing for all
    // would leave the others idle).
    bool producer_writes() const noexcept { return state_->options.producer_writes && state_->options.threads == 0; }

    std::shared_ptr<detail::server_state> state_;
    // Before the acceptor's executor: a pending accept holds a socket of a pool thread's
    // executor, so that executor must outlive the acceptor's.
    driver::executor_pool pool_;
    asio::io_context accept_context_{1};
    mutable std::mutex accept_mutex_;
    std::vector<listener> listeners_;  // in the order started
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> accept_work_;
    std::thread acceptor_thread_;
    std::atomic<std::uint64_t> next_connection_id_{1};
};

/// The server over TCP.
using server = basic_server<asio::ip::tcp::socket>;

/// Former names, from when connections and streams were templates on the transport.
template <class Socket>
using basic_connection [[deprecated("use rtmpx::connection")]] = connection;
template <class Socket>
using basic_stream [[deprecated("use rtmpx::stream")]] = stream;

RTMPX_NAMESPACE_END
