// SPDX-License-Identifier: MIT
// Google Benchmark micro-benchmarks of the sans-I/O core. Prints figures only; never judges them.
//
//  * BM_memcpy: the reference, a memcpy of a video payload (10 KB and 100 KB).
//  * BM_chunk_writer: chunking one video message (type 9, chunk stream 6, message stream 1) at
//    chunk sizes 128 and 4096, in three forms: `gather` builds the scatter-gather list the
//    server hands to async_write, `copy` also copies it into one reused contiguous buffer,
//    `flatten` calls chunked_output::flatten() (a new vector per message).
//  * BM_chunk_reader: reassembling the same messages from their chunked bytes with
//    chunk_reader::put and take_message (each message gets its own payload vector).
//  * BM_amf_decode / BM_amf_encode: a `connect` command as ffmpeg sends it and an `onMetaData`,
//    with rtmpx and, when built with RTMPX_BENCH_LIBRTMP, with librtmp's AMF functions.
//
// Counters: bytes_per_second counts payload bytes (chunk headers excluded) or AMF body bytes.
// x_memcpy is the time of one iteration divided by the time of one memcpy of the payload, the
// latter measured once at startup (best of 9 runs; both in thread CPU time, the clock of the CPU
// column). The console prints values below 1 with SI prefixes: 250m is 0.25.

#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/document.hpp>
#include <rtmpx/amf/writer.hpp>
#include <rtmpx/amf/format.hpp>
#include <rtmpx/protocol/chunk_reader.hpp>
#include <rtmpx/protocol/chunk_writer.hpp>
#include <rtmpx/protocol/message.hpp>
#include <rtmpx/protocol/commands.hpp>

#ifndef RTMPX_BENCH_LIBRTMP
#define RTMPX_BENCH_LIBRTMP 0
#endif
#if RTMPX_BENCH_LIBRTMP
#include <librtmp/amf.h>
#endif

namespace {

using bytes = std::vector<std::byte>;
using rtmpx::amf0::value;

constexpr std::size_t payload_sizes[] = {10 * 1024, 100 * 1024};
constexpr std::uint32_t chunk_sizes[] = {128, 4096};

// ---------------------------------------------------------------------------------------------
// The memcpy reference

double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

/// ns of one memcpy of `n` bytes: the best of 9 runs, each of enough copies to last about 1 ms.
double measure_memcpy_ns(std::size_t n) {
    bytes src(n, std::byte{0x5a});
    bytes dst(n);
    auto run = [&](int copies) {
        const double t0 = thread_cpu_ns();
        for (int i = 0; i < copies; ++i) {
            std::memcpy(dst.data(), src.data(), n);
            benchmark::ClobberMemory();
        }
        return thread_cpu_ns() - t0;
    };
    int copies = 16;
    while (run(copies) < 1e6 && copies < (1 << 24)) copies *= 2;
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < 9; ++i) best = std::min(best, run(copies) / copies);
    return best;
}

std::map<std::size_t, double> memcpy_ns;  // by payload size; filled by register_all() before any run

/// Thread CPU time from construction to `ns()`; started just before a benchmark's loop.
struct cpu_stopwatch {
    double start = thread_cpu_ns();
    double ns() const { return thread_cpu_ns() - start; }
};

/// Reports the payload throughput and x_memcpy: the CPU time per iteration (measured by
/// `watch` around the loop) divided by the time of one memcpy of the payload.
void report(benchmark::State& state, std::size_t payload_bytes, const cpu_stopwatch& watch) {
    const double elapsed = watch.ns();
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetBytesProcessed(iterations * static_cast<std::int64_t>(payload_bytes));
    if (iterations > 0)
        state.counters["x_memcpy"] = elapsed / static_cast<double>(iterations) / memcpy_ns.at(payload_bytes);
}

