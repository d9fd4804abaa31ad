// SPDX-License-Identifier: MIT
// What a server session asks and tells its owner: the callbacks and the requests they carry.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/session_types.hpp>

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
 *   request on its own (a limit, an unknown stream), for the owner's log.
 */
template <class H>
concept server_session_handler =
    requires(H& h, const connect_command& cc, const amf0::value& v, play_request& pr, command& c, call_result&& r,
             std::uint32_t id, bool b, double d, std::error_code ec) {
        { h.on_connect(cc) } -> std::convertible_to<bool>;
        { h.on_create_stream(id, v) } -> std::convertible_to<bool>;
        { h.on_play(pr) } -> std::convertible_to<bool>;
        { h.on_pause(id, b, d) } -> std::convertible_to<bool>;
        h.on_receive_video(id, b);
        h.on_stream_deleted(id, ec);
        h.on_call(c);
        h.on_call_answered(d, std::move(r));
        h.on_refused(ec, id);
    };

} // namespace protocol
RTMPX_NAMESPACE_END
