// SPDX-License-Identifier: MIT
// RTMP URLs: rtmp://host[:port]/app[/instance]/name[?query], as publishers and players write them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <rtmpx/config.hpp>

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
