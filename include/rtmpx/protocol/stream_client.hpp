// SPDX-License-Identifier: MIT
// One stream published to (or played from) another server, sans I/O: the commands, the frames, the end, and why.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/protocol/client_session.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/player.hpp>
#include <rtmpx/protocol/server_session_events.hpp>
#include <rtmpx/protocol/session_types.hpp>
#include <rtmpx/protocol/url.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Whether the client publishes its stream to the server or plays the server's.
enum class stream_client_mode { publish, play };

/// Settings of a stream client.
struct stream_client_options {
    client_options client = [] {
        client_options o;
        o.flash_ver = "FMLE/3.0 (compatible; rtmpx)";
        return o;
    }();
    std::chrono::milliseconds start_timeout{10'000};  ///< from the connect `_result` to Publish.Start / Play.Start
    std::chrono::milliseconds media_timeout{10'000};  ///< playing: no media for this long ends the connection
    std::chrono::milliseconds ping{5'000};            ///< round-trip measurement interval (0: none)
};

/// Why the server refused: its status code and text, and whether asking again could change it.
struct stream_client_refusal {
    std::string code;         ///< NetConnection.Connect.Rejected, NetStream.Publish.BadName, ...
    std::string description;
    bool permanent = false;   ///< a refusal that will not change (a bad app, name or key): do not retry
};

/**
 * What a stream client tells its owner (during `put` or `on_time`, on the owner's thread):
 * - `void on_started()`: NetStream.Publish.Start, or NetStream.Play.Start;
 * - `void on_media(media_in&)`: playing: each audio, video and data message (`onMetaData` as
 *   `media_type::metadata`, `@setDataFrame` removed), with the server's timestamps;
 * - `void on_news(bool published)`: playing: NetStream.Play.PublishNotify / UnpublishNotify.
 */
template <class H>
concept stream_client_handler = requires(H& h, media_in& m, bool b) {
    h.on_started();
    h.on_media(m);
    h.on_news(b);
};

/**
 * The client side of one stream on another server, the way OBS and ffmpeg do it. Publishing:
 * `connect` (type nonprivate, an FMLE flashVer), `releaseStream`, `FCPublish`, `createStream`,
 * `publish(name, "live")`, then frames (`send_frame`): `@setDataFrame onMetaData` and the
 * sequence headers before the first, a key frame first, the timeline going on from where
 * `start_timeline` says; `finish_publish` sends `FCUnpublish` and `deleteStream`. Playing:
 * `createStream`, `play(name)`, and the media to the owner.
 *
 * The client session underneath does the handshake, acknowledgements, Set Chunk Size and pings
 * of the server; this one measures the round-trip time with its own pings. A refusal by the
 * server (`refusal()`: a connect `_error`, an error-level onStatus) closes the session;
 * connect and publish refusals of the app, name or key (Rejected, InvalidApp, BadName, Denied)
 * are permanent: trying again will not help.
 */
template <class Handler>
class stream_client {
public:
    stream_client(Handler& handler, rtmp_url target, stream_client_mode mode, stream_client_options options, time_point now,
                  std::uint64_t random_seed)
        : handler_(handler),
          target_(std::move(target)),
          mode_(mode),
          options_(std::move(options)),
          session_(*this, options_.client, now, random_seed),
          out_(0) {
        static_assert(stream_client_handler<Handler>, "stream_client: Handler lacks on_started, on_media or on_news");
        amf0::properties extra;
        if (mode_ == stream_client_mode::publish) extra.emplace_back("type", amf0::value("nonprivate"));
        connect_txn_ = session_.connect(target_.app, target_.tc_url, now, std::move(extra));
        if (options_.ping.count() > 0) next_ping_ = now + options_.ping;
    }

    stream_client(const stream_client&) = delete;
    stream_client& operator=(const stream_client&) = delete;

    // ---- I/O -------------------------------------------------------------------------------------

    std::size_t put(std::span<const std::byte> in, time_point now) {
        now_ = now;
        return session_.put(in, now);
    }

    /// The time passed: the session's timeouts, the start and media timeouts, pings.
    void on_time(time_point now) {
        now_ = now;
        session_.on_time(now);
        if (session_.closing()) return;
        if (start_deadline_ && *start_deadline_ <= now) return session_.close(error::connect_timeout, false);
        if (started_ && mode_ == stream_client_mode::play && last_media_ + options_.media_timeout <= now)
            return session_.close(error::idle_timeout, false);
        if (next_ping_ && *next_ping_ <= now && session_.connected()) {
            ping_stamp_ = static_cast<std::uint32_t>(++pings_);
            ping_sent_ = now;
            session_.send(to_message(user_control::ping_request(ping_stamp_)));
            next_ping_ = now + options_.ping;
        } else if (next_ping_ && *next_ping_ <= now) {
            next_ping_ = now + options_.ping;
        }
    }

    std::optional<time_point> next_deadline() const {
        if (session_.closing()) return std::nullopt;
        std::optional<time_point> next = session_.next_deadline();
        auto consider = [&next](const std::optional<time_point>& t) {
            if (t && (!next || *t < *next)) next = t;
        };
        consider(start_deadline_);
        consider(next_ping_);
        if (started_ && mode_ == stream_client_mode::play) consider(last_media_ + options_.media_timeout);
        return next;
    }

    output_queue& output() noexcept { return session_.output(); }
    bool closing() const noexcept { return session_.closing(); }
    bool flush_on_close() const noexcept { return session_.flush_on_close(); }
    void close(std::error_code reason, bool flush) { session_.close(reason, flush); }
    std::error_code reason() const noexcept { return session_.reason(); }

    // ---- publishing ------------------------------------------------------------------------------

    /// The timestamp of the first frame sent (where the previous connection's timeline ended).
    void start_timeline(std::uint32_t first_timestamp) {
        first_timestamp_ = first_timestamp;
        out_.start(first_timestamp);
    }

    /**
     * Sends one frame (configuration first, video from a key frame). False when it was not
     * sent: not publishing yet, or waiting for a key frame.
     */
    bool send_frame(const shared_frame& f) {
        if (!started_ || mode_ != stream_client_mode::publish || session_.closing()) return false;
        if (!f->is_media()) return false;  // news of the local publisher is for players, not for a server
        return out_.write(f, [this, &f](const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
                   if (h.type == message_type::data_amf0 && f->config && payload == f->config->metadata) payload = set_data_frame(payload);
                   session_.send_shared(h, std::move(payload));
               }) == player::outcome::sent;
    }

    /// The timestamp of the last frame sent.
    std::uint32_t timestamp() const noexcept { return out_.timestamp(); }

    /// Ends the publish as publishers do (`FCUnpublish`, `deleteStream`), then the connection
    /// once that is written.
    void finish_publish() {
        if (session_.closing()) return;
        if (started_ && mode_ == stream_client_mode::publish) {
            session_.send(command{"FCUnpublish", 0, amf0::value::null(), {amf0::value(target_.name)}});
            session_.send(command{"deleteStream", 0, amf0::value::null(), {amf0::value(stream_id_)}});
        }
        session_.close({}, true);
    }

    // ---- state -----------------------------------------------------------------------------------

    /// Whether Publish.Start (or Play.Start) came.
    bool started() const noexcept { return started_; }
    /// The server's refusal, if it refused.
    const std::optional<stream_client_refusal>& refusal() const noexcept { return refusal_; }
    /// From the last answered ping (0: none yet).
    std::chrono::microseconds round_trip() const noexcept { return round_trip_; }
    std::uint64_t bytes_in() const noexcept { return session_.bytes_in(); }
    const rtmp_url& target() const noexcept { return target_; }

    // ---- the client session's one callback -------------------------------------------------------

    /// Every message from the server (after the session's own rules): answers, statuses, media.
    void on_message(const message_header& h, decoded_message& d) {
        if (auto* c = std::get_if<command>(&d)) {
            const bool result = c->name == "_result";
            if ((result || c->name == "_error") && connect_txn_ != 0 && c->transaction_id == connect_txn_) {
                connect_txn_ = 0;
                return result ? connected() : connect_failed(*c);
            }
            if (result && create_txn_ != 0 && c->transaction_id == create_txn_) {
                create_txn_ = 0;
                return stream_created(c->arguments.empty() ? 0 : static_cast<std::uint32_t>(c->arguments[0].as_number()));
            }
            if (c->name == "onStatus" && !c->arguments.empty()) status(c->arguments[0]);
            return;
        }
        if (auto* uc = std::get_if<user_control>(&d)) {
            if (uc->event == user_control_event::ping_response && uc->value == ping_stamp_ && ping_stamp_ != 0) {
                round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(now_ - ping_sent_);
                ping_stamp_ = 0;
            }
            return;
        }
        if (mode_ == stream_client_mode::play && started_) media(h, d);
    }

private:
    void connected() {
        start_deadline_ = now_ + options_.start_timeout;
        if (mode_ == stream_client_mode::publish) {
            session_.call("releaseStream", {amf0::value(target_.name)});
            session_.call("FCPublish", {amf0::value(target_.name)});
        }
        create_txn_ = session_.create_stream();
    }

    void connect_failed(const command& c) {
        const amf0::value& info = c.arguments.empty() ? c.object : c.arguments[0];
        const std::string code(info["code"].as_string("NetConnection.Connect.Rejected"));
        // An app or key the server refuses now, it will refuse again.
        refuse(code, std::string(info["description"].as_string()),
               code == "NetConnection.Connect.Rejected" || code == "NetConnection.Connect.InvalidApp");
    }

    void stream_created(std::uint32_t id) {
        if (id == 0) return session_.close(error::message_malformed, false);
        stream_id_ = id;
        out_ = player(id);
        out_.start(first_timestamp_);
        if (mode_ == stream_client_mode::publish) {
            session_.publish(id, target_.name, "live");
        } else {
            session_.play(id, target_.name);
        }
    }

    void status(const amf0::value& info) {
        const std::string_view code = info["code"].as_string();
        const std::string_view level = info["level"].as_string();
        if (code == "NetStream.Publish.Start" || code == "NetStream.Play.Start" || code == "NetStream.Play.Reset") {
            if (started_ || code == "NetStream.Play.Reset") return;
            started_ = true;
            start_deadline_.reset();
            last_media_ = now_;
            handler_.on_started();
            return;
        }
        if (code == "NetStream.Play.PublishNotify" || code == "NetStream.Play.UnpublishNotify") {
            last_media_ = now_;
            return handler_.on_news(code == "NetStream.Play.PublishNotify");
        }
        if (code == "NetConnection.Connect.ReconnectRequest") {  // Enhanced RTMP: the server moves its clients
            if constexpr (requires(std::string url) { handler_.on_reconnect_request(url); })
                if (level == "status") handler_.on_reconnect_request(std::string(info["tcUrl"].as_string()));
            return;
        }
        if (code == "NetStream.Play.Stop") return session_.close({}, false);  // the remote stream ended
        if (level == "error") {
            const bool permanent = code == "NetStream.Publish.BadName" || code == "NetStream.Publish.Denied" ||
                                   code == "NetStream.Publish.Rejected";
            refuse(std::string(code), std::string(info["description"].as_string()), permanent);
            session_.close(error::publish_refused, false);
        }
    }

    // Playing: media and data to the owner.
    void media(const message_header& h, decoded_message& d) {
        if (auto* m = std::get_if<media_message>(&d)) {
            last_media_ = now_;
            media_in in{h.stream_id, m->type == message_type::audio ? media_type::audio : media_type::video, h.timestamp,
                        std::move(m->payload)};
            return handler_.on_media(in);
        }
        if (auto* data = std::get_if<data_message>(&d)) {
            if (data->handler == "@setDataFrame" && !data->values.empty() && data->values[0].is_string()) {
                data->handler = std::string(data->values[0].as_string());
                data->values.erase(data->values.begin());
            }
            if (data->handler == "|RtmpSampleAccess") return;
            const auto type = data->handler == "onMetaData" ? media_type::metadata : media_type::data;
            media_in in{h.stream_id, type, h.timestamp, encode_payload(*data)};
            return handler_.on_media(in);
        }
    }

    void refuse(std::string code, std::string description, bool permanent) {
        if (!refusal_) refusal_ = stream_client_refusal{std::move(code), std::move(description), permanent};
    }

    // The onMetaData body as publishers send it: `@setDataFrame` first (built once per body).
    std::shared_ptr<const std::vector<std::byte>> set_data_frame(const std::shared_ptr<const std::vector<std::byte>>& body) {
        if (metadata_source_ != body) {
            auto out = amf0::encode(amf0::value("@setDataFrame"));
            out.insert(out.end(), body->begin(), body->end());
            metadata_ = std::make_shared<const std::vector<std::byte>>(std::move(out));
            metadata_source_ = body;
        }
        return metadata_;
    }

    Handler& handler_;
    rtmp_url target_;
    stream_client_mode mode_;
    stream_client_options options_;
    client_session<stream_client> session_;
    player out_;
    std::uint32_t first_timestamp_ = 0;
    time_point now_{};
    bool started_ = false;
    std::uint32_t stream_id_ = 0;
    double connect_txn_ = 0;
    double create_txn_ = 0;
    std::optional<time_point> start_deadline_;
    time_point last_media_{};
    std::optional<stream_client_refusal> refusal_;
    std::optional<time_point> next_ping_;
    time_point ping_sent_{};
    std::uint32_t ping_stamp_ = 0;
    std::uint64_t pings_ = 0;
    std::chrono::microseconds round_trip_{0};
    std::shared_ptr<const std::vector<std::byte>> metadata_source_;
    std::shared_ptr<const std::vector<std::byte>> metadata_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
