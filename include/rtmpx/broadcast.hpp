// SPDX-License-Identifier: MIT
// broadcast: one producer of video, encoded once, shared by any number of playing streams.
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
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <rtmpx/amf0.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/frame_queue.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/messages.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN

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

namespace detail {

/// What a player needs before its first frame: onMetaData and the codec's sequence header.
struct broadcast_config {
    std::shared_ptr<const std::vector<std::byte>> metadata;         ///< onMetaData data message payload, or null
    std::shared_ptr<const std::vector<std::byte>> sequence_header;  ///< FLV video tag body, or null
};

/// One frame as every player receives it: an immutable FLV video tag body, shared.
struct broadcast_frame {
    std::vector<std::byte> tag;
    std::uint32_t timestamp = 0;  ///< ms on the broadcast's clock
    bool key_frame = false;
    std::shared_ptr<const broadcast_config> config;  ///< the configuration the frame needs
};
using shared_frame = std::shared_ptr<const broadcast_frame>;

/// The frames since the last key frame, within limits. Sans-I/O; not synchronised.
class gop_cache {
public:
    gop_cache(std::size_t max_frames, std::size_t max_bytes) : max_frames_(max_frames), max_bytes_(max_bytes) {}

    /// Adds a frame: a key frame starts a new group; a frame with no key frame before it, or
    /// one beyond the limits, empties the cache until the next key frame.
    void add(const shared_frame& f) {
        if (f->key_frame) clear();
        if (frames_.empty() && !f->key_frame) return;
        if (frames_.size() + 1 > max_frames_ || bytes_ + f->tag.size() > max_bytes_) {
            clear();
            return;
        }
        frames_.push_back(f);
        bytes_ += f->tag.size();
    }

    void clear() noexcept {
        frames_.clear();
        bytes_ = 0;
    }

    /// The group, key frame first (empty when there is none).
    const std::vector<shared_frame>& frames() const noexcept { return frames_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    std::size_t max_frames_;
    std::size_t max_bytes_;
    std::vector<shared_frame> frames_;
    std::size_t bytes_ = 0;
};

/// One playing stream's side of a broadcast: its own bounded queue, filled by the producer
/// and emptied by the stream's connection.
struct broadcast_subscriber {
    explicit broadcast_subscriber(std::size_t frames) : queue(frames) {}

    frame_queue<shared_frame> queue;
    std::function<void()> wake;                   ///< tells the connection frames are queued (any thread)
    std::atomic<std::uint64_t>* dropped = nullptr; ///< counters the producer adds its drops to
    std::atomic<std::uint64_t>* dropped_total = nullptr;
    bool skip_until_key = true;                   ///< producer side: after a drop, wait for a key frame
};

/// The FLV video tag header of a frame: frame type and codec id, then for AVC the packet type
/// (1: NALUs) and a zero composition time.
inline void append_video_tag_header(std::vector<std::byte>& tag, std::uint8_t codec_id, bool key_frame) {
    tag.push_back(std::byte(((key_frame ? 1 : 2) << 4) | codec_id));
    if (codec_id == 7) tag.insert(tag.end(), {std::byte{0x01}, std::byte{0}, std::byte{0}, std::byte{0}});
}

} // namespace detail

/**
 * One source of video for many players: each frame is encoded once, and its bytes are shared,
 * immutable, by every player's queue. Each player keeps its own bounded queue and drops to the
 * next key frame when it falls behind, so a slow player costs only itself.
 *
 * Frames come either from `push_video_tag` (already encoded, from a file, a camera, another
 * server), or from render and frame handlers that `start` runs on the broadcast's own thread at
 * `render_rate`, encoding with a codec chosen by name. A stream plays the broadcast after
 * `stream.use_broadcast(b)` in its stream or play handler.
 *
 * Thread: `on_render`, `on_frame` and `use_codec` before `start` (or after `stop`); the other
 * members from any thread, but `push_video_tag` calls must not overlap.
 * Lifetime: hold it in a `std::shared_ptr` (streams keep it alive while they play it); `stop`
 * it before the state its handlers use goes away.
 */
class broadcast {
public:
    explicit broadcast(broadcast_options options = {}) : options_(options) {
        RTMPX_ASSERT(options_.player_queue_frames > 0 && options_.render_rate > 0);
    }
    broadcast(const broadcast&) = delete;
    broadcast& operator=(const broadcast&) = delete;
    ~broadcast() { stop(); }

    const broadcast_options& options() const noexcept { return options_; }

    // ---- a source of encoded frames ----------------------------------------------------------

