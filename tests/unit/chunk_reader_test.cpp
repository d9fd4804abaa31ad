// SPDX-License-Identifier: MIT
// Tests for protocol/chunk_reader.hpp: header forms, timestamps, reassembly, control, limits.
#include <doctest/doctest.h>

#include <rtmpx/protocol/chunk_reader.hpp>

#include "../support.hpp"

using rtmpx::protocol::message_type;
using rtmpx::protocol::chunk_reader;
using rtmpx_test::bytes;
using rtmpx_test::concat;

namespace {

// Feeds all input (in pieces of `step` bytes, keeping unconsumed header bytes as a real session
// would) and collects the messages.
std::vector<rtmpx::protocol::message> read_all(chunk_reader& r, const std::vector<std::byte>& in, std::error_code& ec,
                                     std::size_t step = 1 << 20) {
    std::vector<rtmpx::protocol::message> out;
    std::vector<std::byte> pending;
    std::size_t fed = 0;
    while (fed < in.size() || !pending.empty()) {
        const std::size_t n = std::min(step, in.size() - fed);
        pending.insert(pending.end(), in.begin() + static_cast<std::ptrdiff_t>(fed),
                       in.begin() + static_cast<std::ptrdiff_t>(fed + n));
        fed += n;
        std::size_t used = 0;
        for (;;) {
            used += r.put(std::span(pending).subspan(used), ec);
            if (ec) return out;
            if (!r.has_message()) break;
            out.push_back(r.take_message());
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        if (n == 0) break;  // no more input and nothing consumable left
    }
    return out;
}

} // namespace

TEST_SUITE("chunk_reader") {
    TEST_CASE("a type-0 chunk carries a whole small message") {
        const auto in = bytes({
            0x03,              // fmt 0, chunk stream 3
            0x00, 0x00, 0x0a,  // timestamp 10
            0x00, 0x00, 0x02,  // length 2
            0x14,              // type 20 (command AMF0)
            0x01, 0x00, 0x00, 0x00,  // message stream id 1, little-endian
            0xaa, 0xbb,        // payload
        });
        chunk_reader r;
        std::error_code ec;
        auto msgs = read_all(r, in, ec);
        REQUIRE(!ec);
        REQUIRE(msgs.size() == 1);
        CHECK(msgs[0].header.chunk_stream_id == 3);
        CHECK(msgs[0].header.timestamp.value() == 10);
        CHECK(msgs[0].header.type == message_type::command_amf0);
        CHECK(msgs[0].header.stream_id == 1);
        CHECK(msgs[0].payload == bytes({0xaa, 0xbb}));
    }

    TEST_CASE("two- and three-byte basic headers reach chunk streams 64 to 65599") {
        const auto in = concat({
            bytes({0x00, 0x00,             // fmt 0, csid 0 form: id = 64 + 0
                   0x00, 0x00, 0x00,       // timestamp 0
                   0x00, 0x00, 0x01,       // length 1
                   0x09,                   // type 9 (video)
                   0x01, 0x00, 0x00, 0x00, // stream 1
                   0x11}),                 // payload
            bytes({0x01, 0xff, 0xff,       // fmt 0, csid 1 form: id = 64 + 255 + 255*256 = 65599
                   0x00, 0x00, 0x00,       // timestamp 0
                   0x00, 0x00, 0x01,       // length 1
                   0x08,                   // type 8 (audio)
                   0x01, 0x00, 0x00, 0x00, // stream 1
                   0x22}),                 // payload
            bytes({0x01, 0x00, 0x01,       // fmt 0, csid 1 form: id = 64 + 0 + 1*256 = 320
                   0x00, 0x00, 0x00,       // timestamp 0
                   0x00, 0x00, 0x01,       // length 1
                   0x08,                   // type 8
                   0x01, 0x00, 0x00, 0x00, // stream 1
                   0x33}),                 // payload
        });
        chunk_reader r;
        std::error_code ec;
        auto msgs = read_all(r, in, ec, 1);  // byte by byte: partial basic headers wait
        REQUIRE(!ec);
        REQUIRE(msgs.size() == 3);
        CHECK(msgs[0].header.chunk_stream_id == 64);
        CHECK(msgs[1].header.chunk_stream_id == 65599);
        CHECK(msgs[2].header.chunk_stream_id == 320);
        CHECK(msgs[2].payload == bytes({0x33}));
    }

    TEST_CASE("type 1, 2 and 3 headers add deltas and reuse earlier fields") {
        const auto in = concat({
            bytes({0x04,                   // fmt 0, csid 4
                   0x00, 0x03, 0xe8,       // timestamp 1000
                   0x00, 0x00, 0x01,       // length 1
                   0x08,                   // type 8
                   0x01, 0x00, 0x00, 0x00, // stream 1
                   0x01}),                 // payload
            bytes({0x44,                   // fmt 1, csid 4
                   0x00, 0x00, 0x14,       // delta 20
                   0x00, 0x00, 0x02,       // length 2
                   0x09,                   // type 9
                   0x02, 0x02}),           // payload
            bytes({0x84,                   // fmt 2, csid 4
                   0x00, 0x00, 0x1e,       // delta 30
                   0x03, 0x03}),           // payload (length 2 reused)
            bytes({0xc4,                   // fmt 3, csid 4: a new message, delta 30 reused
                   0x04, 0x04}),           // payload
        });
        chunk_reader r;
        std::error_code ec;
        auto msgs = read_all(r, in, ec);
        REQUIRE(!ec);
        REQUIRE(msgs.size() == 4);
        CHECK(msgs[0].header.timestamp.value() == 1000);
        CHECK(msgs[1].header.timestamp.value() == 1020);
        CHECK(msgs[1].header.type == message_type::video);
        CHECK(msgs[1].header.stream_id == 1);
        CHECK(msgs[2].header.timestamp.value() == 1050);
        CHECK(msgs[2].payload == bytes({0x03, 0x03}));
        CHECK(msgs[3].header.timestamp.value() == 1080);
        CHECK(msgs[3].payload == bytes({0x04, 0x04}));
    }

    TEST_CASE("a message longer than the chunk size is reassembled from type-3 continuations") {
        std::vector<std::byte> payload(300);
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(i & 0xff);
        std::vector<std::byte> in = bytes({0x06,                    // fmt 0, csid 6
                                           0x00, 0x00, 0x00,        // timestamp 0
                                           0x00, 0x01, 0x2c,        // length 300
                                           0x09,                    // video
                                           0x01, 0x00, 0x00, 0x00});// stream 1
        in.insert(in.end(), payload.begin(), payload.begin() + 128);
        in.push_back(std::byte{0xc6});  // fmt 3, csid 6
        in.insert(in.end(), payload.begin() + 128, payload.begin() + 256);
        in.push_back(std::byte{0xc6});  // fmt 3, csid 6
        in.insert(in.end(), payload.begin() + 256, payload.end());
        for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
            chunk_reader r;
            std::error_code ec;
            auto msgs = read_all(r, in, ec, step);
            REQUIRE(!ec);
            REQUIRE(msgs.size() == 1);
            CHECK(msgs[0].payload == payload);
            CHECK(r.buffered_bytes() == 0);
        }
    }

