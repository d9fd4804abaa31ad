// SPDX-License-Identifier: MIT
// What every connection of one server shares: options, the log, codecs, connect handlers, totals.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Shared by a server and all its connections (and kept alive by them).
struct server_state {
    using connect_fn = std::function<bool(connection&, const connect_event&)>;

    explicit server_state(server_options o) : options(std::move(o)) {}

    /// The installed connect handlers, in order (a copy: handlers may be added meanwhile).
    std::vector<std::shared_ptr<connect_fn>> connect_handlers() const {
        std::lock_guard lock(mutex);
        std::vector<std::shared_ptr<connect_fn>> out;
        out.reserve(handlers.size());
        for (const auto& h : handlers) out.push_back(h.second);
        return out;
    }

    const server_options options;
    logger log;
    codec_registry codecs;
    // Totals over all connections, for basic_server::statistics (relaxed atomics: display only).
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> frames_sent{0};
    std::atomic<std::uint64_t> frames_dropped{0};
    std::atomic<std::int64_t> playing_streams{0};
    std::atomic<std::int64_t> publishing_streams{0};
    mutable std::mutex mutex;
    std::vector<std::pair<std::uint64_t, std::shared_ptr<connect_fn>>> handlers;
    std::uint64_t next_handler_id = 1;
};

} // namespace detail
RTMPX_NAMESPACE_END
