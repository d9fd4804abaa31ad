// SPDX-License-Identifier: MIT
// screen_video: a bar moving over a flat background, in lossless Flash Screen Video; after the
// first frame only the blocks the bar crossed are sent again. Needs rtmpx built with zlib.
// Try it: ./screen_video [HOST:PORT], then ffplay rtmp://127.0.0.1:1935/screen/bar
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#if !defined(RTMPX_WITH_ZLIB)
int main(int, char** argv) {
    fmt::print(stderr, "{}: screen video needs rtmpx built with zlib (RTMPX_WITH_ZLIB)\n", argv[0]);
    return 1;
}
#else
int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";

    rtmpx::server server;
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "screen") return false;
        conn.on_stream([](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!s.use_codec("screen video")) return false;
            // No render handler: the picture is cheap enough to draw on the frame thread.
            s.on_frame([](rtmpx::stream& st, rtmpx::encoded_frame& out, bool queue_full) {
                if (queue_full) return true;
                constexpr std::uint32_t width = 640, height = 360, bar = 40;
                const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
                const auto left = static_cast<std::uint32_t>(ms / 8 % (width - bar));  // 125 pixels a second
                rtmpx::canvas picture(width, height);
                picture.fill(24, 32, 48);
                for (std::uint32_t y = 0; y < height; ++y)
                    for (std::uint32_t x = left; x < left + bar; ++x) picture.set_pixel(x, y, 255, 160, 0);
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
    fmt::print("rtmp://{}/screen/bar\n", server.listen_address());
    fmt::print("watch it with: ffplay rtmp://{}/screen/bar   (Ctrl-C stops the server)\n", server.listen_address());
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
#endif
