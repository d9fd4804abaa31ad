// SPDX-License-Identifier: MIT
// FLV as RTMP carries it: video tag headers, the AVC sequence header, codec ids and onMetaData.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/protocol/commands.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/messages.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol::flv {

/// The CodecID of a legacy FLV video tag (FLV spec E.4.3.1, VIDEODATA).
enum class video_codec : std::uint8_t {
    sorenson_h263 = 2,
    screen_video = 3,
    vp6 = 4,
    vp6_alpha = 5,
    screen_video_v2 = 6,
    avc = 7,
};

/// The FrameType of a video tag: the high nibble of its first byte (E.4.3.1).
enum class frame_type : std::uint8_t {
    key = 1,
    inter = 2,
    disposable_inter = 3,
    generated_key = 4,
    command = 5,  ///< video info / command frame
};

/// The AVCPacketType that follows the first byte of an AVC tag (E.4.3.2, AVCVIDEOPACKET).
enum class avc_packet_type : std::uint8_t { sequence_header = 0, nalu = 1, end_of_sequence = 2 };

/// Bytes before the picture data of a video tag: 1, or 5 for AVC (packet type, composition time).
inline constexpr std::size_t video_tag_header_size(std::uint8_t codec_id) noexcept {
    return codec_id == static_cast<std::uint8_t>(video_codec::avc) ? 5 : 1;
}

/// Appends a video tag header: frame type and codec id, then for AVC the NALU packet type and a
/// zero composition time (our encoders emit no B-frames, so decode and presentation order agree).
inline void append_video_tag_header(std::vector<std::byte>& tag, std::uint8_t codec_id, bool key_frame) {
    const auto type = key_frame ? frame_type::key : frame_type::inter;
    tag.push_back(std::byte((static_cast<unsigned>(type) << 4) | (codec_id & 0x0f)));
    if (codec_id == static_cast<std::uint8_t>(video_codec::avc)) {
        tag.push_back(std::byte{static_cast<std::uint8_t>(avc_packet_type::nalu)});
        tag.insert(tag.end(), 3, std::byte{0});
    }
}

/// A whole video tag body: the header for `codec_id`, then `data` (for AVC: AVCC NAL units).
inline std::vector<std::byte> video_tag(std::uint8_t codec_id, bool key_frame, std::span<const std::byte> data) {
    std::vector<std::byte> tag;
    tag.reserve(video_tag_header_size(codec_id) + data.size());
    append_video_tag_header(tag, codec_id, key_frame);
    tag.insert(tag.end(), data.begin(), data.end());
    return tag;
}

/// The AVC sequence header tag: a key frame of packet type 0 carrying the
/// AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1).
inline std::vector<std::byte> avc_sequence_header(std::span<const std::byte> configuration_record) {
    std::vector<std::byte> tag = {
        std::byte((static_cast<unsigned>(frame_type::key) << 4) | static_cast<unsigned>(video_codec::avc)),
        std::byte{static_cast<std::uint8_t>(avc_packet_type::sequence_header)}, std::byte{0}, std::byte{0},
        std::byte{0}};
    tag.insert(tag.end(), configuration_record.begin(), configuration_record.end());
    return tag;
}

/// A single-track Enhanced RTMP video tag of `codec`: a key or inter frame of `packet` type
/// (CodedFrames, with a zero composition time where the codec has one; or SequenceStart, whose
/// `data` is the configuration record).
inline std::vector<std::byte> enhanced_video_tag(enhanced::fourcc codec, enhanced::video_packet packet, bool key_frame,
                                                 std::span<const std::byte> data) {
    enhanced::video_tag ex;
    ex.frame_type = static_cast<std::uint8_t>(key_frame ? frame_type::key : frame_type::inter);
    ex.packet = packet;
    ex.add({codec, 0, 0, data});
    std::vector<std::byte> tag;
    tag.reserve(data.size() + 8);
    enhanced::append_video(tag, ex);
    return tag;
}

/// Whether a video tag starts with the Enhanced RTMP ExHeader bit (`1 FFF PPPP`: IsExHeader,
/// frame type, packet type), Enhanced RTMP v2 "ExVideoTagHeader".
inline bool is_ex_header(std::span<const std::byte> tag) noexcept {
    return !tag.empty() && (detail::u8(tag[0]) & 0x80) != 0;
}

/// The frame type of a video tag, legacy or Enhanced (the ExHeader bit is not part of it).
inline unsigned frame_type_of(std::span<const std::byte> tag) noexcept {
    if (tag.empty()) return 0;
    return (detail::u8(tag[0]) >> 4) & (is_ex_header(tag) ? 0x07 : 0x0f);
}

