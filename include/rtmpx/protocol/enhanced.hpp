// SPDX-License-Identifier: MIT
// Enhanced RTMP v2 media tags (the veovera specification): ExVideoTagHeader and
// ExAudioTagHeader with their FourCCs, ModEx (TimestampOffsetNano), multitrack, the Metadata
// frame's place, MultichannelConfig, and FourCC codec ids in onMetaData. Parser and writer. What
// a client declares in `connect` is in enhanced_capabilities.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/error.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol::enhanced {

/// A codec's four characters as a big-endian number, as the tags and onMetaData carry it.
using fourcc = std::uint32_t;

/// "av01" -> 0x61763031. Exactly four characters.
consteval fourcc make_fourcc(const char (&text)[5]) {
    return (fourcc(static_cast<unsigned char>(text[0])) << 24) | (fourcc(static_cast<unsigned char>(text[1])) << 16) |
           (fourcc(static_cast<unsigned char>(text[2])) << 8) | fourcc(static_cast<unsigned char>(text[3]));
}

/// The video FourCCs of the specification.
namespace video_fourcc {
inline constexpr fourcc av1 = make_fourcc("av01");
inline constexpr fourcc vp9 = make_fourcc("vp09");
inline constexpr fourcc vp8 = make_fourcc("vp08");
inline constexpr fourcc avc = make_fourcc("avc1");
inline constexpr fourcc hevc = make_fourcc("hvc1");
inline constexpr fourcc vvc = make_fourcc("vvc1");
} // namespace video_fourcc

/// The audio FourCCs of the specification.
namespace audio_fourcc {
inline constexpr fourcc opus = make_fourcc("Opus");
inline constexpr fourcc flac = make_fourcc("fLaC");
inline constexpr fourcc ac3 = make_fourcc("ac-3");
inline constexpr fourcc eac3 = make_fourcc("ec-3");
inline constexpr fourcc aac = make_fourcc("mp4a");
inline constexpr fourcc mp3 = make_fourcc(".mp3");
} // namespace audio_fourcc

/// The four characters of `code` ("av01"); a byte outside printable ASCII shows as '?'.
inline std::string fourcc_text(fourcc code) {
    std::string text(4, '?');
    for (int i = 0; i < 4; ++i) {
        const auto c = static_cast<char>((code >> (24 - 8 * i)) & 0xff);
        if (c >= 0x20 && c < 0x7f) text[static_cast<std::size_t>(i)] = c;
    }
    return text;
}

/// The FourCC named by `text` when it has exactly four characters.
inline std::optional<fourcc> parse_fourcc(std::string_view text) noexcept {
    if (text.size() != 4) return std::nullopt;
    fourcc code = 0;
    for (const char c : text) code = (code << 8) | static_cast<unsigned char>(c);
    return code;
}

/// VideoPacketType: the low nibble of an ExVideoTagHeader's first byte.
enum class video_packet : std::uint8_t {
    sequence_start = 0,
    coded_frames = 1,
    sequence_end = 2,
    coded_frames_x = 3,  ///< coded frames with an implied composition time of zero
    metadata = 4,        ///< AMF name/value pairs (colorInfo); the frame type is ignored
    mpeg2ts_sequence_start = 5,
    multitrack = 6,  ///< on the wire only: a parsed tag has `multitrack` set and the tracks' own type
    mod_ex = 7,      ///< on the wire only: a parsed tag has what the ModEx data said
};

/// AudioPacketType: the low nibble of an ExAudioTagHeader's first byte.
enum class audio_packet : std::uint8_t {
    sequence_start = 0,
    coded_frames = 1,
    sequence_end = 2,
    multichannel_config = 4,
    multitrack = 5,  ///< on the wire only, as for video
    mod_ex = 7,      ///< on the wire only, as for video
};

/// AvMultitrackType: how the tracks of a multitrack message are laid out.
enum class multitrack_mode : std::uint8_t {
    one_track = 0,                ///< one track, with a track id and no size
    many_tracks = 1,              ///< several tracks of one codec, each with an id and a size
    many_tracks_many_codecs = 2,  ///< several tracks, each with its own FourCC, id and size
};

/// The VideoFrameType of a video command frame (a UI8 VideoCommand follows, and nothing else).
inline constexpr std::uint8_t command_frame = 5;

