// SPDX-License-Identifier: MIT
// The server the real-client tests run against. Prints "rtmp://HOST:PORT" on its first line, then
// serves until SIGINT/SIGTERM.
// Usage: interop_server [HOST:PORT] [--errors-as-result] [--threads N] [--record-dir DIR]
//                       [--push NAME=URL]... [--pull URL [--pulls N] [--record-pull FILE]]
//                       [--drain-to TCURL] [--verbose]
//                       [--tls CERT KEY] [--ca FILE] [--insecure]   (built with OpenSSL)
//   --tls CERT KEY:    also RTMPS on 127.0.0.1 (port 0), printed as "rtmps://HOST:PORT" on the
//                      second line; --ca, --insecure: how pushes and pulls to rtmps:// check
//   --verbose:         every log line (info and up) to stderr, not only warnings
//   app "live":        320x240 H.264 at 30/s (stream names "solid-*" show a solid colour set by
//                      setColor), and the calls echo, add, fail, throw, setColor, stats, askBack,
//                      setStreamProperty, whoami
//   app "other":       a second connect handler; answers whoami with "other"
//   app "withdefault": a default call handler answering every call with "default:NAME"
//   app "broadcast":   one 320x240 H.264 picture rendered and encoded once for all its players
//   app "tone":        (with libavcodec) the same picture and a 440 Hz tone, rendered as 48 kHz
//                      stereo 16-bit PCM in an audio handler, encoded as AAC: left channel
//                      full scale / 4, right channel silent; stream name "opus": in Opus;
//                      "both": Opus to the players that declared it, AAC to the others
//                      (a broadcast with its GOP cache); any stream name
//   apps "relay", "takeover": publish and play by name (rtmpx::relay; "takeover": a second
//                      publisher replaces the first)
//   app "record":      each publish is recorded to RECORD_DIR/NAME.flv (--record-dir, default .)
//   app "edge":        what --pull URL plays from another server (any stream name);
//                      --record-pull FILE records it (rtmpx::recorder) as well; --pulls N
//                      pulls it N times, each into a broadcast of its own ("pull#2", ...)
//   SIGUSR1:           drains the server (5 s deadline), asking clients to reconnect to
//                      --drain-to TCURL (or to it again); prints "drained" when every
//                      connection has ended
//   --push NAME=URL:   the relay's NAME (app "relay") is published to URL as well
// Publishers' and pullers' state changes go to stderr ("push URL: STATE ...").
//   app "screen":      a still 100x70 picture (r = x*7+y*3, g = x^y, b = x*y, all mod 256) in the
//                      lossless Flash Screen Video codec
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include <rtmpx/rtmpx.hpp>
#if defined(RTMPX_TEST_TLS)
#include <rtmpx/tls.hpp>
#endif

#include "../../examples/demo_scene.hpp"

namespace {

using rtmpx::amf0::value;

// Colours of the "solid-*" streams, set by the setColor call, shared by all connections.
struct palette {
    std::mutex mutex;
    std::map<std::string, std::array<std::uint8_t, 3>> colours;