    TEST_CASE("extended timestamps are read on type-3 continuations whether repeated or not") {
        auto message_with = [](bool repeat) {
            std::vector<std::byte> in = bytes({0x06,                     // fmt 0, csid 6
                                               0xff, 0xff, 0xff,         // timestamp: extended
                                               0x00, 0x00, 0x82,         // length 130
                                               0x09,                     // video
                                               0x01, 0x00, 0x00, 0x00,   // stream 1
                                               0x01, 0x00, 0x00, 0x00}); // extended timestamp 0x01000000
            in.insert(in.end(), 128, std::byte{0x55});
            in.push_back(std::byte{0xc6});  // fmt 3, csid 6
            if (repeat) {
                const auto ext = bytes({0x01, 0x00, 0x00, 0x00});  // extended timestamp repeated
                in.insert(in.end(), ext.begin(), ext.end());
            }
            in.push_back(std::byte{0x66});  // the last two payload bytes
            in.push_back(std::byte{0x77});
            return in;
        };
        for (bool repeat : {true, false}) {
            CAPTURE(repeat);
            chunk_reader r;
            std::error_code ec;
            auto msgs = read_all(r, message_with(repeat), ec, 3);
            REQUIRE(!ec);
            REQUIRE(msgs.size() == 1);
            CHECK(msgs[0].header.timestamp.value() == 0x01000000u);
            CHECK(msgs[0].payload.size() == 130);
            CHECK(msgs[0].payload[128] == std::byte{0x66});
            CHECK(msgs[0].payload[129] == std::byte{0x77});
        }
    }

