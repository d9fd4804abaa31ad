// SPDX-License-Identifier: MIT
// render_server: streams a rendered, animated picture as H.264 to any RTMP player, and answers
// remote calls: echo(args...) returns its arguments, setColor(r, g, b) recolours the square.
// Try it: ./render_server [HOST:PORT], then ffplay rtmp://127.0.0.1:1935/live/demo
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#include "demo_scene.hpp"

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";
    auto scene = std::make_shared<demo::scene>(640, 360);  // one picture, rendered for every player

    rtmpx::server server;
    server.install([scene](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;               // the connection ended
        if (e.command.app != "live") return false;   // not ours: let another handler decide
        conn.on_call("echo", [](rtmpx::connection&, const rtmpx::call_event& call, rtmpx::amf0::value& out) {
            out = rtmpx::amf0::value::strict_array(call.arguments);
            return true;
        });
        conn.on_call("setColor", [scene](rtmpx::connection&, const rtmpx::call_event& call, rtmpx::amf0::value& out) {
            if (call.arguments.size() != 3) return false;  // the client gets an _error
            auto c = [&](int i) { return static_cast<std::uint8_t>(std::clamp(call.arguments[i].as_number(), 0.0, 255.0)); };
            scene->set_color(c(0), c(1), c(2));
            out = "ok";
            return true;
        });
        conn.on_stream([scene](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            // the encoder made ready for the scene's size now, so the first frame after play is quick
            if (!s.use_codec("h264", 640, 360)) return false;
            s.on_render([scene](rtmpx::stream&) {  // connection thread, at the render rate
                scene->render();
                return true;
            });
            s.on_frame([scene](rtmpx::stream& st, rtmpx::encoded_frame& out, bool queue_full) {  // frame thread
                if (queue_full) return true;  // the player is behind: skip this frame
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
    fmt::print("watch it with: ffplay rtmp://{}/live/demo   (Ctrl-C stops the server)\n", server.listen_address());
    std::fflush(stdout);

    asio::io_context main_context;
    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    asio::steady_timer status_timer(main_context);
    signals.async_wait([&](const std::error_code&, int) { status_timer.cancel(); });
    // On a terminal, a status line refreshed each second, from the server's statistics.
    rtmpx::server_statistics last;
    std::function<void(std::error_code)> status = [&](std::error_code ec) {
        if (ec) return;
        const auto now = server.statistics();
        fmt::print(stderr, "\r{} playing | {} frames/s | {} kb/s | {} dropped   ", now.playing_streams,
                   now.frames_sent - last.frames_sent, (now.bytes_out - last.bytes_out) * 8 / 1000, now.frames_dropped);
        last = now;
        status_timer.expires_after(std::chrono::seconds(1));
        status_timer.async_wait(status);
    };
    if (::isatty(STDERR_FILENO)) status({});
    main_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
