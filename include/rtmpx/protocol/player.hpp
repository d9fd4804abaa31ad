// SPDX-License-Identifier: MIT
// One playing stream's outgoing media: configuration before frames, a key frame first, timestamps from 0.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/message.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The framing rules of one playing stream, the same whoever produced the frames (a stream's own
 * frame handler or a broadcast):
 * - a frame whose configuration this player has not had yet is preceded by it: onMetaData at
 *   timestamp 0 (FFmpeg's FLV reader takes later metadata for a data stream), then the
 *   sequence header;
 * - the first frame, and the first after a resume, is a key frame: frames before it are dropped;
 * - timestamps start at 0 on the first frame sent and then follow the producer's clock, strictly
 *   increasing (players reject two frames with one DTS).
 */
class player {
public:
    explicit player(std::uint32_t stream_id) noexcept : stream_id_(stream_id) {}

    /// A new play: nothing has been sent.
    void start() noexcept {
        sent_key_frame_ = false;
        last_timestamp_ = 0;
        base_.reset();
        sent_config_.reset();
    }

    /// After a pause: the timeline goes on, but the next frame sent must be a key frame.
    void resume() noexcept { sent_key_frame_ = false; }

    /// The timestamp of the last frame sent (0 before the first).
    std::uint32_t timestamp() const noexcept { return last_timestamp_; }

    /**
     * Frames `f` for this player: `emit(message_header, std::shared_ptr<const std::vector<std::byte>>)`
     * is called for each message to send, payloads shared and never copied. Returns false when
     * the frame was dropped because this player waits for a key frame.
     */
    template <class Emit>
    bool write(const shared_frame& f, Emit&& emit) {
        if (f->config != sent_config_) {
            sent_config_ = f->config;
            if (f->config && f->config->metadata)
                emit(message_header{chunk_stream::stream_command, message_type::data_amf0, rtmp_timestamp(0), stream_id_},
                     f->config->metadata);
            if (f->config && f->config->sequence_header)
                emit(message_header{chunk_stream::video, message_type::video, rtmp_timestamp(last_timestamp_), stream_id_},
                     f->config->sequence_header);
        }
        if (!sent_key_frame_ && !f->key_frame) return false;
        if (!base_) base_ = f->timestamp;
        const std::uint32_t relative = f->timestamp - *base_;
        const std::uint32_t ts = sent_key_frame_ ? std::max(relative, last_timestamp_ + 1) : relative;
        last_timestamp_ = ts;
        sent_key_frame_ = true;
        emit(message_header{chunk_stream::video, message_type::video, rtmp_timestamp(ts), stream_id_},
             std::shared_ptr<const std::vector<std::byte>>(f, &f->tag));
        return true;
    }

private:
    std::uint32_t stream_id_;
    bool sent_key_frame_ = false;
    std::uint32_t last_timestamp_ = 0;
    std::optional<std::uint32_t> base_;  // the producer's timestamp of this player's first frame
    std::shared_ptr<const stream_config> sent_config_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
