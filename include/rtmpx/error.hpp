// SPDX-License-Identifier: MIT
// Error codes of the protocol core and the server, and the conditions that group them.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * Specific failures. Values are never renumbered; a retired value stays as `unused_N`.
 * Compare against `rtmpx::condition` to handle a whole class at once.
 */
enum class error {
    // handshake
    bad_handshake_version = 1,  ///< C0 carried a version other than 3
    unused_2 = 2,               ///< retired (nothing could raise it)
    // chunk stream
    chunk_size_invalid = 10,     ///< Set Chunk Size of 0 or with the top bit set (RTMP 1.0 §5.4.1)
    unused_11 = 11,              ///< retired: every legal chunk size is accepted (RTMP 1.0 §5.4.1)
    message_too_large = 12,      ///< message length above the configured maximum
    too_many_chunk_streams = 13, ///< more live chunk streams than allowed
    reassembly_limit = 14,       ///< partially assembled bytes above the configured maximum
    chunk_header_invalid = 15,   ///< a type 1/2/3 header on a chunk stream with no previous header
    unused_16 = 16,              ///< retired (no chunk stream id is reserved for the peer)
    // messages
    message_malformed = 20,      ///< a control or command message whose body does not parse
    unused_21 = 21,              ///< retired: unknown message types are passed on, not refused
    aggregate_malformed = 22,    ///< an aggregate message whose parts do not add up
    // AMF
    amf_truncated = 30,          ///< input ended inside a value
    amf_unknown_marker = 31,     ///< a type marker AMF0/AMF3 does not define
    amf_depth_exceeded = 32,     ///< nesting deeper than the configured maximum
    amf_too_many_elements = 33,  ///< more values than the configured maximum
    amf_bad_reference = 34,      ///< a reference to an object, string or trait not seen yet
    amf3_externalizable = 35,    ///< an AMF3 externalizable object (its format is private)
    amf_malformed = 36,          ///< a value that is structurally wrong (e.g. a bad object end)
    // session
    unexpected_command = 50,     ///< a command that is not valid in the current state
    rejected_by_handler = 51,    ///< no connect handler claimed the connection
    handshake_timeout = 52,
    connect_timeout = 53,
    idle_timeout = 54,
    write_timeout = 55,
    handler_exception = 56,      ///< a user handler threw; the connection is closed
    too_many_connections = 57,
    too_many_streams = 58,
    shutdown = 59,               ///< the server ended the connection while shutting down
    stream_not_found = 60,       ///< a stream id that was never created
    queue_full = 61,             ///< the outgoing queue stayed full past the write timeout
    invalid_property = 62,       ///< a stream property key that is neither reserved nor `user_`
    invalid_property_value = 63, ///< a reserved property set to a value it does not accept
    handler_failed = 64,         ///< a render or frame handler returned false
    call_timeout = 65,           ///< the client did not answer a server call in time
    too_many_pending_calls = 66, ///< more server-to-client calls waiting than allowed
    publish_timeout = 67,        ///< a publishing stream sent no media for too long
    too_many_publishers = 68,    ///< more publishing streams than the server allows
    media_malformed = 69,        ///< an audio or video message too short for its tag header (dropped)
    media_not_published = 70,    ///< media or data on a stream that does not publish (dropped)
    publish_refused = 71,        ///< a publish refused (the name is in use, or a handler said no)
    publisher_replaced = 72,     ///< another publisher took this one's broadcast over
    enhanced_malformed = 73,     ///< an Enhanced RTMP tag that does not parse (truncated, a track past the end)
    enhanced_unsupported = 74,   ///< an Enhanced RTMP tag with a reserved packet type or multitrack layout
    too_many_tracks = 75,        ///< an Enhanced RTMP message with more tracks than allowed
    codec_not_declared = 76,     ///< a play of a stream in a codec the client did not declare (NetStream.Play.Failed)
    drained = 77,                ///< the server was drained and the connection was still there at the deadline

    tls_handshake_failed = 80,   ///< the TLS handshake failed (no shared version or cipher, a bad record, ...)
    not_tls = 81,                ///< a TLS port received something else first (plain RTMP: use rtmp:// on the plain port)
    tls_on_plain_port = 82,      ///< a plain RTMP port received a TLS handshake (use rtmps:// on the TLS port)
    certificate_untrusted = 83,  ///< the server's certificate does not verify against the trusted roots
    certificate_expired = 84,    ///< the server's certificate (or one in its chain) has expired
    certificate_name_mismatch = 85,  ///< the server's certificate is for another host name
    tls_unavailable = 86,        ///< an rtmps:// URL in a program that does not include <rtmpx/tls.hpp>
};

/// Classes of failure, for `ec == rtmpx::condition::limit_exceeded` style checks.
enum class condition {
    protocol_violation = 1,
    limit_exceeded = 2,
    rejected = 3,
    timeout = 4,
};

