// SPDX-License-Identifier: MIT
// One player's side of a frame source: its bounded queue, and the publisher's news that did not fit.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/frame_queue.hpp>
#include <rtmpx/protocol/media_frame.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// One player's side of a frame source: its own bounded queue, filled by the source and emptied
/// by the player's connection.
struct subscriber {
    explicit subscriber(std::size_t frames) : queue(frames) {}

    frame_queue<protocol::shared_frame> queue;
    std::function<void()> wake;        ///< tells the connection that frames wait (through `notify`, from any thread)
    std::function<bool()> congested;   ///< the connection holds too many unsent bytes (any thread; may be empty)
    std::atomic<std::uint64_t>* dropped = nullptr;        ///< counters the source adds this player's drops to
    std::atomic<std::uint64_t>* dropped_total = nullptr;
    std::atomic<bool> paused{false};   ///< set by the connection: the player takes no frames now
    std::atomic<bool> failed{false};   ///< set by the source: its handler failed, no more frames come
    bool skip_until_key = true;        ///< source side: after a drop (or at the start), wait for a key frame
    std::atomic<bool> wake_queued{false};  ///< a fan-out helper holds a wake of it
    bool wake_writes = false;          ///< set before subscribing: `wake` may write to a socket (costly)

    /**
     * Consumer: hands every queued frame to `f(const protocol::shared_frame&)`, then the news of
     * the publisher that came after them and found the queue full. The media that follows such
     * news waits (is dropped, to the next key frame) until it has been taken here.
     */
    template <class F>
    void drain(F&& f) {
        auto frames = [&] {
            while (auto* item = queue.front()) {
                f(*item);
                queue.pop();
            }
        };
        frames();
        if (!has_news.load(std::memory_order_acquire)) return;
        frames();  // what was queued before the news
        std::vector<protocol::shared_frame> taken;
        {
            std::lock_guard lock(news_mutex);
            taken.swap(news);
            has_news.store(false, std::memory_order_release);
        }
        for (const auto& n : taken) f(n);
    }

    /// Source: calls `wake`, unless the subscriber was detached.
    void notify() {
        std::lock_guard lock(wake_mutex_);
        if (!detached_ && wake) wake();
    }

    /// Once it returns, `notify` calls `wake` no more (a wake in progress on another thread has
    /// ended; one in progress on this thread, which detaches from inside its wake, goes on).
    void detach() {
        std::lock_guard lock(wake_mutex_);
        detached_ = true;
    }

    /// Consumer: forgets what is queued (a paused player); news stays for later.
    void discard() {
        while (queue.front()) queue.pop();
    }

    /// Source: news for the consumer (at most a few are kept: a later one matters more).
    void post_news(protocol::shared_frame n) {
        std::lock_guard lock(news_mutex);
        if (news.size() >= 4) news.erase(news.begin());
        news.push_back(std::move(n));
        has_news.store(true, std::memory_order_release);
    }

    std::atomic<bool> has_news{false};  ///< news waits for the consumer: media waits behind it

private:
    std::recursive_mutex wake_mutex_;  // recursive: a wake may end its own subscription
    bool detached_ = false;
    std::mutex news_mutex;
    std::vector<protocol::shared_frame> news;
};

} // namespace driver
RTMPX_NAMESPACE_END
