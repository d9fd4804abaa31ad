// SPDX-License-Identifier: MIT
// publisher and puller: a broadcast pushed to another server, or another server's stream pulled into one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <fmt/format.h>

#include <rtmpx/broadcast.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/client_link.hpp>
#include <rtmpx/driver/frame_source.hpp>
#include <rtmpx/driver/session.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/protocol/stream_client.hpp>
#include <rtmpx/protocol/url.hpp>

RTMPX_NAMESPACE_BEGIN

/// What a publisher or puller is doing.
using remote_state = driver::link_state;

/// A change of a publisher's or puller's state, as its state handler hears it.
struct remote_event {
    remote_state state = remote_state::connecting;
    std::error_code error;                ///< retrying, failed: why the last connection ended
    std::string refusal;                  ///< the server's status code and description, when it refused
    std::chrono::milliseconds retry_in{0};  ///< retrying: the wait before the next attempt
    std::uint64_t reconnects = 0;         ///< connections made after the first
};

/// Figures of a publisher or puller. Thread: any.
struct remote_statistics {
    remote_state state = remote_state::connecting;
    std::uint64_t bytes_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t frames_sent = 0;     ///< publisher: frames written to the server; puller: messages received
    std::uint64_t frames_dropped = 0;  ///< publisher: frames the server was too slow for (to the next key frame)
    std::uint64_t reconnects = 0;
    std::chrono::microseconds round_trip{0};  ///< from the last answered ping
};

/// How an rtmps:// publisher or puller checks the server (with <rtmpx/tls.hpp> in the program).
struct remote_tls_options {
    /// PEM file of the roots to trust instead of the system's (empty: the system's trust store).
    std::string ca_file;
    /// Takes any certificate, for any name: for tests against a self-signed server only.
    bool insecure_skip_verification = false;
};

/// How a publisher or puller connects, comes back, and queues.
struct remote_options {
    remote_tls_options tls;                    ///< rtmps://: the roots to trust, and whether to check
    driver::link_options link;                 ///< connect timeout, backoff bounds, failures before giving up, I/O
    protocol::stream_client_options stream;    ///< chunk size, start and media timeouts, pings
    std::size_t queue_frames = 64;             ///< publisher: frames queued for a slow server before drops
    std::chrono::milliseconds stop_timeout{3000};  ///< how long `stop` waits for the polite end
};

/**
 * `void (remote_event const&)`: told each change of state (connecting, publishing or playing,
 * retrying in N ms, failed: why, stopped). Thread: the publisher's or puller's own thread.
 */
template <class F>
concept remote_state_handler = std::invocable<F&, const remote_event&>;

namespace detail {

class remote_base;
struct tls_remote;  // <rtmpx/tls.hpp>

// Makes the link of an rtmps:// remote: set by <rtmpx/tls.hpp> (a program without it has no TLS).
using tls_link_maker = std::shared_ptr<driver::link_control> (*)(remote_base&, std::uint64_t seed, std::error_code& ec);
inline tls_link_maker& tls_links() noexcept {
    static tls_link_maker maker = nullptr;
    return maker;
}

// What a publisher or puller shares with the logic of its current connection.
struct remote_shared {
    std::atomic<remote_state> state{remote_state::connecting};
    std::atomic<bool> ended{false};  // stopped or failed: the link's loop is over
    std::atomic<std::uint64_t> bytes_out{0}, bytes_in{0}, frames_sent{0}, frames_dropped{0}, reconnects{0};
    std::atomic<std::int64_t> round_trip_us{0};
    std::atomic<std::uint64_t> claim{0};  // a puller's claim on its broadcast
    // Links by generation: a reconnect request makes a newer link; it takes the stream over
    // (`active`) at its first key frame (pull) or its publish start (push), and the older ones
    // leave. `newest` is the latest made.
    std::atomic<std::uint64_t> active{1}, newest{1};
    // The timeline across connections (the link's thread only).
    std::optional<std::uint32_t> last_timestamp;
    std::chrono::steady_clock::time_point last_end{};

    void report(remote_event e) {
        state.store(e.state, std::memory_order_relaxed);
        e.reconnects = reconnects.load(std::memory_order_relaxed);
        std::function<void(const remote_event&)> handler;
        {
            std::lock_guard lock(mutex);
            handler = on_state;
        }
        try {  // what the state handler throws stays with it
            if (handler) handler(e);
        } catch (...) {
        }
        if (e.state == remote_state::stopped || e.state == remote_state::failed) ended.store(true);
    }

