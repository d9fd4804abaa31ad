// SPDX-License-Identifier: MIT
// Shared helpers for the test suites: byte literals and printing of rtmpx types in doctest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <string>
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

#if defined(RTMPX_FIXTURES_DIR)
/// The bytes of a recorded session in tests/fixtures/ (see its README).
inline std::vector<std::byte> load_fixture(const std::string& name) {
    std::ifstream in(std::string(RTMPX_FIXTURES_DIR) + "/" + name, std::ios::binary);
    if (!in.good()) throw std::runtime_error("missing fixture " + name);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    for (std::size_t i = 0; i < chars.size(); ++i) out[i] = static_cast<std::byte>(chars[i]);
    return out;
}
#endif

} // namespace rtmpx_test
