// SPDX-License-Identifier: MIT
// A blocking RTMP client for session tests and benchmarks: the library's client session over a local socket.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>

#include <rtmpx/protocol/client_session.hpp>
#include <rtmpx/server.hpp>

namespace rtmpx_test {

using local_socket = asio::local::stream_protocol::socket;
using local_server = rtmpx::basic_server<local_socket>;

/// One message from the server, decoded.
struct received {
    rtmpx::protocol::message_header header;
    rtmpx::protocol::decoded_message body;
};

/**
 * One client end of a socket pair whose other end a server serves. The handshake, chunking,
 * acknowledgements and ping answers are the client session's; what the server sends is kept in
 * order for the test to look at. Raw bytes (`write_raw`) bypass the session, for tests of broken
 * input.
 */
class test_client {
public:
    /// `enhanced`: its connect declares what rtmpx's client declares (every codec, reconnect
    /// requests, ...); false: nothing, as a legacy player.
    explicit test_client(local_server& server, bool enhanced = true) : socket_(io_), session_(*this, options(enhanced), now(), 7) {
        local_socket server_end(io_);
        asio::local::connect_pair(socket_, server_end);
        server.serve(std::move(server_end));
    }

    /// The plain handshake: C0+C1, then C2 echoing S1 once S0 S1 S2 are in.
    void handshake() {
        flush();
        while (!session_.handshake_done() && read_once(read_timeout_ms)) {
        }
        flush();
    }

    /// The version byte of the server's S0.
    std::uint8_t server_version() const noexcept { return session_.server_version(); }

    void write_raw(std::span<const std::byte> bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }

    void send(const rtmpx::protocol::message& m) {
        session_.send(m);
        flush();
    }

    void send(const rtmpx::protocol::command& c, std::uint32_t stream_id = 0) {
        session_.send(c, stream_id);
        flush();
    }

    /// `connect` to `app` (transaction id 1), with optional extra user arguments.
    void connect(const std::string& app, std::vector<rtmpx::amf0::value> args = {}) {
        session_.connect(app, "rtmp://127.0.0.1/" + app, now(), {}, std::move(args));
        flush();
    }

    /// Handshake, connect to `app`, createStream; returns the stream id (0 on failure).
    std::uint32_t open_stream(const std::string& app) {
        handshake();
        connect(app);
        if (!wait_command("_result")) return 0;
        send(rtmpx::protocol::command{"createStream", 2, rtmpx::amf0::value::null(), {}});
        auto created = wait_command("_result");
        if (!created || created->arguments.empty()) return 0;
        return static_cast<std::uint32_t>(created->arguments[0].as_number());
    }

    void play(std::uint32_t stream_id, std::string_view name) {
        send(rtmpx::protocol::command{"play", 3, rtmpx::amf0::value::null(), {rtmpx::amf0::value(name)}}, stream_id);
    }

    /// The next message, or nothing when the server closed the connection (or `timeout_ms` passed).
    std::optional<received> next(int timeout_ms = -1) {
        if (timeout_ms < 0) timeout_ms = read_timeout_ms;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (inbox_.empty()) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
            if ((left <= 0 || !read_once(static_cast<int>(left))) && inbox_.empty()) return std::nullopt;
        }
        received r = std::move(inbox_.front());
        inbox_.pop_front();
        return r;
    }

    /// The next command (skipping other messages), or nothing at the end.
    std::optional<rtmpx::protocol::command> next_command() {
        while (auto r = next())
            if (auto* c = std::get_if<rtmpx::protocol::command>(&r->body)) return std::move(*c);
        return std::nullopt;
    }

    /// The next command named `name`, skipping other messages.
    std::optional<rtmpx::protocol::command> wait_command(std::string_view name) {
        while (auto c = next_command())
            if (c->name == name) return c;
        return std::nullopt;
    }

