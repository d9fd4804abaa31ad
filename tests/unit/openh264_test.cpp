// SPDX-License-Identifier: MIT
// Tests for codec/openh264_encoder.hpp: sequence header, AVCC frames, key frames, errors, parameters.
#if defined(RTMPX_WITH_OPENH264)

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include <rtmpx/codec/openh264_encoder.hpp>
#include <rtmpx/detail/avc.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/video_codec.hpp>

#include "../support.hpp"

namespace {

// A moving RGBA test picture: diagonal bands shifted by `t`.
void draw(rtmpx::canvas& c, std::uint32_t t) {
    for (std::uint32_t y = 0; y < c.height(); ++y)
        for (std::uint32_t x = 0; x < c.width(); ++x)
            c.set_pixel(x, y, static_cast<std::uint8_t>(x + 3 * t), static_cast<std::uint8_t>(y * 2 + t),
                        static_cast<std::uint8_t>(((x + y + 4 * t) / 16) * 40));
}

// The NAL unit types of an AVCC frame; checks that the lengths cover the frame exactly.
std::vector<int> avcc_types(const std::vector<std::byte>& data) {
    std::vector<int> types;
    std::size_t i = 0;
    while (i + 4 <= data.size()) {
        const std::uint32_t len = rtmpx::detail::load_be32(std::span(data).subspan(i, 4));
        i += 4;
        REQUIRE(len > 0);
        REQUIRE(len <= data.size() - i);
        types.push_back(rtmpx::detail::nal_unit_type(std::span(data).subspan(i, len)));
        i += len;
    }
    CHECK(i == data.size());
    return types;
}

void check_frame_nals(const rtmpx::encoded_frame& f) {
    REQUIRE_FALSE(f.data.empty());
    for (int t : avcc_types(f.data)) {
        CHECK(t != 6);  // SEI
        CHECK(t != 7);  // SPS
        CHECK(t != 8);  // PPS
        CHECK(t == (f.key_frame ? 5 : 1));
    }
}

} // namespace

