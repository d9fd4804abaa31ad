// SPDX-License-Identifier: MIT
// A whole RTMP message as the chunk layer reads and writes it: header fields plus payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/timestamp.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// RTMP message type ids (RTMP 1.0 §5.4, §7.1). The chunk layer carries any 8-bit value.
enum class message_type : std::uint8_t {
    set_chunk_size = 1,
    abort = 2,
    acknowledgement = 3,
    user_control = 4,
    window_ack_size = 5,
    set_peer_bandwidth = 6,
    audio = 8,
    video = 9,
    data_amf3 = 15,
    shared_object_amf3 = 16,
    command_amf3 = 17,
    data_amf0 = 18,
    shared_object_amf0 = 19,
    command_amf0 = 20,
    aggregate = 22,
};

/// The header fields every message carries (RTMP 1.0 §6.1.1).
struct message_header {
    std::uint32_t chunk_stream_id = 3;  ///< 2..65599; 2 is reserved for protocol control
    message_type type = message_type::command_amf0;
    rtmp_timestamp timestamp;
    std::uint32_t stream_id = 0;        ///< the message stream id (0 for the NetConnection)

    bool operator==(const message_header&) const = default;
};

/// A complete message: its header and its reassembled payload.
struct message {
    message_header header;
    std::vector<std::byte> payload;

    bool operator==(const message&) const = default;
};

/// Chunk stream ids the server uses for what it sends.
namespace chunk_stream {
inline constexpr std::uint32_t protocol_control = 2;  ///< RTMP 1.0 §5.4: control messages use chunk stream 2
inline constexpr std::uint32_t command = 3;           ///< NetConnection commands and replies
inline constexpr std::uint32_t audio = 4;
inline constexpr std::uint32_t stream_command = 5;    ///< onStatus and data on a message stream
inline constexpr std::uint32_t video = 6;
inline constexpr std::uint32_t client_stream_command = 8;  ///< play, publish, ... as FFmpeg's client sends them
} // namespace chunk_stream

} // namespace protocol
RTMPX_NAMESPACE_END
