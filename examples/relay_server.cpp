// SPDX-License-Identifier: MIT
// relay_server: OBS or ffmpeg publishes, any number of players watch, with sound. One relay
// keeps the live names of app "live": what is published as live/NAME, live/NAME plays.
// Try it: ./relay_server [HOST:PORT], then
//   ffmpeg -re -f lavfi -i testsrc2 -f lavfi -i sine -c:v libx264 -c:a aac -f flv rtmp://127.0.0.1:1935/live/stream
// and several of: ffplay rtmp://127.0.0.1:1935/live/stream
#include <csignal>
#include <cstdio>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";
    rtmpx::server_options options;
    options.threads = 2;  // many players: connections share two threads
    rtmpx::server server(options);
    rtmpx::relay relay;
    server.install(relay.app("live"));  // publish and play by name

    std::error_code ec;
    server.start(address, ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    fmt::print("rtmp://{}/live/stream\n", server.listen_address());
    fmt::print("publish to it (OBS: server rtmp://{}/live, key stream), play it with ffplay; Ctrl-C stops\n",
               server.listen_address());
    std::fflush(stdout);

    asio::io_context main_context;
    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    main_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
