#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real players against a real rtmpx server on 127.0.0.1.

Usage: players_test.py SERVER_BINARY

Starts SERVER_BINARY (it prints "rtmp://HOST:PORT" on its first line), then runs ffprobe,
ffmpeg and rtmpdump against it. Prints one line per test and "N passed, N failed, N skipped".
Exit status: 0 all passed, 1 a failure, 77 when ffmpeg/ffprobe are not installed at all.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main as run_tests, on_server, run, TIMEOUT  # noqa: E402


def count_frames(url, seconds=5):
    """Decodes `seconds` of video with -xerror; returns (frames, returncode, stderr)."""
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", url, "-t", str(seconds), "-f", "framecrc", "-"])
    frames = [l for l in r.stdout.decode(errors="replace").splitlines() if l and not l.startswith("#")]
    return len(frames), r.returncode, r.stderr.decode(errors="replace")


def first_video_packets(path_or_url, count=5):
    r = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_packets", "-read_intervals", "%%+#%d" % count,
             "-of", "json", path_or_url])
    if r.returncode != 0:
        raise AssertionError("ffprobe failed: %s" % r.stderr.decode(errors="replace"))
    return json.loads(r.stdout)["packets"]


# ---------------------------------------------------------------------------------------------

def test_ffprobe_sees_one_h264_stream(srv, tmp):
    r = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", srv.url()])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    streams = json.loads(r.stdout)["streams"]
    assert len(streams) == 1, "expected one stream, got %d: %s" % (len(streams), [s["codec_name"] for s in streams])
    s = streams[0]
    assert s["codec_type"] == "video" and s["codec_name"] == "h264", s
    assert (s["width"], s["height"]) == (320, 240), (s["width"], s["height"])


def test_ffmpeg_decodes_five_seconds_without_errors(srv, tmp):
    frames, rc, err = count_frames(srv.url(), 5)
    assert rc == 0, "ffmpeg exited %d: %s" % (rc, err)
    assert err.strip() == "", "ffmpeg reported: %s" % err
    assert frames >= 140, "decoded only %d frames in 5 s at 30/s" % frames


def test_rtmpdump_records_h264_with_increasing_timestamps(srv, tmp):
    if not shutil.which("rtmpdump"):
        return "skip: rtmpdump not installed"
    out = os.path.join(tmp, "dump.flv")
    # rtmpdump's --stop does not end a live recording; it stops cleanly on SIGINT.
    dump = subprocess.Popen(["rtmpdump", "--live", "-q", "-r", srv.url(name="dump"), "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    time.sleep(3.2)
    dump.send_signal(signal.SIGINT)
    try:
        _, err = dump.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        dump.kill()
        _, err = dump.communicate()
    assert os.path.exists(out) and os.path.getsize(out) > 1000, "rtmpdump wrote nothing (exit %d): %s" % (
        dump.returncode, err.decode(errors="replace"))
    p = run(["ffprobe", "-v", "error", "-show_streams", "-show_packets", "-select_streams", "v", "-of", "json", out])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    data = json.loads(p.stdout)
    assert data["streams"][0]["codec_name"] == "h264", data["streams"][0]
    pts = [int(pk["pts"]) for pk in data["packets"] if "pts" in pk]
    assert len(pts) >= 60, "only %d packets in 3 s" % len(pts)
    assert all(b > a for a, b in zip(pts, pts[1:])), "timestamps not increasing: %s" % pts[:20]
    assert "K" in data["packets"][0]["flags"], "the recording does not start on a key frame"


def test_rtmpdump_stop_ends_the_play_after_its_duration(srv, tmp):
    # rtmpdump --stop N sends play(name, start, N*1000 ms); the server stops the live stream then.
    if not shutil.which("rtmpdump"):
        return "skip: rtmpdump not installed"
    out = os.path.join(tmp, "stop.flv")
    start = time.monotonic()
    r = run(["rtmpdump", "--live", "--stop", "2", "-z", "-r", srv.url(name="stop"), "-o", out], timeout=30)
    elapsed = time.monotonic() - start
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, "rtmpdump exited %d: %s" % (r.returncode, err[-2000:])
    assert "onStatus: NetStream.Play.Stop" in err, "no NetStream.Play.Stop from the server"
    assert elapsed < 8, "the play lasted %.1f s" % elapsed
    p = run(["ffprobe", "-v", "error", "-show_packets", "-select_streams", "v", "-of", "json", out])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    pts = [int(pk["pts"]) for pk in json.loads(p.stdout)["packets"] if "pts" in pk]
    assert pts and 1500 <= pts[-1] - pts[0] <= 2100, "recorded %s ms of video" % (pts[-1] - pts[0] if pts else 0)


def test_two_players_on_two_streams_at_once(srv, tmp):
    results = {}

    def play(name):
        results[name] = count_frames(srv.url(name=name), 5)

    threads = [threading.Thread(target=play, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, (frames, rc, err) in results.items():
        assert rc == 0 and err.strip() == "", "%s: exit %d: %s" % (name, rc, err)
        assert frames >= 140, "%s decoded only %d frames" % (name, frames)


def test_late_joiner_starts_on_a_key_frame(srv, tmp):
    early = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i", srv.url(name="early"), "-t", "6", "-f", "null",
                              "-"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        time.sleep(2.5)
        packets = first_video_packets(srv.url(name="late"), 3)
        assert packets, "no packets for the late player"
        assert "K" in packets[0]["flags"], "first packet flags %s" % packets[0]["flags"]
    finally:
        early.wait(timeout=TIMEOUT)
    assert early.returncode == 0, early.stderr.read().decode(errors="replace")


def test_refused_connection_gets_an_error_and_the_server_goes_on(srv, tmp):
    r = run(["ffprobe", "-v", "error", srv.url(app="nope")], timeout=20)
    assert r.returncode != 0, "a connect to an unclaimed app succeeded"
    assert srv.alive(), "the server died"
    frames, rc, err = count_frames(srv.url(), 2)
    assert rc == 0 and frames >= 50, "after a refusal: exit %d, %d frames, %s" % (rc, frames, err)


def test_screen_video_decodes_to_exactly_the_rendered_pixels(srv, tmp):
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", srv.url(app="screen"), "-frames:v", "5", "-f",
             "rawvideo", "-pix_fmt", "rgb24", "-"])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    expected = bytearray()
    for y in range(70):
        for x in range(100):
            expected += bytes(((x * 7 + y * 3) & 255, (x ^ y) & 255, (x * y) & 255))
    frames = [r.stdout[i:i + len(expected)] for i in range(0, len(r.stdout), len(expected))]
    assert len(frames) == 5, "decoded %d bytes" % len(r.stdout)
    for n, f in enumerate(frames):
        if f != expected:
            first = next(i for i in range(len(f)) if f[i] != expected[i])
            raise AssertionError("frame %d differs first at byte %d (pixel %d)" % (n, first, first // 3))


TESTS = [
    test_ffprobe_sees_one_h264_stream,
    test_ffmpeg_decodes_five_seconds_without_errors,
    test_rtmpdump_records_h264_with_increasing_timestamps,
    test_rtmpdump_stop_ends_the_play_after_its_duration,
    test_two_players_on_two_streams_at_once,
    test_late_joiner_starts_on_a_key_frame,
    test_refused_connection_gets_an_error_and_the_server_goes_on,
    test_screen_video_decodes_to_exactly_the_rendered_pixels,
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    return run_tests(on_server("main", TESTS), lambda: {"main": Server(sys.argv[1])},
                     ["ffmpeg", "ffprobe"])


if __name__ == "__main__":
    sys.exit(main())
