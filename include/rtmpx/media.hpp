// SPDX-License-Identifier: MIT
// Raw pictures, encoded frames and the video_encoder concept that turns one into the other.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN

/// Layouts of a raw picture. Packed formats name their bytes in memory order (rgba: R first).
enum class pixel_format {
    rgba,   ///< 4 bytes a pixel: R, G, B, A
    bgra,   ///< 4 bytes a pixel: B, G, R, A
    rgb24,  ///< 3 bytes a pixel: R, G, B
    bgr24,  ///< 3 bytes a pixel: B, G, R
    i420,   ///< planar Y, U, V; chroma planes (w+1)/2 x (h+1)/2
    nv12,   ///< planar Y, then interleaved U/V pairs; chroma (w+1)/2 pairs x (h+1)/2 rows
};

/// Bytes a pixel of a packed format takes (4 or 3); 0 for the planar formats.
inline constexpr std::uint32_t bytes_per_pixel(pixel_format f) noexcept {
    switch (f) {
    case pixel_format::rgba:
    case pixel_format::bgra: return 4;
    case pixel_format::rgb24:
    case pixel_format::bgr24: return 3;
    case pixel_format::i420:
    case pixel_format::nv12: return 0;
    }
    return 0;
}

/// True for the one-plane formats (rgba, bgra, rgb24, bgr24).
inline constexpr bool is_packed(pixel_format f) noexcept { return bytes_per_pixel(f) != 0; }

/**
 * A non-owning view of a raw picture: up to three planes with their strides in bytes.
 * Packed formats use plane 0 only; i420 uses Y, U, V; nv12 uses Y and UV.
 *
 * Lifetime: the planes must stay valid while the view is used (an encoder reads them only
 * during `encode`).
 */
struct canvas_view {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    pixel_format format = pixel_format::rgba;
    const std::byte* planes[3] = {nullptr, nullptr, nullptr};
    std::uint32_t strides[3] = {0, 0, 0};

    /// A packed picture (rgba, bgra, rgb24 or bgr24) of `stride` bytes a row.
    static canvas_view packed(const void* data, std::uint32_t w, std::uint32_t h, std::uint32_t stride,
                              pixel_format f) noexcept {
        RTMPX_ASSERT(is_packed(f));
        canvas_view v;
        v.width = w;
        v.height = h;
        v.format = f;
        v.planes[0] = static_cast<const std::byte*>(data);
        v.strides[0] = stride;
        return v;
    }

    /// A planar I420 picture (chroma planes (w+1)/2 x (h+1)/2).
    static canvas_view i420(const void* y, std::uint32_t y_stride, const void* u, std::uint32_t u_stride,
                            const void* v, std::uint32_t v_stride, std::uint32_t w, std::uint32_t h) noexcept {
        canvas_view c;
        c.width = w;
        c.height = h;
        c.format = pixel_format::i420;
        c.planes[0] = static_cast<const std::byte*>(y);
        c.planes[1] = static_cast<const std::byte*>(u);
        c.planes[2] = static_cast<const std::byte*>(v);
        c.strides[0] = y_stride;
        c.strides[1] = u_stride;
        c.strides[2] = v_stride;
        return c;
    }

    /// An NV12 picture: a Y plane and an interleaved U/V plane ((h+1)/2 rows of (w+1)/2 pairs).
    static canvas_view nv12(const void* y, std::uint32_t y_stride, const void* uv, std::uint32_t uv_stride,
                            std::uint32_t w, std::uint32_t h) noexcept {
        canvas_view c;
        c.width = w;
        c.height = h;
        c.format = pixel_format::nv12;
        c.planes[0] = static_cast<const std::byte*>(y);
        c.planes[1] = static_cast<const std::byte*>(uv);
        c.strides[0] = y_stride;
        c.strides[1] = uv_stride;
        return c;
    }
};

/**
 * An owning packed image (rgba by default) with tightly packed rows, for drawing into.
 *
 * Thread: a plain value; no internal synchronisation.
 */
class canvas {
public:
    /// An empty 0x0 canvas.
    canvas() = default;

    /// A `width` x `height` canvas of a packed format, all bytes zero (transparent black).
    canvas(std::uint32_t width, std::uint32_t height, pixel_format format = pixel_format::rgba)
        : width_(width), height_(height), stride_(width * bytes_per_pixel(format)), format_(format),
          pixels_(std::size_t{stride_} * height) {
        RTMPX_ASSERT(is_packed(format));
    }

    std::uint32_t width() const noexcept { return width_; }
    std::uint32_t height() const noexcept { return height_; }
    /// Bytes a row (width x bytes a pixel).
    std::uint32_t stride() const noexcept { return stride_; }
    pixel_format format() const noexcept { return format_; }
    std::byte* data() noexcept { return pixels_.data(); }
    const std::byte* data() const noexcept { return pixels_.data(); }
    /// Bytes of the whole image (stride x height).
    std::size_t size_bytes() const noexcept { return pixels_.size(); }

