// SPDX-License-Identifier: MIT
// Benchmarks of the path a rendered frame takes to a player: the server's frame path latency
// (frame handler → bytes at the client), play → first key frame with H.264, the OpenH264 encode
// rate, RGB → I420 conversion, the frame queue between threads, and every codec of the registry
// side by side (encode rate, output rate, play → first key frame), and the CPU of one broadcast in
// two codecs for players of both kinds against one codec. Prints figures only; it
// never judges them. Everything runs in this process: the server is a
// rtmpx::basic_server<asio::local::stream_protocol::socket> serving one end of AF_UNIX socket
// pairs, and the clients (the tests' client, on the library's client session) read the other ends.

#include <poll.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <rtmpx/detail/yuv.hpp>
#include <rtmpx/driver/frame_queue.hpp>
#include <rtmpx/broadcast.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/server.hpp>
#include <rtmpx/video_codec.hpp>

#include "../tests/session/test_client.hpp"

namespace {

using rtmpx_test::local_server;
using rtmpx_test::received;
using bench_client = rtmpx_test::test_client;
using steady = std::chrono::steady_clock;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

// Nearest-rank percentile of sorted values (p in 0..1).
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return percentile(v, 0.5);
}

// The video payload of a message, or null.
const std::vector<std::byte>* video_payload(const received& r) {
    const auto* media = std::get_if<rtmpx::protocol::media_message>(&r.body);
    return media && media->type == rtmpx::protocol::message_type::video ? &media->payload : nullptr;
}

// An AVC NALU video tag of a key frame: 0x17 0x01 (the sequence header is 0x17 0x00).
// A key frame's picture (not a sequence header), legacy or Enhanced.
bool is_key_picture(const received& r) {
    const auto* p = video_payload(r);
    return p && rtmpx::protocol::flv::is_key_frame(*p) && !rtmpx::protocol::flv::is_sequence_header(*p);
}

// A moving picture: drifting gradients, a sliding checkerboard band and a bouncing box.
void draw(std::byte* px, std::uint32_t w, std::uint32_t h, std::uint32_t stride, std::uint32_t t) {
    const std::uint32_t box = h / 5;
    const std::uint32_t bx = (t * 7) % (w - box);
    const std::uint32_t by = (t * 3) % (h - box);
    for (std::uint32_t y = 0; y < h; ++y) {
        std::byte* row = px + std::size_t{y} * stride;
        const bool band = y > h / 2 && y < h / 2 + h / 8;
        for (std::uint32_t x = 0; x < w; ++x) {
            std::uint32_t r = (x * 255 / w + 2 * t) & 0xff;
            std::uint32_t g = (y * 255 / h + t) & 0xff;
            std::uint32_t b = ((x + y) / 8 + 3 * t) & 0xff;
            if (band && (((x + 4 * t) / 16 + y / 16) & 1)) r = g = b = 230;
            if (x >= bx && x < bx + box && y >= by && y < by + box) r = g = b = 255;
            std::byte* p = row + std::size_t{x} * 4;
            p[0] = std::byte(r);
            p[1] = std::byte(g);
            p[2] = std::byte(b);
            p[3] = std::byte{255};
        }
    }
}

void draw(rtmpx::canvas& c, std::uint32_t t) { draw(c.data(), c.width(), c.height(), c.stride(), t); }

// ---- a. frame path latency ------------------------------------------------------------------

constexpr std::size_t raw_frame_bytes = 10 * 1024;
constexpr double frame_rate = 30;

struct latency_result {
    std::size_t streams = 0;
    std::size_t samples = 0;
    double expected = 0;
    double p50 = 0, p99 = 0, p999 = 0, max = 0;
    std::uint64_t dropped = 0;
    bool failed = false;
};

