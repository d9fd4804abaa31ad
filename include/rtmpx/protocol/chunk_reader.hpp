// SPDX-License-Identifier: MIT
// Sans-I/O chunk stream reader: bytes in, reassembled messages out, within configured limits.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/limits.hpp>
#include <rtmpx/protocol/message.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * De-multiplexes an RTMP chunk stream (RTMP 1.0 §5.3) into whole messages.
 *
 * Feed bytes with `put`; it consumes as much as it can and stops after each completed message,
 * which `take_message` then hands over. Bytes of an incomplete chunk header are not consumed:
 * the caller keeps them and passes them again with more input. Set Chunk Size (type 1) and
 * Abort (type 2) take effect inside the reader as soon as they complete, and are still returned.
 *
 * Errors: any limit in `chunk_limits` exceeded, a malformed header or control message. After an
 * error the reader stays failed and consumes nothing more.
 */
class chunk_reader {
public:
    explicit chunk_reader(chunk_limits limits = {}) : limits_(limits) {}

    /// Consumes input until one message completes or the input runs out; returns bytes consumed.
    std::size_t put(std::span<const std::byte> in, std::error_code& ec) {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        ec.clear();
        std::size_t used = 0;
        while (!ready_ && used < in.size()) {
            const std::size_t n = in_chunk_ ? read_payload(in.subspan(used)) : read_header(in.subspan(used), ec);
            used += n;
            if (ec) failed_ = ec;
            if (failed_) {
                ec = failed_;
                return used;
            }
            if (n == 0) break;  // incomplete header: wait for more input
        }
        return used;
    }

    /// Whether a completed message is waiting to be taken.
    bool has_message() const noexcept { return ready_.has_value(); }

    /// Hands over the completed message. Precondition: `has_message()`.
    message take_message() {
        RTMPX_ASSERT(ready_);
        message m = std::move(*ready_);
        ready_.reset();
        return m;
    }

    /// The chunk size the peer announced (128 until it sends Set Chunk Size).
    std::uint32_t chunk_size() const noexcept { return chunk_size_; }
    /// Chunk streams the peer has used so far (each keeps header state for compression).
    std::size_t live_chunk_streams() const noexcept { return streams_.size(); }
    /// Payload bytes held in partially received messages.
    std::size_t buffered_bytes() const noexcept { return buffered_; }

private:
    struct stream_state {
        std::uint32_t id = 0;
        message_header header;
        std::uint32_t length = 0;
        std::uint32_t delta = 0;          // the last timestamp field of a type 1/2 (or 0) header
        bool extended = false;            // the last header carried an extended timestamp
        std::uint32_t extended_value = 0; // ... and this was its value
        std::vector<std::byte> partial;   // payload received so far of the current message
        bool in_progress = false;
    };

    stream_state* find(std::uint32_t id) noexcept {
        auto it = std::find_if(streams_.begin(), streams_.end(), [id](const stream_state& s) { return s.id == id; });
        return it == streams_.end() ? nullptr : &*it;
    }

