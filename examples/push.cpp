// SPDX-License-Identifier: MIT
// push: render a picture and publish it to another server (an nginx-rtmp or SRS origin, a CDN's
// ingest), which carries the fan-out. The publisher comes back by itself when the server goes
// away or stalls, and says so; a refusal that will not change ends it.
// Try it: ./push rtmp://127.0.0.1:1935/live/scene [WIDTHxHEIGHT], then ffplay the same URL
// through the server. Each state change is a line on stdout.
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
    unsigned width = 640, height = 360;
    if (argc < 2 || argc > 3 || (argc == 3 && std::sscanf(argv[2], "%ux%u", &width, &height) != 2)) {
        fmt::print(stderr, "usage: {} rtmp://HOST[:PORT]/APP/KEY [WIDTHxHEIGHT]   (default 640x360)\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    rtmpx::codec_registry codecs;

    // The picture: rendered and encoded once, on the broadcast's own thread.
    auto scene = std::make_shared<demo::scene>(width, height);
    auto show = std::make_shared<rtmpx::broadcast>();
    if (!show->use_codec("h264", codecs)) return 1;
    show->on_render([scene](rtmpx::broadcast&) {
        scene->render();
        return true;
    });
    show->on_frame([scene](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) {
        return !b.codec()->encode(scene->latest().view(), out);
    });

    // The publisher: every state change on a line of its own.
    asio::io_context main_context;
    rtmpx::publisher publisher(show, url);
    publisher.on_state([&main_context](const rtmpx::remote_event& e) {
        switch (e.state) {
        case rtmpx::remote_state::connecting: fmt::print("connecting (reconnects {})\n", e.reconnects); break;
        case rtmpx::remote_state::started: fmt::print("publishing\n"); break;
        case rtmpx::remote_state::retrying:
            fmt::print("retrying in {} ms: {}\n", e.retry_in.count(),
                       !e.refusal.empty() ? e.refusal : e.error ? e.error.message() : "the server closed the connection");
            break;
        case rtmpx::remote_state::failed:
            fmt::print("failed: {}\n", e.refusal.empty() ? e.error.message() : e.refusal);
            main_context.stop();  // nothing more will happen
            break;
        case rtmpx::remote_state::stopped: fmt::print("stopped\n"); break;
        }
        std::fflush(stdout);
    });

    fmt::print("{}\n", url);  // the first line: where it goes
    std::fflush(stdout);
    std::error_code ec;
    publisher.start(ec);
    if (ec) {
        fmt::print(stderr, "cannot publish to {}: {}\n", url, ec.message());
        return 1;
    }
    show->start();

    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    main_context.run();  // returns on SIGINT/SIGTERM, or once the publisher failed
    const bool failed = publisher.state() == rtmpx::remote_state::failed;
    publisher.stop();  // FCUnpublish and deleteStream, then the connection
    show->stop();
    const auto st = publisher.statistics();
    fmt::print("frames sent {}, dropped {}, bytes out {}, reconnects {}, round trip {} us\n", st.frames_sent,
               st.frames_dropped, st.bytes_out, st.reconnects, st.round_trip.count());
    return failed ? 1 : 0;
}
