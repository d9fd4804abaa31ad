// SPDX-License-Identifier: MIT
// Fuzz target: the chunk stream reader fed in pieces like a session, then every message decoded.
//
// Input: one control byte, then the chunk stream (what follows C2 on the wire). The control byte's
// low seven bits choose the piece sizes (see fuzz_common.hpp); its top bit selects tight limits so
// that every limit error is reachable with small inputs.
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/commands.hpp>

#include "fuzz_common.hpp"

namespace {

rtmpx::chunk_limits limits_for(std::uint8_t control) {
    rtmpx::chunk_limits l;
    if ((control & 0x80) != 0) {
        l.max_message_size = 2048;
        l.max_chunk_streams = 4;
        l.max_reassembly_bytes = 3000;
    }
    return l;
}

void decode(rtmpx::protocol::message m, const rtmpx::amf_limits& amf, bool nested) {
    std::error_code ec;
    auto decoded = rtmpx::protocol::decode_message(std::move(m), ec, amf);
    if (ec) return;
    if (auto* c = std::get_if<rtmpx::protocol::command>(&decoded)) {
        std::error_code pec;
        auto typed = rtmpx::protocol::parse_command(std::move(*c), pec);
        (void)typed;
    } else if (auto* a = std::get_if<rtmpx::protocol::aggregate_message>(&decoded); a && !nested) {
        for (auto& part : a->parts) decode(std::move(part), amf, true);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    const auto input = rtmpx_fuzz::as_bytes(data + 1, size - 1);
    const rtmpx::chunk_limits limits = limits_for(control);
    rtmpx::amf_limits amf;
    amf.max_elements = 4096;

    rtmpx::protocol::chunk_reader reader(limits);
    rtmpx_fuzz::piece_sizes pieces(control);
    std::vector<std::byte> pending;  // received, not yet consumed (a partial chunk header)
    std::size_t offset = 0;
    std::size_t consumed_total = 0;
    bool failed = false;
    while (offset < input.size() && !failed) {
        const std::size_t n = pieces.next(input.size() - offset);
        pending.insert(pending.end(), input.begin() + static_cast<std::ptrdiff_t>(offset),
                       input.begin() + static_cast<std::ptrdiff_t>(offset + n));
        offset += n;

        std::size_t used = 0;
        for (;;) {
            std::error_code ec;
            const std::size_t step = reader.put(std::span<const std::byte>(pending).subspan(used), ec);
            RTMPX_FUZZ_CHECK(step <= pending.size() - used);
            used += step;
            RTMPX_FUZZ_CHECK(reader.buffered_bytes() <= limits.max_reassembly_bytes);
            RTMPX_FUZZ_CHECK(reader.live_chunk_streams() <= limits.max_chunk_streams);
            RTMPX_FUZZ_CHECK(reader.chunk_size() >= 1 && reader.chunk_size() <= 0x7fffffffu);
            if (ec) {
                // A failed reader stays failed and consumes nothing more.
                std::error_code again;
                RTMPX_FUZZ_CHECK(reader.put(std::span<const std::byte>(pending).subspan(used), again) == 0);
                RTMPX_FUZZ_CHECK(again == ec);
                failed = true;
                break;
            }
            if (!reader.has_message()) break;
            rtmpx::protocol::message m = reader.take_message();
            RTMPX_FUZZ_CHECK(m.payload.size() <= limits.max_message_size);
            RTMPX_FUZZ_CHECK(m.header.chunk_stream_id >= 2 && m.header.chunk_stream_id <= 65599);
            decode(std::move(m), amf, false);
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        consumed_total += used;
        // Only a partial chunk header may stay behind (at most 3 + 11 + 4 bytes).
        if (!failed) RTMPX_FUZZ_CHECK(pending.size() < 18);
    }
    RTMPX_FUZZ_CHECK(consumed_total + pending.size() == offset);
    return 0;
}
