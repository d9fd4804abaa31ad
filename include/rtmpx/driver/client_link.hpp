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
};

/// How a client link connects and comes back.
struct link_options {
    session_io_options io;
    std::chrono::milliseconds connect_timeout{10'000};  ///< name lookup and TCP connect
    protocol::backoff_policy backoff;
    unsigned max_failures = 0;  ///< failures in a row before giving up (0: never give up)
};

/**
 * Connects to `host:port` and runs a `basic_session` with a fresh `Logic` each time (`make`
 * builds it on a connected socket); when it ends, waits as the backoff says (reset by a
 * connection whose stream started) and connects again, until a permanent refusal, too many
 * failures in a row, or `stop`. Each change of state goes to `report` on the link's executor.
 *
 * `Logic` satisfies `session_logic`, and has `link_outcome outcome() const` and
 * `void end_gracefully()` (ends the stream the polite way, then the connection).
 *
 * Thread: `start` and `stop` from any thread; everything else on the executor.
 * Lifetime: owned by a `std::shared_ptr`; the running loop keeps it alive.
 */
template <class Logic>
class client_link : public std::enable_shared_from_this<client_link<Logic>> {
public:
    using session_type = basic_session<asio::ip::tcp::socket, Logic>;
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
          wait_(executor_) {}

    /// Starts the loop. Thread: any.
    void start() {
        auto self = this->shared_from_this();
        asio::co_spawn(executor_, run(), [self](std::exception_ptr) {});
    }

    /// Ends the stream politely if one goes, and the loop. Thread: any.
    void stop() {
        asio::post(executor_, [self = this->shared_from_this()] {
            self->stopping_ = true;
            self->wait_.cancel();
            if (self->socket_) {
                std::error_code ignored;
                self->socket_->cancel(ignored);
            }
            if (auto s = self->session_.lock()) s->logic().end_gracefully();
        });
    }

    /// Connections made so far, after the first (reconnects). Thread: the executor's.
    std::uint64_t reconnects() const noexcept { return reconnects_; }

private:
    asio::awaitable<void> run() {
        auto self = this->shared_from_this();
        for (std::uint64_t attempt = 0; !stopping_; ++attempt) {
            if (attempt > 0) ++reconnects_;
            report_(link_state::connecting, {}, {});
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
            if (outcome.started) backoff_.reset();
            const bool exhausted = options_.max_failures > 0 && !outcome.started && backoff_.failures() + 1 >= options_.max_failures;
            if (outcome.permanent || exhausted) {
                report_(link_state::failed, outcome, {});
                co_return;
            }
            const auto delay = backoff_.next();
            report_(link_state::retrying, outcome, delay);
            wait_.expires_after(delay);
            co_await wait_.async_wait(detail::use_tuple);
        }
        report_(link_state::stopped, {}, {});
    }

    // Resolves and connects within the connect timeout; the socket, or nothing and `ec`.
    asio::awaitable<std::optional<asio::ip::tcp::socket>> connect(std::error_code& ec) {
        asio::ip::tcp::resolver resolver(executor_);
        asio::steady_timer timeout(executor_, options_.connect_timeout);
        bool timed_out = false;
        timeout.async_wait([&](std::error_code e) {
            if (e) return;
            timed_out = true;
            resolver.cancel();
            if (socket_) {
                std::error_code ignored;
                socket_->cancel(ignored);
            }
        });
        auto [rec, endpoints] = co_await resolver.async_resolve(host_, std::to_string(port_), detail::use_tuple);
        std::optional<asio::ip::tcp::socket> out;
        if (!rec && !stopping_) {
            socket_.emplace(executor_);
            auto [cec, endpoint] = co_await asio::async_connect(*socket_, endpoints, detail::use_tuple);
            (void)endpoint;
            if (!cec && !stopping_) {
                std::error_code ignored;
                socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
                out.emplace(std::move(*socket_));
            }
            rec = cec;
            socket_.reset();
        }
        timeout.cancel();
        ec = timed_out ? make_error_code(error::connect_timeout) : rec;
        co_return out;
    }

    asio::any_io_executor executor_;
    const std::string host_;
    const std::uint16_t port_;
    const link_options options_;
    factory make_;
    reporter report_;
    protocol::backoff backoff_;
    asio::steady_timer wait_;
    std::optional<asio::ip::tcp::socket> socket_;  // while connecting
    std::weak_ptr<session_type> session_;          // while connected
    bool stopping_ = false;
    std::uint64_t reconnects_ = 0;
};

} // namespace driver
RTMPX_NAMESPACE_END
