// SPDX-License-Identifier: MIT
// Backpressure that follows the real client: the bytes the kernel holds unsent gate the frames.
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>

#if defined(__linux__)
#include <linux/sockios.h>
#include <sys/ioctl.h>
#endif

#include <asio/ip/tcp.hpp>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/**
 * How far behind a connection's client is, for the writer (which holds frames back) and for
 * frame producers (which are told `outqueue_is_full`).
 *
 * A client that reads slowly shows first in the kernel's send queue: its buffers fill before
 * ours do. On Linux the kernel tells how many bytes it holds that it has not sent yet
 * (`SIOCOUTQNSD`, TCP only); elsewhere, and for other sockets, that figure is 0 and only the
 * bytes waiting in our own queue count (a write the socket does not take stays ours).
 *
 * The kernel is asked only when an upper bound (its last answer plus what was written since)
 * reaches the limit, so a client that keeps up costs one system call every few frames, not one
 * per write.
 *
 * Thread: `open`, `wrote` and `set_queued` on the connection's thread; `congested` and
 * `queued_bytes` from any thread.
 */
class send_gate {
public:
    send_gate(std::size_t unsent_limit, std::size_t full_bytes) noexcept : limit_(unsent_limit), full_(full_bytes) {}

    /// Whether frames may be written now: the kernel's unsent bytes (an upper bound) are below the limit.
    template <class Socket>
    bool open(Socket& socket) {
        if (known_ + since_ >= limit_) {
            known_ = kernel_unsent(socket);
            since_ = 0;
        }
        const std::size_t bound = known_ + since_;
        kernel_.store(bound, std::memory_order_relaxed);
        return bound < limit_;
    }

    /// Bytes handed to the kernel.
    void wrote(std::size_t n) noexcept { since_ += n; }

    /// Bytes waiting in our own queue, published for other threads.
    void set_queued(std::size_t n) noexcept { queued_.store(n, std::memory_order_relaxed); }

    /// Ours and the kernel's unsent bytes (an upper bound, never below the truth).
    std::size_t queued_bytes() const noexcept {
        return queued_.load(std::memory_order_relaxed) + kernel_.load(std::memory_order_relaxed);
    }

    /// Whether the client is behind: the unsent bytes reach `outqueue_full_bytes`.
    bool congested() const noexcept { return queued_bytes() >= full_; }

    /// The kernel's unsent bytes for `socket` (0 where it cannot tell).
    template <class Socket>
    static std::size_t kernel_unsent(Socket& socket) {
        (void)socket;
#if defined(__linux__) && defined(SIOCOUTQNSD)
        if constexpr (requires { typename Socket::protocol_type; socket.native_handle(); }) {
            if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
                int n = 0;
                if (socket.is_open() && ::ioctl(socket.native_handle(), SIOCOUTQNSD, &n) == 0 && n > 0)
                    return static_cast<std::size_t>(n);
            }
        }
#endif
        return 0;
    }

private:
    const std::size_t limit_;
    const std::size_t full_;
    std::size_t known_ = 0;  // the kernel's last answer
    std::size_t since_ = 0;  // bytes written since
    std::atomic<std::size_t> queued_{0};
    std::atomic<std::size_t> kernel_{0};
};

} // namespace driver
RTMPX_NAMESPACE_END
