// SPDX-License-Identifier: MIT
// record_publish: every stream published to app "live" is recorded to NAME.flv in the current
// directory, through a media handler that sees each audio, video and data message.
// Try it: ./record_publish [HOST:PORT], then
//   ffmpeg -re -f lavfi -i testsrc2=duration=10 -f lavfi -i sine=duration=10 -c:v libx264 -c:a aac -f flv rtmp://127.0.0.1:1935/live/take1
// and, once it ends: ffprobe take1.flv
#include <csignal>
#include <cstdio>
#include <memory>
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
    rtmpx::server server;
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            auto file = std::make_shared<rtmpx::flv_file>();
            s.on_publish([file](rtmpx::stream&, rtmpx::publish_event& pe) {
                std::error_code ec;
                if (!pe.is_start) {
                    file->close(ec);
                    fmt::print("{}.flv: {:.1f} s{}\n", pe.stream_name, file->duration_ms() / 1000.0,
                               ec ? ", " + ec.message() : "");
                    std::fflush(stdout);
                    return true;
                }
                if (pe.stream_name.find('/') != std::string_view::npos || pe.stream_name.starts_with(".")) return false;
                file->open(std::string(pe.stream_name) + ".flv", ec);
                return !ec;
            });
            s.on_media([file](rtmpx::stream& st, const rtmpx::media_event& me) {
                std::error_code ec;
                file->write(me, ec);
                if (ec) st.connection().close(ec);  // the disk is full, ...: the publisher learns at once
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
    fmt::print("rtmp://{}/live/take1\n", server.listen_address());
    fmt::print("publish to it with ffmpeg or OBS; each publish is recorded to NAME.flv. Ctrl-C stops\n");
    std::fflush(stdout);

    asio::io_context main_context;
    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    main_context.run();
    server.stop(std::chrono::seconds(1));
    return 0;
}
