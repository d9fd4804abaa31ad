// SPDX-License-Identifier: MIT
// A lossless Flash Screen Video (version 1, FLV codec id 3) video_encoder over zlib; only with RTMPX_WITH_ZLIB.
#pragma once

#if defined(RTMPX_WITH_ZLIB)

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <zlib.h>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/yuv.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * Flash Screen Video version 1 (FLV VideoTagHeader CodecID 3): lossless, the picture cut into
 * square blocks, each block's BGR pixels compressed with zlib. Suits synthetic pictures (user
 * interfaces, charts, text) where most blocks stay the same from frame to frame.
 *
 * Bitstream of one frame (`encoded_frame::data`, without the FLV FrameType/CodecID byte that
 * the server puts in front):
 * - UB[4] block width / 16 - 1, UB[12] image width, UB[4] block height / 16 - 1,
 *   UB[12] image height (4 bytes, big-endian bit order);
 * - the blocks in rows starting at the bottom-left corner: left to right within a row, rows
 *   bottom to top; the blocks of the last column and of the top row are cut to the picture;
 * - each block: UB[16] size, then `size` bytes of zlib data holding the block's pixels as
 *   B, G, R bytes, pixel rows bottom to top. Size 0 (inter frames only) means "as in the
 *   previous frame".
 *
 * Key frames carry every block; inter frames give size 0 to every block whose pixels did not
 * change. There is no sequence header: `init` leaves `header` empty.
 *
 * Parameters (`set_parameter` before or after `init`, integral values):
 * - "block_size": block width and height in pixels, 16..256 and a multiple of 16 (default 64);
 *   a change after init makes the next frame a key frame.
 * - "key_frame_interval": frames from one key frame to the next, 0 for only the first (and
 *   forced ones) (default 60).
 * - "compression_level": zlib level 0..9 (default 6). A block whose zlib data would not fit
 *   the 16-bit size at this level is compressed again at level 9.
 *
 * Thread: not thread-safe; one thread at a time drives an encoder (distinct encoders are
 * independent).
 * Errors: `encoder_error` values; nothing is thrown (beyond std::bad_alloc from the containers).
 * Lifetime: a plain value (copyable and movable); it holds two BGR copies of the picture.
 */
class screen_video_encoder {
public:
    screen_video_encoder() noexcept = default;