    std::array<std::uint8_t, 3> get(const std::string& name) {
        std::lock_guard lock(mutex);
        auto it = colours.find(name);
        return it == colours.end() ? std::array<std::uint8_t, 3>{128, 128, 128} : it->second;
    }
    void set(const std::string& name, std::array<std::uint8_t, 3> c) {
        std::lock_guard lock(mutex);
        colours[name] = c;
    }
};

void add_live_calls(rtmpx::connection& conn, const std::shared_ptr<palette>& colours) {
    // One argument comes back as it is (python-librtmp cannot decode strict arrays), several as
    // a strict array.
    conn.on_call("echo", [](rtmpx::connection&, const rtmpx::call_event& call, value& out) {
        out = call.arguments.size() == 1 ? call.arguments[0] : value::strict_array(call.arguments);
        return true;
    });
    conn.on_call("add", [](rtmpx::connection&, const rtmpx::call_event& call, value& out) {
        double sum = 0;
        for (const auto& a : call.arguments) sum += a.as_number();
        out = sum;
        return true;
    });
    conn.on_call("fail", [](rtmpx::connection&, const rtmpx::call_event&, value& out) {
        out = rtmpx::status_info("error", "App.Fail", "failed on purpose");
        return false;
    });
    conn.on_call("throw", [](rtmpx::connection&, const rtmpx::call_event&, value&) -> bool {
        throw std::runtime_error("thrown on purpose");
    });
    conn.on_call("whoami", [](rtmpx::connection&, const rtmpx::call_event&, value& out) {
        out = "live";
        return true;
    });
    conn.on_call("setColor", [colours](rtmpx::connection&, const rtmpx::call_event& call, value& out) {
        if (call.arguments.size() != 4 || !call.arguments[0].is_string()) return false;
        auto c = [&](std::size_t i) {
            return static_cast<std::uint8_t>(std::clamp(call.arguments[i].as_number(), 0.0, 255.0));
        };
        colours->set(std::string(call.arguments[0].as_string()), {c(1), c(2), c(3)});
        out = "ok";
        return true;
    });
    conn.on_call("stats", [](rtmpx::connection& c, const rtmpx::call_event&, value& out) {
        const auto st = c.statistics();
        out = value::object({{"bytes_in", st.bytes_in},
                             {"bytes_out", st.bytes_out},
                             {"messages_in", st.messages_in},
                             {"messages_out", st.messages_out},
                             {"frames_sent", st.frames_sent}});
        return true;
    });
    // A coroutine handler that calls the client back and answers with what the client said.
    conn.on_call("askBack", [](rtmpx::connection& c, const rtmpx::call_event&, value& out) -> asio::awaitable<bool> {
        const rtmpx::call_result r = co_await c.call("clientName");
        if (r.error || !r.ok || r.values.empty()) {
            out = rtmpx::status_info("error", "App.NoAnswer", r.error ? r.error.message() : "the client refused");
            co_return false;
        }
        out = r.values[0];
        co_return true;
    });
    conn.on_call("setStreamProperty", [](rtmpx::connection& c, const rtmpx::call_event& call, value& out) {
        if (call.arguments.size() != 3) return false;
        auto* s = c.find_stream(static_cast<std::uint32_t>(call.arguments[0].as_number()));
        if (!s) return false;
        const std::error_code ec =
            s->set_property(call.arguments[1].as_string(), call.arguments[2].as_string());
        if (ec) {
            out = rtmpx::status_info("error", "App.PropertyRefused", ec.message());
            return false;
        }
        out = *s->property(call.arguments[1].as_string());
        return true;
    });
}

void add_live_streams(rtmpx::connection& conn, const std::shared_ptr<palette>& colours) {
    conn.on_stream([colours](rtmpx::stream& s, const rtmpx::stream_event& se) {
        if (!se.is_create) return true;
        if (!s.use_codec("h264")) return false;
        auto scene = std::make_shared<demo::scene>(320, 240);
        s.on_render([scene](rtmpx::stream& st) {
            if (st.name().rfind("solid-", 0) != 0) scene->render();
            return true;
        });
        s.on_frame([scene, colours](rtmpx::stream& st, rtmpx::encoded_frame& out, bool) {
            if (st.name().rfind("solid-", 0) == 0) {
                rtmpx::canvas solid(320, 240);
                const auto c = colours->get(st.name());
                solid.fill(c[0], c[1], c[2]);
                return !st.codec()->encode(solid.view(), out);
            }
            return !st.codec()->encode(scene->latest().view(), out);
        });
        return true;
    });
}

// The ingest apps: "relay" and "takeover" (a second publisher replaces the first) publish and
// play by name; "record" records each publish to RECORD_DIR/NAME.flv. Each connection's figures
// are printed when it closes.
void install_ingest(rtmpx::server& server, const rtmpx::relay& relay, const std::string& record_dir) {
    rtmpx::relay_options takeover;
    takeover.takeover = true;
    for (const auto& entry : {std::pair{std::string("relay"), relay}, std::pair{std::string("takeover"), rtmpx::relay(takeover)}}) {
        server.install([app = entry.first, relay = entry.second](rtmpx::connection& conn, const rtmpx::connect_event& e) {
            if (e.command.app != app) return false;
            if (!e.is_create) {
                const auto st = conn.statistics();
                fmt::print(stderr, "closed {} {} {}: frames_sent={} frames_dropped={} media_in={} media_dropped={} reason={}\n",
                           app, conn.id(), conn.peer_address(), st.frames_sent, st.frames_dropped, st.media_in,
                           st.media_dropped, e.reason ? e.reason.message() : "none");
                return true;
            }
            conn.on_stream([relay](rtmpx::stream& s, const rtmpx::stream_event& se) {
                if (se.is_create) relay.attach(s);
                return true;
            });
            return true;
        });
    }
    server.install([record_dir](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "record") return false;
        conn.on_stream([record_dir](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            auto file = std::make_shared<rtmpx::flv_file>();
            s.on_publish([file, record_dir](rtmpx::stream&, rtmpx::publish_event& pe) {
                std::error_code ec;
                if (!pe.is_start) {
                    file->close(ec);
                    fmt::print(stderr, "recorded {}: {} ms {}\n", pe.stream_name, file->duration_ms(), ec ? ec.message() : "ok");
                    return true;
                }
                file->open(record_dir + "/" + std::string(pe.stream_name) + ".flv", ec);
                return !ec;
            });
            s.on_media([file](rtmpx::stream& st, const rtmpx::media_event& me) {
                std::error_code ec;
                file->write(me, ec);
                if (ec) st.connection().close(ec);
            });
            return true;
        });
        return true;
    });
}

