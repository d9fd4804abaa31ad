// SPDX-License-Identifier: MIT
// basic_stream: one RTMP NetStream of a connection, with its handlers, codec and frame thread.
#pragma once

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <rtmpx/broadcast.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/frame_queue.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN

template <class Socket>
class basic_connection;

namespace detail {

/// A frame on its way from the frame thread to the connection's writer.
struct queued_frame {
    encoded_frame frame;
    std::uint32_t timestamp = 0;                          ///< ms since play start
    std::shared_ptr<const std::vector<std::byte>> config; ///< new codec configuration, if any
    std::uint32_t width = 0;
    std::uint32_t height = 0;
};

} // namespace detail

/**
 * One NetStream of a connection: created by `createStream`, played by `play`.
 *
 * A stream handler registers the stream's render, frame, play and pause handlers and may choose
 * a codec. While the stream plays, the render handler runs on the connection's thread at the
 * render rate and the frame handler on the stream's own frame thread at the same rate.
 *
 * Thread: the connection's thread, except where a member says otherwise. From the frame thread
 * the frame handler may call `id`, `name`, `codec`, `property`, `render_rate` and `connection_id`.
 * Lifetime: a `stream&` is valid during the handler call it is passed to.
 */
template <class Socket>
class basic_stream {
public:
    using connection_type = basic_connection<Socket>;

    basic_stream(connection_type& conn, std::uint32_t id, double render_rate)
        : connection_(conn), id_(id), render_rate_(render_rate) {}
    basic_stream(const basic_stream&) = delete;
    basic_stream& operator=(const basic_stream&) = delete;
    ~basic_stream() { stop_frame_thread(); }

    /// The message stream id the client uses for this stream (never 0).
    std::uint32_t id() const noexcept { return id_; }
    /// The name the player passed to `play` (empty before play). Thread: any, once playing.
    const std::string& name() const noexcept { return name_; }
    /// The connection this stream belongs to (to register more call handlers, ...).
    connection_type& connection() noexcept { return connection_; }
    /// Whether `play` was honoured and the stream has not stopped since.
    bool playing() const noexcept { return playing_; }
    /// Whether an honoured pause is in effect.
    bool paused() const noexcept { return paused_.load(std::memory_order_relaxed); }

    /// Registers the render handler; `nullptr` removes it.
    template <class F>
    void on_render(F handler) {
        static_assert(render_handler<F, basic_stream>, "on_render: expected bool (stream&)");
        render_ = std::move(handler);
    }
    void on_render(std::nullptr_t) { render_ = nullptr; }

    /// Registers the frame handler; `nullptr` removes it. Takes effect at the next play.
    template <class F>
    void on_frame(F handler) {
        static_assert(frame_handler<F, basic_stream>,
                      "on_frame: expected bool (stream&, encoded_frame& out, bool outqueue_is_full)");
        frame_ = std::move(handler);
    }
    void on_frame(std::nullptr_t) { frame_ = nullptr; }

    /// Registers the play handler; `nullptr` removes it (play is then always allowed).
    template <class F>
    void on_play(F handler) {
        static_assert(play_handler<F, basic_stream>, "on_play: expected bool (stream&, play_event&)");
        play_ = std::move(handler);
    }
    void on_play(std::nullptr_t) { play_ = nullptr; }

    /// Registers the pause handler; `nullptr` removes it (pause is then always honoured).
    template <class F>
    void on_pause(F handler) {
        static_assert(pause_handler<F, basic_stream>, "on_pause: expected bool (stream&, pause_event const&)");
        pause_ = std::move(handler);
    }
    void on_pause(std::nullptr_t) { pause_ = nullptr; }

    /**
     * Chooses the video codec by name ("h264", or any name registered with the server's codec
     * registry). False when no codec has that name; the stream then keeps its previous choice.
     * With no codec, the frame handler's bytes are sent as they are (a complete FLV video tag body).
     */
    bool use_codec(std::string_view name) {
        auto codec = connection_.make_codec(name);
        if (!codec) return false;
        codec_ = std::move(codec);
        return true;
    }

