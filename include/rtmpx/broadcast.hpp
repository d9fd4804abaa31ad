// SPDX-License-Identifier: MIT
// broadcast: one producer of video and audio (rendered, pushed or published), shared by any number of playing streams.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/frame_source.hpp>
#include <rtmpx/driver/producer.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN

class puller;
namespace detail {
class remote_logic;

// One published message into `source` while `claim` holds it; false when it does not.
inline bool push_media(driver::frame_source& source, protocol::media_in& m, std::uint64_t claim) {
    if (claim == 0) return false;
    switch (m.type) {
    case media_type::video: return source.push(protocol::media_kind::video, std::move(m.payload), m.timestamp.value(), claim);
    case media_type::audio: return source.push(protocol::media_kind::audio, std::move(m.payload), m.timestamp.value(), claim);
    case media_type::metadata: return source.set_metadata(std::move(m.payload), claim);
    case media_type::data: return source.push(protocol::media_kind::data, std::move(m.payload), m.timestamp.value(), claim);
    }
    return false;
}
} // namespace detail

/// How a broadcast keeps frames for players that join, and how it paces its own frames.
struct broadcast_options {
    /// Keep the frames since the last key frame, so that a joining player starts at once from
    /// that key frame (its first seconds are then up to one key frame interval behind live).
    /// Off: a joining player waits for the next key frame, which a broadcast with a codec forces
    /// at once (the picture starts at the live edge).
    bool gop_cache = true;
    std::size_t gop_cache_frames = 600;        ///< beyond it the cache empties until the next key frame
    std::size_t gop_cache_bytes = 16u << 20;   ///< likewise, in bytes of frame data
    std::size_t player_queue_frames = 64;      ///< frames queued per player; when full, that player drops to the next key frame
    double render_rate = 30;                   ///< render (and frame) calls per second of `start`
};

/**
 * One source of video for many players: each frame is encoded once, and its bytes are shared,
 * immutable, by every player's queue. Each player keeps its own bounded queue and drops to the
 * next key frame when it falls behind, so a slow player costs only itself.
 *
 * Frames come from `push_video_tag` and `push_audio_tag` (already encoded, from a file, a camera,
 * another server), from a published stream (`stream::publish_to`, or a `relay`), or from render
 * and frame handlers that `start` runs on the broadcast's own thread at `render_rate`, encoding
 * with a codec chosen by name; an audio handler there gives sound (`use_audio`, `on_audio`). A
 * stream plays the broadcast after `stream.use_broadcast(b)` in its stream or play handler.
 *
 * With several codecs (`use_codecs`, `use_audio_codecs`), each player gets the best one it
 * declared, and each codec encodes once for all the players that got it. Pushed and published
 * frames go to the players of the first codecs only: such a broadcast is for rendered frames.
 *
 * A render or frame handler that returns false or throws stops the broadcast: the failure goes
 * to the broadcast's log sink (`set_logger`; silent by default), `failed()` turns true, and every
 * player gets NetStream.Failed (they stay connected; `start` again serves new plays).
 *
 * Thread: `on_render`, `on_frame`, `on_audio`, `use_codec`, `use_audio` and `set_logger` before
 * `start` (or after `stop`); the other members from any thread, but `push_*` calls must not
 * overlap.
 * Lifetime: hold it in a `std::shared_ptr` (streams keep it alive while they play it); `stop`
 * it before the state its handlers use goes away.
 */
class broadcast {
public:
    explicit broadcast(broadcast_options options = {})
        : options_(options),
          source_(driver::frame_source_options{options.gop_cache, options.gop_cache_frames, options.gop_cache_bytes, false}) {
        RTMPX_ASSERT(options_.player_queue_frames > 0 && options_.render_rate > 0);
    }
    broadcast(const broadcast&) = delete;
    broadcast& operator=(const broadcast&) = delete;
    ~broadcast() { stop(); }

    const broadcast_options& options() const noexcept { return options_; }

    /// Sets the onMetaData players receive before their first frame (an ECMA array or object).
    void set_metadata(amf0::value metadata) { source_.set_metadata(protocol::flv::on_metadata_payload(std::move(metadata))); }