    void set_handler(std::function<void(const remote_event&)> h) {
        std::lock_guard lock(mutex);
        on_state = std::move(h);
    }

    // What makes a newer link on a server's reconnect request (to the tcUrl, or "": the same).
    void set_reconnect(std::function<void(const std::string&)> f) {
        std::lock_guard lock(mutex);
        reconnect = std::move(f);
    }
    void request_reconnect(const std::string& tc_url) {
        std::function<void(const std::string&)> f;
        {
            std::lock_guard lock(mutex);
            f = reconnect;
        }
        if (f) f(tc_url);
    }

    // A publisher's subscription, ended from the thread that stops it (see `remote_base::stop`).
    void set_detach(std::function<void()> f) {
        std::lock_guard lock(mutex);
        detach = std::move(f);
    }
    void detach_now() {
        std::function<void()> f;
        {
            std::lock_guard lock(mutex);
            f = std::move(detach);
            detach = nullptr;
        }
        if (f) f();
    }

private:
    std::mutex mutex;
    std::function<void(const remote_event&)> on_state;
    std::function<void()> detach;
    std::function<void(const std::string&)> reconnect;
};

// One connection of a publisher (push) or a puller (pull): a protocol::stream_client and the
// broadcast it sends from or feeds.
class remote_logic {
public:
    remote_logic(protocol::stream_client_mode mode, std::shared_ptr<broadcast> local, const protocol::rtmp_url& url,
                 const remote_options& options, std::shared_ptr<remote_shared> shared, std::uint64_t generation, std::uint64_t seed)
        : mode_(mode),
          local_(std::move(local)),
          options_(options),
          shared_(std::move(shared)),
          generation_(generation),
          client_(*this, url, mode, options.stream, std::chrono::steady_clock::now(), seed) {}

    ~remote_logic() { unsubscribe(); }

    // ---- driver::session_logic -----------------------------------------------------------------

    void attach(driver::session_port port) { port_ = std::move(port); }
    std::size_t put(std::span<const std::byte> in, protocol::time_point now) {
        const std::size_t used = client_.put(in, now);
        shared_->bytes_in.store(client_.bytes_in(), std::memory_order_relaxed);
        return used;
    }
    void on_time(protocol::time_point now) {
        client_.on_time(now);
        shared_->round_trip_us.store(client_.round_trip().count(), std::memory_order_relaxed);
    }
    std::optional<protocol::time_point> next_deadline() const { return client_.next_deadline(); }
    protocol::output_queue& output() noexcept { return client_.output(); }
    bool closing() const noexcept { return client_.closing(); }
    bool flush_on_close() const noexcept { return client_.flush_on_close(); }
    void close(std::error_code reason, bool flush) { client_.close(reason, flush); }
    void wrote(std::size_t n) { shared_->bytes_out.fetch_add(n, std::memory_order_relaxed); }

    // Frames for the server, when they may go; false while they wait for it.
    bool collect(bool may_go) {
        if (superseded()) return true;
        if (!sub_) return true;
        if (!may_go) return sub_->queue.front() == nullptr && join_.empty() && !sub_->has_news.load(std::memory_order_acquire);
        for (const auto& f : join_) count(client_.send_frame(f));
        join_.clear();
        sub_->drain([&](const protocol::shared_frame& f) { count(client_.send_frame(f)); });
        return true;
    }

    void finish(std::error_code ec) {
        unsubscribe();
        error_ = client_.reason() ? client_.reason() : ec;
        if (client_.started() && mode_ == protocol::stream_client_mode::publish) {
            shared_->last_timestamp = client_.timestamp();
            shared_->last_end = std::chrono::steady_clock::now();
        }
    }

    // ---- driver::client_link -------------------------------------------------------------------

    driver::link_outcome outcome() const {
        const auto& refusal = client_.refusal();
        driver::link_outcome out{client_.started(), refusal && refusal->permanent, error_, {}};
        out.handed_over = generation_ < shared_->newest.load();  // a newer link has the stream
        if (refusal) out.refusal = refusal->description.empty() ? refusal->code : refusal->code + ": " + refusal->description;
        return out;
    }

    void end_gracefully() {
        client_.finish_publish();
        if (port_.poke) port_.poke();
    }

    // ---- protocol::stream_client ---------------------------------------------------------------

