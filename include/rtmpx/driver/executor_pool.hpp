// SPDX-License-Identifier: MIT
// Where connections run: a thread and executor of their own each, or one thread of a fixed pool.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/session_lock.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/**
 * The executors connections run on. With 0 threads (the default) every connection gets an
 * executor and a thread of its own, both freed when it ends; with N, connections share a pool of
 * N threads, each pinned to the least busy one when it arrives.
 *
 * A connection's life: `reserve` a slot (its executor, on which the socket is made), then
 * `launch` it (the slot counts as live until its session calls `finished`), or `unreserve` it.
 *
 * Thread: every member may be called from any thread.
 */
class executor_pool {
    struct pool_thread;

public:
    /// What the owner asks of every live connection: to end (with a reason), or to ask its client
    /// to connect again, to `reconnect_url` when not empty (a drain).
    struct request {
        std::error_code close;
        bool reconnect = false;
        std::string reconnect_url;
    };

    /// Where one connection runs.
    class slot {
    public:
        asio::io_context& context() noexcept { return *context_; }
        /// The connection's lock, when its handlers run under one (see `reserve`).
        const std::shared_ptr<session_lock>& lock() const noexcept { return lock_; }
        /// The executor the connection's socket and everything it does use: the context's, under
        /// the connection's lock when it has one.
        RTMPX_DECL asio::any_io_executor executor() const;

    private:
        friend class executor_pool;
        std::unique_ptr<asio::io_context> own_;  // a connection's own executor (no pool)
        asio::io_context* context_ = nullptr;
        pool_thread* pool_ = nullptr;
        std::thread thread_;
        std::shared_ptr<session_lock> lock_;
        std::function<void(const request&)> control_;  // takes a request (posted to its executor)
        bool done_ = false;
    };

    explicit executor_pool(std::size_t threads) {
        for (std::size_t i = 0; i < threads; ++i) {
            auto& t = *pool_.emplace_back(std::make_unique<pool_thread>());
            t.thread = std::thread([&t] { t.context.run(); });
        }
    }

    executor_pool(const executor_pool&) = delete;
    executor_pool& operator=(const executor_pool&) = delete;

    /// Waits for the live connections, then stops the pool's threads.
    ~executor_pool() {
        wait();
        join();
    }

    /// A slot for a new connection: its own executor, or the least busy pool thread's (counted
    /// from now, so that a burst of accepts spreads out); `locked`: with a lock of its own that
    /// every handler of the connection runs under.
    std::shared_ptr<slot> reserve(bool locked = false) {
        auto s = std::make_shared<slot>();
        if (locked) s->lock_ = std::make_shared<session_lock>();
        if (pool_.empty()) {
            s->own_ = std::make_unique<asio::io_context>(1);
            s->context_ = s->own_.get();
            return s;
        }
        std::lock_guard lock(mutex_);
        auto least = std::min_element(pool_.begin(), pool_.end(),
                                      [](const auto& a, const auto& b) { return a->connections < b->connections; });
        s->pool_ = least->get();
        s->context_ = &s->pool_->context;
        ++s->pool_->connections;
        return s;
    }

    /// A reserved slot that will not run a connection after all.
    void unreserve(const std::shared_ptr<slot>& s) {
        std::lock_guard lock(mutex_);
        if (s->pool_) --s->pool_->connections;
        s->pool_ = nullptr;
    }

    /**
     * Makes a reserved slot live: it counts as live from now until `finished(s)`. `spawn(context)`
     * starts the connection's session there (its completion calls `finished(s)`); `control`
     * carries out a `request` (`close_all` and `reconnect_all` post it to the slot's executor).
     * With an executor of its own, a thread then runs it.
     */
    template <class Spawn>
    void launch(const std::shared_ptr<slot>& s, std::function<void(const request&)> control, Spawn&& spawn) {
        {
            std::unique_lock lock(mutex_);
            reap(lock);
            s->control_ = std::move(control);
            ++live_;
            slots_.push_back(s);
        }
        spawn(s->context());
        if (s->pool_) return;
        // Under the lock: the thread's end takes it too, so it cannot be reaped half made.
        std::lock_guard lock(mutex_);
        s->thread_ = std::thread([this, raw = s.get()] {
            raw->context_->run();
            std::function<void()> notify;
            {
                std::lock_guard guard(mutex_);
                raw->done_ = true;
                --live_;
                cv_.notify_all();
                notify = on_thread_done_;
            }
            if (notify) notify();
        });
    }

    /// Called by a session's completion (on its executor): a pooled slot is done at once; a slot
    /// with its own executor is done when that executor runs out of work.
    void finished(const std::shared_ptr<slot>& s) {
        if (!s->pool_) return;
        std::lock_guard lock(mutex_);
        s->done_ = true;
        --s->pool_->connections;
        --live_;
        slots_.remove(s);
        cv_.notify_all();
    }

    /// Called (from the finished connection's thread) when a connection's own thread ends: the
    /// owner can then `reap` at once, freeing its executor and descriptors.
    void on_thread_done(std::function<void()> f) {
        std::lock_guard lock(mutex_);
        on_thread_done_ = std::move(f);
    }

    /// Joins the threads of finished connections.
    void reap() {
        std::unique_lock lock(mutex_);
        reap(lock);
    }

    /// Ends every live connection with `reason`.
    void close_all(std::error_code reason) { post_all(request{reason, false, {}}); }

    /// Asks every live connection to ask its client to connect again (to `url`, when not empty).
    void reconnect_all(std::string url) { post_all(request{{}, true, std::move(url)}); }

    /// Posts `r` to every live connection.
    void post_all(const request& r) {
        std::lock_guard lock(mutex_);
        for (auto& s : slots_)
            if (!s->done_ && s->control_) asio::post(*s->context_, [f = s->control_, r] { f(r); });
    }

    /// Connections live now.
    std::size_t live() const {
        std::lock_guard lock(mutex_);
        return live_;
    }

    /// Waits until no connection is live.
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return live_ == 0; });
        reap(lock);
    }

    /// Waits up to `timeout` until no connection is live; true if none is.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        std::unique_lock lock(mutex_);
        const bool done = cv_.wait_for(lock, timeout, [this] { return live_ == 0; });
        reap(lock);
        return done;
    }

    /// Stops the pool's threads once their last handlers have run.
    void join() {
        for (auto& t : pool_) {
            t->work.reset();
            if (t->thread.joinable()) t->thread.join();
        }
    }

private:
    // One thread of the pool and the executor its connections share.
    struct pool_thread {
        asio::io_context context{1};
        asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(context);
        std::thread thread;
        std::size_t connections = 0;  // guarded by mutex_
    };
    void reap(std::unique_lock<std::mutex>&) {
        for (auto it = slots_.begin(); it != slots_.end();) {
            if ((*it)->done_) {
                if ((*it)->thread_.joinable()) (*it)->thread_.join();
                it = slots_.erase(it);
            } else {
                ++it;
            }
        }
    }

    std::vector<std::unique_ptr<pool_thread>> pool_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::list<std::shared_ptr<slot>> slots_;
    std::size_t live_ = 0;
    std::function<void()> on_thread_done_;
};

} // namespace driver
RTMPX_NAMESPACE_END

#if RTMPX_COMPILES_DEFINITIONS
#include <rtmpx/driver/impl/executor_pool.ipp>
#endif
