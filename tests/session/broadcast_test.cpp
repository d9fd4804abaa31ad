// SPDX-License-Identifier: MIT
// Session tests of fan-out and threading: one broadcast played by many clients, the GOP cache,
// a slow player among fast ones, the pooled threading option, and gathered writes.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "test_client.hpp"

using namespace rtmpx;
using namespace rtmpx::protocol;
using namespace std::chrono_literals;
using rtmpx_test::is_command;
using rtmpx_test::local_server;
using rtmpx_test::status_code;
using rtmpx_test::test_client;

namespace {

// An AVC sequence header tag body (contents do not matter to the server).
std::vector<std::byte> sequence_header() {
    return {std::byte{0x17}, std::byte{0x00}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0x42}};
}

// An AVC NALU tag body of `size` bytes whose bytes 5.. carry the frame number.
std::vector<std::byte> frame_tag(std::uint32_t n, bool key, std::size_t size = 16) {
    std::vector<std::byte> tag(std::max<std::size_t>(size, 9), std::byte{0});
    tag[0] = std::byte(key ? 0x17 : 0x27);
    tag[1] = std::byte{0x01};
    for (int i = 0; i < 4; ++i) tag[5 + i] = std::byte((n >> (8 * i)) & 0xff);
    return tag;
}

std::uint32_t frame_number(const std::vector<std::byte>& tag) {
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= std::to_integer<std::uint32_t>(tag[5 + i]) << (8 * i);
    return n;
}

// A server whose "live" app plays `source` on every stream.
void install_broadcast_app(local_server& srv, std::shared_ptr<broadcast> source) {
    srv.install([source](connection& c, const connect_event& e) {
        if (!e.is_create) return true;
        c.on_stream([source](rtmpx::stream& s, const stream_event& se) {
            if (se.is_create) s.use_broadcast(source);
            return true;
        });
        return true;
    });
}

std::uint32_t connect_create_play(test_client& client) {
    client.handshake();
    client.connect("live");
    REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); }));
    client.send(command{"createStream", 2, amf0::value::null(), {}});
    auto created = client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); });
    REQUIRE(created);
    const auto sid = static_cast<std::uint32_t>(std::get<command>(*created).arguments.at(0).as_number());
    client.send(command{"play", 3, amf0::value::null(), {"show"}}, sid);
    REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) {
        return status_code(d) == "NetStream.Play.Start";
    }));
    return sid;
}