    void on_started() {
        remote_event e;
        e.state = remote_state::started;
        shared_->report(std::move(e));
        if (mode_ == protocol::stream_client_mode::play) return;  // the broadcast is claimed when media comes
        if (generation_ > shared_->active.load()) shared_->active.store(generation_);  // pushing here now
        // The timeline goes on where the last connection left it, plus the time in between.
        std::uint32_t first = 0;
        if (shared_->last_timestamp) {
            const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - shared_->last_end);
            first = *shared_->last_timestamp + static_cast<std::uint32_t>(std::max<std::int64_t>(gap.count(), 1));
        }
        client_.start_timeline(first);
        sub_ = std::make_shared<driver::subscriber>(options_.queue_frames);
        sub_->wake = port_.frames_waiting;
        sub_->wake_writes = port_.writes_directly;
        sub_->congested = [gate = port_.gate] { return gate->congested(); };
        sub_->dropped = &shared_->frames_dropped;
        join_ = local_->source().subscribe(sub_);  // from the last key frame (or the next one)
        shared_->set_detach([local = local_, sub = sub_] { local->source().unsubscribe(sub.get()); });
    }

    void on_media(protocol::media_in& m) {
        shared_->frames_sent.fetch_add(1, std::memory_order_relaxed);
        if (superseded()) return;
        if (generation_ > shared_->active.load() && !take_over(m)) return;
        claim();
        detail::push_media(local_->source(), m, claim_);  // false: a local publisher took the broadcast over
    }

    // The server asks for a reconnect (Enhanced RTMP): a newer link connects to `tc_url` (or the
    // same server) and takes over; this one goes on until then.
    void on_reconnect_request(const std::string& tc_url) { shared_->request_reconnect(tc_url); }

    void on_news(bool published) {
        restarted_ = true;
        if (published) return claim();
        if (claim_ != 0) local_->source().notify(protocol::media_kind::unpublished, claim_);
    }

private:
    // Playing: the broadcast is this puller's once the remote stream has media (or its publisher
    // is announced), and stays so across reconnects; its players hear of a publisher each time
    // the remote stream starts again. A local publisher that took the broadcast over keeps it:
    // the puller yields (its media goes nowhere) until that one leaves.
    void claim() {
        if (claim_ != 0 && !restarted_) return;
        restarted_ = false;
        const auto previous = shared_->claim.load(std::memory_order_relaxed);
        if (previous != 0 && local_->holds(previous)) {
            claim_ = previous;
            local_->source().notify(protocol::media_kind::published, claim_);
            return;
        }
        if (local_->has_publisher()) {
            claim_ = 0;
            restarted_ = true;  // ask again at the next message
            return;
        }
        claim_ = local_->claim_publisher(nullptr);
        shared_->claim.store(claim_, std::memory_order_relaxed);
    }

    void count(bool sent) {
        if (sent) shared_->frames_sent.fetch_add(1, std::memory_order_relaxed);
    }

    // Whether a newer link has taken the stream over: this connection then ends, politely.
    bool superseded() {
        if (generation_ >= shared_->active.load()) return false;
        if (!left_) {
            left_ = true;
            unsubscribe();
            end_gracefully();
        }
        return true;
    }

    // A newer link playing takes over at its first video key frame: what comes before it (the
    // metadata and sequence headers, some audio) is held until then, up to `held_limit`
    // messages (a stream without video takes over there).
    bool take_over(protocol::media_in& m) {
        static constexpr std::size_t held_limit = 64;
        const bool key = m.type == protocol::media_type::video && protocol::flv::is_key_frame(m.payload) &&
                         !protocol::flv::is_sequence_header(m.payload);
        if (!key && held_.size() < held_limit) {
            held_.push_back(std::move(m));
            return false;
        }
        shared_->active.store(generation_);
        claim();
        for (auto& h : held_) detail::push_media(local_->source(), h, claim_);
        held_.clear();
        return true;
    }

    void unsubscribe() {
        if (!sub_) return;
        shared_->set_detach(nullptr);
        local_->source().unsubscribe(sub_.get());
        sub_.reset();
        join_.clear();
    }

