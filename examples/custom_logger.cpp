// SPDX-License-Identifier: MIT
// custom_logger: a log sink of your own; every record goes to stderr with a timestamp, its level,
// connection id (0: the server itself), category, message and error. rtmpx logs nothing by default.
// Try it: ./custom_logger [HOST:PORT], then ffplay rtmp://127.0.0.1:1935/live/demo and watch stderr
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#include "demo_scene.hpp"

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";
    auto scene = std::make_shared<demo::scene>(640, 360);

    rtmpx::server server;
    // Called from the acceptor, connection and frame threads, possibly at once: one print per
    // record keeps the lines whole, and the sink keeps no state of its own.
    server.set_logger([](const rtmpx::log_record& r) {
        static constexpr const char* levels[] = {"trace", "debug", "info", "warning", "error", "off"};
        const auto now = std::chrono::system_clock::now();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
        fmt::print(stderr, "{:%H:%M:%S}.{:03} {:<7} [{}] {}: {}{}\n",
                   fmt::localtime(std::chrono::system_clock::to_time_t(now)), ms,
                   levels[static_cast<int>(r.level)], r.connection_id, r.category, r.message,
                   r.error ? fmt::format(" (error: {})", r.error.message()) : std::string());
    }, rtmpx::log_level::info);  // records below this level are never even formatted
    server.install([scene](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
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
    });

    std::error_code ec;
    server.start(address, ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    fmt::print("rtmp://{}/live/demo\n", server.listen_address());
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
