// SPDX-License-Identifier: MIT
// Two-TU link test, part A: uses the single header; linked with part B, which uses it too.
// A function defined in a header without `inline` gives a multiple-definition link error here.
#include <cstddef>
#include <string>
#include <vector>

#include <rtmpx/rtmpx.hpp>

std::string two_tu_a() {
    const rtmpx::amf0::value v = rtmpx::amf0::value::object({{"app", "live"}, {"objectEncoding", 0}});
    std::vector<std::byte> bytes = rtmpx::amf0::encode(v);
    rtmpx::amf0::value back;
    std::error_code ec;
    rtmpx::amf0::decode(bytes, back, ec);
    if (ec || !(back == v)) return "amf0 round trip failed";

    rtmpx::driver::frame_queue<int> queue(4);
    if (!queue.try_push(7) || queue.front() == nullptr || *queue.front() != 7) return "frame_queue failed";
    queue.pop();

    rtmpx::server server;
    return "a:" + rtmpx::amf0::to_string(back) + (server.options().max_connections > 0 ? "" : "?");
}
