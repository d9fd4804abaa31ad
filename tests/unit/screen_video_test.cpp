// SPDX-License-Identifier: MIT
// Tests for codec/screen_video_encoder.hpp: header bits, block order, unchanged blocks, key frames, errors.
#if defined(RTMPX_WITH_ZLIB)

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <zlib.h>

#include <rtmpx/codec/screen_video_encoder.hpp>
#include <rtmpx/media.hpp>

#include "../support.hpp"

using rtmpx_test::bytes;

namespace {

// A picture where every pixel differs from its neighbours, moved by `t`.
void draw(rtmpx::canvas& c, std::uint32_t t) {
    for (std::uint32_t y = 0; y < c.height(); ++y)
        for (std::uint32_t x = 0; x < c.width(); ++x)
            c.set_pixel(x, y, static_cast<std::uint8_t>(x * 7 + t), static_cast<std::uint8_t>(y * 5 + 3 * t),
                        static_cast<std::uint8_t>(x ^ y));
}

int u8(const std::vector<std::byte>& v, std::size_t i) { return std::to_integer<int>(v[i]); }

// One block as found in a frame: its place (in blocks, row 0 at the bottom) and its pixels.
struct block_info {
    std::uint32_t column = 0;
    std::uint32_t row = 0;
    std::size_t size = 0;      // zlib bytes (0: unchanged)
    std::vector<std::byte> bgr;  // decompressed, rows bottom to top
};

// A minimal Screen Video v1 decoder: parses `data` and paints the blocks into `rgb` (top-down
// R, G, B of width x height, kept from the previous frame for unchanged blocks).
std::vector<block_info> decode(const std::vector<std::byte>& data, std::uint32_t width, std::uint32_t height,
                               std::vector<std::byte>& rgb) {
    std::vector<block_info> blocks;
    REQUIRE(data.size() >= 4);
    const std::uint32_t bw = 16 * ((static_cast<std::uint32_t>(u8(data, 0)) >> 4) + 1);
    const std::uint32_t w = ((static_cast<std::uint32_t>(u8(data, 0)) & 0xf) << 8) | static_cast<std::uint32_t>(u8(data, 1));
    const std::uint32_t bh = 16 * ((static_cast<std::uint32_t>(u8(data, 2)) >> 4) + 1);
    const std::uint32_t h = ((static_cast<std::uint32_t>(u8(data, 2)) & 0xf) << 8) | static_cast<std::uint32_t>(u8(data, 3));
    REQUIRE(w == width);
    REQUIRE(h == height);
    rgb.resize(std::size_t{w} * h * 3);
    std::size_t at = 4;
    for (std::uint32_t row = 0; row * bh < h; ++row) {
        const std::uint32_t ch = std::min(bh, h - row * bh);
        for (std::uint32_t column = 0; column * bw < w; ++column) {
            const std::uint32_t cw = std::min(bw, w - column * bw);
            REQUIRE(at + 2 <= data.size());
            block_info b;
            b.column = column;
            b.row = row;
            b.size = static_cast<std::size_t>(u8(data, at) << 8 | u8(data, at + 1));
            at += 2;
            if (b.size != 0) {
                REQUIRE(at + b.size <= data.size());
                b.bgr.resize(std::size_t{cw} * ch * 3);
                uLongf out_size = static_cast<uLongf>(b.bgr.size());
                REQUIRE(uncompress(reinterpret_cast<Bytef*>(b.bgr.data()), &out_size,
                                   reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uLong>(b.size)) == Z_OK);
                REQUIRE(out_size == b.bgr.size());
                at += b.size;
                for (std::uint32_t i = 0; i < ch; ++i) {  // block row i is picture row h - 1 - (row * bh + i)
                    const std::uint32_t y = h - 1 - (row * bh + i);
                    for (std::uint32_t x = 0; x < cw; ++x) {
                        const std::byte* src = b.bgr.data() + (std::size_t{i} * cw + x) * 3;
                        std::byte* dst = rgb.data() + (std::size_t{y} * w + column * bw + x) * 3;
                        dst[0] = src[2];
                        dst[1] = src[1];
                        dst[2] = src[0];
                    }
                }
            }
            blocks.push_back(std::move(b));
        }
    }
    CHECK(at == data.size());
    return blocks;
}

// The canvas as top-down R, G, B bytes.
std::vector<std::byte> rgb_of(const rtmpx::canvas& c) {
    std::vector<std::byte> out;
    for (std::uint32_t y = 0; y < c.height(); ++y)
        for (std::uint32_t x = 0; x < c.width(); ++x) {
            const auto p = c.pixel(x, y);
            out.push_back(p[0]);
            out.push_back(p[1]);
            out.push_back(p[2]);
        }
    return out;
}

std::size_t changed_blocks(const std::vector<block_info>& blocks) {
    std::size_t n = 0;
    for (const auto& b : blocks) n += b.size != 0;
    return n;
}

rtmpx::screen_video_encoder ready_encoder(std::uint32_t w, std::uint32_t h, double block_size = 64) {
    rtmpx::screen_video_encoder enc;
    REQUIRE_FALSE(enc.set_parameter("block_size", block_size));
    std::vector<std::byte> header{std::byte{1}};
    REQUIRE_FALSE(enc.init(w, h, header));
    CHECK(header.empty());
    return enc;
}

} // namespace

