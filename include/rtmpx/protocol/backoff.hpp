// SPDX-License-Identifier: MIT
// How long to wait before the next attempt: exponential, bounded, jittered.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// The bounds of a reconnecting client's waits.
struct backoff_policy {
    std::chrono::milliseconds first{1000};  ///< the wait after the first failure
    std::chrono::milliseconds max{30'000};  ///< no wait is longer
    double factor = 2.0;                    ///< each failure in a row multiplies the wait
    double jitter = 0.3;                    ///< each wait is drawn from [1 - jitter, 1] times its value
};

/**
 * Exponential backoff with jitter: `next()` gives the wait after one more failure in a row,
 * `reset()` starts over after a success. Jitter spreads clients that lost one origin at once so
 * that they do not come back at once. Deterministic for a seed; no clock.
 */
class backoff {
public:
    explicit backoff(backoff_policy policy = {}, std::uint64_t seed = 1) noexcept : policy_(policy), state_(seed | 1) {}

    std::chrono::milliseconds next() noexcept {
        const double base = std::min<double>(static_cast<double>(policy_.max.count()),
                                             static_cast<double>(policy_.first.count()) * scale_);
        scale_ = std::min(scale_ * policy_.factor, 1e9);
        ++failures_;
        const double jitter = std::clamp(policy_.jitter, 0.0, 1.0);
        const double draw = static_cast<double>(random() >> 11) / static_cast<double>(1ull << 53);  // [0, 1)
        return std::chrono::milliseconds(static_cast<std::int64_t>(base * (1.0 - jitter * draw)));
    }

    void reset() noexcept {
        scale_ = 1.0;
        failures_ = 0;
    }

    /// Failures in a row so far.
    unsigned failures() const noexcept { return failures_; }

private:
    std::uint64_t random() noexcept {  // xorshift64*
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dull;
    }

    backoff_policy policy_;
    std::uint64_t state_;
    double scale_ = 1.0;
    unsigned failures_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
