// SPDX-License-Identifier: MIT
// Tests for detail/sha256.hpp: FIPS 180-4 examples and the RFC 4231 HMAC-SHA256 test cases.
#include <doctest/doctest.h>

#include <rtmpx/detail/sha256.hpp>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../support.hpp"

using rtmpx::detail::hmac_sha256;
using rtmpx::detail::sha256;

namespace {

std::vector<std::byte> text(std::string_view s) {
    std::vector<std::byte> out;
    for (char c : s) out.push_back(static_cast<std::byte>(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::byte> repeat(int value, std::size_t count) {
    return std::vector<std::byte>(count, static_cast<std::byte>(value));
}

std::string hex(std::span<const std::byte> data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::byte b : data) {
        const auto v = std::to_integer<unsigned>(b);
        out += digits[v >> 4];
        out += digits[v & 0xf];
    }
    return out;
}

std::string sha256_hex(std::span<const std::byte> data) {
    sha256 h;
    h.update(data);
    const auto d = h.finish();
    return hex(d);
}

std::string hmac_hex(const std::vector<std::byte>& key, const std::vector<std::byte>& message) {
    const auto d = hmac_sha256(key, message);
    return hex(d);
}

} // namespace

TEST_SUITE("sha256") {
    TEST_CASE("the empty message hashes to the known digest") {
        CHECK(sha256_hex({}) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    TEST_CASE("the one-block FIPS 180-4 example abc") {
        CHECK(sha256_hex(text("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    TEST_CASE("the two-block 448-bit FIPS 180-4 example") {
        CHECK(sha256_hex(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }

    TEST_CASE("one million repetitions of a, fed in uneven pieces") {
        const auto chunk = repeat('a', 1000);
        sha256 h;
        std::size_t fed = 0;
        std::size_t step = 1;
        while (fed < 1000000) {
            const std::size_t n = std::min({step, chunk.size(), std::size_t{1000000} - fed});
            h.update(std::span(chunk).first(n));
            fed += n;
            step = step * 7 % 997 + 1;
        }
        CHECK(hex(h.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    TEST_CASE("incremental updates match a single update at every split point") {
        const auto msg = repeat(0x5a, 130);
        for (std::size_t len = 0; len <= msg.size(); ++len) {
            const auto whole = sha256_hex(std::span(msg).first(len));
            for (std::size_t split = 0; split <= len; ++split) {
                sha256 h;
                h.update(std::span(msg).first(split));
                h.update(std::span(msg).subspan(split, len - split));
                REQUIRE(hex(h.finish()) == whole);
            }
        }
    }

    TEST_CASE("finish resets the object for the next message") {
        sha256 h;
        h.update(text("xyz"));
        (void)h.finish();
        h.update(text("abc"));
        CHECK(hex(h.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    TEST_CASE("RFC 4231 test case 1") {
        CHECK(hmac_hex(repeat(0x0b, 20), text("Hi There")) ==
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    TEST_CASE("RFC 4231 test case 2: a key shorter than the output") {
        CHECK(hmac_hex(text("Jefe"), text("what do ya want for nothing?")) ==
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    TEST_CASE("RFC 4231 test case 3") {
        CHECK(hmac_hex(repeat(0xaa, 20), repeat(0xdd, 50)) ==
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    }

    TEST_CASE("RFC 4231 test case 4") {
        std::vector<std::byte> key;
        for (int i = 1; i <= 25; ++i) key.push_back(static_cast<std::byte>(i));
        CHECK(hmac_hex(key, repeat(0xcd, 50)) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    }

    TEST_CASE("RFC 4231 test case 5: output truncated to 128 bits") {
        const auto d = hmac_sha256(repeat(0x0c, 20), text("Test With Truncation"));
        CHECK(hex(std::span(d).first(16)) == "a3b6167473100ee06e0c796c2955552b");
    }

    TEST_CASE("RFC 4231 test case 6: a key larger than the block size") {
        CHECK(hmac_hex(repeat(0xaa, 131), text("Test Using Larger Than Block-Size Key - Hash Key First")) ==
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    TEST_CASE("RFC 4231 test case 7: a large key and a large message") {
        CHECK(hmac_hex(repeat(0xaa, 131),
                       text("This is a test using a larger than block-size key and a larger than block-size data. "
                            "The key needs to be hashed before being used by the HMAC algorithm.")) ==
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    }

    TEST_CASE("the two-part message overload equals HMAC over the joined message") {
        const auto key = text("Genuine Adobe Flash Player 001");
        std::vector<std::byte> msg;
        for (int i = 0; i < 300; ++i) msg.push_back(static_cast<std::byte>(i * 31 + 7));
        const auto whole = hmac_sha256(key, msg);
        for (std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                                  std::size_t{150}, std::size_t{300}}) {
            const auto parts = hmac_sha256(key, std::span(msg).first(split), std::span(msg).subspan(split));
            CHECK(hex(parts) == hex(whole));
        }
    }
}
