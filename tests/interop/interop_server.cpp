// SPDX-License-Identifier: MIT
// The server the real-player tests run against: app "live" streams 320x240 H.264 at 30/s.
// Prints "rtmp://HOST:PORT" on its first line, then serves until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#include "../../examples/demo_scene.hpp"

int main(int argc, char** argv) {
    const std::string address = argc > 1 ? argv[1] : "127.0.0.1:0";
    rtmpx::server server;
    server.set_logger([](const rtmpx::log_record& r) {
        if (r.level >= rtmpx::log_level::warning) fmt::print(stderr, "[{}] {}: {}\n", r.connection_id, r.category, r.message);
    });
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!s.use_codec("h264")) return false;
            auto scene = std::make_shared<demo::scene>(320, 240);
            s.on_render([scene](rtmpx::stream&) {
                scene->render();
                return true;
            });
            s.on_frame([scene](rtmpx::stream& st, rtmpx::encoded_frame& out, bool) {
                const rtmpx::canvas picture = scene->latest();
                return !st.codec()->encode(picture.view(), out);
            });
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
    fmt::print("rtmp://{}\n", server.listen_address());
    std::fflush(stdout);
    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();
    server.stop(std::chrono::seconds(1));
    return 0;
}
