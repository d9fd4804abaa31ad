// SPDX-License-Identifier: MIT
// Tests for detail/chunk_writer.hpp: header choice, extended timestamps, scatter-gather, round trips.
#include <doctest/doctest.h>

#include <random>

#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/chunk_writer.hpp>

#include "../support.hpp"

using rtmpx::protocol::message_header;
using rtmpx::protocol::message_type;
using rtmpx::rtmp_timestamp;
using rtmpx::protocol::chunk_reader;
using rtmpx::protocol::chunk_writer;
using rtmpx::protocol::chunked_output;
using rtmpx_test::bytes;

namespace {

message_header video_header(std::uint32_t ts, std::uint32_t stream = 1) {
    return message_header{rtmpx::protocol::chunk_stream::video, message_type::video, rtmp_timestamp(ts), stream};
}

} // namespace

TEST_SUITE("chunk_writer") {
    TEST_CASE("the smallest correct header type is chosen for each message") {
        chunk_writer w;
        chunked_output out;
        const auto p2 = bytes({0xaa, 0xbb});
        const auto p3 = bytes({0xcc, 0xdd, 0xee});
        w.write(video_header(1000), p2, out);  // first on the chunk stream: type 0
        w.write(video_header(1040), p3, out);  // length changed: type 1
        w.write(video_header(1080), p3, out);  // same length and type, delta 40 again... but the
                                               // delta was set by a type 1: type 3 is allowed
        w.write(video_header(1100), p3, out);  // delta changed to 20: type 2
        w.write(video_header(1120), p3, out);  // delta 20 again: type 3
        w.write(video_header(1000), p3, out);  // timestamp went back: type 0
        w.write(video_header(1000, 2), p3, out);  // new message stream id: type 0
        CHECK(out.flatten() == bytes({
                  0x06,                     // fmt 0, csid 6
                  0x00, 0x03, 0xe8,         // timestamp 1000
                  0x00, 0x00, 0x02,         // length 2
                  0x09,                     // video
                  0x01, 0x00, 0x00, 0x00,   // stream 1
                  0xaa, 0xbb,               // payload
                  0x46,                     // fmt 1, csid 6
                  0x00, 0x00, 0x28,         // delta 40
                  0x00, 0x00, 0x03,         // length 3
                  0x09,                     // video
                  0xcc, 0xdd, 0xee,         // payload
                  0xc6,                     // fmt 3, csid 6 (delta 40 reused)
                  0xcc, 0xdd, 0xee,         // payload
                  0x86,                     // fmt 2, csid 6
                  0x00, 0x00, 0x14,         // delta 20
                  0xcc, 0xdd, 0xee,         // payload
                  0xc6,                     // fmt 3, csid 6 (delta 20 reused)
                  0xcc, 0xdd, 0xee,         // payload
                  0x06,                     // fmt 0, csid 6
                  0x00, 0x03, 0xe8,         // timestamp 1000
                  0x00, 0x00, 0x03,         // length 3
                  0x09,                     // video
                  0x01, 0x00, 0x00, 0x00,   // stream 1
                  0xcc, 0xdd, 0xee,         // payload
                  0x06,                     // fmt 0, csid 6
                  0x00, 0x03, 0xe8,         // timestamp 1000
                  0x00, 0x00, 0x03,         // length 3
                  0x09,                     // video
                  0x02, 0x00, 0x00, 0x00,   // stream 2
                  0xcc, 0xdd, 0xee,         // payload
              }));
    }

    TEST_CASE("after a type-0 header the next message states its delta with a type-2 header") {
        chunk_writer w;
        chunked_output out;
        const auto p = bytes({0x01});
        w.write(video_header(0), p, out);
        w.write(video_header(33), p, out);
        const auto flat = out.flatten();
        CHECK(flat == bytes({0x06, 0, 0, 0, 0, 0, 1, 0x09, 1, 0, 0, 0, 0x01,  // type 0, ts 0, len 1, video
                             0x86, 0x00, 0x00, 0x21,                           // type 2, delta 33
                             0x01}));                                          // payload
    }

    TEST_CASE("large payloads are split with type-3 headers and referenced, not copied") {
        chunk_writer w(4);
        chunked_output out;
        const auto payload = bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        w.write(video_header(5), payload, out);
        auto buffers = out.buffers();
        REQUIRE(buffers.size() == 6);  // header, 4 bytes, header, 4 bytes, header, 2 bytes
        CHECK(buffers[1].data() == payload.data());
        CHECK(buffers[3].data() == payload.data() + 4);
        CHECK(buffers[5].data() == payload.data() + 8);
        CHECK(buffers[2].size() == 1);  // a one-byte type-3 header
        CHECK(out.size() == 12 + 10 + 2);
    }

    TEST_CASE("extended timestamps are written on the first chunk and on every continuation") {
        chunk_writer w(2);
        chunked_output out;
        const auto payload = bytes({0xa1, 0xa2, 0xa3});
        w.write(video_header(0x01020304), payload, out);
        CHECK(out.flatten() == bytes({
                  0x06,                    // fmt 0, csid 6
                  0xff, 0xff, 0xff,        // timestamp: see extended
                  0x00, 0x00, 0x03,        // length 3
                  0x09,                    // video
                  0x01, 0x00, 0x00, 0x00,  // stream 1
                  0x01, 0x02, 0x03, 0x04,  // extended timestamp
                  0xa1, 0xa2,              // payload, first chunk
                  0xc6,                    // fmt 3, csid 6
                  0x01, 0x02, 0x03, 0x04,  // extended timestamp repeated
                  0xa3,                    // payload, last chunk
              }));
    }

    TEST_CASE("chunk stream ids above 63 use the two- and three-byte basic headers") {
        chunk_writer w;
        chunked_output out;
        const auto p = bytes({0x00});
        w.write(message_header{64, message_type::audio, rtmp_timestamp(0), 1}, p, out);
        w.write(message_header{319, message_type::audio, rtmp_timestamp(0), 1}, p, out);
        w.write(message_header{65599, message_type::audio, rtmp_timestamp(0), 1}, p, out);
        const auto flat = out.flatten();
        REQUIRE(flat.size() == 3 * 13 + 1 + 1 + 2);
        CHECK(flat[0] == std::byte{0x00});   // csid 0 form
        CHECK(flat[1] == std::byte{0x00});   // 64 - 64
        CHECK(flat[14] == std::byte{0x00});  // csid 0 form
        CHECK(flat[15] == std::byte{0xff});  // 319 - 64
        CHECK(flat[28] == std::byte{0x01});  // csid 1 form
        CHECK(flat[29] == std::byte{0xff});  // (65599 - 64) & 0xff
        CHECK(flat[30] == std::byte{0xff});  // (65599 - 64) >> 8
    }

    TEST_CASE("random message sequences survive writing and reading at chunk sizes 1 to 65536") {
        std::mt19937 rng(20261125);
        const std::uint32_t csids[] = {2, 3, 4, 5, 6, 63, 64, 319, 320, 65599};
        const message_type types[] = {message_type::audio, message_type::video, message_type::command_amf0,
                                      message_type::data_amf0, message_type::user_control};
        int cases = 0;
        for (std::uint32_t chunk_size : {1u, 128u, 4096u, 65536u}) {
            for (int round = 0; round < 60; ++round) {
                // A sequence of messages over a few chunk streams, timestamps moving mostly forward,
                // sometimes back, sometimes past the extended-timestamp threshold.
                std::vector<rtmpx::protocol::message> sent;
                std::uint32_t ts = rng() % 2 ? 0 : 0xfffff0 + rng() % 32;
                const int count = 1 + static_cast<int>(rng() % 20);
                for (int i = 0; i < count; ++i) {
                    rtmpx::protocol::message m;
                    m.header.chunk_stream_id = csids[rng() % std::size(csids)];
                    m.header.type = types[rng() % std::size(types)];
                    m.header.stream_id = rng() % 3;
                    switch (rng() % 4) {
                    case 0: break;
                    case 1: ts += 33; break;
                    case 2: ts += rng() % 5000; break;
                    default: ts -= std::min<std::uint32_t>(ts, rng() % 100); break;
                    }
                    m.header.timestamp = rtmp_timestamp(ts);
                    const std::size_t len = rng() % 4 == 0 ? rng() % 20000 : rng() % 300;
                    m.payload.resize(len);
                    for (auto& b : m.payload) b = std::byte(rng() & 0xff);
                    sent.push_back(std::move(m));
                }
                chunk_writer w(chunk_size);
                chunked_output out;
                for (const auto& m : sent) w.write(m.header, m.payload, out);
                const auto wire = out.flatten();

                chunk_reader r;
                // Announce the writer's chunk size to the reader as a session would.
                if (chunk_size != 128) {
                    auto scs = bytes({0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0});
                    for (int shift : {24, 16, 8, 0}) scs.push_back(std::byte((chunk_size >> shift) & 0xff));
                    std::error_code ec;
                    REQUIRE(r.put(scs, ec) == scs.size());
                    REQUIRE(r.has_message());
                    r.take_message();
                }
                std::vector<rtmpx::protocol::message> got;
                std::span<const std::byte> rest(wire);
                const std::size_t step = 1 + rng() % 5000;
                std::vector<std::byte> pending;
                while (!rest.empty() || !pending.empty()) {
                    const std::size_t n = std::min(step, rest.size());
                    pending.insert(pending.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
                    rest = rest.subspan(n);
                    std::size_t used = 0;
                    std::error_code ec;
                    for (;;) {
                        used += r.put(std::span(pending).subspan(used), ec);
                        REQUIRE(!ec);
                        if (!r.has_message()) break;
                        got.push_back(r.take_message());
                    }
                    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
                    if (n == 0) break;
                }
                REQUIRE(got.size() == sent.size());
                for (std::size_t i = 0; i < sent.size(); ++i) {
                    CHECK(got[i].header == sent[i].header);
                    CHECK(got[i].payload == sent[i].payload);
                }
                ++cases;
            }
        }
        CHECK(cases == 240);
    }
}
