// SPDX-License-Identifier: MIT
// The codec configuration records Enhanced RTMP sends in a SequenceStart: AV1CodecConfigurationRecord
// (av1C), VPCodecConfigurationRecord (vpcC) and HEVCDecoderConfigurationRecord (hvcC), built from
// what encoders give (an AV1 sequence header OBU, HEVC parameter sets in Annex B).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/avc.hpp>
#include <rtmpx/detail/endian.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Reads bits most significant first, with Exp-Golomb (H.265 ue(v)) and AV1 uvlc() codes.
/// Reading past the end sets `failed()` and gives zeros.
class bit_reader {
public:
    explicit bit_reader(std::span<const std::byte> data) noexcept : data_(data) {}

    std::uint32_t bits(unsigned count) noexcept {
        std::uint32_t v = 0;
        for (unsigned i = 0; i < count; ++i) v = (v << 1) | bit();
        return v;
    }
    std::uint32_t bit() noexcept {
        if (pos_ >= data_.size() * 8) {
            failed_ = true;
            return 0;
        }
        const std::uint32_t b = (u8(data_[pos_ / 8]) >> (7 - pos_ % 8)) & 1u;
        ++pos_;
        return b;
    }
    void skip(std::size_t count) noexcept {
        if (count > data_.size() * 8 - pos_) failed_ = true;
        pos_ = failed_ ? data_.size() * 8 : pos_ + count;
    }
    /// ue(v): 2^n - 1 + n bits after n leading zeros; at most 31 leading zeros.
    std::uint32_t exp_golomb() noexcept {
        unsigned zeros = 0;
        while (!failed_ && bit() == 0) {
            if (++zeros > 31) {
                failed_ = true;
                return 0;
            }
        }
        return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
    }
    /// AV1 uvlc(): as ue(v), but 32 or more leading zeros mean 2^32 - 1.
    std::uint32_t uvlc() noexcept {
        unsigned zeros = 0;
        while (!failed_ && bit() == 0) ++zeros;
        if (zeros >= 32) return 0xffffffffu;
        return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
    }
    bool failed() const noexcept { return failed_; }

private:
    std::span<const std::byte> data_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

// ---- AV1 ----------------------------------------------------------------------------------------

/// One OBU of a low-overhead AV1 bitstream (AV1 §5.3): its type, and the whole OBU's bytes.
struct av1_obu {
    std::uint8_t type = 0;  ///< obu_type: 1 sequence header, 2 temporal delimiter, 6 frame, ...
    std::span<const std::byte> bytes;    ///< header, size field and payload
    std::span<const std::byte> payload;  ///< what follows the header and size field
};

inline constexpr std::uint8_t av1_obu_sequence_header = 1;
inline constexpr std::uint8_t av1_obu_temporal_delimiter = 2;

/// Splits OBUs that all carry obu_size (as encoders write them); false when one does not, or
/// runs past the end.
inline bool split_av1_obus(std::span<const std::byte> data, std::vector<av1_obu>& out) {
    std::size_t i = 0;
    while (i < data.size()) {
        const std::uint8_t header = u8(data[i]);
        const bool extension = (header & 0x04) != 0;
        if ((header & 0x80) != 0 || (header & 0x02) == 0) return false;  // forbidden bit, or no obu_size
        std::size_t pos = i + 1 + (extension ? 1 : 0);
        std::uint64_t size = 0;
        for (unsigned n = 0;; ++n) {  // leb128, at most 8 bytes
            if (n == 8 || pos >= data.size()) return false;
            const std::uint8_t b = u8(data[pos++]);
            size |= std::uint64_t(b & 0x7f) << (7 * n);
            if ((b & 0x80) == 0) break;
        }
        if (size > data.size() - pos) return false;
        out.push_back({static_cast<std::uint8_t>((header >> 3) & 0x0f), data.subspan(i, pos + size - i), data.subspan(pos, size)});
        i = pos + static_cast<std::size_t>(size);
    }
    return true;
}

/// What av1C repeats from a sequence header OBU.
struct av1_sequence_info {
    std::uint8_t profile = 0;
    std::uint8_t level = 0;  ///< seq_level_idx of the first operating point
    std::uint8_t tier = 0;
    bool high_bitdepth = false;
    bool twelve_bit = false;
    bool monochrome = false;
    bool subsampling_x = true;
    bool subsampling_y = true;
    std::uint8_t chroma_sample_position = 0;
};

/// Reads a sequence_header_obu() payload (AV1 §5.5) up to its color_config; nullopt when short.
inline std::optional<av1_sequence_info> parse_av1_sequence_header(std::span<const std::byte> payload) {
    bit_reader r(payload);
    av1_sequence_info info;
    info.profile = static_cast<std::uint8_t>(r.bits(3));
    r.skip(1);  // still_picture
    const bool reduced = r.bit() != 0;
    if (reduced) {
        info.level = static_cast<std::uint8_t>(r.bits(5));
    } else {
        bool decoder_model_info = false;
        unsigned buffer_delay_length = 0;
        if (r.bit()) {  // timing_info_present_flag
            r.skip(64);  // num_units_in_display_tick, time_scale
            if (r.bit()) (void)r.uvlc();  // equal_picture_interval: num_ticks_per_picture_minus_1
            decoder_model_info = r.bit() != 0;
            if (decoder_model_info) {
                buffer_delay_length = r.bits(5) + 1;
                r.skip(32 + 5 + 5);  // num_units_in_decoding_tick, two lengths
            }
        }
        const bool initial_display_delay = r.bit() != 0;
        const unsigned operating_points = r.bits(5) + 1;
        for (unsigned i = 0; i < operating_points && !r.failed(); ++i) {
            r.skip(12);  // operating_point_idc
            const auto level = static_cast<std::uint8_t>(r.bits(5));
            const auto tier = static_cast<std::uint8_t>(level > 7 ? r.bit() : 0);
            if (i == 0) {
                info.level = level;
                info.tier = tier;
            }
            if (decoder_model_info && r.bit()) r.skip(2 * buffer_delay_length + 1);
            if (initial_display_delay && r.bit()) r.skip(4);
        }
    }
    const unsigned width_bits = r.bits(4) + 1;
    const unsigned height_bits = r.bits(4) + 1;
    r.skip(width_bits + height_bits);
    if (!reduced && r.bit()) r.skip(4 + 3);  // frame_id_numbers_present_flag: two lengths
    r.skip(3);  // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if (!reduced) {
        r.skip(4);  // interintra, masked compound, warped motion, dual filter
        const bool order_hint = r.bit() != 0;
        if (order_hint) r.skip(2);  // jnt_comp, ref_frame_mvs
        const bool force_screen_content = r.bit() ? true : r.bit() != 0;  // seq_choose_screen_content_tools
        if (force_screen_content && !r.bit()) r.skip(1);                  // seq_choose_integer_mv, or the value
        if (order_hint) r.skip(3);
    }
    r.skip(3);  // superres, cdef, restoration
    // color_config()
    info.high_bitdepth = r.bit() != 0;
    if (info.profile == 2 && info.high_bitdepth) info.twelve_bit = r.bit() != 0;
    info.monochrome = info.profile == 1 ? false : r.bit() != 0;
    unsigned primaries = 2, transfer = 2, matrix = 2;
    if (r.bit()) {
        primaries = r.bits(8);
        transfer = r.bits(8);
        matrix = r.bits(8);
    }
    if (info.monochrome) {
        r.skip(1);
    } else if (primaries == 1 && transfer == 13 && matrix == 0) {  // sRGB: 4:4:4
        info.subsampling_x = info.subsampling_y = false;
    } else {
        r.skip(1);  // color_range
        if (info.profile == 1) {
            info.subsampling_x = info.subsampling_y = false;
        } else if (info.profile == 2) {
            info.subsampling_x = info.twelve_bit ? r.bit() != 0 : true;
            info.subsampling_y = info.twelve_bit && info.subsampling_x ? r.bit() != 0 : false;
        }
        if (info.subsampling_x && info.subsampling_y) info.chroma_sample_position = static_cast<std::uint8_t>(r.bits(2));
    }
    if (r.failed()) return std::nullopt;
    return info;
}