    protocol::stream_client_mode mode_;
    std::shared_ptr<broadcast> local_;
    const remote_options& options_;
    std::shared_ptr<remote_shared> shared_;
    const std::uint64_t generation_;  // this link's (see remote_shared::active)
    bool left_ = false;               // superseded: ending
    std::vector<protocol::media_in> held_;  // a newer link's messages before its first key frame
    protocol::stream_client<remote_logic> client_;
    driver::session_port port_;
    std::shared_ptr<driver::subscriber> sub_;
    std::vector<protocol::shared_frame> join_;
    std::uint64_t claim_ = 0;
    bool restarted_ = true;  // playing: the next media starts the remote stream (again)
    std::error_code error_;
};

// The thread, the link and the state of a publisher or a puller.
class remote_base {
public:
    remote_base(protocol::stream_client_mode mode, std::shared_ptr<broadcast> local, std::string url, remote_options options)
        : mode_(mode), local_(std::move(local)), url_text_(std::move(url)), options_(std::move(options)) {}
    remote_base(const remote_base&) = delete;
    remote_base& operator=(const remote_base&) = delete;
    ~remote_base() { stop(); }

    template <class F>
    void on_state(F handler) {
        static_assert(remote_state_handler<F>, "on_state: expected void (remote_event const&)");
        handler_ = [h = std::make_shared<F>(std::move(handler))](const remote_event& e) { (*h)(e); };
        shared_->set_handler(handler_);
    }

    /// Parses the URL, makes the link and starts its thread; a running one is stopped first.
    RTMPX_DECL void start(std::error_code& ec);

protected:
    friend struct tls_remote;

    /// The link over `Stream`, which `wrap` makes of a connected TCP socket (TLS: <rtmpx/tls.hpp>).
    template <class Stream, class Wrap>
    std::shared_ptr<driver::link_control> make_link(Wrap wrap, std::uint64_t seed) {
        using link_type = driver::client_link<remote_logic, Stream>;
        auto shared = shared_;
        auto make = [this, shared, wrap = std::move(wrap), next = seed, generation = generation_,
                     url = url_](asio::ip::tcp::socket socket) mutable {
            return std::make_shared<typename link_type::session_type>(wrap(std::move(socket)), options_.link.io, mode_, local_, url,
                                                                      options_, shared, generation, ++next);
        };
        auto report = [shared, this](remote_state state, const driver::link_outcome& outcome, std::chrono::milliseconds retry_in) {
            remote_event e;
            e.state = state;
            e.error = outcome.error;
            e.refusal = outcome.refusal;
            e.retry_in = retry_in;
            if (link_) shared->reconnects.store(link_->reconnects(), std::memory_order_relaxed);
            shared->report(std::move(e));
        };
        return std::make_shared<link_type>(context_->get_executor(), url_.host, url_.port, options_.link, std::move(make),
                                           std::move(report), seed);
    }

    /// On the link's thread, at a server's reconnect request: a newer link to `tc_url` (an
    /// absolute rtmp:// or rtmps:// tcUrl; else the same server) with the same stream name.
    RTMPX_DECL void reconnect(const std::string& tc_url);

    const protocol::rtmp_url& parsed_url() const noexcept { return url_; }
    const remote_options& options() const noexcept { return options_; }

public:

    /// Stops the link and joins the thread, within `remote_options::stop_timeout`.
    RTMPX_DECL void stop();

    remote_statistics statistics() const {
        remote_statistics s;
        s.state = shared_->state.load(std::memory_order_relaxed);
        s.bytes_out = shared_->bytes_out.load(std::memory_order_relaxed);
        s.bytes_in = shared_->bytes_in.load(std::memory_order_relaxed);
        s.frames_sent = shared_->frames_sent.load(std::memory_order_relaxed);
        s.frames_dropped = shared_->frames_dropped.load(std::memory_order_relaxed);
        s.reconnects = shared_->reconnects.load(std::memory_order_relaxed);
        s.round_trip = std::chrono::microseconds(shared_->round_trip_us.load(std::memory_order_relaxed));
        return s;
    }

    remote_state state() const noexcept { return shared_->state.load(std::memory_order_relaxed); }
    const std::string& url() const noexcept { return url_text_; }

protected:
    const std::shared_ptr<broadcast>& local() const noexcept { return local_; }
    std::uint64_t claim() const noexcept { return shared_->claim.load(std::memory_order_relaxed); }
    void clear_claim() noexcept { shared_->claim.store(0, std::memory_order_relaxed); }

private:
    protocol::stream_client_mode mode_;
    std::shared_ptr<broadcast> local_;
    std::string url_text_;
    protocol::rtmp_url url_;
    remote_options options_;
    std::shared_ptr<remote_shared> shared_ = std::make_shared<remote_shared>();
    std::unique_ptr<asio::io_context> context_;
    std::mutex links_mutex_;                   // link_ and old_links_, changed by `reconnect` on the thread
    std::shared_ptr<driver::link_control> link_;
    std::vector<std::shared_ptr<driver::link_control>> old_links_;  // superseded, ending by themselves
    std::uint64_t generation_ = 1;             // the next link's
    bool stopping_ = false;                    // (links_mutex_) no newer link now
    std::thread thread_;
    std::function<void(const remote_event&)> handler_;
};

} // namespace detail