/// Whether a video tag is a key frame: `0x1X` in a legacy tag, `0x9X` with the ExHeader bit,
/// except an Enhanced Metadata frame, whose frame type means nothing (read after any ModEx and
/// Multitrack header, see protocol/enhanced.hpp).
inline bool is_key_frame(std::span<const std::byte> tag) noexcept {
    if (frame_type_of(tag) != static_cast<unsigned>(frame_type::key)) return false;
    if (!is_ex_header(tag)) return true;
    enhanced::video_tag ex;
    return !enhanced::parse_video(tag, ex) && ex.packet != enhanced::video_packet::metadata;
}

/// Whether a video tag is an Enhanced Metadata frame (colorInfo): information about the pictures
/// that follow, not a picture.
inline bool is_video_info_frame(std::span<const std::byte> tag) noexcept {
    if (!is_ex_header(tag)) return false;
    enhanced::video_tag ex;
    return !enhanced::parse_video(tag, ex) && ex.packet == enhanced::video_packet::metadata;
}

/// Whether a video tag carries codec configuration rather than a picture: an AVC sequence
/// header (a key frame of packet type 0), or an Enhanced SequenceStart or MPEG2TSSequenceStart
/// (after any ModEx and Multitrack header).
inline bool is_sequence_header(std::span<const std::byte> tag) noexcept {
    if (tag.size() < 2) return false;
    if (is_ex_header(tag)) {
        enhanced::video_tag ex;
        return !enhanced::parse_video(tag, ex) && !ex.command &&
               (ex.packet == enhanced::video_packet::sequence_start || ex.packet == enhanced::video_packet::mpeg2ts_sequence_start);
    }
    return is_key_frame(tag) && (detail::u8(tag[0]) & 0x0f) == static_cast<unsigned>(video_codec::avc) &&
           detail::u8(tag[1]) == static_cast<unsigned>(avc_packet_type::sequence_header);
}

/// The SoundFormat of an audio tag: the high nibble of its first byte (E.4.2.1, AUDIODATA).
enum class sound_format : std::uint8_t {
    pcm_platform = 0,
    adpcm = 1,
    mp3 = 2,
    pcm_little_endian = 3,
    nellymoser_16k = 4,
    nellymoser_8k = 5,
    nellymoser = 6,
    g711_alaw = 7,
    g711_mulaw = 8,
    ex_header = 9,  ///< Enhanced RTMP: an ExAudioTagHeader follows (packet type in the low nibble)
    aac = 10,
    speex = 11,
    mp3_8k = 14,
    device_specific = 15,
};

/// The sound format of an audio tag (0 for an empty one).
inline unsigned sound_format_of(std::span<const std::byte> tag) noexcept { return tag.empty() ? 0 : detail::u8(tag[0]) >> 4; }

/// Whether an audio tag carries codec configuration: an AAC sequence header (AACPacketType 0,
/// E.4.2.2), or an Enhanced audio SequenceStart (after any ModEx and Multitrack header).
inline bool is_audio_sequence_header(std::span<const std::byte> tag) noexcept {
    const unsigned format = sound_format_of(tag);
    if (format == static_cast<unsigned>(sound_format::ex_header)) {
        enhanced::audio_tag ex;
        return !enhanced::parse_audio(tag, ex) && ex.packet == enhanced::audio_packet::sequence_start;
    }
    return format == static_cast<unsigned>(sound_format::aac) && tag.size() >= 2 && detail::u8(tag[1]) == 0;
}

/// Whether an audio tag carries configuration: a sequence header (as `is_audio_sequence_header`)
/// or an Enhanced MultichannelConfig, which a player needs before the first frame too.
inline bool is_audio_config(std::span<const std::byte> tag) noexcept {
    if (sound_format_of(tag) == static_cast<unsigned>(sound_format::ex_header)) {
        enhanced::audio_tag ex;
        return !enhanced::parse_audio(tag, ex) &&
               (ex.packet == enhanced::audio_packet::sequence_start || ex.packet == enhanced::audio_packet::multichannel_config);
    }
    return is_audio_sequence_header(tag);
}

/**
 * Which part of a stream's configuration a configuration tag (`is_sequence_header`,
 * `is_audio_config`) is, so that a newer tag of the same part replaces it: 0 for a legacy
 * sequence header and for the SequenceStart of a lone track or of track 0; otherwise the packet
 * type and the first track's id (`packet << 8 | id`), so that each track of a multitrack stream
 * keeps its own SequenceStart, and a MultichannelConfig its place beside the SequenceStart.
 */
