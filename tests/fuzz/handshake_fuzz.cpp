// SPDX-License-Identifier: MIT
// Fuzz target: both handshake sides fed in pieces; S0 S1 S2 (and C2) well-formed, nothing read past the end.
//
// Input: one control byte choosing the piece sizes (see fuzz_common.hpp), then the client bytes
// (C0 C1 C2 and whatever follows).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include <rtmpx/protocol/handshake.hpp>

#include "fuzz_common.hpp"

namespace hs = rtmpx::protocol;

namespace {

constexpr std::size_t c0_c1_size = 1 + hs::handshake_packet_size;
constexpr std::size_t all_size = 1 + 2 * hs::handshake_packet_size;

// S0 S1 S2 as the handshake documents them, for client packet `c1`.
void check_output(std::span<const std::byte> out, std::span<const std::byte> c1, bool digest) {
    RTMPX_FUZZ_CHECK(out.size() == all_size);
    RTMPX_FUZZ_CHECK(out[0] == std::byte{hs::handshake_rtmp_version});
    const auto s1 = out.subspan(1, hs::handshake_packet_size);
    const auto s2 = out.subspan(1 + hs::handshake_packet_size, hs::handshake_packet_size);
    if (!digest) {
        // Plain handshake: zero version bytes in S1, S2 echoes C1.
        RTMPX_FUZZ_CHECK(std::all_of(s1.begin() + 4, s1.begin() + 8, [](std::byte b) { return b == std::byte{0}; }));
        RTMPX_FUZZ_CHECK(std::equal(s2.begin(), s2.end(), c1.begin(), c1.end()));
        return;
    }
    // Digest handshake: S1 carries a valid server digest in one of the two schemes.
    const auto key = std::span(hs::handshake_server_key).first(hs::handshake_server_key_text_size);
    bool found = false;
    for (std::size_t base : {std::size_t{8}, std::size_t{772}}) {
        const std::size_t pos = hs::handshake_digest_position(s1, base);
        const auto expected = hs::handshake_digest(s1, pos, key);
        found = found || std::equal(expected.begin(), expected.end(), s1.begin() + static_cast<std::ptrdiff_t>(pos));
    }
    RTMPX_FUZZ_CHECK(found);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    const auto input = rtmpx_fuzz::as_bytes(data + 1, size - 1);

    hs::server_handshake shake(0x5eedu ^ control, 1234);
    rtmpx_fuzz::piece_sizes pieces(control);
    std::vector<std::byte> pending;
    std::size_t offset = 0;
    std::size_t consumed = 0;
    bool output_seen = false;
    bool failed = false;
    while (offset < input.size()) {
        const std::size_t n = pieces.next(input.size() - offset);
        pending.insert(pending.end(), input.begin() + static_cast<std::ptrdiff_t>(offset),
                       input.begin() + static_cast<std::ptrdiff_t>(offset + n));
        offset += n;

        std::error_code ec;
        const std::size_t used = shake.put(pending, ec);
        RTMPX_FUZZ_CHECK(used <= pending.size());
        consumed += used;
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        RTMPX_FUZZ_CHECK(consumed <= all_size);  // never past C2

        if (ec) {
            // Only a bad C0 fails, as soon as it arrives, and the failure sticks.
            RTMPX_FUZZ_CHECK(consumed == 0 && input[0] != std::byte{hs::handshake_rtmp_version});
            std::error_code again;
            RTMPX_FUZZ_CHECK(shake.put(pending, again) == 0 && again == ec);
            failed = true;
            break;
        }
        // Everything is consumed up to the end of C2; after that, nothing.
        RTMPX_FUZZ_CHECK(consumed == std::min(offset, all_size));
        RTMPX_FUZZ_CHECK(shake.done() == (consumed == all_size));

        const auto out = shake.output();
        if (consumed < c0_c1_size) {
            RTMPX_FUZZ_CHECK(out.empty() && shake.client_c1().empty());
        } else if (!output_seen) {
            const auto c1 = input.subspan(1, hs::handshake_packet_size);
            RTMPX_FUZZ_CHECK(std::equal(c1.begin(), c1.end(), shake.client_c1().begin(), shake.client_c1().end()));
            check_output(out, c1, shake.used_digest());
            output_seen = true;
            if ((control & 1) != 0) shake.consume_output();  // a session that sends at once
        }
        // Unsent output stays available, unchanged in size, until it is marked sent.
        if (output_seen && (control & 1) == 0) RTMPX_FUZZ_CHECK(shake.output().size() == all_size);
        if (shake.done()) {
            std::error_code more;
            RTMPX_FUZZ_CHECK(shake.put(pending, more) == 0 && !more);
        }
    }
    if (!failed && input.size() >= c0_c1_size) RTMPX_FUZZ_CHECK(output_seen);
    shake.consume_output();
    RTMPX_FUZZ_CHECK(shake.output().empty());

    // The same bytes as a server's S0 S1 S2, to the client side: it consumes at most S0 S1 S2,
    // answers S1 with C2 = S1, and fails only on a bad S0.
    hs::client_handshake client(0x5eedu ^ control);
    RTMPX_FUZZ_CHECK(client.output().size() == c0_c1_size);
    client.consume_output();
    rtmpx_fuzz::piece_sizes client_pieces(control);
    std::size_t client_used = 0;
    for (std::size_t at = 0; at < input.size();) {
        const std::size_t n = client_pieces.next(input.size() - at);
        std::error_code ec;
        const std::size_t used = client.put(input.subspan(client_used, at + n - client_used), ec);
        client_used += used;
        at += n;
        if (ec) {
            RTMPX_FUZZ_CHECK(client_used == 0 && input[0] != std::byte{hs::handshake_rtmp_version});
            break;
        }
        RTMPX_FUZZ_CHECK(client_used == std::min(at, all_size));
        if (client_used >= c0_c1_size && !client.output().empty()) {
            const auto s1 = input.subspan(1, hs::handshake_packet_size);
            RTMPX_FUZZ_CHECK(std::equal(s1.begin(), s1.end(), client.output().begin(), client.output().end()));
            client.consume_output();
        }
        RTMPX_FUZZ_CHECK(client.done() == (client_used == all_size));
    }
    return 0;
}
