// SPDX-License-Identifier: MIT
// A client connection that comes back: connect, run a session, wait as the backoff says, again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/asio_compat.hpp>
#include <rtmpx/driver/session.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/protocol/backoff.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/// What a reconnecting client is doing.
enum class link_state {
    connecting,  ///< resolving, connecting, handshaking, asking to publish or play
    started,     ///< the stream goes (NetStream.Publish.Start or Play.Start came)
    retrying,    ///< the connection ended or failed; the next attempt comes after a wait
    failed,      ///< given up: a refusal that will not change, or too many failures in a row
    stopped,     ///< `stop` was called
};

/// How one connection ended, as its logic tells it.
struct link_outcome {
    bool started = false;    ///< the stream started on this connection
    bool permanent = false;  ///< a refusal that will not change: no more attempts
    std::error_code error;   ///< why it ended (empty: the server ended it)
    std::string refusal;     ///< the server's refusal, "code: description" (empty: none)
    /// A newer link took the stream over (the server asked for a reconnect): this one ends
    /// quietly, with no report and no more attempts.
    bool handed_over = false;
};

/// How a client link connects and comes back.
struct link_options {
    session_io_options io;
    std::chrono::milliseconds connect_timeout{10'000};  ///< name lookup and TCP connect
    protocol::backoff_policy backoff;
    unsigned max_failures = 0;  ///< failures in a row before giving up (0: never give up)
    /// Refusals that will not change (BadName, Denied, ...) believed at once on a first
    /// connection; after a reconnect, this many are retried first (the server may still hold
    /// the previous connection's publish).
    unsigned refusals_after_start = 4;
};

/// A running client link, whatever its transport. Thread: any.
class link_control {
public:
    virtual ~link_control() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual std::uint64_t reconnects() const noexcept = 0;
};

/// Refusals that will not change by trying again: a certificate the client does not accept.
inline bool refused_for_good(std::error_code ec) noexcept {
    return ec == error::certificate_untrusted || ec == error::certificate_expired || ec == error::certificate_name_mismatch;
}

/**
 * Connects to `host:port` and runs a `basic_session<Stream, Logic>` with a fresh `Logic` each
 * time (`make` builds it on a connected TCP socket, wrapping it into `Stream`: TLS for rtmps); when it ends, waits as the backoff says (reset by a
 * connection whose stream started) and connects again, until a permanent refusal (or a
 * certificate the client does not accept), too many failures in a row, or `stop`. Each change of state goes to `report` on the link's executor
 * (what `report` throws is dropped). A connect timeout or `stop` ends a name lookup or a
 * connection attempt at once (but a lookup inside the system resolver may finish first).
 *
 * `Logic` satisfies `session_logic`, and has `link_outcome outcome() const` and
 * `void end_gracefully()` (ends the stream the polite way, then the connection).
 *
 * Thread: `start` and `stop` from any thread; everything else on the executor.
 * Lifetime: owned by a `std::shared_ptr`; the running loop keeps it alive.
 */
template <class Logic, class Stream = asio::ip::tcp::socket>
class client_link : public link_control, public std::enable_shared_from_this<client_link<Logic, Stream>> {
public:
    using session_type = basic_session<Stream, Logic>;
    using factory = std::function<std::shared_ptr<session_type>(asio::ip::tcp::socket)>;
    using reporter = std::function<void(link_state, const link_outcome&, std::chrono::milliseconds retry_in)>;

    client_link(asio::any_io_executor executor, std::string host, std::uint16_t port, link_options options, factory make,
                reporter report, std::uint64_t seed)
        : executor_(std::move(executor)),
          host_(std::move(host)),
          port_(port),
          options_(options),
          make_(std::move(make)),
          report_(std::move(report)),
          backoff_(options.backoff, seed),
          wait_(executor_),
          resolver_(executor_) {}

    /// Starts the loop. Thread: any.
    void start() override {
        auto self = this->shared_from_this();
        asio::co_spawn(executor_, run(), [self](std::exception_ptr) {});
    }

    /// Ends the stream politely if one goes, and the loop. Thread: any.
    void stop() override {
        asio::post(executor_, [self = this->shared_from_this()] {
            self->stopping_ = true;
            self->wait_.cancel();
            self->abort_connect();
            if (auto s = self->session_.lock()) s->logic().end_gracefully();
        });
    }