/// Tracks one message may carry; a message with more fails with `error::too_many_tracks`.
inline constexpr std::size_t max_tracks = 16;

/// One track's part of an Enhanced audio or video message.
struct track {
    fourcc codec = 0;                   ///< its FourCC (every track of a message but the last layout shares one)
    std::uint8_t id = 0;                ///< its track id (0 when the message is not multitrack)
    std::int32_t composition_time = 0;  ///< video CodedFrames of avc1, hvc1, vvc1: the SI24 before the data
    std::span<const std::byte> data;    ///< what follows the header fields: a configuration record, frames, AMF
};

/// What the video and audio headers share: ModEx, multitrack and the tracks.
struct tag_tracks {
    bool multitrack = false;                             ///< sent as a Multitrack packet
    multitrack_mode mode = multitrack_mode::one_track;   ///< the layout, when multitrack
    std::optional<std::uint32_t> timestamp_offset_nano;  ///< ModEx TimestampOffsetNano (0 to 999999)
    std::array<track, max_tracks> tracks{};
    std::size_t track_count = 0;

    std::span<const track> each() const noexcept { return {tracks.data(), track_count}; }
    std::span<track> each() noexcept { return {tracks.data(), track_count}; }
    /// Appends a track; false when `max_tracks` are there already.
    bool add(const track& t) noexcept {
        if (track_count == max_tracks) return false;
        tracks[track_count++] = t;
        return true;
    }
};

/// A parsed ExVideoTagHeader (and where each track's data is).
struct video_tag : tag_tracks {
    std::uint8_t frame_type = 0;  ///< VideoFrameType: 1 key, 2 inter, 3 disposable, 4 generated key, 5 command
    video_packet packet = video_packet::coded_frames;  ///< the tracks' packet type (never multitrack or mod_ex)
    std::optional<std::uint8_t> command;               ///< a command frame's VideoCommand (no tracks then)
};

/// A parsed ExAudioTagHeader.
struct audio_tag : tag_tracks {
    audio_packet packet = audio_packet::coded_frames;  ///< the tracks' packet type (never multitrack or mod_ex)
};

/// MultichannelConfig's body: the channel order and count, then a mapping or flags.
struct multichannel_config {
    std::uint8_t order = 0;  ///< AudioChannelOrder: 0 unspecified, 1 native (flags), 2 custom (mapping)
    std::uint8_t channel_count = 0;
    std::span<const std::byte> mapping;  ///< custom: one AudioChannel per channel
    std::uint32_t flags = 0;             ///< native: AudioChannelMask bits
};

/// Whether a video message has the IsExHeader bit (an ExVideoTagHeader follows).
inline bool is_enhanced_video(std::span<const std::byte> message) noexcept {
    return !message.empty() && (detail::u8(message[0]) & 0x80) != 0;
}

/// Whether an audio message is SoundFormat 9 (an ExAudioTagHeader follows).
inline bool is_enhanced_audio(std::span<const std::byte> message) noexcept {
    return !message.empty() && (detail::u8(message[0]) >> 4) == 9;
}

namespace impl {

// Reads the wire a byte at a time; any read past the end sets `failed` and returns zeros.
struct cursor {
    std::span<const std::byte> rest;
    bool failed = false;