// Each change of a publisher's or puller's state, and its figures, on a stderr line the tests read.
template <class Remote>  // rtmpx::publisher or rtmpx::puller
void print_states(Remote& remote, std::string what) {
    remote.on_state([&remote, what](const rtmpx::remote_event& e) {
        static constexpr const char* names[] = {"connecting", "started", "retrying", "failed", "stopped"};
        const auto st = remote.statistics();
        fmt::print(stderr, "{} {}: {} error={} refusal={} retry_in={} reconnects={} frames_sent={} frames_dropped={}\n", what,
                   remote.url(), names[static_cast<int>(e.state)], e.error ? e.error.message() : "none",
                   e.refusal.empty() ? "none" : e.refusal, e.retry_in.count(), e.reconnects, st.frames_sent, st.frames_dropped);
    });
}

} // namespace

int main(int argc, char** argv) {
    std::string address = "127.0.0.1:0";
    std::string record_dir = ".";
    std::string pull_record;  // --record-pull: where the pulled stream is recorded
    std::size_t pull_count = 1;  // --pulls
    std::string drain_to;     // --drain-to: where a drain sends the clients
    std::vector<std::string> pushes;  // NAME=URL: the relay's name pushed to URL
    std::string pull_url;              // played into app "edge"
    std::string tls_cert, tls_key;     // --tls: the RTMPS listener's certificate and key
    rtmpx::remote_options remote;      // pushes and pulls (--ca, --insecure)
    bool verbose = false;
    rtmpx::server_options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--errors-as-result") {
            options.call_errors_as_result = true;
        } else if (arg == "--threads" && i + 1 < argc) {
            options.threads = static_cast<std::size_t>(std::stoul(argv[++i]));
        } else if (arg == "--record-dir" && i + 1 < argc) {
            record_dir = argv[++i];
        } else if (arg == "--push" && i + 1 < argc) {
            pushes.emplace_back(argv[++i]);
        } else if (arg == "--pull" && i + 1 < argc) {
            pull_url = argv[++i];
        } else if (arg == "--pulls" && i + 1 < argc) {
            pull_count = std::stoul(argv[++i]);
        } else if (arg == "--drain-to" && i + 1 < argc) {
            drain_to = argv[++i];
        } else if (arg == "--record-pull" && i + 1 < argc) {
            pull_record = argv[++i];
        } else if (arg == "--tls" && i + 2 < argc) {
            tls_cert = argv[++i];
            tls_key = argv[++i];
        } else if (arg == "--ca" && i + 1 < argc) {
            remote.tls.ca_file = argv[++i];
        } else if (arg == "--insecure") {
            remote.tls.insecure_skip_verification = true;
        } else if (arg == "--verbose") {
            verbose = true;
        } else {
            address = std::string(arg);
        }
    }
    rtmpx::server server(options);
    server.set_logger([verbose](const rtmpx::log_record& r) {
        if (verbose || r.level >= rtmpx::log_level::warning)
            fmt::print(stderr, "[{}] {}: {}\n", r.connection_id, r.category, r.message);
    });
    auto colours = std::make_shared<palette>();
    server.install([colours](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) {  // the tests read this line (frames sent and dropped per connection)
            const auto st = conn.statistics();
            fmt::print(stderr, "closed {} {}: frames_sent={} frames_dropped={} bytes_out={}\n", conn.id(),
                       conn.peer_address(), st.frames_sent, st.frames_dropped, st.bytes_out);
            return true;
        }
        if (e.command.app != "live") return false;
        add_live_calls(conn, colours);
        add_live_streams(conn, colours);
        return true;
    });
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "other") return false;
        conn.on_call("whoami", [](rtmpx::connection&, const rtmpx::call_event&, value& out) {
            out = "other";
            return true;
        });
        return true;
    });
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "withdefault") return false;
        conn.on_call([](rtmpx::connection&, const rtmpx::call_event& call, value& out) {
            out = fmt::format("default:{}", call.procedure);
            return true;
        });
        return true;
    });
    server.install([](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "screen") return false;
        conn.on_stream([](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (!se.is_create) return true;
            if (!s.use_codec("screen video")) return false;
            auto picture = std::make_shared<rtmpx::canvas>(100, 70);
            for (std::uint32_t y = 0; y < 70; ++y)
                for (std::uint32_t x = 0; x < 100; ++x)
                    picture->set_pixel(x, y, static_cast<std::uint8_t>(x * 7 + y * 3), static_cast<std::uint8_t>(x ^ y),
                                       static_cast<std::uint8_t>(x * y));
            s.on_frame([picture](rtmpx::stream& st, rtmpx::encoded_frame& out, bool) {
                return !st.codec()->encode(picture->view(), out);
            });
            return true;
        });
        return true;
    });
    rtmpx::relay relay;
    install_ingest(server, relay, record_dir);
    std::vector<std::unique_ptr<rtmpx::publisher>> publishers;
    for (const auto& push : pushes) {
        const auto eq = push.find('=');
        if (eq == std::string::npos) return 2;
        auto pinned = relay.pin("relay", push.substr(0, eq));
        publishers.push_back(std::make_unique<rtmpx::publisher>(pinned, push.substr(eq + 1), remote));
        print_states(*publishers.back(), "push");
    }
    auto edge = std::make_shared<rtmpx::broadcast>();
    std::vector<std::unique_ptr<rtmpx::puller>> pullers;
    for (std::size_t i = 0; !pull_url.empty() && i < pull_count; ++i) {
        pullers.push_back(std::make_unique<rtmpx::puller>(pull_url, i == 0 ? edge : std::make_shared<rtmpx::broadcast>(), remote));
        print_states(*pullers.back(), i == 0 ? std::string("pull") : fmt::format("pull#{}", i + 1));
    }
    server.install([edge](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (!e.is_create) return true;
        if (e.command.app != "edge") return false;
        conn.on_stream([edge](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(edge);
            return true;
        });
        return true;
    });
    auto show = std::make_shared<rtmpx::broadcast>();
    auto scene = std::make_shared<demo::scene>(320, 240);
    if (!show->use_codec("h264", server.codecs())) return 1;
    show->on_render([scene](rtmpx::broadcast&) {
        scene->render();
        return true;
    });
    show->on_frame([scene](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) {
        return !b.codec()->encode(scene->latest().view(), out);
    });
    server.install([show](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (e.command.app != "broadcast") return false;
        if (!e.is_create) {  // the drain test reads this line: each connection's end, once
            fmt::print(stderr, "closed broadcast {}: reason={}\n", conn.id(), e.reason ? e.reason.message() : "none");
            return true;
        }
        conn.on_stream([show](rtmpx::stream& s, const rtmpx::stream_event& se) {
            if (se.is_create) s.use_broadcast(show);
            return true;
        });
        return true;
    });
    show->start();
