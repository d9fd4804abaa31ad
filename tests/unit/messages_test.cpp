// SPDX-License-Identifier: MIT
// Tests for messages.hpp: every message kind from and to bytes, typed commands and builders.
#include <doctest/doctest.h>

#include <rtmpx/protocol/commands.hpp>

#include "../support.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using rtmpx_test::bytes;
using rtmpx_test::concat;

namespace {

message raw(message_type type, std::vector<std::byte> payload, std::uint32_t stream_id = 0) {
    message m;
    m.header.chunk_stream_id = type <= message_type::set_peer_bandwidth ? 2u : 3u;
    m.header.type = type;
    m.header.stream_id = stream_id;
    m.payload = std::move(payload);
    return m;
}

decoded_message decode_ok(message m) {
    std::error_code ec;
    auto d = decode_message(std::move(m), ec);
    REQUIRE(!ec);
    return d;
}

// AMF0 pieces used by several tables.
std::vector<std::byte> amf_string(std::string_view s) {
    std::vector<std::byte> out = bytes({0x02, 0x00, static_cast<int>(s.size())});  // string marker, u16 length
    for (char c : s) out.push_back(static_cast<std::byte>(c));
    return out;
}

} // namespace

TEST_SUITE("messages") {
    TEST_CASE("protocol control messages decode from and encode to their byte tables") {
        struct row {
            message_type type;
            std::vector<std::byte> body;
            decoded_message value;
        };
        const row rows[] = {
            {message_type::set_chunk_size, bytes({0x00, 0x00, 0x10, 0x00}),  // chunk size 4096
             set_chunk_size{4096}},
            {message_type::abort, bytes({0x00, 0x00, 0x00, 0x06}),  // chunk stream id 6
             abort_message{6}},
            {message_type::acknowledgement, bytes({0x00, 0x26, 0x25, 0xa0}),  // sequence number 2500000
             acknowledgement{2500000}},
            {message_type::window_ack_size, bytes({0x00, 0x26, 0x25, 0xa0}),  // window 2500000
             window_ack_size{2500000}},
            {message_type::set_peer_bandwidth, bytes({0x00, 0x26, 0x25, 0xa0,  // window 2500000
                                                      0x02}),                  // limit type dynamic
             set_peer_bandwidth{2500000, bandwidth_limit::dynamic}},
        };
        for (const auto& r : rows) {
            CAPTURE(static_cast<int>(r.type));
            CHECK(decode_ok(raw(r.type, r.body)) == r.value);
            message m = std::visit([](const auto& v) -> message {
                if constexpr (requires { to_message(v); }) return to_message(v);
                else return {};
            }, r.value);
            CHECK(m.header.type == r.type);
            CHECK(m.header.chunk_stream_id == 2);
            CHECK(m.header.stream_id == 0);
            CHECK(m.payload == r.body);
        }
    }

    TEST_CASE("user control events decode from and encode to their byte tables") {
        struct row {
            std::vector<std::byte> body;
            user_control value;
        };
        const row rows[] = {
            {bytes({0x00, 0x00,               // event 0: stream begin
                    0x00, 0x00, 0x00, 0x01}), // stream id 1
             user_control::stream_begin(1)},
            {bytes({0x00, 0x01,               // event 1: stream EOF
                    0x00, 0x00, 0x00, 0x01}), // stream id 1
             user_control::stream_eof(1)},
            {bytes({0x00, 0x02,               // event 2: stream dry
                    0x00, 0x00, 0x00, 0x02}), // stream id 2
             user_control::stream_dry(2)},
            {bytes({0x00, 0x03,               // event 3: set buffer length
                    0x00, 0x00, 0x00, 0x01,   // stream id 1
                    0x00, 0x00, 0x0b, 0xb8}), // 3000 ms
             user_control::set_buffer_length(1, 3000)},
            {bytes({0x00, 0x04,               // event 4: stream is recorded
                    0x00, 0x00, 0x00, 0x01}), // stream id 1
             user_control::stream_is_recorded(1)},
            {bytes({0x00, 0x06,               // event 6: ping request
                    0x00, 0x01, 0x00, 0x00}), // timestamp 65536
             user_control::ping_request(65536)},
            {bytes({0x00, 0x07,               // event 7: ping response
                    0x00, 0x01, 0x00, 0x00}), // timestamp 65536
             user_control::ping_response(65536)},
            {bytes({0x00, 0x1f,               // event 31: buffer empty
                    0x00, 0x00, 0x00, 0x01}), // stream id 1
             user_control{user_control_event::buffer_empty, 1, 0, {}}},
            {bytes({0x00, 0x1a}),             // event 26: SWF verification request, no body
             user_control{user_control_event::swf_verify_request, 0, 0, {}}},
        };
        for (const auto& r : rows) {
            CAPTURE(static_cast<int>(r.value.event));
            CHECK(decode_ok(raw(message_type::user_control, r.body)) == decoded_message(r.value));
            CHECK(to_message(r.value).payload == r.body);
        }
    }

    TEST_CASE("a command decodes from and encodes to its byte table") {
        const auto body = concat({
            amf_string("createStream"),                             // name
            bytes({0x00, 0x40, 0x00, 0, 0, 0, 0, 0, 0}),            // number marker, 2.0 (transaction id)
            bytes({0x05}),                                          // null command object
        });
        const command expected{"createStream", 2, amf0::value::null(), {}};
        CHECK(decode_ok(raw(message_type::command_amf0, body)) == decoded_message(expected));
        const message m = to_message(expected);
        CHECK(m.header.type == message_type::command_amf0);
        CHECK(m.header.chunk_stream_id == chunk_stream::command);
        CHECK(m.payload == body);
    }

    TEST_CASE("an AMF3 command (type 17) skips its format byte and reads AMF0 values") {
        const auto body = concat({
            bytes({0x00}),                                          // format byte
            amf_string("play"),                                     // name
            bytes({0x00, 0x40, 0x10, 0, 0, 0, 0, 0, 0}),            // number 4.0 (transaction id)
            bytes({0x05}),                                          // null command object
            bytes({0x11, 0x06, 0x07, 'c', 'a', 'm'}),               // AVM+ switch, AMF3 string "cam" (U29 (3<<1)|1)
        });
        auto d = decode_ok(raw(message_type::command_amf3, body, 1));
        const auto& c = std::get<command>(d);
        CHECK(c.name == "play");
        CHECK(c.transaction_id == 4);
        REQUIRE(c.arguments.size() == 1);
        CHECK(c.arguments[0].as_string() == "cam");
    }

    TEST_CASE("a data message decodes from and encodes to its byte table") {
        const auto body = concat({
            amf_string("onMetaData"),                               // handler name
            bytes({0x08,                                            // ECMA array marker
                   0x00, 0x00, 0x00, 0x01}),                        // count hint 1
            bytes({0x00, 0x05, 'w', 'i', 'd', 't', 'h'}),           // key "width"
            bytes({0x00, 0x40, 0x94, 0, 0, 0, 0, 0, 0}),            // number 1280.0
            bytes({0x00, 0x00, 0x09}),                              // empty key, object end
        });
        const auto expected = make_on_metadata(amf0::value::ecma_array({{"width", amf0::value(1280)}}));
        CHECK(decode_ok(raw(message_type::data_amf0, body, 1)) == decoded_message(expected));
        const message m = to_message(expected, 1);
        CHECK(m.header.type == message_type::data_amf0);
        CHECK(m.header.stream_id == 1);
        CHECK(m.payload == body);

        // Type 15 carries the same after a format byte.
        auto amf3_body = concat({bytes({0x00}), body});  // format byte
        CHECK(decode_ok(raw(message_type::data_amf3, amf3_body, 1)) == decoded_message(expected));
    }

    TEST_CASE("audio and video payloads pass through untouched") {
        const auto body = bytes({0x17, 0x01, 0x00, 0x00, 0x00, 0xaa});  // key frame, AVC NALU, cts 0, data
        auto d = decode_ok(raw(message_type::video, body, 1));
        CHECK(std::get<media_message>(d) == media_message{message_type::video, body});
        auto a = decode_ok(raw(message_type::audio, bytes({0xaf, 0x01, 0x55}), 1));  // AAC raw frame
        CHECK(std::get<media_message>(a).type == message_type::audio);
    }

    TEST_CASE("an aggregate message splits into its parts with rebased timestamps") {
        const auto body = bytes({
            0x09,                    // part 1: type video
            0x00, 0x00, 0x02,        // length 2
            0x00, 0x03, 0xe8,        // timestamp 1000 (low 24 bits)
            0x00,                    // timestamp high byte
            0x00, 0x00, 0x00,        // stream id (ignored)
            0x17, 0x01,              // body
            0x00, 0x00, 0x00, 0x0d,  // back pointer 13
            0x08,                    // part 2: type audio
            0x00, 0x00, 0x01,        // length 1
            0x00, 0x04, 0x06,        // timestamp 1030
            0x00,                    // timestamp high byte
            0x00, 0x00, 0x00,        // stream id
            0xaf,                    // body
            0x00, 0x00, 0x00, 0x0c,  // back pointer 12
        });
        message m = raw(message_type::aggregate, body, 1);
        m.header.timestamp = rtmp_timestamp(5000);
        auto d = decode_ok(m);
        const auto& parts = std::get<aggregate_message>(d).parts;
        REQUIRE(parts.size() == 2);
        CHECK(parts[0].header.type == message_type::video);
        CHECK(parts[0].header.timestamp.value() == 5000);
        CHECK(parts[0].header.stream_id == 1);
        CHECK(parts[0].payload == bytes({0x17, 0x01}));
        CHECK(parts[1].header.type == message_type::audio);
        CHECK(parts[1].header.timestamp.value() == 5030);

        std::error_code ec;
        auto truncated = body;
        truncated.resize(20);
        decode_message(raw(message_type::aggregate, truncated, 1), ec);
        CHECK(ec == error::aggregate_malformed);
    }

    TEST_CASE("short control bodies and commands without a name are malformed") {
        std::error_code ec;
        decode_message(raw(message_type::window_ack_size, bytes({0x00, 0x01})), ec);
        CHECK(ec == error::message_malformed);
        decode_message(raw(message_type::set_peer_bandwidth, bytes({0, 0, 0, 1, 0x07})), ec);  // limit type 7
        CHECK(ec == error::message_malformed);
        decode_message(raw(message_type::user_control, bytes({0x00, 0x00, 0x00})), ec);  // stream begin, 1 byte
        CHECK(ec == error::message_malformed);
        decode_message(raw(message_type::command_amf0, bytes({0x00, 0x40, 0x00, 0, 0, 0, 0, 0, 0})), ec);
        CHECK(ec == error::message_malformed);  // a number where the name should be
        decode_message(raw(message_type::command_amf0, bytes({0x02, 0x00, 0x05, 'a'})), ec);
        CHECK(ec == error::amf_truncated);
    }

    TEST_CASE("a notification without a transaction id reads it as 0") {
        const auto body = concat({amf_string("onFCPublish"), bytes({0x05})});  // name, null
        auto d = decode_ok(raw(message_type::command_amf0, body));
        CHECK(std::get<command>(d).name == "onFCPublish");
        CHECK(std::get<command>(d).transaction_id == 0);
    }

    TEST_CASE("standard commands are typed with their arguments") {
        std::error_code ec;
        SUBCASE("connect") {
            auto obj = amf0::value::object({{"app", "live"},
                                            {"tcUrl", "rtmp://127.0.0.1/live"},
                                            {"flashVer", "LNX 9,0,124,2"},
                                            {"objectEncoding", 3},
                                            {"fourCcList", amf0::value::strict_array({"hvc1", "av01"})}});
            auto t = parse_command(command{"connect", 1, obj, {amf0::value("user")}}, ec);
            REQUIRE(!ec);
            const auto& c = std::get<connect_command>(t);
            CHECK(c.app == "live");
            CHECK(c.tc_url == "rtmp://127.0.0.1/live");
            CHECK(c.flash_ver == "LNX 9,0,124,2");
            CHECK(c.object_encoding == 3);
            CHECK(c.fourcc_list == std::vector<std::string>{"hvc1", "av01"});
            CHECK(c.object == obj);
            REQUIRE(c.arguments.size() == 1);
            CHECK(c.arguments[0].as_string() == "user");
            parse_command(command{"connect", 1, amf0::value::null(), {}}, ec);
            CHECK(ec == error::message_malformed);
        }
        SUBCASE("connect: what an Enhanced RTMP client declares; an ECMA fourCcList tolerated") {
            auto obj = amf0::value::object(
                {{"app", "live"},
                 {"fourCcList", amf0::value::ecma_array({{"0", "av01"}, {"1", "Opus"}})},
                 {"videoFourCcInfoMap", amf0::value::object({{"hvc1", 1}, {"vp09", 0}})},
                 {"audioFourCcInfoMap", amf0::value::object({{"*", 4}})},
                 {"capsEx", 3}});
            auto t = parse_command(command{"connect", 1, obj, {}}, ec);
            REQUIRE(!ec);
            const connect_command c = std::get<connect_command>(t);  // a copy: t is parsed into again below
            CHECK(c.fourcc_list == std::vector<std::string>{"av01", "Opus"});
            CHECK(c.enhanced.declared);
            CHECK(c.enhanced.caps_ex == 3);
            namespace enh = rtmpx::protocol::enhanced;
            CHECK(c.enhanced.accepts_video(enh::video_fourcc::av1));      // listed
            CHECK(c.enhanced.accepts_video(enh::video_fourcc::hevc));     // CanDecode
            CHECK_FALSE(c.enhanced.accepts_video(enh::video_fourcc::vp9));  // in the map with no flag
            CHECK_FALSE(c.enhanced.accepts_video(enh::video_fourcc::vvc));
            CHECK(c.enhanced.accepts_audio(enh::audio_fourcc::flac));     // "*": CanForward
            // A legacy client declares nothing, and its _result says nothing of Enhanced RTMP.
            t = parse_command(command{"connect", 1, amf0::value::object({{"app", "live"}}), {}}, ec);
            const auto& legacy = std::get<connect_command>(t);
            CHECK_FALSE(legacy.enhanced.declared);
            CHECK_FALSE(legacy.enhanced.accepts_video(enh::video_fourcc::av1));
            CHECK(make_connect_result(1, 0, legacy.enhanced).object.find("capsEx") == nullptr);
            const auto result = make_connect_result(1, 0, c.enhanced);
            CHECK(result.object["capsEx"].as_number() == 15);
            CHECK(result.object["videoFourCcInfoMap"]["*"].as_number() == 4);
            CHECK(result.object["audioFourCcInfoMap"]["*"].as_number() == 4);
            CHECK(result.object["fmsVer"].as_string() == "FMS/3,0,1,123");
        }
        SUBCASE("play with defaults and with every argument") {
            auto t = parse_command(command{"play", 4, amf0::value::null(), {"demo"}}, ec);
            REQUIRE(!ec);
            CHECK(std::get<play_command>(t).stream_name == "demo");
            CHECK(std::get<play_command>(t).start == -2);
            t = parse_command(command{"play", 4, amf0::value::null(), {"demo", -1000, 5, false}}, ec);
            CHECK(std::get<play_command>(t).start == -1000);
            CHECK(std::get<play_command>(t).duration == 5);
            CHECK(std::get<play_command>(t).reset == false);
            parse_command(command{"play", 4, amf0::value::null(), {}}, ec);
            CHECK(ec == error::message_malformed);
        }
        SUBCASE("the stream commands") {
            CHECK(std::get<pause_command>(parse_command({"pause", 0, {}, {true, 1500}}, ec)).milliseconds == 1500);
            CHECK(std::get<pause_command>(parse_command({"pause", 0, {}, {false, 0}}, ec)).pause == false);
            parse_command({"pause", 0, {}, {}}, ec);
            CHECK(ec == error::message_malformed);
            CHECK(std::get<seek_command>(parse_command({"seek", 0, {}, {2000}}, ec)).milliseconds == 2000);
            CHECK(std::get<delete_stream_command>(parse_command({"deleteStream", 5, {}, {1}}, ec)).stream_id == 1);
            CHECK(std::holds_alternative<close_stream_command>(parse_command({"closeStream", 0, {}, {}}, ec)));
            CHECK(std::get<receive_video_command>(parse_command({"receiveVideo", 0, {}, {false}}, ec)).enable == false);
            CHECK(std::get<receive_audio_command>(parse_command({"receiveAudio", 0, {}, {true}}, ec)).enable);
            CHECK(std::get<publish_command>(parse_command({"publish", 6, {}, {"s", "record"}}, ec)).type == "record");
            CHECK(std::get<release_stream_command>(parse_command({"releaseStream", 2, {}, {"s"}}, ec)).stream_name == "s");
            CHECK(std::get<fc_publish_command>(parse_command({"FCPublish", 3, {}, {"s"}}, ec)).stream_name == "s");
            CHECK(std::get<fc_subscribe_command>(parse_command({"FCSubscribe", 3, {}, {"s"}}, ec)).stream_name == "s");
            CHECK(std::get<get_stream_length_command>(parse_command({"getStreamLength", 4, {}, {"s"}}, ec))
                      .transaction_id == 4);
            CHECK(std::holds_alternative<play2_command>(parse_command({"play2", 0, {}, {amf0::value::object()}}, ec)));
            CHECK(std::holds_alternative<create_stream_command>(parse_command({"createStream", 2, {}, {}}, ec)));
        }
        SUBCASE("anything else is a remote call") {
            auto t = parse_command(command{"setColor", 7, amf0::value::null(), {"red"}}, ec);
            REQUIRE(!ec);
            CHECK(std::get<call_command>(t).cmd.name == "setColor");
            CHECK(std::get<call_command>(t).cmd.arguments[0].as_string() == "red");
        }
    }

    TEST_CASE("builders produce what players expect") {
        const auto result = make_connect_result(1, 3);
        CHECK(result.name == "_result");
        CHECK(result.transaction_id == 1);
        CHECK(result.object["fmsVer"].as_string() == "FMS/3,0,1,123");
        CHECK(result.object["capabilities"].as_number() == 31);
        REQUIRE(result.arguments.size() == 1);
        CHECK(result.arguments[0]["code"].as_string() == "NetConnection.Connect.Success");
        CHECK(result.arguments[0]["objectEncoding"].as_number() == 3);

        const auto status = make_on_status("status", "NetStream.Play.Start", "Started playing demo.");
        CHECK(status.name == "onStatus");
        CHECK(status.transaction_id == 0);
        CHECK(status.object.is_null());
        CHECK(status.arguments[0]["level"].as_string() == "status");

        const auto err = make_error(5, status_info("error", "NetConnection.Call.Failed", "no such method"));
        CHECK(err.name == "_error");
        CHECK(err.arguments[0]["code"].as_string() == "NetConnection.Call.Failed");

        // A built command survives encoding and decoding.
        auto d = decode_ok(to_message(result));
        CHECK(std::get<command>(d) == result);
    }
}