    TEST_CASE("set chunk size takes effect for the chunks that follow it") {
        std::vector<std::byte> in = bytes({0x02,                    // fmt 0, csid 2
                                           0x00, 0x00, 0x00,        // timestamp 0
                                           0x00, 0x00, 0x04,        // length 4
                                           0x01,                    // type 1: set chunk size
                                           0x00, 0x00, 0x00, 0x00,  // stream 0
                                           0x00, 0x00, 0x01, 0x00,  // chunk size 256
                                           0x06,                    // fmt 0, csid 6
                                           0x00, 0x00, 0x00,        // timestamp 0
                                           0x00, 0x00, 0xc8,        // length 200 (one chunk at size 256)
                                           0x09,                    // video
                                           0x01, 0x00, 0x00, 0x00});// stream 1
        in.insert(in.end(), 200, std::byte{0x42});
        chunk_reader r;
        std::error_code ec;
        auto msgs = read_all(r, in, ec);
        REQUIRE(!ec);
        REQUIRE(msgs.size() == 2);
        CHECK(msgs[0].header.type == message_type::set_chunk_size);
        CHECK(r.chunk_size() == 256);
        CHECK(msgs[1].payload.size() == 200);
    }

    TEST_CASE("every legal chunk size is accepted, 1 to 2^31-1; the message size limit still holds") {
        // Set Chunk Size to `size`, then a video message of `length` bytes sent in chunks of it.
        auto session = [](std::uint32_t size, std::uint32_t length) {
            auto in = bytes({0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0});
            for (int shift : {24, 16, 8, 0}) in.push_back(std::byte((size >> shift) & 0xff));
            for (std::uint32_t sent = 0; sent < length || sent == 0;) {
                if (sent == 0) {
                    in.insert(in.end(), {std::byte{0x06}, std::byte{0}, std::byte{0}, std::byte{0},
                                         std::byte((length >> 16) & 0xff), std::byte((length >> 8) & 0xff),
                                         std::byte(length & 0xff), std::byte{0x09}, std::byte{1}, std::byte{0},
                                         std::byte{0}, std::byte{0}});
                } else {
                    in.push_back(std::byte{0xc6});  // fmt 3, csid 6
                }
                const std::uint32_t n = std::min(size, length - sent);
                in.insert(in.end(), n, std::byte{0x5a});
                sent += n;
                if (length == 0) break;
            }
            return in;
        };
        for (std::uint32_t size : {1u, 2u, 127u, 4096u, 0x00100000u, 0x7fffffffu}) {
            CAPTURE(size);
            chunk_reader r;
            std::error_code ec;
            const auto msgs = read_all(r, session(size, 300), ec);
            REQUIRE(!ec);
            REQUIRE(msgs.size() == 2);
            CHECK(r.chunk_size() == size);
            CHECK(msgs[1].payload == std::vector<std::byte>(300, std::byte{0x5a}));
        }
        rtmpx::chunk_limits lim;
        lim.max_message_size = 1000;
        chunk_reader r(lim);
        std::error_code ec;
        read_all(r, session(0x7fffffffu, 1001), ec);
        CHECK(ec == rtmpx::error::message_too_large);
    }

    TEST_CASE("abort discards the partial message of a chunk stream") {
        std::vector<std::byte> in = bytes({0x06,                    // fmt 0, csid 6
                                           0x00, 0x00, 0x00,        // timestamp 0
                                           0x00, 0x01, 0x00,        // length 256
                                           0x09,                    // video
                                           0x01, 0x00, 0x00, 0x00});// stream 1
        in.insert(in.end(), 128, std::byte{0x01});  // first chunk only
        const auto abort = bytes({0x02,                    // fmt 0, csid 2
                                  0x00, 0x00, 0x00,        // timestamp 0
                                  0x00, 0x00, 0x04,        // length 4
                                  0x02,                    // type 2: abort
                                  0x00, 0x00, 0x00, 0x00,  // stream 0
                                  0x00, 0x00, 0x00, 0x06});// chunk stream 6
        in.insert(in.end(), abort.begin(), abort.end());
        const auto next = bytes({0x46,                // fmt 1, csid 6
                                 0x00, 0x00, 0x01,    // delta 1
                                 0x00, 0x00, 0x01,    // length 1
                                 0x09,                // video
                                 0x99});              // payload
        in.insert(in.end(), next.begin(), next.end());
        chunk_reader r;
        std::error_code ec;
        auto msgs = read_all(r, in, ec);
        REQUIRE(!ec);
        REQUIRE(msgs.size() == 2);
        CHECK(msgs[0].header.type == message_type::abort);
        CHECK(msgs[1].payload == bytes({0x99}));
        CHECK(r.buffered_bytes() == 0);
    }