#if defined(RTMPX_WITH_LIBAVCODEC)
    std::map<std::string, std::shared_ptr<rtmpx::broadcast>> tones;  // by audio codec
    // By stream name: "opus" in Opus, "both" in Opus for the players that declared it and AAC
    // for the rest, any other name in AAC.
    const std::map<std::string, std::vector<std::string>> tone_codecs = {
        {"aac", {"aac"}}, {"opus", {"opus"}}, {"both", {"opus", "aac"}}};
    for (const auto& [name, audio] : tone_codecs) {
        auto tone = std::make_shared<rtmpx::broadcast>();
        if (!tone->use_codec("h264", server.codecs()) || !tone->use_audio_codecs(audio, 48000, 2, server.codecs())) return 1;
        tone->on_render([scene](rtmpx::broadcast&) {
            scene->render();
            return true;
        });
        tone->on_frame([scene](rtmpx::broadcast& b, rtmpx::encoded_frame& out, bool) {
            return !b.codec()->encode(scene->latest().view(), out);
        });
        tone->on_audio([phase = std::uint64_t{0}](rtmpx::broadcast&, rtmpx::audio_buffer& pcm) mutable {
            for (std::size_t i = 0; i < pcm.frames(); ++i, ++phase)
                pcm.samples[i * pcm.channels] =
                    static_cast<std::int16_t>(8192 * std::sin(2 * 3.14159265358979 * 440 * double(phase) / pcm.sample_rate));
            return true;
        });
        tone->start();
        tones[name] = std::move(tone);
    }
    server.install([tones](rtmpx::connection& conn, const rtmpx::connect_event& e) {
        if (e.command.app != "tone") return false;
        if (e.is_create)
            conn.on_stream([tones](rtmpx::stream& s, const rtmpx::stream_event& se) {
                if (se.is_create)
                    s.on_play([tones](rtmpx::stream& st, rtmpx::play_event& p) {
                        if (p.is_start) st.use_broadcast(tones.count(std::string(p.stream_name)) ? tones.at(std::string(p.stream_name)) : tones.at("aac"));
                        return true;
                    });
                return true;
            });
        return true;
    });
