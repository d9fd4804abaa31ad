// SPDX-License-Identifier: MIT
// A consumer of rtmpx: the smallest render server. Built two ways by the consumer tests: as a
// Meson project that pulls rtmpx in as a subproject, and from the single header alone.
// Usage: consumer_server [HOST:PORT]   (default 127.0.0.1:0, any free port)
// The first line on stdout is the stream URL; SIGINT or SIGTERM stops the server.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:0";

    rtmpx::server server;
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
#if defined(RTMPX_WITH_OPENH264)
            if (!s.use_codec("h264")) return false;
            s.on_frame([](rtmpx::stream& st, rtmpx::encoded_frame& out, bool queue_full) {  // frame thread
                if (queue_full) return true;
                rtmpx::canvas picture(160, 120);
                picture.fill(32, 96, 224);
                return !st.codec()->encode(picture.view(), out);
            });
            return true;
#else
            (void)s;
            return false;  // no encoder built in: refuse the stream
#endif
        });
        return true;
    });

    std::error_code ec;
    server.start(address, ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    fmt::print("rtmp://{}/live/consumer\n", server.listen_address());
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
