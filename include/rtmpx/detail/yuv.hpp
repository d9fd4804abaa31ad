// SPDX-License-Identifier: MIT
// Conversion of any canvas_view to I420 (BT.601 limited range, integer arithmetic) for encoders.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Writable I420 planes: Y is width x height, U and V are (width+1)/2 x (height+1)/2.
struct i420_planes {
    std::byte* y = nullptr;
    std::byte* u = nullptr;
    std::byte* v = nullptr;
    std::uint32_t y_stride = 0;
    std::uint32_t u_stride = 0;
    std::uint32_t v_stride = 0;
};

/// Chroma samples along a luma dimension of `n` (rounded up for odd sizes).
inline constexpr std::uint32_t chroma_extent(std::uint32_t n) noexcept { return n / 2 + (n & 1u); }

// BT.601 limited range from full-range 8-bit RGB, coefficients scaled by 2^16:
//   Y = 16  + ( 0.256788 R + 0.504129 G + 0.097906 B)
//   U = 128 + (-0.148223 R - 0.290993 G + 0.439216 B)
//   V = 128 + ( 0.439216 R - 0.367788 G - 0.071427 B)
// The chroma rows sum to exactly 0 so that greys give U = V = 128.
inline constexpr std::int32_t yuv_y_r = 16829, yuv_y_g = 33039, yuv_y_b = 6416;
inline constexpr std::int32_t yuv_u_r = -9714, yuv_u_g = -19070, yuv_u_b = 28784;
inline constexpr std::int32_t yuv_v_r = 28784, yuv_v_g = -24103, yuv_v_b = -4681;

inline std::byte rgb_to_y(std::int32_t r, std::int32_t g, std::int32_t b) noexcept {
    return static_cast<std::byte>(16 + ((yuv_y_r * r + yuv_y_g * g + yuv_y_b * b + (1 << 15)) >> 16));
}

// From the sums of four samples (hence the extra 2 bits of shift).
inline std::byte rgb4_to_u(std::int32_t r4, std::int32_t g4, std::int32_t b4) noexcept {
    return static_cast<std::byte>(128 + ((yuv_u_r * r4 + yuv_u_g * g4 + yuv_u_b * b4 + (1 << 17)) >> 18));
}
inline std::byte rgb4_to_v(std::int32_t r4, std::int32_t g4, std::int32_t b4) noexcept {
    return static_cast<std::byte>(128 + ((yuv_v_r * r4 + yuv_v_g * g4 + yuv_v_b * b4 + (1 << 17)) >> 18));
}

/**
 * Packed RGB → I420, two rows at a time; each chroma sample averages a 2x2 block (the last
 * column/row is repeated for odd widths/heights). `R`, `G`, `B` are byte offsets in a pixel.
 */
template <unsigned R, unsigned G, unsigned B, unsigned Bpp>
void packed_rgb_to_i420(const canvas_view& src, const i420_planes& dst) noexcept {
    const std::uint32_t w = src.width;
    const std::uint32_t h = src.height;
    const std::uint32_t even_w = w & ~1u;
    auto c = [](const std::byte* p, unsigned off) { return static_cast<std::int32_t>(p[off]); };

    for (std::uint32_t y = 0; y < h; y += 2) {
        const bool second = y + 1 < h;
        const std::byte* row0 = src.planes[0] + std::size_t{y} * src.strides[0];
        const std::byte* row1 = second ? row0 + src.strides[0] : row0;
        std::byte* y0 = dst.y + std::size_t{y} * dst.y_stride;
        std::byte* y1 = second ? y0 + dst.y_stride : y0;  // rewrites row 0 with the same values
        std::byte* u = dst.u + std::size_t{y / 2} * dst.u_stride;
        std::byte* v = dst.v + std::size_t{y / 2} * dst.v_stride;

        std::uint32_t x = 0;
        for (; x < even_w; x += 2) {
            const std::byte* a = row0 + std::size_t{x} * Bpp;
            const std::byte* b = a + Bpp;
            const std::byte* d = row1 + std::size_t{x} * Bpp;
            const std::byte* e = d + Bpp;
            y0[x] = rgb_to_y(c(a, R), c(a, G), c(a, B));
            y0[x + 1] = rgb_to_y(c(b, R), c(b, G), c(b, B));
            y1[x] = rgb_to_y(c(d, R), c(d, G), c(d, B));
            y1[x + 1] = rgb_to_y(c(e, R), c(e, G), c(e, B));
            const std::int32_t r4 = c(a, R) + c(b, R) + c(d, R) + c(e, R);
            const std::int32_t g4 = c(a, G) + c(b, G) + c(d, G) + c(e, G);
            const std::int32_t b4 = c(a, B) + c(b, B) + c(d, B) + c(e, B);
            u[x / 2] = rgb4_to_u(r4, g4, b4);
            v[x / 2] = rgb4_to_v(r4, g4, b4);
        }
        if (x < w) {  // odd width: the last column counts twice
            const std::byte* a = row0 + std::size_t{x} * Bpp;
            const std::byte* d = row1 + std::size_t{x} * Bpp;
            y0[x] = rgb_to_y(c(a, R), c(a, G), c(a, B));
            y1[x] = rgb_to_y(c(d, R), c(d, G), c(d, B));
            const std::int32_t r4 = 2 * (c(a, R) + c(d, R));
            const std::int32_t g4 = 2 * (c(a, G) + c(d, G));
            const std::int32_t b4 = 2 * (c(a, B) + c(d, B));
            u[x / 2] = rgb4_to_u(r4, g4, b4);
            v[x / 2] = rgb4_to_v(r4, g4, b4);
        }
    }
}

