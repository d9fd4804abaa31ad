// SPDX-License-Identifier: MIT
// Parses recorded sessions between real ffmpeg clients and servers (tests/fixtures/README.md).
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/handshake.hpp>
#include <rtmpx/protocol/commands.hpp>

#include "../support.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;

using rtmpx_test::load_fixture;

namespace {

struct parsed_session {
    std::vector<message_header> headers;
    std::vector<decoded_message> messages;
    std::vector<std::pair<int, std::string>> commands;  // (type id, name) of command and data messages
    int video = 0;
};

// Reads the chunk stream that follows the handshake, in odd-sized pieces.
parsed_session parse_chunks(std::span<const std::byte> wire) {
    parsed_session out;
    protocol::chunk_reader reader;
    std::vector<std::byte> pending;
    std::size_t fed = 0;
    while (fed < wire.size()) {
        const std::size_t n = std::min<std::size_t>(97, wire.size() - fed);
        pending.insert(pending.end(), wire.begin() + static_cast<std::ptrdiff_t>(fed),
                       wire.begin() + static_cast<std::ptrdiff_t>(fed + n));
        fed += n;
        std::size_t used = 0;
        for (;;) {
            std::error_code ec;
            used += reader.put(std::span(pending).subspan(used), ec);
            REQUIRE(!ec);
            if (!reader.has_message()) break;
            message m = reader.take_message();
            out.headers.push_back(m.header);
            const auto type = static_cast<int>(m.header.type);
            auto d = decode_message(std::move(m), ec);
            REQUIRE_MESSAGE(!ec, ec.message());
            if (const auto* c = std::get_if<command>(&d)) out.commands.emplace_back(type, c->name);
            if (const auto* dm = std::get_if<data_message>(&d)) out.commands.emplace_back(type, dm->handler);
            if (const auto* media = std::get_if<media_message>(&d); media && media->type == message_type::video)
                ++out.video;
            out.messages.push_back(std::move(d));
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
    }
    CHECK(pending.empty());  // the recordings end on a message boundary
    CHECK(reader.buffered_bytes() == 0);
    return out;
}

// Runs our server handshake over the client's bytes and returns what follows C2.
std::span<const std::byte> server_side_handshake(std::span<const std::byte> c2s, bool expect_digest) {
    protocol::server_handshake hs(42);
    std::size_t used = 0;
    while (!hs.done()) {
        std::error_code ec;
        const std::size_t n = hs.put(c2s.subspan(used, std::min<std::size_t>(500, c2s.size() - used)), ec);
        REQUIRE(!ec);
        REQUIRE(n > 0);
        used += n;
        hs.consume_output();
    }
    CHECK(used == 1 + 1536 + 1536);
    CHECK(hs.used_digest() == expect_digest);
    return c2s.subspan(used);
}

using cmd_list = std::vector<std::pair<int, std::string>>;

} // namespace

TEST_SUITE("fixtures") {
    TEST_CASE("an ffmpeg player's session parses: digest handshake, then its commands in order") {
        const auto c2s = load_fixture("play_c2s.bin");
        auto client = parse_chunks(server_side_handshake(c2s, true));
        CHECK(client.commands == cmd_list{{20, "connect"}, {20, "createStream"}, {20, "_checkbw"},
                                          {20, "getStreamLength"}, {20, "play"}});
        // The typed view of what a player asks for.
        std::error_code ec;
        for (const auto& d : client.messages) {
            const auto* c = std::get_if<command>(&d);
            if (!c) continue;
            auto t = parse_command(*c, ec);
            REQUIRE(!ec);
            if (auto* conn = std::get_if<connect_command>(&t)) {
                CHECK(conn->app == "live");
                CHECK(conn->flash_ver == "LNX 9,0,124,2");
                CHECK(conn->tc_url.rfind("rtmp://127.0.0.1:", 0) == 0);
            }
            if (auto* play = std::get_if<play_command>(&t)) {
                CHECK(play->stream_name == "fixture");
                CHECK(play->start == -2000);
            }
        }
        // SetBufferLength for stream 1 follows play.
        const auto* ubl = std::get_if<user_control>(&client.messages.back());
        REQUIRE(ubl);
        CHECK(ubl->event == user_control_event::set_buffer_length);
        CHECK(ubl->value == 1);
        CHECK(ubl->buffer_length == 3000);

        const auto s2c = load_fixture("play_s2c.bin");
        REQUIRE(s2c.size() > 3073);
        CHECK(s2c[0] == std::byte{3});
        auto server = parse_chunks(std::span(s2c).subspan(3073));
        CHECK(server.commands == cmd_list{{20, "_result"}, {20, "onBWDone"}, {20, "_result"}, {20, "_result"},
                                          {20, "onStatus"}, {18, "@setDataFrame"}, {20, "FCUnpublish"},
                                          {20, "deleteStream"}});
        CHECK(server.video == 22);
        CHECK(std::get<window_ack_size>(server.messages[0]).window == 2500000);
        CHECK(std::get<set_peer_bandwidth>(server.messages[1]).limit == bandwidth_limit::dynamic);
    }

    TEST_CASE("an ffmpeg publisher's session parses, media and metadata included") {
        const auto c2s = load_fixture("publish_c2s.bin");
        auto client = parse_chunks(server_side_handshake(c2s, true));
        CHECK(client.commands == cmd_list{{20, "connect"}, {20, "releaseStream"}, {20, "FCPublish"},
                                          {20, "createStream"}, {20, "_checkbw"}, {20, "publish"},
                                          {18, "@setDataFrame"}, {20, "FCUnpublish"}, {20, "deleteStream"}});
        CHECK(client.video == 12);
        for (const auto& d : client.messages) {
            if (const auto* dm = std::get_if<data_message>(&d)) {
                REQUIRE(dm->values.size() == 2);
                CHECK(dm->values[0].as_string() == "onMetaData");
                CHECK(dm->values[1]["width"].as_number() == 64);
                CHECK(dm->values[1]["height"].as_number() == 48);
                CHECK(dm->values[1]["videocodecid"].as_number() == 7);
            }
            if (const auto* c = std::get_if<command>(&d); c && c->name == "publish") {
                std::error_code ec;
                auto t = parse_command(*c, ec);
                CHECK(std::get<publish_command>(t).stream_name == "fixture");
                CHECK(std::get<publish_command>(t).type == "live");
            }
        }
        // The first video message is the AVC sequence header (key frame, AVC packet type 0).
        for (std::size_t i = 0; i < client.messages.size(); ++i) {
            if (const auto* m = std::get_if<media_message>(&client.messages[i])) {
                REQUIRE(m->payload.size() > 2);
                CHECK(m->payload[0] == std::byte{0x17});
                CHECK(m->payload[1] == std::byte{0x00});
                CHECK(client.headers[i].stream_id == 1);
                break;
            }
        }

        const auto s2c = load_fixture("publish_s2c.bin");
        auto server = parse_chunks(std::span(s2c).subspan(3073));
        CHECK(server.commands == cmd_list{{20, "_result"}, {20, "onBWDone"}, {20, "_result"}, {20, "onFCPublish"},
                                          {20, "_result"}, {20, "_result"}, {20, "onStatus"}});
        const auto& status = std::get<command>(server.messages.back());
        CHECK(status.arguments.at(0)["code"].as_string() == "NetStream.Publish.Start");
    }
}