    /**
     * Prepares for `width` x `height` pictures; `header` is cleared (codec 3 has none). Calling
     * it again starts over (e.g. for a new size) with a key frame.
     *
     * Errors: `unsupported_resolution` unless both sizes are in 1..4095; `already_closed`.
     */
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& header) {
        header.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        if (width < 1 || height < 1 || width > max_dimension || height > max_dimension)
            return encoder_error::unsupported_resolution;
        width_ = width;
        height_ = height;
        const std::size_t bytes = std::size_t{width} * height * 3;
        current_.assign(bytes, std::byte{0});
        previous_.assign(bytes, std::byte{0});
        frames_since_key_ = 0;
        pending_key_ = true;
        state_ = state::ready;
        return {};
    }

    /**
     * Sets a parameter by name (see the class comment for names and ranges).
     *
     * Errors: `invalid_parameter` for an unknown name or a value out of range or not integral;
     * `already_closed`.
     */
    std::error_code set_parameter(std::string_view name, double value) noexcept {
        if (state_ == state::closed) return encoder_error::already_closed;
        if (name == "block_size") {
            if (!integral_in(value, 16, 256) || static_cast<int>(value) % 16 != 0) return encoder_error::invalid_parameter;
            const auto size = static_cast<std::uint32_t>(value);
            if (size != block_size_ && state_ == state::ready) pending_key_ = true;
            block_size_ = size;
        } else if (name == "key_frame_interval") {
            if (!integral_in(value, 0, 1'000'000'000)) return encoder_error::invalid_parameter;
            key_frame_interval_ = static_cast<std::uint32_t>(value);
        } else if (name == "compression_level") {
            if (!integral_in(value, 0, 9)) return encoder_error::invalid_parameter;
            compression_level_ = static_cast<int>(value);
        } else {
            return encoder_error::invalid_parameter;
        }
        return {};
    }

    /// The current value of a parameter; nullopt for an unknown name.
    std::optional<double> get_parameter(std::string_view name) const noexcept {
        if (name == "block_size") return block_size_;
        if (name == "key_frame_interval") return key_frame_interval_;
        if (name == "compression_level") return compression_level_;
        return std::nullopt;
    }

    /// The packed RGB formats: rgba, bgra, rgb24, bgr24 (alpha is ignored).
    std::span<const pixel_format> supported_pixel_formats() const noexcept { return formats_; }

    /**
     * Encodes one picture of the size given to `init` into `out.data` (header and blocks, see
     * the class comment); `out.key_frame` tells whether every block is present.
     *
     * Errors: `not_initialized`; `already_closed`; `unsupported_pixel_format` for i420/nv12;
     * `invalid_parameter` for a picture of another size, a missing plane or a short stride;
     * `allocation_failure` when zlib runs out of memory; `encode_failure` when a block does
     * not fit in 65535 bytes of zlib data even at level 9. On an error `out.data` is empty
     * and the reference picture is unchanged.
     */
    std::error_code encode(const canvas_view& picture, encoded_frame& out) {
        out.data.clear();
        out.key_frame = false;
        if (state_ == state::closed) return encoder_error::already_closed;
        if (state_ != state::ready) return encoder_error::not_initialized;
        if (!is_packed(picture.format)) return encoder_error::unsupported_pixel_format;
        if (picture.width != width_ || picture.height != height_ || !detail::canvas_view_valid(picture))
            return encoder_error::invalid_parameter;

        to_bgr(picture);
        const bool key = pending_key_ || (key_frame_interval_ != 0 && frames_since_key_ >= key_frame_interval_);

        const std::uint32_t bs = block_size_;
        const std::uint32_t columns = (width_ + bs - 1) / bs;
        const std::uint32_t rows = (height_ + bs - 1) / bs;
        const auto code = static_cast<std::uint32_t>(bs / 16 - 1);
        out.data.reserve(4 + std::size_t{columns} * rows * 2);
        out.data.push_back(static_cast<std::byte>((code << 4) | (width_ >> 8)));
        out.data.push_back(static_cast<std::byte>(width_ & 0xffu));
        out.data.push_back(static_cast<std::byte>((code << 4) | (height_ >> 8)));
        out.data.push_back(static_cast<std::byte>(height_ & 0xffu));

        for (std::uint32_t row = 0; row < rows; ++row) {
            // Block row 0 is at the bottom: its lowest pixel row is picture row height - 1.
            const std::uint32_t bottom = height_ - row * bs;  // one past the block's lowest row (top-down)
            const std::uint32_t bh = std::min(bs, bottom);
            for (std::uint32_t column = 0; column < columns; ++column) {
                const std::uint32_t x = column * bs;
                const std::uint32_t bw = std::min(bs, width_ - x);
                if (!key && block_unchanged(x, bottom - bh, bw, bh)) {
                    out.data.push_back(std::byte{0});
                    out.data.push_back(std::byte{0});
                    continue;
                }
                if (auto ec = append_block(out.data, x, bottom, bw, bh); ec) {
                    out.data.clear();
                    return ec;
                }
            }
        }

        current_.swap(previous_);
        pending_key_ = false;
        frames_since_key_ = key ? 1 : frames_since_key_ + 1;
        out.key_frame = key;
        return {};
    }

    /// Makes the next `encode` produce a key frame (every block present).
    void force_key_frame() noexcept { pending_key_ = true; }

    /**
     * Ends the stream; every later call gives `already_closed`. Nothing is buffered, so
     * `remaining` is left empty.
     *
     * Errors: `already_closed` on a second call.
     */
    std::error_code close(std::vector<std::byte>& remaining) {
        remaining.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        state_ = state::closed;
        current_ = {};
        previous_ = {};
        scratch_ = {};
        block_ = {};
        return {};
    }

    std::string_view identifier() const noexcept { return "screen video"; }
    /// FLV VideoTagHeader CodecID: 3 (Screen video).
    std::uint8_t flv_codec_id() const noexcept { return 3; }

    /// Largest width or height the 12-bit header fields hold.
    static constexpr std::uint32_t max_dimension = 4095;

private:
    enum class state { fresh, ready, closed };

    static constexpr std::array<pixel_format, 4> formats_ = {pixel_format::rgba, pixel_format::bgra,
                                                             pixel_format::rgb24, pixel_format::bgr24};

    static bool integral_in(double v, double lo, double hi) noexcept {
        return std::isfinite(v) && v >= lo && v <= hi && std::floor(v) == v;
    }

    // The picture into current_: top-down rows of B, G, R.
    void to_bgr(const canvas_view& picture) noexcept {
        const std::uint32_t bpp = bytes_per_pixel(picture.format);
        const bool red_first = picture.format == pixel_format::rgba || picture.format == pixel_format::rgb24;
        const unsigned r = red_first ? 0 : 2;
        const unsigned b = red_first ? 2 : 0;
        for (std::uint32_t y = 0; y < height_; ++y) {
            const std::byte* src = picture.planes[0] + std::size_t{y} * picture.strides[0];
            std::byte* dst = current_.data() + std::size_t{y} * width_ * 3;
            for (std::uint32_t x = 0; x < width_; ++x, src += bpp, dst += 3) {
                dst[0] = src[b];
                dst[1] = src[1];
                dst[2] = src[r];
            }
        }
    }

    // True when the block at column x, top-down rows [top, top + h) is the same in both pictures.
    bool block_unchanged(std::uint32_t x, std::uint32_t top, std::uint32_t w, std::uint32_t h) const noexcept {
        for (std::uint32_t y = top; y < top + h; ++y) {
            const std::size_t at = (std::size_t{y} * width_ + x) * 3;
            if (!std::equal(current_.begin() + static_cast<std::ptrdiff_t>(at),
                            current_.begin() + static_cast<std::ptrdiff_t>(at + std::size_t{w} * 3),
                            previous_.begin() + static_cast<std::ptrdiff_t>(at)))
                return false;
        }
        return true;
    }

    // Appends UB[16] size + zlib data of the block whose lowest row is `bottom` - 1 (top-down).
    std::error_code append_block(std::vector<std::byte>& data, std::uint32_t x, std::uint32_t bottom, std::uint32_t w,
                                 std::uint32_t h) {
        const std::size_t row_bytes = std::size_t{w} * 3;
        block_.resize(row_bytes * h);
        std::byte* dst = block_.data();
        for (std::uint32_t i = 1; i <= h; ++i, dst += row_bytes) {  // rows bottom to top
            const std::byte* src = current_.data() + (std::size_t{bottom - i} * width_ + x) * 3;
            std::copy_n(src, row_bytes, dst);
        }

        const uLong source_size = static_cast<uLong>(block_.size());
        scratch_.resize(static_cast<std::size_t>(compressBound(source_size)));
        uLongf size = 0;
        int level = compression_level_;
        for (;;) {
            size = static_cast<uLongf>(scratch_.size());
            const int rc = compress2(reinterpret_cast<Bytef*>(scratch_.data()), &size,
                                     reinterpret_cast<const Bytef*>(block_.data()), source_size, level);
            if (rc == Z_MEM_ERROR) return encoder_error::allocation_failure;
            if (rc != Z_OK) return encoder_error::encode_failure;
            if (size <= max_block_data) break;
            if (level == Z_BEST_COMPRESSION) return encoder_error::encode_failure;
            level = Z_BEST_COMPRESSION;
        }

        data.push_back(static_cast<std::byte>(size >> 8));
        data.push_back(static_cast<std::byte>(size & 0xffu));
        data.insert(data.end(), scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(size));
        return {};
    }

    static constexpr uLongf max_block_data = 0xffff;

    state state_ = state::fresh;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::uint32_t block_size_ = 64;
    std::uint32_t key_frame_interval_ = 60;
    int compression_level_ = 6;
    std::uint64_t frames_since_key_ = 0;  // frames encoded since the last key frame, counting it
    bool pending_key_ = false;
    std::vector<std::byte> current_;   // the picture being encoded, top-down BGR
    std::vector<std::byte> previous_;  // the last encoded picture, top-down BGR
    std::vector<std::byte> block_;     // one block's BGR rows, bottom to top
    std::vector<std::byte> scratch_;   // zlib output of one block
};

static_assert(video_encoder<screen_video_encoder>);

RTMPX_NAMESPACE_END

#endif // defined(RTMPX_WITH_ZLIB)