latency_result run_latency(std::size_t streams, double seconds, double warmup) {
    latency_result r;
    r.streams = streams;
    std::atomic<std::uint64_t> dropped{0};
    {
        rtmpx::server_options options;
        options.max_connections = streams + 8;
        local_server srv(options);
        srv.install([&dropped](rtmpx::connection& c, const rtmpx::connect_event& e) {
            if (!e.is_create) return true;
            c.on_stream([&dropped](rtmpx::stream& s, const rtmpx::stream_event& se) {
                if (!se.is_create) {
                    dropped += s.frames_dropped();
                    return true;
                }
                // No codec: the frame handler's bytes are the FLV video tag body as sent.
                s.on_frame([](rtmpx::stream&, rtmpx::encoded_frame& out, bool) {
                    out.data.resize(raw_frame_bytes);  // zero padding to the size of a real frame
                    const std::byte head[5] = {std::byte{0x17}, std::byte{0x01}, std::byte{0}, std::byte{0},
                                               std::byte{0}};
                    std::memcpy(out.data.data(), head, sizeof head);
                    out.key_frame = true;
                    const std::int64_t stamp = now_ns();
                    std::memcpy(out.data.data() + 5, &stamp, sizeof stamp);
                    return true;
                });
                return true;
            });
            return true;
        });

        std::vector<std::unique_ptr<bench_client>> clients;
        for (std::size_t i = 0; i < streams; ++i) {
            auto c = std::make_unique<bench_client>(srv);
            const std::uint32_t sid = c->open_stream("bench");
            if (sid == 0) {
                r.failed = true;
                break;
            }
            c->play(sid, "raw");
            clients.push_back(std::move(c));
        }

        std::vector<double> samples;
        samples.reserve(static_cast<std::size_t>(streams * frame_rate * (seconds + warmup) * 1.2));
        std::vector<pollfd> fds;
        for (auto& c : clients) fds.push_back({c->fd(), POLLIN, 0});
        const std::int64_t begin = now_ns();
        const std::int64_t measure_from = begin + static_cast<std::int64_t>(warmup * 1e9);
        const std::int64_t end = measure_from + static_cast<std::int64_t>(seconds * 1e9);
        while (!r.failed && now_ns() < end) {
            if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                const bool ok = clients[i]->read_ready([&](const received& m) {
                    const auto* payload = video_payload(m);
                    if (!payload || payload->size() < 13) return;
                    std::int64_t stamp = 0;
                    std::memcpy(&stamp, payload->data() + 5, sizeof stamp);
                    const std::int64_t t = now_ns();
                    if (t >= measure_from && t < end) samples.push_back(static_cast<double>(t - stamp) / 1e3);
                });
                if (!ok) r.failed = true;
            }
        }
        for (auto& c : clients) c->close();
        srv.stop(std::chrono::seconds(2));

        std::sort(samples.begin(), samples.end());
        r.samples = samples.size();
        r.expected = static_cast<double>(streams) * frame_rate * seconds;
        r.p50 = percentile(samples, 0.5);
        r.p99 = percentile(samples, 0.99);
        r.p999 = percentile(samples, 0.999);
        r.max = samples.empty() ? 0 : samples.back();
    }
    r.dropped = dropped.load();
    return r;
}

#if defined(RTMPX_WITH_OPENH264)

// ---- b. play → first key frame ---------------------------------------------------------------

struct key_frame_app {
    std::uint32_t width = 640;
    std::uint32_t height = 360;
    std::string codec = "h264";
    bool prepare = false;  // use_codec(name, width, height): the encoder made ready before play
    std::atomic<std::int64_t> first_call_ns{0};    // when the frame handler was first called
    std::atomic<std::int64_t> first_draw_ns{0};    // how long its drawing took
    std::atomic<std::int64_t> first_encode_ns{0};  // how long its first encode took (with the lazy init)
    std::atomic<std::int64_t> first_return_ns{0};  // when it returned
};

struct key_frame_result {
    std::uint32_t width = 0, height = 0;
    std::size_t plays = 0;
    double total_median = 0, total_max = 0;      // play sent → key frame received, ms
    double to_handler_median = 0;                // play sent → frame handler first called, ms
    double draw_median = 0;                      // the handler drawing the canvas, ms
    double encode_median = 0, encode_max = 0;    // first encode (with encoder init), ms
    double delivery_median = 0;                  // frame handler returned → key frame received, ms
    bool failed = false;
};

