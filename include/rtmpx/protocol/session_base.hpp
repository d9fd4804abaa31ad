// SPDX-License-Identifier: MIT
// What both sides of an RTMP session share: the handshake, the chunk stream in, the output, the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include <rtmpx/config.hpp>
#include <rtmpx/limits.hpp>
#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/output_queue.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The part of a session that does not depend on its side: `Handshake` (`server_handshake` or
 * `client_handshake`) first, then the peer's chunk stream, read into whole messages; the output
 * queue; acknowledgements of the peer's window (RTMP 1.0 §5.4.3); and the end, which comes once
 * (`close`: the first reason counts; with a flush, what is queued is still sent, unless a later
 * close without one cuts it short).
 */
template <class Handshake>
class session_base {
public:
    /// The chunked bytes to send (the driver writes them; see `output_queue`).
    output_queue& output() noexcept { return output_; }
    const output_queue& output() const noexcept { return output_; }

    /// Ends the session; the first reason counts. With `flush`, what is queued is still sent; a
    /// later close without a flush (a write that stalls, say) still cuts the flush short.
    void close(std::error_code reason, bool flush) {
        if (!closing_) {
            closing_ = true;
            flush_ = flush;
            reason_ = reason;
        }
        if (!flush) {
            flush_ = false;
            output_.discard();
        }
    }

    bool closing() const noexcept { return closing_; }
    /// Whether what is queued is to be sent before the transport closes.
    bool flush_on_close() const noexcept { return flush_; }
    std::error_code reason() const noexcept { return reason_; }
    bool handshake_done() const noexcept { return !handshake_; }
    std::uint64_t bytes_in() const noexcept { return bytes_in_; }
    std::uint64_t messages_in() const noexcept { return messages_in_; }
    /// The peer's chunk size.
    std::uint32_t chunk_size_in() const noexcept { return reader_.chunk_size(); }

protected:
    session_base(Handshake handshake, const chunk_limits& limits)
        : handshake_(std::make_unique<Handshake>(std::move(handshake))), reader_(limits) {
        take_handshake_output();
    }

    // Feeds handshake bytes; what the handshake answers goes out at once. Returns bytes consumed;
    // `handshake_` is null once the handshake is done: its packets (4.6 KB) are freed, so a
    // long-lived connection keeps nothing of them.
    std::size_t put_handshake(std::span<const std::byte> in) {
        std::error_code ec;
        const std::size_t used = handshake_->put(in, ec);
        bytes_in_ += used;
        if (ec) close(ec, false);
        take_handshake_output();
        if (handshake_->done()) handshake_.reset();
        return used;
    }

    // Reads whole messages from `in`, handing each to `on_message(message&&)`, until the input
    // runs out (an incomplete chunk header stays with the caller) or the session closes.
    template <class F>
    std::size_t put_chunks(std::span<const std::byte> in, F&& on_message) {
        std::size_t used = 0;
        while (used < in.size() && !closing_) {
            std::error_code ec;
            const std::size_t n = reader_.put(in.subspan(used), ec);
            used += n;
            bytes_in_ += n;
            if (ec) {
                close(ec, false);
                break;
            }
            if (!reader_.has_message()) break;
            ++messages_in_;
            on_message(reader_.take_message());
        }
        return used;
    }

    // The acknowledgement due now that the peer's window has passed since the last one, if any.
    std::optional<acknowledgement> acknowledgement_due() {
        if (peer_window_ == 0 || bytes_in_ - last_ack_ < peer_window_) return std::nullopt;
        last_ack_ = bytes_in_;
        return acknowledgement{static_cast<std::uint32_t>(bytes_in_)};
    }

    std::unique_ptr<Handshake> handshake_;  // until the handshake is done
    chunk_reader reader_;
    output_queue output_{128};
    std::uint32_t peer_window_ = 0;  ///< the peer's Window Acknowledgement Size (0: none)
    bool closing_ = false;

private:
    void take_handshake_output() {
        if (handshake_->output().empty()) return;
        output_.write_raw(handshake_->output());
        handshake_->consume_output();
    }

    bool flush_ = false;
    std::error_code reason_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t messages_in_ = 0;
    std::uint64_t last_ack_ = 0;
};

} // namespace protocol
RTMPX_NAMESPACE_END