    /// The bytes of pixel (x, y), in the format's order. Precondition: x < width, y < height.
    std::span<std::byte> pixel(std::uint32_t x, std::uint32_t y) noexcept {
        RTMPX_ASSERT(x < width_ && y < height_);
        return {pixels_.data() + offset(x, y), bytes_per_pixel(format_)};
    }
    std::span<const std::byte> pixel(std::uint32_t x, std::uint32_t y) const noexcept {
        RTMPX_ASSERT(x < width_ && y < height_);
        return {pixels_.data() + offset(x, y), bytes_per_pixel(format_)};
    }

    /// Writes pixel (x, y) from RGBA components (alpha is dropped by the 3-byte formats).
    void set_pixel(std::uint32_t x, std::uint32_t y, std::uint8_t r, std::uint8_t g, std::uint8_t b,
                   std::uint8_t a = 255) noexcept {
        store(pixel(x, y).data(), r, g, b, a);
    }

    /// Sets every pixel to one colour.
    void fill(std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint8_t a = 255) noexcept {
        const std::uint32_t bpp = bytes_per_pixel(format_);
        if (pixels_.empty()) return;
        std::byte first[4];
        store(first, r, g, b, a);
        for (std::size_t i = 0; i < pixels_.size(); i += bpp) std::copy_n(first, bpp, pixels_.data() + i);
    }

    /// A view of the whole image, valid until the canvas is resized, moved or destroyed.
    canvas_view view() const noexcept { return canvas_view::packed(pixels_.data(), width_, height_, stride_, format_); }

private:
    std::size_t offset(std::uint32_t x, std::uint32_t y) const noexcept {
        return std::size_t{y} * stride_ + std::size_t{x} * bytes_per_pixel(format_);
    }

    void store(std::byte* p, std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint8_t a) const noexcept {
        switch (format_) {
        case pixel_format::rgba: p[3] = std::byte{a}; [[fallthrough]];
        case pixel_format::rgb24:
            p[0] = std::byte{r};
            p[1] = std::byte{g};
            p[2] = std::byte{b};
            break;
        case pixel_format::bgra: p[3] = std::byte{a}; [[fallthrough]];
        case pixel_format::bgr24:
            p[0] = std::byte{b};
            p[1] = std::byte{g};
            p[2] = std::byte{r};
            break;
        case pixel_format::i420:
        case pixel_format::nv12: break;
        }
    }

    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::uint32_t stride_ = 0;
    pixel_format format_ = pixel_format::rgba;
    std::vector<std::byte> pixels_;
};

/**
 * One encoded picture. For H.264 `data` is AVCC: NAL units each preceded by a 4-byte big-endian
 * length, without SPS/PPS (they are in the sequence header) and without an FLV tag header.
 * Empty `data` means the encoder produced nothing for this picture.
 */
struct encoded_frame {
    std::vector<std::byte> data;
    bool key_frame = false;  ///< a random access point (an IDR picture for H.264)
};

/// Failures of a video encoder. Values are never renumbered.
enum class encoder_error {
    invalid_parameter = 1,     ///< unknown parameter name, value out of range, or not changeable now
    unsupported_resolution,    ///< width/height the encoder cannot take
    not_initialized,           ///< `encode` (or a call needing the codec) before `init`
    already_closed,            ///< any call after `close`
    allocation_failure,        ///< the codec could not allocate its state
    encode_failure,            ///< the codec failed on a picture
    unsupported_pixel_format,  ///< a canvas format the encoder does not take
};

namespace detail {

inline const char* encoder_error_message(encoder_error e) noexcept {
    switch (e) {
    case encoder_error::invalid_parameter: return "encoder: invalid parameter";
    case encoder_error::unsupported_resolution: return "encoder: unsupported resolution";
    case encoder_error::not_initialized: return "encoder: not initialized";
    case encoder_error::already_closed: return "encoder: already closed";
    case encoder_error::allocation_failure: return "encoder: allocation failure";
    case encoder_error::encode_failure: return "encoder: encoding failed";
    case encoder_error::unsupported_pixel_format: return "encoder: unsupported pixel format";
    }
    return "unknown rtmpx encoder error";
}

class encoder_error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "rtmpx.encoder"; }
    std::string message(int ev) const override { return encoder_error_message(static_cast<encoder_error>(ev)); }
};

} // namespace detail

