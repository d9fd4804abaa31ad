// SPDX-License-Identifier: MIT
// Helpers for the sans-I/O session tests: what a peer would read of a session's output, and what it would send.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/chunk_writer.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/output_queue.hpp>

namespace rtmpx_test {

/// One message as the peer reads it.
struct wire_message {
    rtmpx::protocol::message_header header;
    rtmpx::protocol::decoded_message body;

    const rtmpx::protocol::command* command() const { return std::get_if<rtmpx::protocol::command>(&body); }
    std::string name() const { return command() ? command()->name : std::string(); }
    std::string status() const {
        const auto* c = command();
        if (!c || c->name != "onStatus" || c->arguments.empty()) return {};
        return std::string(c->arguments[0]["code"].as_string());
    }
};

/// Takes everything a session has queued, as the driver would write it.
inline std::vector<std::byte> take_output(rtmpx::protocol::output_queue& out) {
    if (!out.has_pending()) return {};
    auto bytes = out.begin_write().flatten();
    out.end_write();
    return bytes;
}

/// The peer's reading side: the handshake bytes first (`handshake_size` of them), then the chunk stream.
class wire_reader {
public:
    explicit wire_reader(std::size_t handshake_size) : handshake_left_(handshake_size) {}

    /// Reads `bytes`; returns the messages they complete.
    std::vector<wire_message> read(std::span<const std::byte> bytes) {
        const std::size_t hs = std::min(handshake_left_, bytes.size());
        handshake.insert(handshake.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(hs));
        handshake_left_ -= hs;
        pending_.insert(pending_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(hs), bytes.end());
        std::vector<wire_message> out;
        std::size_t used = 0;
        for (;;) {
            std::error_code ec;
            used += reader_.put(std::span<const std::byte>(pending_).subspan(used), ec);
            if (ec) throw std::system_error(ec);
            if (!reader_.has_message()) break;
            auto m = reader_.take_message();
            const auto header = m.header;
            auto body = rtmpx::protocol::decode_message(std::move(m), ec);
            if (ec) throw std::system_error(ec);
            out.push_back({header, std::move(body)});
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
        return out;
    }

    std::vector<std::byte> handshake;  ///< the handshake bytes read so far

private:
    std::size_t handshake_left_;
    rtmpx::protocol::chunk_reader reader_;
    std::vector<std::byte> pending_;
};

/// The peer's sending side: messages chunked at 128 bytes, as a peer that never changes its chunk size.
class wire_writer {
public:
    std::vector<std::byte> bytes(const rtmpx::protocol::message& m) {
        rtmpx::protocol::chunked_output out;
        writer_.write(m.header, m.payload, out);
        return out.flatten();
    }
    std::vector<std::byte> bytes(const rtmpx::protocol::command& c, std::uint32_t stream_id = 0) {
        return bytes(rtmpx::protocol::to_message(c, stream_id, stream_id == 0 ? 3 : 8));
    }

private:
    rtmpx::protocol::chunk_writer writer_{128};
};

} // namespace rtmpx_test