void BM_memcpy(benchmark::State& state, std::size_t n) {
    bytes src(n, std::byte{0x5a});
    bytes dst(n);
    const cpu_stopwatch watch;
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), n);
        benchmark::ClobberMemory();
    }
    report(state, n, watch);
}

// ---------------------------------------------------------------------------------------------
// Chunk writer and reader

/// An FLV video tag body: AVC NALU header, then bytes that look like coded data.
bytes video_payload(std::size_t n) {
    bytes p(n);
    std::uint32_t x = 0x12345678;
    for (auto& b : p) {
        x = x * 1664525u + 1013904223u;
        b = std::byte(x >> 24);
    }
    const std::uint8_t tag[] = {0x17, 0x01, 0, 0, 0};
    std::memcpy(p.data(), tag, std::min(n, sizeof tag));
    return p;
}

rtmpx::protocol::message_header video_header(std::uint32_t ms) {
    return {rtmpx::protocol::chunk_stream::video, rtmpx::protocol::message_type::video, rtmpx::rtmp_timestamp(ms), 1};
}

enum class write_mode { gather, copy, flatten };

/// Chunks one video message per iteration. The timestamp advances 33 ms each time, so after the
/// first message the headers are those of a steady 30 fps stream (type 2 once, then type 3).
void BM_chunk_writer(benchmark::State& state, write_mode mode, std::uint32_t chunk_size, std::size_t n) {
    const bytes payload = video_payload(n);
    rtmpx::protocol::chunk_writer writer(chunk_size);
    rtmpx::protocol::chunked_output out;
    std::vector<std::span<const std::byte>> gather;  // what the server turns into asio buffers
    bytes wire;
    wire.reserve(n + n / chunk_size * 4 + 64);
    auto h = video_header(0);
    const cpu_stopwatch watch;
    for (auto _ : state) {
        out.clear();
        writer.write(h, payload, out);
        h.timestamp += 33;
        switch (mode) {
        case write_mode::gather:
            gather.clear();
            out.for_each_buffer([&](std::span<const std::byte> b) { gather.push_back(b); });
            benchmark::DoNotOptimize(gather.data());
            break;
        case write_mode::copy:
            wire.clear();
            out.for_each_buffer([&](std::span<const std::byte> b) { wire.insert(wire.end(), b.begin(), b.end()); });
            benchmark::DoNotOptimize(wire.data());
            break;
        case write_mode::flatten: {
            bytes flat = out.flatten();
            benchmark::DoNotOptimize(flat.data());
            break;
        }
        }
        benchmark::ClobberMemory();
    }
    report(state, n, watch);
}

/// The chunked bytes of a steady video stream. `setup` brings a reader to the steady state
/// (Set Chunk Size if not 128, then two video messages); `repeat` is the next message, whose
/// first chunk has a type 3 header, so it can be fed again and again.
struct chunked_stream {
    bytes setup;
    bytes repeat;
};

chunked_stream make_stream(std::uint32_t chunk_size, const bytes& payload) {
    rtmpx::protocol::chunk_writer writer;
    rtmpx::protocol::chunked_output out;
    const rtmpx::protocol::message set_size = rtmpx::protocol::to_message(rtmpx::protocol::set_chunk_size{chunk_size});  // referenced by `out`
    if (chunk_size != 128) {
        writer.write(set_size.header, set_size.payload, out);
        writer.set_chunk_size(chunk_size);
    }
    writer.write(video_header(0), payload, out);
    writer.write(video_header(33), payload, out);
    chunked_stream s;
    s.setup = out.flatten();
    out.clear();
    writer.write(video_header(66), payload, out);
    s.repeat = out.flatten();
    return s;
}

/// Feeds `in` until it is all consumed; the last byte must complete a message, which is
/// returned in `last`. False on a reader error or when the input ends mid-message.
bool feed(rtmpx::protocol::chunk_reader& reader, std::span<const std::byte> in, rtmpx::protocol::message& last) {
    std::error_code ec;
    std::size_t used = 0;
    while (used < in.size()) {
        const std::size_t n = reader.put(in.subspan(used), ec);
        if (ec || (n == 0 && !reader.has_message())) return false;
        used += n;
        if (reader.has_message()) last = reader.take_message();
    }
    return !reader.has_message();
}

