// SPDX-License-Identifier: MIT
// Tests for detail/handshake.hpp: versions, plain and FP9 digest replies, split input, C2 boundary.
#include <doctest/doctest.h>

#include <rtmpx/protocol/handshake.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "../support.hpp"

using rtmpx::detail::hmac_sha256;
using rtmpx::protocol::server_handshake;
using rtmpx_test::bytes;
using rtmpx_test::concat;

namespace {

constexpr std::size_t packet = 1536;

// The FP9 keys, written out here independently of the header: text, then 32 constant bytes.
std::vector<std::byte> fp9_key(std::string_view text) {
    std::vector<std::byte> key;
    for (char c : text) key.push_back(static_cast<std::byte>(static_cast<unsigned char>(c)));
    const auto tail = bytes({0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0,
                             0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80,
                             0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE});
    key.insert(key.end(), tail.begin(), tail.end());
    return key;
}
const std::vector<std::byte> player_key = fp9_key("Genuine Adobe Flash Player 001");        // 62 bytes
const std::vector<std::byte> server_key = fp9_key("Genuine Adobe Flash Media Server 001");  // 68 bytes

std::vector<std::byte> prefix(const std::vector<std::byte>& v, std::size_t n) {
    return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
}

// Deterministic filler for test packets (a small LCG, unrelated to the library's generator).
std::vector<std::byte> pseudo_random(std::size_t n, std::uint32_t seed) {
    std::vector<std::byte> out(n);
    for (auto& b : out) {
        seed = seed * 1664525u + 1013904223u;
        b = static_cast<std::byte>(seed >> 24);
    }
    return out;
}

std::size_t digest_pos(std::span<const std::byte> p, std::size_t base) {
    unsigned sum = 0;
    for (std::size_t i = 0; i < 4; ++i) sum += std::to_integer<unsigned>(p[base + i]);
    return sum % 728 + base + 4;
}

// HMAC over the packet with bytes [pos, pos + 32) removed, by copying (as a client would).
std::array<std::byte, 32> digest_without(std::span<const std::byte> p, std::size_t pos,
                                         const std::vector<std::byte>& key) {
    std::vector<std::byte> joined(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(pos));
    joined.insert(joined.end(), p.begin() + static_cast<std::ptrdiff_t>(pos + 32), p.end());
    return hmac_sha256(key, joined);
}

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// A plain C1 as GStreamer or librtmp send it: time, four zero bytes, random.
std::vector<std::byte> plain_c1(std::uint32_t seed = 1) {
    auto c1 = pseudo_random(packet, seed);
    for (std::size_t i = 0; i < 8; ++i) c1[i] = std::byte{0};
    c1[3] = std::byte{0x2a};
    return c1;
}

// A Flash Player style C1 with a digest in the scheme whose offset bytes start at `base`.
std::vector<std::byte> digest_c1(std::size_t base, std::uint32_t seed = 7) {
    auto c1 = pseudo_random(packet, seed);
    const auto head = bytes({0, 0, 0, 0, 9, 0, 124, 2});
    std::copy(head.begin(), head.end(), c1.begin());
    const std::size_t pos = digest_pos(c1, base);
    const auto d = digest_without(c1, pos, prefix(player_key, 30));
    std::copy(d.begin(), d.end(), c1.begin() + static_cast<std::ptrdiff_t>(pos));
    return c1;
}

// Repeats FFmpeg's client-side check (rtmp_handshake, input mode): for a server version >= 3 it
// finds the server digest at scheme 772, else 8, then checks the S2 signature keyed from the
// client's own digest. Returns an empty string on success, else what FFmpeg would report.
std::string_view ffmpeg_client_check(std::span<const std::byte> s1, std::span<const std::byte> s2,
                                     std::span<const std::byte> c1, std::size_t client_pos) {
    if (std::to_integer<unsigned>(s1[4]) < 3) return "server version below 3: no digest check";
    const auto fms_text_key = prefix(server_key, 36);
    bool found = false;
    for (std::size_t base : {std::size_t{772}, std::size_t{8}}) {
        const std::size_t pos = digest_pos(s1, base);
        if (same(digest_without(s1, pos, fms_text_key), s1.subspan(pos, 32))) {
            found = true;
            break;
        }
    }
    if (!found) return "Server response validating failed";
    const auto key = hmac_sha256(server_key, c1.subspan(client_pos, 32));
    const auto signature = hmac_sha256(key, s2.first(packet - 32));
    if (!same(signature, s2.subspan(packet - 32))) return "Signature mismatch";
    return {};
}

struct run_result {
    std::vector<std::byte> output;
    std::size_t consumed = 0;
    std::error_code ec;
};

// Feeds `in` in pieces of `step` bytes, collecting output as it appears, until the handshake
// consumes less than it was offered (done or failed) or the input runs out.
run_result run(server_handshake& hs, std::span<const std::byte> in, std::size_t step) {
    run_result r;
    while (r.consumed < in.size()) {
        const std::size_t n = std::min(step, in.size() - r.consumed);
        const std::size_t used = hs.put(in.subspan(r.consumed, n), r.ec);
        r.consumed += used;
        const auto out = hs.output();
        r.output.insert(r.output.end(), out.begin(), out.end());
        hs.consume_output();
        if (r.ec || used < n) break;
    }
    return r;
}

std::vector<std::byte> client_stream(const std::vector<std::byte>& c1, std::size_t extra = 0) {
    return concat({bytes({3}), c1, pseudo_random(packet, 99), pseudo_random(extra, 5)});
}

} // namespace

