// SPDX-License-Identifier: MIT
// remote_call: players steer what is rendered: setColor(r, g, b) recolours the moving square and
// setSpeed(x) changes its speed (0 stops it), for every player at once.
// Try it: ./remote_call [HOST:PORT], ffplay rtmp://127.0.0.1:1935/live/demo, then call from a client.
#include <algorithm>
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
    auto scene = std::make_shared<demo::scene>(640, 360);  // shared: one player's call changes every picture

    rtmpx::server server;
    server.install([scene](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        // Call handlers run on the connection's thread; the scene locks what it shares.
        conn.on_call("setColor", [scene](rtmpx::connection&, const rtmpx::call_event& call, rtmpx::amf0::value& out) {
            if (call.arguments.size() != 3) return false;  // the client gets an _error
            auto c = [&](int i) {  // clamped to 0..255; NaN or text counts as 0
                const double v = call.arguments[i].as_number();
                return static_cast<std::uint8_t>(v > 0 ? std::min(v, 255.0) : 0);
            };
            scene->set_color(c(0), c(1), c(2));
            out = "ok";
            return true;
        });
        conn.on_call("setSpeed", [scene](rtmpx::connection&, const rtmpx::call_event& call, rtmpx::amf0::value& out) {
            if (call.arguments.size() != 1 || !call.arguments[0].is_number()) return false;
            scene->set_speed(call.arguments[0].as_number());
            out = "ok";
            return true;
        });
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
    const std::string where = server.listen_address();
    fmt::print("rtmp://{}/live/demo\n", where);
    fmt::print("connect to rtmp://{}/live and call setColor(r, g, b) or setSpeed(x), for instance:\n"
               "  tests/interop/rpc_client.py call rtmp://{}/live '[[\"setColor\",[255,0,0]],[\"setSpeed\",[3]]]'\n",
               where, where);
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