/**
 * The AV1CodecConfigurationRecord (av1C, AV1-ISOBMFF §2.3) for the sequence header OBU in `obus`
 * (an encoder's global header: a sequence header OBU, maybe with metadata OBUs), which follows
 * the four fixed bytes as its configOBUs. Empty when `obus` has no readable sequence header.
 */
inline std::vector<std::byte> build_av1_config(std::span<const std::byte> obus) {
    std::vector<av1_obu> split;
    if (!split_av1_obus(obus, split)) return {};
    for (const av1_obu& obu : split) {
        if (obu.type != av1_obu_sequence_header) continue;
        const auto info = parse_av1_sequence_header(obu.payload);
        if (!info) return {};
        std::vector<std::byte> out;
        put_u8(out, 0x81);  // marker, version 1
        put_u8(out, static_cast<std::uint8_t>(info->profile << 5 | (info->level & 0x1f)));
        put_u8(out, static_cast<std::uint8_t>(info->tier << 7 | info->high_bitdepth << 6 | info->twelve_bit << 5 | info->monochrome << 4 |
                                              info->subsampling_x << 3 | info->subsampling_y << 2 | (info->chroma_sample_position & 3)));
        put_u8(out, 0);  // no initial_presentation_delay
        out.insert(out.end(), obu.bytes.begin(), obu.bytes.end());
        return out;
    }
    return {};
}