TEST_SUITE("screen_video") {
    TEST_CASE("identity, formats and default parameters") {
        rtmpx::screen_video_encoder enc;
        CHECK(enc.identifier() == "screen video");
        CHECK(enc.flv_codec_id() == 3);
        const auto formats = enc.supported_pixel_formats();
        REQUIRE(formats.size() == 4);
        CHECK(formats[0] == rtmpx::pixel_format::rgba);
        CHECK(formats[1] == rtmpx::pixel_format::bgra);
        CHECK(formats[2] == rtmpx::pixel_format::rgb24);
        CHECK(formats[3] == rtmpx::pixel_format::bgr24);
        CHECK(enc.get_parameter("block_size") == 64);
        CHECK(enc.get_parameter("key_frame_interval") == 60);
        CHECK(enc.get_parameter("compression_level") == 6);
        CHECK_FALSE(enc.get_parameter("bitrate").has_value());
    }

    TEST_CASE("header bit layout") {
        auto enc = ready_encoder(0x123, 0x0ab, 48);
        rtmpx::canvas c(0x123, 0x0ab);
        rtmpx::encoded_frame f;
        REQUIRE_FALSE(enc.encode(c.view(), f));
        REQUIRE(f.data.size() > 4);
        const auto expected = bytes({
            0x21,  // UB[4] block width 48/16-1 = 2, UB[12] image width 0x123: high nibble 1
            0x23,  // image width 0x123: low byte
            0x20,  // UB[4] block height 48/16-1 = 2, UB[12] image height 0x0ab: high nibble 0
            0xab,  // image height 0x0ab: low byte
        });
        CHECK(std::vector<std::byte>(f.data.begin(), f.data.begin() + 4) == expected);

        auto big = ready_encoder(4095, 16, 256);
        rtmpx::canvas wide(4095, 16);
        REQUIRE_FALSE(big.encode(wide.view(), f));
        const auto expected_big = bytes({
            0xff,  // UB[4] block width 256/16-1 = 15, image width 4095: high nibble 0xf
            0xff,  // image width 4095: low byte
            0xf0,  // UB[4] block height 15, image height 16: high nibble 0
            0x10,  // image height 16: low byte
        });
        CHECK(std::vector<std::byte>(f.data.begin(), f.data.begin() + 4) == expected_big);

        auto tiny = ready_encoder(1, 1, 16);
        rtmpx::canvas one(1, 1);
        one.set_pixel(0, 0, 0x11, 0x22, 0x33);
        REQUIRE_FALSE(tiny.encode(one.view(), f));
        REQUIRE(f.data.size() > 6);
        const auto expected_tiny = bytes({
            0x00,  // UB[4] block width 16/16-1 = 0, image width 1: high nibble 0
            0x01,  // image width 1: low byte
            0x00,  // UB[4] block height 0, image height 1: high nibble 0
            0x01,  // image height 1: low byte
        });
        CHECK(std::vector<std::byte>(f.data.begin(), f.data.begin() + 4) == expected_tiny);
        CHECK(static_cast<std::size_t>(u8(f.data, 4) << 8 | u8(f.data, 5)) == f.data.size() - 6);  // UB[16] size
        CHECK(u8(f.data, 6) == 0x78);  // zlib CMF: deflate, 32K window
        std::vector<std::byte> rgb;
        const auto blocks = decode(f.data, 1, 1, rgb);
        REQUIRE(blocks.size() == 1);
        CHECK(blocks[0].bgr == bytes({0x33, 0x22, 0x11}));  // B, G, R
    }

    TEST_CASE("blocks run from the bottom-left corner, rows bottom to top") {
        // 100x70 in 32x32 blocks: 4 columns (32, 32, 32, 4 wide), 3 rows (32, 32, 6 high from the bottom).
        auto enc = ready_encoder(100, 70, 32);
        rtmpx::canvas c(100, 70);
        draw(c, 0);
        rtmpx::encoded_frame f;
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(f.key_frame);
        std::vector<std::byte> rgb;
        const auto blocks = decode(f.data, 100, 70, rgb);
        REQUIRE(blocks.size() == 12);
        CHECK(rgb == rgb_of(c));

        CHECK(blocks[0].bgr.size() == 32 * 32 * 3);  // bottom-left
        CHECK(blocks[3].bgr.size() == 4 * 32 * 3);   // bottom-right, cut to 4 columns
        CHECK(blocks[8].bgr.size() == 32 * 6 * 3);   // top-left, cut to 6 rows
        CHECK(blocks[11].bgr.size() == 4 * 6 * 3);   // top-right
        auto bgr_at = [&](std::uint32_t x, std::uint32_t y) {
            const auto p = c.pixel(x, y);
            return std::vector<std::byte>{p[2], p[1], p[0]};
        };
        auto first_pixel = [](const block_info& b) { return std::vector<std::byte>(b.bgr.begin(), b.bgr.begin() + 3); };
        CHECK(first_pixel(blocks[0]) == bgr_at(0, 69));   // lowest row of the picture comes first
        CHECK(first_pixel(blocks[1]) == bgr_at(32, 69));  // then to the right
        CHECK(first_pixel(blocks[4]) == bgr_at(0, 37));   // next row up
        CHECK(first_pixel(blocks[8]) == bgr_at(0, 5));
        CHECK(first_pixel(blocks[11]) == bgr_at(96, 5));
        // The second pixel row of block 0 is the picture row above the lowest.
        CHECK(std::vector<std::byte>(blocks[0].bgr.begin() + 32 * 3, blocks[0].bgr.begin() + 32 * 3 + 3) ==
              bgr_at(0, 68));
    }

    TEST_CASE("every packed format gives the same bitstream, strides honoured") {
        rtmpx::canvas rgba(37, 21, rtmpx::pixel_format::rgba);
        draw(rgba, 4);
        std::vector<std::vector<std::byte>> outputs;
        for (auto format : {rtmpx::pixel_format::rgba, rtmpx::pixel_format::bgra, rtmpx::pixel_format::rgb24,
                            rtmpx::pixel_format::bgr24}) {
            CAPTURE(static_cast<int>(format));
            const std::uint32_t bpp = rtmpx::bytes_per_pixel(format);
            const std::uint32_t stride = 37 * bpp + 5;  // padded rows
            std::vector<std::byte> pixels(std::size_t{stride} * 21, std::byte{0xee});
            for (std::uint32_t y = 0; y < 21; ++y)
                for (std::uint32_t x = 0; x < 37; ++x) {
                    const auto p = rgba.pixel(x, y);
                    std::byte* d = pixels.data() + std::size_t{y} * stride + std::size_t{x} * bpp;
                    const bool red_first = format == rtmpx::pixel_format::rgba || format == rtmpx::pixel_format::rgb24;
                    d[0] = red_first ? p[0] : p[2];
                    d[1] = p[1];
                    d[2] = red_first ? p[2] : p[0];
                    if (bpp == 4) d[3] = std::byte{static_cast<unsigned char>(x)};  // alpha is ignored
                }
            auto enc = ready_encoder(37, 21, 16);
            rtmpx::encoded_frame f;
            REQUIRE_FALSE(enc.encode(rtmpx::canvas_view::packed(pixels.data(), 37, 21, stride, format), f));
            outputs.push_back(f.data);
        }
        for (const auto& o : outputs) CHECK(o == outputs[0]);
        std::vector<std::byte> rgb;
        decode(outputs[0], 37, 21, rgb);
        CHECK(rgb == rgb_of(rgba));
    }

    TEST_CASE("inter frames leave unchanged blocks out") {
        auto enc = ready_encoder(100, 70, 32);
        rtmpx::canvas c(100, 70);
        draw(c, 0);
        rtmpx::encoded_frame f;
        std::vector<std::byte> rgb;
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(changed_blocks(decode(f.data, 100, 70, rgb)) == 12);

        REQUIRE_FALSE(enc.encode(c.view(), f));  // the same picture: every block has size 0
        CHECK_FALSE(f.key_frame);
        CHECK(f.data.size() == 4 + 12 * 2);
        CHECK(changed_blocks(decode(f.data, 100, 70, rgb)) == 0);

        c.set_pixel(99, 0, 1, 2, 3);  // top-right block (index 11)
        c.set_pixel(40, 50, 1, 2, 3);  // column 1, row 0 from the bottom (index 1)
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK_FALSE(f.key_frame);
        const auto blocks = decode(f.data, 100, 70, rgb);
        CHECK(changed_blocks(blocks) == 2);
        CHECK(blocks[1].size != 0);
        CHECK(blocks[11].size != 0);
        CHECK(rgb == rgb_of(c));

        for (std::uint32_t t = 1; t < 6; ++t) {  // a moving picture decodes exactly frame after frame
            draw(c, t);
            for (std::uint32_t y = 10; y < 30; ++y) c.set_pixel(t * 9, y, 255, 255, 255);
            REQUIRE_FALSE(enc.encode(c.view(), f));
            decode(f.data, 100, 70, rgb);
            CHECK(rgb == rgb_of(c));
        }
    }

    TEST_CASE("key frames carry every block") {
        auto enc = ready_encoder(64, 48, 16);
        REQUIRE_FALSE(enc.set_parameter("key_frame_interval", 3));
        rtmpx::canvas c(64, 48);  // never changes
        rtmpx::encoded_frame f;
        std::vector<std::byte> rgb;
        std::vector<bool> keys;
        for (int i = 0; i < 7; ++i) {
            REQUIRE_FALSE(enc.encode(c.view(), f));
            keys.push_back(f.key_frame);
            CHECK(changed_blocks(decode(f.data, 64, 48, rgb)) == (f.key_frame ? 12u : 0u));
        }
        CHECK(keys == std::vector<bool>{true, false, false, true, false, false, true});

        enc.force_key_frame();
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(f.key_frame);
        CHECK(changed_blocks(decode(f.data, 64, 48, rgb)) == 12);
        REQUIRE_FALSE(enc.encode(c.view(), f));  // the interval counts from the forced key frame
        CHECK_FALSE(f.key_frame);

        REQUIRE_FALSE(enc.set_parameter("block_size", 32));  // a new block layout starts with a key frame
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(f.key_frame);
        CHECK(changed_blocks(decode(f.data, 64, 48, rgb)) == 4);

        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(64, 48, header));  // init again: key frame first
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(f.key_frame);
    }

    TEST_CASE("key_frame_interval 0 and 1") {
        rtmpx::canvas c(20, 20);
        rtmpx::encoded_frame f;
        auto only_first = ready_encoder(20, 20);
        REQUIRE_FALSE(only_first.set_parameter("key_frame_interval", 0));
        REQUIRE_FALSE(only_first.encode(c.view(), f));
        CHECK(f.key_frame);
        for (int i = 0; i < 100; ++i) {
            REQUIRE_FALSE(only_first.encode(c.view(), f));
            CHECK_FALSE(f.key_frame);
        }
        auto every = ready_encoder(20, 20);
        REQUIRE_FALSE(every.set_parameter("key_frame_interval", 1));
        for (int i = 0; i < 3; ++i) {
            REQUIRE_FALSE(every.encode(c.view(), f));
            CHECK(f.key_frame);
        }
        auto by_default = ready_encoder(20, 20);
        int key_frames = 0;
        for (int i = 0; i < 121; ++i) {
            REQUIRE_FALSE(by_default.encode(c.view(), f));
            key_frames += f.key_frame;
            if (f.key_frame) CHECK(i % 60 == 0);
        }
        CHECK(key_frames == 3);
    }

    TEST_CASE("parameters") {
        rtmpx::screen_video_encoder enc;
        for (double v : {16.0, 32.0, 48.0, 128.0, 256.0}) {
            CHECK_FALSE(enc.set_parameter("block_size", v));
            CHECK(enc.get_parameter("block_size") == v);
        }
        for (double v : {0.0, 8.0, 15.0, 17.0, 24.0, 257.0, 272.0, 16.5, -16.0, std::nan(""),
                         std::numeric_limits<double>::infinity()})
            CHECK(enc.set_parameter("block_size", v) == rtmpx::encoder_error::invalid_parameter);
        CHECK(enc.get_parameter("block_size") == 256);

        CHECK_FALSE(enc.set_parameter("key_frame_interval", 0));
        CHECK_FALSE(enc.set_parameter("key_frame_interval", 250));
        CHECK(enc.get_parameter("key_frame_interval") == 250);
        CHECK(enc.set_parameter("key_frame_interval", -1) == rtmpx::encoder_error::invalid_parameter);
        CHECK(enc.set_parameter("key_frame_interval", 2.5) == rtmpx::encoder_error::invalid_parameter);

        for (double v : {0.0, 1.0, 9.0}) {
            CHECK_FALSE(enc.set_parameter("compression_level", v));
            CHECK(enc.get_parameter("compression_level") == v);
        }
        for (double v : {-1.0, 10.0, 4.5})
            CHECK(enc.set_parameter("compression_level", v) == rtmpx::encoder_error::invalid_parameter);
        CHECK(enc.get_parameter("compression_level") == 9);

        CHECK(enc.set_parameter("bitrate", 1000) == rtmpx::encoder_error::invalid_parameter);
        CHECK(enc.set_parameter("", 1) == rtmpx::encoder_error::invalid_parameter);
    }

    TEST_CASE("compression levels are lossless; oversized blocks retry at level 9") {
        rtmpx::canvas c(256, 256);
        draw(c, 0);
        for (int level : {0, 1, 9}) {
            CAPTURE(level);
            auto enc = ready_encoder(256, 256, 64);
            REQUIRE_FALSE(enc.set_parameter("compression_level", level));
            rtmpx::encoded_frame f;
            REQUIRE_FALSE(enc.encode(c.view(), f));
            std::vector<std::byte> rgb;
            decode(f.data, 256, 256, rgb);
            CHECK(rgb == rgb_of(c));
        }

        // One 256x256 block is 196608 bytes: stored (level 0) it cannot fit UB[16], level 9 it can.
        rtmpx::canvas bands(256, 256);
        for (std::uint32_t y = 0; y < 256; ++y)
            for (std::uint32_t x = 0; x < 256; ++x)
                bands.set_pixel(x, y, static_cast<std::uint8_t>(y / 16 * 16), static_cast<std::uint8_t>(x == y ? 255 : 0), 7);
        auto enc = ready_encoder(256, 256, 256);
        REQUIRE_FALSE(enc.set_parameter("compression_level", 0));
        rtmpx::encoded_frame f;
        REQUIRE_FALSE(enc.encode(bands.view(), f));
        std::vector<std::byte> rgb;
        CHECK(decode(f.data, 256, 256, rgb).size() == 1);
        CHECK(rgb == rgb_of(bands));

        // Noise does not compress at any level: the frame fails and nothing is kept.
        rtmpx::canvas noise(256, 256, rtmpx::pixel_format::rgb24);
        std::uint32_t seed = 12345;
        for (std::size_t i = 0; i < noise.size_bytes(); ++i) {
            seed = seed * 1664525u + 1013904223u;
            noise.data()[i] = static_cast<std::byte>(seed >> 24);
        }
        f.data = bytes({1});
        CHECK(enc.encode(noise.view(), f) == rtmpx::encoder_error::encode_failure);
        CHECK(f.data.empty());
        REQUIRE_FALSE(enc.encode(bands.view(), f));  // the reference is still `bands`
        CHECK_FALSE(f.key_frame);
        CHECK(f.data.size() == 4 + 2);
    }

    TEST_CASE("errors") {
        rtmpx::screen_video_encoder enc;
        rtmpx::canvas c(32, 32);
        rtmpx::encoded_frame f;
        CHECK(enc.encode(c.view(), f) == rtmpx::encoder_error::not_initialized);

        std::vector<std::byte> header;
        CHECK(enc.init(0, 10, header) == rtmpx::encoder_error::unsupported_resolution);
        CHECK(enc.init(10, 0, header) == rtmpx::encoder_error::unsupported_resolution);
        CHECK(enc.init(4096, 10, header) == rtmpx::encoder_error::unsupported_resolution);
        CHECK(enc.init(10, 4096, header) == rtmpx::encoder_error::unsupported_resolution);
        CHECK(enc.encode(c.view(), f) == rtmpx::encoder_error::not_initialized);
        REQUIRE_FALSE(enc.init(32, 32, header));

        rtmpx::canvas other(33, 32);
        CHECK(enc.encode(other.view(), f) == rtmpx::encoder_error::invalid_parameter);
        auto short_stride = rtmpx::canvas_view::packed(c.data(), 32, 32, 32 * 4 - 1, rtmpx::pixel_format::rgba);
        CHECK(enc.encode(short_stride, f) == rtmpx::encoder_error::invalid_parameter);
        std::vector<std::byte> planes(32 * 32 * 2);
        auto i420 = rtmpx::canvas_view::i420(planes.data(), 32, planes.data(), 16, planes.data(), 16, 32, 32);
        CHECK(enc.encode(i420, f) == rtmpx::encoder_error::unsupported_pixel_format);
        auto nv12 = rtmpx::canvas_view::nv12(planes.data(), 32, planes.data(), 32, 32, 32);
        CHECK(enc.encode(nv12, f) == rtmpx::encoder_error::unsupported_pixel_format);
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(f.key_frame);

        std::vector<std::byte> remaining{std::byte{1}};
        CHECK_FALSE(enc.close(remaining));
        CHECK(remaining.empty());
        CHECK(enc.encode(c.view(), f) == rtmpx::encoder_error::already_closed);
        CHECK(f.data.empty());
        CHECK(enc.init(32, 32, header) == rtmpx::encoder_error::already_closed);
        CHECK(enc.set_parameter("block_size", 32) == rtmpx::encoder_error::already_closed);
        CHECK(enc.close(remaining) == rtmpx::encoder_error::already_closed);

        rtmpx::screen_video_encoder never_opened;
        CHECK_FALSE(never_opened.close(remaining));
        CHECK(never_opened.encode(c.view(), f) == rtmpx::encoder_error::already_closed);

        CHECK(std::error_code(rtmpx::encoder_error::encode_failure).category() == rtmpx::encoder_error_category());
    }
}

#endif // defined(RTMPX_WITH_ZLIB)
