// SPDX-License-Identifier: MIT
// The one frame path: a paced producer thread (or pushed tags, video and audio) feeding every subscriber's own queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rtmpx/audio_codec.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/fanout.hpp>
#include <rtmpx/driver/frame_queue.hpp>
#include <rtmpx/driver/subscriber.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/gop_cache.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/timeline.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// How a frame source keeps frames for joining subscribers and treats slow ones.
struct frame_source_options {
    bool gop_cache = true;                    ///< keep the frames since the last key frame for joiners
    std::size_t gop_cache_frames = 600;
    std::size_t gop_cache_bytes = 16u << 20;
    bool key_frame_on_drop = false;           ///< a subscriber's drop makes the codec send a key frame
    bool idle_without_subscribers = false;    ///< skip the handlers while no subscriber takes frames
    /// Subscribers whose wake writes to a socket (`subscriber::wake_writes`; see
    /// `basic_session::set_lock`) that one thread wakes per frame; beyond, helper threads wake
    /// the rest.
    std::size_t fanout_batch = 256;
    /// Helper threads at most (started the first time they are needed); 0: the publishing
    /// thread wakes every subscriber itself.
    std::size_t fanout_threads = default_fanout_threads();
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
 * With an audio codec and hook (`set_audio`), each tick also asks the audio hook for the samples
 * due since the last (counted from the first tick, so the sound is continuous and its timestamps
 * run with the pictures'), encodes them and publishes every finished packet.
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
    using audio_hook = std::function<bool(audio_buffer&)>;

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
    void set_codec(video_codec* codec) {
        video_.assign(1, video_lane{codec});
        renditions_.clear();
        current_.store(codec, std::memory_order_relaxed);
    }
    /// The audio hook and the opened encoder it feeds (both or neither; or the hook alone, and
    /// the encoders from `set_renditions`).
    void set_audio(audio_hook hook, audio_codec* codec) {
        audio_ = std::move(hook);
        audio_lanes_.clear();
        if (codec) audio_lanes_.push_back(audio_lane{codec});
    }

    /// Where the frames of one pair of encoders go (see `set_renditions`).
    struct rendition {
        frame_source* source = nullptr;  ///< a source with subscribers of its own (this one, or one without a thread)
        std::size_t video = 0;           ///< which video encoder feeds it
        std::size_t audio = 0;           ///< which audio encoder feeds it (when there are any)
    };

    /**
     * Several encoders at once, each frame encoded once per encoder: each tick the frame hook is
     * called once per video encoder (`current_codec()` says which one it fills), and the audio
     * hook once, its samples encoded by every audio encoder. Each of `renditions` (the first is
     * this source) takes the frames of one video and one audio encoder, with a configuration and
     * a cached group of its own. With more than one encoder of a kind, one none of whose
     * renditions has a subscriber taking frames is not used; when one arrives it starts again,
     * on a key frame. The other sources must outlive this one's thread.
     */
    void set_renditions(std::vector<video_codec*> video, std::vector<audio_codec*> audio, std::vector<rendition> renditions) {
        RTMPX_ASSERT(!video.empty() && !renditions.empty() && renditions.front().source == this);
        video_.clear();
        for (video_codec* codec : video) video_.push_back(video_lane{codec});
        audio_lanes_.clear();
        for (audio_codec* codec : audio) audio_lanes_.push_back(audio_lane{codec});
        renditions_ = std::move(renditions);
        current_.store(video_.front().codec, std::memory_order_relaxed);
    }

    /// The video encoder the frame hook fills now (the first before any frame). Thread: any.
    video_codec* current_codec() const noexcept { return current_.load(std::memory_order_relaxed); }

    /// Where failures are logged, and what they are about ("broadcast", "stream 3").
    void set_log(const detail::logger* log, std::uint64_t connection_id, std::string subject) {
        log_ = log;
        log_id_ = connection_id;
        subject_ = std::move(subject);
    }

    /// Sets the onMetaData body players receive before their first frame. With a `claim`, only
    /// while that claim holds the source (see `claim`); false otherwise.
    bool set_metadata(std::vector<std::byte> payload, std::uint64_t claim = 0) {
        std::lock_guard lock(mutex_);
        if (claim != 0 && claim != claim_) return false;
        auto config = std::make_shared<protocol::stream_config>(*config_);
        config->metadata = std::make_shared<const std::vector<std::byte>>(std::move(payload));
        config_ = std::move(config);
        return true;
    }

    /**
     * Publishes one message body of `kind` (an FLV video or audio tag body, or an AMF0 data
     * message body) at `timestamp` ms on the producer's clock, which the source's timeline
     * follows (a jump back or a leap forward is smoothed over; see `protocol::timeline`). A video
     * or audio sequence header (AVC, AAC, Enhanced SequenceStart) becomes part of the
     * configuration every player gets first; a video key frame starts a group. Empty tags are
     * ignored. With a `claim`, the message goes only while that claim holds the source; false
     * when it did not go for that reason.
     */
    bool push(protocol::media_kind kind, std::vector<std::byte> tag, std::uint32_t timestamp, std::uint64_t claim = 0) {
        if (tag.empty() || !(kind == protocol::media_kind::video || kind == protocol::media_kind::audio ||
                             kind == protocol::media_kind::data))
            return true;
        const bool video = kind == protocol::media_kind::video;
        const bool config = video ? protocol::flv::is_sequence_header(tag)
                                  : kind == protocol::media_kind::audio && protocol::flv::is_audio_config(tag);
        const std::uint32_t slot = config ? protocol::flv::config_slot(tag, video) : 0;
        auto frame = config ? nullptr : std::make_shared<protocol::media_frame>();
        locked guard(*this);
        if (claim != 0 && claim != claim_) return false;
        if (config) {
            auto next = std::make_shared<protocol::stream_config>(*config_);
            auto body = std::make_shared<const std::vector<std::byte>>(std::move(tag));
            if (slot == 0) {
                (video ? next->sequence_header : next->audio_sequence_header) = std::move(body);
            } else {
                auto same = std::find_if(next->more.begin(), next->more.end(),
                                         [&](const protocol::config_message& m) { return m.video == video && m.slot == slot; });
                if (same != next->more.end())
                    same->body = std::move(body);
                else if (next->more.size() < max_config_messages)
                    next->more.push_back({video, slot, std::move(body)});
                else if (!std::exchange(warned_config_, true) && log_)
                    log_->log(log_level::warning, log_id_, "media", {}, "{}: configuration messages beyond {} dropped", subject_,
                              max_config_messages);
            }
            config_ = std::move(next);
            gop_.clear();  // frames before it need the old configuration
            return true;
        }
        frame->kind = kind;
        frame->key_frame = video && protocol::flv::is_key_frame(tag);
        frame->info_frame = video && !frame->key_frame && protocol::flv::is_video_info_frame(tag);
        frame->tag = std::move(tag);
        frame->timestamp = timestamp;
        publish_locked(std::move(frame), true, guard.wakes);
        return true;
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
     * A publisher takes the source over: subscribers hear NetStream.Play.PublishNotify, and what
     * the previous one left (configuration, cached group) goes; the timeline re-anchors on the
     * next timestamp. Returns the claim, which its `push`es carry: from now on only this
     * publisher's messages go, until `release` or another `claim`.
     */
    std::uint64_t claim() {
        locked guard(*this);
        claim_ = ++claims_;
        news_locked(protocol::media_kind::published, guard.wakes);
        return claim_;
    }

    /// The publisher `claim` leaves: subscribers hear NetStream.Play.UnpublishNotify, unless
    /// another publisher took over since.
    void release(std::uint64_t claim) {
        locked guard(*this);
        if (claim == 0 || claim != claim_) return;
        claim_ = 0;
        news_locked(protocol::media_kind::unpublished, guard.wakes);
    }

    /// Whether `claim` holds the source.
    bool holds(std::uint64_t claim) const {
        std::lock_guard lock(mutex_);
        return claim != 0 && claim == claim_;
    }
    /// Whether a publisher holds the source.
    bool claimed() const {
        std::lock_guard lock(mutex_);
        return claim_ != 0;
    }

    /// News of a remote publisher that `claim` relays (a puller): `published` or `unpublished`,
    /// as `claim` and `release` tell it, while the claim holds.
    void notify(protocol::media_kind news, std::uint64_t claim) {
        locked guard(*this);
        if (claim != 0 && claim == claim_) news_locked(news, guard.wakes);
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
        }
        for (const rendition& r : outputs()) {
            std::lock_guard lock(r.source->mutex_);
            r.source->failed_ = false;
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

    /// Asks the codecs for a key frame at the next tick.
    void request_key_frame() noexcept {
        for (const rendition& r : outputs()) r.source->key_requested_.store(true, std::memory_order_relaxed);
    }

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

    /// Removes a subscriber; once it returns, the source no longer wakes it.
    void unsubscribe(subscriber* sub) {
        {
            std::lock_guard lock(mutex_);
            std::erase_if(subscribers_, [sub](const auto& s) { return s.get() == sub; });
        }
        // A wake of it may still be on its way, from a publish that took it before: detach it
        // (outside the mutex: that wake may be writing to a player whose code takes the mutex).
        if (sub) sub->detach();
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

    // Configuration messages kept beyond the two sequence headers (each track's SequenceStart,
    // MultichannelConfig): a publisher's further ones are dropped, with a warning.
    static constexpr std::size_t max_config_messages = 2 * protocol::enhanced::max_tracks;

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

    // The source's mutex, held while frames are queued; the subscribers that got one are woken
    // after it is released: a wake may write to a player's socket (see `basic_session::set_lock`),
    // which must neither hold up the source nor reach back into it under its mutex.
    using wake_list = fanout::wake_list;
    struct locked {
        explicit locked(frame_source& s) : lock(s.mutex_), source(s) { wakes.reserve(s.subscribers_.size()); }
        locked(const locked&) = delete;
        locked& operator=(const locked&) = delete;
        ~locked() {
            lock.unlock();
            source.fanout_.deliver(wakes);
        }
        std::unique_lock<std::mutex> lock;
        frame_source& source;
        wake_list wakes;
    };

    // The configuration, cached group and timeline go, and every subscriber hears the news.
    void news_locked(protocol::media_kind kind, wake_list& wakes) {
        gop_.reset();
        config_ = std::make_shared<protocol::stream_config>();
        timeline_.restart();
        auto frame = std::make_shared<protocol::media_frame>();
        frame->kind = kind;
        publish_locked(std::move(frame), false, wakes);
    }

    void publish(std::shared_ptr<protocol::media_frame> frame, bool pushed) {
        locked guard(*this);
        publish_locked(std::move(frame), pushed, guard.wakes);
    }

    // Every subscriber's queue gets the frame, unless it is behind: video then drops to the next
    // key frame once its queue is three quarters full, and audio only when it is full, so that a
    // slow player keeps its sound while it can. News never waits for room: when the queue is
    // full it goes aside (`post_news`), and the media after it waits until it has been taken.
    void publish_locked(std::shared_ptr<protocol::media_frame> frame, bool pushed, wake_list& wakes) {
        frame->config = config_;
        if (pushed) frame->timestamp = timeline_.map(frame->timestamp, clock::now());
        protocol::shared_frame shared = std::move(frame);
        const bool video = shared->kind == protocol::media_kind::video;
        if (shared->is_media()) {
            frames_.fetch_add(1, std::memory_order_relaxed);
            if (options_.gop_cache) gop_.add(shared);
        }
        for (const auto& sub : subscribers_) {
            if (!shared->is_media()) {
                // In the queue when it has room (the usual case: media goes on behind it), else
                // aside, where the consumer finds it after the queue.
                auto copy = shared;
                if (sub->has_news.load(std::memory_order_acquire) || !sub->queue.try_push(std::move(copy))) sub->post_news(shared);
                sub->skip_until_key = true;
                wakes.push_back(sub);
                continue;
            }
            if (sub->has_news.load(std::memory_order_acquire)) {
                if (video) sub->skip_until_key = true;
                count_drop(*sub);
                continue;
            }
            if (sub->paused.load(std::memory_order_relaxed)) {
                if (video) sub->skip_until_key = true;  // a resumed player starts on a key frame
                continue;
            }
            const bool picture = video && !shared->info_frame;  // an info frame waits for no key frame
            if (picture && sub->skip_until_key && !shared->key_frame) {
                count_drop(*sub);
                continue;
            }
            const std::size_t room = sub->queue.capacity() - std::min(sub->queue.capacity(), sub->queue.size_approx());
            auto copy = shared;
            if ((!video || room > sub->queue.capacity() / 4) && sub->queue.try_push(std::move(copy))) {
                if (picture) sub->skip_until_key = false;
                wakes.push_back(sub);
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

    // A hook failed: the thread ends and every subscriber, of every rendition, hears of it.
    void fail(const char* kind, bool threw) {
        if (!threw && log_)
            log_->log(log_level::warning, log_id_, kind, error::handler_failed, "{} handler of {} returned false", kind,
                      subject_);
        for (const rendition& r : outputs()) {
            locked guard(*r.source);
            r.source->failed_ = true;
            for (const auto& sub : r.source->subscribers_) {
                sub->failed.store(true);
                guard.wakes.push_back(sub);
            }
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

    // ---- the producer thread ---------------------------------------------------------------

    struct video_lane {
        video_codec* codec = nullptr;
        std::uint64_t generation = 0;  // of the configuration sent this run (0: none yet)
        bool active = false;           // encoding for players (several encoders only)
    };
    struct audio_lane {
        audio_codec* codec = nullptr;
        bool active = false;
        std::int64_t fed = 0;     // sample frames handed to the encoder, ever
        std::int64_t offset = 0;  // add to the encoder's sample positions: this run's positions
        std::int64_t end = 0;     // where its last packet ends, in this run's positions
        std::deque<std::shared_ptr<protocol::media_frame>> waiting{};  // encoded, its tick not yet come
    };

    // The renditions: those set, or this source alone with the first encoders.
    std::span<const rendition> outputs() const noexcept {
        return renditions_.empty() ? std::span<const rendition>(&self_, 1) : std::span<const rendition>(renditions_);
    }
    static std::size_t lane_of(const rendition& r, bool video) noexcept { return video ? r.video : r.audio; }

    // Over the renditions fed by video (or audio) encoder `index`: whether every subscriber
    // that takes frames is behind, and whether any takes frames.
    std::pair<bool, bool> load_of(bool video, std::size_t index) const {
        bool any = false;
        bool all_behind = true;
        for (const rendition& r : outputs()) {
            if (lane_of(r, video) != index) continue;
            const auto [behind, takes] = r.source->load();
            any = any || takes;
            all_behind = all_behind && (!takes || behind);
        }
        return {any && all_behind, any};
    }

    // Whether a key frame was asked of video encoder `index` (by a joiner, a drop, the user).
    bool take_key_request(std::size_t index) {
        bool asked = false;
        for (const rendition& r : outputs())
            if (r.video == index && r.source->key_requested_.exchange(false, std::memory_order_relaxed)) asked = true;
        return asked;
    }

    // The frame into every rendition of video (or audio) encoder `index`: a copy for each but the
    // last (a frame carries its rendition's configuration). Of several renditions, one without
    // subscribers keeps no cached group: its first player starts on a new key frame, with its
    // sound, rather than on a group cached while another codec of sound was playing.
    void publish_to(bool video, std::size_t index, std::shared_ptr<protocol::media_frame> frame) {
        const bool several = renditions_.size() > 1;
        frame_source* last = nullptr;
        for (const rendition& r : outputs()) {
            if (lane_of(r, video) != index) continue;
            if (several && !r.source->watched()) continue;
            if (last) last->publish(std::make_shared<protocol::media_frame>(*frame), false);
            last = r.source;
        }
        if (last) last->publish(std::move(frame), false);
    }

    // Whether the source has subscribers; without, its cached group goes.
    bool watched() {
        std::lock_guard lock(mutex_);
        if (subscribers_.empty()) gop_.clear();
        return !subscribers_.empty();
    }

    void produce() {
        clock::time_point start;
        {
            std::lock_guard lock(mutex_);
            start = epoch_ = clock::now();
        }
        auto next = start;
        for (video_lane& lane : video_) lane = video_lane{lane.codec};  // each run sends its configuration anew
        for (audio_lane& lane : audio_lanes_) {
            lane.active = false;
            lane.waiting.clear();
        }
        audio_samples_ = audio_ahead_ = 0;
        if (audio_ && !audio_lanes_.empty())
            for (const rendition& r : outputs()) configure(r, 0, false);
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (stop_cv_.wait_until(lock, next, [this] { return stop_; })) return;
            }
            const auto tick = next;
            const double rate = rate_ ? rate_() : 30.0;
            next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate));
            if (const auto now = clock::now(); next < now) next = now;  // fell behind: no burst to catch up
            if (options_.idle_without_subscribers && !load().second) continue;
            if (render_ && !run_hook("render", render_)) return;
            if (audio_ && !audio_lanes_.empty() && !produce_audio(tick - start)) return;
            if (!frame_) continue;
            const auto timestamp = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(tick - start).count());
            for (std::size_t i = 0; i < video_.size(); ++i)
                if (!produce_video(i, timestamp, rate)) return;
        }
    }

    // One picture of video encoder `index` (the frame hook fills it), to its renditions. With
    // several encoders, one whose renditions nobody takes frames from is skipped. False when the
    // hook failed (the thread then ends).
    bool produce_video(std::size_t index, std::uint32_t timestamp, double rate) {
        video_lane& lane = video_[index];
        const auto [all_behind, any] = load_of(true, index);
        const bool full = all_behind;  // a copy: clang 14 cannot capture a structured binding
        bool key = take_key_request(index);
        if (video_.size() > 1) {
            if (!any) {
                lane.active = false;
                return true;
            }
            if (!std::exchange(lane.active, true)) key = true;  // its first player starts on a key frame
        }
        video_codec* const codec = lane.codec;
        if (key && codec) codec->force_key_frame();
        current_.store(codec, std::memory_order_relaxed);
        encoded_frame out;
        if (!run_hook("frame", [&] { return frame_(out, full); })) return false;
        if (out.data.empty()) return true;
        if (codec && codec->generation() != lane.generation) {
            lane.generation = codec->generation();
            for (const rendition& r : outputs())
                if (r.video == index) configure(r, rate, true);
        }
        auto frame = std::make_shared<protocol::media_frame>();
        frame->timestamp = timestamp;
        if (codec) {
            const std::uint32_t fourcc = codec->fourcc();
            frame->tag = fourcc != 0 ? protocol::flv::enhanced_video_tag(fourcc, protocol::enhanced::video_packet::coded_frames, out.key_frame, out.data)
                                     : protocol::flv::video_tag(codec->flv_codec_id(), out.key_frame, out.data);
            frame->key_frame = out.key_frame;
        } else {
            frame->tag = std::move(out.data);
            frame->key_frame = out.key_frame || protocol::flv::is_key_frame(frame->tag);
        }
        publish_to(true, index, std::move(frame));
        return true;
    }

    // The sound due at `elapsed` since the first tick. Sound is asked for ahead of the pictures
    // by what the encoders hold back (learned: 10 ms more each time an encoder's packets end
    // before now, up to a second), and each packet waits until the tick of its time, so that
    // players get audio and video with timestamps in order. With several encoders, one whose
    // renditions nobody takes frames from is skipped; the hook is called all the same (the
    // application's sound keeps its time). False when the hook or an encoder failed (the thread
    // then ends).
    bool produce_audio(clock::duration elapsed) {
        const std::uint32_t rate = audio_lanes_.front().codec->sample_rate();
        const auto now = static_cast<std::int64_t>(std::chrono::duration<double>(elapsed).count() * rate);
        for (std::size_t j = 0; j < audio_lanes_.size(); ++j) {
            audio_lane& lane = audio_lanes_[j];
            if (audio_lanes_.size() > 1 && !load_of(false, j).second) {
                lane.active = false;
                lane.waiting.clear();
            } else if (!std::exchange(lane.active, true)) {
                lane.offset = audio_samples_ - lane.fed;  // its next sample is this run's next
                lane.end = audio_samples_;
            }
        }
        const auto caught_up = [&] {
            return std::all_of(audio_lanes_.begin(), audio_lanes_.end(), [&](const audio_lane& l) { return !l.active || l.end >= now; });
        };
        for (int round = 0; round < 128; ++round) {
            const std::int64_t want = now + audio_ahead_;
            if (want > audio_samples_ && !feed_audio(static_cast<std::size_t>(want - audio_samples_))) return false;
            if (caught_up() || audio_ahead_ >= rate) break;
            audio_ahead_ += rate / 100;
        }
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
        for (std::size_t j = 0; j < audio_lanes_.size(); ++j) {
            auto& waiting = audio_lanes_[j].waiting;
            while (!waiting.empty() && waiting.front()->timestamp <= now_ms) {
                publish_to(false, j, std::move(waiting.front()));
                waiting.pop_front();
            }
        }
        return true;
    }

    // `count` sample frames from the audio hook, encoded by every active encoder; the packets
    // wait in their lane.
    bool feed_audio(std::size_t count) {
        const std::uint32_t rate = audio_lanes_.front().codec->sample_rate();
        const std::uint32_t channels = audio_lanes_.front().codec->channels();
        audio_samples_ += static_cast<std::int64_t>(count);
        audio_buffer_.sample_rate = rate;
        audio_buffer_.channels = channels;
        audio_buffer_.samples.assign(count * channels, 0);
        if (!run_hook("audio", [this] { return audio_(audio_buffer_); })) return false;
        audio_buffer_.samples.resize(count * channels, 0);  // a handler that changed the size: cut or padded
        for (audio_lane& lane : audio_lanes_) {
            if (!lane.active) continue;
            lane.fed += static_cast<std::int64_t>(count);
            audio_packets_.clear();
            if (const auto ec = lane.codec->encode(audio_buffer_.samples, audio_packets_)) {
                if (log_) log_->log(log_level::error, log_id_, "audio", ec, "{}: audio encoder failed: {}", subject_, ec.message());
                fail("audio", true);
                return false;
            }
            const std::uint32_t fourcc = lane.codec->fourcc();
            for (const encoded_audio& packet : audio_packets_) {
                auto frame = std::make_shared<protocol::media_frame>();
                frame->kind = protocol::media_kind::audio;
                frame->tag = fourcc != 0 ? protocol::flv::enhanced_audio_tag(fourcc, protocol::enhanced::audio_packet::coded_frames, packet.data)
                                         : protocol::flv::aac_tag(false, packet.data);
                const std::int64_t at = packet.first_sample + lane.offset;  // before this run (held back): at 0
                frame->timestamp = at <= 0 ? 0 : static_cast<std::uint32_t>(at * 1000 / rate);
                lane.end = at + packet.samples;
                lane.waiting.push_back(std::move(frame));  // at most a second and a packet ahead
            }
        }
        return true;
    }

    // The configuration of rendition `r`: the audio encoder's sequence header (AAC
    // AudioSpecificConfig, or an Enhanced SequenceStart) and, `with_video`, onMetaData and the
    // video encoder's sequence header (AVC, or an Enhanced codec's SequenceStart), built here;
    // what the rendition has of the rest stays.
    void configure(const rendition& r, double rate, bool with_video) {
        video_codec* const codec = with_video && r.video < video_.size() ? video_[r.video].codec : nullptr;
        audio_codec* const audio = audio_ && r.audio < audio_lanes_.size() ? audio_lanes_[r.audio].codec : nullptr;
        std::shared_ptr<const std::vector<std::byte>> metadata;
        std::shared_ptr<const std::vector<std::byte>> video_header;
        std::shared_ptr<const std::vector<std::byte>> audio_header;
        if (audio) {
            const std::uint32_t fourcc = audio->fourcc();
            audio_header = std::make_shared<const std::vector<std::byte>>(
                fourcc != 0 ? protocol::flv::enhanced_audio_tag(fourcc, protocol::enhanced::audio_packet::sequence_start, audio->header())
                            : protocol::flv::aac_tag(true, audio->header()));
        }
        if (codec) {
            const std::uint8_t codec_id = codec->flv_codec_id();
            const std::uint32_t fourcc = codec->fourcc();
            auto properties = protocol::flv::video_metadata(codec->width(), codec->height(), rate,
                                                            fourcc != 0 ? protocol::enhanced::metadata_codec_id(fourcc) : codec_id);
            if (audio) {
                const std::uint32_t audio_fourcc = audio->fourcc();
                protocol::flv::add_audio_metadata(properties,
                                                  audio_fourcc != 0 ? protocol::enhanced::metadata_codec_id(audio_fourcc) : audio->flv_sound_format(),
                                                  audio->sample_rate(), audio->channels());
            }
            metadata = std::make_shared<const std::vector<std::byte>>(protocol::flv::on_metadata_payload(std::move(properties)));
            if (fourcc != 0 && !codec->header().empty())
                video_header = std::make_shared<const std::vector<std::byte>>(protocol::flv::enhanced_video_tag(
                    fourcc, protocol::enhanced::video_packet::sequence_start, true, codec->header()));
            else if (codec_id == static_cast<std::uint8_t>(protocol::flv::video_codec::avc) && !codec->header().empty())
                video_header = std::make_shared<const std::vector<std::byte>>(protocol::flv::avc_sequence_header(codec->header()));
        }
        frame_source& s = *r.source;
        std::lock_guard lock(s.mutex_);
        auto config = codec ? std::make_shared<protocol::stream_config>() : std::make_shared<protocol::stream_config>(*s.config_);
        if (codec) {
            config->metadata = std::move(metadata);
            config->sequence_header = std::move(video_header);
        }
        config->audio_sequence_header = audio ? std::move(audio_header) : s.config_->audio_sequence_header;
        s.config_ = std::move(config);
        s.gop_.clear();
    }

    const frame_source_options options_;
    mutable std::mutex mutex_;
    std::shared_ptr<const protocol::stream_config> config_ = std::make_shared<protocol::stream_config>();
    bool warned_config_ = false;
    protocol::gop_cache gop_{options_.gop_cache_frames, options_.gop_cache_bytes};
    protocol::timeline timeline_;
    clock::time_point epoch_ = clock::now();
    std::vector<std::shared_ptr<subscriber>> subscribers_;
    std::atomic<std::uint64_t> frames_{0};
    std::atomic<bool> key_requested_{false};
    bool failed_ = false;
    std::uint64_t claim_ = 0;   // the publisher holding the source (0: none)
    std::uint64_t claims_ = 0;

    render_hook render_;
    frame_hook frame_;
    audio_hook audio_;
    std::function<double()> rate_;
    std::vector<video_lane> video_ = std::vector<video_lane>(1);  // the producer thread's, like the rest here
    std::vector<audio_lane> audio_lanes_;
    std::vector<rendition> renditions_;  // empty: this source alone
    const rendition self_{this, 0, 0};
    std::atomic<video_codec*> current_{nullptr};
    audio_buffer audio_buffer_;                 // reused each tick
    std::vector<encoded_audio> audio_packets_;  // likewise
    std::int64_t audio_samples_ = 0;            // sample frames asked of the hook this run
    std::int64_t audio_ahead_ = 0;              // how far ahead of the ticks sound is asked for
    const detail::logger* log_ = nullptr;
    std::uint64_t log_id_ = 0;
    std::string subject_;
    std::thread thread_;
    std::condition_variable stop_cv_;
    bool stop_ = true;
    fanout fanout_{options_.fanout_batch, options_.fanout_threads};  // last: its helpers stop first
};

} // namespace driver
RTMPX_NAMESPACE_END
