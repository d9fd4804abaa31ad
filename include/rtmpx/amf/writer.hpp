// SPDX-License-Identifier: MIT
// AMF0 written straight into a byte buffer, value by value, without building `amf0::value`s.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/amf/wire.hpp>
#include <rtmpx/config.hpp>

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
