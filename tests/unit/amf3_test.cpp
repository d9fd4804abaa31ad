// SPDX-License-Identifier: MIT
// Tests for detail/amf3_decoder.hpp and detail/amf3_encoder.hpp through the AVM+ switch.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/format.hpp>
#include <rtmpx/amf/amf3_decoder.hpp>
#include <rtmpx/amf/amf3_encoder.hpp>

#include "../support.hpp"

using rtmpx::amf0::value;
using rtmpx_test::bytes;

namespace {

struct decoded {
    value v;
    std::error_code ec;
    std::size_t used = 0;
};

/// Decodes `amf3` as the value after an AMF0 AVM+ switch marker.
decoded decode3(std::span<const std::byte> amf3, const rtmpx::amf_limits& limits = {}) {
    std::vector<std::byte> wire{std::byte{0x11}};  // AVM+ marker
    wire.insert(wire.end(), amf3.begin(), amf3.end());
    decoded d;
    d.v = value::unsupported();  // AMF3 never yields it, so an untouched `out` is visible
    d.used = rtmpx::amf0::decode(wire, d.v, d.ec, limits);
    return d;
}

std::vector<std::byte> encode3(const value& v) {
    std::vector<std::byte> out;
    rtmpx::detail::amf3_encode(v, out);
    return out;
}

struct table_row {
    const char* name;
    value v;
    std::vector<std::byte> wire;
};

void check_decodes(const std::vector<table_row>& rows) {
    for (const table_row& row : rows) {
        CAPTURE(row.name);
        const decoded d = decode3(row.wire);
        CHECK(!d.ec);
        CHECK(d.used == row.wire.size() + 1);
        CHECK(d.v == row.v);
        if (!(d.v == row.v)) MESSAGE(fmt::format("got {}", d.v));
    }
}

std::vector<std::byte> nested_arrays(std::size_t levels) {
    std::vector<std::byte> wire;
    for (std::size_t i = 0; i + 1 < levels; ++i) {
        const auto open = bytes({0x09, 0x03, 0x01});  // array marker, dense 1, no associative part
        wire.insert(wire.end(), open.begin(), open.end());
    }
    const auto inner = bytes({0x09, 0x01, 0x01});  // array marker, dense 0, no associative part
    wire.insert(wire.end(), inner.begin(), inner.end());
    return wire;
}

} // namespace

