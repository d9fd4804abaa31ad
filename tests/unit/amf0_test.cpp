// SPDX-License-Identifier: MIT
// Tests for amf0.hpp: byte tables both ways, a real connect command, round trips, limits, accessors;
// the view decoder (document.hpp) against the value decoder, and the writer (writer.hpp).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/document.hpp>
#include <rtmpx/amf/writer.hpp>
#include <rtmpx/amf/format.hpp>

#include "../support.hpp"

using rtmpx::amf0::kind;
using rtmpx::amf0::value;
using rtmpx_test::bytes;

namespace {

struct decoded {
    value v;
    std::error_code ec;
    std::size_t used = 0;
};

decoded decode_one(std::span<const std::byte> in, const rtmpx::amf_limits& limits = {}) {
    decoded d;
    d.v = value::undefined();  // so that a decode which leaves `out` alone is visible
    d.used = rtmpx::amf0::decode(in, d.v, d.ec, limits);
    return d;
}

struct table_row {
    const char* name;
    value v;
    std::vector<std::byte> wire;
};

/// Random values of every kind that survives AMF0 (and, inside byte arrays' neighbours,
/// dictionaries, AMF3) unchanged.
class generator {
public:
    explicit generator(std::uint32_t seed) : rng_(seed) {}

    value make(int depth, bool amf3) {
        // 0-6 scalars, 7-12 containers and AMF3-only kinds, 13 an integer; containers two times in three
        const std::size_t k = depth == 0 ? pick(7) : (pick(3) == 0 ? pick(7) : 7 + pick(7));
        switch (k) {
        case 0: return value(number());
        case 1: return value(pick(2) == 0);
        case 2: return value(text(true));
        case 3: return value::null();
        case 4: return amf3 ? value::undefined() : (pick(2) == 0 ? value::undefined() : value::unsupported());
        case 5: return value::date(number(), amf3 ? std::int16_t{0} : static_cast<std::int16_t>(pick(65536)));
        case 6: return value::xml_document(text(true));
        case 7: return value::object(props(depth, amf3, true));
        case 8: {
            // AMF3 cannot carry an empty associative array (it reads back as a strict array)
            // or an empty key in one
            rtmpx::amf0::properties p = props(depth, amf3, !amf3);
            if (amf3 && p.empty()) p.emplace_back("k", value(1));
            return value::ecma_array(std::move(p));
        }
        case 9: {
            std::vector<value> items;
            for (std::size_t i = 0, n = pick(5); i < n; ++i) items.push_back(make(depth - 1, amf3));
            return value::strict_array(std::move(items));
        }
        case 10: {
            std::string name = text(false);
            if (name.size() > 0xffff) name.resize(5);   // AMF0 class names are at most 65535 bytes
            if (name.empty() && amf3) name = "C";  // AMF3 reads an empty class name as anonymous
            return value::typed_object(std::move(name), props(depth, amf3, true));
        }
        case 11: {
            std::vector<std::byte> data(pick(20));
            for (auto& b : data) b = static_cast<std::byte>(pick(256));
            return value::byte_array(std::move(data));
        }
        case 12: {
            std::vector<std::pair<value, value>> entries;
            for (std::size_t i = 0, n = pick(4); i < n; ++i) entries.emplace_back(make(depth - 1, true), make(depth - 1, true));
            return value::dictionary(std::move(entries));
        }
        default: return value(static_cast<std::int64_t>(pick(1000)) - 500);
        }
    }

private:
    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

    double number() {
        switch (pick(6)) {
        case 0: return static_cast<double>(static_cast<std::int64_t>(pick(1u << 30)) - (1 << 29));
        case 1: return -0.0;
        case 2: return std::numeric_limits<double>::infinity();
        case 3: return static_cast<double>(pick(100)) / 8.0;
        default: {
            // any bit pattern, NaN payloads included
            const std::uint64_t bits = (std::uint64_t{static_cast<std::uint32_t>(rng_())} << 32) | rng_();
            return std::bit_cast<double>(bits);
        }
        }
    }

    std::string text(bool allow_empty) {
        if (pick(2000) == 0) return std::string(70000 + pick(100), 'L');  // an AMF0 long string
        static constexpr char alphabet[] = "abcXYZ019 _\"\\\n\t\x01\x7f\xc3\xa9";
        std::string s(pick(9), ' ');
        for (char& c : s) c = alphabet[pick(sizeof alphabet - 1)];
        if (s.empty() && !allow_empty) s = "x";
        return s;
    }

    rtmpx::amf0::properties props(int depth, bool amf3, bool allow_empty_keys) {
        rtmpx::amf0::properties p;
        for (std::size_t i = 0, n = pick(5); i < n; ++i) {
            std::string key = text(allow_empty_keys && !amf3);
            if (key.size() > 0xffff) key.resize(10);
            p.emplace_back(std::move(key), make(depth - 1, amf3));
        }
        return p;
    }

