// SPDX-License-Identifier: MIT
// Typed RTMP messages: protocol control, user control, commands, data, media and aggregates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/limits.hpp>
#include <rtmpx/protocol/message.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

// ---------------------------------------------------------------------------------------------
// Protocol control messages (RTMP 1.0 §5.4), always on chunk stream 2, message stream 0.

/// Type 1: the sender's new maximum chunk size.
struct set_chunk_size {
    std::uint32_t chunk_size = 128;
    bool operator==(const set_chunk_size&) const = default;
};
/// Type 2: discard the partial message of a chunk stream.
struct abort_message {
    std::uint32_t chunk_stream_id = 0;
    bool operator==(const abort_message&) const = default;
};
/// Type 3: bytes received so far (the sequence number).
struct acknowledgement {
    std::uint32_t sequence_number = 0;
    bool operator==(const acknowledgement&) const = default;
};
/// Type 5: how many bytes the peer may send before it must see an acknowledgement.
struct window_ack_size {
    std::uint32_t window = 0;
    bool operator==(const window_ack_size&) const = default;
};
/// Limit types of Set Peer Bandwidth (RTMP 1.0 §5.4.5).
enum class bandwidth_limit : std::uint8_t { hard = 0, soft = 1, dynamic = 2 };
/// Type 6: limits the peer's output bandwidth (its window acknowledgement size).
struct set_peer_bandwidth {
    std::uint32_t window = 0;
    bandwidth_limit limit = bandwidth_limit::dynamic;
    bool operator==(const set_peer_bandwidth&) const = default;
};

/// User control event types (RTMP 1.0 §7.1.7, plus the ones players use in practice).
enum class user_control_event : std::uint16_t {
    stream_begin = 0,
    stream_eof = 1,
    stream_dry = 2,
    set_buffer_length = 3,
    stream_is_recorded = 4,
    ping_request = 6,
    ping_response = 7,
    swf_verify_request = 26,
    swf_verify_response = 27,
    buffer_empty = 31,
    buffer_ready = 32,
};

/// Type 4: a user control event. `value` is the stream id, or the timestamp for pings.
struct user_control {
    user_control_event event = user_control_event::stream_begin;
    std::uint32_t value = 0;
    std::uint32_t buffer_length = 0;  ///< set_buffer_length only: milliseconds
    std::vector<std::byte> data;      ///< the body after the event type, for events without fixed fields

    bool operator==(const user_control&) const = default;

    static user_control stream_begin(std::uint32_t stream_id) { return {user_control_event::stream_begin, stream_id, 0, {}}; }
    static user_control stream_eof(std::uint32_t stream_id) { return {user_control_event::stream_eof, stream_id, 0, {}}; }
    static user_control stream_dry(std::uint32_t stream_id) { return {user_control_event::stream_dry, stream_id, 0, {}}; }
    static user_control stream_is_recorded(std::uint32_t stream_id) {
        return {user_control_event::stream_is_recorded, stream_id, 0, {}};
    }
    static user_control set_buffer_length(std::uint32_t stream_id, std::uint32_t ms) {
        return {user_control_event::set_buffer_length, stream_id, ms, {}};
    }
    static user_control ping_request(std::uint32_t timestamp) { return {user_control_event::ping_request, timestamp, 0, {}}; }
    static user_control ping_response(std::uint32_t timestamp) { return {user_control_event::ping_response, timestamp, 0, {}}; }
};

// ---------------------------------------------------------------------------------------------
// Commands and data (RTMP 1.0 §7.1.1-2, §7.2).

/// A command message (type 20, or 17 with its leading format byte): name, transaction id,
/// command object and the values after it.
struct command {
    std::string name;
    double transaction_id = 0;
    amf0::value object;                    ///< null when the peer sent null (or nothing)
    std::vector<amf0::value> arguments;    ///< the values after the command object

    bool operator==(const command&) const = default;
};

/// A data message (type 18, or 15): a handler name such as "onMetaData" and its values.
struct data_message {
    std::string handler;
    std::vector<amf0::value> values;

    bool operator==(const data_message&) const = default;
};

/// Audio (type 8) or video (type 9) data: the FLV tag body, passed through.
struct media_message {
    message_type type = message_type::video;
    std::vector<std::byte> payload;

    bool operator==(const media_message&) const = default;
};

/// Type 22: the messages an aggregate carried, with their timestamps rebased (RTMP 1.0 §7.1.6).
struct aggregate_message {
    std::vector<message> parts;
    bool operator==(const aggregate_message&) const = default;
};

/// A message of a type this library does not interpret (shared objects, unknown ids).
struct unknown_message {
    message_type type{};
    std::vector<std::byte> payload;
    bool operator==(const unknown_message&) const = default;
};

/// Any message, typed.
using decoded_message = std::variant<set_chunk_size, abort_message, acknowledgement, user_control, window_ack_size,
                                     set_peer_bandwidth, command, data_message, media_message, aggregate_message,
                                     unknown_message>;