    /// Reads messages until `pred(decoded, header)` is true for one; returns it.
    template <class Pred>
    std::optional<rtmpx::protocol::decoded_message> wait_for(Pred pred, rtmpx::protocol::message_header* header = nullptr) {
        while (auto r = next()) {
            if (pred(r->body, r->header)) {
                if (header) *header = r->header;
                return std::move(r->body);
            }
        }
        return std::nullopt;
    }

    /// True when the server closes the connection within the reads (no more messages).
    bool closed_by_server() {
        while (next()) {
        }
        return true;
    }

    /// One non-blocking read of what the socket holds; every message goes to `f(received&)`.
    /// False when the connection ended or the stream was malformed.
    template <class F>
    bool read_ready(F&& f) {
        const bool open = read_some(MSG_DONTWAIT);
        while (!inbox_.empty()) {
            f(inbox_.front());
            inbox_.pop_front();
        }
        return open;
    }

    int fd() { return socket_.native_handle(); }

    void close() {
        std::error_code ignored;
        socket_.close(ignored);
    }

    /// Half-closes: the server reads the end of the stream, the client can still read.
    void shutdown_send() {
        std::error_code ignored;
        socket_.shutdown(local_socket::shutdown_send, ignored);
    }

    bool timed_out = false;  ///< the last read gave up waiting
    int read_timeout_ms = 5000;

private:
    template <class H>
    friend class rtmpx::protocol::client_session;

    static rtmpx::protocol::client_options options(bool enhanced) {
        rtmpx::protocol::client_options o;
        if (!enhanced) o.enhanced = {};
        o.chunks.max_message_size = 16 << 20;
        o.chunk_size = 128;     // no Set Chunk Size: tests write raw chunks at 128
        o.window_ack_size = 0;  // and send no window of their own
        return o;
    }
    static rtmpx::protocol::time_point now() { return std::chrono::steady_clock::now(); }

    void on_message(const rtmpx::protocol::message_header& h, rtmpx::protocol::decoded_message& d) {
        inbox_.push_back({h, std::move(d)});
    }

    // Writes what the session has queued (acknowledgements and ping answers included).
    void flush() {
        auto& out = session_.output();
        if (!out.has_pending() || !socket_.is_open()) return;
        const auto bytes = out.begin_write().flatten();
        out.end_write();
        std::error_code ec;
        asio::write(socket_, asio::buffer(bytes), ec);
    }

    // Waits up to `timeout_ms` for input and feeds it to the session; false at the end.
    bool read_once(int timeout_ms) {
        pollfd pfd{fd(), POLLIN, 0};
        if (::poll(&pfd, 1, timeout_ms) <= 0) {
            timed_out = true;
            return false;
        }
        return read_some(0);
    }

    bool read_some(int flags) {
        const ssize_t n = ::recv(fd(), rbuf_.data(), rbuf_.size(), flags);
        if (n == 0) return false;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        pending_.insert(pending_.end(), rbuf_.begin(), rbuf_.begin() + n);
        const std::size_t used = session_.put(pending_, now());
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
        flush();
        return true;  // the end is the server's to say: a closing session just reads nothing more
    }

    asio::io_context io_;
    local_socket socket_;
    rtmpx::protocol::client_session<test_client> session_;
    std::vector<std::byte> rbuf_ = std::vector<std::byte>(1 << 16);
    std::vector<std::byte> pending_;
    std::deque<received> inbox_;
};

inline bool is_command(const rtmpx::protocol::decoded_message& d, std::string_view name) {
    const auto* c = std::get_if<rtmpx::protocol::command>(&d);
    return c && c->name == name;
}

inline std::string status_code(const rtmpx::protocol::decoded_message& d) {
    const auto* c = std::get_if<rtmpx::protocol::command>(&d);
    if (!c || c->name != "onStatus" || c->arguments.empty()) return {};
    return std::string(c->arguments[0]["code"].as_string());
}

} // namespace rtmpx_test