// ---- VP9 ----------------------------------------------------------------------------------------

/// What a VPCodecConfigurationRecord says (VP Codec ISO Media File Format Binding §2.3).
struct vp9_config {
    std::uint8_t profile = 0;
    std::uint8_t level = 0;  ///< 10 x the VP9 level (31 for level 3.1); 0: not stated
    std::uint8_t bit_depth = 8;
    std::uint8_t chroma_subsampling = 1;  ///< 0 4:2:0 vertical, 1 4:2:0 colocated (FFmpeg's when unstated), 2 4:2:2, 3 4:4:4
    bool full_range = false;
    std::uint8_t colour_primaries = 2;  ///< ISO 23001-8 values; 2: unspecified
    std::uint8_t transfer_characteristics = 2;
    std::uint8_t matrix_coefficients = 2;
};

/// The vpcC box body (version 1, flags 0): 12 bytes, no codec initialisation data.
inline std::vector<std::byte> build_vp9_config(const vp9_config& c) {
    std::vector<std::byte> out;
    put_be32(out, 0x01000000);  // version 1, flags 0
    put_u8(out, c.profile);
    put_u8(out, c.level);
    put_u8(out, static_cast<std::uint8_t>((c.bit_depth & 0x0f) << 4 | (c.chroma_subsampling & 0x07) << 1 | (c.full_range ? 1 : 0)));
    put_u8(out, c.colour_primaries);
    put_u8(out, c.transfer_characteristics);
    put_u8(out, c.matrix_coefficients);
    put_be16(out, 0);  // codecIntializationDataSize
    return out;
}

/// The VP9 level (x10) that the spec's table gives for a picture size and rate: the lowest whose
/// luma sample rate and picture size take them.
inline std::uint8_t vp9_level_for(std::uint32_t width, std::uint32_t height, double frame_rate) {
    struct row {
        std::uint8_t level;
        double sample_rate;
        double picture_size;
    };
    static constexpr row table[] = {{10, 829440, 36864},          {11, 2764800, 73728},         {20, 4608000, 122880},
                                    {21, 9216000, 245760},        {30, 20736000, 552960},       {31, 36864000, 983040},
                                    {40, 83558400, 2228224},      {41, 160432128, 2228224},     {50, 311951360, 8912896},
                                    {51, 588251136, 8912896},     {52, 1176502272, 8912896},    {60, 1176502272, 35651584},
                                    {61, 2353004544.0, 35651584}, {62, 4706009088.0, 35651584}};
    const double size = double(width) * height;
    for (const row& r : table)
        if (size <= r.picture_size && size * frame_rate <= r.sample_rate) return r.level;
    return 62;
}

// ---- HEVC ---------------------------------------------------------------------------------------

/// H.265 nal_unit_type values the records look at.
inline constexpr std::uint8_t hevc_vps = 32;
inline constexpr std::uint8_t hevc_sps = 33;
inline constexpr std::uint8_t hevc_pps = 34;

/// The nal_unit_type of an H.265 NAL unit (bits 1..6 of its first byte); 0xff when empty.
inline std::uint8_t hevc_nal_type(std::span<const std::byte> nal) noexcept {
    return nal.empty() ? std::uint8_t{0xff} : static_cast<std::uint8_t>((u8(nal[0]) >> 1) & 0x3f);
}

/// A NAL unit's payload without its emulation prevention bytes (00 00 03 -> 00 00).
inline std::vector<std::byte> unescape_rbsp(std::span<const std::byte> nal) {
    std::vector<std::byte> out;
    out.reserve(nal.size());
    unsigned zeros = 0;
    for (const std::byte b : nal) {
        if (zeros >= 2 && b == std::byte{3}) {
            zeros = 0;
            continue;
        }
        zeros = b == std::byte{0} ? zeros + 1 : 0;
        out.push_back(b);
    }
    return out;
}

/// What hvcC repeats from an SPS (H.265 §7.3.2.2).
struct hevc_sps_info {
    std::uint8_t profile_tier = 0;                  ///< general_profile_space, tier flag, profile_idc
    std::uint32_t compatibility = 0;                ///< general_profile_compatibility_flags
    std::array<std::uint8_t, 6> constraints{};      ///< general_constraint_indicator_flags
    std::uint8_t level = 0;                         ///< general_level_idc
    std::uint8_t sub_layers = 1;                    ///< sps_max_sub_layers_minus1 + 1
    bool temporal_id_nested = false;
    std::uint8_t chroma_format = 1;
    std::uint8_t bit_depth_luma_minus8 = 0;
    std::uint8_t bit_depth_chroma_minus8 = 0;
};

