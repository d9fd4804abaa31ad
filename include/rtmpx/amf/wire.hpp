// SPDX-License-Identifier: MIT
// What the AMF0 and AMF3 codecs share: type markers, byte writers and the bounded decode cursor.
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

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/limits.hpp>

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
