// SPDX-License-Identifier: MIT
// stream: one RTMP NetStream of a connection, with its handlers, codec and frame source.
#pragma once

#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/post.hpp>
#include <fmt/format.h>

#include <rtmpx/broadcast.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/frame_source.hpp>
#include <rtmpx/driver/producer.hpp>
#include <rtmpx/driver/session.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/impl/server_state.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/server_session_events.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * One NetStream of a connection: created by `createStream`, then played by `play` or published
 * by `publish`.
 *
 * A stream handler registers the stream's render, frame, play and pause handlers and may choose
 * a codec. While the stream plays, the render handler runs on the connection's thread at the
 * render rate and the frame handler on the stream's own frame thread at the same rate. A stream
 * that plays a broadcast instead gets the broadcast's frames.
 *
 * Thread: the connection's thread, except where a member says otherwise. From the frame thread
 * the frame handler may call `id`, `name`, `codec`, `property`, `render_rate`, `frames_sent`,
 * `frames_dropped` and `connection_id`.
 * Lifetime: a `stream&` is valid during the handler call it is passed to.
 */
class stream : public std::enable_shared_from_this<stream> {
public:
    /// Made by the connection on `createStream`.
    stream(class connection& conn, std::shared_ptr<detail::server_state> server, std::uint32_t id, std::uint64_t connection_id)
        : connection_(conn),
          server_(std::move(server)),
          id_(id),
          connection_id_(connection_id),
          render_rate_(server_->options.default_render_rate) {}
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    ~stream() { stop_media(); }

    /// The message stream id the client uses for this stream (never 0).
    std::uint32_t id() const noexcept { return id_; }
    /// The name the client passed to `play` or `publish` (empty before). Thread: any, once playing.
    const std::string& name() const noexcept { return name_; }
    /// The connection this stream belongs to (to register more call handlers, ...).
    class connection& connection() noexcept { return connection_; }
    /// Whether `play` was honoured and the stream has not stopped since.
    bool playing() const noexcept { return playing_; }
    /// Whether an honoured pause is in effect.
    bool paused() const noexcept { return paused_.load(std::memory_order_relaxed); }
    /// Whether a `publish` was accepted and has not ended since.
    bool publishing() const noexcept { return publishing_; }

    /// Registers the render handler; `nullptr` removes it. Takes effect at the next play.
    template <class F>
    void on_render(F handler) {
        static_assert(render_handler<F, stream>, "on_render: expected bool (stream&)");
        render_ = std::move(handler);
    }
    void on_render(std::nullptr_t) { render_ = nullptr; }

    /// Registers the frame handler; `nullptr` removes it. Takes effect at the next play.
    template <class F>
    void on_frame(F handler) {
        static_assert(frame_handler<F, stream>, "on_frame: expected bool (stream&, encoded_frame& out, bool outqueue_is_full)");
        frame_ = std::move(handler);
    }
    void on_frame(std::nullptr_t) { frame_ = nullptr; }

    /// Registers the play handler; `nullptr` removes it (play is then always allowed).
    template <class F>
    void on_play(F handler) {
        static_assert(play_handler<F>, "on_play: expected bool (stream&, play_event&)");
        play_ = std::move(handler);
    }
    void on_play(std::nullptr_t) { play_ = nullptr; }

    /// Registers the pause handler; `nullptr` removes it (pause is then always honoured).
    template <class F>
    void on_pause(F handler) {
        static_assert(pause_handler<F>, "on_pause: expected bool (stream&, pause_event const&)");
        pause_ = std::move(handler);
    }
    void on_pause(std::nullptr_t) { pause_ = nullptr; }

    /// Registers the publish handler; `nullptr` removes it (publishing is then refused).
    template <class F>
    void on_publish(F handler) {
        static_assert(publish_handler<F>, "on_publish: expected bool (stream&, publish_event&)");
        publish_ = std::move(handler);
    }
    void on_publish(std::nullptr_t) { publish_ = nullptr; }

    /// Registers the media handler, told every message of an accepted publish; `nullptr` removes it.
    template <class F>
    void on_media(F handler) {
        static_assert(media_handler<F>, "on_media: expected void (stream&, media_event const&)");
        media_ = [h = std::move(handler)](stream& s, const media_event& e) mutable { h(s, e); };
    }
    void on_media(std::nullptr_t) { media_ = nullptr; }

