// SPDX-License-Identifier: MIT
// Figures about one connection and about a whole server, for display and logging.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN

/// Figures about one connection, for display and logging.
struct connection_statistics {
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t writes = 0;            ///< socket writes; each gathers every message queued by then
    std::uint64_t frames_sent = 0;
    std::uint64_t frames_dropped = 0;
    std::size_t queued_bytes = 0;        ///< bytes waiting to be written (ours, and an upper bound of the kernel's)
    std::size_t streams = 0;
    std::size_t playing_streams = 0;
    std::size_t publishing_streams = 0;
    std::uint64_t media_in = 0;          ///< audio, video and data messages of publishes
    std::uint64_t media_dropped = 0;     ///< media messages dropped: malformed, or on a stream that does not publish
    std::uint32_t chunk_size_in = 128;   ///< the client's chunk size
    std::uint32_t chunk_size_out = 128;  ///< ours
    std::uint64_t acknowledged_bytes = 0;///< the client's last acknowledgement
    std::chrono::milliseconds uptime{0};
    std::chrono::microseconds round_trip{0};  ///< from the last answered ping (0: none yet)

    /// The same figures as key/value text, for printing.
    std::vector<std::pair<std::string, std::string>> to_map() const {
        return {{"bytes_in", std::to_string(bytes_in)},
                {"bytes_out", std::to_string(bytes_out)},
                {"messages_in", std::to_string(messages_in)},
                {"messages_out", std::to_string(messages_out)},
                {"writes", std::to_string(writes)},
                {"frames_sent", std::to_string(frames_sent)},
                {"frames_dropped", std::to_string(frames_dropped)},
                {"queued_bytes", std::to_string(queued_bytes)},
                {"streams", std::to_string(streams)},
                {"playing_streams", std::to_string(playing_streams)},
                {"publishing_streams", std::to_string(publishing_streams)},
                {"media_in", std::to_string(media_in)},
                {"media_dropped", std::to_string(media_dropped)},
                {"chunk_size_in", std::to_string(chunk_size_in)},
                {"chunk_size_out", std::to_string(chunk_size_out)},
                {"acknowledged_bytes", std::to_string(acknowledged_bytes)},
                {"uptime_ms", std::to_string(uptime.count())},
                {"round_trip_us", std::to_string(round_trip.count())}};
    }
};

/// Figures about a whole server (all its connections), for display.
struct server_statistics {
    std::size_t connections = 0;
    std::size_t playing_streams = 0;
    std::size_t publishing_streams = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t frames_sent = 0;
    std::uint64_t frames_dropped = 0;

    /// The same figures as key/value text, for printing.
    std::vector<std::pair<std::string, std::string>> to_map() const {
        return {{"connections", std::to_string(connections)},
                {"playing_streams", std::to_string(playing_streams)},
                {"publishing_streams", std::to_string(publishing_streams)},
                {"bytes_out", std::to_string(bytes_out)},
                {"frames_sent", std::to_string(frames_sent)},
                {"frames_dropped", std::to_string(frames_dropped)}};
    }
};

RTMPX_NAMESPACE_END
