// SPDX-License-Identifier: MIT
// broadcast: one picture rendered and encoded once, whatever the number of players; connections
// share a pool of two threads. A player that joins starts at once from the last key frame.
// Try it: ./broadcast [HOST:PORT], then several of: ffplay rtmp://127.0.0.1:1935/live/show
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#include "demo_scene.hpp"

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";
    rtmpx::server_options options;
    options.threads = 2;  // every connection pinned to one of two threads
    rtmpx::server server(options);

    // The producer: render and encode on the broadcast's own thread, 30 times a second.
    auto scene = std::make_shared<demo::scene>(640, 360);
    auto show = std::make_shared<rtmpx::broadcast>();
    if (!show->use_codec("h264", server.codecs())) return 1;
    show->on_render([scene](rtmpx::broadcast&) {
        scene->render();
        return true;
    });
    show->on_frame([scene](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) {
        return !b.codec()->encode(scene->latest().view(), out);
    });

    // Every stream of app "live" plays it.
    server.install([show](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([show](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
            return true;
        });
        return true;
    });

    std::error_code ec;
    server.start(address, ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    show->start();
    fmt::print("rtmp://{}/live/show\n", server.listen_address());
    fmt::print("watch it with: ffplay rtmp://{}/live/show   (Ctrl-C stops the server)\n", server.listen_address());
    std::fflush(stdout);

    asio::io_context main_context;
    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    main_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    show->stop();
    fmt::print("{} frames encoded once for every player\n", show->frames());
    return 0;
}
