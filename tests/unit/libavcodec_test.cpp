// SPDX-License-Identifier: MIT
// Tests for codec/libavcodec_encoder.hpp: Sorenson Spark pictures (their H.263 picture start code),
// AV1, VP9 and HEVC with their configuration records and FourCCs, key frames on demand, the
// parameters, the errors.
#if defined(RTMPX_WITH_LIBAVCODEC)

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rtmpx/codec/libavcodec_encoder.hpp>
#include <rtmpx/detail/avc.hpp>
#include <rtmpx/detail/config_records.hpp>
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
        CHECK(rtmpx::libavcodec_encoder::sorenson().set_parameter("speed", 4) == encoder_error::invalid_parameter);  // no such knob
        auto av1 = rtmpx::libavcodec_encoder::av1();
        CHECK(av1.set_parameter("speed", 9) == encoder_error::invalid_parameter);
        CHECK(av1.init(33, 32, header) == encoder_error::unsupported_resolution);  // 4:2:0 needs even sizes
    }

    // The Enhanced RTMP codecs: a configuration record that says what the stream is, key frames
    // first, on demand and every key_frame_interval, and frames in the framing the record names.
    TEST_CASE("av1, vp9, hevc: configuration record, FourCC, key frames, framing") {
        rtmpx::codec_registry registry;
        for (const char* name : {"av1", "vp9", "hevc"}) {
            const std::string codec_name = name;
            CAPTURE(codec_name);
            REQUIRE(registry.contains(name));  // Debian's libavcodec has libaom, libvpx and x265
            auto codec = registry.make(name);
            REQUIRE_FALSE(codec->set_parameter("key_frame_interval", 6));
            REQUIRE_FALSE(codec->set_parameter("speed", 8));
            CHECK(codec->get_parameter("speed") == 8.0);
            rtmpx::canvas picture(160, 96, rtmpx::pixel_format::bgra);
            std::vector<bool> keys;
            for (std::uint32_t n = 0; n < 14; ++n) {
                if (n == 9) codec->force_key_frame();
                draw(picture, n);
                rtmpx::encoded_frame out;
                REQUIRE_FALSE(codec->encode(picture.view(), out));
                REQUIRE_FALSE(out.data.empty());  // low delay: each picture out as it goes in
                keys.push_back(out.key_frame);
                if (std::string_view(name) == "av1") {
                    std::vector<rtmpx::detail::av1_obu> obus;
                    CHECK(rtmpx::detail::split_av1_obus(out.data, obus));
                } else if (std::string_view(name) == "hevc") {
                    std::vector<std::span<const std::byte>> nals;
                    CHECK(rtmpx::detail::split_avcc(out.data, nals));
                    REQUIRE_FALSE(nals.empty());
                    for (const auto& nal : nals) CHECK(rtmpx::detail::hevc_nal_type(nal) < 32);  // no parameter sets in frames
                }
            }
            CHECK(keys[0]);
            CHECK_FALSE(keys[1]);
            CHECK(keys[9]);  // asked for
            CHECK(keys[6]);  // the interval
            const auto& header = codec->header();
            REQUIRE_FALSE(header.empty());
            if (std::string_view(name) == "av1") {
                CHECK(codec->fourcc() == 0x61763031);
                CHECK(header[0] == std::byte{0x81});
                CHECK((std::to_integer<int>(header[2]) & 0x0c) == 0x0c);  // 4:2:0
                std::vector<rtmpx::detail::av1_obu> obus;
                REQUIRE(rtmpx::detail::split_av1_obus(std::span(header).subspan(4), obus));
                CHECK(obus.at(0).type == rtmpx::detail::av1_obu_sequence_header);
            } else if (std::string_view(name) == "vp9") {
                CHECK(codec->fourcc() == 0x76703039);
                CHECK(header.size() == 12);
                CHECK(header[5] == std::byte{10});  // level 1 for 160x96 at 30 frames a second
            } else {
                CHECK(codec->fourcc() == 0x68766331);
                CHECK(header[0] == std::byte{1});
                CHECK(std::to_integer<int>(header[22]) == 3);  // VPS, SPS, PPS
            }
            CHECK(codec->flv_codec_id() == 0);
        }
        CHECK(rtmpx::codec_registry().make("sorenson")->fourcc() == 0);
    }

    // Audio: AAC and Opus from interleaved 16-bit PCM, in the codec's frames, with its priming.
    TEST_CASE("aac, opus: configuration, packets in the codec's frames, priming first, errors") {
        rtmpx::codec_registry registry;
        for (const char* name : {"aac", "opus"}) {
            const std::string codec_name = name;
            CAPTURE(codec_name);
            auto codec = registry.make_audio(name);
            REQUIRE(codec);
            REQUIRE_FALSE(codec->set_parameter("bitrate", 96'000));
            CHECK(codec->set_parameter("quality", 1) == rtmpx::encoder_error::invalid_parameter);
            REQUIRE_FALSE(codec->init(48000, 2));
            if (codec_name == "aac") {
                CHECK(codec->flv_sound_format() == 10);
                CHECK(codec->fourcc() == 0);
                // AudioSpecificConfig: AAC-LC (2), 48 kHz (index 3), 2 channels: 00010 0011 0010 000
                // (FFmpeg's encoder adds the extension that says "no SBR" after it)
                REQUIRE(codec->header().size() >= 2);
                CHECK(codec->header()[0] == std::byte{0x11});
                CHECK(codec->header()[1] == std::byte{0x90});
            } else {
                CHECK(codec->flv_sound_format() == 9);
                CHECK(codec->fourcc() == 0x4f707573);  // "Opus"
                REQUIRE(codec->header().size() >= 19);
                CHECK(std::string(reinterpret_cast<const char*>(codec->header().data()), 8) == "OpusHead");
            }
            std::vector<std::int16_t> pcm(2 * 4800);  // 100 ms of a 1 kHz tone, left and right
            std::vector<rtmpx::encoded_audio> packets;
            for (int round = 0; round < 10; ++round) {
                for (std::size_t i = 0; i < pcm.size() / 2; ++i)
                    pcm[2 * i] = pcm[2 * i + 1] = static_cast<std::int16_t>(((round * 4800 + i) / 24) % 2 ? 8000 : -8000);
                REQUIRE_FALSE(codec->encode(pcm, packets));
            }
            REQUIRE(packets.size() >= 40);
            const std::uint32_t frame = packets[0].samples;
            CHECK(frame == (codec_name == "aac" ? 1024u : 960u));
            CHECK(packets[0].first_sample < 0);  // the codec's priming comes first
            for (std::size_t i = 1; i < packets.size(); ++i) {
                CHECK(packets[i].first_sample == packets[i - 1].first_sample + frame);
                CHECK_FALSE(packets[i].data.empty());
            }
            CHECK(codec->encode(std::span(pcm).first(3), packets) == rtmpx::encoder_error::invalid_parameter);  // half a frame
            std::vector<rtmpx::encoded_audio> rest;
            REQUIRE_FALSE(codec->close(rest));
            CHECK(codec->close(rest) == rtmpx::encoder_error::already_closed);
        }
        CHECK_FALSE(registry.make_audio("mp3"));
        auto opus = registry.make_audio("opus");
        CHECK(opus->init(44100, 2) == rtmpx::encoder_error::invalid_parameter);  // Opus has no 44.1 kHz
        CHECK(registry.make_audio("aac")->init(48000, 9) == rtmpx::encoder_error::invalid_parameter);
    }
}

#endif // RTMPX_WITH_LIBAVCODEC
