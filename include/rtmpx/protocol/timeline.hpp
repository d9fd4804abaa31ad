// SPDX-License-Identifier: MIT
// One continuous timeline from a publisher's timestamps, however they jump or restart.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include <rtmpx/config.hpp>
#include <rtmpx/protocol/session_types.hpp>
#include <rtmpx/timestamp.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// When a producer's timestamps count as a jump rather than ordinary jitter.
struct timeline_limits {
    /// A message this far before the previous one is a jump back (audio and video interleave a
    /// few tens of milliseconds out of order; that is not a jump).
    std::chrono::milliseconds back{1000};
    /// A message this far after the previous one is a leap forward.
    std::chrono::milliseconds forward{5000};
};

/**
 * Maps a producer's timestamps (a publisher's, an application's pushed tags) onto one timeline
 * that never jumps: while they advance plausibly they pass through, shifted by a constant; a jump
 * back or a leap forward (`timeline_limits`), or a new producer (`restart`), re-anchors the
 * timeline where it was plus the wall time that passed since its last message. Players' clocks
 * then stay monotonic and near wall time across a publisher's reconnect or a broken encoder.
 *
 * Time is a parameter (`now`); not synchronised.
 */
class timeline {
public:
    explicit timeline(timeline_limits limits = {}) noexcept : limits_(limits) {}

    /// The timeline's timestamp for a message at `in` ms on the producer's clock, arriving `now`.
    std::uint32_t map(std::uint32_t in, time_point now) noexcept {
        if (!last_) {  // the first message: the timeline starts on the producer's clock
            anchor(in, rtmp_timestamp(in), now);
            return in;
        }
        const auto step = static_cast<std::int32_t>(in - last_->in);
        const bool jump = step < -static_cast<std::int64_t>(limits_.back.count()) || step > limits_.forward.count();
        if (!anchored_ || jump) {
            if (anchored_) ++jumps_;
            const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_->now).count();
            const auto gap = static_cast<std::uint32_t>(std::clamp<std::int64_t>(wall, 1, 0x7fffffff));
            anchor(in, high_ + gap, now);
        }
        rtmp_timestamp out = rtmp_timestamp(in) + offset_;
        last_->in = in;
        last_->now = now;
        if (high_ < out) high_ = out;
        return out.value();
    }

    /// A new producer: its first message re-anchors the timeline (not counted as a jump).
    void restart() noexcept { anchored_ = !last_; }

    /// Re-anchorings so far, a producer's restarts not included.
    std::uint64_t jumps() const noexcept { return jumps_; }

private:
    struct point {
        std::uint32_t in;
        time_point now;
    };

    void anchor(std::uint32_t in, rtmp_timestamp out, time_point now) noexcept {
        offset_ = out - rtmp_timestamp(in);
        if (!last_) high_ = out;
        last_ = point{in, now};
        anchored_ = true;
    }

    timeline_limits limits_;
    std::optional<point> last_;
    std::uint32_t offset_ = 0;       // timeline minus producer, modulo 2^32
    rtmp_timestamp high_;            // the latest timestamp given out
    bool anchored_ = true;
    std::uint64_t jumps_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
