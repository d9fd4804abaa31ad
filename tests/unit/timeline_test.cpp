// SPDX-License-Identifier: MIT
// Tests for protocol/timeline.hpp: a publisher's timestamps onto one timeline that never jumps.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

#include <rtmpx/protocol/timeline.hpp>

using rtmpx::protocol::time_point;
using rtmpx::protocol::timeline;
using namespace std::chrono_literals;

namespace {
const time_point t0{};
}

TEST_SUITE("timeline") {
    TEST_CASE("timestamps that advance plausibly pass through, audio and video interleaving a little out of order") {
        timeline tl;
        CHECK(tl.map(5000, t0) == 5000);
        CHECK(tl.map(5033, t0 + 33ms) == 5033);
        CHECK(tl.map(5010, t0 + 34ms) == 5010);  // audio 23 ms behind the video: not a jump
        CHECK(tl.map(5066, t0 + 66ms) == 5066);
        CHECK(tl.map(9000, t0 + 70ms) == 9000);  // a burst (ffmpeg without -re): 3.9 s in one step is fine
        CHECK(tl.jumps() == 0);
    }

    TEST_CASE("a jump back or a leap forward re-anchors at the last timestamp plus the wall time that passed") {
        timeline tl;
        tl.map(1000, t0);
        tl.map(2000, t0 + 1s);
        CHECK(tl.map(10, t0 + 1040ms) == 2040);          // back by 2 s: re-anchored
        CHECK(tl.map(43, t0 + 1073ms) == 2073);          // and followed from there
        CHECK(tl.map(3'600'000, t0 + 1106ms) == 2106);   // forward by an hour: re-anchored
        CHECK(tl.map(3'600'033, t0 + 1139ms) == 2139);
        CHECK(tl.jumps() == 2);
    }

    TEST_CASE("a new producer continues the timeline after the wall-clock gap, its restart not counted as a jump") {
        timeline tl;
        tl.map(7000, t0);
        tl.map(8000, t0 + 1s);
        tl.restart();
        CHECK(tl.map(0, t0 + 4s) == 11000);  // the publisher came back 3 s later, counting from 0
        CHECK(tl.map(33, t0 + 4033ms) == 11033);
        CHECK(tl.jumps() == 0);
        tl.restart();
        CHECK(tl.map(500, t0 + 4033ms) == 11034);  // at least 1 ms after the last one
    }

    TEST_CASE("the timeline wraps with RTMP's 32-bit clock instead of jumping") {
        timeline tl;
        CHECK(tl.map(0xffffffe0u, t0) == 0xffffffe0u);
        CHECK(tl.map(0x10u, t0 + 48ms) == 0x10u);  // 48 ms later, past the wrap
        CHECK(tl.jumps() == 0);
    }

    TEST_CASE("a restart before any timestamp changes nothing") {
        timeline tl;
        tl.restart();
        CHECK(tl.map(1234, t0) == 1234);
    }
}
