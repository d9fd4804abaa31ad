// SPDX-License-Identifier: MIT
// The producer thread: render, frame and audio hooks at a steady rate, each encoder's frames into the frame sources of its renditions.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rtmpx/audio_codec.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/driver/frame_source.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/protocol/enhanced.hpp>
#include <rtmpx/protocol/flv.hpp>
#include <rtmpx/protocol/media_frame.hpp>
#include <rtmpx/video_codec.hpp>

RTMPX_NAMESPACE_BEGIN
namespace driver {

/**
 * The thread that makes frames: each tick, paced at `rate()` calls a second, it calls the render
 * hook, then the audio hook and the frame hook, and publishes what they made into frame sources.
 * Timestamps are the scheduled ticks (steady spacing without wake-up jitter; players map
 * timestamps onto a frame grid), and a producer that falls behind does not burst to catch up.
 *
 * With a video encoder, the frame hook fills a picture's encoded data and the producer adds the
 * FLV tag header (legacy or Enhanced RTMP), the onMetaData and the sequence header; without one,
 * the hook's bytes are the FLV tag body. With audio encoders and an audio hook, each tick also asks
 * the hook for the samples due since the last (counted from the first tick, so the sound is
 * continuous and its timestamps run with the pictures'), encodes them and publishes every
 * finished packet.
 *
 * Several encoders at once (`set_renditions`): each tick the frame hook is called once per video
 * encoder (`current_codec()` says which one it fills), and the audio hook once, its samples
 * encoded by every audio encoder. Each rendition, a frame source with its own subscribers,
 * configuration and cached group, takes the frames of one video and one audio encoder. With more
 * than one encoder of a kind, one none of whose renditions has a subscriber taking frames is not
 * used; when one comes it starts again, on a key frame.
 *
 * A hook that throws or returns false stops the thread: the failure is logged (category "render",
 * "frame" or "audio"), and every rendition's subscribers are told (`frame_source::set_failed`).
 *
 * Thread: `set_*` before `start` (or after `stop`); the rest from any thread. The renditions'
 * sources and the encoders must outlive the thread (`stop`, or the destructor).
 */
class producer {
public:
    using clock = frame_source::clock;
    using render_hook = std::function<bool()>;
    using frame_hook = std::function<bool(encoded_frame&, bool outqueue_is_full)>;
    using audio_hook = std::function<bool(audio_buffer&)>;

    /// Where the frames of one pair of encoders go.
    struct rendition {
        frame_source* source = nullptr;  ///< the subscribers' side
        std::size_t video = 0;           ///< which video encoder feeds it
        std::size_t audio = 0;           ///< which audio encoder feeds it (when there are any)
    };

    /// `idle_without_subscribers`: no hook is called while no subscriber takes frames.
    explicit producer(bool idle_without_subscribers = false) : idle_without_subscribers_(idle_without_subscribers) {}
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;
    ~producer() { stop(); }

    /// The hooks the thread calls each tick (either may be empty), and the calls per second.
    void set_hooks(render_hook render, frame_hook frame, std::function<double()> rate) {
        render_ = std::move(render);
        frame_ = std::move(frame);
        rate_ = std::move(rate);
    }
    /// The audio hook (without one, or without audio encoders, no sound is made).
    void set_audio(audio_hook hook) { audio_ = std::move(hook); }

    /// The encoders (a null video encoder: the frame hook's bytes are FLV tag bodies; audio
    /// encoders opened), and where their frames go: at least one rendition.
    void set_renditions(std::vector<video_codec*> video, std::vector<audio_codec*> audio, std::vector<rendition> renditions) {
        RTMPX_ASSERT(!video.empty() && !renditions.empty());
        video_.clear();
        for (video_codec* codec : video) video_.push_back(video_lane{codec});
        audio_lanes_.clear();
        for (audio_codec* codec : audio) audio_lanes_.push_back(audio_lane{codec});
        renditions_ = std::move(renditions);
        current_.store(video_.front().codec, std::memory_order_relaxed);
    }

    /// Where failures are logged, and what they are about ("broadcast", "stream 3").
    void set_log(const detail::logger* log, std::uint64_t connection_id, std::string subject) {
        log_ = log;
        log_id_ = connection_id;
        subject_ = std::move(subject);
    }

    /// Starts the thread (a running one is restarted); the renditions are no longer failed.
    void start() {
        stop();
        {
            std::lock_guard lock(mutex_);
            stop_ = false;
        }
        for (const rendition& r : renditions_) r.source->set_failed(false);
        thread_ = std::thread([this] { produce(); });
    }

    /// Stops the thread (subscribers stay, and get frames again after `start`).
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        stop_cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    /// Asks every video encoder for a key frame at its next picture.
    void request_key_frame() noexcept {
        for (const rendition& r : renditions_) r.source->request_key_frame();
    }

