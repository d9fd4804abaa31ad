// SPDX-License-Identifier: MIT
// A video frame on its way to players: an immutable FLV tag body, shared, with the configuration it needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// What a player needs before the frames of a stream: onMetaData and the codec's sequence header.
struct stream_config {
    std::shared_ptr<const std::vector<std::byte>> metadata;         ///< onMetaData data message body, or null
    std::shared_ptr<const std::vector<std::byte>> sequence_header;  ///< FLV video tag body, or null
};

/**
 * One frame as every player receives it: an FLV video tag body, never changed once made, shared
 * by every player's queue (each player writes its own chunk headers in front of the same bytes).
 */
struct media_frame {
    std::vector<std::byte> tag;
    std::uint32_t timestamp = 0;                    ///< ms on the producer's clock
    bool key_frame = false;
    std::shared_ptr<const stream_config> config;   ///< the configuration the frame needs
};

using shared_frame = std::shared_ptr<const media_frame>;

} // namespace protocol
RTMPX_NAMESPACE_END
