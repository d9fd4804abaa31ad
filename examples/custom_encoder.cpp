// SPDX-License-Identifier: MIT
// custom_encoder: an encoder of your own (any type satisfying rtmpx::video_encoder), registered by
// name in the server's codec registry; this one wraps OpenH264 and puts a key frame every 15 frames.
// Try it: ./custom_encoder [HOST:PORT], then ffprobe -show_packets rtmp://127.0.0.1:1935/live/demo
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

#if !defined(RTMPX_WITH_OPENH264)
#error "custom_encoder wraps OpenH264: build it with RTMPX_WITH_OPENH264 (meson does when OpenH264 is found)"
#endif

// H.264 with a key frame every `every` frames; everything else is OpenH264's.
class keyed_h264 {
public:
    explicit keyed_h264(std::uint32_t every) : every_(every) {
        inner_.set_parameter("key_frame_interval", 0);  // only the first: we place the others
    }
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& config) {
        return inner_.init(width, height, config);
    }
    std::error_code encode(const rtmpx::canvas_view& picture, rtmpx::encoded_frame& out) {
        if (since_key_ >= every_) inner_.force_key_frame();
        const std::error_code ec = inner_.encode(picture, out);
        if (!ec && !out.data.empty()) since_key_ = out.key_frame ? 1 : since_key_ + 1;
        return ec;
    }
    void force_key_frame() { inner_.force_key_frame(); }  // the server asks for one when a player joins
    std::error_code set_parameter(std::string_view name, double value) { return inner_.set_parameter(name, value); }
    std::optional<double> get_parameter(std::string_view name) const { return inner_.get_parameter(name); }
    std::span<const rtmpx::pixel_format> supported_pixel_formats() const { return inner_.supported_pixel_formats(); }
    std::error_code close(std::vector<std::byte>& remaining) { return inner_.close(remaining); }
    std::string_view identifier() const { return "keyed-h264"; }
    std::uint8_t flv_codec_id() const { return inner_.flv_codec_id(); }  // 7: AVC, what players decode

private:
    rtmpx::openh264_encoder inner_;
    std::uint32_t every_;
    std::uint32_t since_key_ = 0;
};
static_assert(rtmpx::video_encoder<keyed_h264>);

int main(int argc, char** argv) {
    if (argc > 2) {
        fmt::print(stderr, "usage: {} [HOST:PORT]   (default 127.0.0.1:1935; port 0 picks one)\n", argv[0]);
        return 2;
    }
    const std::string address = argc == 2 ? argv[1] : "127.0.0.1:1935";
    auto scene = std::make_shared<demo::scene>(640, 360);

    rtmpx::server server;
    server.codecs().add("keyed h264", [] { return keyed_h264(15); });  // a new encoder for every stream
    server.install([scene](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "live") return false;
        conn.on_stream([scene](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!s.use_codec("keyed h264")) return false;
            s.on_frame([scene](rtmpx::stream& st, rtmpx::encoded_frame& out, bool queue_full) {
                if (queue_full) return true;
                scene->render();  // (the scene is thread-safe; no render handler needed here)
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
    std::fflush(stdout);

    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM);
    signals.async_wait([](const std::error_code&, int) {});
    signals_context.run();  // returns on SIGINT/SIGTERM
    server.stop(std::chrono::seconds(1));
    return 0;
}
