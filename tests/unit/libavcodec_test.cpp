// SPDX-License-Identifier: MIT
// Tests for codec/libavcodec_encoder.hpp: Sorenson Spark pictures (their H.263 picture start code),
// key frames on demand, the parameters, the errors.
#if defined(RTMPX_WITH_LIBAVCODEC)

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <rtmpx/codec/libavcodec_encoder.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/video_codec.hpp>

namespace {

void draw(rtmpx::canvas& c, std::uint32_t t) {
    for (std::uint32_t y = 0; y < c.height(); ++y)
        for (std::uint32_t x = 0; x < c.width(); ++x)
            c.set_pixel(x, y, static_cast<std::uint8_t>(x * 3 + t), static_cast<std::uint8_t>(y * 5 + t), static_cast<std::uint8_t>(x ^ y));
}

// Sorenson Spark's picture start code: 17 bits, 0000 0000 0000 0000 1; then a version of 0 or 1.
bool starts_a_picture(const std::vector<std::byte>& data) {
    return data.size() > 3 && data[0] == std::byte{0} && data[1] == std::byte{0} && (std::to_integer<int>(data[2]) & 0x80) != 0 &&
           (std::to_integer<int>(data[2]) & 0x7c) >> 2 <= 1;
}

} // namespace

TEST_SUITE("libavcodec") {
    TEST_CASE("sorenson: a key frame first, inter frames after, a key frame on demand and every key_frame_interval") {
        auto enc = rtmpx::libavcodec_encoder::sorenson();
        CHECK(enc.flv_codec_id() == 2);
        REQUIRE_FALSE(enc.set_parameter("key_frame_interval", 5));
        std::vector<std::byte> header;
        REQUIRE_FALSE(enc.init(160, 96, header));
        CHECK(header.empty());  // Sorenson Spark has no configuration record
        rtmpx::canvas picture(160, 96);
        std::vector<bool> keys;
        for (std::uint32_t n = 0; n < 12; ++n) {
            if (n == 7) enc.force_key_frame();
            draw(picture, n);
            rtmpx::encoded_frame out;
            REQUIRE_FALSE(enc.encode(picture.view(), out));
            REQUIRE(starts_a_picture(out.data));
            keys.push_back(out.key_frame);
        }
        CHECK(keys[0]);
        CHECK_FALSE(keys[1]);
        CHECK(keys[7]);  // asked for
        std::size_t last = 0, widest = 0;  // no more than key_frame_interval frames from key to key
        for (std::size_t i = 1; i < keys.size(); ++i)
            if (keys[i]) widest = std::max(widest, i - std::exchange(last, i));
        CHECK(widest <= 5);
        CHECK(std::count(keys.begin(), keys.end(), true) >= 3);
    }

    TEST_CASE("sorenson through the registry: by name, with the scene's pixel formats") {
        rtmpx::codec_registry registry;
        auto codec = registry.make("sorenson");
        REQUIRE(codec);
        rtmpx::canvas picture(64, 48, rtmpx::pixel_format::bgra);
        draw(picture, 1);
        rtmpx::encoded_frame out;
        REQUIRE_FALSE(codec->encode(picture.view(), out));  // initialises on the first picture
        CHECK(out.key_frame);
        CHECK(codec->width() == 64);
        CHECK(codec->flv_codec_id() == 2);
    }

    TEST_CASE("errors: parameters, sizes, order of calls") {
        using rtmpx::encoder_error;
        auto enc = rtmpx::libavcodec_encoder::sorenson();
        rtmpx::canvas picture(32, 32);
        rtmpx::encoded_frame out;
        CHECK(enc.encode(picture.view(), out) == encoder_error::not_initialized);
        CHECK(enc.set_parameter("bitrate", 0) == encoder_error::invalid_parameter);
        CHECK(enc.set_parameter("quality", 1) == encoder_error::invalid_parameter);
        CHECK(enc.set_parameter("key_frame_interval", 2.5) == encoder_error::invalid_parameter);
        REQUIRE_FALSE(enc.set_parameter("bitrate", 300'000));
        CHECK(enc.get_parameter("bitrate") == 300'000.0);
        std::vector<std::byte> header;
        CHECK(enc.init(0, 32, header) == encoder_error::unsupported_resolution);
        REQUIRE_FALSE(enc.init(32, 32, header));
        CHECK(enc.set_parameter("bitrate", 400'000) == encoder_error::invalid_parameter);  // before init only
        rtmpx::canvas other(48, 32);
        CHECK(enc.encode(other.view(), out) == encoder_error::invalid_parameter);
        std::vector<std::byte> rest;
        REQUIRE_FALSE(enc.close(rest));
        CHECK(enc.close(rest) == encoder_error::already_closed);
        CHECK(enc.encode(picture.view(), out) == encoder_error::already_closed);
        rtmpx::libavcodec_encoder unknown("no-such-encoder", 2, "none");
        CHECK(unknown.init(32, 32, header) == encoder_error::invalid_parameter);
    }
}

#endif // RTMPX_WITH_LIBAVCODEC
