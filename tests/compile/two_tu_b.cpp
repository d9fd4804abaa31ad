// SPDX-License-Identifier: MIT
// Two-TU link test, part B: the same entities as part A plus a few more, from a second TU.
#include <cstddef>
#include <string>
#include <vector>

#include <rtmpx/rtmpx.hpp>

std::string two_tu_b() {
    std::vector<std::byte> bytes;
    rtmpx::amf0::encode(rtmpx::amf0::value("hello"), bytes);
    rtmpx::amf0::encode(rtmpx::amf0::value(42), bytes);
    std::vector<rtmpx::amf0::value> values;
    std::error_code ec;
    if (!rtmpx::amf0::decode_all(bytes, values, ec) || values.size() != 2) return "amf0 decode_all failed";

    rtmpx::driver::frame_queue<rtmpx::encoded_frame> frames(2);
    if (!frames.empty()) return "frame_queue not empty";

    rtmpx::canvas picture(16, 16);
    picture.fill(0, 128, 255);

    const std::error_code err = rtmpx::make_error_code(rtmpx::error::bad_handshake_version);
    rtmpx::server server;
    return "b:" + rtmpx::amf0::to_string(values[0]) + ":" + err.message() + ":" +
           std::to_string(picture.width()) + (server.options().max_connections > 0 ? "" : "?");
}