key_frame_result run_key_frame(std::uint32_t width, std::uint32_t height, bool prepare, int plays, const std::string& codec = "h264") {
    key_frame_result r;
    r.width = width;
    r.height = height;
    key_frame_app app;
    app.width = width;
    app.height = height;
    app.prepare = prepare;
    app.codec = codec;
    local_server srv;
    srv.install([&app](rtmpx::connection& c, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        c.on_stream([&app](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!(app.prepare ? s.use_codec(app.codec, app.width, app.height) : s.use_codec(app.codec))) return false;
            struct state {
                rtmpx::canvas canvas;
                std::uint32_t n = 0;
            };
            auto st = std::make_shared<state>(state{rtmpx::canvas(app.width, app.height), 0});
            s.on_frame([st, &app](rtmpx::stream& stream, rtmpx::encoded_frame& out, bool) {
                const std::int64_t called = now_ns();
                draw(st->canvas, st->n);
                const std::int64_t t0 = now_ns();
                const auto ec = stream.codec()->encode(st->canvas.view(), out);
                const std::int64_t t1 = now_ns();
                if (st->n++ == 0) {
                    app.first_draw_ns = t0 - called;
                    app.first_encode_ns = t1 - t0;
                    app.first_call_ns = called;
                    app.first_return_ns = now_ns();
                }
                return !ec;
            });
            return true;
        });
        return true;
    });

    std::vector<double> total, to_handler, draw_ms, encode, delivery;
    for (int i = 0; i < plays && !r.failed; ++i) {
        bench_client c(srv);
        const std::uint32_t sid = c.open_stream("bench");
        if (sid == 0) {
            r.failed = true;
            break;
        }
        app.first_call_ns = 0;
        app.first_return_ns = 0;
        const std::int64_t sent = now_ns();
        c.play(sid, "h264");
        std::int64_t received = 0;
        while (auto m = c.next()) {
            if (is_key_picture(*m)) {
                received = now_ns();
                break;
            }
        }
        if (received == 0 || app.first_return_ns == 0) {
            r.failed = true;
            break;
        }
        total.push_back(static_cast<double>(received - sent) / 1e6);
        to_handler.push_back(static_cast<double>(app.first_call_ns.load() - sent) / 1e6);
        draw_ms.push_back(static_cast<double>(app.first_draw_ns.load()) / 1e6);
        encode.push_back(static_cast<double>(app.first_encode_ns.load()) / 1e6);
        delivery.push_back(static_cast<double>(received - app.first_return_ns.load()) / 1e6);
        c.close();
        srv.wait();  // the connection (and its frame thread) ends before the next play
    }
    srv.stop();
    r.plays = total.size();
    if (!total.empty()) {
        r.total_median = median(total);
        r.total_max = *std::max_element(total.begin(), total.end());
        r.to_handler_median = median(to_handler);
        r.draw_median = median(draw_ms);
        r.encode_median = median(encode);
        r.encode_max = *std::max_element(encode.begin(), encode.end());
        r.delivery_median = median(delivery);
    }
    return r;
}

// ---- g. one broadcast, several codecs, players of both kinds ------------------------------------

struct renditions_result {
    double cores = 0;             // process CPU seconds per second
    double legacy_fps = 0;        // pictures a second at each legacy player (the slowest)
    double enhanced_fps = 0;      // likewise, Enhanced RTMP players
    std::string legacy_codec;     // what the players got (FLV codec id or FourCC)
    std::string enhanced_codec;
    bool failed = false;
};

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// What a video tag is in: its FourCC, or "flv N".
std::string video_codec_of(const std::vector<std::byte>& tag) {
    if (tag.empty()) return "?";
    const auto b0 = std::to_integer<unsigned>(tag[0]);
    if ((b0 & 0x80) && tag.size() >= 5) return std::string(reinterpret_cast<const char*>(tag.data()) + 1, 4);
    return "flv " + std::to_string(b0 & 0x0f);
}

// A broadcast rendering 1280x720 at 30 frames/s in `codecs` (best first), played by `legacy`
// players that declare nothing and `enhanced` ones that declare every FourCC; process CPU over
// `seconds` after one of warm-up.
renditions_result run_renditions(const std::vector<std::string>& codecs, int legacy, int enhanced, double seconds) {
    renditions_result r;
    local_server srv;
    rtmpx::broadcast_options bo;
    bo.render_rate = frame_rate;
    auto show = std::make_shared<rtmpx::broadcast>(bo);
    if (!show->use_codecs(codecs, srv.codecs())) {
        r.failed = true;
        return r;
    }
    for (const auto& codec : show->codecs()) {
        (void)codec->set_parameter("bitrate", 1'000'000);
        (void)codec->set_parameter("threads", 1);
    }
    auto picture = std::make_shared<rtmpx::canvas>(1280, 720);
    show->on_render([picture, n = 0u](rtmpx::broadcast&) mutable {
        draw(*picture, n++);
        return true;
    });
    show->on_frame([picture](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) { return !b.codec()->encode(picture->view(), out); });
    srv.install([show](rtmpx::connection& c, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        c.on_stream([show](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
            return true;
        });
        return true;
    });
    show->start();
    std::vector<std::unique_ptr<bench_client>> clients;
    for (int i = 0; i < legacy + enhanced; ++i) {
        auto c = std::make_unique<bench_client>(srv, i >= legacy);
        const std::uint32_t sid = c->open_stream("bench");
        if (sid == 0) {
            r.failed = true;
            break;
        }
        c->play(sid, "show");
        clients.push_back(std::move(c));
    }
    std::vector<pollfd> fds;
    for (auto& c : clients) fds.push_back({c->fd(), POLLIN, 0});
    std::vector<std::size_t> pictures(clients.size(), 0);
    const auto begin = steady::now();
    const auto measure_from = begin + std::chrono::seconds(1);
    const auto end = measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    double cpu_start = 0;
    bool measuring = false;
    while (!r.failed && steady::now() < end) {
        if (!measuring && steady::now() >= measure_from) {
            measuring = true;
            cpu_start = cpu_seconds();
            std::fill(pictures.begin(), pictures.end(), 0);
        }
        if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const bool ok = clients[i]->read_ready([&](const received& m) {
                const auto* payload = video_payload(m);
                if (!payload || rtmpx::protocol::flv::is_sequence_header(*payload)) return;
                ++pictures[i];
                (static_cast<int>(i) < legacy ? r.legacy_codec : r.enhanced_codec) = video_codec_of(*payload);
            });
            if (!ok) r.failed = true;
        }
    }
    r.cores = (cpu_seconds() - cpu_start) / seconds;
    r.legacy_fps = r.enhanced_fps = 1e9;
    for (std::size_t i = 0; i < pictures.size(); ++i) {
        double& slowest = static_cast<int>(i) < legacy ? r.legacy_fps : r.enhanced_fps;
        slowest = std::min(slowest, static_cast<double>(pictures[i]) / seconds);
    }
    if (legacy == 0) r.legacy_fps = 0;
    if (enhanced == 0) r.enhanced_fps = 0;
    for (auto& c : clients) c->close();
    show->stop();
    srv.stop(std::chrono::seconds(2));
    return r;
}

