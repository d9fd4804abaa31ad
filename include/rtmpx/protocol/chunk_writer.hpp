// SPDX-License-Identifier: MIT
// Sans-I/O chunk stream writer: messages in, scatter-gather buffers out that reference the payload.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/protocol/message.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The chunked form of one or more messages: chunk headers (and copied payloads) owned here,
 * referenced payloads not.
 *
 * Lifetime: the payload spans passed to `chunk_writer::write` must outlive the buffers
 * (one payload can serve the writes of many connections); `write_copy` payloads live here.
 * `clear()` keeps the capacity.
 */
class chunked_output {
public:
    /// Calls `f(std::span<const std::byte>)` for each buffer, in wire order.
    template <class F>
    void for_each_buffer(F&& f) const {
        for (const piece& p : pieces_) {
            if (p.data) {
                f(std::span<const std::byte>(p.data, p.size));
            } else {
                f(std::span<const std::byte>(headers_.data() + p.offset, p.size));
            }
        }
    }

    /// The buffers in wire order (valid until the next write or clear).
    std::vector<std::span<const std::byte>> buffers() const {
        std::vector<std::span<const std::byte>> out;
        out.reserve(pieces_.size());
        for_each_buffer([&](std::span<const std::byte> b) { out.push_back(b); });
        return out;
    }

    /// All bytes copied into one vector (for tests and small control messages).
    std::vector<std::byte> flatten() const {
        std::vector<std::byte> out;
        out.reserve(size_);
        for_each_buffer([&](std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); });
        return out;
    }

    /// Appends a copy of `bytes` (bytes before the written ones join their buffer).
    void append_copy(std::span<const std::byte> bytes) {
        if (bytes.empty()) return;
        begin_header();
        headers_.insert(headers_.end(), bytes.begin(), bytes.end());
        end_header();
    }
    std::size_t size() const noexcept { return size_; }
    /// Bytes owned here (chunk headers and copied payloads), a part of `size()`.
    std::size_t owned_size() const noexcept { return headers_.size(); }
    std::size_t buffer_count() const noexcept { return pieces_.size(); }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept {
        headers_.clear();
        pieces_.clear();
        size_ = 0;
    }

    /// Like `clear`, and gives back the memory when it holds room for more than `pieces` pieces
    /// (after a burst: a long-lived connection keeps only what its usual writes need).
    void clear_and_trim(std::size_t pieces) {
        clear();
        if (pieces_.capacity() > pieces) {
            pieces_.shrink_to_fit();
            headers_.shrink_to_fit();
        }
    }

private:
    friend class chunk_writer;
    struct piece {
        const std::byte* data;  // payload bytes, or nullptr for header bytes at `offset`
        std::size_t offset;
        std::size_t size;
    };

    void begin_header() { header_start_ = headers_.size(); }
    void end_header() {
        const std::size_t n = headers_.size() - header_start_;
        if (!pieces_.empty() && !pieces_.back().data && pieces_.back().offset + pieces_.back().size == header_start_) {
            pieces_.back().size += n;  // adjacent header bytes (a payload-less message) share a buffer
        } else {
            pieces_.push_back({nullptr, header_start_, n});
        }
        size_ += n;
    }
    void add_payload(std::span<const std::byte> p) {
        if (p.empty()) return;
        pieces_.push_back({p.data(), 0, p.size()});
        size_ += p.size();
    }


    std::vector<std::byte> headers_;
    std::vector<piece> pieces_;
    std::size_t header_start_ = 0;
    std::size_t size_ = 0;
};

/**
 * Serialises messages into chunks (RTMP 1.0 §5.3), choosing per chunk stream the smallest
 * header that is correct: type 0 for a new stream id or a timestamp going back, type 1 when the
 * length or type changes, type 2 when only the timestamp delta changes, type 3 otherwise.
 * Extended timestamps are written on every chunk that needs them, continuation chunks included.
 */
class chunk_writer {
public:
    explicit chunk_writer(std::uint32_t chunk_size = 128) : chunk_size_(chunk_size) {}

    /// Changes the chunk size of everything written after this call. Send the Set Chunk Size
    /// message (written at the old size) before the first message written at the new one.
    void set_chunk_size(std::uint32_t size) noexcept {
        RTMPX_ASSERT(size >= 1 && size <= 0x7fffffffu);
        chunk_size_ = size;
    }
    std::uint32_t chunk_size() const noexcept { return chunk_size_; }

