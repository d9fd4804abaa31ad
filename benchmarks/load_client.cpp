// SPDX-License-Identifier: MIT
// Fan-out load client: ONE process, ONE thread, epoll, playing N RTMP players of one live stream
// at once, so that the server under test (rtmpx or nginx-rtmp) can be compared on the same load.
//
//   load_client --host 127.0.0.1 --port P --app live --stream clip --players N --seconds S
//               [--ramp-ms R] [--tls 1]
//
// --tls 1 (built with OpenSSL): every player speaks RTMPS, TLS through OpenSSL on the same
// non-blocking sockets (no certificate check: the server is the benchmark's own).
//
// Each player: non-blocking TCP connect, simple handshake (C0+C1, S0S1S2, C2 = S1), `connect`,
// Window Acknowledgement Size, `createStream`, `play` + Set Buffer Length 3000 ms (in the order
// FFmpeg uses), Acknowledgements each time the server's window is passed (RTMP 1.0 §5.4.3) and
// ping responses. Everything received is parsed with rtmpx::protocol::chunk_reader.
//
// Protocol on stderr: `READY` once every player has started and is playing (or has failed, or
// 15 s passed), which opens the S-second measurement window; `DONE` when it closes. A driver
// samples the server's /proc stats at these two lines. Then one JSON line goes to stdout.
//
// What is measured, per player (all times CLOCK_MONOTONIC, via steady_clock):
//  * connect→Play.Start: from the connect() call to onStatus NetStream.Play.Start arriving;
//  * play→first video: from sending `play` to the first video message that is a frame (not a
//    sequence header);
//  * latency: for each video frame arriving in the window, at least 2 s after the player's first
//    frame: arrival − (ts + baseline), where baseline is the smallest (arrival − ts) the player
//    saw over all its frames. It is the delay above the player's own best frame, not an absolute
//    glass-to-glass figure (client and server clocks share no epoch);
//  * kept real-time: never disconnected, and at DONE the media time received (last ts − first
//    ts) is within 1000 ms of the wall time since its first frame;
//  * bytes received in the window.
// Counts in the JSON: `connected` got the `connect` _result; `playing` had a video frame and was
// still connected at DONE; `realtime` see above; `errors` = players − playing (reasons on
// stderr). `client_cpu_s` is this process's own CPU time in the window.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rtmpx/protocol/client_session.hpp>

#if defined(RTMPX_BENCH_TLS)
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::milliseconds;

constexpr std::size_t recv_buffer_bytes = 256 * 1024;
constexpr auto warm_up = std::chrono::seconds(2);         // latency samples start 2 s after the first frame
constexpr auto ready_timeout = std::chrono::seconds(15);  // after the last start
constexpr double realtime_max_lag_ms = 1000;
constexpr std::size_t max_samples = 4096;  // per player; when full, every other one is dropped and the rate halved

double ms(steady::duration d) { return duration<double, std::milli>(d).count(); }

struct options {
    std::string host = "127.0.0.1";
    int port = 1935;
    std::string app = "live";
    std::string stream = "clip";
    std::size_t players = 1;
    double seconds = 10;
    double ramp_ms = -1;  // default: 2 ms per player, at most 5 s
    bool tls = false;
};

#if defined(RTMPX_BENCH_TLS)
using tls_handle = SSL*;
#else
using tls_handle = void*;
#endif

enum class phase : std::uint8_t { waiting, connecting, tls_handshake, handshake, connecting_rtmp, creating, starting, playing, failed };

class load_client;

struct player {
    load_client* owner = nullptr;
    int fd = -1;
    phase state = phase::waiting;
    bool connected = false;  // NetConnection.Connect got its _result
    bool epollout = false;   // EPOLLOUT currently requested
    tls_handle tls = nullptr;  // --tls: the player's TLS connection

    std::unique_ptr<rtmpx::protocol::client_session<player>> session;  // from the TCP connect on
    std::vector<std::byte> out;        // bytes not yet accepted by send()
    std::size_t out_sent = 0;
    std::array<std::byte, 32> carry{};  // an incomplete chunk header kept for the next read
    std::size_t carry_len = 0;
    steady::time_point arrival;        // of the bytes being fed to the session

    std::uint32_t stream_id = 0;
    std::uint64_t window_bytes = 0;   // all bytes received during the measurement window