// ---- f. the codecs of the registry side by side -------------------------------------------------

struct codec_result {
    std::string name;
    double fps[2] = {0, 0};  // RGBA in (conversion included), threads 1 and 2; 0: no such setting
    double kbit_s = 0;       // output rate at 30 frames/s, threads 1
    double cold_ms = 0;      // init + the first encode, threads 1
    double keyed_ms = 0;     // an encode asked for a key frame mid-stream (median), threads 1
    bool failed = false;
};

// 150 frames of the moving pattern at `width` x `height`, 1 Mbit/s, a key frame every 60 frames
// and one asked for every 30th frame besides, on one thread and on two.
codec_result run_codec(const rtmpx::codec_registry& registry, const std::string& name, std::uint32_t width,
                       std::uint32_t height, int frames) {
    codec_result r;
    r.name = name;
    rtmpx::canvas picture(width, height);
    for (int threads : {1, 2}) {
        auto codec = registry.make(name);
        if (!codec) {
            r.failed = true;
            break;
        }
        if (codec->set_parameter("threads", threads) && threads == 2) break;  // no "threads" setting: one pass
        (void)codec->set_parameter("bitrate", 1'000'000);
        (void)codec->set_parameter("frame_rate", 30);
        (void)codec->set_parameter("key_frame_interval", 60);
        std::size_t bytes = 0;
        std::vector<double> keyed;
        const auto started = steady::now();
        for (int n = 0; n < frames; ++n) {
            draw(picture, static_cast<std::uint32_t>(n));
            if (n > 0 && n % 30 == 15) codec->force_key_frame();
            rtmpx::encoded_frame out;
            const auto t0 = steady::now();
            if (codec->encode(picture.view(), out)) {
                r.failed = true;
                break;
            }
            const double ms = seconds_since(t0) * 1000;
            if (n == 0 && threads == 1) r.cold_ms = ms;  // the encoder initialises on its first picture
            if (n % 30 == 15 && threads == 1) keyed.push_back(ms);
            bytes += out.data.size();
        }
        // The drawing is in the loop's time: take it out with a second pass that only draws.
        const double total = seconds_since(started);
        const auto drawn = steady::now();
        for (int n = 0; n < frames; ++n) draw(picture, static_cast<std::uint32_t>(n));
        const double encode_s = total - seconds_since(drawn);
        r.fps[threads - 1] = encode_s > 0 ? frames / encode_s : 0;
        if (threads == 1) {
            r.kbit_s = static_cast<double>(bytes) * 8 / 1000 * 30 / frames;
            r.keyed_ms = keyed.empty() ? 0 : median(keyed);
        }
    }
    return r;
}

// ---- c. OpenH264 encode rate --------------------------------------------------------------------

struct encode_result {
    std::uint32_t width = 0, height = 0;
    int frames = 0;
    double i420_fps = 0;
    double rgba_fps = 0;
    double rgba_steady_ms = 0;  // ms per RGBA encode after the first (the IDR)
    double init_ms = 0;   // WelsCreateSVCEncoder + init (I420 pass)
    double first_ms = 0;  // the first encode after init: an IDR picture (I420 pass)
    std::size_t bytes = 0;
    std::size_t first_bytes = 0;
    bool failed = false;
};