    std::mt19937 rng_;
};

/// Counts the values in `v` by kind, nested ones included.
void count_kinds(const value& v, std::vector<std::size_t>& seen) {
    ++seen[static_cast<std::size_t>(v.type())];
    if (v.has_properties()) {
        for (const auto& p : v.props()) count_kinds(p.second, seen);
    } else if (v.is_strict_array()) {
        for (const auto& e : v.elements()) count_kinds(e, seen);
    } else if (v.is_dictionary()) {
        for (const auto& [key, val] : v.entries()) {
            count_kinds(key, seen);
            count_kinds(val, seen);
        }
    }
}

std::vector<std::byte> nested_objects(std::size_t levels) {
    std::vector<std::byte> wire;
    for (std::size_t i = 0; i < levels; ++i) {
        if (i + 1 == levels) {
            wire.push_back(std::byte{0x03});  // object marker, no properties
        } else {
            const auto open = bytes({0x03, 0x00, 0x01, 'o'});  // object marker, key "o"
            wire.insert(wire.end(), open.begin(), open.end());
        }
    }
    for (std::size_t i = 0; i < levels; ++i) {
        const auto end = bytes({0x00, 0x00, 0x09});  // empty key, object end
        wire.insert(wire.end(), end.begin(), end.end());
    }
    return wire;
}

/// One 60000-byte string, then a strict array with 1000 references to the object holding it: a
/// 63 kB message that would expand to 60 MB.
std::vector<std::byte> expanding_references() {
    std::vector<std::byte> wire = bytes({
        0x0a, 0x00, 0x00, 0x03, 0xe9,  // strict array of 1001 (table entry 0)
        0x03,                          // object (table entry 1)
        0x00, 0x01, 's',               // key "s"
        0x02, 0xea, 0x60,              // string marker, length 60000
    });
    wire.resize(wire.size() + 60000, std::byte{'z'});
    const auto end = bytes({0x00, 0x00, 0x09});  // empty key, object end
    wire.insert(wire.end(), end.begin(), end.end());
    const auto ref = bytes({0x07, 0x00, 0x01});  // reference marker, entry 1
    for (int i = 0; i < 1000; ++i) wire.insert(wire.end(), ref.begin(), ref.end());
    return wire;
}

} // namespace

