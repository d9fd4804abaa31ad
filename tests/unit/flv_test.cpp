// SPDX-License-Identifier: MIT
// Tests for protocol/flv.hpp: tag headers, key frames (legacy and Enhanced), sequence headers, onMetaData.
#include <doctest/doctest.h>


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
        CHECK(flv::is_key_frame(bytes({0x91, 'h', 'v', 'c', '1'})));  // key frame, CodedFrames
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
        CHECK_FALSE(flv::is_sequence_header(bytes({0x91, 'h', 'v', 'c', '1'})));
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
}
