// SPDX-License-Identifier: MIT
// flv_file: records audio, video and data messages to an FLV file.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include <rtmpx/config.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/protocol/flv_writer.hpp>
#include <rtmpx/protocol/message.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * An FLV file being written: `open`, then `write` every message of a published stream (a media
 * handler's `media_event`) or of a broadcast (see `recorder`), then `close`. Timestamps start at
 * 0 on the first message. Each message reaches the file (the operating system) before `write`
 * returns, so a recording that stops on an error keeps everything written before it. At `close`,
 * when the file is seekable, the `onMetaData` duration and the header's audio/video flags are
 * set to what was written.
 *
 * Errors are `std::error_code`s from the system (`std::errc::no_space_on_device`, ...); after the
 * first, nothing more is written and every call returns it.
 *
 * Thread: one at a time.
 */
class flv_file {
public:
    flv_file() = default;
    flv_file(const flv_file&) = delete;
    flv_file& operator=(const flv_file&) = delete;
    flv_file(flv_file&& other) noexcept
        : file_(std::exchange(other.file_, nullptr)), writer_(std::move(other.writer_)), failed_(other.failed_) {}
    ~flv_file() {
        std::error_code ignored;
        close(ignored);
    }

    /// Creates `path` (replacing a file there) and writes the FLV header.
    void open(const std::string& path, std::error_code& ec) {
        std::error_code ignored;
        close(ignored);
        writer_ = protocol::flv_writer();
        failed_.clear();
        file_ = std::fopen(path.c_str(), "wb");
        if (!file_) {
            ec = std::error_code(errno, std::generic_category());
            return;
        }
        put(writer_.header(), ec);
    }

    bool is_open() const noexcept { return file_ != nullptr; }

    /// Appends one message: an audio or video tag body, or a data message body (`onMetaData`
    /// first describes the file; a later one is not written), at `timestamp` ms.
    void write(media_type type, std::uint32_t timestamp, std::span<const std::byte> payload, std::error_code& ec) {
        const auto wire = type == media_type::audio   ? protocol::message_type::audio
                          : type == media_type::video ? protocol::message_type::video
                                                      : protocol::message_type::data_amf0;
        write(wire, timestamp, payload, ec);
    }
    /// `write` of a media handler's message.
    void write(const media_event& e, std::error_code& ec) { write(e.type, e.timestamp, e.payload, ec); }
    /// `write` of an RTMP message of type audio (8), video (9) or AMF0 data (18); others are skipped.
    void write(protocol::message_type type, std::uint32_t timestamp, std::span<const std::byte> payload, std::error_code& ec) {
        ec = failed_;
        if (ec) return;
        if (!file_) {
            ec = std::make_error_code(std::errc::bad_file_descriptor);
            return;
        }
        put(writer_.tag(type, timestamp, payload), ec);
    }

    /// Sets the duration and the flags (when the file is seekable) and closes the file. The
    /// error is the first one of the recording, if any.
    void close(std::error_code& ec) {
        ec = failed_;
        if (!file_) return;
        if (!failed_) {
            for (const auto& p : writer_.patches()) {
                if (std::fseek(file_, static_cast<long>(p.offset), SEEK_SET) != 0) break;  // a pipe: nothing to patch
                if (std::fwrite(p.bytes.data(), 1, p.bytes.size(), file_) != p.bytes.size()) fail();
            }
            if (std::fflush(file_) != 0) fail();
        }
        if (std::fclose(std::exchange(file_, nullptr)) != 0) fail();
        ec = failed_;
    }

    /// The span of the messages written, in ms.
    std::uint32_t duration_ms() const noexcept { return writer_.duration_ms(); }
    /// The file's size so far.
    std::uint64_t bytes() const noexcept { return writer_.size(); }

private:
    void put(std::span<const std::byte> bytes, std::error_code& ec) {
        if (!bytes.empty() && (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size() || std::fflush(file_) != 0))
            fail();
        ec = failed_;
    }

    void fail() {
        if (!failed_) failed_ = std::error_code(errno ? errno : EIO, std::generic_category());
    }

    std::FILE* file_ = nullptr;
    protocol::flv_writer writer_;
    std::error_code failed_;
};

RTMPX_NAMESPACE_END
