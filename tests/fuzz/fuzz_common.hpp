// SPDX-License-Identifier: MIT
// Helpers shared by the fuzz targets: an always-on invariant check and input-driven piece sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

/// Checks an invariant even in NDEBUG builds; a failure aborts, which libFuzzer reports as a crash.
#define RTMPX_FUZZ_CHECK(cond)                                                                                  \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);              \
            std::abort();                                                                                       \
        }                                                                                                       \
    } while (false)

namespace rtmpx_fuzz {

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) noexcept {
    return {reinterpret_cast<const std::byte*>(data), size};
}

/**
 * The sizes in which a session would receive its input, decided by one control byte so that the
 * fuzzer can vary them: a low seven bits of 0 deliver everything at once, any other value k gives
 * pseudo-random pieces of 1 to 8k bytes drawn from a generator seeded with the byte.
 */
class piece_sizes {
public:
    explicit piece_sizes(std::uint8_t control) noexcept
        : max_(static_cast<std::size_t>(control & 0x7f) * 8), state_(0x9e3779b9u ^ control) {}

    /// The size of the next piece, at most `left` (and at least 1 when `left` > 0).
    std::size_t next(std::size_t left) noexcept {
        if (max_ == 0 || left == 0) return left;
        state_ ^= state_ << 13;  // xorshift32
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        const std::size_t n = 1 + state_ % max_;
        return n < left ? n : left;
    }

private:
    std::size_t max_;
    std::uint32_t state_;
};

} // namespace rtmpx_fuzz