    bool has(std::size_t n) noexcept {
        if (rest.size() >= n) return true;
        failed = true;
        return false;
    }
    std::uint8_t u8() noexcept {
        if (!has(1)) return 0;
        const auto v = ::rtmpx::detail::u8(rest[0]);
        rest = rest.subspan(1);
        return v;
    }
    std::uint32_t be(std::size_t n) noexcept {
        if (!has(n)) return 0;
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | ::rtmpx::detail::u8(rest[i]);
        rest = rest.subspan(n);
        return v;
    }
    std::span<const std::byte> take(std::size_t n) noexcept {
        if (!has(n)) return {};
        auto part = rest.first(n);
        rest = rest.subspan(n);
        return part;
    }
};

// ModEx packets: each is a size (UI8 + 1, or UI16 + 1 when the UI8 says 256), the data, then a
// byte whose high nibble is the ModEx type and low nibble the next packet type. Returns that
// packet type. Unknown ModEx types are skipped (the specification lets them be added).
inline unsigned read_mod_ex(cursor& in, unsigned packet, unsigned mod_ex, tag_tracks& out) noexcept {
    while (packet == mod_ex && !in.failed) {
        std::size_t size = std::size_t{in.u8()} + 1;
        if (size == 256) size = std::size_t{in.be(2)} + 1;
        const auto data = in.take(size);
        const unsigned byte = in.u8();
        if (in.failed) break;
        if ((byte >> 4) == 0) {  // TimestampOffsetNano: at least three bytes, a UI24
            if (data.size() < 3) {
                in.failed = true;
                break;
            }
            out.timestamp_offset_nano = ::rtmpx::detail::load_be24(data);
        }
        packet = byte & 0x0f;
    }
    return packet;
}

// The tracks after the header: one, or (multitrack other than one_track) as many as the sizes
// lay out until the end. `cts` says whether a track of a codec carries a composition time.
template <class HasCompositionTime>
std::error_code read_tracks(cursor& in, fourcc shared_codec, tag_tracks& out, HasCompositionTime cts) noexcept {
    const bool sized = out.multitrack && out.mode != multitrack_mode::one_track;
    do {
        track t;
        t.codec = shared_codec;
        if (out.multitrack && out.mode == multitrack_mode::many_tracks_many_codecs) t.codec = in.be(4);
        if (out.multitrack) t.id = in.u8();
        t.data = sized ? in.take(in.be(3)) : in.take(in.rest.size());
        if (in.failed) return make_error_code(error::enhanced_malformed);
        if (cts(t.codec)) {
            if (t.data.size() < 3) return make_error_code(error::enhanced_malformed);
            const std::uint32_t raw = ::rtmpx::detail::load_be24(t.data);
            t.composition_time = static_cast<std::int32_t>(raw ^ 0x800000u) - 0x800000;  // SI24
            t.data = t.data.subspan(3);
        }
        if (!out.add(t)) return make_error_code(error::too_many_tracks);
    } while (sized && !in.rest.empty());
    return {};
}

// After ModEx: a Multitrack packet's layout and the tracks' packet type (neither Multitrack nor
// ModEx again), then the FourCC the tracks share (none for many codecs); else the FourCC.
inline std::error_code read_codec_header(cursor& in, unsigned& packet, unsigned multitrack, unsigned mod_ex, tag_tracks& out,
                                         fourcc& shared) noexcept {
    if (packet == multitrack) {
        const unsigned byte = in.u8();
        out.multitrack = true;
        if (in.failed) return make_error_code(error::enhanced_malformed);
        if ((byte >> 4) > 2) return make_error_code(error::enhanced_unsupported);
        out.mode = static_cast<multitrack_mode>(byte >> 4);
        packet = byte & 0x0f;
        if (packet == multitrack || packet == mod_ex) return make_error_code(error::enhanced_unsupported);
        if (out.mode != multitrack_mode::many_tracks_many_codecs) shared = in.be(4);
    } else {
        shared = in.be(4);
    }
    return in.failed ? make_error_code(error::enhanced_malformed) : std::error_code{};
}

// What read_codec_header reads: the layout byte when multitrack, and the shared FourCC (the first
// track's) unless every track has its own.
inline void put_codec_header(std::vector<std::byte>& out, const tag_tracks& t, unsigned packet) {
    using namespace ::rtmpx::detail;
    const fourcc first = t.track_count > 0 ? t.tracks[0].codec : 0;
    if (t.multitrack) put_u8(out, static_cast<std::uint8_t>((static_cast<unsigned>(t.mode) << 4) | packet));
    if (!t.multitrack || t.mode != multitrack_mode::many_tracks_many_codecs) put_be32(out, first);
}

inline void put_mod_ex_and_type(std::vector<std::byte>& out, unsigned first_high_bits, unsigned packet,
                                const tag_tracks& t, unsigned mod_ex) {
    using ::rtmpx::detail::put_u8;
    if (!t.timestamp_offset_nano) {
        put_u8(out, static_cast<std::uint8_t>(first_high_bits | packet));
        return;
    }
    put_u8(out, static_cast<std::uint8_t>(first_high_bits | mod_ex));
    put_u8(out, 2);  // three bytes of data
    ::rtmpx::detail::put_be24(out, *t.timestamp_offset_nano & 0xffffff);
    put_u8(out, static_cast<std::uint8_t>(packet));  // ModEx type 0 (TimestampOffsetNano) in the high nibble
}

template <class HasCompositionTime>
void put_tracks(std::vector<std::byte>& out, const tag_tracks& t, HasCompositionTime cts) {
    using namespace ::rtmpx::detail;
    const bool sized = t.multitrack && t.mode != multitrack_mode::one_track;
    for (const track& tr : t.each()) {
        if (t.multitrack && t.mode == multitrack_mode::many_tracks_many_codecs) put_be32(out, tr.codec);
        if (t.multitrack) put_u8(out, tr.id);
        const bool has_cts = cts(tr.codec);
        if (sized) put_be24(out, static_cast<std::uint32_t>(tr.data.size() + (has_cts ? 3 : 0)));
        if (has_cts) put_be24(out, static_cast<std::uint32_t>(tr.composition_time) & 0xffffff);
        out.insert(out.end(), tr.data.begin(), tr.data.end());
    }
}

} // namespace impl

