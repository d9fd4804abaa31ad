// SPDX-License-Identifier: MIT
// RTMP timestamps: 32-bit milliseconds with wraparound-aware arithmetic and ordering.
#pragma once

#include <compare>
#include <cstdint>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * A point on RTMP's 32-bit millisecond clock. Arithmetic wraps modulo 2^32 and ordering is
 * serial-number arithmetic (RFC 1982): `a < b` when b is less than 2^31 ms ahead of a, so a
 * timestamp that wrapped past 0xffffffff still compares as later.
 */
class rtmp_timestamp {
public:
    constexpr rtmp_timestamp() noexcept = default;
    constexpr explicit rtmp_timestamp(std::uint32_t ms) noexcept : ms_(ms) {}

    /// The raw 32-bit value as sent on the wire.
    constexpr std::uint32_t value() const noexcept { return ms_; }

    /// This timestamp advanced by `delta` milliseconds, wrapping at 2^32.
    constexpr rtmp_timestamp operator+(std::uint32_t delta) const noexcept { return rtmp_timestamp(ms_ + delta); }
    constexpr rtmp_timestamp& operator+=(std::uint32_t delta) noexcept {
        ms_ += delta;
        return *this;
    }
    /// Milliseconds from `earlier` to this timestamp, modulo 2^32.
    constexpr std::uint32_t operator-(rtmp_timestamp earlier) const noexcept { return ms_ - earlier.ms_; }

    constexpr bool operator==(const rtmp_timestamp&) const noexcept = default;
    constexpr std::strong_ordering operator<=>(const rtmp_timestamp& other) const noexcept {
        if (ms_ == other.ms_) return std::strong_ordering::equal;
        return (other.ms_ - ms_) < 0x80000000u ? std::strong_ordering::less : std::strong_ordering::greater;
    }

private:
    std::uint32_t ms_ = 0;
};

RTMPX_NAMESPACE_END
