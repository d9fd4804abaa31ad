// SPDX-License-Identifier: MIT
// Sans-I/O RTMP handshake, both sides: the server's (plain or FP9 digest) and the client's (plain).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/detail/sha256.hpp>
#include <rtmpx/error.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Size of C1, C2, S1 and S2 (RTMP 1.0 §5.2.3).
inline constexpr std::size_t handshake_packet_size = 1536;
/// The only protocol version C0 may carry (3 is plain RTMP; 6 would be RTMPE).
inline constexpr std::uint8_t handshake_rtmp_version = 3;
/// The first byte of a TLS connection (a handshake record): what a plain port sees from rtmps://.
inline constexpr std::uint8_t tls_handshake_record = 0x16;
/// Length of an FP9 handshake digest (one SHA-256 output).
inline constexpr std::size_t handshake_digest_size = detail::sha256::digest_size;

/// The 32 constant bytes that follow the text of both FP9 handshake keys.
inline constexpr std::array<std::uint8_t, 32> handshake_key_tail = {
    0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
    0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
};

/// Builds an FP9 key: the text (without its terminating NUL) followed by `handshake_key_tail`.
template <std::size_t N>
constexpr std::array<std::byte, N - 1 + 32> make_handshake_key(const char (&text)[N]) noexcept {
    std::array<std::byte, N - 1 + 32> key{};
    for (std::size_t i = 0; i + 1 < N; ++i) key[i] = std::byte(static_cast<unsigned char>(text[i]));
    for (std::size_t i = 0; i < handshake_key_tail.size(); ++i) key[N - 1 + i] = std::byte(handshake_key_tail[i]);
    return key;
}

/// The client (Flash Player) key; its first 30 bytes (the text) key the C1 digest.
inline constexpr auto handshake_player_key = make_handshake_key("Genuine Adobe Flash Player 001");
inline constexpr std::size_t handshake_player_key_text_size = 30;
/// The server (Flash Media Server) key; its first 36 bytes (the text) key the S1 digest and the
/// whole 68 bytes key the S2 signature key.
inline constexpr auto handshake_server_key = make_handshake_key("Genuine Adobe Flash Media Server 001");
inline constexpr std::size_t handshake_server_key_text_size = 36;

/// Where the digest of a 1536-byte handshake packet sits under the scheme whose offset bytes
/// start at `base` (8 or 772): the four bytes at `base` summed, modulo 728, plus `base + 4`.
inline std::size_t handshake_digest_position(std::span<const std::byte> packet, std::size_t base) noexcept {
    RTMPX_ASSERT(packet.size() == handshake_packet_size && (base == 8 || base == 772));
    const std::size_t sum = std::size_t{detail::u8(packet[base])} + detail::u8(packet[base + 1]) + detail::u8(packet[base + 2]) +
                            detail::u8(packet[base + 3]);
    return sum % 728 + base + 4;
}

/// HMAC-SHA256 under `key` of a handshake packet with its 32 digest bytes at `position` left out.
inline std::array<std::byte, handshake_digest_size> handshake_digest(std::span<const std::byte> packet,
                                                                     std::size_t position,
                                                                     std::span<const std::byte> key) noexcept {
    RTMPX_ASSERT(position + handshake_digest_size <= packet.size());
    return detail::hmac_sha256(key, packet.first(position), packet.subspan(position + handshake_digest_size));
}

