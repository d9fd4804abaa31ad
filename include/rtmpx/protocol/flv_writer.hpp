// SPDX-License-Identifier: MIT
// The bytes of an FLV file: header, tags with back pointers, and what to patch at the end.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/protocol/message.hpp>
#include <rtmpx/timestamp.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * Writes an FLV file (Adobe FLV specification 10.1, annex E) as bytes, without touching a file:
 * `header()` first, then `tag(...)` for each audio, video and data message; `patches()` at the
 * end says which bytes to overwrite when the file is seekable (the `onMetaData` duration and the
 * header's audio/video flags). Tag timestamps start at 0 on the first tag and never go back.
 *
 * The `onMetaData` tag is rewritten with a `duration` property first (0 until patched), and
 * without the publisher's own `duration` and `filesize`, which describe another file.
 */
class flv_writer {
public:
    /// One overwrite: `bytes` at `offset` from the start of the file.
    struct patch {
        std::uint64_t offset = 0;
        std::vector<std::byte> bytes;
    };

    /// The file header with both the audio and the video flag (patched to what came) and the
    /// first back pointer (0).
    std::span<const std::byte> header() {
        buffer_.clear();
        for (const char c : std::string_view("FLV")) buffer_.push_back(static_cast<std::byte>(c));
        detail::put_u8(buffer_, 1);  // version
        detail::put_u8(buffer_, flag_audio | flag_video);
        detail::put_be32(buffer_, 9);  // header size
        detail::put_be32(buffer_, 0);  // PreviousTagSize0
        offset_ = buffer_.size();
        return buffer_;
    }

    /**
     * One tag: `type` audio, video or data (AMF0), the payload being the message body, at `ts`
     * on the producer's clock. Returns the bytes to append (valid until the next call); empty for
     * another type, or a second `onMetaData` (the first one describes the file).
     */
    std::span<const std::byte> tag(message_type type, std::uint32_t ts, std::span<const std::byte> payload) {
        buffer_.clear();
        if (type != message_type::audio && type != message_type::video && type != message_type::data_amf0) return {};
        std::vector<std::byte> metadata;
        if (type == message_type::data_amf0 && is_on_metadata(payload)) {
            if (duration_offset_) return {};
            metadata = rewrite_metadata(payload);
            payload = metadata;
        }
        if (type == message_type::audio) seen_ |= flag_audio;
        if (type == message_type::video) seen_ |= flag_video;
        const std::uint32_t at = relative(ts);
        detail::put_u8(buffer_, static_cast<std::uint8_t>(type));
        detail::put_be24(buffer_, static_cast<std::uint32_t>(payload.size()));
        detail::put_be24(buffer_, at & 0xffffff);
        detail::put_u8(buffer_, static_cast<std::uint8_t>(at >> 24));
        detail::put_be24(buffer_, 0);  // stream id
        if (!metadata.empty()) duration_offset_ = offset_ + buffer_.size() + duration_position_;
        buffer_.insert(buffer_.end(), payload.begin(), payload.end());
        detail::put_be32(buffer_, static_cast<std::uint32_t>(11 + payload.size()));
        offset_ += buffer_.size();
        return buffer_;
    }

    /// What to overwrite once the last tag is written: the header's flags (only the kinds of
    /// tags that came) and the metadata's duration, in seconds.
    std::vector<patch> patches() const {
        std::vector<patch> out;
        out.push_back(patch{4, {static_cast<std::byte>(seen_)}});
        if (duration_offset_) {
            std::vector<std::byte> value;
            detail::put_be64(value, std::bit_cast<std::uint64_t>(duration_ms() / 1000.0));
            out.push_back(patch{*duration_offset_, std::move(value)});
        }
        return out;
    }

    /// The span from the first tag to the last, in ms.
    std::uint32_t duration_ms() const noexcept { return last_.value(); }
    /// Bytes produced so far.
    std::uint64_t size() const noexcept { return offset_; }

private:
    static constexpr std::uint8_t flag_audio = 0x04;
    static constexpr std::uint8_t flag_video = 0x01;

    static bool is_on_metadata(std::span<const std::byte> payload) {
        amf0::value name;
        std::error_code ec;
        amf0::decode(payload, name, ec);
        return !ec && name.is_string() && name.as_string() == "onMetaData";
    }

    // onMetaData with `duration` first, so that its 8 bytes sit at a known place.
    std::vector<std::byte> rewrite_metadata(std::span<const std::byte> payload) {
        std::vector<amf0::value> values;
        std::error_code ec;
        amf0::decode_all(payload, values, ec);
        amf0::properties props{{"duration", amf0::value(0.0)}};
        if (values.size() > 1 && values[1].has_properties())
            for (const auto& p : values[1].props())
                if (p.first != "duration" && p.first != "filesize") props.push_back(p);
        std::vector<std::byte> out = amf0::encode(amf0::value("onMetaData"));
        // ECMA array marker and count, then the key "duration" and the number marker.
        duration_position_ = out.size() + 1 + 4 + 2 + std::string_view("duration").size() + 1;
        amf0::encode(amf0::value::ecma_array(std::move(props)), out);
        return out;
    }

    // Milliseconds from the first tag, never backwards (serial arithmetic).
    std::uint32_t relative(std::uint32_t ts) {
        if (!first_) first_ = ts;
        rtmp_timestamp at(ts - *first_);
        if (at < last_) at = last_;
        last_ = at;
        return at.value();
    }

    std::vector<std::byte> buffer_;
    std::uint64_t offset_ = 0;
    std::uint8_t seen_ = 0;
    std::optional<std::uint32_t> first_;
    rtmp_timestamp last_;
    std::size_t duration_position_ = 0;
    std::optional<std::uint64_t> duration_offset_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
