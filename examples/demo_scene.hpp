// SPDX-License-Identifier: MIT
// A small animated test picture for the examples: gradient, moving square, frame counter, clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <string>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <rtmpx/media.hpp>

namespace demo {

/// Draws frames into an RGBA canvas on the render thread and hands copies to the frame thread.
class scene {
public:
    scene(std::uint32_t width, std::uint32_t height) : drawing_(width, height), latest_(width, height) {}

    /// Render handler work: draw the next picture and publish it.
    void render() {
        ++frame_;
        const auto w = drawing_.width(), h = drawing_.height();
        for (std::uint32_t y = 0; y < h; ++y)
            for (std::uint32_t x = 0; x < w; ++x)
                drawing_.set_pixel(x, y, static_cast<std::uint8_t>(x * 255 / w), static_cast<std::uint8_t>(y * 255 / h),
                                   static_cast<std::uint8_t>(tint_ + frame_ % 64));
        const std::uint32_t size = h / 4;
        const std::uint32_t sx = static_cast<std::uint32_t>(frame_ * 4 % (w - size));
        fill_rect(sx, h / 2 - size / 2, size, size, 255, 255, 255);
        const auto now = std::time(nullptr);
        draw_text(16, 16, fmt::format("{:%H:%M:%S}", fmt::localtime(now)));
        draw_text(16, 16 + 8 * scale_, std::to_string(frame_));
        std::lock_guard lock(mutex_);
        latest_ = drawing_;
    }

    /// Frame handler work: a copy of the last finished picture.
    rtmpx::canvas latest() const {
        std::lock_guard lock(mutex_);
        return latest_;
    }

    /// Changes the blue component of the background (the remote-call example steers it).
    void set_tint(std::uint8_t tint) { tint_ = tint; }

private:
    void fill_rect(std::uint32_t x0, std::uint32_t y0, std::uint32_t w, std::uint32_t h, std::uint8_t r,
                   std::uint8_t g, std::uint8_t b) {
        for (std::uint32_t y = y0; y < y0 + h && y < drawing_.height(); ++y)
            for (std::uint32_t x = x0; x < x0 + w && x < drawing_.width(); ++x) drawing_.set_pixel(x, y, r, g, b);
    }

    // Digits and ':' in a 3x5 pixel font, one row per 3 bits.
    void draw_text(std::uint32_t x, std::uint32_t y, const std::string& text) {
        static constexpr std::uint16_t glyphs[11] = {0x7b6f, 0x2c97, 0x73e7, 0x73cf, 0x5bc9, 0x79cf,
                                                     0x79ef, 0x7249, 0x7bef, 0x7bcf, 0x0410};
        for (char c : text) {
            const int g = c == ':' ? 10 : (c >= '0' && c <= '9' ? c - '0' : -1);
            if (g >= 0) {
                for (int row = 0; row < 5; ++row)
                    for (int col = 0; col < 3; ++col)
                        if (glyphs[g] >> (14 - row * 3 - col) & 1)
                            fill_rect(x + static_cast<std::uint32_t>(col) * scale_,
                                      y + static_cast<std::uint32_t>(row) * scale_, scale_, scale_, 255, 255, 0);
            }
            x += 4 * scale_;
        }
    }

    rtmpx::canvas drawing_;
    mutable std::mutex mutex_;
    rtmpx::canvas latest_;
    std::uint64_t frame_ = 0;
    std::uint8_t tint_ = 96;
    std::uint32_t scale_ = 6;
};

} // namespace demo