inline std::uint32_t config_slot(std::span<const std::byte> tag, bool video) noexcept {
    unsigned packet = 0;
    std::uint8_t id = 0;
    if (video && is_ex_header(tag)) {
        enhanced::video_tag ex;
        if (enhanced::parse_video(tag, ex)) return 0;
        packet = static_cast<unsigned>(ex.packet);
        id = ex.track_count > 0 ? ex.tracks[0].id : 0;
    } else if (!video && sound_format_of(tag) == static_cast<unsigned>(sound_format::ex_header)) {
        enhanced::audio_tag ex;
        if (enhanced::parse_audio(tag, ex)) return 0;
        packet = static_cast<unsigned>(ex.packet);
        id = ex.track_count > 0 ? ex.tracks[0].id : 0;
    }
    return packet == 0 && id == 0 ? 0 : (packet << 8) | id;
}

/// Whether a video tag is long enough for its header: one byte, five for AVC/HEVC (packet type
/// and composition time) and for Enhanced tags (packet type and FourCC).
inline bool is_complete_video_tag(std::span<const std::byte> tag) noexcept {
    if (tag.empty()) return false;
    const unsigned codec = detail::u8(tag[0]) & 0x0f;
    const bool long_header = is_ex_header(tag) || codec == static_cast<unsigned>(video_codec::avc) || codec == 12;
    return frame_type_of(tag) == static_cast<unsigned>(frame_type::command) || !long_header || tag.size() >= 5;
}

/// Whether an audio tag is long enough for its header: one byte, two for AAC (packet type), five
/// for Enhanced tags (packet type and FourCC).
inline bool is_complete_audio_tag(std::span<const std::byte> tag) noexcept {
    const unsigned format = sound_format_of(tag);
    if (tag.empty()) return false;
    if (format == static_cast<unsigned>(sound_format::aac)) return tag.size() >= 2;
    if (format == static_cast<unsigned>(sound_format::ex_header)) return tag.size() >= 5;
    return true;
}

/// The `onMetaData` properties rtmpx sends for a video-only stream: players read the size, rate
/// and codec from it (FFmpeg sets its FLV header flags from `videocodecid`). No `audiocodecid`:
/// FFmpeg would wait for audio that never comes. `codec_id`: the FLV CodecID, or an Enhanced
/// RTMP FourCC as a number (`enhanced::metadata_codec_id`).
inline amf0::value video_metadata(std::uint32_t width, std::uint32_t height, double frame_rate, double codec_id) {
    return amf0::value::ecma_array({{"width", amf0::value(width)},
                                    {"height", amf0::value(height)},
                                    {"framerate", amf0::value(frame_rate)},
                                    {"videocodecid", amf0::value(codec_id)},
                                    {"encoder", amf0::value("rtmpx")}});
}

/// Adds the audio properties of `onMetaData` to `properties` (an ECMA array or object):
/// `audiocodecid` (the SoundFormat, or an Enhanced RTMP FourCC as a number), `audiosamplerate`,
/// `audiochannels`, `stereo`.
inline void add_audio_metadata(amf0::value& properties, double codec_id, std::uint32_t sample_rate, std::uint32_t channels) {
    properties.set("audiocodecid", amf0::value(codec_id));
    properties.set("audiosamplerate", amf0::value(sample_rate));
    properties.set("audiochannels", amf0::value(channels));
    properties.set("stereo", amf0::value(channels == 2));
}

/// An AAC audio tag: `0xAF` (AAC, 44 kHz, 16 bits, stereo: what the FLV specification fixes
/// for AAC), the AACPacketType (0 AudioSpecificConfig, 1 raw frame), then `data`.
inline std::vector<std::byte> aac_tag(bool sequence_header, std::span<const std::byte> data) {
    std::vector<std::byte> tag;
    tag.reserve(data.size() + 2);
    tag.push_back(std::byte{0xaf});
    tag.push_back(std::byte{static_cast<std::uint8_t>(sequence_header ? 0 : 1)});
    tag.insert(tag.end(), data.begin(), data.end());
    return tag;
}

/// A single-track Enhanced RTMP audio tag of `codec` (SoundFormat 9): `packet` (CodedFrames, or
/// SequenceStart with the codec's configuration) and `data`.
inline std::vector<std::byte> enhanced_audio_tag(enhanced::fourcc codec, enhanced::audio_packet packet, std::span<const std::byte> data) {
    enhanced::audio_tag ex;
    ex.packet = packet;
    ex.add({codec, 0, 0, data});
    std::vector<std::byte> tag;
    tag.reserve(data.size() + 5);
    enhanced::append_audio(tag, ex);
    return tag;
}

/// The body of an `onMetaData` data message carrying `properties` (an ECMA array or object).
inline std::vector<std::byte> on_metadata_payload(amf0::value properties) {
    return encode_payload(make_on_metadata(std::move(properties)));
}

} // namespace protocol::flv
RTMPX_NAMESPACE_END