    /// The video encoder the frame hook fills now (the first before any frame). Thread: any.
    video_codec* current_codec() const noexcept { return current_.load(std::memory_order_relaxed); }

private:
    struct video_lane {
        video_codec* codec = nullptr;
        std::uint64_t generation = 0;  // of the configuration sent this run (0: none yet)
        bool active = false;           // encoding for players (several encoders only)
    };
    struct audio_lane {
        audio_codec* codec = nullptr;
        bool active = false;
        std::int64_t fed = 0;     // sample frames handed to the encoder, ever
        std::int64_t offset = 0;  // add to the encoder's sample positions: this run's positions
        std::int64_t end = 0;     // where its last packet ends, in this run's positions
        std::deque<std::shared_ptr<protocol::media_frame>> waiting{};  // encoded, its tick not yet come
    };

    // A hook failed: the thread ends and every subscriber, of every rendition, hears of it.
    void fail(const char* kind, bool threw) {
        if (!threw && log_)
            log_->log(log_level::warning, log_id_, kind, error::handler_failed, "{} handler of {} returned false", kind,
                      subject_);
        for (const rendition& r : renditions_) r.source->set_failed(true);
    }

    template <class F>
    bool run_hook(const char* kind, F&& f) {
        static const detail::logger silent;
        const auto ok = detail::guarded_call(log_ ? *log_ : silent, log_id_, kind, subject_, f);
        if (ok && *ok) return true;
        fail(kind, !ok);
        return false;
    }

    static std::size_t lane_of(const rendition& r, bool video) noexcept { return video ? r.video : r.audio; }

    // Over the renditions fed by video (or audio) encoder `index`: whether every subscriber
    // that takes frames is behind, and whether any takes frames.
    std::pair<bool, bool> load_of(bool video, std::size_t index) const {
        bool any = false;
        bool all_behind = true;
        for (const rendition& r : renditions_) {
            if (lane_of(r, video) != index) continue;
            const auto [behind, takes] = r.source->load();
            any = any || takes;
            all_behind = all_behind && (!takes || behind);
        }
        return {any && all_behind, any};
    }

    // Whether a key frame was asked of video encoder `index` (by a joiner, a drop, the user).
    bool take_key_request(std::size_t index) {
        bool asked = false;
        for (const rendition& r : renditions_)
            if (r.video == index && r.source->take_key_request()) asked = true;
        return asked;
    }

    // The frame into every rendition of video (or audio) encoder `index`: a copy for each but the
    // last (a frame carries its rendition's configuration). Of several renditions, one without
    // subscribers keeps no cached group: its first player starts on a new key frame, with its
    // sound, rather than on a group cached while another codec of sound was playing.
    void publish_to(bool video, std::size_t index, std::shared_ptr<protocol::media_frame> frame) {
        const bool several = renditions_.size() > 1;
        frame_source* last = nullptr;
        for (const rendition& r : renditions_) {
            if (lane_of(r, video) != index) continue;
            if (several && !r.source->watched()) continue;
            if (last) last->publish_produced(std::make_shared<protocol::media_frame>(*frame));
            last = r.source;
        }
        if (last) last->publish_produced(std::move(frame));
    }

