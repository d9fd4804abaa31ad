// SPDX-License-Identifier: MIT
// multiple_apps: two connect handlers, each claiming its own application ("red", "blue") and
// streaming its own scene; a connect to any other application is refused.
// Try it: ./multiple_apps [HOST:PORT], then ffplay rtmp://127.0.0.1:1935/red/demo (or /blue/demo)
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#include "demo_scene.hpp"

// A connect handler that claims application `app` and streams `scene` on it.
auto claim(std::string app, std::shared_ptr<demo::scene> scene) {
    return [app, scene](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        // Not ours: the next handler decides; when none claims it, the player is refused
        // (NetConnection.Connect.Rejected).
        if (e.command.app != app) return false;
        conn.on_stream([scene](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!s.use_codec("h264")) return false;
            s.on_render([scene](rtmpx::stream&) {
                scene->render();
                return true;
            });
            s.on_frame([scene](rtmpx::stream& st, rtmpx::encoded_frame& out, bool queue_full) {
                if (queue_full) return true;
                return !st.codec()->encode(scene->latest().view(), out);
            });
            return true;
        });
        return true;
    };
}

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";
    auto red = std::make_shared<demo::scene>(640, 360);
    red->set_color(255, 0, 0);
    auto blue = std::make_shared<demo::scene>(640, 360);
    blue->set_color(0, 0, 255);

    rtmpx::server server;
    server.install(claim("red", red));  // handlers are asked in the order they were installed
    server.install(claim("blue", blue));

    std::error_code ec;
    server.start(address, ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    fmt::print("rtmp://{}/red/demo\n", server.listen_address());
    fmt::print("also rtmp://{}/blue/demo; any other application is refused   (Ctrl-C stops the server)\n",
               server.listen_address());
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