// The next video message: its tag body and timestamp.
struct video {
    std::vector<std::byte> tag;
    std::uint32_t timestamp = 0;
};
std::optional<video> next_video(test_client& client) {
    message_header h;
    auto d = client.wait_for([](const decoded_message& m, const message_header&) {
        return std::holds_alternative<media_message>(m);
    }, &h);
    if (!d) return std::nullopt;
    return video{std::get<media_message>(*d).payload, h.timestamp.value()};
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

// An application's own audio encoder: frames of 480 sample frames, held back two frames (as
// codecs hold samples back), a priming packet first. Each packet carries the first sample's
// value of its frame, so that the test sees the samples come through whole and in order.
class delayed_pcm_encoder {
public:
    explicit delayed_pcm_encoder(std::uint32_t fourcc = 0) : fourcc_(fourcc) {}
    std::error_code init(std::uint32_t, std::uint32_t channels, std::vector<std::byte>& header) {
        channels_ = channels;
        header = {std::byte{0x11}, std::byte{0x90}};
        return {};
    }
    std::error_code set_parameter(std::string_view, double) { return encoder_error::invalid_parameter; }
    std::optional<double> get_parameter(std::string_view) const { return std::nullopt; }
    std::error_code encode(std::span<const std::int16_t> pcm, std::vector<encoded_audio>& packets) {
        pending_.insert(pending_.end(), pcm.begin(), pcm.end());
        while (pending_.size() >= (held_ + 1) * frame * channels_) {
            if (held_ < 2) {  // the first two frames are held back
                ++held_;
                continue;
            }
            encoded_audio out;
            out.first_sample = next_ - frame;  // one frame of priming first
            out.samples = frame;
            const std::int16_t first = next_ == 0 ? 0 : pending_[0];
            out.data = {std::byte(first & 0xff), std::byte((first >> 8) & 0xff)};
            if (next_ > 0) pending_.erase(pending_.begin(), pending_.begin() + frame * channels_);
            next_ += frame;
            packets.push_back(std::move(out));
        }
        return {};
    }
    std::error_code close(std::vector<encoded_audio>&) { return {}; }
    std::string_view identifier() const { return "delayed pcm"; }
    std::uint8_t flv_sound_format() const { return 10; }
    std::uint32_t fourcc() const { return fourcc_; }

    static constexpr std::size_t frame = 480;

private:
    std::uint32_t fourcc_ = 0;
    std::size_t channels_ = 0;
    std::size_t held_ = 0;
    std::int64_t next_ = 0;
    std::vector<std::int16_t> pending_;
};
static_assert(audio_encoder<delayed_pcm_encoder>);

// A stand-in video encoder that counts its pictures (in `encodes`, shared with the test): a
// legacy FLV codec (`fourcc` 0) or an Enhanced RTMP one. Key frames on demand only.
class counting_encoder {
public:
    counting_encoder(std::shared_ptr<std::atomic<int>> encodes, std::uint8_t codec_id, std::uint32_t fourcc)
        : encodes_(std::move(encodes)), codec_id_(codec_id), fourcc_(fourcc) {}
    std::error_code init(std::uint32_t, std::uint32_t, std::vector<std::byte>& header) {
        header = {std::byte{0x01}, std::byte{0x64}};
        return {};
    }
    std::error_code set_parameter(std::string_view, double) { return encoder_error::invalid_parameter; }
    std::optional<double> get_parameter(std::string_view) const { return std::nullopt; }
    std::span<const pixel_format> supported_pixel_formats() const { return formats_; }
    std::error_code encode(const canvas_view&, encoded_frame& out) {
        const int n = ++*encodes_;
        out.data = {std::byte{0xee}, std::byte(n & 0xff)};
        out.key_frame = std::exchange(key_, false);
        return {};
    }
    void force_key_frame() { key_ = true; }
    std::error_code close(std::vector<std::byte>&) { return {}; }
    std::string_view identifier() const { return "counting"; }
    std::uint8_t flv_codec_id() const { return codec_id_; }
    std::uint32_t fourcc() const { return fourcc_; }

private:
    static constexpr pixel_format formats_[] = {pixel_format::rgba};
    std::shared_ptr<std::atomic<int>> encodes_;
    std::uint8_t codec_id_;
    std::uint32_t fourcc_;
    bool key_ = true;
};
static_assert(video_encoder<counting_encoder>);

// What a player got: its video tags and audio tags, with timestamps, in the order they came.
struct received_media {
    std::vector<std::vector<std::byte>> video;
    std::vector<std::vector<std::byte>> audio;
    bool in_order = true;  // audio and video in one timestamp order
};
received_media receive(test_client& client, std::size_t pictures) {
    received_media got;
    std::uint32_t last = 0;
    while (got.video.size() < pictures) {
        message_header h;
        auto d = client.wait_for([](const decoded_message& m, const message_header&) { return std::holds_alternative<media_message>(m); }, &h);
        if (!d) break;
        const auto& m = std::get<media_message>(*d);
        got.in_order = got.in_order && h.timestamp.value() >= last;
        last = h.timestamp.value();
        (m.type == message_type::video ? got.video : got.audio).push_back(m.payload);
    }
    return got;
}

} // namespace

