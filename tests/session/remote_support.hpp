// SPDX-License-Identifier: MIT
// What the session tests of rtmpx as a client share: waiting for a condition, a ticking
// broadcast to publish, and the states a publisher or puller went through.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <rtmpx/broadcast.hpp>
#include <rtmpx/remote.hpp>

namespace remote_support {

using namespace std::chrono_literals;

/// Whether `p()` becomes true within `limit` (looked at every 10 ms).
template <class P>
bool eventually(P p, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (p()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return p();
}

/// A broadcast of raw AVC-shaped frames at 30/s, a key frame every 10th.
inline std::shared_ptr<rtmpx::broadcast> ticking_broadcast() {
    auto show = std::make_shared<rtmpx::broadcast>();
    show->on_frame([n = 0](rtmpx::broadcast&, rtmpx::encoded_frame& out, bool) mutable {
        const bool key = n % 10 == 0;
        out.data = {std::byte(key ? 0x17 : 0x27), std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte(n & 0xff)};
        out.key_frame = key;
        ++n;
        return true;
    });
    return show;
}

/// The states a publisher or puller went through, in order.
struct state_log {
    std::mutex mutex;
    std::vector<rtmpx::remote_event> events;

    template <class Remote>
    void watch(Remote& r) {
        r.on_state([this](const rtmpx::remote_event& e) {
            std::lock_guard lock(mutex);
            events.push_back(e);
        });
    }
    std::size_t count(rtmpx::remote_state s) {
        std::lock_guard lock(mutex);
        return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [s](const auto& e) { return e.state == s; }));
    }
    rtmpx::remote_event last() {
        std::lock_guard lock(mutex);
        return events.empty() ? rtmpx::remote_event{} : events.back();
    }
};

} // namespace remote_support
