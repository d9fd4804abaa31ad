// SPDX-License-Identifier: MIT
// Tests for protocol/enhanced.hpp: Enhanced RTMP v2 video and audio tags as byte tables (each
// parsed, and written back to the same bytes), the errors, MultichannelConfig, FourCC codec ids,
// and every tag of a real Enhanced FLV file (AV1 and Opus).
#include <doctest/doctest.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/enhanced_capabilities.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/gop_cache.hpp>
#include <rtmpx/protocol/player.hpp>

#include "../support.hpp"

namespace enh = rtmpx::protocol::enhanced;
using rtmpx_test::bytes;

namespace {

std::vector<std::byte> written(const enh::video_tag& t) {
    std::vector<std::byte> out;
    enh::append_video(out, t);
    return out;
}

std::vector<std::byte> written(const enh::audio_tag& t) {
    std::vector<std::byte> out;
    enh::append_audio(out, t);
    return out;
}

std::vector<std::byte> data_of(const enh::track& t) { return {t.data.begin(), t.data.end()}; }

// The wire of each parsed table lives as long as the tests: a tag's tracks point into it.
const std::vector<std::byte>& kept(std::vector<std::byte> wire) {
    static std::deque<std::vector<std::byte>> all;
    return all.emplace_back(std::move(wire));
}

// A video message that must parse; checks that writing it back gives the same bytes.
enh::video_tag video(std::vector<std::byte> message, bool same_bytes = true) {
    const auto& wire = kept(std::move(message));
    enh::video_tag t;
    const std::error_code ec = enh::parse_video(wire, t);
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    if (same_bytes) CHECK(written(t) == wire);
    return t;
}

enh::audio_tag audio(std::vector<std::byte> message, bool same_bytes = true) {
    const auto& wire = kept(std::move(message));
    enh::audio_tag t;
    const std::error_code ec = enh::parse_audio(wire, t);
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    if (same_bytes) CHECK(written(t) == wire);
    return t;
}

std::error_code video_error(const std::vector<std::byte>& wire) {
    enh::video_tag t;
    return enh::parse_video(wire, t);
}

std::error_code audio_error(const std::vector<std::byte>& wire) {
    enh::audio_tag t;
    return enh::parse_audio(wire, t);
}

} // namespace