namespace wire {

inline std::optional<command> decode_command(std::span<const std::byte> body, std::error_code& ec,
                                             const amf_limits& limits) {
    std::vector<amf0::value> values;
    if (!amf0::decode_all(body, values, ec, limits)) return std::nullopt;
    // RTMP 1.0 §7.1.1: name, transaction id, command object, then optional arguments. Some
    // peers omit the transaction id of notifications (ffmpeg's onFCPublish): read it as 0.
    if (values.empty() || !values[0].is_string()) {
        ec = error::message_malformed;
        return std::nullopt;
    }
    command c;
    c.name = std::string(values[0].as_string());
    std::size_t next = 1;
    if (values.size() > 1 && values[1].is_number()) c.transaction_id = values[next++].as_number();
    if (values.size() > next) c.object = std::move(values[next++]);
    for (std::size_t i = next; i < values.size(); ++i) c.arguments.push_back(std::move(values[i]));
    return c;
}

inline std::optional<data_message> decode_data(std::span<const std::byte> body, std::error_code& ec,
                                               const amf_limits& limits) {
    std::vector<amf0::value> values;
    if (!amf0::decode_all(body, values, ec, limits)) return std::nullopt;
    data_message d;
    std::size_t first = 0;
    if (!values.empty() && values[0].is_string()) {
        d.handler = std::string(values[0].as_string());
        first = 1;
    }
    for (std::size_t i = first; i < values.size(); ++i) d.values.push_back(std::move(values[i]));
    return d;
}

inline std::optional<aggregate_message> decode_aggregate(const message& m, std::error_code& ec) {
    // Each part: type(1) length(3) timestamp(3) timestamp-extended(1) stream id(3), the body,
    // then a 4-byte back pointer (the part's size), like an FLV tag.
    aggregate_message out;
    std::span<const std::byte> rest(m.payload);
    std::optional<rtmp_timestamp> first;
    while (!rest.empty()) {
        if (rest.size() < 11) {
            ec = error::aggregate_malformed;
            return std::nullopt;
        }
        const auto type = static_cast<message_type>(detail::u8(rest[0]));
        const std::uint32_t length = detail::load_be24(rest.subspan(1));
        const rtmp_timestamp ts((std::uint32_t{detail::u8(rest[7])} << 24) | detail::load_be24(rest.subspan(4)));
        if (rest.size() < 11 + std::size_t{length} + 4) {
            ec = error::aggregate_malformed;
            return std::nullopt;
        }
        if (!first) first = ts;
        message part;
        part.header.chunk_stream_id = m.header.chunk_stream_id;
        part.header.type = type;
        part.header.stream_id = m.header.stream_id;
        part.header.timestamp = m.header.timestamp + (ts - *first);
        part.payload.assign(rest.begin() + 11, rest.begin() + 11 + length);
        out.parts.push_back(std::move(part));
        rest = rest.subspan(11 + std::size_t{length} + 4);
    }
    return out;
}

template <class T>
message control_message(message_type type, const T& body_writer) {
    message m;
    m.header.chunk_stream_id = chunk_stream::protocol_control;
    m.header.type = type;
    m.header.stream_id = 0;
    body_writer(m.payload);
    return m;
}

} // namespace wire

/**
 * Interprets a message by its type. Media and unknown payloads are moved, not copied.
 *
 * Errors: `error::message_malformed` for a control message whose body is too short or a command
 * without name and transaction id; AMF errors from decoding; `error::aggregate_malformed`.
 * On error the returned value is meaningless.
 */
