// SPDX-License-Identifier: MIT
// H.264 NAL unit framing (Annex-B start codes, AVCC lengths) and the AVCDecoderConfigurationRecord.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/// How NAL units are delimited in a byte stream.
enum class nal_framing {
    annex_b,  ///< ITU-T H.264 Annex B: each NAL unit after a 00 00 01 or 00 00 00 01 start code
    avcc,     ///< ISO 14496-15: each NAL unit after its 4-byte big-endian length
};

/// H.264 nal_unit_type values the library looks at.
enum class nal_type : std::uint8_t {
    slice = 1,
    idr = 5,
    sei = 6,
    sps = 7,
    pps = 8,
    access_unit_delimiter = 9,
};

/// The nal_unit_type (low 5 bits of the first byte) of a NAL unit; 0 for an empty span.
inline std::uint8_t nal_unit_type(std::span<const std::byte> nal) noexcept {
    return nal.empty() ? std::uint8_t{0} : static_cast<std::uint8_t>(u8(nal[0]) & 0x1f);
}

/**
 * Appends the NAL units of an Annex-B stream to `out` (spans into `data`). Bytes before the
 * first start code are ignored; trailing zero bytes of a unit (the first byte of a 4-byte start
 * code, or trailing_zero_8bits) are not part of it; empty units are skipped.
 */
inline void split_annex_b(std::span<const std::byte> data, std::vector<std::span<const std::byte>>& out) {
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    const std::size_t n = data.size();
    auto emit = [&](std::size_t begin, std::size_t end) {
        while (end > begin && data[end - 1] == std::byte{0}) --end;
        if (end > begin) out.push_back(data.subspan(begin, end - begin));
    };
    std::size_t start = none;
    std::size_t i = 0;
    while (i + 3 <= n) {
        const std::uint8_t third = u8(data[i + 2]);
        if (third > 1) {
            i += 3;  // no start code can begin at i, i+1 or i+2
        } else if (third == 1 && data[i] == std::byte{0} && data[i + 1] == std::byte{0}) {
            if (start != none) emit(start, i);
            i += 3;
            start = i;
        } else {
            ++i;
        }
    }
    if (start != none) emit(start, n);
}

/**
 * Appends the NAL units of an AVCC stream (4-byte lengths) to `out` (spans into `data`).
 * Returns false, with `out` holding the units before the fault, when a length runs past the end
 * or fewer than 4 bytes are left for a length.
 */
inline bool split_avcc(std::span<const std::byte> data, std::vector<std::span<const std::byte>>& out) {
    std::size_t i = 0;
    while (i < data.size()) {
        if (data.size() - i < 4) return false;
        const std::uint32_t len = load_be32(data.subspan(i, 4));
        i += 4;
        if (len > data.size() - i) return false;
        out.push_back(data.subspan(i, len));
        i += len;
    }
    return true;
}

/**
 * Replaces `out` with the NAL units of `data` in the given framing (spans into `data`).
 *
 * Errors: false for a malformed AVCC stream (Annex-B always parses).
 */
inline bool split_nal_units(std::span<const std::byte> data, nal_framing framing,
                            std::vector<std::span<const std::byte>>& out) {
    out.clear();
    if (framing == nal_framing::annex_b) {
        split_annex_b(data, out);
        return true;
    }
    return split_avcc(data, out);
}

/// Appends one NAL unit to `out` in the given framing (Annex-B with a 4-byte start code).
inline void append_nal_unit(std::vector<std::byte>& out, std::span<const std::byte> nal, nal_framing framing) {
    if (framing == nal_framing::annex_b) {
        put_be32(out, 1);
    } else {
        put_be32(out, static_cast<std::uint32_t>(nal.size()));
    }
    out.insert(out.end(), nal.begin(), nal.end());
}

/**
 * Appends the NAL units of `in` (framed as `from`) to `out`, framed as `to`.
 *
 * Errors: false for a malformed AVCC input; `out` then holds the units before the fault.
 */
inline bool convert_nal_units(std::span<const std::byte> in, nal_framing from, nal_framing to,
                              std::vector<std::byte>& out) {
    std::vector<std::span<const std::byte>> units;
    const bool ok = split_nal_units(in, from, units);
    std::size_t total = out.size();
    for (auto u : units) total += 4 + u.size();
    out.reserve(total);
    for (auto u : units) append_nal_unit(out, u, to);
    return ok;
}

/// An Annex-B stream (3- or 4-byte start codes) as AVCC (4-byte lengths).
inline std::vector<std::byte> annex_b_to_avcc(std::span<const std::byte> in) {
    std::vector<std::byte> out;
    convert_nal_units(in, nal_framing::annex_b, nal_framing::avcc, out);
    return out;
}

/**
 * The AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1) for one SPS and one PPS (NAL units
 * without start codes or lengths): version 1, profile/compatibility/level copied from SPS bytes
 * 1..3, lengthSizeMinusOne 3, one SPS, one PPS. The high-profile extension (chroma format, bit
 * depths) is not written; baseline/main streams do not have it.
 *
 * Errors: an empty vector when the SPS is shorter than 4 bytes, the PPS is empty, or either is
 * longer than 65535 bytes.
 */
inline std::vector<std::byte> build_avc_decoder_config(std::span<const std::byte> sps, std::span<const std::byte> pps) {
    std::vector<std::byte> out;
    if (sps.size() < 4 || pps.empty() || sps.size() > 0xffff || pps.size() > 0xffff) return out;
    out.reserve(11 + sps.size() + pps.size());
    put_u8(out, 1);         // configurationVersion
    out.push_back(sps[1]);  // AVCProfileIndication
    out.push_back(sps[2]);  // profile_compatibility
    out.push_back(sps[3]);  // AVCLevelIndication
    put_u8(out, 0xff);      // reserved 6 bits '111111' + lengthSizeMinusOne = 3
    put_u8(out, 0xe1);      // reserved 3 bits '111' + numOfSequenceParameterSets = 1
    put_be16(out, static_cast<std::uint16_t>(sps.size()));
    out.insert(out.end(), sps.begin(), sps.end());
    put_u8(out, 1);  // numOfPictureParameterSets
    put_be16(out, static_cast<std::uint16_t>(pps.size()));
    out.insert(out.end(), pps.begin(), pps.end());
    return out;
}

/**
 * Reads the SPS and PPS NAL units out of an AVCDecoderConfigurationRecord (spans into
 * `record`; anything after the PPS list is ignored).
 *
 * Errors: false when the record is truncated or its version is not 1.
 */
inline bool parse_avc_decoder_config(std::span<const std::byte> record, std::vector<std::span<const std::byte>>& sps,
                                     std::vector<std::span<const std::byte>>& pps) {
    sps.clear();
    pps.clear();
    if (record.size() < 6 || u8(record[0]) != 1) return false;
    std::size_t i = 5;
    auto read_list = [&](std::size_t count, std::vector<std::span<const std::byte>>& list) {
        for (std::size_t k = 0; k < count; ++k) {
            if (record.size() - i < 2) return false;
            const std::size_t len = load_be16(record.subspan(i, 2));
            i += 2;
            if (record.size() - i < len) return false;
            list.push_back(record.subspan(i, len));
            i += len;
        }
        return true;
    };
    if (!read_list(u8(record[i++]) & 0x1fu, sps)) return false;
    if (i >= record.size()) return false;
    const std::size_t pps_count = u8(record[i++]);
    return read_list(pps_count, pps);
}

} // namespace detail
RTMPX_NAMESPACE_END
