// SPDX-License-Identifier: MIT
// The NetStreams of a server session: createStream, play, pause, publish, media in and out, delete.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/net_stream.hpp>
#include <rtmpx/protocol/server_session_events.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/**
 * The NetStream half of a `server_session` (`Session`): the streams a client created, what it
 * plays or publishes on them, and what they send. It asks the session's owner (`handler_`)
 * and queues through the session (`send`, `output_`), whose state it reads (`now_`, `closing_`,
 * `options_`). Every `net_stream*` is looked up again after an owner's callback.
 */
template <class Session>
class server_streams {
public:
    explicit server_streams(Session& session) : session_(session) {}

    // ---- commands --------------------------------------------------------------------------------

    void create(const create_stream_command& cmd) {
        if (streams_.size() >= session_.options_.max_streams_per_connection) {
            session_.handler_.on_refused(error::too_many_streams, 0);
            return session_.send(make_error(cmd.transaction_id,
                                            status_info("error", "NetConnection.Call.Failed", "too many streams on this connection")));
        }
        const std::uint32_t id = next_id_++;
        const bool allowed = session_.handler_.on_create_stream(id, cmd.object);
        if (allowed) streams_.emplace_back(id);  // even when closing: `finish` tells the owner of it
        if (session_.closing_) return;
        if (!allowed)
            return session_.send(make_error(cmd.transaction_id, status_info("error", "NetConnection.Call.Failed", "stream refused")));
        session_.send(make_result(cmd.transaction_id, amf0::value::null(), {amf0::value(id)}));
    }

    void play(const play_command& cmd, std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s) {
            session_.handler_.on_refused(error::stream_not_found, stream_id);
            return session_.send(status_message(stream_id, "error", "NetStream.Play.StreamNotFound", "No such stream."));
        }
        if (cmd.stop) return stop(*s, true);  // NetStream.play(false)
        if (s->publishing())
            return session_.send(status_message(stream_id, "error", "NetStream.Play.Failed", "The stream publishes."));
        if (s->playing()) stop(*s, false);
        play_request request{stream_id, true, cmd.stream_name, cmd.start, cmd.duration, {}};
        const bool allowed = session_.handler_.on_play(request);
        if (session_.closing_ || !(s = find(stream_id))) return;
        if (!allowed)
            return session_.send(status_message(stream_id, "error", "NetStream.Play.Failed", fmt::format("Play of {} refused.", cmd.stream_name)));
        session_.send(s->start(cmd.stream_name, cmd.duration, session_.now_, std::move(request.video_data)));
        s->out().set_capabilities(session_.client_caps_);
    }

    void pause(const pause_command& cmd, std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing()) return;
        const bool honoured = session_.handler_.on_pause(stream_id, cmd.pause, cmd.milliseconds);
        if (session_.closing_ || !honoured || !(s = find(stream_id)) || !s->playing()) return;
        session_.send(s->pause(cmd.pause, true));
    }

    void receive_video(std::uint32_t stream_id, bool enable) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing()) return;
        s->pause(!enable, false);
        session_.handler_.on_receive_video(stream_id, enable);
    }

    void receive_audio(std::uint32_t stream_id, bool enable) {
        if (net_stream* s = find(stream_id); s && s->playing()) s->out().receive_audio(enable);
    }

    void publish(const publish_command& cmd, std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s) {  // a stream it did not create
            session_.handler_.on_refused(error::stream_not_found, stream_id);
            return session_.send(status_message(stream_id, "error", "NetStream.Publish.BadName", "No such stream."));
        }
        if (s->playing() || s->publishing())
            return session_.send(s->refuse_publish("NetStream.Publish.BadName", "The stream is in use."));
        publish_request request{stream_id, cmd.stream_name, cmd.type, "NetStream.Publish.BadName", {}};
        const bool allowed = session_.handler_.on_publish(request);
        if (session_.closing_ || !(s = find(stream_id))) return;
        if (!allowed) {
            session_.handler_.on_refused(error::publish_refused, stream_id);
            return session_.send(s->refuse_publish(
                request.refusal, request.description.empty() ? fmt::format("Publishing {} refused.", cmd.stream_name) : request.description));
        }
        session_.send(to_message(user_control::stream_begin(stream_id)));
        session_.send(s->start_publish(cmd.stream_name, session_.now_));
    }

    /// `FCUnpublish(name)`: the stream publishing `name` stops.
    void unpublish_named(std::string_view name) {
        if (net_stream* s = find_published(name)) unpublish(*s, true);
    }

    void delete_stream(std::uint32_t id) {
        net_stream* s = find(id);
        if (!s) return;
        unpublish(*s, true);
        stop(*s, false);
        std::erase_if(streams_, [id](const net_stream& st) { return st.id() == id; });
        session_.handler_.on_stream_deleted(id, {});
    }

    /// `deleteStream(name)`, as GStreamer's rtmp2sink sends it: the stream publishing `name`.
    void delete_named(std::string_view name) {
        if (net_stream* s = find_published(name)) delete_stream(s->id());
    }

    // ---- media in --------------------------------------------------------------------------------

    void media(const message_header& header, media_type type, std::vector<std::byte> payload) {
        net_stream* s = find(header.stream_id);
        if (!s || !s->publishing()) return drop(error::media_not_published, header.stream_id, unpublished_);
        const bool complete = type == media_type::audio ? flv::is_complete_audio_tag(payload) : flv::is_complete_video_tag(payload);
        if (!complete) return drop(error::media_malformed, header.stream_id, malformed_);
        s->media_arrived(session_.now_);
        media_in m{s->id(), type, header.timestamp, std::move(payload)};
        session_.handler_.on_media(m);
    }

    void data(const message_header& header, data_message d) {
        net_stream* s = find(header.stream_id);
        if (!s || !s->publishing()) return drop(error::media_not_published, header.stream_id, unpublished_);
        // Publishers send `@setDataFrame onMetaData {...}`; players get `onMetaData {...}`.
        if (d.handler == "@setDataFrame" && !d.values.empty() && d.values[0].is_string()) {
            d.handler = std::string(d.values[0].as_string());
            d.values.erase(d.values.begin());
        }
        s->media_arrived(session_.now_);
        media_in m{s->id(), d.handler == "onMetaData" ? media_type::metadata : media_type::data, header.timestamp, encode_payload(d)};
        session_.handler_.on_media(m);
    }

    // ---- media out and failures ------------------------------------------------------------------

    bool send_frame(std::uint32_t stream_id, const shared_frame& f) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing() || s->paused() || session_.closing_) return false;
        return s->out().write(f, [this](const message_header& h, std::shared_ptr<const std::vector<std::byte>> payload) {
                   session_.output_.write_shared(h, std::move(payload));
               }) != player::outcome::dropped &&
               !s->out().refused();
    }

    void end_refused() {
        for (auto& s : streams_)
            if (s.playing() && s.out().refused()) {
                session_.handler_.on_refused(make_error_code(error::codec_not_declared), s.id());
                stop(s, false);
            }
    }

    void fail(std::uint32_t stream_id) {
        net_stream* s = find(stream_id);
        if (!s || !s->playing()) return;
        stop(*s, false);
        session_.send(s->failed_messages());
    }

    // ---- time and the end ------------------------------------------------------------------------

    /// Play durations (RTMP 1.0 §7.2.2.1) and the publish timeout.
    void on_time(time_point now) {
        for (auto& s : streams_) {
            if (session_.closing_) break;
            if (s.playing() && s.stop_at() && *s.stop_at() <= now) stop(s, true);
            if (s.publishing() && s.last_media() + session_.options_.timeouts.publish <= now)
                session_.close(error::publish_timeout, false);
        }
    }

    std::optional<time_point> next_deadline() const {
        std::optional<time_point> next;
        auto consider = [&next](const std::optional<time_point>& t) {
            if (t && (!next || *t < *next)) next = t;
        };
        for (const auto& s : streams_) {
            if (s.playing()) consider(s.stop_at());
            if (s.publishing()) consider(s.last_media() + session_.options_.timeouts.publish);
        }
        return next;
    }

    /// Every stream ends: its publish, its play, then the stream (the owner hears of each).
    void finish(std::error_code reason) {
        auto streams = std::move(streams_);
        streams_.clear();
        for (auto& s : streams) {
            if (s.publishing()) {
                s.stop_publish(false);
                session_.handler_.on_unpublish(s.id());
            }
            if (s.playing()) {
                s.stop();
                play_request stop_request{s.id(), false, s.name(), 0, -1, {}};
                session_.handler_.on_play(stop_request);
            }
            session_.handler_.on_stream_deleted(s.id(), reason);
        }
    }

    // ---- state -----------------------------------------------------------------------------------

    bool playing(std::uint32_t stream_id) const noexcept {
        const net_stream* s = find(stream_id);
        return s && s->playing();
    }
    bool paused(std::uint32_t stream_id) const noexcept {
        const net_stream* s = find(stream_id);
        return s && s->paused();
    }
    std::size_t playing_count() const noexcept { return count([](const net_stream& s) { return s.playing(); }); }
    std::size_t publishing_count() const noexcept { return count([](const net_stream& s) { return s.publishing(); }); }
    std::uint64_t media_dropped() const noexcept { return unpublished_ + malformed_; }

