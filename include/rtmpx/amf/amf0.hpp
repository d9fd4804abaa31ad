// SPDX-License-Identifier: MIT
// AMF0: the encoder and the bounded decoder of amf0::value (with the AVM+ switch to AMF3).
#pragma once

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

#include <rtmpx/amf/amf3_decoder.hpp>
#include <rtmpx/amf/amf3_encoder.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/amf/wire.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/limits.hpp>

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
