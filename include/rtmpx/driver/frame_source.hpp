// SPDX-License-Identifier: MIT
// The one frame path: a paced producer thread (or pushed tags, video and audio) feeding every subscriber's own queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/frame_queue.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/gop_cache.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/timeline.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// One player's side of a frame source: its own bounded queue, filled by the source and emptied
/// by the player's connection.
struct subscriber {
    explicit subscriber(std::size_t frames) : queue(frames) {}

    frame_queue<protocol::shared_frame> queue;
    std::function<void()> wake;        ///< tells the connection that frames wait (called from any thread)
    std::function<bool()> congested;   ///< the connection holds too many unsent bytes (any thread; may be empty)
    std::atomic<std::uint64_t>* dropped = nullptr;        ///< counters the source adds this player's drops to
    std::atomic<std::uint64_t>* dropped_total = nullptr;
    std::atomic<bool> paused{false};   ///< set by the connection: the player takes no frames now
    std::atomic<bool> failed{false};   ///< set by the source: its handler failed, no more frames come
    bool skip_until_key = true;        ///< source side: after a drop (or at the start), wait for a key frame
    protocol::shared_frame news;       ///< source side: news of the publisher that did not fit yet
};

/// How a frame source keeps frames for joining subscribers and treats slow ones.
struct frame_source_options {
    bool gop_cache = true;                    ///< keep the frames since the last key frame for joiners
    std::size_t gop_cache_frames = 600;
    std::size_t gop_cache_bytes = 16u << 20;
    bool key_frame_on_drop = false;           ///< a subscriber's drop makes the codec send a key frame
    bool idle_without_subscribers = false;    ///< skip the handlers while no subscriber takes frames
};

/**
 * The producer of frames for any number of subscribers, each frame made once and shared.
 *
 * Frames come from `push_video_tag` (already encoded, on the caller's thread), or from the render
 * and frame hooks that `start` calls on the source's own thread, paced at `rate()` calls a second:
 * timestamps are the scheduled ticks (steady spacing without wake-up jitter; players map
 * timestamps onto a frame grid), and a source that falls behind does not burst to catch up. With
 * a codec, the hook fills a picture's encoded data and the source adds the FLV tag header, the
 * onMetaData and the sequence header; without one, the hook's bytes are the FLV tag body.
 *
 * Each subscriber has its own bounded queue; a full queue drops, for that subscriber alone, up to
 * the next key frame. A hook that throws or returns false stops the thread: the failure is logged
 * (category "render" or "frame"), `failed()` turns true and every subscriber is told.
 *
 * Thread: `set_*` before `start` (or after `stop`); the rest from any thread, but
 * `push_video_tag` calls must not overlap.
 */
class frame_source {
public:
    using render_hook = std::function<bool()>;
    using frame_hook = std::function<bool(encoded_frame&, bool outqueue_is_full)>;

    explicit frame_source(frame_source_options options) : options_(options) {}
    frame_source(const frame_source&) = delete;
    frame_source& operator=(const frame_source&) = delete;
    ~frame_source() { stop(); }

    /// The hooks the thread calls each tick (either may be empty), and the calls per second.
    void set_hooks(render_hook render, frame_hook frame, std::function<double()> rate) {
        render_ = std::move(render);
        frame_ = std::move(frame);
        rate_ = std::move(rate);
    }
    /// The encoder the frame hook fills pictures with (null: the hook's bytes are FLV tag bodies).
    void set_codec(video_codec* codec) noexcept { codec_ = codec; }
    /// Where failures are logged, and what they are about ("broadcast", "stream 3").
    void set_log(const detail::logger* log, std::uint64_t connection_id, std::string subject) {
        log_ = log;
        log_id_ = connection_id;
        subject_ = std::move(subject);
    }

    /// Sets the onMetaData body players receive before their first frame.
    void set_metadata(std::vector<std::byte> payload) {
        std::lock_guard lock(mutex_);
        auto config = std::make_shared<protocol::stream_config>(*config_);
        config->metadata = std::make_shared<const std::vector<std::byte>>(std::move(payload));
        config_ = std::move(config);
    }

