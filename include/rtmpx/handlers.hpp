// SPDX-License-Identifier: MIT
// The events handlers receive and one concept per handler, so that handlers are plain lambdas.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <asio/awaitable.hpp>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/server_session_events.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN

class connection;
class stream;

/// The client's `connect` command: app, tcUrl, flashVer, ... typed, with the whole object.
using protocol::connect_command;
/// An info object {level, code, description}, for the responses of call handlers.
using protocol::status_info;
/// The client's answer to a call the server made (`connection::call`).
using protocol::call_result;

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

/// How a refused publish is answered: the onStatus code the publisher gets.
enum class publish_refusal {
    bad_name,  ///< NetStream.Publish.BadName: the name is in use or not acceptable
    denied,    ///< NetStream.Publish.Denied: this client may not publish (a bad token, ...)
    rejected,  ///< NetStream.Publish.Rejected
};

/**
 * What a publish handler is told: `publish` (is_start) or the end of the publish (FCUnpublish,
 * deleteStream, closeStream, the connection's end, a takeover). A refusal says which status the
 * publisher gets (`refusal`, with `description`).
 */
struct publish_event {
    bool is_start = true;
    std::string_view stream_name;              ///< the name before any '?': "cam" of "cam?token=x"
    std::string_view query;                    ///< what follows the '?' (empty without one)
    std::string_view type;                     ///< "live", "record" or "append"
    const connect_command& connect;            ///< the connection's connect (app, tcUrl with its query)
    publish_refusal refusal = publish_refusal::bad_name;  ///< out, on refusal
    std::string description;                   ///< out, on refusal (empty: one is made up)
};

/// What a published message is: audio, video, metadata (`onMetaData`) or other data.
using protocol::media_type;

/// What a media handler is told: one message of a published stream, in the order it came.
struct media_event {
    media_type type = media_type::video;
    std::uint32_t timestamp = 0;           ///< ms, as the publisher sent it
    std::span<const std::byte> payload;    ///< the message body; valid during the call
};

/// What a call handler is told: a remote procedure call from the client.
struct call_event {
    std::string_view procedure;                 ///< the command name
    double transaction_id = 0;                  ///< 0: the client expects no reply
    const amf0::value& command_object;          ///< usually null
    const std::vector<amf0::value>& arguments;  ///< the user arguments
};

namespace detail {
template <class R>
concept boolean_result = std::convertible_to<R, bool>;
template <class R>
concept awaitable_bool = std::same_as<R, asio::awaitable<bool>>;
} // namespace detail

/**
 * `bool (connection&, connect_event const&)`: on `connect`, true claims the connection (the
 * handler then registers stream and call handlers on it); false lets the next handler decide.
 * Called again with `is_create == false` exactly once when a claimed connection ends; the return
 * value is then ignored. Thread: the connection's thread. Lifetime: both arguments are valid only
 * during the call.
 */
template <class F>
concept connect_handler = std::invocable<F&, connection&, const connect_event&> &&
                          detail::boolean_result<std::invoke_result_t<F&, connection&, const connect_event&>>;

/**
 * `bool (connection&, call_event const&, amf0::value& response)`, or the same returning
 * `asio::awaitable<bool>` (a coroutine, e.g. one that calls the client back): handles a remote
 * call. True sends `_result` with `response`; false sends `_error` (with `response` as the info
 * object when it has properties, else a NetConnection.Call.Failed one). A handler that throws
 * gets the client an `_error`; the connection lives on. Thread: the connection's thread; a
 * coroutine handler runs beside the reader, so the connection goes on reading while it waits.
 * Lifetime: the arguments stay valid until the handler returns or its coroutine completes.
 */
template <class F>
concept call_handler =
    std::invocable<F&, connection&, const call_event&, amf0::value&> &&
    (detail::boolean_result<std::invoke_result_t<F&, connection&, const call_event&, amf0::value&>> ||
     detail::awaitable_bool<std::invoke_result_t<F&, connection&, const call_event&, amf0::value&>>);

