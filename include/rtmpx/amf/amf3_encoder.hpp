// SPDX-License-Identifier: MIT
// A small AMF3 encoder for amf0::value, used for the AMF3-only kinds behind the AVM+ switch.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/amf/wire.hpp>
#include <rtmpx/config.hpp>

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
