// SPDX-License-Identifier: MIT
// Tests for protocol/flv.hpp and protocol/flv_writer.hpp: tag headers, key frames (legacy and
// Enhanced), sequence headers, audio tags, onMetaData, and FLV files as bytes.
#include <doctest/doctest.h>

#include <bit>
#include <cstring>

#include <rtmpx/protocol/flv_writer.hpp>

#include <rtmpx/protocol/flv.hpp>

#include "../support.hpp"

namespace flv = rtmpx::protocol::flv;
using rtmpx_test::bytes;

TEST_SUITE("flv") {
    TEST_CASE("video tag headers: frame type and codec id, and for AVC the NALU packet and a zero composition time") {
        CHECK(flv::video_tag(7, true, bytes({0xaa})) == bytes({0x17, 0x01, 0x00, 0x00, 0x00, 0xaa}));
        CHECK(flv::video_tag(7, false, bytes({0xaa})) == bytes({0x27, 0x01, 0x00, 0x00, 0x00, 0xaa}));
        CHECK(flv::video_tag(3, true, bytes({0xbb, 0xcc})) == bytes({0x13, 0xbb, 0xcc}));  // screen video: no packet type
        CHECK(flv::video_tag(2, false, {}) == bytes({0x22}));
        CHECK(flv::avc_sequence_header(bytes({0x01, 0x64})) == bytes({0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64}));
    }

    TEST_CASE("key frames, legacy (0x1X) and Enhanced RTMP (0x9X: IsExHeader, frame type 1)") {
        CHECK(flv::is_key_frame(bytes({0x17, 0x01})));
        CHECK(flv::is_key_frame(bytes({0x13})));
        CHECK_FALSE(flv::is_key_frame(bytes({0x27, 0x01})));
        CHECK(flv::is_key_frame(bytes({0x91, 'h', 'v', 'c', '1', 0, 0, 0})));  // key frame, CodedFrames
        CHECK(flv::is_key_frame(bytes({0x96, 0x01, 'a', 'v', '0', '1', 0x00, 0xaa})));  // one track, CodedFrames
        CHECK_FALSE(flv::is_key_frame(bytes({0x94, 'a', 'v', '0', '1'})));  // a Metadata frame's frame type means nothing
        CHECK_FALSE(flv::is_key_frame(bytes({0x91, 'h', 'v', 'c', '1'})));  // no room for its composition time
        CHECK(flv::is_key_frame(bytes({0x90, 'a', 'v', '0', '1'})));  // key frame, SequenceStart
        CHECK_FALSE(flv::is_key_frame(bytes({0xa1, 'a', 'v', '0', '1'})));  // inter frame, CodedFrames
        CHECK_FALSE(flv::is_key_frame({}));
        CHECK(flv::frame_type_of(bytes({0xd3})) == 5);  // Enhanced command frame
    }

    TEST_CASE("sequence headers: AVC packet type 0, or an Enhanced SequenceStart") {
        CHECK(flv::is_sequence_header(bytes({0x17, 0x00, 0, 0, 0, 0x01})));
        CHECK_FALSE(flv::is_sequence_header(bytes({0x17, 0x01, 0, 0, 0})));
        CHECK_FALSE(flv::is_sequence_header(bytes({0x13, 0x00})));  // screen video has none
        CHECK(flv::is_sequence_header(bytes({0x90, 'h', 'v', 'c', '1'})));
        CHECK_FALSE(flv::is_sequence_header(bytes({0x91, 'h', 'v', 'c', '1', 0, 0, 0})));
        CHECK(flv::is_sequence_header(bytes({0x97, 0x02, 0, 0, 1, 0x00, 'a', 'v', '0', '1'})));  // after ModEx
        CHECK(flv::is_sequence_header(bytes({0x96, 0x10, 'a', 'v', '0', '1', 0x01, 0, 0, 1, 0x81})));  // multitrack
        CHECK(flv::is_sequence_header(bytes({0xa0, 'v', 'p', '0', '9'})));  // whatever the frame type
        CHECK_FALSE(flv::is_sequence_header(bytes({0x94, 'a', 'v', '0', '1'})));
    }

    TEST_CASE("onMetaData: the properties players read, as an ECMA array without audiocodecid") {
        std::vector<rtmpx::amf0::value> values;
        std::error_code ec;
        REQUIRE(rtmpx::amf0::decode_all(flv::on_metadata_payload(flv::video_metadata(640, 360, 30, 7)), values, ec));
        REQUIRE(values.size() == 2);
        CHECK(values[0].as_string() == "onMetaData");
        CHECK(values[1].type() == rtmpx::amf0::kind::ecma_array);
        CHECK(values[1]["width"].as_number() == 640);
        CHECK(values[1]["height"].as_number() == 360);
        CHECK(values[1]["framerate"].as_number() == 30);
        CHECK(values[1]["videocodecid"].as_number() == 7);
        CHECK(values[1].find("audiocodecid") == nullptr);
    }

    TEST_CASE("audio tags: sound formats, AAC and Enhanced sequence headers, and tags too short for their header") {
        CHECK(flv::sound_format_of(bytes({0xaf, 0x01})) == 10);
        CHECK(flv::sound_format_of(bytes({0x2f})) == 2);  // MP3
        CHECK(flv::is_audio_sequence_header(bytes({0xaf, 0x00, 0x12, 0x10})));
        CHECK_FALSE(flv::is_audio_sequence_header(bytes({0xaf, 0x01, 0x21})));
        CHECK_FALSE(flv::is_audio_sequence_header(bytes({0x2f, 0x00})));           // MP3 has none
        CHECK(flv::is_audio_sequence_header(bytes({0x90, 'O', 'p', 'u', 's'})));   // Enhanced SequenceStart
        CHECK(flv::is_audio_sequence_header(bytes({0x97, 0x02, 0, 0, 1, 0x00, 'O', 'p', 'u', 's'})));  // after ModEx
        CHECK_FALSE(flv::is_audio_sequence_header(bytes({0x94, 'O', 'p', 'u', 's', 0x00, 0x02})));  // MultichannelConfig
        CHECK_FALSE(flv::is_audio_sequence_header(bytes({0x91, 'O', 'p', 'u', 's'})));
        CHECK(flv::is_complete_audio_tag(bytes({0x2f})));
        CHECK_FALSE(flv::is_complete_audio_tag(bytes({0xaf})));
        CHECK_FALSE(flv::is_complete_audio_tag(bytes({0x91, 'O', 'p'})));
        CHECK_FALSE(flv::is_complete_audio_tag({}));
        CHECK(flv::is_complete_video_tag(bytes({0x17, 0x01, 0, 0, 0})));
        CHECK_FALSE(flv::is_complete_video_tag(bytes({0x17, 0x01})));
        CHECK(flv::is_complete_video_tag(bytes({0x22})));  // Sorenson: one byte of header
        CHECK_FALSE(flv::is_complete_video_tag(bytes({0x91, 'h', 'v'})));
    }

    TEST_CASE("FLV file bytes: header, tags with 24+8-bit timestamps from 0 and back pointers") {
        rtmpx::protocol::flv_writer w;
        const auto header = w.header();
        CHECK(std::vector<std::byte>(header.begin(), header.end()) ==
              bytes({'F', 'L', 'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0}));
        auto tag = w.tag(rtmpx::protocol::message_type::video, 0x01000010, bytes({0x17, 0x01, 0, 0, 0, 0xaa}));
        CHECK(std::vector<std::byte>(tag.begin(), tag.end()) ==
              bytes({0x09, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0x17, 0x01, 0, 0, 0, 0xaa, 0, 0, 0, 17}));  // at 0
        tag = w.tag(rtmpx::protocol::message_type::audio, 0x02000020, bytes({0xaf, 0x01}));  // 2^24 + 16 ms later
        CHECK(std::vector<std::byte>(tag.begin(), tag.end()) ==
              bytes({0x08, 0, 0, 2, 0, 0, 0x10, 0x01, 0, 0, 0, 0xaf, 0x01, 0, 0, 0, 13}));
        tag = w.tag(rtmpx::protocol::message_type::audio, 0x01000000, bytes({0xaf, 0x01}));  // before the first: never back
        CHECK(tag[4] == std::byte{0});
        CHECK(tag[6] == std::byte{0x10});
        CHECK(w.tag(rtmpx::protocol::message_type::command_amf0, 5, bytes({0x02})).empty());
        CHECK(w.size() == 13 + 21 + 17 + 17);
        CHECK(w.duration_ms() == 0x01000010);
        const auto patches = w.patches();
        REQUIRE(patches.size() == 1);  // no onMetaData: only the flags
        CHECK(patches[0].offset == 4);
        CHECK(patches[0].bytes == bytes({0x05}));
    }

    TEST_CASE("FLV file bytes: onMetaData gets a duration first (patched at the end), a second one is skipped") {
        rtmpx::protocol::flv_writer w;
        w.header();
        const auto meta = flv::on_metadata_payload(rtmpx::amf0::value::ecma_array(
            {{"duration", rtmpx::amf0::value(99)}, {"width", rtmpx::amf0::value(320)}, {"filesize", rtmpx::amf0::value(1)}}));
        const auto written = w.tag(rtmpx::protocol::message_type::data_amf0, 1000, meta);
        const std::vector<std::byte> tag(written.begin(), written.end());  // the span lasts until the next call
        std::vector<rtmpx::amf0::value> values;
        std::error_code ec;
        REQUIRE(rtmpx::amf0::decode_all(std::span<const std::byte>(tag).subspan(11, tag.size() - 15), values, ec));
        CHECK(values.at(0).as_string() == "onMetaData");
        REQUIRE(values.at(1).props().size() == 2);
        CHECK(values[1].props()[0].first == "duration");
        CHECK(values[1]["width"].as_number() == 320);
        CHECK(values[1].find("filesize") == nullptr);
        CHECK(w.tag(rtmpx::protocol::message_type::data_amf0, 1000, meta).empty());
        w.tag(rtmpx::protocol::message_type::audio, 3500, bytes({0xaf, 0x01}));
        const auto patches = w.patches();
        REQUIRE(patches.size() == 2);
        CHECK(patches[0].bytes == bytes({0x04}));  // audio only
        // The duration's 8 bytes are where the patch says, after the header and the tag header.
        std::vector<std::byte> file(13, std::byte{0});
        file.insert(file.end(), tag.begin(), tag.end());
        REQUIRE(patches[1].offset + 8 <= file.size());
        std::memcpy(file.data() + patches[1].offset, patches[1].bytes.data(), 8);
        values.clear();
        REQUIRE(rtmpx::amf0::decode_all(std::span<const std::byte>(file).subspan(13 + 11, tag.size() - 15), values, ec));
        CHECK(values[1]["duration"].as_number() == doctest::Approx(2.5));
    }
}
