// SPDX-License-Identifier: MIT
// Tests for detail/config_records.hpp: av1C, vpcC and hvcC as byte tables. The expected records
// are what FFmpeg's MP4 muxer wrote for the same encoders' headers (libaom, libvpx, x265); the
// hvcC differs only where the box is left to the writer (array_completeness, no SEI array).
#include <doctest/doctest.h>

#include <cstddef>
#include <string_view>
#include <vector>

#include <rtmpx/detail/config_records.hpp>

namespace d = rtmpx::detail;

namespace {

std::vector<std::byte> hex(std::string_view text) {
    std::vector<std::byte> out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
        auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
        out.push_back(std::byte(nibble(text[i]) << 4 | nibble(text[i + 1])));
    }
    return out;
}

std::vector<std::byte> cat(std::initializer_list<std::vector<std::byte>> parts) {
    std::vector<std::byte> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

} // namespace

TEST_SUITE("config records") {
    TEST_CASE("bit_reader: bits, Exp-Golomb, uvlc, and running out") {
        const auto data = hex("a5" "60" "ff");  // 1010 0101 | 0110 0000 | ...
        d::bit_reader r(data);
        CHECK(r.bits(4) == 0xa);
        CHECK(r.exp_golomb() == 1);  // "010"
        CHECK(r.exp_golomb() == 0);  // "1"
        CHECK(r.uvlc() == 2);        // "011"
        CHECK_FALSE(r.failed());
        r.skip(16);
        CHECK(r.failed());
        CHECK(r.bit() == 0);
    }

    TEST_CASE("av1C: 64x48 profile 0 level 2.0, then 1280x720 level 3.1 with a colour description") {
        // A temporal delimiter, then the sequence header OBU libaom gives as its global header.
        const auto small = hex("0a0a00000002aff79b5f2008");
        CHECK(d::build_av1_config(cat({hex("1200"), small})) == cat({hex("81000c00"), small}));
        const auto hd = hex("0a0e0000002d4cffb3cdaf9101010104");
        CHECK(d::build_av1_config(hd) == cat({hex("81050c00"), hd}));
        const auto info = d::parse_av1_sequence_header(std::span(hd).subspan(2));
        REQUIRE(info);
        CHECK(info->level == 5);
        CHECK_FALSE(info->high_bitdepth);
        CHECK_FALSE(info->monochrome);
    }

    TEST_CASE("av1C: nothing for OBUs without a size field, truncated ones, or no sequence header") {
        CHECK(d::build_av1_config(hex("0800")).empty());                  // obu_has_size_field 0
        CHECK(d::build_av1_config(hex("0a0a000000")).empty());            // 10 bytes announced, 3 there
        CHECK(d::build_av1_config(hex("1200")).empty());                  // a temporal delimiter alone
        CHECK(d::build_av1_config(hex("0a0200ff")).empty());              // a sequence header cut short
        CHECK(d::build_av1_config(hex("0affffffffffffffffff01")).empty());  // leb128 over 8 bytes
    }

    TEST_CASE("vpcC: profile 0, 8 bits, 4:2:0, the level from size and rate") {
        d::vp9_config c;
        c.level = d::vp9_level_for(64, 48, 30);
        CHECK(d::build_vp9_config(c) == hex("01000000000a820202020000"));
        CHECK(d::vp9_level_for(1280, 720, 30) == 31);
        CHECK(d::vp9_level_for(1920, 1080, 60) == 41);
        CHECK(d::vp9_level_for(8192, 8192, 120) == 62);
    }

    TEST_CASE("hvcC: the fields from x265's SPS, then the VPS, SPS and PPS arrays") {
        const auto vps = hex("40010c01ffff01600000030090000003000003001e959409");
        const auto sps = hex("42010101600000030090000003000003001ea0208316595952930bc05a020000030002000003003c10");
        const auto pps = hex("4401c073c089");
        const auto start = hex("00000001");
        const auto record = d::build_hevc_config(cat({start, vps, start, sps, hex("000001"), pps}));
        auto array = [](int type, const std::vector<std::byte>& nal) {
            return cat({std::vector<std::byte>{std::byte(0x80 | type), std::byte{0}, std::byte{1}, std::byte(nal.size() >> 8), std::byte(nal.size() & 0xff)}, nal});
        };
        CHECK(record == cat({hex("0101600000009000000000001ef000fcfdf8f800000f03"), array(32, vps), array(33, sps), array(34, pps)}));
        const auto info = d::parse_hevc_sps(sps);
        REQUIRE(info);
        CHECK(info->level == 30);  // level 1
        CHECK(info->chroma_format == 1);
        CHECK(info->sub_layers == 1);
        CHECK(info->temporal_id_nested);
    }

    TEST_CASE("hvcC: nothing without an SPS, a PPS, or with an SPS cut short") {
        const auto vps = hex("0000000140010c01ffff01600000030090000003000003001e959409");
        const auto pps = hex("000000014401c073c089");
        CHECK(d::build_hevc_config(cat({vps, pps})).empty());
        CHECK(d::build_hevc_config(cat({vps, hex("00000001420101016000"), pps})).empty());
        CHECK(d::build_hevc_config(cat({vps, hex("0000000142010101600000030090000003000003001ea0208316595952930bc05a020000030002000003003c10")})).empty());
    }

    TEST_CASE("emulation prevention bytes go, other threes stay") {
        CHECK(d::unescape_rbsp(hex("00000301000003030003")) == hex("0000010000030003"));
    }
}