    /**
     * Publishes one message body of `kind` (an FLV video or audio tag body, or an AMF0 data
     * message body) at `timestamp` ms on the producer's clock, which the source's timeline
     * follows (a jump back or a leap forward is smoothed over; see `protocol::timeline`). A video
     * or audio sequence header (AVC, AAC, Enhanced SequenceStart) becomes part of the
     * configuration every player gets first; a video key frame starts a group. Empty tags are
     * ignored.
     */
    void push(protocol::media_kind kind, std::vector<std::byte> tag, std::uint32_t timestamp) {
        if (tag.empty() || !(kind == protocol::media_kind::video || kind == protocol::media_kind::audio ||
                             kind == protocol::media_kind::data))
            return;
        const bool video = kind == protocol::media_kind::video;
        if (video ? protocol::flv::is_sequence_header(tag)
                  : kind == protocol::media_kind::audio && protocol::flv::is_audio_sequence_header(tag)) {
            std::lock_guard lock(mutex_);
            auto config = std::make_shared<protocol::stream_config>(*config_);
            (video ? config->sequence_header : config->audio_sequence_header) =
                std::make_shared<const std::vector<std::byte>>(std::move(tag));
            config_ = std::move(config);
            gop_.clear();  // frames before it need the old configuration
            return;
        }
        auto frame = std::make_shared<protocol::media_frame>();
        frame->kind = kind;
        frame->key_frame = video && protocol::flv::is_key_frame(tag);
        frame->tag = std::move(tag);
        frame->timestamp = timestamp;
        publish(std::move(frame), true);
    }

    /// `push` of a video tag body, copied once.
    void push_video_tag(std::span<const std::byte> tag, std::uint32_t timestamp) {
        push(protocol::media_kind::video, {tag.begin(), tag.end()}, timestamp);
    }
    /// `push` of an audio tag body, copied once.
    void push_audio_tag(std::span<const std::byte> tag, std::uint32_t timestamp) {
        push(protocol::media_kind::audio, {tag.begin(), tag.end()}, timestamp);
    }

    /**
     * News of the publisher (`unpublished` or `published`), to every subscriber in the order of
     * the media. Either way the cached group and the configuration go (what comes next is
     * another publisher's), and the timeline re-anchors on the next timestamp.
     */
    void notify(protocol::media_kind news) {
        auto frame = std::make_shared<protocol::media_frame>();
        frame->kind = news;
        {
            std::lock_guard lock(mutex_);
            gop_.clear();
            config_ = std::make_shared<protocol::stream_config>();
            timeline_.restart();
        }
        publish(std::move(frame), false);
    }

    /// Milliseconds since the source was made (or last started): the clock of its rendered
    /// frames, for timestamps of pushed media that goes with them.
    std::uint32_t clock_ms() const {
        std::lock_guard lock(mutex_);
        return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - epoch_).count());
    }

    /// Jumps in pushed timestamps smoothed over so far (a publisher's restarts not counted).
    std::uint64_t timestamp_jumps() const {
        std::lock_guard lock(mutex_);
        return timeline_.jumps();
    }

    /// Starts the thread calling the hooks (a running one is restarted).
    void start() {
        stop();
        {
            std::lock_guard lock(mutex_);
            stop_ = false;
            failed_ = false;
        }
        thread_ = std::thread([this] { produce(); });
    }

    /// Stops the thread (subscribers stay, and get frames again after `start`).
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        stop_cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    /// Whether the thread ended because a hook failed.
    bool failed() const {
        std::lock_guard lock(mutex_);
        return failed_;
    }

    /// Asks the codec for a key frame at the next tick.
    void request_key_frame() noexcept { key_requested_.store(true, std::memory_order_relaxed); }

    /**
     * Adds a subscriber. Returns the cached group (each frame carries its configuration), which
     * the subscriber sends first; from then on every published frame goes to its queue. With no
     * cached group the subscriber waits for a key frame, which is requested.
     */
    std::vector<protocol::shared_frame> subscribe(const std::shared_ptr<subscriber>& sub) {
        std::lock_guard lock(mutex_);
        std::vector<protocol::shared_frame> join;
        if (options_.gop_cache) join = gop_.frames();
        sub->skip_until_key = join.empty();
        if (join.empty()) key_requested_.store(true, std::memory_order_relaxed);
        if (failed_) sub->failed.store(true);
        subscribers_.push_back(sub);
        return join;
    }

    /// Removes a subscriber; once it returns, the source no longer touches it.
    void unsubscribe(const subscriber* sub) {
        std::lock_guard lock(mutex_);
        std::erase_if(subscribers_, [sub](const auto& s) { return s.get() == sub; });
    }

    std::size_t subscribers() const {
        std::lock_guard lock(mutex_);
        return subscribers_.size();
    }
    /// Frames published (each made once, whatever the number of subscribers).
    std::uint64_t frames() const noexcept { return frames_.load(std::memory_order_relaxed); }
    /// Frames in the cache for joiners.
    std::size_t cached_frames() const {
        std::lock_guard lock(mutex_);
        return gop_.frames().size();
    }

