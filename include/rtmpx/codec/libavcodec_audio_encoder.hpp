// SPDX-License-Identifier: MIT
// An audio_encoder over FFmpeg's libavcodec (AAC, Opus); only with RTMPX_WITH_LIBAVCODEC.
#pragma once

#if defined(RTMPX_WITH_LIBAVCODEC)

#include <algorithm>
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
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
}

#include <rtmpx/codec/libavcodec_common.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * An audio encoder of libavcodec by its name, fed interleaved 16-bit PCM, which it converts to
 * the codec's sample format and cuts into the codec's frames.
 *
 * - `aac()`: AAC-LC (FFmpeg's own encoder), FLV SoundFormat 10, which every player decodes;
 *   any sample rate AAC has (8000 to 96000), 1 to 8 channels.
 * - `opus()`: Opus (libopus), sent as Enhanced RTMP audio (FourCC `Opus`), only to players that
 *   declared it; 48000, 24000, 16000, 12000 or 8000 Hz, 1 or 2 channels.
 *
 * Parameters (before `init`): "bitrate" in bits/s, > 0 (default 128000).
 * Thread: one thread at a time. Errors: `encoder_error` values. Lifetime: move-only.
 */
class libavcodec_audio_encoder {
public:
    libavcodec_audio_encoder(std::string codec_name, std::uint8_t sound_format, std::uint32_t fourcc, std::string identifier)
        : codec_name_(std::move(codec_name)), sound_format_(sound_format), fourcc_(fourcc), identifier_(std::move(identifier)) {}

    static libavcodec_audio_encoder aac() { return libavcodec_audio_encoder("aac", 10, 0, "libavcodec aac"); }
    static libavcodec_audio_encoder opus() { return libavcodec_audio_encoder("libopus", 9, 0x4f707573, "libavcodec libopus"); }

    /// Whether this libavcodec has the encoder.
    bool available() const { return avcodec_find_encoder_by_name(codec_name_.c_str()) != nullptr; }

    /**
     * Opens the codec for `sample_rate` and `channels`; `header` gets its configuration
     * (AudioSpecificConfig, or the Opus identification header).
     * Errors: `already_closed`; `invalid_parameter` (no such encoder, or it refused the rate or
     * channel count); `allocation_failure`; `encode_failure` (no configuration from the codec).
     */
    std::error_code init(std::uint32_t sample_rate, std::uint32_t channels, std::vector<std::byte>& header) {
        header.clear();
        if (closed_) return encoder_error::already_closed;
        if (sample_rate == 0 || sample_rate > 192000 || channels == 0 || channels > 8) return encoder_error::invalid_parameter;
        const AVCodec* codec = avcodec_find_encoder_by_name(codec_name_.c_str());
        if (codec == nullptr) return encoder_error::invalid_parameter;
        context_ptr context(avcodec_alloc_context3(codec));
        frame_ptr frame(av_frame_alloc());
        packet_ptr packet(av_packet_alloc());
        if (!context || !frame || !packet) return encoder_error::allocation_failure;
        context->sample_rate = static_cast<int>(sample_rate);
        av_channel_layout_default(&context->ch_layout, static_cast<int>(channels));
        context->sample_fmt = pick_format(codec);
        if (context->sample_fmt == AV_SAMPLE_FMT_NONE) return encoder_error::invalid_parameter;
        context->bit_rate = bitrate_;
        context->time_base = AVRational{1, static_cast<int>(sample_rate)};
        context->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // the configuration once, for the sequence header
        if (avcodec_open2(context.get(), codec, nullptr) < 0) return encoder_error::invalid_parameter;
        if (context->extradata == nullptr || context->extradata_size <= 0) return encoder_error::encode_failure;
        frame->format = context->sample_fmt;
        frame->nb_samples = context->frame_size > 0 ? context->frame_size : 1024;
        frame->sample_rate = context->sample_rate;
        if (av_channel_layout_copy(&frame->ch_layout, &context->ch_layout) < 0 || av_frame_get_buffer(frame.get(), 0) < 0)
            return encoder_error::allocation_failure;
        const auto* extra = reinterpret_cast<const std::byte*>(context->extradata);
        header.assign(extra, extra + context->extradata_size);
        context_ = std::move(context);
        frame_ = std::move(frame);
        packet_ = std::move(packet);
        channels_ = channels;
        pending_.clear();
        next_sample_ = 0;
        emitted_ = 0;
        return {};
    }

    /// Before `init` only. Errors: `invalid_parameter`, `already_closed`.
    std::error_code set_parameter(std::string_view name, double value) {
        if (closed_) return encoder_error::already_closed;
        if (context_ || name != "bitrate" || !std::isfinite(value) || value < 1 || value > std::numeric_limits<int>::max())
            return encoder_error::invalid_parameter;
        bitrate_ = static_cast<std::int64_t>(value);
        return {};
    }

    std::optional<double> get_parameter(std::string_view name) const {
        if (name == "bitrate") return static_cast<double>(bitrate_);
        return std::nullopt;
    }

    /**
     * Takes `pcm` (interleaved, `channels` per sample frame, a whole number of them) and appends
     * every packet the codec finishes. Errors: `not_initialized`; `already_closed`;
     * `invalid_parameter` (not a whole number of sample frames); `encode_failure`.
     */
    std::error_code encode(std::span<const std::int16_t> pcm, std::vector<encoded_audio>& packets) {
        if (closed_) return encoder_error::already_closed;
        if (!context_) return encoder_error::not_initialized;
        if (pcm.size() % channels_ != 0) return encoder_error::invalid_parameter;
        pending_.insert(pending_.end(), pcm.begin(), pcm.end());
        const std::size_t per_frame = static_cast<std::size_t>(frame_->nb_samples) * channels_;
        std::size_t used = 0;
        while (pending_.size() - used >= per_frame) {
            if (auto ec = send(std::span(pending_).subspan(used, per_frame), packets)) return ec;
            used += per_frame;
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
        return {};
    }

    /// Encodes what waits (padded with silence to a frame), flushes the codec and frees it.
    /// Errors: `already_closed` on a second call.
    std::error_code close(std::vector<encoded_audio>& packets) {
        if (closed_) return encoder_error::already_closed;
        closed_ = true;
        if (context_) {
            if (!pending_.empty()) {
                pending_.resize(static_cast<std::size_t>(frame_->nb_samples) * channels_, 0);
                (void)send(pending_, packets);
            }
            if (avcodec_send_frame(context_.get(), nullptr) >= 0) (void)drain(packets);
        }
        context_.reset();
        frame_.reset();
        packet_.reset();
        return {};
    }

    std::string_view identifier() const noexcept { return identifier_; }
    std::uint8_t flv_sound_format() const noexcept { return sound_format_; }
    std::uint32_t fourcc() const noexcept { return fourcc_; }

private:
    using context_ptr = detail::av_context_ptr;
    using frame_ptr = detail::av_frame_ptr;
    using packet_ptr = detail::av_packet_ptr;

    // The first of the codec's formats that 16-bit samples convert to here.
    static AVSampleFormat pick_format(const AVCodec* codec) {
        static constexpr AVSampleFormat known[] = {AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP};
        if (codec->sample_fmts == nullptr) return AV_SAMPLE_FMT_S16;
        for (const AVSampleFormat* f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; ++f)
            if (std::find(std::begin(known), std::end(known), *f) != std::end(known)) return *f;
        return AV_SAMPLE_FMT_NONE;
    }

    // One codec frame of interleaved samples, converted into frame_ and sent.
    std::error_code send(std::span<const std::int16_t> samples, std::vector<encoded_audio>& packets) {
        if (av_frame_make_writable(frame_.get()) < 0) return encoder_error::allocation_failure;
        const std::size_t count = static_cast<std::size_t>(frame_->nb_samples);
        const auto format = static_cast<AVSampleFormat>(frame_->format);
        const bool planar = av_sample_fmt_is_planar(format) != 0;
        for (std::size_t i = 0; i < count; ++i) {
            for (std::size_t c = 0; c < channels_; ++c) {
                const std::int16_t v = samples[i * channels_ + c];
                const std::size_t at = planar ? i : i * channels_ + c;
                std::uint8_t* plane = frame_->data[planar ? c : 0];
                if (format == AV_SAMPLE_FMT_S16 || format == AV_SAMPLE_FMT_S16P)
                    reinterpret_cast<std::int16_t*>(plane)[at] = v;
                else
                    reinterpret_cast<float*>(plane)[at] = static_cast<float>(v) / 32768.0f;
            }
        }
        frame_->pts = next_sample_;
        next_sample_ += static_cast<std::int64_t>(count);
        if (avcodec_send_frame(context_.get(), frame_.get()) < 0) return encoder_error::encode_failure;
        return drain(packets);
    }

    std::error_code drain(std::vector<encoded_audio>& packets) {
        for (;;) {
            const int rc = avcodec_receive_packet(context_.get(), packet_.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
            if (rc < 0) return encoder_error::encode_failure;
            encoded_audio out;
            const auto* bytes = reinterpret_cast<const std::byte*>(packet_->data);
            out.data.assign(bytes, bytes + packet_->size);
            // Where the packet's first sample is in the PCM handed in: the codec's priming
            // (initial padding) puts the first packets before 0.
            out.first_sample = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : emitted_;
            out.samples = static_cast<std::uint32_t>(packet_->duration > 0 ? packet_->duration : frame_->nb_samples);
            emitted_ = out.first_sample + out.samples;
            av_packet_unref(packet_.get());
            packets.push_back(std::move(out));
        }
    }

    std::string codec_name_;
    std::uint8_t sound_format_;
    std::uint32_t fourcc_;
    std::string identifier_;
    std::int64_t bitrate_ = 128'000;
    context_ptr context_;
    frame_ptr frame_;
    packet_ptr packet_;
    std::size_t channels_ = 0;
    std::vector<std::int16_t> pending_;
    std::int64_t next_sample_ = 0;
    std::int64_t emitted_ = 0;
    bool closed_ = false;
};

RTMPX_NAMESPACE_END

#endif // RTMPX_WITH_LIBAVCODEC