encode_result run_encode(std::uint32_t width, std::uint32_t height, int frames) {
    encode_result r;
    r.width = width;
    r.height = height;
    r.frames = frames;
    rtmpx::canvas picture(width, height);
    rtmpx::detail::i420_buffer yuv;
    yuv.resize(width, height);
    for (int pass = 0; pass < 2 && !r.failed; ++pass) {
        const bool i420 = pass == 0;
        const auto init_start = steady::now();
        rtmpx::openh264_encoder enc;
        std::vector<std::byte> header;
        if (enc.set_parameter("threads", 1) || enc.init(width, height, header)) {
            r.failed = true;
            break;
        }
        if (i420) r.init_ms = seconds_since(init_start) * 1e3;
        rtmpx::encoded_frame out;
        std::chrono::nanoseconds spent{0};
        for (int i = 0; i < frames; ++i) {
            draw(picture, static_cast<std::uint32_t>(i));  // not timed
            if (i420) rtmpx::detail::convert_to_i420(picture.view(), yuv.planes());  // not timed
            const auto view = i420 ? yuv.view() : picture.view();
            const auto t0 = steady::now();
            const auto ec = enc.encode(view, out);
            const auto took = steady::now() - t0;
            spent += took;
            if (!i420 && i > 0) r.rgba_steady_ms += std::chrono::duration<double, std::milli>(took).count() / (frames - 1);
            if (i420 && i == 0) {
                r.first_ms = std::chrono::duration<double, std::milli>(took).count();
                r.first_bytes = out.data.size();
            }
            if (ec) {
                r.failed = true;
                break;
            }
            if (i420) r.bytes += out.data.size();
        }
        const double fps = frames / std::chrono::duration<double>(spent).count();
        (i420 ? r.i420_fps : r.rgba_fps) = fps;
    }
    return r;
}

#endif // RTMPX_WITH_OPENH264

// ---- d. RGB → I420 ----------------------------------------------------------------------------

struct convert_result {
    const char* format = "";
    double ns_per_pixel = 0;      // median over the repetitions
    double ns_per_pixel_min = 0;
};

convert_result run_convert(rtmpx::pixel_format format, const char* name, int reps) {
    constexpr std::uint32_t w = 1280, h = 720;
    rtmpx::canvas picture(w, h, format);
    rtmpx::canvas rgba(w, h);
    draw(rgba, 5);
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x) {
            auto p = rgba.pixel(x, y);
            picture.set_pixel(x, y, std::to_integer<std::uint8_t>(p[0]), std::to_integer<std::uint8_t>(p[1]),
                              std::to_integer<std::uint8_t>(p[2]));
        }
    rtmpx::detail::i420_buffer yuv;
    yuv.resize(w, h);
    std::vector<double> per_pixel;
    std::uint64_t check = 0;
    rtmpx::detail::convert_to_i420(picture.view(), yuv.planes());  // warm the caches and pages
    for (int i = 0; i < reps; ++i) {
        const auto t0 = steady::now();
        rtmpx::detail::convert_to_i420(picture.view(), yuv.planes());
        const auto ns = std::chrono::duration<double, std::nano>(steady::now() - t0).count();
        per_pixel.push_back(ns / (double(w) * h));
        check += std::to_integer<unsigned>(yuv.planes().y[static_cast<std::size_t>(i) % (w * h)]);
    }
    if (check == 1) std::printf(" ");  // keeps the conversions observable
    convert_result r;
    r.format = name;
    r.ns_per_pixel = median(per_pixel);
    r.ns_per_pixel_min = *std::min_element(per_pixel.begin(), per_pixel.end());
    return r;
}

// ---- e. frame_queue vs a mutex-protected deque -------------------------------------------------

// Tells the core that this is a spin-wait, so that the other core's stores to the line it polls
// are not slowed by a tight loop of loads (x86 `pause`, Arm `yield`).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    asm volatile("yield");
#endif
}

// Spins a little, then yields: the machine may have fewer free cores than threads.
struct backoff {
    int spins = 0;
    void operator()() {
        if (++spins < 64) {
            cpu_relax();
            return;
        }
        spins = 0;
        std::this_thread::yield();
    }
};

class locked_deque {
public:
    explicit locked_deque(std::size_t capacity) : capacity_(capacity) {}
    bool try_push(std::uint64_t v) {
        std::lock_guard lock(mutex_);
        if (items_.size() >= capacity_) return false;
        items_.push_back(v);
        return true;
    }
    bool try_pop(std::uint64_t& v) {
        std::lock_guard lock(mutex_);
        if (items_.empty()) return false;
        v = items_.front();
        items_.pop_front();
        return true;
    }

private:
    std::mutex mutex_;
    std::deque<std::uint64_t> items_;
    const std::size_t capacity_;
};

