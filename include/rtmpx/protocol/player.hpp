// SPDX-License-Identifier: MIT
// One playing stream's outgoing media: configuration before frames, a key frame first, timestamps from 0.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/message.hpp>
#include <rtmpx/protocol/messages.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The framing rules of one playing stream, the same whoever produced the frames (a stream's own
 * frame handler, a broadcast, a publisher):
 * - a frame whose configuration this player has not had yet is preceded by it: onMetaData at
 *   timestamp 0 (FFmpeg's FLV reader takes later metadata for a data stream), then the video and
 *   the audio sequence headers;
 * - the first video frame, and the first after a resume or a new publisher, is a key frame:
 *   video frames before it are dropped (audio is not: a player starts its sound at once; nor is
 *   an Enhanced Metadata frame, which describes the pictures to come);
 * - timestamps start at 0 (or where `start` says) on the first frame sent and then follow the
 *   producer's clock, never backwards, and video strictly increasing (players reject two video
 *   frames with one DTS);
 * - news of the publisher becomes NetStream.Play.UnpublishNotify / PublishNotify, in order.
 */
class player {
public:
    /// What `write` did with a frame.
    enum class outcome { sent, dropped, notified };

    explicit player(std::uint32_t stream_id) noexcept : stream_id_(stream_id) {}

    /// A new play: nothing has been sent. Its first frame is at `first_timestamp` (0, or where a
    /// timeline that goes on across connections, a publisher's reconnect, had got to).
    void start(std::uint32_t first_timestamp = 0) noexcept {
        sent_key_frame_ = false;
        offset_ = first_timestamp;
        last_timestamp_ = first_timestamp;
        last_video_ = std::nullopt;
        base_.reset();
        sent_config_.reset();
    }

    /// After a pause: the timeline goes on, but the next video frame sent must be a key frame.
    void resume() noexcept { sent_key_frame_ = false; }

    /// `receiveAudio`: whether audio frames are sent.
    void receive_audio(bool enable) noexcept { audio_ = enable; }

    /// The timestamp of the last frame sent (the first one's before it).
    std::uint32_t timestamp() const noexcept { return last_timestamp_; }

    /**
     * Frames `f` for this player: `emit(message_header, std::shared_ptr<const std::vector<std::byte>>)`
     * is called for each message to send, payloads shared and never copied.
     */
    template <class Emit>
    outcome write(const shared_frame& f, Emit&& emit) {
        if (!f->is_media()) {
            const bool left = f->kind == media_kind::unpublished;
            if (left) sent_key_frame_ = false;  // the next publisher's video starts on a key frame
            auto status = to_message(make_on_status("status", left ? "NetStream.Play.UnpublishNotify" : "NetStream.Play.PublishNotify",
                                                    left ? "The stream's publisher left." : "The stream is published."),
                                     stream_id_, chunk_stream::stream_command);
            emit(status.header, std::make_shared<const std::vector<std::byte>>(std::move(status.payload)));
            return outcome::notified;
        }
        const bool video = f->kind == media_kind::video;
        if (f->kind == media_kind::audio && !audio_) return outcome::dropped;
        if (f->config != sent_config_) {
            sent_config_ = f->config;
            if (f->config && f->config->metadata)
                emit(message_header{chunk_stream::stream_command, message_type::data_amf0, rtmp_timestamp(0), stream_id_},
                     f->config->metadata);
            if (f->config && f->config->sequence_header)
                emit(message_header{chunk_stream::video, message_type::video, rtmp_timestamp(last_timestamp_), stream_id_},
                     f->config->sequence_header);
            if (f->config && f->config->audio_sequence_header)
                emit(message_header{chunk_stream::audio, message_type::audio, rtmp_timestamp(last_timestamp_), stream_id_},
                     f->config->audio_sequence_header);
        }
        const bool picture = video && !f->info_frame;  // an info frame (colorInfo) waits for no key frame
        if (picture && !sent_key_frame_ && !f->key_frame) return outcome::dropped;
        const rtmp_timestamp ts = next_timestamp(f->timestamp, video);
        if (picture) sent_key_frame_ = true;
        emit(message_header{chunk_of(f->kind), type_of(f->kind), ts, stream_id_}, std::shared_ptr<const std::vector<std::byte>>(f, &f->tag));
        return outcome::sent;
    }

private:
    static std::uint32_t chunk_of(media_kind k) noexcept {
        return k == media_kind::video ? chunk_stream::video : k == media_kind::audio ? chunk_stream::audio : chunk_stream::stream_command;
    }
    static message_type type_of(media_kind k) noexcept {
        return k == media_kind::video ? message_type::video : k == media_kind::audio ? message_type::audio : message_type::data_amf0;
    }

    // This player's timestamp for a frame at `producer` ms: relative to its first frame, never
    // backwards (serial arithmetic, so a frame a little before the first is at 0, and the 32-bit
    // clock may wrap), video strictly after the previous video.
    rtmp_timestamp next_timestamp(std::uint32_t producer, bool video) {
        if (!base_) base_ = producer;
        rtmp_timestamp ts(producer - *base_ + offset_);
        if (ts < rtmp_timestamp(last_timestamp_)) ts = rtmp_timestamp(last_timestamp_);
        if (video && last_video_ && !(rtmp_timestamp(*last_video_) < ts)) ts = rtmp_timestamp(*last_video_) + 1;
        if (video) last_video_ = ts.value();
        if (rtmp_timestamp(last_timestamp_) < ts) last_timestamp_ = ts.value();
        return ts;
    }

    std::uint32_t stream_id_;
    bool sent_key_frame_ = false;
    bool audio_ = true;
    std::uint32_t offset_ = 0;           // the timestamp of the first frame
    std::uint32_t last_timestamp_ = 0;
    std::optional<std::uint32_t> last_video_;
    std::optional<std::uint32_t> base_;  // the producer's timestamp of this player's first frame
    std::shared_ptr<const stream_config> sent_config_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