/// Reassembles one video message per iteration from its pre-chunked bytes.
void BM_chunk_reader(benchmark::State& state, std::uint32_t chunk_size, std::size_t n) {
    const bytes payload = video_payload(n);
    const chunked_stream stream = make_stream(chunk_size, payload);
    rtmpx::protocol::chunk_reader reader;
    rtmpx::protocol::message m;
    if (!feed(reader, stream.setup, m) || reader.chunk_size() != chunk_size || !feed(reader, stream.repeat, m) ||
        m.payload != payload || m.header != video_header(66)) {
        state.SkipWithError("the reader did not reassemble the stream");
        return;
    }
    std::error_code ec;
    const cpu_stopwatch watch;
    for (auto _ : state) {
        std::size_t used = 0;
        do {
            used += reader.put(std::span(stream.repeat).subspan(used), ec);
        } while (!reader.has_message() && !ec && used < stream.repeat.size());
        if (!reader.has_message()) {
            state.SkipWithError("no message");
            break;
        }
        m = reader.take_message();
        benchmark::DoNotOptimize(m.payload.data());
    }
    report(state, n, watch);
}

// ---------------------------------------------------------------------------------------------
// AMF0: rtmpx

/// `connect` as ffmpeg sends it to play (name, transaction id 1, command object).
rtmpx::protocol::command connect_command() {
    return rtmpx::protocol::command{"connect", 1,
                          value::object({{"app", "live"},
                                         {"flashVer", "LNX 9,0,124,2"},
                                         {"tcUrl", "rtmp://127.0.0.1:1935/live"},
                                         {"fpad", false},
                                         {"capabilities", 15},
                                         {"audioCodecs", 4071},
                                         {"videoCodecs", 252},
                                         {"videoFunction", 1}}),
                          {}};
}

/// `onMetaData` with the ECMA array an encoder sends for a 720p30 H.264 stream.
rtmpx::protocol::data_message metadata_message() {
    return rtmpx::protocol::make_on_metadata(value::ecma_array({{"duration", 0},
                                                      {"width", 1280},
                                                      {"height", 720},
                                                      {"videodatarate", 2500},
                                                      {"framerate", 30},
                                                      {"videocodecid", 7},
                                                      {"encoder", "Lavf60.16.100"},
                                                      {"filesize", 0}}));
}

