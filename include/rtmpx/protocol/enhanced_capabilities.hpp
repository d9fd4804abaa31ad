// SPDX-License-Identifier: MIT
// Enhanced RTMP v2 capabilities: what a client declares in `connect` (fourCcList, the FourCC
// info maps, capsEx), reading and writing them, and what a server declares in its answer.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/protocol/enhanced.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol::enhanced {

/// FourCcInfoMask: what a client can do with a codec, in `videoFourCcInfoMap`/`audioFourCcInfoMap`.
namespace fourcc_info {
inline constexpr unsigned can_decode = 0x01;
inline constexpr unsigned can_encode = 0x02;
inline constexpr unsigned can_forward = 0x04;
} // namespace fourcc_info

/// CapsExMask: the extended capabilities in `connect`'s `capsEx`.
namespace caps_ex {
inline constexpr unsigned reconnect = 0x01;              ///< honours NetConnection.Connect.ReconnectRequest
inline constexpr unsigned multitrack = 0x02;             ///< reads multitrack messages
inline constexpr unsigned mod_ex = 0x04;                 ///< parses ModEx
inline constexpr unsigned timestamp_nano_offset = 0x08;  ///< uses TimestampOffsetNano
} // namespace caps_ex

/**
 * What a client declared about Enhanced RTMP in its `connect` command object: `fourCcList` (a
 * strict array; an ECMA array is tolerated), `videoFourCcInfoMap` and `audioFourCcInfoMap`
 * (FourCC or "*" to FourCcInfoMask flags) and `capsEx`. A legacy client declares none of them.
 */
struct capabilities {
    std::vector<std::string> fourcc_list;                      ///< as listed ("*": any codec)
    std::vector<std::pair<std::string, unsigned>> video_info;  ///< videoFourCcInfoMap, in order
    std::vector<std::pair<std::string, unsigned>> audio_info;  ///< audioFourCcInfoMap, in order
    unsigned caps_ex = 0;                                      ///< CapsExMask bits
    bool declared = false;  ///< any of the four was present: an Enhanced RTMP client

    /// Whether the client takes video in `codec`: listed in fourCcList (or "*"), or with any
    /// flag in videoFourCcInfoMap (or "*", whose flags override the codec's own).
    bool accepts_video(fourcc codec) const { return accepts(codec, video_info); }
    /// The same for audio, with audioFourCcInfoMap.
    bool accepts_audio(fourcc codec) const { return accepts(codec, audio_info); }
    /// Whether the client takes every codec ("*" in fourCcList, or in both info maps) and
    /// multitrack messages: a stream reaches it unchanged.
    bool takes_everything() const {
        if ((caps_ex & caps_ex::multitrack) == 0) return false;
        for (const auto& entry : fourcc_list)
            if (entry == "*") return true;
        return wildcard(video_info) && wildcard(audio_info);
    }

private:
    static bool wildcard(const std::vector<std::pair<std::string, unsigned>>& info) {
        for (const auto& entry : info)
            if (entry.first == "*") return entry.second != 0;
        return false;
    }
    bool accepts(fourcc codec, const std::vector<std::pair<std::string, unsigned>>& info) const {
        const std::string name = fourcc_text(codec);
        for (const auto& entry : fourcc_list)
            if (entry == "*" || entry == name) return true;
        const std::pair<std::string, unsigned>* own = nullptr;
        for (const auto& entry : info) {
            if (entry.first == "*") return entry.second != 0;
            if (entry.first == name) own = &entry;
        }
        return own != nullptr && own->second != 0;
    }
};

/// Reads what a `connect` command object declares (see `capabilities`); what does not have the
/// expected type is left out, never an error.
inline capabilities read_capabilities(const amf0::value& object) {
    capabilities caps;
    if (!object.has_properties()) return caps;
    if (const auto* list = object.find("fourCcList")) {
        caps.declared = true;
        if (list->is_strict_array()) {
            for (const auto& e : list->elements())
                if (e.is_string()) caps.fourcc_list.emplace_back(e.as_string());
        } else if (list->has_properties()) {  // an ECMA array of "0", "1", ... (a client's mistake)
            for (const auto& [key, e] : list->props())
                if (e.is_string()) caps.fourcc_list.emplace_back(e.as_string());
        }
    }
    const auto read_map = [&](const char* key, std::vector<std::pair<std::string, unsigned>>& out) {
        const auto* map = object.find(key);
        if (map == nullptr) return;
        caps.declared = true;
        if (!map->has_properties()) return;
        for (const auto& [name, flags] : map->props())
            if (flags.is_number() && flags.as_number() >= 0 && flags.as_number() < 4294967296.0)
                out.emplace_back(name, static_cast<unsigned>(flags.as_number()));
    };
    read_map("videoFourCcInfoMap", caps.video_info);
    read_map("audioFourCcInfoMap", caps.audio_info);
    if (const auto* caps_ex_value = object.find("capsEx")) {
        caps.declared = true;
        const double v = caps_ex_value->as_number();
        if (v >= 0 && v < 4294967296.0) caps.caps_ex = static_cast<unsigned>(v);
    }
    return caps;
}

/// What a client that forwards whatever it gets declares (rtmpx's publisher and puller): any
/// codec ("*"), reconnect requests, multitrack, ModEx and TimestampOffsetNano.
inline capabilities forwarder_capabilities() {
    capabilities caps;
    caps.fourcc_list = {"*"};
    caps.video_info = {{"*", fourcc_info::can_forward}};
    caps.audio_info = {{"*", fourcc_info::can_forward}};
    caps.caps_ex = caps_ex::reconnect | caps_ex::multitrack | caps_ex::mod_ex | caps_ex::timestamp_nano_offset;
    caps.declared = true;
    return caps;
}

/// The `connect` command object properties that declare `caps` (none when not `declared`):
/// fourCcList, videoFourCcInfoMap, audioFourCcInfoMap, capsEx.
inline amf0::properties capabilities_properties(const capabilities& caps) {
    amf0::properties props;
    if (!caps.declared) return props;
    std::vector<amf0::value> list;
    for (const auto& f : caps.fourcc_list) list.emplace_back(f);
    const auto map = [](const std::vector<std::pair<std::string, unsigned>>& info) {
        amf0::properties entries;
        for (const auto& [name, flags] : info) entries.emplace_back(name, amf0::value(flags));
        return amf0::value::object(std::move(entries));
    };
    props.emplace_back("fourCcList", amf0::value::strict_array(std::move(list)));
    props.emplace_back("videoFourCcInfoMap", map(caps.video_info));
    props.emplace_back("audioFourCcInfoMap", map(caps.audio_info));
    props.emplace_back("capsEx", amf0::value(caps.caps_ex));
    return props;
}

/// Adds a server's own declaration to the properties object of its `connect` `_result`: it
/// forwards any codec ("*": CanForward in both info maps) and has the `caps_ex` bits.
inline void declare_server_capabilities(amf0::value& properties, unsigned server_caps_ex) {
    properties.set("videoFourCcInfoMap", amf0::value::object({{"*", amf0::value(fourcc_info::can_forward)}}));
    properties.set("audioFourCcInfoMap", amf0::value::object({{"*", amf0::value(fourcc_info::can_forward)}}));
    properties.set("capsEx", amf0::value(server_caps_ex));
}

} // namespace protocol::enhanced
RTMPX_NAMESPACE_END