    steady::time_point t_connect, t_play_sent, t_first_frame;
    double connect_to_play_start = -1, play_to_first_video = -1;
    bool have_frame = false;
    std::uint32_t last_raw_ts = 0;
    std::int64_t first_ts = 0, last_ts = 0;  // unwrapped, ms
    std::int64_t first_offset_us = 0;         // arrival − ts of the first frame
    std::int64_t min_offset_us = 0;           // ... and the smallest over all frames (relative)
    std::vector<std::int32_t> samples;        // (arrival − ts) − first_offset_us, µs, in window
    std::uint32_t sample_stride = 1, sample_skip = 0;
    const char* error = nullptr;

    // The client session's callbacks (see rtmpx::protocol::client_session_handler).
    void on_message(const rtmpx::protocol::message_header& h, rtmpx::protocol::decoded_message& d);
    void on_connected(const rtmpx::protocol::command&);
    void on_connect_failed(const rtmpx::protocol::command&);
    void on_stream_created(double, std::uint32_t id);
    void on_status(std::uint32_t, const rtmpx::amf0::value& info);
};

class load_client {
public:
    explicit load_client(const options& o) : o_(o), players_(o.players) {
        for (auto& p : players_) p.owner = this;
        rbuf_ = std::make_unique<std::byte[]>(recv_buffer_bytes);
        ep_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) die("epoll_create1");
        addr_.sin_family = AF_INET;
        addr_.sin_port = htons(static_cast<std::uint16_t>(o.port));
        if (::inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr) != 1) die("bad --host (IPv4 address expected)");
        tc_url_ = std::string(o.tls ? "rtmps://" : "rtmp://") + o.host + ":" + std::to_string(o.port) + "/" + o.app;
#if defined(RTMPX_BENCH_TLS)
        if (o.tls) {
            tls_ = SSL_CTX_new(TLS_client_method());
            if (!tls_) die("SSL_CTX_new");
            SSL_CTX_set_verify(tls_, SSL_VERIFY_NONE, nullptr);
            SSL_CTX_set_mode(tls_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        }
#else
        if (o.tls) {
            std::fputs("load_client: --tls: built without OpenSSL\n", stderr);
            std::exit(2);
        }
#endif
    }

    int run();

private:
    static void die(const char* what) {
        std::fprintf(stderr, "load_client: %s: %s\n", what, std::strerror(errno));
        std::exit(2);
    }

    friend struct player;

    void start(std::size_t i);
    void start_rtmp(player& p);
    bool tls_handshake(player& p);
    ssize_t receive(player& p, std::byte* buf, std::size_t len);
    ssize_t send_some(player& p, const std::byte* data, std::size_t len);
    void on_event(std::size_t i, std::uint32_t events);
    void on_readable(player& p);
    void on_video(player& p, std::uint32_t raw_ts);
    void flush(player& p);
    void want_output(player& p, bool on);
    void fail(player& p, const char* why);
    std::size_t index(const player& p) const { return static_cast<std::size_t>(&p - players_.data()); }

    options o_;
    std::vector<player> players_;
    std::unique_ptr<std::byte[]> rbuf_;
    int ep_ = -1;
    sockaddr_in addr_{};
    std::string tc_url_;
    bool measuring_ = false;
    std::size_t settled_ = 0;  // players with a first frame, or failed
#if defined(RTMPX_BENCH_TLS)
    SSL_CTX* tls_ = nullptr;
#endif
};

void load_client::fail(player& p, const char* why) {
    if (p.state == phase::failed) return;
    if (!p.have_frame) ++settled_;
    p.state = phase::failed;
    p.error = why;
#if defined(RTMPX_BENCH_TLS)
    if (p.tls) {
        SSL_free(p.tls);
        p.tls = nullptr;
    }
#endif
    if (p.fd >= 0) {
        ::close(p.fd);  // also removes it from the epoll set
        p.fd = -1;
    }
    // The session stays (a callback inside it may be the caller); it sees no more input.
}

void load_client::want_output(player& p, bool on) {
    if (p.epollout == on) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = index(p);
    if (::epoll_ctl(ep_, EPOLL_CTL_MOD, p.fd, &ev) == 0) p.epollout = on;
}