    /**
     * Feeds what this stream publishes to `target`, whose players then watch it: call it in the
     * publish handler (it takes effect for that publish). The stream takes the broadcast over
     * from any publisher feeding it now (that one's connection is closed with
     * `error::publisher_replaced`); when the publish ends, players get
     * NetStream.Play.UnpublishNotify and stay. `nullptr`: the publish feeds no broadcast.
     */
    void publish_to(std::shared_ptr<broadcast> target) { publish_target_ = std::move(target); }

    /// Messages received from this stream's publishes.
    std::uint64_t messages_published() const noexcept { return messages_published_; }
    /// Of those, the ones no broadcast got because another publisher had taken it over.
    std::uint64_t messages_dropped() const noexcept { return messages_dropped_; }

    /**
     * Chooses the video codec by name ("h264", or any name registered with the server's codec
     * registry). False when no codec has that name; the stream then keeps its previous choice.
     * With no codec, the frame handler's bytes are sent as they are (a complete FLV video tag body).
     * Call it while the stream does not play (in the stream or play handler): a playing stream's
     * frame thread uses the codec.
     */
    bool use_codec(std::string_view name) {
        auto codec = server_->codecs.make(name);
        if (!codec) return false;
        codec_ = std::move(codec);
        return true;
    }

    /**
     * As `use_codec(name)`, and prepares the encoder for `width` x `height` pictures of `format`
     * at once (`video_codec::prepare`), so that the first frame after play costs one encode
     * instead of an initialisation and a cold first picture. False when no codec has that name
     * or the encoder refuses the size; the stream then keeps its previous choice.
     */
    bool use_codec(std::string_view name, std::uint32_t width, std::uint32_t height,
                   pixel_format format = pixel_format::rgba) {
        auto codec = server_->codecs.make(name);
        if (!codec || codec->prepare(width, height, format)) return false;
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
            if (ec != std::errc() || ptr != end || !(rate > 0) || rate > server_->options.max_render_rate)
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
    std::uint64_t connection_id() const noexcept { return connection_id_; }

private:
    friend class connection;

    // The render tick the frame source posts to the connection's thread; a tick that finds the
    // previous one still waiting is skipped (a busy connection gets no backlog of renders).
    struct render_ticket {
        std::atomic<bool> pending{false};
    };

    std::string subject() const { return fmt::format("stream {}", id_); }

    // ---- media, on the connection's thread ------------------------------------------------------

    // Play starts: the stream subscribes to its broadcast, or to a frame source of its own (its
    // render and frame handlers at the render rate, on a frame thread); of a broadcast with several
    // codecs, the frames in those the client declared (`caps`). `fail` is called on the
    // connection's thread when a handler fails.
    void start_media(std::string name, const driver::session_port& port, const protocol::enhanced::capabilities& caps,
                     std::function<void()> fail) {
        stop_media();
        name_ = std::move(name);
        playing_ = true;
        paused_.store(false, std::memory_order_relaxed);
        ++play_generation_;
        fail_ = std::move(fail);
        server_->playing_streams.fetch_add(1, std::memory_order_relaxed);
        driver::frame_source* source = nullptr;
        std::size_t queue_frames = server_->options.frame_queue_frames;
        if (broadcast_) {
            playing_broadcast_ = broadcast_;  // alive until the play ends, whatever use_broadcast does
            source = &playing_broadcast_->source_for(caps);  // the codecs the player takes
            queue_frames = playing_broadcast_->options().player_queue_frames;
        } else if (render_ || frame_) {
            // One subscriber, so its drops may ask the codec for a key frame, and the producer
            // rests while nobody takes frames (a paused player).
            own_ = std::make_unique<driver::frame_source>(driver::frame_source_options{false, 0, 0, true});
            producer_ = std::make_unique<driver::producer>(true);
            set_hooks(*producer_, port);
            producer_->set_renditions({codec_.get()}, {}, {{own_.get(), 0, 0}});
            producer_->set_log(&server_->log, connection_id_, subject());
            source = own_.get();
        }
        if (!source) return;
        sub_ = std::make_shared<driver::subscriber>(queue_frames);
        sub_->wake = port.frames_waiting;
        sub_->wake_writes = port.writes_directly;
        sub_->congested = [gate = port.gate] { return gate->congested(); };
        sub_->dropped = &frames_dropped_;
        sub_->dropped_total = &server_->frames_dropped;
        source_ = source;
        join_ = source->subscribe(sub_);  // written after the replies to play
        if (producer_) producer_->start();
    }

    void set_hooks(driver::producer& producer, const driver::session_port& port) {
        driver::producer::render_hook render;
        driver::producer::frame_hook frame;
        if (render_) {
            render = [ticket = std::make_shared<render_ticket>(), weak = weak_from_this(), exec = port.executor,
                      gen = play_generation_] {
                if (!ticket->pending.exchange(true, std::memory_order_acq_rel))
                    asio::post(exec, [ticket, weak, gen] {
                        ticket->pending.store(false, std::memory_order_release);
                        if (auto self = weak.lock()) self->render_tick(gen);
                    });
                return true;
            };
        }
        if (frame_)  // a copy: on_frame during the play takes effect at the next one
            frame = [this, handler = frame_](encoded_frame& out, bool full) { return static_cast<bool>(handler(*this, out, full)); };
        producer.set_hooks(std::move(render), std::move(frame), [this] { return render_rate(); });
    }

    // On the connection's thread: one render call, unless the play it was made for is over.
    void render_tick(std::uint64_t generation) {
        if (!playing_ || generation != play_generation_ || paused() || !render_) return;
        const auto ok = detail::guarded_call(server_->log, connection_id_, "render", subject(),
                                             [&] { return static_cast<bool>(render_(*this)); });
        if (ok && *ok) return;
        if (ok)
            server_->log.log(log_level::warning, connection_id_, "render", error::handler_failed,
                             "render handler of {} returned false", subject());
        if (auto fail = fail_) fail();  // a copy: failing stops the media, which clears fail_
    }

    // Play stops: the frame thread (if any) ends, the subscription goes, queued frames go.
    void stop_media() {
        if (!playing_) return;
        playing_ = false;
        server_->playing_streams.fetch_sub(1, std::memory_order_relaxed);
        if (producer_) producer_->stop();
        if (source_ && sub_) source_->unsubscribe(sub_.get());
        producer_.reset();
        own_.reset();
        source_ = nullptr;
        playing_broadcast_.reset();
        sub_.reset();
        join_.clear();
        fail_ = nullptr;
    }

    // ---- publishing, on the connection's thread -------------------------------------------------

    // A publish: the handler decides (none: refused); accepted, the stream feeds its target.
    // `evict` ends this publisher from any thread, should another take the target over.
    bool begin_publish(protocol::publish_request& request, const connect_command& connect, std::function<void()> evict) {
        if (!publish_) {
            request.refusal = "NetStream.Publish.Denied";
            request.description = "This server takes no published streams.";
            return false;
        }
        const std::string_view full = request.stream_name;
        const auto mark = full.find('?');
        publish_event ev{true, full.substr(0, mark), mark == std::string_view::npos ? std::string_view{} : full.substr(mark + 1),
                         request.type, connect, publish_refusal::bad_name, {}};
        publish_target_.reset();
        const auto ok = detail::guarded_call(server_->log, connection_id_, "publish", subject(),
                                             [&] { return static_cast<bool>(publish_(*this, ev)); });
        if (!ok || !*ok) {
            static constexpr const char* codes[] = {"NetStream.Publish.BadName", "NetStream.Publish.Denied", "NetStream.Publish.Rejected"};
            request.refusal = codes[static_cast<int>(ev.refusal)];
            request.description = std::move(ev.description);
            publish_target_.reset();
            return false;
        }
        name_ = std::string(ev.stream_name);
        publishing_ = true;
        server_->publishing_streams.fetch_add(1, std::memory_order_relaxed);
        if (publish_target_) claim_ = publish_target_->claim_publisher(std::move(evict));
        return true;
    }

    // One message of the publish: the media handler, then the broadcast.
    void published(protocol::media_in& m) {
        if (!publishing_) return;
        ++messages_published_;
        if (media_) {
            const media_event ev{m.type, m.timestamp.value(), m.payload};
            detail::guarded_call(server_->log, connection_id_, "media", subject(), [&] {
                media_(*this, ev);
                return true;
            });
        }
        if (publish_target_ && !detail::push_media(publish_target_->source(), m, claim_))
            ++messages_dropped_;  // another publisher took the broadcast over
    }

    // The publish ends: the handler hears of it, the broadcast's players too.
    void end_publish(const connect_command& connect) {
        if (!publishing_) return;
        publishing_ = false;
        server_->publishing_streams.fetch_sub(1, std::memory_order_relaxed);
        if (publish_target_) publish_target_->release_publisher(claim_);
        publish_target_.reset();
        if (!publish_) return;
        publish_event ev{false, name_, {}, {}, connect, publish_refusal::bad_name, {}};
        detail::guarded_call(server_->log, connection_id_, "publish", subject(), [&] { return static_cast<bool>(publish_(*this, ev)); });
    }

    // Pause stops frames (and an own source's handlers); resume asks for a key frame.
    void set_paused(bool pause) {
        paused_.store(pause, std::memory_order_relaxed);
        if (sub_) sub_->paused.store(pause, std::memory_order_relaxed);
        if (pause || !source_) return;
        source_->request_key_frame();
    }

    // Whether the stream's producer failed (its frames ended).
    bool media_failed() const noexcept { return sub_ && sub_->failed.load(std::memory_order_relaxed); }

    /**
     * Hands the waiting frames to `send(const protocol::shared_frame&) -> bool` (false: dropped
     * for want of a key frame) when `may_go`; returns false when frames wait for the client.
     */
    template <class Send>
    bool collect(bool may_go, Send&& send) {
        if (!sub_) return true;
        if (paused()) {
            join_.clear();
            sub_->discard();
            return true;
        }
        if (!may_go) return sub_->queue.front() == nullptr && join_.empty() && !sub_->has_news.load(std::memory_order_acquire);
        for (const auto& f : join_) count(send(f));
        join_.clear();
        sub_->drain([&](const protocol::shared_frame& f) {
            if (f->is_media()) {
                count(send(f));
            } else {
                send(f);  // news of the publisher: not a frame
            }
        });
        return true;
    }

    void count(bool sent) noexcept {
        if (sent) {
            frames_sent_.fetch_add(1, std::memory_order_relaxed);
            server_->frames_sent.fetch_add(1, std::memory_order_relaxed);
        } else {
            frames_dropped_.fetch_add(1, std::memory_order_relaxed);
            server_->frames_dropped.fetch_add(1, std::memory_order_relaxed);
        }
    }

    class connection& connection_;
    const std::shared_ptr<detail::server_state> server_;
    const std::uint32_t id_;
    const std::uint64_t connection_id_;
    std::string name_;
    bool playing_ = false;
    std::atomic<bool> paused_{false};
    std::atomic<double> render_rate_;

    std::function<bool(stream&)> render_;
    std::function<bool(stream&, encoded_frame&, bool)> frame_;
    std::function<bool(stream&, play_event&)> play_;
    std::function<bool(stream&, const pause_event&)> pause_;
    std::function<bool(stream&, publish_event&)> publish_;
    std::function<void(stream&, const media_event&)> media_;
    std::unique_ptr<video_codec> codec_;
    std::shared_ptr<broadcast> broadcast_;

    mutable std::mutex properties_mutex_;
    std::map<std::string, std::string, std::less<>> properties_;

    std::atomic<std::uint64_t> frames_sent_{0};
    std::atomic<std::uint64_t> frames_dropped_{0};

    // While playing.
    std::uint64_t play_generation_ = 0;
    std::unique_ptr<driver::frame_source> own_;  // the stream's own frames
    std::unique_ptr<driver::producer> producer_;  // and the thread that makes them
    driver::frame_source* source_ = nullptr;     // own_, or the broadcast's
    std::shared_ptr<broadcast> playing_broadcast_;  // the broadcast this play subscribed to
    std::shared_ptr<driver::subscriber> sub_;
    std::vector<protocol::shared_frame> join_;   // the cached group, for a joining player
    std::function<void()> fail_;

    // While publishing.
    bool publishing_ = false;
    std::shared_ptr<broadcast> publish_target_;
    std::uint64_t claim_ = 0;
    std::uint64_t messages_published_ = 0;
    std::uint64_t messages_dropped_ = 0;
};

RTMPX_NAMESPACE_END
