// SPDX-License-Identifier: MIT
// Typed commands (connect, createStream, play, publish, ...), their parser and the replies' builders.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
#include <rtmpx/protocol/messages.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

// ---------------------------------------------------------------------------------------------
// Typed commands a server receives (RTMP 1.0 §7.2.1-2 and the ones players send in practice).

/**
 * `connect`: the command object's well-known fields, typed, with the raw object and the user
 * arguments after it still available.
 */
struct connect_command {
    double transaction_id = 1;
    amf0::value object;                  ///< the whole command object
    std::vector<amf0::value> arguments;  ///< optional user arguments after it
    std::string app;
    std::string tc_url;
    std::string flash_ver;
    std::string swf_url;
    std::string page_url;
    double object_encoding = 0;  ///< 0 for AMF0, 3 for AMF3
    double capabilities = 0;
    double audio_codecs = 0;
    double video_codecs = 0;
    std::vector<std::string> fourcc_list;  ///< Enhanced RTMP codecs the client accepts (`enhanced.fourcc_list`)
    enhanced::capabilities enhanced;       ///< all the client declared about Enhanced RTMP
};
struct create_stream_command {
    double transaction_id = 0;
    amf0::value object;
};
/// `play`: start is -2 (live or recorded), -1 (live only) or a position in seconds.
struct play_command {
    double transaction_id = 0;
    std::string stream_name;
    double start = -2;
    double duration = -1;
    bool reset = true;
    bool stop = false;  ///< `play(false)`: stop playing instead
};
struct play2_command {
    double transaction_id = 0;
    amf0::value parameters;
};
struct pause_command {
    double transaction_id = 0;
    bool pause = true;
    double milliseconds = 0;
};
struct seek_command {
    double transaction_id = 0;
    double milliseconds = 0;
};
/// `deleteStream`: the stream id, or (as GStreamer's rtmp2sink sends it) the stream's name.
struct delete_stream_command {
    double transaction_id = 0;
    double stream_id = 0;
    std::string stream_name;  ///< set instead of `stream_id` when the argument is a string
};
struct close_stream_command {
    double transaction_id = 0;
};
struct receive_audio_command {
    double transaction_id = 0;
    bool enable = true;
};
struct receive_video_command {
    double transaction_id = 0;
    bool enable = true;
};
struct publish_command {
    double transaction_id = 0;
    std::string stream_name;
    std::string type = "live";
};
struct release_stream_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct fc_publish_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct fc_unpublish_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct fc_subscribe_command {
    double transaction_id = 0;
    std::string stream_name;
};
struct get_stream_length_command {
    double transaction_id = 0;
    std::string stream_name;
};
/// Any other command: a remote procedure call (or a reply such as `_result` to the server's own).
struct call_command {
    command cmd;
};

using typed_command =
    std::variant<connect_command, create_stream_command, play_command, play2_command, pause_command, seek_command,
                 delete_stream_command, close_stream_command, receive_audio_command, receive_video_command,
                 publish_command, release_stream_command, fc_publish_command, fc_unpublish_command,
                 fc_subscribe_command, get_stream_length_command, call_command>;

namespace wire {

inline const amf0::value& argument(const command& c, std::size_t i) {
    static const amf0::value null_value;
    return i < c.arguments.size() ? c.arguments[i] : null_value;
}

inline bool string_argument(const command& c, std::size_t i, std::string& out, std::error_code& ec) {
    const auto& v = argument(c, i);
    if (!v.is_string()) {
        ec = error::message_malformed;
        return false;
    }
    out = std::string(v.as_string());
    return true;
}

} // namespace wire

/**
 * Types a command by its name. Names that are not standard commands become `call_command`.
 *
 * Errors: `error::message_malformed` when a standard command lacks a required argument
 * (play without a stream name, pause without its flag, ...).
 */
inline typed_command parse_command(command c, std::error_code& ec) {
    ec.clear();
    const double txn = c.transaction_id;
    const auto& name = c.name;
    if (name == "connect") {
        connect_command cc;
        cc.transaction_id = txn;
        if (!c.object.has_properties()) {
            ec = error::message_malformed;
            return cc;
        }
        const auto& o = c.object;
        cc.app = std::string(o["app"].as_string());
        cc.tc_url = std::string(o["tcUrl"].as_string());
        cc.flash_ver = std::string(o["flashVer"].as_string());
        cc.swf_url = std::string(o["swfUrl"].as_string());
        cc.page_url = std::string(o["pageUrl"].as_string());
        cc.object_encoding = o["objectEncoding"].as_number();
        cc.capabilities = o["capabilities"].as_number();
        cc.audio_codecs = o["audioCodecs"].as_number();
        cc.video_codecs = o["videoCodecs"].as_number();
        cc.enhanced = enhanced::read_capabilities(o);
        cc.fourcc_list = cc.enhanced.fourcc_list;
        cc.object = std::move(c.object);
        cc.arguments = std::move(c.arguments);
        return cc;
    }
    if (name == "createStream") return create_stream_command{txn, std::move(c.object)};
    if (name == "play") {
        play_command p;
        p.transaction_id = txn;
        if (const auto& first = wire::argument(c, 0); first.is_boolean() && !first.as_bool()) {
            p.stop = true;
            return p;
        }
        if (!wire::string_argument(c, 0, p.stream_name, ec)) return p;
        if (const auto& v = wire::argument(c, 1); v.is_number()) p.start = v.as_number();
        if (const auto& v = wire::argument(c, 2); v.is_number()) p.duration = v.as_number();
        if (const auto& v = wire::argument(c, 3); v.is_boolean()) p.reset = v.as_bool();
        return p;
    }
    if (name == "play2") return play2_command{txn, wire::argument(c, 0)};
    if (name == "pause") {
        const auto& flag = wire::argument(c, 0);
        if (!flag.is_boolean()) {
            ec = error::message_malformed;
            return pause_command{txn, false, 0};
        }
        return pause_command{txn, flag.as_bool(), wire::argument(c, 1).as_number()};
    }
    if (name == "seek") return seek_command{txn, wire::argument(c, 0).as_number()};
    if (name == "deleteStream") {
        const auto& id = wire::argument(c, 0);
        if (id.is_string()) return delete_stream_command{txn, 0, std::string(id.as_string())};
        if (!id.is_number()) ec = error::message_malformed;
        return delete_stream_command{txn, id.as_number(), {}};
    }
    if (name == "closeStream") return close_stream_command{txn};
    if (name == "receiveAudio") return receive_audio_command{txn, wire::argument(c, 0).as_bool(true)};
    if (name == "receiveVideo") return receive_video_command{txn, wire::argument(c, 0).as_bool(true)};
    if (name == "publish") {
        publish_command p;
        p.transaction_id = txn;
        if (!wire::string_argument(c, 0, p.stream_name, ec)) return p;
        if (const auto& v = wire::argument(c, 1); v.is_string()) p.type = std::string(v.as_string());
        return p;
    }
    auto named = [&](auto cmd) {
        cmd.transaction_id = txn;
        wire::string_argument(c, 0, cmd.stream_name, ec);
        return cmd;
    };
    if (name == "releaseStream") return named(release_stream_command{});
    if (name == "FCPublish") return named(fc_publish_command{});
    if (name == "FCUnpublish") return named(fc_unpublish_command{});
    if (name == "FCSubscribe") return named(fc_subscribe_command{});
    if (name == "getStreamLength") return named(get_stream_length_command{});
    return call_command{std::move(c)};
}

