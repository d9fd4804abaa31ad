// SPDX-License-Identifier: MIT
// Waking many subscribers of a frame source: those whose wake writes to a socket are split among
// helper threads once one thread has enough of them.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/subscriber.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// Helper threads for a big fan-out: the cores but one, at most 3 (none on one core).
inline std::size_t default_fanout_threads() noexcept {
    const unsigned cores = std::thread::hardware_concurrency();
    return cores <= 1 ? 0 : std::min<std::size_t>(cores - 1, 3);
}

/**
 * A thread that wakes the subscribers handed to it. What it has not got to yet is kept once per subscriber
 * (a later wake of the same subscriber adds nothing), so it holds at most every subscriber.
 */
class fanout_helper {
public:
    fanout_helper() : thread_([this] { run(); }) {}
    fanout_helper(const fanout_helper&) = delete;
    fanout_helper& operator=(const fanout_helper&) = delete;
    ~fanout_helper() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

    void hand(std::span<const std::shared_ptr<subscriber>> subs) {
        {
            std::lock_guard lock(mutex_);
            for (const auto& sub : subs)
                if (!sub->wake_queued.exchange(true, std::memory_order_acq_rel)) pending_.push_back(sub);
        }
        cv_.notify_one();
    }

private:
    void run() {
        std::vector<std::shared_ptr<subscriber>> batch;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
                if (stop_) return;
                batch.swap(pending_);
            }
            for (const auto& sub : batch) {
                sub->wake_queued.store(false, std::memory_order_release);  // before: a frame queued meanwhile wakes again
                sub->notify();
            }
            batch.clear();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<subscriber>> pending_;
    bool stop_ = false;
    std::thread thread_;  // last: started once the rest is made
};

/**
 * Wakes a frame's subscribers. Wakes that only post or signal (`subscriber::wake_writes` false)
 * run on the calling thread; of those that write to a socket, up to `batch` too, and the rest
 * are split evenly among up to `threads` helpers, started the first time they are needed.
 *
 * Thread: `deliver` from any thread.
 */
class fanout {
public:
    using wake_list = std::vector<std::shared_ptr<subscriber>>;

    fanout(std::size_t batch, std::size_t threads) : batch_(std::max<std::size_t>(batch, 1)), threads_(threads) {}

    void deliver(const wake_list& all) {
        if (all.size() <= batch_ || threads_ == 0) {
            for (const auto& sub : all) sub->notify();
            return;
        }
        wake_list writers;
        for (const auto& sub : all) {
            if (sub->wake_writes) {
                writers.push_back(sub);
            } else {
                sub->notify();
            }
        }
        const std::size_t n = writers.size();
        const std::size_t parts = std::min(threads_ + 1, (n + batch_ - 1) / batch_);
        const std::size_t own = parts <= 1 ? n : (n + parts - 1) / parts;
        if (parts > 1) {
            std::lock_guard lock(mutex_);
            while (helpers_.size() < parts - 1) helpers_.push_back(std::make_unique<fanout_helper>());
            std::span<const std::shared_ptr<subscriber>> rest = std::span(writers).subspan(own);
            for (std::size_t i = 0; !rest.empty(); ++i) {
                const std::size_t take = std::min(own, rest.size());
                helpers_[i]->hand(rest.first(take));
                rest = rest.subspan(take);
            }
        }
        for (std::size_t i = 0; i < own; ++i) writers[i]->notify();
    }

private:
    const std::size_t batch_;
    const std::size_t threads_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<fanout_helper>> helpers_;
};

} // namespace driver
RTMPX_NAMESPACE_END
