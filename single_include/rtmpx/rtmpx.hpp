// SPDX-License-Identifier: MIT
// rtmpx 0.1.0: header-only C++20 RTMP server, single-header edition.
//
// GENERATED FILE, DO NOT EDIT. It is generated from include/ by scripts/amalgamate.py;
// edit the headers under include/ and regenerate it.
#pragma once

// ---- include/rtmpx/rtmpx.hpp ----
// Umbrella header: includes every public rtmpx header.

// ---- include/rtmpx/version.hpp ----
// Library version and the inline ABI namespace every rtmpx entity lives in.

#define RTMPX_VERSION_MAJOR 0
#define RTMPX_VERSION_MINOR 1
#define RTMPX_VERSION_PATCH 0

/// Opens `rtmpx::v0`; the inline namespace lets two copies of different versions link together.
#define RTMPX_NAMESPACE_BEGIN \
    namespace rtmpx {         \
    inline namespace v0 {
#define RTMPX_NAMESPACE_END \
    }                       \
    }
// ---- end of include/rtmpx/version.hpp ----
// ---- include/rtmpx/config.hpp ----
// The only place user-settable macros are read.

#include <cassert>
#include <cstdlib>


/// Compile-time floor for log records (0 trace .. 5 off); calls below it vanish.
#ifndef RTMPX_MIN_LOG_LEVEL
#define RTMPX_MIN_LOG_LEVEL 0
#endif

/// Precondition check for programmer errors (never for bad input, which gets an error_code).
#ifndef RTMPX_ASSERT
#define RTMPX_ASSERT(cond) assert(cond)
#endif

/// The one place the library throws; with exceptions disabled it aborts instead.
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define RTMPX_THROW(ex) throw(ex)
#else
#define RTMPX_THROW(ex) std::abort()
#endif

/**
 * The separately compiled mode. Define RTMPX_SEPARATE_COMPILATION in every translation unit of
 * the program and include <rtmpx/src.hpp> in exactly one source file: that file compiles the
 * library once, and the others see declarations only (and the server over TCP as an extern
 * template). Without the macro, rtmpx is header-only. RTMPX_SOURCE is set by <rtmpx/src.hpp>.
 * RTMPX_DECL marks what the library defines out of line: inline when header-only.
 */
#if defined(RTMPX_SEPARATE_COMPILATION)
#define RTMPX_DECL
#else
#define RTMPX_DECL inline
#endif

/// Whether this translation unit compiles the library's out-of-line definitions.
#if !defined(RTMPX_SEPARATE_COMPILATION) || defined(RTMPX_SOURCE)
#define RTMPX_COMPILES_DEFINITIONS 1
#else
#define RTMPX_COMPILES_DEFINITIONS 0
#endif
// ---- end of include/rtmpx/config.hpp ----
// ---- include/rtmpx/error.hpp ----
// Error codes of the protocol core and the server, and the conditions that group them.

#include <string>
#include <system_error>
#include <type_traits>


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
// ---- end of include/rtmpx/error.hpp ----
// ---- include/rtmpx/timestamp.hpp ----
// RTMP timestamps: 32-bit milliseconds with wraparound-aware arithmetic and ordering.

#include <compare>
#include <cstdint>


RTMPX_NAMESPACE_BEGIN

/**
 * A point on RTMP's 32-bit millisecond clock. Arithmetic wraps modulo 2^32 and ordering is
 * serial-number arithmetic (RFC 1982): `a < b` when b is less than 2^31 ms ahead of a, so a
 * timestamp that wrapped past 0xffffffff still compares as later.
 */
class rtmp_timestamp {
public:
    constexpr rtmp_timestamp() noexcept = default;
    constexpr explicit rtmp_timestamp(std::uint32_t ms) noexcept : ms_(ms) {}

    /// The raw 32-bit value as sent on the wire.
    constexpr std::uint32_t value() const noexcept { return ms_; }

    /// This timestamp advanced by `delta` milliseconds, wrapping at 2^32.
    constexpr rtmp_timestamp operator+(std::uint32_t delta) const noexcept { return rtmp_timestamp(ms_ + delta); }
    constexpr rtmp_timestamp& operator+=(std::uint32_t delta) noexcept {
        ms_ += delta;
        return *this;
    }
    /// Milliseconds from `earlier` to this timestamp, modulo 2^32.
    constexpr std::uint32_t operator-(rtmp_timestamp earlier) const noexcept { return ms_ - earlier.ms_; }

    constexpr bool operator==(const rtmp_timestamp&) const noexcept = default;
    constexpr std::strong_ordering operator<=>(const rtmp_timestamp& other) const noexcept {
        if (ms_ == other.ms_) return std::strong_ordering::equal;
        return (other.ms_ - ms_) < 0x80000000u ? std::strong_ordering::less : std::strong_ordering::greater;
    }

private:
    std::uint32_t ms_ = 0;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/timestamp.hpp ----
// ---- include/rtmpx/limits.hpp ----
// Limits of the protocol core: every one finite by default and configurable.

#include <cstddef>
#include <cstdint>


RTMPX_NAMESPACE_BEGIN

/// Bounds for AMF decoding: exceeding one yields `error::amf_depth_exceeded` or
/// `error::amf_too_many_elements`, never an unbounded allocation.
struct amf_limits {
    std::size_t max_depth = 32;        ///< nested objects/arrays
    std::size_t max_elements = 65536;  ///< values decoded in one message, nested ones included
};

/// Bounds for the chunk stream reader (exceeding one yields the named `rtmpx::error`). The peer's
/// chunk size is not one of them: any legal Set Chunk Size (1 to 2^31-1) is accepted, since the
/// bytes held are bounded by the message and reassembly limits whatever the chunk size.
struct chunk_limits {
    std::uint32_t max_message_size = 4u << 20;     ///< largest message length (message_too_large)
    std::size_t max_chunk_streams = 64;            ///< live chunk streams (too_many_chunk_streams)
    std::size_t max_reassembly_bytes = 16u << 20;  ///< bytes held in partial messages (reassembly_limit)
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/limits.hpp ----
// ---- include/rtmpx/amf/value.hpp ----
// The AMF value type: what AMF0 and AMF3 data decode into and encode from.

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace amf0 {

/// What a `value` holds. byte_array and dictionary exist only in AMF3 and travel inside AMF0
/// through the AVM+ switch.
enum class kind {
    number,
    boolean,
    string,
    object,
    null,
    undefined,
    ecma_array,
    strict_array,
    date,
    xml_document,
    typed_object,
    unsupported,
    byte_array,
    dictionary
};

class value;
using property = std::pair<std::string, value>;
using properties = std::vector<property>;  ///< ordered, as on the wire

/**
 * One AMF value (AMF0, or AMF3 mapped onto the same kinds). Objects keep their properties in
 * wire order and may repeat a key. Accessors of the "as_" and lookup family are lenient: the
 * wrong kind yields the fallback or a null value. The reference accessors (props(), elements(),
 * ...) have a precondition on the kind.
 */
class value {
public:
    value() noexcept = default;  ///< null
    value(double d) noexcept : data_(std::in_place_type<double>, d), kind_(kind::number) {}
    value(bool b) noexcept : data_(std::in_place_type<bool>, b), kind_(kind::boolean) {}
    value(std::string s) : data_(std::in_place_type<std::string>, std::move(s)), kind_(kind::string) {}
    value(std::string_view s) : value(std::string(s)) {}
    value(const char* s) : value(std::string_view(s != nullptr ? s : "")) {}
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    value(I i) noexcept : data_(std::in_place_type<double>, static_cast<double>(i)), kind_(kind::number) {}

    static value null() noexcept { return value(); }
    static value undefined() noexcept { return value(kind::undefined, std::in_place_type<std::monostate>); }
    static value unsupported() noexcept { return value(kind::unsupported, std::in_place_type<std::monostate>); }
    static value object(properties props = {}) {
        return value(kind::object, std::in_place_type<properties>, std::move(props));
    }
    static value object(std::initializer_list<property> props) { return object(properties(props)); }
    static value ecma_array(properties props = {}) {
        return value(kind::ecma_array, std::in_place_type<properties>, std::move(props));
    }
    static value ecma_array(std::initializer_list<property> props) { return ecma_array(properties(props)); }
    static value strict_array(std::vector<value> items = {}) {
        return value(kind::strict_array, std::in_place_type<std::vector<value>>, std::move(items));
    }
    static value date(double ms_since_epoch, std::int16_t timezone_minutes = 0) noexcept {
        return value(kind::date, std::in_place_type<date_data>, date_data{ms_since_epoch, timezone_minutes});
    }
    static value xml_document(std::string text) {
        return value(kind::xml_document, std::in_place_type<std::string>, std::move(text));
    }
    static value typed_object(std::string name, properties props = {}) {
        return value(kind::typed_object, std::in_place_type<typed_data>, typed_data{std::move(name), std::move(props)});
    }
    static value typed_object(std::string name, std::initializer_list<property> props) {
        return typed_object(std::move(name), properties(props));
    }
    static value byte_array(std::vector<std::byte> data) {
        return value(kind::byte_array, std::in_place_type<std::vector<std::byte>>, std::move(data));
    }
    static value dictionary(std::vector<std::pair<value, value>> pairs) {
        return value(kind::dictionary, std::in_place_type<entry_list>, std::move(pairs));
    }

    kind type() const noexcept { return kind_; }
    bool is_number() const noexcept { return kind_ == kind::number; }
    bool is_boolean() const noexcept { return kind_ == kind::boolean; }
    bool is_string() const noexcept { return kind_ == kind::string; }
    bool is_object() const noexcept { return kind_ == kind::object; }
    bool is_null() const noexcept { return kind_ == kind::null; }
    bool is_undefined() const noexcept { return kind_ == kind::undefined; }
    bool is_ecma_array() const noexcept { return kind_ == kind::ecma_array; }
    bool is_strict_array() const noexcept { return kind_ == kind::strict_array; }
    bool is_date() const noexcept { return kind_ == kind::date; }
    bool is_xml_document() const noexcept { return kind_ == kind::xml_document; }
    bool is_typed_object() const noexcept { return kind_ == kind::typed_object; }
    bool is_unsupported() const noexcept { return kind_ == kind::unsupported; }
    bool is_byte_array() const noexcept { return kind_ == kind::byte_array; }
    bool is_dictionary() const noexcept { return kind_ == kind::dictionary; }
    /// object, ecma_array or typed_object: the kinds with named properties.
    bool has_properties() const noexcept {
        return kind_ == kind::object || kind_ == kind::ecma_array || kind_ == kind::typed_object;
    }

    /// The number, or `fallback` for any other kind (dates included).
    double as_number(double fallback = 0) const noexcept {
        const double* d = std::get_if<double>(&data_);
        return d != nullptr ? *d : fallback;
    }
    bool as_bool(bool fallback = false) const noexcept {
        const bool* b = std::get_if<bool>(&data_);
        return b != nullptr ? *b : fallback;
    }
    /// The text of a string or xml_document, else `fallback`.
    std::string_view as_string(std::string_view fallback = {}) const noexcept {
        const std::string* s = std::get_if<std::string>(&data_);
        return s != nullptr ? std::string_view(*s) : fallback;
    }

    /// First property named `key`, or a null value (also for kinds without properties).
    const value& operator[](std::string_view key) const noexcept {
        const value* v = find(key);
        return v != nullptr ? *v : null_value();
    }
    /// Element `index` of a strict_array, or a null value.
    const value& operator[](std::size_t index) const noexcept {
        const auto* elems = std::get_if<std::vector<value>>(&data_);
        return elems != nullptr && index < elems->size() ? (*elems)[index] : null_value();
    }
    const value* find(std::string_view key) const noexcept {
        const properties* props = props_if();
        if (props == nullptr) return nullptr;
        for (const property& p : *props) {
            if (p.first == key) return &p.second;
        }
        return nullptr;
    }
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

    /// Replaces the first property named `key` or appends one. Precondition: has_properties().
    value& set(std::string key, value v) {
        properties& list = props();
        for (property& p : list) {
            if (p.first == key) {
                p.second = std::move(v);
                return *this;
            }
        }
        list.emplace_back(std::move(key), std::move(v));
        return *this;
    }

    properties& props() {
        RTMPX_ASSERT(has_properties());
        if (kind_ == kind::typed_object) return std::get<typed_data>(data_).props;
        return std::get<properties>(data_);
    }
    const properties& props() const {
        RTMPX_ASSERT(has_properties());
        if (kind_ == kind::typed_object) return std::get<typed_data>(data_).props;
        return std::get<properties>(data_);
    }
    std::vector<value>& elements() {
        RTMPX_ASSERT(is_strict_array());
        return std::get<std::vector<value>>(data_);
    }
    const std::vector<value>& elements() const {
        RTMPX_ASSERT(is_strict_array());
        return std::get<std::vector<value>>(data_);
    }
    const std::string& class_name() const {
        RTMPX_ASSERT(is_typed_object());
        return std::get<typed_data>(data_).class_name;
    }
    double date_ms() const {
        RTMPX_ASSERT(is_date());
        return std::get<date_data>(data_).ms;
    }
    std::int16_t date_timezone() const {
        RTMPX_ASSERT(is_date());
        return std::get<date_data>(data_).timezone;
    }
    std::vector<std::byte>& bytes() {
        RTMPX_ASSERT(is_byte_array());
        return std::get<std::vector<std::byte>>(data_);
    }
    const std::vector<std::byte>& bytes() const {
        RTMPX_ASSERT(is_byte_array());
        return std::get<std::vector<std::byte>>(data_);
    }
    std::vector<std::pair<value, value>>& entries() {
        RTMPX_ASSERT(is_dictionary());
        return std::get<entry_list>(data_);
    }
    const std::vector<std::pair<value, value>>& entries() const {
        RTMPX_ASSERT(is_dictionary());
        return std::get<entry_list>(data_);
    }

    /// Number of properties, elements or dictionary entries; 0 for every other kind.
    std::size_t size() const noexcept {
        if (const properties* props = props_if()) return props->size();
        if (const auto* elems = std::get_if<std::vector<value>>(&data_)) return elems->size();
        if (const auto* list = std::get_if<entry_list>(&data_)) return list->size();
        return 0;
    }

    /// Deep equality; numbers (and dates) compare equal when == holds or their bits match, so NaN == NaN.
    friend bool operator==(const value& a, const value& b);

private:
    struct date_data {
        double ms = 0;
        std::int16_t timezone = 0;
    };
    struct typed_data {
        std::string class_name;
        properties props;
    };
    using entry_list = std::vector<std::pair<value, value>>;
    using storage = std::variant<std::monostate, double, bool, std::string, properties, std::vector<value>, date_data,
                                 typed_data, std::vector<std::byte>, entry_list>;

    template <typename T, typename... Args>
    value(kind k, std::in_place_type_t<T> tag, Args&&... args) : data_(tag, std::forward<Args>(args)...), kind_(k) {}

    const properties* props_if() const noexcept {
        if (const auto* typed = std::get_if<typed_data>(&data_)) return &typed->props;
        return std::get_if<properties>(&data_);
    }
    static const value& null_value() noexcept {
        static const value instance;
        return instance;
    }
    static bool same_number(double a, double b) noexcept {
        return a == b || std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
    }
    static bool same_properties(const properties& a, const properties& b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (a[i].first != b[i].first || !(a[i].second == b[i].second)) return false;
        }
        return true;
    }

    storage data_;
    kind kind_ = kind::null;
};

inline bool operator==(const value& a, const value& b) {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
    case kind::null:
    case kind::undefined:
    case kind::unsupported: return true;
    case kind::number: return value::same_number(std::get<double>(a.data_), std::get<double>(b.data_));
    case kind::boolean: return std::get<bool>(a.data_) == std::get<bool>(b.data_);
    case kind::string:
    case kind::xml_document: return std::get<std::string>(a.data_) == std::get<std::string>(b.data_);
    case kind::object:
    case kind::ecma_array: return value::same_properties(std::get<properties>(a.data_), std::get<properties>(b.data_));
    case kind::typed_object: {
        const auto& x = std::get<value::typed_data>(a.data_);
        const auto& y = std::get<value::typed_data>(b.data_);
        return x.class_name == y.class_name && value::same_properties(x.props, y.props);
    }
    case kind::strict_array: {
        const auto& x = std::get<std::vector<value>>(a.data_);
        const auto& y = std::get<std::vector<value>>(b.data_);
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!(x[i] == y[i])) return false;
        }
        return true;
    }
    case kind::date: {
        const auto& x = std::get<value::date_data>(a.data_);
        const auto& y = std::get<value::date_data>(b.data_);
        return value::same_number(x.ms, y.ms) && x.timezone == y.timezone;
    }
    case kind::byte_array: return std::get<std::vector<std::byte>>(a.data_) == std::get<std::vector<std::byte>>(b.data_);
    case kind::dictionary: {
        const auto& x = std::get<value::entry_list>(a.data_);
        const auto& y = std::get<value::entry_list>(b.data_);
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!(x[i].first == y[i].first) || !(x[i].second == y[i].second)) return false;
        }
        return true;
    }
    }
    return false;
}

} // namespace amf0
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/value.hpp ----
// ---- include/rtmpx/amf/amf0.hpp ----
// AMF0: the encoder and the bounded decoder of amf0::value (with the AVM+ switch to AMF3).

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// ---- include/rtmpx/amf/amf3_decoder.hpp ----
// Bounded AMF3 decoding into amf0::value, for the AVM+ switch (0x11) inside AMF0 data.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

// ---- include/rtmpx/amf/wire.hpp ----
// What the AMF0 and AMF3 codecs share: type markers, byte writers and the bounded decode cursor.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// ---- include/rtmpx/detail/endian.hpp ----
// Big- and little-endian loads and stores on byte spans (no casts of wire bytes to structs).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace detail {

inline std::uint8_t u8(std::byte b) noexcept { return std::to_integer<std::uint8_t>(b); }

inline std::uint16_t load_be16(std::span<const std::byte> p) noexcept {
    return static_cast<std::uint16_t>((u8(p[0]) << 8) | u8(p[1]));
}
inline std::uint32_t load_be24(std::span<const std::byte> p) noexcept {
    return (std::uint32_t{u8(p[0])} << 16) | (std::uint32_t{u8(p[1])} << 8) | u8(p[2]);
}
inline std::uint32_t load_be32(std::span<const std::byte> p) noexcept {
    return (std::uint32_t{u8(p[0])} << 24) | (std::uint32_t{u8(p[1])} << 16) | (std::uint32_t{u8(p[2])} << 8) |
           u8(p[3]);
}
inline std::uint32_t load_le32(std::span<const std::byte> p) noexcept {
    return (std::uint32_t{u8(p[3])} << 24) | (std::uint32_t{u8(p[2])} << 16) | (std::uint32_t{u8(p[1])} << 8) |
           u8(p[0]);
}
inline std::uint64_t load_be64(std::span<const std::byte> p) noexcept {
    return (std::uint64_t{load_be32(p)} << 32) | load_be32(p.subspan(4));
}

inline void store_be16(std::span<std::byte> p, std::uint16_t v) noexcept {
    p[0] = std::byte(v >> 8);
    p[1] = std::byte(v & 0xff);
}
inline void store_be24(std::span<std::byte> p, std::uint32_t v) noexcept {
    p[0] = std::byte((v >> 16) & 0xff);
    p[1] = std::byte((v >> 8) & 0xff);
    p[2] = std::byte(v & 0xff);
}
inline void store_be32(std::span<std::byte> p, std::uint32_t v) noexcept {
    p[0] = std::byte(v >> 24);
    p[1] = std::byte((v >> 16) & 0xff);
    p[2] = std::byte((v >> 8) & 0xff);
    p[3] = std::byte(v & 0xff);
}
inline void store_le32(std::span<std::byte> p, std::uint32_t v) noexcept {
    p[0] = std::byte(v & 0xff);
    p[1] = std::byte((v >> 8) & 0xff);
    p[2] = std::byte((v >> 16) & 0xff);
    p[3] = std::byte(v >> 24);
}
inline void store_be64(std::span<std::byte> p, std::uint64_t v) noexcept {
    store_be32(p, static_cast<std::uint32_t>(v >> 32));
    store_be32(p.subspan(4), static_cast<std::uint32_t>(v));
}

/// Appends big-endian integers to a growing byte vector.
inline void put_u8(std::vector<std::byte>& out, std::uint8_t v) { out.push_back(std::byte(v)); }
inline void put_be16(std::vector<std::byte>& out, std::uint16_t v) {
    out.push_back(std::byte(v >> 8));
    out.push_back(std::byte(v & 0xff));
}
inline void put_be24(std::vector<std::byte>& out, std::uint32_t v) {
    out.push_back(std::byte((v >> 16) & 0xff));
    out.push_back(std::byte((v >> 8) & 0xff));
    out.push_back(std::byte(v & 0xff));
}
inline void put_be32(std::vector<std::byte>& out, std::uint32_t v) {
    put_be16(out, static_cast<std::uint16_t>(v >> 16));
    put_be16(out, static_cast<std::uint16_t>(v & 0xffff));
}
inline void put_le32(std::vector<std::byte>& out, std::uint32_t v) {
    out.push_back(std::byte(v & 0xff));
    out.push_back(std::byte((v >> 8) & 0xff));
    out.push_back(std::byte((v >> 16) & 0xff));
    out.push_back(std::byte(v >> 24));
}
inline void put_be64(std::vector<std::byte>& out, std::uint64_t v) {
    put_be32(out, static_cast<std::uint32_t>(v >> 32));
    put_be32(out, static_cast<std::uint32_t>(v));
}

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/detail/endian.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Appends the bytes of `text` (AMF strings are raw UTF-8; no validation either way).
inline void amf_put_text(std::vector<std::byte>& out, std::string_view text) {
    const std::size_t at = out.size();
    out.resize(at + text.size());
    std::transform(text.begin(), text.end(), out.begin() + static_cast<std::ptrdiff_t>(at),
                   [](char c) { return static_cast<std::byte>(c); });
}

inline void amf_put_double(std::vector<std::byte>& out, double d) { put_be64(out, std::bit_cast<std::uint64_t>(d)); }

inline std::size_t amf_saturating_add(std::size_t a, std::size_t b) noexcept {
    return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max() : a + b;
}

/**
 * Cursor and budgets shared by the AMF0 and AMF3 decoders during one decode call. Besides the
 * depth and element limits, bytes that references copy (AMF0 object references, AMF3 string,
 * trait and object references) are bounded by the input size plus 64 bytes per allowed
 * element, so a few bytes of references cannot expand into gigabytes of copies.
 */
struct amf_decode_context {
    amf_decode_context(std::span<const std::byte> input, const amf_limits& lim) noexcept
        : in(input),
          limits(lim),
          copy_budget(amf_saturating_add(
              input.size(), lim.max_elements > std::numeric_limits<std::size_t>::max() / 64
                                ? std::numeric_limits<std::size_t>::max()
                                : lim.max_elements * 64)) {}

    std::span<const std::byte> in;
    std::size_t pos = 0;
    amf_limits limits;
    std::size_t elements = 0;
    std::size_t copy_budget = 0;
    std::size_t replaying = 0;  ///< > 0 while a reference re-reads an earlier value
    std::error_code ec;

    bool fail(error e) noexcept {
        ec = make_error_code(e);
        return false;
    }
    std::size_t remaining() const noexcept { return in.size() - pos; }
    bool need(std::size_t n) noexcept { return n <= remaining() || fail(error::amf_truncated); }
    // The readers below require a successful need() first.
    std::uint8_t peek_u8() const noexcept { return u8(in[pos]); }
    std::uint8_t read_u8() noexcept { return u8(in[pos++]); }
    std::uint16_t read_be16() noexcept {
        const std::uint16_t v = load_be16(in.subspan(pos));
        pos += 2;
        return v;
    }
    std::uint32_t read_be32() noexcept {
        const std::uint32_t v = load_be32(in.subspan(pos));
        pos += 4;
        return v;
    }
    double read_double() noexcept {
        const double v = std::bit_cast<double>(load_be64(in.subspan(pos)));
        pos += 8;
        return v;
    }

    /// Counts one decoded value against max_elements.
    bool count_element() noexcept {
        if (elements >= limits.max_elements) return fail(error::amf_too_many_elements);
        ++elements;
        return true;
    }
    /// Checks that `n` more values would still fit, before room is reserved for them.
    bool room_for(std::size_t n) noexcept {
        return n <= limits.max_elements - std::min(elements, limits.max_elements) ||
               fail(error::amf_too_many_elements);
    }
    /// Entering a container whose parents number `depth`.
    bool enter(std::size_t depth) noexcept { return depth < limits.max_depth || fail(error::amf_depth_exceeded); }
    bool charge_copy(std::size_t n) noexcept {
        if (n > copy_budget) return fail(error::amf_too_many_elements);
        copy_budget -= n;
        return true;
    }

    /// The `len` input bytes at `offset` as a string; `copy` marks bytes materialized before.
    bool make_string(std::size_t offset, std::size_t len, bool copy, std::string& out) {
        if ((copy || replaying > 0) && !charge_copy(len)) return false;
        const auto src = in.subspan(offset, len);
        out.resize(len);
        std::transform(src.begin(), src.end(), out.begin(), [](std::byte b) { return static_cast<char>(b); });
        return true;
    }
    /// Reads `len` bytes at the cursor as a string.
    bool read_string(std::size_t len, std::string& out) {
        if (!need(len) || !make_string(pos, len, false, out)) return false;
        pos += len;
        return true;
    }
};

/// AMF0 type markers.
enum class amf0_marker : std::uint8_t {
    number = 0x00,
    boolean = 0x01,
    string = 0x02,
    object = 0x03,
    movieclip = 0x04,
    null = 0x05,
    undefined = 0x06,
    reference = 0x07,
    ecma_array = 0x08,
    object_end = 0x09,
    strict_array = 0x0a,
    date = 0x0b,
    long_string = 0x0c,
    unsupported = 0x0d,
    recordset = 0x0e,
    xml_document = 0x0f,
    typed_object = 0x10,
    avmplus = 0x11,
};

/// AMF3 type markers.
enum class amf3_marker : std::uint8_t {
    undefined = 0x00,
    null = 0x01,
    false_ = 0x02,
    true_ = 0x03,
    integer = 0x04,
    double_ = 0x05,
    string = 0x06,
    xml_document = 0x07,
    date = 0x08,
    array = 0x09,
    object = 0x0a,
    xml = 0x0b,
    byte_array = 0x0c,
    vector_int = 0x0d,
    vector_uint = 0x0e,
    vector_double = 0x0f,
    vector_object = 0x10,
    dictionary = 0x11,
};
} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/wire.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace detail {

/**
 * Reads one AMF3 value with its own string, trait and object reference tables. AMF3 kinds map
 * onto amf0::value: integers and doubles to number, XML and XMLDocument to xml_document, a dense
 * array to strict_array, an array with an associative part to ecma_array (associative pairs
 * first, then the dense elements keyed "0", "1", ...), an object with a class name to
 * typed_object, vectors to strict_array. An object reference re-reads the referenced bytes, so
 * the copy is charged against the limits like the original; a reference to a value still being
 * read (a cycle) is amf_bad_reference.
 */
class amf3_decoder {
public:
    explicit amf3_decoder(amf_decode_context& ctx) noexcept : ctx_(ctx) {}

    bool decode_value(std::size_t depth, amf0::value& out) {
        if (!ctx_.need(1)) return false;
        const std::size_t start = ctx_.pos;
        const auto marker = static_cast<amf3_marker>(ctx_.read_u8());
        switch (marker) {
        case amf3_marker::undefined: return scalar(out, amf0::value::undefined());
        case amf3_marker::null: return scalar(out, amf0::value::null());
        case amf3_marker::false_: return scalar(out, amf0::value(false));
        case amf3_marker::true_: return scalar(out, amf0::value(true));
        case amf3_marker::integer: {
            std::uint32_t v = 0;
            if (!ctx_.count_element() || !read_u29(v)) return false;
            // sign-extend the 29-bit two's complement value
            const std::int32_t i = (v & 0x10000000u) != 0 ? static_cast<std::int32_t>(v) - 0x20000000
                                                            : static_cast<std::int32_t>(v);
            out = amf0::value(static_cast<double>(i));
            return true;
        }
        case amf3_marker::double_:
            if (!ctx_.count_element() || !ctx_.need(8)) return false;
            out = amf0::value(ctx_.read_double());
            return true;
        case amf3_marker::string: {
            text t;
            std::string s;
            if (!ctx_.count_element() || !read_text(t) || !make(t, false, s)) return false;
            out = amf0::value(std::move(s));
            return true;
        }
        case amf3_marker::xml_document:
        case amf3_marker::xml: return decode_xml(start, depth, out);
        case amf3_marker::date: return decode_date(start, depth, out);
        case amf3_marker::array: return decode_array(start, depth, out);
        case amf3_marker::object: return decode_object(start, depth, out);
        case amf3_marker::byte_array: return decode_byte_array(start, depth, out);
        case amf3_marker::vector_int:
        case amf3_marker::vector_uint:
        case amf3_marker::vector_double: return decode_number_vector(marker, start, depth, out);
        case amf3_marker::vector_object: return decode_object_vector(start, depth, out);
        case amf3_marker::dictionary: return decode_dictionary(start, depth, out);
        }
        return ctx_.fail(error::amf_unknown_marker);
    }

private:
    /// Input bytes of a string; `copied` when they came through a reference.
    struct text {
        std::size_t offset = 0;
        std::size_t size = 0;
        bool copied = false;
    };
    struct traits {
        text class_name;
        std::vector<text> members;
        bool dynamic = false;
    };
    struct object_entry {
        std::size_t offset;  ///< of the marker
        bool complete;
    };
    static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

    bool scalar(amf0::value& out, amf0::value v) {
        if (!ctx_.count_element()) return false;
        out = std::move(v);
        return true;
    }

    bool read_u29(std::uint32_t& v) {
        v = 0;
        for (int i = 0; i < 3; ++i) {
            if (!ctx_.need(1)) return false;
            const std::uint8_t b = ctx_.read_u8();
            v = (v << 7) | (b & 0x7fu);
            if ((b & 0x80) == 0) return true;
        }
        if (!ctx_.need(1)) return false;
        v = (v << 8) | ctx_.read_u8();
        return true;
    }

    /// UTF-8-vr: a string reference or an inline string (non-empty ones enter the table).
    bool read_text(text& t) {
        std::uint32_t h = 0;
        if (!read_u29(h)) return false;
        if ((h & 1u) == 0) {
            const std::size_t index = h >> 1;
            if (index >= strings_.size()) return ctx_.fail(error::amf_bad_reference);
            t = strings_[index];
            t.copied = true;
            return true;
        }
        const std::size_t len = h >> 1;
        if (!ctx_.need(len)) return false;
        t = text{ctx_.pos, len, false};
        ctx_.pos += len;
        if (len > 0 && replay_ == 0) strings_.push_back(t);
        return true;
    }

    bool make(const text& t, bool copied, std::string& out) {
        return ctx_.make_string(t.offset, t.size, copied || t.copied, out);
    }

    /// The U29 header of a value that may be an object reference. A reference is resolved into
    /// `out` and `resolved` set; otherwise `payload` is the header without its low bit.
    bool header(std::size_t depth, amf0::value& out, std::uint32_t& payload, bool& resolved) {
        std::uint32_t h = 0;
        if (!read_u29(h)) return false;
        payload = h >> 1;
        resolved = (h & 1u) == 0;
        return !resolved || replay(payload, depth, out);
    }

    bool replay(std::uint32_t index, std::size_t depth, amf0::value& out) {
        if (index >= objects_.size() || !objects_[index].complete) return ctx_.fail(error::amf_bad_reference);
        const std::size_t resume = ctx_.pos;
        ctx_.pos = objects_[index].offset;
        ++replay_;
        ++ctx_.replaying;
        const bool ok = decode_value(depth, out);
        --replay_;
        --ctx_.replaying;
        ctx_.pos = resume;
        return ok;
    }

    std::size_t begin_object(std::size_t offset) {
        if (replay_ > 0) return no_slot;  // a copy is not a new table entry
        objects_.push_back({offset, false});
        return objects_.size() - 1;
    }
    void end_object(std::size_t slot) noexcept {
        if (slot != no_slot) objects_[slot].complete = true;
    }

    bool decode_xml(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t len = 0;
        bool resolved = false;
        if (!header(depth, out, len, resolved)) return false;
        if (resolved) return true;
        std::string s;
        if (!ctx_.count_element() || !ctx_.read_string(len, s)) return false;
        end_object(begin_object(start));
        out = amf0::value::xml_document(std::move(s));
        return true;
    }

    bool decode_date(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t unused = 0;
        bool resolved = false;
        if (!header(depth, out, unused, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.need(8)) return false;
        end_object(begin_object(start));
        out = amf0::value::date(ctx_.read_double());
        return true;
    }

    bool decode_byte_array(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t len = 0;
        bool resolved = false;
        if (!header(depth, out, len, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.need(len)) return false;
        if (ctx_.replaying > 0 && !ctx_.charge_copy(len)) return false;
        const auto src = ctx_.in.subspan(ctx_.pos, len);
        std::vector<std::byte> data(src.begin(), src.end());
        ctx_.pos += len;
        end_object(begin_object(start));
        out = amf0::value::byte_array(std::move(data));
        return true;
    }

    bool decode_array(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t dense = 0;
        bool resolved = false;
        if (!header(depth, out, dense, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth)) return false;
        const std::size_t slot = begin_object(start);
        amf0::properties assoc;
        for (;;) {
            text key;
            if (!read_text(key)) return false;
            if (key.size == 0) break;
            std::string name;
            amf0::value v;
            if (!make(key, false, name) || !decode_value(depth + 1, v)) return false;
            assoc.emplace_back(std::move(name), std::move(v));
        }
        // every element takes at least one byte: check before reserving
        if (dense > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(dense)) return false;
        std::vector<amf0::value> items;
        items.reserve(dense);
        for (std::uint32_t i = 0; i < dense; ++i) {
            amf0::value v;
            if (!decode_value(depth + 1, v)) return false;
            items.push_back(std::move(v));
        }
        end_object(slot);
        if (assoc.empty()) {
            out = amf0::value::strict_array(std::move(items));
            return true;
        }
        assoc.reserve(assoc.size() + items.size());
        for (std::size_t i = 0; i < items.size(); ++i) assoc.emplace_back(std::to_string(i), std::move(items[i]));
        out = amf0::value::ecma_array(std::move(assoc));
        return true;
    }

    bool decode_object(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t h = 0;
        bool resolved = false;
        if (!header(depth, out, h, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth)) return false;
        // h (the header without its low bit): bit 0 inline traits, bit 1 externalizable,
        // bit 2 dynamic, the rest the sealed member count
        traits t;
        bool traits_copied = false;
        if ((h & 1u) == 0) {
            const std::size_t index = h >> 1;
            if (index >= traits_.size()) return ctx_.fail(error::amf_bad_reference);
            // every sealed member needs a value of at least one byte: check before copying
            if (traits_[index].members.size() > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
            t = traits_[index];
            traits_copied = true;
        } else {
            if ((h & 2u) != 0) return ctx_.fail(error::amf3_externalizable);
            t.dynamic = (h & 4u) != 0;
            const std::size_t sealed = h >> 3;
            if (!read_text(t.class_name)) return false;
            if (sealed > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
            t.members.reserve(sealed);
            for (std::size_t i = 0; i < sealed; ++i) {
                text name;
                if (!read_text(name)) return false;
                t.members.push_back(name);
            }
            if (replay_ == 0) traits_.push_back(t);
        }
        const std::size_t slot = begin_object(start);
        if (t.members.size() > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(t.members.size())) return false;
        amf0::properties props;
        props.reserve(t.members.size());
        for (const text& member : t.members) {
            std::string name;
            amf0::value v;
            if (!make(member, traits_copied, name) || !decode_value(depth + 1, v)) return false;
            props.emplace_back(std::move(name), std::move(v));
        }
        if (t.dynamic) {
            for (;;) {
                text key;
                if (!read_text(key)) return false;
                if (key.size == 0) break;
                std::string name;
                amf0::value v;
                if (!make(key, false, name) || !decode_value(depth + 1, v)) return false;
                props.emplace_back(std::move(name), std::move(v));
            }
        }
        std::string class_name;
        if (!make(t.class_name, traits_copied, class_name)) return false;
        end_object(slot);
        out = class_name.empty() ? amf0::value::object(std::move(props))
                                 : amf0::value::typed_object(std::move(class_name), std::move(props));
        return true;
    }

    bool decode_number_vector(amf3_marker marker, std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t count = 0;
        bool resolved = false;
        if (!header(depth, out, count, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth) || !ctx_.need(1)) return false;
        ctx_.read_u8();  // fixed-length flag
        const std::size_t width = marker == amf3_marker::vector_double ? 8 : 4;
        if (count > ctx_.remaining() / width) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(count)) return false;
        std::vector<amf0::value> items;
        items.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            ctx_.count_element();  // cannot fail after room_for
            if (marker == amf3_marker::vector_double) {
                items.emplace_back(ctx_.read_double());
            } else if (marker == amf3_marker::vector_int) {
                items.emplace_back(static_cast<double>(static_cast<std::int32_t>(ctx_.read_be32())));
            } else {
                items.emplace_back(static_cast<double>(ctx_.read_be32()));
            }
        }
        end_object(begin_object(start));
        out = amf0::value::strict_array(std::move(items));
        return true;
    }

    bool decode_object_vector(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t count = 0;
        bool resolved = false;
        if (!header(depth, out, count, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth) || !ctx_.need(1)) return false;
        ctx_.read_u8();  // fixed-length flag
        const std::size_t slot = begin_object(start);
        text type_name;  // the element class name; amf0::value has nowhere to keep it
        if (!read_text(type_name)) return false;
        if (count > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(count)) return false;
        std::vector<amf0::value> items;
        items.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            amf0::value v;
            if (!decode_value(depth + 1, v)) return false;
            items.push_back(std::move(v));
        }
        end_object(slot);
        out = amf0::value::strict_array(std::move(items));
        return true;
    }

    bool decode_dictionary(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t count = 0;
        bool resolved = false;
        if (!header(depth, out, count, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth) || !ctx_.need(1)) return false;
        ctx_.read_u8();  // weak-keys flag
        const std::size_t slot = begin_object(start);
        if (count > ctx_.remaining() / 2) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(std::size_t{count} * 2)) return false;
        std::vector<std::pair<amf0::value, amf0::value>> pairs;
        pairs.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            amf0::value key;
            amf0::value v;
            if (!decode_value(depth + 1, key) || !decode_value(depth + 1, v)) return false;
            pairs.emplace_back(std::move(key), std::move(v));
        }
        end_object(slot);
        out = amf0::value::dictionary(std::move(pairs));
        return true;
    }

    amf_decode_context& ctx_;
    std::vector<text> strings_;
    std::vector<traits> traits_;
    std::vector<object_entry> objects_;
    std::size_t replay_ = 0;
};

inline bool amf3_decode_value(amf_decode_context& ctx, std::size_t depth, amf0::value& out) {
    amf3_decoder decoder(ctx);
    return decoder.decode_value(depth, out);
}

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/amf3_decoder.hpp ----
// ---- include/rtmpx/amf/amf3_encoder.hpp ----
// A small AMF3 encoder for amf0::value, used for the AMF3-only kinds behind the AVM+ switch.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace detail {

inline void amf3_encode(const amf0::value& v, std::vector<std::byte>& out);

inline void amf3_put_marker(std::vector<std::byte>& out, amf3_marker m) { put_u8(out, static_cast<std::uint8_t>(m)); }

/// The variable-length U29: 7 bits per byte with a continuation bit, the fourth byte all 8 bits.
inline void amf3_put_u29(std::vector<std::byte>& out, std::uint32_t v) {
    RTMPX_ASSERT(v <= 0x1fffffffu);
    if (v < 0x80) {
        put_u8(out, static_cast<std::uint8_t>(v));
    } else if (v < 0x4000) {
        put_u8(out, static_cast<std::uint8_t>(((v >> 7) & 0x7f) | 0x80));
        put_u8(out, static_cast<std::uint8_t>(v & 0x7f));
    } else if (v < 0x200000) {
        put_u8(out, static_cast<std::uint8_t>(((v >> 14) & 0x7f) | 0x80));
        put_u8(out, static_cast<std::uint8_t>(((v >> 7) & 0x7f) | 0x80));
        put_u8(out, static_cast<std::uint8_t>(v & 0x7f));
    } else {
        put_u8(out, static_cast<std::uint8_t>(((v >> 22) & 0x7f) | 0x80));
        put_u8(out, static_cast<std::uint8_t>(((v >> 15) & 0x7f) | 0x80));
        put_u8(out, static_cast<std::uint8_t>(((v >> 8) & 0x7f) | 0x80));
        put_u8(out, static_cast<std::uint8_t>(v & 0xff));
    }
}

/// A U29 whose low bit 1 says "inline, not a reference", the length or count in the other 28.
inline void amf3_put_inline(std::vector<std::byte>& out, std::size_t n) {
    RTMPX_ASSERT(n <= 0x0fffffffu);
    amf3_put_u29(out, (static_cast<std::uint32_t>(n) << 1) | 1u);
}

/// UTF-8-vr, always inline (this encoder never writes references).
inline void amf3_put_string(std::vector<std::byte>& out, std::string_view s) {
    amf3_put_inline(out, s.size());
    amf_put_text(out, s);
}

/// An object with inline traits: sealed members (class name, member names, values) or, for an
/// anonymous object whose keys are all non-empty, dynamic members ended by the empty string.
inline void amf3_encode_object(std::string_view class_name, const amf0::properties& props, bool sealed,
                               std::vector<std::byte>& out) {
    amf3_put_marker(out, amf3_marker::object);
    if (sealed) {
        RTMPX_ASSERT(props.size() <= 0x01ffffffu);
        amf3_put_u29(out, (static_cast<std::uint32_t>(props.size()) << 4) | 0x03u);  // inline traits, not dynamic
        amf3_put_string(out, class_name);
        for (const amf0::property& p : props) amf3_put_string(out, p.first);
        for (const amf0::property& p : props) amf3_encode(p.second, out);
    } else {
        amf3_put_u29(out, 0x0bu);  // inline traits, dynamic, no sealed members
        amf3_put_string(out, class_name);
        for (const amf0::property& p : props) {
            amf3_put_string(out, p.first);
            amf3_encode(p.second, out);
        }
        amf3_put_string(out, {});
    }
}

inline bool amf3_has_empty_key(const amf0::properties& props) noexcept {
    for (const amf0::property& p : props) {
        if (p.first.empty()) return true;
    }
    return false;
}

/**
 * Writes `v` as one AMF3 value. AMF3 has no time zone on dates (written as 0 offset, i.e.
 * dropped), no `unsupported` (written as undefined), and cannot hold an empty key in an
 * associative array (such an ECMA array is written as an anonymous object); an empty ECMA array
 * reads back as an empty strict array.
 */
inline void amf3_encode(const amf0::value& v, std::vector<std::byte>& out) {
    using amf0::kind;
    switch (v.type()) {
    case kind::number: {
        const double d = v.as_number();
        if (d >= -268435456.0 && d <= 268435455.0 && std::trunc(d) == d && !(d == 0 && std::signbit(d))) {
            amf3_put_marker(out, amf3_marker::integer);
            amf3_put_u29(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(d)) & 0x1fffffffu);
        } else {
            amf3_put_marker(out, amf3_marker::double_);
            amf_put_double(out, d);
        }
        return;
    }
    case kind::boolean: amf3_put_marker(out, v.as_bool() ? amf3_marker::true_ : amf3_marker::false_); return;
    case kind::string:
        amf3_put_marker(out, amf3_marker::string);
        amf3_put_string(out, v.as_string());
        return;
    case kind::null: amf3_put_marker(out, amf3_marker::null); return;
    case kind::undefined:
    case kind::unsupported: amf3_put_marker(out, amf3_marker::undefined); return;
    case kind::object: amf3_encode_object({}, v.props(), amf3_has_empty_key(v.props()), out); return;
    case kind::typed_object: amf3_encode_object(v.class_name(), v.props(), true, out); return;
    case kind::ecma_array:
        if (amf3_has_empty_key(v.props())) {
            amf3_encode_object({}, v.props(), true, out);
            return;
        }
        amf3_put_marker(out, amf3_marker::array);
        amf3_put_inline(out, 0);  // no dense part
        for (const amf0::property& p : v.props()) {
            amf3_put_string(out, p.first);
            amf3_encode(p.second, out);
        }
        amf3_put_string(out, {});
        return;
    case kind::strict_array:
        amf3_put_marker(out, amf3_marker::array);
        amf3_put_inline(out, v.size());
        amf3_put_string(out, {});  // no associative part
        for (const amf0::value& e : v.elements()) amf3_encode(e, out);
        return;
    case kind::date:
        amf3_put_marker(out, amf3_marker::date);
        amf3_put_inline(out, 0);
        amf_put_double(out, v.date_ms());
        return;
    case kind::xml_document:
        amf3_put_marker(out, amf3_marker::xml_document);
        amf3_put_string(out, v.as_string());
        return;
    case kind::byte_array:
        amf3_put_marker(out, amf3_marker::byte_array);
        amf3_put_inline(out, v.bytes().size());
        out.insert(out.end(), v.bytes().begin(), v.bytes().end());
        return;
    case kind::dictionary:
        amf3_put_marker(out, amf3_marker::dictionary);
        amf3_put_inline(out, v.size());
        put_u8(out, 0);  // strong keys
        for (const auto& [key, val] : v.entries()) {
            amf3_encode(key, out);
            amf3_encode(val, out);
        }
        return;
    }
}

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/amf3_encoder.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace detail {

inline void amf0_put_marker(std::vector<std::byte>& out, amf0_marker m) { put_u8(out, static_cast<std::uint8_t>(m)); }

inline void amf0_put_short_text(std::vector<std::byte>& out, std::string_view text) {
    RTMPX_ASSERT(text.size() <= 0xffff);
    put_be16(out, static_cast<std::uint16_t>(text.size()));
    amf_put_text(out, text);
}

inline void amf0_encode_value(const amf0::value& v, std::vector<std::byte>& out);

inline void amf0_encode_properties(const amf0::properties& props, std::vector<std::byte>& out) {
    for (const amf0::property& p : props) {
        amf0_put_short_text(out, p.first);
        amf0_encode_value(p.second, out);
    }
    put_be16(out, 0);
    amf0_put_marker(out, amf0_marker::object_end);
}

inline void amf0_encode_value(const amf0::value& v, std::vector<std::byte>& out) {
    using amf0::kind;
    switch (v.type()) {
    case kind::number:
        amf0_put_marker(out, amf0_marker::number);
        amf_put_double(out, v.as_number());
        return;
    case kind::boolean:
        amf0_put_marker(out, amf0_marker::boolean);
        put_u8(out, v.as_bool() ? 1 : 0);
        return;
    case kind::string: {
        const std::string_view s = v.as_string();
        if (s.size() <= 0xffff) {
            amf0_put_marker(out, amf0_marker::string);
            amf0_put_short_text(out, s);
        } else {
            RTMPX_ASSERT(s.size() <= 0xffffffffu);
            amf0_put_marker(out, amf0_marker::long_string);
            put_be32(out, static_cast<std::uint32_t>(s.size()));
            amf_put_text(out, s);
        }
        return;
    }
    case kind::object:
        amf0_put_marker(out, amf0_marker::object);
        amf0_encode_properties(v.props(), out);
        return;
    case kind::null: amf0_put_marker(out, amf0_marker::null); return;
    case kind::undefined: amf0_put_marker(out, amf0_marker::undefined); return;
    case kind::unsupported: amf0_put_marker(out, amf0_marker::unsupported); return;
    case kind::ecma_array:
        RTMPX_ASSERT(v.size() <= 0xffffffffu);
        amf0_put_marker(out, amf0_marker::ecma_array);
        put_be32(out, static_cast<std::uint32_t>(v.size()));
        amf0_encode_properties(v.props(), out);
        return;
    case kind::strict_array:
        RTMPX_ASSERT(v.size() <= 0xffffffffu);
        amf0_put_marker(out, amf0_marker::strict_array);
        put_be32(out, static_cast<std::uint32_t>(v.size()));
        for (const amf0::value& e : v.elements()) amf0_encode_value(e, out);
        return;
    case kind::date:
        amf0_put_marker(out, amf0_marker::date);
        amf_put_double(out, v.date_ms());
        put_be16(out, static_cast<std::uint16_t>(v.date_timezone()));
        return;
    case kind::xml_document: {
        const std::string_view s = v.as_string();
        RTMPX_ASSERT(s.size() <= 0xffffffffu);
        amf0_put_marker(out, amf0_marker::xml_document);
        put_be32(out, static_cast<std::uint32_t>(s.size()));
        amf_put_text(out, s);
        return;
    }
    case kind::typed_object:
        amf0_put_marker(out, amf0_marker::typed_object);
        amf0_put_short_text(out, v.class_name());
        amf0_encode_properties(v.props(), out);
        return;
    case kind::byte_array:
    case kind::dictionary:
        amf0_put_marker(out, amf0_marker::avmplus);
        amf3_encode(v, out);
        return;
    }
}

/**
 * The AMF0 reader. Complex values (objects, ECMA arrays, strict arrays, typed objects) are
 * numbered in the order they begin; a reference re-reads the referenced bytes, which yields the
 * deep copy and charges every copied element against the limits again.
 */
class amf0_decoder {
public:
    explicit amf0_decoder(amf_decode_context& ctx) noexcept : ctx_(ctx) {}

    /// Decodes the value at the cursor; `depth` counts the containers around it.
    bool decode_value(std::size_t depth, amf0::value& out) {
        if (!ctx_.need(1)) return false;
        const std::size_t start = ctx_.pos;
        const auto marker = static_cast<amf0_marker>(ctx_.read_u8());
        if (marker == amf0_marker::reference) return decode_reference(depth, out);
        if (marker == amf0_marker::avmplus) return amf3_decode_value(ctx_, depth, out);
        if (!ctx_.count_element()) return false;
        switch (marker) {
        case amf0_marker::number:
            if (!ctx_.need(8)) return false;
            out = amf0::value(ctx_.read_double());
            return true;
        case amf0_marker::boolean:
            if (!ctx_.need(1)) return false;
            out = amf0::value(ctx_.read_u8() != 0);
            return true;
        case amf0_marker::string:
        case amf0_marker::long_string: {
            const std::size_t width = marker == amf0_marker::string ? 2 : 4;
            if (!ctx_.need(width)) return false;
            const std::size_t len = width == 2 ? ctx_.read_be16() : ctx_.read_be32();
            std::string s;
            if (!ctx_.read_string(len, s)) return false;
            out = amf0::value(std::move(s));
            return true;
        }
        case amf0_marker::xml_document: {
            if (!ctx_.need(4)) return false;
            std::string s;
            if (!ctx_.read_string(ctx_.read_be32(), s)) return false;
            out = amf0::value::xml_document(std::move(s));
            return true;
        }
        case amf0_marker::null: out = amf0::value::null(); return true;
        case amf0_marker::undefined: out = amf0::value::undefined(); return true;
        case amf0_marker::unsupported: out = amf0::value::unsupported(); return true;
        case amf0_marker::date: {
            if (!ctx_.need(10)) return false;
            const double ms = ctx_.read_double();
            out = amf0::value::date(ms, static_cast<std::int16_t>(ctx_.read_be16()));
            return true;
        }
        case amf0_marker::object:
        case amf0_marker::ecma_array:
        case amf0_marker::typed_object: {
            if (!ctx_.enter(depth)) return false;
            const std::size_t slot = begin_complex(start);
            std::string class_name;
            if (marker == amf0_marker::ecma_array) {
                if (!ctx_.need(4)) return false;
                ctx_.read_be32();  // a count hint only; the object end decides
            } else if (marker == amf0_marker::typed_object) {
                if (!ctx_.need(2) || !ctx_.read_string(ctx_.read_be16(), class_name)) return false;
            }
            amf0::properties props;
            if (!decode_properties(depth + 1, props)) return false;
            end_complex(slot);
            if (marker == amf0_marker::object) {
                out = amf0::value::object(std::move(props));
            } else if (marker == amf0_marker::ecma_array) {
                out = amf0::value::ecma_array(std::move(props));
            } else {
                out = amf0::value::typed_object(std::move(class_name), std::move(props));
            }
            return true;
        }
        case amf0_marker::strict_array: {
            if (!ctx_.enter(depth) || !ctx_.need(4)) return false;
            const std::size_t slot = begin_complex(start);
            const std::uint32_t count = ctx_.read_be32();
            // every element takes at least one byte: check before reserving
            if (count > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
            if (!ctx_.room_for(count)) return false;
            std::vector<amf0::value> elements;
            elements.reserve(count);
            for (std::uint32_t i = 0; i < count; ++i) {
                amf0::value e;
                if (!decode_value(depth + 1, e)) return false;
                elements.push_back(std::move(e));
            }
            end_complex(slot);
            out = amf0::value::strict_array(std::move(elements));
            return true;
        }
        case amf0_marker::object_end: return ctx_.fail(error::amf_malformed);
        case amf0_marker::movieclip:
        case amf0_marker::recordset:
        default: return ctx_.fail(error::amf_unknown_marker);
        }
    }

private:
    struct complex_entry {
        std::size_t offset;  ///< of the marker
        bool complete;
    };
    static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

    std::size_t begin_complex(std::size_t offset) {
        if (replay_ > 0) return no_slot;  // a copy is not a new table entry
        table_.push_back({offset, false});
        return table_.size() - 1;
    }
    void end_complex(std::size_t slot) noexcept {
        if (slot != no_slot) table_[slot].complete = true;
    }

    /// Properties up to the object end: an empty key followed by the 0x09 marker.
    bool decode_properties(std::size_t depth, amf0::properties& props) {
        for (;;) {
            if (!ctx_.need(2)) return false;
            const std::uint16_t len = ctx_.read_be16();
            if (len == 0) {
                if (!ctx_.need(1)) return false;
                if (ctx_.peek_u8() == static_cast<std::uint8_t>(amf0_marker::object_end)) {
                    ++ctx_.pos;
                    return true;
                }
            }
            std::string key;
            if (!ctx_.read_string(len, key)) return false;
            amf0::value v;
            if (!decode_value(depth, v)) return false;
            props.emplace_back(std::move(key), std::move(v));
        }
    }

    bool decode_reference(std::size_t depth, amf0::value& out) {
        if (!ctx_.need(2)) return false;
        const std::uint16_t index = ctx_.read_be16();
        if (index >= table_.size() || !table_[index].complete) return ctx_.fail(error::amf_bad_reference);
        const std::size_t resume = ctx_.pos;
        ctx_.pos = table_[index].offset;
        ++replay_;
        ++ctx_.replaying;
        const bool ok = decode_value(depth, out);
        --replay_;
        --ctx_.replaying;
        ctx_.pos = resume;
        return ok;
    }

    amf_decode_context& ctx_;
    std::vector<complex_entry> table_;
    std::size_t replay_ = 0;
};

} // namespace detail

namespace amf0 {

/// Appends the AMF0 encoding of `v`. Strings over 65535 bytes become long strings; byte arrays
/// and dictionaries (AMF3-only kinds) are written as an AVM+ switch followed by their AMF3 form.
/// Preconditions: keys and class names up to 65535 bytes, other lengths and counts below 2^32.
inline void encode(const value& v, std::vector<std::byte>& out) { detail::amf0_encode_value(v, out); }

inline std::vector<std::byte> encode(const value& v) {
    std::vector<std::byte> out;
    detail::amf0_encode_value(v, out);
    return out;
}

/**
 * Decodes one value from the front of `in` into `out`. Returns the bytes consumed; on failure
 * returns 0, sets `ec` and leaves `out` alone.
 */
inline std::size_t decode(std::span<const std::byte> in, value& out, std::error_code& ec,
                          const amf_limits& limits = {}) {
    detail::amf_decode_context ctx(in, limits);
    detail::amf0_decoder decoder(ctx);
    value v;
    if (!decoder.decode_value(0, v)) {
        ec = ctx.ec;
        return 0;
    }
    ec.clear();
    out = std::move(v);
    return ctx.pos;
}

/**
 * Decodes values until `in` ends (a command or data message body). `out` is cleared first; on
 * failure it keeps the values decoded before the bad one and `ec` says why. The limits and the
 * reference table span the whole call.
 */
inline bool decode_all(std::span<const std::byte> in, std::vector<value>& out, std::error_code& ec,
                       const amf_limits& limits = {}) {
    out.clear();
    detail::amf_decode_context ctx(in, limits);
    detail::amf0_decoder decoder(ctx);
    while (ctx.pos < in.size()) {
        value v;
        if (!decoder.decode_value(0, v)) {
            ec = ctx.ec;
            return false;
        }
        out.push_back(std::move(v));
    }
    ec.clear();
    return true;
}

} // namespace amf0
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/amf0.hpp ----
// ---- include/rtmpx/amf/document.hpp ----
// AMF0 decoded into views over the message bytes: one flat, reusable array of nodes, no copies.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace amf0 {

/**
 * One decoded value of a `document`. Strings, keys and class names are views into the decoded
 * bytes. A container's properties (or elements) follow it in the node array; `end` is the
 * index one past its last descendant, so siblings are found by skipping.
 */
struct node {
    static constexpr std::uint32_t no_amf3 = std::numeric_limits<std::uint32_t>::max();

    kind type = kind::null;
    std::int16_t timezone = 0;      ///< a date's time zone, in minutes
    std::uint32_t children = 0;     ///< properties or elements directly inside (containers)
    std::uint32_t end = 0;          ///< one past this node's last descendant
    std::uint32_t amf3 = no_amf3;   ///< an AVM+ value: its index among the document's AMF3 values
    std::string_view key;           ///< the property name, inside an object or ECMA array
    std::string_view text;          ///< a string's or XML document's text; a typed object's class name
    double number = 0;              ///< a number; a date in ms since the epoch; a boolean as 0 or 1
};

/**
 * A command or data message body decoded as views (`amf0::decode_all`'s counterpart without
 * copies): decoding allocates nothing once the document's arrays have grown to the message's
 * size, so one document reused for every message decodes at the speed of a pointer walk.
 *
 * The bytes decoded must outlive the document's use (its strings point into them). The same
 * limits and errors as `decode_all`, which accepts and refuses the same inputs; an AMF0 reference
 * becomes a copy of the nodes it names, so readers never see references. An AVM+ (AMF3) value is decoded
 * into an owning `amf0::value`, reachable with `node_ref::amf3_value()`.
 *
 *     amf0::document doc;
 *     if (doc.decode(body, ec)) {
 *         std::string_view name = doc[0].as_string();
 *         std::string_view app = doc[2]["app"].as_string();
 *     }
 */
class document {
public:
    class node_ref;

    /// Decodes values until `body` ends, replacing what the document held. On failure `ec`
    /// says why and the document holds nothing.
    bool decode(std::span<const std::byte> body, std::error_code& ec, const amf_limits& limits = {});

    /// Top-level values.
    std::size_t size() const noexcept { return top_.size(); }
    bool empty() const noexcept { return top_.empty(); }
    /// The top-level value `i`, or a missing one (null, `exists()` false).
    node_ref operator[](std::size_t i) const noexcept;
    /// Every node, in wire order (containers before their contents).
    std::span<const node> nodes() const noexcept { return nodes_; }

private:
    friend class node_ref;
    bool decode_value(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key);
    bool decode_reference(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key);
    // The `len` bytes at the cursor; bytes read again for a reference count as copied, as in
    // `decode_all`, so that both accept and refuse the same inputs.
    static bool take_text(detail::amf_decode_context& ctx, std::size_t len, std::string_view& out) {
        if (!ctx.need(len) || (ctx.replaying > 0 && !ctx.charge_copy(len))) return false;
        out = {reinterpret_cast<const char*>(ctx.in.data() + ctx.pos), len};
        ctx.pos += len;
        return true;
    }
    std::size_t begin_complex(std::size_t offset) {
        if (replay_ > 0) return table_.size();  // a copy is not a new table entry
        table_.push_back({offset, false});
        return table_.size() - 1;
    }
    void end_complex(std::size_t slot) noexcept {
        if (slot < table_.size()) table_[slot].complete = true;
    }
    static const node& missing() noexcept {
        static const node n;
        return n;
    }

    struct complex_entry {
        std::size_t offset;  ///< of its marker in the body
        bool complete;
    };

    std::vector<node> nodes_;
    std::vector<std::uint32_t> top_;
    std::vector<complex_entry> table_;  ///< AMF0 complex values in the order they begin
    std::size_t replay_ = 0;            ///< > 0 while a reference reads an earlier value again
    std::vector<value> amf3_;
};

/// A view of one node of a document; lenient like `value`: a wrong kind yields the fallback.
class document::node_ref {
public:
    node_ref(const document& doc, const node& n) noexcept : doc_(&doc), node_(&n) {}

    /// False for what a lookup did not find.
    bool exists() const noexcept { return node_ != &missing(); }
    kind type() const noexcept { return node_->type; }
    bool is_number() const noexcept { return type() == kind::number; }
    bool is_boolean() const noexcept { return type() == kind::boolean; }
    bool is_string() const noexcept { return type() == kind::string; }
    bool is_null() const noexcept { return type() == kind::null; }
    bool is_object() const noexcept { return type() == kind::object; }
    bool has_properties() const noexcept {
        return type() == kind::object || type() == kind::ecma_array || type() == kind::typed_object;
    }
    std::string_view key() const noexcept { return node_->key; }

    double as_number(double fallback = 0) const noexcept {
        if (const value* v = amf3_value()) return v->as_number(fallback);
        return type() == kind::number ? node_->number : fallback;
    }
    bool as_bool(bool fallback = false) const noexcept {
        if (const value* v = amf3_value()) return v->as_bool(fallback);
        return type() == kind::boolean ? node_->number != 0 : fallback;
    }
    /// A string's text (an AMF3 string's too), or `fallback`.
    std::string_view as_string(std::string_view fallback = {}) const noexcept {
        if (const value* v = amf3_value()) return v->as_string(fallback);
        return type() == kind::string ? node_->text : fallback;
    }
    /// A typed object's class name; an XML document's text.
    std::string_view text() const noexcept { return node_->text; }
    double date_ms() const noexcept { return type() == kind::date ? node_->number : 0; }
    std::int16_t date_timezone() const noexcept { return node_->timezone; }
    /// The decoded value of an AVM+ (AMF3) node, or null for an AMF0 one.
    const value* amf3_value() const noexcept {
        return node_->amf3 == node::no_amf3 ? nullptr : &doc_->amf3_[node_->amf3];
    }

    /// Properties or elements directly inside (0 for other kinds and for AMF3 values).
    std::size_t size() const noexcept { return node_->children; }

    class iterator {
    public:
        using value_type = node_ref;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const document* d, const node* n) noexcept : doc_(d), node_(n) {}
        node_ref operator*() const noexcept { return {*doc_, *node_}; }
        iterator& operator++() noexcept {
            node_ = doc_->nodes_.data() + node_->end;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator before = *this;
            ++*this;
            return before;
        }
        bool operator==(const iterator& o) const noexcept { return node_ == o.node_; }

    private:
        const document* doc_ = nullptr;
        const node* node_ = nullptr;
    };
    /// The properties or elements, in wire order.
    iterator begin() const noexcept {
        return {doc_, node_->children == 0 ? end_node() : node_ + 1};
    }
    iterator end() const noexcept { return {doc_, end_node()}; }

    /// The first property named `name`, or a missing node.
    node_ref operator[](std::string_view name) const noexcept {
        if (has_properties()) {
            for (node_ref p : *this) {
                if (p.key() == name) return p;
            }
        }
        return {*doc_, missing()};
    }
    /// Property or element `i`, or a missing node.
    node_ref operator[](std::size_t i) const noexcept {
        if (i >= size()) return {*doc_, missing()};
        auto it = begin();
        while (i-- > 0) ++it;
        return *it;
    }

    /// An owning copy, as `decode_all` would have produced it.
    value to_value() const {
        if (const value* v = amf3_value()) return *v;
        switch (type()) {
        case kind::number: return value(node_->number);
        case kind::boolean: return value(node_->number != 0);
        case kind::string: return value(std::string(node_->text));
        case kind::null: return value::null();
        case kind::undefined: return value::undefined();
        case kind::unsupported: return value::unsupported();
        case kind::date: return value::date(node_->number, node_->timezone);
        case kind::xml_document: return value::xml_document(std::string(node_->text));
        case kind::strict_array: {
            std::vector<value> items;
            items.reserve(size());
            for (node_ref e : *this) items.push_back(e.to_value());
            return value::strict_array(std::move(items));
        }
        case kind::object:
        case kind::ecma_array:
        case kind::typed_object: {
            properties props;
            props.reserve(size());
            for (node_ref p : *this) props.emplace_back(std::string(p.key()), p.to_value());
            if (type() == kind::object) return value::object(std::move(props));
            if (type() == kind::ecma_array) return value::ecma_array(std::move(props));
            return value::typed_object(std::string(node_->text), std::move(props));
        }
        case kind::byte_array:
        case kind::dictionary: break;  // AMF3 only: amf3_value() above
        }
        return value::null();
    }

private:
    const node* end_node() const noexcept { return doc_->nodes_.data() + node_->end; }

    const document* doc_;
    const node* node_;
};

inline document::node_ref document::operator[](std::size_t i) const noexcept {
    if (i >= top_.size()) return {*this, missing()};
    return {*this, nodes_[top_[i]]};
}

inline bool document::decode(std::span<const std::byte> body, std::error_code& ec, const amf_limits& limits) {
    nodes_.clear();
    top_.clear();
    table_.clear();
    amf3_.clear();
    replay_ = 0;
    detail::amf_decode_context ctx(body, limits);
    while (ctx.pos < body.size()) {
        top_.push_back(static_cast<std::uint32_t>(nodes_.size()));
        if (!decode_value(ctx, 0, {})) {
            ec = ctx.ec;
            nodes_.clear();
            top_.clear();
            amf3_.clear();
            return false;
        }
    }
    ec.clear();
    return true;
}

inline bool document::decode_value(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key) {
    using detail::amf0_marker;
    if (!ctx.need(1)) return false;
    const std::size_t start = ctx.pos;
    const auto marker = static_cast<amf0_marker>(ctx.read_u8());
    if (marker == amf0_marker::reference) return decode_reference(ctx, depth, key);
    if (marker == amf0_marker::avmplus) {
        value v;
        if (!detail::amf3_decode_value(ctx, depth, v)) return false;
        node n;
        n.type = v.type();
        n.key = key;
        n.amf3 = static_cast<std::uint32_t>(amf3_.size());
        n.end = static_cast<std::uint32_t>(nodes_.size() + 1);
        amf3_.push_back(std::move(v));
        nodes_.push_back(n);
        return true;
    }
    if (!ctx.count_element()) return false;
    const std::size_t at = nodes_.size();
    nodes_.emplace_back().key = key;
    node* n = &nodes_[at];
    switch (marker) {
    case amf0_marker::number:
        if (!ctx.need(8)) return false;
        n->type = kind::number;
        n->number = ctx.read_double();
        break;
    case amf0_marker::boolean:
        if (!ctx.need(1)) return false;
        n->type = kind::boolean;
        n->number = ctx.read_u8() != 0 ? 1 : 0;
        break;
    case amf0_marker::string:
    case amf0_marker::long_string:
    case amf0_marker::xml_document: {
        const std::size_t width = marker == amf0_marker::string ? 2 : 4;
        if (!ctx.need(width)) return false;
        const std::size_t len = width == 2 ? ctx.read_be16() : ctx.read_be32();
        n->type = marker == amf0_marker::xml_document ? kind::xml_document : kind::string;
        if (!take_text(ctx, len, n->text)) return false;
        break;
    }
    case amf0_marker::null: n->type = kind::null; break;
    case amf0_marker::undefined: n->type = kind::undefined; break;
    case amf0_marker::unsupported: n->type = kind::unsupported; break;
    case amf0_marker::date:
        if (!ctx.need(10)) return false;
        n->type = kind::date;
        n->number = ctx.read_double();
        n->timezone = static_cast<std::int16_t>(ctx.read_be16());
        break;
    case amf0_marker::object:
    case amf0_marker::ecma_array:
    case amf0_marker::typed_object: {
        if (!ctx.enter(depth)) return false;
        const std::size_t slot = begin_complex(start);
        n->type = marker == amf0_marker::object       ? kind::object
                  : marker == amf0_marker::ecma_array ? kind::ecma_array
                                                      : kind::typed_object;
        if (marker == amf0_marker::ecma_array) {
            if (!ctx.need(4)) return false;
            ctx.read_be32();  // a count hint only; the object end decides
        } else if (marker == amf0_marker::typed_object) {
            if (!ctx.need(2) || !take_text(ctx, ctx.read_be16(), n->text)) return false;
        }
        std::uint32_t children = 0;
        for (;;) {
            if (!ctx.need(2)) return false;
            const std::size_t len = ctx.read_be16();
            if (len == 0) {
                if (!ctx.need(1)) return false;
                if (ctx.peek_u8() == static_cast<std::uint8_t>(amf0_marker::object_end)) {
                    ++ctx.pos;
                    break;
                }
            }
            std::string_view name;
            if (!take_text(ctx, len, name) || !decode_value(ctx, depth + 1, name)) return false;
            ++children;
        }
        end_complex(slot);
        n = &nodes_[at];
        n->children = children;
        break;
    }
    case amf0_marker::strict_array: {
        if (!ctx.enter(depth) || !ctx.need(4)) return false;
        const std::size_t slot = begin_complex(start);
        n->type = kind::strict_array;
        const std::uint32_t count = ctx.read_be32();
        // every element takes at least one byte: check before reserving
        if (count > ctx.remaining()) return ctx.fail(error::amf_truncated);
        if (!ctx.room_for(count)) return false;
        for (std::uint32_t i = 0; i < count; ++i) {
            if (!decode_value(ctx, depth + 1, {})) return false;
        }
        end_complex(slot);
        n = &nodes_[at];
        n->children = count;
        break;
    }
    case amf0_marker::object_end: return ctx.fail(error::amf_malformed);
    default: return ctx.fail(error::amf_unknown_marker);
    }
    n->end = static_cast<std::uint32_t>(nodes_.size());
    return true;
}

// A reference reads the bytes of the complete complex value it names again, as `decode_all` does:
// the copy counts against the limits where it lands, and is not a new table entry.
inline bool document::decode_reference(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key) {
    if (!ctx.need(2)) return false;
    const std::uint16_t index = ctx.read_be16();
    if (index >= table_.size() || !table_[index].complete) return ctx.fail(error::amf_bad_reference);
    const std::size_t resume = ctx.pos;
    ctx.pos = table_[index].offset;
    ++replay_;
    ++ctx.replaying;
    const bool ok = decode_value(ctx, depth, key);
    --replay_;
    --ctx.replaying;
    ctx.pos = resume;
    return ok;
}

} // namespace amf0
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/document.hpp ----
// ---- include/rtmpx/amf/writer.hpp ----
// AMF0 written straight into a byte buffer, value by value, without building `amf0::value`s.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace amf0 {

/**
 * Appends AMF0 to `out`, one call per value: what `amf0::encode` writes for the same values, at
 * the cost of copying the bytes (reuse `out` and nothing is allocated once it has grown). While
 * the writer lives, `out` may end with spare bytes; `finish()` or the destructor trims them, so
 * read `out` after the statement that used a temporary writer.
 *
 *     std::vector<std::byte> body;
 *     amf0::writer(body).string("onStatus").number(0).null()
 *         .begin_object().property("level", "status").property("code", "NetStream.Play.Start").end_object();
 *
 * Containers are opened and closed by the caller: `begin_object` … `end_object`, with a `key`
 * (or a `property`) before each value inside; `begin_ecma_array(n)` … `end_object`;
 * `begin_strict_array(n)` followed by exactly n values.
 * Preconditions: keys up to 65535 bytes; strings and counts below 2^32.
 */
class writer {
public:
    explicit writer(std::vector<std::byte>& out) noexcept : out_(out), end_(out.size()) {}
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;
    /// Trims the spare bytes the writer added at the end of the buffer.
    ~writer() { finish(); }

    writer& number(double d) {
        std::byte* p = room(9);
        p[0] = marker(detail::amf0_marker::number);
        put_be64(p + 1, std::bit_cast<std::uint64_t>(d));
        return *this;
    }
    writer& boolean(bool v) {
        std::byte* p = room(2);
        p[0] = marker(detail::amf0_marker::boolean);
        p[1] = std::byte(v ? 1 : 0);
        return *this;
    }
    /// A string; one over 65535 bytes becomes a long string.
    writer& string(std::string_view s) {
        if (s.size() <= 0xffff) {
            std::byte* p = room(3 + s.size());
            p[0] = marker(detail::amf0_marker::string);
            put_be16(p + 1, static_cast<std::uint16_t>(s.size()));
            copy(p + 3, s);
        } else {
            RTMPX_ASSERT(s.size() <= 0xffffffffu);
            std::byte* p = room(5 + s.size());
            p[0] = marker(detail::amf0_marker::long_string);
            put_be32(p + 1, static_cast<std::uint32_t>(s.size()));
            copy(p + 5, s);
        }
        return *this;
    }
    writer& null() { return single(detail::amf0_marker::null); }
    writer& undefined() { return single(detail::amf0_marker::undefined); }
    writer& date(double ms_since_epoch, std::int16_t timezone_minutes = 0) {
        std::byte* p = room(11);
        p[0] = marker(detail::amf0_marker::date);
        put_be64(p + 1, std::bit_cast<std::uint64_t>(ms_since_epoch));
        put_be16(p + 9, static_cast<std::uint16_t>(timezone_minutes));
        return *this;
    }
    /// Any value, through `amf0::encode`.
    writer& value(const amf0::value& v) {
        finish();
        amf0::encode(v, out_);
        end_ = out_.size();
        return *this;
    }

    writer& begin_object() { return single(detail::amf0_marker::object); }
    /// An ECMA array of `count` properties (a hint on the wire; `end_object` ends it).
    writer& begin_ecma_array(std::uint32_t count) { return counted(detail::amf0_marker::ecma_array, count); }
    /// A strict array; exactly `count` values must follow.
    writer& begin_strict_array(std::uint32_t count) { return counted(detail::amf0_marker::strict_array, count); }
    /// Ends an object or an ECMA array.
    writer& end_object() {
        std::byte* p = room(3);
        p[0] = std::byte(0);
        p[1] = std::byte(0);
        p[2] = marker(detail::amf0_marker::object_end);
        return *this;
    }
    /// The name of the property whose value comes next.
    writer& key(std::string_view name) {
        RTMPX_ASSERT(name.size() <= 0xffff);
        std::byte* p = room(2 + name.size());
        put_be16(p, static_cast<std::uint16_t>(name.size()));
        copy(p + 2, name);
        return *this;
    }

    writer& property(std::string_view name, double v) { return key(name).number(v); }
    writer& property(std::string_view name, bool v) { return key(name).boolean(v); }
    writer& property(std::string_view name, std::string_view v) { return key(name).string(v); }
    writer& property(std::string_view name, const char* v) { return key(name).string(v); }
    writer& property(std::string_view name, const amf0::value& v) { return key(name).value(v); }

    /// Trims the spare bytes now: the buffer then holds exactly what was written.
    void finish() { out_.resize(end_); }

private:
    static constexpr std::size_t slack = 256;  // spare bytes added at a time, so most values need no resize

    static constexpr std::byte marker(detail::amf0_marker m) noexcept { return static_cast<std::byte>(m); }
    static void put_be16(std::byte* p, std::uint16_t v) noexcept {
        p[0] = std::byte(v >> 8);
        p[1] = std::byte(v & 0xff);
    }
    static void put_be32(std::byte* p, std::uint32_t v) noexcept {
        put_be16(p, static_cast<std::uint16_t>(v >> 16));
        put_be16(p + 2, static_cast<std::uint16_t>(v & 0xffff));
    }
    static void put_be64(std::byte* p, std::uint64_t v) noexcept {
        put_be32(p, static_cast<std::uint32_t>(v >> 32));
        put_be32(p + 4, static_cast<std::uint32_t>(v));
    }
    static void copy(std::byte* p, std::string_view s) noexcept {
        if (!s.empty()) std::memcpy(p, s.data(), s.size());
    }
    /// `n` bytes to write at the end of what was written.
    std::byte* room(std::size_t n) {
        if (out_.size() - end_ < n) out_.resize(end_ + n + slack);
        std::byte* p = out_.data() + end_;
        end_ += n;
        return p;
    }
    writer& single(detail::amf0_marker m) {
        *room(1) = marker(m);
        return *this;
    }
    writer& counted(detail::amf0_marker m, std::uint32_t count) {
        std::byte* p = room(5);
        p[0] = marker(m);
        put_be32(p + 1, count);
        return *this;
    }

    std::vector<std::byte>& out_;
    std::size_t end_;  ///< what was written ends here; bytes after it are spare
};

} // namespace amf0
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/writer.hpp ----
// ---- include/rtmpx/amf/format.hpp ----
// AMF values as text: amf0::to_string and a fmt formatter, for logs and tests.

#include <algorithm>
#include <string>
#include <string_view>

#include <fmt/format.h>


RTMPX_NAMESPACE_BEGIN
namespace amf0 {

/// Compact JSON-like text: `{app: "live", n: 3}`, `ecma{...}`, `[1, 2]`, `date(ms)`, `bytes(N)`...
RTMPX_DECL std::string to_string(const value& v);

} // namespace amf0
RTMPX_NAMESPACE_END

template <>
struct fmt::formatter<rtmpx::amf0::value> {
    constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) { return ctx.begin(); }
    template <typename FormatContext>
    auto format(const rtmpx::amf0::value& v, FormatContext& ctx) const -> decltype(ctx.out()) {
        const std::string text = rtmpx::amf0::to_string(v);
        return std::copy(text.begin(), text.end(), ctx.out());
    }
};

#if RTMPX_COMPILES_DEFINITIONS
// ---- include/rtmpx/amf/impl/format.ipp ----
// The out-of-line part of rtmpx/amf/format.hpp: inline when header-only; compiled once, in the
// library's source file, in the separately compiled mode (see config.hpp). Its fmt::format_to
// calls are the first to instantiate fmt's formatting machinery in a translation unit.

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

// Included only at the end of <rtmpx/amf/format.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN
namespace detail {

RTMPX_DECL void amf_format_quoted(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

RTMPX_DECL void amf_format_key(std::string& out, std::string_view key) {
    const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
    });
    if (plain) {
        out += key;
    } else {
        amf_format_quoted(out, key);
    }
}

RTMPX_DECL void amf_format_value(std::string& out, const amf0::value& v);

RTMPX_DECL void amf_format_properties(std::string& out, const amf0::properties& props) {
    out += '{';
    bool first = true;
    for (const amf0::property& p : props) {
        if (!first) out += ", ";
        first = false;
        amf_format_key(out, p.first);
        out += ": ";
        amf_format_value(out, p.second);
    }
    out += '}';
}

RTMPX_DECL void amf_format_value(std::string& out, const amf0::value& v) {
    using amf0::kind;
    switch (v.type()) {
    case kind::number: fmt::format_to(std::back_inserter(out), "{}", v.as_number()); return;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case kind::string: amf_format_quoted(out, v.as_string()); return;
    case kind::object: amf_format_properties(out, v.props()); return;
    case kind::null: out += "null"; return;
    case kind::undefined: out += "undefined"; return;
    case kind::unsupported: out += "unsupported"; return;
    case kind::ecma_array:
        out += "ecma";
        amf_format_properties(out, v.props());
        return;
    case kind::strict_array: {
        out += '[';
        bool first = true;
        for (const amf0::value& e : v.elements()) {
            if (!first) out += ", ";
            first = false;
            amf_format_value(out, e);
        }
        out += ']';
        return;
    }
    case kind::date:
        if (v.date_timezone() == 0) {
            fmt::format_to(std::back_inserter(out), "date({})", v.date_ms());
        } else {
            fmt::format_to(std::back_inserter(out), "date({}, tz {})", v.date_ms(), v.date_timezone());
        }
        return;
    case kind::xml_document:
        out += "xml(";
        amf_format_quoted(out, v.as_string());
        out += ')';
        return;
    case kind::typed_object:
        out += v.class_name();
        amf_format_properties(out, v.props());
        return;
    case kind::byte_array: fmt::format_to(std::back_inserter(out), "bytes({})", v.bytes().size()); return;
    case kind::dictionary: {
        out += "dict{";
        bool first = true;
        for (const auto& [key, val] : v.entries()) {
            if (!first) out += ", ";
            first = false;
            amf_format_value(out, key);
            out += " => ";
            amf_format_value(out, val);
        }
        out += '}';
        return;
    }
    }
}

} // namespace detail

namespace amf0 {

RTMPX_DECL std::string to_string(const value& v) {
    std::string out;
    detail::amf_format_value(out, v);
    return out;
}

} // namespace amf0
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/amf/impl/format.ipp ----
#endif
// ---- end of include/rtmpx/amf/format.hpp ----
// ---- include/rtmpx/media.hpp ----
// Raw pictures, encoded frames and the video_encoder concept that turns one into the other.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>


RTMPX_NAMESPACE_BEGIN

/// Layouts of a raw picture. Packed formats name their bytes in memory order (rgba: R first).
enum class pixel_format {
    rgba,   ///< 4 bytes a pixel: R, G, B, A
    bgra,   ///< 4 bytes a pixel: B, G, R, A
    rgb24,  ///< 3 bytes a pixel: R, G, B
    bgr24,  ///< 3 bytes a pixel: B, G, R
    i420,   ///< planar Y, U, V; chroma planes (w+1)/2 x (h+1)/2
    nv12,   ///< planar Y, then interleaved U/V pairs; chroma (w+1)/2 pairs x (h+1)/2 rows
};

/// Bytes a pixel of a packed format takes (4 or 3); 0 for the planar formats.
inline constexpr std::uint32_t bytes_per_pixel(pixel_format f) noexcept {
    switch (f) {
    case pixel_format::rgba:
    case pixel_format::bgra: return 4;
    case pixel_format::rgb24:
    case pixel_format::bgr24: return 3;
    case pixel_format::i420:
    case pixel_format::nv12: return 0;
    }
    return 0;
}

/// True for the one-plane formats (rgba, bgra, rgb24, bgr24).
inline constexpr bool is_packed(pixel_format f) noexcept { return bytes_per_pixel(f) != 0; }

/**
 * A non-owning view of a raw picture: up to three planes with their strides in bytes.
 * Packed formats use plane 0 only; i420 uses Y, U, V; nv12 uses Y and UV.
 *
 * Lifetime: the planes must stay valid while the view is used (an encoder reads them only
 * during `encode`).
 */
struct canvas_view {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    pixel_format format = pixel_format::rgba;
    const std::byte* planes[3] = {nullptr, nullptr, nullptr};
    std::uint32_t strides[3] = {0, 0, 0};

    /// A packed picture (rgba, bgra, rgb24 or bgr24) of `stride` bytes a row.
    static canvas_view packed(const void* data, std::uint32_t w, std::uint32_t h, std::uint32_t stride,
                              pixel_format f) noexcept {
        RTMPX_ASSERT(is_packed(f));
        canvas_view v;
        v.width = w;
        v.height = h;
        v.format = f;
        v.planes[0] = static_cast<const std::byte*>(data);
        v.strides[0] = stride;
        return v;
    }

    /// A planar I420 picture (chroma planes (w+1)/2 x (h+1)/2).
    static canvas_view i420(const void* y, std::uint32_t y_stride, const void* u, std::uint32_t u_stride,
                            const void* v, std::uint32_t v_stride, std::uint32_t w, std::uint32_t h) noexcept {
        canvas_view c;
        c.width = w;
        c.height = h;
        c.format = pixel_format::i420;
        c.planes[0] = static_cast<const std::byte*>(y);
        c.planes[1] = static_cast<const std::byte*>(u);
        c.planes[2] = static_cast<const std::byte*>(v);
        c.strides[0] = y_stride;
        c.strides[1] = u_stride;
        c.strides[2] = v_stride;
        return c;
    }

    /// An NV12 picture: a Y plane and an interleaved U/V plane ((h+1)/2 rows of (w+1)/2 pairs).
    static canvas_view nv12(const void* y, std::uint32_t y_stride, const void* uv, std::uint32_t uv_stride,
                            std::uint32_t w, std::uint32_t h) noexcept {
        canvas_view c;
        c.width = w;
        c.height = h;
        c.format = pixel_format::nv12;
        c.planes[0] = static_cast<const std::byte*>(y);
        c.planes[1] = static_cast<const std::byte*>(uv);
        c.strides[0] = y_stride;
        c.strides[1] = uv_stride;
        return c;
    }
};

/**
 * An owning packed image (rgba by default) with tightly packed rows, for drawing into.
 *
 * Thread: a plain value; no internal synchronisation.
 */
class canvas {
public:
    /// An empty 0x0 canvas.
    canvas() = default;

    /// A `width` x `height` canvas of a packed format, all bytes zero (transparent black).
    canvas(std::uint32_t width, std::uint32_t height, pixel_format format = pixel_format::rgba)
        : width_(width), height_(height), stride_(width * bytes_per_pixel(format)), format_(format),
          pixels_(std::size_t{stride_} * height) {
        RTMPX_ASSERT(is_packed(format));
    }

    std::uint32_t width() const noexcept { return width_; }
    std::uint32_t height() const noexcept { return height_; }
    /// Bytes a row (width x bytes a pixel).
    std::uint32_t stride() const noexcept { return stride_; }
    pixel_format format() const noexcept { return format_; }
    std::byte* data() noexcept { return pixels_.data(); }
    const std::byte* data() const noexcept { return pixels_.data(); }
    /// Bytes of the whole image (stride x height).
    std::size_t size_bytes() const noexcept { return pixels_.size(); }

    /// The bytes of pixel (x, y), in the format's order. Precondition: x < width, y < height.
    std::span<std::byte> pixel(std::uint32_t x, std::uint32_t y) noexcept {
        RTMPX_ASSERT(x < width_ && y < height_);
        return {pixels_.data() + offset(x, y), bytes_per_pixel(format_)};
    }
    std::span<const std::byte> pixel(std::uint32_t x, std::uint32_t y) const noexcept {
        RTMPX_ASSERT(x < width_ && y < height_);
        return {pixels_.data() + offset(x, y), bytes_per_pixel(format_)};
    }

    /// Writes pixel (x, y) from RGBA components (alpha is dropped by the 3-byte formats).
    void set_pixel(std::uint32_t x, std::uint32_t y, std::uint8_t r, std::uint8_t g, std::uint8_t b,
                   std::uint8_t a = 255) noexcept {
        store(pixel(x, y).data(), r, g, b, a);
    }

    /// Sets every pixel to one colour.
    void fill(std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint8_t a = 255) noexcept {
        const std::uint32_t bpp = bytes_per_pixel(format_);
        if (pixels_.empty()) return;
        std::byte first[4];
        store(first, r, g, b, a);
        for (std::size_t i = 0; i < pixels_.size(); i += bpp) std::copy_n(first, bpp, pixels_.data() + i);
    }

    /// A view of the whole image, valid until the canvas is resized, moved or destroyed.
    canvas_view view() const noexcept { return canvas_view::packed(pixels_.data(), width_, height_, stride_, format_); }

private:
    std::size_t offset(std::uint32_t x, std::uint32_t y) const noexcept {
        return std::size_t{y} * stride_ + std::size_t{x} * bytes_per_pixel(format_);
    }

    void store(std::byte* p, std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint8_t a) const noexcept {
        switch (format_) {
        case pixel_format::rgba: p[3] = std::byte{a}; [[fallthrough]];
        case pixel_format::rgb24:
            p[0] = std::byte{r};
            p[1] = std::byte{g};
            p[2] = std::byte{b};
            break;
        case pixel_format::bgra: p[3] = std::byte{a}; [[fallthrough]];
        case pixel_format::bgr24:
            p[0] = std::byte{b};
            p[1] = std::byte{g};
            p[2] = std::byte{r};
            break;
        case pixel_format::i420:
        case pixel_format::nv12: break;
        }
    }

    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::uint32_t stride_ = 0;
    pixel_format format_ = pixel_format::rgba;
    std::vector<std::byte> pixels_;
};

/**
 * One encoded picture. For H.264 `data` is AVCC: NAL units each preceded by a 4-byte big-endian
 * length, without SPS/PPS (they are in the sequence header) and without an FLV tag header.
 * Empty `data` means the encoder produced nothing for this picture.
 */
struct encoded_frame {
    std::vector<std::byte> data;
    bool key_frame = false;  ///< a random access point (an IDR picture for H.264)
};

/// Failures of a video encoder. Values are never renumbered.
enum class encoder_error {
    invalid_parameter = 1,     ///< unknown parameter name, value out of range, or not changeable now
    unsupported_resolution,    ///< width/height the encoder cannot take
    not_initialized,           ///< `encode` (or a call needing the codec) before `init`
    already_closed,            ///< any call after `close`
    allocation_failure,        ///< the codec could not allocate its state
    encode_failure,            ///< the codec failed on a picture
    unsupported_pixel_format,  ///< a canvas format the encoder does not take
};

namespace detail {

inline const char* encoder_error_message(encoder_error e) noexcept {
    switch (e) {
    case encoder_error::invalid_parameter: return "encoder: invalid parameter";
    case encoder_error::unsupported_resolution: return "encoder: unsupported resolution";
    case encoder_error::not_initialized: return "encoder: not initialized";
    case encoder_error::already_closed: return "encoder: already closed";
    case encoder_error::allocation_failure: return "encoder: allocation failure";
    case encoder_error::encode_failure: return "encoder: encoding failed";
    case encoder_error::unsupported_pixel_format: return "encoder: unsupported pixel format";
    }
    return "unknown rtmpx encoder error";
}

class encoder_error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "rtmpx.encoder"; }
    std::string message(int ev) const override { return encoder_error_message(static_cast<encoder_error>(ev)); }
};

} // namespace detail

/// The category of `rtmpx::encoder_error` values.
inline const std::error_category& encoder_error_category() noexcept {
    static const detail::encoder_error_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(encoder_error e) noexcept {
    return {static_cast<int>(e), encoder_error_category()};
}

/**
 * A video encoder the server can drive. Call order: `set_parameter`* → `init` → (`encode` |
 * `force_key_frame` | `set_parameter`)* → `close`.
 *
 * - `init(width, height, header)`: fills `header` with the codec configuration (for AVC the
 *   AVCDecoderConfigurationRecord; empty for codecs without one).
 * - `set_parameter(name, value)` / `get_parameter(name)`: codec settings by name.
 * - `supported_pixel_formats()`: canvas formats `encode` takes, most preferred first.
 * - `encode(view, frame)`: one picture in, zero or one encoded frame out.
 * - `force_key_frame()`: the next `encode` gives a key frame.
 * - `close(remaining)`: ends the stream; `remaining` gets any buffered output.
 * - `identifier()`: a short name ("openh264"); `flv_codec_id()`: the FLV CodecID (7 for AVC).
 * - optionally `fourcc()` (`std::uint32_t`, not part of the concept): an Enhanced RTMP codec's
 *   FourCC, big-endian (0x61763031 for `av01`); its frames then go out as Enhanced RTMP tags and
 *   `header` as their SequenceStart, to the players that declared the FourCC.
 *
 * Thread: implementations need not be thread-safe; one thread drives an encoder at a time.
 * Errors: reported through `std::error_code` (usually `encoder_error`); no exceptions.
 */
template <class E>
concept video_encoder = requires(E& e, const E& ce, std::uint32_t size, std::vector<std::byte>& bytes,
                                 std::string_view name, double value, const canvas_view& view,
                                 encoded_frame& frame) {
    { e.init(size, size, bytes) } -> std::same_as<std::error_code>;
    { e.set_parameter(name, value) } -> std::same_as<std::error_code>;
    { ce.get_parameter(name) } -> std::same_as<std::optional<double>>;
    { ce.supported_pixel_formats() } -> std::same_as<std::span<const pixel_format>>;
    { e.encode(view, frame) } -> std::same_as<std::error_code>;
    e.force_key_frame();
    { e.close(bytes) } -> std::same_as<std::error_code>;
    { ce.identifier() } -> std::same_as<std::string_view>;
    { ce.flv_codec_id() } -> std::same_as<std::uint8_t>;
};

/**
 * Sound for one tick, which the audio handler fills: `frames()` sample frames of `channels`
 * interleaved signed 16-bit samples each, at `sample_rate`, all zero (silence) until filled.
 */
struct audio_buffer {
    std::uint32_t sample_rate = 0;
    std::uint32_t channels = 0;
    std::vector<std::int16_t> samples;  ///< frames() * channels, interleaved (L R L R ... for stereo)
    std::size_t frames() const noexcept { return channels == 0 ? 0 : samples.size() / channels; }
};

/// One encoded audio packet: the codec's bytes (no FLV tag header), and where its first sample
/// is in the PCM handed to the encoder (negative for the codec's priming before the first).
struct encoded_audio {
    std::vector<std::byte> data;
    std::int64_t first_sample = 0;
    std::uint32_t samples = 0;  ///< sample frames it decodes to
};

/**
 * An audio encoder the server can drive: `init` → (`encode`)* → `close`.
 *
 * - `init(sample_rate, channels, header)`: fills `header` with the codec configuration (AAC's
 *   AudioSpecificConfig; Opus's identification header).
 * - `encode(pcm, packets)`: interleaved 16-bit samples in, any number of whole packets appended
 *   (encoders work in fixed frames: the rest waits for the next call).
 * - `set_parameter`/`get_parameter`, `close(packets)` (what is left, flushed), `identifier()`.
 * - `flv_sound_format()`: the FLV SoundFormat (10 for AAC), or 9 with `fourcc()` an Enhanced
 *   RTMP audio FourCC (`Opus`), big-endian.
 *
 * Thread: one thread drives an encoder at a time. Errors: `encoder_error` values.
 */
template <class E>
concept audio_encoder = requires(E& e, const E& ce, std::uint32_t n, std::vector<std::byte>& bytes, std::span<const std::int16_t> pcm,
                                 std::vector<encoded_audio>& packets, std::string_view name, double value) {
    { e.init(n, n, bytes) } -> std::same_as<std::error_code>;
    { e.set_parameter(name, value) } -> std::same_as<std::error_code>;
    { ce.get_parameter(name) } -> std::same_as<std::optional<double>>;
    { e.encode(pcm, packets) } -> std::same_as<std::error_code>;
    { e.close(packets) } -> std::same_as<std::error_code>;
    { ce.identifier() } -> std::same_as<std::string_view>;
    { ce.flv_sound_format() } -> std::same_as<std::uint8_t>;
    { ce.fourcc() } -> std::same_as<std::uint32_t>;
};

RTMPX_NAMESPACE_END

template <>
struct std::is_error_code_enum<rtmpx::encoder_error> : std::true_type {};
// ---- end of include/rtmpx/media.hpp ----
// ---- include/rtmpx/codec/openh264_encoder.hpp ----
// An H.264 (baseline, low-latency) video_encoder over Cisco's OpenH264; only with RTMPX_WITH_OPENH264.

// ---- include/rtmpx/detail/avc.hpp ----
// H.264 NAL unit framing (Annex-B start codes, AVCC lengths) and the AVCDecoderConfigurationRecord.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace detail {

/// How NAL units are delimited in a byte stream.
enum class nal_framing {
    annex_b,  ///< ITU-T H.264 Annex B: each NAL unit after a 00 00 01 or 00 00 00 01 start code
    avcc,     ///< ISO 14496-15: each NAL unit after its 4-byte big-endian length
};

/// H.264 nal_unit_type values the library looks at.
enum class nal_type : std::uint8_t {
    slice = 1,
    idr = 5,
    sei = 6,
    sps = 7,
    pps = 8,
    access_unit_delimiter = 9,
};

/// The nal_unit_type (low 5 bits of the first byte) of a NAL unit; 0 for an empty span.
inline std::uint8_t nal_unit_type(std::span<const std::byte> nal) noexcept {
    return nal.empty() ? std::uint8_t{0} : static_cast<std::uint8_t>(u8(nal[0]) & 0x1f);
}

/**
 * Appends the NAL units of an Annex-B stream to `out` (spans into `data`). Bytes before the
 * first start code are ignored; trailing zero bytes of a unit (the first byte of a 4-byte start
 * code, or trailing_zero_8bits) are not part of it; empty units are skipped.
 */
inline void split_annex_b(std::span<const std::byte> data, std::vector<std::span<const std::byte>>& out) {
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    const std::size_t n = data.size();
    auto emit = [&](std::size_t begin, std::size_t end) {
        while (end > begin && data[end - 1] == std::byte{0}) --end;
        if (end > begin) out.push_back(data.subspan(begin, end - begin));
    };
    std::size_t start = none;
    std::size_t i = 0;
    while (i + 3 <= n) {
        const std::uint8_t third = u8(data[i + 2]);
        if (third > 1) {
            i += 3;  // no start code can begin at i, i+1 or i+2
        } else if (third == 1 && data[i] == std::byte{0} && data[i + 1] == std::byte{0}) {
            if (start != none) emit(start, i);
            i += 3;
            start = i;
        } else {
            ++i;
        }
    }
    if (start != none) emit(start, n);
}

/**
 * Appends the NAL units of an AVCC stream (4-byte lengths) to `out` (spans into `data`).
 * Returns false, with `out` holding the units before the fault, when a length runs past the end
 * or fewer than 4 bytes are left for a length.
 */
inline bool split_avcc(std::span<const std::byte> data, std::vector<std::span<const std::byte>>& out) {
    std::size_t i = 0;
    while (i < data.size()) {
        if (data.size() - i < 4) return false;
        const std::uint32_t len = load_be32(data.subspan(i, 4));
        i += 4;
        if (len > data.size() - i) return false;
        out.push_back(data.subspan(i, len));
        i += len;
    }
    return true;
}

/**
 * Replaces `out` with the NAL units of `data` in the given framing (spans into `data`).
 *
 * Errors: false for a malformed AVCC stream (Annex-B always parses).
 */
inline bool split_nal_units(std::span<const std::byte> data, nal_framing framing,
                            std::vector<std::span<const std::byte>>& out) {
    out.clear();
    if (framing == nal_framing::annex_b) {
        split_annex_b(data, out);
        return true;
    }
    return split_avcc(data, out);
}

/// Appends one NAL unit to `out` in the given framing (Annex-B with a 4-byte start code).
inline void append_nal_unit(std::vector<std::byte>& out, std::span<const std::byte> nal, nal_framing framing) {
    if (framing == nal_framing::annex_b) {
        put_be32(out, 1);
    } else {
        put_be32(out, static_cast<std::uint32_t>(nal.size()));
    }
    out.insert(out.end(), nal.begin(), nal.end());
}

/**
 * Appends the NAL units of `in` (framed as `from`) to `out`, framed as `to`.
 *
 * Errors: false for a malformed AVCC input; `out` then holds the units before the fault.
 */
inline bool convert_nal_units(std::span<const std::byte> in, nal_framing from, nal_framing to,
                              std::vector<std::byte>& out) {
    std::vector<std::span<const std::byte>> units;
    const bool ok = split_nal_units(in, from, units);
    std::size_t total = out.size();
    for (auto u : units) total += 4 + u.size();
    out.reserve(total);
    for (auto u : units) append_nal_unit(out, u, to);
    return ok;
}

/// An Annex-B stream (3- or 4-byte start codes) as AVCC (4-byte lengths).
inline std::vector<std::byte> annex_b_to_avcc(std::span<const std::byte> in) {
    std::vector<std::byte> out;
    convert_nal_units(in, nal_framing::annex_b, nal_framing::avcc, out);
    return out;
}

/**
 * The AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1) for one SPS and one PPS (NAL units
 * without start codes or lengths): version 1, profile/compatibility/level copied from SPS bytes
 * 1..3, lengthSizeMinusOne 3, one SPS, one PPS. The high-profile extension (chroma format, bit
 * depths) is not written; baseline/main streams do not have it.
 *
 * Errors: an empty vector when the SPS is shorter than 4 bytes, the PPS is empty, or either is
 * longer than 65535 bytes.
 */
inline std::vector<std::byte> build_avc_decoder_config(std::span<const std::byte> sps, std::span<const std::byte> pps) {
    std::vector<std::byte> out;
    if (sps.size() < 4 || pps.empty() || sps.size() > 0xffff || pps.size() > 0xffff) return out;
    out.reserve(11 + sps.size() + pps.size());
    put_u8(out, 1);         // configurationVersion
    out.push_back(sps[1]);  // AVCProfileIndication
    out.push_back(sps[2]);  // profile_compatibility
    out.push_back(sps[3]);  // AVCLevelIndication
    put_u8(out, 0xff);      // reserved 6 bits '111111' + lengthSizeMinusOne = 3
    put_u8(out, 0xe1);      // reserved 3 bits '111' + numOfSequenceParameterSets = 1
    put_be16(out, static_cast<std::uint16_t>(sps.size()));
    out.insert(out.end(), sps.begin(), sps.end());
    put_u8(out, 1);  // numOfPictureParameterSets
    put_be16(out, static_cast<std::uint16_t>(pps.size()));
    out.insert(out.end(), pps.begin(), pps.end());
    return out;
}

/**
 * Reads the SPS and PPS NAL units out of an AVCDecoderConfigurationRecord (spans into
 * `record`; anything after the PPS list is ignored).
 *
 * Errors: false when the record is truncated or its version is not 1.
 */
inline bool parse_avc_decoder_config(std::span<const std::byte> record, std::vector<std::span<const std::byte>>& sps,
                                     std::vector<std::span<const std::byte>>& pps) {
    sps.clear();
    pps.clear();
    if (record.size() < 6 || u8(record[0]) != 1) return false;
    std::size_t i = 5;
    auto read_list = [&](std::size_t count, std::vector<std::span<const std::byte>>& list) {
        for (std::size_t k = 0; k < count; ++k) {
            if (record.size() - i < 2) return false;
            const std::size_t len = load_be16(record.subspan(i, 2));
            i += 2;
            if (record.size() - i < len) return false;
            list.push_back(record.subspan(i, len));
            i += len;
        }
        return true;
    };
    if (!read_list(u8(record[i++]) & 0x1fu, sps)) return false;
    if (i >= record.size()) return false;
    const std::size_t pps_count = u8(record[i++]);
    return read_list(pps_count, pps);
}

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/detail/avc.hpp ----
// ---- include/rtmpx/detail/yuv.hpp ----
// Conversion of any canvas_view to I420 (BT.601 limited range, integer arithmetic) for encoders.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Writable I420 planes: Y is width x height, U and V are (width+1)/2 x (height+1)/2.
struct i420_planes {
    std::byte* y = nullptr;
    std::byte* u = nullptr;
    std::byte* v = nullptr;
    std::uint32_t y_stride = 0;
    std::uint32_t u_stride = 0;
    std::uint32_t v_stride = 0;
};

/// Chroma samples along a luma dimension of `n` (rounded up for odd sizes).
inline constexpr std::uint32_t chroma_extent(std::uint32_t n) noexcept { return n / 2 + (n & 1u); }

// BT.601 limited range from full-range 8-bit RGB, coefficients scaled by 2^16:
//   Y = 16  + ( 0.256788 R + 0.504129 G + 0.097906 B)
//   U = 128 + (-0.148223 R - 0.290993 G + 0.439216 B)
//   V = 128 + ( 0.439216 R - 0.367788 G - 0.071427 B)
// The chroma rows sum to exactly 0 so that greys give U = V = 128.
inline constexpr std::int32_t yuv_y_r = 16829, yuv_y_g = 33039, yuv_y_b = 6416;
inline constexpr std::int32_t yuv_u_r = -9714, yuv_u_g = -19070, yuv_u_b = 28784;
inline constexpr std::int32_t yuv_v_r = 28784, yuv_v_g = -24103, yuv_v_b = -4681;

inline std::byte rgb_to_y(std::int32_t r, std::int32_t g, std::int32_t b) noexcept {
    return static_cast<std::byte>(16 + ((yuv_y_r * r + yuv_y_g * g + yuv_y_b * b + (1 << 15)) >> 16));
}

// From the sums of four samples (hence the extra 2 bits of shift).
inline std::byte rgb4_to_u(std::int32_t r4, std::int32_t g4, std::int32_t b4) noexcept {
    return static_cast<std::byte>(128 + ((yuv_u_r * r4 + yuv_u_g * g4 + yuv_u_b * b4 + (1 << 17)) >> 18));
}
inline std::byte rgb4_to_v(std::int32_t r4, std::int32_t g4, std::int32_t b4) noexcept {
    return static_cast<std::byte>(128 + ((yuv_v_r * r4 + yuv_v_g * g4 + yuv_v_b * b4 + (1 << 17)) >> 18));
}

/**
 * Packed RGB → I420, two rows at a time; each chroma sample averages a 2x2 block (the last
 * column/row is repeated for odd widths/heights). `R`, `G`, `B` are byte offsets in a pixel.
 */
template <unsigned R, unsigned G, unsigned B, unsigned Bpp>
void packed_rgb_to_i420(const canvas_view& src, const i420_planes& dst) noexcept {
    const std::uint32_t w = src.width;
    const std::uint32_t h = src.height;
    const std::uint32_t even_w = w & ~1u;
    auto c = [](const std::byte* p, unsigned off) { return static_cast<std::int32_t>(p[off]); };

    for (std::uint32_t y = 0; y < h; y += 2) {
        const bool second = y + 1 < h;
        const std::byte* row0 = src.planes[0] + std::size_t{y} * src.strides[0];
        const std::byte* row1 = second ? row0 + src.strides[0] : row0;
        std::byte* y0 = dst.y + std::size_t{y} * dst.y_stride;
        std::byte* y1 = second ? y0 + dst.y_stride : y0;  // rewrites row 0 with the same values
        std::byte* u = dst.u + std::size_t{y / 2} * dst.u_stride;
        std::byte* v = dst.v + std::size_t{y / 2} * dst.v_stride;

        std::uint32_t x = 0;
        for (; x < even_w; x += 2) {
            const std::byte* a = row0 + std::size_t{x} * Bpp;
            const std::byte* b = a + Bpp;
            const std::byte* d = row1 + std::size_t{x} * Bpp;
            const std::byte* e = d + Bpp;
            y0[x] = rgb_to_y(c(a, R), c(a, G), c(a, B));
            y0[x + 1] = rgb_to_y(c(b, R), c(b, G), c(b, B));
            y1[x] = rgb_to_y(c(d, R), c(d, G), c(d, B));
            y1[x + 1] = rgb_to_y(c(e, R), c(e, G), c(e, B));
            const std::int32_t r4 = c(a, R) + c(b, R) + c(d, R) + c(e, R);
            const std::int32_t g4 = c(a, G) + c(b, G) + c(d, G) + c(e, G);
            const std::int32_t b4 = c(a, B) + c(b, B) + c(d, B) + c(e, B);
            u[x / 2] = rgb4_to_u(r4, g4, b4);
            v[x / 2] = rgb4_to_v(r4, g4, b4);
        }
        if (x < w) {  // odd width: the last column counts twice
            const std::byte* a = row0 + std::size_t{x} * Bpp;
            const std::byte* d = row1 + std::size_t{x} * Bpp;
            y0[x] = rgb_to_y(c(a, R), c(a, G), c(a, B));
            y1[x] = rgb_to_y(c(d, R), c(d, G), c(d, B));
            const std::int32_t r4 = 2 * (c(a, R) + c(d, R));
            const std::int32_t g4 = 2 * (c(a, G) + c(d, G));
            const std::int32_t b4 = 2 * (c(a, B) + c(d, B));
            u[x / 2] = rgb4_to_u(r4, g4, b4);
            v[x / 2] = rgb4_to_v(r4, g4, b4);
        }
    }
}

/// True when `src` has the planes and strides its format needs, and a non-zero size.
inline bool canvas_view_valid(const canvas_view& src) noexcept {
    if (src.width == 0 || src.height == 0) return false;
    const std::uint32_t cw = chroma_extent(src.width);
    switch (src.format) {
    case pixel_format::rgba:
    case pixel_format::bgra:
    case pixel_format::rgb24:
    case pixel_format::bgr24:
        return src.planes[0] && std::uint64_t{src.strides[0]} >= std::uint64_t{src.width} * bytes_per_pixel(src.format);
    case pixel_format::i420:
        return src.planes[0] && src.planes[1] && src.planes[2] && src.strides[0] >= src.width &&
               src.strides[1] >= cw && src.strides[2] >= cw;
    case pixel_format::nv12:
        return src.planes[0] && src.planes[1] && src.strides[0] >= src.width &&
               std::uint64_t{src.strides[1]} >= 2 * std::uint64_t{cw};
    }
    return false;
}

/**
 * Converts (or copies) any supported picture into I420 planes of the same size.
 *
 * Errors: `encoder_error::unsupported_pixel_format` for a format value outside `pixel_format`;
 * `encoder_error::invalid_parameter` for a view with a zero size, missing planes or too small
 * strides. `dst` must hold width x height luma and chroma_extent() x chroma_extent() chroma.
 */
inline std::error_code convert_to_i420(const canvas_view& src, const i420_planes& dst) noexcept {
    switch (src.format) {
    case pixel_format::rgba:
    case pixel_format::bgra:
    case pixel_format::rgb24:
    case pixel_format::bgr24:
    case pixel_format::i420:
    case pixel_format::nv12: break;
    default: return encoder_error::unsupported_pixel_format;
    }
    if (!canvas_view_valid(src)) return encoder_error::invalid_parameter;

    const std::uint32_t cw = chroma_extent(src.width);
    const std::uint32_t ch = chroma_extent(src.height);
    switch (src.format) {
    case pixel_format::rgba: packed_rgb_to_i420<0, 1, 2, 4>(src, dst); break;
    case pixel_format::bgra: packed_rgb_to_i420<2, 1, 0, 4>(src, dst); break;
    case pixel_format::rgb24: packed_rgb_to_i420<0, 1, 2, 3>(src, dst); break;
    case pixel_format::bgr24: packed_rgb_to_i420<2, 1, 0, 3>(src, dst); break;
    case pixel_format::i420:
        for (std::uint32_t y = 0; y < src.height; ++y)
            std::copy_n(src.planes[0] + std::size_t{y} * src.strides[0], src.width, dst.y + std::size_t{y} * dst.y_stride);
        for (std::uint32_t y = 0; y < ch; ++y) {
            std::copy_n(src.planes[1] + std::size_t{y} * src.strides[1], cw, dst.u + std::size_t{y} * dst.u_stride);
            std::copy_n(src.planes[2] + std::size_t{y} * src.strides[2], cw, dst.v + std::size_t{y} * dst.v_stride);
        }
        break;
    case pixel_format::nv12:
        for (std::uint32_t y = 0; y < src.height; ++y)
            std::copy_n(src.planes[0] + std::size_t{y} * src.strides[0], src.width, dst.y + std::size_t{y} * dst.y_stride);
        for (std::uint32_t y = 0; y < ch; ++y) {
            const std::byte* uv = src.planes[1] + std::size_t{y} * src.strides[1];
            std::byte* u = dst.u + std::size_t{y} * dst.u_stride;
            std::byte* v = dst.v + std::size_t{y} * dst.v_stride;
            for (std::uint32_t x = 0; x < cw; ++x) {
                u[x] = uv[2 * x];
                v[x] = uv[2 * x + 1];
            }
        }
        break;
    }
    return {};
}

/**
 * An owning, contiguous I420 picture (Y, then U, then V, tightly packed), reused across
 * frames: `resize` reallocates only when the size grows.
 */
class i420_buffer {
public:
    void resize(std::uint32_t width, std::uint32_t height) {
        width_ = width;
        height_ = height;
        const std::size_t luma = std::size_t{width} * height;
        const std::size_t chroma = std::size_t{chroma_extent(width)} * chroma_extent(height);
        bytes_.resize(luma + 2 * chroma);
    }

    std::uint32_t width() const noexcept { return width_; }
    std::uint32_t height() const noexcept { return height_; }

    i420_planes planes() noexcept {
        const std::size_t luma = std::size_t{width_} * height_;
        const std::size_t chroma = std::size_t{chroma_extent(width_)} * chroma_extent(height_);
        const std::uint32_t cw = chroma_extent(width_);
        return {bytes_.data(), bytes_.data() + luma, bytes_.data() + luma + chroma, width_, cw, cw};
    }

    canvas_view view() const noexcept {
        const std::size_t luma = std::size_t{width_} * height_;
        const std::size_t chroma = std::size_t{chroma_extent(width_)} * chroma_extent(height_);
        const std::uint32_t cw = chroma_extent(width_);
        return canvas_view::i420(bytes_.data(), width_, bytes_.data() + luma, cw, bytes_.data() + luma + chroma, cw,
                                 width_, height_);
    }

private:
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::vector<std::byte> bytes_;
};

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/detail/yuv.hpp ----
#if defined(RTMPX_WITH_OPENH264)

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <wels/codec_api.h>


RTMPX_NAMESPACE_BEGIN

/**
 * H.264 through OpenH264, set up for camera-style real-time streaming: one spatial layer, one
 * temporal layer, baseline profile (CAVLC, no B-frames, so output order is input order), no
 * frame skipping, constant SPS/PPS ids (the sequence header from `init` stays valid).
 *
 * Parameters (`set_parameter` before or after `init`; after `init` the ones OpenH264 can change
 * on the fly are applied at once, the others give `invalid_parameter`):
 * - "bitrate": target bits/s, > 0 (default 2'500'000); changeable after init.
 * - "max_bitrate": bits/s, 0 for unspecified (default 0); at init and on a change after init it
 *   must be 0 or at least "bitrate" (to move both, order the calls so that this holds at each
 *   step); after init it can be changed but not set back to 0.
 * - "frame_rate": 1..120 (default 30); changeable after init.
 * - "key_frame_interval": frames between IDR pictures, 0 for only the first (default 2 s worth
 *   of frames, following "frame_rate" until set); changeable after init.
 * - "rate_control": -1 off, 0 quality, 1 bitrate (default), 2 buffer-based, 3 timestamp-based;
 *   changeable after init.
 * - "complexity": 0 low, 1 medium (default), 2 high; changeable after init.
 * - "threads": 0 automatic, 1 (default) single-threaded, N threads (one slice each); before
 *   init only.
 *
 * Thread: not thread-safe; one thread at a time drives an encoder (distinct encoders are
 * independent).
 * Errors: `encoder_error` values; nothing is thrown (beyond std::bad_alloc from the containers).
 * Lifetime: move-only; the destructor releases the OpenH264 instance.
 */
class openh264_encoder {
public:
    openh264_encoder() noexcept = default;
    openh264_encoder(const openh264_encoder&) = delete;
    openh264_encoder& operator=(const openh264_encoder&) = delete;

    openh264_encoder(openh264_encoder&& other) noexcept
        : encoder_(std::exchange(other.encoder_, nullptr)), state_(std::exchange(other.state_, state::fresh)),
          settings_(other.settings_), width_(other.width_), height_(other.height_),
          pending_idr_(other.pending_idr_), base_ms_(other.base_ms_), frames_(other.frames_),
          buffer_(std::move(other.buffer_)), nals_(std::move(other.nals_)) {}

    openh264_encoder& operator=(openh264_encoder&& other) noexcept {
        if (this != &other) {
            release();
            encoder_ = std::exchange(other.encoder_, nullptr);
            state_ = std::exchange(other.state_, state::fresh);
            settings_ = other.settings_;
            width_ = other.width_;
            height_ = other.height_;
            pending_idr_ = other.pending_idr_;
            base_ms_ = other.base_ms_;
            frames_ = other.frames_;
            buffer_ = std::move(other.buffer_);
            nals_ = std::move(other.nals_);
        }
        return *this;
    }

    ~openh264_encoder() { release(); }

    /**
     * Opens the codec for `width` x `height` pictures and puts the AVCDecoderConfigurationRecord
     * in `header_data`. Calling it again re-opens the codec (e.g. for a new size).
     *
     * Errors: `unsupported_resolution` unless both sizes are even and in 16..4096;
     * `invalid_parameter` when OpenH264 refuses the settings (e.g. max_bitrate below bitrate);
     * `allocation_failure`; `encode_failure` when no SPS/PPS come out; `already_closed`.
     */
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& header_data) {
        header_data.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        if (width < 16 || height < 16 || width > 4096 || height > 4096 || (width & 1u) || (height & 1u))
            return encoder_error::unsupported_resolution;
        if (settings_.max_bitrate != 0 && settings_.max_bitrate < settings_.bitrate)
            return encoder_error::invalid_parameter;
        if (!encoder_) {
            if (WelsCreateSVCEncoder(&encoder_) != 0 || !encoder_) {
                encoder_ = nullptr;
                return encoder_error::allocation_failure;
            }
            int quiet = WELS_LOG_QUIET;
            encoder_->SetOption(ENCODER_OPTION_TRACE_LEVEL, &quiet);
        }
        if (state_ == state::ready) {
            encoder_->Uninitialize();
            state_ = state::fresh;
        }

        SEncParamExt p{};
        encoder_->GetDefaultParams(&p);
        fill_params(p, width, height);
        if (const int rc = encoder_->InitializeExt(&p); rc != cmResultSuccess) return map_result(rc);
        int format = videoFormatI420;
        encoder_->SetOption(ENCODER_OPTION_DATAFORMAT, &format);

        SFrameBSInfo info{};
        if (encoder_->EncodeParameterSets(&info) != cmResultSuccess) {
            encoder_->Uninitialize();
            return encoder_error::encode_failure;
        }
        collect_nal_units(info);
        std::span<const std::byte> sps, pps;
        for (auto nal : nals_) {
            const std::uint8_t type = detail::nal_unit_type(nal);
            if (type == static_cast<std::uint8_t>(detail::nal_type::sps) && sps.empty()) sps = nal;
            if (type == static_cast<std::uint8_t>(detail::nal_type::pps) && pps.empty()) pps = nal;
        }
        header_data = detail::build_avc_decoder_config(sps, pps);
        if (header_data.empty()) {
            encoder_->Uninitialize();
            return encoder_error::encode_failure;
        }

        width_ = width;
        height_ = height;
        base_ms_ = 0;
        frames_ = 0;
        buffer_.resize(width, height);
        state_ = state::ready;
        return {};
    }

    /**
     * Sets a parameter by name (see the class comment for names and ranges).
     *
     * Errors: `invalid_parameter` for an unknown name, a value out of range or not integral
     * where an integer is expected, or a change OpenH264 refuses after init; `already_closed`.
     */
    std::error_code set_parameter(std::string_view name, double value) {
        if (state_ == state::closed) return encoder_error::already_closed;
        if (!std::isfinite(value)) return encoder_error::invalid_parameter;
        settings next = settings_;
        ENCODER_OPTION option{};
        if (name == "bitrate") {
            if (value < 1 || value > std::numeric_limits<int>::max()) return encoder_error::invalid_parameter;
            next.bitrate = static_cast<int>(std::lround(value));
            option = ENCODER_OPTION_BITRATE;
        } else if (name == "max_bitrate") {
            if (value < 0 || value > std::numeric_limits<int>::max()) return encoder_error::invalid_parameter;
            next.max_bitrate = static_cast<int>(std::lround(value));
            option = ENCODER_OPTION_MAX_BITRATE;
        } else if (name == "frame_rate") {
            if (value < 1 || value > 120) return encoder_error::invalid_parameter;
            next.frame_rate = value;
            option = ENCODER_OPTION_FRAME_RATE;
        } else if (name == "key_frame_interval") {
            if (!integral_in(value, 0, std::numeric_limits<int>::max())) return encoder_error::invalid_parameter;
            next.key_frame_interval = static_cast<int>(value);
            option = ENCODER_OPTION_IDR_INTERVAL;
        } else if (name == "rate_control") {
            if (!integral_in(value, -1, 3)) return encoder_error::invalid_parameter;
            next.rate_control = static_cast<int>(value);
            option = ENCODER_OPTION_RC_MODE;
        } else if (name == "complexity") {
            if (!integral_in(value, 0, 2)) return encoder_error::invalid_parameter;
            next.complexity = static_cast<int>(value);
            option = ENCODER_OPTION_COMPLEXITY;
        } else if (name == "threads") {
            if (!integral_in(value, 0, 64)) return encoder_error::invalid_parameter;
            if (state_ == state::ready) return encoder_error::invalid_parameter;
            next.threads = static_cast<int>(value);
            settings_ = next;
            return {};
        } else {
            return encoder_error::invalid_parameter;
        }
        if (state_ == state::ready) {
            // OpenH264 cannot lift a cap on the fly, and it handles a cap below the target unevenly.
            if (option == ENCODER_OPTION_MAX_BITRATE && next.max_bitrate == 0) return encoder_error::invalid_parameter;
            if (next.max_bitrate != 0 && next.max_bitrate < next.bitrate) return encoder_error::invalid_parameter;
            if (auto ec = apply(option, next); ec) return ec;
        }
        settings_ = next;
        return {};
    }

    /// The current value of a parameter (the effective key-frame interval); nullopt for an unknown name.
    std::optional<double> get_parameter(std::string_view name) const {
        if (name == "bitrate") return settings_.bitrate;
        if (name == "max_bitrate") return settings_.max_bitrate;
        if (name == "frame_rate") return settings_.frame_rate;
        if (name == "key_frame_interval") return settings_.effective_key_frame_interval();
        if (name == "rate_control") return settings_.rate_control;
        if (name == "complexity") return settings_.complexity;
        if (name == "threads") return settings_.threads;
        return std::nullopt;
    }

    /// I420 first (passed through without a copy), then the formats converted on the way in.
    std::span<const pixel_format> supported_pixel_formats() const noexcept { return formats_; }

    /**
     * Encodes one picture of the size given to `init`. `out.data` gets the AVCC NAL units of
     * the picture without SPS/PPS/SEI; it is empty when OpenH264 skipped the picture.
     *
     * Errors: `not_initialized`; `already_closed`; `unsupported_pixel_format`;
     * `invalid_parameter` for a picture of another size or with missing planes;
     * `encode_failure`.
     */
    std::error_code encode(const canvas_view& picture, encoded_frame& out) {
        out.data.clear();
        out.key_frame = false;
        if (state_ == state::closed) return encoder_error::already_closed;
        if (state_ != state::ready) return encoder_error::not_initialized;
        if (picture.width != width_ || picture.height != height_) return encoder_error::invalid_parameter;

        SSourcePicture pic{};
        pic.iColorFormat = videoFormatI420;
        pic.iPicWidth = static_cast<int>(width_);
        pic.iPicHeight = static_cast<int>(height_);
        if (picture.format == pixel_format::i420) {
            if (!detail::canvas_view_valid(picture)) return encoder_error::invalid_parameter;
            for (int i = 0; i < 3; ++i) {
                pic.pData[i] = mutable_bytes(picture.planes[i]);
                pic.iStride[i] = static_cast<int>(picture.strides[i]);
            }
        } else {
            const detail::i420_planes planes = buffer_.planes();
            if (auto ec = detail::convert_to_i420(picture, planes); ec) return ec;
            pic.pData[0] = mutable_bytes(planes.y);
            pic.pData[1] = mutable_bytes(planes.u);
            pic.pData[2] = mutable_bytes(planes.v);
            pic.iStride[0] = static_cast<int>(planes.y_stride);
            pic.iStride[1] = static_cast<int>(planes.u_stride);
            pic.iStride[2] = static_cast<int>(planes.v_stride);
        }
        pic.uiTimeStamp = std::llround(base_ms_ + static_cast<double>(frames_) * 1000.0 / settings_.frame_rate);

        if (pending_idr_) {
            encoder_->ForceIntraFrame(true);
            pending_idr_ = false;
        }
        SFrameBSInfo info{};
        if (encoder_->EncodeFrame(&pic, &info) != cmResultSuccess) return encoder_error::encode_failure;
        ++frames_;
        if (info.eFrameType == videoFrameTypeSkip || info.eFrameType == videoFrameTypeInvalid) return {};

        collect_nal_units(info);
        std::size_t total = 0;
        for (auto nal : nals_) total += 4 + nal.size();
        out.data.reserve(total);
        for (auto nal : nals_) {
            switch (static_cast<detail::nal_type>(detail::nal_unit_type(nal))) {
            case detail::nal_type::sei:
            case detail::nal_type::sps:
            case detail::nal_type::pps:
            case detail::nal_type::access_unit_delimiter: continue;
            default: detail::append_nal_unit(out.data, nal, detail::nal_framing::avcc);
            }
        }
        out.key_frame = info.eFrameType == videoFrameTypeIDR;
        return {};
    }

    /// Makes the next `encode` produce an IDR picture.
    void force_key_frame() noexcept { pending_idr_ = true; }

    /**
     * Uninitialises the codec; every later call gives `already_closed`. OpenH264 buffers
     * nothing, so `remaining` is left empty.
     *
     * Errors: `already_closed` on a second call.
     */
    std::error_code close(std::vector<std::byte>& remaining) {
        remaining.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        if (state_ == state::ready) encoder_->Uninitialize();
        state_ = state::closed;
        return {};
    }

    std::string_view identifier() const noexcept { return "openh264"; }
    /// FLV VideoTagHeader CodecID: 7 (AVC).
    std::uint8_t flv_codec_id() const noexcept { return 7; }

private:
    enum class state { fresh, ready, closed };

    struct settings {
        int bitrate = 2'500'000;
        int max_bitrate = 0;
        double frame_rate = 30;
        int key_frame_interval = -1;  // -1: two seconds' worth of frames
        int rate_control = RC_BITRATE_MODE;
        int complexity = MEDIUM_COMPLEXITY;
        int threads = 1;

        int effective_key_frame_interval() const noexcept {
            return key_frame_interval >= 0 ? key_frame_interval : static_cast<int>(std::lround(2 * frame_rate));
        }
    };

    static constexpr std::array<pixel_format, 6> formats_ = {pixel_format::i420, pixel_format::nv12,
                                                             pixel_format::rgba, pixel_format::bgra,
                                                             pixel_format::rgb24, pixel_format::bgr24};

    static bool integral_in(double v, double lo, double hi) noexcept {
        return v >= lo && v <= hi && std::floor(v) == v;
    }

    static unsigned char* mutable_bytes(const std::byte* p) noexcept {
        // OpenH264 takes non-const plane pointers but only reads the source picture.
        return static_cast<unsigned char*>(const_cast<void*>(static_cast<const void*>(p)));
    }

    static std::error_code map_result(int rc) noexcept {
        switch (rc) {
        case cmInitParaError:
        case cmUnsupportedData: return encoder_error::invalid_parameter;
        case cmMallocMemeError: return encoder_error::allocation_failure;
        default: return encoder_error::encode_failure;
        }
    }

    void fill_params(SEncParamExt& p, std::uint32_t width, std::uint32_t height) const noexcept {
        p.iUsageType = CAMERA_VIDEO_REAL_TIME;
        p.iPicWidth = static_cast<int>(width);
        p.iPicHeight = static_cast<int>(height);
        p.iTargetBitrate = settings_.bitrate;
        p.iMaxBitrate = settings_.max_bitrate == 0 ? UNSPECIFIED_BIT_RATE : settings_.max_bitrate;
        p.iRCMode = static_cast<RC_MODES>(settings_.rate_control);
        p.fMaxFrameRate = static_cast<float>(settings_.frame_rate);
        p.iTemporalLayerNum = 1;
        p.iSpatialLayerNum = 1;
        p.iComplexityMode = static_cast<ECOMPLEXITY_MODE>(settings_.complexity);
        p.uiIntraPeriod = static_cast<unsigned int>(settings_.effective_key_frame_interval());
        p.iNumRefFrame = 1;
        p.eSpsPpsIdStrategy = CONSTANT_ID;
        p.bPrefixNalAddingCtrl = false;
        p.bEnableSSEI = false;
        p.bSimulcastAVC = false;
        p.iPaddingFlag = 0;
        p.iEntropyCodingModeFlag = 0;  // CAVLC: baseline
        p.bEnableFrameSkip = false;
        p.bEnableLongTermReference = false;
        p.iMultipleThreadIdc = static_cast<unsigned short>(settings_.threads);

        SSpatialLayerConfig& layer = p.sSpatialLayers[0];
        layer.iVideoWidth = p.iPicWidth;
        layer.iVideoHeight = p.iPicHeight;
        layer.fFrameRate = p.fMaxFrameRate;
        layer.iSpatialBitrate = p.iTargetBitrate;
        layer.iMaxSpatialBitrate = p.iMaxBitrate;
        layer.uiProfileIdc = PRO_BASELINE;
        if (settings_.threads == 1) {
            layer.sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
        } else {
            layer.sSliceArgument.uiSliceMode = SM_FIXEDSLCNUM_SLICE;
            layer.sSliceArgument.uiSliceNum = static_cast<unsigned int>(settings_.threads);  // 0: automatic
        }
    }

    // Applies a changed parameter to the running codec.
    std::error_code apply(ENCODER_OPTION option, const settings& next) {
        int rc = cmResultSuccess;
        switch (option) {
        case ENCODER_OPTION_BITRATE: {
            SBitrateInfo b{SPATIAL_LAYER_ALL, next.bitrate};
            rc = encoder_->SetOption(option, &b);
            break;
        }
        case ENCODER_OPTION_MAX_BITRATE: {
            SBitrateInfo b{SPATIAL_LAYER_ALL, next.max_bitrate};
            rc = encoder_->SetOption(option, &b);
            break;
        }
        case ENCODER_OPTION_FRAME_RATE: {
            float f = static_cast<float>(next.frame_rate);
            rc = encoder_->SetOption(option, &f);
            if (rc == cmResultSuccess && next.key_frame_interval < 0) {
                int idr = next.effective_key_frame_interval();
                rc = encoder_->SetOption(ENCODER_OPTION_IDR_INTERVAL, &idr);
            }
            if (rc == cmResultSuccess) {  // timestamps continue from where the old rate left them
                base_ms_ += static_cast<double>(frames_) * 1000.0 / settings_.frame_rate;
                frames_ = 0;
            }
            break;
        }
        case ENCODER_OPTION_IDR_INTERVAL: {
            int idr = next.key_frame_interval;
            rc = encoder_->SetOption(option, &idr);
            break;
        }
        case ENCODER_OPTION_RC_MODE: {
            RC_MODES mode = static_cast<RC_MODES>(next.rate_control);
            rc = encoder_->SetOption(option, &mode);
            break;
        }
        case ENCODER_OPTION_COMPLEXITY: {
            ECOMPLEXITY_MODE mode = static_cast<ECOMPLEXITY_MODE>(next.complexity);
            rc = encoder_->SetOption(option, &mode);
            break;
        }
        default: return encoder_error::invalid_parameter;
        }
        return rc == cmResultSuccess ? std::error_code{} : std::error_code{encoder_error::invalid_parameter};
    }

    // The NAL units of every layer of `info` into nals_ (spans into OpenH264's buffers).
    void collect_nal_units(const SFrameBSInfo& info) {
        nals_.clear();
        for (int i = 0; i < info.iLayerNum; ++i) {
            const SLayerBSInfo& layer = info.sLayerInfo[i];
            std::size_t size = 0;
            for (int n = 0; n < layer.iNalCount; ++n) size += static_cast<std::size_t>(layer.pNalLengthInByte[n]);
            const void* bytes = layer.pBsBuf;
            detail::split_annex_b({static_cast<const std::byte*>(bytes), size}, nals_);
        }
    }

    void release() noexcept {
        if (!encoder_) return;
        if (state_ == state::ready) encoder_->Uninitialize();
        WelsDestroySVCEncoder(encoder_);
        encoder_ = nullptr;
    }

    ISVCEncoder* encoder_ = nullptr;
    state state_ = state::fresh;
    settings settings_;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    bool pending_idr_ = false;
    double base_ms_ = 0;       // timestamp of frame 0 at the current frame rate
    std::uint64_t frames_ = 0; // frames encoded at the current frame rate
    detail::i420_buffer buffer_;
    std::vector<std::span<const std::byte>> nals_;
};

static_assert(video_encoder<openh264_encoder>);

RTMPX_NAMESPACE_END

#endif // defined(RTMPX_WITH_OPENH264)
// ---- end of include/rtmpx/codec/openh264_encoder.hpp ----
// ---- include/rtmpx/codec/screen_video_encoder.hpp ----
// A lossless Flash Screen Video (version 1, FLV codec id 3) video_encoder over zlib; only with RTMPX_WITH_ZLIB.

#if defined(RTMPX_WITH_ZLIB)

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <zlib.h>


RTMPX_NAMESPACE_BEGIN

/**
 * Flash Screen Video version 1 (FLV VideoTagHeader CodecID 3): lossless, the picture cut into
 * square blocks, each block's BGR pixels compressed with zlib. Suits synthetic pictures (user
 * interfaces, charts, text) where most blocks stay the same from frame to frame.
 *
 * Bitstream of one frame (`encoded_frame::data`, without the FLV FrameType/CodecID byte that
 * the server puts in front):
 * - UB[4] block width / 16 - 1, UB[12] image width, UB[4] block height / 16 - 1,
 *   UB[12] image height (4 bytes, big-endian bit order);
 * - the blocks in rows starting at the bottom-left corner: left to right within a row, rows
 *   bottom to top; the blocks of the last column and of the top row are cut to the picture;
 * - each block: UB[16] size, then `size` bytes of zlib data holding the block's pixels as
 *   B, G, R bytes, pixel rows bottom to top. Size 0 (inter frames only) means "as in the
 *   previous frame".
 *
 * Key frames carry every block; inter frames give size 0 to every block whose pixels did not
 * change. There is no sequence header: `init` leaves `header` empty.
 *
 * Parameters (`set_parameter` before or after `init`, integral values):
 * - "block_size": block width and height in pixels, 16..256 and a multiple of 16 (default 64);
 *   a change after init makes the next frame a key frame.
 * - "key_frame_interval": frames from one key frame to the next, 0 for only the first (and
 *   forced ones) (default 60).
 * - "compression_level": zlib level 0..9 (default 6). A block whose zlib data would not fit
 *   the 16-bit size at this level is compressed again at level 9.
 *
 * Thread: not thread-safe; one thread at a time drives an encoder (distinct encoders are
 * independent).
 * Errors: `encoder_error` values; nothing is thrown (beyond std::bad_alloc from the containers).
 * Lifetime: a plain value (copyable and movable); it holds two BGR copies of the picture.
 */
class screen_video_encoder {
public:
    screen_video_encoder() noexcept = default;

    /**
     * Prepares for `width` x `height` pictures; `header` is cleared (codec 3 has none). Calling
     * it again starts over (e.g. for a new size) with a key frame.
     *
     * Errors: `unsupported_resolution` unless both sizes are in 1..4095; `already_closed`.
     */
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& header) {
        header.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        if (width < 1 || height < 1 || width > max_dimension || height > max_dimension)
            return encoder_error::unsupported_resolution;
        width_ = width;
        height_ = height;
        const std::size_t bytes = std::size_t{width} * height * 3;
        current_.assign(bytes, std::byte{0});
        previous_.assign(bytes, std::byte{0});
        frames_since_key_ = 0;
        pending_key_ = true;
        state_ = state::ready;
        return {};
    }

    /**
     * Sets a parameter by name (see the class comment for names and ranges).
     *
     * Errors: `invalid_parameter` for an unknown name or a value out of range or not integral;
     * `already_closed`.
     */
    std::error_code set_parameter(std::string_view name, double value) noexcept {
        if (state_ == state::closed) return encoder_error::already_closed;
        if (name == "block_size") {
            if (!integral_in(value, 16, 256) || static_cast<int>(value) % 16 != 0) return encoder_error::invalid_parameter;
            const auto size = static_cast<std::uint32_t>(value);
            if (size != block_size_ && state_ == state::ready) pending_key_ = true;
            block_size_ = size;
        } else if (name == "key_frame_interval") {
            if (!integral_in(value, 0, 1'000'000'000)) return encoder_error::invalid_parameter;
            key_frame_interval_ = static_cast<std::uint32_t>(value);
        } else if (name == "compression_level") {
            if (!integral_in(value, 0, 9)) return encoder_error::invalid_parameter;
            compression_level_ = static_cast<int>(value);
        } else {
            return encoder_error::invalid_parameter;
        }
        return {};
    }

    /// The current value of a parameter; nullopt for an unknown name.
    std::optional<double> get_parameter(std::string_view name) const noexcept {
        if (name == "block_size") return block_size_;
        if (name == "key_frame_interval") return key_frame_interval_;
        if (name == "compression_level") return compression_level_;
        return std::nullopt;
    }

    /// The packed RGB formats: rgba, bgra, rgb24, bgr24 (alpha is ignored).
    std::span<const pixel_format> supported_pixel_formats() const noexcept { return formats_; }

    /**
     * Encodes one picture of the size given to `init` into `out.data` (header and blocks, see
     * the class comment); `out.key_frame` tells whether every block is present.
     *
     * Errors: `not_initialized`; `already_closed`; `unsupported_pixel_format` for i420/nv12;
     * `invalid_parameter` for a picture of another size, a missing plane or a short stride;
     * `allocation_failure` when zlib runs out of memory; `encode_failure` when a block does
     * not fit in 65535 bytes of zlib data even at level 9. On an error `out.data` is empty
     * and the reference picture is unchanged.
     */
    std::error_code encode(const canvas_view& picture, encoded_frame& out) {
        out.data.clear();
        out.key_frame = false;
        if (state_ == state::closed) return encoder_error::already_closed;
        if (state_ != state::ready) return encoder_error::not_initialized;
        if (!is_packed(picture.format)) return encoder_error::unsupported_pixel_format;
        if (picture.width != width_ || picture.height != height_ || !detail::canvas_view_valid(picture))
            return encoder_error::invalid_parameter;

        to_bgr(picture);
        const bool key = pending_key_ || (key_frame_interval_ != 0 && frames_since_key_ >= key_frame_interval_);

        const std::uint32_t bs = block_size_;
        const std::uint32_t columns = (width_ + bs - 1) / bs;
        const std::uint32_t rows = (height_ + bs - 1) / bs;
        const auto code = static_cast<std::uint32_t>(bs / 16 - 1);
        out.data.reserve(4 + std::size_t{columns} * rows * 2);
        out.data.push_back(static_cast<std::byte>((code << 4) | (width_ >> 8)));
        out.data.push_back(static_cast<std::byte>(width_ & 0xffu));
        out.data.push_back(static_cast<std::byte>((code << 4) | (height_ >> 8)));
        out.data.push_back(static_cast<std::byte>(height_ & 0xffu));

        for (std::uint32_t row = 0; row < rows; ++row) {
            // Block row 0 is at the bottom: its lowest pixel row is picture row height - 1.
            const std::uint32_t bottom = height_ - row * bs;  // one past the block's lowest row (top-down)
            const std::uint32_t bh = std::min(bs, bottom);
            for (std::uint32_t column = 0; column < columns; ++column) {
                const std::uint32_t x = column * bs;
                const std::uint32_t bw = std::min(bs, width_ - x);
                if (!key && block_unchanged(x, bottom - bh, bw, bh)) {
                    out.data.push_back(std::byte{0});
                    out.data.push_back(std::byte{0});
                    continue;
                }
                if (auto ec = append_block(out.data, x, bottom, bw, bh); ec) {
                    out.data.clear();
                    return ec;
                }
            }
        }

        current_.swap(previous_);
        pending_key_ = false;
        frames_since_key_ = key ? 1 : frames_since_key_ + 1;
        out.key_frame = key;
        return {};
    }

    /// Makes the next `encode` produce a key frame (every block present).
    void force_key_frame() noexcept { pending_key_ = true; }

    /**
     * Ends the stream; every later call gives `already_closed`. Nothing is buffered, so
     * `remaining` is left empty.
     *
     * Errors: `already_closed` on a second call.
     */
    std::error_code close(std::vector<std::byte>& remaining) {
        remaining.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        state_ = state::closed;
        current_ = {};
        previous_ = {};
        scratch_ = {};
        block_ = {};
        return {};
    }

    std::string_view identifier() const noexcept { return "screen video"; }
    /// FLV VideoTagHeader CodecID: 3 (Screen video).
    std::uint8_t flv_codec_id() const noexcept { return 3; }

    /// Largest width or height the 12-bit header fields hold.
    static constexpr std::uint32_t max_dimension = 4095;

private:
    enum class state { fresh, ready, closed };

    static constexpr std::array<pixel_format, 4> formats_ = {pixel_format::rgba, pixel_format::bgra,
                                                             pixel_format::rgb24, pixel_format::bgr24};

    static bool integral_in(double v, double lo, double hi) noexcept {
        return std::isfinite(v) && v >= lo && v <= hi && std::floor(v) == v;
    }

    // The picture into current_: top-down rows of B, G, R.
    void to_bgr(const canvas_view& picture) noexcept {
        const std::uint32_t bpp = bytes_per_pixel(picture.format);
        const bool red_first = picture.format == pixel_format::rgba || picture.format == pixel_format::rgb24;
        const unsigned r = red_first ? 0 : 2;
        const unsigned b = red_first ? 2 : 0;
        for (std::uint32_t y = 0; y < height_; ++y) {
            const std::byte* src = picture.planes[0] + std::size_t{y} * picture.strides[0];
            std::byte* dst = current_.data() + std::size_t{y} * width_ * 3;
            for (std::uint32_t x = 0; x < width_; ++x, src += bpp, dst += 3) {
                dst[0] = src[b];
                dst[1] = src[1];
                dst[2] = src[r];
            }
        }
    }

    // True when the block at column x, top-down rows [top, top + h) is the same in both pictures.
    bool block_unchanged(std::uint32_t x, std::uint32_t top, std::uint32_t w, std::uint32_t h) const noexcept {
        for (std::uint32_t y = top; y < top + h; ++y) {
            const std::size_t at = (std::size_t{y} * width_ + x) * 3;
            if (!std::equal(current_.begin() + static_cast<std::ptrdiff_t>(at),
                            current_.begin() + static_cast<std::ptrdiff_t>(at + std::size_t{w} * 3),
                            previous_.begin() + static_cast<std::ptrdiff_t>(at)))
                return false;
        }
        return true;
    }

    // Appends UB[16] size + zlib data of the block whose lowest row is `bottom` - 1 (top-down).
    std::error_code append_block(std::vector<std::byte>& data, std::uint32_t x, std::uint32_t bottom, std::uint32_t w,
                                 std::uint32_t h) {
        const std::size_t row_bytes = std::size_t{w} * 3;
        block_.resize(row_bytes * h);
        std::byte* dst = block_.data();
        for (std::uint32_t i = 1; i <= h; ++i, dst += row_bytes) {  // rows bottom to top
            const std::byte* src = current_.data() + (std::size_t{bottom - i} * width_ + x) * 3;
            std::copy_n(src, row_bytes, dst);
        }

        const uLong source_size = static_cast<uLong>(block_.size());
        scratch_.resize(static_cast<std::size_t>(compressBound(source_size)));
        uLongf size = 0;
        int level = compression_level_;
        for (;;) {
            size = static_cast<uLongf>(scratch_.size());
            const int rc = compress2(reinterpret_cast<Bytef*>(scratch_.data()), &size,
                                     reinterpret_cast<const Bytef*>(block_.data()), source_size, level);
            if (rc == Z_MEM_ERROR) return encoder_error::allocation_failure;
            if (rc != Z_OK) return encoder_error::encode_failure;
            if (size <= max_block_data) break;
            if (level == Z_BEST_COMPRESSION) return encoder_error::encode_failure;
            level = Z_BEST_COMPRESSION;
        }

        data.push_back(static_cast<std::byte>(size >> 8));
        data.push_back(static_cast<std::byte>(size & 0xffu));
        data.insert(data.end(), scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(size));
        return {};
    }

    static constexpr uLongf max_block_data = 0xffff;

    state state_ = state::fresh;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::uint32_t block_size_ = 64;
    std::uint32_t key_frame_interval_ = 60;
    int compression_level_ = 6;
    std::uint64_t frames_since_key_ = 0;  // frames encoded since the last key frame, counting it
    bool pending_key_ = false;
    std::vector<std::byte> current_;   // the picture being encoded, top-down BGR
    std::vector<std::byte> previous_;  // the last encoded picture, top-down BGR
    std::vector<std::byte> block_;     // one block's BGR rows, bottom to top
    std::vector<std::byte> scratch_;   // zlib output of one block
};

static_assert(video_encoder<screen_video_encoder>);

RTMPX_NAMESPACE_END

#endif // defined(RTMPX_WITH_ZLIB)
// ---- end of include/rtmpx/codec/screen_video_encoder.hpp ----
// ---- include/rtmpx/audio_codec.hpp ----
// A source's audio encoder behind one type (any `audio_encoder`).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN

/**
 * The audio encoder a broadcast owns: any type that satisfies `audio_encoder`, with the sample
 * rate and channel count it was opened for and its configuration (`header()`).
 *
 * Thread: once the broadcast runs, only its thread uses it.
 */
class audio_codec {
public:
    template <audio_encoder E>
    explicit audio_codec(E encoder) : impl_(std::make_unique<model<E>>(std::move(encoder))) {}

    /// Opens the encoder for `sample_rate` and `channels`; the configuration is then in `header()`.
    std::error_code init(std::uint32_t sample_rate, std::uint32_t channels) {
        std::vector<std::byte> header;
        if (auto ec = impl_->init(sample_rate, channels, header)) return ec;
        header_ = std::move(header);
        sample_rate_ = sample_rate;
        channels_ = channels;
        return {};
    }
    std::error_code encode(std::span<const std::int16_t> pcm, std::vector<encoded_audio>& packets) { return impl_->encode(pcm, packets); }
    std::error_code close(std::vector<encoded_audio>& packets) { return impl_->close(packets); }
    std::error_code set_parameter(std::string_view name, double value) { return impl_->set_parameter(name, value); }
    std::optional<double> get_parameter(std::string_view name) const { return impl_->get_parameter(name); }
    std::string_view identifier() const { return impl_->identifier(); }
    /// The FLV SoundFormat (10 AAC; 9 with `fourcc()` for Enhanced RTMP audio).
    std::uint8_t flv_sound_format() const { return impl_->flv_sound_format(); }
    std::uint32_t fourcc() const { return impl_->fourcc(); }

    const std::vector<std::byte>& header() const noexcept { return header_; }
    std::uint32_t sample_rate() const noexcept { return sample_rate_; }
    std::uint32_t channels() const noexcept { return channels_; }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual std::error_code init(std::uint32_t, std::uint32_t, std::vector<std::byte>&) = 0;
        virtual std::error_code encode(std::span<const std::int16_t>, std::vector<encoded_audio>&) = 0;
        virtual std::error_code close(std::vector<encoded_audio>&) = 0;
        virtual std::error_code set_parameter(std::string_view, double) = 0;
        virtual std::optional<double> get_parameter(std::string_view) const = 0;
        virtual std::string_view identifier() const = 0;
        virtual std::uint8_t flv_sound_format() const = 0;
        virtual std::uint32_t fourcc() const = 0;
    };
    template <class E>
    struct model final : concept_t {
        explicit model(E e) : enc(std::move(e)) {}
        std::error_code init(std::uint32_t r, std::uint32_t c, std::vector<std::byte>& h) override { return enc.init(r, c, h); }
        std::error_code encode(std::span<const std::int16_t> p, std::vector<encoded_audio>& o) override { return enc.encode(p, o); }
        std::error_code close(std::vector<encoded_audio>& o) override { return enc.close(o); }
        std::error_code set_parameter(std::string_view n, double v) override { return enc.set_parameter(n, v); }
        std::optional<double> get_parameter(std::string_view n) const override { return enc.get_parameter(n); }
        std::string_view identifier() const override { return enc.identifier(); }
        std::uint8_t flv_sound_format() const override { return enc.flv_sound_format(); }
        std::uint32_t fourcc() const override { return enc.fourcc(); }
        E enc;
    };

    std::unique_ptr<concept_t> impl_;
    std::vector<std::byte> header_;
    std::uint32_t sample_rate_ = 0;
    std::uint32_t channels_ = 0;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/audio_codec.hpp ----
// ---- include/rtmpx/video_codec.hpp ----
// A stream's encoder behind one type (any `video_encoder`), and the registry of codecs by name.

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// ---- include/rtmpx/codec/libavcodec_audio_encoder.hpp ----
// An audio_encoder over FFmpeg's libavcodec (AAC, Opus); only with RTMPX_WITH_LIBAVCODEC.

// ---- include/rtmpx/codec/libavcodec_common.hpp ----
// What the libavcodec adapters share: owners of libavcodec's context, frame and packet.

#if defined(RTMPX_WITH_LIBAVCODEC)

#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}


RTMPX_NAMESPACE_BEGIN
namespace detail {

struct av_context_free {
    void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};
struct av_frame_free {
    void operator()(AVFrame* f) const noexcept { ::av_frame_free(&f); }
};
struct av_packet_free {
    void operator()(AVPacket* p) const noexcept { ::av_packet_free(&p); }
};
using av_context_ptr = std::unique_ptr<AVCodecContext, av_context_free>;
using av_frame_ptr = std::unique_ptr<AVFrame, av_frame_free>;
using av_packet_ptr = std::unique_ptr<AVPacket, av_packet_free>;

} // namespace detail
RTMPX_NAMESPACE_END

#endif // RTMPX_WITH_LIBAVCODEC
// ---- end of include/rtmpx/codec/libavcodec_common.hpp ----
#if defined(RTMPX_WITH_LIBAVCODEC)

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
}


RTMPX_NAMESPACE_BEGIN

/**
 * An audio encoder of libavcodec by its name, fed interleaved 16-bit PCM, which it converts to
 * the codec's sample format and cuts into the codec's frames.
 *
 * - `aac()`: AAC-LC (FFmpeg's own encoder), FLV SoundFormat 10, which every player decodes;
 *   any sample rate AAC has (8000 to 96000), 1 to 8 channels.
 * - `opus()`: Opus (libopus), sent as Enhanced RTMP audio (FourCC `Opus`), only to players that
 *   declared it; 48000, 24000, 16000, 12000 or 8000 Hz, 1 or 2 channels.
 *
 * Parameters (before `init`): "bitrate" in bits/s, > 0 (default 128000).
 * Thread: one thread at a time. Errors: `encoder_error` values. Lifetime: move-only.
 */
class libavcodec_audio_encoder {
public:
    libavcodec_audio_encoder(std::string codec_name, std::uint8_t sound_format, std::uint32_t fourcc, std::string identifier)
        : codec_name_(std::move(codec_name)), sound_format_(sound_format), fourcc_(fourcc), identifier_(std::move(identifier)) {}

    static libavcodec_audio_encoder aac() { return libavcodec_audio_encoder("aac", 10, 0, "libavcodec aac"); }
    static libavcodec_audio_encoder opus() { return libavcodec_audio_encoder("libopus", 9, 0x4f707573, "libavcodec libopus"); }

    /// Whether this libavcodec has the encoder.
    bool available() const { return avcodec_find_encoder_by_name(codec_name_.c_str()) != nullptr; }

    /**
     * Opens the codec for `sample_rate` and `channels`; `header` gets its configuration
     * (AudioSpecificConfig, or the Opus identification header).
     * Errors: `already_closed`; `invalid_parameter` (no such encoder, or it refused the rate or
     * channel count); `allocation_failure`; `encode_failure` (no configuration from the codec).
     */
    std::error_code init(std::uint32_t sample_rate, std::uint32_t channels, std::vector<std::byte>& header) {
        header.clear();
        if (closed_) return encoder_error::already_closed;
        if (sample_rate == 0 || sample_rate > 192000 || channels == 0 || channels > 8) return encoder_error::invalid_parameter;
        const AVCodec* codec = avcodec_find_encoder_by_name(codec_name_.c_str());
        if (codec == nullptr) return encoder_error::invalid_parameter;
        context_ptr context(avcodec_alloc_context3(codec));
        frame_ptr frame(av_frame_alloc());
        packet_ptr packet(av_packet_alloc());
        if (!context || !frame || !packet) return encoder_error::allocation_failure;
        context->sample_rate = static_cast<int>(sample_rate);
        av_channel_layout_default(&context->ch_layout, static_cast<int>(channels));
        context->sample_fmt = pick_format(codec);
        if (context->sample_fmt == AV_SAMPLE_FMT_NONE) return encoder_error::invalid_parameter;
        context->bit_rate = bitrate_;
        context->time_base = AVRational{1, static_cast<int>(sample_rate)};
        context->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // the configuration once, for the sequence header
        if (avcodec_open2(context.get(), codec, nullptr) < 0) return encoder_error::invalid_parameter;
        if (context->extradata == nullptr || context->extradata_size <= 0) return encoder_error::encode_failure;
        frame->format = context->sample_fmt;
        frame->nb_samples = context->frame_size > 0 ? context->frame_size : 1024;
        frame->sample_rate = context->sample_rate;
        if (av_channel_layout_copy(&frame->ch_layout, &context->ch_layout) < 0 || av_frame_get_buffer(frame.get(), 0) < 0)
            return encoder_error::allocation_failure;
        const auto* extra = reinterpret_cast<const std::byte*>(context->extradata);
        header.assign(extra, extra + context->extradata_size);
        context_ = std::move(context);
        frame_ = std::move(frame);
        packet_ = std::move(packet);
        channels_ = channels;
        pending_.clear();
        next_sample_ = 0;
        emitted_ = 0;
        return {};
    }

    /// Before `init` only. Errors: `invalid_parameter`, `already_closed`.
    std::error_code set_parameter(std::string_view name, double value) {
        if (closed_) return encoder_error::already_closed;
        if (context_ || name != "bitrate" || !std::isfinite(value) || value < 1 || value > std::numeric_limits<int>::max())
            return encoder_error::invalid_parameter;
        bitrate_ = static_cast<std::int64_t>(value);
        return {};
    }

    std::optional<double> get_parameter(std::string_view name) const {
        if (name == "bitrate") return static_cast<double>(bitrate_);
        return std::nullopt;
    }

    /**
     * Takes `pcm` (interleaved, `channels` per sample frame, a whole number of them) and appends
     * every packet the codec finishes. Errors: `not_initialized`; `already_closed`;
     * `invalid_parameter` (not a whole number of sample frames); `encode_failure`.
     */
    std::error_code encode(std::span<const std::int16_t> pcm, std::vector<encoded_audio>& packets) {
        if (closed_) return encoder_error::already_closed;
        if (!context_) return encoder_error::not_initialized;
        if (pcm.size() % channels_ != 0) return encoder_error::invalid_parameter;
        pending_.insert(pending_.end(), pcm.begin(), pcm.end());
        const std::size_t per_frame = static_cast<std::size_t>(frame_->nb_samples) * channels_;
        std::size_t used = 0;
        while (pending_.size() - used >= per_frame) {
            if (auto ec = send(std::span(pending_).subspan(used, per_frame), packets)) return ec;
            used += per_frame;
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
        return {};
    }

    /// Encodes what waits (padded with silence to a frame), flushes the codec and frees it.
    /// Errors: `already_closed` on a second call.
    std::error_code close(std::vector<encoded_audio>& packets) {
        if (closed_) return encoder_error::already_closed;
        closed_ = true;
        if (context_) {
            if (!pending_.empty()) {
                pending_.resize(static_cast<std::size_t>(frame_->nb_samples) * channels_, 0);
                (void)send(pending_, packets);
            }
            if (avcodec_send_frame(context_.get(), nullptr) >= 0) (void)drain(packets);
        }
        context_.reset();
        frame_.reset();
        packet_.reset();
        return {};
    }

    std::string_view identifier() const noexcept { return identifier_; }
    std::uint8_t flv_sound_format() const noexcept { return sound_format_; }
    std::uint32_t fourcc() const noexcept { return fourcc_; }

private:
    using context_ptr = detail::av_context_ptr;
    using frame_ptr = detail::av_frame_ptr;
    using packet_ptr = detail::av_packet_ptr;

    // The first of the codec's formats that 16-bit samples convert to here.
    static AVSampleFormat pick_format(const AVCodec* codec) {
        static constexpr AVSampleFormat known[] = {AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP};
        if (codec->sample_fmts == nullptr) return AV_SAMPLE_FMT_S16;
        for (const AVSampleFormat* f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; ++f)
            if (std::find(std::begin(known), std::end(known), *f) != std::end(known)) return *f;
        return AV_SAMPLE_FMT_NONE;
    }

    // One codec frame of interleaved samples, converted into frame_ and sent.
    std::error_code send(std::span<const std::int16_t> samples, std::vector<encoded_audio>& packets) {
        if (av_frame_make_writable(frame_.get()) < 0) return encoder_error::allocation_failure;
        const std::size_t count = static_cast<std::size_t>(frame_->nb_samples);
        const auto format = static_cast<AVSampleFormat>(frame_->format);
        const bool planar = av_sample_fmt_is_planar(format) != 0;
        for (std::size_t i = 0; i < count; ++i) {
            for (std::size_t c = 0; c < channels_; ++c) {
                const std::int16_t v = samples[i * channels_ + c];
                const std::size_t at = planar ? i : i * channels_ + c;
                std::uint8_t* plane = frame_->data[planar ? c : 0];
                if (format == AV_SAMPLE_FMT_S16 || format == AV_SAMPLE_FMT_S16P)
                    reinterpret_cast<std::int16_t*>(plane)[at] = v;
                else
                    reinterpret_cast<float*>(plane)[at] = static_cast<float>(v) / 32768.0f;
            }
        }
        frame_->pts = next_sample_;
        next_sample_ += static_cast<std::int64_t>(count);
        if (avcodec_send_frame(context_.get(), frame_.get()) < 0) return encoder_error::encode_failure;
        return drain(packets);
    }

    std::error_code drain(std::vector<encoded_audio>& packets) {
        for (;;) {
            const int rc = avcodec_receive_packet(context_.get(), packet_.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
            if (rc < 0) return encoder_error::encode_failure;
            encoded_audio out;
            const auto* bytes = reinterpret_cast<const std::byte*>(packet_->data);
            out.data.assign(bytes, bytes + packet_->size);
            // Where the packet's first sample is in the PCM handed in: the codec's priming
            // (initial padding) puts the first packets before 0.
            out.first_sample = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : emitted_;
            out.samples = static_cast<std::uint32_t>(packet_->duration > 0 ? packet_->duration : frame_->nb_samples);
            emitted_ = out.first_sample + out.samples;
            av_packet_unref(packet_.get());
            packets.push_back(std::move(out));
        }
    }

    std::string codec_name_;
    std::uint8_t sound_format_;
    std::uint32_t fourcc_;
    std::string identifier_;
    std::int64_t bitrate_ = 128'000;
    context_ptr context_;
    frame_ptr frame_;
    packet_ptr packet_;
    std::size_t channels_ = 0;
    std::vector<std::int16_t> pending_;
    std::int64_t next_sample_ = 0;
    std::int64_t emitted_ = 0;
    bool closed_ = false;
};

RTMPX_NAMESPACE_END

#endif // RTMPX_WITH_LIBAVCODEC
// ---- end of include/rtmpx/codec/libavcodec_audio_encoder.hpp ----
// ---- include/rtmpx/codec/libavcodec_encoder.hpp ----
// A video_encoder over FFmpeg's libavcodec (Sorenson Spark, AV1, VP9, HEVC); only with RTMPX_WITH_LIBAVCODEC.

// ---- include/rtmpx/detail/config_records.hpp ----
// The codec configuration records Enhanced RTMP sends in a SequenceStart: AV1CodecConfigurationRecord
// (av1C), VPCodecConfigurationRecord (vpcC) and HEVCDecoderConfigurationRecord (hvcC), built from
// what encoders give (an AV1 sequence header OBU, HEVC parameter sets in Annex B).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Reads bits most significant first, with Exp-Golomb (H.265 ue(v)) and AV1 uvlc() codes.
/// Reading past the end sets `failed()` and gives zeros.
class bit_reader {
public:
    explicit bit_reader(std::span<const std::byte> data) noexcept : data_(data) {}

    std::uint32_t bits(unsigned count) noexcept {
        std::uint32_t v = 0;
        for (unsigned i = 0; i < count; ++i) v = (v << 1) | bit();
        return v;
    }
    std::uint32_t bit() noexcept {
        if (pos_ >= data_.size() * 8) {
            failed_ = true;
            return 0;
        }
        const std::uint32_t b = (u8(data_[pos_ / 8]) >> (7 - pos_ % 8)) & 1u;
        ++pos_;
        return b;
    }
    void skip(std::size_t count) noexcept {
        if (count > data_.size() * 8 - pos_) failed_ = true;
        pos_ = failed_ ? data_.size() * 8 : pos_ + count;
    }
    /// ue(v): 2^n - 1 + n bits after n leading zeros; at most 31 leading zeros.
    std::uint32_t exp_golomb() noexcept {
        unsigned zeros = 0;
        while (!failed_ && bit() == 0) {
            if (++zeros > 31) {
                failed_ = true;
                return 0;
            }
        }
        return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
    }
    /// AV1 uvlc(): as ue(v), but 32 or more leading zeros mean 2^32 - 1.
    std::uint32_t uvlc() noexcept {
        unsigned zeros = 0;
        while (!failed_ && bit() == 0) ++zeros;
        if (zeros >= 32) return 0xffffffffu;
        return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
    }
    bool failed() const noexcept { return failed_; }

private:
    std::span<const std::byte> data_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

// ---- AV1 ----------------------------------------------------------------------------------------

/// One OBU of a low-overhead AV1 bitstream (AV1 §5.3): its type, and the whole OBU's bytes.
struct av1_obu {
    std::uint8_t type = 0;  ///< obu_type: 1 sequence header, 2 temporal delimiter, 6 frame, ...
    std::span<const std::byte> bytes;    ///< header, size field and payload
    std::span<const std::byte> payload;  ///< what follows the header and size field
};

inline constexpr std::uint8_t av1_obu_sequence_header = 1;
inline constexpr std::uint8_t av1_obu_temporal_delimiter = 2;

/// Splits OBUs that all carry obu_size (as encoders write them); false when one does not, or
/// runs past the end.
inline bool split_av1_obus(std::span<const std::byte> data, std::vector<av1_obu>& out) {
    std::size_t i = 0;
    while (i < data.size()) {
        const std::uint8_t header = u8(data[i]);
        const bool extension = (header & 0x04) != 0;
        if ((header & 0x80) != 0 || (header & 0x02) == 0) return false;  // forbidden bit, or no obu_size
        std::size_t pos = i + 1 + (extension ? 1 : 0);
        std::uint64_t size = 0;
        for (unsigned n = 0;; ++n) {  // leb128, at most 8 bytes
            if (n == 8 || pos >= data.size()) return false;
            const std::uint8_t b = u8(data[pos++]);
            size |= std::uint64_t(b & 0x7f) << (7 * n);
            if ((b & 0x80) == 0) break;
        }
        if (size > data.size() - pos) return false;
        out.push_back({static_cast<std::uint8_t>((header >> 3) & 0x0f), data.subspan(i, pos + size - i), data.subspan(pos, size)});
        i = pos + static_cast<std::size_t>(size);
    }
    return true;
}

/// What av1C repeats from a sequence header OBU.
struct av1_sequence_info {
    std::uint8_t profile = 0;
    std::uint8_t level = 0;  ///< seq_level_idx of the first operating point
    std::uint8_t tier = 0;
    bool high_bitdepth = false;
    bool twelve_bit = false;
    bool monochrome = false;
    bool subsampling_x = true;
    bool subsampling_y = true;
    std::uint8_t chroma_sample_position = 0;
};

/// Reads a sequence_header_obu() payload (AV1 §5.5) up to its color_config; nullopt when short.
inline std::optional<av1_sequence_info> parse_av1_sequence_header(std::span<const std::byte> payload) {
    bit_reader r(payload);
    av1_sequence_info info;
    info.profile = static_cast<std::uint8_t>(r.bits(3));
    r.skip(1);  // still_picture
    const bool reduced = r.bit() != 0;
    if (reduced) {
        info.level = static_cast<std::uint8_t>(r.bits(5));
    } else {
        bool decoder_model_info = false;
        unsigned buffer_delay_length = 0;
        if (r.bit()) {  // timing_info_present_flag
            r.skip(64);  // num_units_in_display_tick, time_scale
            if (r.bit()) (void)r.uvlc();  // equal_picture_interval: num_ticks_per_picture_minus_1
            decoder_model_info = r.bit() != 0;
            if (decoder_model_info) {
                buffer_delay_length = r.bits(5) + 1;
                r.skip(32 + 5 + 5);  // num_units_in_decoding_tick, two lengths
            }
        }
        const bool initial_display_delay = r.bit() != 0;
        const unsigned operating_points = r.bits(5) + 1;
        for (unsigned i = 0; i < operating_points && !r.failed(); ++i) {
            r.skip(12);  // operating_point_idc
            const auto level = static_cast<std::uint8_t>(r.bits(5));
            const auto tier = static_cast<std::uint8_t>(level > 7 ? r.bit() : 0);
            if (i == 0) {
                info.level = level;
                info.tier = tier;
            }
            if (decoder_model_info && r.bit()) r.skip(2 * buffer_delay_length + 1);
            if (initial_display_delay && r.bit()) r.skip(4);
        }
    }
    const unsigned width_bits = r.bits(4) + 1;
    const unsigned height_bits = r.bits(4) + 1;
    r.skip(width_bits + height_bits);
    if (!reduced && r.bit()) r.skip(4 + 3);  // frame_id_numbers_present_flag: two lengths
    r.skip(3);  // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if (!reduced) {
        r.skip(4);  // interintra, masked compound, warped motion, dual filter
        const bool order_hint = r.bit() != 0;
        if (order_hint) r.skip(2);  // jnt_comp, ref_frame_mvs
        const bool force_screen_content = r.bit() ? true : r.bit() != 0;  // seq_choose_screen_content_tools
        if (force_screen_content && !r.bit()) r.skip(1);                  // seq_choose_integer_mv, or the value
        if (order_hint) r.skip(3);
    }
    r.skip(3);  // superres, cdef, restoration
    // color_config()
    info.high_bitdepth = r.bit() != 0;
    if (info.profile == 2 && info.high_bitdepth) info.twelve_bit = r.bit() != 0;
    info.monochrome = info.profile == 1 ? false : r.bit() != 0;
    unsigned primaries = 2, transfer = 2, matrix = 2;
    if (r.bit()) {
        primaries = r.bits(8);
        transfer = r.bits(8);
        matrix = r.bits(8);
    }
    if (info.monochrome) {
        r.skip(1);
    } else if (primaries == 1 && transfer == 13 && matrix == 0) {  // sRGB: 4:4:4
        info.subsampling_x = info.subsampling_y = false;
    } else {
        r.skip(1);  // color_range
        if (info.profile == 1) {
            info.subsampling_x = info.subsampling_y = false;
        } else if (info.profile == 2) {
            info.subsampling_x = info.twelve_bit ? r.bit() != 0 : true;
            info.subsampling_y = info.twelve_bit && info.subsampling_x ? r.bit() != 0 : false;
        }
        if (info.subsampling_x && info.subsampling_y) info.chroma_sample_position = static_cast<std::uint8_t>(r.bits(2));
    }
    if (r.failed()) return std::nullopt;
    return info;
}

/**
 * The AV1CodecConfigurationRecord (av1C, AV1-ISOBMFF §2.3) for the sequence header OBU in `obus`
 * (an encoder's global header: a sequence header OBU, maybe with metadata OBUs), which follows
 * the four fixed bytes as its configOBUs. Empty when `obus` has no readable sequence header.
 */
inline std::vector<std::byte> build_av1_config(std::span<const std::byte> obus) {
    std::vector<av1_obu> split;
    if (!split_av1_obus(obus, split)) return {};
    for (const av1_obu& obu : split) {
        if (obu.type != av1_obu_sequence_header) continue;
        const auto info = parse_av1_sequence_header(obu.payload);
        if (!info) return {};
        std::vector<std::byte> out;
        put_u8(out, 0x81);  // marker, version 1
        put_u8(out, static_cast<std::uint8_t>(info->profile << 5 | (info->level & 0x1f)));
        put_u8(out, static_cast<std::uint8_t>(info->tier << 7 | info->high_bitdepth << 6 | info->twelve_bit << 5 | info->monochrome << 4 |
                                              info->subsampling_x << 3 | info->subsampling_y << 2 | (info->chroma_sample_position & 3)));
        put_u8(out, 0);  // no initial_presentation_delay
        out.insert(out.end(), obu.bytes.begin(), obu.bytes.end());
        return out;
    }
    return {};
}

// ---- VP9 ----------------------------------------------------------------------------------------

/// What a VPCodecConfigurationRecord says (VP Codec ISO Media File Format Binding §2.3).
struct vp9_config {
    std::uint8_t profile = 0;
    std::uint8_t level = 0;  ///< 10 x the VP9 level (31 for level 3.1); 0: not stated
    std::uint8_t bit_depth = 8;
    std::uint8_t chroma_subsampling = 1;  ///< 0 4:2:0 vertical, 1 4:2:0 colocated (FFmpeg's when unstated), 2 4:2:2, 3 4:4:4
    bool full_range = false;
    std::uint8_t colour_primaries = 2;  ///< ISO 23001-8 values; 2: unspecified
    std::uint8_t transfer_characteristics = 2;
    std::uint8_t matrix_coefficients = 2;
};

/// The vpcC box body (version 1, flags 0): 12 bytes, no codec initialisation data.
inline std::vector<std::byte> build_vp9_config(const vp9_config& c) {
    std::vector<std::byte> out;
    put_be32(out, 0x01000000);  // version 1, flags 0
    put_u8(out, c.profile);
    put_u8(out, c.level);
    put_u8(out, static_cast<std::uint8_t>((c.bit_depth & 0x0f) << 4 | (c.chroma_subsampling & 0x07) << 1 | (c.full_range ? 1 : 0)));
    put_u8(out, c.colour_primaries);
    put_u8(out, c.transfer_characteristics);
    put_u8(out, c.matrix_coefficients);
    put_be16(out, 0);  // codecIntializationDataSize
    return out;
}

/// The VP9 level (x10) that the spec's table gives for a picture size and rate: the lowest whose
/// luma sample rate and picture size take them.
inline std::uint8_t vp9_level_for(std::uint32_t width, std::uint32_t height, double frame_rate) {
    struct row {
        std::uint8_t level;
        double sample_rate;
        double picture_size;
    };
    static constexpr row table[] = {{10, 829440, 36864},          {11, 2764800, 73728},         {20, 4608000, 122880},
                                    {21, 9216000, 245760},        {30, 20736000, 552960},       {31, 36864000, 983040},
                                    {40, 83558400, 2228224},      {41, 160432128, 2228224},     {50, 311951360, 8912896},
                                    {51, 588251136, 8912896},     {52, 1176502272, 8912896},    {60, 1176502272, 35651584},
                                    {61, 2353004544.0, 35651584}, {62, 4706009088.0, 35651584}};
    const double size = double(width) * height;
    for (const row& r : table)
        if (size <= r.picture_size && size * frame_rate <= r.sample_rate) return r.level;
    return 62;
}

// ---- HEVC ---------------------------------------------------------------------------------------

/// H.265 nal_unit_type values the records look at.
inline constexpr std::uint8_t hevc_vps = 32;
inline constexpr std::uint8_t hevc_sps = 33;
inline constexpr std::uint8_t hevc_pps = 34;

/// The nal_unit_type of an H.265 NAL unit (bits 1..6 of its first byte); 0xff when empty.
inline std::uint8_t hevc_nal_type(std::span<const std::byte> nal) noexcept {
    return nal.empty() ? std::uint8_t{0xff} : static_cast<std::uint8_t>((u8(nal[0]) >> 1) & 0x3f);
}

/// A NAL unit's payload without its emulation prevention bytes (00 00 03 -> 00 00).
inline std::vector<std::byte> unescape_rbsp(std::span<const std::byte> nal) {
    std::vector<std::byte> out;
    out.reserve(nal.size());
    unsigned zeros = 0;
    for (const std::byte b : nal) {
        if (zeros >= 2 && b == std::byte{3}) {
            zeros = 0;
            continue;
        }
        zeros = b == std::byte{0} ? zeros + 1 : 0;
        out.push_back(b);
    }
    return out;
}

/// What hvcC repeats from an SPS (H.265 §7.3.2.2).
struct hevc_sps_info {
    std::uint8_t profile_tier = 0;                  ///< general_profile_space, tier flag, profile_idc
    std::uint32_t compatibility = 0;                ///< general_profile_compatibility_flags
    std::array<std::uint8_t, 6> constraints{};      ///< general_constraint_indicator_flags
    std::uint8_t level = 0;                         ///< general_level_idc
    std::uint8_t sub_layers = 1;                    ///< sps_max_sub_layers_minus1 + 1
    bool temporal_id_nested = false;
    std::uint8_t chroma_format = 1;
    std::uint8_t bit_depth_luma_minus8 = 0;
    std::uint8_t bit_depth_chroma_minus8 = 0;
};

/// Reads an SPS NAL unit (with its two-byte header) up to the bit depths; nullopt when short.
inline std::optional<hevc_sps_info> parse_hevc_sps(std::span<const std::byte> nal) {
    if (nal.size() < 3) return std::nullopt;
    const std::vector<std::byte> rbsp = unescape_rbsp(nal.subspan(2));
    bit_reader r(rbsp);
    hevc_sps_info info;
    r.skip(4);  // sps_video_parameter_set_id
    const unsigned max_sub_layers_minus1 = r.bits(3);
    info.sub_layers = static_cast<std::uint8_t>(max_sub_layers_minus1 + 1);
    info.temporal_id_nested = r.bit() != 0;
    info.profile_tier = static_cast<std::uint8_t>(r.bits(8));
    info.compatibility = r.bits(32);
    for (auto& c : info.constraints) c = static_cast<std::uint8_t>(r.bits(8));
    info.level = static_cast<std::uint8_t>(r.bits(8));
    bool profile_present[8] = {}, level_present[8] = {};
    for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
        profile_present[i] = r.bit() != 0;
        level_present[i] = r.bit() != 0;
    }
    if (max_sub_layers_minus1 > 0) r.skip(2 * (8 - max_sub_layers_minus1));
    for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
        if (profile_present[i]) r.skip(88);
        if (level_present[i]) r.skip(8);
    }
    (void)r.exp_golomb();  // sps_seq_parameter_set_id
    info.chroma_format = static_cast<std::uint8_t>(r.exp_golomb() & 3);
    if (info.chroma_format == 3) r.skip(1);  // separate_colour_plane_flag
    (void)r.exp_golomb();                    // pic_width_in_luma_samples
    (void)r.exp_golomb();                    // pic_height_in_luma_samples
    if (r.bit())                             // conformance_window_flag
        for (int i = 0; i < 4; ++i) (void)r.exp_golomb();
    info.bit_depth_luma_minus8 = static_cast<std::uint8_t>(r.exp_golomb() & 7);
    info.bit_depth_chroma_minus8 = static_cast<std::uint8_t>(r.exp_golomb() & 7);
    if (r.failed()) return std::nullopt;
    return info;
}

/**
 * The HEVCDecoderConfigurationRecord (hvcC, ISO 14496-15 §8.3.3.1) for the VPS, SPS and PPS of an
 * Annex-B stream (an encoder's global header), with 4-byte NAL unit lengths. Other NAL units are
 * left out. Empty when a parameter set is missing or the SPS cannot be read.
 */
inline std::vector<std::byte> build_hevc_config(std::span<const std::byte> annex_b) {
    std::vector<std::span<const std::byte>> nals;
    split_annex_b(annex_b, nals);
    std::optional<hevc_sps_info> sps;
    for (const auto& nal : nals)
        if (hevc_nal_type(nal) == hevc_sps && !sps) sps = parse_hevc_sps(nal);
    if (!sps) return {};
    std::vector<std::byte> out;
    put_u8(out, 1);  // configurationVersion
    put_u8(out, sps->profile_tier);
    put_be32(out, sps->compatibility);
    for (const auto c : sps->constraints) put_u8(out, c);
    put_u8(out, sps->level);
    put_be16(out, 0xf000);  // min_spatial_segmentation_idc 0
    put_u8(out, 0xfc);      // parallelismType 0: unknown
    put_u8(out, static_cast<std::uint8_t>(0xfc | sps->chroma_format));
    put_u8(out, static_cast<std::uint8_t>(0xf8 | sps->bit_depth_luma_minus8));
    put_u8(out, static_cast<std::uint8_t>(0xf8 | sps->bit_depth_chroma_minus8));
    put_be16(out, 0);  // avgFrameRate: unknown
    put_u8(out, static_cast<std::uint8_t>((sps->sub_layers & 7) << 3 | (sps->temporal_id_nested ? 4 : 0) | 3));  // lengthSizeMinusOne 3
    put_u8(out, 3);  // numOfArrays
    for (const std::uint8_t type : {hevc_vps, hevc_sps, hevc_pps}) {
        std::vector<std::span<const std::byte>> of_type;
        for (const auto& nal : nals)
            if (hevc_nal_type(nal) == type) of_type.push_back(nal);
        if (of_type.empty() || of_type.size() > 0xffff) return {};
        put_u8(out, static_cast<std::uint8_t>(0x80 | type));  // array_completeness 1
        put_be16(out, static_cast<std::uint16_t>(of_type.size()));
        for (const auto& nal : of_type) {
            if (nal.size() > 0xffff) return {};
            put_be16(out, static_cast<std::uint16_t>(nal.size()));
            out.insert(out.end(), nal.begin(), nal.end());
        }
    }
    return out;
}

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/detail/config_records.hpp ----
#if defined(RTMPX_WITH_LIBAVCODEC)

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
}


RTMPX_NAMESPACE_BEGIN

/**
 * A video encoder of libavcodec by its name, set up for live streaming: no B-frames, no
 * look-ahead, a key frame every "key_frame_interval" frames and whenever `force_key_frame` asks,
 * each picture out as soon as it is in. Pictures are converted to I420 (YUV 4:2:0) on the way in,
 * as for the OpenH264 adapter (BT.601, limited range, which the bitstream says).
 *
 * - `sorenson()`: Sorenson Spark (libavcodec's "flv" encoder, FLV codec id 2), which every
 *   legacy player decodes; no configuration record.
 * - `av1()` (libaom, real-time usage), `vp9()` (libvpx, real-time deadline), `hevc()` (x265,
 *   zero-latency tuning): Enhanced RTMP codecs, sent with their FourCC (`fourcc()`: `av01`,
 *   `vp09`, `hvc1`) and configuration record (av1C, vpcC, hvcC) only to players that declared
 *   them. HEVC frames go out with 4-byte NAL unit lengths.
 *
 * Parameters (`set_parameter` before `init`; after it they give `invalid_parameter`):
 * - "bitrate": target bits/s, > 0 (default 1'000'000);
 * - "frame_rate": 1..120 (default 30);
 * - "key_frame_interval": frames between key frames, >= 1 (default 2 s worth of frames);
 * - "threads": 0 automatic, 1 (default), N;
 * - "speed" (AV1, VP9, HEVC): 0 (slowest, best pictures) to 8 (fastest, the default): libaom's
 *   and libvpx's cpu-used, x265's presets from veryslow to ultrafast.
 *
 * Licence: libavcodec is LGPL, but Debian's build links GPL encoders (x264, x265), so a program
 * built with this adapter from Debian's libavcodec is GPL (rtmpx itself stays MIT).
 *
 * Thread: one thread at a time drives an encoder. Errors: `encoder_error` values.
 * Lifetime: move-only; the destructor frees the libavcodec state.
 */
class libavcodec_encoder {
public:
    /// The encoder libavcodec calls `codec_name`, sent in legacy FLV video tags of `flv_codec_id`
    /// (`fourcc` 0), or in Enhanced RTMP tags of `fourcc` (`flv_codec_id` 0).
    libavcodec_encoder(std::string codec_name, std::uint8_t flv_codec_id, std::string identifier, std::uint32_t fourcc = 0)
        : codec_name_(std::move(codec_name)), flv_codec_id_(flv_codec_id), fourcc_(fourcc), identifier_(std::move(identifier)) {}

    /// Sorenson Spark (H.263 as Flash Player 6 defined it): FLV codec id 2, no configuration record.
    static libavcodec_encoder sorenson() { return libavcodec_encoder("flv", 2, "libavcodec flv (Sorenson Spark)"); }
    /// AV1 through libaom: FourCC `av01`, av1C from its sequence header.
    static libavcodec_encoder av1() { return libavcodec_encoder("libaom-av1", 0, "libavcodec libaom-av1", fourcc_of("av01")); }
    /// VP9 through libvpx: FourCC `vp09`, vpcC (profile 0, 8 bits, 4:2:0).
    static libavcodec_encoder vp9() { return libavcodec_encoder("libvpx-vp9", 0, "libavcodec libvpx-vp9", fourcc_of("vp09")); }
    /// HEVC through x265: FourCC `hvc1`, hvcC from its parameter sets.
    static libavcodec_encoder hevc() { return libavcodec_encoder("libx265", 0, "libavcodec libx265", fourcc_of("hvc1")); }

    /// Whether this libavcodec has the encoder (Debian's has all four).
    bool available() const { return avcodec_find_encoder_by_name(codec_name_.c_str()) != nullptr; }

    /**
     * Opens the codec for `width` x `height`; `header` gets its configuration record (empty for
     * Sorenson Spark, which has none). Calling it again reopens the codec at the new size.
     * Errors: `already_closed`; `unsupported_resolution` (zero, odd sizes for the Enhanced
     * codecs, or over 4096 either way); `invalid_parameter` (libavcodec has no such encoder, or
     * refused the settings); `allocation_failure`; `encode_failure` (no readable global header).
     */
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& header) {
        header.clear();
        if (closed_) return encoder_error::already_closed;
        if (width == 0 || height == 0 || width > 4096 || height > 4096) return encoder_error::unsupported_resolution;
        if (fourcc_ != 0 && (width % 2 != 0 || height % 2 != 0)) return encoder_error::unsupported_resolution;
        const AVCodec* codec = avcodec_find_encoder_by_name(codec_name_.c_str());
        if (codec == nullptr) return encoder_error::invalid_parameter;
        context_ptr context(avcodec_alloc_context3(codec));
        frame_ptr frame(av_frame_alloc());
        packet_ptr packet(av_packet_alloc());
        if (!context || !frame || !packet) return encoder_error::allocation_failure;
        context->width = static_cast<int>(width);
        context->height = static_cast<int>(height);
        context->pix_fmt = AV_PIX_FMT_YUV420P;
        const int rate = static_cast<int>(std::lround(settings_.frame_rate * 1000));
        context->time_base = AVRational{1000, rate};
        context->framerate = AVRational{rate, 1000};
        context->bit_rate = settings_.bitrate;
        context->gop_size = settings_.effective_key_frame_interval();
        context->max_b_frames = 0;  // each picture out as it goes in (no reordering, no look-ahead)
        context->thread_count = settings_.threads;
        context->color_range = AVCOL_RANGE_MPEG;  // what detail::convert_to_i420 makes
        context->colorspace = AVCOL_SPC_SMPTE170M;
        if (fourcc_ != 0) context->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // parameter sets once, for the record
        if (!set_private_options(context->priv_data)) return encoder_error::invalid_parameter;
        if (avcodec_open2(context.get(), codec, nullptr) < 0) return encoder_error::invalid_parameter;
        frame->format = AV_PIX_FMT_YUV420P;
        frame->width = context->width;
        frame->height = context->height;
        if (av_frame_get_buffer(frame.get(), 0) < 0) return encoder_error::allocation_failure;
        context_ = std::move(context);
        frame_ = std::move(frame);
        packet_ = std::move(packet);
        width_ = width;
        height_ = height;
        frames_ = 0;
        pending_key_ = true;
        if (auto ec = make_header(header)) {
            context_.reset();
            return ec;
        }
        return {};
    }

    /// Before `init` only; see the class comment. Errors: `invalid_parameter`, `already_closed`.
    std::error_code set_parameter(std::string_view name, double value) {
        if (closed_) return encoder_error::already_closed;
        if (context_ || !std::isfinite(value)) return encoder_error::invalid_parameter;
        if (name == "bitrate" && value >= 1 && value <= std::numeric_limits<int>::max()) {
            settings_.bitrate = static_cast<std::int64_t>(value);
        } else if (name == "frame_rate" && value >= 1 && value <= 120) {
            settings_.frame_rate = value;
        } else if (name == "key_frame_interval" && integral_in(value, 1, std::numeric_limits<int>::max())) {
            settings_.key_frame_interval = static_cast<int>(value);
        } else if (name == "threads" && integral_in(value, 0, 64)) {
            settings_.threads = static_cast<int>(value);
        } else if (name == "speed" && fourcc_ != 0 && integral_in(value, 0, 8)) {
            settings_.speed = static_cast<int>(value);
        } else {
            return encoder_error::invalid_parameter;
        }
        return {};
    }

    std::optional<double> get_parameter(std::string_view name) const {
        if (name == "bitrate") return static_cast<double>(settings_.bitrate);
        if (name == "frame_rate") return settings_.frame_rate;
        if (name == "key_frame_interval") return settings_.effective_key_frame_interval();
        if (name == "threads") return settings_.threads;
        if (name == "speed" && fourcc_ != 0) return settings_.speed;
        return std::nullopt;
    }

    /// Every format rtmpx's conversion to I420 reads (I420 itself is copied).
    std::span<const pixel_format> supported_pixel_formats() const noexcept { return formats_; }

    /**
     * Encodes one picture; `out` gets its bitstream (empty when the codec holds the picture,
     * which the low-delay settings avoid) and whether it is a key frame.
     * Errors: `not_initialized`; `already_closed`; `invalid_parameter` (another size, missing
     * planes); `unsupported_pixel_format`; `encode_failure`.
     */
    std::error_code encode(const canvas_view& picture, encoded_frame& out) {
        out.data.clear();
        out.key_frame = false;
        if (closed_) return encoder_error::already_closed;
        if (!context_) return encoder_error::not_initialized;
        if (picture.width != width_ || picture.height != height_) return encoder_error::invalid_parameter;
        if (av_frame_make_writable(frame_.get()) < 0) return encoder_error::allocation_failure;
        const detail::i420_planes planes{reinterpret_cast<std::byte*>(frame_->data[0]), reinterpret_cast<std::byte*>(frame_->data[1]),
                                         reinterpret_cast<std::byte*>(frame_->data[2]), static_cast<std::uint32_t>(frame_->linesize[0]),
                                         static_cast<std::uint32_t>(frame_->linesize[1]), static_cast<std::uint32_t>(frame_->linesize[2])};
        if (auto ec = detail::convert_to_i420(picture, planes)) return ec;
        frame_->pts = frames_++;
        frame_->pict_type = pending_key_ ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        pending_key_ = false;
        if (avcodec_send_frame(context_.get(), frame_.get()) < 0) return encoder_error::encode_failure;
        return drain(out);
    }

    /// Makes the next `encode` produce a key frame.
    void force_key_frame() noexcept { pending_key_ = true; }

    /// Flushes the codec (`remaining`: what it still held, normally nothing) and frees it; every
    /// later call gives `already_closed`. Errors: `already_closed` on a second call.
    std::error_code close(std::vector<std::byte>& remaining) {
        remaining.clear();
        if (closed_) return encoder_error::already_closed;
        closed_ = true;
        if (context_ && avcodec_send_frame(context_.get(), nullptr) >= 0) {
            encoded_frame rest;
            (void)drain(rest);
            remaining = std::move(rest.data);
        }
        context_.reset();
        frame_.reset();
        packet_.reset();
        return {};
    }

    std::string_view identifier() const noexcept { return identifier_; }
    std::uint8_t flv_codec_id() const noexcept { return flv_codec_id_; }
    /// The Enhanced RTMP FourCC as a big-endian number (0x61763031 for `av01`); 0 for legacy codecs.
    std::uint32_t fourcc() const noexcept { return fourcc_; }

private:
    using context_ptr = detail::av_context_ptr;
    using frame_ptr = detail::av_frame_ptr;
    using packet_ptr = detail::av_packet_ptr;

    struct settings {
        std::int64_t bitrate = 1'000'000;
        double frame_rate = 30;
        int key_frame_interval = 0;  // 0: two seconds' worth of frames
        int threads = 1;
        int speed = 8;
        int effective_key_frame_interval() const noexcept {
            return key_frame_interval > 0 ? key_frame_interval : static_cast<int>(std::lround(2 * frame_rate));
        }
    };

    static constexpr std::array<pixel_format, 6> formats_ = {pixel_format::i420, pixel_format::nv12,  pixel_format::rgba,
                                                             pixel_format::bgra, pixel_format::rgb24, pixel_format::bgr24};

    static bool integral_in(double v, double lo, double hi) noexcept { return v >= lo && v <= hi && std::floor(v) == v; }

    static constexpr std::uint32_t fourcc_of(const char (&text)[5]) noexcept {
        return std::uint32_t(std::uint8_t(text[0])) << 24 | std::uint32_t(std::uint8_t(text[1])) << 16 |
               std::uint32_t(std::uint8_t(text[2])) << 8 | std::uint32_t(std::uint8_t(text[3]));
    }

    // The live settings of each Enhanced codec's wrapper (libaom, libvpx, x265), on its private options.
    bool set_private_options(void* options) const {
        if (fourcc_ == 0) return true;
        const std::string speed = std::to_string(settings_.speed);
        auto set = [options](const char* name, const std::string& value) { return av_opt_set(options, name, value.c_str(), 0) >= 0; };
        if (fourcc_ == fourcc_of("hvc1")) {
            static constexpr const char* presets[] = {"veryslow", "slower", "slow", "medium", "fast", "faster", "veryfast", "superfast", "ultrafast"};
            return set("preset", presets[settings_.speed]) && set("tune", "zerolatency") && set("forced-idr", "1") &&
                   set("x265-params", "log-level=error:open-gop=0");
        }
        const bool ok = set("cpu-used", speed) && set("lag-in-frames", "0") && set("row-mt", settings_.threads != 1 ? "1" : "0");
        if (fourcc_ == fourcc_of("av01")) return ok && set("usage", "realtime");
        return ok && set("deadline", "realtime");
    }

    // The configuration record of an Enhanced codec: av1C and hvcC from the global header, vpcC
    // from the settings.
    std::error_code make_header(std::vector<std::byte>& header) {
        const AVCodecContext& context = *context_;
        std::span<const std::byte> extra(reinterpret_cast<const std::byte*>(context.extradata),
                                         context.extradata ? static_cast<std::size_t>(context.extradata_size) : 0);
        encoded_frame first;
        if (fourcc_ == fourcc_of("av01") && extra.empty()) {
            // libaom states its sequence header with its first packet (FFmpeg's wrapper extracts it
            // then): a black picture for it, dropped; the next picture is a key frame again.
            if (auto ec = encode_black(first)) return ec;
            extra = context.extradata ? std::span<const std::byte>(reinterpret_cast<const std::byte*>(context.extradata),
                                                                   static_cast<std::size_t>(context.extradata_size))
                                      : std::span<const std::byte>(first.data);
            pending_key_ = true;
        }
        if (fourcc_ == fourcc_of("av01")) {
            header = detail::build_av1_config(extra);
        } else if (fourcc_ == fourcc_of("hvc1")) {
            header = detail::build_hevc_config(extra);
        } else if (fourcc_ == fourcc_of("vp09")) {
            detail::vp9_config c;
            c.level = detail::vp9_level_for(static_cast<std::uint32_t>(context.width), static_cast<std::uint32_t>(context.height), settings_.frame_rate);
            c.matrix_coefficients = 6;  // BT.601
            header = detail::build_vp9_config(c);
        } else {
            return {};
        }
        return header.empty() ? make_error_code(encoder_error::encode_failure) : std::error_code{};
    }

    // Encodes a black picture (as a key frame) into `out`.
    std::error_code encode_black(encoded_frame& out) {
        if (av_frame_make_writable(frame_.get()) < 0) return encoder_error::allocation_failure;
        for (int plane = 0; plane < 3; ++plane) {
            const int rows = plane == 0 ? frame_->height : (frame_->height + 1) / 2;
            for (int y = 0; y < rows; ++y)
                std::fill_n(frame_->data[plane] + std::ptrdiff_t(y) * frame_->linesize[plane], plane == 0 ? frame_->width : (frame_->width + 1) / 2,
                            std::uint8_t(plane == 0 ? 16 : 128));
        }
        frame_->pts = frames_++;
        frame_->pict_type = AV_PICTURE_TYPE_I;
        if (avcodec_send_frame(context_.get(), frame_.get()) < 0) return encoder_error::encode_failure;
        return drain(out);
    }

    // Every packet the codec has ready, appended to `out`.
    std::error_code drain(encoded_frame& out) {
        for (;;) {
            const int rc = avcodec_receive_packet(context_.get(), packet_.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
            if (rc < 0) return encoder_error::encode_failure;
            const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(packet_->data), static_cast<std::size_t>(packet_->size));
            if (fourcc_ == fourcc_of("hvc1")) {
                std::vector<std::byte> lengths = detail::annex_b_to_avcc(bytes);  // as hvcC says: 4-byte lengths
                out.data.insert(out.data.end(), lengths.begin(), lengths.end());
            } else {
                out.data.insert(out.data.end(), bytes.begin(), bytes.end());
            }
            out.key_frame = out.key_frame || (packet_->flags & AV_PKT_FLAG_KEY) != 0;
            av_packet_unref(packet_.get());
        }
    }

    std::string codec_name_;
    std::uint8_t flv_codec_id_;
    std::uint32_t fourcc_;
    std::string identifier_;
    settings settings_;
    context_ptr context_;
    frame_ptr frame_;
    packet_ptr packet_;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::int64_t frames_ = 0;
    bool pending_key_ = true;
    bool closed_ = false;
};

RTMPX_NAMESPACE_END

#endif // RTMPX_WITH_LIBAVCODEC
// ---- end of include/rtmpx/codec/libavcodec_encoder.hpp ----

RTMPX_NAMESPACE_BEGIN

/**
 * The encoder a stream owns: any type that satisfies `video_encoder`, plus lazy initialisation.
 *
 * `encode` initialises the encoder on the first canvas, and again whenever the canvas size
 * changes; each initialisation produces a new codec configuration (`header()`, with a new
 * `generation()`), which the server sends to the player before the next frame.
 *
 * Thread: once the stream plays, only the frame thread may use it (the frame handler calls
 * `encode`). Before play (in the stream or play handler) the connection's thread may set it up.
 */
class video_codec {
public:
    template <video_encoder E>
    explicit video_codec(E encoder) : impl_(std::make_unique<model<E>>(std::move(encoder))) {}

    /// Initialises for `width` x `height`; the codec configuration is then in `header()`.
    std::error_code init(std::uint32_t width, std::uint32_t height) {
        std::vector<std::byte> header;
        if (auto ec = impl_->init(width, height, header)) return ec;
        header_ = std::move(header);
        width_ = width;
        height_ = height;
        ++generation_;
        return {};
    }

    /**
     * Makes the encoder ready for `width` x `height` pictures of `format` now, so that the first
     * frame after play costs one encode and no more: initialises, encodes one blank picture (the
     * encoder's first picture is its slowest: its buffers and tables come to life) and drops it,
     * then asks for a key frame next. Takes about one initialisation and two encodes, on the
     * calling thread.
     * Errors: the encoder's, from `init` or `encode`.
     */
    std::error_code prepare(std::uint32_t width, std::uint32_t height, pixel_format format = pixel_format::rgba) {
        if (auto ec = init(width, height)) return ec;
        const canvas blank(width, height, is_packed(format) ? format : pixel_format::rgba);
        encoded_frame discarded;
        if (auto ec = impl_->encode(blank.view(), discarded)) return ec;
        impl_->force_key_frame();
        return {};
    }

    /// Encodes one canvas, (re)initialising first when needed.
    std::error_code encode(const canvas_view& canvas, encoded_frame& out) {
        if (generation_ == 0 || canvas.width != width_ || canvas.height != height_) {
            if (auto ec = init(canvas.width, canvas.height)) return ec;
        }
        return impl_->encode(canvas, out);
    }

    std::error_code set_parameter(std::string_view name, double value) { return impl_->set_parameter(name, value); }
    std::optional<double> get_parameter(std::string_view name) const { return impl_->get_parameter(name); }
    std::span<const pixel_format> supported_pixel_formats() const { return impl_->supported_pixel_formats(); }
    void force_key_frame() { impl_->force_key_frame(); }
    std::error_code close(std::vector<std::byte>& remaining) { return impl_->close(remaining); }
    std::string_view identifier() const { return impl_->identifier(); }
    /// The FLV video codec id (RTMP video tag): 3 screen video, 7 AVC, ...
    std::uint8_t flv_codec_id() const { return impl_->flv_codec_id(); }
    /// The Enhanced RTMP FourCC of an encoder that has one (`fourcc()`, e.g. 0x61763031 `av01`):
    /// its frames go out as Enhanced RTMP tags, its `header()` as their SequenceStart. 0 otherwise.
    std::uint32_t fourcc() const { return impl_->fourcc(); }

    /// The codec configuration of the last initialisation (AVCDecoderConfigurationRecord for H.264).
    const std::vector<std::byte>& header() const noexcept { return header_; }
    std::uint32_t width() const noexcept { return width_; }
    std::uint32_t height() const noexcept { return height_; }
    /// Counts initialisations; 0 until the first.
    std::uint64_t generation() const noexcept { return generation_; }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual std::error_code init(std::uint32_t, std::uint32_t, std::vector<std::byte>&) = 0;
        virtual std::error_code set_parameter(std::string_view, double) = 0;
        virtual std::optional<double> get_parameter(std::string_view) const = 0;
        virtual std::span<const pixel_format> supported_pixel_formats() const = 0;
        virtual std::error_code encode(const canvas_view&, encoded_frame&) = 0;
        virtual void force_key_frame() = 0;
        virtual std::error_code close(std::vector<std::byte>&) = 0;
        virtual std::string_view identifier() const = 0;
        virtual std::uint8_t flv_codec_id() const = 0;
        virtual std::uint32_t fourcc() const = 0;
    };
    template <class E>
    struct model final : concept_t {
        explicit model(E e) : enc(std::move(e)) {}
        std::error_code init(std::uint32_t w, std::uint32_t h, std::vector<std::byte>& out) override {
            return enc.init(w, h, out);
        }
        std::error_code set_parameter(std::string_view n, double v) override { return enc.set_parameter(n, v); }
        std::optional<double> get_parameter(std::string_view n) const override { return enc.get_parameter(n); }
        std::span<const pixel_format> supported_pixel_formats() const override {
            return enc.supported_pixel_formats();
        }
        std::error_code encode(const canvas_view& c, encoded_frame& f) override { return enc.encode(c, f); }
        void force_key_frame() override { enc.force_key_frame(); }
        std::error_code close(std::vector<std::byte>& r) override { return enc.close(r); }
        std::string_view identifier() const override { return enc.identifier(); }
        std::uint8_t flv_codec_id() const override { return enc.flv_codec_id(); }
        std::uint32_t fourcc() const override {
            if constexpr (requires { { enc.fourcc() } -> std::convertible_to<std::uint32_t>; }) {
                return enc.fourcc();
            } else {
                return 0;
            }
        }
        E enc;
    };

    std::unique_ptr<concept_t> impl_;
    std::vector<std::byte> header_;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    std::uint64_t generation_ = 0;
};

/**
 * Codecs by name, for `stream.use_codec(name)`. "h264" is registered when the OpenH264 adapter
 * is compiled in (`RTMPX_WITH_OPENH264`), "screen video" (lossless) with zlib
 * (`RTMPX_WITH_ZLIB`), "sorenson" (Sorenson Spark) with libavcodec (`RTMPX_WITH_LIBAVCODEC`), and
 * with it "av1", "vp9" and "hevc" (Enhanced RTMP) when that libavcodec has their encoders;
 * applications add their own encoders. Audio codecs have names of their own (`make_audio`):
 * "aac", and "opus" (Enhanced RTMP), with libavcodec.
 *
 * Thread: safe to use from any thread.
 */
class codec_registry {
public:
    codec_registry() {
#if defined(RTMPX_WITH_OPENH264)
        add("h264", [] { return openh264_encoder(); });
#endif
#if defined(RTMPX_WITH_ZLIB)
        add("screen video", [] { return screen_video_encoder(); });
#endif
#if defined(RTMPX_WITH_LIBAVCODEC)
        add("sorenson", [] { return libavcodec_encoder::sorenson(); });
        if (libavcodec_encoder::av1().available()) add("av1", [] { return libavcodec_encoder::av1(); });
        if (libavcodec_encoder::vp9().available()) add("vp9", [] { return libavcodec_encoder::vp9(); });
        if (libavcodec_encoder::hevc().available()) add("hevc", [] { return libavcodec_encoder::hevc(); });
        if (libavcodec_audio_encoder::aac().available()) add_audio("aac", [] { return libavcodec_audio_encoder::aac(); });
        if (libavcodec_audio_encoder::opus().available()) add_audio("opus", [] { return libavcodec_audio_encoder::opus(); });
#endif
    }

    /// Registers (or replaces) `name`; `factory()` returns a new encoder for each stream.
    template <class Factory>
        requires video_encoder<std::invoke_result_t<Factory&>>
    void add(std::string name, Factory factory) {
        std::lock_guard lock(mutex_);
        factories_[std::move(name)] = [f = std::move(factory)]() mutable { return std::make_unique<video_codec>(f()); };
    }

    /// Removes `name`; true when it was registered.
    bool remove(std::string_view name) {
        std::lock_guard lock(mutex_);
        auto it = factories_.find(name);
        if (it == factories_.end()) return false;
        factories_.erase(it);
        return true;
    }

    /// A new encoder for `name`, or null when no codec has that name.
    std::unique_ptr<video_codec> make(std::string_view name) const { return make_from(factories_, name); }

    bool contains(std::string_view name) const {
        std::lock_guard lock(mutex_);
        return factories_.find(name) != factories_.end();
    }

    /// The names registered, in order.
    std::vector<std::string> names() const { return names_of(factories_); }

    /// Registers (or replaces) the audio codec `name`; `factory()` returns a new encoder each time.
    template <class Factory>
        requires audio_encoder<std::invoke_result_t<Factory&>>
    void add_audio(std::string name, Factory factory) {
        std::lock_guard lock(mutex_);
        audio_factories_[std::move(name)] = [f = std::move(factory)]() mutable { return std::make_unique<audio_codec>(f()); };
    }

    /// A new audio encoder for `name`, or null when no audio codec has that name.
    std::unique_ptr<audio_codec> make_audio(std::string_view name) const { return make_from(audio_factories_, name); }

    /// The audio codec names registered, in order.
    std::vector<std::string> audio_names() const { return names_of(audio_factories_); }

private:
    // The factory is copied out and called outside the lock: it may take its time.
    template <class Map>
    auto make_from(const Map& factories, std::string_view name) const -> decltype(factories.begin()->second()) {
        typename Map::mapped_type factory;
        {
            std::lock_guard lock(mutex_);
            auto it = factories.find(name);
            if (it == factories.end()) return nullptr;
            factory = it->second;
        }
        return factory();
    }

    template <class Map>
    std::vector<std::string> names_of(const Map& factories) const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (const auto& entry : factories) out.push_back(entry.first);
        return out;
    }

    mutable std::mutex mutex_;
    std::map<std::string, std::function<std::unique_ptr<video_codec>()>, std::less<>> factories_;
    std::map<std::string, std::function<std::unique_ptr<audio_codec>()>, std::less<>> audio_factories_;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/video_codec.hpp ----
// ---- include/rtmpx/log.hpp ----
// The logging hook: silent by default, cheap when disabled, never writes to stdout by itself.

#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>


RTMPX_NAMESPACE_BEGIN

/// Severity of a log record.
enum class log_level : std::uint8_t { trace = 0, debug = 1, info = 2, warning = 3, error = 4, off = 5 };

/// One log line: level, the connection it concerns (0 for the server), a static category and text.
struct log_record {
    log_level level = log_level::info;
    std::uint64_t connection_id = 0;
    std::string_view category;  ///< "server", "session", "stream", ...
    std::string_view message;   ///< valid only during the sink call
    std::error_code error;      ///< the reason, for records about failures and closes
};

/**
 * A log sink: any callable taking `log_record const&`.
 *
 * Thread: called from the acceptor thread, connection threads and frame threads, possibly at
 * once; a sink that shares state must synchronise it.
 */
template <class F>
concept log_sink = std::invocable<F&, const log_record&>;

/// The default sink: discards everything.
struct no_log {
    void operator()(const log_record&) const noexcept {}
};

namespace detail {

/// The type-erased sink a server holds, with a runtime level check before any formatting.
class logger {
public:
    logger() = default;
    template <log_sink F>
    logger(F sink, log_level level) : sink_(std::move(sink)), level_(level) {}

    bool enabled(log_level level) const noexcept {
        constexpr auto compile_floor = static_cast<log_level>(RTMPX_MIN_LOG_LEVEL);
        return level >= compile_floor && level >= level_ && level != log_level::off && static_cast<bool>(sink_);
    }

    /// Formats and emits a record only when `level` is enabled.
    template <class... Args>
    void log(log_level level, std::uint64_t id, std::string_view category, std::error_code ec,
             fmt::format_string<Args...> format, Args&&... args) const {
        if (!enabled(level)) return;
        fmt::memory_buffer buf;
        fmt::format_to(std::back_inserter(buf), format, std::forward<Args>(args)...);
        sink_(log_record{level, id, category, std::string_view(buf.data(), buf.size()), ec});
    }

private:
    std::function<void(const log_record&)> sink_;
    log_level level_ = log_level::off;
};

/// Logs that a handler of `kind` (the record's category) about `subject` threw `e`: the one
/// policy for handler exceptions (see `guarded_call`).
inline void log_handler_exception(const logger& log, std::uint64_t id, std::string_view kind, std::string_view subject,
                                  std::exception_ptr e) noexcept {
    try {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log.log(log_level::error, id, kind, error::handler_exception, "{} handler of {} threw: {}", kind, subject, ex.what());
        } catch (...) {
            log.log(log_level::error, id, kind, error::handler_exception, "{} handler of {} threw", kind, subject);
        }
    } catch (...) {  // a failing log sink must not turn a handler failure into a crash
    }
}

/**
 * Runs a user handler under the one policy for handler failures: an exception does not escape;
 * it is logged (level error, the handler's kind as the category, `subject` and the exception's
 * text in the message, `error::handler_exception`) and the call yields nothing. What a failure
 * leads to is the caller's (and the README's) to say.
 */
template <class F>
auto guarded_call(const logger& log, std::uint64_t id, std::string_view kind, std::string_view subject, F&& f) noexcept
    -> std::optional<std::invoke_result_t<F&>> {
    try {
        return std::optional<std::invoke_result_t<F&>>(f());
    } catch (...) {
        log_handler_exception(log, id, kind, subject, std::current_exception());
    }
    return std::nullopt;
}

} // namespace detail

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/log.hpp ----
// ---- include/rtmpx/options.hpp ----
// Server options: limits, timeouts and protocol settings, every one finite by default.

#include <chrono>
#include <cstddef>
#include <cstdint>


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
// ---- end of include/rtmpx/options.hpp ----
// ---- include/rtmpx/statistics.hpp ----
// Figures about one connection and about a whole server, for display and logging.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>


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
// ---- end of include/rtmpx/statistics.hpp ----
// ---- include/rtmpx/protocol/server_session.hpp ----
// The server side of one RTMP connection, sans I/O: bytes in, events out, answers in, bytes out.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

// ---- include/rtmpx/protocol/chunk_reader.hpp ----
// Sans-I/O chunk stream reader: bytes in, reassembled messages out, within configured limits.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

// ---- include/rtmpx/protocol/message.hpp ----
// A whole RTMP message as the chunk layer reads and writes it: header fields plus payload.

#include <cstddef>
#include <cstdint>
#include <vector>


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
// ---- end of include/rtmpx/protocol/message.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * De-multiplexes an RTMP chunk stream (RTMP 1.0 §5.3) into whole messages.
 *
 * Feed bytes with `put`; it consumes as much as it can and stops after each completed message,
 * which `take_message` then hands over. Bytes of an incomplete chunk header are not consumed:
 * the caller keeps them and passes them again with more input. Set Chunk Size (type 1) and
 * Abort (type 2) take effect inside the reader as soon as they complete, and are still returned.
 *
 * Errors: any limit in `chunk_limits` exceeded, a malformed header or control message. After an
 * error the reader stays failed and consumes nothing more.
 */
class chunk_reader {
public:
    explicit chunk_reader(chunk_limits limits = {}) : limits_(limits) {}

    /// Consumes input until one message completes or the input runs out; returns bytes consumed.
    std::size_t put(std::span<const std::byte> in, std::error_code& ec) {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        ec.clear();
        std::size_t used = 0;
        while (!ready_ && used < in.size()) {
            const std::size_t n = in_chunk_ ? read_payload(in.subspan(used)) : read_header(in.subspan(used), ec);
            used += n;
            if (ec) failed_ = ec;
            if (failed_) {
                ec = failed_;
                return used;
            }
            if (n == 0) break;  // incomplete header: wait for more input
        }
        return used;
    }

    /// Whether a completed message is waiting to be taken.
    bool has_message() const noexcept { return ready_.has_value(); }

    /// Hands over the completed message. Precondition: `has_message()`.
    message take_message() {
        RTMPX_ASSERT(ready_);
        message m = std::move(*ready_);
        ready_.reset();
        return m;
    }

    /// The chunk size the peer announced (128 until it sends Set Chunk Size).
    std::uint32_t chunk_size() const noexcept { return chunk_size_; }
    /// Chunk streams the peer has used so far (each keeps header state for compression).
    std::size_t live_chunk_streams() const noexcept { return streams_.size(); }
    /// Payload bytes held in partially received messages.
    std::size_t buffered_bytes() const noexcept { return buffered_; }

private:
    struct stream_state {
        std::uint32_t id = 0;
        message_header header;
        std::uint32_t length = 0;
        std::uint32_t delta = 0;          // the last timestamp field of a type 1/2 (or 0) header
        bool extended = false;            // the last header carried an extended timestamp
        std::uint32_t extended_value = 0; // ... and this was its value
        std::vector<std::byte> partial;   // payload received so far of the current message
        bool in_progress = false;
    };

    stream_state* find(std::uint32_t id) noexcept {
        auto it = std::find_if(streams_.begin(), streams_.end(), [id](const stream_state& s) { return s.id == id; });
        return it == streams_.end() ? nullptr : &*it;
    }

    // Parses one chunk header and applies it. Returns bytes consumed, 0 when incomplete.
    std::size_t read_header(std::span<const std::byte> in, std::error_code& ec) {
        // RTMP 1.0 §5.3.1.1: basic header of 1, 2 or 3 bytes.
        const auto b0 = detail::u8(in[0]);
        const unsigned fmt = b0 >> 6;
        std::uint32_t csid = b0 & 0x3f;
        std::size_t pos = 1;
        if (csid == 0) {
            if (in.size() < 2) return 0;
            csid = 64 + detail::u8(in[1]);
            pos = 2;
        } else if (csid == 1) {
            if (in.size() < 3) return 0;
            csid = 64 + detail::u8(in[1]) + 256u * detail::u8(in[2]);
            pos = 3;
        }
        // RTMP 1.0 §5.3.1.2: message header of 11, 7, 3 or 0 bytes.
        static constexpr std::size_t header_sizes[4] = {11, 7, 3, 0};
        const std::size_t mh = header_sizes[fmt];
        if (in.size() < pos + mh) return 0;

        stream_state* st = find(csid);
        if (!st) {
            if (fmt != 0) {
                ec = error::chunk_header_invalid;
                return 0;
            }
            if (streams_.size() >= limits_.max_chunk_streams) {
                ec = error::too_many_chunk_streams;
                return 0;
            }
        }
        const bool new_message = !st || !st->in_progress || fmt != 3;

        std::uint32_t field = 0;  // timestamp (fmt 0) or timestamp delta (fmt 1, 2)
        std::uint32_t length = st ? st->length : 0;
        auto type = st ? st->header.type : message_type::command_amf0;
        std::uint32_t stream_id = st ? st->header.stream_id : 0;
        if (fmt <= 2) field = detail::load_be24(in.subspan(pos));
        if (fmt <= 1) {
            length = detail::load_be24(in.subspan(pos + 3));
            type = static_cast<message_type>(detail::u8(in[pos + 6]));
        }
        if (fmt == 0) stream_id = detail::load_le32(in.subspan(pos + 7));  // §5.3.1.2.1: little-endian
        pos += mh;

        // §5.3.1.3: a 4-byte extended timestamp follows when the field is 0xffffff. On type 3
        // chunks some clients repeat it and some do not; accept both by comparing the next 4 bytes
        // with the value the stream last used.
        bool extended = false;
        if (fmt <= 2 && field == 0xffffff) {
            if (in.size() < pos + 4) return 0;
            field = detail::load_be32(in.subspan(pos));
            pos += 4;
            extended = true;
        } else if (fmt == 3 && st && st->extended) {
            // Decide as soon as the available bytes differ from the expected value; wait only
            // while they match a prefix of it.
            const std::size_t avail = std::min<std::size_t>(4, in.size() - pos);
            bool same = true;
            for (std::size_t i = 0; i < avail && same; ++i)
                same = detail::u8(in[pos + i]) == ((st->extended_value >> (24 - 8 * i)) & 0xff);
            if (same && avail < 4) return 0;
            if (same) pos += 4;
        }

        if (new_message && length > limits_.max_message_size) {
            ec = error::message_too_large;
            return 0;
        }

        if (!st) {
            streams_.push_back(stream_state{});
            st = &streams_.back();
            st->id = csid;
        }
        if (new_message) {
            if (st->in_progress) discard(*st);  // a new header abandons an unfinished message
            st->header.chunk_stream_id = csid;
            st->header.type = type;
            st->header.stream_id = stream_id;
            st->length = length;
            if (fmt == 0) {
                st->header.timestamp = rtmp_timestamp(field);
                st->delta = field;  // a later type 3 message reuses it as its delta, as FFmpeg does
            } else if (fmt <= 2) {
                st->header.timestamp += field;
                st->delta = field;
            } else {
                st->header.timestamp += st->delta;
            }
            if (fmt <= 2) {
                st->extended = extended;
                st->extended_value = field;
            }
            st->in_progress = true;
        }
        in_chunk_ = st;
        chunk_left_ = std::min<std::uint32_t>(chunk_size_, st->length - static_cast<std::uint32_t>(st->partial.size()));
        if (chunk_left_ == 0) complete(*st, ec);  // a zero-length message
        return pos;
    }

    std::size_t read_payload(std::span<const std::byte> in) {
        stream_state& st = *in_chunk_;
        const std::size_t n = std::min<std::size_t>(chunk_left_, in.size());
        if (buffered_ + n > limits_.max_reassembly_bytes) {
            failed_ = error::reassembly_limit;
            in_chunk_ = nullptr;
            return 0;
        }
        st.partial.insert(st.partial.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
        buffered_ += n;
        chunk_left_ -= static_cast<std::uint32_t>(n);
        if (chunk_left_ == 0) {
            in_chunk_ = nullptr;
            if (st.partial.size() == st.length) {
                std::error_code ec;
                complete(st, ec);
                if (ec) failed_ = ec;
            }
        }
        return n;
    }

    void complete(stream_state& st, std::error_code& ec) {
        in_chunk_ = nullptr;
        buffered_ -= st.partial.size();
        st.in_progress = false;
        message m{st.header, std::move(st.partial)};
        st.partial = {};
        apply_control(m, ec);
        ready_ = std::move(m);
    }

    // Set Chunk Size and Abort change how the following chunks are read (RTMP 1.0 §5.4.1-2).
    void apply_control(const message& m, std::error_code& ec) {
        if (m.header.stream_id != 0 && m.header.chunk_stream_id != chunk_stream::protocol_control) return;
        if (m.header.type == message_type::set_chunk_size) {
            if (m.payload.size() < 4) {
                ec = error::message_malformed;
                return;
            }
            // Every legal size is accepted: a chunk size is not an allocation (payload bytes are
            // kept only as they arrive, and max_message_size bounds a message).
            const std::uint32_t size = detail::load_be32(m.payload);
            if (size == 0 || size > 0x7fffffffu) {
                ec = error::chunk_size_invalid;
            } else {
                chunk_size_ = size;
            }
        } else if (m.header.type == message_type::abort) {
            if (m.payload.size() < 4) {
                ec = error::message_malformed;
                return;
            }
            if (stream_state* st = find(detail::load_be32(m.payload)); st && st->in_progress) discard(*st);
        }
    }

    void discard(stream_state& st) noexcept {
        buffered_ -= st.partial.size();
        st.partial.clear();
        st.in_progress = false;
    }

    chunk_limits limits_;
    std::uint32_t chunk_size_ = 128;  // RTMP 1.0 §5.4.1: the default maximum chunk size
    std::vector<stream_state> streams_;
    stream_state* in_chunk_ = nullptr;  // set while inside a chunk's payload
    std::uint32_t chunk_left_ = 0;
    std::size_t buffered_ = 0;
    std::optional<message> ready_;
    std::error_code failed_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/chunk_reader.hpp ----
// ---- include/rtmpx/protocol/commands.hpp ----
// Typed commands (connect, createStream, play, publish, ...), their parser and the replies' builders.

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

// ---- include/rtmpx/protocol/enhanced.hpp ----
// Enhanced RTMP v2 media tags (the veovera specification): ExVideoTagHeader and
// ExAudioTagHeader with their FourCCs, ModEx (TimestampOffsetNano), multitrack, the Metadata
// frame's place, MultichannelConfig, and FourCC codec ids in onMetaData. Parser and writer. What
// a client declares in `connect` is in enhanced_capabilities.hpp.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol::enhanced {

/// A codec's four characters as a big-endian number, as the tags and onMetaData carry it.
using fourcc = std::uint32_t;

/// "av01" -> 0x61763031. Exactly four characters.
consteval fourcc make_fourcc(const char (&text)[5]) {
    return (fourcc(static_cast<unsigned char>(text[0])) << 24) | (fourcc(static_cast<unsigned char>(text[1])) << 16) |
           (fourcc(static_cast<unsigned char>(text[2])) << 8) | fourcc(static_cast<unsigned char>(text[3]));
}

/// The video FourCCs of the specification.
namespace video_fourcc {
inline constexpr fourcc av1 = make_fourcc("av01");
inline constexpr fourcc vp9 = make_fourcc("vp09");
inline constexpr fourcc vp8 = make_fourcc("vp08");
inline constexpr fourcc avc = make_fourcc("avc1");
inline constexpr fourcc hevc = make_fourcc("hvc1");
inline constexpr fourcc vvc = make_fourcc("vvc1");
} // namespace video_fourcc

/// The audio FourCCs of the specification.
namespace audio_fourcc {
inline constexpr fourcc opus = make_fourcc("Opus");
inline constexpr fourcc flac = make_fourcc("fLaC");
inline constexpr fourcc ac3 = make_fourcc("ac-3");
inline constexpr fourcc eac3 = make_fourcc("ec-3");
inline constexpr fourcc aac = make_fourcc("mp4a");
inline constexpr fourcc mp3 = make_fourcc(".mp3");
} // namespace audio_fourcc

/// The four characters of `code` ("av01"); a byte outside printable ASCII shows as '?'.
inline std::string fourcc_text(fourcc code) {
    std::string text(4, '?');
    for (int i = 0; i < 4; ++i) {
        const auto c = static_cast<char>((code >> (24 - 8 * i)) & 0xff);
        if (c >= 0x20 && c < 0x7f) text[static_cast<std::size_t>(i)] = c;
    }
    return text;
}

/// The FourCC named by `text` when it has exactly four characters.
inline std::optional<fourcc> parse_fourcc(std::string_view text) noexcept {
    if (text.size() != 4) return std::nullopt;
    fourcc code = 0;
    for (const char c : text) code = (code << 8) | static_cast<unsigned char>(c);
    return code;
}

/// VideoPacketType: the low nibble of an ExVideoTagHeader's first byte.
enum class video_packet : std::uint8_t {
    sequence_start = 0,
    coded_frames = 1,
    sequence_end = 2,
    coded_frames_x = 3,  ///< coded frames with an implied composition time of zero
    metadata = 4,        ///< AMF name/value pairs (colorInfo); the frame type is ignored
    mpeg2ts_sequence_start = 5,
    multitrack = 6,  ///< on the wire only: a parsed tag has `multitrack` set and the tracks' own type
    mod_ex = 7,      ///< on the wire only: a parsed tag has what the ModEx data said
};

/// AudioPacketType: the low nibble of an ExAudioTagHeader's first byte.
enum class audio_packet : std::uint8_t {
    sequence_start = 0,
    coded_frames = 1,
    sequence_end = 2,
    multichannel_config = 4,
    multitrack = 5,  ///< on the wire only, as for video
    mod_ex = 7,      ///< on the wire only, as for video
};

/// AvMultitrackType: how the tracks of a multitrack message are laid out.
enum class multitrack_mode : std::uint8_t {
    one_track = 0,                ///< one track, with a track id and no size
    many_tracks = 1,              ///< several tracks of one codec, each with an id and a size
    many_tracks_many_codecs = 2,  ///< several tracks, each with its own FourCC, id and size
};

/// The VideoFrameType of a video command frame (a UI8 VideoCommand follows, and nothing else).
inline constexpr std::uint8_t command_frame = 5;

/// Tracks one message may carry; a message with more fails with `error::too_many_tracks`.
inline constexpr std::size_t max_tracks = 16;

/// One track's part of an Enhanced audio or video message.
struct track {
    fourcc codec = 0;                   ///< its FourCC (every track of a message but the last layout shares one)
    std::uint8_t id = 0;                ///< its track id (0 when the message is not multitrack)
    std::int32_t composition_time = 0;  ///< video CodedFrames of avc1, hvc1, vvc1: the SI24 before the data
    std::span<const std::byte> data;    ///< what follows the header fields: a configuration record, frames, AMF
};

/// What the video and audio headers share: ModEx, multitrack and the tracks.
struct tag_tracks {
    bool multitrack = false;                             ///< sent as a Multitrack packet
    multitrack_mode mode = multitrack_mode::one_track;   ///< the layout, when multitrack
    std::optional<std::uint32_t> timestamp_offset_nano;  ///< ModEx TimestampOffsetNano (0 to 999999)
    std::array<track, max_tracks> tracks{};
    std::size_t track_count = 0;

    std::span<const track> each() const noexcept { return {tracks.data(), track_count}; }
    std::span<track> each() noexcept { return {tracks.data(), track_count}; }
    /// Appends a track; false when `max_tracks` are there already.
    bool add(const track& t) noexcept {
        if (track_count == max_tracks) return false;
        tracks[track_count++] = t;
        return true;
    }
};

/// A parsed ExVideoTagHeader (and where each track's data is).
struct video_tag : tag_tracks {
    std::uint8_t frame_type = 0;  ///< VideoFrameType: 1 key, 2 inter, 3 disposable, 4 generated key, 5 command
    video_packet packet = video_packet::coded_frames;  ///< the tracks' packet type (never multitrack or mod_ex)
    std::optional<std::uint8_t> command;               ///< a command frame's VideoCommand (no tracks then)
};

/// A parsed ExAudioTagHeader.
struct audio_tag : tag_tracks {
    audio_packet packet = audio_packet::coded_frames;  ///< the tracks' packet type (never multitrack or mod_ex)
};

/// MultichannelConfig's body: the channel order and count, then a mapping or flags.
struct multichannel_config {
    std::uint8_t order = 0;  ///< AudioChannelOrder: 0 unspecified, 1 native (flags), 2 custom (mapping)
    std::uint8_t channel_count = 0;
    std::span<const std::byte> mapping;  ///< custom: one AudioChannel per channel
    std::uint32_t flags = 0;             ///< native: AudioChannelMask bits
};

/// Whether a video message has the IsExHeader bit (an ExVideoTagHeader follows).
inline bool is_enhanced_video(std::span<const std::byte> message) noexcept {
    return !message.empty() && (detail::u8(message[0]) & 0x80) != 0;
}

/// Whether an audio message is SoundFormat 9 (an ExAudioTagHeader follows).
inline bool is_enhanced_audio(std::span<const std::byte> message) noexcept {
    return !message.empty() && (detail::u8(message[0]) >> 4) == 9;
}

namespace impl {

// Reads the wire a byte at a time; any read past the end sets `failed` and returns zeros.
struct cursor {
    std::span<const std::byte> rest;
    bool failed = false;

    bool has(std::size_t n) noexcept {
        if (rest.size() >= n) return true;
        failed = true;
        return false;
    }
    std::uint8_t u8() noexcept {
        if (!has(1)) return 0;
        const auto v = ::rtmpx::detail::u8(rest[0]);
        rest = rest.subspan(1);
        return v;
    }
    std::uint32_t be(std::size_t n) noexcept {
        if (!has(n)) return 0;
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | ::rtmpx::detail::u8(rest[i]);
        rest = rest.subspan(n);
        return v;
    }
    std::span<const std::byte> take(std::size_t n) noexcept {
        if (!has(n)) return {};
        auto part = rest.first(n);
        rest = rest.subspan(n);
        return part;
    }
};

// ModEx packets: each is a size (UI8 + 1, or UI16 + 1 when the UI8 says 256), the data, then a
// byte whose high nibble is the ModEx type and low nibble the next packet type. Returns that
// packet type. Unknown ModEx types are skipped (the specification lets them be added).
inline unsigned read_mod_ex(cursor& in, unsigned packet, unsigned mod_ex, tag_tracks& out) noexcept {
    while (packet == mod_ex && !in.failed) {
        std::size_t size = std::size_t{in.u8()} + 1;
        if (size == 256) size = std::size_t{in.be(2)} + 1;
        const auto data = in.take(size);
        const unsigned byte = in.u8();
        if (in.failed) break;
        if ((byte >> 4) == 0) {  // TimestampOffsetNano: at least three bytes, a UI24
            if (data.size() < 3) {
                in.failed = true;
                break;
            }
            out.timestamp_offset_nano = ::rtmpx::detail::load_be24(data);
        }
        packet = byte & 0x0f;
    }
    return packet;
}

// The tracks after the header: one, or (multitrack other than one_track) as many as the sizes
// lay out until the end. `cts` says whether a track of a codec carries a composition time.
template <class HasCompositionTime>
std::error_code read_tracks(cursor& in, fourcc shared_codec, tag_tracks& out, HasCompositionTime cts) noexcept {
    const bool sized = out.multitrack && out.mode != multitrack_mode::one_track;
    do {
        track t;
        t.codec = shared_codec;
        if (out.multitrack && out.mode == multitrack_mode::many_tracks_many_codecs) t.codec = in.be(4);
        if (out.multitrack) t.id = in.u8();
        t.data = sized ? in.take(in.be(3)) : in.take(in.rest.size());
        if (in.failed) return make_error_code(error::enhanced_malformed);
        if (cts(t.codec)) {
            if (t.data.size() < 3) return make_error_code(error::enhanced_malformed);
            const std::uint32_t raw = ::rtmpx::detail::load_be24(t.data);
            t.composition_time = static_cast<std::int32_t>(raw ^ 0x800000u) - 0x800000;  // SI24
            t.data = t.data.subspan(3);
        }
        if (!out.add(t)) return make_error_code(error::too_many_tracks);
    } while (sized && !in.rest.empty());
    return {};
}

// After ModEx: a Multitrack packet's layout and the tracks' packet type (neither Multitrack nor
// ModEx again), then the FourCC the tracks share (none for many codecs); else the FourCC.
inline std::error_code read_codec_header(cursor& in, unsigned& packet, unsigned multitrack, unsigned mod_ex, tag_tracks& out,
                                         fourcc& shared) noexcept {
    if (packet == multitrack) {
        const unsigned byte = in.u8();
        out.multitrack = true;
        if (in.failed) return make_error_code(error::enhanced_malformed);
        if ((byte >> 4) > 2) return make_error_code(error::enhanced_unsupported);
        out.mode = static_cast<multitrack_mode>(byte >> 4);
        packet = byte & 0x0f;
        if (packet == multitrack || packet == mod_ex) return make_error_code(error::enhanced_unsupported);
        if (out.mode != multitrack_mode::many_tracks_many_codecs) shared = in.be(4);
    } else {
        shared = in.be(4);
    }
    return in.failed ? make_error_code(error::enhanced_malformed) : std::error_code{};
}

// What read_codec_header reads: the layout byte when multitrack, and the shared FourCC (the first
// track's) unless every track has its own.
inline void put_codec_header(std::vector<std::byte>& out, const tag_tracks& t, unsigned packet) {
    using namespace ::rtmpx::detail;
    const fourcc first = t.track_count > 0 ? t.tracks[0].codec : 0;
    if (t.multitrack) put_u8(out, static_cast<std::uint8_t>((static_cast<unsigned>(t.mode) << 4) | packet));
    if (!t.multitrack || t.mode != multitrack_mode::many_tracks_many_codecs) put_be32(out, first);
}

inline void put_mod_ex_and_type(std::vector<std::byte>& out, unsigned first_high_bits, unsigned packet,
                                const tag_tracks& t, unsigned mod_ex) {
    using ::rtmpx::detail::put_u8;
    if (!t.timestamp_offset_nano) {
        put_u8(out, static_cast<std::uint8_t>(first_high_bits | packet));
        return;
    }
    put_u8(out, static_cast<std::uint8_t>(first_high_bits | mod_ex));
    put_u8(out, 2);  // three bytes of data
    ::rtmpx::detail::put_be24(out, *t.timestamp_offset_nano & 0xffffff);
    put_u8(out, static_cast<std::uint8_t>(packet));  // ModEx type 0 (TimestampOffsetNano) in the high nibble
}

template <class HasCompositionTime>
void put_tracks(std::vector<std::byte>& out, const tag_tracks& t, HasCompositionTime cts) {
    using namespace ::rtmpx::detail;
    const bool sized = t.multitrack && t.mode != multitrack_mode::one_track;
    for (const track& tr : t.each()) {
        if (t.multitrack && t.mode == multitrack_mode::many_tracks_many_codecs) put_be32(out, tr.codec);
        if (t.multitrack) put_u8(out, tr.id);
        const bool has_cts = cts(tr.codec);
        if (sized) put_be24(out, static_cast<std::uint32_t>(tr.data.size() + (has_cts ? 3 : 0)));
        if (has_cts) put_be24(out, static_cast<std::uint32_t>(tr.composition_time) & 0xffffff);
        out.insert(out.end(), tr.data.begin(), tr.data.end());
    }
}

} // namespace impl

/// Whether video CodedFrames of `codec` start with an SI24 composition time (avc1, hvc1, vvc1).
inline constexpr bool has_composition_time(fourcc codec) noexcept {
    return codec == video_fourcc::avc || codec == video_fourcc::hevc || codec == video_fourcc::vvc;
}

/**
 * Parses an Enhanced video message (the IsExHeader bit set): frame type, ModEx, a command,
 * multitrack, each track's FourCC, id and data (after the composition time, for CodedFrames of
 * avc1/hvc1/vvc1). `out`'s tracks point into `message`.
 * Errors: `error::enhanced_malformed` (not Enhanced, truncated, a track past the end, a
 * TimestampOffsetNano under three bytes), `error::enhanced_unsupported` (a reserved packet type
 * or multitrack layout), `error::too_many_tracks` (more than `max_tracks`).
 */
inline std::error_code parse_video(std::span<const std::byte> message, video_tag& out) noexcept {
    out = video_tag{};
    if (!is_enhanced_video(message)) return make_error_code(error::enhanced_malformed);
    impl::cursor in{message};
    const unsigned first = in.u8();
    out.frame_type = static_cast<std::uint8_t>((first >> 4) & 0x07);
    unsigned packet = impl::read_mod_ex(in, first & 0x0f, static_cast<unsigned>(video_packet::mod_ex), out);
    if (in.failed) return make_error_code(error::enhanced_malformed);
    fourcc shared = 0;
    if (packet != static_cast<unsigned>(video_packet::metadata) && out.frame_type == command_frame) {
        out.packet = static_cast<video_packet>(packet);
        out.command = in.u8();
        return in.failed ? make_error_code(error::enhanced_malformed) : std::error_code{};
    }
    if (const auto ec = impl::read_codec_header(in, packet, static_cast<unsigned>(video_packet::multitrack),
                                                static_cast<unsigned>(video_packet::mod_ex), out, shared))
        return ec;
    if (packet > static_cast<unsigned>(video_packet::mpeg2ts_sequence_start)) return make_error_code(error::enhanced_unsupported);
    out.packet = static_cast<video_packet>(packet);
    const bool coded = out.packet == video_packet::coded_frames;
    return impl::read_tracks(in, shared, out, [coded](fourcc c) { return coded && has_composition_time(c); });
}

/**
 * Parses an Enhanced audio message (SoundFormat 9): ModEx, multitrack, each track's FourCC, id
 * and data. Errors as `parse_video`.
 */
inline std::error_code parse_audio(std::span<const std::byte> message, audio_tag& out) noexcept {
    out = audio_tag{};
    if (!is_enhanced_audio(message)) return make_error_code(error::enhanced_malformed);
    impl::cursor in{message};
    unsigned packet = impl::read_mod_ex(in, in.u8() & 0x0f, static_cast<unsigned>(audio_packet::mod_ex), out);
    if (in.failed) return make_error_code(error::enhanced_malformed);
    fourcc shared = 0;
    if (const auto ec = impl::read_codec_header(in, packet, static_cast<unsigned>(audio_packet::multitrack),
                                                static_cast<unsigned>(audio_packet::mod_ex), out, shared))
        return ec;
    if (packet == 3 || packet == 6 || packet > 7) return make_error_code(error::enhanced_unsupported);
    out.packet = static_cast<audio_packet>(packet);
    return impl::read_tracks(in, shared, out, [](fourcc) { return false; });
}

/// Parses MultichannelConfig's data (a track of an `audio_packet::multichannel_config` tag).
/// Errors: `error::enhanced_malformed` when it is shorter than its order says.
inline std::error_code parse_multichannel_config(std::span<const std::byte> data, multichannel_config& out) noexcept {
    out = multichannel_config{};
    impl::cursor in{data};
    out.order = in.u8();
    out.channel_count = in.u8();
    if (out.order == 2) out.mapping = in.take(out.channel_count);
    if (out.order == 1) out.flags = in.be(4);
    return in.failed ? make_error_code(error::enhanced_malformed) : std::error_code{};
}

/// Appends MultichannelConfig's data for `config`.
inline void append_multichannel_config(std::vector<std::byte>& out, const multichannel_config& config) {
    detail::put_u8(out, config.order);
    detail::put_u8(out, config.channel_count);
    if (config.order == 2) out.insert(out.end(), config.mapping.begin(), config.mapping.end());
    if (config.order == 1) detail::put_be32(out, config.flags);
}

/**
 * Appends the Enhanced video message `tag` describes: ModEx TimestampOffsetNano when set, a
 * command frame when `command` is set, else the multitrack layout (when `multitrack`) and each
 * track. A single-track message takes the first track's FourCC. What `parse_video` reads back
 * is `tag` again.
 */
inline void append_video(std::vector<std::byte>& out, const video_tag& tag) {
    const unsigned high = 0x80u | ((tag.frame_type & 0x07u) << 4);
    const unsigned packet = tag.multitrack ? static_cast<unsigned>(video_packet::multitrack) : static_cast<unsigned>(tag.packet);
    if (tag.command) {
        impl::put_mod_ex_and_type(out, high, static_cast<unsigned>(tag.packet), tag, static_cast<unsigned>(video_packet::mod_ex));
        detail::put_u8(out, *tag.command);
        return;
    }
    impl::put_mod_ex_and_type(out, high, packet, tag, static_cast<unsigned>(video_packet::mod_ex));
    impl::put_codec_header(out, tag, static_cast<unsigned>(tag.packet));
    const bool coded = tag.packet == video_packet::coded_frames;
    impl::put_tracks(out, tag, [coded](fourcc c) { return coded && has_composition_time(c); });
}

/// Appends the Enhanced audio message `tag` describes, as `append_video` does for video.
inline void append_audio(std::vector<std::byte>& out, const audio_tag& tag) {
    const unsigned packet = tag.multitrack ? static_cast<unsigned>(audio_packet::multitrack) : static_cast<unsigned>(tag.packet);
    impl::put_mod_ex_and_type(out, 0x90u, packet, tag, static_cast<unsigned>(audio_packet::mod_ex));
    impl::put_codec_header(out, tag, static_cast<unsigned>(tag.packet));
    impl::put_tracks(out, tag, [](fourcc) { return false; });
}

/**
 * Keeps only the default track (id 0) of a parsed multitrack message, as a single-track message:
 * what a client that did not declare Multitrack gets (`append_video`/`append_audio` write it).
 * False, and `tag` unchanged, when the message has no track 0. A message that is not multitrack
 * is left as it is.
 */
template <class Tag>
bool keep_default_track(Tag& tag) noexcept {
    if (!tag.multitrack) return true;
    for (const track& t : tag.each()) {
        if (t.id != 0) continue;
        tag.tracks[0] = t;
        tag.track_count = 1;
        tag.multitrack = false;
        tag.mode = multitrack_mode::one_track;
        return true;
    }
    return false;
}

/// A FourCC as onMetaData's `videocodecid` / `audiocodecid` carries it: the number itself.
inline constexpr double metadata_codec_id(fourcc code) noexcept { return static_cast<double>(code); }

/// The FourCC an onMetaData codec id names, when it is one (a whole number above 255 that fits
/// 32 bits); a legacy codec id (7 for AVC, 10 for AAC) gives none.
inline std::optional<fourcc> fourcc_of_metadata_codec_id(double id) noexcept {
    if (!(id > 255.0) || id > 4294967295.0 || static_cast<double>(static_cast<std::uint32_t>(id)) != id) return std::nullopt;
    return static_cast<fourcc>(id);
}

} // namespace protocol::enhanced
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/enhanced.hpp ----
// ---- include/rtmpx/protocol/enhanced_capabilities.hpp ----
// Enhanced RTMP v2 capabilities: what a client declares in `connect` (fourCcList, the FourCC
// info maps, capsEx), reading and writing them, and what a server declares in its answer.

#include <string>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol::enhanced {

/// FourCcInfoMask: what a client can do with a codec, in `videoFourCcInfoMap`/`audioFourCcInfoMap`.
namespace fourcc_info {
inline constexpr unsigned can_decode = 0x01;
inline constexpr unsigned can_encode = 0x02;
inline constexpr unsigned can_forward = 0x04;
} // namespace fourcc_info

/// CapsExMask: the extended capabilities in `connect`'s `capsEx`.
namespace caps_ex {
inline constexpr unsigned reconnect = 0x01;              ///< honours NetConnection.Connect.ReconnectRequest
inline constexpr unsigned multitrack = 0x02;             ///< reads multitrack messages
inline constexpr unsigned mod_ex = 0x04;                 ///< parses ModEx
inline constexpr unsigned timestamp_nano_offset = 0x08;  ///< uses TimestampOffsetNano
} // namespace caps_ex

/**
 * What a client declared about Enhanced RTMP in its `connect` command object: `fourCcList` (a
 * strict array; an ECMA array is tolerated), `videoFourCcInfoMap` and `audioFourCcInfoMap`
 * (FourCC or "*" to FourCcInfoMask flags) and `capsEx`. A legacy client declares none of them.
 */
struct capabilities {
    std::vector<std::string> fourcc_list;                      ///< as listed ("*": any codec)
    std::vector<std::pair<std::string, unsigned>> video_info;  ///< videoFourCcInfoMap, in order
    std::vector<std::pair<std::string, unsigned>> audio_info;  ///< audioFourCcInfoMap, in order
    unsigned caps_ex = 0;                                      ///< CapsExMask bits
    bool declared = false;  ///< any of the four was present: an Enhanced RTMP client

    /// Whether the client takes video in `codec`: listed in fourCcList (or "*"), or with any
    /// flag in videoFourCcInfoMap (or "*", whose flags override the codec's own).
    bool accepts_video(fourcc codec) const { return accepts(codec, video_info); }
    /// The same for audio, with audioFourCcInfoMap.
    bool accepts_audio(fourcc codec) const { return accepts(codec, audio_info); }
    /// Whether the client takes every codec ("*" in fourCcList, or in both info maps) and
    /// multitrack messages: a stream reaches it unchanged.
    bool takes_everything() const {
        if ((caps_ex & caps_ex::multitrack) == 0) return false;
        for (const auto& entry : fourcc_list)
            if (entry == "*") return true;
        return wildcard(video_info) && wildcard(audio_info);
    }

private:
    static bool wildcard(const std::vector<std::pair<std::string, unsigned>>& info) {
        for (const auto& entry : info)
            if (entry.first == "*") return entry.second != 0;
        return false;
    }
    bool accepts(fourcc codec, const std::vector<std::pair<std::string, unsigned>>& info) const {
        const std::string name = fourcc_text(codec);
        for (const auto& entry : fourcc_list)
            if (entry == "*" || entry == name) return true;
        const std::pair<std::string, unsigned>* own = nullptr;
        for (const auto& entry : info) {
            if (entry.first == "*") return entry.second != 0;
            if (entry.first == name) own = &entry;
        }
        return own != nullptr && own->second != 0;
    }
};

/// Reads what a `connect` command object declares (see `capabilities`); what does not have the
/// expected type is left out, never an error.
inline capabilities read_capabilities(const amf0::value& object) {
    capabilities caps;
    if (!object.has_properties()) return caps;
    if (const auto* list = object.find("fourCcList")) {
        caps.declared = true;
        if (list->is_strict_array()) {
            for (const auto& e : list->elements())
                if (e.is_string()) caps.fourcc_list.emplace_back(e.as_string());
        } else if (list->has_properties()) {  // an ECMA array of "0", "1", ... (a client's mistake)
            for (const auto& [key, e] : list->props())
                if (e.is_string()) caps.fourcc_list.emplace_back(e.as_string());
        }
    }
    const auto read_map = [&](const char* key, std::vector<std::pair<std::string, unsigned>>& out) {
        const auto* map = object.find(key);
        if (map == nullptr) return;
        caps.declared = true;
        if (!map->has_properties()) return;
        for (const auto& [name, flags] : map->props())
            if (flags.is_number() && flags.as_number() >= 0 && flags.as_number() < 4294967296.0)
                out.emplace_back(name, static_cast<unsigned>(flags.as_number()));
    };
    read_map("videoFourCcInfoMap", caps.video_info);
    read_map("audioFourCcInfoMap", caps.audio_info);
    if (const auto* caps_ex_value = object.find("capsEx")) {
        caps.declared = true;
        const double v = caps_ex_value->as_number();
        if (v >= 0 && v < 4294967296.0) caps.caps_ex = static_cast<unsigned>(v);
    }
    return caps;
}

/// What a client that forwards whatever it gets declares (rtmpx's publisher and puller): any
/// codec ("*"), reconnect requests, multitrack, ModEx and TimestampOffsetNano.
inline capabilities forwarder_capabilities() {
    capabilities caps;
    caps.fourcc_list = {"*"};
    caps.video_info = {{"*", fourcc_info::can_forward}};
    caps.audio_info = {{"*", fourcc_info::can_forward}};
    caps.caps_ex = caps_ex::reconnect | caps_ex::multitrack | caps_ex::mod_ex | caps_ex::timestamp_nano_offset;
    caps.declared = true;
    return caps;
}

/// The `connect` command object properties that declare `caps` (none when not `declared`):
/// fourCcList, videoFourCcInfoMap, audioFourCcInfoMap, capsEx.
inline amf0::properties capabilities_properties(const capabilities& caps) {
    amf0::properties props;
    if (!caps.declared) return props;
    std::vector<amf0::value> list;
    for (const auto& f : caps.fourcc_list) list.emplace_back(f);
    const auto map = [](const std::vector<std::pair<std::string, unsigned>>& info) {
        amf0::properties entries;
        for (const auto& [name, flags] : info) entries.emplace_back(name, amf0::value(flags));
        return amf0::value::object(std::move(entries));
    };
    props.emplace_back("fourCcList", amf0::value::strict_array(std::move(list)));
    props.emplace_back("videoFourCcInfoMap", map(caps.video_info));
    props.emplace_back("audioFourCcInfoMap", map(caps.audio_info));
    props.emplace_back("capsEx", amf0::value(caps.caps_ex));
    return props;
}

/// Adds a server's own declaration to the properties object of its `connect` `_result`: it
/// forwards any codec ("*": CanForward in both info maps) and has the `caps_ex` bits.
inline void declare_server_capabilities(amf0::value& properties, unsigned server_caps_ex) {
    properties.set("videoFourCcInfoMap", amf0::value::object({{"*", amf0::value(fourcc_info::can_forward)}}));
    properties.set("audioFourCcInfoMap", amf0::value::object({{"*", amf0::value(fourcc_info::can_forward)}}));
    properties.set("capsEx", amf0::value(server_caps_ex));
}

} // namespace protocol::enhanced
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/enhanced_capabilities.hpp ----
// ---- include/rtmpx/protocol/messages.hpp ----
// Typed RTMP messages: protocol control, user control, commands, data, media and aggregates.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>


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
// ---- end of include/rtmpx/protocol/messages.hpp ----
// ---- include/rtmpx/protocol/session_types.hpp ----
// Types both RTMP sessions use: the time they are given, and what becomes of a remote call.

#include <chrono>
#include <system_error>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// A point in time as the sessions are given it; they never read a clock themselves.
using time_point = std::chrono::steady_clock::time_point;

/// How the owner of a session answers a remote call from the peer.
enum class call_outcome {
    ok,         ///< `_result` with the response
    refused,    ///< the handler said no: `_error` with its info object, or NetConnection.Call.Failed
    threw,      ///< the handler failed: `_error` NetConnection.Call.Failed
    not_found,  ///< no handler for the name: `_error` NetConnection.Call.Failed, "Method not found"
};

/// The peer's answer to a call the session made (or why there was none).
struct call_result {
    std::error_code error;             ///< set when there was no answer: timeout, closed, too many calls
    bool ok = false;                   ///< `_result` (true) or `_error` (false)
    amf0::value object;                ///< the answer's command object
    std::vector<amf0::value> values;   ///< the values after it
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/session_types.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

// ---------------------------------------------------------------------------------------------
// Typed commands a server receives (RTMP 1.0 §7.2.1-2 and the ones players send in practice).

/**
 * `connect`: the command object's well-known fields, typed, with the raw object and the user
 * arguments after it still available.
 */
struct connect_command {
    double transaction_id = 1;
    amf0::value object;                  ///< the whole command object
    std::vector<amf0::value> arguments;  ///< optional user arguments after it
    std::string app;
    std::string tc_url;
    std::string flash_ver;
    std::string swf_url;
    std::string page_url;
    double object_encoding = 0;  ///< 0 for AMF0, 3 for AMF3
    double capabilities = 0;
    double audio_codecs = 0;
    double video_codecs = 0;
    std::vector<std::string> fourcc_list;  ///< Enhanced RTMP codecs the client accepts (`enhanced.fourcc_list`)
    enhanced::capabilities enhanced;       ///< all the client declared about Enhanced RTMP
};
struct create_stream_command {
    double transaction_id = 0;
    amf0::value object;
};
/// `play`: start is -2 (live or recorded), -1 (live only) or a position in seconds.
struct play_command {
    double transaction_id = 0;
    std::string stream_name;
    double start = -2;
    double duration = -1;
    bool reset = true;
    bool stop = false;  ///< `play(false)`: stop playing instead
};
struct play2_command {
    double transaction_id = 0;
    amf0::value parameters;
};
struct pause_command {
    double transaction_id = 0;
    bool pause = true;
    double milliseconds = 0;
};
struct seek_command {
    double transaction_id = 0;
    double milliseconds = 0;
};
/// `deleteStream`: the stream id, or (as GStreamer's rtmp2sink sends it) the stream's name.
struct delete_stream_command {
    double transaction_id = 0;
    double stream_id = 0;
    std::string stream_name;  ///< set instead of `stream_id` when the argument is a string
};
struct close_stream_command {
    double transaction_id = 0;
};
struct receive_audio_command {
    double transaction_id = 0;
    bool enable = true;
};
struct receive_video_command {
    double transaction_id = 0;
    bool enable = true;
};
struct publish_command {
    double transaction_id = 0;
    std::string stream_name;
    std::string type = "live";
};
struct release_stream_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct fc_publish_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct fc_unpublish_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct fc_subscribe_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct get_stream_length_command {
    double transaction_id = 0;
    std::string stream_name;
};
/// Any other command: a remote procedure call (or a reply such as `_result` to the server's own).
struct call_command {
    command cmd;
};

using typed_command =
    std::variant<connect_command, create_stream_command, play_command, play2_command, pause_command, seek_command,
                 delete_stream_command, close_stream_command, receive_audio_command, receive_video_command,
                 publish_command, release_stream_command, fc_publish_command, fc_unpublish_command,
                 fc_subscribe_command, get_stream_length_command, call_command>;

namespace wire {

inline const amf0::value& argument(const command& c, std::size_t i) {
    static const amf0::value null_value;
    return i < c.arguments.size() ? c.arguments[i] : null_value;
}

inline bool string_argument(const command& c, std::size_t i, std::string& out, std::error_code& ec) {
    const auto& v = argument(c, i);
    if (!v.is_string()) {
        ec = error::message_malformed;
        return false;
    }
    out = std::string(v.as_string());
    return true;
}

} // namespace wire

/**
 * Types a command by its name. Names that are not standard commands become `call_command`.
 *
 * Errors: `error::message_malformed` when a standard command lacks a required argument
 * (play without a stream name, pause without its flag, ...).
 */
inline typed_command parse_command(command c, std::error_code& ec) {
    ec.clear();
    const double txn = c.transaction_id;
    const auto& name = c.name;
    if (name == "connect") {
        connect_command cc;
        cc.transaction_id = txn;
        if (!c.object.has_properties()) {
            ec = error::message_malformed;
            return cc;
        }
        const auto& o = c.object;
        cc.app = std::string(o["app"].as_string());
        cc.tc_url = std::string(o["tcUrl"].as_string());
        cc.flash_ver = std::string(o["flashVer"].as_string());
        cc.swf_url = std::string(o["swfUrl"].as_string());
        cc.page_url = std::string(o["pageUrl"].as_string());
        cc.object_encoding = o["objectEncoding"].as_number();
        cc.capabilities = o["capabilities"].as_number();
        cc.audio_codecs = o["audioCodecs"].as_number();
        cc.video_codecs = o["videoCodecs"].as_number();
        cc.enhanced = enhanced::read_capabilities(o);
        cc.fourcc_list = cc.enhanced.fourcc_list;
        cc.object = std::move(c.object);
        cc.arguments = std::move(c.arguments);
        return cc;
    }
    if (name == "createStream") return create_stream_command{txn, std::move(c.object)};
    if (name == "play") {
        play_command p;
        p.transaction_id = txn;
        if (const auto& first = wire::argument(c, 0); first.is_boolean() && !first.as_bool()) {
            p.stop = true;
            return p;
        }
        if (!wire::string_argument(c, 0, p.stream_name, ec)) return p;
        if (const auto& v = wire::argument(c, 1); v.is_number()) p.start = v.as_number();
        if (const auto& v = wire::argument(c, 2); v.is_number()) p.duration = v.as_number();
        if (const auto& v = wire::argument(c, 3); v.is_boolean()) p.reset = v.as_bool();
        return p;
    }
    if (name == "play2") return play2_command{txn, wire::argument(c, 0)};
    if (name == "pause") {
        const auto& flag = wire::argument(c, 0);
        if (!flag.is_boolean()) {
            ec = error::message_malformed;
            return pause_command{txn, false, 0};
        }
        return pause_command{txn, flag.as_bool(), wire::argument(c, 1).as_number()};
    }
    if (name == "seek") return seek_command{txn, wire::argument(c, 0).as_number()};
    if (name == "deleteStream") {
        const auto& id = wire::argument(c, 0);
        if (id.is_string()) return delete_stream_command{txn, 0, std::string(id.as_string())};
        if (!id.is_number()) ec = error::message_malformed;
        return delete_stream_command{txn, id.as_number(), {}};
    }
    if (name == "closeStream") return close_stream_command{txn};
    if (name == "receiveAudio") return receive_audio_command{txn, wire::argument(c, 0).as_bool(true)};
    if (name == "receiveVideo") return receive_video_command{txn, wire::argument(c, 0).as_bool(true)};
    if (name == "publish") {
        publish_command p;
        p.transaction_id = txn;
        if (!wire::string_argument(c, 0, p.stream_name, ec)) return p;
        if (const auto& v = wire::argument(c, 1); v.is_string()) p.type = std::string(v.as_string());
        return p;
    }
    auto named = [&](auto cmd) {
        cmd.transaction_id = txn;
        wire::string_argument(c, 0, cmd.stream_name, ec);
        return cmd;
    };
    if (name == "releaseStream") return named(release_stream_command{});
    if (name == "FCPublish") return named(fc_publish_command{});
    if (name == "FCUnpublish") return named(fc_unpublish_command{});
    if (name == "FCSubscribe") return named(fc_subscribe_command{});
    if (name == "getStreamLength") return named(get_stream_length_command{});
    return call_command{std::move(c)};
}

// ---------------------------------------------------------------------------------------------
// Builders for what a server sends.

/// An info object {level, code, description} as onStatus and _error carry (RTMP 1.0 §7.2.2).
inline amf0::value status_info(std::string_view level, std::string_view code, std::string_view description) {
    return amf0::value::object({{"level", amf0::value(level)},
                                {"code", amf0::value(code)},
                                {"description", amf0::value(description)}});
}

/// `_result` for transaction `txn`: the command object (often null) and the values after it.
inline command make_result(double txn, amf0::value object = amf0::value::null(),
                           std::vector<amf0::value> arguments = {}) {
    return command{"_result", txn, std::move(object), std::move(arguments)};
}

/// `_error` for transaction `txn`, carrying an info object.
inline command make_error(double txn, amf0::value info, amf0::value object = amf0::value::null()) {
    return command{"_error", txn, std::move(object), {std::move(info)}};
}

/// The info object of a failed remote call (NetConnection.Call.Failed), saying why.
inline amf0::value call_failure_info(call_outcome outcome, std::string_view name) {
    const std::string text = outcome == call_outcome::not_found ? fmt::format("Method not found ({}).", name)
                             : outcome == call_outcome::threw   ? fmt::format("The handler of {} failed.", name)
                                                                : fmt::format("Call to {} failed.", name);
    return status_info("error", "NetConnection.Call.Failed", text);
}

/// `onStatus` with transaction id 0, a null command object and the info object.
inline command make_on_status(amf0::value info) { return command{"onStatus", 0, amf0::value::null(), {std::move(info)}}; }

/// `onStatus` built from level, code and description.
inline command make_on_status(std::string_view level, std::string_view code, std::string_view description) {
    return make_on_status(status_info(level, code, description));
}

/**
 * `onStatus` NetConnection.Connect.ReconnectRequest (Enhanced RTMP v2, "Reconnect Request"): the
 * server asks the client to connect again, to `tc_url` when it is not empty (else to the same
 * tcUrl). Sent on message stream 0, transaction 0, to clients that declared `caps_ex::reconnect`.
 */
inline command make_reconnect_request(std::string_view tc_url, std::string_view description) {
    amf0::value info = status_info("status", "NetConnection.Connect.ReconnectRequest", description);
    if (!tc_url.empty()) info.set("tcUrl", amf0::value(tc_url));
    return make_on_status(std::move(info));
}

/// `onMetaData` carrying an ECMA array (players read stream properties from it).
inline data_message make_on_metadata(amf0::value ecma_array) { return data_message{"onMetaData", {std::move(ecma_array)}}; }

/// What rtmpx declares in its `connect` `_result` to an Enhanced RTMP client: it sends reconnect
/// requests (a drain), reads multitrack messages, ModEx and TimestampOffsetNano (and passes them
/// on), and forwards any codec.
inline constexpr unsigned server_caps_ex = enhanced::caps_ex::reconnect | enhanced::caps_ex::multitrack |
                                           enhanced::caps_ex::mod_ex | enhanced::caps_ex::timestamp_nano_offset;

/// The `_result` of a successful `connect` as players expect it (fmsVer, capabilities, and the
/// NetConnection.Connect.Success info object with the client's objectEncoding echoed). To a
/// client that declared Enhanced RTMP (`client.declared`), the server's own declaration too.
inline command make_connect_result(double txn, double object_encoding, const enhanced::capabilities& client = {}) {
    auto props = amf0::value::object({{"fmsVer", amf0::value("FMS/3,0,1,123")}, {"capabilities", amf0::value(31)}});
    if (client.declared) enhanced::declare_server_capabilities(props, server_caps_ex);
    auto info = status_info("status", "NetConnection.Connect.Success", "Connection succeeded.");
    info.set("objectEncoding", amf0::value(object_encoding));
    return make_result(txn, std::move(props), {std::move(info)});
}

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/commands.hpp ----
// ---- include/rtmpx/protocol/flv.hpp ----
// FLV as RTMP carries it: video tag headers, the AVC sequence header, codec ids and onMetaData.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol::flv {

/// The CodecID of a legacy FLV video tag (FLV spec E.4.3.1, VIDEODATA).
enum class video_codec : std::uint8_t {
    sorenson_h263 = 2,
    screen_video = 3,
    vp6 = 4,
    vp6_alpha = 5,
    screen_video_v2 = 6,
    avc = 7,
};

/// The FrameType of a video tag: the high nibble of its first byte (E.4.3.1).
enum class frame_type : std::uint8_t {
    key = 1,
    inter = 2,
    disposable_inter = 3,
    generated_key = 4,
    command = 5,  ///< video info / command frame
};

/// The AVCPacketType that follows the first byte of an AVC tag (E.4.3.2, AVCVIDEOPACKET).
enum class avc_packet_type : std::uint8_t { sequence_header = 0, nalu = 1, end_of_sequence = 2 };

/// Bytes before the picture data of a video tag: 1, or 5 for AVC (packet type, composition time).
inline constexpr std::size_t video_tag_header_size(std::uint8_t codec_id) noexcept {
    return codec_id == static_cast<std::uint8_t>(video_codec::avc) ? 5 : 1;
}

/// Appends a video tag header: frame type and codec id, then for AVC the NALU packet type and a
/// zero composition time (our encoders emit no B-frames, so decode and presentation order agree).
inline void append_video_tag_header(std::vector<std::byte>& tag, std::uint8_t codec_id, bool key_frame) {
    const auto type = key_frame ? frame_type::key : frame_type::inter;
    tag.push_back(std::byte((static_cast<unsigned>(type) << 4) | (codec_id & 0x0f)));
    if (codec_id == static_cast<std::uint8_t>(video_codec::avc)) {
        tag.push_back(std::byte{static_cast<std::uint8_t>(avc_packet_type::nalu)});
        tag.insert(tag.end(), 3, std::byte{0});
    }
}

/// A whole video tag body: the header for `codec_id`, then `data` (for AVC: AVCC NAL units).
inline std::vector<std::byte> video_tag(std::uint8_t codec_id, bool key_frame, std::span<const std::byte> data) {
    std::vector<std::byte> tag;
    tag.reserve(video_tag_header_size(codec_id) + data.size());
    append_video_tag_header(tag, codec_id, key_frame);
    tag.insert(tag.end(), data.begin(), data.end());
    return tag;
}

/// The AVC sequence header tag: a key frame of packet type 0 carrying the
/// AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1).
inline std::vector<std::byte> avc_sequence_header(std::span<const std::byte> configuration_record) {
    std::vector<std::byte> tag = {
        std::byte((static_cast<unsigned>(frame_type::key) << 4) | static_cast<unsigned>(video_codec::avc)),
        std::byte{static_cast<std::uint8_t>(avc_packet_type::sequence_header)}, std::byte{0}, std::byte{0},
        std::byte{0}};
    tag.insert(tag.end(), configuration_record.begin(), configuration_record.end());
    return tag;
}

/// A single-track Enhanced RTMP video tag of `codec`: a key or inter frame of `packet` type
/// (CodedFrames, with a zero composition time where the codec has one; or SequenceStart, whose
/// `data` is the configuration record).
inline std::vector<std::byte> enhanced_video_tag(enhanced::fourcc codec, enhanced::video_packet packet, bool key_frame,
                                                 std::span<const std::byte> data) {
    enhanced::video_tag ex;
    ex.frame_type = static_cast<std::uint8_t>(key_frame ? frame_type::key : frame_type::inter);
    ex.packet = packet;
    ex.add({codec, 0, 0, data});
    std::vector<std::byte> tag;
    tag.reserve(data.size() + 8);
    enhanced::append_video(tag, ex);
    return tag;
}

/// Whether a video tag starts with the Enhanced RTMP ExHeader bit (`1 FFF PPPP`: IsExHeader,
/// frame type, packet type), Enhanced RTMP v2 "ExVideoTagHeader".
inline bool is_ex_header(std::span<const std::byte> tag) noexcept {
    return !tag.empty() && (detail::u8(tag[0]) & 0x80) != 0;
}

/// The frame type of a video tag, legacy or Enhanced (the ExHeader bit is not part of it).
inline unsigned frame_type_of(std::span<const std::byte> tag) noexcept {
    if (tag.empty()) return 0;
    return (detail::u8(tag[0]) >> 4) & (is_ex_header(tag) ? 0x07 : 0x0f);
}

/// Whether a video tag is a key frame: `0x1X` in a legacy tag, `0x9X` with the ExHeader bit,
/// except an Enhanced Metadata frame, whose frame type means nothing (read after any ModEx and
/// Multitrack header, see protocol/enhanced.hpp).
inline bool is_key_frame(std::span<const std::byte> tag) noexcept {
    if (frame_type_of(tag) != static_cast<unsigned>(frame_type::key)) return false;
    if (!is_ex_header(tag)) return true;
    enhanced::video_tag ex;
    return !enhanced::parse_video(tag, ex) && ex.packet != enhanced::video_packet::metadata;
}

/// Whether a video tag is an Enhanced Metadata frame (colorInfo): information about the pictures
/// that follow, not a picture.
inline bool is_video_info_frame(std::span<const std::byte> tag) noexcept {
    if (!is_ex_header(tag)) return false;
    enhanced::video_tag ex;
    return !enhanced::parse_video(tag, ex) && ex.packet == enhanced::video_packet::metadata;
}

/// Whether a video tag carries codec configuration rather than a picture: an AVC sequence
/// header (a key frame of packet type 0), or an Enhanced SequenceStart or MPEG2TSSequenceStart
/// (after any ModEx and Multitrack header).
inline bool is_sequence_header(std::span<const std::byte> tag) noexcept {
    if (tag.size() < 2) return false;
    if (is_ex_header(tag)) {
        enhanced::video_tag ex;
        return !enhanced::parse_video(tag, ex) && !ex.command &&
               (ex.packet == enhanced::video_packet::sequence_start || ex.packet == enhanced::video_packet::mpeg2ts_sequence_start);
    }
    return is_key_frame(tag) && (detail::u8(tag[0]) & 0x0f) == static_cast<unsigned>(video_codec::avc) &&
           detail::u8(tag[1]) == static_cast<unsigned>(avc_packet_type::sequence_header);
}

/// The SoundFormat of an audio tag: the high nibble of its first byte (E.4.2.1, AUDIODATA).
enum class sound_format : std::uint8_t {
    pcm_platform = 0,
    adpcm = 1,
    mp3 = 2,
    pcm_little_endian = 3,
    nellymoser_16k = 4,
    nellymoser_8k = 5,
    nellymoser = 6,
    g711_alaw = 7,
    g711_mulaw = 8,
    ex_header = 9,  ///< Enhanced RTMP: an ExAudioTagHeader follows (packet type in the low nibble)
    aac = 10,
    speex = 11,
    mp3_8k = 14,
    device_specific = 15,
};

/// The sound format of an audio tag (0 for an empty one).
inline unsigned sound_format_of(std::span<const std::byte> tag) noexcept { return tag.empty() ? 0 : detail::u8(tag[0]) >> 4; }

/// Whether an audio tag carries codec configuration: an AAC sequence header (AACPacketType 0,
/// E.4.2.2), or an Enhanced audio SequenceStart (after any ModEx and Multitrack header).
inline bool is_audio_sequence_header(std::span<const std::byte> tag) noexcept {
    const unsigned format = sound_format_of(tag);
    if (format == static_cast<unsigned>(sound_format::ex_header)) {
        enhanced::audio_tag ex;
        return !enhanced::parse_audio(tag, ex) && ex.packet == enhanced::audio_packet::sequence_start;
    }
    return format == static_cast<unsigned>(sound_format::aac) && tag.size() >= 2 && detail::u8(tag[1]) == 0;
}

/// Whether an audio tag carries configuration: a sequence header (as `is_audio_sequence_header`)
/// or an Enhanced MultichannelConfig, which a player needs before the first frame too.
inline bool is_audio_config(std::span<const std::byte> tag) noexcept {
    if (sound_format_of(tag) == static_cast<unsigned>(sound_format::ex_header)) {
        enhanced::audio_tag ex;
        return !enhanced::parse_audio(tag, ex) &&
               (ex.packet == enhanced::audio_packet::sequence_start || ex.packet == enhanced::audio_packet::multichannel_config);
    }
    return is_audio_sequence_header(tag);
}

/**
 * Which part of a stream's configuration a configuration tag (`is_sequence_header`,
 * `is_audio_config`) is, so that a newer tag of the same part replaces it: 0 for a legacy
 * sequence header and for the SequenceStart of a lone track or of track 0; otherwise the packet
 * type and the first track's id (`packet << 8 | id`), so that each track of a multitrack stream
 * keeps its own SequenceStart, and a MultichannelConfig its place beside the SequenceStart.
 */
inline std::uint32_t config_slot(std::span<const std::byte> tag, bool video) noexcept {
    unsigned packet = 0;
    std::uint8_t id = 0;
    if (video && is_ex_header(tag)) {
        enhanced::video_tag ex;
        if (enhanced::parse_video(tag, ex)) return 0;
        packet = static_cast<unsigned>(ex.packet);
        id = ex.track_count > 0 ? ex.tracks[0].id : 0;
    } else if (!video && sound_format_of(tag) == static_cast<unsigned>(sound_format::ex_header)) {
        enhanced::audio_tag ex;
        if (enhanced::parse_audio(tag, ex)) return 0;
        packet = static_cast<unsigned>(ex.packet);
        id = ex.track_count > 0 ? ex.tracks[0].id : 0;
    }
    return packet == 0 && id == 0 ? 0 : (packet << 8) | id;
}

/// Whether a video tag is long enough for its header: one byte, five for AVC/HEVC (packet type
/// and composition time) and for Enhanced tags (packet type and FourCC).
inline bool is_complete_video_tag(std::span<const std::byte> tag) noexcept {
    if (tag.empty()) return false;
    const unsigned codec = detail::u8(tag[0]) & 0x0f;
    const bool long_header = is_ex_header(tag) || codec == static_cast<unsigned>(video_codec::avc) || codec == 12;
    return frame_type_of(tag) == static_cast<unsigned>(frame_type::command) || !long_header || tag.size() >= 5;
}

/// Whether an audio tag is long enough for its header: one byte, two for AAC (packet type), five
/// for Enhanced tags (packet type and FourCC).
inline bool is_complete_audio_tag(std::span<const std::byte> tag) noexcept {
    const unsigned format = sound_format_of(tag);
    if (tag.empty()) return false;
    if (format == static_cast<unsigned>(sound_format::aac)) return tag.size() >= 2;
    if (format == static_cast<unsigned>(sound_format::ex_header)) return tag.size() >= 5;
    return true;
}

/// The `onMetaData` properties rtmpx sends for a video-only stream: players read the size, rate
/// and codec from it (FFmpeg sets its FLV header flags from `videocodecid`). No `audiocodecid`:
/// FFmpeg would wait for audio that never comes. `codec_id`: the FLV CodecID, or an Enhanced
/// RTMP FourCC as a number (`enhanced::metadata_codec_id`).
inline amf0::value video_metadata(std::uint32_t width, std::uint32_t height, double frame_rate, double codec_id) {
    return amf0::value::ecma_array({{"width", amf0::value(width)},
                                    {"height", amf0::value(height)},
                                    {"framerate", amf0::value(frame_rate)},
                                    {"videocodecid", amf0::value(codec_id)},
                                    {"encoder", amf0::value("rtmpx")}});
}

/// Adds the audio properties of `onMetaData` to `properties` (an ECMA array or object):
/// `audiocodecid` (the SoundFormat, or an Enhanced RTMP FourCC as a number), `audiosamplerate`,
/// `audiochannels`, `stereo`.
inline void add_audio_metadata(amf0::value& properties, double codec_id, std::uint32_t sample_rate, std::uint32_t channels) {
    properties.set("audiocodecid", amf0::value(codec_id));
    properties.set("audiosamplerate", amf0::value(sample_rate));
    properties.set("audiochannels", amf0::value(channels));
    properties.set("stereo", amf0::value(channels == 2));
}

/// An AAC audio tag: `0xAF` (AAC, 44 kHz, 16 bits, stereo: what the FLV specification fixes
/// for AAC), the AACPacketType (0 AudioSpecificConfig, 1 raw frame), then `data`.
inline std::vector<std::byte> aac_tag(bool sequence_header, std::span<const std::byte> data) {
    std::vector<std::byte> tag;
    tag.reserve(data.size() + 2);
    tag.push_back(std::byte{0xaf});
    tag.push_back(std::byte{static_cast<std::uint8_t>(sequence_header ? 0 : 1)});
    tag.insert(tag.end(), data.begin(), data.end());
    return tag;
}

/// A single-track Enhanced RTMP audio tag of `codec` (SoundFormat 9): `packet` (CodedFrames, or
/// SequenceStart with the codec's configuration) and `data`.
inline std::vector<std::byte> enhanced_audio_tag(enhanced::fourcc codec, enhanced::audio_packet packet, std::span<const std::byte> data) {
    enhanced::audio_tag ex;
    ex.packet = packet;
    ex.add({codec, 0, 0, data});
    std::vector<std::byte> tag;
    tag.reserve(data.size() + 5);
    enhanced::append_audio(tag, ex);
    return tag;
}

/// The body of an `onMetaData` data message carrying `properties` (an ECMA array or object).
inline std::vector<std::byte> on_metadata_payload(amf0::value properties) {
    return encode_payload(make_on_metadata(std::move(properties)));
}

} // namespace protocol::flv
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/flv.hpp ----
// ---- include/rtmpx/protocol/handshake.hpp ----
// Sans-I/O RTMP handshake, both sides: the server's (plain or FP9 digest) and the client's (plain).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

// ---- include/rtmpx/detail/sha256.hpp ----
// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), as the RTMP digest handshake needs them.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>


RTMPX_NAMESPACE_BEGIN
namespace detail {

/**
 * Incremental SHA-256 (FIPS 180-4 §6.2).
 *
 * Feed data with `update` in pieces of any size, then `finish` pads the message, returns the
 * 32-byte digest and resets the object so it can hash another message.
 */
class sha256 {
public:
    static constexpr std::size_t digest_size = 32;
    static constexpr std::size_t block_size = 64;

    sha256() noexcept { reset(); }

    /// Starts a new message (FIPS 180-4 §5.3.3 initial hash value).
    void reset() noexcept {
        state_ = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                  0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
        buffered_ = 0;
        length_ = 0;
    }

    /// Appends message bytes.
    void update(std::span<const std::byte> data) noexcept {
        length_ += data.size();
        if (buffered_ > 0) {
            const std::size_t n = data.size() < block_size - buffered_ ? data.size() : block_size - buffered_;
            for (std::size_t i = 0; i < n; ++i) buffer_[buffered_ + i] = data[i];
            buffered_ += n;
            data = data.subspan(n);
            if (buffered_ < block_size) return;
            compress(buffer_);
            buffered_ = 0;
        }
        while (data.size() >= block_size) {
            compress(data.first<block_size>());
            data = data.subspan(block_size);
        }
        for (std::size_t i = 0; i < data.size(); ++i) buffer_[i] = data[i];
        buffered_ = data.size();
    }

    /// Pads the message (§5.1.1), returns its digest and resets for the next message.
    std::array<std::byte, digest_size> finish() noexcept {
        const std::uint64_t bit_length = length_ * 8;
        buffer_[buffered_++] = std::byte{0x80};
        if (buffered_ > block_size - 8) {
            for (std::size_t i = buffered_; i < block_size; ++i) buffer_[i] = std::byte{0};
            compress(buffer_);
            buffered_ = 0;
        }
        for (std::size_t i = buffered_; i < block_size - 8; ++i) buffer_[i] = std::byte{0};
        store_be64(std::span(buffer_).subspan(block_size - 8), bit_length);
        compress(buffer_);

        std::array<std::byte, digest_size> out{};
        for (std::size_t i = 0; i < state_.size(); ++i) store_be32(std::span(out).subspan(i * 4), state_[i]);
        reset();
        return out;
    }

private:
    // First 32 bits of the fractional parts of the cube roots of the first 64 primes (§4.2.2).
    static constexpr std::array<std::uint32_t, 64> round_constants_ = {
        0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
        0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
        0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
        0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
        0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
        0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
        0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
        0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
    };

    // One application of the compression function to a 64-byte block (§6.2.2).
    void compress(std::span<const std::byte, block_size> block) noexcept {
        std::array<std::uint32_t, 64> w{};
        for (std::size_t t = 0; t < 16; ++t) w[t] = load_be32(block.subspan(t * 4, 4));
        for (std::size_t t = 16; t < 64; ++t) {
            const std::uint32_t s0 = std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const std::uint32_t s1 = std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = s1 + w[t - 7] + s0 + w[t - 16];
        }

        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
        for (std::size_t t = 0; t < 64; ++t) {
            const std::uint32_t big_s1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
            const std::uint32_t ch = (e & f) ^ (~e & g);
            const std::uint32_t t1 = h + big_s1 + ch + round_constants_[t] + w[t];
            const std::uint32_t big_s0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
            const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t t2 = big_s0 + maj;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
        state_[4] += e;
        state_[5] += f;
        state_[6] += g;
        state_[7] += h;
    }

    std::array<std::uint32_t, 8> state_{};
    std::array<std::byte, block_size> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;  // message bytes so far
};

/// HMAC-SHA256 (RFC 2104) of the message `a` followed by `b`, without joining them.
inline std::array<std::byte, sha256::digest_size> hmac_sha256(std::span<const std::byte> key,
                                                              std::span<const std::byte> a,
                                                              std::span<const std::byte> b) noexcept {
    std::array<std::byte, sha256::block_size> block_key{};  // zero-padded key
    sha256 h;
    if (key.size() > sha256::block_size) {
        h.update(key);
        const auto hashed = h.finish();
        for (std::size_t i = 0; i < hashed.size(); ++i) block_key[i] = hashed[i];
    } else {
        for (std::size_t i = 0; i < key.size(); ++i) block_key[i] = key[i];
    }

    std::array<std::byte, sha256::block_size> pad{};
    for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = block_key[i] ^ std::byte{0x36};
    h.update(pad);
    h.update(a);
    h.update(b);
    const auto inner = h.finish();

    for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = block_key[i] ^ std::byte{0x5c};
    h.update(pad);
    h.update(inner);
    return h.finish();
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
inline std::array<std::byte, sha256::digest_size> hmac_sha256(std::span<const std::byte> key,
                                                              std::span<const std::byte> message) noexcept {
    return hmac_sha256(key, message, {});
}

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/detail/sha256.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Size of C1, C2, S1 and S2 (RTMP 1.0 §5.2.3).
inline constexpr std::size_t handshake_packet_size = 1536;
/// The only protocol version C0 may carry (3 is plain RTMP; 6 would be RTMPE).
inline constexpr std::uint8_t handshake_rtmp_version = 3;
/// The first byte of a TLS connection (a handshake record): what a plain port sees from rtmps://.
inline constexpr std::uint8_t tls_handshake_record = 0x16;
/// Length of an FP9 handshake digest (one SHA-256 output).
inline constexpr std::size_t handshake_digest_size = detail::sha256::digest_size;

/// The 32 constant bytes that follow the text of both FP9 handshake keys.
inline constexpr std::array<std::uint8_t, 32> handshake_key_tail = {
    0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
    0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
};

/// Builds an FP9 key: the text (without its terminating NUL) followed by `handshake_key_tail`.
template <std::size_t N>
constexpr std::array<std::byte, N - 1 + 32> make_handshake_key(const char (&text)[N]) noexcept {
    std::array<std::byte, N - 1 + 32> key{};
    for (std::size_t i = 0; i + 1 < N; ++i) key[i] = std::byte(static_cast<unsigned char>(text[i]));
    for (std::size_t i = 0; i < handshake_key_tail.size(); ++i) key[N - 1 + i] = std::byte(handshake_key_tail[i]);
    return key;
}

/// The client (Flash Player) key; its first 30 bytes (the text) key the C1 digest.
inline constexpr auto handshake_player_key = make_handshake_key("Genuine Adobe Flash Player 001");
inline constexpr std::size_t handshake_player_key_text_size = 30;
/// The server (Flash Media Server) key; its first 36 bytes (the text) key the S1 digest and the
/// whole 68 bytes key the S2 signature key.
inline constexpr auto handshake_server_key = make_handshake_key("Genuine Adobe Flash Media Server 001");
inline constexpr std::size_t handshake_server_key_text_size = 36;

/// Where the digest of a 1536-byte handshake packet sits under the scheme whose offset bytes
/// start at `base` (8 or 772): the four bytes at `base` summed, modulo 728, plus `base + 4`.
inline std::size_t handshake_digest_position(std::span<const std::byte> packet, std::size_t base) noexcept {
    RTMPX_ASSERT(packet.size() == handshake_packet_size && (base == 8 || base == 772));
    const std::size_t sum = std::size_t{detail::u8(packet[base])} + detail::u8(packet[base + 1]) + detail::u8(packet[base + 2]) +
                            detail::u8(packet[base + 3]);
    return sum % 728 + base + 4;
}

/// HMAC-SHA256 under `key` of a handshake packet with its 32 digest bytes at `position` left out.
inline std::array<std::byte, handshake_digest_size> handshake_digest(std::span<const std::byte> packet,
                                                                     std::size_t position,
                                                                     std::span<const std::byte> key) noexcept {
    RTMPX_ASSERT(position + handshake_digest_size <= packet.size());
    return detail::hmac_sha256(key, packet.first(position), packet.subspan(position + handshake_digest_size));
}

/// Fills `out` from a splitmix64 generator whose state is `state`: a seed-only generator, enough
/// for handshake padding (the handshake's random bytes protect nothing).
inline void handshake_fill_random(std::uint64_t& state, std::span<std::byte> out) noexcept {
    auto next = [&state]() noexcept {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    while (out.size() >= 8) {
        detail::store_be64(out, next());
        out = out.subspan(8);
    }
    if (!out.empty()) {
        const std::uint64_t v = next();
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte((v >> (56 - 8 * i)) & 0xff);
    }
}

/**
 * The server side of the RTMP handshake, without I/O, clocks or threads.
 *
 * Feed client bytes with `put`. Once C0 and C1 are in, S0 S1 S2 (3073 bytes) wait in `output`
 * until `consume_output`; once C2 is in, `done` is true. `put` never consumes bytes past C2: they
 * begin the chunk stream and stay with the caller.
 *
 * If C1 carries a valid FP9 digest (Flash Player key, offset scheme 8 or 772) the reply is the
 * digest handshake: S1 with a non-zero server version and a digest under the Flash Media Server
 * key in the client's scheme, and S2 signed with a key derived from the client's digest. Otherwise
 * it is the plain handshake of RTMP 1.0: S1 with zero version bytes and S2 an echo of C1. The
 * random parts come from a generator seeded by the constructor. C2 is only counted, not checked.
 *
 * Errors: a C0 other than 3 gives `error::bad_handshake_version` (`error::tls_on_plain_port` for
 * 0x16, the first byte of a TLS client) as soon as that byte arrives;
 * the handshake then stays failed and consumes nothing more.
 */
class server_handshake {
public:
    /// `random_seed` drives the random bytes of S1/S2; `server_time` is the S1 time field.
    explicit server_handshake(std::uint64_t random_seed, std::uint32_t server_time = 0) noexcept
        : rng_state_(random_seed), server_time_(server_time) {}

    /// Consumes client handshake bytes, stopping at the end of C2; returns bytes consumed.
    std::size_t put(std::span<const std::byte> in, std::error_code& ec) noexcept {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        ec.clear();
        std::size_t used = 0;
        while (used < in.size() && stage_ != stage::done) {
            const auto rest = in.subspan(used);
            switch (stage_) {
            case stage::c0:
                if (detail::u8(rest[0]) != handshake_rtmp_version) {
                    // 0x16 opens a TLS handshake record: an rtmps:// client on a plain port.
                    failed_ = make_error_code(detail::u8(rest[0]) == tls_handshake_record ? error::tls_on_plain_port
                                                                                          : error::bad_handshake_version);
                    ec = failed_;
                    return used;
                }
                ++used;
                stage_ = stage::c1;
                break;
            case stage::c1: {
                const std::size_t n = std::min(handshake_packet_size - received_, rest.size());
                std::copy_n(rest.begin(), n, c1_.begin() + static_cast<std::ptrdiff_t>(received_));
                received_ += n;
                used += n;
                if (received_ == handshake_packet_size) {
                    respond();
                    received_ = 0;
                    stage_ = stage::c2;
                }
                break;
            }
            case stage::c2: {
                const std::size_t n = std::min(handshake_packet_size - received_, rest.size());
                received_ += n;
                used += n;
                if (received_ == handshake_packet_size) stage_ = stage::done;
                break;
            }
            case stage::done: break;
            }
        }
        return used;
    }

    /// S0 S1 S2 while they wait to be sent, else empty. Stays valid until `consume_output`.
    std::span<const std::byte> output() const noexcept {
        if (!output_pending_) return {};
        return out_;
    }

    /// Marks the whole of `output()` as sent.
    void consume_output() noexcept { output_pending_ = false; }

    /// Whether C2 has been received (the caller still sends any pending `output()` first).
    bool done() const noexcept { return stage_ == stage::done; }

    /// Whether C1 carried a valid digest and the FP9 digest handshake was answered.
    bool used_digest() const noexcept { return used_digest_; }

    /// The client's C1 once it is complete, else empty.
    std::span<const std::byte> client_c1() const noexcept {
        if (stage_ == stage::c0 || stage_ == stage::c1) return {};
        return c1_;
    }

private:
    enum class stage { c0, c1, c2, done };

    static constexpr std::size_t s1_offset_ = 1;
    static constexpr std::size_t s2_offset_ = 1 + handshake_packet_size;
    static constexpr std::uint32_t server_version_ = 0x04050001;  // advertised on the digest path

    void fill_random(std::span<std::byte> out) noexcept { handshake_fill_random(rng_state_, out); }

    // Finds a valid client digest under either scheme; records its position.
    bool find_client_digest() noexcept {
        const auto key = std::span(handshake_player_key).first(handshake_player_key_text_size);
        for (std::size_t base : {std::size_t{772}, std::size_t{8}}) {
            const std::size_t pos = handshake_digest_position(c1_, base);
            const auto expected = handshake_digest(c1_, pos, key);
            if (std::equal(expected.begin(), expected.end(), c1_.begin() + static_cast<std::ptrdiff_t>(pos))) {
                client_scheme_ = base;
                client_digest_pos_ = pos;
                return true;
            }
        }
        return false;
    }

    // Builds S0 S1 S2 from the complete C1.
    void respond() noexcept {
        const auto all = std::span(out_);
        const auto s1 = all.subspan(s1_offset_, handshake_packet_size);
        const auto s2 = all.subspan(s2_offset_, handshake_packet_size);
        all[0] = std::byte{handshake_rtmp_version};
        detail::store_be32(s1, server_time_);
        fill_random(s1.subspan(8));

        used_digest_ = find_client_digest();
        if (!used_digest_) {
            detail::store_be32(s1.subspan(4), 0);
            std::copy(c1_.begin(), c1_.end(), s2.begin());
        } else {
            detail::store_be32(s1.subspan(4), server_version_);
            const std::size_t pos = handshake_digest_position(s1, client_scheme_);
            const auto s1_digest =
                handshake_digest(s1, pos, std::span(handshake_server_key).first(handshake_server_key_text_size));
            std::copy(s1_digest.begin(), s1_digest.end(), s1.begin() + static_cast<std::ptrdiff_t>(pos));

            const auto body = s2.first(handshake_packet_size - handshake_digest_size);
            fill_random(body);
            const auto client_digest =
                std::span<const std::byte>(c1_).subspan(client_digest_pos_, handshake_digest_size);
            const auto signing_key = detail::hmac_sha256(handshake_server_key, client_digest);
            const auto signature = detail::hmac_sha256(signing_key, body);
            std::copy(signature.begin(), signature.end(), s2.begin() + static_cast<std::ptrdiff_t>(body.size()));
        }
        output_pending_ = true;
    }

    std::array<std::byte, handshake_packet_size> c1_{};
    std::array<std::byte, 1 + 2 * handshake_packet_size> out_{};
    std::uint64_t rng_state_;
    std::uint32_t server_time_;
    std::size_t received_ = 0;  // bytes of the current C1 or C2 so far
    std::size_t client_scheme_ = 0;
    std::size_t client_digest_pos_ = 0;
    std::error_code failed_;
    stage stage_ = stage::c0;
    bool used_digest_ = false;
    bool output_pending_ = false;
};

/**
 * The client side of the RTMP handshake (RTMP 1.0 §5.2), plain: C0 and C1 (time, zero version
 * bytes, random bytes) are ready in `output` from construction; once S0 and S1 are in, C2 (an
 * echo of S1) waits there too; once S2 is in, `done` is true. Servers answer a C1 without a
 * digest with the plain handshake, which nginx-rtmp, SRS, node-media-server and FFmpeg all do.
 * `put` never consumes bytes past S2: they begin the chunk stream.
 *
 * Errors: an S0 other than 3 gives `error::bad_handshake_version`; the handshake then stays
 * failed and consumes nothing more. S2 is not checked (servers differ in what they echo).
 */
class client_handshake {
public:
    explicit client_handshake(std::uint64_t random_seed, std::uint32_t client_time = 0) noexcept
        : rng_state_(random_seed) {
        out_[0] = std::byte{handshake_rtmp_version};
        const auto c1 = std::span(out_).subspan(1, handshake_packet_size);
        detail::store_be32(c1, client_time);
        detail::store_be32(c1.subspan(4), 0);
        handshake_fill_random(rng_state_, c1.subspan(8));
        pending_ = 1 + handshake_packet_size;
    }

    /// Consumes server handshake bytes, stopping at the end of S2; returns bytes consumed.
    std::size_t put(std::span<const std::byte> in, std::error_code& ec) noexcept {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        ec.clear();
        std::size_t used = 0;
        while (used < in.size() && stage_ != stage::done) {
            const auto rest = in.subspan(used);
            if (stage_ == stage::s0) {
                server_version_ = detail::u8(rest[0]);
                if (server_version_ != handshake_rtmp_version) {
                    failed_ = make_error_code(error::bad_handshake_version);
                    ec = failed_;
                    return used;
                }
                ++used;
                stage_ = stage::s1;
                continue;
            }
            const std::size_t n = std::min(handshake_packet_size - received_, rest.size());
            if (stage_ == stage::s1)
                std::copy_n(rest.begin(), n, out_.begin() + static_cast<std::ptrdiff_t>(c2_offset_ + received_));
            received_ += n;
            used += n;
            if (received_ < handshake_packet_size) continue;
            received_ = 0;
            if (stage_ == stage::s1) {
                stage_ = stage::s2;
                // C2 echoes S1 (copied into place above); it goes out after whatever is pending.
                pending_ = c2_offset_ + handshake_packet_size;
            } else {
                stage_ = stage::done;
            }
        }
        return used;
    }

    /// Bytes waiting to be sent (C0 C1, then C2), else empty. Valid until `consume_output`.
    std::span<const std::byte> output() const noexcept {
        return std::span<const std::byte>(out_).subspan(sent_, pending_ - sent_);
    }
    /// Marks the whole of `output()` as sent.
    void consume_output() noexcept { sent_ = pending_; }
    /// Whether S2 has been received (C2 may still wait in `output`).
    bool done() const noexcept { return stage_ == stage::done; }
    /// The version byte the server sent in S0 (0 before it arrives).
    std::uint8_t server_version() const noexcept { return server_version_; }

private:
    enum class stage { s0, s1, s2, done };
    static constexpr std::size_t c2_offset_ = 1 + handshake_packet_size;

    std::array<std::byte, 1 + 2 * handshake_packet_size> out_{};  // C0 C1 C2
    std::uint64_t rng_state_;
    std::size_t sent_ = 0;
    std::size_t pending_ = 0;   // out_[sent_, pending_) waits to be sent
    std::size_t received_ = 0;  // bytes of the current S1 or S2 so far
    std::error_code failed_;
    stage stage_ = stage::s0;
    std::uint8_t server_version_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/handshake.hpp ----
// ---- include/rtmpx/protocol/media_frame.hpp ----
// A frame on its way to players: an immutable FLV tag body (video, audio or data), shared, with the configuration it needs.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// A configuration message beyond a stream's two sequence headers (see `stream_config::more`).
struct config_message {
    bool video = false;
    std::uint32_t slot = 0;  ///< which part of the configuration (`flv::config_slot`)
    std::shared_ptr<const std::vector<std::byte>> body;
};

/// What a player needs before the frames of a stream: onMetaData and the codecs' configuration.
struct stream_config {
    std::shared_ptr<const std::vector<std::byte>> metadata;         ///< onMetaData data message body, or null
    /// FLV video tag body: the AVC sequence header, or the Enhanced SequenceStart of the lone
    /// track or of track 0; or null.
    std::shared_ptr<const std::vector<std::byte>> sequence_header;
    std::shared_ptr<const std::vector<std::byte>> audio_sequence_header;  ///< FLV audio tag body, as for video; or null
    /// The rest, in the order it came: the SequenceStart of each further track of a multitrack
    /// stream, an Enhanced audio MultichannelConfig.
    std::vector<config_message> more;
};

/// What a `media_frame` carries: media, or news about the stream's publisher in the media's order.
enum class media_kind : std::uint8_t {
    video,
    audio,
    data,         ///< an AMF0 data message body (onTextData, onCuePoint, ...), sent as is
    unpublished,  ///< the publisher left: players get NetStream.Play.UnpublishNotify
    published,    ///< a publisher (again): NetStream.Play.PublishNotify
};

/**
 * One frame as every player receives it: an FLV video or audio tag body (or a data message body),
 * never changed once made, shared by every player's queue (each player writes its own chunk
 * headers in front of the same bytes).
 */
struct media_frame {
    media_kind kind = media_kind::video;
    std::vector<std::byte> tag;
    std::uint32_t timestamp = 0;                    ///< ms on the producer's clock
    bool key_frame = false;                         ///< video only
    /// Video only: an Enhanced RTMP Metadata frame (colorInfo), not a picture. It goes to a player
    /// before its first key frame too, and the latest one opens every cached group.
    bool info_frame = false;
    std::shared_ptr<const stream_config> config;   ///< the configuration the frame needs

    /// Media (video, audio, data) rather than news of the publisher.
    bool is_media() const noexcept { return kind == media_kind::video || kind == media_kind::audio || kind == media_kind::data; }
};

using shared_frame = std::shared_ptr<const media_frame>;

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/media_frame.hpp ----
// ---- include/rtmpx/protocol/output_queue.hpp ----
// What a session sends, chunked and waiting: one batch being written, the next one filling.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

// ---- include/rtmpx/protocol/chunk_writer.hpp ----
// Sans-I/O chunk stream writer: messages in, scatter-gather buffers out that reference the payload.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The chunked form of one or more messages: chunk headers (and copied payloads) owned here,
 * referenced payloads not.
 *
 * Lifetime: the payload spans passed to `chunk_writer::write` must outlive the buffers
 * (one payload can serve the writes of many connections); `write_copy` payloads live here.
 * `clear()` keeps the capacity.
 */
class chunked_output {
public:
    /// Calls `f(std::span<const std::byte>)` for each buffer, in wire order.
    template <class F>
    void for_each_buffer(F&& f) const {
        for (const piece& p : pieces_) {
            if (p.data) {
                f(std::span<const std::byte>(p.data, p.size));
            } else {
                f(std::span<const std::byte>(headers_.data() + p.offset, p.size));
            }
        }
    }

    /// The buffers in wire order (valid until the next write or clear).
    std::vector<std::span<const std::byte>> buffers() const {
        std::vector<std::span<const std::byte>> out;
        out.reserve(pieces_.size());
        for_each_buffer([&](std::span<const std::byte> b) { out.push_back(b); });
        return out;
    }

    /// All bytes copied into one vector (for tests and small control messages).
    std::vector<std::byte> flatten() const {
        std::vector<std::byte> out;
        out.reserve(size_);
        for_each_buffer([&](std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); });
        return out;
    }

    /// Appends a copy of `bytes` (bytes before the written ones join their buffer).
    void append_copy(std::span<const std::byte> bytes) {
        if (bytes.empty()) return;
        begin_header();
        headers_.insert(headers_.end(), bytes.begin(), bytes.end());
        end_header();
    }
    std::size_t size() const noexcept { return size_; }
    /// Bytes owned here (chunk headers and copied payloads), a part of `size()`.
    std::size_t owned_size() const noexcept { return headers_.size(); }
    std::size_t buffer_count() const noexcept { return pieces_.size(); }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept {
        headers_.clear();
        pieces_.clear();
        size_ = 0;
    }

    /// Like `clear`, and gives back the memory when it holds room for more than `pieces` pieces
    /// (after a burst: a long-lived connection keeps only what its usual writes need).
    void clear_and_trim(std::size_t pieces) {
        clear();
        if (pieces_.capacity() > pieces) {
            pieces_.shrink_to_fit();
            headers_.shrink_to_fit();
        }
    }

private:
    friend class chunk_writer;
    struct piece {
        const std::byte* data;  // payload bytes, or nullptr for header bytes at `offset`
        std::size_t offset;
        std::size_t size;
    };

    void begin_header() { header_start_ = headers_.size(); }
    void end_header() {
        const std::size_t n = headers_.size() - header_start_;
        if (!pieces_.empty() && !pieces_.back().data && pieces_.back().offset + pieces_.back().size == header_start_) {
            pieces_.back().size += n;  // adjacent header bytes (a payload-less message) share a buffer
        } else {
            pieces_.push_back({nullptr, header_start_, n});
        }
        size_ += n;
    }
    void add_payload(std::span<const std::byte> p) {
        if (p.empty()) return;
        pieces_.push_back({p.data(), 0, p.size()});
        size_ += p.size();
    }


    std::vector<std::byte> headers_;
    std::vector<piece> pieces_;
    std::size_t header_start_ = 0;
    std::size_t size_ = 0;
};

/**
 * Serialises messages into chunks (RTMP 1.0 §5.3), choosing per chunk stream the smallest
 * header that is correct: type 0 for a new stream id or a timestamp going back, type 1 when the
 * length or type changes, type 2 when only the timestamp delta changes, type 3 otherwise.
 * Extended timestamps are written on every chunk that needs them, continuation chunks included.
 */
class chunk_writer {
public:
    explicit chunk_writer(std::uint32_t chunk_size = 128) : chunk_size_(chunk_size) {}

    /// Changes the chunk size of everything written after this call. Send the Set Chunk Size
    /// message (written at the old size) before the first message written at the new one.
    void set_chunk_size(std::uint32_t size) noexcept {
        RTMPX_ASSERT(size >= 1 && size <= 0x7fffffffu);
        chunk_size_ = size;
    }
    std::uint32_t chunk_size() const noexcept { return chunk_size_; }

    /// Appends the chunks of one message to `out`. The payload is referenced, not copied.
    void write(const message_header& h, std::span<const std::byte> payload, chunked_output& out) {
        write_impl(h, payload, out, false);
    }

    /// Like `write`, but copies the payload into `out` (small messages the caller does not keep).
    void write_copy(const message_header& h, std::span<const std::byte> payload, chunked_output& out) {
        write_impl(h, payload, out, true);
    }

private:
    void write_impl(const message_header& h, std::span<const std::byte> payload, chunked_output& out, bool copy) {
        RTMPX_ASSERT(h.chunk_stream_id >= 2 && h.chunk_stream_id <= 65599);
        RTMPX_ASSERT(payload.size() <= 0xffffff);
        state& st = find_or_add(h.chunk_stream_id);
        const auto length = static_cast<std::uint32_t>(payload.size());

        unsigned fmt = 0;
        std::uint32_t field = h.timestamp.value();
        if (st.valid && st.stream_id == h.stream_id && h.timestamp >= st.timestamp) {
            const std::uint32_t delta = h.timestamp - st.timestamp;
            field = delta;
            if (st.length != length || st.type != h.type) {
                fmt = 1;
            } else if (!st.delta_valid || st.delta != delta) {
                fmt = 2;
            } else {
                fmt = 3;
            }
            st.delta = delta;
            st.delta_valid = true;
        } else {
            st.delta_valid = false;  // after type 0 the next message states its delta explicitly
        }
        st.valid = true;
        st.stream_id = h.stream_id;
        st.length = length;
        st.type = h.type;
        st.timestamp = h.timestamp;

        const bool extended = field >= 0xffffff;
        std::size_t offset = 0;
        do {
            const std::size_t n = std::min<std::size_t>(chunk_size_, payload.size() - offset);
            out.begin_header();
            write_basic_header(out.headers_, offset == 0 ? fmt : 3, h.chunk_stream_id);
            if (offset == 0) {
                const std::uint32_t f = extended ? 0xffffff : field;
                if (fmt <= 2) detail::put_be24(out.headers_, f);
                if (fmt <= 1) {
                    detail::put_be24(out.headers_, length);
                    detail::put_u8(out.headers_, static_cast<std::uint8_t>(h.type));
                }
                if (fmt == 0) detail::put_le32(out.headers_, h.stream_id);
            }
            if (extended) detail::put_be32(out.headers_, field);
            out.end_header();
            if (copy) {
                out.append_copy(payload.subspan(offset, n));
            } else {
                out.add_payload(payload.subspan(offset, n));
            }
            offset += n;
        } while (offset < payload.size());
    }

    struct state {
        std::uint32_t id = 0;
        bool valid = false;
        bool delta_valid = false;
        std::uint32_t stream_id = 0;
        std::uint32_t length = 0;
        message_type type{};
        rtmp_timestamp timestamp;
        std::uint32_t delta = 0;
    };

    state& find_or_add(std::uint32_t id) {
        for (state& s : states_)
            if (s.id == id) return s;
        states_.push_back(state{});
        states_.back().id = id;
        return states_.back();
    }

    // RTMP 1.0 §5.3.1.1: ids 2-63 in one byte, 64-319 in two, 320-65599 in three.
    static void write_basic_header(std::vector<std::byte>& out, unsigned fmt, std::uint32_t csid) {
        const auto top = static_cast<std::uint8_t>(fmt << 6);
        if (csid < 64) {
            detail::put_u8(out, static_cast<std::uint8_t>(top | csid));
        } else if (csid < 320) {
            detail::put_u8(out, top);
            detail::put_u8(out, static_cast<std::uint8_t>(csid - 64));
        } else {
            detail::put_u8(out, static_cast<std::uint8_t>(top | 1));
            detail::put_u8(out, static_cast<std::uint8_t>((csid - 64) & 0xff));
            detail::put_u8(out, static_cast<std::uint8_t>((csid - 64) >> 8));
        }
    }

    std::uint32_t chunk_size_;
    std::vector<state> states_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/chunk_writer.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * A session's outgoing bytes. Messages are chunked as they are queued, into the *pending* batch;
 * `begin_write` hands the pending batch to the writer as the *in-flight* batch and starts a new
 * pending one, and `end_write` releases the in-flight batch once it is written. Small messages
 * (commands, control) are copied; shared payloads (frames) are referenced and kept alive until
 * their batch is written, so one frame serves every player without a copy.
 *
 * A Set Chunk Size message changes the chunk size of everything queued after it, as RTMP 1.0
 * §5.4.1 says the receiver applies it.
 */
class output_queue {
public:
    explicit output_queue(std::uint32_t chunk_size = 128) : writer_(chunk_size) {}

    /// Queues a message, copying its payload.
    void write(const message& m) {
        writer_.write_copy(m.header, m.payload, pending_);
        after_message(m.header, m.payload);
    }

    /// Queues a message whose payload is shared (not copied; kept alive until written).
    void write_shared(const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
        writer_.write(h, *payload, pending_);
        after_message(h, *payload);
        refs_pending_.push_back(std::move(payload));
    }

    /// Queues bytes outside the chunk stream (the handshake).
    void write_raw(std::span<const std::byte> bytes) { pending_.append_copy(bytes); }

    /// Whether anything waits in the pending batch.
    bool has_pending() const noexcept { return !pending_.empty(); }
    /// Messages in the pending batch.
    std::size_t pending_messages() const noexcept { return pending_messages_; }
    /// Bytes not written yet: the pending batch and the one in flight.
    std::size_t unwritten_bytes() const noexcept { return pending_.size() + inflight_.size(); }
    /// Whether a batch is being written.
    bool writing() const noexcept { return writing_; }

    /**
     * Makes the pending batch the one in flight and returns it; its buffers stay valid until
     * `end_write`. Precondition: no batch in flight.
     */
    const chunked_output& begin_write() {
        RTMPX_ASSERT(!writing_);
        std::swap(pending_, inflight_);
        std::swap(refs_pending_, refs_inflight_);
        pending_messages_ = 0;
        writing_ = true;
        return inflight_;
    }

    /// The in-flight batch has been written: its memory is released (a burst, such as a joining
    /// player's cached frames, leaves no large buffers behind).
    void end_write() {
        constexpr std::size_t usual = 64;
        inflight_.clear_and_trim(usual);
        refs_inflight_.clear();
        if (refs_inflight_.capacity() > usual) refs_inflight_.shrink_to_fit();
        writing_ = false;
    }

    /// Drops everything not written (the connection closes without a flush).
    void discard() {
        pending_.clear();
        refs_pending_.clear();
        pending_messages_ = 0;
    }

    /// The chunk size messages are written with now.
    std::uint32_t chunk_size() const noexcept { return writer_.chunk_size(); }
    /// Messages queued since the start.
    std::uint64_t messages() const noexcept { return messages_; }

private:
    void after_message(const message_header& h, std::span<const std::byte> payload) {
        ++pending_messages_;
        ++messages_;
        if (h.type == message_type::set_chunk_size && payload.size() == 4) {
            const std::uint32_t size = detail::load_be32(payload) & 0x7fffffffu;
            if (size > 0) writer_.set_chunk_size(size);  // applies after this message
        }
    }

    chunk_writer writer_;
    chunked_output pending_;
    chunked_output inflight_;
    std::vector<std::shared_ptr<const std::vector<std::byte>>> refs_pending_;
    std::vector<std::shared_ptr<const std::vector<std::byte>>> refs_inflight_;
    std::size_t pending_messages_ = 0;
    std::uint64_t messages_ = 0;
    bool writing_ = false;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/output_queue.hpp ----
// ---- include/rtmpx/protocol/pending_calls.hpp ----
// The calls a session made to its peer that wait for an answer: transaction ids and deadlines.

#include <cstddef>
#include <map>
#include <optional>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Calls waiting for the peer's `_result` or `_error`, by transaction id, each with a deadline.
class pending_calls {
public:
    /// A new call that must be answered by `deadline`; returns its transaction id (1, 2, ...).
    double add(time_point deadline) {
        const double txn = next_txn_++;
        calls_.emplace(txn, deadline);
        return txn;
    }
    /// Removes call `txn`; false when no such call waits (a late or unknown answer).
    bool take(double txn) { return calls_.erase(txn) > 0; }
    /// Removes and returns one call whose deadline is `now` or earlier.
    std::optional<double> take_expired(time_point now) {
        for (auto it = calls_.begin(); it != calls_.end(); ++it) {
            if (it->second > now) continue;
            const double txn = it->first;
            calls_.erase(it);
            return txn;
        }
        return std::nullopt;
    }
    /// Removes and returns every call (the session ends).
    std::vector<double> take_all() {
        std::vector<double> out;
        for (const auto& c : calls_) out.push_back(c.first);
        calls_.clear();
        return out;
    }
    /// The earliest deadline, if any call waits.
    std::optional<time_point> next_deadline() const {
        std::optional<time_point> next;
        for (const auto& c : calls_)
            if (!next || c.second < *next) next = c.second;
        return next;
    }
    std::size_t size() const noexcept { return calls_.size(); }

private:
    std::map<double, time_point> calls_;
    double next_txn_ = 1;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/pending_calls.hpp ----
// ---- include/rtmpx/protocol/session_base.hpp ----
// What both sides of an RTMP session share: the handshake, the chunk stream in, the output, the end.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <utility>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The part of a session that does not depend on its side: `Handshake` (`server_handshake` or
 * `client_handshake`) first, then the peer's chunk stream, read into whole messages; the output
 * queue; acknowledgements of the peer's window (RTMP 1.0 §5.4.3); and the end, which comes once
 * (`close`: the first reason counts; with a flush, what is queued is still sent, unless a later
 * close without one cuts it short).
 */
template <class Handshake>
class session_base {
public:
    /// The chunked bytes to send (the driver writes them; see `output_queue`).
    output_queue& output() noexcept { return output_; }
    const output_queue& output() const noexcept { return output_; }

    /// Ends the session; the first reason counts. With `flush`, what is queued is still sent; a
    /// later close without a flush (a write that stalls, say) still cuts the flush short.
    void close(std::error_code reason, bool flush) {
        if (!closing_) {
            closing_ = true;
            flush_ = flush;
            reason_ = reason;
        }
        if (!flush) {
            flush_ = false;
            output_.discard();
        }
    }

    bool closing() const noexcept { return closing_; }
    /// Whether what is queued is to be sent before the transport closes.
    bool flush_on_close() const noexcept { return flush_; }
    std::error_code reason() const noexcept { return reason_; }
    bool handshake_done() const noexcept { return !handshake_; }
    std::uint64_t bytes_in() const noexcept { return bytes_in_; }
    std::uint64_t messages_in() const noexcept { return messages_in_; }
    /// The peer's chunk size.
    std::uint32_t chunk_size_in() const noexcept { return reader_.chunk_size(); }

protected:
    session_base(Handshake handshake, const chunk_limits& limits)
        : handshake_(std::make_unique<Handshake>(std::move(handshake))), reader_(limits) {
        take_handshake_output();
    }

    // Feeds handshake bytes; what the handshake answers goes out at once. Returns bytes consumed;
    // `handshake_` is null once the handshake is done: its packets (4.6 KB) are freed, so a
    // long-lived connection keeps nothing of them.
    std::size_t put_handshake(std::span<const std::byte> in) {
        std::error_code ec;
        const std::size_t used = handshake_->put(in, ec);
        bytes_in_ += used;
        if (ec) close(ec, false);
        take_handshake_output();
        if (handshake_->done()) handshake_.reset();
        return used;
    }

    // Reads whole messages from `in`, handing each to `on_message(message&&)`, until the input
    // runs out (an incomplete chunk header stays with the caller) or the session closes.
    template <class F>
    std::size_t put_chunks(std::span<const std::byte> in, F&& on_message) {
        std::size_t used = 0;
        while (used < in.size() && !closing_) {
            std::error_code ec;
            const std::size_t n = reader_.put(in.subspan(used), ec);
            used += n;
            bytes_in_ += n;
            if (ec) {
                close(ec, false);
                break;
            }
            if (!reader_.has_message()) break;
            ++messages_in_;
            on_message(reader_.take_message());
        }
        return used;
    }

    // The acknowledgement due now that the peer's window has passed since the last one, if any.
    std::optional<acknowledgement> acknowledgement_due() {
        if (peer_window_ == 0 || bytes_in_ - last_ack_ < peer_window_) return std::nullopt;
        last_ack_ = bytes_in_;
        return acknowledgement{static_cast<std::uint32_t>(bytes_in_)};
    }

    std::unique_ptr<Handshake> handshake_;  // until the handshake is done
    chunk_reader reader_;
    output_queue output_{128};
    std::uint32_t peer_window_ = 0;  ///< the peer's Window Acknowledgement Size (0: none)
    bool closing_ = false;

private:
    void take_handshake_output() {
        if (handshake_->output().empty()) return;
        output_.write_raw(handshake_->output());
        handshake_->consume_output();
    }

    bool flush_ = false;
    std::error_code reason_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t messages_in_ = 0;
    std::uint64_t last_ack_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/session_base.hpp ----
// ---- include/rtmpx/protocol/server_session_events.hpp ----
// What a server session asks and tells its owner: the callbacks and the requests they carry.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// A `play` (or a stop) as the session's owner is asked about it.
struct play_request {
    std::uint32_t stream_id = 0;
    bool is_start = true;
    std::string_view stream_name;
    double start = -2;
    double duration = -1;            ///< ms; > 0 plays a live stream that long, then stops it
    std::vector<std::byte> video_data;  ///< out: a video tag body sent as is (before the frames, or before Play.Stop)
};

/// A `publish` as the session's owner is asked about it; a refusal says which status.
struct publish_request {
    std::uint32_t stream_id = 0;
    std::string_view stream_name;
    std::string_view type;                               ///< "live", "record" or "append"
    std::string refusal = "NetStream.Publish.BadName";   ///< out: the status of a refusal (or ...Denied, ...Rejected)
    std::string description;                             ///< out: its description (empty: one is made up)
};

/// What a published stream carries.
enum class media_type : std::uint8_t {
    audio,     ///< an FLV audio tag body
    video,     ///< an FLV video tag body
    metadata,  ///< onMetaData: an AMF0 data message body `onMetaData`, properties (`@setDataFrame` removed)
    data,      ///< any other data message body (onTextData, onCuePoint, ...)
};

/// One message of a published stream, as the publisher sent it (timestamp included).
struct media_in {
    std::uint32_t stream_id = 0;
    media_type type = media_type::video;
    rtmp_timestamp timestamp;
    std::vector<std::byte> payload;  ///< may be moved from
};

/**
 * What a server session tells its owner. Every callback runs inside a `put`, `on_time` or
 * `finish` call, on the owner's thread; references are valid during the callback only.
 * - `bool on_connect(const connect_command&)`: true accepts the connection. To end it instead,
 *   call `close` and return false.
 * - `bool on_create_stream(std::uint32_t id, const amf0::value& command_object)`: true allows it.
 * - `bool on_play(play_request&)`: on start, true allows it; on stop the result is ignored.
 * - `bool on_pause(std::uint32_t id, bool pause, double ms)`: true honours it.
 * - `void on_receive_video(std::uint32_t id, bool enable)`: `receiveVideo`, always honoured.
 * - `void on_stream_deleted(std::uint32_t id, std::error_code reason)`.
 * - `void on_call(command&)`: a remote call; answer it with `answer_call`, now or later (the
 *   command may be moved from).
 * - `void on_call_answered(double txn, call_result&&)`: an answer to `call`, or its failure.
 * - `void on_refused(std::error_code why, std::uint32_t stream_id)`: the session refused a
 *   request on its own (a limit, an unknown stream, media it drops), for the owner's log.
 * - `bool on_publish(publish_request&)`: true accepts the publish (NetStream.Publish.Start).
 * - `void on_media(media_in&)`: a message of a publishing stream, in the order it came.
 * - `void on_unpublish(std::uint32_t id)`: the stream's publish ended (FCUnpublish, closeStream,
 *   deleteStream, the end of the connection).
 */
template <class H>
concept server_session_handler =
    requires(H& h, const connect_command& cc, const amf0::value& v, play_request& pr, command& c, call_result&& r,
             std::uint32_t id, bool b, double d, std::error_code ec, publish_request& pub, media_in& media) {
        { h.on_connect(cc) } -> std::convertible_to<bool>;
        { h.on_create_stream(id, v) } -> std::convertible_to<bool>;
        { h.on_play(pr) } -> std::convertible_to<bool>;
        { h.on_pause(id, b, d) } -> std::convertible_to<bool>;
        h.on_receive_video(id, b);
        h.on_stream_deleted(id, ec);
        h.on_call(c);
        h.on_call_answered(d, std::move(r));
        h.on_refused(ec, id);
        { h.on_publish(pub) } -> std::convertible_to<bool>;
        h.on_media(media);
        h.on_unpublish(id);
    };

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/server_session_events.hpp ----
// ---- include/rtmpx/protocol/server_streams.hpp ----
// The NetStreams of a server session: createStream, play, pause, publish, media in and out, delete.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

// ---- include/rtmpx/protocol/net_stream.hpp ----
// One NetStream of a server session: its play or publish state, its player, and the messages its changes send.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

// ---- include/rtmpx/protocol/player.hpp ----
// One playing stream's outgoing media: configuration before frames, a key frame first, timestamps from 0.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The framing rules of one playing stream, the same whoever produced the frames (a stream's own
 * frame handler, a broadcast, a publisher):
 * - a frame whose configuration this player has not had yet is preceded by it: onMetaData at
 *   timestamp 0 (FFmpeg's FLV reader takes later metadata for a data stream), then the video and
 *   the audio sequence headers;
 * - the first video frame, and the first after a resume or a new publisher, is a key frame:
 *   video frames before it are dropped (audio is not: a player starts its sound at once; nor is
 *   an Enhanced Metadata frame, which describes the pictures to come);
 * - timestamps start at 0 (or where `start` says) on the first frame sent and then follow the
 *   producer's clock, never backwards, and video strictly increasing (players reject two video
 *   frames with one DTS);
 * - news of the publisher becomes NetStream.Play.UnpublishNotify / PublishNotify, in order;
 * - with the client's Enhanced RTMP `capabilities` (`set_capabilities`), no message goes in a
 *   codec it did not declare: the play fails at the first such message (NetStream.Play.Failed,
 *   saying which codec), and a client without Multitrack gets the default track (id 0) of each
 *   multitrack message alone.
 */
class player {
public:
    /// What `write` did with a frame (`refused`: the play failed, see `refused()`).
    enum class outcome { sent, dropped, notified, refused };

    explicit player(std::uint32_t stream_id) noexcept : stream_id_(stream_id) {}

    /// A new play: nothing has been sent. Its first frame is at `first_timestamp` (0, or where a
    /// timeline that goes on across connections, a publisher's reconnect, had got to).
    void start(std::uint32_t first_timestamp = 0) noexcept {
        sent_key_frame_ = false;
        offset_ = first_timestamp;
        last_timestamp_ = first_timestamp;
        last_video_ = std::nullopt;
        base_.reset();
        sent_config_.reset();
        refused_ = false;
    }

    /// What the client declared in `connect` (null: no gate, every message goes as it is).
    void set_capabilities(std::shared_ptr<const enhanced::capabilities> caps) noexcept {
        caps_ = caps && !caps->takes_everything() ? std::move(caps) : nullptr;
    }

    /// Whether the play failed on a codec the client did not declare (until the next `start`).
    bool refused() const noexcept { return refused_; }

    /// After a pause: the timeline goes on, but the next video frame sent must be a key frame.
    void resume() noexcept { sent_key_frame_ = false; }

    /// `receiveAudio`: whether audio frames are sent.
    void receive_audio(bool enable) noexcept { audio_ = enable; }

    /// The timestamp of the last frame sent (the first one's before it).
    std::uint32_t timestamp() const noexcept { return last_timestamp_; }

    /**
     * Frames `f` for this player: `emit(message_header, std::shared_ptr<const std::vector<std::byte>>)`
     * is called for each message to send, payloads shared and never copied.
     */
    template <class Emit>
    outcome write(const shared_frame& f, Emit&& emit) {
        if (refused_) return outcome::dropped;
        if (!f->is_media()) {
            const bool left = f->kind == media_kind::unpublished;
            if (left) sent_key_frame_ = false;  // the next publisher's video starts on a key frame
            auto status = to_message(make_on_status("status", left ? "NetStream.Play.UnpublishNotify" : "NetStream.Play.PublishNotify",
                                                    left ? "The stream's publisher left." : "The stream is published."),
                                     stream_id_, chunk_stream::stream_command);
            emit(status.header, std::make_shared<const std::vector<std::byte>>(std::move(status.payload)));
            return outcome::notified;
        }
        const bool video = f->kind == media_kind::video;
        if (f->kind == media_kind::audio && !audio_) return outcome::dropped;
        if (f->config != sent_config_) {
            if (f->config && !send_config(*f->config, emit)) return outcome::refused;
            sent_config_ = f->config;
        }
        const bool picture = video && !f->info_frame;  // an info frame (colorInfo) waits for no key frame
        if (picture && !sent_key_frame_ && !f->key_frame) return outcome::dropped;
        adapted body = adapt(f->kind, bytes(f, &f->tag));
        if (body.refusal) return refuse(*body.refusal, emit);
        if (!body.payload) return outcome::dropped;  // a multitrack message without a default track
        const rtmp_timestamp ts = next_timestamp(f->timestamp, video);
        if (picture) sent_key_frame_ = true;
        emit(message_header{chunk_of(f->kind), type_of(f->kind), ts, stream_id_}, std::move(body.payload));
        return outcome::sent;
    }

private:
    using bytes = std::shared_ptr<const std::vector<std::byte>>;

    // What the client gets of a message: `payload` as it is or its default track alone, nothing
    // (null: a multitrack message without track 0), or a refusal saying which codec it lacks.
    struct adapted {
        bytes payload;
        std::optional<std::string> refusal;
    };

    adapted adapt(media_kind kind, bytes body) const {
        if (!caps_ || kind == media_kind::data) return {std::move(body), {}};
        const bool video = kind == media_kind::video;
        if (video ? !enhanced::is_enhanced_video(*body) : !enhanced::is_enhanced_audio(*body)) return {std::move(body), {}};
        return video ? adapt_tag<enhanced::video_tag>(std::move(body)) : adapt_tag<enhanced::audio_tag>(std::move(body));
    }

    static std::error_code parse(std::span<const std::byte> m, enhanced::video_tag& t) noexcept { return enhanced::parse_video(m, t); }
    static std::error_code parse(std::span<const std::byte> m, enhanced::audio_tag& t) noexcept { return enhanced::parse_audio(m, t); }
    static void append(std::vector<std::byte>& out, const enhanced::video_tag& t) { enhanced::append_video(out, t); }
    static void append(std::vector<std::byte>& out, const enhanced::audio_tag& t) { enhanced::append_audio(out, t); }

    template <class Tag>
    adapted adapt_tag(bytes body) const {
        constexpr bool video = std::is_same_v<Tag, enhanced::video_tag>;
        Tag tag;
        if (parse(*body, tag)) return {};  // no codec to check it by: not sent to a client that chooses codecs
        const bool whole = !tag.multitrack || (caps_->caps_ex & enhanced::caps_ex::multitrack) != 0;
        if (!whole && !enhanced::keep_default_track(tag)) return {};
        for (const enhanced::track& t : tag.each()) {
            if (video ? caps_->accepts_video(t.codec) : caps_->accepts_audio(t.codec)) continue;
            return {nullptr, refusal_text(video, t.codec)};
        }
        if (whole) return {std::move(body), {}};
        auto one = std::make_shared<std::vector<std::byte>>();
        one->reserve(body->size());
        append(*one, tag);
        return {std::move(one), {}};
    }

    std::string refusal_text(bool video, enhanced::fourcc codec) const {
        const char* kind = video ? "video" : "audio";
        if (!caps_->declared)
            return fmt::format("The stream's {} is {}, an Enhanced RTMP codec, and this client declared none (no fourCcList in "
                               "its connect).",
                               kind, enhanced::fourcc_text(codec));
        return fmt::format("The stream's {} is {}, which this client did not declare in its connect (fourCcList).", kind,
                           enhanced::fourcc_text(codec));
    }

    // NetStream.Play.Failed and StreamEOF: the play ends here.
    template <class Emit>
    outcome refuse(const std::string& why, Emit& emit) {
        refused_ = true;
        for (auto& m : {to_message(make_on_status("error", "NetStream.Play.Failed", why), stream_id_, chunk_stream::stream_command),
                        to_message(user_control::stream_eof(stream_id_))})
            emit(m.header, std::make_shared<const std::vector<std::byte>>(m.payload));
        return outcome::refused;
    }

    // The parts of `config` this player has not had (each once: a new part replaces its own),
    // all of them or, on a refusal, none.
    template <class Emit>
    bool send_config(const stream_config& config, Emit& emit) {
        const stream_config* had = sent_config_.get();
        const auto fresh = [had](const bytes& now, const bytes& before) { return now && (!had || now != before); };
        const auto sent_before = [had](const bytes& now) {
            return had && std::any_of(had->more.begin(), had->more.end(), [&](const config_message& m) { return m.body == now; });
        };
        std::vector<std::pair<media_kind, bytes>> tags;
        if (fresh(config.sequence_header, had ? had->sequence_header : nullptr)) tags.emplace_back(media_kind::video, config.sequence_header);
        if (fresh(config.audio_sequence_header, had ? had->audio_sequence_header : nullptr))
            tags.emplace_back(media_kind::audio, config.audio_sequence_header);
        for (const auto& m : config.more)
            if (m.body && !sent_before(m.body)) tags.emplace_back(m.video ? media_kind::video : media_kind::audio, m.body);
        for (auto& [kind, body] : tags) {
            adapted a = adapt(kind, std::move(body));
            if (a.refusal) {
                refuse(*a.refusal, emit);
                return false;
            }
            body = std::move(a.payload);
        }
        if (fresh(config.metadata, had ? had->metadata : nullptr))
            emit(message_header{chunk_stream::stream_command, message_type::data_amf0, rtmp_timestamp(0), stream_id_}, config.metadata);
        for (auto& [kind, body] : tags)
            if (body) emit(message_header{chunk_of(kind), type_of(kind), rtmp_timestamp(last_timestamp_), stream_id_}, std::move(body));
        return true;
    }

    static std::uint32_t chunk_of(media_kind k) noexcept {
        return k == media_kind::video ? chunk_stream::video : k == media_kind::audio ? chunk_stream::audio : chunk_stream::stream_command;
    }
    static message_type type_of(media_kind k) noexcept {
        return k == media_kind::video ? message_type::video : k == media_kind::audio ? message_type::audio : message_type::data_amf0;
    }

    // This player's timestamp for a frame at `producer` ms: relative to its first frame, never
    // backwards (serial arithmetic, so a frame a little before the first is at 0, and the 32-bit
    // clock may wrap), video strictly after the previous video.
    rtmp_timestamp next_timestamp(std::uint32_t producer, bool video) {
        if (!base_) base_ = producer;
        rtmp_timestamp ts(producer - *base_ + offset_);
        if (ts < rtmp_timestamp(last_timestamp_)) ts = rtmp_timestamp(last_timestamp_);
        if (video && last_video_ && !(rtmp_timestamp(*last_video_) < ts)) ts = rtmp_timestamp(*last_video_) + 1;
        if (video) last_video_ = ts.value();
        if (rtmp_timestamp(last_timestamp_) < ts) last_timestamp_ = ts.value();
        return ts;
    }

    std::uint32_t stream_id_;
    bool sent_key_frame_ = false;
    bool audio_ = true;
    std::uint32_t offset_ = 0;           // the timestamp of the first frame
    std::uint32_t last_timestamp_ = 0;
    std::optional<std::uint32_t> last_video_;
    std::optional<std::uint32_t> base_;  // the producer's timestamp of this player's first frame
    std::shared_ptr<const stream_config> sent_config_;
    std::shared_ptr<const enhanced::capabilities> caps_;  // null: no gate
    bool refused_ = false;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/player.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// `onStatus` on message stream `stream_id` (RTMP 1.0 §7.2.2: NetStream status goes on the stream).
inline message status_message(std::uint32_t stream_id, std::string_view level, std::string_view code,
                              std::string_view description) {
    return to_message(make_on_status(level, code, description), stream_id, chunk_stream::stream_command);
}

/**
 * A NetStream as the server session keeps it: created by `createStream`, played by `play` or
 * published by `publish` (never both at once). Its state changes return the messages the client
 * gets, in the order players and publishers need them (`../shared/reference/players.md`); the
 * session queues them.
 */
class net_stream {
public:
    explicit net_stream(std::uint32_t id) : id_(id), out_(id) {}

    std::uint32_t id() const noexcept { return id_; }
    const std::string& name() const noexcept { return name_; }
    bool playing() const noexcept { return playing_; }
    bool paused() const noexcept { return paused_; }
    bool publishing() const noexcept { return publishing_; }
    /// The name being published (empty when not publishing).
    const std::string& publish_name() const noexcept { return publish_name_; }
    /// When the publisher last sent a message.
    time_point last_media() const noexcept { return last_media_; }
    void media_arrived(time_point now) noexcept { last_media_ = now; }
    /// When a play with a duration ends (RTMP 1.0 §7.2.2.1), if it has one.
    const std::optional<time_point>& stop_at() const noexcept { return stop_at_; }
    /// The framing of this stream's media.
    player& out() noexcept { return out_; }

    /**
     * Play starts (`duration_ms` > 0: a live stream plays that long): StreamBegin, Play.Reset,
     * Play.Start, `|RtmpSampleAccess`, then `video_data` (the play handler's) if any.
     */
    std::vector<message> start(std::string_view name, double duration_ms, time_point now, std::vector<std::byte> video_data) {
        name_ = std::string(name);
        playing_ = true;
        paused_ = false;
        out_.start();
        stop_at_.reset();
        if (duration_ms > 0)
            stop_at_ = now + std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double, std::milli>(duration_ms));
        std::vector<message> out;
        out.push_back(to_message(user_control::stream_begin(id_)));
        out.push_back(status_message(id_, "status", "NetStream.Play.Reset", fmt::format("Playing and resetting {}.", name_)));
        out.push_back(status_message(id_, "status", "NetStream.Play.Start", fmt::format("Started playing {}.", name_)));
        out.push_back(to_message(data_message{"|RtmpSampleAccess", {amf0::value(true), amf0::value(true)}}, id_));
        if (!video_data.empty())
            out.push_back(message{{chunk_stream::video, message_type::video, rtmp_timestamp(0), id_}, std::move(video_data)});
        return out;
    }

    /// Play stops (the owner has been told).
    void stop() noexcept {
        playing_ = false;
        stop_at_.reset();
    }

    /// What a player whose play stopped gets: `video_data` (the play handler's), Play.Stop, StreamEOF.
    std::vector<message> stopped_messages(std::vector<std::byte> video_data) const {
        std::vector<message> out;
        if (!video_data.empty())
            out.push_back(message{{chunk_stream::video, message_type::video, rtmp_timestamp(out_.timestamp()), id_},
                                  std::move(video_data)});
        out.push_back(status_message(id_, "status", "NetStream.Play.Stop", fmt::format("Stopped playing {}.", name_)));
        out.push_back(to_message(user_control::stream_eof(id_)));
        return out;
    }

    /// What a player whose stream's producer failed gets: NetStream.Failed and StreamEOF.
    std::vector<message> failed_messages() const {
        return {status_message(id_, "error", "NetStream.Failed", "The stream's handler failed."),
                to_message(user_control::stream_eof(id_))};
    }

    /// An honoured pause or resume (resume starts on a key frame); with `notify`, its status.
    std::vector<message> pause(bool pause, bool notify) {
        paused_ = pause;
        if (!pause) out_.resume();
        if (!notify) return {};
        return {pause ? status_message(id_, "status", "NetStream.Pause.Notify", fmt::format("Paused {}.", name_))
                      : status_message(id_, "status", "NetStream.Unpause.Notify", fmt::format("Unpaused {}.", name_))};
    }

    /// Publish starts: NetStream.Publish.Start, what every publisher waits for.
    std::vector<message> start_publish(std::string_view name, time_point now) {
        publishing_ = true;
        publish_name_ = std::string(name);
        last_media_ = now;
        auto info = status_info("status", "NetStream.Publish.Start", fmt::format("{} is now published.", publish_name_));
        info.set("details", amf0::value(publish_name_));
        return {to_message(make_on_status(std::move(info)), id_, chunk_stream::stream_command)};
    }

    /// A refused publish: `code` (NetStream.Publish.BadName, ...Denied, ...Rejected), level error.
    std::vector<message> refuse_publish(std::string_view code, std::string_view description) const {
        return {status_message(id_, "error", code, description)};
    }

    /// Publish ends: NetStream.Unpublish.Success (with `notify`).
    std::vector<message> stop_publish(bool notify) {
        std::vector<message> out;
        if (notify)
            out.push_back(status_message(id_, "status", "NetStream.Unpublish.Success", fmt::format("{} is now unpublished.", publish_name_)));
        publishing_ = false;
        publish_name_.clear();
        return out;
    }

private:
    std::uint32_t id_;
    std::string name_;
    bool playing_ = false;
    bool paused_ = false;
    bool publishing_ = false;
    std::string publish_name_;
    time_point last_media_{};
    std::optional<time_point> stop_at_;
    player out_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/net_stream.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The NetStream half of a `server_session` (`Session`): the streams a client created, what it
 * plays or publishes on them, and what they send. It asks the session's owner (`handler_`)
 * and queues through the session (`send`, `output_`), whose state it reads (`now_`, `closing_`,
 * `options_`). Every `net_stream*` is looked up again after an owner's callback.
 */
template <class Session>
class server_streams {
public:
    explicit server_streams(Session& session) : session_(session) {}

    // ---- commands --------------------------------------------------------------------------------

    void create(const create_stream_command& cmd) {
        if (streams_.size() >= session_.options_.max_streams_per_connection) {
            session_.handler_.on_refused(error::too_many_streams, 0);
            return session_.send(make_error(cmd.transaction_id,
                                            status_info("error", "NetConnection.Call.Failed", "too many streams on this connection")));
        }
        const std::uint32_t id = next_id_++;
        const bool allowed = session_.handler_.on_create_stream(id, cmd.object);
        if (allowed) streams_.emplace_back(id);  // even when closing: `finish` tells the owner of it
        if (session_.closing_) return;
        if (!allowed)
            return session_.send(make_error(cmd.transaction_id, status_info("error", "NetConnection.Call.Failed", "stream refused")));
        session_.send(make_result(cmd.transaction_id, amf0::value::null(), {amf0::value(id)}));
    }

    void play(const play_command& cmd, std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s) {
            session_.handler_.on_refused(error::stream_not_found, stream_id);
            return session_.send(status_message(stream_id, "error", "NetStream.Play.StreamNotFound", "No such stream."));
        }
        if (cmd.stop) return stop(*s, true);  // NetStream.play(false)
        if (s->publishing())
            return session_.send(status_message(stream_id, "error", "NetStream.Play.Failed", "The stream publishes."));
        if (s->playing()) stop(*s, false);
        play_request request{stream_id, true, cmd.stream_name, cmd.start, cmd.duration, {}};
        const bool allowed = session_.handler_.on_play(request);
        if (session_.closing_ || !(s = find(stream_id))) return;
        if (!allowed)
            return session_.send(status_message(stream_id, "error", "NetStream.Play.Failed", fmt::format("Play of {} refused.", cmd.stream_name)));
        session_.send(s->start(cmd.stream_name, cmd.duration, session_.now_, std::move(request.video_data)));
        s->out().set_capabilities(session_.client_caps_);
    }

    void pause(const pause_command& cmd, std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing()) return;
        const bool honoured = session_.handler_.on_pause(stream_id, cmd.pause, cmd.milliseconds);
        if (session_.closing_ || !honoured || !(s = find(stream_id)) || !s->playing()) return;
        session_.send(s->pause(cmd.pause, true));
    }

    void receive_video(std::uint32_t stream_id, bool enable) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing()) return;
        s->pause(!enable, false);
        session_.handler_.on_receive_video(stream_id, enable);
    }

    void receive_audio(std::uint32_t stream_id, bool enable) {
        if (net_stream* s = find(stream_id); s && s->playing()) s->out().receive_audio(enable);
    }

    void publish(const publish_command& cmd, std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s) {  // a stream it did not create
            session_.handler_.on_refused(error::stream_not_found, stream_id);
            return session_.send(status_message(stream_id, "error", "NetStream.Publish.BadName", "No such stream."));
        }
        if (s->playing() || s->publishing())
            return session_.send(s->refuse_publish("NetStream.Publish.BadName", "The stream is in use."));
        publish_request request{stream_id, cmd.stream_name, cmd.type, "NetStream.Publish.BadName", {}};
        const bool allowed = session_.handler_.on_publish(request);
        if (session_.closing_ || !(s = find(stream_id))) return;
        if (!allowed) {
            session_.handler_.on_refused(error::publish_refused, stream_id);
            return session_.send(s->refuse_publish(
                request.refusal, request.description.empty() ? fmt::format("Publishing {} refused.", cmd.stream_name) : request.description));
        }
        session_.send(to_message(user_control::stream_begin(stream_id)));
        session_.send(s->start_publish(cmd.stream_name, session_.now_));
    }

    /// `FCUnpublish(name)`: the stream publishing `name` stops.
    void unpublish_named(std::string_view name) {
        if (net_stream* s = find_published(name)) unpublish(*s, true);
    }

    void delete_stream(std::uint32_t id) {
        net_stream* s = find(id);
        if (!s) return;
        unpublish(*s, true);
        stop(*s, false);
        std::erase_if(streams_, [id](const net_stream& st) { return st.id() == id; });
        session_.handler_.on_stream_deleted(id, {});
    }

    /// `deleteStream(name)`, as GStreamer's rtmp2sink sends it: the stream publishing `name`.
    void delete_named(std::string_view name) {
        if (net_stream* s = find_published(name)) delete_stream(s->id());
    }

    // ---- media in --------------------------------------------------------------------------------

    void media(const message_header& header, media_type type, std::vector<std::byte> payload) {
        net_stream* s = find(header.stream_id);
        if (!s || !s->publishing()) return drop(error::media_not_published, header.stream_id, unpublished_);
        const bool complete = type == media_type::audio ? flv::is_complete_audio_tag(payload) : flv::is_complete_video_tag(payload);
        if (!complete) return drop(error::media_malformed, header.stream_id, malformed_);
        s->media_arrived(session_.now_);
        media_in m{s->id(), type, header.timestamp, std::move(payload)};
        session_.handler_.on_media(m);
    }

    void data(const message_header& header, data_message d) {
        net_stream* s = find(header.stream_id);
        if (!s || !s->publishing()) return drop(error::media_not_published, header.stream_id, unpublished_);
        // Publishers send `@setDataFrame onMetaData {...}`; players get `onMetaData {...}`.
        if (d.handler == "@setDataFrame" && !d.values.empty() && d.values[0].is_string()) {
            d.handler = std::string(d.values[0].as_string());
            d.values.erase(d.values.begin());
        }
        s->media_arrived(session_.now_);
        media_in m{s->id(), d.handler == "onMetaData" ? media_type::metadata : media_type::data, header.timestamp, encode_payload(d)};
        session_.handler_.on_media(m);
    }

    // ---- media out and failures ------------------------------------------------------------------

    bool send_frame(std::uint32_t stream_id, const shared_frame& f) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing() || s->paused() || session_.closing_) return false;
        return s->out().write(f, [this](const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
                   session_.output_.write_shared(h, std::move(payload));
               }) != player::outcome::dropped &&
               !s->out().refused();
    }

    void end_refused() {
        for (auto& s : streams_)
            if (s.playing() && s.out().refused()) {
                session_.handler_.on_refused(make_error_code(error::codec_not_declared), s.id());
                stop(s, false);
            }
    }

    void fail(std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing()) return;
        stop(*s, false);
        session_.send(s->failed_messages());
    }

    // ---- time and the end ------------------------------------------------------------------------

    /// Play durations (RTMP 1.0 §7.2.2.1) and the publish timeout.
    void on_time(time_point now) {
        for (auto& s : streams_) {
            if (session_.closing_) break;
            if (s.playing() && s.stop_at() && *s.stop_at() <= now) stop(s, true);
            if (s.publishing() && s.last_media() + session_.options_.timeouts.publish <= now)
                session_.close(error::publish_timeout, false);
        }
    }

    std::optional<time_point> next_deadline() const {
        std::optional<time_point> next;
        auto consider = [&next](const std::optional<time_point>& t) {
            if (t && (!next || *t < *next)) next = t;
        };
        for (const auto& s : streams_) {
            if (s.playing()) consider(s.stop_at());
            if (s.publishing()) consider(s.last_media() + session_.options_.timeouts.publish);
        }
        return next;
    }

    /// Every stream ends: its publish, its play, then the stream (the owner hears of each).
    void finish(std::error_code reason) {
        auto streams = std::move(streams_);
        streams_.clear();
        for (auto& s : streams) {
            if (s.publishing()) {
                s.stop_publish(false);
                session_.handler_.on_unpublish(s.id());
            }
            if (s.playing()) {
                s.stop();
                play_request stop_request{s.id(), false, s.name(), 0, -1, {}};
                session_.handler_.on_play(stop_request);
            }
            session_.handler_.on_stream_deleted(s.id(), reason);
        }
    }

    // ---- state -----------------------------------------------------------------------------------

    bool playing(std::uint32_t stream_id) const noexcept {
        const net_stream* s = find(stream_id);
        return s && s->playing();
    }
    bool paused(std::uint32_t stream_id) const noexcept {
        const net_stream* s = find(stream_id);
        return s && s->paused();
    }
    std::size_t playing_count() const noexcept { return count([](const net_stream& s) { return s.playing(); }); }
    std::size_t publishing_count() const noexcept { return count([](const net_stream& s) { return s.publishing(); }); }
    std::uint64_t media_dropped() const noexcept { return unpublished_ + malformed_; }

private:
    net_stream* find(std::uint32_t id) noexcept {
        for (auto& s : streams_)
            if (s.id() == id) return &s;
        return nullptr;
    }
    const net_stream* find(std::uint32_t id) const noexcept {
        for (const auto& s : streams_)
            if (s.id() == id) return &s;
        return nullptr;
    }
    net_stream* find_published(std::string_view name) noexcept {
        for (auto& s : streams_)
            if (s.publishing() && s.publish_name() == name) return &s;
        return nullptr;
    }
    template <class P>
    std::size_t count(P p) const noexcept {
        return static_cast<std::size_t>(std::count_if(streams_.begin(), streams_.end(), p));
    }

    // Stops playing: the owner hears of it; with `notify` the player gets Play.Stop and StreamEOF.
    void stop(net_stream& s, bool notify) {
        if (!s.playing()) return;
        s.stop();
        play_request request{s.id(), false, s.name(), 0, -1, {}};
        session_.handler_.on_play(request);
        if (notify && !session_.closing_) session_.send(s.stopped_messages(std::move(request.video_data)));
    }

    // The publish ends: the owner hears of it; with `notify` the publisher gets Unpublish.Success.
    void unpublish(net_stream& s, bool notify) {
        if (!s.publishing()) return;
        session_.handler_.on_unpublish(s.id());
        session_.send(s.stop_publish(notify && !session_.closing_));
    }

    // The first drop of each kind is told to the owner; every one is counted.
    void drop(std::error_code why, std::uint32_t stream_id, std::uint64_t& count) {
        if (count++ == 0) session_.handler_.on_refused(why, stream_id);
    }

    Session& session_;
    std::vector<net_stream> streams_;
    std::uint32_t next_id_ = 1;
    std::uint64_t unpublished_ = 0;  // media and data dropped: the stream does not publish
    std::uint64_t malformed_ = 0;    // media dropped: too short for its tag header
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/server_streams.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The rules of the server side of an RTMP connection, with no I/O, no threads and no clock:
 * every call that depends on time takes `now`.
 *
 * Bytes from the client go to `put`; what to send collects in `output()`; `next_deadline()` says
 * when `on_time` must be called next (handshake, connect and idle timeouts, pings, the answers
 * to the server's own calls, play durations, publish timeouts). The owner (a `Handler`, see
 * `server_session_handler`) is told of connect, createStream, play, pause, publish, media,
 * deleteStream and remote calls, and answers; the session sends what players and publishers
 * need in the order they need it (`../shared/reference/players.md`): window size, peer
 * bandwidth and chunk size before the connect `_result`; StreamBegin, Play.Reset, Play.Start
 * and `|RtmpSampleAccess` before media; NetStream.Publish.Start. The NetStream half lives in
 * `server_streams`.
 *
 * The session ends with `close` (by the owner, a timeout, a protocol error or a limit); the
 * owner then stops I/O and calls `finish`, which ends the streams and the pending calls.
 *
 * Errors: malformed input, limits and timeouts close the session; `reason()` says why.
 * `Handler` must satisfy `server_session_handler` (checked when the session is constructed).
 */
template <class Handler>
class server_session : public session_base<server_handshake> {
public:
    server_session(Handler& handler, const server_options& options, time_point now, std::uint64_t random_seed)
        : session_base(server_handshake(random_seed), options.chunks),
          handler_(handler),
          options_(options),
          started_(now),
          deadline_handshake_(now + options.timeouts.handshake) {
        // Checked here, not on the class: the owner that holds the session is complete only now.
        static_assert(server_session_handler<Handler>, "server_session: Handler lacks a callback (see server_session_handler)");
    }

    server_session(const server_session&) = delete;
    server_session& operator=(const server_session&) = delete;

    // ---- input -------------------------------------------------------------------------------

    /// Consumes client bytes: every complete message is handled. Returns the bytes consumed; the
    /// rest (an incomplete chunk header) must be passed again with more. Consumes nothing once
    /// the session is closing.
    std::size_t put(std::span<const std::byte> in, time_point now) {
        if (closing_) return 0;
        now_ = now;
        std::size_t used = 0;
        if (phase_ == phase::handshake) {
            used = put_handshake(in);
            if (closing_ || !handshake_done()) return used;
            phase_ = phase::handshaken;
            deadline_handshake_.reset();
            deadline_connect_ = now + options_.timeouts.connect;
        }
        used += put_chunks(in.subspan(used), [this](message&& m) { dispatch(std::move(m)); });
        if (deadline_idle_) deadline_idle_ = now + options_.timeouts.idle;
        acknowledge();
        return used;
    }

    /// The time passed: fires the timeouts, pings and play durations due by `now`.
    void on_time(time_point now) {
        if (closing_) return;
        now_ = now;
        if (deadline_handshake_ && *deadline_handshake_ <= now) return close(error::handshake_timeout, false);
        if (deadline_connect_ && *deadline_connect_ <= now) return close(error::connect_timeout, false);
        if (deadline_idle_ && *deadline_idle_ <= now) {
            if (playing_streams() == 0)
                return close(error::idle_timeout, false);
            deadline_idle_ = now + options_.timeouts.idle;
        }
        if (next_ping_ && *next_ping_ <= now) {
            ping_sent_ = now;
            ping_stamp_ = static_cast<std::uint32_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()) | 1u;
            send(to_message(user_control::ping_request(ping_stamp_)));
            next_ping_ = now + options_.timeouts.ping;
        }
        while (!closing_) {
            const auto txn = calls_.take_expired(now);
            if (!txn) break;
            handler_.on_call_answered(*txn, call_result{error::call_timeout, false, {}, {}});
        }
        streams_.on_time(now);
    }

    /// When `on_time` must be called next, if ever.
    std::optional<time_point> next_deadline() const {
        if (closing_) return std::nullopt;
        std::optional<time_point> next;
        auto consider = [&next](const std::optional<time_point>& t) {
            if (t && (!next || *t < *next)) next = t;
        };
        consider(deadline_handshake_);
        consider(deadline_connect_);
        consider(deadline_idle_);
        consider(next_ping_);
        consider(calls_.next_deadline());
        consider(streams_.next_deadline());
        return next;
    }

    // ---- answers and requests from the owner ---------------------------------------------------

    /**
     * Answers remote call `txn` (nothing is sent for transaction id 0). `ok`: `_result` with
     * `response`. Otherwise an `_error` (or, with `call_errors_as_result`, a `_result`) carrying
     * `response` when it is an object with properties and the handler refused, else a
     * NetConnection.Call.Failed info object saying what happened.
     */
    void answer_call(double txn, std::string_view name, call_outcome outcome, amf0::value response) {
        if (txn == 0 || closing_) return;
        if (outcome == call_outcome::ok) {
            send(make_result(txn, amf0::value::null(), {std::move(response)}));
            return;
        }
        if (outcome != call_outcome::refused || !response.has_properties()) response = call_failure_info(outcome, name);
        send_call_failure(txn, std::move(response));
    }

    /**
     * Calls procedure `name` on the client; its answer (or `error::call_timeout` at `deadline`)
     * comes to `on_call_answered` with the returned transaction id.
     * Errors: `error::shutdown` before connect or once closing, `error::too_many_pending_calls`.
     */
    double call(std::string name, std::vector<amf0::value> args, time_point deadline, std::error_code& ec) {
        ec.clear();
        if (closing_ || phase_ != phase::connected) {
            ec = error::shutdown;
            return 0;
        }
        if (calls_.size() >= options_.max_pending_calls) {
            ec = error::too_many_pending_calls;
            return 0;
        }
        const double txn = calls_.add(deadline);
        send(command{std::move(name), txn, amf0::value::null(), std::move(args)});
        return txn;
    }

    /// Sends `name(args...)` to the client with transaction id 0 (no answer expected).
    void notify(std::string name, std::vector<amf0::value> args) {
        send(command{std::move(name), 0, amf0::value::null(), std::move(args)});
    }

    /// Sends one frame on playing stream `stream_id`. False when it was not sent: the stream does
    /// not play (or is paused), or waits for a key frame, or its play failed on a codec the client
    /// did not declare (then call `end_refused_plays` once the frames are sent).
    bool send_frame(std::uint32_t stream_id, const shared_frame& f) { return streams_.send_frame(stream_id, f); }

    /**
     * Asks the client to connect again, to `tc_url` when not empty (Enhanced RTMP's
     * NetConnection.Connect.ReconnectRequest), if it declared that it honours the request
     * (`caps_ex::reconnect` in connect). False, and nothing sent, otherwise.
     */
    bool request_reconnect(std::string_view tc_url, std::string_view description) {
        if (phase_ != phase::connected || closing_ || !client_caps_ || (client_caps_->caps_ex & enhanced::caps_ex::reconnect) == 0)
            return false;
        send(to_message(make_reconnect_request(tc_url, description), 0, chunk_stream::command));
        return true;
    }

    /// Plays that failed on a codec the client did not declare (NetStream.Play.Failed is sent)
    /// stop: the owner hears `on_play` with is_start false.
    void end_refused_plays() { streams_.end_refused(); }

    /// The stream's producer failed: it stops (the owner hears `on_play` with is_start false),
    /// and the player gets NetStream.Failed and StreamEOF.
    void fail_stream(std::uint32_t stream_id) { streams_.fail(stream_id); }

    /**
     * The transport is done (after `close`, or the peer went away): pending calls get
     * `error::shutdown`, playing streams stop and every stream is deleted (the owner hears of
     * each). Call once.
     */
    void finish(std::error_code why) {
        close(why, false);
        for (const double txn : calls_.take_all()) handler_.on_call_answered(txn, call_result{error::shutdown, false, {}, {}});
        streams_.finish(reason());
    }

    // ---- state ---------------------------------------------------------------------------------

    /// Whether `connect` has been accepted.
    bool connected() const noexcept { return phase_ == phase::connected; }
    bool playing(std::uint32_t stream_id) const noexcept { return streams_.playing(stream_id); }
    bool paused(std::uint32_t stream_id) const noexcept { return streams_.paused(stream_id); }
    /// Streams that play now.
    std::size_t playing_streams() const noexcept { return streams_.playing_count(); }
    /// The sequence number of the client's last acknowledgement.
    std::uint64_t acknowledged() const noexcept { return acknowledged_; }
    /// Media and data messages dropped because their stream does not publish, and because they
    /// were too short for their tag header.
    std::uint64_t media_dropped() const noexcept { return streams_.media_dropped(); }
    /// Streams that publish now.
    std::size_t publishing_streams() const noexcept { return streams_.publishing_count(); }
    /// From the last answered ping (0: none yet).
    std::chrono::microseconds round_trip() const noexcept { return round_trip_; }
    time_point started() const noexcept { return started_; }

private:
    friend class server_streams<server_session>;
    enum class phase { handshake, handshaken, connected };

    // ---- sending -------------------------------------------------------------------------------

    // Queues a message; beyond the queue limits the connection is closed (a client that does not
    // read while it keeps asking).
    void send(const message& m) {
        if (closing_) return;
        if (output_.pending_messages() >= options_.max_queued_messages ||
            output_.unwritten_bytes() + m.payload.size() > options_.max_queued_bytes) {
            close(error::queue_full, false);
            return;
        }
        output_.write(m);
    }

    void send(const command& c, std::uint32_t stream_id = 0) {
        send(to_message(c, stream_id, stream_id == 0 ? chunk_stream::command : chunk_stream::stream_command));
    }

    void send(const std::vector<message>& ms) {
        for (const auto& m : ms) send(m);
    }

    // A failed call: `_error`, or `_result` carrying the error object for clients that cannot
    // read `_error` (python-librtmp waits for `_result` only).
    void send_call_failure(double txn, amf0::value info) {
        if (options_.call_errors_as_result) {
            send(make_result(txn, amf0::value::null(), {std::move(info)}));
        } else {
            send(make_error(txn, std::move(info)));
        }
    }

    // RTMP 1.0 §5.4.3: acknowledge once the client's window has passed since the last one.
    void acknowledge() {
        if (const auto ack = acknowledgement_due()) send(to_message(*ack));
    }

    // ---- receiving -----------------------------------------------------------------------------

    void dispatch(message m) {
        const message_header header = m.header;
        std::error_code ec;
        auto decoded = decode_message(std::move(m), ec, options_.amf);
        if (ec) return close(ec, false);
        if (auto* c = std::get_if<command>(&decoded)) {
            on_command(std::move(*c), header);
        } else if (auto* uc = std::get_if<user_control>(&decoded)) {
            if (uc->event == user_control_event::ping_request) send(to_message(user_control::ping_response(uc->value)));
            if (uc->event == user_control_event::ping_response && ping_stamp_ != 0 && uc->value == ping_stamp_)
                round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(now_ - ping_sent_);
        } else if (auto* w = std::get_if<window_ack_size>(&decoded)) {
            peer_window_ = w->window;
        } else if (auto* a = std::get_if<acknowledgement>(&decoded)) {
            acknowledged_ = a->sequence_number;
        } else if (auto* media = std::get_if<media_message>(&decoded)) {
            streams_.media(header, media->type == message_type::audio ? media_type::audio : media_type::video,
                           std::move(media->payload));
        } else if (auto* data = std::get_if<data_message>(&decoded)) {
            streams_.data(header, std::move(*data));
        } else if (auto* aggregate = std::get_if<aggregate_message>(&decoded)) {
            for (auto& part : aggregate->parts) {  // RTMP 1.0 §7.1.6: the parts are messages of their own
                if (closing_) break;
                if (part.header.type != message_type::aggregate) dispatch(std::move(part));
            }
        }
        // Set Chunk Size and Abort were applied by the reader.
    }

    void on_command(command c, const message_header& header) {
        std::error_code ec;
        const double txn = c.transaction_id;
        auto typed = parse_command(std::move(c), ec);
        if (ec) return close(ec, false);
        if (auto* connect = std::get_if<connect_command>(&typed)) return on_connect(*connect);
        if (phase_ != phase::connected) return close(error::unexpected_command, false);  // nothing before connect
        if (auto* call = std::get_if<call_command>(&typed)) return on_call_command(call->cmd);
        if (auto* cs = std::get_if<create_stream_command>(&typed)) return streams_.create(*cs);
        if (auto* play = std::get_if<play_command>(&typed)) return streams_.play(*play, header.stream_id);
        if (auto* pause = std::get_if<pause_command>(&typed)) return streams_.pause(*pause, header.stream_id);
        if (auto* pub = std::get_if<publish_command>(&typed)) return streams_.publish(*pub, header.stream_id);
        if (auto* del = std::get_if<delete_stream_command>(&typed)) {
            if (del->stream_name.empty()) return streams_.delete_stream(static_cast<std::uint32_t>(del->stream_id));
            return streams_.delete_named(del->stream_name);
        }
        if (auto* fc = std::get_if<fc_publish_command>(&typed)) {
            if (txn != 0) send(make_result(txn));
            return send(command{"onFCPublish", 0, amf0::value::null(),
                                {status_info("status", "NetStream.Publish.Start", fc->stream_name)}});
        }
        if (auto* fc = std::get_if<fc_unpublish_command>(&typed)) {
            if (txn != 0) send(make_result(txn));
            streams_.unpublish_named(fc->stream_name);
            return send(command{"onFCUnpublish", 0, amf0::value::null(),
                                {status_info("status", "NetStream.Unpublish.Success", fc->stream_name)}});
        }
        if (auto* ra = std::get_if<receive_audio_command>(&typed)) return streams_.receive_audio(header.stream_id, ra->enable);
        if (auto* rv = std::get_if<receive_video_command>(&typed)) return streams_.receive_video(header.stream_id, rv->enable);
        if (std::holds_alternative<close_stream_command>(typed)) return streams_.delete_stream(header.stream_id);
        if (txn == 0) return;
        if (std::holds_alternative<get_stream_length_command>(typed)) {
            // A live stream has no length; an _error here would end an FFmpeg player.
            return send(make_result(txn, amf0::value::null(), {amf0::value(0)}));
        }
        if (std::holds_alternative<fc_subscribe_command>(typed) || std::holds_alternative<release_stream_command>(typed))
            return send(make_result(txn));
        // seek, play2: not served by a live server.
        send(make_error(txn, status_info("error", "NetConnection.Call.Failed", "not supported by this server")));
    }

    void on_connect(const connect_command& cmd) {
        if (phase_ != phase::handshaken) return close(error::unexpected_command, false);
        const bool accepted = handler_.on_connect(cmd);
        if (closing_) return;
        if (!accepted) {
            send(make_error(cmd.transaction_id,
                            status_info("error", "NetConnection.Connect.Rejected", "Connection rejected.")));
            return close(error::rejected_by_handler, true);
        }
        phase_ = phase::connected;
        client_caps_ = std::make_shared<const enhanced::capabilities>(cmd.enhanced);
        deadline_connect_.reset();
        deadline_idle_ = now_ + options_.timeouts.idle;
        if (options_.timeouts.ping.count() > 0) next_ping_ = now_ + options_.timeouts.ping;
        // The order players expect (players.md): window, peer bandwidth, chunk size, result.
        send(to_message(window_ack_size{options_.window_ack_size}));
        send(to_message(set_peer_bandwidth{options_.peer_bandwidth, bandwidth_limit::dynamic}));
        send(to_message(set_chunk_size{options_.chunk_size}));
        send(to_message(user_control::stream_begin(0)));
        send(make_connect_result(cmd.transaction_id, cmd.object_encoding, cmd.enhanced));
    }

    void on_call_command(command& c) {
        const double txn = c.transaction_id;
        if (c.name == "_result" || c.name == "_error") {  // an answer to one of our calls
            if (!calls_.take(txn)) return;  // late or unknown: ignored
            handler_.on_call_answered(txn, call_result{{}, c.name == "_result", std::move(c.object), std::move(c.arguments)});
            return;
        }
        if (c.name == "_checkbw") {
            if (txn != 0) send(make_result(txn));
            return;
        }
        handler_.on_call(c);
    }

    Handler& handler_;
    const server_options& options_;
    const time_point started_;
    time_point now_ = started_;
    phase phase_ = phase::handshake;

    std::optional<time_point> deadline_handshake_;
    std::optional<time_point> deadline_connect_;
    std::optional<time_point> deadline_idle_;
    std::optional<time_point> next_ping_;
    time_point ping_sent_{};
    std::uint32_t ping_stamp_ = 0;
    std::chrono::microseconds round_trip_{0};

    server_streams<server_session> streams_{*this};
    pending_calls calls_;  // the server's calls waiting for an answer
    std::shared_ptr<const enhanced::capabilities> client_caps_;  // what the client declared in connect
    std::uint64_t acknowledged_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/server_session.hpp ----
// ---- include/rtmpx/protocol/client_session.hpp ----
// The client side of one RTMP connection, sans I/O: handshake, connect, createStream, play, publish.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Settings of a client session.
struct client_options {
    chunk_limits chunks;                    ///< what the server may send
    amf_limits amf;
    std::uint32_t chunk_size = 4096;        ///< announced right after the handshake (128: none sent)
    std::uint32_t window_ack_size = 2'500'000;  ///< sent when connect succeeds, as FFmpeg does (0: none)
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds connect_timeout{10'000};  ///< from `connect` to its answer
    std::string flash_ver = "LNX 9,0,124,2";  ///< what FFmpeg sends as a player
    /// What `connect` declares about Enhanced RTMP (fourCcList, the FourCC info maps, capsEx):
    /// by default a forwarder's "any codec"; `{}` declares nothing, as a legacy client.
    enhanced::capabilities enhanced = enhanced::forwarder_capabilities();
};

/**
 * What a client session tells its owner (all on the owner's thread, during `put`):
 * - `void on_message(const message_header&, decoded_message&)`: required; every message from the
 *   server, after the session has applied its own rules (acknowledgements, pings, chunk size);
 *   it may be moved from.
 * - optional: `on_connected(const command& result)`, `on_connect_failed(const command& error)`,
 *   `on_stream_created(double txn, std::uint32_t stream_id)`,
 *   `on_status(std::uint32_t stream_id, const amf0::value& info)` (onStatus on a stream).
 */
template <class H>
concept client_session_handler = requires(H& h, const message_header& mh, decoded_message& d) { h.on_message(mh, d); };

/**
 * The rules of the client side of an RTMP connection, without I/O, threads or a clock: the
 * plain handshake (C0 C1 at once, C2 after S1), then commands as the owner asks (connect,
 * createStream, play, publish, calls), acknowledgements of the server's window (RTMP 1.0
 * §5.4.3) and answers to its pings. Requests made before the handshake ends wait for it.
 *
 * Errors: malformed input, a refused or unanswered connect, the handshake and connect timeouts
 * close the session; `reason()` says why.
 */
template <class Handler>
class client_session : public session_base<client_handshake> {
public:
    client_session(Handler& handler, client_options options, time_point now, std::uint64_t random_seed)
        : session_base(client_handshake(random_seed), options.chunks),
          handler_(handler),
          options_(std::move(options)),
          deadline_handshake_(now + options_.handshake_timeout) {
        static_assert(client_session_handler<Handler>, "client_session: Handler needs on_message(message_header const&, decoded_message&)");
    }

    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    /// Consumes server bytes; returns how many (an incomplete chunk header stays with the caller).
    /// (`now` is taken for symmetry with the server session; no client rule depends on it yet.)
    std::size_t put(std::span<const std::byte> in, time_point /*now*/) {
        if (closing_) return 0;
        std::size_t used = 0;
        if (!handshake_done()) {
            if (server_version_ == 0 && !in.empty()) server_version_ = detail::u8(in[0]);  // S0
            used = put_handshake(in);  // S0 S1 S2; C2 goes out
            if (closing_ || !handshake_done()) return used;
            deadline_handshake_.reset();
            if (options_.chunk_size != 128) send(to_message(set_chunk_size{options_.chunk_size}));
            auto waiting = std::move(waiting_);
            waiting_.clear();
            for (const auto& m : waiting) send(m);
        }
        used += put_chunks(in.subspan(used), [this](message&& m) { dispatch(std::move(m)); });
        // RTMP 1.0 §5.4.3: acknowledge once the server's window has passed since the last one.
        if (const auto ack = acknowledgement_due()) send(to_message(*ack));
        return used;
    }

    /// The time passed: the handshake and connect timeouts.
    void on_time(time_point now) {
        if (closing_) return;
        if (deadline_handshake_ && *deadline_handshake_ <= now) return close(error::handshake_timeout, false);
        if (deadline_connect_ && *deadline_connect_ <= now) return close(error::connect_timeout, false);
    }

    std::optional<time_point> next_deadline() const {
        if (closing_) return std::nullopt;
        if (deadline_handshake_) return deadline_handshake_;
        return deadline_connect_;
    }

    // ---- requests ------------------------------------------------------------------------------

    /**
     * Sends `connect` to application `app` with the command object players send (FFmpeg's: app,
     * flashVer, tcUrl, fpad, capabilities, audio/video codecs, videoFunction, objectEncoding 0),
     * then the Enhanced RTMP declaration of `client_options::enhanced`, plus `extra` properties
     * (replacing those of the same name) and user `arguments`. Returns the transaction id. The
     * answer must come within `connect_timeout`.
     */
    double connect(std::string app, std::string tc_url, time_point now, amf0::properties extra = {},
                   std::vector<amf0::value> arguments = {}) {
        amf0::properties props = {{"app", amf0::value(std::move(app))},
                                  {"flashVer", amf0::value(options_.flash_ver)},
                                  {"tcUrl", amf0::value(std::move(tc_url))},
                                  {"fpad", amf0::value(false)},
                                  {"capabilities", amf0::value(15)},
                                  {"audioCodecs", amf0::value(4071)},
                                  {"videoCodecs", amf0::value(252)},
                                  {"videoFunction", amf0::value(1)},
                                  {"objectEncoding", amf0::value(0)}};
        for (auto& e : enhanced::capabilities_properties(options_.enhanced)) props.push_back(std::move(e));
        for (auto& e : extra) {
            auto it = std::find_if(props.begin(), props.end(), [&](const auto& p) { return p.first == e.first; });
            if (it != props.end()) {
                it->second = std::move(e.second);
            } else {
                props.push_back(std::move(e));
            }
        }
        connect_txn_ = next_txn_++;
        deadline_connect_ = now + options_.connect_timeout;
        send(command{"connect", connect_txn_, amf0::value::object(std::move(props)), std::move(arguments)});
        return connect_txn_;
    }

    /// Sends `createStream`; `on_stream_created` gets the id. Returns the transaction id.
    double create_stream() {
        const double txn = next_txn_++;
        create_stream_txns_.insert(txn);
        send(command{"createStream", txn, amf0::value::null(), {}});
        return txn;
    }

    /// Calls `name(args...)` on the server; returns the transaction id its answer carries.
    double call(std::string name, std::vector<amf0::value> args) {
        const double txn = next_txn_++;
        send(command{std::move(name), txn, amf0::value::null(), std::move(args)});
        return txn;
    }

    /// Sends `play(name, start, duration)` on stream `stream_id`, then Set Buffer Length as
    /// FFmpeg does (`buffer_ms`, 0: none). FFmpeg's default start is -2000 (live or recorded).
    void play(std::uint32_t stream_id, std::string_view name, double start = -2000, double duration = -1,
              std::uint32_t buffer_ms = 3000) {
        std::vector<amf0::value> args{amf0::value(name), amf0::value(start)};
        if (duration >= 0) args.emplace_back(duration);
        send(command{"play", next_txn_++, amf0::value::null(), std::move(args)}, stream_id);
        if (buffer_ms > 0) send(to_message(user_control::set_buffer_length(stream_id, buffer_ms)));
    }

    /// Sends `publish(name, type)` on stream `stream_id`.
    void publish(std::uint32_t stream_id, std::string_view name, std::string_view type = "live") {
        send(command{"publish", next_txn_++, amf0::value::null(), {amf0::value(name), amf0::value(type)}}, stream_id);
    }

    /// Sends `deleteStream(stream_id)`.
    void delete_stream(std::uint32_t stream_id) {
        send(command{"deleteStream", next_txn_++, amf0::value::null(), {amf0::value(stream_id)}});
    }

    /// Sends a command on stream `stream_id` (0: the NetConnection).
    void send(const command& c, std::uint32_t stream_id = 0) {
        send(to_message(c, stream_id, stream_id == 0 ? chunk_stream::command : chunk_stream::client_stream_command));
    }

    /// Sends any message (copied), after the handshake.
    void send(const message& m) {
        if (closing_) return;
        if (!handshake_done()) {
            waiting_.push_back(m);
            return;
        }
        output_.write(m);
    }

    /// Sends a message whose payload is shared (media); it is dropped before the handshake ends.
    void send_shared(const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
        if (closing_ || !handshake_done()) return;
        output_.write_shared(h, std::move(payload));
    }

    // ---- state ---------------------------------------------------------------------------------

    /// The version byte of the server's S0.
    std::uint8_t server_version() const noexcept { return server_version_; }
    /// Whether `connect` got its `_result`.
    bool connected() const noexcept { return connected_; }

private:
    void dispatch(message m) {
        const message_header header = m.header;
        std::error_code ec;
        auto decoded = decode_message(std::move(m), ec, options_.amf);
        if (ec) return close(ec, false);
        if (auto* uc = std::get_if<user_control>(&decoded)) {
            if (uc->event == user_control_event::ping_request) send(to_message(user_control::ping_response(uc->value)));
        } else if (auto* w = std::get_if<window_ack_size>(&decoded)) {
            peer_window_ = w->window;
        } else if (auto* c = std::get_if<command>(&decoded)) {
            on_command(*c, header.stream_id);
        }
        handler_.on_message(header, decoded);
    }

    void on_command(const command& c, std::uint32_t stream_id) {
        const bool result = c.name == "_result";
        if ((result || c.name == "_error") && c.transaction_id == connect_txn_ && connect_txn_ != 0) {
            connect_txn_ = 0;
            deadline_connect_.reset();
            if (result) {
                connected_ = true;
                if (options_.window_ack_size > 0) send(to_message(window_ack_size{options_.window_ack_size}));
                if constexpr (requires { handler_.on_connected(c); }) handler_.on_connected(c);
            } else {
                if constexpr (requires { handler_.on_connect_failed(c); }) handler_.on_connect_failed(c);
                close(error::rejected_by_handler, false);
            }
            return;
        }
        if (result && create_stream_txns_.erase(c.transaction_id) > 0) {
            const auto id = c.arguments.empty() ? 0 : c.arguments[0].as_number();
            if constexpr (requires { handler_.on_stream_created(c.transaction_id, std::uint32_t{}); })
                handler_.on_stream_created(c.transaction_id, static_cast<std::uint32_t>(id));
            return;
        }
        if (c.name == "onStatus" && !c.arguments.empty()) {
            if constexpr (requires { handler_.on_status(stream_id, c.arguments[0]); })
                handler_.on_status(stream_id, c.arguments[0]);
        }
    }

    Handler& handler_;
    client_options options_;
    std::vector<message> waiting_;  // sent before the handshake ended
    bool connected_ = false;
    std::uint8_t server_version_ = 0;
    std::optional<time_point> deadline_handshake_;
    std::optional<time_point> deadline_connect_;
    double next_txn_ = 1;
    double connect_txn_ = 0;
    std::set<double> create_stream_txns_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/client_session.hpp ----
// ---- include/rtmpx/handlers.hpp ----
// The events handlers receive and one concept per handler, so that handlers are plain lambdas.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <asio/awaitable.hpp>


RTMPX_NAMESPACE_BEGIN

class connection;
class stream;

/// The client's `connect` command: app, tcUrl, flashVer, ... typed, with the whole object.
using protocol::connect_command;
/// An info object {level, code, description}, for the responses of call handlers.
using protocol::status_info;
/// The client's answer to a call the server made (`connection::call`).
using protocol::call_result;

/// What a connect handler is told: a new `connect` (is_create) or the end of its connection.
struct connect_event {
    bool is_create = true;
    const connect_command& command;  ///< the client's connect command (also on close)
    std::error_code reason;          ///< on close: why the connection ended (empty: the client closed it)
};

/// What a stream handler is told: `createStream` (is_create) or the stream's removal.
struct stream_event {
    bool is_create = true;
    const amf0::value& command_object;  ///< the createStream command object (null on removal)
    std::error_code reason;             ///< on removal: why (empty for deleteStream/closeStream)
};

/// What a play handler is told: `play` (is_start) or stop. It may fill `video_data` with
/// initialisation (on start) or closing (on stop) video data to send.
struct play_event {
    bool is_start = true;
    std::string_view stream_name;
    double start = -2;            ///< the play command's start argument
    encoded_frame video_data;     ///< out: sent as is when non-empty
};

/// What a pause handler is told: pause (is_pause) or resume.
struct pause_event {
    bool is_pause = true;
    double milliseconds = 0;  ///< the stream position the client paused or resumed at
};

/// How a refused publish is answered: the onStatus code the publisher gets.
enum class publish_refusal {
    bad_name,  ///< NetStream.Publish.BadName: the name is in use or not acceptable
    denied,    ///< NetStream.Publish.Denied: this client may not publish (a bad token, ...)
    rejected,  ///< NetStream.Publish.Rejected
};

/**
 * What a publish handler is told: `publish` (is_start) or the end of the publish (FCUnpublish,
 * deleteStream, closeStream, the connection's end, a takeover). A refusal says which status the
 * publisher gets (`refusal`, with `description`).
 */
struct publish_event {
    bool is_start = true;
    std::string_view stream_name;              ///< the name before any '?': "cam" of "cam?token=x"
    std::string_view query;                    ///< what follows the '?' (empty without one)
    std::string_view type;                     ///< "live", "record" or "append"
    const connect_command& connect;            ///< the connection's connect (app, tcUrl with its query)
    publish_refusal refusal = publish_refusal::bad_name;  ///< out, on refusal
    std::string description;                   ///< out, on refusal (empty: one is made up)
};

/// What a published message is: audio, video, metadata (`onMetaData`) or other data.
using protocol::media_type;

/// What a media handler is told: one message of a published stream, in the order it came.
struct media_event {
    media_type type = media_type::video;
    std::uint32_t timestamp = 0;           ///< ms, as the publisher sent it
    std::span<const std::byte> payload;    ///< the message body; valid during the call
};

/// What a call handler is told: a remote procedure call from the client.
struct call_event {
    std::string_view procedure;                 ///< the command name
    double transaction_id = 0;                  ///< 0: the client expects no reply
    const amf0::value& command_object;          ///< usually null
    const std::vector<amf0::value>& arguments;  ///< the user arguments
};

namespace detail {
template <class R>
concept boolean_result = std::convertible_to<R, bool>;
template <class R>
concept awaitable_bool = std::same_as<R, asio::awaitable<bool>>;
} // namespace detail

/**
 * `bool (connection&, connect_event const&)`: on `connect`, true claims the connection (the
 * handler then registers stream and call handlers on it); false lets the next handler decide.
 * Called again with `is_create == false` exactly once when a claimed connection ends; the return
 * value is then ignored. Thread: the connection's thread. Lifetime: both arguments are valid only
 * during the call.
 */
template <class F>
concept connect_handler = std::invocable<F&, connection&, const connect_event&> &&
                          detail::boolean_result<std::invoke_result_t<F&, connection&, const connect_event&>>;

/**
 * `bool (connection&, call_event const&, amf0::value& response)`, or the same returning
 * `asio::awaitable<bool>` (a coroutine, e.g. one that calls the client back): handles a remote
 * call. True sends `_result` with `response`; false sends `_error` (with `response` as the info
 * object when it has properties, else a NetConnection.Call.Failed one). A handler that throws
 * gets the client an `_error`; the connection lives on. Thread: the connection's thread; a
 * coroutine handler runs beside the reader, so the connection goes on reading while it waits.
 * Lifetime: the arguments stay valid until the handler returns or its coroutine completes.
 */
template <class F>
concept call_handler =
    std::invocable<F&, connection&, const call_event&, amf0::value&> &&
    (detail::boolean_result<std::invoke_result_t<F&, connection&, const call_event&, amf0::value&>> ||
     detail::awaitable_bool<std::invoke_result_t<F&, connection&, const call_event&, amf0::value&>>);

/**
 * `bool (stream&, stream_event const&)`: on `createStream`, true allows the stream (the handler
 * registers render/frame/play/pause handlers and picks a codec); false refuses it. Called with
 * `is_create == false` when the stream is deleted or its connection ends. Thread: the
 * connection's thread.
 */
template <class F>
concept stream_handler = std::invocable<F&, stream&, const stream_event&> &&
                         detail::boolean_result<std::invoke_result_t<F&, stream&, const stream_event&>>;

/**
 * `bool (stream&, play_event&)`: true honours play (or stop); false refuses it. Optional: with
 * no play handler, play is allowed. Thread: the connection's thread.
 */
template <class F>
concept play_handler = std::invocable<F&, stream&, play_event&> &&
                       detail::boolean_result<std::invoke_result_t<F&, stream&, play_event&>>;

/**
 * `bool (stream&, publish_event&)`: on `publish`, true accepts it (the publisher gets
 * NetStream.Publish.Start; the handler may `publish_to` a broadcast); false refuses it with
 * `refusal`. Called with `is_start == false` when the publish ends; the return value is then
 * ignored. With no publish handler, publishing is refused (NetStream.Publish.Denied). Thread: the
 * connection's thread.
 */
template <class F>
concept publish_handler = std::invocable<F&, stream&, publish_event&> &&
                          detail::boolean_result<std::invoke_result_t<F&, stream&, publish_event&>>;

/**
 * `void (stream&, media_event const&)`: every audio, video and data message of an accepted
 * publish, in order, with the publisher's timestamps. Thread: the connection's thread; a slow
 * handler slows this publisher alone. Lifetime: the payload is valid during the call only.
 */
template <class F>
concept media_handler = std::invocable<F&, stream&, const media_event&>;

/// `bool (stream&, pause_event const&)`: true honours pause (or resume). Thread: the connection's.
template <class F>
concept pause_handler = std::invocable<F&, stream&, const pause_event&> &&
                        detail::boolean_result<std::invoke_result_t<F&, stream&, const pause_event&>>;

/**
 * `bool (Subject&)`, Subject a `stream` or a `broadcast`: called at the render rate while the
 * stream plays (a stream's: on the connection's thread; a broadcast's: on its own thread);
 * false (or an exception) stops the stream, or the broadcast, with an error status.
 */
template <class F, class Subject>
concept render_handler =
    std::invocable<F&, Subject&> && detail::boolean_result<std::invoke_result_t<F&, Subject&>>;

/**
 * `bool (Subject&, encoded_frame& out, bool outqueue_is_full)`, Subject a `stream` or a
 * `broadcast`: called on its own frame thread at the render rate while it plays; fills `out` with
 * one encoded frame (leave it empty to send nothing). When `outqueue_is_full` the client is not
 * keeping up: skip, or send something cheap. False (or an exception) stops it with an error
 * status. Thread: the frame thread, never the connection's; share state with the render handler
 * under your own lock.
 */
template <class F, class Subject>
concept frame_handler = std::invocable<F&, Subject&, encoded_frame&, bool> &&
                        detail::boolean_result<std::invoke_result_t<F&, Subject&, encoded_frame&, bool>>;

/**
 * `bool (Subject&, audio_buffer& pcm)`, Subject a `broadcast`: called each tick before the frame
 * handler with the sound due since the last call (`pcm.frames()` sample frames, silence until
 * filled; the count follows the clock, so it varies by a sample or two); fill
 * `pcm.samples` (interleaved 16-bit, `pcm.channels` per frame) without resizing it. False (or an
 * exception) stops the broadcast, as a frame handler's would. Thread: the broadcast's.
 */
template <class F, class Subject>
concept audio_handler = std::invocable<F&, Subject&, audio_buffer&> &&
                        detail::boolean_result<std::invoke_result_t<F&, Subject&, audio_buffer&>>;

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/handlers.hpp ----
// ---- include/rtmpx/broadcast.hpp ----
// broadcast: one producer of video and audio (rendered, pushed or published), shared by any number of playing streams.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// ---- include/rtmpx/driver/frame_source.hpp ----
// The one frame path: frames made once (pushed tags, or a producer's) into every subscriber's own queue.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

// ---- include/rtmpx/driver/fanout.hpp ----
// Waking many subscribers of a frame source: those whose wake writes to a socket are split among
// helper threads once one thread has enough of them.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

// ---- include/rtmpx/driver/subscriber.hpp ----
// One player's side of a frame source: its bounded queue, and the publisher's news that did not fit.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

// ---- include/rtmpx/driver/frame_queue.hpp ----
// A bounded lock-free single-producer/single-consumer queue for frames crossing threads.

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>


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
// ---- end of include/rtmpx/driver/frame_queue.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// One player's side of a frame source: its own bounded queue, filled by the source and emptied
/// by the player's connection.
struct subscriber {
    explicit subscriber(std::size_t frames) : queue(frames) {}

    frame_queue<protocol::shared_frame> queue;
    std::function<void()> wake;        ///< tells the connection that frames wait (through `notify`, from any thread)
    std::function<bool()> congested;   ///< the connection holds too many unsent bytes (any thread; may be empty)
    std::atomic<std::uint64_t>* dropped = nullptr;        ///< counters the source adds this player's drops to
    std::atomic<std::uint64_t>* dropped_total = nullptr;
    std::atomic<bool> paused{false};   ///< set by the connection: the player takes no frames now
    std::atomic<bool> failed{false};   ///< set by the source: its handler failed, no more frames come
    bool skip_until_key = true;        ///< source side: after a drop (or at the start), wait for a key frame
    std::atomic<bool> wake_queued{false};  ///< a fan-out helper holds a wake of it
    bool wake_writes = false;          ///< set before subscribing: `wake` may write to a socket (costly)

    /**
     * Consumer: hands every queued frame to `f(const protocol::shared_frame&)`, then the news of
     * the publisher that came after them and found the queue full. The media that follows such
     * news waits (is dropped, to the next key frame) until it has been taken here.
     */
    template <class F>
    void drain(F&& f) {
        auto frames = [&] {
            while (auto* item = queue.front()) {
                f(*item);
                queue.pop();
            }
        };
        frames();
        if (!has_news.load(std::memory_order_acquire)) return;
        frames();  // what was queued before the news
        std::vector<protocol::shared_frame> taken;
        {
            std::lock_guard lock(news_mutex);
            taken.swap(news);
            has_news.store(false, std::memory_order_release);
        }
        for (const auto& n : taken) f(n);
    }

    /// Source: calls `wake`, unless the subscriber was detached.
    void notify() {
        std::lock_guard lock(wake_mutex_);
        if (!detached_ && wake) wake();
    }

    /// Once it returns, `notify` calls `wake` no more (a wake in progress on another thread has
    /// ended; one in progress on this thread, which detaches from inside its wake, goes on).
    void detach() {
        std::lock_guard lock(wake_mutex_);
        detached_ = true;
    }

    /// Consumer: forgets what is queued (a paused player); news stays for later.
    void discard() {
        while (queue.front()) queue.pop();
    }

    /// Source: news for the consumer (at most a few are kept: a later one matters more).
    void post_news(protocol::shared_frame n) {
        std::lock_guard lock(news_mutex);
        if (news.size() >= 4) news.erase(news.begin());
        news.push_back(std::move(n));
        has_news.store(true, std::memory_order_release);
    }

    std::atomic<bool> has_news{false};  ///< news waits for the consumer: media waits behind it

private:
    std::recursive_mutex wake_mutex_;  // recursive: a wake may end its own subscription
    bool detached_ = false;
    std::mutex news_mutex;
    std::vector<protocol::shared_frame> news;
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/subscriber.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// Helper threads for a big fan-out: the cores but one, at most 3 (none on one core).
inline std::size_t default_fanout_threads() noexcept {
    const unsigned cores = std::thread::hardware_concurrency();
    return cores <= 1 ? 0 : std::min<std::size_t>(cores - 1, 3);
}

/**
 * A thread that wakes the subscribers handed to it. What it has not got to yet is kept once per subscriber
 * (a later wake of the same subscriber adds nothing), so it holds at most every subscriber.
 */
class fanout_helper {
public:
    fanout_helper() : thread_([this] { run(); }) {}
    fanout_helper(const fanout_helper&) = delete;
    fanout_helper& operator=(const fanout_helper&) = delete;
    ~fanout_helper() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

    void hand(std::span<const std::shared_ptr<subscriber>> subs) {
        {
            std::lock_guard lock(mutex_);
            for (const auto& sub : subs)
                if (!sub->wake_queued.exchange(true, std::memory_order_acq_rel)) pending_.push_back(sub);
        }
        cv_.notify_one();
    }

private:
    void run() {
        std::vector<std::shared_ptr<subscriber>> batch;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
                if (stop_) return;
                batch.swap(pending_);
            }
            for (const auto& sub : batch) {
                sub->wake_queued.store(false, std::memory_order_release);  // before: a frame queued meanwhile wakes again
                sub->notify();
            }
            batch.clear();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<subscriber>> pending_;
    bool stop_ = false;
    std::thread thread_;  // last: started once the rest is made
};

/**
 * Wakes a frame's subscribers. Wakes that only post or signal (`subscriber::wake_writes` false)
 * run on the calling thread; of those that write to a socket, up to `batch` too, and the rest
 * are split evenly among up to `threads` helpers, started the first time they are needed.
 *
 * Thread: `deliver` from any thread.
 */
class fanout {
public:
    using wake_list = std::vector<std::shared_ptr<subscriber>>;

    fanout(std::size_t batch, std::size_t threads) : batch_(std::max<std::size_t>(batch, 1)), threads_(threads) {}

    void deliver(const wake_list& all) {
        if (all.size() <= batch_ || threads_ == 0) {
            for (const auto& sub : all) sub->notify();
            return;
        }
        wake_list writers;
        for (const auto& sub : all) {
            if (sub->wake_writes) {
                writers.push_back(sub);
            } else {
                sub->notify();
            }
        }
        const std::size_t n = writers.size();
        const std::size_t parts = std::min(threads_ + 1, (n + batch_ - 1) / batch_);
        const std::size_t own = parts <= 1 ? n : (n + parts - 1) / parts;
        if (parts > 1) {
            std::lock_guard lock(mutex_);
            while (helpers_.size() < parts - 1) helpers_.push_back(std::make_unique<fanout_helper>());
            std::span<const std::shared_ptr<subscriber>> rest = std::span(writers).subspan(own);
            for (std::size_t i = 0; !rest.empty(); ++i) {
                const std::size_t take = std::min(own, rest.size());
                helpers_[i]->hand(rest.first(take));
                rest = rest.subspan(take);
            }
        }
        for (std::size_t i = 0; i < own; ++i) writers[i]->notify();
    }

private:
    const std::size_t batch_;
    const std::size_t threads_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<fanout_helper>> helpers_;
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/fanout.hpp ----
// ---- include/rtmpx/protocol/gop_cache.hpp ----
// The frames since the last key frame, within limits: what a player joining a stream starts from.

#include <cstddef>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// The frames since the last key frame, bounded by a frame count and a byte count. Not
/// synchronised: its owner serialises access.
class gop_cache {
public:
    gop_cache(std::size_t max_frames, std::size_t max_bytes) : max_frames_(max_frames), max_bytes_(max_bytes) {}

    /// Adds a frame: a key frame starts a new group; a frame with no key frame before it, or
    /// one beyond the limits, empties the cache until the next key frame. The latest info frame
    /// (Enhanced colorInfo) is remembered and opens each new group, at its key frame's timestamp,
    /// so that a joiner has it before the first picture.
    void add(const shared_frame& f) {
        if (f->info_frame) info_ = f;
        if (f->key_frame) {
            clear();
            if (info_) {
                auto info = std::make_shared<media_frame>(*info_);
                info->timestamp = f->timestamp;
                info->config = f->config;
                frames_.push_back(std::move(info));
                bytes_ += info_->tag.size();
            }
        }
        if (frames_.empty() && !f->key_frame) return;
        if (frames_.size() + 1 > max_frames_ || bytes_ + f->tag.size() > max_bytes_) {
            clear();
            return;
        }
        frames_.push_back(f);
        bytes_ += f->tag.size();
    }

    void clear() noexcept {
        frames_.clear();
        bytes_ = 0;
    }

    /// Forgets the group and the info frame too (a new publisher).
    void reset() noexcept {
        clear();
        info_.reset();
    }

    /// The group, key frame first or after the info frame (empty when there is none).
    const std::vector<shared_frame>& frames() const noexcept { return frames_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    std::size_t max_frames_;
    std::size_t max_bytes_;
    std::vector<shared_frame> frames_;
    std::size_t bytes_ = 0;
    shared_frame info_;  // the latest info frame
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/gop_cache.hpp ----
// ---- include/rtmpx/protocol/timeline.hpp ----
// One continuous timeline from a publisher's timestamps, however they jump or restart.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// When a producer's timestamps count as a jump rather than ordinary jitter.
struct timeline_limits {
    /// A message this far before the previous one is a jump back (audio and video interleave a
    /// few tens of milliseconds out of order; that is not a jump).
    std::chrono::milliseconds back{1000};
    /// A message this far after the previous one is a leap forward.
    std::chrono::milliseconds forward{5000};
};

/**
 * Maps a producer's timestamps (a publisher's, an application's pushed tags) onto one timeline
 * that never jumps: while they advance plausibly they pass through, shifted by a constant; a jump
 * back or a leap forward (`timeline_limits`), or a new producer (`restart`), re-anchors the
 * timeline where it was plus the wall time that passed since its last message. Players' clocks
 * then stay monotonic and near wall time across a publisher's reconnect or a broken encoder.
 *
 * Time is a parameter (`now`); not synchronised.
 */
class timeline {
public:
    explicit timeline(timeline_limits limits = {}) noexcept : limits_(limits) {}

    /// The timeline's timestamp for a message at `in` ms on the producer's clock, arriving `now`.
    std::uint32_t map(std::uint32_t in, time_point now) noexcept {
        if (!last_) {  // the first message: the timeline starts on the producer's clock
            anchor(in, rtmp_timestamp(in), now);
            return in;
        }
        const auto step = static_cast<std::int32_t>(in - last_->in);
        const bool jump = step < -static_cast<std::int64_t>(limits_.back.count()) || step > limits_.forward.count();
        if (!anchored_ || jump) {
            if (anchored_) ++jumps_;
            const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_->now).count();
            const auto gap = static_cast<std::uint32_t>(std::clamp<std::int64_t>(wall, 1, 0x7fffffff));
            anchor(in, high_ + gap, now);
        }
        rtmp_timestamp out = rtmp_timestamp(in) + offset_;
        last_->in = in;
        last_->now = now;
        if (high_ < out) high_ = out;
        return out.value();
    }

    /// A new producer: its first message re-anchors the timeline (not counted as a jump).
    void restart() noexcept { anchored_ = !last_; }

    /// Re-anchorings so far, a producer's restarts not included.
    std::uint64_t jumps() const noexcept { return jumps_; }

private:
    struct point {
        std::uint32_t in;
        time_point now;
    };

    void anchor(std::uint32_t in, rtmp_timestamp out, time_point now) noexcept {
        offset_ = out - rtmp_timestamp(in);
        if (!last_) high_ = out;
        last_ = point{in, now};
        anchored_ = true;
    }

    timeline_limits limits_;
    std::optional<point> last_;
    std::uint32_t offset_ = 0;       // timeline minus producer, modulo 2^32
    rtmp_timestamp high_;            // the latest timestamp given out
    bool anchored_ = true;
    std::uint64_t jumps_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/timeline.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// How a frame source keeps frames for joining subscribers and treats slow ones.
struct frame_source_options {
    bool gop_cache = true;                    ///< keep the frames since the last key frame for joiners
    std::size_t gop_cache_frames = 600;
    std::size_t gop_cache_bytes = 16u << 20;
    bool key_frame_on_drop = false;           ///< a subscriber's drop makes the codec send a key frame
    /// Subscribers whose wake writes to a socket (`subscriber::wake_writes`; see
    /// `basic_session::set_lock`) that one thread wakes per frame; beyond, helper threads wake
    /// the rest.
    std::size_t fanout_batch = 256;
    /// Helper threads at most (started the first time they are needed); 0: the publishing
    /// thread wakes every subscriber itself.
    std::size_t fanout_threads = default_fanout_threads();
};

/**
 * Frames for any number of subscribers, each frame made once and shared.
 *
 * Frames come from `push` (already encoded, on the caller's thread: a file, a camera, a
 * publisher), or from a `producer`, whose thread renders and encodes them at a rate and publishes
 * them here (`publish_produced`, `set_configuration`). The source keeps the configuration (the
 * onMetaData and sequence headers every subscriber gets first) and the group since the last key
 * frame for joiners.
 *
 * Each subscriber has its own bounded queue; a full queue drops, for that subscriber alone, up to
 * the next key frame.
 *
 * Thread: any; `push` calls must not overlap.
 */
class frame_source {
public:
    using clock = std::chrono::steady_clock;

    explicit frame_source(frame_source_options options) : options_(options) {}
    frame_source(const frame_source&) = delete;
    frame_source& operator=(const frame_source&) = delete;

    /// Where warnings are logged, and what they are about ("broadcast", "stream 3").
    void set_log(const detail::logger* log, std::uint64_t connection_id, std::string subject) {
        log_ = log;
        log_id_ = connection_id;
        subject_ = std::move(subject);
    }

    /// Sets the onMetaData body players receive before their first frame. With a `claim`, only
    /// while that claim holds the source (see `claim`); false otherwise.
    bool set_metadata(std::vector<std::byte> payload, std::uint64_t claim = 0) {
        std::lock_guard lock(mutex_);
        if (claim != 0 && claim != claim_) return false;
        auto config = std::make_shared<protocol::stream_config>(*config_);
        config->metadata = std::make_shared<const std::vector<std::byte>>(std::move(payload));
        config_ = std::move(config);
        return true;
    }

    /**
     * Publishes one message body of `kind` (an FLV video or audio tag body, or an AMF0 data
     * message body) at `timestamp` ms on the producer's clock, which the source's timeline
     * follows (a jump back or a leap forward is smoothed over; see `protocol::timeline`). A video
     * or audio sequence header (AVC, AAC, Enhanced SequenceStart) becomes part of the
     * configuration every player gets first; a video key frame starts a group. Empty tags are
     * ignored. With a `claim`, the message goes only while that claim holds the source; false
     * when it did not go for that reason.
     */
    bool push(protocol::media_kind kind, std::vector<std::byte> tag, std::uint32_t timestamp, std::uint64_t claim = 0) {
        if (tag.empty() || !(kind == protocol::media_kind::video || kind == protocol::media_kind::audio ||
                             kind == protocol::media_kind::data))
            return true;
        const bool video = kind == protocol::media_kind::video;
        const bool config = video ? protocol::flv::is_sequence_header(tag)
                                  : kind == protocol::media_kind::audio && protocol::flv::is_audio_config(tag);
        const std::uint32_t slot = config ? protocol::flv::config_slot(tag, video) : 0;
        auto frame = config ? nullptr : std::make_shared<protocol::media_frame>();
        locked guard(*this);
        if (claim != 0 && claim != claim_) return false;
        if (config) {
            auto next = std::make_shared<protocol::stream_config>(*config_);
            auto body = std::make_shared<const std::vector<std::byte>>(std::move(tag));
            if (slot == 0) {
                (video ? next->sequence_header : next->audio_sequence_header) = std::move(body);
            } else {
                auto same = std::find_if(next->more.begin(), next->more.end(),
                                         [&](const protocol::config_message& m) { return m.video == video && m.slot == slot; });
                if (same != next->more.end())
                    same->body = std::move(body);
                else if (next->more.size() < max_config_messages)
                    next->more.push_back({video, slot, std::move(body)});
                else if (!std::exchange(warned_config_, true) && log_)
                    log_->log(log_level::warning, log_id_, "media", {}, "{}: configuration messages beyond {} dropped", subject_,
                              max_config_messages);
            }
            config_ = std::move(next);
            gop_.clear();  // frames before it need the old configuration
            return true;
        }
        frame->kind = kind;
        frame->key_frame = video && protocol::flv::is_key_frame(tag);
        frame->info_frame = video && !frame->key_frame && protocol::flv::is_video_info_frame(tag);
        frame->tag = std::move(tag);
        frame->timestamp = timestamp;
        publish_locked(std::move(frame), true, guard.wakes);
        return true;
    }

    /// `push` of a video tag body, copied once.
    void push_video_tag(std::span<const std::byte> tag, std::uint32_t timestamp) {
        push(protocol::media_kind::video, {tag.begin(), tag.end()}, timestamp);
    }
    /// `push` of an audio tag body, copied once.
    void push_audio_tag(std::span<const std::byte> tag, std::uint32_t timestamp) {
        push(protocol::media_kind::audio, {tag.begin(), tag.end()}, timestamp);
    }

    /**
     * A publisher takes the source over: subscribers hear NetStream.Play.PublishNotify, and what
     * the previous one left (configuration, cached group) goes; the timeline re-anchors on the
     * next timestamp. Returns the claim, which its `push`es carry: from now on only this
     * publisher's messages go, until `release` or another `claim`.
     */
    std::uint64_t claim() {
        locked guard(*this);
        claim_ = ++claims_;
        news_locked(protocol::media_kind::published, guard.wakes);
        return claim_;
    }

    /// The publisher `claim` leaves: subscribers hear NetStream.Play.UnpublishNotify, unless
    /// another publisher took over since.
    void release(std::uint64_t claim) {
        locked guard(*this);
        if (claim == 0 || claim != claim_) return;
        claim_ = 0;
        news_locked(protocol::media_kind::unpublished, guard.wakes);
    }

    /// Whether `claim` holds the source.
    bool holds(std::uint64_t claim) const {
        std::lock_guard lock(mutex_);
        return claim != 0 && claim == claim_;
    }
    /// Whether a publisher holds the source.
    bool claimed() const {
        std::lock_guard lock(mutex_);
        return claim_ != 0;
    }

    /// News of a remote publisher that `claim` relays (a puller): `published` or `unpublished`,
    /// as `claim` and `release` tell it, while the claim holds.
    void notify(protocol::media_kind news, std::uint64_t claim) {
        locked guard(*this);
        if (claim != 0 && claim == claim_) news_locked(news, guard.wakes);
    }

    /// Milliseconds since the source was made (or last started): the clock of its rendered
    /// frames, for timestamps of pushed media that goes with them.
    std::uint32_t clock_ms() const {
        std::lock_guard lock(mutex_);
        return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - epoch_).count());
    }

    /// Jumps in pushed timestamps smoothed over so far (a publisher's restarts not counted).
    std::uint64_t timestamp_jumps() const {
        std::lock_guard lock(mutex_);
        return timeline_.jumps();
    }

    /// Whether the producer feeding the source failed (see `set_failed`).
    bool failed() const {
        std::lock_guard lock(mutex_);
        return failed_;
    }

    /// Asks the producer's encoder for a key frame at its next picture.
    void request_key_frame() noexcept { key_requested_.store(true, std::memory_order_relaxed); }

    /**
     * Adds a subscriber. Returns the cached group (each frame carries its configuration), which
     * the subscriber sends first; from then on every published frame goes to its queue. With no
     * cached group the subscriber waits for a key frame, which is requested.
     */
    std::vector<protocol::shared_frame> subscribe(const std::shared_ptr<subscriber>& sub) {
        std::lock_guard lock(mutex_);
        std::vector<protocol::shared_frame> join;
        if (options_.gop_cache) join = gop_.frames();
        sub->skip_until_key = join.empty();
        if (join.empty()) key_requested_.store(true, std::memory_order_relaxed);
        if (failed_) sub->failed.store(true);
        subscribers_.push_back(sub);
        return join;
    }

    /// Removes a subscriber; once it returns, the source no longer wakes it.
    void unsubscribe(subscriber* sub) {
        {
            std::lock_guard lock(mutex_);
            std::erase_if(subscribers_, [sub](const auto& s) { return s.get() == sub; });
        }
        // A wake of it may still be on its way, from a publish that took it before: detach it
        // (outside the mutex: that wake may be writing to a player whose code takes the mutex).
        if (sub) sub->detach();
    }

    std::size_t subscribers() const {
        std::lock_guard lock(mutex_);
        return subscribers_.size();
    }
    /// Frames published (each made once, whatever the number of subscribers).
    std::uint64_t frames() const noexcept { return frames_.load(std::memory_order_relaxed); }
    /// Frames in the cache for joiners.
    std::size_t cached_frames() const {
        std::lock_guard lock(mutex_);
        return gop_.frames().size();
    }

    // ---- for the producer that feeds the source (`driver::producer`) --------------------------

    /// Restarts the clock of `clock_ms` at `start`.
    void restart_clock(clock::time_point start) {
        std::lock_guard lock(mutex_);
        epoch_ = start;
    }

    /// Publishes a produced frame: its timestamp is the producer's clock, as it is.
    void publish_produced(std::shared_ptr<protocol::media_frame> frame) { publish(std::move(frame), false); }

    /// Whether the source has subscribers; without any, its cached group goes.
    bool watched() {
        std::lock_guard lock(mutex_);
        if (subscribers_.empty()) gop_.clear();
        return !subscribers_.empty();
    }

    /// Whether every subscriber that takes frames is behind (the frame hook's hint), and whether
    /// any takes frames at all.
    std::pair<bool, bool> load() const {
        std::lock_guard lock(mutex_);
        bool any = false;
        bool all_behind = true;
        for (const auto& s : subscribers_) {
            if (s->paused.load(std::memory_order_relaxed)) continue;
            any = true;
            all_behind = all_behind && behind(*s);
        }
        return {any && all_behind, any};
    }

    /// Whether a key frame was asked for since the last call (by a joiner, a drop, `request_key_frame`).
    bool take_key_request() noexcept { return key_requested_.exchange(false, std::memory_order_relaxed); }

    /**
     * The configuration a producer's encoders made: `audio_header` (null: the one there stays)
     * and, `with_video`, onMetaData and the video sequence header, which replace what was there.
     * The cached group goes (its frames need the old configuration).
     */
    void set_configuration(std::shared_ptr<const std::vector<std::byte>> metadata,
                           std::shared_ptr<const std::vector<std::byte>> video_header,
                           std::shared_ptr<const std::vector<std::byte>> audio_header, bool with_video) {
        std::lock_guard lock(mutex_);
        auto config = with_video ? std::make_shared<protocol::stream_config>() : std::make_shared<protocol::stream_config>(*config_);
        if (with_video) {
            config->metadata = std::move(metadata);
            config->sequence_header = std::move(video_header);
        }
        config->audio_sequence_header = audio_header ? std::move(audio_header) : config_->audio_sequence_header;
        config_ = std::move(config);
        gop_.clear();
    }

    /// The producer failed (every subscriber hears of it, and later ones at once), or starts again.
    void set_failed(bool failed) {
        locked guard(*this);
        failed_ = failed;
        if (!failed) return;
        for (const auto& sub : subscribers_) {
            sub->failed.store(true);
            guard.wakes.push_back(sub);
        }
    }

private:

    // Configuration messages kept beyond the two sequence headers (each track's SequenceStart,
    // MultichannelConfig): a publisher's further ones are dropped, with a warning.
    static constexpr std::size_t max_config_messages = 2 * protocol::enhanced::max_tracks;

    static bool behind(const subscriber& s) {
        return s.queue.size_approx() * 2 >= s.queue.capacity() || (s.congested && s.congested());
    }

    // The source's mutex, held while frames are queued; the subscribers that got one are woken
    // after it is released: a wake may write to a player's socket (see `basic_session::set_lock`),
    // which must neither hold up the source nor reach back into it under its mutex.
    using wake_list = fanout::wake_list;
    struct locked {
        explicit locked(frame_source& s) : lock(s.mutex_), source(s) { wakes.reserve(s.subscribers_.size()); }
        locked(const locked&) = delete;
        locked& operator=(const locked&) = delete;
        ~locked() {
            lock.unlock();
            source.fanout_.deliver(wakes);
        }
        std::unique_lock<std::mutex> lock;
        frame_source& source;
        wake_list wakes;
    };

    // The configuration, cached group and timeline go, and every subscriber hears the news.
    void news_locked(protocol::media_kind kind, wake_list& wakes) {
        gop_.reset();
        config_ = std::make_shared<protocol::stream_config>();
        timeline_.restart();
        auto frame = std::make_shared<protocol::media_frame>();
        frame->kind = kind;
        publish_locked(std::move(frame), false, wakes);
    }

    void publish(std::shared_ptr<protocol::media_frame> frame, bool pushed) {
        locked guard(*this);
        publish_locked(std::move(frame), pushed, guard.wakes);
    }

    // Every subscriber's queue gets the frame, unless it is behind: video then drops to the next
    // key frame once its queue is three quarters full, and audio only when it is full, so that a
    // slow player keeps its sound while it can. News never waits for room: when the queue is
    // full it goes aside (`post_news`), and the media after it waits until it has been taken.
    void publish_locked(std::shared_ptr<protocol::media_frame> frame, bool pushed, wake_list& wakes) {
        frame->config = config_;
        if (pushed) frame->timestamp = timeline_.map(frame->timestamp, clock::now());
        protocol::shared_frame shared = std::move(frame);
        const bool video = shared->kind == protocol::media_kind::video;
        if (shared->is_media()) {
            frames_.fetch_add(1, std::memory_order_relaxed);
            if (options_.gop_cache) gop_.add(shared);
        }
        for (const auto& sub : subscribers_) {
            if (!shared->is_media()) {
                // In the queue when it has room (the usual case: media goes on behind it), else
                // aside, where the consumer finds it after the queue.
                auto copy = shared;
                if (sub->has_news.load(std::memory_order_acquire) || !sub->queue.try_push(std::move(copy))) sub->post_news(shared);
                sub->skip_until_key = true;
                wakes.push_back(sub);
                continue;
            }
            if (sub->has_news.load(std::memory_order_acquire)) {
                if (video) sub->skip_until_key = true;
                count_drop(*sub);
                continue;
            }
            if (sub->paused.load(std::memory_order_relaxed)) {
                if (video) sub->skip_until_key = true;  // a resumed player starts on a key frame
                continue;
            }
            const bool picture = video && !shared->info_frame;  // an info frame waits for no key frame
            if (picture && sub->skip_until_key && !shared->key_frame) {
                count_drop(*sub);
                continue;
            }
            const std::size_t room = sub->queue.capacity() - std::min(sub->queue.capacity(), sub->queue.size_approx());
            auto copy = shared;
            if ((!video || room > sub->queue.capacity() / 4) && sub->queue.try_push(std::move(copy))) {
                if (picture) sub->skip_until_key = false;
                wakes.push_back(sub);
            } else {
                // This subscriber is behind: it alone drops (video up to the next key frame).
                if (video) sub->skip_until_key = true;
                count_drop(*sub);
                if (video && options_.key_frame_on_drop) key_requested_.store(true, std::memory_order_relaxed);
            }
        }
    }

    static void count_drop(subscriber& sub) noexcept {
        if (sub.dropped) sub.dropped->fetch_add(1, std::memory_order_relaxed);
        if (sub.dropped_total) sub.dropped_total->fetch_add(1, std::memory_order_relaxed);
    }

    const frame_source_options options_;
    mutable std::mutex mutex_;
    std::shared_ptr<const protocol::stream_config> config_ = std::make_shared<protocol::stream_config>();
    bool warned_config_ = false;
    protocol::gop_cache gop_{options_.gop_cache_frames, options_.gop_cache_bytes};
    protocol::timeline timeline_;
    clock::time_point epoch_ = clock::now();
    std::vector<std::shared_ptr<subscriber>> subscribers_;
    std::atomic<std::uint64_t> frames_{0};
    std::atomic<bool> key_requested_{false};
    bool failed_ = false;
    std::uint64_t claim_ = 0;   // the publisher holding the source (0: none)
    std::uint64_t claims_ = 0;

    const detail::logger* log_ = nullptr;
    std::uint64_t log_id_ = 0;
    std::string subject_;
    fanout fanout_{options_.fanout_batch, options_.fanout_threads};  // last: its helpers stop first
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/frame_source.hpp ----
// ---- include/rtmpx/driver/producer.hpp ----
// The producer thread: render, frame and audio hooks at a steady rate, each encoder's frames into the frame sources of its renditions.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace driver {

/**
 * The thread that makes frames: each tick, paced at `rate()` calls a second, it calls the render
 * hook, then the audio hook and the frame hook, and publishes what they made into frame sources.
 * Timestamps are the scheduled ticks (steady spacing without wake-up jitter; players map
 * timestamps onto a frame grid), and a producer that falls behind does not burst to catch up.
 *
 * With a video encoder, the frame hook fills a picture's encoded data and the producer adds the
 * FLV tag header (legacy or Enhanced RTMP), the onMetaData and the sequence header; without one,
 * the hook's bytes are the FLV tag body. With audio encoders and an audio hook, each tick also asks
 * the hook for the samples due since the last (counted from the first tick, so the sound is
 * continuous and its timestamps run with the pictures'), encodes them and publishes every
 * finished packet.
 *
 * Several encoders at once (`set_renditions`): each tick the frame hook is called once per video
 * encoder (`current_codec()` says which one it fills), and the audio hook once, its samples
 * encoded by every audio encoder. Each rendition, a frame source with its own subscribers,
 * configuration and cached group, takes the frames of one video and one audio encoder. With more
 * than one encoder of a kind, one none of whose renditions has a subscriber taking frames is not
 * used; when one comes it starts again, on a key frame.
 *
 * A hook that throws or returns false stops the thread: the failure is logged (category "render",
 * "frame" or "audio"), and every rendition's subscribers are told (`frame_source::set_failed`).
 *
 * Thread: `set_*` before `start` (or after `stop`); the rest from any thread. The renditions'
 * sources and the encoders must outlive the thread (`stop`, or the destructor).
 */
class producer {
public:
    using clock = frame_source::clock;
    using render_hook = std::function<bool()>;
    using frame_hook = std::function<bool(encoded_frame&, bool outqueue_is_full)>;
    using audio_hook = std::function<bool(audio_buffer&)>;

    /// Where the frames of one pair of encoders go.
    struct rendition {
        frame_source* source = nullptr;  ///< the subscribers' side
        std::size_t video = 0;           ///< which video encoder feeds it
        std::size_t audio = 0;           ///< which audio encoder feeds it (when there are any)
    };

    /// `idle_without_subscribers`: no hook is called while no subscriber takes frames.
    explicit producer(bool idle_without_subscribers = false) : idle_without_subscribers_(idle_without_subscribers) {}
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;
    ~producer() { stop(); }

    /// The hooks the thread calls each tick (either may be empty), and the calls per second.
    void set_hooks(render_hook render, frame_hook frame, std::function<double()> rate) {
        render_ = std::move(render);
        frame_ = std::move(frame);
        rate_ = std::move(rate);
    }
    /// The audio hook (without one, or without audio encoders, no sound is made).
    void set_audio(audio_hook hook) { audio_ = std::move(hook); }

    /// The encoders (a null video encoder: the frame hook's bytes are FLV tag bodies; audio
    /// encoders opened), and where their frames go: at least one rendition.
    void set_renditions(std::vector<video_codec*> video, std::vector<audio_codec*> audio, std::vector<rendition> renditions) {
        RTMPX_ASSERT(!video.empty() && !renditions.empty());
        video_.clear();
        for (video_codec* codec : video) video_.push_back(video_lane{codec});
        audio_lanes_.clear();
        for (audio_codec* codec : audio) audio_lanes_.push_back(audio_lane{codec});
        renditions_ = std::move(renditions);
        current_.store(video_.front().codec, std::memory_order_relaxed);
    }

    /// Where failures are logged, and what they are about ("broadcast", "stream 3").
    void set_log(const detail::logger* log, std::uint64_t connection_id, std::string subject) {
        log_ = log;
        log_id_ = connection_id;
        subject_ = std::move(subject);
    }

    /// Starts the thread (a running one is restarted); the renditions are no longer failed.
    void start() {
        stop();
        {
            std::lock_guard lock(mutex_);
            stop_ = false;
        }
        for (const rendition& r : renditions_) r.source->set_failed(false);
        thread_ = std::thread([this] { produce(); });
    }

    /// Stops the thread (subscribers stay, and get frames again after `start`).
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        stop_cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    /// Asks every video encoder for a key frame at its next picture.
    void request_key_frame() noexcept {
        for (const rendition& r : renditions_) r.source->request_key_frame();
    }

    /// The video encoder the frame hook fills now (the first before any frame). Thread: any.
    video_codec* current_codec() const noexcept { return current_.load(std::memory_order_relaxed); }

private:
    struct video_lane {
        video_codec* codec = nullptr;
        std::uint64_t generation = 0;  // of the configuration sent this run (0: none yet)
        bool active = false;           // encoding for players (several encoders only)
    };
    struct audio_lane {
        audio_codec* codec = nullptr;
        bool active = false;
        std::int64_t fed = 0;     // sample frames handed to the encoder, ever
        std::int64_t offset = 0;  // add to the encoder's sample positions: this run's positions
        std::int64_t end = 0;     // where its last packet ends, in this run's positions
        std::deque<std::shared_ptr<protocol::media_frame>> waiting{};  // encoded, its tick not yet come
    };

    // A hook failed: the thread ends and every subscriber, of every rendition, hears of it.
    void fail(const char* kind, bool threw) {
        if (!threw && log_)
            log_->log(log_level::warning, log_id_, kind, error::handler_failed, "{} handler of {} returned false", kind,
                      subject_);
        for (const rendition& r : renditions_) r.source->set_failed(true);
    }

    template <class F>
    bool run_hook(const char* kind, F&& f) {
        static const detail::logger silent;
        const auto ok = detail::guarded_call(log_ ? *log_ : silent, log_id_, kind, subject_, f);
        if (ok && *ok) return true;
        fail(kind, !ok);
        return false;
    }

    static std::size_t lane_of(const rendition& r, bool video) noexcept { return video ? r.video : r.audio; }

    // Over the renditions fed by video (or audio) encoder `index`: whether every subscriber
    // that takes frames is behind, and whether any takes frames.
    std::pair<bool, bool> load_of(bool video, std::size_t index) const {
        bool any = false;
        bool all_behind = true;
        for (const rendition& r : renditions_) {
            if (lane_of(r, video) != index) continue;
            const auto [behind, takes] = r.source->load();
            any = any || takes;
            all_behind = all_behind && (!takes || behind);
        }
        return {any && all_behind, any};
    }

    // Whether a key frame was asked of video encoder `index` (by a joiner, a drop, the user).
    bool take_key_request(std::size_t index) {
        bool asked = false;
        for (const rendition& r : renditions_)
            if (r.video == index && r.source->take_key_request()) asked = true;
        return asked;
    }

    // The frame into every rendition of video (or audio) encoder `index`: a copy for each but the
    // last (a frame carries its rendition's configuration). Of several renditions, one without
    // subscribers keeps no cached group: its first player starts on a new key frame, with its
    // sound, rather than on a group cached while another codec of sound was playing.
    void publish_to(bool video, std::size_t index, std::shared_ptr<protocol::media_frame> frame) {
        const bool several = renditions_.size() > 1;
        frame_source* last = nullptr;
        for (const rendition& r : renditions_) {
            if (lane_of(r, video) != index) continue;
            if (several && !r.source->watched()) continue;
            if (last) last->publish_produced(std::make_shared<protocol::media_frame>(*frame));
            last = r.source;
        }
        if (last) last->publish_produced(std::move(frame));
    }

    void produce() {
        const auto start = clock::now();
        for (const rendition& r : renditions_) r.source->restart_clock(start);
        auto next = start;
        for (video_lane& lane : video_) lane = video_lane{lane.codec};  // each run sends its configuration anew
        for (audio_lane& lane : audio_lanes_) {
            lane.active = false;
            lane.waiting.clear();
        }
        audio_samples_ = audio_ahead_ = 0;
        if (audio_ && !audio_lanes_.empty())
            for (const rendition& r : renditions_) configure(r, 0, false);
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (stop_cv_.wait_until(lock, next, [this] { return stop_; })) return;
            }
            const auto tick = next;
            const double rate = rate_ ? rate_() : 30.0;
            next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate));
            if (const auto now = clock::now(); next < now) next = now;  // fell behind: no burst to catch up
            if (idle_without_subscribers_ && !std::any_of(renditions_.begin(), renditions_.end(),
                                                          [](const rendition& r) { return r.source->load().second; }))
                continue;
            if (render_ && !run_hook("render", render_)) return;
            if (audio_ && !audio_lanes_.empty() && !produce_audio(tick - start)) return;
            if (!frame_) continue;
            const auto timestamp = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(tick - start).count());
            for (std::size_t i = 0; i < video_.size(); ++i)
                if (!produce_video(i, timestamp, rate)) return;
        }
    }

    // One picture of video encoder `index` (the frame hook fills it), to its renditions. With
    // several encoders, one whose renditions nobody takes frames from is skipped. False when the
    // hook failed (the thread then ends).
    bool produce_video(std::size_t index, std::uint32_t timestamp, double rate) {
        video_lane& lane = video_[index];
        const auto [all_behind, any] = load_of(true, index);
        const bool full = all_behind;  // a copy: clang 14 cannot capture a structured binding
        bool key = take_key_request(index);
        if (video_.size() > 1) {
            if (!any) {
                lane.active = false;
                return true;
            }
            if (!std::exchange(lane.active, true)) key = true;  // its first player starts on a key frame
        }
        video_codec* const codec = lane.codec;
        if (key && codec) codec->force_key_frame();
        current_.store(codec, std::memory_order_relaxed);
        encoded_frame out;
        if (!run_hook("frame", [&] { return frame_(out, full); })) return false;
        if (out.data.empty()) return true;
        if (codec && codec->generation() != lane.generation) {
            lane.generation = codec->generation();
            for (const rendition& r : renditions_)
                if (r.video == index) configure(r, rate, true);
        }
        auto frame = std::make_shared<protocol::media_frame>();
        frame->timestamp = timestamp;
        if (codec) {
            const std::uint32_t fourcc = codec->fourcc();
            frame->tag = fourcc != 0 ? protocol::flv::enhanced_video_tag(fourcc, protocol::enhanced::video_packet::coded_frames, out.key_frame, out.data)
                                     : protocol::flv::video_tag(codec->flv_codec_id(), out.key_frame, out.data);
            frame->key_frame = out.key_frame;
        } else {
            frame->tag = std::move(out.data);
            frame->key_frame = out.key_frame || protocol::flv::is_key_frame(frame->tag);
        }
        publish_to(true, index, std::move(frame));
        return true;
    }

    // The sound due at `elapsed` since the first tick. Sound is asked for ahead of the pictures
    // by what the encoders hold back (learned: 10 ms more each time an encoder's packets end
    // before now, up to a second), and each packet waits until the tick of its time, so that
    // players get audio and video with timestamps in order. With several encoders, one whose
    // renditions nobody takes frames from is skipped; the hook is called all the same (the
    // application's sound keeps its time). False when the hook or an encoder failed (the thread
    // then ends).
    bool produce_audio(clock::duration elapsed) {
        const std::uint32_t rate = audio_lanes_.front().codec->sample_rate();
        const auto now = static_cast<std::int64_t>(std::chrono::duration<double>(elapsed).count() * rate);
        for (std::size_t j = 0; j < audio_lanes_.size(); ++j) {
            audio_lane& lane = audio_lanes_[j];
            if (audio_lanes_.size() > 1 && !load_of(false, j).second) {
                lane.active = false;
                lane.waiting.clear();
            } else if (!std::exchange(lane.active, true)) {
                lane.offset = audio_samples_ - lane.fed;  // its next sample is this run's next
                lane.end = audio_samples_;
            }
        }
        const auto caught_up = [&] {
            return std::all_of(audio_lanes_.begin(), audio_lanes_.end(), [&](const audio_lane& l) { return !l.active || l.end >= now; });
        };
        for (int round = 0; round < 128; ++round) {
            const std::int64_t want = now + audio_ahead_;
            if (want > audio_samples_ && !feed_audio(static_cast<std::size_t>(want - audio_samples_))) return false;
            if (caught_up() || audio_ahead_ >= rate) break;
            audio_ahead_ += rate / 100;
        }
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
        for (std::size_t j = 0; j < audio_lanes_.size(); ++j) {
            auto& waiting = audio_lanes_[j].waiting;
            while (!waiting.empty() && waiting.front()->timestamp <= now_ms) {
                publish_to(false, j, std::move(waiting.front()));
                waiting.pop_front();
            }
        }
        return true;
    }

    // `count` sample frames from the audio hook, encoded by every active encoder; the packets
    // wait in their lane.
    bool feed_audio(std::size_t count) {
        const std::uint32_t rate = audio_lanes_.front().codec->sample_rate();
        const std::uint32_t channels = audio_lanes_.front().codec->channels();
        audio_samples_ += static_cast<std::int64_t>(count);
        audio_buffer_.sample_rate = rate;
        audio_buffer_.channels = channels;
        audio_buffer_.samples.assign(count * channels, 0);
        if (!run_hook("audio", [this] { return audio_(audio_buffer_); })) return false;
        audio_buffer_.samples.resize(count * channels, 0);  // a handler that changed the size: cut or padded
        for (audio_lane& lane : audio_lanes_) {
            if (!lane.active) continue;
            lane.fed += static_cast<std::int64_t>(count);
            audio_packets_.clear();
            if (const auto ec = lane.codec->encode(audio_buffer_.samples, audio_packets_)) {
                if (log_) log_->log(log_level::error, log_id_, "audio", ec, "{}: audio encoder failed: {}", subject_, ec.message());
                fail("audio", true);
                return false;
            }
            const std::uint32_t fourcc = lane.codec->fourcc();
            for (const encoded_audio& packet : audio_packets_) {
                auto frame = std::make_shared<protocol::media_frame>();
                frame->kind = protocol::media_kind::audio;
                frame->tag = fourcc != 0 ? protocol::flv::enhanced_audio_tag(fourcc, protocol::enhanced::audio_packet::coded_frames, packet.data)
                                         : protocol::flv::aac_tag(false, packet.data);
                const std::int64_t at = packet.first_sample + lane.offset;  // before this run (held back): at 0
                frame->timestamp = at <= 0 ? 0 : static_cast<std::uint32_t>(at * 1000 / rate);
                lane.end = at + packet.samples;
                lane.waiting.push_back(std::move(frame));  // at most a second and a packet ahead
            }
        }
        return true;
    }

    // The configuration of rendition `r`: the audio encoder's sequence header (AAC
    // AudioSpecificConfig, or an Enhanced SequenceStart) and, `with_video`, onMetaData and the
    // video encoder's sequence header (AVC, or an Enhanced codec's SequenceStart), built here;
    // what the rendition has of the rest stays.
    void configure(const rendition& r, double rate, bool with_video) {
        video_codec* const codec = with_video && r.video < video_.size() ? video_[r.video].codec : nullptr;
        audio_codec* const audio = audio_ && r.audio < audio_lanes_.size() ? audio_lanes_[r.audio].codec : nullptr;
        std::shared_ptr<const std::vector<std::byte>> metadata;
        std::shared_ptr<const std::vector<std::byte>> video_header;
        std::shared_ptr<const std::vector<std::byte>> audio_header;
        if (audio) {
            const std::uint32_t fourcc = audio->fourcc();
            audio_header = std::make_shared<const std::vector<std::byte>>(
                fourcc != 0 ? protocol::flv::enhanced_audio_tag(fourcc, protocol::enhanced::audio_packet::sequence_start, audio->header())
                            : protocol::flv::aac_tag(true, audio->header()));
        }
        if (codec) {
            const std::uint8_t codec_id = codec->flv_codec_id();
            const std::uint32_t fourcc = codec->fourcc();
            auto properties = protocol::flv::video_metadata(codec->width(), codec->height(), rate,
                                                            fourcc != 0 ? protocol::enhanced::metadata_codec_id(fourcc) : codec_id);
            if (audio) {
                const std::uint32_t audio_fourcc = audio->fourcc();
                protocol::flv::add_audio_metadata(properties,
                                                  audio_fourcc != 0 ? protocol::enhanced::metadata_codec_id(audio_fourcc) : audio->flv_sound_format(),
                                                  audio->sample_rate(), audio->channels());
            }
            metadata = std::make_shared<const std::vector<std::byte>>(protocol::flv::on_metadata_payload(std::move(properties)));
            if (fourcc != 0 && !codec->header().empty())
                video_header = std::make_shared<const std::vector<std::byte>>(protocol::flv::enhanced_video_tag(
                    fourcc, protocol::enhanced::video_packet::sequence_start, true, codec->header()));
            else if (codec_id == static_cast<std::uint8_t>(protocol::flv::video_codec::avc) && !codec->header().empty())
                video_header = std::make_shared<const std::vector<std::byte>>(protocol::flv::avc_sequence_header(codec->header()));
        }
        r.source->set_configuration(std::move(metadata), std::move(video_header), std::move(audio_header), codec != nullptr);
    }

    const bool idle_without_subscribers_;
    render_hook render_;
    frame_hook frame_;
    audio_hook audio_;
    std::function<double()> rate_;
    std::vector<video_lane> video_ = std::vector<video_lane>(1);  // the thread's, like the rest below
    std::vector<audio_lane> audio_lanes_;
    std::vector<rendition> renditions_;
    std::atomic<video_codec*> current_{nullptr};
    audio_buffer audio_buffer_;                 // reused each tick
    std::vector<encoded_audio> audio_packets_;  // likewise
    std::int64_t audio_samples_ = 0;            // sample frames asked of the hook this run
    std::int64_t audio_ahead_ = 0;              // how far ahead of the ticks sound is asked for
    const detail::logger* log_ = nullptr;
    std::uint64_t log_id_ = 0;
    std::string subject_;
    std::mutex mutex_;
    std::condition_variable stop_cv_;
    bool stop_ = true;
    std::thread thread_;
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/producer.hpp ----

RTMPX_NAMESPACE_BEGIN

class puller;
namespace detail {
class remote_logic;

// One published message into `source` while `claim` holds it; false when it does not.
inline bool push_media(driver::frame_source& source, protocol::media_in& m, std::uint64_t claim) {
    if (claim == 0) return false;
    switch (m.type) {
    case media_type::video: return source.push(protocol::media_kind::video, std::move(m.payload), m.timestamp.value(), claim);
    case media_type::audio: return source.push(protocol::media_kind::audio, std::move(m.payload), m.timestamp.value(), claim);
    case media_type::metadata: return source.set_metadata(std::move(m.payload), claim);
    case media_type::data: return source.push(protocol::media_kind::data, std::move(m.payload), m.timestamp.value(), claim);
    }
    return false;
}
} // namespace detail

/// How a broadcast keeps frames for players that join, and how it paces its own frames.
struct broadcast_options {
    /// Keep the frames since the last key frame, so that a joining player starts at once from
    /// that key frame (its first seconds are then up to one key frame interval behind live).
    /// Off: a joining player waits for the next key frame, which a broadcast with a codec forces
    /// at once (the picture starts at the live edge).
    bool gop_cache = true;
    std::size_t gop_cache_frames = 600;        ///< beyond it the cache empties until the next key frame
    std::size_t gop_cache_bytes = 16u << 20;   ///< likewise, in bytes of frame data
    std::size_t player_queue_frames = 64;      ///< frames queued per player; when full, that player drops to the next key frame
    double render_rate = 30;                   ///< render (and frame) calls per second of `start`
};

/**
 * One source of video for many players: each frame is encoded once, and its bytes are shared,
 * immutable, by every player's queue. Each player keeps its own bounded queue and drops to the
 * next key frame when it falls behind, so a slow player costs only itself.
 *
 * Frames come from `push_video_tag` and `push_audio_tag` (already encoded, from a file, a camera,
 * another server), from a published stream (`stream::publish_to`, or a `relay`), or from render
 * and frame handlers that `start` runs on the broadcast's own thread at `render_rate`, encoding
 * with a codec chosen by name; an audio handler there gives sound (`use_audio`, `on_audio`). A
 * stream plays the broadcast after `stream.use_broadcast(b)` in its stream or play handler.
 *
 * With several codecs (`use_codecs`, `use_audio_codecs`), each player gets the best one it
 * declared, and each codec encodes once for all the players that got it. Pushed and published
 * frames go to the players of the first codecs only: such a broadcast is for rendered frames.
 *
 * A render or frame handler that returns false or throws stops the broadcast: the failure goes
 * to the broadcast's log sink (`set_logger`; silent by default), `failed()` turns true, and every
 * player gets NetStream.Failed (they stay connected; `start` again serves new plays).
 *
 * Thread: `on_render`, `on_frame`, `on_audio`, `use_codec`, `use_audio` and `set_logger` before
 * `start` (or after `stop`); the other members from any thread, but `push_*` calls must not
 * overlap.
 * Lifetime: hold it in a `std::shared_ptr` (streams keep it alive while they play it); `stop`
 * it before the state its handlers use goes away.
 */
class broadcast {
public:
    explicit broadcast(broadcast_options options = {})
        : options_(options),
          source_(driver::frame_source_options{options.gop_cache, options.gop_cache_frames, options.gop_cache_bytes, false}) {
        RTMPX_ASSERT(options_.player_queue_frames > 0 && options_.render_rate > 0);
    }
    broadcast(const broadcast&) = delete;
    broadcast& operator=(const broadcast&) = delete;
    ~broadcast() { stop(); }

    const broadcast_options& options() const noexcept { return options_; }

    /// Sets the onMetaData players receive before their first frame (an ECMA array or object).
    void set_metadata(amf0::value metadata) { source_.set_metadata(protocol::flv::on_metadata_payload(std::move(metadata))); }

    /**
     * Sends one FLV video tag body (the bytes of an RTMP video message) to every player, at
     * `timestamp` ms on the broadcast's clock (never decreasing). An AVC sequence header becomes
     * the configuration sent to every player before its first frame; frames whose first byte
     * says "key frame" start groups. The bytes are copied once and then shared.
     */
    void push_video_tag(std::span<const std::byte> tag, std::uint32_t timestamp) { source_.push_video_tag(tag, timestamp); }

    /**
     * Sends one FLV audio tag body (AAC, MP3, any FLV sound format, Enhanced audio) to every
     * player, like `push_video_tag`; an AAC (or Enhanced) sequence header becomes part of the
     * configuration. For sound that goes with rendered frames, stamp it with `clock_ms()`.
     */
    void push_audio_tag(std::span<const std::byte> tag, std::uint32_t timestamp) { source_.push_audio_tag(tag, timestamp); }

    /// The clock of the rendered frames: ms since `start` (or since the broadcast was made).
    std::uint32_t clock_ms() const { return source_.clock_ms(); }

    /// Whether a published stream feeds the broadcast now (`stream::publish_to`, a `puller`).
    bool has_publisher() const { return source_.claimed(); }

    /// Registers the render handler `bool (broadcast&)`, called before each frame handler.
    template <class F>
    void on_render(F handler) {
        static_assert(render_handler<F, broadcast>, "on_render: expected bool (broadcast&)");
        render_ = std::move(handler);
    }

    /// Registers the frame handler `bool (broadcast&, encoded_frame& out, bool outqueue_is_full)`;
    /// `outqueue_is_full` is true while every player is behind. Without a codec, `out.data` is a
    /// complete FLV video tag body.
    template <class F>
    void on_frame(F handler) {
        static_assert(frame_handler<F, broadcast>,
                      "on_frame: expected bool (broadcast&, encoded_frame& out, bool outqueue_is_full)");
        frame_ = std::move(handler);
    }

    /// Chooses the codec from `registry` (a server's `codecs()`); false if it has no such name.
    bool use_codec(std::string_view name, const codec_registry& registry) { return use_codecs({name}, registry); }

    /**
     * Chooses several codecs from `registry`, best first (`{"av1", "h264"}`): each player gets
     * the first one it takes, an Enhanced RTMP codec when it declared that codec in its connect,
     * a legacy one always (so end the list with one for the players that declare nothing). Each
     * tick the frame handler is called once per codec being played, to fill `codec()`: each
     * codec encodes once for all its players, one that nobody plays is not encoded, and it
     * starts on a key frame when its first player comes. False (nothing changes) when the list
     * is empty or the registry lacks a name.
     * Thread: before any player plays the broadcast, and before `start`.
     */
    bool use_codecs(std::initializer_list<std::string_view> names, const codec_registry& registry) {
        return use_codecs(std::vector<std::string>(names.begin(), names.end()), registry);
    }
    bool use_codecs(const std::vector<std::string>& names, const codec_registry& registry) {
        std::vector<std::unique_ptr<video_codec>> codecs;
        for (const auto& name : names) {
            codecs.push_back(registry.make(name));
            if (!codecs.back()) return false;
        }
        if (codecs.empty()) return false;
        codecs_ = std::move(codecs);
        make_renditions();
        return true;
    }

    /// The codec the frame handler fills now (the first one outside it; null without a codec).
    /// Thread: the frame handler's.
    video_codec* codec() noexcept {
        if (codecs_.empty()) return nullptr;
        video_codec* current = producer_.current_codec();
        return current ? current : codecs_.front().get();
    }
    /// The codecs chosen, best first.
    std::span<const std::unique_ptr<video_codec>> codecs() const noexcept { return codecs_; }

    /**
     * Gives the broadcast rendered sound: the audio codec `name` from `registry` ("aac" for every
     * player; "opus", Enhanced RTMP, for the players that declared it), opened here for
     * `sample_rate` and `channels`; the audio handler (`on_audio`) then fills each tick's PCM.
     * False when the registry has no such audio codec, or it refuses the rate or channel count.
     */
    bool use_audio(std::string_view name, std::uint32_t sample_rate, std::uint32_t channels, const codec_registry& registry) {
        return use_audio_codecs({name}, sample_rate, channels, registry);
    }

    /**
     * Several audio codecs, best first (`{"opus", "aac"}`), chosen per player as `use_codecs`
     * does: the audio handler's samples are encoded once by each codec being played.
     * Thread: as `use_codecs`.
     */
    bool use_audio_codecs(std::initializer_list<std::string_view> names, std::uint32_t sample_rate, std::uint32_t channels,
                          const codec_registry& registry) {
        return use_audio_codecs(std::vector<std::string>(names.begin(), names.end()), sample_rate, channels, registry);
    }
    bool use_audio_codecs(const std::vector<std::string>& names, std::uint32_t sample_rate, std::uint32_t channels,
                          const codec_registry& registry) {
        std::vector<std::unique_ptr<audio_codec>> codecs;
        for (const auto& name : names) {
            codecs.push_back(registry.make_audio(name));
            if (!codecs.back() || codecs.back()->init(sample_rate, channels)) return false;
        }
        if (codecs.empty()) return false;
        audio_codecs_ = std::move(codecs);
        make_renditions();
        return true;
    }

    /// Registers the audio handler `bool (broadcast&, audio_buffer& pcm)` (see `audio_handler`).
    template <class F>
    void on_audio(F handler) {
        static_assert(audio_handler<F, broadcast>, "on_audio: expected bool (broadcast&, audio_buffer& pcm)");
        audio_ = std::move(handler);
    }

    /// The broadcast's (first) audio encoder (null without one).
    audio_codec* audio() noexcept { return audio_codecs_.empty() ? nullptr : audio_codecs_.front().get(); }

    /// Installs the log sink for the broadcast's handler failures (silent by default).
    template <class F>
    void set_logger(F sink, log_level level = log_level::info) {
        static_assert(log_sink<F>, "set_logger: expected void (log_record const&)");
        log_ = detail::logger(std::move(sink), level);
    }

    /// Starts calling the render and frame handlers at `render_rate` on the broadcast's thread.
    void start() {
        producer_.stop();
        driver::producer::render_hook render;
        driver::producer::frame_hook frame;
        driver::producer::audio_hook audio;
        if (render_) render = [this] { return static_cast<bool>(render_(*this)); };
        if (frame_) frame = [this](encoded_frame& out, bool full) { return static_cast<bool>(frame_(*this, out, full)); };
        if (audio_) audio = [this](audio_buffer& pcm) { return static_cast<bool>(audio_(*this, pcm)); };
        producer_.set_hooks(std::move(render), std::move(frame), [rate = options_.render_rate] { return rate; });
        producer_.set_audio(std::move(audio));
        std::vector<video_codec*> video;
        for (const auto& c : codecs_) video.push_back(c.get());
        if (video.empty()) video.push_back(nullptr);  // the frame handler's bytes are tags
        std::vector<audio_codec*> sound;
        for (const auto& c : audio_codecs_) sound.push_back(c.get());
        std::vector<driver::producer::rendition> renditions;
        for (std::size_t i = 0; i < video.size(); ++i)
            for (std::size_t j = 0; j < std::max<std::size_t>(sound.size(), 1); ++j) renditions.push_back({&rendition(i, j), i, j});
        producer_.set_renditions(std::move(video), std::move(sound), std::move(renditions));
        producer_.set_log(&log_, 0, "broadcast");
        producer_.start();
    }

    /// Stops the broadcast's thread (players stay, and get frames again after `start`).
    void stop() { producer_.stop(); }

    /// Whether the broadcast's thread ended because a handler failed.
    bool failed() const { return source_.failed(); }

    /// Asks the codecs for a key frame at their next frame (a broadcast with a codec only).
    void request_key_frame() noexcept { producer_.request_key_frame(); }

    /// Players subscribed now.
    std::size_t players() const {
        std::size_t n = source_.subscribers();
        for (const auto& r : renditions_) n += r->subscribers();
        return n;
    }
    /// Frames published (each encoded once, whatever the number of players).
    std::uint64_t frames() const noexcept { return source_.frames(); }
    /// Frames in the cache for joining players.
    std::size_t cached_frames() const { return source_.cached_frames(); }

private:
    friend class stream;                 // its players subscribe to the source; its publisher pushes into it
    friend class recorder;               // one more subscriber
    friend class puller;                 // releases its claim
    friend class detail::remote_logic;   // a publisher's subscriber, or a puller's pushes

    // The frames of the first codecs: where publishers push, and what recorders and pushers take.
    driver::frame_source& source() noexcept { return source_; }

    // The frames for a player that declared `caps`: those of the first video and audio codecs it
    // takes (the first ones when it takes none: it is then told why it cannot play).
    driver::frame_source& source_for(const protocol::enhanced::capabilities& caps) {
        const auto pick = [](const auto& codecs, auto accepts) -> std::size_t {
            for (std::size_t i = 0; i < codecs.size(); ++i)
                if (const std::uint32_t fourcc = codecs[i]->fourcc(); fourcc == 0 || accepts(fourcc)) return i;
            return 0;
        };
        return rendition(pick(codecs_, [&](std::uint32_t f) { return caps.accepts_video(f); }),
                         pick(audio_codecs_, [&](std::uint32_t f) { return caps.accepts_audio(f); }));
    }

    // The frames of video codec `video` and audio codec `audio` (the first pair: `source_`).
    driver::frame_source& rendition(std::size_t video, std::size_t audio) {
        const std::size_t index = video * std::max<std::size_t>(audio_codecs_.size(), 1) + audio;
        return index == 0 ? source_ : *renditions_[index - 1];
    }

    // A frame source, without a thread of its own, for each pair of codecs but the first.
    void make_renditions() {
        const std::size_t n = std::max<std::size_t>(codecs_.size(), 1) * std::max<std::size_t>(audio_codecs_.size(), 1);
        renditions_.clear();
        for (std::size_t i = 1; i < n; ++i)
            renditions_.push_back(std::make_unique<driver::frame_source>(driver::frame_source_options{
                options_.gop_cache, options_.gop_cache_frames, options_.gop_cache_bytes, false}));
    }

    // A publisher takes the broadcast over: players hear of it, and what the previous one left
    // (configuration, cached group, timeline) goes. The previous publisher, if any, is told to
    // stop by its `evict` (called under the lock that its own `release_publisher` takes, so it
    // is still there to hear it; `evict` must only post). Returns the claim its pushes carry.
    std::uint64_t claim_publisher(std::function<void()> evict) {
        std::lock_guard lock(publisher_mutex_);
        if (auto previous = std::exchange(evict_, std::move(evict))) previous();
        return source_.claim();
    }

    // Whether `claim` is still the broadcast's publisher.
    bool holds(std::uint64_t claim) const { return source_.holds(claim); }

    // The publisher `claim` leaves; players hear of it unless another one took over meanwhile.
    void release_publisher(std::uint64_t claim) {
        std::lock_guard lock(publisher_mutex_);
        if (!source_.holds(claim)) return;
        evict_ = nullptr;
        source_.release(claim);
    }

    const broadcast_options options_;
    std::function<bool(broadcast&)> render_;
    std::function<bool(broadcast&, encoded_frame&, bool)> frame_;
    std::vector<std::unique_ptr<video_codec>> codecs_;
    std::function<bool(broadcast&, audio_buffer&)> audio_;
    std::vector<std::unique_ptr<audio_codec>> audio_codecs_;
    std::vector<std::unique_ptr<driver::frame_source>> renditions_;  // the pairs of codecs after the first
    detail::logger log_;
    std::mutex publisher_mutex_;
    std::function<void()> evict_;  // tells the current publisher to stop
    driver::frame_source source_;
    driver::producer producer_;  // last: its thread stops before the handlers and sources go away
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/broadcast.hpp ----
// ---- include/rtmpx/stream.hpp ----
// stream: one RTMP NetStream of a connection, with its handlers, codec and frame source.

#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/post.hpp>
#include <fmt/format.h>

// ---- include/rtmpx/driver/session.hpp ----
// basic_session<Stream, Logic>: drives a sans-I/O session over an Asio stream: one reader, the only writer, deadlines.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

// ---- include/rtmpx/driver/asio_compat.hpp ----
// The one place that papers over differences between Asio versions.

#include <asio/version.hpp>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

#if ASIO_VERSION >= 102400
#include <asio/as_tuple.hpp>
#else
#include <asio/experimental/as_tuple.hpp>
#endif


RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Completion token for coroutines that want `(error_code, result...)` instead of exceptions.
#if ASIO_VERSION >= 102400
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
#else
inline constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
#endif

} // namespace detail
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/asio_compat.hpp ----
// ---- include/rtmpx/driver/send_gate.hpp ----
// Backpressure that follows the real client: the bytes the kernel holds unsent gate the frames.

#include <atomic>
#include <cstddef>
#include <type_traits>

#if defined(__linux__)
#include <linux/sockios.h>
#include <sys/ioctl.h>
#endif

#include <asio/ip/tcp.hpp>


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
// ---- end of include/rtmpx/driver/send_gate.hpp ----
// ---- include/rtmpx/driver/session_lock.hpp ----
// One connection's mutual exclusion: its executor's handlers hold it, and another thread may take
// it for a moment to write frames itself instead of waking the connection's thread.

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
// ---- end of include/rtmpx/driver/session_lock.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// What the logic a session drives may ask of its driver.
struct session_port {
    asio::any_io_executor executor;          ///< the session's executor (single-threaded)
    const send_gate* gate = nullptr;         ///< how far behind the peer is (readable from any thread)
    std::function<void()> poke;              ///< on the executor: output or deadlines changed outside `put`/`on_time`
    std::function<void()> frames_waiting;    ///< from any thread: frames wait in a subscriber's queue
    bool writes_directly = false;            ///< `frames_waiting` may write to the socket on the caller's thread
    std::weak_ptr<void> owner;               ///< the driver: lock it to outlive a wait (a coroutine)
};

/**
 * What `basic_session` drives: a sans-I/O session plus its owner's frame sources.
 * - `std::size_t put(std::span<const std::byte>, protocol::time_point)`: input; returns bytes consumed
 * - `void on_time(protocol::time_point)`, `std::optional<protocol::time_point> next_deadline()`
 * - `bool collect(bool frames_may_go)`: moves waiting frames into the output when they may go;
 *   false when frames wait for the peer
 * - `protocol::output_queue& output()`
 * - `bool closing()`, `bool flush_on_close()`, `void close(std::error_code, bool flush)`
 * - `void wrote(std::size_t bytes)`: a write completed (statistics)
 * - `void attach(session_port)`: before anything else; `void finish(std::error_code)`: after the last I/O
 */
template <class L>
concept session_logic = requires(L& l, std::span<const std::byte> in, protocol::time_point now, bool b,
                                 std::error_code ec, std::size_t n, session_port port) {
    { l.put(in, now) } -> std::same_as<std::size_t>;
    l.on_time(now);
    { l.next_deadline() } -> std::same_as<std::optional<protocol::time_point>>;
    { l.collect(b) } -> std::convertible_to<bool>;
    { l.output() } -> std::same_as<protocol::output_queue&>;
    { l.closing() } -> std::convertible_to<bool>;
    { l.flush_on_close() } -> std::convertible_to<bool>;
    l.close(ec, b);
    l.wrote(n);
    l.attach(port);
    l.finish(ec);
};

/**
 * A stream with a handshake of its own under RTMP's (TLS): `start()` runs it before the session
 * reads or writes, `finish(bound)` ends it politely (close_notify) within `bound`, and
 * `is_ordinary_end(ec)` tells which read errors are a peer's ordinary end.
 */
template <class S>
concept layered_stream = requires(S& s, std::chrono::milliseconds bound, std::error_code ec) {
    { s.start() } -> std::same_as<asio::awaitable<std::error_code>>;
    { s.finish(bound) } -> std::same_as<asio::awaitable<void>>;
    { S::is_ordinary_end(ec) } -> std::convertible_to<bool>;
};

/// Whether the writer may try a write at once on the non-blocking socket (not through TLS: a
/// record must not be cut by a socket that is full).
template <class S>
constexpr bool writes_at_once() {
    if constexpr (requires { S::immediate_writes; }) return S::immediate_writes;
    else return true;
}

/// I/O settings of a session.
struct session_io_options {
    std::chrono::milliseconds write_timeout{10'000};  ///< a write that makes no progress ends the session
    std::chrono::milliseconds close_timeout{2'000};   ///< TLS: how long the close_notify at the end may take
    std::size_t socket_unsent_limit = 64u << 10;      ///< kernel-held unsent bytes above which frames wait
    std::size_t outqueue_full_bytes = 128u << 10;     ///< unsent bytes at which producers hear `outqueue_is_full`
};

/**
 * Runs one connection: `Stream` is the transport (a TCP or local socket, or TLS over TCP: see
 * `layered_stream`), `Logic` the session with its owner (see `session_logic`). Everything happens on the stream's executor:
 * - one **reader** feeds the session what arrives;
 * - the **writer** is the only code that writes to the stream: it gathers everything queued into
 *   one write and tries it at once on the non-blocking socket; only what the socket does not
 *   take waits in an asynchronous write. Frames that arrive while it sleeps are written from the
 *   frames-waiting handler the same way, without waking it;
 * - one **deadline timer** follows the session's `next_deadline()` (and the write timeout);
 * - the **send gate** holds frames back while the kernel holds too many unsent bytes.
 *
 * Frames queued from another thread (a frame source) wake the writer with one post per burst;
 * with a lock (`set_lock`), the queuing thread instead takes the lock, and when the
 * writer is idle writes the frames itself, as far as the socket takes them at once (the writer
 * takes over the rest): the session's thread then does not wake for frames at all.
 *
 * The session ends when the logic is closing: at once, or after the queue is written (a flush;
 * a peer that half-closes still gets its replies). Then `Logic::finish` runs.
 *
 * Lifetime: owned by a `std::shared_ptr`; `run` keeps it alive until the session has ended.
 */
template <class Stream, class Logic>
class basic_session : public std::enable_shared_from_this<basic_session<Stream, Logic>> {
public:
    template <class... Args>
    basic_session(Stream stream, session_io_options io, Args&&... logic_args)
        : stream_(std::move(stream)),
          io_(io),
          gate_(io.socket_unsent_limit, io.outqueue_full_bytes),
          wake_(stream_.get_executor()),
          deadline_(stream_.get_executor()),
          writer_done_(stream_.get_executor()),
          logic_(std::forward<Args>(logic_args)...) {
        static_assert(session_logic<Logic>, "basic_session: Logic does not satisfy driver::session_logic");
    }

    basic_session(const basic_session&) = delete;
    basic_session& operator=(const basic_session&) = delete;

    Logic& logic() noexcept { return logic_; }

    /// Before `run`: the lock every handler of the session runs under (its executor is a
    /// `locking_executor` with it). With one, a thread that queued frames writes them itself
    /// when the writer is idle.
    void set_lock(std::shared_ptr<session_lock> lock) noexcept { lock_ = std::move(lock); }
    Stream& stream() noexcept { return stream_; }

    /// The whole session, until it ends and `Logic::finish` has run. Coroutine.
    asio::awaitable<void> run() {
        auto self = this->shared_from_this();
        std::weak_ptr<basic_session> weak = self;
        logic_.attach(session_port{
            stream_.get_executor(), &gate_, [this] { after_activity(); },
            [weak] {
                auto s = weak.lock();
                if (!s || s->write_directly()) return;
                if (!s->wake_posted_.exchange(true, std::memory_order_acq_rel))
                    asio::post(s->stream_.get_executor(), [s] { s->frames_waiting(); });
            },
            lock_ != nullptr && writes_at_once<Stream>(), weak});
        std::error_code ignored;
        stream_.lowest_layer().non_blocking(true, ignored);  // for the immediate writes; async operations are unaffected
        asio::co_spawn(stream_.get_executor(), deadline_loop(), [self](std::exception_ptr e) {
            if (!e) return;
            self->logic_.close(std::make_error_code(std::errc::state_not_recoverable), false);
            self->after_activity();
        });
        if constexpr (layered_stream<Stream>) {
            // The lower layer's handshake first (TLS); the session's own handshake deadline covers it.
            const std::error_code ec = co_await stream_.start();
            if (ec) logic_.close(ec, false);
            if (logic_.closing()) {
                done_ = true;
                deadline_.cancel();
                close_stream();
                logic_.finish(ec);
                co_return;
            }
        }
        writer_running_ = true;
        asio::co_spawn(stream_.get_executor(), write_loop(), [self](std::exception_ptr e) {
            self->writer_ended(e);
        });
        const std::error_code ec = co_await read_loop();
        logic_.close(ec, ec ? false : true);  // the peer's end (or half-close): send what is queued first
        after_activity();
        if (writer_running_) {
            writer_done_.expires_at(protocol::time_point::max());
            co_await writer_done_.async_wait(detail::use_tuple);
        }
        done_ = true;
        deadline_.cancel();
        if constexpr (layered_stream<Stream>) {
            if (polite_end_ && stream_.lowest_layer().is_open()) co_await stream_.finish(io_.close_timeout);
        }
        close_stream();
        logic_.finish(ec);
    }

private:
    using clock = std::chrono::steady_clock;
    static constexpr auto congestion_recheck = std::chrono::milliseconds(10);

    // ---- reading -------------------------------------------------------------------------------

    asio::awaitable<std::error_code> read_loop() {
        for (;;) {
            // Small to start (players send only commands, and a handshake packet fits); the
            // session consumes as it goes, so the buffer grows only while one read brings more.
            if (rbuf_.size() - rlen_ < 512) rbuf_.resize(std::max<std::size_t>(rbuf_.size() * 2, 2048));
            auto [ec, n] = co_await stream_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                                                            detail::use_tuple);
            if (logic_.closing()) co_return std::error_code{};
            if (ec) {
                if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return std::error_code{};
                if constexpr (layered_stream<Stream>) {
                    if (Stream::is_ordinary_end(ec)) co_return std::error_code{};
                }
                co_return ec;
            }
            rlen_ += n;
            const std::size_t used = logic_.put(std::span<const std::byte>(rbuf_.data(), rlen_), clock::now());
            std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(used), rbuf_.begin() + static_cast<std::ptrdiff_t>(rlen_),
                      rbuf_.begin());
            rlen_ -= used;
            after_activity();
            if (logic_.closing()) co_return std::error_code{};
        }
    }

    // The logic did something (input, time, a handler): close at once if it asks to, follow an
    // earlier deadline, and let the writer see new output.
    void after_activity() {
        if (logic_.closing() && !logic_.flush_on_close()) close_stream();
        rearm();
        if (logic_.output().has_pending() || logic_.closing()) wake_.cancel();
    }

    // ---- deadlines -----------------------------------------------------------------------------

    std::optional<protocol::time_point> next_deadline() {
        auto next = logic_.next_deadline();
        if (write_deadline_ && (!next || *write_deadline_ < *next)) next = write_deadline_;
        return next;
    }

    void rearm() {
        const auto next = next_deadline();
        if (next && *next < armed_) deadline_.cancel();  // the loop re-arms earlier
    }

    asio::awaitable<void> deadline_loop() {
        while (!done_) {
            armed_ = next_deadline().value_or(protocol::time_point::max());
            deadline_.expires_at(armed_);
            co_await deadline_.async_wait(detail::use_tuple);
            armed_ = protocol::time_point::max();
            if (done_) break;
            const auto now = clock::now();
            if (write_deadline_ && *write_deadline_ <= now) {  // a write that makes no progress
                write_deadline_.reset();
                logic_.close(make_error_code(error::write_timeout), false);
                close_stream();
            }
            logic_.on_time(now);
            after_activity();
        }
    }

    // ---- writing -------------------------------------------------------------------------------

    // Drops the first `n` bytes of a buffer sequence.
    static void consume_buffers(std::vector<asio::const_buffer>& buffers, std::size_t n) {
        auto it = buffers.begin();
        for (; it != buffers.end() && n >= it->size(); ++it) n -= it->size();
        buffers.erase(buffers.begin(), it);
        if (!buffers.empty()) buffers.front() += n;
    }

    // Collects what is ready into one gathered write and writes it at once, as far as the socket
    // takes it; the rest stays in `unwritten_` for the writer's asynchronous write. Returns false
    // when frames wait because the peer is behind.
    bool write_ready() {
        const bool flowing = logic_.collect(!logic_.closing() && gate_.open(stream_.lowest_layer()));
        auto& out = logic_.output();
        if (out.has_pending() && stream_.lowest_layer().is_open()) {
            const auto& batch = out.begin_write();
            unwritten_.clear();
            batch.for_each_buffer([&](std::span<const std::byte> b) { unwritten_.emplace_back(b.data(), b.size()); });
            std::error_code ec;
            std::size_t n = 0;
            if constexpr (writes_at_once<Stream>()) n = stream_.write_some(unwritten_, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
            wrote(n);
            if (ec) {
                unwritten_.clear();
                out.end_write();
                logic_.close(ec, false);
                close_stream();
            } else {
                consume_buffers(unwritten_, n);
                if (unwritten_.empty()) out.end_write();
            }
        }
        gate_.set_queued(out.unwritten_bytes());
        return flowing;
    }

    void wrote(std::size_t n) {
        gate_.wrote(n);
        logic_.wrote(n);
    }

    asio::awaitable<void> write_loop() {
        bool failed = false;
        for (;;) {
            if (!unwritten_.empty()) {
                write_deadline_ = clock::now() + io_.write_timeout;
                rearm();
                auto [ec, n] = co_await asio::async_write(stream_, unwritten_, detail::use_tuple);
                write_deadline_.reset();
                wrote(n);
                unwritten_.clear();
                logic_.output().end_write();
                gate_.set_queued(logic_.output().unwritten_bytes());
                if (ec) {
                    logic_.close(ec, false);
                    failed = true;
                    break;
                }
            }
            const bool flowing = write_ready();
            if (!unwritten_.empty()) continue;
            if (logic_.closing() || !stream_.lowest_layer().is_open()) break;
            // Nothing to write: sleep until woken; while the peer is behind, look again shortly
            // (the kernel tells no one when its unsent bytes go down).
            wake_.expires_at(flowing ? protocol::time_point::max() : clock::now() + congestion_recheck);
            writer_asleep_ = true;
            co_await wake_.async_wait(detail::use_tuple);
            writer_asleep_ = false;
        }
        if constexpr (layered_stream<Stream>) {
            // After a flush: the reader sees the end (the socket still sends), and `run` ends the
            // lower layer politely.
            if (!failed && logic_.closing() && stream_.lowest_layer().is_open()) {
                polite_end_ = true;
                std::error_code ignored;
                stream_.lowest_layer().shutdown(asio::socket_base::shutdown_receive, ignored);
                co_return;
            }
        }
        (void)failed;
        close_stream();  // after a flush: the reader sees the end and the session finishes
    }

    void writer_ended(std::exception_ptr e) {
        if (e) logic_.close(std::make_error_code(std::errc::state_not_recoverable), false);
        writer_running_ = false;
        if (e || !polite_end_) close_stream();
        writer_done_.cancel();
    }

    // Posted when a subscriber queued frames.
    void frames_waiting() {
        // An exchange, not a store: it orders this against the queues read below, so that a frame
        // whose producer saw the flag still set is seen here (a store may pass those reads).
        wake_posted_.exchange(false, std::memory_order_acq_rel);
        write_or_wake();
    }

    // Frames wait: written at once if the writer sleeps with nothing queued, else the writer's.
    void write_or_wake() {
        if (writer_asleep_ && unwritten_.empty() && !logic_.closing()) {
            // The writer sleeps with nothing queued: write from here, and wake it only if the
            // socket did not take everything or the peer is behind.
            if (write_ready() && unwritten_.empty()) return;
        }
        wake_.cancel();
    }

    // From a thread that queued frames: under the session's lock (when no other thread holds
    // it), what the posted `frames_waiting` would do. False when it could not take the lock.
    bool write_directly() {
        if constexpr (!writes_at_once<Stream>()) {
            return false;
        } else {
            if (!lock_ || !lock_->try_take()) return false;
            std::lock_guard<session_lock> held(*lock_, std::adopt_lock);
            if (done_) return true;
            write_or_wake();
            return true;
        }
    }

    void close_stream() {
        auto& socket = stream_.lowest_layer();
        if (!socket.is_open()) return;
        std::error_code ignored;
        if constexpr (requires { socket.shutdown(asio::socket_base::shutdown_both, ignored); })
            socket.shutdown(asio::socket_base::shutdown_both, ignored);
        socket.close(ignored);
        wake_.cancel();
    }

    Stream stream_;
    const session_io_options io_;
    std::shared_ptr<session_lock> lock_;
    send_gate gate_;
    asio::steady_timer wake_;
    asio::steady_timer deadline_;
    asio::steady_timer writer_done_;
    std::vector<std::byte> rbuf_;
    std::size_t rlen_ = 0;
    std::vector<asio::const_buffer> unwritten_;  // the part of the gathered write the socket has not taken
    std::optional<protocol::time_point> write_deadline_;
    protocol::time_point armed_ = protocol::time_point::max();
    std::atomic<bool> wake_posted_{false};
    bool writer_asleep_ = false;
    bool writer_running_ = false;
    bool done_ = false;
    bool polite_end_ = false;  // the writer flushed everything: the lower layer may end politely
    Logic logic_;
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/session.hpp ----
// ---- include/rtmpx/impl/server_state.hpp ----
// What every connection of one server shares: options, the log, codecs, connect handlers, totals.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>


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
// ---- end of include/rtmpx/impl/server_state.hpp ----

RTMPX_NAMESPACE_BEGIN

/**
 * One NetStream of a connection: created by `createStream`, then played by `play` or published
 * by `publish`.
 *
 * A stream handler registers the stream's render, frame, play and pause handlers and may choose
 * a codec. While the stream plays, the render handler runs on the connection's thread at the
 * render rate and the frame handler on the stream's own frame thread at the same rate. A stream
 * that plays a broadcast instead gets the broadcast's frames.
 *
 * Thread: the connection's thread, except where a member says otherwise. From the frame thread
 * the frame handler may call `id`, `name`, `codec`, `property`, `render_rate`, `frames_sent`,
 * `frames_dropped` and `connection_id`.
 * Lifetime: a `stream&` is valid during the handler call it is passed to.
 */
class stream : public std::enable_shared_from_this<stream> {
public:
    /// Made by the connection on `createStream`.
    stream(class connection& conn, std::shared_ptr<detail::server_state> server, std::uint32_t id, std::uint64_t connection_id)
        : connection_(conn),
          server_(std::move(server)),
          id_(id),
          connection_id_(connection_id),
          render_rate_(server_->options.default_render_rate) {}
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    ~stream() { stop_media(); }

    /// The message stream id the client uses for this stream (never 0).
    std::uint32_t id() const noexcept { return id_; }
    /// The name the client passed to `play` or `publish` (empty before). Thread: any, once playing.
    const std::string& name() const noexcept { return name_; }
    /// The connection this stream belongs to (to register more call handlers, ...).
    class connection& connection() noexcept { return connection_; }
    /// Whether `play` was honoured and the stream has not stopped since.
    bool playing() const noexcept { return playing_; }
    /// Whether an honoured pause is in effect.
    bool paused() const noexcept { return paused_.load(std::memory_order_relaxed); }
    /// Whether a `publish` was accepted and has not ended since.
    bool publishing() const noexcept { return publishing_; }

    /// Registers the render handler; `nullptr` removes it. Takes effect at the next play.
    template <class F>
    void on_render(F handler) {
        static_assert(render_handler<F, stream>, "on_render: expected bool (stream&)");
        render_ = std::move(handler);
    }
    void on_render(std::nullptr_t) { render_ = nullptr; }

    /// Registers the frame handler; `nullptr` removes it. Takes effect at the next play.
    template <class F>
    void on_frame(F handler) {
        static_assert(frame_handler<F, stream>, "on_frame: expected bool (stream&, encoded_frame& out, bool outqueue_is_full)");
        frame_ = std::move(handler);
    }
    void on_frame(std::nullptr_t) { frame_ = nullptr; }

    /// Registers the play handler; `nullptr` removes it (play is then always allowed).
    template <class F>
    void on_play(F handler) {
        static_assert(play_handler<F>, "on_play: expected bool (stream&, play_event&)");
        play_ = std::move(handler);
    }
    void on_play(std::nullptr_t) { play_ = nullptr; }

    /// Registers the pause handler; `nullptr` removes it (pause is then always honoured).
    template <class F>
    void on_pause(F handler) {
        static_assert(pause_handler<F>, "on_pause: expected bool (stream&, pause_event const&)");
        pause_ = std::move(handler);
    }
    void on_pause(std::nullptr_t) { pause_ = nullptr; }

    /// Registers the publish handler; `nullptr` removes it (publishing is then refused).
    template <class F>
    void on_publish(F handler) {
        static_assert(publish_handler<F>, "on_publish: expected bool (stream&, publish_event&)");
        publish_ = std::move(handler);
    }
    void on_publish(std::nullptr_t) { publish_ = nullptr; }

    /// Registers the media handler, told every message of an accepted publish; `nullptr` removes it.
    template <class F>
    void on_media(F handler) {
        static_assert(media_handler<F>, "on_media: expected void (stream&, media_event const&)");
        media_ = [h = std::move(handler)](stream& s, const media_event& e) mutable { h(s, e); };
    }
    void on_media(std::nullptr_t) { media_ = nullptr; }

    /**
     * Feeds what this stream publishes to `target`, whose players then watch it: call it in the
     * publish handler (it takes effect for that publish). The stream takes the broadcast over
     * from any publisher feeding it now (that one's connection is closed with
     * `error::publisher_replaced`); when the publish ends, players get
     * NetStream.Play.UnpublishNotify and stay. `nullptr`: the publish feeds no broadcast.
     */
    void publish_to(std::shared_ptr<broadcast> target) { publish_target_ = std::move(target); }

    /// Messages received from this stream's publishes.
    std::uint64_t messages_published() const noexcept { return messages_published_; }
    /// Of those, the ones no broadcast got because another publisher had taken it over.
    std::uint64_t messages_dropped() const noexcept { return messages_dropped_; }

    /**
     * Chooses the video codec by name ("h264", or any name registered with the server's codec
     * registry). False when no codec has that name; the stream then keeps its previous choice.
     * With no codec, the frame handler's bytes are sent as they are (a complete FLV video tag body).
     * Call it while the stream does not play (in the stream or play handler): a playing stream's
     * frame thread uses the codec.
     */
    bool use_codec(std::string_view name) {
        auto codec = server_->codecs.make(name);
        if (!codec) return false;
        codec_ = std::move(codec);
        return true;
    }

    /**
     * As `use_codec(name)`, and prepares the encoder for `width` x `height` pictures of `format`
     * at once (`video_codec::prepare`), so that the first frame after play costs one encode
     * instead of an initialisation and a cold first picture. False when no codec has that name
     * or the encoder refuses the size; the stream then keeps its previous choice.
     */
    bool use_codec(std::string_view name, std::uint32_t width, std::uint32_t height,
                   pixel_format format = pixel_format::rgba) {
        auto codec = server_->codecs.make(name);
        if (!codec || codec->prepare(width, height, format)) return false;
        codec_ = std::move(codec);
        return true;
    }

    /**
     * Plays `source` instead of the stream's own render and frame handlers: the stream gets the
     * broadcast's frames (encoded once for all its players) into a queue of its own. Takes effect
     * at the next play; `nullptr` goes back to the stream's own handlers.
     */
    void use_broadcast(std::shared_ptr<broadcast> source) { broadcast_ = std::move(source); }

    /// The broadcast the stream plays, or null.
    broadcast* playing_broadcast() const noexcept { return broadcast_.get(); }

    /// The stream's own encoder, or null when no codec was chosen.
    video_codec* codec() noexcept { return codec_.get(); }

    /**
     * Sets a property. `render_rate` (calls per second, a positive number up to the server's
     * maximum) takes effect at the next tick; user keys start with `user_`.
     * Errors: `error::invalid_property` for another key, `error::invalid_property_value` for a
     * bad render rate; nothing changes then.
     */
    std::error_code set_property(std::string_view key, std::string_view value) {
        if (key == "render_rate") {
            double rate = 0;
            const auto* end = value.data() + value.size();
            auto [ptr, ec] = std::from_chars(value.data(), end, rate);
            if (ec != std::errc() || ptr != end || !(rate > 0) || rate > server_->options.max_render_rate)
                return error::invalid_property_value;
            render_rate_.store(rate, std::memory_order_relaxed);
            return {};
        }
        if (key.substr(0, 5) != "user_") return error::invalid_property;
        std::lock_guard lock(properties_mutex_);
        properties_[std::string(key)] = std::string(value);
        return {};
    }

    /// A property's value: `render_rate` or a user key. Thread: any.
    std::optional<std::string> property(std::string_view key) const {
        if (key == "render_rate") return fmt::format("{}", render_rate());
        std::lock_guard lock(properties_mutex_);
        auto it = properties_.find(key);
        if (it == properties_.end()) return std::nullopt;
        return it->second;
    }

    /// Render (and frame) calls per second. Thread: any.
    double render_rate() const noexcept { return render_rate_.load(std::memory_order_relaxed); }

    /// Frames handed to the writer and frames dropped under backpressure. Thread: any.
    std::uint64_t frames_sent() const noexcept { return frames_sent_.load(std::memory_order_relaxed); }
    std::uint64_t frames_dropped() const noexcept { return frames_dropped_.load(std::memory_order_relaxed); }

    /// The id of the connection, for logs. Thread: any.
    std::uint64_t connection_id() const noexcept { return connection_id_; }

private:
    friend class connection;

    // The render tick the frame source posts to the connection's thread; a tick that finds the
    // previous one still waiting is skipped (a busy connection gets no backlog of renders).
    struct render_ticket {
        std::atomic<bool> pending{false};
    };

    std::string subject() const { return fmt::format("stream {}", id_); }

    // ---- media, on the connection's thread ------------------------------------------------------

    // Play starts: the stream subscribes to its broadcast, or to a frame source of its own (its
    // render and frame handlers at the render rate, on a frame thread); of a broadcast with several
    // codecs, the frames in those the client declared (`caps`). `fail` is called on the
    // connection's thread when a handler fails.
    void start_media(std::string name, const driver::session_port& port, const protocol::enhanced::capabilities& caps,
                     std::function<void()> fail) {
        stop_media();
        name_ = std::move(name);
        playing_ = true;
        paused_.store(false, std::memory_order_relaxed);
        ++play_generation_;
        fail_ = std::move(fail);
        server_->playing_streams.fetch_add(1, std::memory_order_relaxed);
        driver::frame_source* source = nullptr;
        std::size_t queue_frames = server_->options.frame_queue_frames;
        if (broadcast_) {
            playing_broadcast_ = broadcast_;  // alive until the play ends, whatever use_broadcast does
            source = &playing_broadcast_->source_for(caps);  // the codecs the player takes
            queue_frames = playing_broadcast_->options().player_queue_frames;
        } else if (render_ || frame_) {
            // One subscriber, so its drops may ask the codec for a key frame, and the producer
            // rests while nobody takes frames (a paused player).
            own_ = std::make_unique<driver::frame_source>(driver::frame_source_options{false, 0, 0, true});
            producer_ = std::make_unique<driver::producer>(true);
            set_hooks(*producer_, port);
            producer_->set_renditions({codec_.get()}, {}, {{own_.get(), 0, 0}});
            producer_->set_log(&server_->log, connection_id_, subject());
            source = own_.get();
        }
        if (!source) return;
        sub_ = std::make_shared<driver::subscriber>(queue_frames);
        sub_->wake = port.frames_waiting;
        sub_->wake_writes = port.writes_directly;
        sub_->congested = [gate = port.gate] { return gate->congested(); };
        sub_->dropped = &frames_dropped_;
        sub_->dropped_total = &server_->frames_dropped;
        source_ = source;
        join_ = source->subscribe(sub_);  // written after the replies to play
        if (producer_) producer_->start();
    }

    void set_hooks(driver::producer& producer, const driver::session_port& port) {
        driver::producer::render_hook render;
        driver::producer::frame_hook frame;
        if (render_) {
            render = [ticket = std::make_shared<render_ticket>(), weak = weak_from_this(), exec = port.executor,
                      gen = play_generation_] {
                if (!ticket->pending.exchange(true, std::memory_order_acq_rel))
                    asio::post(exec, [ticket, weak, gen] {
                        ticket->pending.store(false, std::memory_order_release);
                        if (auto self = weak.lock()) self->render_tick(gen);
                    });
                return true;
            };
        }
        if (frame_)  // a copy: on_frame during the play takes effect at the next one
            frame = [this, handler = frame_](encoded_frame& out, bool full) { return static_cast<bool>(handler(*this, out, full)); };
        producer.set_hooks(std::move(render), std::move(frame), [this] { return render_rate(); });
    }

    // On the connection's thread: one render call, unless the play it was made for is over.
    void render_tick(std::uint64_t generation) {
        if (!playing_ || generation != play_generation_ || paused() || !render_) return;
        const auto ok = detail::guarded_call(server_->log, connection_id_, "render", subject(),
                                             [&] { return static_cast<bool>(render_(*this)); });
        if (ok && *ok) return;
        if (ok)
            server_->log.log(log_level::warning, connection_id_, "render", error::handler_failed,
                             "render handler of {} returned false", subject());
        if (auto fail = fail_) fail();  // a copy: failing stops the media, which clears fail_
    }

    // Play stops: the frame thread (if any) ends, the subscription goes, queued frames go.
    void stop_media() {
        if (!playing_) return;
        playing_ = false;
        server_->playing_streams.fetch_sub(1, std::memory_order_relaxed);
        if (producer_) producer_->stop();
        if (source_ && sub_) source_->unsubscribe(sub_.get());
        producer_.reset();
        own_.reset();
        source_ = nullptr;
        playing_broadcast_.reset();
        sub_.reset();
        join_.clear();
        fail_ = nullptr;
    }

    // ---- publishing, on the connection's thread -------------------------------------------------

    // A publish: the handler decides (none: refused); accepted, the stream feeds its target.
    // `evict` ends this publisher from any thread, should another take the target over.
    bool begin_publish(protocol::publish_request& request, const connect_command& connect, std::function<void()> evict) {
        if (!publish_) {
            request.refusal = "NetStream.Publish.Denied";
            request.description = "This server takes no published streams.";
            return false;
        }
        const std::string_view full = request.stream_name;
        const auto mark = full.find('?');
        publish_event ev{true, full.substr(0, mark), mark == std::string_view::npos ? std::string_view{} : full.substr(mark + 1),
                         request.type, connect, publish_refusal::bad_name, {}};
        publish_target_.reset();
        const auto ok = detail::guarded_call(server_->log, connection_id_, "publish", subject(),
                                             [&] { return static_cast<bool>(publish_(*this, ev)); });
        if (!ok || !*ok) {
            static constexpr const char* codes[] = {"NetStream.Publish.BadName", "NetStream.Publish.Denied", "NetStream.Publish.Rejected"};
            request.refusal = codes[static_cast<int>(ev.refusal)];
            request.description = std::move(ev.description);
            publish_target_.reset();
            return false;
        }
        name_ = std::string(ev.stream_name);
        publishing_ = true;
        server_->publishing_streams.fetch_add(1, std::memory_order_relaxed);
        if (publish_target_) claim_ = publish_target_->claim_publisher(std::move(evict));
        return true;
    }

    // One message of the publish: the media handler, then the broadcast.
    void published(protocol::media_in& m) {
        if (!publishing_) return;
        ++messages_published_;
        if (media_) {
            const media_event ev{m.type, m.timestamp.value(), m.payload};
            detail::guarded_call(server_->log, connection_id_, "media", subject(), [&] {
                media_(*this, ev);
                return true;
            });
        }
        if (publish_target_ && !detail::push_media(publish_target_->source(), m, claim_))
            ++messages_dropped_;  // another publisher took the broadcast over
    }

    // The publish ends: the handler hears of it, the broadcast's players too.
    void end_publish(const connect_command& connect) {
        if (!publishing_) return;
        publishing_ = false;
        server_->publishing_streams.fetch_sub(1, std::memory_order_relaxed);
        if (publish_target_) publish_target_->release_publisher(claim_);
        publish_target_.reset();
        if (!publish_) return;
        publish_event ev{false, name_, {}, {}, connect, publish_refusal::bad_name, {}};
        detail::guarded_call(server_->log, connection_id_, "publish", subject(), [&] { return static_cast<bool>(publish_(*this, ev)); });
    }

    // Pause stops frames (and an own source's handlers); resume asks for a key frame.
    void set_paused(bool pause) {
        paused_.store(pause, std::memory_order_relaxed);
        if (sub_) sub_->paused.store(pause, std::memory_order_relaxed);
        if (pause || !source_) return;
        source_->request_key_frame();
    }

    // Whether the stream's producer failed (its frames ended).
    bool media_failed() const noexcept { return sub_ && sub_->failed.load(std::memory_order_relaxed); }

    /**
     * Hands the waiting frames to `send(const protocol::shared_frame&) -> bool` (false: dropped
     * for want of a key frame) when `may_go`; returns false when frames wait for the client.
     */
    template <class Send>
    bool collect(bool may_go, Send&& send) {
        if (!sub_) return true;
        if (paused()) {
            join_.clear();
            sub_->discard();
            return true;
        }
        if (!may_go) return sub_->queue.front() == nullptr && join_.empty() && !sub_->has_news.load(std::memory_order_acquire);
        for (const auto& f : join_) count(send(f));
        join_.clear();
        sub_->drain([&](const protocol::shared_frame& f) {
            if (f->is_media()) {
                count(send(f));
            } else {
                send(f);  // news of the publisher: not a frame
            }
        });
        return true;
    }

    void count(bool sent) noexcept {
        if (sent) {
            frames_sent_.fetch_add(1, std::memory_order_relaxed);
            server_->frames_sent.fetch_add(1, std::memory_order_relaxed);
        } else {
            frames_dropped_.fetch_add(1, std::memory_order_relaxed);
            server_->frames_dropped.fetch_add(1, std::memory_order_relaxed);
        }
    }

    class connection& connection_;
    const std::shared_ptr<detail::server_state> server_;
    const std::uint32_t id_;
    const std::uint64_t connection_id_;
    std::string name_;
    bool playing_ = false;
    std::atomic<bool> paused_{false};
    std::atomic<double> render_rate_;

    std::function<bool(stream&)> render_;
    std::function<bool(stream&, encoded_frame&, bool)> frame_;
    std::function<bool(stream&, play_event&)> play_;
    std::function<bool(stream&, const pause_event&)> pause_;
    std::function<bool(stream&, publish_event&)> publish_;
    std::function<void(stream&, const media_event&)> media_;
    std::unique_ptr<video_codec> codec_;
    std::shared_ptr<broadcast> broadcast_;

    mutable std::mutex properties_mutex_;
    std::map<std::string, std::string, std::less<>> properties_;

    std::atomic<std::uint64_t> frames_sent_{0};
    std::atomic<std::uint64_t> frames_dropped_{0};

    // While playing.
    std::uint64_t play_generation_ = 0;
    std::unique_ptr<driver::frame_source> own_;  // the stream's own frames
    std::unique_ptr<driver::producer> producer_;  // and the thread that makes them
    driver::frame_source* source_ = nullptr;     // own_, or the broadcast's
    std::shared_ptr<broadcast> playing_broadcast_;  // the broadcast this play subscribed to
    std::shared_ptr<driver::subscriber> sub_;
    std::vector<protocol::shared_frame> join_;   // the cached group, for a joining player
    std::function<void()> fail_;

    // While publishing.
    bool publishing_ = false;
    std::shared_ptr<broadcast> publish_target_;
    std::uint64_t claim_ = 0;
    std::uint64_t messages_published_ = 0;
    std::uint64_t messages_dropped_ = 0;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/stream.hpp ----
// ---- include/rtmpx/connection.hpp ----
// connection: one client, as its handlers see it; the protocol rules live in its server session.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>


RTMPX_NAMESPACE_BEGIN

/**
 * One client connection. Its handlers run on the connection's thread (its own, or a pool
 * thread's), except frame handlers (see `stream`). The protocol itself is the connection's
 * `protocol::server_session`; the I/O is a `driver::basic_session` that owns the connection.
 *
 * Lifetime: a `connection&` passed to a handler is valid during that call (and across the
 * suspensions of a coroutine call handler).
 */
class connection {
public:
    connection(std::shared_ptr<detail::server_state> server, std::uint64_t id, std::string peer, protocol::time_point now,
               std::uint64_t random_seed)
        : server_(std::move(server)),
          id_(id),
          peer_(std::move(peer)),
          session_(*this, server_->options, now, random_seed ^ id) {}

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// A number unique within the process, for logs.
    std::uint64_t id() const noexcept { return id_; }
    /// The client's address, "ip:port".
    const std::string& peer_address() const noexcept { return peer_; }
    /// The `connect` command that opened this connection (empty before it).
    const connect_command& connect_info() const noexcept { return connect_; }
    /// The server's options.
    const server_options& options() const noexcept { return server_->options; }
    /// The executor all of this connection's handlers (but frame handlers) run on.
    const asio::any_io_executor& get_executor() const noexcept { return port_.executor; }

    /// Registers the stream handler, asked on every `createStream`; `nullptr` removes it (every
    /// stream is then allowed, with no handlers).
    template <class F>
    void on_stream(F handler) {
        static_assert(stream_handler<F>, "on_stream: expected bool (stream&, stream_event const&)");
        stream_handler_ = std::move(handler);
    }
    void on_stream(std::nullptr_t) { stream_handler_ = nullptr; }

    /// Registers a handler for the remote procedure `name`; `nullptr` removes it.
    template <class F>
    void on_call(std::string name, F handler) {
        static_assert(call_handler<F>,
                      "on_call: expected bool or awaitable<bool> (connection&, call_event const&, amf0::value& response)");
        call_handlers_[std::move(name)] = wrap_call(std::move(handler));
    }
    void on_call(std::string_view name, std::nullptr_t) {
        if (auto it = call_handlers_.find(name); it != call_handlers_.end()) call_handlers_.erase(it);
    }
    /// Registers the default handler, for calls no named handler takes; `nullptr` removes it.
    template <class F>
    void on_call(F handler) {
        static_assert(call_handler<F>,
                      "on_call: expected bool or awaitable<bool> (connection&, call_event const&, amf0::value& response)");
        default_call_ = wrap_call(std::move(handler));
    }
    void on_call(std::nullptr_t) { default_call_ = nullptr; }

    /**
     * Calls procedure `name` on the client and waits for its `_result` or `_error`, at most
     * `options().timeouts.call`. Coroutine; run it on `get_executor()` (for instance with
     * `asio::co_spawn`), or `co_await` it from a coroutine call handler.
     * Errors (in `call_result::error`): `error::call_timeout`, `error::too_many_pending_calls`,
     * `error::shutdown` when the connection ends first.
     */
    template <class... Args>
    asio::awaitable<call_result> call(std::string name, Args&&... args) {
        return call_with_timeout(std::move(name), {amf0::value(std::forward<Args>(args))...}, options().timeouts.call);
    }

    /// `call` with explicit arguments and timeout. Coroutine.
    asio::awaitable<call_result> call_with_timeout(std::string name, std::vector<amf0::value> args,
                                                   std::chrono::milliseconds timeout) {
        auto keep = port_.owner.lock();  // the connection outlives the wait
        std::error_code ec;
        const double txn =
            session_.call(std::move(name), std::move(args), std::chrono::steady_clock::now() + timeout, ec);
        if (ec) co_return call_result{ec, false, {}, {}};
        port_.poke();
        waiting_call call{asio::steady_timer(port_.executor, protocol::time_point::max()), std::nullopt};
        waiting_calls_[txn] = &call;
        co_await call.timer.async_wait(detail::use_tuple);
        waiting_calls_.erase(txn);
        if (!call.result) co_return call_result{error::shutdown, false, {}, {}};
        co_return std::move(*call.result);
    }

    /// Sends `name(args...)` to the client without expecting an answer (transaction id 0).
    template <class... Args>
    void notify(std::string name, Args&&... args) {
        session_.notify(std::move(name), {amf0::value(std::forward<Args>(args))...});
        port_.poke();
    }

    /// The stream with message stream id `id`, or null. The pointer is valid during the handler
    /// call it was obtained in.
    stream* find_stream(std::uint32_t id) noexcept {
        for (auto& s : streams_)
            if (s->id() == id) return s.get();
        return nullptr;
    }

    /// Sets a connection property (any key).
    void set_property(std::string key, std::string value) { properties_[std::move(key)] = std::move(value); }
    /// A connection property, if set.
    std::optional<std::string> property(std::string_view key) const {
        auto it = properties_.find(key);
        if (it == properties_.end()) return std::nullopt;
        return it->second;
    }

    /// Figures about this connection.
    connection_statistics statistics() const {
        connection_statistics s;
        s.bytes_in = session_.bytes_in();
        s.bytes_out = bytes_out_;
        s.messages_in = session_.messages_in();
        s.messages_out = session_.output().messages();
        s.writes = writes_;
        s.queued_bytes = port_.gate ? port_.gate->queued_bytes() : 0;
        s.streams = streams_.size();
        s.frames_sent = closed_frames_sent_;
        s.frames_dropped = closed_frames_dropped_;
        for (const auto& st : streams_) {
            s.frames_sent += st->frames_sent();
            s.frames_dropped += st->frames_dropped();
            if (st->playing()) ++s.playing_streams;
            if (st->publishing()) ++s.publishing_streams;
        }
        s.media_in = media_in_;
        s.media_dropped = session_.media_dropped();
        s.chunk_size_in = session_.chunk_size_in();
        s.chunk_size_out = session_.output().chunk_size();
        s.acknowledged_bytes = session_.acknowledged();
        s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - session_.started());
        s.round_trip = session_.round_trip();
        return s;
    }

    /// Ends the connection: what is queued is still written, then it closes. Thread: the
    /// connection's (post to `get_executor()` from elsewhere).
    void close(std::error_code reason = {}) {
        session_.close(reason, true);
        if (port_.poke) port_.poke();
    }

private:
    template <class H>
    friend class protocol::server_session;
    template <class S>
    friend class protocol::server_streams;
    template <class S, class L>
    friend class driver::basic_session;
    template <class S>
    friend class basic_server;

    // A call handler: plain functions run inline, in message order; coroutines run on their own,
    // so that the connection goes on reading (their answer may need the client's next message).
    struct call_entry {
        std::function<bool(connection&, const call_event&, amf0::value&)> plain;
        std::function<asio::awaitable<bool>(connection&, const call_event&, amf0::value&)> coroutine;
    };

    struct waiting_call {
        asio::steady_timer timer;
        std::optional<call_result> result;
    };

    template <class F>
    static std::shared_ptr<call_entry> wrap_call(F f) {
        using R = std::invoke_result_t<F&, connection&, const call_event&, amf0::value&>;
        auto entry = std::make_shared<call_entry>();
        if constexpr (detail::awaitable_bool<R>) {
            entry->coroutine = std::move(f);
        } else {
            entry->plain = std::move(f);
        }
        return entry;
    }

    const detail::logger& log() const noexcept { return server_->log; }

    std::shared_ptr<stream> find_shared(std::uint32_t id) {
        for (auto& s : streams_)
            if (s->id() == id) return s;
        return nullptr;
    }

    // ---- driven by driver::basic_session (driver::session_logic) --------------------------------

    void attach(driver::session_port port) { port_ = std::move(port); }
    std::size_t put(std::span<const std::byte> in, protocol::time_point now) { return session_.put(in, now); }
    void on_time(protocol::time_point now) { session_.on_time(now); }
    std::optional<protocol::time_point> next_deadline() const { return session_.next_deadline(); }
    protocol::output_queue& output() noexcept { return session_.output(); }
    bool closing() const noexcept { return session_.closing(); }
    bool flush_on_close() const noexcept { return session_.flush_on_close(); }
    void close(std::error_code reason, bool flush) { session_.close(reason, flush); }

    // A drain: a client that declared it honours a reconnect request is asked to connect again.
    void request_reconnect(const std::string& tc_url) {
        const std::string why = tc_url.empty() ? std::string("The server is going away: connect again.")
                                               : fmt::format("The server is going away: connect to {}.", tc_url);
        if (!session_.request_reconnect(tc_url, why)) return;
        log().log(log_level::info, id_, "session", {}, "asked the client to reconnect{}{}", tc_url.empty() ? "" : " to ", tc_url);
        if (port_.poke) port_.poke();
    }

    void wrote(std::size_t n) {
        ++writes_;
        bytes_out_ += n;
        server_->bytes_out.fetch_add(n, std::memory_order_relaxed);
    }

    // Frames of every playing stream into the output (when they may go); false when any wait.
    bool collect(bool may_go) {
        bool flowing = true;
        std::vector<std::uint32_t> failed;
        for (auto& s : streams_) {
            if (!s->playing()) continue;
            if (s->media_failed()) {
                failed.push_back(s->id());
                continue;
            }
            const std::uint32_t sid = s->id();
            flowing = s->collect(may_go, [&](const protocol::shared_frame& f) { return session_.send_frame(sid, f); }) && flowing;
        }
        for (const auto sid : failed) stream_failed(sid);
        session_.end_refused_plays();
        return flowing;
    }

    // After the last I/O: streams end, pending calls fail, then the claiming connect handler
    // learns the connection ended.
    void finish(std::error_code reason) {
        session_.finish(reason);
        const std::error_code why = session_.reason();
        if (claimed_) {
            detail::guarded_call(log(), id_, "connect", "a closing connection",
                                 [&] { return (*claimed_)(*this, connect_event{false, connect_, why}); });
            claimed_.reset();
        }
        log().log(log_level::info, id_, "session", why, "connection from {} closed: {}", peer_,
                  why ? why.message() : "by the client");
    }

    // ---- protocol::server_session callbacks ----------------------------------------------------

    bool on_connect(const connect_command& cmd) {
        connect_ = cmd;
        for (const auto& handler : server_->connect_handlers()) {
            const auto claimed = detail::guarded_call(log(), id_, "connect", "a new connection",
                                                      [&] { return static_cast<bool>((*handler)(*this, connect_event{true, connect_, {}})); });
            if (!claimed) {
                session_.close(error::handler_exception, false);
                return false;
            }
            if (*claimed) {
                claimed_ = handler;
                log().log(log_level::info, id_, "session", {}, "connect from {} to app '{}' accepted", peer_, connect_.app);
                return true;
            }
        }
        log().log(log_level::info, id_, "session", error::rejected_by_handler, "connect to app '{}' refused", connect_.app);
        return false;
    }

    bool call_stream_handler(stream& s, bool is_create, const amf0::value& object, std::error_code reason) {
        if (!stream_handler_) return true;
        const auto ok = detail::guarded_call(log(), id_, "stream", s.subject(), [&] {
            return static_cast<bool>(stream_handler_(s, stream_event{is_create, object, reason}));
        });
        if (!ok && is_create) session_.close(error::handler_exception, false);
        return ok.value_or(false);
    }

    bool on_create_stream(std::uint32_t id, const amf0::value& object) {
        auto s = std::make_shared<stream>(*this, server_, id, id_);
        if (!call_stream_handler(*s, true, object, {})) return false;
        streams_.push_back(std::move(s));
        return true;
    }

    bool on_play(protocol::play_request& request) {
        auto s = find_shared(request.stream_id);
        if (!s) return false;
        if (!request.is_start) s->stop_media();  // the stop handler may free what the frame thread used
        play_event ev{request.is_start, request.stream_name, request.start, {}};
        bool allowed = true;
        if (s->play_) {
            const auto ok = detail::guarded_call(log(), id_, "play", s->subject(), [&] { return static_cast<bool>(s->play_(*s, ev)); });
            allowed = ok.value_or(false);
        }
        if (request.is_start && allowed) {
            const std::uint32_t sid = s->id();
            s->start_media(std::string(request.stream_name), port_, connect_.enhanced, [this, sid] { stream_failed(sid); });
            log().log(log_level::info, id_, "stream", {}, "stream {} plays '{}'", sid, request.stream_name);
        }
        request.video_data = std::move(ev.video_data.data);
        return allowed;
    }

    bool on_pause(std::uint32_t id, bool pause, double ms) {
        stream* s = find_stream(id);
        if (!s) return false;
        bool honoured = true;
        if (s->pause_) {
            const auto ok = detail::guarded_call(log(), id_, "pause", s->subject(),
                                                 [&] { return static_cast<bool>(s->pause_(*s, pause_event{pause, ms})); });
            honoured = ok.value_or(false);
        }
        if (honoured) s->set_paused(pause);
        return honoured;
    }

    void on_receive_video(std::uint32_t id, bool enable) {
        if (stream* s = find_stream(id)) s->set_paused(!enable);
    }

    void on_stream_deleted(std::uint32_t id, std::error_code reason) {
        auto it = std::find_if(streams_.begin(), streams_.end(), [id](const auto& s) { return s->id() == id; });
        if (it == streams_.end()) return;
        auto s = std::move(*it);
        streams_.erase(it);
        s->stop_media();
        s->end_publish(connect_);  // a publish the session never started (it was closing) ends here
        call_stream_handler(*s, false, amf0::value(), reason);
        closed_frames_sent_ += s->frames_sent();
        closed_frames_dropped_ += s->frames_dropped();
    }

    bool on_publish(protocol::publish_request& request) {
        auto s = find_shared(request.stream_id);
        if (!s) return false;
        const auto publishing = server_->publishing_streams.load(std::memory_order_relaxed);
        if (publishing >= static_cast<std::int64_t>(options().max_publishers)) {
            request.refusal = "NetStream.Publish.Rejected";
            request.description = "Too many publishers.";
            log().log(log_level::warning, id_, "session", error::too_many_publishers, "publish of '{}' refused: {} publishers",
                      request.stream_name, options().max_publishers);
            return false;
        }
        // Another publisher taking the stream's broadcast over ends this connection, on its thread.
        auto evict = [executor = port_.executor, weak = port_.owner, this] {
            asio::post(executor, [weak, this] {
                if (auto keep = weak.lock()) close(error::publisher_replaced);
            });
        };
        if (!s->begin_publish(request, connect_, std::move(evict))) return false;
        log().log(log_level::info, id_, "stream", {}, "stream {} publishes '{}'", s->id(), request.stream_name);
        return true;
    }

    void on_media(protocol::media_in& m) {
        ++media_in_;
        if (stream* s = find_stream(m.stream_id)) s->published(m);
    }

    void on_unpublish(std::uint32_t id) {
        if (stream* s = find_stream(id)) s->end_publish(connect_);
    }

    void on_refused(std::error_code why, std::uint32_t stream_id) {
        log().log(log_level::info, id_, "session", why, "request refused (stream {}): {}", stream_id, why.message());
    }

    // A render or frame handler failed: the stream stops with an error status.
    void stream_failed(std::uint32_t sid) {
        if (!session_.playing(sid)) return;
        session_.fail_stream(sid);
        if (port_.poke) port_.poke();
    }

    void on_call(protocol::command& c) {
        std::shared_ptr<call_entry> handler;  // held for the whole call, even if unregistered meanwhile
        if (auto it = call_handlers_.find(c.name); it != call_handlers_.end()) {
            handler = it->second;
        } else {
            handler = default_call_;
        }
        if (!handler) return session_.answer_call(c.transaction_id, c.name, protocol::call_outcome::not_found, {});
        if (handler->coroutine) {
            asio::co_spawn(port_.executor, run_coroutine_call(std::move(handler), std::move(c)),
                           [keep = port_.owner.lock(), this](std::exception_ptr e) {
                               if (e) log().log(log_level::error, id_, "call", error::handler_exception, "call coroutine ended by an exception");
                           });
            return;
        }
        amf0::value response;
        const auto ok = detail::guarded_call(log(), id_, "call", c.name, [&] {
            return static_cast<bool>(handler->plain(*this, call_event{c.name, c.transaction_id, c.object, c.arguments}, response));
        });
        finish_call(c, ok, std::move(response));
    }

    asio::awaitable<void> run_coroutine_call(std::shared_ptr<call_entry> handler, protocol::command c) {
        amf0::value response;
        std::optional<bool> ok;
        try {
            ok = co_await handler->coroutine(*this, call_event{c.name, c.transaction_id, c.object, c.arguments}, response);
        } catch (...) {
            detail::log_handler_exception(log(), id_, "call", c.name, std::current_exception());  // the call fails
        }
        finish_call(c, ok, std::move(response));
        if (port_.poke) port_.poke();
    }

    void finish_call(const protocol::command& c, std::optional<bool> ok, amf0::value response) {
        const auto outcome = !ok ? protocol::call_outcome::threw : *ok ? protocol::call_outcome::ok : protocol::call_outcome::refused;
        session_.answer_call(c.transaction_id, c.name, outcome, std::move(response));
    }

    void on_call_answered(double txn, call_result&& result) {
        auto it = waiting_calls_.find(txn);
        if (it == waiting_calls_.end()) return;
        it->second->result = std::move(result);
        it->second->timer.cancel();
    }

    // ---- state ---------------------------------------------------------------------------------

    std::shared_ptr<detail::server_state> server_;
    const std::uint64_t id_;
    const std::string peer_;
    driver::session_port port_;
    protocol::server_session<connection> session_;
    connect_command connect_;
    std::shared_ptr<detail::server_state::connect_fn> claimed_;
    std::function<bool(stream&, const stream_event&)> stream_handler_;
    std::map<std::string, std::shared_ptr<call_entry>, std::less<>> call_handlers_;
    std::shared_ptr<call_entry> default_call_;
    std::map<double, waiting_call*> waiting_calls_;
    std::map<std::string, std::string, std::less<>> properties_;
    std::vector<std::shared_ptr<stream>> streams_;
    std::uint64_t bytes_out_ = 0;
    std::uint64_t writes_ = 0;
    std::uint64_t closed_frames_sent_ = 0;
    std::uint64_t closed_frames_dropped_ = 0;
    std::uint64_t media_in_ = 0;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/connection.hpp ----
// ---- include/rtmpx/server.hpp ----
// basic_server: accepts on its own thread and runs every connection on a thread of its own (or on
// one thread of a fixed pool).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>

// ---- include/rtmpx/driver/executor_pool.hpp ----
// Where connections run: a thread and executor of their own each, or one thread of a fixed pool.

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
// ---- include/rtmpx/driver/impl/executor_pool.ipp ----
// The out-of-line members of rtmpx/driver/executor_pool.hpp: inline when header-only; compiled
// once, in the library's source file, in the separately compiled mode (see config.hpp). Each
// makes an asio::any_io_executor of a locking_executor, which instantiates much of Asio.

// Included only at the end of <rtmpx/driver/executor_pool.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN
namespace driver {

RTMPX_DECL asio::any_io_executor executor_pool::slot::executor() const {
    if (lock_) return locking_executor<asio::io_context::executor_type>(context_->get_executor(), lock_);
    return context_->get_executor();
}

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/impl/executor_pool.ipp ----
#endif
// ---- end of include/rtmpx/driver/executor_pool.hpp ----

RTMPX_NAMESPACE_BEGIN

/**
 * What a listener runs its connections on: `wrap` turns an accepted TCP connection into the
 * stream a session reads and writes (`stream_type`, see `driver::basic_session`). `plain_tcp` is
 * RTMP as it is; `tls_listener` (in <rtmpx/tls.hpp>) is RTMPS.
 */
template <class T>
concept listener_transport = requires(const T& t, asio::ip::tcp::socket socket) {
    typename T::stream_type;
    { t.wrap(std::move(socket)) } -> std::same_as<typename T::stream_type>;
    { T::scheme } -> std::convertible_to<std::string_view>;
};

/// Plain RTMP over TCP.
struct plain_tcp {
    using stream_type = asio::ip::tcp::socket;
    static constexpr std::string_view scheme = "rtmp";
    stream_type wrap(asio::ip::tcp::socket socket) const { return socket; }
};

/**
 * An RTMP server: install connect handlers, `start` it on an address, and players connect.
 *
 * The acceptor runs on a thread of its own; every connection runs on its own thread with its own
 * single-threaded executor, so a slow handler stalls only its own connection. With
 * `server_options::threads` set to N, connections instead share a pool of N threads, each
 * connection pinned to one of them (the least busy when it arrived): thousands of players then
 * cost N threads, and a slow handler stalls the connections of its thread. Several servers can
 * live in one process; they share nothing.
 *
 * It may listen on several addresses, each with its transport: plain RTMP on one, RTMPS on
 * another (`start(address, tls_listener(...))`, <rtmpx/tls.hpp>). `Socket` is what `serve`
 * takes: any connected Asio stream socket (tests use a local socket pair). Handlers see the same
 * `connection` and `stream` types whatever the transport.
 *
 * Thread: the public members may be called from any thread.
 */
template <class Socket = asio::ip::tcp::socket>
class basic_server {
public:
    explicit basic_server(server_options options = {});

    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    /// Stops accepting, ends every connection and waits for them.
    ~basic_server();

    /**
     * Installs a connect handler, asked after those installed before it. Returns a handle for
     * `remove`. See `connect_handler` for the signature.
     */
    template <class F>
    std::uint64_t install(F handler) {
        static_assert(connect_handler<F>, "install: expected bool (connection&, connect_event const&)");
        return install_fn(std::make_shared<detail::server_state::connect_fn>(std::move(handler)));
    }

    /// Removes a connect handler; connections it already claimed keep it. False if unknown.
    bool remove(std::uint64_t handle);

    /// Installs the log sink (silent by default). Call before `start`.
    template <class F>
    void set_logger(F sink, log_level level = log_level::info) {
        static_assert(log_sink<F>, "set_logger: expected void (log_record const&)");
        state_->log = detail::logger(std::move(sink), level);
    }

    /// The codecs streams can choose by name; add your own encoders here.
    codec_registry& codecs() noexcept { return state_->codecs; }

    /// The options the server was made with.
    const server_options& options() const noexcept { return state_->options; }

    /**
     * Listens on "host:port" (IPv4, or IPv6 in brackets; port 0 picks a free port) and starts
     * accepting on the server's own thread. Call again to listen on more addresses, each with its
     * own transport (plain RTMP by default; `tls_listener` for RTMPS); `port(i)` and
     * `listen_address(i)` name them in the order they were started.
     * Errors: a bad address (std::errc::invalid_argument), an address in use.
     */
    template <listener_transport Transport>
    void start(std::string_view address, Transport transport, std::error_code& ec)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// Plain RTMP on `address`.
    void start(std::string_view address, std::error_code& ec)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// Throwing form of `start`. @throws std::system_error
    template <listener_transport Transport>
    void start(std::string_view address, Transport transport)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// Throwing form of `start`, plain RTMP. @throws std::system_error
    void start(std::string_view address)
        requires std::is_same_v<Socket, asio::ip::tcp::socket>;

    /// The address of the `listener`-th `start`, "host:port" with the real port (empty if none).
    std::string listen_address(std::size_t listener = 0) const;

    /// The port of the `listener`-th `start` (0 if none).
    std::uint16_t port(std::size_t listener = 0) const;

    /**
     * Serves an already connected socket (any transport), on a new thread like an accepted one.
     * The socket is moved onto the connection's own executor.
     */
    void serve(Socket socket);

    /// Stops accepting new connections at once; live connections run on until they end.
    void shutdown();

    /// Ends every live connection (what is queued is still sent), with `reason` as its cause.
    void close_all(std::error_code reason = error::shutdown);

    /// Waits until every connection has ended.
    void wait();

    /// Waits up to `timeout` for every connection to end; true if they all did.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_for_ms(std::chrono::ceil<std::chrono::milliseconds>(timeout));
    }

    /**
     * Shuts down: stops accepting, gives live connections `grace` to end on their own, ends the
     * rest, and waits for them. Safe to call more than once.
     */
    template <class Rep, class Period>
    void stop(std::chrono::duration<Rep, Period> grace) {
        stop_after(std::chrono::ceil<std::chrono::milliseconds>(grace));
    }

    /// `stop` with no grace: live connections are ended at once.
    void stop();

    /**
     * Drains the server, before a restart or to move its clients to another: stops accepting;
     * asks every client that declared it honours Enhanced RTMP's reconnect request (`capsEx`
     * Reconnect in its connect) to connect again, to `other_url` (a tcUrl,
     * "rtmp://host:port/app") when not empty, else where it is; lets every other connection go
     * on; at `deadline` ends those left (`error::drained`). Returns when every connection has
     * ended; each connection's connect handler hears of its end once, as always. The server does
     * not accept again: `stop` it (or let it go) afterwards.
     */
    template <class Rep, class Period>
    void drain(std::chrono::duration<Rep, Period> deadline, std::string_view other_url = {}) {
        drain_for(std::chrono::ceil<std::chrono::milliseconds>(deadline), std::string(other_url));
    }

    /// Totals over all connections since the server was made. Thread: any.
    server_statistics statistics() const;

    /// Connections being served now.
    std::size_t connection_count() const;

private:
    struct listener {
        std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
        asio::ip::tcp::endpoint local;
        std::string scheme;
    };

    std::uint64_t install_fn(std::shared_ptr<detail::server_state::connect_fn> fn);
    bool wait_for_ms(std::chrono::milliseconds timeout);
    void stop_after(std::chrono::milliseconds grace);
    void stop_accepting();
    void drain_for(std::chrono::milliseconds deadline, std::string other_url);

    // "host:port", an IPv6 host in brackets.
    static std::string host_port(const asio::ip::address& addr, std::uint16_t port);
    static std::string describe(const listener& l);
    static bool parse_address(std::string_view text, asio::ip::tcp::endpoint& out);

    template <class S>
    static std::string describe_peer(const S& socket);

    template <class Transport>
    asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, Transport transport);

    template <class Stream>
    void launch(const std::shared_ptr<driver::executor_pool::slot>& slot, Stream stream);

    // With a thread per connection, the producers of frames write to idle players' sockets
    // themselves; a pool's threads write for their connections (one thread writing for all
    // would leave the others idle).
    bool producer_writes() const noexcept { return state_->options.producer_writes && state_->options.threads == 0; }

    std::shared_ptr<detail::server_state> state_;
    // Before the acceptor's executor: a pending accept holds a socket of a pool thread's
    // executor, so that executor must outlive the acceptor's.
    driver::executor_pool pool_;
    asio::io_context accept_context_{1};
    mutable std::mutex accept_mutex_;
    std::vector<listener> listeners_;  // in the order started
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> accept_work_;
    std::thread acceptor_thread_;
    std::atomic<std::uint64_t> next_connection_id_{1};
};

/// The server over TCP.
using server = basic_server<asio::ip::tcp::socket>;

/// Former names, from when connections and streams were templates on the transport.
template <class Socket>
using basic_connection [[deprecated("use rtmpx::connection")]] = connection;
template <class Socket>
using basic_stream [[deprecated("use rtmpx::stream")]] = stream;

RTMPX_NAMESPACE_END

// ---- include/rtmpx/impl/server.ipp ----
// The members of `basic_server`, out of the class: in the separately compiled mode
// (RTMPX_SEPARATE_COMPILATION) the server over TCP is instantiated once, in the source file that
// includes <rtmpx/src.hpp>, and other translation units only call it.

// Included only at the end of <rtmpx/server.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN

template <class Socket>
basic_server<Socket>::basic_server(server_options options)
    : state_(std::make_shared<detail::server_state>(std::move(options))), pool_(state_->options.threads) {
    pool_.on_thread_done([this] {
        // The acceptor's thread joins a finished connection's thread and frees its executor
        // (descriptors included) right away; without an acceptor, the next launch or wait does.
        std::lock_guard lock(accept_mutex_);
        if (!listeners_.empty()) asio::post(accept_context_, [this] { pool_.reap(); });
    });
}

template <class Socket>
basic_server<Socket>::~basic_server() {
    stop();
}

template <class Socket>
std::uint64_t basic_server<Socket>::install_fn(std::shared_ptr<detail::server_state::connect_fn> fn) {
    std::lock_guard lock(state_->mutex);
    const std::uint64_t handle = state_->next_handler_id++;
    state_->handlers.emplace_back(handle, std::move(fn));
    return handle;
}

template <class Socket>
bool basic_server<Socket>::remove(std::uint64_t handle) {
    std::lock_guard lock(state_->mutex);
    auto& hs = state_->handlers;
    auto it = std::find_if(hs.begin(), hs.end(), [handle](const auto& h) { return h.first == handle; });
    if (it == hs.end()) return false;
    hs.erase(it);
    return true;
}

template <class Socket>
template <listener_transport Transport>
void basic_server<Socket>::start(std::string_view address, Transport transport, std::error_code& ec)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    ec.clear();
    asio::ip::tcp::endpoint endpoint;
    if (!parse_address(address, endpoint)) {
        ec = std::make_error_code(std::errc::invalid_argument);
        return;
    }
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(accept_context_);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return;
    listener l{std::move(acceptor), {}, std::string(Transport::scheme)};
    l.local = l.acceptor->local_endpoint(ec);
    if (ec) return;
    auto& accepting = *l.acceptor;
    std::string where;
    {
        std::lock_guard lock(accept_mutex_);
        listeners_.push_back(std::move(l));
        where = describe(listeners_.back());
    }
    asio::co_spawn(accept_context_, accept_loop(accepting, std::move(transport)), [this](std::exception_ptr e) {
        if (e) state_->log.log(log_level::error, 0, "server", {}, "accept loop ended by an exception");
    });
    if (!acceptor_thread_.joinable()) {
        // The guard keeps the acceptor's thread running until `stop` is done with it: a
        // handler posted there (the acceptors' close, stop's wait for it) always runs.
        accept_work_.emplace(accept_context_.get_executor());
        acceptor_thread_ = std::thread([this] { accept_context_.run(); });
    }
    state_->log.log(log_level::info, 0, "server", {}, "listening on {}", where);
}

template <class Socket>
void basic_server<Socket>::start(std::string_view address, std::error_code& ec)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    start(address, plain_tcp{}, ec);
}

template <class Socket>
template <listener_transport Transport>
void basic_server<Socket>::start(std::string_view address, Transport transport)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    std::error_code ec;
    start(address, std::move(transport), ec);
    if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot listen on {}", address)));
}

template <class Socket>
void basic_server<Socket>::start(std::string_view address)
    requires std::is_same_v<Socket, asio::ip::tcp::socket>
{
    start(address, plain_tcp{});
}

template <class Socket>
std::string basic_server<Socket>::listen_address(std::size_t listener) const {
    std::lock_guard lock(accept_mutex_);
    return listener < listeners_.size() ? host_port(listeners_[listener].local.address(), listeners_[listener].local.port())
                                        : std::string{};
}

template <class Socket>
std::uint16_t basic_server<Socket>::port(std::size_t listener) const {
    std::lock_guard lock(accept_mutex_);
    return listener < listeners_.size() ? listeners_[listener].local.port() : 0;
}

template <class Socket>
void basic_server<Socket>::serve(Socket socket) {
    std::error_code ec;
    if (connection_count() >= state_->options.max_connections) {
        socket.close(ec);  // refused like an accepted connection beyond the limit
        return;
    }
    const auto protocol = socket.local_endpoint(ec).protocol();
    auto slot = pool_.reserve(producer_writes());
    auto native = socket.release(ec);
    if (ec) return pool_.unreserve(slot);
    launch<Socket>(slot, Socket(slot->executor(), protocol, native));
}

template <class Socket>
void basic_server<Socket>::shutdown() {
    if (!accept_work_) return;
    asio::post(accept_context_, [this] {
        std::lock_guard lock(accept_mutex_);
        for (auto& l : listeners_) {
            std::error_code ignored;
            l.acceptor->close(ignored);
        }
    });
}

template <class Socket>
void basic_server<Socket>::close_all(std::error_code reason) {
    pool_.close_all(reason);
}

template <class Socket>
void basic_server<Socket>::wait() {
    pool_.wait();
}

template <class Socket>
bool basic_server<Socket>::wait_for_ms(std::chrono::milliseconds timeout) {
    return pool_.wait_for(timeout);
}

template <class Socket>
void basic_server<Socket>::stop() {
    stop_after(std::chrono::milliseconds(0));
}

template <class Socket>
void basic_server<Socket>::stop_accepting() {
    shutdown();
    if (accept_work_) {
        // Wait for the close: a connection accepted before it is launched before it, and so
        // is among those close_all ends.
        std::promise<void> closed;
        asio::post(accept_context_, [&closed] { closed.set_value(); });
        closed.get_future().wait();
        accept_work_.reset();
    }
}

template <class Socket>
void basic_server<Socket>::drain_for(std::chrono::milliseconds deadline, std::string other_url) {
    stop_accepting();
    state_->log.log(log_level::info, 0, "server", {}, "draining {} connections{}{}", connection_count(),
                    other_url.empty() ? "" : " to ", other_url);
    pool_.reconnect_all(std::move(other_url));
    if (!wait_for_ms(deadline)) {
        close_all(error::drained);
        wait();
    }
}

template <class Socket>
void basic_server<Socket>::stop_after(std::chrono::milliseconds grace) {
    stop_accepting();
    if (!wait_for_ms(grace)) {
        close_all(error::shutdown);
        wait();
    }
    accept_context_.stop();
    if (acceptor_thread_.joinable()) acceptor_thread_.join();
    pool_.join();
}

template <class Socket>
server_statistics basic_server<Socket>::statistics() const {
    server_statistics s;
    s.connections = connection_count();
    const auto playing = state_->playing_streams.load(std::memory_order_relaxed);
    s.playing_streams = playing > 0 ? static_cast<std::size_t>(playing) : 0;
    const auto publishing = state_->publishing_streams.load(std::memory_order_relaxed);
    s.publishing_streams = publishing > 0 ? static_cast<std::size_t>(publishing) : 0;
    s.bytes_out = state_->bytes_out.load(std::memory_order_relaxed);
    s.frames_sent = state_->frames_sent.load(std::memory_order_relaxed);
    s.frames_dropped = state_->frames_dropped.load(std::memory_order_relaxed);
    return s;
}

template <class Socket>
std::size_t basic_server<Socket>::connection_count() const {
    return pool_.live();
}

template <class Socket>
std::string basic_server<Socket>::host_port(const asio::ip::address& addr, std::uint16_t port) {
    return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), port) : fmt::format("{}:{}", addr.to_string(), port);
}

template <class Socket>
std::string basic_server<Socket>::describe(const listener& l) {
    return l.scheme + "://" + host_port(l.local.address(), l.local.port());
}

template <class Socket>
bool basic_server<Socket>::parse_address(std::string_view text, asio::ip::tcp::endpoint& out) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string host(text.substr(0, colon));
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    if (host.empty()) host = "0.0.0.0";
    unsigned port = 0;
    if (port_text.empty() || port_text.size() > 5) return false;
    for (char c : port_text) {
        if (c < '0' || c > '9') return false;
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port > 65535) return false;
    std::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec) return false;
    out = asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(port));
    return true;
}

template <class Socket>
template <class S>
std::string basic_server<Socket>::describe_peer(const S& socket) {
    std::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return "unknown";
    if constexpr (requires { ep.address(); ep.port(); }) {
        return host_port(ep.address(), ep.port());
    } else {
        return "local";
    }
}

template <class Socket>
template <class Transport>
asio::awaitable<void> basic_server<Socket>::accept_loop(asio::ip::tcp::acceptor& acceptor, Transport transport) {
    for (;;) {
        auto slot = pool_.reserve(producer_writes());
        asio::ip::tcp::socket socket(slot->executor());
        auto [ec] = co_await acceptor.async_accept(socket, detail::use_tuple);
        const bool full = connection_count() >= state_->options.max_connections;
        if (ec || full) pool_.unreserve(slot);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
        if (ec) continue;  // a connection that failed before we got it
        if (full) {
            std::error_code ignored;
            socket.close(ignored);  // refused cleanly: the client sees the connection close
            state_->log.log(log_level::warning, 0, "server", error::too_many_connections,
                            "connection refused: {} connections", state_->options.max_connections);
            continue;
        }
        std::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        launch<typename Transport::stream_type>(slot, transport.wrap(std::move(socket)));
    }
}

template <class Socket>
template <class Stream>
void basic_server<Socket>::launch(const std::shared_ptr<driver::executor_pool::slot>& slot, Stream stream) {
    using session_type = driver::basic_session<Stream, connection>;
    const std::uint64_t id = next_connection_id_.fetch_add(1, std::memory_order_relaxed);
    std::random_device rd;
    const auto& o = state_->options;
    std::string peer = describe_peer(stream.lowest_layer());
    driver::session_io_options io{o.timeouts.write};
    io.socket_unsent_limit = o.socket_unsent_limit;
    io.outqueue_full_bytes = o.outqueue_full_bytes;
    auto session = std::make_shared<session_type>(
        std::move(stream), io,
        state_, id, std::move(peer), std::chrono::steady_clock::now(), (std::uint64_t{rd()} << 32) ^ rd());
    session->set_lock(slot->lock());
    std::weak_ptr<session_type> weak = session;
    auto control = [weak](const driver::executor_pool::request& r) {
        auto s = weak.lock();
        if (!s) return;
        asio::dispatch(s->stream().get_executor(), [s, r] {
            if (r.reconnect)
                s->logic().request_reconnect(r.reconnect_url);
            else
                s->logic().close(r.close);
        });
    };
    pool_.launch(slot, std::move(control), [&](asio::io_context&) {
        // The completion handler owns the session until it has finished.
        asio::co_spawn(session->stream().get_executor(), session->run(), [this, state = state_, id, session, slot](std::exception_ptr e) mutable {
            session.reset();
            pool_.finished(slot);
            if (e) detail::log_handler_exception(state->log, id, "session", "a connection", e);
        });
    });
}

#if defined(RTMPX_SEPARATE_COMPILATION)
#if defined(RTMPX_SOURCE)
template class basic_server<asio::ip::tcp::socket>;
#else
extern template class basic_server<asio::ip::tcp::socket>;
#endif
#endif

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/impl/server.ipp ----
// ---- end of include/rtmpx/server.hpp ----
// ---- include/rtmpx/relay.hpp ----
// relay: live names per application; what is published under a name, its players watch.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN

/// How a relay treats publishers and keeps its names.
struct relay_options {
    /// A second publisher of a live name takes it over (the first one's connection is closed
    /// with `error::publisher_replaced`). Off: it is refused with NetStream.Publish.BadName.
    bool takeover = false;
    /// Names at once (published, or awaited by players); beyond it publish and play are refused.
    std::size_t max_names = 1000;
    /// The broadcast of each name: GOP cache, each player's queue. Its cache holds 2048 frames
    /// (published audio adds about 45 a second to the video's, and encoders' default key frame
    /// intervals reach 10 s); the byte bound stays.
    broadcast_options broadcast = [] {
        broadcast_options o;
        o.gop_cache_frames = 2048;
        return o;
    }();
    /// Asked before a publish is accepted (a token in `e.query` or the tcUrl, ...): false refuses
    /// it with `e.refusal`. Empty: every publish of a free name is accepted.
    std::function<bool(stream&, publish_event&)> authorize;
};

/**
 * Live names per application: a stream that publishes "app/name" feeds that name's `broadcast`,
 * and every stream that plays "app/name" watches it, with audio, from the last key frame (the
 * GOP cache), timestamps from 0 for each player. A player may come before the publisher: it
 * waits, and gets NetStream.Play.PublishNotify when the publisher arrives. When the publisher
 * leaves, players get NetStream.Play.UnpublishNotify and stay; a publisher that comes back (or
 * another) continues their timeline with its new sequence headers. A name is forgotten once it
 * has neither publisher nor players.
 *
 * The common case is one line, `server.install(relay.app("live"))`. To add handlers of your own,
 * call `attach(s)` in your stream handler instead (and `on_media` to see every frame).
 *
 * Thread: any. Lifetime: the handlers it installs keep its state alive.
 */
class relay {
public:
    explicit relay(relay_options options = {}) : state_(std::make_shared<state>(std::move(options))) {}

    /// A connect handler (for `server::install`) that claims connections to application
    /// `app_name` and attaches every stream they create.
    auto app(std::string app_name) const {
        return [state = state_, app_name = std::move(app_name)](connection& conn, const connect_event& e) {
            if (!e.is_create) return true;
            if (e.command.app != app_name) return false;
            conn.on_stream([state](stream& s, const stream_event& se) {
                if (se.is_create) attach(state, s);
                return true;
            });
            return true;
        };
    }

    /// Makes `s` publish into, and play from, the name its client gives (in its connection's
    /// application). Replaces the stream's publish and play handlers.
    void attach(stream& s) const { attach(state_, s); }

    /// The broadcast of `name` in application `app`, or null if nobody publishes or awaits it.
    std::shared_ptr<broadcast> find(std::string_view app, std::string_view name) const {
        std::lock_guard lock(state_->mutex);
        auto it = state_->names.find(key(app, name));
        return it == state_->names.end() ? nullptr : it->second.source;
    }

    /**
     * The broadcast of `name` in application `app`, made if need be and kept while the returned
     * pointer (or a copy) lives, even with no publisher and no player: for a `publisher` that
     * pushes the name elsewhere, or a `recorder`. Null beyond `max_names`.
     */
    std::shared_ptr<broadcast> pin(std::string_view app, std::string_view name) const {
        auto hold = std::make_shared<binding>(state_, key(app, name));
        publish_refusal ignored{};
        auto source = state_->take(hold->key, false, ignored);
        if (!source) {
            hold->key.clear();
            return nullptr;
        }
        struct pinned {
            std::shared_ptr<binding> hold;
            std::shared_ptr<broadcast> source;
        };
        auto p = std::make_shared<pinned>(pinned{std::move(hold), std::move(source)});
        return std::shared_ptr<broadcast>(p, p->source.get());
    }

    /// The "app/name" keys that have a publisher now.
    std::vector<std::string> live_names() const {
        std::lock_guard lock(state_->mutex);
        std::vector<std::string> out;
        for (const auto& [k, entry] : state_->names)
            if (entry.source->has_publisher()) out.push_back(k);
        return out;
    }

    /// Names known now (published, or awaited by players).
    std::size_t size() const {
        std::lock_guard lock(state_->mutex);
        return state_->names.size();
    }

private:
    struct entry {
        std::shared_ptr<broadcast> source;
        std::size_t users = 0;   // streams playing or publishing the name (or about to)
        bool published = false;  // a publisher holds the name
    };

    struct state {
        explicit state(relay_options o) : options(std::move(o)) {}
        const relay_options options;
        std::mutex mutex;
        std::map<std::string, entry, std::less<>> names;

        // The name's broadcast, made if need be, with one more user (a publisher: unless one
        // holds it and there is no takeover); null and a refusal otherwise.
        std::shared_ptr<broadcast> take(const std::string& k, bool publisher, publish_refusal& refusal) {
            std::lock_guard lock(mutex);
            auto it = names.find(k);
            if (it == names.end()) {
                if (names.size() >= options.max_names) {
                    refusal = publish_refusal::rejected;
                    return nullptr;
                }
                it = names.emplace(k, entry{std::make_shared<broadcast>(options.broadcast), 0, false}).first;
            }
            if (publisher) {
                if (it->second.published && !options.takeover) {
                    refusal = publish_refusal::bad_name;
                    return nullptr;
                }
                it->second.published = true;
            }
            ++it->second.users;
            return it->second.source;
        }

        // One user fewer (a publisher: the name is free again, unless another took it over);
        // the last one's leaving forgets the name.
        void give_back(const std::string& k, const broadcast* published) {
            std::lock_guard lock(mutex);
            auto it = names.find(k);
            if (it == names.end()) return;
            if (published && !published->has_publisher()) it->second.published = false;
            if (--it->second.users == 0) names.erase(it);
        }
    };

    // What a stream holds of the registry: the name it uses, given back when it stops using it
    // (or at the latest when the stream, and so its handlers, go).
    struct binding {
        binding(std::shared_ptr<state> o, std::string k) : owner(std::move(o)), key(std::move(k)) {}
        binding(const binding&) = delete;  // a copy would give the name back twice
        binding& operator=(const binding&) = delete;
        ~binding() { release(); }

        std::shared_ptr<state> owner;
        std::string key;                            // empty: none
        std::shared_ptr<broadcast> published;       // a publisher's broadcast
        void release() {
            if (key.empty()) return;
            owner->give_back(std::exchange(key, {}), published.get());
            published.reset();
        }
    };

    static std::string key(std::string_view app, std::string_view name) {
        std::string k(app);
        k += '/';
        k += name;
        return k;
    }

    static std::string_view without_query(std::string_view name) { return name.substr(0, name.find('?')); }

    static void attach(const std::shared_ptr<state>& st, stream& s) {
        auto play = std::make_shared<binding>(st, std::string());
        auto publish = std::make_shared<binding>(st, std::string());
        s.on_play([st, play](stream& self, play_event& e) {
            play->release();
            self.use_broadcast(nullptr);
            if (!e.is_start) return true;
            auto k = key(self.connection().connect_info().app, without_query(e.stream_name));
            publish_refusal ignored{};
            auto source = st->take(k, false, ignored);
            if (!source) return false;
            play->key = std::move(k);
            self.use_broadcast(std::move(source));
            return true;
        });
        s.on_publish([st, publish](stream& self, publish_event& e) {
            // The publish ends after its broadcast was released (the stream's end_publish), so
            // the name is free again unless another publisher took it over.
            publish->release();
            if (!e.is_start) return true;
            if (e.stream_name.empty()) return false;  // BadName
            if (st->options.authorize && !st->options.authorize(self, e)) return false;
            auto k = key(e.connect.app, e.stream_name);
            auto source = st->take(k, true, e.refusal);
            if (!source) {
                e.description = e.refusal == publish_refusal::bad_name ? "The name is already published." : "Too many names.";
                return false;
            }
            publish->key = std::move(k);
            publish->published = source;
            self.publish_to(std::move(source));
            return true;
        });
    }

    std::shared_ptr<state> state_;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/relay.hpp ----
// ---- include/rtmpx/flv_file.hpp ----
// flv_file: records audio, video and data messages to an FLV file.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <system_error>
#include <utility>

// ---- include/rtmpx/protocol/flv_writer.hpp ----
// The bytes of an FLV file: header, tags with back pointers, and what to patch at the end.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * Writes an FLV file (Adobe FLV specification 10.1, annex E) as bytes, without touching a file:
 * `header()` first, then `tag(...)` for each audio, video and data message; `patches()` at the
 * end says which bytes to overwrite when the file is seekable (the `onMetaData` duration and the
 * header's audio/video flags). Tag timestamps start at 0 on the first tag and never go back.
 *
 * The `onMetaData` tag is rewritten with a `duration` property first (0 until patched), and
 * without the publisher's own `duration` and `filesize`, which describe another file.
 */
class flv_writer {
public:
    /// One overwrite: `bytes` at `offset` from the start of the file.
    struct patch {
        std::uint64_t offset = 0;
        std::vector<std::byte> bytes;
    };

    /// The file header with both the audio and the video flag (patched to what came) and the
    /// first back pointer (0).
    std::span<const std::byte> header() {
        buffer_.clear();
        for (const char c : std::string_view("FLV")) buffer_.push_back(static_cast<std::byte>(c));
        detail::put_u8(buffer_, 1);  // version
        detail::put_u8(buffer_, flag_audio | flag_video);
        detail::put_be32(buffer_, 9);  // header size
        detail::put_be32(buffer_, 0);  // PreviousTagSize0
        offset_ = buffer_.size();
        return buffer_;
    }

    /**
     * One tag: `type` audio, video or data (AMF0), the payload being the message body, at `ts`
     * on the producer's clock. Returns the bytes to append (valid until the next call); empty for
     * another type, or a second `onMetaData` (the first one describes the file).
     */
    std::span<const std::byte> tag(message_type type, std::uint32_t ts, std::span<const std::byte> payload) {
        buffer_.clear();
        if (type != message_type::audio && type != message_type::video && type != message_type::data_amf0) return {};
        std::vector<std::byte> metadata;
        if (type == message_type::data_amf0 && is_on_metadata(payload)) {
            if (duration_offset_) return {};
            metadata = rewrite_metadata(payload);
            payload = metadata;
        }
        if (type == message_type::audio) seen_ |= flag_audio;
        if (type == message_type::video) seen_ |= flag_video;
        const std::uint32_t at = relative(ts);
        detail::put_u8(buffer_, static_cast<std::uint8_t>(type));
        detail::put_be24(buffer_, static_cast<std::uint32_t>(payload.size()));
        detail::put_be24(buffer_, at & 0xffffff);
        detail::put_u8(buffer_, static_cast<std::uint8_t>(at >> 24));
        detail::put_be24(buffer_, 0);  // stream id
        if (!metadata.empty()) duration_offset_ = offset_ + buffer_.size() + duration_position_;
        buffer_.insert(buffer_.end(), payload.begin(), payload.end());
        detail::put_be32(buffer_, static_cast<std::uint32_t>(11 + payload.size()));
        offset_ += buffer_.size();
        return buffer_;
    }

    /// What to overwrite once the last tag is written: the header's flags (only the kinds of
    /// tags that came) and the metadata's duration, in seconds.
    std::vector<patch> patches() const {
        std::vector<patch> out;
        out.push_back(patch{4, {static_cast<std::byte>(seen_)}});
        if (duration_offset_) {
            std::vector<std::byte> value;
            detail::put_be64(value, std::bit_cast<std::uint64_t>(duration_ms() / 1000.0));
            out.push_back(patch{*duration_offset_, std::move(value)});
        }
        return out;
    }

    /// The span from the first tag to the last, in ms.
    std::uint32_t duration_ms() const noexcept { return last_.value(); }
    /// Bytes produced so far.
    std::uint64_t size() const noexcept { return offset_; }

private:
    static constexpr std::uint8_t flag_audio = 0x04;
    static constexpr std::uint8_t flag_video = 0x01;

    static bool is_on_metadata(std::span<const std::byte> payload) {
        amf0::value name;
        std::error_code ec;
        amf0::decode(payload, name, ec);
        return !ec && name.is_string() && name.as_string() == "onMetaData";
    }

    // onMetaData with `duration` first, so that its 8 bytes sit at a known place.
    std::vector<std::byte> rewrite_metadata(std::span<const std::byte> payload) {
        std::vector<amf0::value> values;
        std::error_code ec;
        amf0::decode_all(payload, values, ec);
        amf0::properties props{{"duration", amf0::value(0.0)}};
        if (values.size() > 1 && values[1].has_properties())
            for (const auto& p : values[1].props())
                if (p.first != "duration" && p.first != "filesize") props.push_back(p);
        std::vector<std::byte> out = amf0::encode(amf0::value("onMetaData"));
        // ECMA array marker and count, then the key "duration" and the number marker.
        duration_position_ = out.size() + 1 + 4 + 2 + std::string_view("duration").size() + 1;
        amf0::encode(amf0::value::ecma_array(std::move(props)), out);
        return out;
    }

    // Milliseconds from the first tag, never backwards (serial arithmetic).
    std::uint32_t relative(std::uint32_t ts) {
        if (!first_) first_ = ts;
        rtmp_timestamp at(ts - *first_);
        if (at < last_) at = last_;
        last_ = at;
        return at.value();
    }

    std::vector<std::byte> buffer_;
    std::uint64_t offset_ = 0;
    std::uint8_t seen_ = 0;
    std::optional<std::uint32_t> first_;
    rtmp_timestamp last_;
    std::size_t duration_position_ = 0;
    std::optional<std::uint64_t> duration_offset_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/flv_writer.hpp ----

RTMPX_NAMESPACE_BEGIN

/**
 * An FLV file being written: `open`, then `write` every message of a published stream (a media
 * handler's `media_event`) or of a broadcast (see `recorder`), then `close`. Timestamps start at
 * 0 on the first message. Each message reaches the file (the operating system) before `write`
 * returns, so a recording that stops on an error keeps everything written before it. At `close`,
 * when the file is seekable, the `onMetaData` duration and the header's audio/video flags are
 * set to what was written.
 *
 * Errors are `std::error_code`s from the system (`std::errc::no_space_on_device`, ...); after the
 * first, nothing more is written and every call returns it.
 *
 * Thread: one at a time.
 */
class flv_file {
public:
    flv_file() = default;
    flv_file(const flv_file&) = delete;
    flv_file& operator=(const flv_file&) = delete;
    flv_file(flv_file&& other) noexcept
        : file_(std::exchange(other.file_, nullptr)), writer_(std::move(other.writer_)), failed_(other.failed_) {}
    ~flv_file() {
        std::error_code ignored;
        close(ignored);
    }

    /// Creates `path` (replacing a file there) and writes the FLV header.
    void open(const std::string& path, std::error_code& ec) {
        std::error_code ignored;
        close(ignored);
        writer_ = protocol::flv_writer();
        failed_.clear();
        file_ = std::fopen(path.c_str(), "wb");
        if (!file_) {
            ec = std::error_code(errno, std::generic_category());
            return;
        }
        put(writer_.header(), ec);
    }

    bool is_open() const noexcept { return file_ != nullptr; }

    /// Appends one message: an audio or video tag body, or a data message body (`onMetaData`
    /// first describes the file; a later one is not written), at `timestamp` ms.
    void write(media_type type, std::uint32_t timestamp, std::span<const std::byte> payload, std::error_code& ec) {
        const auto wire = type == media_type::audio   ? protocol::message_type::audio
                          : type == media_type::video ? protocol::message_type::video
                                                      : protocol::message_type::data_amf0;
        write(wire, timestamp, payload, ec);
    }
    /// `write` of a media handler's message.
    void write(const media_event& e, std::error_code& ec) { write(e.type, e.timestamp, e.payload, ec); }
    /// `write` of an RTMP message of type audio (8), video (9) or AMF0 data (18); others are skipped.
    void write(protocol::message_type type, std::uint32_t timestamp, std::span<const std::byte> payload, std::error_code& ec) {
        ec = failed_;
        if (ec) return;
        if (!file_) {
            ec = std::make_error_code(std::errc::bad_file_descriptor);
            return;
        }
        put(writer_.tag(type, timestamp, payload), ec);
    }

    /// Sets the duration and the flags (when the file is seekable) and closes the file. The
    /// error is the first one of the recording, if any.
    void close(std::error_code& ec) {
        ec = failed_;
        if (!file_) return;
        if (!failed_) {
            for (const auto& p : writer_.patches()) {
                if (std::fseek(file_, static_cast<long>(p.offset), SEEK_SET) != 0) break;  // a pipe: nothing to patch
                if (std::fwrite(p.bytes.data(), 1, p.bytes.size(), file_) != p.bytes.size()) fail();
            }
            if (std::fflush(file_) != 0) fail();
        }
        if (std::fclose(std::exchange(file_, nullptr)) != 0) fail();
        ec = failed_;
    }

    /// The span of the messages written, in ms.
    std::uint32_t duration_ms() const noexcept { return writer_.duration_ms(); }
    /// The file's size so far.
    std::uint64_t bytes() const noexcept { return writer_.size(); }

private:
    void put(std::span<const std::byte> bytes, std::error_code& ec) {
        if (!bytes.empty() && (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size() || std::fflush(file_) != 0))
            fail();
        ec = failed_;
    }

    void fail() {
        if (!failed_) failed_ = std::error_code(errno ? errno : EIO, std::generic_category());
    }

    std::FILE* file_ = nullptr;
    protocol::flv_writer writer_;
    std::error_code failed_;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/flv_file.hpp ----
// ---- include/rtmpx/recorder.hpp ----
// recorder: a broadcast's audio, video and data written to an FLV file, on a thread of its own.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>


RTMPX_NAMESPACE_BEGIN

/**
 * Records a broadcast (rendered, pushed, or fed by a publisher) to an FLV file: the recording
 * starts from the broadcast's last key frame (its GOP cache) with the metadata and sequence
 * headers, timestamps from 0, and follows the broadcast across publishers as a player does.
 *
 * The recorder is one more subscriber of the broadcast, with a queue of its own (`queue_frames`)
 * and a thread that writes it out, so a slow disk never holds up the players; frames it had to
 * drop are counted (`frames_dropped`). A write that fails stops the recording: `error()` says
 * why, the `on_error` callback hears it at once (on the recorder's thread), and what was written
 * stays in the file.
 *
 * Thread: any; `on_error` before `start`.
 */
class recorder {
public:
    explicit recorder(std::shared_ptr<broadcast> source, std::size_t queue_frames = 512)
        : source_(std::move(source)), queue_frames_(queue_frames) {}
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;
    ~recorder() { stop(); }

    /// Called once, on the recorder's thread, when a write fails.
    void on_error(std::function<void(std::error_code)> f) { on_error_ = std::move(f); }

    /// Opens `path` and starts recording. Errors: the file's.
    void start(const std::string& path, std::error_code& ec) {
        stop();
        file_.open(path, ec);
        if (ec) return;
        {
            std::lock_guard lock(mutex_);
            error_.clear();
            stopping_ = false;
        }
        written_.store(0, std::memory_order_relaxed);
        dropped_.store(0, std::memory_order_relaxed);
        sub_ = std::make_shared<driver::subscriber>(queue_frames_);
        sub_->wake = [this] {
            std::lock_guard lock(mutex_);
            wake_ = true;
            cv_.notify_one();
        };
        sub_->dropped = &dropped_;
        auto join = source_->source().subscribe(sub_);
        thread_ = std::thread([this, join = std::move(join)] { run(join); });
    }

    /**
     * Stops: what the queue holds is written, then the file is finished (duration, flags) and
     * closed. Returns the recording's first error, if any. Safe to call more than once.
     */
    std::error_code stop() {
        if (!thread_.joinable()) return error();
        source_->source().unsubscribe(sub_.get());
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            cv_.notify_one();
        }
        thread_.join();
        sub_.reset();
        std::error_code ec;
        file_.close(ec);
        std::lock_guard lock(mutex_);
        if (!error_) error_ = ec;
        return error_;
    }

    /// The first error of the recording (none while it goes well).
    std::error_code error() const {
        std::lock_guard lock(mutex_);
        return error_;
    }
    /// Frames written, and frames dropped because the queue was full.
    std::uint64_t frames_written() const noexcept { return written_.load(std::memory_order_relaxed); }
    std::uint64_t frames_dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
    void run(const std::vector<protocol::shared_frame>& join) {
        protocol::player framing(1);
        framing.start();
        bool failed = false;
        auto write = [&](const protocol::shared_frame& f) {
            if (failed) return;
            std::error_code ec;
            const auto outcome = framing.write(f, [&](const protocol::message_header& h, const auto& payload) {
                if (!ec) file_.write(h.type, h.timestamp.value(), *payload, ec);
            });
            if (outcome == protocol::player::outcome::sent) written_.fetch_add(1, std::memory_order_relaxed);
            if (!ec) return;
            failed = true;
            {
                std::lock_guard lock(mutex_);
                error_ = ec;
            }
            if (on_error_) on_error_(ec);
        };
        for (const auto& f : join) write(f);
        for (;;) {
            sub_->drain(write);
            std::unique_lock lock(mutex_);
            if (stopping_ && !sub_->queue.front() && !sub_->has_news.load(std::memory_order_acquire)) return;
            cv_.wait(lock, [this] { return wake_ || stopping_; });
            wake_ = false;
        }
    }

    std::shared_ptr<broadcast> source_;
    const std::size_t queue_frames_;
    std::function<void(std::error_code)> on_error_;
    flv_file file_;
    std::shared_ptr<driver::subscriber> sub_;
    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> dropped_{0};
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool wake_ = false;
    bool stopping_ = false;
    std::error_code error_;
    std::thread thread_;
};

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/recorder.hpp ----
// ---- include/rtmpx/remote.hpp ----
// publisher and puller: a broadcast pushed to another server, or another server's stream pulled into one.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <fmt/format.h>

// ---- include/rtmpx/driver/client_link.hpp ----
// A client connection that comes back: connect, run a session, wait as the backoff says, again.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

// ---- include/rtmpx/protocol/backoff.hpp ----
// How long to wait before the next attempt: exponential, bounded, jittered.

#include <algorithm>
#include <chrono>
#include <cstdint>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// The bounds of a reconnecting client's waits.
struct backoff_policy {
    std::chrono::milliseconds first{1000};  ///< the wait after the first failure
    std::chrono::milliseconds max{30'000};  ///< no wait is longer
    double factor = 2.0;                    ///< each failure in a row multiplies the wait
    double jitter = 0.3;                    ///< each wait is drawn from [1 - jitter, 1] times its value
};

/**
 * Exponential backoff with jitter: `next()` gives the wait after one more failure in a row,
 * `reset()` starts over after a success. Jitter spreads clients that lost one origin at once so
 * that they do not come back at once. Deterministic for a seed; no clock.
 */
class backoff {
public:
    explicit backoff(backoff_policy policy = {}, std::uint64_t seed = 1) noexcept : policy_(policy), state_(seed | 1) {}

    std::chrono::milliseconds next() noexcept {
        const double base = std::min<double>(static_cast<double>(policy_.max.count()),
                                             static_cast<double>(policy_.first.count()) * scale_);
        scale_ = std::min(scale_ * policy_.factor, 1e9);
        ++failures_;
        const double jitter = std::clamp(policy_.jitter, 0.0, 1.0);
        const double draw = static_cast<double>(random() >> 11) / static_cast<double>(1ull << 53);  // [0, 1)
        return std::chrono::milliseconds(static_cast<std::int64_t>(base * (1.0 - jitter * draw)));
    }

    void reset() noexcept {
        scale_ = 1.0;
        failures_ = 0;
    }

    /// Failures in a row so far.
    unsigned failures() const noexcept { return failures_; }

private:
    std::uint64_t random() noexcept {  // xorshift64*
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dull;
    }

    backoff_policy policy_;
    std::uint64_t state_;
    double scale_ = 1.0;
    unsigned failures_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/backoff.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// What a reconnecting client is doing.
enum class link_state {
    connecting,  ///< resolving, connecting, handshaking, asking to publish or play
    started,     ///< the stream goes (NetStream.Publish.Start or Play.Start came)
    retrying,    ///< the connection ended or failed; the next attempt comes after a wait
    failed,      ///< given up: a refusal that will not change, or too many failures in a row
    stopped,     ///< `stop` was called
};

/// How one connection ended, as its logic tells it.
struct link_outcome {
    bool started = false;    ///< the stream started on this connection
    bool permanent = false;  ///< a refusal that will not change: no more attempts
    std::error_code error;   ///< why it ended (empty: the server ended it)
    std::string refusal;     ///< the server's refusal, "code: description" (empty: none)
    /// A newer link took the stream over (the server asked for a reconnect): this one ends
    /// quietly, with no report and no more attempts.
    bool handed_over = false;
};

/// How a client link connects and comes back.
struct link_options {
    session_io_options io;
    std::chrono::milliseconds connect_timeout{10'000};  ///< name lookup and TCP connect
    protocol::backoff_policy backoff;
    unsigned max_failures = 0;  ///< failures in a row before giving up (0: never give up)
    /// Refusals that will not change (BadName, Denied, ...) believed at once on a first
    /// connection; after a reconnect, this many are retried first (the server may still hold
    /// the previous connection's publish).
    unsigned refusals_after_start = 4;
};

/// A running client link, whatever its transport. Thread: any.
class link_control {
public:
    virtual ~link_control() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual std::uint64_t reconnects() const noexcept = 0;
};

/// Refusals that will not change by trying again: a certificate the client does not accept.
inline bool refused_for_good(std::error_code ec) noexcept {
    return ec == error::certificate_untrusted || ec == error::certificate_expired || ec == error::certificate_name_mismatch;
}

/**
 * Connects to `host:port` and runs a `basic_session<Stream, Logic>` with a fresh `Logic` each
 * time (`make` builds it on a connected TCP socket, wrapping it into `Stream`: TLS for rtmps); when it ends, waits as the backoff says (reset by a
 * connection whose stream started) and connects again, until a permanent refusal (or a
 * certificate the client does not accept), too many failures in a row, or `stop`. Each change of state goes to `report` on the link's executor
 * (what `report` throws is dropped). A connect timeout or `stop` ends a name lookup or a
 * connection attempt at once (but a lookup inside the system resolver may finish first).
 *
 * `Logic` satisfies `session_logic`, and has `link_outcome outcome() const` and
 * `void end_gracefully()` (ends the stream the polite way, then the connection).
 *
 * Thread: `start` and `stop` from any thread; everything else on the executor.
 * Lifetime: owned by a `std::shared_ptr`; the running loop keeps it alive.
 */
template <class Logic, class Stream = asio::ip::tcp::socket>
class client_link : public link_control, public std::enable_shared_from_this<client_link<Logic, Stream>> {
public:
    using session_type = basic_session<Stream, Logic>;
    using factory = std::function<std::shared_ptr<session_type>(asio::ip::tcp::socket)>;
    using reporter = std::function<void(link_state, const link_outcome&, std::chrono::milliseconds retry_in)>;

    client_link(asio::any_io_executor executor, std::string host, std::uint16_t port, link_options options, factory make,
                reporter report, std::uint64_t seed)
        : executor_(std::move(executor)),
          host_(std::move(host)),
          port_(port),
          options_(options),
          make_(std::move(make)),
          report_(std::move(report)),
          backoff_(options.backoff, seed),
          wait_(executor_),
          resolver_(executor_) {}

    /// Starts the loop. Thread: any.
    void start() override {
        auto self = this->shared_from_this();
        asio::co_spawn(executor_, run(), [self](std::exception_ptr) {});
    }

    /// Ends the stream politely if one goes, and the loop. Thread: any.
    void stop() override {
        asio::post(executor_, [self = this->shared_from_this()] {
            self->stopping_ = true;
            self->wait_.cancel();
            self->abort_connect();
            if (auto s = self->session_.lock()) s->logic().end_gracefully();
        });
    }

    /// Attempts so far after the first one (reconnects). Thread: the executor's.
    std::uint64_t reconnects() const noexcept override { return reconnects_; }

private:
    asio::awaitable<void> run() {
        auto self = this->shared_from_this();
        bool ever_started = false;
        unsigned refusals_after_start = 0;
        for (std::uint64_t attempt = 0; !stopping_; ++attempt) {
            if (attempt > 0) ++reconnects_;
            report(link_state::connecting, {}, {});
            link_outcome outcome;
            auto socket = co_await connect(outcome.error);
            if (socket && !stopping_) {
                auto session = make_(std::move(*socket));
                session_ = session;
                co_await session->run();
                outcome = session->logic().outcome();
                session_.reset();
            }
            if (stopping_) break;
            if (outcome.handed_over) co_return;
            if (outcome.started) {
                backoff_.reset();
                ever_started = true;
                refusals_after_start = 0;
            }
            // A refusal right after a reconnect may be the server still holding the previous
            // connection's publish (BadName) for a while: a few tries before believing it.
            bool permanent = outcome.permanent || refused_for_good(outcome.error);
            if (permanent && ever_started && ++refusals_after_start <= options_.refusals_after_start) permanent = false;
            const bool exhausted = options_.max_failures > 0 && !outcome.started && backoff_.failures() + 1 >= options_.max_failures;
            if (permanent || exhausted) {
                report(link_state::failed, outcome, {});
                co_return;
            }
            const auto delay = backoff_.next();
            report(link_state::retrying, outcome, delay);
            wait_.expires_after(delay);
            co_await wait_.async_wait(detail::use_tuple);
        }
        report(link_state::stopped, {}, {});
    }

    // Tells the owner; what it throws stays with it.
    void report(link_state state, const link_outcome& outcome, std::chrono::milliseconds retry_in) noexcept {
        try {
            report_(state, outcome, retry_in);
        } catch (...) {
        }
    }

    // Resolves and connects within the connect timeout; the socket, or nothing and `ec`.
    asio::awaitable<std::optional<asio::ip::tcp::socket>> connect(std::error_code& ec) {
        // The timer's handler may run after this frame is gone: what it touches it owns.
        auto timed_out = std::make_shared<bool>(false);
        asio::steady_timer timeout(executor_, options_.connect_timeout);
        timeout.async_wait([timed_out, weak = this->weak_from_this()](std::error_code e) {
            auto self = weak.lock();
            if (e || !self) return;
            *timed_out = true;
            self->abort_connect();
        });
        auto [rec, endpoints] = co_await resolver_.async_resolve(host_, std::to_string(port_), detail::use_tuple);
        std::optional<asio::ip::tcp::socket> out;
        if (!rec && !stopping_ && !*timed_out) {
            socket_.emplace(executor_);
            auto [cec, endpoint] = co_await asio::async_connect(*socket_, endpoints, detail::use_tuple);
            (void)endpoint;
            if (!cec && !stopping_ && !*timed_out) {
                std::error_code ignored;
                socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
                out.emplace(std::move(*socket_));
            }
            rec = cec;
            socket_.reset();
        }
        timeout.cancel();
        ec = *timed_out ? make_error_code(error::connect_timeout) : stopping_ ? make_error_code(error::shutdown) : rec;
        co_return out;
    }

    // Ends a name lookup or a connection attempt in progress (every address it would try).
    void abort_connect() {
        resolver_.cancel();
        if (socket_) {
            std::error_code ignored;
            socket_->close(ignored);
        }
    }

    asio::any_io_executor executor_;
    const std::string host_;
    const std::uint16_t port_;
    const link_options options_;
    factory make_;
    reporter report_;
    protocol::backoff backoff_;
    asio::steady_timer wait_;
    asio::ip::tcp::resolver resolver_;
    std::optional<asio::ip::tcp::socket> socket_;  // while connecting
    std::weak_ptr<session_type> session_;          // while connected
    bool stopping_ = false;
    std::uint64_t reconnects_ = 0;
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/client_link.hpp ----
// ---- include/rtmpx/protocol/stream_client.hpp ----
// One stream published to (or played from) another server, sans I/O: the commands, the frames, the end, and why.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

// ---- include/rtmpx/protocol/url.hpp ----
// RTMP URLs: rtmp://host[:port]/app[/instance]/name[?query], as publishers and players write them.

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>


RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// An RTMP URL taken apart: where to connect and what to send in `connect` and `publish`/`play`.
struct rtmp_url {
    bool tls = false;         ///< rtmps://
    std::string host;         ///< a name or an address (IPv6 without its brackets)
    std::uint16_t port = 0;   ///< 1935 (443 for rtmps) unless given
    std::string app;          ///< every path segment but the last: "live", "app/instance"
    std::string name;         ///< the last segment, with the query: the stream key "key?token=x"
    std::string tc_url;       ///< what `connect` carries: scheme, host, port and app, with the query
};

/**
 * Parses `rtmp://host[:port]/app[/...]/name[?query]` (or `rtmps://`). The query string stays on
 * the stream name and goes into the tcUrl as well, where origins that check tokens look for it.
 * Errors: `std::errc::invalid_argument` (another scheme, no host, a bad port, no app or no name).
 */
inline rtmp_url parse_rtmp_url(std::string_view text, std::error_code& ec) {
    ec.clear();
    rtmp_url url;
    auto fail = [&] {
        ec = std::make_error_code(std::errc::invalid_argument);
        return rtmp_url{};
    };
    std::string_view scheme;
    if (text.starts_with("rtmp://")) {
        scheme = "rtmp";
    } else if (text.starts_with("rtmps://")) {
        scheme = "rtmps";
        url.tls = true;
    } else {
        return fail();
    }
    std::string_view rest = text.substr(scheme.size() + 3);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return fail();
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = rest.substr(slash + 1);

    std::string_view port_text;
    if (authority.starts_with("[")) {  // [v6]:port
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return fail();
        url.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(":")) return fail();
            port_text = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (url.host.empty()) return fail();
    url.port = url.tls ? 443 : 1935;
    if (!port_text.empty() || authority.ends_with(":")) {
        if (port_text.empty() || port_text.size() > 5) return fail();
        unsigned port = 0;
        for (const char c : port_text) {
            if (c < '0' || c > '9') return fail();
            port = port * 10 + static_cast<unsigned>(c - '0');
        }
        if (port == 0 || port > 65535) return fail();
        url.port = static_cast<std::uint16_t>(port);
    }

    const auto mark = path.find('?');
    const std::string_view query = mark == std::string_view::npos ? std::string_view{} : path.substr(mark);
    const std::string_view segments = path.substr(0, mark);
    const auto last = segments.rfind('/');
    if (last == std::string_view::npos || last == 0 || last + 1 == segments.size()) return fail();
    url.app = std::string(segments.substr(0, last));
    url.name = std::string(segments.substr(last + 1)) + std::string(query);
    const std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    url.tc_url = std::string(scheme) + "://" + host + ":" + std::to_string(url.port) + "/" + url.app + std::string(query);
    return url;
}

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/url.hpp ----

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Whether the client publishes its stream to the server or plays the server's.
enum class stream_client_mode { publish, play };

/// Settings of a stream client.
struct stream_client_options {
    client_options client = [] {
        client_options o;
        o.flash_ver = "FMLE/3.0 (compatible; rtmpx)";
        return o;
    }();
    std::chrono::milliseconds start_timeout{10'000};  ///< from the connect `_result` to Publish.Start / Play.Start
    std::chrono::milliseconds media_timeout{10'000};  ///< playing: no media for this long ends the connection
    std::chrono::milliseconds ping{5'000};            ///< round-trip measurement interval (0: none)
};

/// Why the server refused: its status code and text, and whether asking again could change it.
struct stream_client_refusal {
    std::string code;         ///< NetConnection.Connect.Rejected, NetStream.Publish.BadName, ...
    std::string description;
    bool permanent = false;   ///< a refusal that will not change (a bad app, name or key): do not retry
};

/**
 * What a stream client tells its owner (during `put` or `on_time`, on the owner's thread):
 * - `void on_started()`: NetStream.Publish.Start, or NetStream.Play.Start;
 * - `void on_media(media_in&)`: playing: each audio, video and data message (`onMetaData` as
 *   `media_type::metadata`, `@setDataFrame` removed), with the server's timestamps;
 * - `void on_news(bool published)`: playing: NetStream.Play.PublishNotify / UnpublishNotify.
 */
template <class H>
concept stream_client_handler = requires(H& h, media_in& m, bool b) {
    h.on_started();
    h.on_media(m);
    h.on_news(b);
};

/**
 * The client side of one stream on another server, the way OBS and ffmpeg do it. Publishing:
 * `connect` (type nonprivate, an FMLE flashVer), `releaseStream`, `FCPublish`, `createStream`,
 * `publish(name, "live")`, then frames (`send_frame`): `@setDataFrame onMetaData` and the
 * sequence headers before the first, a key frame first, the timeline going on from where
 * `start_timeline` says; `finish_publish` sends `FCUnpublish` and `deleteStream`. Playing:
 * `createStream`, `play(name)`, and the media to the owner.
 *
 * The client session underneath does the handshake, acknowledgements, Set Chunk Size and pings
 * of the server; this one measures the round-trip time with its own pings. A refusal by the
 * server (`refusal()`: a connect `_error`, an error-level onStatus) closes the session;
 * connect and publish refusals of the app, name or key (Rejected, InvalidApp, BadName, Denied)
 * are permanent: trying again will not help.
 */
template <class Handler>
class stream_client {
public:
    stream_client(Handler& handler, rtmp_url target, stream_client_mode mode, stream_client_options options, time_point now,
                  std::uint64_t random_seed)
        : handler_(handler),
          target_(std::move(target)),
          mode_(mode),
          options_(std::move(options)),
          session_(*this, options_.client, now, random_seed),
          out_(0) {
        static_assert(stream_client_handler<Handler>, "stream_client: Handler lacks on_started, on_media or on_news");
        amf0::properties extra;
        if (mode_ == stream_client_mode::publish) extra.emplace_back("type", amf0::value("nonprivate"));
        connect_txn_ = session_.connect(target_.app, target_.tc_url, now, std::move(extra));
        if (options_.ping.count() > 0) next_ping_ = now + options_.ping;
    }

    stream_client(const stream_client&) = delete;
    stream_client& operator=(const stream_client&) = delete;

    // ---- I/O -------------------------------------------------------------------------------------

    std::size_t put(std::span<const std::byte> in, time_point now) {
        now_ = now;
        return session_.put(in, now);
    }

    /// The time passed: the session's timeouts, the start and media timeouts, pings.
    void on_time(time_point now) {
        now_ = now;
        session_.on_time(now);
        if (session_.closing()) return;
        if (start_deadline_ && *start_deadline_ <= now) return session_.close(error::connect_timeout, false);
        if (started_ && mode_ == stream_client_mode::play && last_media_ + options_.media_timeout <= now)
            return session_.close(error::idle_timeout, false);
        if (next_ping_ && *next_ping_ <= now && session_.connected()) {
            ping_stamp_ = static_cast<std::uint32_t>(++pings_);
            ping_sent_ = now;
            session_.send(to_message(user_control::ping_request(ping_stamp_)));
            next_ping_ = now + options_.ping;
        } else if (next_ping_ && *next_ping_ <= now) {
            next_ping_ = now + options_.ping;
        }
    }

    std::optional<time_point> next_deadline() const {
        if (session_.closing()) return std::nullopt;
        std::optional<time_point> next = session_.next_deadline();
        auto consider = [&next](const std::optional<time_point>& t) {
            if (t && (!next || *t < *next)) next = t;
        };
        consider(start_deadline_);
        consider(next_ping_);
        if (started_ && mode_ == stream_client_mode::play) consider(last_media_ + options_.media_timeout);
        return next;
    }

    output_queue& output() noexcept { return session_.output(); }
    bool closing() const noexcept { return session_.closing(); }
    bool flush_on_close() const noexcept { return session_.flush_on_close(); }
    void close(std::error_code reason, bool flush) { session_.close(reason, flush); }
    std::error_code reason() const noexcept { return session_.reason(); }

    // ---- publishing ------------------------------------------------------------------------------

    /// The timestamp of the first frame sent (where the previous connection's timeline ended).
    void start_timeline(std::uint32_t first_timestamp) {
        first_timestamp_ = first_timestamp;
        out_.start(first_timestamp);
    }

    /**
     * Sends one frame (configuration first, video from a key frame). False when it was not
     * sent: not publishing yet, or waiting for a key frame.
     */
    bool send_frame(const shared_frame& f) {
        if (!started_ || mode_ != stream_client_mode::publish || session_.closing()) return false;
        if (!f->is_media()) return false;  // news of the local publisher is for players, not for a server
        return out_.write(f, [this, &f](const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
                   if (h.type == message_type::data_amf0 && f->config && payload == f->config->metadata) payload = set_data_frame(payload);
                   session_.send_shared(h, std::move(payload));
               }) == player::outcome::sent;
    }

    /// The timestamp of the last frame sent.
    std::uint32_t timestamp() const noexcept { return out_.timestamp(); }

    /// Ends the publish as publishers do (`FCUnpublish`, `deleteStream`), then the connection
    /// once that is written.
    void finish_publish() {
        if (session_.closing()) return;
        if (started_ && mode_ == stream_client_mode::publish) {
            session_.send(command{"FCUnpublish", 0, amf0::value::null(), {amf0::value(target_.name)}});
            session_.send(command{"deleteStream", 0, amf0::value::null(), {amf0::value(stream_id_)}});
        }
        session_.close({}, true);
    }

    // ---- state -----------------------------------------------------------------------------------

    /// Whether Publish.Start (or Play.Start) came.
    bool started() const noexcept { return started_; }
    /// The server's refusal, if it refused.
    const std::optional<stream_client_refusal>& refusal() const noexcept { return refusal_; }
    /// From the last answered ping (0: none yet).
    std::chrono::microseconds round_trip() const noexcept { return round_trip_; }
    std::uint64_t bytes_in() const noexcept { return session_.bytes_in(); }
    const rtmp_url& target() const noexcept { return target_; }

    // ---- the client session's one callback -------------------------------------------------------

    /// Every message from the server (after the session's own rules): answers, statuses, media.
    void on_message(const message_header& h, decoded_message& d) {
        if (auto* c = std::get_if<command>(&d)) {
            const bool result = c->name == "_result";
            if ((result || c->name == "_error") && connect_txn_ != 0 && c->transaction_id == connect_txn_) {
                connect_txn_ = 0;
                return result ? connected() : connect_failed(*c);
            }
            if (result && create_txn_ != 0 && c->transaction_id == create_txn_) {
                create_txn_ = 0;
                return stream_created(c->arguments.empty() ? 0 : static_cast<std::uint32_t>(c->arguments[0].as_number()));
            }
            if (c->name == "onStatus" && !c->arguments.empty()) status(c->arguments[0]);
            return;
        }
        if (auto* uc = std::get_if<user_control>(&d)) {
            if (uc->event == user_control_event::ping_response && uc->value == ping_stamp_ && ping_stamp_ != 0) {
                round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(now_ - ping_sent_);
                ping_stamp_ = 0;
            }
            return;
        }
        if (mode_ == stream_client_mode::play && started_) media(h, d);
    }

private:
    void connected() {
        start_deadline_ = now_ + options_.start_timeout;
        if (mode_ == stream_client_mode::publish) {
            session_.call("releaseStream", {amf0::value(target_.name)});
            session_.call("FCPublish", {amf0::value(target_.name)});
        }
        create_txn_ = session_.create_stream();
    }

    void connect_failed(const command& c) {
        const amf0::value& info = c.arguments.empty() ? c.object : c.arguments[0];
        const std::string code(info["code"].as_string("NetConnection.Connect.Rejected"));
        // An app or key the server refuses now, it will refuse again.
        refuse(code, std::string(info["description"].as_string()),
               code == "NetConnection.Connect.Rejected" || code == "NetConnection.Connect.InvalidApp");
    }

    void stream_created(std::uint32_t id) {
        if (id == 0) return session_.close(error::message_malformed, false);
        stream_id_ = id;
        out_ = player(id);
        out_.start(first_timestamp_);
        if (mode_ == stream_client_mode::publish) {
            session_.publish(id, target_.name, "live");
        } else {
            session_.play(id, target_.name);
        }
    }

    void status(const amf0::value& info) {
        const std::string_view code = info["code"].as_string();
        const std::string_view level = info["level"].as_string();
        if (code == "NetStream.Publish.Start" || code == "NetStream.Play.Start" || code == "NetStream.Play.Reset") {
            if (started_ || code == "NetStream.Play.Reset") return;
            started_ = true;
            start_deadline_.reset();
            last_media_ = now_;
            handler_.on_started();
            return;
        }
        if (code == "NetStream.Play.PublishNotify" || code == "NetStream.Play.UnpublishNotify") {
            last_media_ = now_;
            return handler_.on_news(code == "NetStream.Play.PublishNotify");
        }
        if (code == "NetConnection.Connect.ReconnectRequest") {  // Enhanced RTMP: the server moves its clients
            if constexpr (requires(std::string url) { handler_.on_reconnect_request(url); })
                if (level == "status") handler_.on_reconnect_request(std::string(info["tcUrl"].as_string()));
            return;
        }
        if (code == "NetStream.Play.Stop") return session_.close({}, false);  // the remote stream ended
        if (level == "error") {
            const bool permanent = code == "NetStream.Publish.BadName" || code == "NetStream.Publish.Denied" ||
                                   code == "NetStream.Publish.Rejected";
            refuse(std::string(code), std::string(info["description"].as_string()), permanent);
            session_.close(error::publish_refused, false);
        }
    }

    // Playing: media and data to the owner.
    void media(const message_header& h, decoded_message& d) {
        if (auto* m = std::get_if<media_message>(&d)) {
            last_media_ = now_;
            media_in in{h.stream_id, m->type == message_type::audio ? media_type::audio : media_type::video, h.timestamp,
                        std::move(m->payload)};
            return handler_.on_media(in);
        }
        if (auto* data = std::get_if<data_message>(&d)) {
            if (data->handler == "@setDataFrame" && !data->values.empty() && data->values[0].is_string()) {
                data->handler = std::string(data->values[0].as_string());
                data->values.erase(data->values.begin());
            }
            if (data->handler == "|RtmpSampleAccess") return;
            const auto type = data->handler == "onMetaData" ? media_type::metadata : media_type::data;
            media_in in{h.stream_id, type, h.timestamp, encode_payload(*data)};
            return handler_.on_media(in);
        }
    }

    void refuse(std::string code, std::string description, bool permanent) {
        if (!refusal_) refusal_ = stream_client_refusal{std::move(code), std::move(description), permanent};
    }

    // The onMetaData body as publishers send it: `@setDataFrame` first (built once per body).
    std::shared_ptr<const std::vector<std::byte>> set_data_frame(const std::shared_ptr<const std::vector<std::byte>>& body) {
        if (metadata_source_ != body) {
            auto out = amf0::encode(amf0::value("@setDataFrame"));
            out.insert(out.end(), body->begin(), body->end());
            metadata_ = std::make_shared<const std::vector<std::byte>>(std::move(out));
            metadata_source_ = body;
        }
        return metadata_;
    }

    Handler& handler_;
    rtmp_url target_;
    stream_client_mode mode_;
    stream_client_options options_;
    client_session<stream_client> session_;
    player out_;
    std::uint32_t first_timestamp_ = 0;
    time_point now_{};
    bool started_ = false;
    std::uint32_t stream_id_ = 0;
    double connect_txn_ = 0;
    double create_txn_ = 0;
    std::optional<time_point> start_deadline_;
    time_point last_media_{};
    std::optional<stream_client_refusal> refusal_;
    std::optional<time_point> next_ping_;
    time_point ping_sent_{};
    std::uint32_t ping_stamp_ = 0;
    std::uint64_t pings_ = 0;
    std::chrono::microseconds round_trip_{0};
    std::shared_ptr<const std::vector<std::byte>> metadata_source_;
    std::shared_ptr<const std::vector<std::byte>> metadata_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/protocol/stream_client.hpp ----

RTMPX_NAMESPACE_BEGIN

/// What a publisher or puller is doing.
using remote_state = driver::link_state;

/// A change of a publisher's or puller's state, as its state handler hears it.
struct remote_event {
    remote_state state = remote_state::connecting;
    std::error_code error;                ///< retrying, failed: why the last connection ended
    std::string refusal;                  ///< the server's status code and description, when it refused
    std::chrono::milliseconds retry_in{0};  ///< retrying: the wait before the next attempt
    std::uint64_t reconnects = 0;         ///< connections made after the first
};

/// Figures of a publisher or puller. Thread: any.
struct remote_statistics {
    remote_state state = remote_state::connecting;
    std::uint64_t bytes_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t frames_sent = 0;     ///< publisher: frames written to the server; puller: messages received
    std::uint64_t frames_dropped = 0;  ///< publisher: frames the server was too slow for (to the next key frame)
    std::uint64_t reconnects = 0;
    std::chrono::microseconds round_trip{0};  ///< from the last answered ping
};

/// How an rtmps:// publisher or puller checks the server (with <rtmpx/tls.hpp> in the program).
struct remote_tls_options {
    /// PEM file of the roots to trust instead of the system's (empty: the system's trust store).
    std::string ca_file;
    /// Takes any certificate, for any name: for tests against a self-signed server only.
    bool insecure_skip_verification = false;
};

/// How a publisher or puller connects, comes back, and queues.
struct remote_options {
    remote_tls_options tls;                    ///< rtmps://: the roots to trust, and whether to check
    driver::link_options link;                 ///< connect timeout, backoff bounds, failures before giving up, I/O
    protocol::stream_client_options stream;    ///< chunk size, start and media timeouts, pings
    std::size_t queue_frames = 64;             ///< publisher: frames queued for a slow server before drops
    std::chrono::milliseconds stop_timeout{3000};  ///< how long `stop` waits for the polite end
};

/**
 * `void (remote_event const&)`: told each change of state (connecting, publishing or playing,
 * retrying in N ms, failed: why, stopped). Thread: the publisher's or puller's own thread.
 */
template <class F>
concept remote_state_handler = std::invocable<F&, const remote_event&>;

namespace detail {

class remote_base;
struct tls_remote;  // <rtmpx/tls.hpp>

// Makes the link of an rtmps:// remote: set by <rtmpx/tls.hpp> (a program without it has no TLS).
using tls_link_maker = std::shared_ptr<driver::link_control> (*)(remote_base&, std::uint64_t seed, std::error_code& ec);
inline tls_link_maker& tls_links() noexcept {
    static tls_link_maker maker = nullptr;
    return maker;
}

// What a publisher or puller shares with the logic of its current connection.
struct remote_shared {
    std::atomic<remote_state> state{remote_state::connecting};
    std::atomic<bool> ended{false};  // stopped or failed: the link's loop is over
    std::atomic<std::uint64_t> bytes_out{0}, bytes_in{0}, frames_sent{0}, frames_dropped{0}, reconnects{0};
    std::atomic<std::int64_t> round_trip_us{0};
    std::atomic<std::uint64_t> claim{0};  // a puller's claim on its broadcast
    // Links by generation: a reconnect request makes a newer link; it takes the stream over
    // (`active`) at its first key frame (pull) or its publish start (push), and the older ones
    // leave. `newest` is the latest made.
    std::atomic<std::uint64_t> active{1}, newest{1};
    // The timeline across connections (the link's thread only).
    std::optional<std::uint32_t> last_timestamp;
    std::chrono::steady_clock::time_point last_end{};

    void report(remote_event e) {
        state.store(e.state, std::memory_order_relaxed);
        e.reconnects = reconnects.load(std::memory_order_relaxed);
        std::function<void(const remote_event&)> handler;
        {
            std::lock_guard lock(mutex);
            handler = on_state;
        }
        try {  // what the state handler throws stays with it
            if (handler) handler(e);
        } catch (...) {
        }
        if (e.state == remote_state::stopped || e.state == remote_state::failed) ended.store(true);
    }

    void set_handler(std::function<void(const remote_event&)> h) {
        std::lock_guard lock(mutex);
        on_state = std::move(h);
    }

    // What makes a newer link on a server's reconnect request (to the tcUrl, or "": the same).
    void set_reconnect(std::function<void(const std::string&)> f) {
        std::lock_guard lock(mutex);
        reconnect = std::move(f);
    }
    void request_reconnect(const std::string& tc_url) {
        std::function<void(const std::string&)> f;
        {
            std::lock_guard lock(mutex);
            f = reconnect;
        }
        if (f) f(tc_url);
    }

    // A publisher's subscription, ended from the thread that stops it (see `remote_base::stop`).
    void set_detach(std::function<void()> f) {
        std::lock_guard lock(mutex);
        detach = std::move(f);
    }
    void detach_now() {
        std::function<void()> f;
        {
            std::lock_guard lock(mutex);
            f = std::move(detach);
            detach = nullptr;
        }
        if (f) f();
    }

private:
    std::mutex mutex;
    std::function<void(const remote_event&)> on_state;
    std::function<void()> detach;
    std::function<void(const std::string&)> reconnect;
};

// One connection of a publisher (push) or a puller (pull): a protocol::stream_client and the
// broadcast it sends from or feeds.
class remote_logic {
public:
    remote_logic(protocol::stream_client_mode mode, std::shared_ptr<broadcast> local, const protocol::rtmp_url& url,
                 const remote_options& options, std::shared_ptr<remote_shared> shared, std::uint64_t generation, std::uint64_t seed)
        : mode_(mode),
          local_(std::move(local)),
          options_(options),
          shared_(std::move(shared)),
          generation_(generation),
          client_(*this, url, mode, options.stream, std::chrono::steady_clock::now(), seed) {}

    ~remote_logic() { unsubscribe(); }

    // ---- driver::session_logic -----------------------------------------------------------------

    void attach(driver::session_port port) { port_ = std::move(port); }
    std::size_t put(std::span<const std::byte> in, protocol::time_point now) {
        const std::size_t used = client_.put(in, now);
        shared_->bytes_in.store(client_.bytes_in(), std::memory_order_relaxed);
        return used;
    }
    void on_time(protocol::time_point now) {
        client_.on_time(now);
        shared_->round_trip_us.store(client_.round_trip().count(), std::memory_order_relaxed);
    }
    std::optional<protocol::time_point> next_deadline() const { return client_.next_deadline(); }
    protocol::output_queue& output() noexcept { return client_.output(); }
    bool closing() const noexcept { return client_.closing(); }
    bool flush_on_close() const noexcept { return client_.flush_on_close(); }
    void close(std::error_code reason, bool flush) { client_.close(reason, flush); }
    void wrote(std::size_t n) { shared_->bytes_out.fetch_add(n, std::memory_order_relaxed); }

    // Frames for the server, when they may go; false while they wait for it.
    bool collect(bool may_go) {
        if (superseded()) return true;
        if (!sub_) return true;
        if (!may_go) return sub_->queue.front() == nullptr && join_.empty() && !sub_->has_news.load(std::memory_order_acquire);
        for (const auto& f : join_) count(client_.send_frame(f));
        join_.clear();
        sub_->drain([&](const protocol::shared_frame& f) { count(client_.send_frame(f)); });
        return true;
    }

    void finish(std::error_code ec) {
        unsubscribe();
        error_ = client_.reason() ? client_.reason() : ec;
        if (client_.started() && mode_ == protocol::stream_client_mode::publish) {
            shared_->last_timestamp = client_.timestamp();
            shared_->last_end = std::chrono::steady_clock::now();
        }
    }

    // ---- driver::client_link -------------------------------------------------------------------

    driver::link_outcome outcome() const {
        const auto& refusal = client_.refusal();
        driver::link_outcome out{client_.started(), refusal && refusal->permanent, error_, {}};
        out.handed_over = generation_ < shared_->newest.load();  // a newer link has the stream
        if (refusal) out.refusal = refusal->description.empty() ? refusal->code : refusal->code + ": " + refusal->description;
        return out;
    }

    void end_gracefully() {
        client_.finish_publish();
        if (port_.poke) port_.poke();
    }

    // ---- protocol::stream_client ---------------------------------------------------------------

    void on_started() {
        remote_event e;
        e.state = remote_state::started;
        shared_->report(std::move(e));
        if (mode_ == protocol::stream_client_mode::play) return;  // the broadcast is claimed when media comes
        if (generation_ > shared_->active.load()) shared_->active.store(generation_);  // pushing here now
        // The timeline goes on where the last connection left it, plus the time in between.
        std::uint32_t first = 0;
        if (shared_->last_timestamp) {
            const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - shared_->last_end);
            first = *shared_->last_timestamp + static_cast<std::uint32_t>(std::max<std::int64_t>(gap.count(), 1));
        }
        client_.start_timeline(first);
        sub_ = std::make_shared<driver::subscriber>(options_.queue_frames);
        sub_->wake = port_.frames_waiting;
        sub_->wake_writes = port_.writes_directly;
        sub_->congested = [gate = port_.gate] { return gate->congested(); };
        sub_->dropped = &shared_->frames_dropped;
        join_ = local_->source().subscribe(sub_);  // from the last key frame (or the next one)
        shared_->set_detach([local = local_, sub = sub_] { local->source().unsubscribe(sub.get()); });
    }

    void on_media(protocol::media_in& m) {
        shared_->frames_sent.fetch_add(1, std::memory_order_relaxed);
        if (superseded()) return;
        if (generation_ > shared_->active.load() && !take_over(m)) return;
        claim();
        detail::push_media(local_->source(), m, claim_);  // false: a local publisher took the broadcast over
    }

    // The server asks for a reconnect (Enhanced RTMP): a newer link connects to `tc_url` (or the
    // same server) and takes over; this one goes on until then.
    void on_reconnect_request(const std::string& tc_url) { shared_->request_reconnect(tc_url); }

    void on_news(bool published) {
        restarted_ = true;
        if (published) return claim();
        if (claim_ != 0) local_->source().notify(protocol::media_kind::unpublished, claim_);
    }

private:
    // Playing: the broadcast is this puller's once the remote stream has media (or its publisher
    // is announced), and stays so across reconnects; its players hear of a publisher each time
    // the remote stream starts again. A local publisher that took the broadcast over keeps it:
    // the puller yields (its media goes nowhere) until that one leaves.
    void claim() {
        if (claim_ != 0 && !restarted_) return;
        restarted_ = false;
        const auto previous = shared_->claim.load(std::memory_order_relaxed);
        if (previous != 0 && local_->holds(previous)) {
            claim_ = previous;
            local_->source().notify(protocol::media_kind::published, claim_);
            return;
        }
        if (local_->has_publisher()) {
            claim_ = 0;
            restarted_ = true;  // ask again at the next message
            return;
        }
        claim_ = local_->claim_publisher(nullptr);
        shared_->claim.store(claim_, std::memory_order_relaxed);
    }

    void count(bool sent) {
        if (sent) shared_->frames_sent.fetch_add(1, std::memory_order_relaxed);
    }

    // Whether a newer link has taken the stream over: this connection then ends, politely.
    bool superseded() {
        if (generation_ >= shared_->active.load()) return false;
        if (!left_) {
            left_ = true;
            unsubscribe();
            end_gracefully();
        }
        return true;
    }

    // A newer link playing takes over at its first video key frame: what comes before it (the
    // metadata and sequence headers, some audio) is held until then, up to `held_limit`
    // messages (a stream without video takes over there).
    bool take_over(protocol::media_in& m) {
        static constexpr std::size_t held_limit = 64;
        const bool key = m.type == protocol::media_type::video && protocol::flv::is_key_frame(m.payload) &&
                         !protocol::flv::is_sequence_header(m.payload);
        if (!key && held_.size() < held_limit) {
            held_.push_back(std::move(m));
            return false;
        }
        shared_->active.store(generation_);
        claim();
        for (auto& h : held_) detail::push_media(local_->source(), h, claim_);
        held_.clear();
        return true;
    }

    void unsubscribe() {
        if (!sub_) return;
        shared_->set_detach(nullptr);
        local_->source().unsubscribe(sub_.get());
        sub_.reset();
        join_.clear();
    }

    protocol::stream_client_mode mode_;
    std::shared_ptr<broadcast> local_;
    const remote_options& options_;
    std::shared_ptr<remote_shared> shared_;
    const std::uint64_t generation_;  // this link's (see remote_shared::active)
    bool left_ = false;               // superseded: ending
    std::vector<protocol::media_in> held_;  // a newer link's messages before its first key frame
    protocol::stream_client<remote_logic> client_;
    driver::session_port port_;
    std::shared_ptr<driver::subscriber> sub_;
    std::vector<protocol::shared_frame> join_;
    std::uint64_t claim_ = 0;
    bool restarted_ = true;  // playing: the next media starts the remote stream (again)
    std::error_code error_;
};

// The thread, the link and the state of a publisher or a puller.
class remote_base {
public:
    remote_base(protocol::stream_client_mode mode, std::shared_ptr<broadcast> local, std::string url, remote_options options)
        : mode_(mode), local_(std::move(local)), url_text_(std::move(url)), options_(std::move(options)) {}
    remote_base(const remote_base&) = delete;
    remote_base& operator=(const remote_base&) = delete;
    ~remote_base() { stop(); }

    template <class F>
    void on_state(F handler) {
        static_assert(remote_state_handler<F>, "on_state: expected void (remote_event const&)");
        handler_ = [h = std::make_shared<F>(std::move(handler))](const remote_event& e) { (*h)(e); };
        shared_->set_handler(handler_);
    }

    /// Parses the URL, makes the link and starts its thread; a running one is stopped first.
    RTMPX_DECL void start(std::error_code& ec);

protected:
    friend struct tls_remote;

    /// The link over `Stream`, which `wrap` makes of a connected TCP socket (TLS: <rtmpx/tls.hpp>).
    template <class Stream, class Wrap>
    std::shared_ptr<driver::link_control> make_link(Wrap wrap, std::uint64_t seed) {
        using link_type = driver::client_link<remote_logic, Stream>;
        auto shared = shared_;
        auto make = [this, shared, wrap = std::move(wrap), next = seed, generation = generation_,
                     url = url_](asio::ip::tcp::socket socket) mutable {
            return std::make_shared<typename link_type::session_type>(wrap(std::move(socket)), options_.link.io, mode_, local_, url,
                                                                      options_, shared, generation, ++next);
        };
        auto report = [shared, this](remote_state state, const driver::link_outcome& outcome, std::chrono::milliseconds retry_in) {
            remote_event e;
            e.state = state;
            e.error = outcome.error;
            e.refusal = outcome.refusal;
            e.retry_in = retry_in;
            if (link_) shared->reconnects.store(link_->reconnects(), std::memory_order_relaxed);
            shared->report(std::move(e));
        };
        return std::make_shared<link_type>(context_->get_executor(), url_.host, url_.port, options_.link, std::move(make),
                                           std::move(report), seed);
    }

    /// On the link's thread, at a server's reconnect request: a newer link to `tc_url` (an
    /// absolute rtmp:// or rtmps:// tcUrl; else the same server) with the same stream name.
    RTMPX_DECL void reconnect(const std::string& tc_url);

    const protocol::rtmp_url& parsed_url() const noexcept { return url_; }
    const remote_options& options() const noexcept { return options_; }

public:

    /// Stops the link and joins the thread, within `remote_options::stop_timeout`.
    RTMPX_DECL void stop();

    remote_statistics statistics() const {
        remote_statistics s;
        s.state = shared_->state.load(std::memory_order_relaxed);
        s.bytes_out = shared_->bytes_out.load(std::memory_order_relaxed);
        s.bytes_in = shared_->bytes_in.load(std::memory_order_relaxed);
        s.frames_sent = shared_->frames_sent.load(std::memory_order_relaxed);
        s.frames_dropped = shared_->frames_dropped.load(std::memory_order_relaxed);
        s.reconnects = shared_->reconnects.load(std::memory_order_relaxed);
        s.round_trip = std::chrono::microseconds(shared_->round_trip_us.load(std::memory_order_relaxed));
        return s;
    }

    remote_state state() const noexcept { return shared_->state.load(std::memory_order_relaxed); }
    const std::string& url() const noexcept { return url_text_; }

protected:
    const std::shared_ptr<broadcast>& local() const noexcept { return local_; }
    std::uint64_t claim() const noexcept { return shared_->claim.load(std::memory_order_relaxed); }
    void clear_claim() noexcept { shared_->claim.store(0, std::memory_order_relaxed); }

private:
    protocol::stream_client_mode mode_;
    std::shared_ptr<broadcast> local_;
    std::string url_text_;
    protocol::rtmp_url url_;
    remote_options options_;
    std::shared_ptr<remote_shared> shared_ = std::make_shared<remote_shared>();
    std::unique_ptr<asio::io_context> context_;
    std::mutex links_mutex_;                   // link_ and old_links_, changed by `reconnect` on the thread
    std::shared_ptr<driver::link_control> link_;
    std::vector<std::shared_ptr<driver::link_control>> old_links_;  // superseded, ending by themselves
    std::uint64_t generation_ = 1;             // the next link's
    bool stopping_ = false;                    // (links_mutex_) no newer link now
    std::thread thread_;
    std::function<void(const remote_event&)> handler_;
};

} // namespace detail

/**
 * Publishes a broadcast (rendered, or relayed from a publisher) to another server, the way OBS
 * and ffmpeg do: `connect`, `releaseStream`, `FCPublish`, `createStream`, `publish`,
 * `@setDataFrame onMetaData`, the sequence headers, then audio and video from a key frame;
 * `FCUnpublish` and `deleteStream` at `stop`. The URL is `rtmp://host[:port]/app[/...]/key`; a
 * query string (`?token=...`) stays on the key and goes into the tcUrl too.
 *
 * It never gives up quietly: when the server goes away, stalls or refuses, it connects again
 * after a jittered exponential wait (`remote_options::link.backoff`), resends the metadata and
 * sequence headers, starts on a key frame and continues the timeline where it stopped. A
 * refusal that will not change (NetConnection.Connect.Rejected or InvalidApp, NetStream.Publish
 * BadName, Denied or Rejected) is reported and not retried. Each change of state goes to the
 * state handler; `statistics()` has the figures. A slow server costs its own queue only: frames
 * drop to the next key frame, the broadcast and its players go on.
 *
 * Several publishers may push one broadcast to several servers; each has its own connection,
 * queue, thread and state.
 *
 * Thread: any, but `start` and `stop` not while another call runs. The state handler runs on
 * the publisher's own thread; what it throws is dropped; a `stop` it calls returns at once.
 */
class publisher : public detail::remote_base {
public:
    publisher(std::shared_ptr<broadcast> source, std::string url, remote_options options = {})
        : remote_base(protocol::stream_client_mode::publish, std::move(source), std::move(url), std::move(options)) {}

    /// Starts publishing (on a thread of its own). Errors: a malformed URL
    /// (`std::errc::invalid_argument`); an rtmps:// URL in a program without <rtmpx/tls.hpp>
    /// (`error::tls_unavailable`), or with a CA file that does not load.
    using remote_base::start;
    /// Throwing form of `start`. @throws std::system_error
    void start() {
        std::error_code ec;
        start(ec);
        if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot publish to {}", url())));
    }
    /// Ends the publish politely (FCUnpublish, deleteStream) and the thread, within
    /// `remote_options::stop_timeout`.
    using remote_base::stop;
};

/**
 * Plays another server's stream into a local broadcast, so that rtmpx serves it as an edge (or
 * takes a camera's RTMP output): the broadcast's players get its audio, video and metadata, with
 * its sequence headers, from its key frames. Reconnects like a `publisher`; while it is away the
 * players wait, and when it comes back they get NetStream.Play.PublishNotify and the stream
 * again. The remote publisher's own leaving and coming back reach them the same way. At `stop`
 * the players get NetStream.Play.UnpublishNotify.
 *
 * Thread: as `publisher`.
 */
class puller : public detail::remote_base {
public:
    puller(std::string url, std::shared_ptr<broadcast> target, remote_options options = {})
        : remote_base(protocol::stream_client_mode::play, std::move(target), std::move(url), std::move(options)) {}
    ~puller() { stop(); }

    /// Starts pulling (on a thread of its own); a running puller is stopped first. Errors as
    /// `publisher::start`.
    void start(std::error_code& ec) {
        stop();
        remote_base::start(ec);
    }
    /// Throwing form of `start`. @throws std::system_error
    void start() {
        std::error_code ec;
        start(ec);
        if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot play {}", url())));
    }
    /// Stops pulling; the broadcast's players hear that the stream ended.
    void stop() {
        remote_base::stop();
        if (const auto c = claim()) local()->release_publisher(c);
        clear_claim();
    }
};

RTMPX_NAMESPACE_END

#if RTMPX_COMPILES_DEFINITIONS
// ---- include/rtmpx/impl/remote.ipp ----
// The out-of-line members of rtmpx/remote.hpp's remote_base: inline when header-only; compiled
// once, in the library's source file, in the separately compiled mode (see config.hpp).

// Included only at the end of <rtmpx/remote.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN

namespace detail {

RTMPX_DECL void remote_base::start(std::error_code& ec) {
    ec.clear();
    stop();
    url_ = protocol::parse_rtmp_url(url_text_, ec);
    if (ec) return;
    if (url_.tls && !tls_links()) {
        ec = make_error_code(error::tls_unavailable);
        return;
    }
    context_ = std::make_unique<asio::io_context>(1);
    shared_ = std::make_shared<remote_shared>();
    shared_->set_handler(handler_);
    shared_->set_reconnect([this](const std::string& tc_url) { reconnect(tc_url); });
    generation_ = 1;
    stopping_ = false;
    std::random_device rd;
    const std::uint64_t seed = (std::uint64_t{rd()} << 32) ^ rd();
    link_ = url_.tls ? tls_links()(*this, seed, ec) : make_link<asio::ip::tcp::socket>([](asio::ip::tcp::socket s) { return s; }, seed);
    if (ec) {
        link_.reset();
        context_.reset();
        return;
    }
    link_->start();
    thread_ = std::thread([this] { context_->run(); });
}

RTMPX_DECL void remote_base::reconnect(const std::string& tc_url) {
    std::shared_ptr<driver::link_control> started;  // started after the lock: its first report may call `stop`
    std::unique_lock lock(links_mutex_);
    if (stopping_) return;
    std::error_code ec;
    if (!tc_url.empty()) {
        // The tcUrl names the server and the app; the stream name stays.
        auto next = protocol::parse_rtmp_url(tc_url.substr(0, tc_url.find('?')) + "/" + url_.name, ec);
        if (!ec && (!next.tls || tls_links())) url_ = std::move(next);
    }
    ++generation_;
    shared_->newest.store(generation_);
    std::random_device rd;
    const std::uint64_t seed = (std::uint64_t{rd()} << 32) ^ rd();
    auto link = url_.tls ? tls_links()(*this, seed, ec) : make_link<asio::ip::tcp::socket>([](asio::ip::tcp::socket s) { return s; }, seed);
    if (ec || !link) return;
    old_links_.push_back(std::move(link_));
    link_ = started = std::move(link);
    lock.unlock();
    started->start();
}

RTMPX_DECL void remote_base::stop() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard lock(links_mutex_);
        stopping_ = true;
        for (auto& old : old_links_) old->stop();
        link_->stop();
    }
    if (std::this_thread::get_id() == thread_.get_id()) return;  // from the state handler: the loop ends by itself
    const auto deadline = std::chrono::steady_clock::now() + options_.stop_timeout;
    while (!shared_->ended.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    shared_->detach_now();  // the broadcast no longer wakes a session that is about to go
    context_->stop();
    thread_.join();
    link_.reset();
    old_links_.clear();
    context_.reset();
}

} // namespace detail

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/impl/remote.ipp ----
#endif
// ---- end of include/rtmpx/remote.hpp ----
// ---- end of include/rtmpx/rtmpx.hpp ----