    /**
     * Plays `source` instead of the stream's own render and frame handlers: the stream gets the
     * broadcast's frames (encoded once for all its players) into a queue of its own. Takes effect
     * at the next play; `nullptr` goes back to the stream's own handlers.
     */
    void use_broadcast(std::shared_ptr<broadcast> source) { broadcast_ = std::move(source); }

    /// The broadcast the stream plays, or null.
    broadcast* playing_broadcast() const noexcept { return broadcast_.get(); }

    /// The stream's own encoder, or null when no codec was chosen.
    video_codec* codec() noexcept { return codec_.get(); }

    /**
     * Sets a property. `render_rate` (calls per second, a positive number up to the server's
     * maximum) takes effect at the next tick; user keys start with `user_`.
     * Errors: `error::invalid_property` for another key, `error::invalid_property_value` for a
     * bad render rate; nothing changes then.
     */
    std::error_code set_property(std::string_view key, std::string_view value) {
        if (key == "render_rate") {
            double rate = 0;
            const auto* end = value.data() + value.size();
            auto [ptr, ec] = std::from_chars(value.data(), end, rate);
            if (ec != std::errc() || ptr != end || !(rate > 0) || rate > connection_.options().max_render_rate)
                return error::invalid_property_value;
            render_rate_.store(rate, std::memory_order_relaxed);
            return {};
        }
        if (key.substr(0, 5) != "user_") return error::invalid_property;
        std::lock_guard lock(properties_mutex_);
        properties_[std::string(key)] = std::string(value);
        return {};
    }

    /// A property's value: `render_rate` or a user key. Thread: any.
    std::optional<std::string> property(std::string_view key) const {
        if (key == "render_rate") return fmt::format("{}", render_rate());
        std::lock_guard lock(properties_mutex_);
        auto it = properties_.find(key);
        if (it == properties_.end()) return std::nullopt;
        return it->second;
    }

    /// Render (and frame) calls per second. Thread: any.
    double render_rate() const noexcept { return render_rate_.load(std::memory_order_relaxed); }

    /// Frames handed to the writer and frames dropped under backpressure. Thread: any.
    std::uint64_t frames_sent() const noexcept { return frames_sent_.load(std::memory_order_relaxed); }
    std::uint64_t frames_dropped() const noexcept { return frames_dropped_.load(std::memory_order_relaxed); }

    /// The id of the connection, for logs. Thread: any.
    std::uint64_t connection_id() const noexcept { return connection_.id(); }

private:
    friend class basic_connection<Socket>;

    // Starts the frame thread; `wake` is called after each queued frame (it posts to the
    // connection), `full` says whether the connection has too many unsent bytes, `fail` is
    // posted when the frame handler fails.
    void start_frame_thread(std::size_t queue_frames, std::function<void()> wake, std::function<bool()> full,
                            std::function<void()> fail) {
        stop_frame_thread();
        queue_ = std::make_unique<frame_queue<detail::queued_frame>>(queue_frames);
        frame_stop_ = false;
        skip_until_key_ = false;
        config_generation_ = 0;
        play_start_ = std::chrono::steady_clock::now();
        if (codec_) codec_->force_key_frame();  // a joining player starts on a key frame
        frame_thread_ = std::thread([this, wake = std::move(wake), full = std::move(full), fail = std::move(fail)] {
            frame_loop(wake, full, fail);
        });
    }

    void stop_frame_thread() {
        {
            std::lock_guard lock(frame_mutex_);
            frame_stop_ = true;
        }
        frame_cv_.notify_all();
        if (frame_thread_.joinable()) frame_thread_.join();
    }

