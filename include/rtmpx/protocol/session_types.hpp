// SPDX-License-Identifier: MIT
// Types both RTMP sessions use: the time they are given, and what becomes of a remote call.
#pragma once

#include <chrono>
#include <system_error>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// A point in time as the sessions are given it; they never read a clock themselves.
using time_point = std::chrono::steady_clock::time_point;

/// How the owner of a session answers a remote call from the peer.
enum class call_outcome {
    ok,         ///< `_result` with the response
    refused,    ///< the handler said no: `_error` with its info object, or NetConnection.Call.Failed
    threw,      ///< the handler failed: `_error` NetConnection.Call.Failed
    not_found,  ///< no handler for the name: `_error` NetConnection.Call.Failed, "Method not found"
};

/// The peer's answer to a call the session made (or why there was none).
struct call_result {
    std::error_code error;             ///< set when there was no answer: timeout, closed, too many calls
    bool ok = false;                   ///< `_result` (true) or `_error` (false)
    amf0::value object;                ///< the answer's command object
    std::vector<amf0::value> values;   ///< the values after it
};

} // namespace protocol
RTMPX_NAMESPACE_END