/// Decodes the whole AMF0 body into values (strings copied into the values).
void BM_amf_decode_rtmpx(benchmark::State& state, bytes body) {
    std::vector<value> values;
    std::error_code ec;
    for (auto _ : state) {
        if (!rtmpx::amf0::decode_all(body, values, ec)) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(values.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

/// Decodes the whole body into one reused `amf0::document` (views into the body, no copies).
void BM_amf_decode_rtmpx_document(benchmark::State& state, bytes body) {
    rtmpx::amf0::document doc;
    std::error_code ec;
    for (auto _ : state) {
        if (!doc.decode(body, ec)) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(doc.nodes().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

/// `connect_command()` with `amf0::writer` into a reused buffer, from constants.
void write_connect(std::vector<std::byte>& body) {
    rtmpx::amf0::writer(body)
        .string("connect")
        .number(1)
        .begin_object()
        .property("app", "live")
        .property("flashVer", "LNX 9,0,124,2")
        .property("tcUrl", "rtmp://127.0.0.1:1935/live")
        .property("fpad", false)
        .property("capabilities", 15.0)
        .property("audioCodecs", 4071.0)
        .property("videoCodecs", 252.0)
        .property("videoFunction", 1.0)
        .end_object();
}

/// `metadata_message()` with `amf0::writer` into a reused buffer, from constants.
void write_metadata(std::vector<std::byte>& body) {
    rtmpx::amf0::writer(body)
        .string("onMetaData")
        .begin_ecma_array(8)
        .property("duration", 0.0)
        .property("width", 1280.0)
        .property("height", 720.0)
        .property("videodatarate", 2500.0)
        .property("framerate", 30.0)
        .property("videocodecid", 7.0)
        .property("encoder", "Lavf60.16.100")
        .property("filesize", 0.0)
        .end_object();
}

void BM_amf_encode_rtmpx_writer(benchmark::State& state, void (*write)(std::vector<std::byte>&)) {
    bytes body;
    for (auto _ : state) {
        body.clear();
        write(body);
        benchmark::DoNotOptimize(body.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

/// Encodes a body that is already built, with `encode_payload` (a new vector each time, as the
/// server does when it sends).
template <class M>
void BM_amf_encode_rtmpx(benchmark::State& state, M msg) {
    std::size_t size = 0;
    for (auto _ : state) {
        bytes body = rtmpx::protocol::encode_payload(msg);
        size = body.size();
        benchmark::DoNotOptimize(body.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

/// The same into one reused buffer: the encoder alone, without the allocations of the output.
template <class M>
void BM_amf_encode_rtmpx_reuse(benchmark::State& state, M msg) {
    constexpr bool is_command = std::is_same_v<M, rtmpx::protocol::command>;
    bytes body;
    for (auto _ : state) {
        body.clear();
        if constexpr (is_command) {
            rtmpx::amf0::encode(value(msg.name), body);
            rtmpx::amf0::encode(value(msg.transaction_id), body);
            rtmpx::amf0::encode(msg.object, body);
        } else {
            rtmpx::amf0::encode(value(msg.handler), body);
            for (const value& v : msg.values) rtmpx::amf0::encode(v, body);
        }
        benchmark::DoNotOptimize(body.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

/// Builds the value tree and encodes it: what encoding from constants costs with rtmpx.
template <class Make>
void BM_amf_encode_rtmpx_build(benchmark::State& state, Make make) {
    std::size_t size = 0;
    for (auto _ : state) {
        bytes body = rtmpx::protocol::encode_payload(make());
        size = body.size();
        benchmark::DoNotOptimize(body.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// ---------------------------------------------------------------------------------------------
// AMF0: librtmp

#if RTMPX_BENCH_LIBRTMP

AVal av(const char* s) { return AVal{const_cast<char*>(s), static_cast<int>(std::strlen(s))}; }

const AVal av_connect = av("connect"), av_app = av("app"), av_live = av("live"), av_flash_ver = av("flashVer"),
           av_lnx = av("LNX 9,0,124,2"), av_tc_url = av("tcUrl"), av_url = av("rtmp://127.0.0.1:1935/live"),
           av_fpad = av("fpad"), av_capabilities = av("capabilities"), av_audio_codecs = av("audioCodecs"),
           av_video_codecs = av("videoCodecs"), av_video_function = av("videoFunction");
const AVal av_on_metadata = av("onMetaData"), av_duration = av("duration"), av_width = av("width"),
           av_height = av("height"), av_videodatarate = av("videodatarate"), av_framerate = av("framerate"),
           av_videocodecid = av("videocodecid"), av_encoder = av("encoder"), av_lavf = av("Lavf60.16.100"),
           av_filesize = av("filesize");

// librtmp encodes field by field into a caller's buffer; these write the same bytes as
// connect_command() and metadata_message() (checked in main). The buffers given are large
// enough that no step runs out of room (a step would return NULL).

char* librtmp_encode_connect(char* p, char* end) {
    p = AMF_EncodeString(p, end, &av_connect);
    p = AMF_EncodeNumber(p, end, 1);
    *p++ = AMF_OBJECT;
    p = AMF_EncodeNamedString(p, end, &av_app, &av_live);
    p = AMF_EncodeNamedString(p, end, &av_flash_ver, &av_lnx);
    p = AMF_EncodeNamedString(p, end, &av_tc_url, &av_url);
    p = AMF_EncodeNamedBoolean(p, end, &av_fpad, 0);
    p = AMF_EncodeNamedNumber(p, end, &av_capabilities, 15);
    p = AMF_EncodeNamedNumber(p, end, &av_audio_codecs, 4071);
    p = AMF_EncodeNamedNumber(p, end, &av_video_codecs, 252);
    p = AMF_EncodeNamedNumber(p, end, &av_video_function, 1);
    return AMF_EncodeInt24(p, end, AMF_OBJECT_END);
}

char* librtmp_encode_metadata(char* p, char* end) {
    p = AMF_EncodeString(p, end, &av_on_metadata);
    *p++ = AMF_ECMA_ARRAY;
    p = AMF_EncodeInt32(p, end, 8);
    p = AMF_EncodeNamedNumber(p, end, &av_duration, 0);
    p = AMF_EncodeNamedNumber(p, end, &av_width, 1280);
    p = AMF_EncodeNamedNumber(p, end, &av_height, 720);
    p = AMF_EncodeNamedNumber(p, end, &av_videodatarate, 2500);
    p = AMF_EncodeNamedNumber(p, end, &av_framerate, 30);
    p = AMF_EncodeNamedNumber(p, end, &av_videocodecid, 7);
    p = AMF_EncodeNamedString(p, end, &av_encoder, &av_lavf);
    p = AMF_EncodeNamedNumber(p, end, &av_filesize, 0);
    return AMF_EncodeInt24(p, end, AMF_OBJECT_END);
}

using librtmp_encoder = char* (*)(char*, char*);

/// What `encode` writes, as bytes.
bytes librtmp_bytes(librtmp_encoder encode) {
    char buf[1024];
    const char* end = encode(buf, buf + sizeof buf);
    return end == nullptr ? bytes{} : bytes(reinterpret_cast<const std::byte*>(buf), reinterpret_cast<const std::byte*>(end));
}

void BM_amf_encode_librtmp(benchmark::State& state, librtmp_encoder encode) {
    char buf[1024];
    std::size_t size = 0;
    for (auto _ : state) {
        const char* end = encode(buf, buf + sizeof buf);
        benchmark::DoNotOptimize(end);
        benchmark::ClobberMemory();
        size = static_cast<std::size_t>(end - buf);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

/// Decodes the whole body into an AMFObject (strings point into the input, not copied), then
/// frees it. `values` is the number of top-level values the body holds.
void BM_amf_decode_librtmp(benchmark::State& state, bytes body, int values) {
    const auto* data = reinterpret_cast<const char*>(body.data());
    const int size = static_cast<int>(body.size());
    for (auto _ : state) {
        AMFObject obj{};
        const int n = AMF_Decode(&obj, data, size, FALSE);
        benchmark::DoNotOptimize(obj.o_props);
        const bool ok = n == size && obj.o_num == values;
        AMF_Reset(&obj);
        if (!ok) {
            state.SkipWithError("AMF_Decode failed");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

#endif

// ---------------------------------------------------------------------------------------------

/// Registers `fn(state, args...)` under `name` (the arguments are copied into the benchmark).
template <class F, class... A>
void reg(const std::string& name, F fn, A... args) {
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) { fn(state, args...); });
}

void register_all() {
    for (const std::size_t n : payload_sizes) {
        memcpy_ns[n] = measure_memcpy_ns(n);
        benchmark::AddCustomContext("memcpy_ns/bytes:" + std::to_string(n), std::to_string(memcpy_ns[n]));
    }
    for (const std::size_t n : payload_sizes) reg("BM_memcpy/bytes:" + std::to_string(n), BM_memcpy, n);
    const std::pair<write_mode, const char*> modes[] = {
        {write_mode::gather, "gather"}, {write_mode::copy, "copy"}, {write_mode::flatten, "flatten"}};
    for (const auto& [mode, mode_name] : modes) {
        for (const std::uint32_t c : chunk_sizes) {
            for (const std::size_t n : payload_sizes) {
                reg(std::string("BM_chunk_writer/") + mode_name + "/chunk:" + std::to_string(c) +
                        "/bytes:" + std::to_string(n),
                    BM_chunk_writer, mode, c, n);
            }
        }
    }
    for (const std::uint32_t c : chunk_sizes) {
        for (const std::size_t n : payload_sizes) {
            reg("BM_chunk_reader/chunk:" + std::to_string(c) + "/bytes:" + std::to_string(n), BM_chunk_reader, c, n);
        }
    }

    const bytes connect_body = rtmpx::protocol::encode_payload(connect_command());
    const bytes metadata_body = rtmpx::protocol::encode_payload(metadata_message());
    {
        bytes written;
        write_connect(written);
        const bool same_connect = written == connect_body;
        written.clear();
        write_metadata(written);
        benchmark::AddCustomContext("writer_encodes_same_bytes",
                                    same_connect && written == metadata_body ? "yes" : "NO: writer comparison invalid");
    }
#if RTMPX_BENCH_LIBRTMP
    const bool same_connect = librtmp_bytes(librtmp_encode_connect) == connect_body;
    const bool same_metadata = librtmp_bytes(librtmp_encode_metadata) == metadata_body;
    benchmark::AddCustomContext("librtmp_encodes_same_bytes",
                                same_connect && same_metadata ? "yes" : "NO: encode comparison invalid");
#endif

    reg("BM_amf_decode/connect/rtmpx", BM_amf_decode_rtmpx, connect_body);
    reg("BM_amf_decode/connect/rtmpx_document", BM_amf_decode_rtmpx_document, connect_body);
#if RTMPX_BENCH_LIBRTMP
    reg("BM_amf_decode/connect/librtmp", BM_amf_decode_librtmp, connect_body, 3);
#endif
    reg("BM_amf_decode/onMetaData/rtmpx", BM_amf_decode_rtmpx, metadata_body);
    reg("BM_amf_decode/onMetaData/rtmpx_document", BM_amf_decode_rtmpx_document, metadata_body);
#if RTMPX_BENCH_LIBRTMP
    reg("BM_amf_decode/onMetaData/librtmp", BM_amf_decode_librtmp, metadata_body, 2);
#endif

    reg("BM_amf_encode/connect/rtmpx", BM_amf_encode_rtmpx<rtmpx::protocol::command>, connect_command());
    reg("BM_amf_encode/connect/rtmpx_reuse", BM_amf_encode_rtmpx_reuse<rtmpx::protocol::command>, connect_command());
    reg("BM_amf_encode/connect/rtmpx_build", BM_amf_encode_rtmpx_build<decltype(&connect_command)>, &connect_command);
    reg("BM_amf_encode/connect/rtmpx_writer", BM_amf_encode_rtmpx_writer, &write_connect);
#if RTMPX_BENCH_LIBRTMP
    reg("BM_amf_encode/connect/librtmp", BM_amf_encode_librtmp, librtmp_encode_connect);
#endif
    reg("BM_amf_encode/onMetaData/rtmpx", BM_amf_encode_rtmpx<rtmpx::protocol::data_message>, metadata_message());
    reg("BM_amf_encode/onMetaData/rtmpx_reuse", BM_amf_encode_rtmpx_reuse<rtmpx::protocol::data_message>, metadata_message());
    reg("BM_amf_encode/onMetaData/rtmpx_build", BM_amf_encode_rtmpx_build<decltype(&metadata_message)>,
        &metadata_message);
    reg("BM_amf_encode/onMetaData/rtmpx_writer", BM_amf_encode_rtmpx_writer, &write_metadata);
#if RTMPX_BENCH_LIBRTMP
    reg("BM_amf_encode/onMetaData/librtmp", BM_amf_encode_librtmp, librtmp_encode_metadata);
#endif
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
