// SPDX-License-Identifier: MIT
// What a server session asks and tells its owner: the callbacks and the requests they carry.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/session_types.hpp>
#include <rtmpx/timestamp.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// A `play` (or a stop) as the session's owner is asked about it.
struct play_request {
    std::uint32_t stream_id = 0;
    bool is_start = true;
    std::string_view stream_name;
    double start = -2;
    double duration = -1;            ///< ms; > 0 plays a live stream that long, then stops it
    std::vector<std::byte> video_data;  ///< out: a video tag body sent as is (before the frames, or before Play.Stop)
};

/// A `publish` as the session's owner is asked about it; a refusal says which status.
struct publish_request {
    std::uint32_t stream_id = 0;
    std::string_view stream_name;
    std::string_view type;                               ///< "live", "record" or "append"
    std::string refusal = "NetStream.Publish.BadName";   ///< out: the status of a refusal (or ...Denied, ...Rejected)
    std::string description;                             ///< out: its description (empty: one is made up)
};

/// What a published stream carries.
enum class media_type : std::uint8_t {
    audio,     ///< an FLV audio tag body
    video,     ///< an FLV video tag body
    metadata,  ///< onMetaData: an AMF0 data message body `onMetaData`, properties (`@setDataFrame` removed)
    data,      ///< any other data message body (onTextData, onCuePoint, ...)
};

/// One message of a published stream, as the publisher sent it (timestamp included).
struct media_in {
    std::uint32_t stream_id = 0;
    media_type type = media_type::video;
    rtmp_timestamp timestamp;
    std::vector<std::byte> payload;  ///< may be moved from
};

/**
 * What a server session tells its owner. Every callback runs inside a `put`, `on_time` or
 * `finish` call, on the owner's thread; references are valid during the callback only.
 * - `bool on_connect(const connect_command&)`: true accepts the connection. To end it instead,
 *   call `close` and return false.
 * - `bool on_create_stream(std::uint32_t id, const amf0::value& command_object)`: true allows it.
 * - `bool on_play(play_request&)`: on start, true allows it; on stop the result is ignored.
 * - `bool on_pause(std::uint32_t id, bool pause, double ms)`: true honours it.
 * - `void on_receive_video(std::uint32_t id, bool enable)`: `receiveVideo`, always honoured.
 * - `void on_stream_deleted(std::uint32_t id, std::error_code reason)`.
 * - `void on_call(command&)`: a remote call; answer it with `answer_call`, now or later (the
 *   command may be moved from).
 * - `void on_call_answered(double txn, call_result&&)`: an answer to `call`, or its failure.
 * - `void on_refused(std::error_code why, std::uint32_t stream_id)`: the session refused a
 *   request on its own (a limit, an unknown stream, media it drops), for the owner's log.
 * - `bool on_publish(publish_request&)`: true accepts the publish (NetStream.Publish.Start).
 * - `void on_media(media_in&)`: a message of a publishing stream, in the order it came.
 * - `void on_unpublish(std::uint32_t id)`: the stream's publish ended (FCUnpublish, closeStream,
 *   deleteStream, the end of the connection).
 */
template <class H>
concept server_session_handler =
    requires(H& h, const connect_command& cc, const amf0::value& v, play_request& pr, command& c, call_result&& r,
             std::uint32_t id, bool b, double d, std::error_code ec, publish_request& pub, media_in& media) {
        { h.on_connect(cc) } -> std::convertible_to<bool>;
        { h.on_create_stream(id, v) } -> std::convertible_to<bool>;
        { h.on_play(pr) } -> std::convertible_to<bool>;
        { h.on_pause(id, b, d) } -> std::convertible_to<bool>;
        h.on_receive_video(id, b);
        h.on_stream_deleted(id, ec);
        h.on_call(c);
        h.on_call_answered(d, std::move(r));
        h.on_refused(ec, id);
        { h.on_publish(pub) } -> std::convertible_to<bool>;
        h.on_media(media);
        h.on_unpublish(id);
    };

} // namespace protocol
RTMPX_NAMESPACE_END
