// SPDX-License-Identifier: MIT
// Tests for error.hpp: messages, categories and conditions.
#include <doctest/doctest.h>

#include <rtmpx/error.hpp>

#include "../support.hpp"

TEST_SUITE("error") {
    TEST_CASE("an rtmpx::error converts to std::error_code with a message") {
        std::error_code ec = rtmpx::error::message_too_large;
        CHECK(ec.category().name() == std::string("rtmpx"));
        CHECK(ec.message() == "message length above the configured maximum");
        CHECK(ec == rtmpx::error::message_too_large);
        CHECK((ec != rtmpx::error::reassembly_limit));
    }

    TEST_CASE("errors compare equal to the condition that groups them") {
        CHECK((std::error_code(rtmpx::error::too_many_chunk_streams) == rtmpx::condition::limit_exceeded));
        CHECK((std::error_code(rtmpx::error::amf_depth_exceeded) == rtmpx::condition::limit_exceeded));
        CHECK((std::error_code(rtmpx::error::bad_handshake_version) == rtmpx::condition::protocol_violation));
        CHECK((std::error_code(rtmpx::error::rejected_by_handler) == rtmpx::condition::rejected));
        CHECK((std::error_code(rtmpx::error::idle_timeout) == rtmpx::condition::timeout));
        CHECK((std::error_code(rtmpx::error::idle_timeout) != rtmpx::condition::limit_exceeded));
    }
}