    // Parses one chunk header and applies it. Returns bytes consumed, 0 when incomplete.
    std::size_t read_header(std::span<const std::byte> in, std::error_code& ec) {
        // RTMP 1.0 §5.3.1.1: basic header of 1, 2 or 3 bytes.
        const auto b0 = detail::u8(in[0]);
        const unsigned fmt = b0 >> 6;
        std::uint32_t csid = b0 & 0x3f;
        std::size_t pos = 1;
        if (csid == 0) {
            if (in.size() < 2) return 0;
            csid = 64 + detail::u8(in[1]);
            pos = 2;
        } else if (csid == 1) {
            if (in.size() < 3) return 0;
            csid = 64 + detail::u8(in[1]) + 256u * detail::u8(in[2]);
            pos = 3;
        }
        // RTMP 1.0 §5.3.1.2: message header of 11, 7, 3 or 0 bytes.
        static constexpr std::size_t header_sizes[4] = {11, 7, 3, 0};
        const std::size_t mh = header_sizes[fmt];
        if (in.size() < pos + mh) return 0;

        stream_state* st = find(csid);
        if (!st) {
            if (fmt != 0) {
                ec = error::chunk_header_invalid;
                return 0;
            }
            if (streams_.size() >= limits_.max_chunk_streams) {
                ec = error::too_many_chunk_streams;
                return 0;
            }
        }
        const bool new_message = !st || !st->in_progress || fmt != 3;

        std::uint32_t field = 0;  // timestamp (fmt 0) or timestamp delta (fmt 1, 2)
        std::uint32_t length = st ? st->length : 0;
        auto type = st ? st->header.type : message_type::command_amf0;
        std::uint32_t stream_id = st ? st->header.stream_id : 0;
        if (fmt <= 2) field = detail::load_be24(in.subspan(pos));
        if (fmt <= 1) {
            length = detail::load_be24(in.subspan(pos + 3));
            type = static_cast<message_type>(detail::u8(in[pos + 6]));
        }
        if (fmt == 0) stream_id = detail::load_le32(in.subspan(pos + 7));  // §5.3.1.2.1: little-endian
        pos += mh;

        // §5.3.1.3: a 4-byte extended timestamp follows when the field is 0xffffff. On type 3
        // chunks some clients repeat it and some do not; accept both by comparing the next 4 bytes
        // with the value the stream last used.
        bool extended = false;
        if (fmt <= 2 && field == 0xffffff) {
            if (in.size() < pos + 4) return 0;
            field = detail::load_be32(in.subspan(pos));
            pos += 4;
            extended = true;
        } else if (fmt == 3 && st && st->extended) {
            // Decide as soon as the available bytes differ from the expected value; wait only
            // while they match a prefix of it.
            const std::size_t avail = std::min<std::size_t>(4, in.size() - pos);
            bool same = true;
            for (std::size_t i = 0; i < avail && same; ++i)
                same = detail::u8(in[pos + i]) == ((st->extended_value >> (24 - 8 * i)) & 0xff);
            if (same && avail < 4) return 0;
            if (same) pos += 4;
        }

        if (new_message && length > limits_.max_message_size) {
            ec = error::message_too_large;
            return 0;
        }

        if (!st) {
            streams_.push_back(stream_state{});
            st = &streams_.back();
            st->id = csid;
        }
        if (new_message) {
            if (st->in_progress) discard(*st);  // a new header abandons an unfinished message
            st->header.chunk_stream_id = csid;
            st->header.type = type;
            st->header.stream_id = stream_id;
            st->length = length;
            if (fmt == 0) {
                st->header.timestamp = rtmp_timestamp(field);
                st->delta = field;  // a later type 3 message reuses it as its delta, as FFmpeg does
            } else if (fmt <= 2) {
                st->header.timestamp += field;
                st->delta = field;
            } else {
                st->header.timestamp += st->delta;
            }
            if (fmt <= 2) {
                st->extended = extended;
                st->extended_value = field;
            }
            st->in_progress = true;
        }
        in_chunk_ = st;
        chunk_left_ = std::min<std::uint32_t>(chunk_size_, st->length - static_cast<std::uint32_t>(st->partial.size()));
        if (chunk_left_ == 0) complete(*st, ec);  // a zero-length message
        return pos;
    }

    std::size_t read_payload(std::span<const std::byte> in) {
        stream_state& st = *in_chunk_;
        const std::size_t n = std::min<std::size_t>(chunk_left_, in.size());
        if (buffered_ + n > limits_.max_reassembly_bytes) {
            failed_ = error::reassembly_limit;
            in_chunk_ = nullptr;
            return 0;
        }
        st.partial.insert(st.partial.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
        buffered_ += n;
        chunk_left_ -= static_cast<std::uint32_t>(n);
        if (chunk_left_ == 0) {
            in_chunk_ = nullptr;
            if (st.partial.size() == st.length) {
                std::error_code ec;
                complete(st, ec);
                if (ec) failed_ = ec;
            }
        }
        return n;
    }

    void complete(stream_state& st, std::error_code& ec) {
        in_chunk_ = nullptr;
        buffered_ -= st.partial.size();
        st.in_progress = false;
        message m{st.header, std::move(st.partial)};
        st.partial = {};
        apply_control(m, ec);
        ready_ = std::move(m);
    }

    // Set Chunk Size and Abort change how the following chunks are read (RTMP 1.0 §5.4.1-2).
    void apply_control(const message& m, std::error_code& ec) {
        if (m.header.stream_id != 0 && m.header.chunk_stream_id != chunk_stream::protocol_control) return;
        if (m.header.type == message_type::set_chunk_size) {
            if (m.payload.size() < 4) {
                ec = error::message_malformed;
                return;
            }
            // Every legal size is accepted: a chunk size is not an allocation (payload bytes are
            // kept only as they arrive, and max_message_size bounds a message).
            const std::uint32_t size = detail::load_be32(m.payload);
            if (size == 0 || size > 0x7fffffffu) {
                ec = error::chunk_size_invalid;
            } else {
                chunk_size_ = size;
            }
        } else if (m.header.type == message_type::abort) {
            if (m.payload.size() < 4) {
                ec = error::message_malformed;
                return;
            }
            if (stream_state* st = find(detail::load_be32(m.payload)); st && st->in_progress) discard(*st);
        }
    }

    void discard(stream_state& st) noexcept {
        buffered_ -= st.partial.size();
        st.partial.clear();
        st.in_progress = false;
    }

    chunk_limits limits_;
    std::uint32_t chunk_size_ = 128;  // RTMP 1.0 §5.4.1: the default maximum chunk size
    std::vector<stream_state> streams_;
    stream_state* in_chunk_ = nullptr;  // set while inside a chunk's payload
    std::uint32_t chunk_left_ = 0;
    std::size_t buffered_ = 0;
    std::optional<message> ready_;
    std::error_code failed_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
