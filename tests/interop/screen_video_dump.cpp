// SPDX-License-Identifier: MIT
// Encodes a moving test picture with screen_video_encoder into an FLV file, plus the RGB24 frames it encoded.
//
// Usage: screen_video_dump OUT.flv OUT.rgb [WIDTH HEIGHT FRAMES BLOCK_SIZE KEY_FRAME_INTERVAL FORMAT]
//   defaults: 96 64 30 64 10 rgba; FORMAT is rgba, bgra, rgb24 or bgr24. Frame FRAMES/2 is a
//   forced key frame. OUT.rgb gets FRAMES pictures of WIDTH x HEIGHT R, G, B bytes, top row first.
//   Prints "N frames, K key frames, B FLV bytes"; exit status 0, or 1 with a message on stderr.
#if !defined(RTMPX_WITH_ZLIB)
#error "screen_video_dump needs RTMPX_WITH_ZLIB (and zlib)"
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <rtmpx/codec/screen_video_encoder.hpp>
#include <rtmpx/media.hpp>

namespace {

constexpr std::uint32_t frame_ms = 40;

struct rgb {
    std::uint8_t r, g, b;
};

// Frame `t` of the test picture: a still background of bands, a square moving diagonally that
// changes colour, and a bar growing along the bottom edge.
rgb pixel_at(std::uint32_t x, std::uint32_t y, std::uint32_t t, std::uint32_t w, std::uint32_t h) {
    const std::uint32_t side = std::max<std::uint32_t>(4, std::min(w, h) / 4);
    const std::uint32_t sx = (t * 5) % (w > side ? w - side + 1 : 1);
    const std::uint32_t sy = (t * 3) % (h > side ? h - side + 1 : 1);
    if (x >= sx && x < sx + side && y >= sy && y < sy + side)
        return {static_cast<std::uint8_t>(200 + t), static_cast<std::uint8_t>(40 * t), static_cast<std::uint8_t>(x - sx)};
    if (y + 2 >= h && x < (t * 7) % (w + 1)) return {255, 255, static_cast<std::uint8_t>(t)};
    return {static_cast<std::uint8_t>(x * 255 / (w > 1 ? w - 1 : 1)), static_cast<std::uint8_t>((y / 8) * 20),
            static_cast<std::uint8_t>((x ^ y) & 0x3f)};
}

void put_u8(std::vector<std::uint8_t>& out, std::uint32_t v) { out.push_back(static_cast<std::uint8_t>(v)); }
void put_u24(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put_u8(out, v >> 16);
    put_u8(out, v >> 8);
    put_u8(out, v);
}
void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put_u8(out, v >> 24);
    put_u24(out, v);
}

bool parse(const char* text, std::uint32_t& value) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v > 1'000'000) return false;
    value = static_cast<std::uint32_t>(v);
    return true;
}

bool parse_format(std::string_view name, rtmpx::pixel_format& f) {
    if (name == "rgba") f = rtmpx::pixel_format::rgba;
    else if (name == "bgra") f = rtmpx::pixel_format::bgra;
    else if (name == "rgb24") f = rtmpx::pixel_format::rgb24;
    else if (name == "bgr24") f = rtmpx::pixel_format::bgr24;
    else return false;
    return true;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "screen_video_dump: %s\n", what.c_str());
    return 1;
}

bool write_file(const char* path, const std::vector<std::uint8_t>& bytes) {
    std::FILE* f = std::fopen(path, "wb");
    if (!f) return false;
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return std::fclose(f) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3 && argc != 9)
        return fail("usage: screen_video_dump OUT.flv OUT.rgb [WIDTH HEIGHT FRAMES BLOCK_SIZE KEY_FRAME_INTERVAL FORMAT]");
    std::uint32_t width = 96, height = 64, frames = 30, block_size = 64, key_interval = 10;
    rtmpx::pixel_format format = rtmpx::pixel_format::rgba;
    if (argc == 9 && (!parse(argv[3], width) || !parse(argv[4], height) || !parse(argv[5], frames) ||
                      !parse(argv[6], block_size) || !parse(argv[7], key_interval) || !parse_format(argv[8], format)))
        return fail("bad arguments");

    rtmpx::screen_video_encoder encoder;
    if (auto ec = encoder.set_parameter("block_size", block_size)) return fail("block_size: " + ec.message());
    if (auto ec = encoder.set_parameter("key_frame_interval", key_interval)) return fail("key_frame_interval: " + ec.message());
    std::vector<std::byte> header;
    if (auto ec = encoder.init(width, height, header)) return fail("init: " + ec.message());

    std::vector<std::uint8_t> flv = {'F', 'L', 'V', 1, 0x01};  // signature, version 1, video only
    put_u32(flv, 9);                                            // header size
    put_u32(flv, 0);                                            // PreviousTagSize0
    std::vector<std::uint8_t> raw;
    rtmpx::canvas picture(width, height, format);
    rtmpx::encoded_frame frame;
    std::uint32_t key_frames = 0;
    for (std::uint32_t t = 0; t < frames; ++t) {
        for (std::uint32_t y = 0; y < height; ++y)
            for (std::uint32_t x = 0; x < width; ++x) {
                const rgb c = pixel_at(x, y, t, width, height);
                picture.set_pixel(x, y, c.r, c.g, c.b, static_cast<std::uint8_t>(t));
                raw.insert(raw.end(), {c.r, c.g, c.b});
            }
        if (t == frames / 2) encoder.force_key_frame();
        if (auto ec = encoder.encode(picture.view(), frame)) return fail("encode: " + ec.message());

        key_frames += frame.key_frame ? 1 : 0;
        const auto data_size = static_cast<std::uint32_t>(1 + frame.data.size());
        const std::uint32_t ms = t * frame_ms;
        put_u8(flv, 9);          // TagType: video
        put_u24(flv, data_size);  // DataSize
        put_u24(flv, ms & 0xffffffu);  // Timestamp
        put_u8(flv, ms >> 24);   // TimestampExtended
        put_u24(flv, 0);         // StreamID
        put_u8(flv, (frame.key_frame ? 0x10u : 0x20u) | encoder.flv_codec_id());  // FrameType, CodecID
        for (std::byte b : frame.data) flv.push_back(std::to_integer<std::uint8_t>(b));
        put_u32(flv, 11 + data_size);  // PreviousTagSize
    }
    std::vector<std::byte> rest;
    if (auto ec = encoder.close(rest)) return fail("close: " + ec.message());

    if (!write_file(argv[1], flv)) return fail(std::string("cannot write ") + argv[1]);
    if (!write_file(argv[2], raw)) return fail(std::string("cannot write ") + argv[2]);
    std::printf("%u frames, %u key frames, %zu FLV bytes\n", frames, key_frames, flv.size());
    return 0;
}