    /**
     * Sends one FLV video tag body (the bytes of an RTMP video message) to every player, at
     * `timestamp` ms on the broadcast's clock (never decreasing). An AVC sequence header becomes
     * the configuration sent to every player before its first frame; frames whose first byte
     * says "key frame" start groups. The bytes are copied once and then shared.
     */
    void push_video_tag(std::span<const std::byte> tag, std::uint32_t timestamp) { source_.push_video_tag(tag, timestamp); }

    /**
     * Sends one FLV audio tag body (AAC, MP3, any FLV sound format, Enhanced audio) to every
     * player, like `push_video_tag`; an AAC (or Enhanced) sequence header becomes part of the
     * configuration. For sound that goes with rendered frames, stamp it with `clock_ms()`.
     */
    void push_audio_tag(std::span<const std::byte> tag, std::uint32_t timestamp) { source_.push_audio_tag(tag, timestamp); }

    /// The clock of the rendered frames: ms since `start` (or since the broadcast was made).
    std::uint32_t clock_ms() const { return source_.clock_ms(); }

    /// Whether a published stream feeds the broadcast now (`stream::publish_to`, a `puller`).
    bool has_publisher() const { return source_.claimed(); }

    /// Registers the render handler `bool (broadcast&)`, called before each frame handler.
    template <class F>
    void on_render(F handler) {
        static_assert(render_handler<F, broadcast>, "on_render: expected bool (broadcast&)");
        render_ = std::move(handler);
    }

    /// Registers the frame handler `bool (broadcast&, encoded_frame& out, bool outqueue_is_full)`;
    /// `outqueue_is_full` is true while every player is behind. Without a codec, `out.data` is a
    /// complete FLV video tag body.
    template <class F>
    void on_frame(F handler) {
        static_assert(frame_handler<F, broadcast>,
                      "on_frame: expected bool (broadcast&, encoded_frame& out, bool outqueue_is_full)");
        frame_ = std::move(handler);
    }

    /// Chooses the codec from `registry` (a server's `codecs()`); false if it has no such name.
    bool use_codec(std::string_view name, const codec_registry& registry) { return use_codecs({name}, registry); }

    /**
     * Chooses several codecs from `registry`, best first (`{"av1", "h264"}`): each player gets
     * the first one it takes, an Enhanced RTMP codec when it declared that codec in its connect,
     * a legacy one always (so end the list with one for the players that declare nothing). Each
     * tick the frame handler is called once per codec being played, to fill `codec()`: each
     * codec encodes once for all its players, one that nobody plays is not encoded, and it
     * starts on a key frame when its first player comes. False (nothing changes) when the list
     * is empty or the registry lacks a name.
     * Thread: before any player plays the broadcast, and before `start`.
     */
    bool use_codecs(std::initializer_list<std::string_view> names, const codec_registry& registry) {
        return use_codecs(std::vector<std::string>(names.begin(), names.end()), registry);
    }
    bool use_codecs(const std::vector<std::string>& names, const codec_registry& registry) {
        std::vector<std::unique_ptr<video_codec>> codecs;
        for (const auto& name : names) {
            codecs.push_back(registry.make(name));
            if (!codecs.back()) return false;
        }
        if (codecs.empty()) return false;
        codecs_ = std::move(codecs);
        make_renditions();
        return true;
    }

    /// The codec the frame handler fills now (the first one outside it; null without a codec).
    /// Thread: the frame handler's.
    video_codec* codec() noexcept {
        if (codecs_.empty()) return nullptr;
        video_codec* current = producer_.current_codec();
        return current ? current : codecs_.front().get();
    }
    /// The codecs chosen, best first.
    std::span<const std::unique_ptr<video_codec>> codecs() const noexcept { return codecs_; }