    void frame_loop(const std::function<void()>& wake, const std::function<bool()>& full,
                    const std::function<void()>& fail) {
        using clock = std::chrono::steady_clock;
        auto next = clock::now();
        for (;;) {
            {
                std::unique_lock lock(frame_mutex_);
                if (frame_cv_.wait_until(lock, next, [this] { return frame_stop_; })) return;
            }
            // The frame's timestamp is its scheduled tick: steady spacing, no wake-up jitter (players
            // map timestamps onto a frame grid, and jitter would put two frames in one slot).
            const auto tick = next;
            const auto period = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / render_rate()));
            next += period;
            const auto now = clock::now();
            if (next < now) next = now;  // fell behind: do not burst to catch up
            if (paused()) continue;
            if (force_key_.exchange(false) && codec_) codec_->force_key_frame();

            detail::queued_frame item;
            const bool queue_full = queue_->size_approx() * 2 >= queue_->capacity() || full();
            bool ok = false;
            try {
                ok = frame_ ? static_cast<bool>(frame_(*this, item.frame, queue_full)) : true;
            } catch (...) {
                ok = false;
            }
            if (!ok) {
                fail();
                return;
            }
            if (item.frame.data.empty()) continue;
            if (codec_ && codec_->generation() != config_generation_) {
                config_generation_ = codec_->generation();
                item.config = std::make_shared<const std::vector<std::byte>>(codec_->header());
                item.width = codec_->width();
                item.height = codec_->height();
            }
            // After a drop, frames that depend on the dropped one are useless: skip to a key frame.
            if (skip_until_key_ && !item.frame.key_frame) {
                count_frame_dropped();
                continue;
            }
            item.timestamp = static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(tick - play_start_).count());
            if (queue_->try_push(std::move(item))) {
                skip_until_key_ = false;
                wake();
            } else {
                count_frame_dropped();
                skip_until_key_ = true;
                if (codec_) codec_->force_key_frame();
            }
        }
    }

    void count_frame_dropped() noexcept {
        frames_dropped_.fetch_add(1, std::memory_order_relaxed);
        connection_.server_->frames_dropped.fetch_add(1, std::memory_order_relaxed);
    }

    connection_type& connection_;
    const std::uint32_t id_;
    std::string name_;
    bool playing_ = false;
    std::atomic<bool> paused_{false};
    std::atomic<double> render_rate_;

    std::function<bool(basic_stream&)> render_;
    std::function<bool(basic_stream&, encoded_frame&, bool)> frame_;
    std::function<bool(basic_stream&, play_event&)> play_;
    std::function<bool(basic_stream&, const pause_event&)> pause_;
    std::unique_ptr<video_codec> codec_;
    std::shared_ptr<broadcast> broadcast_;
    std::shared_ptr<detail::broadcast_subscriber> subscriber_;  // while playing a broadcast

    mutable std::mutex properties_mutex_;
    std::map<std::string, std::string, std::less<>> properties_;

    // Frame thread state.
    std::thread frame_thread_;
    std::mutex frame_mutex_;
    std::condition_variable frame_cv_;
    bool frame_stop_ = false;
    std::atomic<bool> force_key_{false};
    bool skip_until_key_ = false;
    std::uint64_t config_generation_ = 0;
    std::chrono::steady_clock::time_point play_start_;
    std::unique_ptr<frame_queue<detail::queued_frame>> queue_;
    std::atomic<std::uint64_t> frames_sent_{0};
    std::atomic<std::uint64_t> frames_dropped_{0};

    // Writer state (connection thread).
    bool sent_key_frame_ = false;
    std::uint32_t last_timestamp_ = 0;
    std::optional<std::uint32_t> broadcast_base_;  // the broadcast's timestamp of this player's first frame
    std::shared_ptr<const detail::broadcast_config> sent_config_;
    std::vector<detail::shared_frame> join_frames_;  // the cached group, for a joining player
    std::shared_ptr<bool> render_alive_;  // the render loop runs while this is set and true
};

RTMPX_NAMESPACE_END
