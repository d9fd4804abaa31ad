// SPDX-License-Identifier: MIT
// Tests for media.hpp, detail/yuv.hpp and detail/avc.hpp: colour conversion, NAL framing, AVC config.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <rtmpx/detail/avc.hpp>
#include <rtmpx/detail/yuv.hpp>
#include <rtmpx/media.hpp>

#include "../support.hpp"

using rtmpx_test::bytes;

namespace {

struct yuv_image {
    std::uint32_t width = 0, height = 0;
    std::vector<std::byte> y, u, v;
    int at_y(std::uint32_t x, std::uint32_t row) const { return std::to_integer<int>(y[row * width + x]); }
    int at_u(std::uint32_t x, std::uint32_t row) const {
        return std::to_integer<int>(u[row * rtmpx::detail::chroma_extent(width) + x]);
    }
    int at_v(std::uint32_t x, std::uint32_t row) const {
        return std::to_integer<int>(v[row * rtmpx::detail::chroma_extent(width) + x]);
    }
};

std::error_code convert(const rtmpx::canvas_view& src, yuv_image& out) {
    out.width = src.width;
    out.height = src.height;
    const std::uint32_t cw = rtmpx::detail::chroma_extent(src.width);
    const std::uint32_t ch = rtmpx::detail::chroma_extent(src.height);
    out.y.assign(std::size_t{src.width} * src.height, std::byte{0});
    out.u.assign(std::size_t{cw} * ch, std::byte{0});
    out.v.assign(std::size_t{cw} * ch, std::byte{0});
    return rtmpx::detail::convert_to_i420(src, {out.y.data(), out.u.data(), out.v.data(), src.width, cw, cw});
}

yuv_image convert(const rtmpx::canvas_view& src) {
    yuv_image out;
    REQUIRE_FALSE(convert(src, out));
    return out;
}

// A canvas of `f` holding one colour.
rtmpx::canvas solid(rtmpx::pixel_format f, std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint32_t w = 4,
                    std::uint32_t h = 4) {
    rtmpx::canvas c(w, h, f);
    c.fill(r, g, b);
    return c;
}

// A deterministic pattern with every 2x2 block different.
rtmpx::canvas pattern(rtmpx::pixel_format f, std::uint32_t w, std::uint32_t h) {
    rtmpx::canvas c(w, h, f);
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x)
            c.set_pixel(x, y, static_cast<std::uint8_t>(x * 37 + y * 11), static_cast<std::uint8_t>(x * 5 + y * 53),
                        static_cast<std::uint8_t>((x ^ y) * 29 + 7));
    return c;
}

constexpr std::array<rtmpx::pixel_format, 4> packed_formats = {rtmpx::pixel_format::rgba, rtmpx::pixel_format::bgra,
                                                               rtmpx::pixel_format::rgb24, rtmpx::pixel_format::bgr24};

void check_uniform(const yuv_image& img, int y, int u, int v, int tolerance = 0) {
    for (auto b : img.y) CHECK(std::abs(std::to_integer<int>(b) - y) <= tolerance);
    for (auto b : img.u) CHECK(std::abs(std::to_integer<int>(b) - u) <= tolerance);
    for (auto b : img.v) CHECK(std::abs(std::to_integer<int>(b) - v) <= tolerance);
}

} // namespace

