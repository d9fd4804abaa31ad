// SPDX-License-Identifier: MIT
// codec_server: the rendered scene in the codec named on the command line ("h264", "screen video",
// "sorenson", "av1", ...: whatever this build's codec registry has), one encoding for every player;
// or in several, best first ("av1,h264"): each player gets the best one it declared.
// Try it: ./codec_server sorenson [HOST:PORT], then ffplay rtmp://127.0.0.1:1935/codec/scene
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

#include "demo_scene.hpp"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fmt::print(stderr, "usage: {} CODEC[,CODEC...] [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string codec = argv[1];
    std::vector<std::string> codecs;  // "av1,h264": best first
    for (std::size_t at = 0; at <= codec.size();) {
        const std::size_t comma = std::min(codec.find(',', at), codec.size());
        codecs.push_back(codec.substr(at, comma - at));
        at = comma + 1;
    }
    const std::string address = argc == 3 ? argv[2] : "127.0.0.1:1935";

    rtmpx::server server;
    auto show = std::make_shared<rtmpx::broadcast>();
    if (!show->use_codecs(codecs, server.codecs())) {
        fmt::print(stderr, "no codec '{}' in this build (the registry has:", codec);
        for (const auto& name : server.codecs().names()) fmt::print(stderr, " '{}'", name);
        fmt::print(stderr, ")\n");
        return 1;
    }
    auto scene = std::make_shared<demo::scene>(640, 360);
    show->on_render([scene](rtmpx::broadcast&) {
        scene->render();
        return true;
    });
    show->on_frame([scene](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) {
        return !b.codec()->encode(scene->latest().view(), out);
    });
    server.install([show](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "codec") return false;
        conn.on_stream([show](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
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
    show->start();
    // Ctrl-C (or SIGTERM) stops the server; set up before the URL goes out, so that whoever
    // reads the URL may stop it at once.
    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    fmt::print("rtmp://{}/codec/scene\n", server.listen_address());
    if (show->codecs().back()->fourcc() != 0) {
        // An Enhanced RTMP codec goes only to players that list it in their connect (fourCcList).
        fmt::print("watch it with a player that declares '{}' in its connect (Enhanced RTMP); others are told why not.\n", codec);
    } else {
        fmt::print("watch it with: ffplay rtmp://{}/codec/scene   ({}; Ctrl-C stops the server)\n", server.listen_address(), codec);
    }
    std::fflush(stdout);

    signals_context.run();
    server.stop(std::chrono::seconds(1));
    show->stop();
    return 0;
}
