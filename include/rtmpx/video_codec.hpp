// SPDX-License-Identifier: MIT
// A stream's encoder behind one type (any `video_encoder`), and the registry of codecs by name.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/audio_codec.hpp>
#include <rtmpx/codec/libavcodec_audio_encoder.hpp>
#include <rtmpx/codec/libavcodec_encoder.hpp>
#include <rtmpx/codec/openh264_encoder.hpp>
#include <rtmpx/codec/screen_video_encoder.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * The encoder a stream owns: any type that satisfies `video_encoder`, plus lazy initialisation.
 *
 * `encode` initialises the encoder on the first canvas, and again whenever the canvas size
 * changes; each initialisation produces a new codec configuration (`header()`, with a new
 * `generation()`), which the server sends to the player before the next frame.
 *
 * Thread: once the stream plays, only the frame thread may use it (the frame handler calls
 * `encode`). Before play (in the stream or play handler) the connection's thread may set it up.
 */
class video_codec {
public:
    template <video_encoder E>
    explicit video_codec(E encoder) : impl_(std::make_unique<model<E>>(std::move(encoder))) {}

    /// Initialises for `width` x `height`; the codec configuration is then in `header()`.
    std::error_code init(std::uint32_t width, std::uint32_t height) {
        std::vector<std::byte> header;
        if (auto ec = impl_->init(width, height, header)) return ec;
        header_ = std::move(header);
        width_ = width;
        height_ = height;
        ++generation_;
        return {};
    }

    /**
     * Makes the encoder ready for `width` x `height` pictures of `format` now, so that the first
     * frame after play costs one encode and no more: initialises, encodes one blank picture (the
     * encoder's first picture is its slowest: its buffers and tables come to life) and drops it,
     * then asks for a key frame next. Takes about one initialisation and two encodes, on the
     * calling thread.
     * Errors: the encoder's, from `init` or `encode`.
     */
    std::error_code prepare(std::uint32_t width, std::uint32_t height, pixel_format format = pixel_format::rgba) {
        if (auto ec = init(width, height)) return ec;
        const canvas blank(width, height, is_packed(format) ? format : pixel_format::rgba);
        encoded_frame discarded;
        if (auto ec = impl_->encode(blank.view(), discarded)) return ec;
        impl_->force_key_frame();
        return {};
    }

    /// Encodes one canvas, (re)initialising first when needed.
    std::error_code encode(const canvas_view& canvas, encoded_frame& out) {
        if (generation_ == 0 || canvas.width != width_ || canvas.height != height_) {
            if (auto ec = init(canvas.width, canvas.height)) return ec;
        }
        return impl_->encode(canvas, out);
    }

    std::error_code set_parameter(std::string_view name, double value) { return impl_->set_parameter(name, value); }
    std::optional<double> get_parameter(std::string_view name) const { return impl_->get_parameter(name); }
    std::span<const pixel_format> supported_pixel_formats() const { return impl_->supported_pixel_formats(); }
    void force_key_frame() { impl_->force_key_frame(); }
    std::error_code close(std::vector<std::byte>& remaining) { return impl_->close(remaining); }
    std::string_view identifier() const { return impl_->identifier(); }
    /// The FLV video codec id (RTMP video tag): 3 screen video, 7 AVC, ...
    std::uint8_t flv_codec_id() const { return impl_->flv_codec_id(); }
    /// The Enhanced RTMP FourCC of an encoder that has one (`fourcc()`, e.g. 0x61763031 `av01`):
    /// its frames go out as Enhanced RTMP tags, its `header()` as their SequenceStart. 0 otherwise.
    std::uint32_t fourcc() const { return impl_->fourcc(); }

    /// The codec configuration of the last initialisation (AVCDecoderConfigurationRecord for H.264).
    const std::vector<std::byte>& header() const noexcept { return header_; }
    std::uint32_t width() const noexcept { return width_; }
    std::uint32_t height() const noexcept { return height_; }
    /// Counts initialisations; 0 until the first.
    std::uint64_t generation() const noexcept { return generation_; }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual std::error_code init(std::uint32_t, std::uint32_t, std::vector<std::byte>&) = 0;
        virtual std::error_code set_parameter(std::string_view, double) = 0;
        virtual std::optional<double> get_parameter(std::string_view) const = 0;
        virtual std::span<const pixel_format> supported_pixel_formats() const = 0;
        virtual std::error_code encode(const canvas_view&, encoded_frame&) = 0;
        virtual void force_key_frame() = 0;
        virtual std::error_code close(std::vector<std::byte>&) = 0;
        virtual std::string_view identifier() const = 0;
        virtual std::uint8_t flv_codec_id() const = 0;
        virtual std::uint32_t fourcc() const = 0;
    };
    template <class E>
    struct model final : concept_t {
        explicit model(E e) : enc(std::move(e)) {}
        std::error_code init(std::uint32_t w, std::uint32_t h, std::vector<std::byte>& out) override {
            return enc.init(w, h, out);
        }
        std::error_code set_parameter(std::string_view n, double v) override { return enc.set_parameter(n, v); }
        std::optional<double> get_parameter(std::string_view n) const override { return enc.get_parameter(n); }
        std::span<const pixel_format> supported_pixel_formats() const override {
            return enc.supported_pixel_formats();
        }
        std::error_code encode(const canvas_view& c, encoded_frame& f) override { return enc.encode(c, f); }
        void force_key_frame() override { enc.force_key_frame(); }
        std::error_code close(std::vector<std::byte>& r) override { return enc.close(r); }
        std::string_view identifier() const override { return enc.identifier(); }
        std::uint8_t flv_codec_id() const override { return enc.flv_codec_id(); }
        std::uint32_t fourcc() const override {
            if constexpr (requires { { enc.fourcc() } -> std::convertible_to<std::uint32_t>; }) {
                return enc.fourcc();
            } else {
                return 0;
            }
        }
        E enc;
    };

    std::unique_ptr<concept_t> impl_;
    std::vector<std::byte> header_;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::uint64_t generation_ = 0;
};

