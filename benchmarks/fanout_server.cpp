// SPDX-License-Identifier: MIT
// The rtmpx side of the fan-out benchmark: broadcasts an FLV clip, looped at real-time pace, to
// every player of any app and stream name. The clip's video and audio tags are pushed as they are
// (no re-encoding), so the server's work is what is measured. With --relay it reads no clip:
// a publisher (the benchmark's ffmpeg) publishes live/NAME into a relay, and players play it.
// Usage: fanout_server CLIP.flv [--threads N] [--no-gop-cache] [--no-producer-writes] [--tls CERT KEY]
//        fanout_server --relay [--threads N] [--no-gop-cache] [--no-producer-writes] [--tls CERT KEY]
// Prints "port NNNN" once listening on 127.0.0.1 (and, with --tls, "tls-port NNNN" for a second
// listener, RTMPS, on the same server); runs until SIGINT/SIGTERM.
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>
#if defined(RTMPX_BENCH_TLS)
#include <rtmpx/tls.hpp>
#endif

namespace {

std::string tls_cert, tls_key;  // --tls

// Plain RTMP on 127.0.0.1 (port 0), and RTMPS beside it with --tls; prints the ports.
bool listen(rtmpx::server& server) {
    server.start("127.0.0.1:0");
    fmt::print("port {}\n", server.port());
    if (!tls_cert.empty()) {
#if defined(RTMPX_BENCH_TLS)
        server.start("127.0.0.1:0", rtmpx::tls_listener(rtmpx::tls_certificate::load(tls_cert, tls_key)));
        fmt::print("tls-port {}\n", server.port(1));
#else
        fmt::print(stderr, "--tls: built without OpenSSL\n");
        return false;
#endif
    }
    std::fflush(stdout);
    return true;
}

struct flv_tag {
    std::uint8_t type = 0;  // 9 video, 18 script data
    std::uint32_t timestamp = 0;
    std::vector<std::byte> body;
};

// The tags of an FLV file (FLV spec E.2, E.3): a 9-byte header, then tags each followed by
// its size.
std::vector<flv_tag> read_flv(const char* path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<flv_tag> tags;
    auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(file[i])); };
    if (file.size() < 13 || file[0] != 'F' || file[1] != 'L' || file[2] != 'V') return tags;
    for (std::size_t pos = 13; pos + 11 <= file.size();) {
        const std::uint32_t size = byte(pos + 1) << 16 | byte(pos + 2) << 8 | byte(pos + 3);
        if (pos + 11 + size > file.size()) break;
        flv_tag t;
        t.type = static_cast<std::uint8_t>(byte(pos));
        t.timestamp = byte(pos + 7) << 24 | byte(pos + 4) << 16 | byte(pos + 5) << 8 | byte(pos + 6);
        const auto* body = reinterpret_cast<const std::byte*>(file.data() + pos + 11);
        t.body.assign(body, body + size);
        tags.push_back(std::move(t));
        pos += 11 + size + 4;
    }
    return tags;
}

// Pushes the clip's video and audio at the pace of its timestamps, looping; on each loop the
// timestamps go on from where the last one ended.
void replay(rtmpx::broadcast& show, const std::vector<flv_tag>& tags, const std::atomic<bool>& stop) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::uint32_t offset = 0;
    std::uint32_t last = 0;
    for (bool first_loop = true; !stop; first_loop = false) {
        for (const auto& t : tags) {
            if (stop) return;
            if (t.type == 18 && first_loop) {
                std::error_code ec;
                std::vector<rtmpx::amf0::value> values;
                if (rtmpx::amf0::decode_all(t.body, values, ec) && values.size() == 2)
                    show.set_metadata(std::move(values[1]));
            }
            if ((t.type != 9 && t.type != 8) || t.body.size() < 2) continue;
            const bool sequence_header = t.body[1] == std::byte{0};
            if (sequence_header && !first_loop) continue;
            last = offset + t.timestamp;
            std::this_thread::sleep_until(start + std::chrono::milliseconds(last));
            if (t.type == 9) show.push_video_tag(t.body, last);
            else show.push_audio_tag(t.body, last);
        }
        offset = last + 33;
    }
}

void wait_for_signal() {
    asio::io_context main_context;
    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    main_context.run();
}

// --relay: every app's live/NAME is published by one client and played by the others.
int serve_relay(const rtmpx::server_options& options, const rtmpx::broadcast_options& show_options) {
    rtmpx::relay_options relay_options;
    relay_options.broadcast = show_options;
    rtmpx::relay relay(relay_options);
    rtmpx::server server(options);
    server.install(relay.app("live"));
    if (!listen(server)) return 1;
    wait_for_signal();
    server.stop();
    const auto st = server.statistics();
    fmt::print(stderr, "relay: sent {}, dropped {}, bytes out {}\n", st.frames_sent, st.frames_dropped, st.bytes_out);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: {} CLIP.flv|--relay [--threads N] [--no-gop-cache] [--tls CERT KEY]\n", argv[0]);
        return 2;
    }
    rtmpx::server_options options;
    options.max_connections = 20000;
    rtmpx::broadcast_options show_options;
    bool relay_mode = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--threads" && i + 1 < argc) options.threads = std::stoul(argv[++i]);
        if (arg == "--no-gop-cache") show_options.gop_cache = false;
        if (arg == "--no-producer-writes") options.producer_writes = false;
        if (arg == "--relay") relay_mode = true;
        if (arg == "--tls" && i + 2 < argc) {
            tls_cert = argv[++i];
            tls_key = argv[++i];
        }
    }
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }
    if (relay_mode) return serve_relay(options, show_options);
    const auto tags = read_flv(argv[1]);
    if (tags.empty()) {
        fmt::print(stderr, "no FLV tags in {}\n", argv[1]);
        return 1;
    }
    auto show = std::make_shared<rtmpx::broadcast>(show_options);
    rtmpx::server server(options);
    server.install([show](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        conn.on_stream([show](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
            return true;
        });
        return true;
    });
    if (!listen(server)) return 1;

    std::atomic<bool> stop{false};
    std::thread source([&] { replay(*show, tags, stop); });
    wait_for_signal();
    stop = true;
    source.join();
    server.stop();
    const auto st = server.statistics();
    fmt::print(stderr, "frames published {}, sent {}, dropped {}, bytes out {}\n", show->frames(), st.frames_sent,
               st.frames_dropped, st.bytes_out);
    return 0;
}