    /// Sets the onMetaData players receive before their first frame (an ECMA array or object).
    void set_metadata(amf0::value metadata) {
        auto payload = to_message(make_on_metadata(std::move(metadata)), 0).payload;
        std::lock_guard lock(mutex_);
        auto config = std::make_shared<detail::broadcast_config>(*config_);
        config->metadata = std::make_shared<const std::vector<std::byte>>(std::move(payload));
        config_ = std::move(config);
    }

    /**
     * Sends one FLV video tag body (the bytes of an RTMP video message) to every player, at
     * `timestamp` ms on the broadcast's clock (never decreasing). An AVC sequence header becomes
     * the configuration sent to every player before its first frame; frames whose first byte
     * says "key frame" start groups. The bytes are copied once and then shared.
     */
    void push_video_tag(std::span<const std::byte> tag, std::uint32_t timestamp) {
        if (tag.empty()) return;
        const auto first = std::to_integer<std::uint8_t>(tag[0]);
        if ((first & 0x0f) == 7 && tag.size() >= 2 && tag[1] == std::byte{0}) {  // AVC sequence header
            std::lock_guard lock(mutex_);
            auto config = std::make_shared<detail::broadcast_config>(*config_);
            config->sequence_header = std::make_shared<const std::vector<std::byte>>(tag.begin(), tag.end());
            config_ = std::move(config);
            gop_.clear();  // frames before it need the old configuration
            return;
        }
        auto frame = std::make_shared<detail::broadcast_frame>();
        frame->tag.assign(tag.begin(), tag.end());
        frame->timestamp = timestamp;
        frame->key_frame = (first >> 4) == 1;
        publish(std::move(frame));
    }

    // ---- rendering and encoding on the broadcast's own thread ---------------------------------

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
    bool use_codec(std::string_view name, const codec_registry& registry) {
        auto codec = registry.make(name);
        if (!codec) return false;
        codec_ = std::move(codec);
        return true;
    }

    /// The broadcast's encoder (null without one). Thread: the frame handler's.
    video_codec* codec() noexcept { return codec_.get(); }

    /// Starts calling the render and frame handlers at `render_rate` on the broadcast's thread.
    void start() {
        stop();
        {
            std::lock_guard lock(mutex_);
            stop_ = false;
        }
        thread_ = std::thread([this] { produce(); });
    }

    /// Stops the broadcast's thread (players stay, and get frames again after `start`).
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        stop_cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    /// Whether the frame handler's thread ended because a handler failed.
    bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

    /// Asks the codec for a key frame at the next frame (a broadcast with a codec only).
    void request_key_frame() noexcept { key_requested_.store(true, std::memory_order_relaxed); }

    // ---- figures ------------------------------------------------------------------------------

    /// Players subscribed now.
    std::size_t players() const {
        std::lock_guard lock(mutex_);
        return subscribers_.size();
    }
    /// Frames published (each encoded once, whatever the number of players).
    std::uint64_t frames() const noexcept { return frames_.load(std::memory_order_relaxed); }
    /// Frames in the cache for joining players.
    std::size_t cached_frames() const {
        std::lock_guard lock(mutex_);
        return gop_.frames().size();
    }

private:
    template <class S>
    friend class basic_connection;

    // Adds a player: the cached group comes back (each frame carries its configuration), and
    // from then on every published frame goes to its queue. Thread: the player's connection.
    std::vector<detail::shared_frame> subscribe(const std::shared_ptr<detail::broadcast_subscriber>& sub) {
        std::lock_guard lock(mutex_);
        std::vector<detail::shared_frame> join;
        if (options_.gop_cache) join = gop_.frames();
        sub->skip_until_key = join.empty();
        if (join.empty()) key_requested_.store(true, std::memory_order_relaxed);
        subscribers_.push_back(sub);
        return join;
    }

    // Removes a player; once it returns, the producer no longer touches `sub`.
    void unsubscribe(const detail::broadcast_subscriber* sub) {
        std::lock_guard lock(mutex_);
        std::erase_if(subscribers_, [sub](const auto& s) { return s.get() == sub; });
    }

    void publish(std::shared_ptr<detail::broadcast_frame> frame) {
        std::lock_guard lock(mutex_);
        frame->config = config_;
        detail::shared_frame shared = std::move(frame);
        frames_.fetch_add(1, std::memory_order_relaxed);
        if (options_.gop_cache) gop_.add(shared);
        for (const auto& sub : subscribers_) {
            if (sub->skip_until_key && !shared->key_frame) {
                count_drop(*sub);
                continue;
            }
            auto copy = shared;
            if (sub->queue.try_push(std::move(copy))) {
                sub->skip_until_key = false;
                sub->wake();
            } else {
                // This player is behind: it alone drops, up to the next key frame.
                sub->skip_until_key = true;
                count_drop(*sub);
            }
        }
    }

