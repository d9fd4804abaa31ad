// SPDX-License-Identifier: MIT
// The compile-time floor: a C++20 coroutine TCP echo server on standalone Asio, as small as such
// a server gets. compile_time.sh compiles it beside the README's quick start; rtmpx cannot
// compile faster than the Asio it is built on.
#include <cstddef>
#include <exception>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace {

asio::awaitable<void> echo(asio::ip::tcp::socket socket) {
    char data[4096];
    for (;;) {
        const std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
        co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
}

asio::awaitable<void> listen(asio::ip::tcp::acceptor& acceptor) {
    for (;;) {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), [](std::exception_ptr) {});
    }
}

} // namespace

int main() {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(io, listen(acceptor), [](std::exception_ptr) {});
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, auto) { io.stop(); });
    io.run();
}