// ---------------------------------------------------------------------------------------------
// Builders for what a server sends.

/// An info object {level, code, description} as onStatus and _error carry (RTMP 1.0 §7.2.2).
inline amf0::value status_info(std::string_view level, std::string_view code, std::string_view description) {
    return amf0::value::object({{"level", amf0::value(level)},
                                {"code", amf0::value(code)},
                                {"description", amf0::value(description)}});
}

/// `_result` for transaction `txn`: the command object (often null) and the values after it.
inline command make_result(double txn, amf0::value object = amf0::value::null(),
                           std::vector<amf0::value> arguments = {}) {
    return command{"_result", txn, std::move(object), std::move(arguments)};
}

/// `_error` for transaction `txn`, carrying an info object.
inline command make_error(double txn, amf0::value info, amf0::value object = amf0::value::null()) {
    return command{"_error", txn, std::move(object), {std::move(info)}};
}

/// The info object of a failed remote call (NetConnection.Call.Failed), saying why.
inline amf0::value call_failure_info(call_outcome outcome, std::string_view name) {
    const std::string text = outcome == call_outcome::not_found ? fmt::format("Method not found ({}).", name)
                             : outcome == call_outcome::threw   ? fmt::format("The handler of {} failed.", name)
                                                                : fmt::format("Call to {} failed.", name);
    return status_info("error", "NetConnection.Call.Failed", text);
}

/// `onStatus` with transaction id 0, a null command object and the info object.
inline command make_on_status(amf0::value info) { return command{"onStatus", 0, amf0::value::null(), {std::move(info)}}; }

/// `onStatus` built from level, code and description.
inline command make_on_status(std::string_view level, std::string_view code, std::string_view description) {
    return make_on_status(status_info(level, code, description));
}

/**
 * `onStatus` NetConnection.Connect.ReconnectRequest (Enhanced RTMP v2, "Reconnect Request"): the
 * server asks the client to connect again, to `tc_url` when it is not empty (else to the same
 * tcUrl). Sent on message stream 0, transaction 0, to clients that declared `caps_ex::reconnect`.
 */
inline command make_reconnect_request(std::string_view tc_url, std::string_view description) {
    amf0::value info = status_info("status", "NetConnection.Connect.ReconnectRequest", description);
    if (!tc_url.empty()) info.set("tcUrl", amf0::value(tc_url));
    return make_on_status(std::move(info));
}

/// `onMetaData` carrying an ECMA array (players read stream properties from it).
inline data_message make_on_metadata(amf0::value ecma_array) { return data_message{"onMetaData", {std::move(ecma_array)}}; }

/// What rtmpx declares in its `connect` `_result` to an Enhanced RTMP client: it sends reconnect
/// requests (a drain), reads multitrack messages, ModEx and TimestampOffsetNano (and passes them
/// on), and forwards any codec.
inline constexpr unsigned server_caps_ex = enhanced::caps_ex::reconnect | enhanced::caps_ex::multitrack |
                                           enhanced::caps_ex::mod_ex | enhanced::caps_ex::timestamp_nano_offset;

/// The `_result` of a successful `connect` as players expect it (fmsVer, capabilities, and the
/// NetConnection.Connect.Success info object with the client's objectEncoding echoed). To a
/// client that declared Enhanced RTMP (`client.declared`), the server's own declaration too.
inline command make_connect_result(double txn, double object_encoding, const enhanced::capabilities& client = {}) {
    auto props = amf0::value::object({{"fmsVer", amf0::value("FMS/3,0,1,123")}, {"capabilities", amf0::value(31)}});
    if (client.declared) enhanced::declare_server_capabilities(props, server_caps_ex);
    auto info = status_info("status", "NetConnection.Connect.Success", "Connection succeeded.");
    info.set("objectEncoding", amf0::value(object_encoding));
    return make_result(txn, std::move(props), {std::move(info)});
}

} // namespace protocol
RTMPX_NAMESPACE_END
