// SPDX-License-Identifier: MIT
// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), as the RTMP digest handshake needs them.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/**
 * Incremental SHA-256 (FIPS 180-4 §6.2).
 *
 * Feed data with `update` in pieces of any size, then `finish` pads the message, returns the
 * 32-byte digest and resets the object so it can hash another message.
 */
class sha256 {
public:
    static constexpr std::size_t digest_size = 32;
    static constexpr std::size_t block_size = 64;

    sha256() noexcept { reset(); }

    /// Starts a new message (FIPS 180-4 §5.3.3 initial hash value).
    void reset() noexcept {
        state_ = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                  0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
        buffered_ = 0;
        length_ = 0;
    }

    /// Appends message bytes.
    void update(std::span<const std::byte> data) noexcept {
        length_ += data.size();
        if (buffered_ > 0) {
            const std::size_t n = data.size() < block_size - buffered_ ? data.size() : block_size - buffered_;
            for (std::size_t i = 0; i < n; ++i) buffer_[buffered_ + i] = data[i];
            buffered_ += n;
            data = data.subspan(n);
            if (buffered_ < block_size) return;
            compress(buffer_);
            buffered_ = 0;
        }
        while (data.size() >= block_size) {
            compress(data.first<block_size>());
            data = data.subspan(block_size);
        }
        for (std::size_t i = 0; i < data.size(); ++i) buffer_[i] = data[i];
        buffered_ = data.size();
    }

    /// Pads the message (§5.1.1), returns its digest and resets for the next message.
    std::array<std::byte, digest_size> finish() noexcept {
        const std::uint64_t bit_length = length_ * 8;
        buffer_[buffered_++] = std::byte{0x80};
        if (buffered_ > block_size - 8) {
            for (std::size_t i = buffered_; i < block_size; ++i) buffer_[i] = std::byte{0};
            compress(buffer_);
            buffered_ = 0;
        }
        for (std::size_t i = buffered_; i < block_size - 8; ++i) buffer_[i] = std::byte{0};
        store_be64(std::span(buffer_).subspan(block_size - 8), bit_length);
        compress(buffer_);

        std::array<std::byte, digest_size> out{};
        for (std::size_t i = 0; i < state_.size(); ++i) store_be32(std::span(out).subspan(i * 4), state_[i]);
        reset();
        return out;
    }

private:
    // First 32 bits of the fractional parts of the cube roots of the first 64 primes (§4.2.2).
    static constexpr std::array<std::uint32_t, 64> round_constants_ = {
        0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
        0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
        0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
        0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
        0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
        0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
        0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
        0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
    };

    // One application of the compression function to a 64-byte block (§6.2.2).
    void compress(std::span<const std::byte, block_size> block) noexcept {
        std::array<std::uint32_t, 64> w{};
        for (std::size_t t = 0; t < 16; ++t) w[t] = load_be32(block.subspan(t * 4, 4));
        for (std::size_t t = 16; t < 64; ++t) {
            const std::uint32_t s0 = std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const std::uint32_t s1 = std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = s1 + w[t - 7] + s0 + w[t - 16];
        }

        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
        for (std::size_t t = 0; t < 64; ++t) {
            const std::uint32_t big_s1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
            const std::uint32_t ch = (e & f) ^ (~e & g);
            const std::uint32_t t1 = h + big_s1 + ch + round_constants_[t] + w[t];
            const std::uint32_t big_s0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
            const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t t2 = big_s0 + maj;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
        state_[4] += e;
        state_[5] += f;
        state_[6] += g;
        state_[7] += h;
    }

    std::array<std::uint32_t, 8> state_{};
    std::array<std::byte, block_size> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;  // message bytes so far
};

/// HMAC-SHA256 (RFC 2104) of the message `a` followed by `b`, without joining them.
inline std::array<std::byte, sha256::digest_size> hmac_sha256(std::span<const std::byte> key,
                                                              std::span<const std::byte> a,
                                                              std::span<const std::byte> b) noexcept {
    std::array<std::byte, sha256::block_size> block_key{};  // zero-padded key
    sha256 h;
    if (key.size() > sha256::block_size) {
        h.update(key);
        const auto hashed = h.finish();
        for (std::size_t i = 0; i < hashed.size(); ++i) block_key[i] = hashed[i];
    } else {
        for (std::size_t i = 0; i < key.size(); ++i) block_key[i] = key[i];
    }

    std::array<std::byte, sha256::block_size> pad{};
    for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = block_key[i] ^ std::byte{0x36};
    h.update(pad);
    h.update(a);
    h.update(b);
    const auto inner = h.finish();

    for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = block_key[i] ^ std::byte{0x5c};
    h.update(pad);
    h.update(inner);
    return h.finish();
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
inline std::array<std::byte, sha256::digest_size> hmac_sha256(std::span<const std::byte> key,
                                                              std::span<const std::byte> message) noexcept {
    return hmac_sha256(key, message, {});
}

} // namespace detail
RTMPX_NAMESPACE_END