TEST_SUITE("media") {
    TEST_CASE("RGB to I420 gives the BT.601 limited-range values of the primaries") {
        for (auto f : packed_formats) {
            CAPTURE(static_cast<int>(f));
            check_uniform(convert(solid(f, 255, 255, 255).view()), 235, 128, 128);  // white
            check_uniform(convert(solid(f, 0, 0, 0).view()), 16, 128, 128);         // black
            check_uniform(convert(solid(f, 128, 128, 128).view()), 126, 128, 128);  // mid grey
            check_uniform(convert(solid(f, 255, 0, 0).view()), 81, 90, 240, 1);     // red
            check_uniform(convert(solid(f, 0, 255, 0).view()), 145, 54, 34, 1);     // green
            check_uniform(convert(solid(f, 0, 0, 255).view()), 41, 240, 110, 1);    // blue
        }
    }

    TEST_CASE("chroma averages each 2x2 block") {
        rtmpx::canvas c(2, 2);
        c.set_pixel(0, 0, 255, 0, 0);  // red, black / red, black: the average is (127.5, 0, 0)
        c.set_pixel(0, 1, 255, 0, 0);
        c.set_pixel(1, 0, 0, 0, 0);
        c.set_pixel(1, 1, 0, 0, 0);
        const yuv_image img = convert(c.view());
        CHECK(img.at_y(0, 0) == 81);
        CHECK(img.at_y(1, 0) == 16);
        CHECK(img.at_y(0, 1) == 81);
        CHECK(img.at_y(1, 1) == 16);
        CHECK(img.at_u(0, 0) == 109);  // 128 - 0.148223 * 127.5
        CHECK(img.at_v(0, 0) == 184);  // 128 + 0.439216 * 127.5
    }

    TEST_CASE("the four packed formats give the same I420") {
        for (auto size : {std::pair{8u, 6u}, std::pair{7u, 5u}, std::pair{1u, 1u}, std::pair{33u, 2u}}) {
            const std::uint32_t w = size.first, h = size.second;  // not a structured binding: CAPTURE uses a lambda
            CAPTURE(w);
            CAPTURE(h);
            const yuv_image ref = convert(pattern(rtmpx::pixel_format::rgba, w, h).view());
            for (auto f : packed_formats) {
                const yuv_image img = convert(pattern(f, w, h).view());
                CHECK(img.y == ref.y);
                CHECK(img.u == ref.u);
                CHECK(img.v == ref.v);
            }
        }
    }

    TEST_CASE("odd sizes repeat the last column and row for chroma") {
        // 3x3: columns 0-1 white, column 2 red; row 2 like rows 0-1.
        rtmpx::canvas c(3, 3, rtmpx::pixel_format::rgb24);
        for (std::uint32_t y = 0; y < 3; ++y) {
            c.set_pixel(0, y, 255, 255, 255);
            c.set_pixel(1, y, 255, 255, 255);
            c.set_pixel(2, y, 255, 0, 0);
        }
        const yuv_image img = convert(c.view());
        REQUIRE(img.u.size() == 4);  // 2 x 2 chroma for 3 x 3 luma
        for (std::uint32_t y = 0; y < 3; ++y) {
            CHECK(img.at_y(0, y) == 235);
            CHECK(img.at_y(1, y) == 235);
            CHECK(img.at_y(2, y) == 81);
        }
        for (std::uint32_t y = 0; y < 2; ++y) {
            CHECK(img.at_u(0, y) == 128);  // white block
            CHECK(img.at_v(0, y) == 128);
            CHECK(img.at_u(1, y) == 90);   // a red column on its own
            CHECK(img.at_v(1, y) == 240);
        }
    }

    TEST_CASE("source and destination strides with padding") {
        const std::uint32_t w = 5, h = 3, stride = w * 4 + 12;
        const rtmpx::canvas tight = pattern(rtmpx::pixel_format::rgba, w, h);
        std::vector<std::byte> padded(std::size_t{stride} * h, std::byte{0xab});
        for (std::uint32_t y = 0; y < h; ++y)
            std::copy_n(tight.data() + y * tight.stride(), tight.stride(), padded.data() + y * stride);
        const yuv_image ref = convert(tight.view());
        const yuv_image img = convert(rtmpx::canvas_view::packed(padded.data(), w, h, stride, rtmpx::pixel_format::rgba));
        CHECK(img.y == ref.y);
        CHECK(img.u == ref.u);
        CHECK(img.v == ref.v);

        // Destination rows 2 bytes wider than needed: the padding stays untouched.
        const std::uint32_t ys = w + 2, cs = 3 + 2;
        std::vector<std::byte> y(std::size_t{ys} * h, std::byte{0xee}), u(std::size_t{cs} * 2, std::byte{0xee}),
            v(std::size_t{cs} * 2, std::byte{0xee});
        REQUIRE_FALSE(rtmpx::detail::convert_to_i420(tight.view(), {y.data(), u.data(), v.data(), ys, cs, cs}));
        for (std::uint32_t r = 0; r < h; ++r) {
            for (std::uint32_t x = 0; x < w; ++x) CHECK(y[r * ys + x] == ref.y[r * w + x]);
            CHECK(y[r * ys + w] == std::byte{0xee});
            CHECK(y[r * ys + w + 1] == std::byte{0xee});
        }
        for (std::uint32_t r = 0; r < 2; ++r) {
            for (std::uint32_t x = 0; x < 3; ++x) {
                CHECK(u[r * cs + x] == ref.u[r * 3 + x]);
                CHECK(v[r * cs + x] == ref.v[r * 3 + x]);
            }
            CHECK(u[r * cs + 3] == std::byte{0xee});
            CHECK(v[r * cs + 4] == std::byte{0xee});
        }
    }

    TEST_CASE("NV12 deinterleaves and I420 copies with strides") {
        // 3x2 picture: Y stride 4, chroma 2x1.
        const auto y = bytes({10, 11, 12, 0xff, 20, 21, 22, 0xff});
        const auto uv = bytes({100, 200, 101, 201, 0xff});  // U0 V0 U1 V1 + padding
        const yuv_image a = convert(rtmpx::canvas_view::nv12(y.data(), 4, uv.data(), 5, 3, 2));
        CHECK(a.y == bytes({10, 11, 12, 20, 21, 22}));
        CHECK(a.u == bytes({100, 101}));
        CHECK(a.v == bytes({200, 201}));

        const auto u = bytes({100, 101, 0xff});
        const auto v = bytes({200, 201, 0xff, 0xff});
        const yuv_image b = convert(rtmpx::canvas_view::i420(y.data(), 4, u.data(), 3, v.data(), 4, 3, 2));
        CHECK(b.y == a.y);
        CHECK(b.u == a.u);
        CHECK(b.v == a.v);
    }

    TEST_CASE("unusable views are refused") {
        yuv_image out;
        const rtmpx::canvas c(4, 4);
        rtmpx::canvas_view v = c.view();
        v.strides[0] = 15;  // less than 4 x 4 bytes
        CHECK(convert(v, out) == rtmpx::encoder_error::invalid_parameter);
        v = c.view();
        v.planes[0] = nullptr;
        CHECK(convert(v, out) == rtmpx::encoder_error::invalid_parameter);
        v = c.view();
        v.height = 0;
        CHECK(convert(v, out) == rtmpx::encoder_error::invalid_parameter);
        const auto y = bytes({1, 2, 3, 4});
        CHECK(convert(rtmpx::canvas_view::i420(y.data(), 2, y.data(), 1, nullptr, 1, 2, 2), out) ==
              rtmpx::encoder_error::invalid_parameter);
        v = c.view();
        v.format = static_cast<rtmpx::pixel_format>(99);
        CHECK(convert(v, out) == rtmpx::encoder_error::unsupported_pixel_format);
    }

    TEST_CASE("canvas: pixels, fill and view") {
        rtmpx::canvas c(3, 2, rtmpx::pixel_format::bgra);
        CHECK(c.width() == 3);
        CHECK(c.height() == 2);
        CHECK(c.stride() == 12);
        CHECK(c.size_bytes() == 24);
        c.fill(1, 2, 3, 4);
        CHECK(c.pixel(2, 1).size() == 4);
        CHECK(std::vector<std::byte>(c.pixel(2, 1).begin(), c.pixel(2, 1).end()) == bytes({3, 2, 1, 4}));  // B G R A
        c.set_pixel(1, 0, 10, 20, 30);
        CHECK(std::vector<std::byte>(c.data() + 4, c.data() + 8) == bytes({30, 20, 10, 255}));
        const rtmpx::canvas_view v = c.view();
        CHECK(v.width == 3);
        CHECK(v.height == 2);
        CHECK(v.format == rtmpx::pixel_format::bgra);
        CHECK(v.planes[0] == c.data());
        CHECK(v.strides[0] == 12);

        rtmpx::canvas rgb(2, 1, rtmpx::pixel_format::rgb24);
        rgb.fill(7, 8, 9);
        CHECK(std::vector<std::byte>(rgb.data(), rgb.data() + 6) == bytes({7, 8, 9, 7, 8, 9}));
        CHECK(rtmpx::bytes_per_pixel(rtmpx::pixel_format::nv12) == 0);
    }

    TEST_CASE("Annex-B with 3- and 4-byte start codes becomes AVCC") {
        const auto annex_b = bytes({
            0x00, 0x00, 0x00, 0x01,  // 4-byte start code
            0x67, 0x42, 0xc0, 0x1e,  // SPS (type 7): 4 bytes
            0x00, 0x00, 0x01,        // 3-byte start code
            0x68, 0xce, 0x3c, 0x80,  // PPS (type 8): 4 bytes
            0x00, 0x00, 0x00, 0x01,  // 4-byte start code
            0x65, 0x88, 0x84, 0x21, 0x03, 0x00, 0x00, 0x03, 0x01,  // IDR slice (type 5): 9 bytes,
                                                                  // emulation prevention kept as is
            0x00, 0x00, 0x01,        // 3-byte start code
            0x41, 0x9a,              // non-IDR slice (type 1): 2 bytes
        });
        const auto avcc = bytes({
            0x00, 0x00, 0x00, 0x04,  // length 4
            0x67, 0x42, 0xc0, 0x1e,  // SPS
            0x00, 0x00, 0x00, 0x04,  // length 4
            0x68, 0xce, 0x3c, 0x80,  // PPS
            0x00, 0x00, 0x00, 0x09,  // length 9
            0x65, 0x88, 0x84, 0x21, 0x03, 0x00, 0x00, 0x03, 0x01,  // IDR slice
            0x00, 0x00, 0x00, 0x02,  // length 2
            0x41, 0x9a,              // non-IDR slice
        });
        CHECK(rtmpx::detail::annex_b_to_avcc(annex_b) == avcc);

        std::vector<std::span<const std::byte>> nals;
        REQUIRE(rtmpx::detail::split_nal_units(annex_b, rtmpx::detail::nal_framing::annex_b, nals));
        REQUIRE(nals.size() == 4);
        CHECK(rtmpx::detail::nal_unit_type(nals[0]) == 7);
        CHECK(rtmpx::detail::nal_unit_type(nals[1]) == 8);
        CHECK(rtmpx::detail::nal_unit_type(nals[2]) == 5);
        CHECK(rtmpx::detail::nal_unit_type(nals[3]) == 1);
        CHECK(nals[2].size() == 9);

        // Back again: AVCC to Annex-B writes 4-byte start codes.
        std::vector<std::byte> again;
        REQUIRE(rtmpx::detail::convert_nal_units(avcc, rtmpx::detail::nal_framing::avcc,
                                                 rtmpx::detail::nal_framing::annex_b, again));
        CHECK(again == bytes({
                           0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x1e,  // start code + SPS
                           0x00, 0x00, 0x00, 0x01, 0x68, 0xce, 0x3c, 0x80,  // start code + PPS
                           0x00, 0x00, 0x00, 0x01, 0x65, 0x88, 0x84, 0x21,  // start code + IDR slice...
                           0x03, 0x00, 0x00, 0x03, 0x01,                    // ...its last 5 bytes
                           0x00, 0x00, 0x00, 0x01, 0x41, 0x9a,              // start code + non-IDR slice
                       }));
    }

    TEST_CASE("Annex-B splitting: leading bytes, trailing zeros, empty units") {
        const auto annex_b = bytes({
            0x12, 0x34,              // junk before the first start code: ignored
            0x00, 0x00, 0x01,        // 3-byte start code
            0x09, 0xf0,              // access unit delimiter (type 9)
            0x00, 0x00, 0x00,        // trailing_zero_8bits: not part of the unit
            0x00, 0x00, 0x01,        // 3-byte start code (after the zeros)
            0x00, 0x00, 0x01,        // another start code at once: an empty unit, skipped
            0x06, 0x05, 0x01, 0x80,  // SEI (type 6): 4 bytes, to the end
        });
        const auto avcc = bytes({
            0x00, 0x00, 0x00, 0x02,  // length 2
            0x09, 0xf0,              // AUD
            0x00, 0x00, 0x00, 0x04,  // length 4
            0x06, 0x05, 0x01, 0x80,  // SEI
        });
        CHECK(rtmpx::detail::annex_b_to_avcc(annex_b) == avcc);
        CHECK(rtmpx::detail::annex_b_to_avcc(bytes({0x67, 0x42, 0x00})).empty());  // no start code
        CHECK(rtmpx::detail::annex_b_to_avcc({}).empty());
    }

    TEST_CASE("malformed AVCC is reported") {
        std::vector<std::span<const std::byte>> nals;
        CHECK_FALSE(rtmpx::detail::split_nal_units(bytes({
                                                       0x00, 0x00, 0x00, 0x05,  // length 5
                                                       0x65, 0x88,              // only 2 bytes follow
                                                   }),
                                                   rtmpx::detail::nal_framing::avcc, nals));
        const auto cut = bytes({
            0x00, 0x00, 0x00, 0x01,  // length 1
            0x09,                    // AUD
            0x00, 0x00,              // half a length
        });
        CHECK_FALSE(rtmpx::detail::split_nal_units(cut, rtmpx::detail::nal_framing::avcc, nals));
        REQUIRE(nals.size() == 1);  // the units before the fault
        CHECK(rtmpx::detail::nal_unit_type(nals[0]) == 9);
    }

    TEST_CASE("AVCDecoderConfigurationRecord from an SPS and a PPS") {
        const auto sps = bytes({
            0x67,                    // forbidden_zero 0, nal_ref_idc 3, type 7 (SPS)
            0x42,                    // profile_idc 66 (baseline)
            0xc0,                    // constraint_set0/1 flags
            0x1e,                    // level_idc 30 (3.0)
            0x8c, 0x8d, 0x40, 0xa0,  // rest of the SPS (seq_parameter_set_id, sizes, ...)
        });
        const auto pps = bytes({
            0x68,                    // nal_ref_idc 3, type 8 (PPS)
            0xce, 0x3c, 0x80,        // pic_parameter_set_id 0, ...
        });
        const auto record = rtmpx::detail::build_avc_decoder_config(sps, pps);
        CHECK(record == bytes({
                            0x01,                    // configurationVersion 1
                            0x42,                    // AVCProfileIndication = SPS byte 1
                            0xc0,                    // profile_compatibility = SPS byte 2
                            0x1e,                    // AVCLevelIndication = SPS byte 3
                            0xff,                    // 111111 reserved + lengthSizeMinusOne 3
                            0xe1,                    // 111 reserved + numOfSequenceParameterSets 1
                            0x00, 0x08,              // sequenceParameterSetLength 8
                            0x67, 0x42, 0xc0, 0x1e,  // the SPS...
                            0x8c, 0x8d, 0x40, 0xa0,  // ...8 bytes
                            0x01,                    // numOfPictureParameterSets 1
                            0x00, 0x04,              // pictureParameterSetLength 4
                            0x68, 0xce, 0x3c, 0x80,  // the PPS
                        }));

        std::vector<std::span<const std::byte>> s, p;
        REQUIRE(rtmpx::detail::parse_avc_decoder_config(record, s, p));
        REQUIRE(s.size() == 1);
        REQUIRE(p.size() == 1);
        CHECK(std::vector<std::byte>(s[0].begin(), s[0].end()) == sps);
        CHECK(std::vector<std::byte>(p[0].begin(), p[0].end()) == pps);
        CHECK_FALSE(rtmpx::detail::parse_avc_decoder_config(std::span(record).first(record.size() - 1), s, p));

        CHECK(rtmpx::detail::build_avc_decoder_config(bytes({0x67, 0x42, 0xc0}), pps).empty());  // SPS too short
        CHECK(rtmpx::detail::build_avc_decoder_config(sps, {}).empty());                         // no PPS
    }

    TEST_CASE("encoder_error converts to std::error_code with a message") {
        std::error_code ec = rtmpx::encoder_error::not_initialized;
        CHECK(ec.category().name() == std::string("rtmpx.encoder"));
        CHECK(ec.message() == "encoder: not initialized");
        CHECK(ec == rtmpx::encoder_error::not_initialized);
        CHECK((ec != rtmpx::encoder_error::already_closed));
        CHECK(std::error_code(rtmpx::encoder_error::invalid_parameter).message() == "encoder: invalid parameter");
        CHECK(std::error_code(rtmpx::encoder_error::unsupported_resolution).message() ==
              "encoder: unsupported resolution");
        CHECK(std::error_code(rtmpx::encoder_error::already_closed).message() == "encoder: already closed");
        CHECK(std::error_code(rtmpx::encoder_error::allocation_failure).message() == "encoder: allocation failure");
        CHECK(std::error_code(rtmpx::encoder_error::encode_failure).message() == "encoder: encoding failed");
        CHECK(std::error_code(rtmpx::encoder_error::unsupported_pixel_format).message() ==
              "encoder: unsupported pixel format");
        CHECK((std::error_code(rtmpx::encoder_error::encode_failure) != rtmpx::error::message_malformed));
    }
}