/**
 * Codecs by name, for `stream.use_codec(name)`. "h264" is registered when the OpenH264 adapter
 * is compiled in (`RTMPX_WITH_OPENH264`), "screen video" (lossless) with zlib
 * (`RTMPX_WITH_ZLIB`), "sorenson" (Sorenson Spark) with libavcodec (`RTMPX_WITH_LIBAVCODEC`), and
 * with it "av1", "vp9" and "hevc" (Enhanced RTMP) when that libavcodec has their encoders;
 * applications add their own encoders. Audio codecs have names of their own (`make_audio`):
 * "aac", and "opus" (Enhanced RTMP), with libavcodec.
 *
 * Thread: safe to use from any thread.
 */
class codec_registry {
public:
    codec_registry() {
#if defined(RTMPX_WITH_OPENH264)
        add("h264", [] { return openh264_encoder(); });
#endif
#if defined(RTMPX_WITH_ZLIB)
        add("screen video", [] { return screen_video_encoder(); });
#endif
#if defined(RTMPX_WITH_LIBAVCODEC)
        add("sorenson", [] { return libavcodec_encoder::sorenson(); });
        if (libavcodec_encoder::av1().available()) add("av1", [] { return libavcodec_encoder::av1(); });
        if (libavcodec_encoder::vp9().available()) add("vp9", [] { return libavcodec_encoder::vp9(); });
        if (libavcodec_encoder::hevc().available()) add("hevc", [] { return libavcodec_encoder::hevc(); });
        if (libavcodec_audio_encoder::aac().available()) add_audio("aac", [] { return libavcodec_audio_encoder::aac(); });
        if (libavcodec_audio_encoder::opus().available()) add_audio("opus", [] { return libavcodec_audio_encoder::opus(); });
#endif
    }

    /// Registers (or replaces) `name`; `factory()` returns a new encoder for each stream.
    template <class Factory>
        requires video_encoder<std::invoke_result_t<Factory&>>
    void add(std::string name, Factory factory) {
        std::lock_guard lock(mutex_);
        factories_[std::move(name)] = [f = std::move(factory)]() mutable { return std::make_unique<video_codec>(f()); };
    }

    /// Removes `name`; true when it was registered.
    bool remove(std::string_view name) {
        std::lock_guard lock(mutex_);
        auto it = factories_.find(name);
        if (it == factories_.end()) return false;
        factories_.erase(it);
        return true;
    }

    /// A new encoder for `name`, or null when no codec has that name.
    std::unique_ptr<video_codec> make(std::string_view name) const { return make_from(factories_, name); }

    bool contains(std::string_view name) const {
        std::lock_guard lock(mutex_);
        return factories_.find(name) != factories_.end();
    }

    /// The names registered, in order.
    std::vector<std::string> names() const { return names_of(factories_); }

    /// Registers (or replaces) the audio codec `name`; `factory()` returns a new encoder each time.
    template <class Factory>
        requires audio_encoder<std::invoke_result_t<Factory&>>
    void add_audio(std::string name, Factory factory) {
        std::lock_guard lock(mutex_);
        audio_factories_[std::move(name)] = [f = std::move(factory)]() mutable { return std::make_unique<audio_codec>(f()); };
    }

    /// A new audio encoder for `name`, or null when no audio codec has that name.
    std::unique_ptr<audio_codec> make_audio(std::string_view name) const { return make_from(audio_factories_, name); }

    /// The audio codec names registered, in order.
    std::vector<std::string> audio_names() const { return names_of(audio_factories_); }

private:
    // The factory is copied out and called outside the lock: it may take its time.
    template <class Map>
    auto make_from(const Map& factories, std::string_view name) const -> decltype(factories.begin()->second()) {
        typename Map::mapped_type factory;
        {
            std::lock_guard lock(mutex_);
            auto it = factories.find(name);
            if (it == factories.end()) return nullptr;
            factory = it->second;
        }
        return factory();
    }

    template <class Map>
    std::vector<std::string> names_of(const Map& factories) const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (const auto& entry : factories) out.push_back(entry.first);
        return out;
    }

    mutable std::mutex mutex_;
    std::map<std::string, std::function<std::unique_ptr<video_codec>()>, std::less<>> factories_;
    std::map<std::string, std::function<std::unique_ptr<audio_codec>()>, std::less<>> audio_factories_;
};

RTMPX_NAMESPACE_END
