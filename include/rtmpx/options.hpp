// SPDX-License-Identifier: MIT
// Server options: limits, timeouts and protocol settings, every one finite by default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <rtmpx/config.hpp>
#include <rtmpx/limits.hpp>

RTMPX_NAMESPACE_BEGIN

/// Timeouts of a connection (all finite by default).
struct timeouts {
    std::chrono::milliseconds handshake{10'000};  ///< from accept to the end of the handshake
    std::chrono::milliseconds connect{10'000};    ///< from the handshake to a claimed `connect`
    std::chrono::milliseconds idle{60'000};       ///< nothing received and nothing playing
    std::chrono::milliseconds write{10'000};      ///< a write that makes no progress
    std::chrono::milliseconds call{10'000};       ///< waiting for the client's answer to `connection::call`
    std::chrono::milliseconds ping{10'000};       ///< interval of ping requests (round-trip time); 0: none
    std::chrono::milliseconds publish{10'000};    ///< a publishing stream that sends no media for this long is closed
};

/**
 * Everything a server can be configured with. Copy it, change what you need, pass it to the
 * server's constructor.
 */
struct server_options {
    chunk_limits chunks;         ///< incoming chunk stream limits
    amf_limits amf;              ///< AMF decoding limits for every incoming message
    struct timeouts timeouts;

    std::uint32_t chunk_size = 4096;           ///< the chunk size the server announces and writes with
    std::uint32_t window_ack_size = 2'500'000; ///< Window Acknowledgement Size sent to clients
    std::uint32_t peer_bandwidth = 2'500'000;  ///< Set Peer Bandwidth sent to clients
    std::size_t max_connections = 1000;        ///< beyond it, new connections are closed at once
    /// 0: every connection runs on a thread of its own (the default). N: connections share a
    /// pool of N threads, each connection pinned to one, for thousands of players.
    std::size_t threads = 0;
    /// With a thread per connection (`threads` 0): the thread that queues a frame for a player
    /// (a frame thread, a broadcast's producer, a publisher's connection) writes it to the
    /// player's socket itself when the player's writer is idle, instead of waking the player's
    /// thread: a system call per frame and player, and no thread switch. Every handler of a
    /// connection then runs under a lock of the connection's. Off: every frame wakes the
    /// player's thread, which writes it. A pool (`threads` N) always wakes its threads.
    bool producer_writes = true;
    std::size_t max_streams_per_connection = 16;
    std::size_t max_pending_calls = 64;        ///< server-to-client calls waiting for an answer
    std::size_t max_publishers = 64;           ///< publishing streams at once, over all connections

    /// Report failed remote calls as `_result` carrying the error info object instead of `_error`
    /// (python-librtmp waits for `_result` only). Off by default.
    bool call_errors_as_result = false;

    double default_render_rate = 30;  ///< render (and frame) calls per second when a stream sets none
    double max_render_rate = 240;     ///< the largest `render_rate` a stream may set

    std::size_t frame_queue_frames = 16;        ///< frames queued per stream between frame thread and writer
    std::size_t outqueue_full_bytes = 128u << 10; ///< unsent bytes (ours and the kernel's) at which `outqueue_is_full` turns true
    std::size_t socket_unsent_limit = 64u << 10;  ///< kernel-held unsent bytes above which frames wait (and then drop)
    std::size_t max_queued_messages = 1024;     ///< non-frame messages waiting to be written
    std::size_t max_queued_bytes = 8u << 20;    ///< bytes waiting to be written before the connection is closed
};

RTMPX_NAMESPACE_END