TEST_SUITE("enhanced") {
    TEST_CASE("FourCCs: big-endian numbers, as text, and as onMetaData codec ids") {
        CHECK(enh::video_fourcc::av1 == 0x61763031u);
        CHECK(enh::audio_fourcc::opus == 0x4f707573u);
        CHECK(enh::audio_fourcc::mp3 == 0x2e6d7033u);
        CHECK(enh::fourcc_text(enh::video_fourcc::hevc) == "hvc1");
        CHECK(enh::fourcc_text(0x61000102u) == "a???");
        CHECK(enh::parse_fourcc("vp09") == enh::video_fourcc::vp9);
        CHECK_FALSE(enh::parse_fourcc("vp9").has_value());
        CHECK(enh::metadata_codec_id(enh::video_fourcc::av1) == 1635135537.0);
        CHECK(enh::fourcc_of_metadata_codec_id(1635135537.0) == enh::video_fourcc::av1);
        CHECK_FALSE(enh::fourcc_of_metadata_codec_id(7.0).has_value());   // legacy AVC
        CHECK_FALSE(enh::fourcc_of_metadata_codec_id(10.0).has_value());  // legacy AAC
        CHECK_FALSE(enh::fourcc_of_metadata_codec_id(1.5e3 + 0.5).has_value());
        CHECK_FALSE(enh::fourcc_of_metadata_codec_id(5e9).has_value());
    }

    TEST_CASE("video, one track: SequenceStart, CodedFrames with and without a composition time, CodedFramesX, SequenceEnd") {
        auto t = video(bytes({0x90, 'a', 'v', '0', '1', 0x81, 0x0c}));
        CHECK(t.frame_type == 1);
        CHECK(t.packet == enh::video_packet::sequence_start);
        CHECK_FALSE(t.multitrack);
        REQUIRE(t.track_count == 1);
        CHECK(t.tracks[0].codec == enh::video_fourcc::av1);
        CHECK(t.tracks[0].id == 0);
        CHECK(data_of(t.tracks[0]) == bytes({0x81, 0x0c}));

        t = video(bytes({0xa1, 'a', 'v', '0', '1', 0x12, 0x00}));  // AV1 coded frames: no composition time
        CHECK(t.frame_type == 2);
        CHECK(t.tracks[0].composition_time == 0);
        CHECK(data_of(t.tracks[0]) == bytes({0x12, 0x00}));

        t = video(bytes({0x91, 'h', 'v', 'c', '1', 0x00, 0x00, 0x21, 0x26, 0x01}));  // HEVC: SI24 first
        CHECK(t.tracks[0].composition_time == 33);
        CHECK(data_of(t.tracks[0]) == bytes({0x26, 0x01}));
        t = video(bytes({0xa1, 'a', 'v', 'c', '1', 0xff, 0xff, 0xfe, 0x41}));
        CHECK(t.tracks[0].composition_time == -2);

        t = video(bytes({0xa3, 'a', 'v', 'c', '1', 0x41, 0x9a}));  // CodedFramesX: implied zero
        CHECK(t.packet == enh::video_packet::coded_frames_x);
        CHECK(data_of(t.tracks[0]) == bytes({0x41, 0x9a}));

        t = video(bytes({0x92, 'v', 'p', '0', '9'}));
        CHECK(t.packet == enh::video_packet::sequence_end);
        CHECK(t.tracks[0].codec == enh::video_fourcc::vp9);
        CHECK(t.tracks[0].data.empty());
    }

    TEST_CASE("video: a Metadata frame (AMF), and a command frame (no FourCC, no data)") {
        std::vector<std::byte> wire = bytes({0x94, 'a', 'v', '0', '1'});
        const auto amf = rtmpx::amf0::encode(rtmpx::amf0::value("colorInfo"));
        wire.insert(wire.end(), amf.begin(), amf.end());
        auto t = video(wire);
        CHECK(t.packet == enh::video_packet::metadata);
        CHECK(data_of(t.tracks[0]) == amf);

        t = video(bytes({0xd1, 0x01}));  // frame type 5 (command), CodedFrames: VideoCommand 1 (EndSeek)
        CHECK(t.frame_type == enh::command_frame);
        CHECK(t.command == std::uint8_t{1});
        CHECK(t.track_count == 0);
        CHECK(video_error(bytes({0xd1})) == rtmpx::error::enhanced_malformed);
        t = video(bytes({0xd4, 'a', 'v', '0', '1'}));  // a Metadata packet ignores the frame type
        CHECK_FALSE(t.command.has_value());
        CHECK(t.packet == enh::video_packet::metadata);
    }

    TEST_CASE("video ModEx: TimestampOffsetNano with a UI8 or a UI16 size; unknown ModEx types skipped") {
        auto t = video(bytes({0x97, 0x02, 0x0f, 0x42, 0x3f, 0x01, 'a', 'v', '0', '1', 0xaa}));
        CHECK(t.timestamp_offset_nano == 999999u);
        CHECK(t.packet == enh::video_packet::coded_frames);
        CHECK(t.frame_type == 1);
        CHECK(data_of(t.tracks[0]) == bytes({0xaa}));

        // UI8 255 means "256 or more": a UI16 + 1 follows (here 3 bytes).
        t = video(bytes({0x97, 0xff, 0x00, 0x02, 0x00, 0x00, 0x07, 0x00, 'a', 'v', '0', '1'}), false);
        CHECK(t.timestamp_offset_nano == 7u);
        CHECK(t.packet == enh::video_packet::sequence_start);

        // ModEx type 1 (reserved) with one byte, then TimestampOffsetNano, then CodedFrames.
        t = video(bytes({0xa7, 0x00, 0x55, 0x17, 0x02, 0x00, 0x01, 0x00, 0x01, 'v', 'p', '0', '9'}), false);
        CHECK(t.timestamp_offset_nano == 256u);
        CHECK(t.packet == enh::video_packet::coded_frames);
        t = video(bytes({0xa7, 0x00, 0x55, 0x11, 'v', 'p', '0', '9'}), false);
        CHECK_FALSE(t.timestamp_offset_nano.has_value());

        CHECK(video_error(bytes({0x97, 0x01, 0x00, 0x01, 0x01, 'a', 'v', '0', '1'})) == rtmpx::error::enhanced_malformed);  // 2 bytes
        CHECK(video_error(bytes({0x97, 0x02, 0x00, 0x00})) == rtmpx::error::enhanced_malformed);  // truncated
    }

    TEST_CASE("video multitrack: one track, many tracks, many tracks with many codecs") {
        auto t = video(bytes({0x96, 0x01, 'a', 'v', '0', '1', 0x02, 0xaa, 0xbb}));  // OneTrack: an id, no size
        CHECK(t.multitrack);
        CHECK(t.mode == enh::multitrack_mode::one_track);
        CHECK(t.packet == enh::video_packet::coded_frames);
        REQUIRE(t.track_count == 1);
        CHECK(t.tracks[0].id == 2);
        CHECK(data_of(t.tracks[0]) == bytes({0xaa, 0xbb}));

        t = video(bytes({0x90 | 0x06, 0x10, 'a', 'v', '0', '1',  //
                         0x00, 0x00, 0x00, 0x02, 0x0a, 0x0b,    // track 0: 2 bytes
                         0x01, 0x00, 0x00, 0x01, 0x0c}));       // track 1: 1 byte
        CHECK(t.mode == enh::multitrack_mode::many_tracks);
        CHECK(t.packet == enh::video_packet::sequence_start);
        REQUIRE(t.track_count == 2);
        CHECK(t.tracks[0].codec == enh::video_fourcc::av1);
        CHECK(t.tracks[1].codec == enh::video_fourcc::av1);
        CHECK(t.tracks[1].id == 1);
        CHECK(data_of(t.tracks[0]) == bytes({0x0a, 0x0b}));
        CHECK(data_of(t.tracks[1]) == bytes({0x0c}));

        // ManyTracksManyCodecs: each track its FourCC; an hvc1 track's size covers its SI24.
        t = video(bytes({0x96, 0x21,                                                     //
                         'a', 'v', '0', '1', 0x00, 0x00, 0x00, 0x01, 0xaa,              //
                         'h', 'v', 'c', '1', 0x05, 0x00, 0x00, 0x04, 0x00, 0x00, 0x10, 0xbb}));
        CHECK(t.mode == enh::multitrack_mode::many_tracks_many_codecs);
        REQUIRE(t.track_count == 2);
        CHECK(t.tracks[0].codec == enh::video_fourcc::av1);
        CHECK(t.tracks[1].codec == enh::video_fourcc::hevc);
        CHECK(t.tracks[1].id == 5);
        CHECK(t.tracks[1].composition_time == 16);
        CHECK(data_of(t.tracks[1]) == bytes({0xbb}));

        // ModEx before Multitrack.
        t = video(bytes({0x97, 0x02, 0x00, 0x00, 0x09, 0x06, 0x01, 'a', 'v', '0', '1', 0x00, 0xcc}));
        CHECK(t.timestamp_offset_nano == 9u);
        CHECK(t.multitrack);
        CHECK(data_of(t.tracks[0]) == bytes({0xcc}));
    }

    TEST_CASE("video errors: not Enhanced, truncated, a track past the end, reserved values, too many tracks") {
        using rtmpx::error;
        CHECK(video_error({}) == error::enhanced_malformed);
        CHECK(video_error(bytes({0x17, 0x01, 0, 0, 0})) == error::enhanced_malformed);  // legacy AVC
        CHECK(video_error(bytes({0x90, 'a', 'v'})) == error::enhanced_malformed);
        CHECK(video_error(bytes({0x91, 'h', 'v', 'c', '1', 0x00})) == error::enhanced_malformed);  // no room for the SI24
        CHECK(video_error(bytes({0x96, 0x10, 'a', 'v', '0', '1', 0x00, 0x00, 0x00, 0x05, 0xaa})) == error::enhanced_malformed);
        CHECK(video_error(bytes({0x96, 0x10, 'a', 'v', '0', '1', 0x00, 0x00})) == error::enhanced_malformed);
        CHECK(video_error(bytes({0x98, 'a', 'v', '0', '1'})) == error::enhanced_unsupported);        // packet type 8
        CHECK(video_error(bytes({0x96, 0x30, 'a', 'v', '0', '1'})) == error::enhanced_unsupported);  // layout 3
        CHECK(video_error(bytes({0x96, 0x06, 'a', 'v', '0', '1'})) == error::enhanced_unsupported);  // Multitrack in Multitrack
        CHECK(video_error(bytes({0x96, 0x07, 'a', 'v', '0', '1'})) == error::enhanced_unsupported);
        CHECK(rtmpx::make_error_code(error::too_many_tracks) == rtmpx::condition::limit_exceeded);

        std::vector<std::byte> wire = bytes({0x96, 0x11, 'a', 'v', '0', '1'});
        for (int id = 0; id <= static_cast<int>(enh::max_tracks); ++id) {  // one more than allowed
            const auto track = bytes({id, 0x00, 0x00, 0x01, 0xee});
            wire.insert(wire.end(), track.begin(), track.end());
        }
        CHECK(video_error(wire) == error::too_many_tracks);
        wire.resize(wire.size() - 5);  // exactly max_tracks
        const auto t = video(wire);
        CHECK(t.track_count == enh::max_tracks);
    }

    TEST_CASE("audio: Opus SequenceStart and CodedFrames, MultichannelConfig, ModEx, multitrack, errors") {
        auto t = audio(bytes({0x90, 'O', 'p', 'u', 's', 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'}));
        CHECK(t.packet == enh::audio_packet::sequence_start);
        CHECK(t.tracks[0].codec == enh::audio_fourcc::opus);
        t = audio(bytes({0x91, 'f', 'L', 'a', 'C', 0xff, 0xf8}));
        CHECK(t.packet == enh::audio_packet::coded_frames);
        CHECK(t.tracks[0].codec == enh::audio_fourcc::flac);
        CHECK(data_of(t.tracks[0]) == bytes({0xff, 0xf8}));

        t = audio(bytes({0x94, 'O', 'p', 'u', 's', 0x02, 0x02, 0x01, 0x00}));
        CHECK(t.packet == enh::audio_packet::multichannel_config);
        enh::multichannel_config mc;
        REQUIRE_FALSE(enh::parse_multichannel_config(t.tracks[0].data, mc));
        CHECK(mc.order == 2);
        CHECK(mc.channel_count == 2);
        CHECK(std::vector<std::byte>(mc.mapping.begin(), mc.mapping.end()) == bytes({0x01, 0x00}));  // right, left
        std::vector<std::byte> again;
        enh::append_multichannel_config(again, mc);
        CHECK(again == bytes({0x02, 0x02, 0x01, 0x00}));
        REQUIRE_FALSE(enh::parse_multichannel_config(bytes({0x01, 0x06, 0x00, 0x00, 0x00, 0x3f}), mc));
        CHECK(mc.flags == 0x3fu);  // 5.1 as native flags
        REQUIRE_FALSE(enh::parse_multichannel_config(bytes({0x00, 0x02}), mc));
        CHECK(enh::parse_multichannel_config(bytes({0x02, 0x03, 0x00}), mc) == rtmpx::error::enhanced_malformed);

        t = audio(bytes({0x97, 0x02, 0x00, 0x00, 0x01, 0x01, 'a', 'c', '-', '3', 0x0b, 0x77}));
        CHECK(t.timestamp_offset_nano == 1u);
        CHECK(t.tracks[0].codec == enh::audio_fourcc::ac3);

        t = audio(bytes({0x95, 0x21, 'm', 'p', '4', 'a', 0x00, 0x00, 0x00, 0x01, 0x21,  //
                         '.', 'm', 'p', '3', 0x01, 0x00, 0x00, 0x02, 0xff, 0xfb}));
        CHECK(t.multitrack);
        REQUIRE(t.track_count == 2);
        CHECK(t.tracks[0].codec == enh::audio_fourcc::aac);
        CHECK(t.tracks[1].codec == enh::audio_fourcc::mp3);
        CHECK(data_of(t.tracks[1]) == bytes({0xff, 0xfb}));

        CHECK(audio_error(bytes({0xaf, 0x01, 0x21})) == rtmpx::error::enhanced_malformed);  // legacy AAC
        CHECK(audio_error(bytes({0x93, 'O', 'p', 'u', 's'})) == rtmpx::error::enhanced_unsupported);  // reserved 3
        CHECK(audio_error(bytes({0x95, 0x05, 'O', 'p', 'u', 's'})) == rtmpx::error::enhanced_unsupported);
        CHECK(audio_error(bytes({0x95, 0x11, 'O', 'p', 'u', 's', 0x00, 0x00, 0x00, 0x09})) == rtmpx::error::enhanced_malformed);
    }

    TEST_CASE("a real Enhanced FLV file (AV1 and Opus): every tag parses, and writes back to its own bytes") {
        const std::vector<std::byte> file = rtmpx_test::load_fixture("eflv/testsrc.flv");
        REQUIRE(file.size() > 13);
        std::size_t at = 13;  // FLV header and the first PreviousTagSize
        int video_tags = 0, audio_tags = 0, video_starts = 0, audio_starts = 0, metadata_frames = 0, multichannel = 0, key_frames = 0;
        while (at + 11 <= file.size()) {
            const auto type = rtmpx::detail::u8(file[at]);
            const std::size_t size = rtmpx::detail::load_be24(std::span(file).subspan(at + 1, 3));
            REQUIRE(at + 11 + size + 4 <= file.size());
            const std::span<const std::byte> body(file.data() + at + 11, size);
            const std::vector<std::byte> wire(body.begin(), body.end());
            if (type == 9) {
                ++video_tags;
                REQUIRE(enh::is_enhanced_video(body));
                enh::video_tag t;
                REQUIRE_FALSE(enh::parse_video(body, t));
                REQUIRE(t.track_count == 1);
                CHECK(t.tracks[0].codec == enh::video_fourcc::av1);
                CHECK(written(t) == wire);
                if (t.packet == enh::video_packet::sequence_start) ++video_starts;
                if (t.packet == enh::video_packet::coded_frames && t.frame_type == 1) ++key_frames;
                if (t.packet == enh::video_packet::metadata) {  // sent with frame type 5, which it ignores
                    CHECK_FALSE(t.command.has_value());
                    ++metadata_frames;
                    std::vector<rtmpx::amf0::value> values;
                    std::error_code ec;
                    REQUIRE(rtmpx::amf0::decode_all(t.tracks[0].data, values, ec));
                    REQUIRE(values.size() == 2);
                    CHECK(values[0].as_string() == "colorInfo");
                }
            } else if (type == 8) {
                ++audio_tags;
                REQUIRE(enh::is_enhanced_audio(body));
                enh::audio_tag t;
                REQUIRE_FALSE(enh::parse_audio(body, t));
                REQUIRE(t.track_count == 1);
                CHECK(t.tracks[0].codec == enh::audio_fourcc::opus);
                CHECK(written(t) == wire);
                if (t.packet == enh::audio_packet::sequence_start) ++audio_starts;
                if (t.packet == enh::audio_packet::multichannel_config) {
                    ++multichannel;
                    enh::multichannel_config mc;
                    CHECK_FALSE(enh::parse_multichannel_config(t.tracks[0].data, mc));
                    CHECK(mc.order == 1);  // native: a channel mask
                    CHECK(mc.channel_count == 1);
                    CHECK(mc.flags == 0x04u);  // front centre
                }
            }
            at += 11 + size + 4;
        }
        CHECK(at == file.size());
        CHECK(video_tags > 100);
        CHECK(audio_tags > 100);
        CHECK(video_starts == 2);  // an empty one, then one with the av1C record
        CHECK(audio_starts == 1);  // Opus's ID header
        CHECK(metadata_frames >= 1);
        CHECK(multichannel >= 1);
        CHECK(key_frames >= 1);
    }

    TEST_CASE("relay: a Metadata frame is no key frame, reaches a player before its first key frame, and opens each cached group") {
        using namespace rtmpx::protocol;
        const auto frame = [](std::vector<std::byte> tag, std::uint32_t timestamp) {
            auto f = std::make_shared<media_frame>();
            f->kind = media_kind::video;
            f->timestamp = timestamp;
            f->key_frame = flv::is_key_frame(tag);
            f->info_frame = !f->key_frame && flv::is_video_info_frame(tag);
            f->tag = std::move(tag);
            return shared_frame(std::move(f));
        };
        // Frame type 1 on a Metadata frame means nothing: "colorInfo", undefined (a reset).
        const auto info = frame(bytes({0x94, 'a', 'v', '0', '1', 0x02, 0x00, 0x09, 'c', 'o', 'l', 'o', 'r', 'I', 'n', 'f', 'o', 0x06}), 7);
        const auto key = frame(bytes({0x91, 'a', 'v', '0', '1', 0x12, 0x00}), 7);
        const auto inter = frame(bytes({0xa1, 'a', 'v', '0', '1', 0x30}), 40);
        const auto key2 = frame(bytes({0x91, 'a', 'v', '0', '1', 0x12, 0x01}), 1000);
        CHECK(info->info_frame);
        CHECK_FALSE(info->key_frame);
        CHECK(key->key_frame);
        CHECK_FALSE(key->info_frame);

        gop_cache gop(100, 1u << 20);
        gop.add(info);
        CHECK(gop.frames().empty());  // no group before a key frame; the info frame is kept
        gop.add(key);
        gop.add(inter);
        REQUIRE(gop.frames().size() == 3);
        CHECK(gop.frames()[0]->info_frame);
        CHECK(gop.frames()[0]->tag == info->tag);
        CHECK(gop.frames()[1] == key);
        gop.add(key2);
        REQUIRE(gop.frames().size() == 2);  // the latest info frame opens the new group, at its key frame's time
        CHECK(gop.frames()[0]->tag == info->tag);
        CHECK(gop.frames()[0]->timestamp == 1000);
        CHECK(gop.frames()[1] == key2);
        gop.reset();  // a new publisher: its own colorInfo or none
        gop.add(key2);
        CHECK(gop.frames().size() == 1);

        player p(1);
        p.start();
        std::vector<std::vector<std::byte>> sent;
        const auto emit = [&](const message_header&, const std::shared_ptr<const std::vector<std::byte>>& payload) {
            sent.push_back(*payload);
        };
        CHECK(p.write(inter, emit) == player::outcome::dropped);
        CHECK(p.write(info, emit) == player::outcome::sent);
        CHECK(p.write(inter, emit) == player::outcome::dropped);  // still waiting for a key frame
        CHECK(p.write(key, emit) == player::outcome::sent);
        CHECK(p.write(inter, emit) == player::outcome::sent);
        REQUIRE(sent.size() == 3);
        CHECK(sent[0] == info->tag);
        CHECK(sent[1] == key->tag);
    }
}

namespace {

using namespace rtmpx::protocol;

using payload = std::shared_ptr<const std::vector<std::byte>>;

payload shared_bytes(std::vector<std::byte> b) { return std::make_shared<const std::vector<std::byte>>(std::move(b)); }

shared_frame media(media_kind kind, std::vector<std::byte> tag, std::uint32_t timestamp, std::shared_ptr<const stream_config> config) {
    auto f = std::make_shared<media_frame>();
    f->kind = kind;
    f->timestamp = timestamp;
    f->key_frame = kind == media_kind::video && flv::is_key_frame(tag);
    f->tag = std::move(tag);
    f->config = std::move(config);
    return f;
}

// What a player sent: each message's type and body.
struct recording {
    std::vector<std::pair<message_type, std::vector<std::byte>>> sent;
    auto emitter() {
        return [this](const message_header& h, const payload& body) { sent.emplace_back(h.type, *body); };
    }
    // The onStatus codes and descriptions among them.
    std::vector<std::pair<std::string, std::string>> statuses() const {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& [type, body] : sent) {
            if (type != message_type::command_amf0) continue;
            std::vector<rtmpx::amf0::value> values;
            std::error_code ec;
            if (!rtmpx::amf0::decode_all(body, values, ec) || values.size() < 4 || !values[3].has_properties()) continue;
            out.emplace_back(std::string(values[3].find("code")->as_string()), std::string(values[3].find("description")->as_string()));
        }
        return out;
    }
};

enh::capabilities declaring(std::vector<std::string> fourccs, unsigned caps_ex = 0) {
    enh::capabilities caps;
    caps.fourcc_list = std::move(fourccs);
    caps.caps_ex = caps_ex;
    caps.declared = true;
    return caps;
}

const auto av1_start = bytes({0x90, 'a', 'v', '0', '1', 0x81, 0x00, 0x0c, 0x00});
const auto opus_start = bytes({0x90, 'O', 'p', 'u', 's', 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'});
const auto av1_key = bytes({0x91, 'a', 'v', '0', '1', 0x12, 0x00});
const auto opus_frame = bytes({0x91, 'O', 'p', 'u', 's', 0xf8});

std::shared_ptr<const stream_config> av1_opus_config() {
    auto c = std::make_shared<stream_config>();
    c->sequence_header = shared_bytes(av1_start);
    c->audio_sequence_header = shared_bytes(opus_start);
    return c;
}

} // namespace

TEST_SUITE("enhanced") {
    TEST_CASE("the default track of a multitrack message, as a message of its own") {
        // ManyTracks: track 1 first, then track 0; ModEx kept.
        auto t = video(bytes({0x97, 0x02, 0x00, 0x00, 0x09, 0x06, 0x11, 'a', 'v', '0', '1',  //
                              0x01, 0x00, 0x00, 0x01, 0x0c,                                  // track 1
                              0x00, 0x00, 0x00, 0x02, 0x0a, 0x0b}));                         // track 0
        REQUIRE(enh::keep_default_track(t));
        CHECK(written(t) == bytes({0x97, 0x02, 0x00, 0x00, 0x09, 0x01, 'a', 'v', '0', '1', 0x0a, 0x0b}));
        auto many = audio(bytes({0x95, 0x21, 'm', 'p', '4', 'a', 0x03, 0x00, 0x00, 0x01, 0x21,  //
                                 'O', 'p', 'u', 's', 0x00, 0x00, 0x00, 0x01, 0xf8}));
        REQUIRE(enh::keep_default_track(many));
        CHECK(written(many) == bytes({0x91, 'O', 'p', 'u', 's', 0xf8}));
        auto no_default = video(bytes({0x96, 0x01, 'a', 'v', '0', '1', 0x02, 0xaa, 0xbb}));
        CHECK_FALSE(enh::keep_default_track(no_default));
        auto single = video(av1_key);
        REQUIRE(enh::keep_default_track(single));  // not multitrack: as it was
        CHECK(written(single) == av1_key);
    }

    TEST_CASE("capabilities: who takes a stream unchanged") {
        CHECK(enh::forwarder_capabilities().takes_everything());
        CHECK_FALSE(declaring({"*"}).takes_everything());  // no Multitrack
        CHECK(declaring({"*"}, enh::caps_ex::multitrack).takes_everything());
        CHECK_FALSE(declaring({"av01", "Opus"}, enh::caps_ex::multitrack).takes_everything());
        auto maps = declaring({}, enh::caps_ex::multitrack);
        maps.video_info = {{"*", enh::fourcc_info::can_decode}};
        CHECK_FALSE(maps.takes_everything());  // audio not declared
        maps.audio_info = {{"*", enh::fourcc_info::can_forward}};
        CHECK(maps.takes_everything());
        CHECK_FALSE(enh::capabilities{}.takes_everything());
    }

    TEST_CASE("player gate: a legacy client of an Enhanced stream gets NetStream.Play.Failed at once, saying why") {
        player p(1);
        p.start();
        p.set_capabilities(std::make_shared<const enh::capabilities>());  // connect declared nothing
        recording r;
        CHECK(p.write(media(media_kind::video, av1_key, 0, av1_opus_config()), r.emitter()) == player::outcome::refused);
        CHECK(p.refused());
        const auto statuses = r.statuses();
        REQUIRE(statuses.size() == 1);
        CHECK(statuses[0].first == "NetStream.Play.Failed");
        CHECK(statuses[0].second.find("av01") != std::string::npos);
        CHECK(statuses[0].second.find("declared none") != std::string::npos);
        REQUIRE(r.sent.size() == 2);  // the status and StreamEOF; no media
        CHECK(r.sent[1].first == message_type::user_control);
        CHECK(p.write(media(media_kind::audio, opus_frame, 10, av1_opus_config()), r.emitter()) == player::outcome::dropped);
        CHECK(r.sent.size() == 2);
        p.start();  // a new play is judged again
        CHECK_FALSE(p.refused());

        // Legacy media reaches the same client unchanged.
        player legacy(1);
        legacy.start();
        legacy.set_capabilities(std::make_shared<const enh::capabilities>());
        recording l;
        auto avc = std::make_shared<stream_config>();
        avc->sequence_header = shared_bytes(bytes({0x17, 0x00, 0x00, 0x00, 0x00, 0x01}));
        CHECK(legacy.write(media(media_kind::video, bytes({0x17, 0x01, 0, 0, 0, 0xaa}), 0, avc), l.emitter()) == player::outcome::sent);
        CHECK(l.sent.size() == 2);
    }

    TEST_CASE("player gate: a client gets the codecs it declared, fails on the first it did not") {
        recording r;
        player both(1);
        both.start();
        both.set_capabilities(std::make_shared<const enh::capabilities>(declaring({"av01", "Opus"})));
        CHECK(both.write(media(media_kind::video, av1_key, 0, av1_opus_config()), r.emitter()) == player::outcome::sent);
        REQUIRE(r.sent.size() == 3);
        CHECK(r.sent[0].second == av1_start);
        CHECK(r.sent[1].second == opus_start);
        CHECK(r.sent[2].second == av1_key);

        recording v;
        player video_only(1);
        video_only.start();
        video_only.set_capabilities(std::make_shared<const enh::capabilities>(declaring({"av01"})));
        CHECK(video_only.write(media(media_kind::video, av1_key, 0, av1_opus_config()), v.emitter()) == player::outcome::refused);
        REQUIRE(v.statuses().size() == 1);
        CHECK(v.statuses()[0].second.find("audio is Opus") != std::string::npos);
        CHECK(v.statuses()[0].second.find("did not declare") != std::string::npos);
        CHECK(v.sent.size() == 2);  // nothing of the configuration went before the refusal

        // Through the info maps too: "*" in videoFourCcInfoMap, Opus in audioFourCcInfoMap.
        auto maps = declaring({});
        maps.video_info = {{"*", enh::fourcc_info::can_decode}};
        maps.audio_info = {{"Opus", enh::fourcc_info::can_decode}};
        recording m;
        player mapped(1);
        mapped.start();
        mapped.set_capabilities(std::make_shared<const enh::capabilities>(maps));
        CHECK(mapped.write(media(media_kind::video, av1_key, 0, av1_opus_config()), m.emitter()) == player::outcome::sent);
    }

    TEST_CASE("player: a client without Multitrack gets track 0 alone; a message without track 0 is not sent") {
        recording r;
        player p(1);
        p.start();
        p.set_capabilities(std::make_shared<const enh::capabilities>(declaring({"av01"})));
        const auto two_tracks = bytes({0x96, 0x11, 'a', 'v', '0', '1', 0x00, 0x00, 0x00, 0x01, 0x0a, 0x01, 0x00, 0x00, 0x01, 0x0b});
        CHECK(p.write(media(media_kind::video, two_tracks, 0, nullptr), r.emitter()) == player::outcome::sent);
        REQUIRE(r.sent.size() == 1);
        CHECK(r.sent[0].second == bytes({0x91, 'a', 'v', '0', '1', 0x0a}));
        const auto track_one = bytes({0xa6, 0x01, 'a', 'v', '0', '1', 0x01, 0x0b});
        CHECK(p.write(media(media_kind::video, track_one, 40, nullptr), r.emitter()) == player::outcome::dropped);
        CHECK(r.sent.size() == 1);

        recording whole;
        player mt(1);
        mt.start();
        mt.set_capabilities(std::make_shared<const enh::capabilities>(declaring({"av01"}, enh::caps_ex::multitrack)));
        CHECK(mt.write(media(media_kind::video, two_tracks, 0, nullptr), whole.emitter()) == player::outcome::sent);
        CHECK(whole.sent[0].second == two_tracks);
    }

    TEST_CASE("player: each part of the configuration once, a changed part alone, every track's SequenceStart") {
        recording r;
        player p(1);
        p.start();
        auto first = std::make_shared<stream_config>();
        first->metadata = shared_bytes(bytes({0x02, 0x00, 0x01, 'm'}));
        first->sequence_header = shared_bytes(av1_start);
        first->audio_sequence_header = shared_bytes(opus_start);
        const auto multichannel = bytes({0x94, 'O', 'p', 'u', 's', 0x00, 0x02});
        first->more.push_back({false, flv::config_slot(multichannel, false), shared_bytes(multichannel)});
        CHECK(p.write(media(media_kind::audio, opus_frame, 0, first), r.emitter()) == player::outcome::sent);
        REQUIRE(r.sent.size() == 5);  // metadata, the two SequenceStarts, MultichannelConfig, the frame
        CHECK(r.sent[3].second == multichannel);

        // A new video SequenceStart (and a second track's): only they go, in that order.
        auto second = std::make_shared<stream_config>(*first);
        const auto av1_start_again = bytes({0x90, 'a', 'v', '0', '1', 0x81, 0x00, 0x0c, 0x01});
        const auto track_one_start = bytes({0x96, 0x00, 'a', 'v', '0', '1', 0x01, 0x81, 0x00});
        second->sequence_header = shared_bytes(av1_start_again);
        second->more.push_back({true, flv::config_slot(track_one_start, true), shared_bytes(track_one_start)});
        r.sent.clear();
        CHECK(p.write(media(media_kind::video, av1_key, 40, second), r.emitter()) == player::outcome::sent);
        REQUIRE(r.sent.size() == 3);
        CHECK(r.sent[0].second == av1_start_again);
        CHECK(r.sent[1].second == track_one_start);
        CHECK(r.sent[2].second == av1_key);

        CHECK(flv::config_slot(av1_start, true) == 0);
        CHECK(flv::config_slot(track_one_start, true) == 0x0001);  // SequenceStart of track 1
        CHECK(flv::config_slot(multichannel, false) == 0x0400);
        CHECK(flv::config_slot(bytes({0x17, 0x00, 0, 0, 0}), true) == 0);
        CHECK(flv::is_audio_config(multichannel));
        CHECK(flv::is_audio_config(opus_start));
        CHECK_FALSE(flv::is_audio_config(opus_frame));
    }
}