    TEST_CASE("a zero-length message completes at its header") {
        const auto in = bytes({0x03,                    // fmt 0, csid 3
                               0x00, 0x00, 0x00,        // timestamp 0
                               0x00, 0x00, 0x00,        // length 0
                               0x12,                    // type 18 (data)
                               0x00, 0x00, 0x00, 0x00});// stream 0
        chunk_reader r;
        std::error_code ec;
        auto msgs = read_all(r, in, ec);
        REQUIRE(!ec);
        REQUIRE(msgs.size() == 1);
        CHECK(msgs[0].payload.empty());
    }

    TEST_CASE("a type-1 header on an unused chunk stream is an error") {
        const auto in = bytes({0x45,                // fmt 1, csid 5 (never seen)
                               0x00, 0x00, 0x00,    // delta
                               0x00, 0x00, 0x01,    // length 1
                               0x09,                // video
                               0x00});              // payload
        chunk_reader r;
        std::error_code ec;
        read_all(r, in, ec);
        CHECK(ec == rtmpx::error::chunk_header_invalid);
        std::error_code again;
        CHECK(r.put(in, again) == 0);  // stays failed
        CHECK(again == rtmpx::error::chunk_header_invalid);
    }

    TEST_CASE("every limit exceeded yields its error") {
        SUBCASE("message size") {
            rtmpx::chunk_limits lim;
            lim.max_message_size = 100;
            chunk_reader r(lim);
            const auto in = bytes({0x03, 0, 0, 0,  // fmt 0, csid 3, timestamp 0
                                   0x00, 0x00, 0x65,  // length 101
                                   0x14, 0, 0, 0, 0});  // command, stream 0
            std::error_code ec;
            read_all(r, in, ec);
            CHECK(ec == rtmpx::error::message_too_large);
        }
        SUBCASE("live chunk streams") {
            rtmpx::chunk_limits lim;
            lim.max_chunk_streams = 3;
            chunk_reader r(lim);
            std::vector<std::byte> in;
            for (int csid = 3; csid < 7; ++csid) {
                const auto m = bytes({csid, 0, 0, 0, 0, 0, 1, 0x09, 1, 0, 0, 0, 0x00});  // 1-byte video message
                in.insert(in.end(), m.begin(), m.end());
            }
            std::error_code ec;
            auto msgs = read_all(r, in, ec);
            CHECK(msgs.size() == 3);
            CHECK(ec == rtmpx::error::too_many_chunk_streams);
        }
        SUBCASE("reassembly bytes") {
            rtmpx::chunk_limits lim;
            lim.max_reassembly_bytes = 200;
            chunk_reader r(lim);
            std::vector<std::byte> in;
            for (int csid = 3; csid < 5; ++csid) {  // two streams, each with 128 of 1000 bytes
                const auto h = bytes({csid, 0, 0, 0, 0x00, 0x03, 0xe8, 0x09, 1, 0, 0, 0});
                in.insert(in.end(), h.begin(), h.end());
                in.insert(in.end(), 128, std::byte{0});
            }
            std::error_code ec;
            read_all(r, in, ec);
            CHECK(ec == rtmpx::error::reassembly_limit);
            CHECK(r.buffered_bytes() <= 200);
        }
        SUBCASE("chunk size zero, or with the top bit set") {
            for (auto [value, expected] : {std::pair{0u, rtmpx::error::chunk_size_invalid},
                                           std::pair{0x80000000u, rtmpx::error::chunk_size_invalid}}) {
                chunk_reader r;
                auto in = bytes({0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0});  // set chunk size, 4 bytes
                for (int shift : {24, 16, 8, 0}) in.push_back(std::byte((value >> shift) & 0xff));
                std::error_code ec;
                read_all(r, in, ec);
                CHECK(ec == expected);
                CHECK(r.chunk_size() == 128);
            }
        }
        SUBCASE("set chunk size with a short body") {
            chunk_reader r;
            const auto in = bytes({0x02, 0, 0, 0, 0, 0, 2, 0x01, 0, 0, 0, 0, 0x00, 0x10});
            std::error_code ec;
            read_all(r, in, ec);
            CHECK(ec == rtmpx::error::message_malformed);
        }
    }
}
