// SPDX-License-Identifier: MIT
// A source's audio encoder behind one type (any `audio_encoder`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * The audio encoder a broadcast owns: any type that satisfies `audio_encoder`, with the sample
 * rate and channel count it was opened for and its configuration (`header()`).
 *
 * Thread: once the broadcast runs, only its thread uses it.
 */
class audio_codec {
public:
    template <audio_encoder E>
    explicit audio_codec(E encoder) : impl_(std::make_unique<model<E>>(std::move(encoder))) {}

    /// Opens the encoder for `sample_rate` and `channels`; the configuration is then in `header()`.
    std::error_code init(std::uint32_t sample_rate, std::uint32_t channels) {
        std::vector<std::byte> header;
        if (auto ec = impl_->init(sample_rate, channels, header)) return ec;
        header_ = std::move(header);
        sample_rate_ = sample_rate;
        channels_ = channels;
        return {};
    }
    std::error_code encode(std::span<const std::int16_t> pcm, std::vector<encoded_audio>& packets) { return impl_->encode(pcm, packets); }
    std::error_code close(std::vector<encoded_audio>& packets) { return impl_->close(packets); }
    std::error_code set_parameter(std::string_view name, double value) { return impl_->set_parameter(name, value); }
    std::optional<double> get_parameter(std::string_view name) const { return impl_->get_parameter(name); }
    std::string_view identifier() const { return impl_->identifier(); }
    /// The FLV SoundFormat (10 AAC; 9 with `fourcc()` for Enhanced RTMP audio).
    std::uint8_t flv_sound_format() const { return impl_->flv_sound_format(); }
    std::uint32_t fourcc() const { return impl_->fourcc(); }

    const std::vector<std::byte>& header() const noexcept { return header_; }
    std::uint32_t sample_rate() const noexcept { return sample_rate_; }
    std::uint32_t channels() const noexcept { return channels_; }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual std::error_code init(std::uint32_t, std::uint32_t, std::vector<std::byte>&) = 0;
        virtual std::error_code encode(std::span<const std::int16_t>, std::vector<encoded_audio>&) = 0;
        virtual std::error_code close(std::vector<encoded_audio>&) = 0;
        virtual std::error_code set_parameter(std::string_view, double) = 0;
        virtual std::optional<double> get_parameter(std::string_view) const = 0;
        virtual std::string_view identifier() const = 0;
        virtual std::uint8_t flv_sound_format() const = 0;
        virtual std::uint32_t fourcc() const = 0;
    };
    template <class E>
    struct model final : concept_t {
        explicit model(E e) : enc(std::move(e)) {}
        std::error_code init(std::uint32_t r, std::uint32_t c, std::vector<std::byte>& h) override { return enc.init(r, c, h); }
        std::error_code encode(std::span<const std::int16_t> p, std::vector<encoded_audio>& o) override { return enc.encode(p, o); }
        std::error_code close(std::vector<encoded_audio>& o) override { return enc.close(o); }
        std::error_code set_parameter(std::string_view n, double v) override { return enc.set_parameter(n, v); }
        std::optional<double> get_parameter(std::string_view n) const override { return enc.get_parameter(n); }
        std::string_view identifier() const override { return enc.identifier(); }
        std::uint8_t flv_sound_format() const override { return enc.flv_sound_format(); }
        std::uint32_t fourcc() const override { return enc.fourcc(); }
        E enc;
    };

    std::unique_ptr<concept_t> impl_;
    std::vector<std::byte> header_;
    std::uint32_t sample_rate_ = 0;
    std::uint32_t channels_ = 0;
};

RTMPX_NAMESPACE_END