    void produce() {
        const auto start = clock::now();
        for (const rendition& r : renditions_) r.source->restart_clock(start);
        auto next = start;
        for (video_lane& lane : video_) lane = video_lane{lane.codec};  // each run sends its configuration anew
        for (audio_lane& lane : audio_lanes_) {
            lane.active = false;
            lane.waiting.clear();
        }
        audio_samples_ = audio_ahead_ = 0;
        if (audio_ && !audio_lanes_.empty())
            for (const rendition& r : renditions_) configure(r, 0, false);
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (stop_cv_.wait_until(lock, next, [this] { return stop_; })) return;
            }
            const auto tick = next;
            const double rate = rate_ ? rate_() : 30.0;
            next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate));
            if (const auto now = clock::now(); next < now) next = now;  // fell behind: no burst to catch up
            if (idle_without_subscribers_ && !std::any_of(renditions_.begin(), renditions_.end(),
                                                          [](const rendition& r) { return r.source->load().second; }))
                continue;
            if (render_ && !run_hook("render", render_)) return;
            if (audio_ && !audio_lanes_.empty() && !produce_audio(tick - start)) return;
            if (!frame_) continue;
            const auto timestamp = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(tick - start).count());
            for (std::size_t i = 0; i < video_.size(); ++i)
                if (!produce_video(i, timestamp, rate)) return;
        }
    }

    // One picture of video encoder `index` (the frame hook fills it), to its renditions. With
    // several encoders, one whose renditions nobody takes frames from is skipped. False when the
    // hook failed (the thread then ends).
    bool produce_video(std::size_t index, std::uint32_t timestamp, double rate) {
        video_lane& lane = video_[index];
        const auto [all_behind, any] = load_of(true, index);
        const bool full = all_behind;  // a copy: clang 14 cannot capture a structured binding
        bool key = take_key_request(index);
        if (video_.size() > 1) {
            if (!any) {
                lane.active = false;
                return true;
            }
            if (!std::exchange(lane.active, true)) key = true;  // its first player starts on a key frame
        }
        video_codec* const codec = lane.codec;
        if (key && codec) codec->force_key_frame();
        current_.store(codec, std::memory_order_relaxed);
        encoded_frame out;
        if (!run_hook("frame", [&] { return frame_(out, full); })) return false;
        if (out.data.empty()) return true;
        if (codec && codec->generation() != lane.generation) {
            lane.generation = codec->generation();
            for (const rendition& r : renditions_)
                if (r.video == index) configure(r, rate, true);
        }
        auto frame = std::make_shared<protocol::media_frame>();
        frame->timestamp = timestamp;
        if (codec) {
            const std::uint32_t fourcc = codec->fourcc();
            frame->tag = fourcc != 0 ? protocol::flv::enhanced_video_tag(fourcc, protocol::enhanced::video_packet::coded_frames, out.key_frame, out.data)
                                     : protocol::flv::video_tag(codec->flv_codec_id(), out.key_frame, out.data);
            frame->key_frame = out.key_frame;
        } else {
            frame->tag = std::move(out.data);
            frame->key_frame = out.key_frame || protocol::flv::is_key_frame(frame->tag);
        }
        publish_to(true, index, std::move(frame));
        return true;
    }

    // The sound due at `elapsed` since the first tick. Sound is asked for ahead of the pictures
    // by what the encoders hold back (learned: 10 ms more each time an encoder's packets end
    // before now, up to a second), and each packet waits until the tick of its time, so that
    // players get audio and video with timestamps in order. With several encoders, one whose
    // renditions nobody takes frames from is skipped; the hook is called all the same (the
    // application's sound keeps its time). False when the hook or an encoder failed (the thread
    // then ends).
    bool produce_audio(clock::duration elapsed) {
        const std::uint32_t rate = audio_lanes_.front().codec->sample_rate();
        const auto now = static_cast<std::int64_t>(std::chrono::duration<double>(elapsed).count() * rate);
        for (std::size_t j = 0; j < audio_lanes_.size(); ++j) {
            audio_lane& lane = audio_lanes_[j];
            if (audio_lanes_.size() > 1 && !load_of(false, j).second) {
                lane.active = false;
                lane.waiting.clear();
            } else if (!std::exchange(lane.active, true)) {
                lane.offset = audio_samples_ - lane.fed;  // its next sample is this run's next
                lane.end = audio_samples_;
            }
        }
        const auto caught_up = [&] {
            return std::all_of(audio_lanes_.begin(), audio_lanes_.end(), [&](const audio_lane& l) { return !l.active || l.end >= now; });
        };
        for (int round = 0; round < 128; ++round) {
            const std::int64_t want = now + audio_ahead_;
            if (want > audio_samples_ && !feed_audio(static_cast<std::size_t>(want - audio_samples_))) return false;
            if (caught_up() || audio_ahead_ >= rate) break;
            audio_ahead_ += rate / 100;
        }
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
        for (std::size_t j = 0; j < audio_lanes_.size(); ++j) {
            auto& waiting = audio_lanes_[j].waiting;
            while (!waiting.empty() && waiting.front()->timestamp <= now_ms) {
                publish_to(false, j, std::move(waiting.front()));
                waiting.pop_front();
            }
        }
        return true;
    }

    // `count` sample frames from the audio hook, encoded by every active encoder; the packets
    // wait in their lane.
    bool feed_audio(std::size_t count) {
        const std::uint32_t rate = audio_lanes_.front().codec->sample_rate();
        const std::uint32_t channels = audio_lanes_.front().codec->channels();
        audio_samples_ += static_cast<std::int64_t>(count);
        audio_buffer_.sample_rate = rate;
        audio_buffer_.channels = channels;
        audio_buffer_.samples.assign(count * channels, 0);
        if (!run_hook("audio", [this] { return audio_(audio_buffer_); })) return false;
        audio_buffer_.samples.resize(count * channels, 0);  // a handler that changed the size: cut or padded
        for (audio_lane& lane : audio_lanes_) {
            if (!lane.active) continue;
            lane.fed += static_cast<std::int64_t>(count);
            audio_packets_.clear();
            if (const auto ec = lane.codec->encode(audio_buffer_.samples, audio_packets_)) {
                if (log_) log_->log(log_level::error, log_id_, "audio", ec, "{}: audio encoder failed: {}", subject_, ec.message());
                fail("audio", true);
                return false;
            }
            const std::uint32_t fourcc = lane.codec->fourcc();
            for (const encoded_audio& packet : audio_packets_) {
                auto frame = std::make_shared<protocol::media_frame>();
                frame->kind = protocol::media_kind::audio;
                frame->tag = fourcc != 0 ? protocol::flv::enhanced_audio_tag(fourcc, protocol::enhanced::audio_packet::coded_frames, packet.data)
                                         : protocol::flv::aac_tag(false, packet.data);
                const std::int64_t at = packet.first_sample + lane.offset;  // before this run (held back): at 0
                frame->timestamp = at <= 0 ? 0 : static_cast<std::uint32_t>(at * 1000 / rate);
                lane.end = at + packet.samples;
                lane.waiting.push_back(std::move(frame));  // at most a second and a packet ahead
            }
        }
        return true;
    }

    // The configuration of rendition `r`: the audio encoder's sequence header (AAC
    // AudioSpecificConfig, or an Enhanced SequenceStart) and, `with_video`, onMetaData and the
    // video encoder's sequence header (AVC, or an Enhanced codec's SequenceStart), built here;
    // what the rendition has of the rest stays.
    void configure(const rendition& r, double rate, bool with_video) {
        video_codec* const codec = with_video && r.video < video_.size() ? video_[r.video].codec : nullptr;
        audio_codec* const audio = audio_ && r.audio < audio_lanes_.size() ? audio_lanes_[r.audio].codec : nullptr;
        std::shared_ptr<const std::vector<std::byte>> metadata;
        std::shared_ptr<const std::vector<std::byte>> video_header;
        std::shared_ptr<const std::vector<std::byte>> audio_header;
        if (audio) {
            const std::uint32_t fourcc = audio->fourcc();
            audio_header = std::make_shared<const std::vector<std::byte>>(
                fourcc != 0 ? protocol::flv::enhanced_audio_tag(fourcc, protocol::enhanced::audio_packet::sequence_start, audio->header())
                            : protocol::flv::aac_tag(true, audio->header()));
        }
        if (codec) {
            const std::uint8_t codec_id = codec->flv_codec_id();
            const std::uint32_t fourcc = codec->fourcc();
            auto properties = protocol::flv::video_metadata(codec->width(), codec->height(), rate,
                                                            fourcc != 0 ? protocol::enhanced::metadata_codec_id(fourcc) : codec_id);
            if (audio) {
                const std::uint32_t audio_fourcc = audio->fourcc();
                protocol::flv::add_audio_metadata(properties,
                                                  audio_fourcc != 0 ? protocol::enhanced::metadata_codec_id(audio_fourcc) : audio->flv_sound_format(),
                                                  audio->sample_rate(), audio->channels());
            }
            metadata = std::make_shared<const std::vector<std::byte>>(protocol::flv::on_metadata_payload(std::move(properties)));
            if (fourcc != 0 && !codec->header().empty())
                video_header = std::make_shared<const std::vector<std::byte>>(protocol::flv::enhanced_video_tag(
                    fourcc, protocol::enhanced::video_packet::sequence_start, true, codec->header()));
            else if (codec_id == static_cast<std::uint8_t>(protocol::flv::video_codec::avc) && !codec->header().empty())
                video_header = std::make_shared<const std::vector<std::byte>>(protocol::flv::avc_sequence_header(codec->header()));
        }
        r.source->set_configuration(std::move(metadata), std::move(video_header), std::move(audio_header), codec != nullptr);
    }

    const bool idle_without_subscribers_;
    render_hook render_;
    frame_hook frame_;
    audio_hook audio_;
    std::function<double()> rate_;
    std::vector<video_lane> video_ = std::vector<video_lane>(1);  // the thread's, like the rest below
    std::vector<audio_lane> audio_lanes_;
    std::vector<rendition> renditions_;
    std::atomic<video_codec*> current_{nullptr};
    audio_buffer audio_buffer_;                 // reused each tick
    std::vector<encoded_audio> audio_packets_;  // likewise
    std::int64_t audio_samples_ = 0;            // sample frames asked of the hook this run
    std::int64_t audio_ahead_ = 0;              // how far ahead of the ticks sound is asked for
    const detail::logger* log_ = nullptr;
    std::uint64_t log_id_ = 0;
    std::string subject_;
    std::mutex mutex_;
    std::condition_variable stop_cv_;
    bool stop_ = true;
    std::thread thread_;
};

} // namespace driver
RTMPX_NAMESPACE_END