    /**
     * Gives the broadcast rendered sound: the audio codec `name` from `registry` ("aac" for every
     * player; "opus", Enhanced RTMP, for the players that declared it), opened here for
     * `sample_rate` and `channels`; the audio handler (`on_audio`) then fills each tick's PCM.
     * False when the registry has no such audio codec, or it refuses the rate or channel count.
     */
    bool use_audio(std::string_view name, std::uint32_t sample_rate, std::uint32_t channels, const codec_registry& registry) {
        return use_audio_codecs({name}, sample_rate, channels, registry);
    }

    /**
     * Several audio codecs, best first (`{"opus", "aac"}`), chosen per player as `use_codecs`
     * does: the audio handler's samples are encoded once by each codec being played.
     * Thread: as `use_codecs`.
     */
    bool use_audio_codecs(std::initializer_list<std::string_view> names, std::uint32_t sample_rate, std::uint32_t channels,
                          const codec_registry& registry) {
        return use_audio_codecs(std::vector<std::string>(names.begin(), names.end()), sample_rate, channels, registry);
    }
    bool use_audio_codecs(const std::vector<std::string>& names, std::uint32_t sample_rate, std::uint32_t channels,
                          const codec_registry& registry) {
        std::vector<std::unique_ptr<audio_codec>> codecs;
        for (const auto& name : names) {
            codecs.push_back(registry.make_audio(name));
            if (!codecs.back() || codecs.back()->init(sample_rate, channels)) return false;
        }
        if (codecs.empty()) return false;
        audio_codecs_ = std::move(codecs);
        make_renditions();
        return true;
    }

    /// Registers the audio handler `bool (broadcast&, audio_buffer& pcm)` (see `audio_handler`).
    template <class F>
    void on_audio(F handler) {
        static_assert(audio_handler<F, broadcast>, "on_audio: expected bool (broadcast&, audio_buffer& pcm)");
        audio_ = std::move(handler);
    }

    /// The broadcast's (first) audio encoder (null without one).
    audio_codec* audio() noexcept { return audio_codecs_.empty() ? nullptr : audio_codecs_.front().get(); }

    /// Installs the log sink for the broadcast's handler failures (silent by default).
    template <class F>
    void set_logger(F sink, log_level level = log_level::info) {
        static_assert(log_sink<F>, "set_logger: expected void (log_record const&)");
        log_ = detail::logger(std::move(sink), level);
    }

    /// Starts calling the render and frame handlers at `render_rate` on the broadcast's thread.
    void start() {
        producer_.stop();
        driver::producer::render_hook render;
        driver::producer::frame_hook frame;
        driver::producer::audio_hook audio;
        if (render_) render = [this] { return static_cast<bool>(render_(*this)); };
        if (frame_) frame = [this](encoded_frame& out, bool full) { return static_cast<bool>(frame_(*this, out, full)); };
        if (audio_) audio = [this](audio_buffer& pcm) { return static_cast<bool>(audio_(*this, pcm)); };
        producer_.set_hooks(std::move(render), std::move(frame), [rate = options_.render_rate] { return rate; });
        producer_.set_audio(std::move(audio));
        std::vector<video_codec*> video;
        for (const auto& c : codecs_) video.push_back(c.get());
        if (video.empty()) video.push_back(nullptr);  // the frame handler's bytes are tags
        std::vector<audio_codec*> sound;
        for (const auto& c : audio_codecs_) sound.push_back(c.get());
        std::vector<driver::producer::rendition> renditions;
        for (std::size_t i = 0; i < video.size(); ++i)
            for (std::size_t j = 0; j < std::max<std::size_t>(sound.size(), 1); ++j) renditions.push_back({&rendition(i, j), i, j});
        producer_.set_renditions(std::move(video), std::move(sound), std::move(renditions));
        producer_.set_log(&log_, 0, "broadcast");
        producer_.start();
    }

    /// Stops the broadcast's thread (players stay, and get frames again after `start`).
    void stop() { producer_.stop(); }

    /// Whether the broadcast's thread ended because a handler failed.
    bool failed() const { return source_.failed(); }

    /// Asks the codecs for a key frame at their next frame (a broadcast with a codec only).
    void request_key_frame() noexcept { producer_.request_key_frame(); }

