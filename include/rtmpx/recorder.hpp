// SPDX-License-Identifier: MIT
// recorder: a broadcast's audio, video and data written to an FLV file, on a thread of its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <rtmpx/broadcast.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/frame_source.hpp>
#include <rtmpx/flv_file.hpp>
#include <rtmpx/protocol/player.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * Records a broadcast (rendered, pushed, or fed by a publisher) to an FLV file: the recording
 * starts from the broadcast's last key frame (its GOP cache) with the metadata and sequence
 * headers, timestamps from 0, and follows the broadcast across publishers as a player does.
 *
 * The recorder is one more subscriber of the broadcast, with a queue of its own (`queue_frames`)
 * and a thread that writes it out, so a slow disk never holds up the players; frames it had to
 * drop are counted (`frames_dropped`). A write that fails stops the recording: `error()` says
 * why, the `on_error` callback hears it at once (on the recorder's thread), and what was written
 * stays in the file.
 *
 * Thread: any; `on_error` before `start`.
 */
class recorder {
public:
    explicit recorder(std::shared_ptr<broadcast> source, std::size_t queue_frames = 512)
        : source_(std::move(source)), queue_frames_(queue_frames) {}
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;
    ~recorder() { stop(); }

    /// Called once, on the recorder's thread, when a write fails.
    void on_error(std::function<void(std::error_code)> f) { on_error_ = std::move(f); }

    /// Opens `path` and starts recording. Errors: the file's.
    void start(const std::string& path, std::error_code& ec) {
        stop();
        file_.open(path, ec);
        if (ec) return;
        {
            std::lock_guard lock(mutex_);
            error_.clear();
            stopping_ = false;
        }
        written_.store(0, std::memory_order_relaxed);
        dropped_.store(0, std::memory_order_relaxed);
        sub_ = std::make_shared<driver::subscriber>(queue_frames_);
        sub_->wake = [this] {
            std::lock_guard lock(mutex_);
            wake_ = true;
            cv_.notify_one();
        };
        sub_->dropped = &dropped_;
        auto join = source_->source().subscribe(sub_);
        thread_ = std::thread([this, join = std::move(join)] { run(join); });
    }

    /**
     * Stops: what the queue holds is written, then the file is finished (duration, flags) and
     * closed. Returns the recording's first error, if any. Safe to call more than once.
     */
    std::error_code stop() {
        if (!thread_.joinable()) return error();
        source_->source().unsubscribe(sub_.get());
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            cv_.notify_one();
        }
        thread_.join();
        sub_.reset();
        std::error_code ec;
        file_.close(ec);
        std::lock_guard lock(mutex_);
        if (!error_) error_ = ec;
        return error_;
    }

    /// The first error of the recording (none while it goes well).
    std::error_code error() const {
        std::lock_guard lock(mutex_);
        return error_;
    }
    /// Frames written, and frames dropped because the queue was full.
    std::uint64_t frames_written() const noexcept { return written_.load(std::memory_order_relaxed); }
    std::uint64_t frames_dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
    void run(const std::vector<protocol::shared_frame>& join) {
        protocol::player framing(1);
        framing.start();
        bool failed = false;
        auto write = [&](const protocol::shared_frame& f) {
            if (failed) return;
            std::error_code ec;
            const auto outcome = framing.write(f, [&](const protocol::message_header& h, const auto& payload) {
                if (!ec) file_.write(h.type, h.timestamp.value(), *payload, ec);
            });
            if (outcome == protocol::player::outcome::sent) written_.fetch_add(1, std::memory_order_relaxed);
            if (!ec) return;
            failed = true;
            {
                std::lock_guard lock(mutex_);
                error_ = ec;
            }
            if (on_error_) on_error_(ec);
        };
        for (const auto& f : join) write(f);
        for (;;) {
            sub_->drain(write);
            std::unique_lock lock(mutex_);
            if (stopping_ && !sub_->queue.front() && !sub_->has_news.load(std::memory_order_acquire)) return;
            cv_.wait(lock, [this] { return wake_ || stopping_; });
            wake_ = false;
        }
    }

    std::shared_ptr<broadcast> source_;
    const std::size_t queue_frames_;
    std::function<void(std::error_code)> on_error_;
    flv_file file_;
    std::shared_ptr<driver::subscriber> sub_;
    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> dropped_{0};
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool wake_ = false;
    bool stopping_ = false;
    std::error_code error_;
    std::thread thread_;
};

RTMPX_NAMESPACE_END