/// Reads an SPS NAL unit (with its two-byte header) up to the bit depths; nullopt when short.
inline std::optional<hevc_sps_info> parse_hevc_sps(std::span<const std::byte> nal) {
    if (nal.size() < 3) return std::nullopt;
    const std::vector<std::byte> rbsp = unescape_rbsp(nal.subspan(2));
    bit_reader r(rbsp);
    hevc_sps_info info;
    r.skip(4);  // sps_video_parameter_set_id
    const unsigned max_sub_layers_minus1 = r.bits(3);
    info.sub_layers = static_cast<std::uint8_t>(max_sub_layers_minus1 + 1);
    info.temporal_id_nested = r.bit() != 0;
    info.profile_tier = static_cast<std::uint8_t>(r.bits(8));
    info.compatibility = r.bits(32);
    for (auto& c : info.constraints) c = static_cast<std::uint8_t>(r.bits(8));
    info.level = static_cast<std::uint8_t>(r.bits(8));
    bool profile_present[8] = {}, level_present[8] = {};
    for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
        profile_present[i] = r.bit() != 0;
        level_present[i] = r.bit() != 0;
    }
    if (max_sub_layers_minus1 > 0) r.skip(2 * (8 - max_sub_layers_minus1));
    for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
        if (profile_present[i]) r.skip(88);
        if (level_present[i]) r.skip(8);
    }
    (void)r.exp_golomb();  // sps_seq_parameter_set_id
    info.chroma_format = static_cast<std::uint8_t>(r.exp_golomb() & 3);
    if (info.chroma_format == 3) r.skip(1);  // separate_colour_plane_flag
    (void)r.exp_golomb();                    // pic_width_in_luma_samples
    (void)r.exp_golomb();                    // pic_height_in_luma_samples
    if (r.bit())                             // conformance_window_flag
        for (int i = 0; i < 4; ++i) (void)r.exp_golomb();
    info.bit_depth_luma_minus8 = static_cast<std::uint8_t>(r.exp_golomb() & 7);
    info.bit_depth_chroma_minus8 = static_cast<std::uint8_t>(r.exp_golomb() & 7);
    if (r.failed()) return std::nullopt;
    return info;
}

/**
 * The HEVCDecoderConfigurationRecord (hvcC, ISO 14496-15 §8.3.3.1) for the VPS, SPS and PPS of an
 * Annex-B stream (an encoder's global header), with 4-byte NAL unit lengths. Other NAL units are
 * left out. Empty when a parameter set is missing or the SPS cannot be read.
 */
inline std::vector<std::byte> build_hevc_config(std::span<const std::byte> annex_b) {
    std::vector<std::span<const std::byte>> nals;
    split_annex_b(annex_b, nals);
    std::optional<hevc_sps_info> sps;
    for (const auto& nal : nals)
        if (hevc_nal_type(nal) == hevc_sps && !sps) sps = parse_hevc_sps(nal);
    if (!sps) return {};
    std::vector<std::byte> out;
    put_u8(out, 1);  // configurationVersion
    put_u8(out, sps->profile_tier);
    put_be32(out, sps->compatibility);
    for (const auto c : sps->constraints) put_u8(out, c);
    put_u8(out, sps->level);
    put_be16(out, 0xf000);  // min_spatial_segmentation_idc 0
    put_u8(out, 0xfc);      // parallelismType 0: unknown
    put_u8(out, static_cast<std::uint8_t>(0xfc | sps->chroma_format));
    put_u8(out, static_cast<std::uint8_t>(0xf8 | sps->bit_depth_luma_minus8));
    put_u8(out, static_cast<std::uint8_t>(0xf8 | sps->bit_depth_chroma_minus8));
    put_be16(out, 0);  // avgFrameRate: unknown
    put_u8(out, static_cast<std::uint8_t>((sps->sub_layers & 7) << 3 | (sps->temporal_id_nested ? 4 : 0) | 3));  // lengthSizeMinusOne 3
    put_u8(out, 3);  // numOfArrays
    for (const std::uint8_t type : {hevc_vps, hevc_sps, hevc_pps}) {
        std::vector<std::span<const std::byte>> of_type;
        for (const auto& nal : nals)
            if (hevc_nal_type(nal) == type) of_type.push_back(nal);
        if (of_type.empty() || of_type.size() > 0xffff) return {};
        put_u8(out, static_cast<std::uint8_t>(0x80 | type));  // array_completeness 1
        put_be16(out, static_cast<std::uint16_t>(of_type.size()));
        for (const auto& nal : of_type) {
            if (nal.size() > 0xffff) return {};
            put_be16(out, static_cast<std::uint16_t>(nal.size()));
            out.insert(out.end(), nal.begin(), nal.end());
        }
    }
    return out;
}

} // namespace detail
RTMPX_NAMESPACE_END