#endif
    std::error_code ec;
    server.start(address, ec);
    if (ec) {
        fmt::print(stderr, "cannot listen on {}: {}\n", address, ec.message());
        return 1;
    }
    fmt::print("rtmp://{}\n", server.listen_address());
    if (!tls_cert.empty()) {
#if defined(RTMPX_TEST_TLS)
        auto certificate = rtmpx::tls_certificate::load(tls_cert, tls_key, ec);
        if (!ec) server.start("127.0.0.1:0", rtmpx::tls_listener(certificate), ec);
        if (ec) {
            fmt::print(stderr, "cannot listen with TLS: {}\n", ec.message());
            return 1;
        }
        fmt::print("rtmps://{}\n", server.listen_address(1));
#else
        fmt::print(stderr, "--tls: this build has no TLS\n");
        return 1;
#endif
    }
    std::fflush(stdout);
    for (auto& p : publishers) {
        p->start(ec);
        if (ec) fmt::print(stderr, "push {}: cannot start: {}\n", p->url(), ec.message());
    }
    std::unique_ptr<rtmpx::recorder> pulled;
    if (!pullers.empty() && !pull_record.empty()) {
        pulled = std::make_unique<rtmpx::recorder>(edge);
        pulled->start(pull_record, ec);
        if (ec) fmt::print(stderr, "record {}: {}\n", pull_record, ec.message());
    }
    for (auto& p : pullers) {
        p->start(ec);
        if (ec) fmt::print(stderr, "pull {}: cannot start: {}\n", p->url(), ec.message());
    }
    asio::io_context signals_context;
    asio::signal_set signals(signals_context, SIGINT, SIGTERM, SIGUSR1);
    std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& e, int signal) {
        if (e || signal != SIGUSR1) return;
        server.drain(std::chrono::seconds(5), drain_to);
        fmt::print(stderr, "drained\n");
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    signals_context.run();
    for (auto& p : publishers) p->stop();
    for (std::size_t i = 0; i < pullers.size(); ++i) {
        pullers[i]->stop();
        fmt::print(stderr, "pull#{} frames_sent={}\n", i + 1, pullers[i]->statistics().frames_sent);
    }
    if (pulled) {
        pulled->stop();
        fmt::print(stderr, "recorded pull: {} frames, {} dropped\n", pulled->frames_written(), pulled->frames_dropped());
    }
    server.stop(std::chrono::seconds(1));
    show->stop();
#if defined(RTMPX_WITH_LIBAVCODEC)
    for (auto& [name, tone] : tones) tone->stop();
#endif
    fmt::print(stderr, "broadcast frames={}\n", show->frames());
    return 0;
}