/// The category of `rtmpx::encoder_error` values.
inline const std::error_category& encoder_error_category() noexcept {
    static const detail::encoder_error_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(encoder_error e) noexcept {
    return {static_cast<int>(e), encoder_error_category()};
}

/**
 * A video encoder the server can drive. Call order: `set_parameter`* → `init` → (`encode` |
 * `force_key_frame` | `set_parameter`)* → `close`.
 *
 * - `init(width, height, header)`: fills `header` with the codec configuration (for AVC the
 *   AVCDecoderConfigurationRecord; empty for codecs without one).
 * - `set_parameter(name, value)` / `get_parameter(name)`: codec settings by name.
 * - `supported_pixel_formats()`: canvas formats `encode` takes, most preferred first.
 * - `encode(view, frame)`: one picture in, zero or one encoded frame out.
 * - `force_key_frame()`: the next `encode` gives a key frame.
 * - `close(remaining)`: ends the stream; `remaining` gets any buffered output.
 * - `identifier()`: a short name ("openh264"); `flv_codec_id()`: the FLV CodecID (7 for AVC).
 * - optionally `fourcc()` (`std::uint32_t`, not part of the concept): an Enhanced RTMP codec's
 *   FourCC, big-endian (0x61763031 for `av01`); its frames then go out as Enhanced RTMP tags and
 *   `header` as their SequenceStart, to the players that declared the FourCC.
 *
 * Thread: implementations need not be thread-safe; one thread drives an encoder at a time.
 * Errors: reported through `std::error_code` (usually `encoder_error`); no exceptions.
 */
template <class E>
concept video_encoder = requires(E& e, const E& ce, std::uint32_t size, std::vector<std::byte>& bytes,
                                 std::string_view name, double value, const canvas_view& view,
                                 encoded_frame& frame) {
    { e.init(size, size, bytes) } -> std::same_as<std::error_code>;
    { e.set_parameter(name, value) } -> std::same_as<std::error_code>;
    { ce.get_parameter(name) } -> std::same_as<std::optional<double>>;
    { ce.supported_pixel_formats() } -> std::same_as<std::span<const pixel_format>>;
    { e.encode(view, frame) } -> std::same_as<std::error_code>;
    e.force_key_frame();
    { e.close(bytes) } -> std::same_as<std::error_code>;
    { ce.identifier() } -> std::same_as<std::string_view>;
    { ce.flv_codec_id() } -> std::same_as<std::uint8_t>;
};

/**
 * Sound for one tick, which the audio handler fills: `frames()` sample frames of `channels`
 * interleaved signed 16-bit samples each, at `sample_rate`, all zero (silence) until filled.
 */
struct audio_buffer {
    std::uint32_t sample_rate = 0;
    std::uint32_t channels = 0;
    std::vector<std::int16_t> samples;  ///< frames() * channels, interleaved (L R L R ... for stereo)
    std::size_t frames() const noexcept { return channels == 0 ? 0 : samples.size() / channels; }
};

/// One encoded audio packet: the codec's bytes (no FLV tag header), and where its first sample
/// is in the PCM handed to the encoder (negative for the codec's priming before the first).
struct encoded_audio {
    std::vector<std::byte> data;
    std::int64_t first_sample = 0;
    std::uint32_t samples = 0;  ///< sample frames it decodes to
};

/**
 * An audio encoder the server can drive: `init` → (`encode`)* → `close`.
 *
 * - `init(sample_rate, channels, header)`: fills `header` with the codec configuration (AAC's
 *   AudioSpecificConfig; Opus's identification header).
 * - `encode(pcm, packets)`: interleaved 16-bit samples in, any number of whole packets appended
 *   (encoders work in fixed frames: the rest waits for the next call).
 * - `set_parameter`/`get_parameter`, `close(packets)` (what is left, flushed), `identifier()`.
 * - `flv_sound_format()`: the FLV SoundFormat (10 for AAC), or 9 with `fourcc()` an Enhanced
 *   RTMP audio FourCC (`Opus`), big-endian.
 *
 * Thread: one thread drives an encoder at a time. Errors: `encoder_error` values.
 */
template <class E>
concept audio_encoder = requires(E& e, const E& ce, std::uint32_t n, std::vector<std::byte>& bytes, std::span<const std::int16_t> pcm,
                                 std::vector<encoded_audio>& packets, std::string_view name, double value) {
    { e.init(n, n, bytes) } -> std::same_as<std::error_code>;
    { e.set_parameter(name, value) } -> std::same_as<std::error_code>;
    { ce.get_parameter(name) } -> std::same_as<std::optional<double>>;
    { e.encode(pcm, packets) } -> std::same_as<std::error_code>;
    { e.close(packets) } -> std::same_as<std::error_code>;
    { ce.identifier() } -> std::same_as<std::string_view>;
    { ce.flv_sound_format() } -> std::same_as<std::uint8_t>;
    { ce.fourcc() } -> std::same_as<std::uint32_t>;
};

RTMPX_NAMESPACE_END

template <>
struct std::is_error_code_enum<rtmpx::encoder_error> : std::true_type {};
