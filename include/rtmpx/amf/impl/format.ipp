// SPDX-License-Identifier: MIT
// The out-of-line part of rtmpx/amf/format.hpp: inline when header-only; compiled once, in the
// library's source file, in the separately compiled mode (see config.hpp). Its fmt::format_to
// calls are the first to instantiate fmt's formatting machinery in a translation unit.
#pragma once

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