/// Fills `out` from a splitmix64 generator whose state is `state`: a seed-only generator, enough
/// for handshake padding (the handshake's random bytes protect nothing).
inline void handshake_fill_random(std::uint64_t& state, std::span<std::byte> out) noexcept {
    auto next = [&state]() noexcept {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    while (out.size() >= 8) {
        detail::store_be64(out, next());
        out = out.subspan(8);
    }
    if (!out.empty()) {
        const std::uint64_t v = next();
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte((v >> (56 - 8 * i)) & 0xff);
    }
}

/**
 * The server side of the RTMP handshake, without I/O, clocks or threads.
 *
 * Feed client bytes with `put`. Once C0 and C1 are in, S0 S1 S2 (3073 bytes) wait in `output`
 * until `consume_output`; once C2 is in, `done` is true. `put` never consumes bytes past C2: they
 * begin the chunk stream and stay with the caller.
 *
 * If C1 carries a valid FP9 digest (Flash Player key, offset scheme 8 or 772) the reply is the
 * digest handshake: S1 with a non-zero server version and a digest under the Flash Media Server
 * key in the client's scheme, and S2 signed with a key derived from the client's digest. Otherwise
 * it is the plain handshake of RTMP 1.0: S1 with zero version bytes and S2 an echo of C1. The
 * random parts come from a generator seeded by the constructor. C2 is only counted, not checked.
 *
 * Errors: a C0 other than 3 gives `error::bad_handshake_version` (`error::tls_on_plain_port` for
 * 0x16, the first byte of a TLS client) as soon as that byte arrives;
 * the handshake then stays failed and consumes nothing more.
 */
class server_handshake {
public:
    /// `random_seed` drives the random bytes of S1/S2; `server_time` is the S1 time field.
    explicit server_handshake(std::uint64_t random_seed, std::uint32_t server_time = 0) noexcept
        : rng_state_(random_seed), server_time_(server_time) {}

    /// Consumes client handshake bytes, stopping at the end of C2; returns bytes consumed.
    std::size_t put(std::span<const std::byte> in, std::error_code& ec) noexcept {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        ec.clear();
        std::size_t used = 0;
        while (used < in.size() && stage_ != stage::done) {
            const auto rest = in.subspan(used);
            switch (stage_) {
            case stage::c0:
                if (detail::u8(rest[0]) != handshake_rtmp_version) {
                    // 0x16 opens a TLS handshake record: an rtmps:// client on a plain port.
                    failed_ = make_error_code(detail::u8(rest[0]) == tls_handshake_record ? error::tls_on_plain_port
                                                                                          : error::bad_handshake_version);
                    ec = failed_;
                    return used;
                }
                ++used;
                stage_ = stage::c1;
                break;
            case stage::c1: {
                const std::size_t n = std::min(handshake_packet_size - received_, rest.size());
                std::copy_n(rest.begin(), n, c1_.begin() + static_cast<std::ptrdiff_t>(received_));
                received_ += n;
                used += n;
                if (received_ == handshake_packet_size) {
                    respond();
                    received_ = 0;
                    stage_ = stage::c2;
                }
                break;
            }
            case stage::c2: {
                const std::size_t n = std::min(handshake_packet_size - received_, rest.size());
                received_ += n;
                used += n;
                if (received_ == handshake_packet_size) stage_ = stage::done;
                break;
            }
            case stage::done: break;
            }
        }
        return used;
    }

    /// S0 S1 S2 while they wait to be sent, else empty. Stays valid until `consume_output`.
    std::span<const std::byte> output() const noexcept {
        if (!output_pending_) return {};
        return out_;
    }

    /// Marks the whole of `output()` as sent.
    void consume_output() noexcept { output_pending_ = false; }

    /// Whether C2 has been received (the caller still sends any pending `output()` first).
    bool done() const noexcept { return stage_ == stage::done; }

    /// Whether C1 carried a valid digest and the FP9 digest handshake was answered.
    bool used_digest() const noexcept { return used_digest_; }

    /// The client's C1 once it is complete, else empty.
    std::span<const std::byte> client_c1() const noexcept {
        if (stage_ == stage::c0 || stage_ == stage::c1) return {};
        return c1_;
    }

private:
    enum class stage { c0, c1, c2, done };

    static constexpr std::size_t s1_offset_ = 1;
    static constexpr std::size_t s2_offset_ = 1 + handshake_packet_size;
    static constexpr std::uint32_t server_version_ = 0x04050001;  // advertised on the digest path

    void fill_random(std::span<std::byte> out) noexcept { handshake_fill_random(rng_state_, out); }

    // Finds a valid client digest under either scheme; records its position.
    bool find_client_digest() noexcept {
        const auto key = std::span(handshake_player_key).first(handshake_player_key_text_size);
        for (std::size_t base : {std::size_t{772}, std::size_t{8}}) {
            const std::size_t pos = handshake_digest_position(c1_, base);
            const auto expected = handshake_digest(c1_, pos, key);
            if (std::equal(expected.begin(), expected.end(), c1_.begin() + static_cast<std::ptrdiff_t>(pos))) {
                client_scheme_ = base;
                client_digest_pos_ = pos;
                return true;
            }
        }
        return false;
    }

    // Builds S0 S1 S2 from the complete C1.
    void respond() noexcept {
        const auto all = std::span(out_);
        const auto s1 = all.subspan(s1_offset_, handshake_packet_size);
        const auto s2 = all.subspan(s2_offset_, handshake_packet_size);
        all[0] = std::byte{handshake_rtmp_version};
        detail::store_be32(s1, server_time_);
        fill_random(s1.subspan(8));

        used_digest_ = find_client_digest();
        if (!used_digest_) {
            detail::store_be32(s1.subspan(4), 0);
            std::copy(c1_.begin(), c1_.end(), s2.begin());
        } else {
            detail::store_be32(s1.subspan(4), server_version_);
            const std::size_t pos = handshake_digest_position(s1, client_scheme_);
            const auto s1_digest =
                handshake_digest(s1, pos, std::span(handshake_server_key).first(handshake_server_key_text_size));
            std::copy(s1_digest.begin(), s1_digest.end(), s1.begin() + static_cast<std::ptrdiff_t>(pos));

            const auto body = s2.first(handshake_packet_size - handshake_digest_size);
            fill_random(body);
            const auto client_digest =
                std::span<const std::byte>(c1_).subspan(client_digest_pos_, handshake_digest_size);
            const auto signing_key = detail::hmac_sha256(handshake_server_key, client_digest);
            const auto signature = detail::hmac_sha256(signing_key, body);
            std::copy(signature.begin(), signature.end(), s2.begin() + static_cast<std::ptrdiff_t>(body.size()));
        }
        output_pending_ = true;
    }

    std::array<std::byte, handshake_packet_size> c1_{};
    std::array<std::byte, 1 + 2 * handshake_packet_size> out_{};
    std::uint64_t rng_state_;
    std::uint32_t server_time_;
    std::size_t received_ = 0;  // bytes of the current C1 or C2 so far
    std::size_t client_scheme_ = 0;
    std::size_t client_digest_pos_ = 0;
    std::error_code failed_;
    stage stage_ = stage::c0;
    bool used_digest_ = false;
    bool output_pending_ = false;
};

/**
 * The client side of the RTMP handshake (RTMP 1.0 §5.2), plain: C0 and C1 (time, zero version
 * bytes, random bytes) are ready in `output` from construction; once S0 and S1 are in, C2 (an
 * echo of S1) waits there too; once S2 is in, `done` is true. Servers answer a C1 without a
 * digest with the plain handshake, which nginx-rtmp, SRS, node-media-server and FFmpeg all do.
 * `put` never consumes bytes past S2: they begin the chunk stream.
 *
 * Errors: an S0 other than 3 gives `error::bad_handshake_version`; the handshake then stays
 * failed and consumes nothing more. S2 is not checked (servers differ in what they echo).
 */
class client_handshake {
public:
    explicit client_handshake(std::uint64_t random_seed, std::uint32_t client_time = 0) noexcept
        : rng_state_(random_seed) {
        out_[0] = std::byte{handshake_rtmp_version};
        const auto c1 = std::span(out_).subspan(1, handshake_packet_size);
        detail::store_be32(c1, client_time);
        detail::store_be32(c1.subspan(4), 0);
        handshake_fill_random(rng_state_, c1.subspan(8));
        pending_ = 1 + handshake_packet_size;
    }

    /// Consumes server handshake bytes, stopping at the end of S2; returns bytes consumed.
    std::size_t put(std::span<const std::byte> in, std::error_code& ec) noexcept {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        ec.clear();
        std::size_t used = 0;
        while (used < in.size() && stage_ != stage::done) {
            const auto rest = in.subspan(used);
            if (stage_ == stage::s0) {
                server_version_ = detail::u8(rest[0]);
                if (server_version_ != handshake_rtmp_version) {
                    failed_ = make_error_code(error::bad_handshake_version);
                    ec = failed_;
                    return used;
                }
                ++used;
                stage_ = stage::s1;
                continue;
            }
            const std::size_t n = std::min(handshake_packet_size - received_, rest.size());
            if (stage_ == stage::s1)
                std::copy_n(rest.begin(), n, out_.begin() + static_cast<std::ptrdiff_t>(c2_offset_ + received_));
            received_ += n;
            used += n;
            if (received_ < handshake_packet_size) continue;
            received_ = 0;
            if (stage_ == stage::s1) {
                stage_ = stage::s2;
                // C2 echoes S1 (copied into place above); it goes out after whatever is pending.
                pending_ = c2_offset_ + handshake_packet_size;
            } else {
                stage_ = stage::done;
            }
        }
        return used;
    }

    /// Bytes waiting to be sent (C0 C1, then C2), else empty. Valid until `consume_output`.
    std::span<const std::byte> output() const noexcept {
        return std::span<const std::byte>(out_).subspan(sent_, pending_ - sent_);
    }
    /// Marks the whole of `output()` as sent.
    void consume_output() noexcept { sent_ = pending_; }
    /// Whether S2 has been received (C2 may still wait in `output`).
    bool done() const noexcept { return stage_ == stage::done; }
    /// The version byte the server sent in S0 (0 before it arrives).
    std::uint8_t server_version() const noexcept { return server_version_; }

private:
    enum class stage { s0, s1, s2, done };
    static constexpr std::size_t c2_offset_ = 1 + handshake_packet_size;

    std::array<std::byte, 1 + 2 * handshake_packet_size> out_{};  // C0 C1 C2
    std::uint64_t rng_state_;
    std::size_t sent_ = 0;
    std::size_t pending_ = 0;   // out_[sent_, pending_) waits to be sent
    std::size_t received_ = 0;  // bytes of the current S1 or S2 so far
    std::error_code failed_;
    stage stage_ = stage::s0;
    std::uint8_t server_version_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