private:
    net_stream* find(std::uint32_t id) noexcept {
        for (auto& s : streams_)
            if (s.id() == id) return &s;
        return nullptr;
    }
    const net_stream* find(std::uint32_t id) const noexcept {
        for (const auto& s : streams_)
            if (s.id() == id) return &s;
        return nullptr;
    }
    net_stream* find_published(std::string_view name) noexcept {
        for (auto& s : streams_)
            if (s.publishing() && s.publish_name() == name) return &s;
        return nullptr;
    }
    template <class P>
    std::size_t count(P p) const noexcept {
        return static_cast<std::size_t>(std::count_if(streams_.begin(), streams_.end(), p));
    }

    // Stops playing: the owner hears of it; with `notify` the player gets Play.Stop and StreamEOF.
    void stop(net_stream& s, bool notify) {
        if (!s.playing()) return;
        s.stop();
        play_request request{s.id(), false, s.name(), 0, -1, {}};
        session_.handler_.on_play(request);
        if (notify && !session_.closing_) session_.send(s.stopped_messages(std::move(request.video_data)));
    }

    // The publish ends: the owner hears of it; with `notify` the publisher gets Unpublish.Success.
    void unpublish(net_stream& s, bool notify) {
        if (!s.publishing()) return;
        session_.handler_.on_unpublish(s.id());
        session_.send(s.stop_publish(notify && !session_.closing_));
    }

    // The first drop of each kind is told to the owner; every one is counted.
    void drop(std::error_code why, std::uint32_t stream_id, std::uint64_t& count) {
        if (count++ == 0) session_.handler_.on_refused(why, stream_id);
    }

    Session& session_;
    std::vector<net_stream> streams_;
    std::uint32_t next_id_ = 1;
    std::uint64_t unpublished_ = 0;  // media and data dropped: the stream does not publish
    std::uint64_t malformed_ = 0;    // media dropped: too short for its tag header
};

} // namespace protocol
RTMPX_NAMESPACE_END
