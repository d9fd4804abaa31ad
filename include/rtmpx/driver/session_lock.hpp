// SPDX-License-Identifier: MIT
// One connection's mutual exclusion: its executor's handlers hold it, and another thread may take
// it for a moment to write frames itself instead of waking the connection's thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

#include <asio/execution.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/**
 * The lock every handler of one connection runs under (see `locking_executor`), so that a
 * thread producing frames can `try_take` it and write to the connection's socket itself: the
 * connection's thread is then not woken for each frame. Re-entrant for the thread holding it.
 *
 * Thread: any.
 */
class session_lock {
public:
    /// Blocks until held; a thread that holds it already holds it once more.
    void lock() {
        const auto me = std::this_thread::get_id();
        if (owner_.load(std::memory_order_relaxed) == me) {
            ++depth_;
            return;
        }
        mutex_.lock();
        owner_.store(me, std::memory_order_relaxed);
        depth_ = 1;
    }

    /// Takes it only when no thread holds it, this one included (a writer must not run inside a
    /// handler of the same connection); false otherwise.
    bool try_take() {
        if (owner_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return false;
        if (!mutex_.try_lock()) return false;
        owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
        depth_ = 1;
        return true;
    }

    void unlock() {
        if (--depth_ > 0) return;
        owner_.store(std::thread::id(), std::memory_order_relaxed);
        mutex_.unlock();
    }

private:
    std::mutex mutex_;
    std::atomic<std::thread::id> owner_{};  // only ever equal to a thread's id while that thread holds it
    int depth_ = 0;                         // written by the holder only
};

/**
 * An executor that runs every function under a connection's `session_lock`, on `Inner` (the
 * connection's io_context executor, or a pool thread's). Everything a connection does (its
 * coroutines, timers and posted work) runs on it, so holding the lock excludes all of it. The
 * properties are the inner executor's.
 */
template <class Inner>
class locking_executor {
public:
    locking_executor(Inner inner, std::shared_ptr<session_lock> lock) noexcept
        : inner_(std::move(inner)), lock_(std::move(lock)) {}

    template <class F>
    void execute(F&& f) const {
        asio::execution::execute(inner_, [lock = lock_, f = std::forward<F>(f)]() mutable {
            std::lock_guard guard(*lock);
            std::move(f)();
        });
    }

    template <class Property>
        requires asio::can_query<const Inner&, Property>::value
    decltype(auto) query(const Property& p) const noexcept(asio::is_nothrow_query<const Inner&, Property>::value) {
        return asio::query(inner_, p);
    }

    template <class Property>
        requires asio::can_require<const Inner&, Property>::value
    auto require(const Property& p) const {
        using result = std::decay_t<typename asio::require_result<const Inner&, Property>::type>;
        return locking_executor<result>(asio::require(inner_, p), lock_);
    }

    template <class Property>
        requires asio::can_prefer<const Inner&, Property>::value
    auto prefer(const Property& p) const {
        using result = std::decay_t<typename asio::prefer_result<const Inner&, Property>::type>;
        return locking_executor<result>(asio::prefer(inner_, p), lock_);
    }

    friend bool operator==(const locking_executor& a, const locking_executor& b) noexcept {
        return a.inner_ == b.inner_ && a.lock_ == b.lock_;
    }
    friend bool operator!=(const locking_executor& a, const locking_executor& b) noexcept { return !(a == b); }

private:
    Inner inner_;
    std::shared_ptr<session_lock> lock_;
};

} // namespace driver
RTMPX_NAMESPACE_END
