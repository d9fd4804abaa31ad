// SPDX-License-Identifier: MIT
// The members of `basic_server`, out of the class: in the separately compiled mode
// (RTMPX_SEPARATE_COMPILATION) the server over TCP is instantiated once, in the source file that
// includes <rtmpx/src.hpp>, and other translation units only call it.
#pragma once

// Included only at the end of <rtmpx/server.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN

template <class Socket>
basic_server<Socket>::basic_server(server_options options)
    : state_(std::make_shared<detail::server_state>(std::move(options))), pool_(state_->options.threads) {
    pool_.on_thread_done([this] {
        // The acceptor's thread joins a finished connection's thread and frees its executor
        // (descriptors included) right away; without an acceptor, the next launch or wait does.
        std::lock_guard lock(accept_mutex_);
        if (!listeners_.empty()) asio::post(accept_context_, [this] { pool_.reap(); });
    });
}

template <class Socket>
basic_server<Socket>::~basic_server() {
    stop();
}

template <class Socket>
std::uint64_t basic_server<Socket>::install_fn(std::shared_ptr<detail::server_state::connect_fn> fn) {
    std::lock_guard lock(state_->mutex);
    const std::uint64_t handle = state_->next_handler_id++;
    state_->handlers.emplace_back(handle, std::move(fn));
    return handle;
}

template <class Socket>
bool basic_server<Socket>::remove(std::uint64_t handle) {
    std::lock_guard lock(state_->mutex);
    auto& hs = state_->handlers;
    auto it = std::find_if(hs.begin(), hs.end(), [handle](const auto& h) { return h.first == handle; });
    if (it == hs.end()) return false;
    hs.erase(it);
    return true;
}

template <class Socket>
template <listener_transport Transport>
void basic_server<Socket>::start(std::string_view address, Transport transport, std::error_code& ec)
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

template <class Socket>
void basic_server<Socket>::start(std::string_view address, std::error_code& ec)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    start(address, plain_tcp{}, ec);
}

template <class Socket>
template <listener_transport Transport>
void basic_server<Socket>::start(std::string_view address, Transport transport)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    std::error_code ec;
    start(address, std::move(transport), ec);
    if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot listen on {}", address)));
}

template <class Socket>
void basic_server<Socket>::start(std::string_view address)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    start(address, plain_tcp{});
}

template <class Socket>
std::string basic_server<Socket>::listen_address(std::size_t listener) const {
    std::lock_guard lock(accept_mutex_);
    return listener < listeners_.size() ? host_port(listeners_[listener].local.address(), listeners_[listener].local.port())
                                        : std::string{};
}

template <class Socket>
std::uint16_t basic_server<Socket>::port(std::size_t listener) const {
    std::lock_guard lock(accept_mutex_);
    return listener < listeners_.size() ? listeners_[listener].local.port() : 0;
}

template <class Socket>
void basic_server<Socket>::serve(Socket socket) {
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

template <class Socket>
void basic_server<Socket>::shutdown() {
    if (!accept_work_) return;
    asio::post(accept_context_, [this] {
        std::lock_guard lock(accept_mutex_);
        for (auto& l : listeners_) {
            std::error_code ignored;
            l.acceptor->close(ignored);
        }
    });
}

template <class Socket>
void basic_server<Socket>::close_all(std::error_code reason) {
    pool_.close_all(reason);
}

template <class Socket>
void basic_server<Socket>::wait() {
    pool_.wait();
}

template <class Socket>
bool basic_server<Socket>::wait_for_ms(std::chrono::milliseconds timeout) {
    return pool_.wait_for(timeout);
}

template <class Socket>
void basic_server<Socket>::stop() {
    stop_after(std::chrono::milliseconds(0));
}

template <class Socket>
void basic_server<Socket>::stop_accepting() {
    shutdown();
    if (accept_work_) {
        // Wait for the close: a connection accepted before it is launched before it, and so
        // is among those close_all ends.
        std::promise<void> closed;
        asio::post(accept_context_, [&closed] { closed.set_value(); });
        closed.get_future().wait();
        accept_work_.reset();
    }
}

template <class Socket>
void basic_server<Socket>::drain_for(std::chrono::milliseconds deadline, std::string other_url) {
    stop_accepting();
    state_->log.log(log_level::info, 0, "server", {}, "draining {} connections{}{}", connection_count(),
                    other_url.empty() ? "" : " to ", other_url);
    pool_.reconnect_all(std::move(other_url));
    if (!wait_for_ms(deadline)) {
        close_all(error::drained);
        wait();
    }
}

template <class Socket>
void basic_server<Socket>::stop_after(std::chrono::milliseconds grace) {
    stop_accepting();
    if (!wait_for_ms(grace)) {
        close_all(error::shutdown);
        wait();
    }
    accept_context_.stop();
    if (acceptor_thread_.joinable()) acceptor_thread_.join();
    pool_.join();
}

template <class Socket>
server_statistics basic_server<Socket>::statistics() const {
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

template <class Socket>
std::size_t basic_server<Socket>::connection_count() const {
    return pool_.live();
}

template <class Socket>
std::string basic_server<Socket>::host_port(const asio::ip::address& addr, std::uint16_t port) {
    return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), port) : fmt::format("{}:{}", addr.to_string(), port);
}

template <class Socket>
std::string basic_server<Socket>::describe(const listener& l) {
    return l.scheme + "://" + host_port(l.local.address(), l.local.port());
}

template <class Socket>
bool basic_server<Socket>::parse_address(std::string_view text, asio::ip::tcp::endpoint& out) {
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

template <class Socket>
template <class S>
std::string basic_server<Socket>::describe_peer(const S& socket) {
    std::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return "unknown";
    if constexpr (requires { ep.address(); ep.port(); }) {
        return host_port(ep.address(), ep.port());
    } else {
        return "local";
    }
}

template <class Socket>
template <class Transport>
asio::awaitable<void> basic_server<Socket>::accept_loop(asio::ip::tcp::acceptor& acceptor, Transport transport) {
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

template <class Socket>
template <class Stream>
void basic_server<Socket>::launch(const std::shared_ptr<driver::executor_pool::slot>& slot, Stream stream) {
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
    auto control = [weak](const driver::executor_pool::request& r) {
        auto s = weak.lock();
        if (!s) return;
        asio::dispatch(s->stream().get_executor(), [s, r] {
            if (r.reconnect)
                s->logic().request_reconnect(r.reconnect_url);
            else
                s->logic().close(r.close);
        });
    };
    pool_.launch(slot, std::move(control), [&](asio::io_context&) {
        // The completion handler owns the session until it has finished.
        asio::co_spawn(session->stream().get_executor(), session->run(), [this, state = state_, id, session, slot](std::exception_ptr e) mutable {
            session.reset();
            pool_.finished(slot);
            if (e) detail::log_handler_exception(state->log, id, "session", "a connection", e);
        });
    });
}

#if defined(RTMPX_SEPARATE_COMPILATION)
#if defined(RTMPX_SOURCE)
template class basic_server<asio::ip::tcp::socket>;
#else
extern template class basic_server<asio::ip::tcp::socket>;
#endif
#endif

RTMPX_NAMESPACE_END