// Items per second from one producer thread to one consumer thread (this one).
template <class Push, class Pop>
double transfer_rate(std::uint64_t items, Push push, Pop pop, bool& ok) {
    const auto t0 = steady::now();
    // The producer gets copies: nothing it reads may share a cache line with the consumer's stack.
    std::thread producer([items, push]() mutable {
        backoff wait;
        for (std::uint64_t i = 1; i <= items; ++i)
            while (!push(i)) wait();
    });
    std::uint64_t sum = 0;
    backoff wait;
    for (std::uint64_t got = 0; got < items;) {
        std::uint64_t v = 0;
        if (pop(v)) {
            sum += v;
            ++got;
        } else {
            wait();
        }
    }
    producer.join();
    const double secs = seconds_since(t0);
    ok = sum == items * (items + 1) / 2;
    return static_cast<double>(items) / secs;
}

struct queue_result {
    std::size_t capacity = 0;
    double spsc = 0;    // best of the rounds
    double locked = 0;  // best of the rounds
    bool ok = true;
};

// The best of `rounds` runs of each: other work on the machine only ever slows a run down.
queue_result run_queue(std::size_t capacity, std::uint64_t items, int rounds) {
    queue_result r;
    r.capacity = capacity;
    for (int round = 0; round < rounds; ++round) {
        bool ok1 = false, ok2 = false;
        {
            rtmpx::driver::frame_queue<std::uint64_t> q(capacity);
            r.spsc = std::max(r.spsc, transfer_rate(
                                          items, [&q](std::uint64_t v) { return q.try_push(std::move(v)); },
                                          [&q](std::uint64_t& v) {
                                              auto* p = q.front();
                                              if (!p) return false;
                                              v = *p;
                                              q.pop();
                                              return true;
                                          },
                                          ok1));
        }
        {
            locked_deque q(capacity);
            r.locked = std::max(r.locked, transfer_rate(
                                              items, [&q](std::uint64_t v) { return q.try_push(v); },
                                              [&q](std::uint64_t& v) { return q.try_pop(v); }, ok2));
        }
        r.ok = r.ok && ok1 && ok2;
    }
    return r;
}

// ---- the machine ------------------------------------------------------------------------------

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(colon + 2);
        }
    }
    return "unknown";
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

int online_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return static_cast<int>(std::thread::hardware_concurrency());
}

const char* compiler() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "GCC " __VERSION__;
#else
    return "unknown compiler";
#endif
}

} // namespace

int main(int argc, char** argv) {
    // An optional argument picks sections, e.g. "ce"; all of them by default.
    const std::string only = argc > 1 ? argv[1] : "abcdefg";
    auto runs = [&only](char section) { return only.find(section) != std::string::npos; };
    const auto started = steady::now();
    char date[64];
    const std::time_t t = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));

    std::printf("rtmpx frame_path benchmark, %s\n", date);
    std::printf("machine:  %d cores (nproc), %s; load average at start %s\n", online_cpus(), cpu_model().c_str(),
                load_average().c_str());
    std::printf("compiler: %s, %s\n", compiler(),
#if defined(__OPTIMIZE__)
                "optimised"
#else
                "NOT optimised"
#endif
    );
    std::printf("transport: AF_UNIX socket pairs; server rtmpx::basic_server<asio::local::stream_protocol::socket>"
                " in this process\n\n");

    if (runs('a')) {
        std::printf("a. frame path latency, raw 10 KB frames (no codec), %.0f frames/s per stream,\n"
                    "   5 s measured after 0.5 s of warm-up\n",
                    frame_rate);
        std::printf("   from the frame handler returning to the whole message parsed by the client on the other\n");
        std::printf("   end of the socket: an upper bound of \"handed to the socket\". One client thread polls\n");
        std::printf("   every socket. dropped: frames the server dropped (frames_dropped).\n");
        std::printf("   %7s %9s %9s %9s %9s %9s %9s %8s\n", "streams", "frames", "expected", "p50_us", "p99_us",
                    "p99.9_us", "max_us", "dropped");
        for (std::size_t n : {std::size_t{1}, std::size_t{8}, std::size_t{64}}) {
            const auto r = run_latency(n, 5.0, 0.5);
            std::printf("   %7zu %9zu %9.0f %9.0f %9.0f %9.0f %9.0f %8llu%s\n", r.streams, r.samples, r.expected,
                        r.p50, r.p99, r.p999, r.max, static_cast<unsigned long long>(r.dropped),
                        r.failed ? "  (client failed)" : "");
            std::fflush(stdout);
        }
    }