namespace detail {

inline const char* error_message(error e) noexcept {
    switch (e) {
    case error::bad_handshake_version: return "handshake: C0 version is not 3";
    case error::chunk_size_invalid: return "chunk size must be between 1 and 2^31-1";
    case error::message_too_large: return "message length above the configured maximum";
    case error::too_many_chunk_streams: return "too many live chunk streams";
    case error::reassembly_limit: return "too many bytes waiting for reassembly";
    case error::chunk_header_invalid: return "chunk header refers to a chunk stream with no previous header";
    case error::message_malformed: return "malformed message body";
    case error::aggregate_malformed: return "malformed aggregate message";
    case error::amf_truncated: return "AMF: value truncated";
    case error::amf_unknown_marker: return "AMF: unknown type marker";
    case error::amf_depth_exceeded: return "AMF: nesting too deep";
    case error::amf_too_many_elements: return "AMF: too many elements";
    case error::amf_bad_reference: return "AMF: reference to an unknown entry";
    case error::amf3_externalizable: return "AMF3: externalizable objects are not supported";
    case error::amf_malformed: return "AMF: malformed value";
    case error::unexpected_command: return "command not valid in this state";
    case error::rejected_by_handler: return "connection rejected: no handler claimed it";
    case error::handshake_timeout: return "handshake timed out";
    case error::connect_timeout: return "no connect command in time";
    case error::idle_timeout: return "connection idle for too long";
    case error::write_timeout: return "client stopped reading";
    case error::handler_exception: return "a handler threw an exception";
    case error::too_many_connections: return "too many connections";
    case error::too_many_streams: return "too many streams on this connection";
    case error::shutdown: return "server shutting down";
    case error::stream_not_found: return "no such stream";
    case error::queue_full: return "outgoing queue full";
    case error::invalid_property: return "unknown property (user properties start with user_)";
    case error::invalid_property_value: return "invalid property value";
    case error::handler_failed: return "a handler reported failure";
    case error::call_timeout: return "the client did not answer the call in time";
    case error::too_many_pending_calls: return "too many calls waiting for the client";
    case error::publish_timeout: return "the publisher sent nothing for too long";
    case error::too_many_publishers: return "too many publishers";
    case error::media_malformed: return "a media message too short for its tag header";
    case error::media_not_published: return "media on a stream that does not publish";
    case error::publish_refused: return "publish refused";
    case error::publisher_replaced: return "another publisher took the stream over";
    case error::enhanced_malformed: return "Enhanced RTMP: a malformed audio or video tag (truncated, or a track past its end)";
    case error::enhanced_unsupported: return "Enhanced RTMP: a reserved packet type or multitrack layout";
    case error::too_many_tracks: return "Enhanced RTMP: more tracks in one message than allowed";
    case error::codec_not_declared: return "the stream's codec is not one the client declared in connect";
    case error::drained: return "server drained: the connection was ended at the deadline";
    case error::tls_handshake_failed: return "TLS handshake failed";
    case error::not_tls: return "not TLS: plain RTMP (or other bytes) on a TLS port";
    case error::tls_on_plain_port: return "a TLS handshake on a plain RTMP port (rtmps:// needs the TLS port)";
    case error::certificate_untrusted: return "the server's certificate does not verify";
    case error::certificate_expired: return "the server's certificate has expired";
    case error::certificate_name_mismatch: return "the server's certificate is for another host name";
    case error::tls_unavailable: return "rtmps:// needs <rtmpx/tls.hpp> in the program (and OpenSSL)";
    case error::unused_2:
    case error::unused_11:
    case error::unused_16:
    case error::unused_21: return "retired rtmpx error";
    }
    return "unknown rtmpx error";
}

inline condition error_condition_of(error e) noexcept {
    switch (e) {
    case error::message_too_large:
    case error::too_many_chunk_streams:
    case error::reassembly_limit:
    case error::amf_depth_exceeded:
    case error::amf_too_many_elements:
    case error::too_many_connections:
    case error::too_many_streams:
    case error::too_many_pending_calls:
    case error::too_many_publishers:
    case error::too_many_tracks:
    case error::queue_full: return condition::limit_exceeded;
    case error::rejected_by_handler:
    case error::publish_refused:
    case error::publisher_replaced:
    case error::codec_not_declared:
    case error::certificate_untrusted:
    case error::certificate_expired:
    case error::certificate_name_mismatch: return condition::rejected;
    case error::handshake_timeout:
    case error::connect_timeout:
    case error::idle_timeout:
    case error::write_timeout:
    case error::publish_timeout:
    case error::call_timeout: return condition::timeout;
    default: return condition::protocol_violation;
    }
}

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "rtmpx"; }
    std::string message(int ev) const override { return error_message(static_cast<error>(ev)); }
    std::error_condition default_error_condition(int ev) const noexcept override;
};

class condition_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "rtmpx.condition"; }
    std::string message(int ev) const override {
        switch (static_cast<condition>(ev)) {
        case condition::protocol_violation: return "protocol violation";
        case condition::limit_exceeded: return "limit exceeded";
        case condition::rejected: return "rejected";
        case condition::timeout: return "timeout";
        }
        return "unknown rtmpx condition";
    }
};

} // namespace detail

/// The category of `rtmpx::error` values.
inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl instance;
    return instance;
}

/// The category of `rtmpx::condition` values.
inline const std::error_category& condition_category() noexcept {
    static const detail::condition_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), error_category()}; }

inline std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

inline std::error_condition detail::error_category_impl::default_error_condition(int ev) const noexcept {
    return make_error_condition(error_condition_of(static_cast<error>(ev)));
}

RTMPX_NAMESPACE_END

template <>
struct std::is_error_code_enum<rtmpx::error> : std::true_type {};
template <>
struct std::is_error_condition_enum<rtmpx::condition> : std::true_type {};