inline decoded_message decode_message(message m, std::error_code& ec, const amf_limits& limits = {}) {
        ec.clear();
    const std::span<const std::byte> body(m.payload);
    auto need = [&](std::size_t n) {
        if (body.size() < n) ec = error::message_malformed;
        return !ec;
    };
    switch (m.header.type) {
    case message_type::set_chunk_size:
        if (need(4)) return set_chunk_size{detail::load_be32(body) & 0x7fffffffu};
        break;
    case message_type::abort:
        if (need(4)) return abort_message{detail::load_be32(body)};
        break;
    case message_type::acknowledgement:
        if (need(4)) return acknowledgement{detail::load_be32(body)};
        break;
    case message_type::window_ack_size:
        if (need(4)) return window_ack_size{detail::load_be32(body)};
        break;
    case message_type::set_peer_bandwidth:
        if (need(5)) {
            const auto limit = detail::u8(body[4]);
            if (limit > 2) {
                ec = error::message_malformed;
                break;
            }
            return set_peer_bandwidth{detail::load_be32(body), static_cast<bandwidth_limit>(limit)};
        }
        break;
    case message_type::user_control: {
        if (!need(2)) break;
        user_control uc;
        uc.event = static_cast<user_control_event>(detail::load_be16(body));
        const auto rest = body.subspan(2);
        switch (uc.event) {
        case user_control_event::set_buffer_length:
            if (!need(10)) return uc;
            uc.value = detail::load_be32(rest);
            uc.buffer_length = detail::load_be32(rest.subspan(4));
            break;
        case user_control_event::stream_begin:
        case user_control_event::stream_eof:
        case user_control_event::stream_dry:
        case user_control_event::stream_is_recorded:
        case user_control_event::ping_request:
        case user_control_event::ping_response:
        case user_control_event::buffer_empty:
        case user_control_event::buffer_ready:
            if (!need(6)) return uc;
            uc.value = detail::load_be32(rest);
            break;
        default:
            uc.data.assign(rest.begin(), rest.end());
            break;
        }
        return uc;
    }
    case message_type::command_amf3:
        if (!need(1)) break;  // a format byte precedes AMF0 values (with AVM+ switches)
        if (auto c = wire::decode_command(body.subspan(1), ec, limits)) return std::move(*c);
        break;
    case message_type::command_amf0:
        if (auto c = wire::decode_command(body, ec, limits)) return std::move(*c);
        break;
    case message_type::data_amf3:
        if (!need(1)) break;
        if (auto d = wire::decode_data(body.subspan(1), ec, limits)) return std::move(*d);
        break;
    case message_type::data_amf0:
        if (auto d = wire::decode_data(body, ec, limits)) return std::move(*d);
        break;
    case message_type::audio:
    case message_type::video: return media_message{m.header.type, std::move(m.payload)};
    case message_type::aggregate:
        if (auto a = wire::decode_aggregate(m, ec)) return std::move(*a);
        break;
    default: return unknown_message{m.header.type, std::move(m.payload)};
    }
    return unknown_message{m.header.type, {}};
}

// ---------------------------------------------------------------------------------------------
// Encoding: each typed message to a whole `message` ready for the chunk writer.

inline message to_message(const set_chunk_size& v) {
    return wire::control_message(message_type::set_chunk_size, [&](auto& p) { detail::put_be32(p, v.chunk_size); });
}
inline message to_message(const abort_message& v) {
    return wire::control_message(message_type::abort, [&](auto& p) { detail::put_be32(p, v.chunk_stream_id); });
}
inline message to_message(const acknowledgement& v) {
    return wire::control_message(message_type::acknowledgement,
                                   [&](auto& p) { detail::put_be32(p, v.sequence_number); });
}
inline message to_message(const window_ack_size& v) {
    return wire::control_message(message_type::window_ack_size, [&](auto& p) { detail::put_be32(p, v.window); });
}
inline message to_message(const set_peer_bandwidth& v) {
    return wire::control_message(message_type::set_peer_bandwidth, [&](auto& p) {
        detail::put_be32(p, v.window);
        detail::put_u8(p, static_cast<std::uint8_t>(v.limit));
    });
}
inline message to_message(const user_control& v) {
    return wire::control_message(message_type::user_control, [&](auto& p) {
        detail::put_be16(p, static_cast<std::uint16_t>(v.event));
        switch (v.event) {
        case user_control_event::set_buffer_length:
            detail::put_be32(p, v.value);
            detail::put_be32(p, v.buffer_length);
            break;
        case user_control_event::stream_begin:
        case user_control_event::stream_eof:
        case user_control_event::stream_dry:
        case user_control_event::stream_is_recorded:
        case user_control_event::ping_request:
        case user_control_event::ping_response:
        case user_control_event::buffer_empty:
        case user_control_event::buffer_ready: detail::put_be32(p, v.value); break;
        default: p.insert(p.end(), v.data.begin(), v.data.end()); break;
        }
    });
}

/// The AMF0 body of a command: name, transaction id, command object, arguments.
inline std::vector<std::byte> encode_payload(const command& c) {
    std::vector<std::byte> out;
    amf0::encode(amf0::value(c.name), out);
    amf0::encode(amf0::value(c.transaction_id), out);
    amf0::encode(c.object, out);
    for (const auto& a : c.arguments) amf0::encode(a, out);
    return out;
}

/// The AMF0 body of a data message: handler name, then the values.
inline std::vector<std::byte> encode_payload(const data_message& d) {
    std::vector<std::byte> out;
    amf0::encode(amf0::value(d.handler), out);
    for (const auto& v : d.values) amf0::encode(v, out);
    return out;
}

/// A command as a type-20 message on `stream_id` (0 is the NetConnection).
inline message to_message(const command& c, std::uint32_t stream_id = 0,
                          std::uint32_t chunk_stream_id = chunk_stream::command) {
    return message{message_header{chunk_stream_id, message_type::command_amf0, rtmp_timestamp(0), stream_id},
                   encode_payload(c)};
}

/// A data message as a type-18 message on `stream_id`.
inline message to_message(const data_message& d, std::uint32_t stream_id,
                          std::uint32_t chunk_stream_id = chunk_stream::stream_command,
                          rtmp_timestamp timestamp = rtmp_timestamp(0)) {
    return message{message_header{chunk_stream_id, message_type::data_amf0, timestamp, stream_id}, encode_payload(d)};
}

} // namespace protocol
RTMPX_NAMESPACE_END