/// Whether video CodedFrames of `codec` start with an SI24 composition time (avc1, hvc1, vvc1).
inline constexpr bool has_composition_time(fourcc codec) noexcept {
    return codec == video_fourcc::avc || codec == video_fourcc::hevc || codec == video_fourcc::vvc;
}

/**
 * Parses an Enhanced video message (the IsExHeader bit set): frame type, ModEx, a command,
 * multitrack, each track's FourCC, id and data (after the composition time, for CodedFrames of
 * avc1/hvc1/vvc1). `out`'s tracks point into `message`.
 * Errors: `error::enhanced_malformed` (not Enhanced, truncated, a track past the end, a
 * TimestampOffsetNano under three bytes), `error::enhanced_unsupported` (a reserved packet type
 * or multitrack layout), `error::too_many_tracks` (more than `max_tracks`).
 */
inline std::error_code parse_video(std::span<const std::byte> message, video_tag& out) noexcept {
    out = video_tag{};
    if (!is_enhanced_video(message)) return make_error_code(error::enhanced_malformed);
    impl::cursor in{message};
    const unsigned first = in.u8();
    out.frame_type = static_cast<std::uint8_t>((first >> 4) & 0x07);
    unsigned packet = impl::read_mod_ex(in, first & 0x0f, static_cast<unsigned>(video_packet::mod_ex), out);
    if (in.failed) return make_error_code(error::enhanced_malformed);
    fourcc shared = 0;
    if (packet != static_cast<unsigned>(video_packet::metadata) && out.frame_type == command_frame) {
        out.packet = static_cast<video_packet>(packet);
        out.command = in.u8();
        return in.failed ? make_error_code(error::enhanced_malformed) : std::error_code{};
    }
    if (const auto ec = impl::read_codec_header(in, packet, static_cast<unsigned>(video_packet::multitrack),
                                                static_cast<unsigned>(video_packet::mod_ex), out, shared))
        return ec;
    if (packet > static_cast<unsigned>(video_packet::mpeg2ts_sequence_start)) return make_error_code(error::enhanced_unsupported);
    out.packet = static_cast<video_packet>(packet);
    const bool coded = out.packet == video_packet::coded_frames;
    return impl::read_tracks(in, shared, out, [coded](fourcc c) { return coded && has_composition_time(c); });
}

/**
 * Parses an Enhanced audio message (SoundFormat 9): ModEx, multitrack, each track's FourCC, id
 * and data. Errors as `parse_video`.
 */
inline std::error_code parse_audio(std::span<const std::byte> message, audio_tag& out) noexcept {
    out = audio_tag{};
    if (!is_enhanced_audio(message)) return make_error_code(error::enhanced_malformed);
    impl::cursor in{message};
    unsigned packet = impl::read_mod_ex(in, in.u8() & 0x0f, static_cast<unsigned>(audio_packet::mod_ex), out);
    if (in.failed) return make_error_code(error::enhanced_malformed);
    fourcc shared = 0;
    if (const auto ec = impl::read_codec_header(in, packet, static_cast<unsigned>(audio_packet::multitrack),
                                                static_cast<unsigned>(audio_packet::mod_ex), out, shared))
        return ec;
    if (packet == 3 || packet == 6 || packet > 7) return make_error_code(error::enhanced_unsupported);
    out.packet = static_cast<audio_packet>(packet);
    return impl::read_tracks(in, shared, out, [](fourcc) { return false; });
}

