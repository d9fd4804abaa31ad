// SPDX-License-Identifier: MIT
// What a session sends, chunked and waiting: one batch being written, the next one filling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/protocol/chunk_writer.hpp>
#include <rtmpx/protocol/message.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * A session's outgoing bytes. Messages are chunked as they are queued, into the *pending* batch;
 * `begin_write` hands the pending batch to the writer as the *in-flight* batch and starts a new
 * pending one, and `end_write` releases the in-flight batch once it is written. Small messages
 * (commands, control) are copied; shared payloads (frames) are referenced and kept alive until
 * their batch is written, so one frame serves every player without a copy.
 *
 * A Set Chunk Size message changes the chunk size of everything queued after it, as RTMP 1.0
 * §5.4.1 says the receiver applies it.
 */
class output_queue {
public:
    explicit output_queue(std::uint32_t chunk_size = 128) : writer_(chunk_size) {}

    /// Queues a message, copying its payload.
    void write(const message& m) {
        writer_.write_copy(m.header, m.payload, pending_);
        after_message(m.header, m.payload);
    }

    /// Queues a message whose payload is shared (not copied; kept alive until written).
    void write_shared(const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
        writer_.write(h, *payload, pending_);
        after_message(h, *payload);
        refs_pending_.push_back(std::move(payload));
    }

    /// Queues bytes outside the chunk stream (the handshake).
    void write_raw(std::span<const std::byte> bytes) { pending_.append_copy(bytes); }

    /// Whether anything waits in the pending batch.
    bool has_pending() const noexcept { return !pending_.empty(); }
    /// Messages in the pending batch.
    std::size_t pending_messages() const noexcept { return pending_messages_; }
    /// Bytes not written yet: the pending batch and the one in flight.
    std::size_t unwritten_bytes() const noexcept { return pending_.size() + inflight_.size(); }
    /// Whether a batch is being written.
    bool writing() const noexcept { return writing_; }

    /**
     * Makes the pending batch the one in flight and returns it; its buffers stay valid until
     * `end_write`. Precondition: no batch in flight.
     */
    const chunked_output& begin_write() {
        RTMPX_ASSERT(!writing_);
        std::swap(pending_, inflight_);
        std::swap(refs_pending_, refs_inflight_);
        pending_messages_ = 0;
        writing_ = true;
        return inflight_;
    }

    /// The in-flight batch has been written: its memory is released (a burst, such as a joining
    /// player's cached frames, leaves no large buffers behind).
    void end_write() {
        constexpr std::size_t usual = 64;
        inflight_.clear_and_trim(usual);
        refs_inflight_.clear();
        if (refs_inflight_.capacity() > usual) refs_inflight_.shrink_to_fit();
        writing_ = false;
    }

    /// Drops everything not written (the connection closes without a flush).
    void discard() {
        pending_.clear();
        refs_pending_.clear();
        pending_messages_ = 0;
    }

    /// The chunk size messages are written with now.
    std::uint32_t chunk_size() const noexcept { return writer_.chunk_size(); }
    /// Messages queued since the start.
    std::uint64_t messages() const noexcept { return messages_; }

private:
    void after_message(const message_header& h, std::span<const std::byte> payload) {
        ++pending_messages_;
        ++messages_;
        if (h.type == message_type::set_chunk_size && payload.size() == 4) {
            const std::uint32_t size = detail::load_be32(payload) & 0x7fffffffu;
            if (size > 0) writer_.set_chunk_size(size);  // applies after this message
        }
    }

    chunk_writer writer_;
    chunked_output pending_;
    chunked_output inflight_;
    std::vector<std::shared_ptr<const std::vector<std::byte>>> refs_pending_;
    std::vector<std::shared_ptr<const std::vector<std::byte>>> refs_inflight_;
    std::size_t pending_messages_ = 0;
    std::uint64_t messages_ = 0;
    bool writing_ = false;
};

} // namespace protocol
RTMPX_NAMESPACE_END