    /// Players subscribed now.
    std::size_t players() const {
        std::size_t n = source_.subscribers();
        for (const auto& r : renditions_) n += r->subscribers();
        return n;
    }
    /// Frames published (each encoded once, whatever the number of players).
    std::uint64_t frames() const noexcept { return source_.frames(); }
    /// Frames in the cache for joining players.
    std::size_t cached_frames() const { return source_.cached_frames(); }

private:
    friend class stream;                 // its players subscribe to the source; its publisher pushes into it
    friend class recorder;               // one more subscriber
    friend class puller;                 // releases its claim
    friend class detail::remote_logic;   // a publisher's subscriber, or a puller's pushes

    // The frames of the first codecs: where publishers push, and what recorders and pushers take.
    driver::frame_source& source() noexcept { return source_; }

    // The frames for a player that declared `caps`: those of the first video and audio codecs it
    // takes (the first ones when it takes none: it is then told why it cannot play).
    driver::frame_source& source_for(const protocol::enhanced::capabilities& caps) {
        const auto pick = [](const auto& codecs, auto accepts) -> std::size_t {
            for (std::size_t i = 0; i < codecs.size(); ++i)
                if (const std::uint32_t fourcc = codecs[i]->fourcc(); fourcc == 0 || accepts(fourcc)) return i;
            return 0;
        };
        return rendition(pick(codecs_, [&](std::uint32_t f) { return caps.accepts_video(f); }),
                         pick(audio_codecs_, [&](std::uint32_t f) { return caps.accepts_audio(f); }));
    }

    // The frames of video codec `video` and audio codec `audio` (the first pair: `source_`).
    driver::frame_source& rendition(std::size_t video, std::size_t audio) {
        const std::size_t index = video * std::max<std::size_t>(audio_codecs_.size(), 1) + audio;
        return index == 0 ? source_ : *renditions_[index - 1];
    }

    // A frame source, without a thread of its own, for each pair of codecs but the first.
    void make_renditions() {
        const std::size_t n = std::max<std::size_t>(codecs_.size(), 1) * std::max<std::size_t>(audio_codecs_.size(), 1);
        renditions_.clear();
        for (std::size_t i = 1; i < n; ++i)
            renditions_.push_back(std::make_unique<driver::frame_source>(driver::frame_source_options{
                options_.gop_cache, options_.gop_cache_frames, options_.gop_cache_bytes, false}));
    }

    // A publisher takes the broadcast over: players hear of it, and what the previous one left
    // (configuration, cached group, timeline) goes. The previous publisher, if any, is told to
    // stop by its `evict` (called under the lock that its own `release_publisher` takes, so it
    // is still there to hear it; `evict` must only post). Returns the claim its pushes carry.
    std::uint64_t claim_publisher(std::function<void()> evict) {
        std::lock_guard lock(publisher_mutex_);
        if (auto previous = std::exchange(evict_, std::move(evict))) previous();
        return source_.claim();
    }

    // Whether `claim` is still the broadcast's publisher.
    bool holds(std::uint64_t claim) const { return source_.holds(claim); }

    // The publisher `claim` leaves; players hear of it unless another one took over meanwhile.
    void release_publisher(std::uint64_t claim) {
        std::lock_guard lock(publisher_mutex_);
        if (!source_.holds(claim)) return;
        evict_ = nullptr;
        source_.release(claim);
    }

    const broadcast_options options_;
    std::function<bool(broadcast&)> render_;
    std::function<bool(broadcast&, encoded_frame&, bool)> frame_;
    std::vector<std::unique_ptr<video_codec>> codecs_;
    std::function<bool(broadcast&, audio_buffer&)> audio_;
    std::vector<std::unique_ptr<audio_codec>> audio_codecs_;
    std::vector<std::unique_ptr<driver::frame_source>> renditions_;  // the pairs of codecs after the first
    detail::logger log_;
    std::mutex publisher_mutex_;
    std::function<void()> evict_;  // tells the current publisher to stop
    driver::frame_source source_;
    driver::producer producer_;  // last: its thread stops before the handlers and sources go away
};

RTMPX_NAMESPACE_END
