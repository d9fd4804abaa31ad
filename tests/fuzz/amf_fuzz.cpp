// SPDX-License-Identifier: MIT
// Fuzz target: AMF0 (and, behind AVM+, AMF3) decoding, its encode/decode round trip, the view
// decoder against the value decoder, and commands.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/document.hpp>
#include <rtmpx/amf/format.hpp>
#include <rtmpx/protocol/commands.hpp>

#include "fuzz_common.hpp"

using rtmpx::amf0::value;

namespace {

// Decodes again what `values` encode to, and expects the same values.
void check_round_trip(const std::vector<value>& values, const rtmpx::amf_limits& limits) {
    std::vector<std::byte> wire;
    for (const value& v : values) rtmpx::amf0::encode(v, wire);
    std::vector<value> again;
    std::error_code ec;
    const bool ok = rtmpx::amf0::decode_all(wire, again, ec, limits);
    if (!ok) std::fprintf(stderr, "re-decoding failed: %s\n", ec.message().c_str());
    RTMPX_FUZZ_CHECK(ok);
    RTMPX_FUZZ_CHECK(again.size() == values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!(again[i] == values[i])) {
            std::fprintf(stderr, "value %zu differs after the round trip:\n  %s\n  %s\n", i,
                         rtmpx::amf0::to_string(values[i]).c_str(), rtmpx::amf0::to_string(again[i]).c_str());
        }
        RTMPX_FUZZ_CHECK(again[i] == values[i]);
    }
}

// The input as the body of a message of `type`, through decode_message and parse_command.
void check_message(std::span<const std::byte> body, rtmpx::protocol::message_type type, const rtmpx::amf_limits& limits) {
    rtmpx::protocol::message m;
    m.header.type = type;
    m.payload.assign(body.begin(), body.end());
    std::error_code ec;
    auto decoded = rtmpx::protocol::decode_message(std::move(m), ec, limits);
    if (ec) return;
    if (auto* c = std::get_if<rtmpx::protocol::command>(&decoded)) {
        std::error_code pec;
        auto typed = rtmpx::protocol::parse_command(std::move(*c), pec);
        (void)typed;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto in = rtmpx_fuzz::as_bytes(data, size);
    // Small limits make the depth and element limits reachable with fuzzer-sized inputs.
    rtmpx::amf_limits limits;
    limits.max_depth = 16;
    limits.max_elements = 4096;

    // One value from the front: consumes at most what it was given.
    value one;
    std::error_code ec;
    const std::size_t used = rtmpx::amf0::decode(in, one, ec, limits);
    RTMPX_FUZZ_CHECK(used <= size);
    RTMPX_FUZZ_CHECK(ec ? used == 0 : used > 0);

    // Every value, then the round trip and the text form of what decoded.
    std::vector<value> values;
    if (rtmpx::amf0::decode_all(in, values, ec, limits)) {
        RTMPX_FUZZ_CHECK(!ec);
        check_round_trip(values, limits);
        std::string text;
        for (const value& v : values) text += rtmpx::amf0::to_string(v);
    } else {
        RTMPX_FUZZ_CHECK(static_cast<bool>(ec));
    }

    // The view decoder accepts and refuses alike, with the same values.
    rtmpx::amf0::document doc;
    std::error_code doc_ec;
    const bool doc_ok = doc.decode(in, doc_ec, limits);
    std::vector<value> again;
    std::error_code value_ec;
    RTMPX_FUZZ_CHECK(doc_ok == rtmpx::amf0::decode_all(in, again, value_ec, limits));
    RTMPX_FUZZ_CHECK(doc_ec == value_ec);
    if (doc_ok) {
        RTMPX_FUZZ_CHECK(doc.size() == again.size());
        for (std::size_t i = 0; i < again.size(); ++i) RTMPX_FUZZ_CHECK(doc[i].to_value() == again[i]);
    }

    // As a command body: type 20 directly, type 17 after its format byte; as data (type 18).
    check_message(in, rtmpx::protocol::message_type::command_amf0, limits);
    check_message(in, rtmpx::protocol::message_type::command_amf3, limits);
    check_message(in, rtmpx::protocol::message_type::data_amf0, limits);
    return 0;
}
