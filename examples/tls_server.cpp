// SPDX-License-Identifier: MIT
// tls_server: the rendered scene over RTMPS (TLS). SIGHUP reloads the certificate and key from
// the same files: players that connect afterwards get the new ones, the others play on.
// Try it with a self-signed certificate for 127.0.0.1, made by
//   openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1
//           -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem   (one line)
// then ./tls_server cert.pem key.pem 127.0.0.1:1936 and ffplay rtmps://127.0.0.1:1936/live/demo
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>
#include <rtmpx/tls.hpp>

#include "demo_scene.hpp"

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        fmt::print(stderr, "usage: {} CERT.pem KEY.pem [HOST:PORT]   (default 127.0.0.1:1936; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string cert = argv[1], key = argv[2];
    const std::string address = argc == 4 ? argv[3] : "127.0.0.1:1936";

    std::error_code ec;
    auto certificate = rtmpx::tls_certificate::load(cert, key, ec);
    if (ec) {
        fmt::print(stderr, "cannot load {} and {}: {}\n", cert, key, ec.message());
        return 1;
    }

    // One picture, rendered and encoded once for every player.
    auto scene = std::make_shared<demo::scene>(640, 360);
    auto show = std::make_shared<rtmpx::broadcast>();
    rtmpx::server server;
    if (!show->use_codec("h264", server.codecs())) return 1;
    show->on_render([scene](rtmpx::broadcast&) {
        scene->render();
        return true;
    });
    show->on_frame([scene](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) {
        return !b.codec()->encode(scene->latest().view(), out);
    });
    server.install([show](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([show](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
            return true;
        });
        return true;
    });
    show->start();

    server.start(address, rtmpx::tls_listener(certificate), ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    fmt::print("rtmps://{}/live/demo\n", server.listen_address());
    fmt::print("watch it with: ffplay rtmps://{}/live/demo   (Ctrl-C stops the server; SIGHUP reloads the certificate)\n",
               server.listen_address());
    std::fflush(stdout);

    asio::io_context main_context;
    asio::signal_set reload(main_context, SIGHUP);
    std::function<void(std::error_code, int)> on_hup = [&](std::error_code e, int) {
        if (e) return;
        std::error_code rec;
        certificate->reload(cert, key, rec);
        fmt::print(stderr, "certificate reloaded: {}\n", rec ? rec.message() : "ok");
        reload.async_wait(on_hup);
    };
    reload.async_wait(on_hup);
    asio::signal_set stop(main_context, SIGINT, SIGTERM);
    stop.async_wait([&](std::error_code, int) { main_context.stop(); });
    main_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    show->stop();
    return 0;
}