/**
 * `bool (stream&, stream_event const&)`: on `createStream`, true allows the stream (the handler
 * registers render/frame/play/pause handlers and picks a codec); false refuses it. Called with
 * `is_create == false` when the stream is deleted or its connection ends. Thread: the
 * connection's thread.
 */
template <class F>
concept stream_handler = std::invocable<F&, stream&, const stream_event&> &&
                         detail::boolean_result<std::invoke_result_t<F&, stream&, const stream_event&>>;

/**
 * `bool (stream&, play_event&)`: true honours play (or stop); false refuses it. Optional: with
 * no play handler, play is allowed. Thread: the connection's thread.
 */
template <class F>
concept play_handler = std::invocable<F&, stream&, play_event&> &&
                       detail::boolean_result<std::invoke_result_t<F&, stream&, play_event&>>;

/**
 * `bool (stream&, publish_event&)`: on `publish`, true accepts it (the publisher gets
 * NetStream.Publish.Start; the handler may `publish_to` a broadcast); false refuses it with
 * `refusal`. Called with `is_start == false` when the publish ends; the return value is then
 * ignored. With no publish handler, publishing is refused (NetStream.Publish.Denied). Thread: the
 * connection's thread.
 */
template <class F>
concept publish_handler = std::invocable<F&, stream&, publish_event&> &&
                          detail::boolean_result<std::invoke_result_t<F&, stream&, publish_event&>>;

/**
 * `void (stream&, media_event const&)`: every audio, video and data message of an accepted
 * publish, in order, with the publisher's timestamps. Thread: the connection's thread; a slow
 * handler slows this publisher alone. Lifetime: the payload is valid during the call only.
 */
template <class F>
concept media_handler = std::invocable<F&, stream&, const media_event&>;

/// `bool (stream&, pause_event const&)`: true honours pause (or resume). Thread: the connection's.
template <class F>
concept pause_handler = std::invocable<F&, stream&, const pause_event&> &&
                        detail::boolean_result<std::invoke_result_t<F&, stream&, const pause_event&>>;

/**
 * `bool (Subject&)`, Subject a `stream` or a `broadcast`: called at the render rate while the
 * stream plays (a stream's: on the connection's thread; a broadcast's: on its own thread);
 * false (or an exception) stops the stream, or the broadcast, with an error status.
 */
template <class F, class Subject>
concept render_handler =
    std::invocable<F&, Subject&> && detail::boolean_result<std::invoke_result_t<F&, Subject&>>;

/**
 * `bool (Subject&, encoded_frame& out, bool outqueue_is_full)`, Subject a `stream` or a
 * `broadcast`: called on its own frame thread at the render rate while it plays; fills `out` with
 * one encoded frame (leave it empty to send nothing). When `outqueue_is_full` the client is not
 * keeping up: skip, or send something cheap. False (or an exception) stops it with an error
 * status. Thread: the frame thread, never the connection's; share state with the render handler
 * under your own lock.
 */
template <class F, class Subject>
concept frame_handler = std::invocable<F&, Subject&, encoded_frame&, bool> &&
                        detail::boolean_result<std::invoke_result_t<F&, Subject&, encoded_frame&, bool>>;

/**
 * `bool (Subject&, audio_buffer& pcm)`, Subject a `broadcast`: called each tick before the frame
 * handler with the sound due since the last call (`pcm.frames()` sample frames, silence until
 * filled; the count follows the clock, so it varies by a sample or two); fill
 * `pcm.samples` (interleaved 16-bit, `pcm.channels` per frame) without resizing it. False (or an
 * exception) stops the broadcast, as a frame handler's would. Thread: the broadcast's.
 */
template <class F, class Subject>
concept audio_handler = std::invocable<F&, Subject&, audio_buffer&> &&
                        detail::boolean_result<std::invoke_result_t<F&, Subject&, audio_buffer&>>;

RTMPX_NAMESPACE_END