    /// Attempts so far after the first one (reconnects). Thread: the executor's.
    std::uint64_t reconnects() const noexcept override { return reconnects_; }

private:
    asio::awaitable<void> run() {
        auto self = this->shared_from_this();
        bool ever_started = false;
        unsigned refusals_after_start = 0;
        for (std::uint64_t attempt = 0; !stopping_; ++attempt) {
            if (attempt > 0) ++reconnects_;
            report(link_state::connecting, {}, {});
            link_outcome outcome;
            auto socket = co_await connect(outcome.error);
            if (socket && !stopping_) {
                auto session = make_(std::move(*socket));
                session_ = session;
                co_await session->run();
                outcome = session->logic().outcome();
                session_.reset();
            }
            if (stopping_) break;
            if (outcome.handed_over) co_return;
            if (outcome.started) {
                backoff_.reset();
                ever_started = true;
                refusals_after_start = 0;
            }
            // A refusal right after a reconnect may be the server still holding the previous
            // connection's publish (BadName) for a while: a few tries before believing it.
            bool permanent = outcome.permanent || refused_for_good(outcome.error);
            if (permanent && ever_started && ++refusals_after_start <= options_.refusals_after_start) permanent = false;
            const bool exhausted = options_.max_failures > 0 && !outcome.started && backoff_.failures() + 1 >= options_.max_failures;
            if (permanent || exhausted) {
                report(link_state::failed, outcome, {});
                co_return;
            }
            const auto delay = backoff_.next();
            report(link_state::retrying, outcome, delay);
            wait_.expires_after(delay);
            co_await wait_.async_wait(detail::use_tuple);
        }
        report(link_state::stopped, {}, {});
    }

    // Tells the owner; what it throws stays with it.
    void report(link_state state, const link_outcome& outcome, std::chrono::milliseconds retry_in) noexcept {
        try {
            report_(state, outcome, retry_in);
        } catch (...) {
        }
    }

    // Resolves and connects within the connect timeout; the socket, or nothing and `ec`.
    asio::awaitable<std::optional<asio::ip::tcp::socket>> connect(std::error_code& ec) {
        // The timer's handler may run after this frame is gone: what it touches it owns.
        auto timed_out = std::make_shared<bool>(false);
        asio::steady_timer timeout(executor_, options_.connect_timeout);
        timeout.async_wait([timed_out, weak = this->weak_from_this()](std::error_code e) {
            auto self = weak.lock();
            if (e || !self) return;
            *timed_out = true;
            self->abort_connect();
        });
        auto [rec, endpoints] = co_await resolver_.async_resolve(host_, std::to_string(port_), detail::use_tuple);
        std::optional<asio::ip::tcp::socket> out;
        if (!rec && !stopping_ && !*timed_out) {
            socket_.emplace(executor_);
            auto [cec, endpoint] = co_await asio::async_connect(*socket_, endpoints, detail::use_tuple);
            (void)endpoint;
            if (!cec && !stopping_ && !*timed_out) {
                std::error_code ignored;
                socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
                out.emplace(std::move(*socket_));
            }
            rec = cec;
            socket_.reset();
        }
        timeout.cancel();
        ec = *timed_out ? make_error_code(error::connect_timeout) : stopping_ ? make_error_code(error::shutdown) : rec;
        co_return out;
    }

    // Ends a name lookup or a connection attempt in progress (every address it would try).
    void abort_connect() {
        resolver_.cancel();
        if (socket_) {
            std::error_code ignored;
            socket_->close(ignored);
        }
    }

    asio::any_io_executor executor_;
    const std::string host_;
    const std::uint16_t port_;
    const link_options options_;
    factory make_;
    reporter report_;
    protocol::backoff backoff_;
    asio::steady_timer wait_;
    asio::ip::tcp::resolver resolver_;
    std::optional<asio::ip::tcp::socket> socket_;  // while connecting
    std::weak_ptr<session_type> session_;          // while connected
    bool stopping_ = false;
    std::uint64_t reconnects_ = 0;
};

} // namespace driver
RTMPX_NAMESPACE_END