void load_client::start(std::size_t i) {
    player& p = players_[i];
    p.t_connect = steady::now();
    p.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) return fail(p, "socket");
    const int one = 1;
    ::setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;  // EPOLLOUT reports the connect's completion
    ev.data.u64 = i;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, p.fd, &ev) != 0) return fail(p, "epoll_ctl");
    p.epollout = true;
    p.state = phase::connecting;
    if (::connect(p.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0 && errno != EINPROGRESS)
        return fail(p, "connect");
}

void load_client::flush(player& p) {
    if (p.session && p.session->output().has_pending()) {
        auto& q = p.session->output();
        q.begin_write().for_each_buffer([&](std::span<const std::byte> b) { p.out.insert(p.out.end(), b.begin(), b.end()); });
        q.end_write();
    }
    while (p.out_sent < p.out.size()) {
        const ssize_t n = send_some(p, p.out.data() + p.out_sent, p.out.size() - p.out_sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return want_output(p, true);
            return fail(p, "send");
        }
        p.out_sent += static_cast<std::size_t>(n);
    }
    p.out.clear();
    p.out_sent = 0;
    want_output(p, false);
}

void load_client::on_event(std::size_t i, std::uint32_t events) {
    player& p = players_[i];
    if (p.state == phase::failed) return;
    if (p.state == phase::connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return fail(p, "connect refused/failed");
        if (o_.tls) {
#if defined(RTMPX_BENCH_TLS)
            p.tls = SSL_new(tls_);
            if (!p.tls || SSL_set_fd(p.tls, p.fd) != 1) return fail(p, "SSL_new");
            SSL_set_connect_state(p.tls);
#endif
            p.state = phase::tls_handshake;
            if (tls_handshake(p)) start_rtmp(p);
            return;
        }
        start_rtmp(p);
        return;
    }
    if (p.state == phase::tls_handshake) {
        if (tls_handshake(p)) start_rtmp(p);
        return;
    }
    if (events & EPOLLOUT) {
        flush(p);
        if (p.state == phase::failed) return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(p);
}

// TLS: one step of the handshake; true once it is done (the RTMP handshake may start).
bool load_client::tls_handshake([[maybe_unused]] player& p) {
#if defined(RTMPX_BENCH_TLS)
    const int r = SSL_do_handshake(p.tls);
    if (r == 1) return true;
    const int e = SSL_get_error(p.tls, r);
    if (e == SSL_ERROR_WANT_READ) want_output(p, false);
    else if (e == SSL_ERROR_WANT_WRITE) want_output(p, true);
    else fail(p, "TLS handshake");
#endif
    return false;
}

// recv(), or SSL_read() with --tls: -1 and EAGAIN when nothing is there yet.
ssize_t load_client::receive(player& p, std::byte* buf, std::size_t len) {
#if defined(RTMPX_BENCH_TLS)
    if (p.tls) {
        const int r = SSL_read(p.tls, buf, static_cast<int>(std::min<std::size_t>(len, 1 << 30)));
        if (r > 0) return r;
        const int e = SSL_get_error(p.tls, r);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPROTO;
        return -1;
    }
#endif
    return ::recv(p.fd, buf, len, 0);
}

// send(), or SSL_write() with --tls.
ssize_t load_client::send_some(player& p, const std::byte* data, std::size_t len) {
#if defined(RTMPX_BENCH_TLS)
    if (p.tls) {
        const int r = SSL_write(p.tls, data, static_cast<int>(std::min<std::size_t>(len, 1 << 30)));
        if (r > 0) return r;
        const int e = SSL_get_error(p.tls, r);
        errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPIPE;
        return -1;
    }
#endif
    return ::send(p.fd, data, len, MSG_NOSIGNAL);
}

// C0 C1 at once; `connect` waits in the session until the handshake is done. Like FFmpeg as a
// player: no Set Chunk Size, a window of its own once connected.
void load_client::start_rtmp(player& p) {
    rtmpx::protocol::client_options co;
    co.chunks.max_message_size = 16 << 20;
    co.chunk_size = 128;
    co.window_ack_size = 2500000;
    p.session = std::make_unique<rtmpx::protocol::client_session<player>>(p, co, steady::now(), index(p) * 131 + 7);
    p.session->connect(o_.app, tc_url_, steady::now());
    p.state = phase::handshake;
    flush(p);
}

void load_client::on_readable(player& p) {
    // One recv per readiness report: epoll is level-triggered, so a socket with more data is
    // reported again, and the players are served in turn. Carried header bytes go first.
    // With TLS, a record already read from the socket may hold more than one read takes: it is
    // read on here, as the socket will not report it again.
    std::byte* buf = rbuf_.get();
    std::memcpy(buf, p.carry.data(), p.carry_len);
    ssize_t n;
    do {
        n = receive(p, buf + p.carry_len, recv_buffer_bytes - p.carry_len);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return fail(p, "closed by server");
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return fail(p, "recv");
    }
    const auto arrival = steady::now();
    const auto got = static_cast<std::size_t>(n);
    if (measuring_) p.window_bytes += got;

    // The session consumes whole messages; an incomplete chunk header is carried to the next read.
    p.arrival = arrival;
    const std::size_t len = p.carry_len + got;
    const std::size_t used = p.session->put(std::span<const std::byte>(buf, len), arrival);
    if (p.state == phase::failed) return;
    if (p.session->closing()) return fail(p, "malformed stream or timeout");
    p.carry_len = len - used;
    if (p.carry_len > p.carry.size()) return fail(p, "chunk header carry overflow");  // cannot happen: ≤ 18 bytes
    std::memcpy(p.carry.data(), buf + used, p.carry_len);
    if (p.state == phase::handshake && p.session->handshake_done()) p.state = phase::connecting_rtmp;
    flush(p);
#if defined(RTMPX_BENCH_TLS)
    if (p.state != phase::failed && p.tls && SSL_pending(p.tls) > 0) on_readable(p);
#endif
}

// A video tag that is a picture: not a sequence header, end of sequence or info frame.
bool is_picture(std::span<const std::byte> tag) {
    if (tag.size() < 2) return false;
    const auto b0 = static_cast<std::uint8_t>(tag[0]);
    if (b0 & 0x80) {  // Enhanced RTMP: the low nibble is the packet type
        const unsigned packet_type = b0 & 0x0f;
        return packet_type == 1 || packet_type == 3;  // CodedFrames, CodedFramesX
    }
    if ((b0 >> 4) == 5) return false;  // video info / command frame
    const unsigned codec = b0 & 0x0f;
    if (codec == 7 || codec == 12) return tag[1] == std::byte{1};  // AVC/HEVC: 0 = sequence header
    return true;
}

void player::on_connected(const rtmpx::protocol::command&) {
    connected = true;
    session->create_stream();
    state = phase::creating;
}

void player::on_connect_failed(const rtmpx::protocol::command&) { owner->fail(*this, "connect rejected"); }

void player::on_stream_created(double, std::uint32_t id) {
    stream_id = id == 0 ? 1 : id;
    // `play` with start = -2000, what FFmpeg sends by default (its "-rtmp_live any" = -2, times
    // 1000), then Set Buffer Length 3000 ms as FFmpeg does after it.
    t_play_sent = steady::now();
    session->play(stream_id, owner->o_.stream, -2000, -1, 3000);
    state = phase::starting;
}

void player::on_status(std::uint32_t, const rtmpx::amf0::value& info) {
    const std::string_view code = info["code"].as_string();
    if (code == "NetStream.Play.Start" && state == phase::starting) {
        connect_to_play_start = ms(arrival - t_connect);
        state = phase::playing;
    } else if (code == "NetStream.Play.StreamNotFound" || code == "NetStream.Play.Failed" ||
               code == "NetStream.Play.Rejected") {
        owner->fail(*this, "play rejected");
    }
}

void player::on_message(const rtmpx::protocol::message_header& h, rtmpx::protocol::decoded_message& d) {
    if (state == phase::failed) return;
    if (const auto* c = std::get_if<rtmpx::protocol::command>(&d); c && c->name == "_error" && state == phase::creating)
        return owner->fail(*this, "createStream rejected");
    if (const auto* m = std::get_if<rtmpx::protocol::media_message>(&d)) {
        if (m->type == rtmpx::protocol::message_type::video && is_picture(m->payload)) owner->on_video(*this, h.timestamp.value());
    } else if (const auto* a = std::get_if<rtmpx::protocol::aggregate_message>(&d)) {
        for (const auto& part : a->parts)
            if (part.header.type == rtmpx::protocol::message_type::video && is_picture(part.payload))
                owner->on_video(*this, part.header.timestamp.value());
    }
}

void load_client::on_video(player& p, std::uint32_t raw) {
    const auto arrival = p.arrival;
    const auto arrival_us =
        std::chrono::duration_cast<std::chrono::microseconds>(arrival.time_since_epoch()).count();
    if (!p.have_frame) {
        p.have_frame = true;
        p.t_first_frame = arrival;
        p.play_to_first_video = ms(arrival - p.t_play_sent);
        p.first_ts = p.last_ts = raw;
        p.last_raw_ts = raw;
        p.first_offset_us = arrival_us - p.first_ts * 1000;
        ++settled_;
    } else {
        p.last_ts += static_cast<std::int32_t>(raw - p.last_raw_ts);  // unwraps the 32-bit clock
        p.last_raw_ts = raw;
    }
    // arrival − ts, relative to the first frame's; its minimum is the player's baseline.
    const std::int64_t rel = arrival_us - p.last_ts * 1000 - p.first_offset_us;
    p.min_offset_us = std::min(p.min_offset_us, rel);
    if (!measuring_ || arrival - p.t_first_frame < warm_up) return;
    if (++p.sample_skip < p.sample_stride) return;
    p.sample_skip = 0;
    if (p.samples.size() == max_samples) {  // keep every other sample, and sample half as often
        for (std::size_t k = 0; k < max_samples / 2; ++k) p.samples[k] = p.samples[2 * k];
        p.samples.resize(max_samples / 2);
        p.sample_stride *= 2;
    }
    p.samples.push_back(static_cast<std::int32_t>(std::clamp<std::int64_t>(rel, INT32_MIN, INT32_MAX)));
}

// Nearest-rank percentile (p in 0..1) of unsorted values; NaN when there are none.
double percentile(std::vector<double> v, double p) {
    if (v.empty()) return NAN;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    const auto k = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", v);
    return b;
}

std::string p50_p99(const std::vector<double>& v) {
    return "{\"p50\":" + num(percentile(v, 0.5)) + ",\"p99\":" + num(percentile(v, 0.99)) +
           ",\"n\":" + std::to_string(v.size()) + "}";
}

double cpu_seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

int load_client::run() {
    const std::size_t n = players_.size();
    const double ramp_ms = o_.ramp_ms >= 0 ? o_.ramp_ms : std::min(2.0 * static_cast<double>(n), 5000.0);
    const auto t0 = steady::now();
    auto start_time = [&](std::size_t i) {
        return t0 + std::chrono::microseconds(static_cast<std::int64_t>(ramp_ms * 1000.0 * static_cast<double>(i) /
                                                                        static_cast<double>(n)));
    };
    const auto window = std::chrono::microseconds(static_cast<std::int64_t>(o_.seconds * 1e6));
    std::size_t next = 0;
    steady::time_point t_ready, t_done;
    rusage ru_ready{}, ru_done{};
    std::vector<epoll_event> events(1024);

    for (;;) {
        auto now = steady::now();
        while (next < n && start_time(next) <= now) start(next++);
        if (!measuring_ && next == n && (settled_ == n || now >= start_time(n - 1) + ready_timeout)) {
            // The window opens: every player is playing (or failed, or took too long).
            measuring_ = true;
            t_ready = now;
            ::getrusage(RUSAGE_SELF, &ru_ready);
            std::fputs("READY\n", stderr);
            std::fflush(stderr);
        }
        if (measuring_ && now >= t_ready + window) break;
        auto wake = now + milliseconds(50);
        if (next < n) wake = std::min(wake, start_time(next));
        if (measuring_) wake = std::min(wake, t_ready + window);
        const auto timeout = std::chrono::duration_cast<milliseconds>(wake - now).count();
        const int got = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                                     static_cast<int>(std::max<std::int64_t>(0, timeout)));
        if (got < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < got; ++k) on_event(static_cast<std::size_t>(events[k].data.u64), events[k].events);
    }
    t_done = steady::now();
    ::getrusage(RUSAGE_SELF, &ru_done);
    std::fputs("DONE\n", stderr);
    std::fflush(stderr);

    // ---- results ----
    std::size_t connected = 0, playing = 0, realtime = 0, errors = 0;
    std::uint64_t bytes = 0;
    std::vector<double> c2ps, p2fv, lat, lag;
    std::vector<std::pair<std::string, std::size_t>> reasons;
    auto count_reason = [&](const char* why) {
        for (auto& r : reasons)
            if (r.first == why) return void(++r.second);
        reasons.emplace_back(why, 1);
    };
    for (const player& p : players_) {
        bytes += p.window_bytes;
        connected += p.connected;
        if (p.connect_to_play_start >= 0) c2ps.push_back(p.connect_to_play_start);
        if (p.have_frame) p2fv.push_back(p.play_to_first_video);
        for (const std::int32_t s : p.samples) lat.push_back(static_cast<double>(s - p.min_offset_us) / 1000.0);
        const bool alive = p.state != phase::failed;
        if (!alive) {
            ++errors;
            count_reason(p.error);
            continue;
        }
        if (!p.have_frame) {
            ++errors;
            count_reason("no video frame by the end");
            continue;
        }
        ++playing;
        // Lag: wall time since the first frame minus the media time received since it.
        const double l = ms(t_done - p.t_first_frame) - static_cast<double>(p.last_ts - p.first_ts);
        lag.push_back(l);
        if (l <= realtime_max_lag_ms) ++realtime;
    }
    for (const auto& r : reasons) std::fprintf(stderr, "load_client: %zu player(s): %s\n", r.second, r.first.c_str());

    const double secs = duration<double>(t_done - t_ready).count();
    const double user = cpu_seconds(ru_done.ru_utime) - cpu_seconds(ru_ready.ru_utime);
    const double sys = cpu_seconds(ru_done.ru_stime) - cpu_seconds(ru_ready.ru_stime);
    double max_lag = NAN;
    if (!lag.empty()) max_lag = *std::max_element(lag.begin(), lag.end());
    std::string json = "{\"players\":" + std::to_string(n) + ",\"connected\":" + std::to_string(connected) +
                       ",\"playing\":" + std::to_string(playing) + ",\"realtime\":" + std::to_string(realtime) +
                       ",\"bytes\":" + std::to_string(bytes) + ",\"seconds\":" + num(secs) +
                       ",\"connect_to_play_start_ms\":" + p50_p99(c2ps) + ",\"play_to_first_video_ms\":" + p50_p99(p2fv) +
                       ",\"latency_ms\":" + p50_p99(lat) +
                       ",\"latency_baseline\":\"per player: arrival - ts above its smallest arrival - ts\"" +
                       ",\"lag_ms\":{\"p50\":" + num(percentile(lag, 0.5)) + ",\"max\":" + num(max_lag) + "}" +
                       ",\"errors\":" + std::to_string(errors) + ",\"ramp_ms\":" + num(ramp_ms) +
                       ",\"ready_after_s\":" + num(duration<double>(t_ready - t0).count()) +
                       ",\"client_cpu_s\":{\"user\":" + num(user) + ",\"system\":" + num(sys) + "}}";
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);
    for (player& p : players_)
        if (p.fd >= 0) ::close(p.fd);
    return 0;
}

[[noreturn]] void usage() {
    std::fputs("usage: load_client --host 127.0.0.1 --port P --app live --stream clip --players N --seconds S "
               "[--ramp-ms R] [--tls 1]\n",
               stderr);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) usage();
        const char* v = argv[++i];
        if (a == "--host") o.host = v;
        else if (a == "--port") o.port = std::atoi(v);
        else if (a == "--app") o.app = v;
        else if (a == "--stream") o.stream = v;
        else if (a == "--players") o.players = static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
        else if (a == "--seconds") o.seconds = std::atof(v);
        else if (a == "--ramp-ms") o.ramp_ms = std::atof(v);
        else if (a == "--tls") o.tls = std::atoi(v) != 0;
        else usage();
    }
    if (o.players == 0 || o.port <= 0 || o.seconds <= 0) usage();

    // One descriptor per player: raise the soft limit to the hard one.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o.players + 16)
        std::fprintf(stderr, "load_client: warning: RLIMIT_NOFILE %llu is below the player count\n",
                     static_cast<unsigned long long>(rl.rlim_cur));
    return load_client(o).run();
}
