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
    explicit basic_server(server_options options = {});

    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    /// Stops accepting, ends every connection and waits for them.
    ~basic_server();

    /**
     * Installs a connect handler, asked after those installed before it. Returns a handle for
     * `remove`. See `connect_handler` for the signature.
     */
    template <class F>
    std::uint64_t install(F handler) {
        static_assert(connect_handler<F>, "install: expected bool (connection&, connect_event const&)");
        return install_fn(std::make_shared<detail::server_state::connect_fn>(std::move(handler)));
    }

    /// Removes a connect handler; connections it already claimed keep it. False if unknown.
    bool remove(std::uint64_t handle);

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
    template <listener_transport Transport>
    void start(std::string_view address, Transport transport, std::error_code& ec)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// Plain RTMP on `address`.
    void start(std::string_view address, std::error_code& ec)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// Throwing form of `start`. @throws std::system_error
    template <listener_transport Transport>
    void start(std::string_view address, Transport transport)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// Throwing form of `start`, plain RTMP. @throws std::system_error
    void start(std::string_view address)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// The address of the `listener`-th `start`, "host:port" with the real port (empty if none).
    std::string listen_address(std::size_t listener = 0) const;

    /// The port of the `listener`-th `start` (0 if none).
    std::uint16_t port(std::size_t listener = 0) const;

    /**
     * Serves an already connected socket (any transport), on a new thread like an accepted one.
     * The socket is moved onto the connection's own executor.
     */
    void serve(Socket socket);

    /// Stops accepting new connections at once; live connections run on until they end.
    void shutdown();

    /// Ends every live connection (what is queued is still sent), with `reason` as its cause.
    void close_all(std::error_code reason = error::shutdown);

    /// Waits until every connection has ended.
    void wait();

    /// Waits up to `timeout` for every connection to end; true if they all did.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_for_ms(std::chrono::ceil<std::chrono::milliseconds>(timeout));
    }

    /**
     * Shuts down: stops accepting, gives live connections `grace` to end on their own, ends the
     * rest, and waits for them. Safe to call more than once.
     */
    template <class Rep, class Period>
    void stop(std::chrono::duration<Rep, Period> grace) {
        stop_after(std::chrono::ceil<std::chrono::milliseconds>(grace));
    }

    /// `stop` with no grace: live connections are ended at once.
    void stop();

    /**
     * Drains the server, before a restart or to move its clients to another: stops accepting;
     * asks every client that declared it honours Enhanced RTMP's reconnect request (`capsEx`
     * Reconnect in its connect) to connect again, to `other_url` (a tcUrl,
     * "rtmp://host:port/app") when not empty, else where it is; lets every other connection go
     * on; at `deadline` ends those left (`error::drained`). Returns when every connection has
     * ended; each connection's connect handler hears of its end once, as always. The server does
     * not accept again: `stop` it (or let it go) afterwards.
     */
    template <class Rep, class Period>
    void drain(std::chrono::duration<Rep, Period> deadline, std::string_view other_url = {}) {
        drain_for(std::chrono::ceil<std::chrono::milliseconds>(deadline), std::string(other_url));
    }

    /// Totals over all connections since the server was made. Thread: any.
    server_statistics statistics() const;

    /// Connections being served now.
    std::size_t connection_count() const;

private:
    struct listener {
        std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
        asio::ip::tcp::endpoint local;
        std::string scheme;
    };

    std::uint64_t install_fn(std::shared_ptr<detail::server_state::connect_fn> fn);
    bool wait_for_ms(std::chrono::milliseconds timeout);
    void stop_after(std::chrono::milliseconds grace);
    void stop_accepting();
    void drain_for(std::chrono::milliseconds deadline, std::string other_url);

    // "host:port", an IPv6 host in brackets.
    static std::string host_port(const asio::ip::address& addr, std::uint16_t port);
    static std::string describe(const listener& l);
    static bool parse_address(std::string_view text, asio::ip::tcp::endpoint& out);

    template <class S>
    static std::string describe_peer(const S& socket);

    template <class Transport>
    asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, Transport transport);

    template <class Stream>
    void launch(const std::shared_ptr<driver::executor_pool::slot>& slot, Stream stream);

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

#include <rtmpx/impl/server.ipp>