#if defined(RTMPX_WITH_OPENH264)
    if (runs('b')) {
        std::printf("\nb. play -> first key frame: an RGBA canvas drawn and encoded as H.264 in the frame handler;\n");
        std::printf("   20 plays, each on a new connection. Time from sending play to receiving the first key-frame\n");
        std::printf("   video message, in ms. Goal: one frame interval (33.3 ms) plus one steady-state encode.\n");
        std::printf("   %9s %8s %7s %7s %10s %6s %10s %8s %8s %7s %6s\n", "size", "encoder", "median", "max",
                    "to_handler", "draw", "1st_encode", "enc_max", "delivery", "steady", "goal");
        for (auto [w, h] : {std::pair{640u, 360u}, std::pair{1280u, 720u}}) {
            // A steady-state encode: RGBA in, over 60 frames after the first (the IDR).
            const auto steady = run_encode(w, h, 60);
            const double steady_ms = steady.rgba_steady_ms;
            for (bool prepare : {false, true}) {
                const auto r = run_key_frame(w, h, prepare, 20);
                const std::string size = std::to_string(w) + "x" + std::to_string(h);
                std::printf("   %9s %8s %7.1f %7.1f %10.2f %6.1f %10.1f %8.1f %8.2f %7.1f %6.1f%s\n", size.c_str(),
                            prepare ? "prepared" : "cold", r.total_median, r.total_max, r.to_handler_median,
                            r.draw_median, r.encode_median, r.encode_max, r.delivery_median, steady_ms,
                            1000.0 / frame_rate + steady_ms, r.failed ? "  (failed)" : "");
                std::fflush(stdout);
            }
        }
        std::printf("   cold: use_codec(\"h264\"), the encoder initialised by its first encode after play;\n");
        std::printf("   prepared: use_codec(\"h264\", width, height) in the stream handler, before play.\n");
        std::printf("   Medians except max and enc_max. to_handler: play sent -> frame handler first called; draw:\n");
        std::printf("   the handler drawing the canvas; 1st_encode: its first encode (cold: with the encoder's\n");
        std::printf("   init); delivery: handler returned -> message at the client; steady: ms per RGBA encode\n");
        std::printf("   (conversion included) over 59 frames after the first; goal: 33.3 + steady.\n");
    }

    if (runs('c')) {
        std::printf("\nc. OpenH264 encode rate, one thread (threads=1), 150 frames of a moving pattern, default\n"
                    "   settings (2.5 Mbit/s, key frame every 60 frames)\n");
        std::printf("   %9s %9s %9s %9s %9s %10s %10s\n", "size", "i420_fps", "rgba_fps", "kbit/fr", "init_ms",
                    "idr_ms", "idr_kbit");
        for (auto [w, h] : {std::pair{640u, 360u}, std::pair{1280u, 720u}, std::pair{1920u, 1080u}}) {
            const auto r = run_encode(w, h, 150);
            const std::string size = std::to_string(w) + "x" + std::to_string(h);
            std::printf("   %9s %9.1f %9.1f %9.1f %9.1f %10.1f %10.1f%s\n", size.c_str(), r.i420_fps, r.rgba_fps,
                        static_cast<double>(r.bytes) * 8 / 1000 / r.frames, r.init_ms, r.first_ms,
                        static_cast<double>(r.first_bytes) * 8 / 1000, r.failed ? "  (failed)" : "");
            std::fflush(stdout);
        }
        std::printf("   i420_fps: encode only (I420 input); rgba_fps: RGBA -> I420 conversion + encode; both over\n");
        std::printf("   all 150 frames. init_ms: encoder creation + init; idr_ms: the first encode after it (an IDR\n");
        std::printf("   picture); kbit/fr and idr_kbit: output sizes.\n");
    }
#else
    if (runs('b') || runs('c')) std::printf("\nb., c.: skipped (built without OpenH264)\n");
#endif

    if (runs('d')) {
        std::printf("\nd. RGB -> I420 (rtmpx::detail::convert_to_i420), 1280x720, 200 conversions\n");
        std::printf("   %9s %14s %14s %12s\n", "format", "ns/pixel", "ns/pixel_min", "ms/frame");
        for (auto [f, name] :
             {std::pair{rtmpx::pixel_format::rgba, "rgba"}, std::pair{rtmpx::pixel_format::rgb24, "rgb24"}}) {
            const auto r = run_convert(f, name, 200);
            std::printf("   %9s %14.3f %14.3f %12.2f\n", r.format, r.ns_per_pixel, r.ns_per_pixel_min,
                        r.ns_per_pixel * 1280 * 720 / 1e6);
        }
    }

    if (runs('e')) {
        std::printf("\ne. one producer thread -> one consumer thread, 2M std::uint64_t items, best of 3 rounds\n");
        std::printf("   %9s %16s %16s %8s\n", "capacity", "frame_queue/s", "mutex_deque/s", "ratio");
        for (std::size_t cap : {std::size_t{16}, std::size_t{1024}}) {
            const auto r = run_queue(cap, 2'000'000, 3);
            std::printf("   %9zu %16.3g %16.3g %8.2f%s\n", r.capacity, r.spsc, r.locked, r.spsc / r.locked,
                        r.ok ? "" : "  (items lost!)");
        }
    }