/// True when `src` has the planes and strides its format needs, and a non-zero size.
inline bool canvas_view_valid(const canvas_view& src) noexcept {
    if (src.width == 0 || src.height == 0) return false;
    const std::uint32_t cw = chroma_extent(src.width);
    switch (src.format) {
    case pixel_format::rgba:
    case pixel_format::bgra:
    case pixel_format::rgb24:
    case pixel_format::bgr24:
        return src.planes[0] && std::uint64_t{src.strides[0]} >= std::uint64_t{src.width} * bytes_per_pixel(src.format);
    case pixel_format::i420:
        return src.planes[0] && src.planes[1] && src.planes[2] && src.strides[0] >= src.width &&
               src.strides[1] >= cw && src.strides[2] >= cw;
    case pixel_format::nv12:
        return src.planes[0] && src.planes[1] && src.strides[0] >= src.width &&
               std::uint64_t{src.strides[1]} >= 2 * std::uint64_t{cw};
    }
    return false;
}

/**
 * Converts (or copies) any supported picture into I420 planes of the same size.
 *
 * Errors: `encoder_error::unsupported_pixel_format` for a format value outside `pixel_format`;
 * `encoder_error::invalid_parameter` for a view with a zero size, missing planes or too small
 * strides. `dst` must hold width x height luma and chroma_extent() x chroma_extent() chroma.
 */
inline std::error_code convert_to_i420(const canvas_view& src, const i420_planes& dst) noexcept {
    switch (src.format) {
    case pixel_format::rgba:
    case pixel_format::bgra:
    case pixel_format::rgb24:
    case pixel_format::bgr24:
    case pixel_format::i420:
    case pixel_format::nv12: break;
    default: return encoder_error::unsupported_pixel_format;
    }
    if (!canvas_view_valid(src)) return encoder_error::invalid_parameter;

    const std::uint32_t cw = chroma_extent(src.width);
    const std::uint32_t ch = chroma_extent(src.height);
    switch (src.format) {
    case pixel_format::rgba: packed_rgb_to_i420<0, 1, 2, 4>(src, dst); break;
    case pixel_format::bgra: packed_rgb_to_i420<2, 1, 0, 4>(src, dst); break;
    case pixel_format::rgb24: packed_rgb_to_i420<0, 1, 2, 3>(src, dst); break;
    case pixel_format::bgr24: packed_rgb_to_i420<2, 1, 0, 3>(src, dst); break;
    case pixel_format::i420:
        for (std::uint32_t y = 0; y < src.height; ++y)
            std::copy_n(src.planes[0] + std::size_t{y} * src.strides[0], src.width, dst.y + std::size_t{y} * dst.y_stride);
        for (std::uint32_t y = 0; y < ch; ++y) {
            std::copy_n(src.planes[1] + std::size_t{y} * src.strides[1], cw, dst.u + std::size_t{y} * dst.u_stride);
            std::copy_n(src.planes[2] + std::size_t{y} * src.strides[2], cw, dst.v + std::size_t{y} * dst.v_stride);
        }
        break;
    case pixel_format::nv12:
        for (std::uint32_t y = 0; y < src.height; ++y)
            std::copy_n(src.planes[0] + std::size_t{y} * src.strides[0], src.width, dst.y + std::size_t{y} * dst.y_stride);
        for (std::uint32_t y = 0; y < ch; ++y) {
            const std::byte* uv = src.planes[1] + std::size_t{y} * src.strides[1];
            std::byte* u = dst.u + std::size_t{y} * dst.u_stride;
            std::byte* v = dst.v + std::size_t{y} * dst.v_stride;
            for (std::uint32_t x = 0; x < cw; ++x) {
                u[x] = uv[2 * x];
                v[x] = uv[2 * x + 1];
            }
        }
        break;
    }
    return {};
}

/**
 * An owning, contiguous I420 picture (Y, then U, then V, tightly packed), reused across
 * frames: `resize` reallocates only when the size grows.
 */
class i420_buffer {
public:
    void resize(std::uint32_t width, std::uint32_t height) {
        width_ = width;
        height_ = height;
        const std::size_t luma = std::size_t{width} * height;
        const std::size_t chroma = std::size_t{chroma_extent(width)} * chroma_extent(height);
        bytes_.resize(luma + 2 * chroma);
    }

    std::uint32_t width() const noexcept { return width_; }
    std::uint32_t height() const noexcept { return height_; }

    i420_planes planes() noexcept {
        const std::size_t luma = std::size_t{width_} * height_;
        const std::size_t chroma = std::size_t{chroma_extent(width_)} * chroma_extent(height_);
        const std::uint32_t cw = chroma_extent(width_);
        return {bytes_.data(), bytes_.data() + luma, bytes_.data() + luma + chroma, width_, cw, cw};
    }

    canvas_view view() const noexcept {
        const std::size_t luma = std::size_t{width_} * height_;
        const std::size_t chroma = std::size_t{chroma_extent(width_)} * chroma_extent(height_);
        const std::uint32_t cw = chroma_extent(width_);
        return canvas_view::i420(bytes_.data(), width_, bytes_.data() + luma, cw, bytes_.data() + luma + chroma, cw,
                                 width_, height_);
    }

private:
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::vector<std::byte> bytes_;
};

} // namespace detail
RTMPX_NAMESPACE_END
