// SPDX-License-Identifier: MIT
// AMF values as text: amf0::to_string and a fmt formatter, for logs and tests.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>

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
#include <rtmpx/amf/impl/format.ipp>
#endif