TEST_SUITE("amf0") {
    TEST_CASE("every AMF0 type decodes from its byte table and encodes back to it") {
        const std::vector<table_row> rows = {
            {"number", value(3.5),
             bytes({
                 0x00,                                            // number marker
                 0x40, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 3.5 as a big-endian IEEE-754 double
             })},
            {"boolean true", value(true),
             bytes({
                 0x01,  // boolean marker
                 0x01,  // true
             })},
            {"boolean false", value(false),
             bytes({
                 0x01,  // boolean marker
                 0x00,  // false
             })},
            {"string", value("live"),
             bytes({
                 0x02, 0x00, 0x04,    // string marker, length 4
                 'l', 'i', 'v', 'e',  // "live"
             })},
            {"empty string", value(""),
             bytes({
                 0x02, 0x00, 0x00,  // string marker, length 0
             })},
            {"object", value::object({{"app", "live"}}),
             bytes({
                 0x03,                // object marker
                 0x00, 0x03,          // key length 3
                 'a', 'p', 'p',       // "app"
                 0x02, 0x00, 0x04,    // string marker, length 4
                 'l', 'i', 'v', 'e',  // "live"
                 0x00, 0x00, 0x09,    // empty key, object end marker
             })},
            {"empty object", value::object(),
             bytes({
                 0x03,              // object marker
                 0x00, 0x00, 0x09,  // empty key, object end marker
             })},
            {"null", value::null(),
             bytes({
                 0x05,  // null marker
             })},
            {"undefined", value::undefined(),
             bytes({
                 0x06,  // undefined marker
             })},
            {"ecma array", value::ecma_array({{"duration", 0}}),
             bytes({
                 0x08,                                            // ECMA array marker
                 0x00, 0x00, 0x00, 0x01,                          // count hint 1
                 0x00, 0x08,                                      // key length 8
                 'd', 'u', 'r', 'a', 't', 'i', 'o', 'n',          // "duration"
                 0x00,                                            // number marker
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0.0
                 0x00, 0x00, 0x09,                                // empty key, object end marker
             })},
            {"strict array", value::strict_array({1, "a"}),
             bytes({
                 0x0a,                                            // strict array marker
                 0x00, 0x00, 0x00, 0x02,                          // 2 elements
                 0x00,                                            // number marker
                 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1.0
                 0x02, 0x00, 0x01,                                // string marker, length 1
                 'a',                                             // "a"
             })},
            {"date", value::date(1700000000000.0, 60),
             bytes({
                 0x0b,                                            // date marker
                 0x42, 0x78, 0xbc, 0xfe, 0x56, 0x80, 0x00, 0x00,  // 1700000000000 ms as a double
                 0x00, 0x3c,                                      // time zone +60 minutes
             })},
            {"date with a negative time zone", value::date(0.0, -120),
             bytes({
                 0x0b,                                            // date marker
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0 ms
                 0xff, 0x88,                                      // time zone -120 minutes (s16)
             })},
            {"unsupported", value::unsupported(),
             bytes({
                 0x0d,  // unsupported marker
             })},
            {"xml document", value::xml_document("<a/>"),
             bytes({
                 0x0f,                    // XML document marker
                 0x00, 0x00, 0x00, 0x04,  // length 4 (u32)
                 '<', 'a', '/', '>',      // "<a/>"
             })},
            {"typed object", value::typed_object("Pt", {{"x", 1}}),
             bytes({
                 0x10,                                            // typed object marker
                 0x00, 0x02,                                      // class name length 2
                 'P', 't',                                        // "Pt"
                 0x00, 0x01,                                      // key length 1
                 'x',                                             // "x"
                 0x00,                                            // number marker
                 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1.0
                 0x00, 0x00, 0x09,                                // empty key, object end marker
             })},
            {"byte array through the AVM+ switch", value::byte_array(bytes({1, 2, 3})),
             bytes({
                 0x11,              // AVM+ marker: the next value is AMF3
                 0x0c,              // AMF3 byte array marker
                 0x07,              // U29 (3 << 1) | 1: inline, length 3
                 0x01, 0x02, 0x03,  // the bytes
             })},
            {"dictionary through the AVM+ switch", value::dictionary({{value("k"), value(1)}}),
             bytes({
                 0x11,              // AVM+ marker: the next value is AMF3
                 0x11,              // AMF3 dictionary marker
                 0x03,              // U29 (1 << 1) | 1: inline, 1 entry
                 0x00,              // strong keys
                 0x06, 0x03, 'k',   // AMF3 string marker, inline length 1, "k"
                 0x04, 0x01,        // AMF3 integer marker, 1
             })},
        };
        for (const table_row& row : rows) {
            CAPTURE(row.name);
            CHECK(rtmpx::amf0::encode(row.v) == row.wire);
            const decoded d = decode_one(row.wire);
            CHECK(!d.ec);
            CHECK(d.used == row.wire.size());
            CHECK(d.v == row.v);
        }
    }

    TEST_CASE("a string longer than 65535 bytes is written and read as a long string") {
        const std::string text(65536, 'x');
        const auto wire = rtmpx::amf0::encode(value(text));
        REQUIRE(wire.size() == 5 + text.size());
        CHECK(std::vector<std::byte>(wire.begin(), wire.begin() + 5) ==
              bytes({
                  0x0c,                    // long string marker
                  0x00, 0x01, 0x00, 0x00,  // length 65536 (u32)
              }));
        const decoded d = decode_one(wire);
        CHECK(!d.ec);
        CHECK(d.v.as_string() == text);
        // exactly 65535 bytes still fits a short string
        CHECK(rtmpx::amf0::encode(value(std::string(65535, 'y')))[0] == std::byte{0x02});
    }

    TEST_CASE("decoding accepts what only a decoder sees: references, long strings, count hints, AVM+ values") {
        SUBCASE("a reference is a deep copy of an earlier complex value") {
            const auto wire = bytes({
                0x0a, 0x00, 0x00, 0x00, 0x02,  // strict array marker, 2 elements (table entry 0)
                0x03,                          // object marker (table entry 1)
                0x00, 0x01, 'a',               // key "a"
                0x01, 0x01,                    // boolean true
                0x00, 0x00, 0x09,              // empty key, object end marker
                0x07, 0x00, 0x01,              // reference marker, index 1 (the object)
            });
            const decoded d = decode_one(wire);
            REQUIRE(!d.ec);
            CHECK(d.used == wire.size());
            const value obj = value::object({{"a", true}});
            CHECK(d.v == value::strict_array({obj, obj}));
        }
        SUBCASE("a long string marker may carry a short string") {
            const decoded d = decode_one(bytes({
                0x0c, 0x00, 0x00, 0x00, 0x02,  // long string marker, length 2 (u32)
                'o', 'k',                      // "ok"
            }));
            CHECK(!d.ec);
            CHECK(d.v == value("ok"));
        }
        SUBCASE("the ECMA array count is only a hint") {
            const decoded d = decode_one(bytes({
                0x08, 0xff, 0xff, 0xff, 0xff,  // ECMA array marker, count hint 2^32-1
                0x00, 0x01, 'a', 0x05,         // key "a", null marker
                0x00, 0x00, 0x09,              // empty key, object end marker
            }));
            CHECK(!d.ec);
            CHECK(d.v == value::ecma_array({{"a", value::null()}}));
        }
        SUBCASE("an empty key followed by a value is an ordinary property") {
            const auto wire = bytes({
                0x03,              // object marker
                0x00, 0x00, 0x05,  // empty key, null marker
                0x00, 0x00, 0x09,  // empty key, object end marker
            });
            const decoded d = decode_one(wire);
            CHECK(!d.ec);
            CHECK(d.v == value::object({{"", value::null()}}));
            CHECK(rtmpx::amf0::encode(d.v) == wire);
        }
        SUBCASE("an AVM+ switch may carry any AMF3 value, for that value only") {
            std::vector<value> values;
            std::error_code ec;
            CHECK(rtmpx::amf0::decode_all(bytes({
                                              0x11, 0x06, 0x05, 'h', 'i',  // AVM+, AMF3 string inline length 2, "hi"
                                              0x06,                        // AMF0 undefined again
                                          }),
                                          values, ec));
            CHECK(!ec);
            CHECK(values == std::vector<value>{value("hi"), value::undefined()});
        }
        SUBCASE("decode reports the bytes it used and ignores what follows") {
            const decoded d = decode_one(bytes({
                0x05,  // null marker
                0x05,  // a second value, not read
            }));
            CHECK(!d.ec);
            CHECK(d.used == 1);
        }
    }

    TEST_CASE("the connect command ffmpeg sends decodes and re-encodes byte for byte") {
        const auto wire = bytes({
            0x02, 0x00, 0x07,                                // string marker, length 7
            'c', 'o', 'n', 'n', 'e', 'c', 't',               // "connect"
            0x00,                                            // number marker
            0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // transaction id 1.0
            0x03,                                            // object marker (command object)
            0x00, 0x03, 'a', 'p', 'p',                       // key "app"
            0x02, 0x00, 0x04, 'l', 'i', 'v', 'e',            // string "live"
            0x00, 0x08,                                      // key length 8
            'f', 'l', 'a', 's', 'h', 'V', 'e', 'r',          // "flashVer"
            0x02, 0x00, 0x0d,                                // string marker, length 13
            'L', 'N', 'X', ' ', '9', ',', '0', ',',          // "LNX 9,0,"
            '1', '2', '4', ',', '2',                         // "124,2"
            0x00, 0x05, 't', 'c', 'U', 'r', 'l',             // key "tcUrl"
            0x02, 0x00, 0x1a,                                // string marker, length 26
            'r', 't', 'm', 'p', ':', '/', '/',               // "rtmp://"
            'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',     // "localhost"
            ':', '1', '9', '3', '5', '/', 'l', 'i', 'v', 'e',  // ":1935/live"
            0x00, 0x04, 'f', 'p', 'a', 'd',                  // key "fpad"
            0x01, 0x00,                                      // boolean false
            0x00, 0x0c,                                      // key length 12
            'c', 'a', 'p', 'a', 'b', 'i', 'l', 'i', 't', 'i', 'e', 's',  // "capabilities"
            0x00,                                            // number marker
            0x40, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 15.0
            0x00, 0x0b,                                      // key length 11
            'a', 'u', 'd', 'i', 'o', 'C', 'o', 'd', 'e', 'c', 's',  // "audioCodecs"
            0x00,                                            // number marker
            0x40, 0xaf, 0xce, 0x00, 0x00, 0x00, 0x00, 0x00,  // 4071.0
            0x00, 0x0b,                                      // key length 11
            'v', 'i', 'd', 'e', 'o', 'C', 'o', 'd', 'e', 'c', 's',  // "videoCodecs"
            0x00,                                            // number marker
            0x40, 0x6f, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,  // 252.0
            0x00, 0x0d,                                      // key length 13
            'v', 'i', 'd', 'e', 'o', 'F', 'u', 'n', 'c', 't', 'i', 'o', 'n',  // "videoFunction"
            0x00,                                            // number marker
            0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1.0
            0x00, 0x00, 0x09,                                // empty key, object end marker
        });
        std::vector<value> values;
        std::error_code ec;
        REQUIRE(rtmpx::amf0::decode_all(wire, values, ec));
        CHECK(!ec);
        REQUIRE(values.size() == 3);
        CHECK(values[0].as_string() == "connect");
        CHECK(values[1].as_number() == 1);
        const value& cmd = values[2];
        CHECK(cmd.is_object());
        CHECK(cmd.size() == 8);
        CHECK(cmd["app"].as_string() == "live");
        CHECK(cmd["flashVer"].as_string() == "LNX 9,0,124,2");
        CHECK(cmd["tcUrl"].as_string() == "rtmp://localhost:1935/live");
        CHECK(cmd["fpad"].is_boolean());
        CHECK(cmd["fpad"].as_bool(true) == false);
        CHECK(cmd["capabilities"].as_number() == 15);
        CHECK(cmd["audioCodecs"].as_number() == 4071);
        CHECK(cmd["videoCodecs"].as_number() == 252);
        CHECK(cmd["videoFunction"].as_number() == 1);
        CHECK(cmd.props().front().first == "app");  // wire order is kept

        const value expected = value::object({{"app", "live"},
                                              {"flashVer", "LNX 9,0,124,2"},
                                              {"tcUrl", "rtmp://localhost:1935/live"},
                                              {"fpad", false},
                                              {"capabilities", 15},
                                              {"audioCodecs", 4071},
                                              {"videoCodecs", 252},
                                              {"videoFunction", 1}});
        CHECK(cmd == expected);
        std::vector<std::byte> out;
        for (const value& v : values) rtmpx::amf0::encode(v, out);
        CHECK(out == wire);
    }

    TEST_CASE("random values of every kind survive an encode and decode round trip") {
        generator gen(20240611u);
        std::size_t checked = 0;
        std::vector<std::size_t> seen(14);
        for (int i = 0; i < 3000; ++i) {
            const value v = gen.make(4, false);
            count_kinds(v, seen);
            const auto wire = rtmpx::amf0::encode(v);
            const decoded d = decode_one(wire);
            if (d.ec || d.used != wire.size() || !(d.v == v)) {
                FAIL("round trip failed for #" << i << ": " << fmt::format("{}", v) << " -> " << d.ec.message());
            }
            ++checked;
        }
        CHECK(checked == 3000);
        std::size_t total = 0;
        for (std::size_t k = 0; k < seen.size(); ++k) {
            CAPTURE(k);
            CHECK(seen[k] > 100);  // every kind, many times
            total += seen[k];
        }
        MESSAGE(total << " values in 3000 round trips");
    }

    TEST_CASE("decode_all reads a sequence and stops at the first bad value") {
        std::vector<value> values;
        std::error_code ec;
        CHECK(rtmpx::amf0::decode_all({}, values, ec));
        CHECK(values.empty());
        CHECK_FALSE(rtmpx::amf0::decode_all(bytes({
                                                0x05,  // null marker
                                                0x04,  // movieclip marker (reserved)
                                            }),
                                            values, ec));
        CHECK(ec == rtmpx::error::amf_unknown_marker);
        CHECK(values.size() == 1);
    }

    TEST_CASE("nesting deeper than max_depth is amf_depth_exceeded") {
        CHECK(!decode_one(nested_objects(32)).ec);
        CHECK(decode_one(nested_objects(33)).ec == rtmpx::error::amf_depth_exceeded);
        rtmpx::amf_limits limits;
        limits.max_depth = 2;
        CHECK(!decode_one(nested_objects(2), limits).ec);
        CHECK(decode_one(nested_objects(3), limits).ec == rtmpx::error::amf_depth_exceeded);
        // strict arrays nest too
        CHECK(decode_one(bytes({
                             0x0a, 0x00, 0x00, 0x00, 0x01,  // strict array of 1
                             0x0a, 0x00, 0x00, 0x00, 0x01,  // strict array of 1
                             0x0a, 0x00, 0x00, 0x00, 0x00,  // empty strict array: depth 3
                         }),
                         limits)
                  .ec == rtmpx::error::amf_depth_exceeded);
    }

    TEST_CASE("more values than max_elements is amf_too_many_elements") {
        rtmpx::amf_limits limits;
        limits.max_elements = 3;
        const auto three = bytes({
            0x0a, 0x00, 0x00, 0x00, 0x02,  // strict array of 2 (1 element)
            0x05, 0x05,                    // null, null (2 more)
        });
        CHECK(!decode_one(three, limits).ec);
        SUBCASE("counted one by one") {
            CHECK(decode_one(bytes({
                                 0x03,                    // object (1)
                                 0x00, 0x01, 'a', 0x05,   // a: null (2)
                                 0x00, 0x01, 'b', 0x05,   // b: null (3)
                                 0x00, 0x01, 'c', 0x05,   // c: null (4)
                                 0x00, 0x00, 0x09,        // object end
                             }),
                             limits)
                      .ec == rtmpx::error::amf_too_many_elements);
        }
        SUBCASE("from a strict array count, before reserving") {
            CHECK(decode_one(bytes({
                                 0x0a, 0x00, 0x00, 0x00, 0x05,  // strict array of 5
                                 0x05, 0x05, 0x05, 0x05, 0x05,  // five nulls
                             }),
                             limits)
                      .ec == rtmpx::error::amf_too_many_elements);
        }
        SUBCASE("through a reference copy") {
            limits.max_elements = 6;
            const auto wire = bytes({
                0x0a, 0x00, 0x00, 0x00, 0x02,  // strict array of 2 (1; table entry 0)
                0x03,                          // object (2; table entry 1)
                0x00, 0x01, 'a', 0x05,         // a: null (3)
                0x00, 0x00, 0x09,              // object end
                0x07, 0x00, 0x01,              // reference to entry 1: copies 2 more (5)
            });
            CHECK(!decode_one(wire, limits).ec);
            limits.max_elements = 4;
            CHECK(decode_one(wire, limits).ec == rtmpx::error::amf_too_many_elements);
        }
        SUBCASE("across all the values of decode_all") {
            std::vector<value> values;
            std::error_code ec;
            CHECK_FALSE(rtmpx::amf0::decode_all(bytes({0x05, 0x05, 0x05, 0x05}), values, ec, limits));  // 4 nulls
            CHECK(ec == rtmpx::error::amf_too_many_elements);
        }
    }

    TEST_CASE("references that copy far more than the input hold are refused") {
        CHECK(decode_one(expanding_references()).ec == rtmpx::error::amf_too_many_elements);
    }

    TEST_CASE("every truncation of a value is an error, never a crash") {
        const value sample = value::object({
            {"n", 1.25},
            {"b", true},
            {"s", "text"},
            {"o", value::object({{"x", value::null()}, {"u", value::undefined()}})},
            {"e", value::ecma_array({{"k", 2}})},
            {"a", value::strict_array({1, "two", value::unsupported()})},
            {"d", value::date(5.0, 1)},
            {"x", value::xml_document("<x/>")},
            {"t", value::typed_object("T", {{"f", false}})},
            {"ba", value::byte_array(bytes({9, 8, 7}))},
            {"di", value::dictionary({{value(1), value("one")}})},
        });
        const auto wire = rtmpx::amf0::encode(sample);
        REQUIRE(decode_one(wire).v == sample);
        std::size_t failures = 0;
        for (std::size_t n = 0; n < wire.size(); ++n) {
            const decoded d = decode_one(std::span<const std::byte>(wire).first(n));
            if (d.ec != rtmpx::error::amf_truncated || d.used != 0 || !d.v.is_undefined()) {
                FAIL("prefix of " << n << " bytes: " << d.ec.message());
            }
            ++failures;
        }
        CHECK(failures == wire.size());
        // a long string, cut in its header and in its body
        const auto long_wire = rtmpx::amf0::encode(value(std::string(70000, 'l')));
        for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{5}, long_wire.size() - 1}) {
            CAPTURE(n);
            CHECK(decode_one(std::span<const std::byte>(long_wire).first(n)).ec == rtmpx::error::amf_truncated);
        }
    }

    TEST_CASE("lengths that claim more than the input holds fail before allocating") {
        CHECK(decode_one(bytes({0x0c, 0xff, 0xff, 0xff, 0xff, 'a'})).ec == rtmpx::error::amf_truncated);  // long string of 4 GB
        CHECK(decode_one(bytes({0x0f, 0xff, 0xff, 0xff, 0xff, 'a'})).ec == rtmpx::error::amf_truncated);  // XML of 4 GB
        CHECK(decode_one(bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0x05})).ec == rtmpx::error::amf_truncated);  // 4G elements
        CHECK(decode_one(bytes({0x02, 0xff, 0xff, 'a'})).ec == rtmpx::error::amf_truncated);  // string of 64 kB
        CHECK(decode_one(bytes({0x10, 0xff, 0xff, 'a'})).ec == rtmpx::error::amf_truncated);  // class name of 64 kB
        CHECK(decode_one(bytes({0x03, 0xff, 0xff, 'a'})).ec == rtmpx::error::amf_truncated);  // key of 64 kB
        CHECK(decode_one({}).ec == rtmpx::error::amf_truncated);
    }

    TEST_CASE("reserved and unknown markers are amf_unknown_marker") {
        for (int marker : {0x04, 0x0e, 0x12, 0x7f, 0xff}) {
            CAPTURE(marker);
            CHECK(decode_one(bytes({marker})).ec == rtmpx::error::amf_unknown_marker);
        }
    }

    TEST_CASE("an object end outside an object is amf_malformed") {
        CHECK(decode_one(bytes({0x09})).ec == rtmpx::error::amf_malformed);  // object end as a value
        CHECK(decode_one(bytes({
                             0x0a, 0x00, 0x00, 0x00, 0x01,  // strict array of 1
                             0x09,                          // object end as its element
                         }))
                  .ec == rtmpx::error::amf_malformed);
        CHECK(decode_one(bytes({
                             0x03,                  // object marker
                             0x00, 0x01, 'a', 0x09, // key "a", object end as its value
                         }))
                  .ec == rtmpx::error::amf_malformed);
    }

    TEST_CASE("references out of range or to an unfinished value are amf_bad_reference") {
        CHECK(decode_one(bytes({0x07, 0x00, 0x00})).ec == rtmpx::error::amf_bad_reference);  // empty table
        CHECK(decode_one(bytes({
                             0x0a, 0x00, 0x00, 0x00, 0x01,  // strict array of 1 (entry 0)
                             0x07, 0x00, 0x00,              // reference to itself, still open
                         }))
                  .ec == rtmpx::error::amf_bad_reference);
        CHECK(decode_one(bytes({
                             0x0a, 0x00, 0x00, 0x00, 0x02,  // strict array of 2 (entry 0)
                             0x03, 0x00, 0x00, 0x09,        // empty object (entry 1)
                             0x07, 0x00, 0x02,              // reference to entry 2: none
                         }))
                  .ec == rtmpx::error::amf_bad_reference);
        // the table lasts for the whole decode_all call
        std::vector<value> values;
        std::error_code ec;
        CHECK(rtmpx::amf0::decode_all(bytes({
                                          0x03, 0x00, 0x00, 0x09,  // empty object (entry 0)
                                          0x07, 0x00, 0x00,        // reference to entry 0
                                      }),
                                      values, ec));
        CHECK(values == std::vector<value>{value::object(), value::object()});
    }

    TEST_CASE("accessors are lenient about the kind and exact about the content") {
        value v = value::object({{"app", "live"}, {"n", 3}});
        CHECK(v.type() == kind::object);
        CHECK(v.is_object());
        CHECK(v.has_properties());
        CHECK_FALSE(v.is_ecma_array());
        CHECK(v.size() == 2);
        CHECK(v["app"].as_string() == "live");
        CHECK(v["n"].as_number() == 3);
        CHECK(v["missing"].is_null());
        CHECK(v["app"]["deeper"].is_null());
        CHECK(v[std::size_t{0}].is_null());
        CHECK(v.find("n") != nullptr);
        CHECK(v.find("nope") == nullptr);
        CHECK(v.contains("app"));
        CHECK_FALSE(v.contains("App"));
        v.set("n", 4).set("extra", value::null());
        CHECK(v["n"].as_number() == 4);
        CHECK(v.size() == 3);
        CHECK(v.props().back().first == "extra");

        CHECK(value(7).as_number() == 7);
        CHECK(value(std::uint64_t{1} << 40).as_number() == 1099511627776.0);
        CHECK(value(7).type() == kind::number);
        CHECK(value(true).type() == kind::boolean);
        CHECK(value("x").as_number(-1) == -1);
        CHECK(value(1).as_bool(true) == true);
        CHECK(value(1).as_string("fb") == "fb");
        CHECK(value(std::string_view("sv")).as_string() == "sv");
        CHECK(value(std::string("s")).is_string());
        CHECK(value(static_cast<const char*>(nullptr)).as_string() == "");
        CHECK(value::xml_document("<a/>").as_string() == "<a/>");
        CHECK(value().is_null());
        CHECK(value::undefined().is_undefined());
        CHECK(value::unsupported().is_unsupported());

        const value arr = value::strict_array({1, "b"});
        CHECK(arr.is_strict_array());
        CHECK(arr[std::size_t{1}].as_string() == "b");
        CHECK(arr[std::size_t{2}].is_null());
        CHECK(arr["key"].is_null());
        CHECK(arr.size() == 2);
        CHECK(arr.elements().size() == 2);

        const value date = value::date(1.5e12, -60);
        CHECK(date.is_date());
        CHECK(date.date_ms() == 1.5e12);
        CHECK(date.date_timezone() == -60);
        CHECK(date.as_number(-1) == -1);

        const value typed = value::typed_object("Cls", {{"f", 1}});
        CHECK(typed.is_typed_object());
        CHECK(typed.has_properties());
        CHECK(typed.class_name() == "Cls");
        CHECK(typed["f"].as_number() == 1);

        const value ecma = value::ecma_array({{"k", "v"}});
        CHECK(ecma.is_ecma_array());
        CHECK(ecma["k"].as_string() == "v");

        const value ba = value::byte_array(bytes({1, 2}));
        CHECK(ba.is_byte_array());
        CHECK(ba.bytes().size() == 2);
        CHECK(ba.size() == 0);

        const value dict = value::dictionary({{value(1), value("one")}});
        CHECK(dict.is_dictionary());
        CHECK(dict.size() == 1);
        CHECK(dict.entries().front().second.as_string() == "one");
        CHECK_FALSE(dict.has_properties());
    }

    TEST_CASE("equality is deep and treats NaN as equal to itself") {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        CHECK(value(nan) == value(nan));
        CHECK(value(0.0) == value(-0.0));
        CHECK(value(1) == value(1.0));
        CHECK(value(1) != value(true));
        CHECK(value::null() != value::undefined());
        CHECK(value::object({{"a", 1}}) == value::object({{"a", 1}}));
        CHECK(value::object({{"a", 1}}) != value::ecma_array({{"a", 1}}));
        CHECK(value::object({{"a", 1}, {"b", 2}}) != value::object({{"b", 2}, {"a", 1}}));  // order matters
        CHECK(value::typed_object("A") != value::typed_object("B"));
        CHECK(value::date(1, 0) != value::date(1, 1));
        CHECK(value::strict_array({1, value::object({{"x", nan}})}) == value::strict_array({1, value::object({{"x", nan}})}));
        CHECK(value::dictionary({{value(1), value(2)}}) != value::dictionary({{value(1), value(3)}}));
        CHECK(value::byte_array(bytes({1})) != value::byte_array(bytes({2})));
        CHECK(value::xml_document("a") != value("a"));
    }

    TEST_CASE("values format as compact JSON-like text") {
        CHECK(fmt::format("{}", value::object({{"app", "live"}, {"n", 3}})) == R"({app: "live", n: 3})");
        CHECK(fmt::format("{}", value(1.5)) == "1.5");
        CHECK(fmt::format("{}", value(true)) == "true");
        CHECK(fmt::format("{}", value::null()) == "null");
        CHECK(fmt::format("{}", value::undefined()) == "undefined");
        CHECK(fmt::format("{}", value::unsupported()) == "unsupported");
        CHECK(fmt::format("{}", value::ecma_array({{"duration", 0}})) == "ecma{duration: 0}");
        CHECK(fmt::format("{}", value::strict_array({1, 2})) == "[1, 2]");
        CHECK(fmt::format("{}", value::strict_array()) == "[]");
        CHECK(fmt::format("{}", value::object()) == "{}");
        CHECK(fmt::format("{}", value::date(1700000000000.0)) == "date(1700000000000)");
        CHECK(fmt::format("{}", value::date(0, 60)) == "date(0, tz 60)");
        CHECK(fmt::format("{}", value::typed_object("Pt", {{"x", 1}})) == "Pt{x: 1}");
        CHECK(fmt::format("{}", value::byte_array(bytes({1, 2, 3}))) == "bytes(3)");
        CHECK(fmt::format("{}", value::dictionary({{value("k"), value(1)}})) == R"(dict{"k" => 1})");
        CHECK(fmt::format("{}", value::xml_document("<a/>")) == R"(xml("<a/>"))");
        CHECK(fmt::format("{}", value("a\"b\\c\n\x01")) == R"("a\"b\\c\n\u0001")");
        CHECK(fmt::format("{}", value::object({{"two words", 1}, {"", 2}})) == R"({"two words": 1, "": 2})");
        CHECK(fmt::format("[{}]", value(2)) == "[2]");
        CHECK(rtmpx::amf0::to_string(value::strict_array({value::object({{"a", value::null()}})})) == "[{a: null}]");
    }
}

