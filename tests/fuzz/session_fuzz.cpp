// SPDX-License-Identifier: MIT
// Fuzz target: whole sessions of one long-lived server, each input being what a client sends.
//
// Input: the client-to-server bytes from C0 on (the seed corpus holds recorded sessions, so a
// valid handshake prefix comes from there). Each input gets a fresh local socket pair; the server
// serves one end, the input is written to the other, whose write side is then shut down, and
// whatever the server sends is read until it closes. The server is created once, so a crash, a
// leak or a connection that never ends shows up in whichever input caused it.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>

#include <rtmpx/server.hpp>

#include "fuzz_common.hpp"

namespace {

using local_socket = asio::local::stream_protocol::socket;
using local_server = rtmpx::basic_server<local_socket>;
using local_connection = rtmpx::basic_connection<local_socket>;
using local_stream = rtmpx::basic_stream<local_socket>;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

rtmpx::server_options fuzz_options() {
    rtmpx::server_options o;
    o.timeouts.handshake = 1s;
    o.timeouts.connect = 1s;
    o.timeouts.idle = 1s;
    o.timeouts.call = 1s;
    o.timeouts.write = 1s;
    o.timeouts.ping = 50ms;  // so that pings go out (and their answers matter) within a session
    o.default_render_rate = 200;
    return o;
}

// The handlers a small render server would have: app "live", streams of raw frames, a few calls.
void install_handlers(local_server& server) {
    server.install([](local_connection& c, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        c.on_stream([](local_stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            s.on_frame([n = 0u](local_stream&, rtmpx::encoded_frame& out, bool queue_full) mutable {
                if (queue_full) return true;  // skip a frame
                const bool key = n % 8 == 0;
                out.data = {std::byte(key ? 0x17 : 0x27), std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0},
                            std::byte(n & 0xff)};
                out.key_frame = key;
                ++n;
                return true;
            });
            s.on_render([](local_stream&) { return true; });
            s.on_pause([](local_stream&, const rtmpx::pause_event&) { return true; });
            s.on_play([](local_stream&, rtmpx::play_event& pe) {
                if (pe.stream_name == "refused") return false;
                if (pe.is_start) pe.video_data.data = {std::byte{0x17}, std::byte{0}};
                return true;
            });
            return true;
        });
        c.on_call("echo", [](local_connection&, const rtmpx::call_event& call, rtmpx::amf0::value& out) {
            out = call.arguments.empty() ? rtmpx::amf0::value::null() : call.arguments[0];
            return true;
        });
        c.on_call("fail", [](local_connection&, const rtmpx::call_event&, rtmpx::amf0::value& out) {
            out = rtmpx::status_info("error", "Fuzz.Failed", "asked to fail");
            return false;
        });
        // Any other procedure: ask the client back and answer with its first value.
        c.on_call([](local_connection& conn, const rtmpx::call_event& call,
                     rtmpx::amf0::value& out) -> asio::awaitable<bool> {
            // (named locals: GCC 12 rejects a string literal argument inside a coroutine lambda)
            std::string name = "ask";
            std::vector<rtmpx::amf0::value> args{rtmpx::amf0::value(call.procedure)};
            auto answer = co_await conn.call_with_timeout(std::move(name), std::move(args), 300ms);
            if (answer.error || !answer.ok) co_return false;
            out = answer.values.empty() ? rtmpx::amf0::value::null() : answer.values[0];
            co_return true;
        });
        return true;
    });
}

// RTMPX_FUZZ_VERBOSE=1 prints the server's log and what each input got back.
const bool verbose = std::getenv("RTMPX_FUZZ_VERBOSE") != nullptr;

local_server& server() {
    // Constructed on first use; its destructor (stop: end every connection, join every thread)
    // runs at exit, before the leak checker looks.
    static local_server instance(fuzz_options());
    static const bool installed = [] {
        install_handlers(instance);
        // Every record is formatted (that code runs too) but printed only when verbose.
        instance.set_logger(
            [](const rtmpx::log_record& r) {
                if (verbose)
                    std::fprintf(stderr, "[%llu %.*s] %.*s\n", static_cast<unsigned long long>(r.connection_id),
                                 static_cast<int>(r.category.size()), r.category.data(),
                                 static_cast<int>(r.message.size()), r.message.data());
            },
            rtmpx::log_level::trace);
        return true;
    }();
    (void)installed;
    return instance;
}

asio::io_context& client_context() {
    static asio::io_context io;
    return io;
}

int remaining_ms(clock_type::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Reads what is there without blocking; false once the server has closed its side.
bool drain(int fd, std::size_t& received) {
    std::byte buf[16384];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            received += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (n < 0 && errno == EINTR) continue;
        return false;  // end of stream or an error (a reset)
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    local_server& srv = server();

    local_socket client(client_context());
    local_socket server_end(client_context());
    asio::local::connect_pair(client, server_end);
    srv.serve(std::move(server_end));
    const int fd = client.native_handle();

    // Write the input while reading whatever comes back, so neither side can block the other.
    const auto deadline = clock_type::now() + 100ms;
    std::size_t written = 0;
    std::size_t received = 0;
    bool open = true;
    while (written < size && open) {
        pollfd pfd{fd, POLLIN | POLLOUT, 0};
        if (::poll(&pfd, 1, remaining_ms(deadline)) <= 0) break;
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) open = drain(fd, received);
        if (open && (pfd.revents & POLLOUT) != 0) {
            const ssize_t n = ::send(fd, data + written, size - written, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                written += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                break;  // the server closed first
            }
        }
    }
    ::shutdown(fd, SHUT_WR);

    // Read until the server closes (the end of our input ends its session) or the time is up.
    while (open) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, remaining_ms(deadline)) <= 0) break;
        open = drain(fd, received);
    }
    std::error_code ignored;
    client.close(ignored);
    if (verbose)
        std::fprintf(stderr, "session_fuzz: wrote %zu of %zu bytes, received %zu, server %s\n", written, size,
                     received, open ? "still open after 100 ms" : "closed");

    // Every connection must end soon after its client has gone; one that does not is a hang.
    if (!srv.wait_for(5s)) {
        std::fprintf(stderr, "session_fuzz: a connection is still running 5 s after its client closed\n");
        std::abort();
    }
    return 0;
}