    static void count_drop(detail::broadcast_subscriber& sub) noexcept {
        if (sub.dropped) sub.dropped->fetch_add(1, std::memory_order_relaxed);
        if (sub.dropped_total) sub.dropped_total->fetch_add(1, std::memory_order_relaxed);
    }

    bool all_players_behind() const {
        std::lock_guard lock(mutex_);
        if (subscribers_.empty()) return false;
        return std::all_of(subscribers_.begin(), subscribers_.end(), [](const auto& s) {
            return s->queue.size_approx() * 2 >= s->queue.capacity();
        });
    }

    // The broadcast's thread: render, then frame, at the render rate; timestamps are the
    // scheduled ticks (steady spacing, like a stream's).
    void produce() {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        auto next = start;
        std::uint64_t generation = 0;
        const auto period = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / options_.render_rate));
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (stop_cv_.wait_until(lock, next, [this] { return stop_; })) return;
            }
            const auto tick = next;
            next += period;
            if (const auto now = clock::now(); next < now) next = now;
            if (key_requested_.exchange(false, std::memory_order_relaxed) && codec_) codec_->force_key_frame();
            encoded_frame out;
            bool ok = false;
            try {
                ok = (!render_ || render_(*this)) && (!frame_ || frame_(*this, out, all_players_behind()));
            } catch (...) {
                ok = false;
            }
            if (!ok) {
                failed_.store(true, std::memory_order_relaxed);
                return;
            }
            if (out.data.empty()) continue;
            if (codec_ && codec_->generation() != generation) {
                generation = codec_->generation();
                set_codec_config();
            }
            auto frame = std::make_shared<detail::broadcast_frame>();
            frame->timestamp = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(tick - start).count());
            frame->key_frame = out.key_frame;
            if (codec_) {
                frame->tag.reserve(5 + out.data.size());
                detail::append_video_tag_header(frame->tag, codec_->flv_codec_id(), out.key_frame);
                frame->tag.insert(frame->tag.end(), out.data.begin(), out.data.end());
            } else {
                frame->tag = std::move(out.data);
                frame->key_frame = !frame->tag.empty() && (std::to_integer<std::uint8_t>(frame->tag[0]) >> 4) == 1;
            }
            publish(std::move(frame));
        }
    }

    // A new codec configuration: onMetaData and (for AVC) the sequence header, built once.
    void set_codec_config() {
        const std::uint8_t codec_id = codec_->flv_codec_id();
        auto meta = amf0::value::ecma_array({{"width", amf0::value(codec_->width())},
                                             {"height", amf0::value(codec_->height())},
                                             {"framerate", amf0::value(options_.render_rate)},
                                             {"videocodecid", amf0::value(codec_id)},
                                             {"encoder", amf0::value("rtmpx")}});
        auto config = std::make_shared<detail::broadcast_config>();
        config->metadata = std::make_shared<const std::vector<std::byte>>(to_message(make_on_metadata(std::move(meta)), 0).payload);
        if (codec_id == 7 && !codec_->header().empty()) {
            std::vector<std::byte> seq = {std::byte{0x17}, std::byte{0x00}, std::byte{0}, std::byte{0}, std::byte{0}};
            seq.insert(seq.end(), codec_->header().begin(), codec_->header().end());
            config->sequence_header = std::make_shared<const std::vector<std::byte>>(std::move(seq));
        }
        std::lock_guard lock(mutex_);
        config_ = std::move(config);
        gop_.clear();
    }

    const broadcast_options options_;
    mutable std::mutex mutex_;
    std::shared_ptr<const detail::broadcast_config> config_ = std::make_shared<detail::broadcast_config>();
    detail::gop_cache gop_{options_.gop_cache_frames, options_.gop_cache_bytes};
    std::vector<std::shared_ptr<detail::broadcast_subscriber>> subscribers_;
    std::atomic<std::uint64_t> frames_{0};
    std::atomic<bool> key_requested_{false};
    std::atomic<bool> failed_{false};

    std::function<bool(broadcast&)> render_;
    std::function<bool(broadcast&, encoded_frame&, bool)> frame_;
    std::unique_ptr<video_codec> codec_;
    std::thread thread_;
    std::condition_variable stop_cv_;
    bool stop_ = true;
};

RTMPX_NAMESPACE_END
