// SPDX-License-Identifier: MIT
// One playing stream's outgoing media: configuration before frames, a key frame first, timestamps from 0.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/config.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
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
 * - news of the publisher becomes NetStream.Play.UnpublishNotify / PublishNotify, in order;
 * - with the client's Enhanced RTMP `capabilities` (`set_capabilities`), no message goes in a
 *   codec it did not declare: the play fails at the first such message (NetStream.Play.Failed,
 *   saying which codec), and a client without Multitrack gets the default track (id 0) of each
 *   multitrack message alone.
 */
class player {
public:
    /// What `write` did with a frame (`refused`: the play failed, see `refused()`).
    enum class outcome { sent, dropped, notified, refused };

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
        refused_ = false;
    }

    /// What the client declared in `connect` (null: no gate, every message goes as it is).
    void set_capabilities(std::shared_ptr<const enhanced::capabilities> caps) noexcept {
        caps_ = caps && !caps->takes_everything() ? std::move(caps) : nullptr;
    }

    /// Whether the play failed on a codec the client did not declare (until the next `start`).
    bool refused() const noexcept { return refused_; }

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
        if (refused_) return outcome::dropped;
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
            if (f->config && !send_config(*f->config, emit)) return outcome::refused;
            sent_config_ = f->config;
        }
        const bool picture = video && !f->info_frame;  // an info frame (colorInfo) waits for no key frame
        if (picture && !sent_key_frame_ && !f->key_frame) return outcome::dropped;
        adapted body = adapt(f->kind, bytes(f, &f->tag));
        if (body.refusal) return refuse(*body.refusal, emit);
        if (!body.payload) return outcome::dropped;  // a multitrack message without a default track
        const rtmp_timestamp ts = next_timestamp(f->timestamp, video);
        if (picture) sent_key_frame_ = true;
        emit(message_header{chunk_of(f->kind), type_of(f->kind), ts, stream_id_}, std::move(body.payload));
        return outcome::sent;
    }

private:
    using bytes = std::shared_ptr<const std::vector<std::byte>>;

    // What the client gets of a message: `payload` as it is or its default track alone, nothing
    // (null: a multitrack message without track 0), or a refusal saying which codec it lacks.
    struct adapted {
        bytes payload;
        std::optional<std::string> refusal;
    };

    adapted adapt(media_kind kind, bytes body) const {
        if (!caps_ || kind == media_kind::data) return {std::move(body), {}};
        const bool video = kind == media_kind::video;
        if (video ? !enhanced::is_enhanced_video(*body) : !enhanced::is_enhanced_audio(*body)) return {std::move(body), {}};
        return video ? adapt_tag<enhanced::video_tag>(std::move(body)) : adapt_tag<enhanced::audio_tag>(std::move(body));
    }

    static std::error_code parse(std::span<const std::byte> m, enhanced::video_tag& t) noexcept { return enhanced::parse_video(m, t); }
    static std::error_code parse(std::span<const std::byte> m, enhanced::audio_tag& t) noexcept { return enhanced::parse_audio(m, t); }
    static void append(std::vector<std::byte>& out, const enhanced::video_tag& t) { enhanced::append_video(out, t); }
    static void append(std::vector<std::byte>& out, const enhanced::audio_tag& t) { enhanced::append_audio(out, t); }

    template <class Tag>
    adapted adapt_tag(bytes body) const {
        constexpr bool video = std::is_same_v<Tag, enhanced::video_tag>;
        Tag tag;
        if (parse(*body, tag)) return {};  // no codec to check it by: not sent to a client that chooses codecs
        const bool whole = !tag.multitrack || (caps_->caps_ex & enhanced::caps_ex::multitrack) != 0;
        if (!whole && !enhanced::keep_default_track(tag)) return {};
        for (const enhanced::track& t : tag.each()) {
            if (video ? caps_->accepts_video(t.codec) : caps_->accepts_audio(t.codec)) continue;
            return {nullptr, refusal_text(video, t.codec)};
        }
        if (whole) return {std::move(body), {}};
        auto one = std::make_shared<std::vector<std::byte>>();
        one->reserve(body->size());
        append(*one, tag);
        return {std::move(one), {}};
    }

    std::string refusal_text(bool video, enhanced::fourcc codec) const {
        const char* kind = video ? "video" : "audio";
        if (!caps_->declared)
            return fmt::format("The stream's {} is {}, an Enhanced RTMP codec, and this client declared none (no fourCcList in "
                               "its connect).",
                               kind, enhanced::fourcc_text(codec));
        return fmt::format("The stream's {} is {}, which this client did not declare in its connect (fourCcList).", kind,
                           enhanced::fourcc_text(codec));
    }

    // NetStream.Play.Failed and StreamEOF: the play ends here.
    template <class Emit>
    outcome refuse(const std::string& why, Emit& emit) {
        refused_ = true;
        for (auto& m : {to_message(make_on_status("error", "NetStream.Play.Failed", why), stream_id_, chunk_stream::stream_command),
                        to_message(user_control::stream_eof(stream_id_))})
            emit(m.header, std::make_shared<const std::vector<std::byte>>(m.payload));
        return outcome::refused;
    }

    // The parts of `config` this player has not had (each once: a new part replaces its own),
    // all of them or, on a refusal, none.
    template <class Emit>
    bool send_config(const stream_config& config, Emit& emit) {
        const stream_config* had = sent_config_.get();
        const auto fresh = [had](const bytes& now, const bytes& before) { return now && (!had || now != before); };
        const auto sent_before = [had](const bytes& now) {
            return had && std::any_of(had->more.begin(), had->more.end(), [&](const config_message& m) { return m.body == now; });
        };
        std::vector<std::pair<media_kind, bytes>> tags;
        if (fresh(config.sequence_header, had ? had->sequence_header : nullptr)) tags.emplace_back(media_kind::video, config.sequence_header);
        if (fresh(config.audio_sequence_header, had ? had->audio_sequence_header : nullptr))
            tags.emplace_back(media_kind::audio, config.audio_sequence_header);
        for (const auto& m : config.more)
            if (m.body && !sent_before(m.body)) tags.emplace_back(m.video ? media_kind::video : media_kind::audio, m.body);
        for (auto& [kind, body] : tags) {
            adapted a = adapt(kind, std::move(body));
            if (a.refusal) {
                refuse(*a.refusal, emit);
                return false;
            }
            body = std::move(a.payload);
        }
        if (fresh(config.metadata, had ? had->metadata : nullptr))
            emit(message_header{chunk_stream::stream_command, message_type::data_amf0, rtmp_timestamp(0), stream_id_}, config.metadata);
        for (auto& [kind, body] : tags)
            if (body) emit(message_header{chunk_of(kind), type_of(kind), rtmp_timestamp(last_timestamp_), stream_id_}, std::move(body));
        return true;
    }

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
    std::shared_ptr<const enhanced::capabilities> caps_;  // null: no gate
    bool refused_ = false;
};

} // namespace protocol
RTMPX_NAMESPACE_END
