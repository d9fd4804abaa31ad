// SPDX-License-Identifier: MIT
// backpressure: when the player falls behind (outqueue_is_full) the frame handler skips encoding;
// the render handler prints the stream's counters once a second.
// Try it: ./backpressure [HOST:PORT], ffplay rtmp://127.0.0.1:1935/live/demo, Ctrl-Z ffplay a few s, fg
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
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
    auto scene = std::make_shared<demo::scene>(640, 360);

    rtmpx::server_options options;
    options.outqueue_full_bytes = 256 * 1024;  // unsent bytes at which outqueue_is_full turns true
    rtmpx::server server(options);
    server.install([scene](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([scene](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!s.use_codec("h264")) return false;
            auto skipped = std::make_shared<std::atomic<std::uint64_t>>(0);  // counted on the frame thread
            s.on_render([scene, skipped, next = std::chrono::steady_clock::now()](rtmpx::stream& st) mutable {
                scene->render();  // the connection's thread: statistics() may be called here, not from on_frame
                if (const auto now = std::chrono::steady_clock::now(); now >= next) {
                    next = now + std::chrono::seconds(1);
                    fmt::print("stream {}: {} frames sent, {} dropped, {} skipped, {} bytes waiting\n", st.id(),
                               st.frames_sent(), st.frames_dropped(), skipped->load(),
                               st.connection().statistics().queued_bytes);
                    std::fflush(stdout);
                }
                return true;
            });
            s.on_frame([scene, skipped](rtmpx::stream& st, rtmpx::encoded_frame& out, bool queue_full) {
                if (queue_full) {
                    // Encode nothing: the encoder never sees this picture, so the next frame still
                    // decodes (an encoded frame dropped later would break the frames after it).
                    skipped->fetch_add(1);
                    return true;
                }
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
    fmt::print("play it, then suspend the player (Ctrl-Z) for a few seconds (under the 10 s write timeout)\n");
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
