// SPDX-License-Identifier: MIT
// The events handlers receive and one concept per handler, so that handlers are plain lambdas.
#pragma once

#include <concepts>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <rtmpx/config.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/messages.hpp>

RTMPX_NAMESPACE_BEGIN

/// What a connect handler is told: a new `connect` (is_create) or the end of its connection.
struct connect_event {
    bool is_create = true;
    const connect_command& command;  ///< the client's connect command (also on close)
    std::error_code reason;          ///< on close: why the connection ended (empty: the client closed it)
};

/// What a stream handler is told: `createStream` (is_create) or the stream's removal.
struct stream_event {
    bool is_create = true;
    const amf0::value& command_object;  ///< the createStream command object (null on removal)
    std::error_code reason;             ///< on removal: why (empty for deleteStream/closeStream)
};

/// What a play handler is told: `play` (is_start) or stop. It may fill `video_data` with
/// initialisation (on start) or closing (on stop) video data to send.
struct play_event {
    bool is_start = true;
    std::string_view stream_name;
    double start = -2;            ///< the play command's start argument
    encoded_frame video_data;     ///< out: sent as is when non-empty
};

/// What a pause handler is told: pause (is_pause) or resume.
struct pause_event {
    bool is_pause = true;
    double milliseconds = 0;  ///< the stream position the client paused or resumed at
};

namespace detail {
template <class R>
concept boolean_result = std::convertible_to<R, bool>;
}

/**
 * `bool (connection&, connect_event const&)`: on `connect`, true claims the connection (the
 * handler then registers stream and call handlers on it); false lets the next handler decide.
 * Called again with `is_create == false` exactly once when a claimed connection ends; the return
 * value is then ignored. Thread: the connection's thread. Lifetime: both arguments are valid only
 * during the call.
 */
template <class F, class Connection>
concept connect_handler = std::invocable<F&, Connection&, const connect_event&> &&
                          detail::boolean_result<std::invoke_result_t<F&, Connection&, const connect_event&>>;

/**
 * `bool (stream&, stream_event const&)`: on `createStream`, true allows the stream (the handler
 * registers render/frame/play/pause handlers and picks a codec); false refuses it. Called with
 * `is_create == false` when the stream is deleted or its connection ends. Thread: the
 * connection's thread.
 */
template <class F, class Stream>
concept stream_handler = std::invocable<F&, Stream&, const stream_event&> &&
                         detail::boolean_result<std::invoke_result_t<F&, Stream&, const stream_event&>>;

/**
 * `bool (stream&, play_event&)`: true honours play (or stop); false refuses it. Optional: with
 * no play handler, play is allowed. Thread: the connection's thread.
 */
template <class F, class Stream>
concept play_handler = std::invocable<F&, Stream&, play_event&> &&
                       detail::boolean_result<std::invoke_result_t<F&, Stream&, play_event&>>;

/// `bool (stream&, pause_event const&)`: true honours pause (or resume). Thread: the connection's.
template <class F, class Stream>
concept pause_handler = std::invocable<F&, Stream&, const pause_event&> &&
                        detail::boolean_result<std::invoke_result_t<F&, Stream&, const pause_event&>>;

/**
 * `bool (stream&)`: called by the render loop at the stream's render rate while it plays; false
 * stops the stream with an error status. Thread: the connection's thread.
 */
template <class F, class Stream>
concept render_handler =
    std::invocable<F&, Stream&> && detail::boolean_result<std::invoke_result_t<F&, Stream&>>;

/**
 * `bool (stream&, encoded_frame& out, bool outqueue_is_full)`: called on the stream's own frame
 * thread at the frame rate while it plays; fills `out` with one encoded frame (leave it empty to
 * send nothing). When `outqueue_is_full` the client is not keeping up: skip, or send something
 * cheap. False stops the stream with an error status. Thread: the stream's frame thread, never
 * the connection's; share state with the render handler under your own lock.
 */
template <class F, class Stream>
concept frame_handler = std::invocable<F&, Stream&, encoded_frame&, bool> &&
                        detail::boolean_result<std::invoke_result_t<F&, Stream&, encoded_frame&, bool>>;

RTMPX_NAMESPACE_END
