// SPDX-License-Identifier: MIT
// Big- and little-endian loads and stores on byte spans (no casts of wire bytes to structs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <rtmpx/config.hpp>

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
