// SPDX-License-Identifier: MIT
// A small animated test picture for the examples: gradient, moving square, frame counter, clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <string>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>

namespace demo {

/// Draws frames into an RGBA canvas and hands copies to frame threads. Several streams (and
/// so several connection threads) may share one scene: it draws at most `max_rate` times a second.
class scene {
public:
    scene(std::uint32_t width, std::uint32_t height, double max_rate = 30)
        : drawing_(width, height), latest_(width, height),
          min_interval_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>(0.9 / max_rate))) {}

    /// Render handler work: draw the next picture and publish it (unless it was drawn just now).
    void render() {
        std::lock_guard draw_lock(draw_mutex_);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_draw_ < min_interval_) return;
        last_draw_ = now;
        ++frame_;
        const auto w = drawing_.width(), h = drawing_.height();
        for (std::uint32_t y = 0; y < h; ++y)
            for (std::uint32_t x = 0; x < w; ++x)
                drawing_.set_pixel(x, y, static_cast<std::uint8_t>(x * 255 / w), static_cast<std::uint8_t>(y * 255 / h),
                                   static_cast<std::uint8_t>(tint_ + frame_ % 64));
        const std::uint32_t size = h / 4;
        position_ = std::fmod(position_ + 4 * speed_, static_cast<double>(w - size));
        const auto sx = static_cast<std::uint32_t>(position_);
        fill_rect(sx, h / 2 - size / 2, size, size, color_[0], color_[1], color_[2]);
        draw_text(16, 16, fmt::format("{:%H:%M:%S}", fmt::localtime(std::time(nullptr))));
        draw_text(16, 16 + 8 * scale_, std::to_string(frame_));
        std::lock_guard lock(mutex_);
        latest_ = drawing_;
    }

    /// Frame handler work: a copy of the last finished picture.
    rtmpx::canvas latest() const {
        std::lock_guard lock(mutex_);
        return latest_;
    }

    /// Changes the colour of the moving square (remote calls steer it).
    void set_color(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        std::lock_guard draw_lock(draw_mutex_);
        color_[0] = r;
        color_[1] = g;
        color_[2] = b;
    }

    /// Changes how fast the square moves: 1 (the default) is 4 pixels a frame, 0 stops it;
    /// clamped to 0..100.
    void set_speed(double speed) {
        std::lock_guard draw_lock(draw_mutex_);
        speed_ = speed > 0 ? std::min(speed, 100.0) : 0;  // NaN stops it too
    }

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

    std::mutex draw_mutex_;
    rtmpx::canvas drawing_;
    mutable std::mutex mutex_;
    rtmpx::canvas latest_;
    std::uint64_t frame_ = 0;
    std::uint8_t tint_ = 96;
    std::uint8_t color_[3] = {255, 255, 255};
    double speed_ = 1;
    double position_ = 0;  // left edge of the square, in pixels
    std::chrono::steady_clock::duration min_interval_;
    std::chrono::steady_clock::time_point last_draw_{};
    std::uint32_t scale_ = 6;
};

} // namespace demo