TEST_SUITE("openh264") {
    TEST_CASE("init returns an AVCDecoderConfigurationRecord with SPS and PPS") {
        rtmpx::openh264_encoder enc;
        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(320, 240, header));
        REQUIRE(header.size() > 11);
        CHECK(header[0] == std::byte{0x01});  // configurationVersion
        CHECK(header[1] == std::byte{66});    // baseline profile
        CHECK(header[4] == std::byte{0xff});  // 4-byte NAL lengths
        std::vector<std::span<const std::byte>> sps, pps;
        REQUIRE(rtmpx::detail::parse_avc_decoder_config(header, sps, pps));
        REQUIRE(sps.size() == 1);
        REQUIRE(pps.size() == 1);
        CHECK(rtmpx::detail::nal_unit_type(sps[0]) == 7);
        CHECK(rtmpx::detail::nal_unit_type(pps[0]) == 8);
        CHECK(sps[0][1] == header[1]);  // profile, compatibility and level copied from the SPS
        CHECK(sps[0][2] == header[2]);
        CHECK(sps[0][3] == header[3]);

        CHECK(enc.identifier() == "openh264");
        CHECK(enc.flv_codec_id() == 7);
        REQUIRE_FALSE(enc.supported_pixel_formats().empty());
        CHECK(enc.supported_pixel_formats().front() == rtmpx::pixel_format::i420);
    }

    TEST_CASE("ten frames: a key frame, then non-key frames, all AVCC without parameter sets") {
        rtmpx::openh264_encoder enc;
        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(320, 240, header));
        rtmpx::canvas c(320, 240);
        rtmpx::encoded_frame f;
        for (std::uint32_t i = 0; i < 10; ++i) {
            CAPTURE(i);
            draw(c, i);
            REQUIRE_FALSE(enc.encode(c.view(), f));
            CHECK(f.key_frame == (i == 0));
            check_frame_nals(f);
        }
        std::vector<std::byte> rest{std::byte{1}};
        CHECK_FALSE(enc.close(rest));
        CHECK(rest.empty());
    }

    TEST_CASE("force_key_frame makes the next frame a key frame") {
        rtmpx::openh264_encoder enc;
        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(320, 240, header));
        rtmpx::canvas c(320, 240);
        rtmpx::encoded_frame f;
        for (std::uint32_t i = 0; i < 3; ++i) {
            draw(c, i);
            REQUIRE_FALSE(enc.encode(c.view(), f));
        }
        CHECK_FALSE(f.key_frame);
        enc.force_key_frame();
        draw(c, 3);
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK(f.key_frame);
        check_frame_nals(f);
        draw(c, 4);
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK_FALSE(f.key_frame);
    }

    TEST_CASE("encode before init and calls after close give errors") {
        rtmpx::openh264_encoder enc;
        rtmpx::canvas c(320, 240);
        rtmpx::encoded_frame f;
        f.data.push_back(std::byte{1});
        CHECK(enc.encode(c.view(), f) == rtmpx::encoder_error::not_initialized);
        CHECK(f.data.empty());

        std::vector<std::byte> header, rest;
        REQUIRE_FALSE(enc.init(320, 240, header));
        REQUIRE_FALSE(enc.encode(c.view(), f));
        CHECK_FALSE(enc.close(rest));
        CHECK(enc.encode(c.view(), f) == rtmpx::encoder_error::already_closed);
        CHECK(enc.close(rest) == rtmpx::encoder_error::already_closed);
        CHECK(enc.init(320, 240, header) == rtmpx::encoder_error::already_closed);
        CHECK(enc.set_parameter("bitrate", 1'000'000) == rtmpx::encoder_error::already_closed);
        enc.force_key_frame();  // harmless
    }

    TEST_CASE("unsupported resolutions are refused") {
        rtmpx::openh264_encoder enc;
        std::vector<std::byte> header;
        for (auto size : {std::pair{321u, 240u}, std::pair{320u, 241u}, std::pair{8u, 8u}, std::pair{14u, 240u},
                            std::pair{0u, 0u}, std::pair{4098u, 16u}}) {
            const std::uint32_t w = size.first, h = size.second;  // not a structured binding: CAPTURE uses a lambda
            CAPTURE(w);
            CAPTURE(h);
            CHECK(enc.init(w, h, header) == rtmpx::encoder_error::unsupported_resolution);
            CHECK(header.empty());
        }
        CHECK_FALSE(enc.init(16, 16, header));  // the smallest size works
    }

    TEST_CASE("invalid parameters are refused") {
        rtmpx::openh264_encoder enc;
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (auto param : {std::pair{"bitrate", 0.0}, std::pair{"bitrate", -5.0}, std::pair{"bitrate", nan},
                                   std::pair{"bitrate", 1e12}, std::pair{"max_bitrate", -1.0},
                                   std::pair{"frame_rate", 0.0}, std::pair{"frame_rate", 121.0},
                                   std::pair{"key_frame_interval", -1.0}, std::pair{"key_frame_interval", 1.5},
                                   std::pair{"rate_control", 4.0}, std::pair{"rate_control", -2.0},
                                   std::pair{"complexity", 3.0}, std::pair{"threads", -1.0},
                                   std::pair{"no_such_parameter", 1.0}}) {
            const char* name = param.first;  // not a structured binding: CAPTURE uses a lambda
            const double value = param.second;
            CAPTURE(name);
            CAPTURE(value);
            CHECK(enc.set_parameter(name, value) == rtmpx::encoder_error::invalid_parameter);
        }
        CHECK_FALSE(enc.get_parameter("no_such_parameter"));
        CHECK(enc.get_parameter("bitrate") == 2'500'000.0);  // unchanged by the refusals

        // A cap below the target is refused at init.
        REQUIRE_FALSE(enc.set_parameter("max_bitrate", 1'000'000));
        std::vector<std::byte> header;
        CHECK(enc.init(320, 240, header) == rtmpx::encoder_error::invalid_parameter);
        REQUIRE_FALSE(enc.set_parameter("max_bitrate", 0));
        REQUIRE_FALSE(enc.init(320, 240, header));
        CHECK(enc.set_parameter("threads", 2) == rtmpx::encoder_error::invalid_parameter);  // before init only
        CHECK(enc.set_parameter("max_bitrate", 1'000'000) == rtmpx::encoder_error::invalid_parameter);
    }

    TEST_CASE("parameters: defaults, changes before and after init") {
        rtmpx::openh264_encoder enc;
        CHECK(enc.get_parameter("bitrate") == 2'500'000.0);
        CHECK(enc.get_parameter("max_bitrate") == 0.0);
        CHECK(enc.get_parameter("frame_rate") == 30.0);
        CHECK(enc.get_parameter("key_frame_interval") == 60.0);  // two seconds
        CHECK(enc.get_parameter("rate_control") == 1.0);
        CHECK(enc.get_parameter("complexity") == 1.0);
        CHECK(enc.get_parameter("threads") == 1.0);

        CHECK_FALSE(enc.set_parameter("frame_rate", 25));
        CHECK(enc.get_parameter("key_frame_interval") == 50.0);  // follows the frame rate until set
        CHECK_FALSE(enc.set_parameter("complexity", 0));
        CHECK_FALSE(enc.set_parameter("threads", 2));
        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(320, 240, header));

        CHECK_FALSE(enc.set_parameter("bitrate", 1'000'000));
        CHECK(enc.get_parameter("bitrate") == 1'000'000.0);
        CHECK_FALSE(enc.set_parameter("max_bitrate", 2'000'000));
        CHECK_FALSE(enc.set_parameter("frame_rate", 60));
        CHECK(enc.get_parameter("key_frame_interval") == 120.0);
        CHECK_FALSE(enc.set_parameter("rate_control", 0));
        CHECK_FALSE(enc.set_parameter("complexity", 2));
        CHECK_FALSE(enc.set_parameter("key_frame_interval", 4));
        CHECK(enc.get_parameter("key_frame_interval") == 4.0);

        // With an interval of 4, key frames come back within a few frames.
        rtmpx::canvas c(320, 240);
        rtmpx::encoded_frame f;
        int keys = 0;
        for (std::uint32_t i = 0; i < 12; ++i) {
            draw(c, i);
            REQUIRE_FALSE(enc.encode(c.view(), f));
            check_frame_nals(f);
            keys += f.key_frame ? 1 : 0;
        }
        CHECK(keys >= 3);
    }

    TEST_CASE("I420 and NV12 pictures are taken directly; a picture of the wrong size is refused") {
        rtmpx::openh264_encoder enc;
        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(32, 16, header));
        std::vector<std::byte> y(40 * 16, std::byte{100}), u(20 * 8, std::byte{90}), v(20 * 8, std::byte{160}),
            uv(32 * 8, std::byte{128});
        rtmpx::encoded_frame f;
        REQUIRE_FALSE(enc.encode(rtmpx::canvas_view::i420(y.data(), 40, u.data(), 20, v.data(), 20, 32, 16), f));
        CHECK(f.key_frame);
        check_frame_nals(f);
        REQUIRE_FALSE(enc.encode(rtmpx::canvas_view::nv12(y.data(), 40, uv.data(), 32, 32, 16), f));
        check_frame_nals(f);
        rtmpx::canvas bgr(32, 16, rtmpx::pixel_format::bgr24);
        REQUIRE_FALSE(enc.encode(bgr.view(), f));
        check_frame_nals(f);

        rtmpx::canvas small(16, 16);
        CHECK(enc.encode(small.view(), f) == rtmpx::encoder_error::invalid_parameter);
        CHECK(f.data.empty());
        CHECK(enc.encode(rtmpx::canvas_view::i420(y.data(), 40, u.data(), 20, nullptr, 20, 32, 16), f) ==
              rtmpx::encoder_error::invalid_parameter);
    }

    TEST_CASE("a moved encoder keeps working; re-init changes the size") {
        rtmpx::openh264_encoder a;
        std::vector<std::byte> header;
        REQUIRE_FALSE(a.init(64, 48, header));
        rtmpx::openh264_encoder b(std::move(a));
        rtmpx::canvas c(64, 48);
        rtmpx::encoded_frame f;
        REQUIRE_FALSE(b.encode(c.view(), f));
        CHECK(f.key_frame);
        rtmpx::openh264_encoder d;
        d = std::move(b);
        REQUIRE_FALSE(d.encode(c.view(), f));
        CHECK_FALSE(f.key_frame);

        REQUIRE_FALSE(d.init(128, 96, header));
        CHECK(header[0] == std::byte{0x01});
        rtmpx::canvas bigger(128, 96);
        REQUIRE_FALSE(d.encode(bigger.view(), f));
        CHECK(f.key_frame);  // a new stream starts with an IDR
        check_frame_nals(f);
    }

    TEST_CASE("a prepared video_codec needs no init at its first frame, which is a key frame") {
        rtmpx::video_codec codec{rtmpx::openh264_encoder()};
        REQUIRE_FALSE(codec.prepare(320, 240));
        CHECK(codec.generation() == 1);
        CHECK(codec.width() == 320);
        CHECK(codec.height() == 240);
        REQUIRE_FALSE(codec.header().empty());
        CHECK(codec.header()[0] == std::byte{0x01});  // AVCDecoderConfigurationRecord version
        rtmpx::canvas c(320, 240);
        rtmpx::encoded_frame f;
        draw(c, 1);
        REQUIRE_FALSE(codec.encode(c.view(), f));
        CHECK(codec.generation() == 1);  // no second initialisation
        CHECK(f.key_frame);              // the blank warm-up picture was dropped, not sent
        check_frame_nals(f);
        draw(c, 2);
        REQUIRE_FALSE(codec.encode(c.view(), f));
        CHECK_FALSE(f.key_frame);

        rtmpx::video_codec refused{rtmpx::openh264_encoder()};
        CHECK(refused.prepare(0, 0));  // the encoder's error, and nothing prepared
        CHECK(refused.generation() == 0);
    }
}

#endif // defined(RTMPX_WITH_OPENH264)