private:
    using clock = std::chrono::steady_clock;

    static bool behind(const subscriber& s) {
        return s.queue.size_approx() * 2 >= s.queue.capacity() || (s.congested && s.congested());
    }

    // Whether every subscriber that takes frames is behind (the frame hook's hint), and whether
    // any takes frames at all.
    std::pair<bool, bool> load() const {
        std::lock_guard lock(mutex_);
        bool any = false;
        bool all_behind = true;
        for (const auto& s : subscribers_) {
            if (s->paused.load(std::memory_order_relaxed)) continue;
            any = true;
            all_behind = all_behind && behind(*s);
        }
        return {any && all_behind, any};
    }

    // Every subscriber's queue gets the frame, unless it is behind: video then drops to the next
    // key frame once its queue is three quarters full, and audio only when it is full, so that a
    // slow player keeps its sound while it can. News is never dropped: it waits and goes first.
    // `pushed`: the frame's timestamp is on a producer's clock, which the timeline follows.
    void publish(std::shared_ptr<protocol::media_frame> frame, bool pushed) {
        std::lock_guard lock(mutex_);
        frame->config = config_;
        if (pushed) frame->timestamp = timeline_.map(frame->timestamp, clock::now());
        protocol::shared_frame shared = std::move(frame);
        const bool video = shared->kind == protocol::media_kind::video;
        if (shared->is_media()) {
            frames_.fetch_add(1, std::memory_order_relaxed);
            if (options_.gop_cache) gop_.add(shared);
        }
        for (const auto& sub : subscribers_) {
            if (sub->news) {
                auto pending = sub->news;
                if (!sub->queue.try_push(std::move(pending))) {
                    if (shared->is_media()) count_drop(*sub);
                    continue;
                }
                sub->news.reset();
                sub->skip_until_key = true;
            }
            if (!shared->is_media()) {
                auto copy = shared;
                if (!sub->queue.try_push(std::move(copy))) sub->news = shared;
                sub->skip_until_key = true;
                sub->wake();
                continue;
            }
            if (sub->paused.load(std::memory_order_relaxed)) {
                if (video) sub->skip_until_key = true;  // a resumed player starts on a key frame
                continue;
            }
            if (video && sub->skip_until_key && !shared->key_frame) {
                count_drop(*sub);
                continue;
            }
            const std::size_t room = sub->queue.capacity() - std::min(sub->queue.capacity(), sub->queue.size_approx());
            auto copy = shared;
            if ((!video || room > sub->queue.capacity() / 4) && sub->queue.try_push(std::move(copy))) {
                if (video) sub->skip_until_key = false;
                sub->wake();
            } else {
                // This subscriber is behind: it alone drops (video up to the next key frame).
                if (video) sub->skip_until_key = true;
                count_drop(*sub);
                if (video && options_.key_frame_on_drop) key_requested_.store(true, std::memory_order_relaxed);
            }
        }
    }

    static void count_drop(subscriber& sub) noexcept {
        if (sub.dropped) sub.dropped->fetch_add(1, std::memory_order_relaxed);
        if (sub.dropped_total) sub.dropped_total->fetch_add(1, std::memory_order_relaxed);
    }

    // A hook failed: the thread ends and every subscriber hears of it.
    void fail(const char* kind, bool threw) {
        if (!threw && log_)
            log_->log(log_level::warning, log_id_, kind, error::handler_failed, "{} handler of {} returned false", kind,
                      subject_);
        std::lock_guard lock(mutex_);
        failed_ = true;
        for (const auto& sub : subscribers_) {
            sub->failed.store(true);
            sub->wake();
        }
    }

    template <class F>
    bool run_hook(const char* kind, F&& f) {
        static const detail::logger silent;
        const auto ok = detail::guarded_call(log_ ? *log_ : silent, log_id_, kind, subject_, f);
        if (ok && *ok) return true;
        fail(kind, !ok);
        return false;
    }

    void produce() {
        clock::time_point start;
        {
            std::lock_guard lock(mutex_);
            start = epoch_ = clock::now();
        }
        auto next = start;
        std::uint64_t generation = 0;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (stop_cv_.wait_until(lock, next, [this] { return stop_; })) return;
            }
            const auto tick = next;
            const double rate = rate_ ? rate_() : 30.0;
            next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate));
            if (const auto now = clock::now(); next < now) next = now;  // fell behind: no burst to catch up
            const auto [all_behind, any] = load();
            const bool full = all_behind;  // a copy: clang 14 cannot capture a structured binding
            if (options_.idle_without_subscribers && !any) continue;
            if (key_requested_.exchange(false, std::memory_order_relaxed) && codec_) codec_->force_key_frame();
            if (render_ && !run_hook("render", render_)) return;
            encoded_frame out;
            if (frame_ && !run_hook("frame", [&] { return frame_(out, full); })) return;
            if (out.data.empty()) continue;
            if (codec_ && codec_->generation() != generation) {
                generation = codec_->generation();
                set_codec_config(rate);
            }
            auto frame = std::make_shared<protocol::media_frame>();
            frame->timestamp = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(tick - start).count());
            if (codec_) {
                frame->tag = protocol::flv::video_tag(codec_->flv_codec_id(), out.key_frame, out.data);
                frame->key_frame = out.key_frame;
            } else {
                frame->tag = std::move(out.data);
                frame->key_frame = out.key_frame || protocol::flv::is_key_frame(frame->tag);
            }
            publish(std::move(frame), false);
        }
    }

    // A new codec configuration: onMetaData and (for AVC) the sequence header, built once.
    void set_codec_config(double rate) {
        const std::uint8_t codec_id = codec_->flv_codec_id();
        auto config = std::make_shared<protocol::stream_config>();
        config->metadata = std::make_shared<const std::vector<std::byte>>(protocol::flv::on_metadata_payload(
            protocol::flv::video_metadata(codec_->width(), codec_->height(), rate, codec_id)));
        if (codec_id == static_cast<std::uint8_t>(protocol::flv::video_codec::avc) && !codec_->header().empty())
            config->sequence_header =
                std::make_shared<const std::vector<std::byte>>(protocol::flv::avc_sequence_header(codec_->header()));
        std::lock_guard lock(mutex_);
        config_ = std::move(config);
        gop_.clear();
    }

    const frame_source_options options_;
    mutable std::mutex mutex_;
    std::shared_ptr<const protocol::stream_config> config_ = std::make_shared<protocol::stream_config>();
    protocol::gop_cache gop_{options_.gop_cache_frames, options_.gop_cache_bytes};
    protocol::timeline timeline_;
    clock::time_point epoch_ = clock::now();
    std::vector<std::shared_ptr<subscriber>> subscribers_;
    std::atomic<std::uint64_t> frames_{0};
    std::atomic<bool> key_requested_{false};
    bool failed_ = false;

    render_hook render_;
    frame_hook frame_;
    std::function<double()> rate_;
    video_codec* codec_ = nullptr;
    const detail::logger* log_ = nullptr;
    std::uint64_t log_id_ = 0;
    std::string subject_;
    std::thread thread_;
    std::condition_variable stop_cv_;
    bool stop_ = true;
};

} // namespace driver
RTMPX_NAMESPACE_END
