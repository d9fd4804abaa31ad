// SPDX-License-Identifier: MIT
// The one frame path: frames made once (pushed tags, or a producer's) into every subscriber's own queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

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

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// How a frame source keeps frames for joining subscribers and treats slow ones.
struct frame_source_options {
    bool gop_cache = true;                    ///< keep the frames since the last key frame for joiners
    std::size_t gop_cache_frames = 600;
    std::size_t gop_cache_bytes = 16u << 20;
    bool key_frame_on_drop = false;           ///< a subscriber's drop makes the codec send a key frame
    /// Subscribers whose wake writes to a socket (`subscriber::wake_writes`; see
    /// `basic_session::set_lock`) that one thread wakes per frame; beyond, helper threads wake
    /// the rest.
    std::size_t fanout_batch = 256;
    /// Helper threads at most (started the first time they are needed); 0: the publishing
    /// thread wakes every subscriber itself.
    std::size_t fanout_threads = default_fanout_threads();
};

/**
 * Frames for any number of subscribers, each frame made once and shared.
 *
 * Frames come from `push` (already encoded, on the caller's thread: a file, a camera, a
 * publisher), or from a `producer`, whose thread renders and encodes them at a rate and publishes
 * them here (`publish_produced`, `set_configuration`). The source keeps the configuration (the
 * onMetaData and sequence headers every subscriber gets first) and the group since the last key
 * frame for joiners.
 *
 * Each subscriber has its own bounded queue; a full queue drops, for that subscriber alone, up to
 * the next key frame.
 *
 * Thread: any; `push` calls must not overlap.
 */
class frame_source {
public:
    using clock = std::chrono::steady_clock;

    explicit frame_source(frame_source_options options) : options_(options) {}
    frame_source(const frame_source&) = delete;
    frame_source& operator=(const frame_source&) = delete;

    /// Where warnings are logged, and what they are about ("broadcast", "stream 3").
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

    /// Whether the producer feeding the source failed (see `set_failed`).
    bool failed() const {
        std::lock_guard lock(mutex_);
        return failed_;
    }

    /// Asks the producer's encoder for a key frame at its next picture.
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

    // ---- for the producer that feeds the source (`driver::producer`) --------------------------

    /// Restarts the clock of `clock_ms` at `start`.
    void restart_clock(clock::time_point start) {
        std::lock_guard lock(mutex_);
        epoch_ = start;
    }

    /// Publishes a produced frame: its timestamp is the producer's clock, as it is.
    void publish_produced(std::shared_ptr<protocol::media_frame> frame) { publish(std::move(frame), false); }

    /// Whether the source has subscribers; without any, its cached group goes.
    bool watched() {
        std::lock_guard lock(mutex_);
        if (subscribers_.empty()) gop_.clear();
        return !subscribers_.empty();
    }

    /// Whether every subscriber that takes frames is behind (the frame hook's hint), and whether
    /// any takes frames at all.
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

    /// Whether a key frame was asked for since the last call (by a joiner, a drop, `request_key_frame`).
    bool take_key_request() noexcept { return key_requested_.exchange(false, std::memory_order_relaxed); }

    /**
     * The configuration a producer's encoders made: `audio_header` (null: the one there stays)
     * and, `with_video`, onMetaData and the video sequence header, which replace what was there.
     * The cached group goes (its frames need the old configuration).
     */
    void set_configuration(std::shared_ptr<const std::vector<std::byte>> metadata,
                           std::shared_ptr<const std::vector<std::byte>> video_header,
                           std::shared_ptr<const std::vector<std::byte>> audio_header, bool with_video) {
        std::lock_guard lock(mutex_);
        auto config = with_video ? std::make_shared<protocol::stream_config>() : std::make_shared<protocol::stream_config>(*config_);
        if (with_video) {
            config->metadata = std::move(metadata);
            config->sequence_header = std::move(video_header);
        }
        config->audio_sequence_header = audio_header ? std::move(audio_header) : config_->audio_sequence_header;
        config_ = std::move(config);
        gop_.clear();
    }

    /// The producer failed (every subscriber hears of it, and later ones at once), or starts again.
    void set_failed(bool failed) {
        locked guard(*this);
        failed_ = failed;
        if (!failed) return;
        for (const auto& sub : subscribers_) {
            sub->failed.store(true);
            guard.wakes.push_back(sub);
        }
    }

private:

    // Configuration messages kept beyond the two sequence headers (each track's SequenceStart,
    // MultichannelConfig): a publisher's further ones are dropped, with a warning.
    static constexpr std::size_t max_config_messages = 2 * protocol::enhanced::max_tracks;

    static bool behind(const subscriber& s) {
        return s.queue.size_approx() * 2 >= s.queue.capacity() || (s.congested && s.congested());
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

    const detail::logger* log_ = nullptr;
    std::uint64_t log_id_ = 0;
    std::string subject_;
    fanout fanout_{options_.fanout_batch, options_.fanout_threads};  // last: its helpers stop first
};

} // namespace driver
RTMPX_NAMESPACE_END
