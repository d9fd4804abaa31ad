// SPDX-License-Identifier: MIT
// Shared helpers for the test suites: byte literals and printing of rtmpx types in doctest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include <rtmpx/error.hpp>

RTMPX_NAMESPACE_BEGIN
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
inline std::ostream& operator<<(std::ostream& os, condition c) {
    return os << make_error_condition(c).message();
}
RTMPX_NAMESPACE_END

namespace rtmpx_test {

/// Bytes from integer literals: `bytes({0x03, 0x00})`.
inline std::vector<std::byte> bytes(std::initializer_list<int> values) {
    std::vector<std::byte> out;
    out.reserve(values.size());
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

/// Concatenates byte vectors.
inline std::vector<std::byte> concat(std::initializer_list<std::vector<std::byte>> parts) {
    std::vector<std::byte> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

} // namespace rtmpx_test