TEST_SUITE("handshake") {
    TEST_CASE("a C0 of version 3 is accepted") {
        server_handshake hs(1);
        std::error_code ec;
        CHECK(hs.put(bytes({3}), ec) == 1);
        CHECK(!ec);
        CHECK(hs.output().empty());
        CHECK(!hs.done());
        CHECK(hs.client_c1().empty());
    }

    TEST_CASE("any other C0 version is rejected as soon as the byte arrives") {
        for (int version : {0, 1, 2, 4, 6, 8, 0x47, 255}) {  // 0x47: 'G' of an HTTP GET
            CAPTURE(version);
            server_handshake hs(1);
            std::error_code ec;
            CHECK(hs.put(bytes({version}), ec) == 0);
            CHECK(ec == rtmpx::error::bad_handshake_version);
            CHECK(ec == rtmpx::condition::protocol_violation);
            // The failure sticks: nothing more is consumed.
            CHECK(hs.put(concat({bytes({3}), plain_c1()}), ec) == 0);
            CHECK(ec == rtmpx::error::bad_handshake_version);
            CHECK(hs.output().empty());
            CHECK(!hs.done());
        }
    }

    TEST_CASE("a TLS ClientHello on the plain port gets its own error") {
        // The first bytes of a TLS 1.2/1.3 ClientHello record: handshake (0x16), version 3.1.
        server_handshake hs(1);
        std::error_code ec;
        CHECK(hs.put(bytes({0x16, 0x03, 0x01, 0x02, 0x00}), ec) == 0);
        CHECK(ec == rtmpx::error::tls_on_plain_port);
        CHECK(ec == rtmpx::condition::protocol_violation);
        CHECK(hs.output().empty());
    }

    TEST_CASE("the plain handshake echoes C1 in S2 and sends zero version bytes in S1") {
        const auto c1 = plain_c1();
        server_handshake hs(42, 0x01020304);
        const auto in = client_stream(c1);
        const auto r = run(hs, in, in.size());
        REQUIRE(!r.ec);
        CHECK(r.consumed == in.size());
        CHECK(hs.done());
        CHECK(!hs.used_digest());
        REQUIRE(r.output.size() == 1 + 2 * packet);
        CHECK(r.output[0] == std::byte{3});
        const auto s1 = std::span(r.output).subspan(1, packet);
        const auto s2 = std::span(r.output).subspan(1 + packet, packet);
        CHECK(same(s1.first(4), bytes({1, 2, 3, 4})));
        CHECK(same(s1.subspan(4, 4), bytes({0, 0, 0, 0})));
        CHECK(!std::all_of(s1.begin() + 8, s1.end(), [](std::byte b) { return b == std::byte{0}; }));
        CHECK(same(s2, c1));
        CHECK(same(hs.client_c1(), c1));
    }

    TEST_CASE("the response appears only once C1 is complete, and C2 then finishes the handshake") {
        const auto in = client_stream(plain_c1());
        server_handshake hs(3);
        std::error_code ec;
        CHECK(hs.put(std::span(in).first(packet), ec) == packet);  // C0 and all but one byte of C1
        CHECK(!ec);
        CHECK(hs.output().empty());
        CHECK(hs.client_c1().empty());
        CHECK(hs.put(std::span(in).subspan(packet, 1), ec) == 1);
        CHECK(hs.output().size() == 1 + 2 * packet);
        CHECK(hs.client_c1().size() == packet);
        CHECK(!hs.done());
        // The output stays put while C2 arrives, until it is consumed.
        CHECK(hs.put(std::span(in).subspan(packet + 1, packet - 1), ec) == packet - 1);
        CHECK(!hs.done());
        CHECK(hs.output().size() == 1 + 2 * packet);
        CHECK(hs.put(std::span(in).subspan(2 * packet), ec) == 1);
        CHECK(hs.done());
        hs.consume_output();
        CHECK(hs.output().empty());
        CHECK(hs.put(bytes({1, 2, 3}), ec) == 0);
        CHECK(!ec);
    }

    TEST_CASE("input fed byte by byte and in odd-sized pieces gives identical output") {
        for (const auto& c1 : {plain_c1(), digest_c1(8), digest_c1(772)}) {
            const auto in = client_stream(c1);
            server_handshake reference(1234, 77);
            const auto expected = run(reference, in, in.size());
            REQUIRE(expected.output.size() == 1 + 2 * packet);
            for (std::size_t step : {1, 2, 3, 7, 100, 1535, 1536, 1537, 3000}) {
                CAPTURE(step);
                server_handshake hs(1234, 77);
                const auto r = run(hs, in, step);
                CHECK(!r.ec);
                CHECK(r.consumed == in.size());
                CHECK(hs.done());
                CHECK(hs.used_digest() == reference.used_digest());
                CHECK(r.output == expected.output);
            }
        }
    }

    TEST_CASE("bytes after C2 are not consumed") {
        const auto in = client_stream(plain_c1(), 300);
        for (std::size_t step : {1, 5, 1000, 4000}) {
            CAPTURE(step);
            server_handshake hs(9);
            const auto r = run(hs, in, step);
            CHECK(!r.ec);
            CHECK(hs.done());
            CHECK(r.consumed == 1 + 2 * packet);
        }
        server_handshake hs(9);
        std::error_code ec;
        CHECK(hs.put(in, ec) == 1 + 2 * packet);
        CHECK(hs.put(std::span(in).subspan(1 + 2 * packet), ec) == 0);
        CHECK(!ec);
    }

    TEST_CASE("the seed alone decides the random bytes") {
        const auto in = client_stream(plain_c1());
        server_handshake a(5), b(5), c(6);
        const auto ra = run(a, in, in.size());
        const auto rb = run(b, in, in.size());
        const auto rc = run(c, in, in.size());
        CHECK(ra.output == rb.output);
        CHECK(ra.output != rc.output);
    }

    TEST_CASE("a C1 with a digest in the offset-8 scheme gets a reply FFmpeg's client accepts") {
        const auto c1 = digest_c1(8);
        server_handshake hs(2024, 500);
        const auto in = client_stream(c1);
        const auto r = run(hs, in, in.size());
        REQUIRE(!r.ec);
        CHECK(hs.done());
        CHECK(hs.used_digest());
        REQUIRE(r.output.size() == 1 + 2 * packet);
        const auto s1 = std::span(r.output).subspan(1, packet);
        const auto s2 = std::span(r.output).subspan(1 + packet, packet);
        CHECK(r.output[0] == std::byte{3});
        CHECK(same(s1.first(4), bytes({0, 0, 0x01, 0xf4})));
        CHECK(std::to_integer<unsigned>(s1[4]) >= 3);
        CHECK(!same(s2, c1));
        // The server digest sits in the client's scheme.
        const std::size_t s1_pos = digest_pos(s1, 8);
        CHECK(same(digest_without(s1, s1_pos, prefix(server_key, 36)), s1.subspan(s1_pos, 32)));
        CHECK(ffmpeg_client_check(s1, s2, c1, digest_pos(c1, 8)) == "");
    }

    TEST_CASE("a C1 with a digest in the offset-772 scheme gets a reply FFmpeg's client accepts") {
        for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
            CAPTURE(seed);
            const auto c1 = digest_c1(772, seed);
            server_handshake hs(seed * 11);
            const auto in = client_stream(c1);
            const auto r = run(hs, in, in.size());
            REQUIRE(!r.ec);
            CHECK(hs.used_digest());
            REQUIRE(r.output.size() == 1 + 2 * packet);
            const auto s1 = std::span(r.output).subspan(1, packet);
            const auto s2 = std::span(r.output).subspan(1 + packet, packet);
            const std::size_t s1_pos = digest_pos(s1, 772);
            CHECK(same(digest_without(s1, s1_pos, prefix(server_key, 36)), s1.subspan(s1_pos, 32)));
            CHECK(ffmpeg_client_check(s1, s2, c1, digest_pos(c1, 772)) == "");
        }
    }

    TEST_CASE("a C1 with a wrong digest falls back to the plain handshake") {
        auto bad_digest = digest_c1(8);
        bad_digest[digest_pos(bad_digest, 8)] ^= std::byte{0x01};
        auto bad_body = digest_c1(772);
        bad_body[1000 < digest_pos(bad_body, 772) ? 1000 : 1530] ^= std::byte{0x80};
        for (const auto& c1 : {bad_digest, bad_body}) {
            server_handshake hs(8);
            const auto in = client_stream(c1);
            const auto r = run(hs, in, in.size());
            REQUIRE(!r.ec);
            CHECK(hs.done());
            CHECK(!hs.used_digest());
            REQUIRE(r.output.size() == 1 + 2 * packet);
            CHECK(same(std::span(r.output).subspan(5, 4), bytes({0, 0, 0, 0})));
            CHECK(same(std::span(r.output).subspan(1 + packet), c1));
        }
    }

    TEST_CASE("the library's keys are the well-known Flash Player and Flash Media Server keys") {
        CHECK(same(rtmpx::protocol::handshake_player_key, player_key));
        CHECK(same(rtmpx::protocol::handshake_server_key, server_key));
        CHECK(rtmpx::protocol::handshake_player_key.size() == 62);
        CHECK(rtmpx::protocol::handshake_server_key.size() == 68);
    }
}
