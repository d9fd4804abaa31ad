// SPDX-License-Identifier: MIT
// A frame on its way to players: an immutable FLV tag body (video, audio or data), shared, with the configuration it needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// A configuration message beyond a stream's two sequence headers (see `stream_config::more`).
struct config_message {
    bool video = false;
    std::uint32_t slot = 0;  ///< which part of the configuration (`flv::config_slot`)
    std::shared_ptr<const std::vector<std::byte>> body;
};

/// What a player needs before the frames of a stream: onMetaData and the codecs' configuration.
struct stream_config {
    std::shared_ptr<const std::vector<std::byte>> metadata;         ///< onMetaData data message body, or null
    /// FLV video tag body: the AVC sequence header, or the Enhanced SequenceStart of the lone
    /// track or of track 0; or null.
    std::shared_ptr<const std::vector<std::byte>> sequence_header;
    std::shared_ptr<const std::vector<std::byte>> audio_sequence_header;  ///< FLV audio tag body, as for video; or null
    /// The rest, in the order it came: the SequenceStart of each further track of a multitrack
    /// stream, an Enhanced audio MultichannelConfig.
    std::vector<config_message> more;
};

/// What a `media_frame` carries: media, or news about the stream's publisher in the media's order.
enum class media_kind : std::uint8_t {
    video,
    audio,
    data,         ///< an AMF0 data message body (onTextData, onCuePoint, ...), sent as is
    unpublished,  ///< the publisher left: players get NetStream.Play.UnpublishNotify
    published,    ///< a publisher (again): NetStream.Play.PublishNotify
};

/**
 * One frame as every player receives it: an FLV video or audio tag body (or a data message body),
 * never changed once made, shared by every player's queue (each player writes its own chunk
 * headers in front of the same bytes).
 */
struct media_frame {
    media_kind kind = media_kind::video;
    std::vector<std::byte> tag;
    std::uint32_t timestamp = 0;                    ///< ms on the producer's clock
    bool key_frame = false;                         ///< video only
    /// Video only: an Enhanced RTMP Metadata frame (colorInfo), not a picture. It goes to a player
    /// before its first key frame too, and the latest one opens every cached group.
    bool info_frame = false;
    std::shared_ptr<const stream_config> config;   ///< the configuration the frame needs

    /// Media (video, audio, data) rather than news of the publisher.
    bool is_media() const noexcept { return kind == media_kind::video || kind == media_kind::audio || kind == media_kind::data; }
};

using shared_frame = std::shared_ptr<const media_frame>;

} // namespace protocol
RTMPX_NAMESPACE_END