    /// Appends the chunks of one message to `out`. The payload is referenced, not copied.
    void write(const message_header& h, std::span<const std::byte> payload, chunked_output& out) {
        write_impl(h, payload, out, false);
    }

    /// Like `write`, but copies the payload into `out` (small messages the caller does not keep).
    void write_copy(const message_header& h, std::span<const std::byte> payload, chunked_output& out) {
        write_impl(h, payload, out, true);
    }

private:
    void write_impl(const message_header& h, std::span<const std::byte> payload, chunked_output& out, bool copy) {
        RTMPX_ASSERT(h.chunk_stream_id >= 2 && h.chunk_stream_id <= 65599);
        RTMPX_ASSERT(payload.size() <= 0xffffff);
        state& st = find_or_add(h.chunk_stream_id);
        const auto length = static_cast<std::uint32_t>(payload.size());

        unsigned fmt = 0;
        std::uint32_t field = h.timestamp.value();
        if (st.valid && st.stream_id == h.stream_id && h.timestamp >= st.timestamp) {
            const std::uint32_t delta = h.timestamp - st.timestamp;
            field = delta;
            if (st.length != length || st.type != h.type) {
                fmt = 1;
            } else if (!st.delta_valid || st.delta != delta) {
                fmt = 2;
            } else {
                fmt = 3;
            }
            st.delta = delta;
            st.delta_valid = true;
        } else {
            st.delta_valid = false;  // after type 0 the next message states its delta explicitly
        }
        st.valid = true;
        st.stream_id = h.stream_id;
        st.length = length;
        st.type = h.type;
        st.timestamp = h.timestamp;

        const bool extended = field >= 0xffffff;
        std::size_t offset = 0;
        do {
            const std::size_t n = std::min<std::size_t>(chunk_size_, payload.size() - offset);
            out.begin_header();
            write_basic_header(out.headers_, offset == 0 ? fmt : 3, h.chunk_stream_id);
            if (offset == 0) {
                const std::uint32_t f = extended ? 0xffffff : field;
                if (fmt <= 2) detail::put_be24(out.headers_, f);
                if (fmt <= 1) {
                    detail::put_be24(out.headers_, length);
                    detail::put_u8(out.headers_, static_cast<std::uint8_t>(h.type));
                }
                if (fmt == 0) detail::put_le32(out.headers_, h.stream_id);
            }
            if (extended) detail::put_be32(out.headers_, field);
            out.end_header();
            if (copy) {
                out.append_copy(payload.subspan(offset, n));
            } else {
                out.add_payload(payload.subspan(offset, n));
            }
            offset += n;
        } while (offset < payload.size());
    }

    struct state {
        std::uint32_t id = 0;
        bool valid = false;
        bool delta_valid = false;
        std::uint32_t stream_id = 0;
        std::uint32_t length = 0;
        message_type type{};
        rtmp_timestamp timestamp;
        std::uint32_t delta = 0;
    };

    state& find_or_add(std::uint32_t id) {
        for (state& s : states_)
            if (s.id == id) return s;
        states_.push_back(state{});
        states_.back().id = id;
        return states_.back();
    }

    // RTMP 1.0 §5.3.1.1: ids 2-63 in one byte, 64-319 in two, 320-65599 in three.
    static void write_basic_header(std::vector<std::byte>& out, unsigned fmt, std::uint32_t csid) {
        const auto top = static_cast<std::uint8_t>(fmt << 6);
        if (csid < 64) {
            detail::put_u8(out, static_cast<std::uint8_t>(top | csid));
        } else if (csid < 320) {
            detail::put_u8(out, top);
            detail::put_u8(out, static_cast<std::uint8_t>(csid - 64));
        } else {
            detail::put_u8(out, static_cast<std::uint8_t>(top | 1));
            detail::put_u8(out, static_cast<std::uint8_t>((csid - 64) & 0xff));
            detail::put_u8(out, static_cast<std::uint8_t>((csid - 64) >> 8));
        }
    }

    std::uint32_t chunk_size_;
    std::vector<state> states_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