/**
 * Publishes a broadcast (rendered, or relayed from a publisher) to another server, the way OBS
 * and ffmpeg do: `connect`, `releaseStream`, `FCPublish`, `createStream`, `publish`,
 * `@setDataFrame onMetaData`, the sequence headers, then audio and video from a key frame;
 * `FCUnpublish` and `deleteStream` at `stop`. The URL is `rtmp://host[:port]/app[/...]/key`; a
 * query string (`?token=...`) stays on the key and goes into the tcUrl too.
 *
 * It never gives up quietly: when the server goes away, stalls or refuses, it connects again
 * after a jittered exponential wait (`remote_options::link.backoff`), resends the metadata and
 * sequence headers, starts on a key frame and continues the timeline where it stopped. A
 * refusal that will not change (NetConnection.Connect.Rejected or InvalidApp, NetStream.Publish
 * BadName, Denied or Rejected) is reported and not retried. Each change of state goes to the
 * state handler; `statistics()` has the figures. A slow server costs its own queue only: frames
 * drop to the next key frame, the broadcast and its players go on.
 *
 * Several publishers may push one broadcast to several servers; each has its own connection,
 * queue, thread and state.
 *
 * Thread: any, but `start` and `stop` not while another call runs. The state handler runs on
 * the publisher's own thread; what it throws is dropped; a `stop` it calls returns at once.
 */
class publisher : public detail::remote_base {
public:
    publisher(std::shared_ptr<broadcast> source, std::string url, remote_options options = {})
        : remote_base(protocol::stream_client_mode::publish, std::move(source), std::move(url), std::move(options)) {}

    /// Starts publishing (on a thread of its own). Errors: a malformed URL
    /// (`std::errc::invalid_argument`); an rtmps:// URL in a program without <rtmpx/tls.hpp>
    /// (`error::tls_unavailable`), or with a CA file that does not load.
    using remote_base::start;
    /// Throwing form of `start`. @throws std::system_error
    void start() {
        std::error_code ec;
        start(ec);
        if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot publish to {}", url())));
    }
    /// Ends the publish politely (FCUnpublish, deleteStream) and the thread, within
    /// `remote_options::stop_timeout`.
    using remote_base::stop;
};

/**
 * Plays another server's stream into a local broadcast, so that rtmpx serves it as an edge (or
 * takes a camera's RTMP output): the broadcast's players get its audio, video and metadata, with
 * its sequence headers, from its key frames. Reconnects like a `publisher`; while it is away the
 * players wait, and when it comes back they get NetStream.Play.PublishNotify and the stream
 * again. The remote publisher's own leaving and coming back reach them the same way. At `stop`
 * the players get NetStream.Play.UnpublishNotify.
 *
 * Thread: as `publisher`.
 */
class puller : public detail::remote_base {
public:
    puller(std::string url, std::shared_ptr<broadcast> target, remote_options options = {})
        : remote_base(protocol::stream_client_mode::play, std::move(target), std::move(url), std::move(options)) {}
    ~puller() { stop(); }

    /// Starts pulling (on a thread of its own); a running puller is stopped first. Errors as
    /// `publisher::start`.
    void start(std::error_code& ec) {
        stop();
        remote_base::start(ec);
    }
    /// Throwing form of `start`. @throws std::system_error
    void start() {
        std::error_code ec;
        start(ec);
        if (ec) RTMPX_THROW(std::system_error(ec, fmt::format("rtmpx: cannot play {}", url())));
    }
    /// Stops pulling; the broadcast's players hear that the stream ended.
    void stop() {
        remote_base::stop();
        if (const auto c = claim()) local()->release_publisher(c);
        clear_claim();
    }
};

RTMPX_NAMESPACE_END

#if RTMPX_COMPILES_DEFINITIONS
#include <rtmpx/impl/remote.ipp>
#endif