/// Parses MultichannelConfig's data (a track of an `audio_packet::multichannel_config` tag).
/// Errors: `error::enhanced_malformed` when it is shorter than its order says.
inline std::error_code parse_multichannel_config(std::span<const std::byte> data, multichannel_config& out) noexcept {
    out = multichannel_config{};
    impl::cursor in{data};
    out.order = in.u8();
    out.channel_count = in.u8();
    if (out.order == 2) out.mapping = in.take(out.channel_count);
    if (out.order == 1) out.flags = in.be(4);
    return in.failed ? make_error_code(error::enhanced_malformed) : std::error_code{};
}

/// Appends MultichannelConfig's data for `config`.
inline void append_multichannel_config(std::vector<std::byte>& out, const multichannel_config& config) {
    detail::put_u8(out, config.order);
    detail::put_u8(out, config.channel_count);
    if (config.order == 2) out.insert(out.end(), config.mapping.begin(), config.mapping.end());
    if (config.order == 1) detail::put_be32(out, config.flags);
}

/**
 * Appends the Enhanced video message `tag` describes: ModEx TimestampOffsetNano when set, a
 * command frame when `command` is set, else the multitrack layout (when `multitrack`) and each
 * track. A single-track message takes the first track's FourCC. What `parse_video` reads back
 * is `tag` again.
 */
inline void append_video(std::vector<std::byte>& out, const video_tag& tag) {
    const unsigned high = 0x80u | ((tag.frame_type & 0x07u) << 4);
    const unsigned packet = tag.multitrack ? static_cast<unsigned>(video_packet::multitrack) : static_cast<unsigned>(tag.packet);
    if (tag.command) {
        impl::put_mod_ex_and_type(out, high, static_cast<unsigned>(tag.packet), tag, static_cast<unsigned>(video_packet::mod_ex));
        detail::put_u8(out, *tag.command);
        return;
    }
    impl::put_mod_ex_and_type(out, high, packet, tag, static_cast<unsigned>(video_packet::mod_ex));
    impl::put_codec_header(out, tag, static_cast<unsigned>(tag.packet));
    const bool coded = tag.packet == video_packet::coded_frames;
    impl::put_tracks(out, tag, [coded](fourcc c) { return coded && has_composition_time(c); });
}

/// Appends the Enhanced audio message `tag` describes, as `append_video` does for video.
inline void append_audio(std::vector<std::byte>& out, const audio_tag& tag) {
    const unsigned packet = tag.multitrack ? static_cast<unsigned>(audio_packet::multitrack) : static_cast<unsigned>(tag.packet);
    impl::put_mod_ex_and_type(out, 0x90u, packet, tag, static_cast<unsigned>(audio_packet::mod_ex));
    impl::put_codec_header(out, tag, static_cast<unsigned>(tag.packet));
    impl::put_tracks(out, tag, [](fourcc) { return false; });
}

/**
 * Keeps only the default track (id 0) of a parsed multitrack message, as a single-track message:
 * what a client that did not declare Multitrack gets (`append_video`/`append_audio` write it).
 * False, and `tag` unchanged, when the message has no track 0. A message that is not multitrack
 * is left as it is.
 */
template <class Tag>
bool keep_default_track(Tag& tag) noexcept {
    if (!tag.multitrack) return true;
    for (const track& t : tag.each()) {
        if (t.id != 0) continue;
        tag.tracks[0] = t;
        tag.track_count = 1;
        tag.multitrack = false;
        tag.mode = multitrack_mode::one_track;
        return true;
    }
    return false;
}

/// A FourCC as onMetaData's `videocodecid` / `audiocodecid` carries it: the number itself.
inline constexpr double metadata_codec_id(fourcc code) noexcept { return static_cast<double>(code); }

/// The FourCC an onMetaData codec id names, when it is one (a whole number above 255 that fits
/// 32 bits); a legacy codec id (7 for AVC, 10 for AAC) gives none.
inline std::optional<fourcc> fourcc_of_metadata_codec_id(double id) noexcept {
    if (!(id > 255.0) || id > 4294967295.0 || static_cast<double>(static_cast<std::uint32_t>(id)) != id) return std::nullopt;
    return static_cast<fourcc>(id);
}

} // namespace protocol::enhanced
RTMPX_NAMESPACE_END
