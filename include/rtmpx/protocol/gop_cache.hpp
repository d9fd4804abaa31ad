// SPDX-License-Identifier: MIT
// The frames since the last key frame, within limits: what a player joining a stream starts from.
#pragma once

#include <cstddef>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/protocol/media_frame.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// The frames since the last key frame, bounded by a frame count and a byte count. Not
/// synchronised: its owner serialises access.
class gop_cache {
public:
    gop_cache(std::size_t max_frames, std::size_t max_bytes) : max_frames_(max_frames), max_bytes_(max_bytes) {}

    /// Adds a frame: a key frame starts a new group; a frame with no key frame before it, or
    /// one beyond the limits, empties the cache until the next key frame. The latest info frame
    /// (Enhanced colorInfo) is remembered and opens each new group, at its key frame's timestamp,
    /// so that a joiner has it before the first picture.
    void add(const shared_frame& f) {
        if (f->info_frame) info_ = f;
        if (f->key_frame) {
            clear();
            if (info_) {
                auto info = std::make_shared<media_frame>(*info_);
                info->timestamp = f->timestamp;
                info->config = f->config;
                frames_.push_back(std::move(info));
                bytes_ += info_->tag.size();
            }
        }
        if (frames_.empty() && !f->key_frame) return;
        if (frames_.size() + 1 > max_frames_ || bytes_ + f->tag.size() > max_bytes_) {
            clear();
            return;
        }
        frames_.push_back(f);
        bytes_ += f->tag.size();
    }

    void clear() noexcept {
        frames_.clear();
        bytes_ = 0;
    }

    /// Forgets the group and the info frame too (a new publisher).
    void reset() noexcept {
        clear();
        info_.reset();
    }

    /// The group, key frame first or after the info frame (empty when there is none).
    const std::vector<shared_frame>& frames() const noexcept { return frames_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    std::size_t max_frames_;
    std::size_t max_bytes_;
    std::vector<shared_frame> frames_;
    std::size_t bytes_ = 0;
    shared_frame info_;  // the latest info frame
};

} // namespace protocol
RTMPX_NAMESPACE_END
