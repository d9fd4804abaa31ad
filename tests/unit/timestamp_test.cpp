// SPDX-License-Identifier: MIT
// Tests for timestamp.hpp: wraparound arithmetic and serial-number ordering.
#include <doctest/doctest.h>

#include <rtmpx/timestamp.hpp>

using rtmpx::rtmp_timestamp;

TEST_SUITE("timestamp") {
    TEST_CASE("adding past 2^32 wraps and still orders as later") {
        rtmp_timestamp t(0xfffffff0u);
        rtmp_timestamp later = t + 0x20;
        CHECK(later.value() == 0x10u);
        CHECK(later > t);
        CHECK(t < later);
        CHECK(later - t == 0x20u);
    }

    TEST_CASE("ordering and equality of nearby timestamps") {
        CHECK(rtmp_timestamp(5) < rtmp_timestamp(6));
        CHECK(rtmp_timestamp(6) == rtmp_timestamp(6));
        CHECK(rtmp_timestamp(0x7fffffffu) > rtmp_timestamp(0));
        CHECK(rtmp_timestamp(0x80000001u) < rtmp_timestamp(0));  // more than half the circle behind
    }
}