TEST_SUITE("broadcast") {
    TEST_CASE("rendered sound: configuration first, every sample in order, in timestamp order with the pictures") {
        broadcast_options bo;
        bo.gop_cache = false;
        bo.render_rate = 100;
        auto source = std::make_shared<broadcast>(bo);
        codec_registry registry;
        registry.add_audio("delayed", [] { return delayed_pcm_encoder(); });
        CHECK_FALSE(source->use_audio("no such codec", 48000, 1, registry));
        REQUIRE(source->use_audio("delayed", 48000, 1, registry));
        source->on_frame([n = 0u](broadcast&, encoded_frame& out, bool) mutable {
            out.data = frame_tag(n, n % 10 == 0);
            ++n;
            return true;
        });
        source->on_audio([next = std::int16_t{0}](broadcast&, audio_buffer& pcm) mutable {
            CHECK(pcm.channels == 1);
            CHECK(pcm.sample_rate == 48000);
            for (auto& v : pcm.samples) v = next = static_cast<std::int16_t>((next + 1) & 0x7fff);
            return true;
        });
        local_server srv;
        install_broadcast_app(srv, source);
        source->start();
        test_client client(srv);
        connect_create_play(client);
        std::uint32_t last = 0;
        std::vector<std::pair<std::uint32_t, std::vector<std::byte>>> audio;
        int pictures = 0;
        while (pictures < 40) {
            message_header h;
            auto d = client.wait_for([](const decoded_message& m, const message_header&) { return std::holds_alternative<media_message>(m); }, &h);
            REQUIRE(d);
            const auto& m = std::get<media_message>(*d);
            CHECK(h.timestamp.value() >= last);  // audio and video in one timestamp order
            last = h.timestamp.value();
            if (m.type == message_type::video) ++pictures;
            if (m.type == message_type::audio) audio.emplace_back(h.timestamp.value(), m.payload);
        }
        source->stop();
        REQUIRE(audio.size() > 20);
        CHECK(audio[0].second == std::vector<std::byte>{std::byte{0xaf}, std::byte{0x00}, std::byte{0x11}, std::byte{0x90}});
        // After the configuration, packets 10 ms apart, each frame's first sample one frame on.
        std::optional<std::int16_t> previous;
        for (std::size_t i = 1; i < audio.size(); ++i) {
            REQUIRE(audio[i].second.size() == 4);
            CHECK(audio[i].second[0] == std::byte{0xaf});
            CHECK(audio[i].second[1] == std::byte{0x01});
            const auto first = static_cast<std::int16_t>(std::to_integer<int>(audio[i].second[2]) | std::to_integer<int>(audio[i].second[3]) << 8);
            if (previous && *previous != 0) CHECK(first == static_cast<std::int16_t>((*previous + delayed_pcm_encoder::frame) & 0x7fff));
            previous = first;
            if (i > 2) CHECK(audio[i].first - audio[i - 1].first == 10);
        }
        CHECK_FALSE(source->failed());
    }


    TEST_CASE("several codecs: each player gets the best it declared, each codec encodes once, an unplayed one not at all") {
        broadcast_options bo;
        bo.gop_cache = false;
        bo.render_rate = 100;
        auto source = std::make_shared<broadcast>(bo);
        auto av1 = std::make_shared<std::atomic<int>>(0);
        auto avc = std::make_shared<std::atomic<int>>(0);
        codec_registry registry;
        registry.add("enhanced", [av1] { return counting_encoder(av1, 0, enhanced::video_fourcc::av1); });
        registry.add("legacy", [avc] { return counting_encoder(avc, 7, 0); });
        registry.add_audio("opus-like", [] { return delayed_pcm_encoder(enhanced::audio_fourcc::opus); });
        registry.add_audio("aac-like", [] { return delayed_pcm_encoder(); });
        CHECK_FALSE(source->use_codecs({"enhanced", "no such codec"}, registry));
        CHECK_FALSE(source->use_codecs({}, registry));
        REQUIRE(source->use_codecs({"enhanced", "legacy"}, registry));
        REQUIRE(source->use_audio_codecs({"opus-like", "aac-like"}, 48000, 1, registry));
        std::atomic<int> ticks{0};
        const canvas picture(16, 16);
        source->on_render([&ticks](broadcast&) {
            ++ticks;
            return true;
        });
        source->on_frame([&picture](broadcast& b, encoded_frame& out, bool) { return !b.codec()->encode(picture.view(), out); });
        source->on_audio([](broadcast&, audio_buffer& pcm) {
            for (auto& v : pcm.samples) v = 1;
            return true;
        });
        local_server srv;
        install_broadcast_app(srv, source);
        source->start();
        REQUIRE(eventually([&] { return ticks >= 10; }));
        CHECK(*av1 == 0);  // nobody plays: nothing encoded
        CHECK(*avc == 0);

        // A legacy player: the legacy codec, from a key frame after its sequence header; AAC-like sound.
        test_client legacy(srv, false);
        connect_create_play(legacy);
        const auto old = receive(legacy, 6);
        REQUIRE(old.video.size() == 6);
        CHECK(old.video[0][0] == std::byte{0x17});  // AVC sequence header
        CHECK(old.video[0][1] == std::byte{0x00});
        CHECK(old.video[1][0] == std::byte{0x17});  // then a key frame
        for (std::size_t i = 2; i < old.video.size(); ++i) CHECK(old.video[i][0] == std::byte{0x27});
        REQUIRE_FALSE(old.audio.empty());
        for (const auto& tag : old.audio) CHECK(tag[0] == std::byte{0xaf});
        CHECK(old.in_order);
        CHECK(*av1 == 0);  // still nobody plays the Enhanced codec

        // Two Enhanced players: the Enhanced codec (SequenceStart, then a key frame), Enhanced sound.
        std::vector<std::unique_ptr<test_client>> modern;
        for (int i = 0; i < 2; ++i) {
            modern.push_back(std::make_unique<test_client>(srv, true));
            connect_create_play(*modern.back());
        }
        REQUIRE(eventually([&] { return source->players() == 3; }));
        const int ticks_before = ticks;
        const int av1_before = *av1;
        const int avc_before = *avc;
        for (auto& client : modern) {
            const auto got = receive(*client, 6);
            REQUIRE(got.video.size() == 6);
            enhanced::video_tag tag;
            REQUIRE_FALSE(enhanced::parse_video(got.video[0], tag));
            CHECK(tag.packet == enhanced::video_packet::sequence_start);
            CHECK(tag.tracks[0].codec == enhanced::video_fourcc::av1);
            for (std::size_t i = 1; i < got.video.size(); ++i) {
                REQUIRE_FALSE(enhanced::parse_video(got.video[i], tag));
                CHECK(tag.tracks[0].codec == enhanced::video_fourcc::av1);
                // From a key frame; the other player's joining may force another one later.
                if (i == 1) CHECK(tag.frame_type == 1);
                else CHECK((tag.frame_type == 1 || tag.frame_type == 2));
            }
            REQUIRE_FALSE(got.audio.empty());
            for (const auto& tag : got.audio) CHECK((std::to_integer<int>(tag[0]) >> 4) == 9);  // ExAudioTagHeader
            CHECK(got.in_order);
        }
        receive(legacy, 10);  // the legacy player goes on meanwhile
        // Each codec encoded at most once a tick, whatever the number of its players.
        const int ticks_after = ticks;
        CHECK(*av1 - av1_before <= ticks_after - ticks_before + 1);
        CHECK(*avc - avc_before <= ticks_after - ticks_before + 1);
        CHECK(*av1 - av1_before > 0);

        // The Enhanced players leave: their codec stops; one comes back: it starts on a key frame.
        modern.clear();
        REQUIRE(eventually([&] { return source->players() == 1; }));
        const int av1_left = *av1;
        const int ticks_left = ticks;
        REQUIRE(eventually([&] { return ticks >= ticks_left + 10; }));
        CHECK(*av1 - av1_left <= 1);  // at most the picture in flight as they left
        test_client again(srv, true);
        connect_create_play(again);
        const auto back = receive(again, 3);
        REQUIRE(back.video.size() == 3);
        enhanced::video_tag key;
        REQUIRE_FALSE(enhanced::parse_video(back.video[1], key));
        CHECK(key.frame_type == 1);
        source->stop();
        CHECK_FALSE(source->failed());
    }

    TEST_CASE("gop_cache keeps the frames since the last key frame, within its limits") {
        protocol::gop_cache cache(4, 100);
        auto make = [](bool key, std::size_t bytes) {
            auto f = std::make_shared<protocol::media_frame>();
            f->key_frame = key;
            f->tag.resize(bytes);
            return protocol::shared_frame(f);
        };
        cache.add(make(false, 10));  // no key frame yet: nothing to start from
        CHECK(cache.frames().empty());
        cache.add(make(true, 10));
        cache.add(make(false, 10));
        CHECK(cache.frames().size() == 2);
        CHECK(cache.bytes() == 20);
        cache.add(make(true, 10));  // a new group
        CHECK(cache.frames().size() == 1);
        CHECK(cache.frames().front()->key_frame);
        for (int i = 0; i < 3; ++i) cache.add(make(false, 10));
        CHECK(cache.frames().size() == 4);
        cache.add(make(false, 10));  // a fifth frame is beyond the limit: the group is dropped
        CHECK(cache.frames().empty());
        cache.add(make(false, 10));  // and stays dropped until the next key frame
        CHECK(cache.frames().empty());
        cache.add(make(true, 101));  // a key frame larger than the byte limit is not kept
        CHECK(cache.frames().empty());
    }

    TEST_CASE("every player gets the same frames, published once, with the sequence header first") {
        auto source = std::make_shared<broadcast>();
        local_server srv;
        install_broadcast_app(srv, source);
        source->push_video_tag(sequence_header(), 0);
        std::vector<std::unique_ptr<test_client>> clients;
        for (int i = 0; i < 3; ++i) {
            clients.push_back(std::make_unique<test_client>(srv));
            connect_create_play(*clients.back());
        }
        REQUIRE(eventually([&] { return source->players() == 3; }));
        constexpr std::uint32_t frames = 30;
        for (std::uint32_t n = 0; n < frames; ++n) source->push_video_tag(frame_tag(n, n % 10 == 0), n * 33);
        CHECK(source->frames() == frames);  // encoded (here: copied in) once for three players
        for (auto& client : clients) {
            auto seq = next_video(*client);
            REQUIRE(seq);
            CHECK(seq->tag == sequence_header());
            for (std::uint32_t n = 0; n < frames; ++n) {
                auto v = next_video(*client);
                REQUIRE(v);
                CHECK(v->tag == frame_tag(n, n % 10 == 0));
                CHECK(v->timestamp == n * 33);  // this player's first frame is its time 0
            }
        }
        clients.clear();
        REQUIRE(eventually([&] { return source->players() == 0; }));
    }

    TEST_CASE("Enhanced configuration: each track's SequenceStart and MultichannelConfig kept, a newer one replacing its own") {
        auto source = std::make_shared<broadcast>();
        local_server srv;
        install_broadcast_app(srv, source);
        const auto vseq = rtmpx_test::bytes({0x90, 'a', 'v', '0', '1', 0x81, 0x00});
        const auto aseq = rtmpx_test::bytes({0x90, 'O', 'p', 'u', 's', 'O', 'p', 'u', 's'});
        const auto channels = rtmpx_test::bytes({0x94, 'O', 'p', 'u', 's', 0x00, 0x02});
        const auto track1 = rtmpx_test::bytes({0x96, 0x00, 'a', 'v', '0', '1', 0x01, 0x81, 0x01});
        const auto track1_again = rtmpx_test::bytes({0x96, 0x00, 'a', 'v', '0', '1', 0x01, 0x81, 0x02});
        const auto key = rtmpx_test::bytes({0x91, 'a', 'v', '0', '1', 0x12, 0x00});
        source->push_video_tag(vseq, 0);
        source->push_audio_tag(aseq, 0);
        source->push_audio_tag(channels, 0);
        source->push_video_tag(track1, 0);
        source->push_video_tag(track1_again, 0);
        source->push_video_tag(key, 0);  // cached: what a joiner starts from
        test_client client(srv);
        connect_create_play(client);
        std::vector<std::vector<std::byte>> media;
        while (media.size() < 5) {
            auto m = client.next();
            REQUIRE(m);
            if (const auto* mm = std::get_if<media_message>(&m->body)) media.push_back(mm->payload);
        }
        CHECK(media == std::vector<std::vector<std::byte>>{vseq, aseq, channels, track1_again, key});
    }

    TEST_CASE("a joining player starts at once from the cached key frame, timed from it") {
        auto source = std::make_shared<broadcast>();
        source->set_metadata(amf0::value::ecma_array({{"width", amf0::value(1280)}}));
        local_server srv;
        install_broadcast_app(srv, source);
        source->push_video_tag(sequence_header(), 0);
        for (std::uint32_t n = 0; n < 25; ++n) source->push_video_tag(frame_tag(n, n % 10 == 0), 1000 + n * 40);
        CHECK(source->cached_frames() == 5);  // frames 20..24

        test_client client(srv);
        client.handshake();
        client.connect("live");
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); }));
        client.send(command{"createStream", 2, amf0::value::null(), {}});
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); }));
        client.send(command{"play", 3, amf0::value::null(), {"show"}}, 1);
        auto meta = client.wait_for([](const decoded_message& d, const message_header&) {
            auto* dm = std::get_if<data_message>(&d);
            return dm && dm->handler == "onMetaData";
        });
        REQUIRE(meta);
        CHECK(std::get<data_message>(*meta).values.at(0)["width"].as_number() == 1280);
        auto seq = next_video(client);
        REQUIRE(seq);
        CHECK(seq->tag == sequence_header());
        for (std::uint32_t n = 20; n < 25; ++n) {  // no push happens meanwhile: these come from the cache
            auto v = next_video(client);
            REQUIRE(v);
            CHECK(frame_number(v->tag) == n);
            CHECK(v->timestamp == (n - 20) * 40);
        }
    }

    TEST_CASE("without the cache a joiner waits for a key frame; a player that stops reading drops alone") {
        broadcast_options bo;
        bo.gop_cache = false;
        bo.player_queue_frames = 8;
        auto source = std::make_shared<broadcast>(bo);
        local_server srv;
        install_broadcast_app(srv, source);
        source->push_video_tag(sequence_header(), 0);
        test_client fast(srv);
        test_client slow(srv);
        connect_create_play(fast);
        connect_create_play(slow);
        REQUIRE(eventually([&] { return source->players() == 2; }));
        // 40 frames of 64 KiB: far more than the slow player's socket and queue hold.
        constexpr std::uint32_t frames = 40;
        std::thread producer([&] {
            for (std::uint32_t n = 1; n <= frames; ++n) {
                source->push_video_tag(frame_tag(n, n % 10 == 0, 64 << 10), n * 33);
                std::this_thread::sleep_for(2ms);
            }
        });
        std::vector<std::uint32_t> got;
        while (got.size() < frames - 9) {  // frames 10..40 (the first key frame is frame 10)
            auto v = next_video(fast);
            REQUIRE(v);
            if (v->tag[1] == std::byte{0}) continue;  // the sequence header
            got.push_back(frame_number(v->tag));
        }
        producer.join();
        CHECK(got.front() == 10);  // frames 1..9 came before any key frame
        for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == 10 + i);  // the fast player lost none
        CHECK(srv.statistics().frames_dropped >= 9 + 9);  // both skipped 1..9; the slow one more
        const auto slow_drops = srv.statistics().frames_dropped - 9;
        CHECK(slow_drops > 9);
        // The slow player, read at last, gets decodable video: a key frame first.
        auto first = next_video(slow);
        while (first && first->tag[1] == std::byte{0}) first = next_video(slow);
        REQUIRE(first);
        CHECK(first->tag[0] == std::byte{0x17});
    }

    TEST_CASE("a broadcast renders on its own thread; players without the cache start on a key frame") {
        broadcast_options bo;
        bo.gop_cache = false;
        bo.render_rate = 100;
        auto source = std::make_shared<broadcast>(bo);
        std::atomic<int> renders{0};
        source->on_render([&](broadcast&) {
            ++renders;
            return true;
        });
        // No codec: the frame handler fills whole tags, a key frame every 50th (with a codec, a
        // joiner's request for a key frame is met at the next frame).
        source->on_frame([n = 0u](broadcast&, encoded_frame& out, bool) mutable {
            out.data = frame_tag(n, n % 50 == 0);
            ++n;
            return true;
        });
        local_server srv;
        install_broadcast_app(srv, source);
        source->start();
        test_client a(srv);
        test_client b(srv);
        connect_create_play(a);
        connect_create_play(b);
        auto va = next_video(a);
        auto vb = next_video(b);
        REQUIRE(va);
        REQUIRE(vb);
        CHECK(va->tag[0] == std::byte{0x17});
        CHECK(vb->tag[0] == std::byte{0x17});
        CHECK(va->timestamp == 0);
        source->stop();
        CHECK(renders > 0);
        CHECK_FALSE(source->failed());
    }

    TEST_CASE("pooled threads: many connections on two threads play, call and end cleanly") {
        server_options o;
        o.threads = 2;
        std::atomic<int> closes{0};
        local_server srv(o);
        srv.install([&](connection& c, const connect_event& e) {
            if (!e.is_create) {
                ++closes;
                return true;
            }
            c.on_call("thread", [](connection&, const call_event&, amf0::value& out) {
                out = static_cast<double>(std::hash<std::thread::id>{}(std::this_thread::get_id()) % 1000000);
                return true;
            });
            c.on_stream([](rtmpx::stream& s, const stream_event& se) {
                if (!se.is_create) return true;
                s.on_frame([n = 0u](rtmpx::stream&, encoded_frame& out, bool) mutable {
                    out.data = frame_tag(n, n % 10 == 0);
                    out.key_frame = n++ % 10 == 0;
                    return true;
                });
                return true;
            });
            return true;
        });
        constexpr int clients_n = 8;
        std::vector<std::unique_ptr<test_client>> clients;
        std::set<double> threads;
        for (int i = 0; i < clients_n; ++i) {
            clients.push_back(std::make_unique<test_client>(srv));
            auto& c = *clients.back();
            connect_create_play(c);
            c.send(command{"thread", 9, amf0::value::null(), {}});
            auto r = c.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); });
            REQUIRE(r);
            threads.insert(std::get<command>(*r).arguments.at(0).as_number());
        }
        CHECK(threads.size() == 2);  // spread over both pool threads, and no more
        for (auto& c : clients) CHECK(next_video(*c));
        CHECK(srv.connection_count() == clients_n);
        clients.clear();
        CHECK(srv.wait_for(5s));
        CHECK(closes == clients_n);
        CHECK(srv.connection_count() == 0);
    }

    TEST_CASE("the replies to one command leave in one write") {
        local_server srv;
        srv.install([](connection& c, const connect_event& e) {
            if (!e.is_create) return true;
            c.on_call("writes", [](connection& conn, const call_event&, amf0::value& out) {
                out = static_cast<double>(conn.statistics().writes);
                return true;
            });
            return true;
        });
        test_client client(srv);
        client.handshake();
        client.connect("live");  // five messages in reply: window, bandwidth, chunk size, StreamBegin, _result
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); }));
        client.send(command{"createStream", 2, amf0::value::null(), {}});
        REQUIRE(client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); }));
        client.send(command{"writes", 3, amf0::value::null(), {}});
        auto r = client.wait_for([](const decoded_message& d, const message_header&) { return is_command(d, "_result"); });
        REQUIRE(r);
        // S0 S1 S2, then one write for each command's replies.
        CHECK(std::get<command>(*r).arguments.at(0).as_number() == 3);
    }
}