#if defined(RTMPX_WITH_OPENH264)
    if (runs('f')) {
        const rtmpx::codec_registry registry;
        std::printf("\nf. every codec of the registry at 1280x720: 150 frames of the moving pattern, RGBA in, 1 Mbit/s,\n"
                    "   a key frame every 60 frames and one asked for mid-group every 30 frames; then play -> first\n"
                    "   key frame as in b. (10 plays each; the client declares every FourCC)\n");
        std::printf("   %13s %8s %8s %8s %8s %9s %9s %9s\n", "codec", "fps_1t", "fps_2t", "kbit/s", "cold_ms", "keyed_ms",
                    "play_cold", "play_prep");
        for (const std::string& name : registry.names()) {
            const auto r = run_codec(registry, name, 1280, 720, 150);
            const auto cold = run_key_frame(1280, 720, false, 10, name);
            const auto prepared = run_key_frame(1280, 720, true, 10, name);
            const std::string quoted = "\"" + name + "\"";
            std::printf("   %13s %8.1f %8s %8.0f %8.1f %9.1f %9.1f %9.1f%s\n", quoted.c_str(), r.fps[0],
                        r.fps[1] > 0 ? fmt::format("{:.1f}", r.fps[1]).c_str() : "-", r.kbit_s, r.cold_ms, r.keyed_ms,
                        cold.total_median, prepared.total_median, r.failed || cold.failed || prepared.failed ? "  (failed)" : "");
            std::fflush(stdout);
        }
        std::printf("   fps_1t, fps_2t: encodes a second with threads=1 and 2 (drawing excluded; \"-\": no threads\n");
        std::printf("   setting); kbit/s: what came out at 30 frames/s, threads=1 (screen video takes no bitrate: it\n");
        std::printf("   is lossless); cold_ms: init + first encode; keyed_ms: an encode asked for a key frame\n");
        std::printf("   (median); play_cold, play_prep: play sent -> first key picture at the client, ms (median),\n");
        std::printf("   the encoder made at play or before it (use_codec(name, width, height)).\n");
    }
#endif

#if defined(RTMPX_WITH_OPENH264)
    if (runs('g')) {
        const rtmpx::codec_registry registry;
        std::printf("\ng. one broadcast rendering 1280x720 at 30 frames/s (1 Mbit/s, threads=1), in one codec or in\n"
                    "   two (best first: Enhanced players get the first, legacy ones the second); 2 legacy players\n"
                    "   (declare nothing) and 2 Enhanced ones (declare every FourCC) unless said. 5 s measured after\n"
                    "   1 s of warm-up.\n");
        std::printf("   %12s %18s %7s %10s %10s %12s %12s\n", "codecs", "players", "cores", "legacy_fps", "enh_fps",
                    "legacy_got", "enh_got");
        struct row {
            std::vector<std::string> codecs;
            int legacy, enhanced;
        };
        std::vector<row> rows = {{{"h264"}, 2, 2}};
        for (const char* modern : {"vp9", "av1"}) {
            if (!registry.contains(modern)) continue;
            rows.push_back({{modern}, 0, 2});
            rows.push_back({{modern, "h264"}, 2, 0});
            rows.push_back({{modern, "h264"}, 2, 2});
        }
        for (const auto& [codecs, legacy, enhanced] : rows) {
            const auto r = run_renditions(codecs, legacy, enhanced, 5.0);
            std::string names;
            for (const auto& c : codecs) names += (names.empty() ? "" : ",") + c;
            const std::string players = fmt::format("{} legacy, {} enh", legacy, enhanced);
            std::printf("   %12s %18s %7.2f %10.1f %10.1f %12s %12s%s\n", names.c_str(), players.c_str(), r.cores, r.legacy_fps,
                        r.enhanced_fps, r.legacy_codec.empty() ? "-" : r.legacy_codec.c_str(),
                        r.enhanced_codec.empty() ? "-" : r.enhanced_codec.c_str(), r.failed ? "  (failed)" : "");
            std::fflush(stdout);
        }
        std::printf("   cores: CPU seconds of this whole process (drawing, encoding, sending, and the in-process\n");
        std::printf("   players reading) per second; *_fps: pictures a second at the slowest player of each kind;\n");
        std::printf("   *_got: the codec they got (FourCC, or FLV codec id: 7 is H.264).\n");
    }
#endif

    std::printf("\ntotal run time %.1f s; load average at end %s\n", seconds_since(started), load_average().c_str());
    return 0;
}
