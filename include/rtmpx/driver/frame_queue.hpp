// SPDX-License-Identifier: MIT
// A bounded lock-free single-producer/single-consumer queue for frames crossing threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/**
 * A bounded single-producer/single-consumer ring of move-only items.
 *
 * One thread calls `try_push`, one other thread calls `front`/`pop`. Indices live on their own
 * cache lines, and each side caches the other's index so that it reads the shared one only when
 * the cached value says full (producer) or empty (consumer). Policy (what to drop when full) is
 * the caller's; the queue only reports full and empty.
 *
 * Thread: exactly one producer and one consumer thread at a time; `size_approx` from anywhere.
 */
template <class T>
class frame_queue {
    static_assert(std::is_nothrow_move_constructible_v<T>, "frame_queue: T must be nothrow move constructible");
    static_assert(std::is_nothrow_destructible_v<T>, "frame_queue: T must be nothrow destructible");

public:
    /// A queue that holds up to `capacity` items (at least 1).
    explicit frame_queue(std::size_t capacity)
        : capacity_(capacity < 1 ? 2 : capacity + 1),  // one slot stays empty to tell full from empty
          slots_(std::allocator<slot>().allocate(capacity_)) {}

    frame_queue(const frame_queue&) = delete;
    frame_queue& operator=(const frame_queue&) = delete;

    ~frame_queue() {
        while (front()) pop();
        std::allocator<slot>().deallocate(slots_, capacity_);
    }

    /// Producer: moves `item` in; false (and `item` untouched) when full.
    bool try_push(T&& item) noexcept {
        const std::size_t write = write_.load(std::memory_order_relaxed);
        const std::size_t next = write + 1 == capacity_ ? 0 : write + 1;
        if (next == read_cache_) {
            read_cache_ = read_.load(std::memory_order_acquire);
            if (next == read_cache_) return false;
        }
        ::new (static_cast<void*>(&slots_[write])) T(std::move(item));
        write_.store(next, std::memory_order_release);
        return true;
    }

    /// Consumer: the oldest item, or nullptr when empty.
    T* front() noexcept {
        const std::size_t read = read_.load(std::memory_order_relaxed);
        if (read == write_cache_) {
            write_cache_ = write_.load(std::memory_order_acquire);
            if (read == write_cache_) return nullptr;
        }
        return std::launder(reinterpret_cast<T*>(&slots_[read]));
    }

    /// Consumer: removes the oldest item. Precondition: `front() != nullptr`.
    void pop() noexcept {
        const std::size_t read = read_.load(std::memory_order_relaxed);
        RTMPX_ASSERT(write_.load(std::memory_order_acquire) != read);
        std::launder(reinterpret_cast<T*>(&slots_[read]))->~T();
        read_.store(read + 1 == capacity_ ? 0 : read + 1, std::memory_order_release);
    }

    /// Items queued; exact only when both sides are idle.
    std::size_t size_approx() const noexcept {
        const std::ptrdiff_t diff = static_cast<std::ptrdiff_t>(write_.load(std::memory_order_acquire)) -
                                    static_cast<std::ptrdiff_t>(read_.load(std::memory_order_acquire));
        return static_cast<std::size_t>(diff < 0 ? diff + static_cast<std::ptrdiff_t>(capacity_) : diff);
    }

    bool empty() const noexcept { return size_approx() == 0; }
    std::size_t capacity() const noexcept { return capacity_ - 1; }

private:
    static constexpr std::size_t cache_line = 64;
    struct slot {
        alignas(T) std::byte storage[sizeof(T)];
    };

    const std::size_t capacity_;
    slot* const slots_;

    alignas(cache_line) std::atomic<std::size_t> write_{0};
    std::size_t read_cache_ = 0;  // producer's copy of read_
    alignas(cache_line) std::atomic<std::size_t> read_{0};
    std::size_t write_cache_ = 0;  // consumer's copy of write_
};

} // namespace driver
RTMPX_NAMESPACE_END
