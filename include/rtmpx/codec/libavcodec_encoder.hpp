// SPDX-License-Identifier: MIT
// A video_encoder over FFmpeg's libavcodec (Sorenson Spark, AV1, VP9, HEVC); only with RTMPX_WITH_LIBAVCODEC.
#pragma once

#if defined(RTMPX_WITH_LIBAVCODEC)

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
}

#include <rtmpx/codec/libavcodec_common.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/detail/avc.hpp>
#include <rtmpx/detail/config_records.hpp>
#include <rtmpx/detail/yuv.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * A video encoder of libavcodec by its name, set up for live streaming: no B-frames, no
 * look-ahead, a key frame every "key_frame_interval" frames and whenever `force_key_frame` asks,
 * each picture out as soon as it is in. Pictures are converted to I420 (YUV 4:2:0) on the way in,
 * as for the OpenH264 adapter (BT.601, limited range, which the bitstream says).
 *
 * - `sorenson()`: Sorenson Spark (libavcodec's "flv" encoder, FLV codec id 2), which every
 *   legacy player decodes; no configuration record.
 * - `av1()` (libaom, real-time usage), `vp9()` (libvpx, real-time deadline), `hevc()` (x265,
 *   zero-latency tuning): Enhanced RTMP codecs, sent with their FourCC (`fourcc()`: `av01`,
 *   `vp09`, `hvc1`) and configuration record (av1C, vpcC, hvcC) only to players that declared
 *   them. HEVC frames go out with 4-byte NAL unit lengths.
 *
 * Parameters (`set_parameter` before `init`; after it they give `invalid_parameter`):
 * - "bitrate": target bits/s, > 0 (default 1'000'000);
 * - "frame_rate": 1..120 (default 30);
 * - "key_frame_interval": frames between key frames, >= 1 (default 2 s worth of frames);
 * - "threads": 0 automatic, 1 (default), N;
 * - "speed" (AV1, VP9, HEVC): 0 (slowest, best pictures) to 8 (fastest, the default): libaom's
 *   and libvpx's cpu-used, x265's presets from veryslow to ultrafast.
 *
 * Licence: libavcodec is LGPL, but Debian's build links GPL encoders (x264, x265), so a program
 * built with this adapter from Debian's libavcodec is GPL (rtmpx itself stays MIT).
 *
 * Thread: one thread at a time drives an encoder. Errors: `encoder_error` values.
 * Lifetime: move-only; the destructor frees the libavcodec state.
 */
class libavcodec_encoder {
public:
    /// The encoder libavcodec calls `codec_name`, sent in legacy FLV video tags of `flv_codec_id`
    /// (`fourcc` 0), or in Enhanced RTMP tags of `fourcc` (`flv_codec_id` 0).
    libavcodec_encoder(std::string codec_name, std::uint8_t flv_codec_id, std::string identifier, std::uint32_t fourcc = 0)
        : codec_name_(std::move(codec_name)), flv_codec_id_(flv_codec_id), fourcc_(fourcc), identifier_(std::move(identifier)) {}

    /// Sorenson Spark (H.263 as Flash Player 6 defined it): FLV codec id 2, no configuration record.
    static libavcodec_encoder sorenson() { return libavcodec_encoder("flv", 2, "libavcodec flv (Sorenson Spark)"); }
    /// AV1 through libaom: FourCC `av01`, av1C from its sequence header.
    static libavcodec_encoder av1() { return libavcodec_encoder("libaom-av1", 0, "libavcodec libaom-av1", fourcc_of("av01")); }
    /// VP9 through libvpx: FourCC `vp09`, vpcC (profile 0, 8 bits, 4:2:0).
    static libavcodec_encoder vp9() { return libavcodec_encoder("libvpx-vp9", 0, "libavcodec libvpx-vp9", fourcc_of("vp09")); }
    /// HEVC through x265: FourCC `hvc1`, hvcC from its parameter sets.
    static libavcodec_encoder hevc() { return libavcodec_encoder("libx265", 0, "libavcodec libx265", fourcc_of("hvc1")); }

    /// Whether this libavcodec has the encoder (Debian's has all four).
    bool available() const { return avcodec_find_encoder_by_name(codec_name_.c_str()) != nullptr; }

    /**
     * Opens the codec for `width` x `height`; `header` gets its configuration record (empty for
     * Sorenson Spark, which has none). Calling it again reopens the codec at the new size.
     * Errors: `already_closed`; `unsupported_resolution` (zero, odd sizes for the Enhanced
     * codecs, or over 4096 either way); `invalid_parameter` (libavcodec has no such encoder, or
     * refused the settings); `allocation_failure`; `encode_failure` (no readable global header).
     */
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& header) {
        header.clear();
        if (closed_) return encoder_error::already_closed;
        if (width == 0 || height == 0 || width > 4096 || height > 4096) return encoder_error::unsupported_resolution;
        if (fourcc_ != 0 && (width % 2 != 0 || height % 2 != 0)) return encoder_error::unsupported_resolution;
        const AVCodec* codec = avcodec_find_encoder_by_name(codec_name_.c_str());
        if (codec == nullptr) return encoder_error::invalid_parameter;
        context_ptr context(avcodec_alloc_context3(codec));
        frame_ptr frame(av_frame_alloc());
        packet_ptr packet(av_packet_alloc());
        if (!context || !frame || !packet) return encoder_error::allocation_failure;
        context->width = static_cast<int>(width);
        context->height = static_cast<int>(height);
        context->pix_fmt = AV_PIX_FMT_YUV420P;
        const int rate = static_cast<int>(std::lround(settings_.frame_rate * 1000));
        context->time_base = AVRational{1000, rate};
        context->framerate = AVRational{rate, 1000};
        context->bit_rate = settings_.bitrate;
        context->gop_size = settings_.effective_key_frame_interval();
        context->max_b_frames = 0;  // each picture out as it goes in (no reordering, no look-ahead)
        context->thread_count = settings_.threads;
        context->color_range = AVCOL_RANGE_MPEG;  // what detail::convert_to_i420 makes
        context->colorspace = AVCOL_SPC_SMPTE170M;
        if (fourcc_ != 0) context->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // parameter sets once, for the record
        if (!set_private_options(context->priv_data)) return encoder_error::invalid_parameter;
        if (avcodec_open2(context.get(), codec, nullptr) < 0) return encoder_error::invalid_parameter;
        frame->format = AV_PIX_FMT_YUV420P;
        frame->width = context->width;
        frame->height = context->height;
        if (av_frame_get_buffer(frame.get(), 0) < 0) return encoder_error::allocation_failure;
        context_ = std::move(context);
        frame_ = std::move(frame);
        packet_ = std::move(packet);
        width_ = width;
        height_ = height;
        frames_ = 0;
        pending_key_ = true;
        if (auto ec = make_header(header)) {
            context_.reset();
            return ec;
        }
        return {};
    }

    /// Before `init` only; see the class comment. Errors: `invalid_parameter`, `already_closed`.
    std::error_code set_parameter(std::string_view name, double value) {
        if (closed_) return encoder_error::already_closed;
        if (context_ || !std::isfinite(value)) return encoder_error::invalid_parameter;
        if (name == "bitrate" && value >= 1 && value <= std::numeric_limits<int>::max()) {
            settings_.bitrate = static_cast<std::int64_t>(value);
        } else if (name == "frame_rate" && value >= 1 && value <= 120) {
            settings_.frame_rate = value;
        } else if (name == "key_frame_interval" && integral_in(value, 1, std::numeric_limits<int>::max())) {
            settings_.key_frame_interval = static_cast<int>(value);
        } else if (name == "threads" && integral_in(value, 0, 64)) {
            settings_.threads = static_cast<int>(value);
        } else if (name == "speed" && fourcc_ != 0 && integral_in(value, 0, 8)) {
            settings_.speed = static_cast<int>(value);
        } else {
            return encoder_error::invalid_parameter;
        }
        return {};
    }

    std::optional<double> get_parameter(std::string_view name) const {
        if (name == "bitrate") return static_cast<double>(settings_.bitrate);
        if (name == "frame_rate") return settings_.frame_rate;
        if (name == "key_frame_interval") return settings_.effective_key_frame_interval();
        if (name == "threads") return settings_.threads;
        if (name == "speed" && fourcc_ != 0) return settings_.speed;
        return std::nullopt;
    }

    /// Every format rtmpx's conversion to I420 reads (I420 itself is copied).
    std::span<const pixel_format> supported_pixel_formats() const noexcept { return formats_; }

    /**
     * Encodes one picture; `out` gets its bitstream (empty when the codec holds the picture,
     * which the low-delay settings avoid) and whether it is a key frame.
     * Errors: `not_initialized`; `already_closed`; `invalid_parameter` (another size, missing
     * planes); `unsupported_pixel_format`; `encode_failure`.
     */
    std::error_code encode(const canvas_view& picture, encoded_frame& out) {
        out.data.clear();
        out.key_frame = false;
        if (closed_) return encoder_error::already_closed;
        if (!context_) return encoder_error::not_initialized;
        if (picture.width != width_ || picture.height != height_) return encoder_error::invalid_parameter;
        if (av_frame_make_writable(frame_.get()) < 0) return encoder_error::allocation_failure;
        const detail::i420_planes planes{reinterpret_cast<std::byte*>(frame_->data[0]), reinterpret_cast<std::byte*>(frame_->data[1]),
                                         reinterpret_cast<std::byte*>(frame_->data[2]), static_cast<std::uint32_t>(frame_->linesize[0]),
                                         static_cast<std::uint32_t>(frame_->linesize[1]), static_cast<std::uint32_t>(frame_->linesize[2])};
        if (auto ec = detail::convert_to_i420(picture, planes)) return ec;
        frame_->pts = frames_++;
        frame_->pict_type = pending_key_ ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        pending_key_ = false;
        if (avcodec_send_frame(context_.get(), frame_.get()) < 0) return encoder_error::encode_failure;
        return drain(out);
    }

    /// Makes the next `encode` produce a key frame.
    void force_key_frame() noexcept { pending_key_ = true; }

    /// Flushes the codec (`remaining`: what it still held, normally nothing) and frees it; every
    /// later call gives `already_closed`. Errors: `already_closed` on a second call.
    std::error_code close(std::vector<std::byte>& remaining) {
        remaining.clear();
        if (closed_) return encoder_error::already_closed;
        closed_ = true;
        if (context_ && avcodec_send_frame(context_.get(), nullptr) >= 0) {
            encoded_frame rest;
            (void)drain(rest);
            remaining = std::move(rest.data);
        }
        context_.reset();
        frame_.reset();
        packet_.reset();
        return {};
    }

    std::string_view identifier() const noexcept { return identifier_; }
    std::uint8_t flv_codec_id() const noexcept { return flv_codec_id_; }
    /// The Enhanced RTMP FourCC as a big-endian number (0x61763031 for `av01`); 0 for legacy codecs.
    std::uint32_t fourcc() const noexcept { return fourcc_; }

private:
    using context_ptr = detail::av_context_ptr;
    using frame_ptr = detail::av_frame_ptr;
    using packet_ptr = detail::av_packet_ptr;

    struct settings {
        std::int64_t bitrate = 1'000'000;
        double frame_rate = 30;
        int key_frame_interval = 0;  // 0: two seconds' worth of frames
        int threads = 1;
        int speed = 8;
        int effective_key_frame_interval() const noexcept {
            return key_frame_interval > 0 ? key_frame_interval : static_cast<int>(std::lround(2 * frame_rate));
        }
    };

    static constexpr std::array<pixel_format, 6> formats_ = {pixel_format::i420, pixel_format::nv12,  pixel_format::rgba,
                                                             pixel_format::bgra, pixel_format::rgb24, pixel_format::bgr24};

    static bool integral_in(double v, double lo, double hi) noexcept { return v >= lo && v <= hi && std::floor(v) == v; }

    static constexpr std::uint32_t fourcc_of(const char (&text)[5]) noexcept {
        return std::uint32_t(std::uint8_t(text[0])) << 24 | std::uint32_t(std::uint8_t(text[1])) << 16 |
               std::uint32_t(std::uint8_t(text[2])) << 8 | std::uint32_t(std::uint8_t(text[3]));
    }

    // The live settings of each Enhanced codec's wrapper (libaom, libvpx, x265), on its private options.
    bool set_private_options(void* options) const {
        if (fourcc_ == 0) return true;
        const std::string speed = std::to_string(settings_.speed);
        auto set = [options](const char* name, const std::string& value) { return av_opt_set(options, name, value.c_str(), 0) >= 0; };
        if (fourcc_ == fourcc_of("hvc1")) {
            static constexpr const char* presets[] = {"veryslow", "slower", "slow", "medium", "fast", "faster", "veryfast", "superfast", "ultrafast"};
            return set("preset", presets[settings_.speed]) && set("tune", "zerolatency") && set("forced-idr", "1") &&
                   set("x265-params", "log-level=error:open-gop=0");
        }
        const bool ok = set("cpu-used", speed) && set("lag-in-frames", "0") && set("row-mt", settings_.threads != 1 ? "1" : "0");
        if (fourcc_ == fourcc_of("av01")) return ok && set("usage", "realtime");
        return ok && set("deadline", "realtime");
    }

    // The configuration record of an Enhanced codec: av1C and hvcC from the global header, vpcC
    // from the settings.
    std::error_code make_header(std::vector<std::byte>& header) {
        const AVCodecContext& context = *context_;
        std::span<const std::byte> extra(reinterpret_cast<const std::byte*>(context.extradata),
                                         context.extradata ? static_cast<std::size_t>(context.extradata_size) : 0);
        encoded_frame first;
        if (fourcc_ == fourcc_of("av01") && extra.empty()) {
            // libaom states its sequence header with its first packet (FFmpeg's wrapper extracts it
            // then): a black picture for it, dropped; the next picture is a key frame again.
            if (auto ec = encode_black(first)) return ec;
            extra = context.extradata ? std::span<const std::byte>(reinterpret_cast<const std::byte*>(context.extradata),
                                                                   static_cast<std::size_t>(context.extradata_size))
                                      : std::span<const std::byte>(first.data);
            pending_key_ = true;
        }
        if (fourcc_ == fourcc_of("av01")) {
            header = detail::build_av1_config(extra);
        } else if (fourcc_ == fourcc_of("hvc1")) {
            header = detail::build_hevc_config(extra);
        } else if (fourcc_ == fourcc_of("vp09")) {
            detail::vp9_config c;
            c.level = detail::vp9_level_for(static_cast<std::uint32_t>(context.width), static_cast<std::uint32_t>(context.height), settings_.frame_rate);
            c.matrix_coefficients = 6;  // BT.601
            header = detail::build_vp9_config(c);
        } else {
            return {};
        }
        return header.empty() ? make_error_code(encoder_error::encode_failure) : std::error_code{};
    }

    // Encodes a black picture (as a key frame) into `out`.
    std::error_code encode_black(encoded_frame& out) {
        if (av_frame_make_writable(frame_.get()) < 0) return encoder_error::allocation_failure;
        for (int plane = 0; plane < 3; ++plane) {
            const int rows = plane == 0 ? frame_->height : (frame_->height + 1) / 2;
            for (int y = 0; y < rows; ++y)
                std::fill_n(frame_->data[plane] + std::ptrdiff_t(y) * frame_->linesize[plane], plane == 0 ? frame_->width : (frame_->width + 1) / 2,
                            std::uint8_t(plane == 0 ? 16 : 128));
        }
        frame_->pts = frames_++;
        frame_->pict_type = AV_PICTURE_TYPE_I;
        if (avcodec_send_frame(context_.get(), frame_.get()) < 0) return encoder_error::encode_failure;
        return drain(out);
    }

    // Every packet the codec has ready, appended to `out`.
    std::error_code drain(encoded_frame& out) {
        for (;;) {
            const int rc = avcodec_receive_packet(context_.get(), packet_.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
            if (rc < 0) return encoder_error::encode_failure;
            const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(packet_->data), static_cast<std::size_t>(packet_->size));
            if (fourcc_ == fourcc_of("hvc1")) {
                std::vector<std::byte> lengths = detail::annex_b_to_avcc(bytes);  // as hvcC says: 4-byte lengths
                out.data.insert(out.data.end(), lengths.begin(), lengths.end());
            } else {
                out.data.insert(out.data.end(), bytes.begin(), bytes.end());
            }
            out.key_frame = out.key_frame || (packet_->flags & AV_PKT_FLAG_KEY) != 0;
            av_packet_unref(packet_.get());
        }
    }

    std::string codec_name_;
    std::uint8_t flv_codec_id_;
    std::uint32_t fourcc_;
    std::string identifier_;
    settings settings_;
    context_ptr context_;
    frame_ptr frame_;
    packet_ptr packet_;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::int64_t frames_ = 0;
    bool pending_key_ = true;
    bool closed_ = false;
};

RTMPX_NAMESPACE_END

#endif // RTMPX_WITH_LIBAVCODEC