TEST_SUITE("amf3") {
    TEST_CASE("every AMF3 type decodes from its byte table and encodes back to it") {
        const std::vector<table_row> rows = {
            {"undefined", value::undefined(), bytes({0x00})},  // undefined marker
            {"null", value::null(), bytes({0x01})},            // null marker
            {"false", value(false), bytes({0x02})},            // false marker
            {"true", value(true), bytes({0x03})},              // true marker
            {"integer 5", value(5),
             bytes({
                 0x04, 0x05,  // integer marker, U29 5
             })},
            {"integer 128 in two bytes", value(128),
             bytes({
                 0x04, 0x81, 0x00,  // integer marker, U29 (1 << 7) | 0
             })},
            {"integer 16384 in three bytes", value(16384),
             bytes({
                 0x04, 0x81, 0x80, 0x00,  // integer marker, U29 (1 << 14) | (0 << 7) | 0
             })},
            {"largest integer", value(268435455),
             bytes({
                 0x04, 0xbf, 0xff, 0xff, 0xff,  // integer marker, U29 0x0fffffff (fourth byte has 8 bits)
             })},
            {"integer -1 is sign-extended from 29 bits", value(-1),
             bytes({
                 0x04, 0xff, 0xff, 0xff, 0xff,  // integer marker, U29 0x1fffffff
             })},
            {"smallest integer", value(-268435456),
             bytes({
                 0x04, 0xc0, 0x80, 0x80, 0x00,  // integer marker, U29 0x10000000
             })},
            {"double", value(3.5),
             bytes({
                 0x05,                                            // double marker
                 0x40, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 3.5
             })},
            {"2^28 does not fit an integer", value(268435456.0),
             bytes({
                 0x05,                                            // double marker
                 0x41, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 268435456.0
             })},
            {"negative zero stays a double", value(-0.0),
             bytes({
                 0x05,                                            // double marker
                 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // -0.0
             })},
            {"string", value("live"),
             bytes({
                 0x06, 0x09,          // string marker, U29 (4 << 1) | 1: inline, length 4
                 'l', 'i', 'v', 'e',  // "live"
             })},
            {"empty string", value(""),
             bytes({
                 0x06, 0x01,  // string marker, inline length 0
             })},
            {"xml document", value::xml_document("<a/>"),
             bytes({
                 0x07, 0x09,          // XMLDocument marker, inline length 4
                 '<', 'a', '/', '>',  // "<a/>"
             })},
            {"date", value::date(1.0),
             bytes({
                 0x08, 0x01,                                      // date marker, U29 1: inline
                 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1.0 ms
             })},
            {"dense array", value::strict_array({1, "a"}),
             bytes({
                 0x09, 0x05,       // array marker, U29 (2 << 1) | 1: inline, 2 dense elements
                 0x01,             // empty key: no associative part
                 0x04, 0x01,       // integer 1
                 0x06, 0x03, 'a',  // string inline length 1, "a"
             })},
            {"associative array", value::ecma_array({{"k", "v"}}),
             bytes({
                 0x09, 0x01,       // array marker, inline, 0 dense elements
                 0x03, 'k',        // key: inline length 1, "k"
                 0x06, 0x03, 'v',  // string inline length 1, "v"
                 0x01,             // empty key: end of the associative part
             })},
            {"anonymous object", value::object({{"app", "live"}}),
             bytes({
                 0x0a,                // object marker
                 0x0b,                // U29 0b1011: inline object, inline traits, dynamic, 0 sealed
                 0x01,                // class name: empty (anonymous)
                 0x07, 'a', 'p', 'p', // dynamic key: inline length 3, "app"
                 0x06, 0x09,          // string marker, inline length 4
                 'l', 'i', 'v', 'e',  // "live"
                 0x01,                // empty key: end of the dynamic members
             })},
            {"typed object with sealed members", value::typed_object("Pt", {{"x", 1}}),
             bytes({
                 0x0a,            // object marker
                 0x13,            // U29 (1 << 4) | 0b0011: inline object, inline traits, 1 sealed member
                 0x05, 'P', 't',  // class name: inline length 2, "Pt"
                 0x03, 'x',       // sealed member name: inline length 1, "x"
                 0x04, 0x01,      // value of x: integer 1
             })},
            {"byte array", value::byte_array(bytes({1, 2, 3})),
             bytes({
                 0x0c, 0x07,        // byte array marker, inline length 3
                 0x01, 0x02, 0x03,  // the bytes
             })},
            {"dictionary", value::dictionary({{value("k"), value(1)}, {value(2), value::null()}}),
             bytes({
                 0x11, 0x05,       // dictionary marker, inline, 2 entries
                 0x00,             // strong keys
                 0x06, 0x03, 'k',  // key: string "k"
                 0x04, 0x01,       // value: integer 1
                 0x04, 0x02,       // key: integer 2
                 0x01,             // value: null
             })},
        };
        check_decodes(rows);
        for (const table_row& row : rows) {
            CAPTURE(row.name);
            CHECK(encode3(row.v) == row.wire);
        }
    }

    TEST_CASE("AMF3 forms the encoder never writes decode into the nearest value") {
        check_decodes({
            {"xml", value::xml_document("<x/>"),
             bytes({
                 0x0b, 0x09,          // XML marker, inline length 4
                 '<', 'x', '/', '>',  // "<x/>"
             })},
            {"array with dense and associative parts", value::ecma_array({{"k", "v"}, {"0", 7}, {"1", true}}),
             bytes({
                 0x09, 0x05,       // array marker, inline, 2 dense elements
                 0x03, 'k',        // key "k"
                 0x06, 0x03, 'v',  // string "v"
                 0x01,             // end of the associative part
                 0x04, 0x07,       // dense 0: integer 7
                 0x03,             // dense 1: true
             })},
            {"object with sealed and dynamic members", value::typed_object("C", {{"a", 1}, {"b", 2}}),
             bytes({
                 0x0a,        // object marker
                 0x1b,        // U29 (1 << 4) | 0b1011: inline traits, dynamic, 1 sealed member
                 0x03, 'C',   // class name "C"
                 0x03, 'a',   // sealed member name "a"
                 0x04, 0x01,  // a: integer 1
                 0x03, 'b',   // dynamic key "b"
                 0x04, 0x02,  // b: integer 2
                 0x01,        // end of the dynamic members
             })},
            {"vector of int", value::strict_array({-1, 2}),
             bytes({
                 0x0d, 0x05,              // vector-int marker, inline, 2 items
                 0x00,                    // not fixed-length
                 0xff, 0xff, 0xff, 0xff,  // -1 (s32)
                 0x00, 0x00, 0x00, 0x02,  // 2
             })},
            {"vector of uint", value::strict_array({4294967295.0}),
             bytes({
                 0x0e, 0x03,              // vector-uint marker, inline, 1 item
                 0x01,                    // fixed-length
                 0xff, 0xff, 0xff, 0xff,  // 4294967295 (u32)
             })},
            {"vector of double", value::strict_array({1.0}),
             bytes({
                 0x0f, 0x03,                                      // vector-double marker, inline, 1 item
                 0x00,                                            // not fixed-length
                 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1.0
             })},
            {"vector of objects", value::strict_array({"a", value::null()}),
             bytes({
                 0x10, 0x05,            // vector-object marker, inline, 2 items
                 0x00,                  // not fixed-length
                 0x07, 'F', 'o', 'o',   // item type name "Foo" (dropped)
                 0x06, 0x03, 'a',       // string "a"
                 0x01,                  // null
             })},
        });
    }

    TEST_CASE("string, object and trait references resolve to copies") {
        check_decodes({
            {"string reference", value::strict_array({"ab", "ab"}),
             bytes({
                 0x09, 0x05, 0x01,       // array marker, 2 dense elements, no associative part
                 0x06, 0x05, 'a', 'b',   // string inline length 2, "ab" (string table 0)
                 0x06, 0x00,             // string marker, U29 (0 << 1) | 0: string reference 0
             })},
            {"the empty string never enters the string table", value::strict_array({"", "x", "x"}),
             bytes({
                 0x09, 0x07, 0x01,  // array marker, 3 dense elements, no associative part
                 0x06, 0x01,        // empty string (not in the table)
                 0x06, 0x03, 'x',   // "x" (string table 0)
                 0x06, 0x00,        // string reference 0
             })},
            {"keys are strings too", value::strict_array({value::object({{"id", 1}}), value::object({{"id", 2}})}),
             bytes({
                 0x09, 0x05, 0x01,      // array marker, 2 dense elements (object table 0)
                 0x0a, 0x0b, 0x01,      // object, inline dynamic traits, anonymous (object table 1)
                 0x05, 'i', 'd',        // key "id" (string table 0)
                 0x04, 0x01,            // integer 1
                 0x01,                  // end of dynamic members
                 0x0a, 0x01,            // object, U29 (0 << 2) | 0b01: traits reference 0
                 0x00,                  // key: string reference 0 ("id")
                 0x04, 0x02,            // integer 2
                 0x01,                  // end of dynamic members
             })},
            {"object reference", value::strict_array({value::object({{"a", 1}}), value::object({{"a", 1}})}),
             bytes({
                 0x09, 0x05, 0x01,  // array marker, 2 dense elements (object table 0)
                 0x0a, 0x0b, 0x01,  // object, inline dynamic traits, anonymous (object table 1)
                 0x03, 'a',         // key "a"
                 0x04, 0x01,        // integer 1
                 0x01,              // end of dynamic members
                 0x0a, 0x02,        // object marker, U29 (1 << 1) | 0: object reference 1
             })},
            {"trait reference", value::strict_array({value::typed_object("Pt", {{"x", 1}}), value::typed_object("Pt", {{"x", 2}})}),
             bytes({
                 0x09, 0x05, 0x01,  // array marker, 2 dense elements, no associative part
                 0x0a, 0x13,        // object, inline traits with 1 sealed member (traits table 0)
                 0x05, 'P', 't',    // class name "Pt"
                 0x03, 'x',         // sealed member "x"
                 0x04, 0x01,        // x: integer 1
                 0x0a, 0x01,        // object, U29 (0 << 2) | 0b01: traits reference 0
                 0x04, 0x02,        // x: integer 2
             })},
            {"date, byte array and array references",
             value::strict_array({value::date(1.0), value::byte_array(bytes({7})), value::strict_array(), value::date(1.0),
                                  value::byte_array(bytes({7})), value::strict_array()}),
             bytes({
                 0x09, 0x0d, 0x01,                                // array marker, 6 dense elements (object table 0)
                 0x08, 0x01,                                      // date, inline (object table 1)
                 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1.0 ms
                 0x0c, 0x03, 0x07,                                // byte array, inline length 1, 0x07 (object table 2)
                 0x09, 0x01, 0x01,                                // empty array (object table 3)
                 0x08, 0x02,                                      // date, object reference 1
                 0x0c, 0x04,                                      // byte array, object reference 2
                 0x09, 0x06,                                      // array, object reference 3
             })},
        });
    }

    TEST_CASE("each AVM+ value starts with empty reference tables") {
        std::vector<value> values;
        std::error_code ec;
        CHECK_FALSE(rtmpx::amf0::decode_all(bytes({
                                                0x11, 0x06, 0x05, 'a', 'b',  // AVM+, string "ab" (table 0)
                                                0x11, 0x06, 0x00,            // AVM+, string reference 0: a new table
                                            }),
                                            values, ec));
        CHECK(ec == rtmpx::error::amf_bad_reference);
        CHECK(values.size() == 1);
    }

    TEST_CASE("an AMF0 reference may copy a value that holds AMF3 parts") {
        const auto wire = bytes({
            0x0a, 0x00, 0x00, 0x00, 0x02,  // AMF0 strict array of 2 (AMF0 table 0)
            0x03,                          // AMF0 object (AMF0 table 1)
            0x00, 0x01, 'd',               // key "d"
            0x11,                          // AVM+ marker
            0x11, 0x03, 0x00,              // AMF3 dictionary, 1 entry, strong keys
            0x06, 0x03, 'k',               // key "k" (AMF3 string table 0)
            0x06, 0x00,                    // value: string reference 0
            0x00, 0x00, 0x09,              // empty key, object end marker
            0x07, 0x00, 0x01,              // AMF0 reference 1: re-reads the object and its AVM+ value
        });
        value out;
        std::error_code ec;
        CHECK(rtmpx::amf0::decode(wire, out, ec) == wire.size());
        CHECK(!ec);
        const value obj = value::object({{"d", value::dictionary({{value("k"), value("k")}})}});
        CHECK(out == value::strict_array({obj, obj}));
    }

    TEST_CASE("the encoder maps what AMF3 lacks onto the nearest AMF3 form") {
        CHECK(encode3(value::unsupported()) == bytes({0x00}));  // undefined marker
        CHECK(encode3(value::date(1.0, 60)) == encode3(value::date(1.0)));  // no time zone in AMF3
        CHECK(encode3(value::strict_array()) == bytes({
                                                    0x09, 0x01,  // array marker, inline, 0 dense
                                                    0x01,        // no associative part
                                                }));
        CHECK(encode3(value::ecma_array({{"", 1}})) == bytes({
                                                           0x0a, 0x13,  // object, inline traits, 1 sealed member
                                                           0x01,        // anonymous
                                                           0x01,        // sealed member name ""
                                                           0x04, 0x01,  // integer 1
                                                       }));
        CHECK(decode3(encode3(value::ecma_array({{"", 1}}))).v == value::object({{"", 1}}));
        CHECK(decode3(encode3(value::ecma_array())).v == value::strict_array());
        CHECK(encode3(value::object({{"", true}})) == bytes({
                                                          0x0a, 0x13,  // object, inline traits, 1 sealed member
                                                          0x01,        // anonymous
                                                          0x01,        // sealed member name ""
                                                          0x03,        // true
                                                      }));
        // U29 boundaries
        CHECK(encode3(value(127)) == bytes({0x04, 0x7f}));                     // one byte
        CHECK(encode3(value(16383)) == bytes({0x04, 0xff, 0x7f}));             // two bytes
        CHECK(encode3(value(2097151)) == bytes({0x04, 0xff, 0xff, 0x7f}));     // three bytes
        CHECK(encode3(value(2097152)) == bytes({0x04, 0x80, 0xc0, 0x80, 0x00}));  // four bytes
        for (int n : {0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, -1, -268435456}) {
            CAPTURE(n);
            CHECK(decode3(encode3(value(n))).v == value(n));
        }
        const std::string long_text(300000, 's');
        CHECK(decode3(encode3(value(long_text))).v == value(long_text));
    }

    TEST_CASE("nesting deeper than max_depth is amf_depth_exceeded") {
        CHECK(!decode3(nested_arrays(32)).ec);
        CHECK(decode3(nested_arrays(33)).ec == rtmpx::error::amf_depth_exceeded);
        rtmpx::amf_limits limits;
        limits.max_depth = 1;
        CHECK(!decode3(nested_arrays(1), limits).ec);
        CHECK(decode3(nested_arrays(2), limits).ec == rtmpx::error::amf_depth_exceeded);
        CHECK(decode3(bytes({
                          0x11, 0x03, 0x00,              // dictionary, 1 entry, strong keys
                          0x01, 0x0a, 0x0b, 0x01, 0x01,  // key null, value: empty anonymous object
                      }),
                      limits)
                  .ec == rtmpx::error::amf_depth_exceeded);
    }

    TEST_CASE("more values than max_elements is amf_too_many_elements") {
        rtmpx::amf_limits limits;
        limits.max_elements = 3;
        CHECK(!decode3(bytes({0x09, 0x05, 0x01, 0x01, 0x01}), limits).ec);  // array of 2 nulls: 3 values
        CHECK(decode3(bytes({0x09, 0x07, 0x01, 0x01, 0x01, 0x01}), limits).ec ==  // array of 3 nulls
              rtmpx::error::amf_too_many_elements);
        CHECK(decode3(bytes({
                          0x0d, 0x07, 0x00,                    // vector-int of 3, not fixed
                          0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,  // 1, 2, 3
                      }),
                      limits)
                  .ec == rtmpx::error::amf_too_many_elements);
        CHECK(decode3(bytes({
                          0x11, 0x05, 0x00,        // dictionary of 2 entries (4 values)
                          0x01, 0x01, 0x01, 0x01,  // null => null, null => null
                      }),
                      limits)
                  .ec == rtmpx::error::amf_too_many_elements);
        SUBCASE("through an object reference copy") {
            const auto wire = bytes({
                0x09, 0x05, 0x01,              // array of 2 (1 value; object table 0)
                0x09, 0x05, 0x01, 0x01, 0x01,  // array of 2 nulls (3 values; object table 1)
                0x09, 0x02,                    // object reference 1: 3 more values
            });
            limits.max_elements = 7;
            CHECK(!decode3(wire, limits).ec);
            limits.max_elements = 6;
            CHECK(decode3(wire, limits).ec == rtmpx::error::amf_too_many_elements);
        }
    }

    TEST_CASE("string references that copy far more than the input hold are refused") {
        // a 100000-byte string, then 40000 two-byte references to it: 180 kB in, 4 GB out
        std::vector<std::byte> wire = bytes({
            0x09, 0x84, 0xf1, 0x03,  // array marker, U29 (40001 << 1) | 1
            0x01,                    // no associative part
            0x06, 0x8c, 0x9a, 0x41,  // string marker, U29 (100000 << 1) | 1
        });
        wire.resize(wire.size() + 100000, std::byte{'s'});
        for (int i = 0; i < 40000; ++i) {
            wire.push_back(std::byte{0x06});  // string marker
            wire.push_back(std::byte{0x00});  // string reference 0
        }
        CHECK(decode3(wire).ec == rtmpx::error::amf_too_many_elements);
        // the same through trait member names
        std::vector<std::byte> traits = bytes({
            0x09, 0x84, 0xf1, 0x03,  // array marker, 40001 dense elements
            0x01,                    // no associative part
            0x0a, 0x13, 0x01,        // object, inline traits, 1 sealed member, anonymous
            0x8c, 0x9a, 0x41,        // member name: U29 (100000 << 1) | 1
        });
        traits.resize(traits.size() + 100000, std::byte{'m'});
        traits.push_back(std::byte{0x01});  // its value: null
        for (int i = 0; i < 40000; ++i) {
            traits.push_back(std::byte{0x0a});  // object marker
            traits.push_back(std::byte{0x01});  // traits reference 0
            traits.push_back(std::byte{0x01});  // null
        }
        CHECK(decode3(traits).ec == rtmpx::error::amf_too_many_elements);
    }

    TEST_CASE("every truncation of an AMF3 value is an error, never a crash") {
        const value sample = value::dictionary({
            {value(1), value(-5)},
            {value(1.5), value(true)},
            {value("s"), value::date(9.0)},
            {value::null(), value::xml_document("<y/>")},
            {value::undefined(), value::strict_array({1, 2, 3})},
            {value::ecma_array({{"e", 1}}), value::object({{"o", "v"}})},
            {value::typed_object("T", {{"m", 2}}), value::byte_array(bytes({1, 2}))},
            {value(false), value::dictionary({{value(0), value(0)}})},
        });
        const auto wire = rtmpx::amf0::encode(sample);
        value out;
        std::error_code ec;
        REQUIRE(rtmpx::amf0::decode(wire, out, ec) == wire.size());
        REQUIRE(out == sample);
        for (std::size_t n = 0; n < wire.size(); ++n) {
            CAPTURE(n);
            value v = value::unsupported();
            CHECK(rtmpx::amf0::decode(std::span<const std::byte>(wire).first(n), v, ec) == 0);
            CHECK(ec == rtmpx::error::amf_truncated);
            CHECK(v.is_unsupported());
        }
        // a sample with every kind of reference
        const auto refs = bytes({
            0x09, 0x09, 0x01,                    // array of 4 (object table 0)
            0x0a, 0x13, 0x03, 'C', 0x03, 'x',    // object, traits "C" [x] (object table 1, traits 0)
            0x06, 0x05, 'h', 'i',                // x: "hi" (string table 2)
            0x0a, 0x01, 0x06, 0x04,              // object, traits reference 0, x: string reference 2
            0x0a, 0x02,                          // object reference 1
            0x0c, 0x03, 0x2a,                    // byte array of 1
        });
        REQUIRE(!decode3(refs).ec);
        for (std::size_t n = 0; n < refs.size(); ++n) {
            CAPTURE(n);
            CHECK(decode3(std::span<const std::byte>(refs).first(n)).ec == rtmpx::error::amf_truncated);
        }
    }

    TEST_CASE("lengths and counts that claim more than the input holds fail before allocating") {
        const std::vector<std::vector<std::byte>> cases = {
            bytes({0x06, 0xff, 0xff, 0xff, 0xff, 'a'}),        // string of 2^28-1 bytes
            bytes({0x0c, 0xff, 0xff, 0xff, 0xff, 0x00}),       // byte array of 2^28-1 bytes
            bytes({0x07, 0xff, 0xff, 0xff, 0xff, 'a'}),        // XML document of 2^28-1 bytes
            bytes({0x09, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01}), // array of 2^28-1 dense elements
            bytes({0x0d, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00}), // vector-int of 2^28-1 items
            bytes({0x0f, 0x86, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}),  // vector-double of 384 items, 8 bytes given
            bytes({0x10, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x01}),  // vector-object of 2^28-1 items
            bytes({0x11, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x01}),  // dictionary of 2^28-1 entries
            bytes({0x0a, 0xff, 0xff, 0xff, 0xf3, 0x01, 0x01}), // object with 2^25-1 sealed members
            bytes({0x05, 0x00, 0x00}),                         // double with 2 of its 8 bytes
            bytes({0x04, 0x80, 0x80}),                         // U29 cut after two continuation bytes
        };
        for (std::size_t i = 0; i < cases.size(); ++i) {
            CAPTURE(i);
            CHECK(decode3(cases[i]).ec == rtmpx::error::amf_truncated);
        }
    }

    TEST_CASE("unknown markers, bad references and externalizable objects are refused") {
        CHECK(decode3(bytes({0x12})).ec == rtmpx::error::amf_unknown_marker);
        CHECK(decode3(bytes({0xff})).ec == rtmpx::error::amf_unknown_marker);
        CHECK(decode3({}).ec == rtmpx::error::amf_truncated);  // AVM+ marker with nothing after it
        CHECK(decode3(bytes({0x06, 0x00})).ec == rtmpx::error::amf_bad_reference);  // string reference 0: none
        CHECK(decode3(bytes({0x0a, 0x00})).ec == rtmpx::error::amf_bad_reference);  // object reference 0: none
        CHECK(decode3(bytes({0x0a, 0x05})).ec == rtmpx::error::amf_bad_reference);  // traits reference 1: none
        CHECK(decode3(bytes({0x0c, 0x02})).ec == rtmpx::error::amf_bad_reference);  // byte array reference 1: none
        CHECK(decode3(bytes({
                          0x09, 0x03, 0x01,  // array of 1 (object table 0)
                          0x09, 0x00,        // its element: reference 0, the array itself (a cycle)
                      }))
                  .ec == rtmpx::error::amf_bad_reference);
        CHECK(decode3(bytes({
                          0x0a, 0x07,           // object, U29 0b0111: inline traits, externalizable
                          0x07, 'F', 'o', 'o',  // class name "Foo"
                          0x00, 0x00,           // private data that cannot be read
                      }))
                  .ec == rtmpx::error::amf3_externalizable);
    }
}
