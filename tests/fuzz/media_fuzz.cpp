// SPDX-License-Identifier: MIT
// Fuzz target: Enhanced RTMP audio and video tags (protocol/enhanced.hpp) and the FLV tag
// predicates built on them. The first byte picks video (even) or audio (odd); the rest is the tag.
// A tag that parses is written back and parsed again, and must read the same. Each tag then goes
// through a player whose client declared one codec and no Multitrack: what it sends parses, as a
// single-track message.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/player.hpp>

#include "fuzz_common.hpp"

namespace enh = rtmpx::protocol::enhanced;

namespace {

void check_same_tracks(const enh::tag_tracks& a, const enh::tag_tracks& b) {
    RTMPX_FUZZ_CHECK(a.multitrack == b.multitrack);
    RTMPX_FUZZ_CHECK(a.mode == b.mode);
    RTMPX_FUZZ_CHECK(a.timestamp_offset_nano == b.timestamp_offset_nano);
    RTMPX_FUZZ_CHECK(a.track_count == b.track_count);
    for (std::size_t i = 0; i < a.track_count; ++i) {
        const enh::track& x = a.tracks[i];
        const enh::track& y = b.tracks[i];
        RTMPX_FUZZ_CHECK(x.id == y.id);
        RTMPX_FUZZ_CHECK(x.composition_time == y.composition_time);
        RTMPX_FUZZ_CHECK(std::vector<std::byte>(x.data.begin(), x.data.end()) == std::vector<std::byte>(y.data.begin(), y.data.end()));
        // A one-codec layout writes the first track's FourCC for all of them.
        const bool own_codec = a.mode == enh::multitrack_mode::many_tracks_many_codecs || !a.multitrack;
        RTMPX_FUZZ_CHECK(own_codec ? x.codec == y.codec : y.codec == a.tracks[0].codec);
    }
}

void check_video(std::span<const std::byte> tag) {
    (void)rtmpx::protocol::flv::is_key_frame(tag);
    (void)rtmpx::protocol::flv::is_sequence_header(tag);
    (void)rtmpx::protocol::flv::is_complete_video_tag(tag);
    enh::video_tag parsed;
    if (enh::parse_video(tag, parsed)) return;
    RTMPX_FUZZ_CHECK(parsed.track_count <= enh::max_tracks);
    for (const enh::track& t : parsed.each()) {
        RTMPX_FUZZ_CHECK(t.data.empty() || (t.data.data() >= tag.data() && t.data.data() + t.data.size() <= tag.data() + tag.size()));
    }
    std::vector<std::byte> wire;
    enh::append_video(wire, parsed);
    enh::video_tag again;
    RTMPX_FUZZ_CHECK(!enh::parse_video(wire, again));
    RTMPX_FUZZ_CHECK(again.frame_type == parsed.frame_type);
    RTMPX_FUZZ_CHECK(again.packet == parsed.packet);
    RTMPX_FUZZ_CHECK(again.command == parsed.command);
    check_same_tracks(parsed, again);
}

void check_audio(std::span<const std::byte> tag) {
    (void)rtmpx::protocol::flv::is_audio_sequence_header(tag);
    (void)rtmpx::protocol::flv::is_complete_audio_tag(tag);
    enh::audio_tag parsed;
    if (enh::parse_audio(tag, parsed)) return;
    std::vector<std::byte> wire;
    enh::append_audio(wire, parsed);
    enh::audio_tag again;
    RTMPX_FUZZ_CHECK(!enh::parse_audio(wire, again));
    RTMPX_FUZZ_CHECK(again.packet == parsed.packet);
    check_same_tracks(parsed, again);
    if (parsed.packet == enh::audio_packet::multichannel_config) {
        for (const enh::track& t : parsed.each()) {
            enh::multichannel_config config;
            if (enh::parse_multichannel_config(t.data, config)) continue;
            std::vector<std::byte> bytes;
            enh::append_multichannel_config(bytes, config);
            RTMPX_FUZZ_CHECK(bytes.size() <= t.data.size());
            RTMPX_FUZZ_CHECK(std::equal(bytes.begin(), bytes.end(), t.data.begin()));
        }
    }
}

// A player of a client that takes av01 and Opus, without Multitrack: the tag (as a key frame, or
// as the configuration) is sent whole, as its default track, or refused; never malformed. Only
// tags that ingest admits (long enough for their header) reach a player.
void check_player(std::span<const std::byte> tag, bool video) {
    using namespace rtmpx::protocol;
    (void)flv::config_slot(tag, video);
    (void)flv::is_audio_config(tag);
    if (!(video ? flv::is_complete_video_tag(tag) : flv::is_complete_audio_tag(tag))) return;
    enh::capabilities caps;
    caps.fourcc_list = {"av01", "Opus"};
    caps.declared = true;
    auto frame = std::make_shared<media_frame>();
    frame->kind = video ? media_kind::video : media_kind::audio;
    frame->tag.assign(tag.begin(), tag.end());
    frame->key_frame = true;
    auto config = std::make_shared<stream_config>();
    (video ? config->sequence_header : config->audio_sequence_header) = std::make_shared<const std::vector<std::byte>>(frame->tag);
    frame->config = config;
    player p(1);
    p.start();
    p.set_capabilities(std::make_shared<const enh::capabilities>(caps));
    (void)p.write(frame, [&](const message_header& h, const std::shared_ptr<const std::vector<std::byte>>& body) {
        if (h.type != message_type::video && h.type != message_type::audio) return;
        RTMPX_FUZZ_CHECK(body && !body->empty());
        if (h.type == message_type::video && enh::is_enhanced_video(*body)) {
            enh::video_tag t;
            RTMPX_FUZZ_CHECK(!enh::parse_video(*body, t) && !t.multitrack);
        } else if (h.type == message_type::audio && enh::is_enhanced_audio(*body)) {
            enh::audio_tag t;
            RTMPX_FUZZ_CHECK(!enh::parse_audio(*body, t) && !t.multitrack);
        }
    });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // A copy of exactly the tag's size, so that reading past it is caught by ASan.
    const std::vector<std::byte> tag(reinterpret_cast<const std::byte*>(data) + 1, reinterpret_cast<const std::byte*>(data) + size);
    if ((data[0] & 1) == 0) {
        check_video(tag);
    } else {
        check_audio(tag);
    }
    check_player(tag, (data[0] & 1) == 0);
    return 0;
}