namespace {

/// Decodes `wire` with decode_all and with a document; both must accept or refuse it alike,
/// with the same error, and the document's values must be decode_all's.
void check_document_agrees(std::span<const std::byte> wire, const rtmpx::amf_limits& limits = {}) {
    std::vector<value> values;
    std::error_code value_ec;
    const bool value_ok = rtmpx::amf0::decode_all(wire, values, value_ec, limits);
    rtmpx::amf0::document doc;
    std::error_code doc_ec;
    const bool doc_ok = doc.decode(wire, doc_ec, limits);
    REQUIRE(doc_ok == value_ok);
    REQUIRE(doc_ec == value_ec);
    if (!doc_ok) {
        CHECK(doc.empty());
        return;
    }
    REQUIRE(doc.size() == values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!(doc[i].to_value() == values[i])) {
            FAIL("value " << i << " differs: " << fmt::format("{}", doc[i].to_value()) << " against "
                          << fmt::format("{}", values[i]));
        }
    }
}

} // namespace

TEST_SUITE("amf0 document and writer") {
    TEST_CASE("a document reads a command body as views, node by node") {
        const auto wire = bytes({
            0x02, 0x00, 0x04, 'p', 'l', 'a', 'y',            // string "play"
            0x00,                                            // number marker
            0x40, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 4.0
            0x05,                                            // null
            0x03,                                            // object marker
            0x00, 0x03, 'a', 'p', 'p',                       // key "app"
            0x02, 0x00, 0x04, 'l', 'i', 'v', 'e',            // string "live"
            0x00, 0x04, 'l', 'i', 's', 't',                  // key "list"
            0x0a, 0x00, 0x00, 0x00, 0x02,                    // strict array of 2
            0x01, 0x01,                                      // boolean true
            0x06,                                            // undefined
            0x00, 0x04, 'f', 'p', 'a', 'd',                  // key "fpad"
            0x01, 0x00,                                      // boolean false
            0x00, 0x00, 0x09,                                // empty key, object end
            0x0b,                                            // date marker
            0x40, 0x8f, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1000.0 ms
            0xff, 0xc4,                                      // time zone -60 minutes
        });
        rtmpx::amf0::document doc;
        std::error_code ec;
        REQUIRE(doc.decode(wire, ec));
        CHECK(!ec);
        REQUIRE(doc.size() == 5);
        CHECK(doc[0].as_string() == "play");
        CHECK(doc[0].as_string().data() == reinterpret_cast<const char*>(wire.data() + 3));  // a view, no copy
        CHECK(doc[1].as_number() == 4.0);
        CHECK(doc[2].is_null());
        const auto obj = doc[3];
        CHECK(obj.is_object());
        CHECK(obj.size() == 3);
        CHECK(obj["app"].as_string() == "live");
        CHECK(obj["app"].key() == "app");
        CHECK(obj["list"].type() == kind::strict_array);
        CHECK(obj["list"].size() == 2);
        CHECK(obj["list"][0].as_bool());
        CHECK(obj["list"][1].type() == kind::undefined);
        CHECK_FALSE(obj["list"][2].exists());
        CHECK(obj["fpad"].is_boolean());
        CHECK_FALSE(obj["fpad"].as_bool(true));
        CHECK_FALSE(obj["missing"].exists());
        CHECK(obj["missing"].as_string("fallback") == "fallback");
        CHECK(doc[4].date_ms() == 1000.0);
        CHECK(doc[4].date_timezone() == -60);
        CHECK_FALSE(doc[5].exists());
        // lenient accessors: the wrong kind gives the fallback
        CHECK(doc[0].as_number(7) == 7);
        CHECK(doc[1].as_string("no") == "no");

        // the flat array: containers before their contents, `end` one past the subtree
        const auto nodes = doc.nodes();
        REQUIRE(nodes.size() == 10);
        CHECK(nodes[3].type == kind::object);
        CHECK(nodes[3].children == 3);
        CHECK(nodes[3].end == 9);
        CHECK(nodes[5].type == kind::strict_array);
        CHECK(nodes[5].end == 8);
        std::vector<std::string> keys;
        for (auto p : obj) keys.emplace_back(p.key());
        CHECK(keys == std::vector<std::string>{"app", "list", "fpad"});
    }

    TEST_CASE("a document's reference is a copy of the nodes it names, under the new key") {
        const auto wire = bytes({
            0x03,                          // object marker (table entry 0)
            0x00, 0x01, 'a',               // key "a"
            0x03,                          // object marker (table entry 1)
            0x00, 0x01, 'b',               // key "b"
            0x02, 0x00, 0x01, 'x',         // string "x"
            0x00, 0x00, 0x09,              // object end
            0x00, 0x01, 'c',               // key "c"
            0x07, 0x00, 0x01,              // reference marker, index 1
            0x00, 0x00, 0x09,              // object end
        });
        rtmpx::amf0::document doc;
        std::error_code ec;
        REQUIRE(doc.decode(wire, ec));
        CHECK(doc[0]["c"].key() == "c");
        CHECK(doc[0]["c"]["b"].as_string() == "x");
        CHECK(doc[0].to_value() == value::object({{"a", value::object({{"b", "x"}})}, {"c", value::object({{"b", "x"}})}}));
        check_document_agrees(wire);
    }

    TEST_CASE("a document decodes what decode_all decodes, values and errors alike") {
        generator gen(20261203u);
        std::mt19937 rng(7);
        for (int i = 0; i < 2000; ++i) {
            CAPTURE(i);
            std::vector<std::byte> wire;
            for (int n = 0; n < 3; ++n) rtmpx::amf0::encode(gen.make(4, false), wire);
            check_document_agrees(wire);
            // the same bytes cut short, and with one byte changed: both refuse or accept alike
            check_document_agrees(std::span(wire).first(rng() % wire.size()));
            auto mutated = wire;
            mutated[rng() % mutated.size()] = static_cast<std::byte>(rng());
            check_document_agrees(mutated);
            // small limits make the depth and element errors reachable
            rtmpx::amf_limits small;
            small.max_depth = 2;
            small.max_elements = 12;
            check_document_agrees(wire, small);
        }
    }

    TEST_CASE("a document refuses a reference that would copy far more than the input holds") {
        const std::vector<std::byte> wire = expanding_references();
        rtmpx::amf0::document doc;
        std::error_code ec;
        CHECK_FALSE(doc.decode(wire, ec));
        CHECK(ec == rtmpx::error::amf_too_many_elements);
        CHECK(doc.empty());
    }

    TEST_CASE("the writer writes the bytes encode writes, value by value") {
        std::vector<std::byte> written;
        rtmpx::amf0::writer(written)
            .string("onStatus")
            .number(0)
            .null()
            .begin_object()
            .property("level", "status")
            .property("code", "NetStream.Play.Start")
            .property("count", 2.0)
            .property("ok", true)
            .key("list")
            .begin_strict_array(2)
            .undefined()
            .date(1000, -60)
            .key("map")
            .begin_ecma_array(1)
            .property("k", value(std::string(70000, 'L')))  // a long string, through encode
            .end_object()
            .end_object();
        std::vector<std::byte> expected;
        for (const value& v :
             {value("onStatus"), value(0), value::null(),
              value::object({{"level", "status"},
                             {"code", "NetStream.Play.Start"},
                             {"count", 2},
                             {"ok", true},
                             {"list", value::strict_array({value::undefined(), value::date(1000, -60)})},
                             {"map", value::ecma_array({{"k", value(std::string(70000, 'L'))}})}})}) {
            rtmpx::amf0::encode(v, expected);
        }
        CHECK(written == expected);

        // a byte table for the smallest case, appended after what the buffer held
        std::vector<std::byte> out = bytes({0xaa});
        {
            rtmpx::amf0::writer w(out);
            w.string("a").boolean(true).string(std::string(70000, 'x'));
            w.finish();
            CHECK(out.size() == 1 + 4 + 2 + 5 + 70000);
        }
        CHECK(std::vector<std::byte>(out.begin(), out.begin() + 12) ==
              bytes({0xaa, 0x02, 0x00, 0x01, 'a', 0x01, 0x01, 0x0c, 0x00, 0x01, 0x11, 0x70}));
    }
}
