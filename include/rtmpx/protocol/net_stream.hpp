// SPDX-License-Identifier: MIT
// One NetStream of a server session: its play or publish state, its player, and the messages its changes send.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/player.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// `onStatus` on message stream `stream_id` (RTMP 1.0 §7.2.2: NetStream status goes on the stream).
inline message status_message(std::uint32_t stream_id, std::string_view level, std::string_view code,
                              std::string_view description) {
    return to_message(make_on_status(level, code, description), stream_id, chunk_stream::stream_command);
}

/**
 * A NetStream as the server session keeps it: created by `createStream`, played by `play` or
 * published by `publish` (never both at once). Its state changes return the messages the client
 * gets, in the order players and publishers need them (`../shared/reference/players.md`); the
 * session queues them.
 */
class net_stream {
public:
    explicit net_stream(std::uint32_t id) : id_(id), out_(id) {}

    std::uint32_t id() const noexcept { return id_; }
    const std::string& name() const noexcept { return name_; }
    bool playing() const noexcept { return playing_; }
    bool paused() const noexcept { return paused_; }
    bool publishing() const noexcept { return publishing_; }
    /// The name being published (empty when not publishing).
    const std::string& publish_name() const noexcept { return publish_name_; }
    /// When the publisher last sent a message.
    time_point last_media() const noexcept { return last_media_; }
    void media_arrived(time_point now) noexcept { last_media_ = now; }
    /// When a play with a duration ends (RTMP 1.0 §7.2.2.1), if it has one.
    const std::optional<time_point>& stop_at() const noexcept { return stop_at_; }
    /// The framing of this stream's media.
    player& out() noexcept { return out_; }

    /**
     * Play starts (`duration_ms` > 0: a live stream plays that long): StreamBegin, Play.Reset,
     * Play.Start, `|RtmpSampleAccess`, then `video_data` (the play handler's) if any.
     */
    std::vector<message> start(std::string_view name, double duration_ms, time_point now, std::vector<std::byte> video_data) {
        name_ = std::string(name);
        playing_ = true;
        paused_ = false;
        out_.start();
        stop_at_.reset();
        if (duration_ms > 0)
            stop_at_ = now + std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double, std::milli>(duration_ms));
        std::vector<message> out;
        out.push_back(to_message(user_control::stream_begin(id_)));
        out.push_back(status_message(id_, "status", "NetStream.Play.Reset", fmt::format("Playing and resetting {}.", name_)));
        out.push_back(status_message(id_, "status", "NetStream.Play.Start", fmt::format("Started playing {}.", name_)));
        out.push_back(to_message(data_message{"|RtmpSampleAccess", {amf0::value(true), amf0::value(true)}}, id_));
        if (!video_data.empty())
            out.push_back(message{{chunk_stream::video, message_type::video, rtmp_timestamp(0), id_}, std::move(video_data)});
        return out;
    }

    /// Play stops (the owner has been told).
    void stop() noexcept {
        playing_ = false;
        stop_at_.reset();
    }

    /// What a player whose play stopped gets: `video_data` (the play handler's), Play.Stop, StreamEOF.
    std::vector<message> stopped_messages(std::vector<std::byte> video_data) const {
        std::vector<message> out;
        if (!video_data.empty())
            out.push_back(message{{chunk_stream::video, message_type::video, rtmp_timestamp(out_.timestamp()), id_},
                                  std::move(video_data)});
        out.push_back(status_message(id_, "status", "NetStream.Play.Stop", fmt::format("Stopped playing {}.", name_)));
        out.push_back(to_message(user_control::stream_eof(id_)));
        return out;
    }

    /// What a player whose stream's producer failed gets: NetStream.Failed and StreamEOF.
    std::vector<message> failed_messages() const {
        return {status_message(id_, "error", "NetStream.Failed", "The stream's handler failed."),
                to_message(user_control::stream_eof(id_))};
    }

    /// An honoured pause or resume (resume starts on a key frame); with `notify`, its status.
    std::vector<message> pause(bool pause, bool notify) {
        paused_ = pause;
        if (!pause) out_.resume();
        if (!notify) return {};
        return {pause ? status_message(id_, "status", "NetStream.Pause.Notify", fmt::format("Paused {}.", name_))
                      : status_message(id_, "status", "NetStream.Unpause.Notify", fmt::format("Unpaused {}.", name_))};
    }

    /// Publish starts: NetStream.Publish.Start, what every publisher waits for.
    std::vector<message> start_publish(std::string_view name, time_point now) {
        publishing_ = true;
        publish_name_ = std::string(name);
        last_media_ = now;
        auto info = status_info("status", "NetStream.Publish.Start", fmt::format("{} is now published.", publish_name_));
        info.set("details", amf0::value(publish_name_));
        return {to_message(make_on_status(std::move(info)), id_, chunk_stream::stream_command)};
    }

    /// A refused publish: `code` (NetStream.Publish.BadName, ...Denied, ...Rejected), level error.
    std::vector<message> refuse_publish(std::string_view code, std::string_view description) const {
        return {status_message(id_, "error", code, description)};
    }

    /// Publish ends: NetStream.Unpublish.Success (with `notify`).
    std::vector<message> stop_publish(bool notify) {
        std::vector<message> out;
        if (notify)
            out.push_back(status_message(id_, "status", "NetStream.Unpublish.Success", fmt::format("{} is now unpublished.", publish_name_)));
        publishing_ = false;
        publish_name_.clear();
        return out;
    }

private:
    std::uint32_t id_;
    std::string name_;
    bool playing_ = false;
    bool paused_ = false;
    bool publishing_ = false;
    std::string publish_name_;
    time_point last_media_{};
    std::optional<time_point> stop_at_;
    player out_;
};

} // namespace protocol
RTMPX_NAMESPACE_END
