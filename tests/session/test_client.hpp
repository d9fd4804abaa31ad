// SPDX-License-Identifier: MIT
// A blocking RTMP client for session tests, on the library's own sans-I/O core, over a local socket.
#pragma once

#include <poll.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <rtmpx/detail/chunk_reader.hpp>
#include <rtmpx/detail/chunk_writer.hpp>
#include <rtmpx/messages.hpp>
#include <rtmpx/server.hpp>

namespace rtmpx_test {

using local_socket = asio::local::stream_protocol::socket;
using local_server = rtmpx::basic_server<local_socket>;
using local_connection = rtmpx::basic_connection<local_socket>;
using local_stream = rtmpx::basic_stream<local_socket>;

/// One client end of a socket pair whose other end a server serves.
class test_client {
public:
    explicit test_client(local_server& server) : socket_(io_) {
        local_socket server_end(io_);
        asio::local::connect_pair(socket_, server_end);
        server.serve(std::move(server_end));
    }

    /// The simple handshake: C0+C1 with zero version bytes, then C2 echoing S1.
    void handshake() {
        std::vector<std::byte> c0c1(1537, std::byte{0});
        c0c1[0] = std::byte{3};
        for (std::size_t i = 9; i < c0c1.size(); ++i) c0c1[i] = std::byte(i * 7 & 0xff);
        write_raw(c0c1);
        std::vector<std::byte> s(3073);
        asio::read(socket_, asio::buffer(s));
        write_raw(std::vector<std::byte>(s.begin() + 1, s.begin() + 1537));  // C2 = S1
        s0s1s2 = std::move(s);
    }

    void write_raw(const std::vector<std::byte>& bytes) { asio::write(socket_, asio::buffer(bytes)); }

    void send(const rtmpx::message& m) {
        rtmpx::detail::chunked_output out;
        writer_.write(m.header, m.payload, out);
        write_raw(out.flatten());
    }

    void send(const rtmpx::command& c, std::uint32_t stream_id = 0) {
        send(rtmpx::to_message(c, stream_id, stream_id == 0 ? 3 : 8));
    }

    /// connect to `app`, with optional extra user arguments.
    void connect(const std::string& app, std::vector<rtmpx::amf0::value> args = {}) {
        send(rtmpx::command{"connect", 1,
                            rtmpx::amf0::value::object({{"app", app},
                                                        {"flashVer", "LNX 9,0,124,2"},
                                                        {"tcUrl", "rtmp://127.0.0.1/" + app},
                                                        {"objectEncoding", 0}}),
                            std::move(args)});
    }

    /// The next message, or nothing when the server closed the connection.
    std::optional<rtmpx::message> next() {
        for (;;) {
            if (pending_.size() > used_) {
                std::error_code ec;
                used_ += reader_.put(std::span<const std::byte>(pending_).subspan(used_), ec);
                if (ec) return std::nullopt;
                if (reader_.has_message()) return reader_.take_message();
            }
            pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used_));
            used_ = 0;
            // Wait at most a few seconds, so that a server that never answers fails the test.
            pollfd pfd{socket_.native_handle(), POLLIN, 0};
            if (::poll(&pfd, 1, read_timeout_ms) <= 0) {
                timed_out = true;
                return std::nullopt;
            }
            std::byte buf[8192];
            std::error_code ec;
            const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
            if (ec) return std::nullopt;
            pending_.insert(pending_.end(), buf, buf + n);
        }
    }

    /// The next command (skipping other messages), or nothing at the end.
    std::optional<rtmpx::command> next_command() {
        while (auto m = next()) {
            if (m->header.type != rtmpx::message_type::command_amf0) continue;
            std::error_code ec;
            auto d = rtmpx::decode_message(std::move(*m), ec);
            if (!ec) return std::get<rtmpx::command>(std::move(d));
        }
        return std::nullopt;
    }

    /// Reads and decodes messages until `pred` is true for one; returns it.
    template <class Pred>
    std::optional<rtmpx::decoded_message> wait_for(Pred pred, rtmpx::message_header* header = nullptr) {
        while (auto m = next()) {
            const auto h = m->header;
            std::error_code ec;
            auto d = rtmpx::decode_message(std::move(*m), ec);
            if (ec) continue;
            if (pred(d, h)) {
                if (header) *header = h;
                return d;
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

    void close() {
        std::error_code ignored;
        socket_.close(ignored);
    }

    std::vector<std::byte> s0s1s2;
    bool timed_out = false;  ///< the last `next` gave up waiting
    int read_timeout_ms = 5000;

private:
    asio::io_context io_;
    local_socket socket_;
    rtmpx::detail::chunk_writer writer_{128};
    rtmpx::detail::chunk_reader reader_{[] {
        rtmpx::chunk_limits l;
        l.max_chunk_size = 1 << 20;
        l.max_message_size = 16 << 20;
        return l;
    }()};
    std::vector<std::byte> pending_;
    std::size_t used_ = 0;
};

inline bool is_command(const rtmpx::decoded_message& d, std::string_view name) {
    const auto* c = std::get_if<rtmpx::command>(&d);
    return c && c->name == name;
}

inline std::string status_code(const rtmpx::decoded_message& d) {
    const auto* c = std::get_if<rtmpx::command>(&d);
    if (!c || c->name != "onStatus" || c->arguments.empty()) return {};
    return std::string(c->arguments[0]["code"].as_string());
}

} // namespace rtmpx_test
