#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke test of the example programs against real players.

Usage: examples_test.py EXAMPLES_BUILD_DIR

For each example binary present in EXAMPLES_BUILD_DIR: starts it on 127.0.0.1:0, reads the URL
to play from its first stdout line, checks with ffprobe that it streams one video stream (h264,
or flashsv for screen_video), runs the example's own checks (remote calls through python-librtmp,
the two applications and the refused third, ffmpeg publishing into the relay and the recorder,
...), then sends SIGINT and expects exit status 0
within 5 s. Prints one line per example and "N passed, N failed, N skipped".
Exit status: 0 all passed, 1 a failure, 77 when ffprobe is not installed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main as run_tests, run  # noqa: E402

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")


def probe(url, codec):
    """ffprobe sees exactly one video stream of `codec`; returns it."""
    r = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", url])
    assert r.returncode == 0, "ffprobe %s: %s" % (url, r.stderr.decode(errors="replace"))
    streams = json.loads(r.stdout)["streams"]
    assert len(streams) == 1, "%s: expected one stream, got %s" % (url, [s.get("codec_name") for s in streams])
    assert streams[0]["codec_type"] == "video" and streams[0]["codec_name"] == codec, streams[0]
    return streams[0]


def last_picture(url, stream, frames=5):
    """The last of the first `frames` decoded pictures, as rgb24 bytes (None without ffmpeg)."""
    if not shutil.which("ffmpeg"):
        return None
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt",
             "rgb24", "-"])
    assert r.returncode == 0, "ffmpeg %s: %s" % (url, r.stderr.decode(errors="replace"))
    size = stream["width"] * stream["height"] * 3
    assert len(r.stdout) >= size, "ffmpeg decoded %d bytes" % len(r.stdout)
    return r.stdout[-size:]


def count_pixels(px, wanted):
    return sum(1 for i in range(0, len(px), 3) if wanted(px[i], px[i + 1], px[i + 2]))


def red(r, g, b):
    return r > 200 and g < 60 and b < 60  # the demo background always has blue >= 96


def blue(r, g, b):
    return r < 60 and g < 60 and b > 200  # ... and blue < 160


def calls(url, *pairs):
    r = subprocess.run([PYTHON, CLIENT, "call", url, json.dumps([list(p) for p in pairs])], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=40, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "rpc_client failed (%d): %s" % (r.returncode, r.stderr.decode(errors="replace"))
    return json.loads(r.stdout)


# ---- each example's own checks: (example, url, its stdout lines) ------------------------------

def check_remote_call(ex, url, out):
    answers = calls("%s/%s" % (ex["base"], ex["app"]), ("setColor", [255, 0, 0]), ("setSpeed", [2]))
    assert answers == ["ok", "ok"], answers
    px = last_picture(url, ex["stream"])
    if px is not None:
        assert count_pixels(px, red) > 2000, "no red square after setColor(255, 0, 0)"


def check_multiple_apps(ex, url, out):
    blue_url = "%s/blue/demo" % ex["base"]
    blue_stream = probe(blue_url, "h264")
    r = run(["ffprobe", "-v", "error", "%s/green/demo" % ex["base"]], timeout=20)
    assert r.returncode != 0, "a third application was not refused"
    for app_url, stream, colour in ((url, ex["stream"], red), (blue_url, blue_stream, blue)):
        px = last_picture(app_url, stream)
        if px is not None:
            assert count_pixels(px, colour) > 2000, "%s does not show its own %s square" % (app_url, colour.__name__)


def check_screen_video(ex, url, out):
    px = last_picture(url, ex["stream"], 3)
    if px is not None:  # lossless: the flat background and the bar come back exactly
        assert tuple(px[:3]) == (24, 32, 48), "background %s" % (tuple(px[:3]),)
        assert count_pixels(px, lambda r, g, b: (r, g, b) == (255, 160, 0)) == 40 * 360, "the bar is not exact"


def check_custom_encoder(ex, url, out):
    r = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_packets", "-read_intervals", "%+#40", "-of",
             "json", url])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    flags = [p["flags"] for p in json.loads(r.stdout)["packets"]]
    keys = [i for i, f in enumerate(flags) if "K" in f]
    assert len(flags) >= 40 and keys[:3] == [0, 15, 30], "key frames at %s of %d packets" % (keys, len(flags))


def check_backpressure(ex, url, out):
    sent = [int(m.group(1)) for m in (re.match(r"stream \d+: (\d+) frames sent", l) for l in out) if m]
    assert sent and max(sent) > 0, "no statistics line with frames sent: %s" % out[-3:]


def check_custom_logger(ex, url, out):
    stamp = r"^\d\d:\d\d:\d\d\.\d{3} "
    for pattern in (stamp + r"info +\[0\] server: listening on ", stamp + r"info +\[[1-9]\d*\] stream: stream 1 plays"):
        deadline = time.monotonic() + 2
        while not any(re.match(pattern, l) for l in ex["server"].stderr_lines):
            assert time.monotonic() < deadline, "no log line like %r in %s" % (pattern, ex["server"].stderr_lines)
            time.sleep(0.1)


def check_broadcast(ex, url, out):
    # Two players at once, each starting on a key frame of the one shared encoding.
    results = []

    def first_packets():
        r = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_packets", "-read_intervals", "%+#5",
                 "-of", "json", url])
        results.append((r.returncode, r.stdout, r.stderr))

    threads = [threading.Thread(target=first_packets) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rc, stdout, err in results:
        assert rc == 0, err.decode(errors="replace")
        packets = json.loads(stdout)["packets"]
        assert len(packets) == 5 and "K" in packets[0]["flags"], packets


def publish(url, seconds=None):
    """ffmpeg publishing 320x240 H.264 and AAC to `url` (for `seconds`, or until stopped)."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi",
           "-i", "sine", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    if seconds:
        cmd += ["-t", str(seconds)]
    return subprocess.Popen(cmd + ["-f", "flv", url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def probe_when_published(url, timeout=15):
    """The codec names of `url`, once a publisher is there."""
    end = time.monotonic() + timeout
    while True:
        r = run(["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", "-of", "json", url], timeout=20)
        if r.returncode == 0 and json.loads(r.stdout)["streams"]:
            return sorted(s["codec_name"] for s in json.loads(r.stdout)["streams"])
        assert time.monotonic() < end, "nothing published on %s: %s" % (url, r.stderr.decode(errors="replace"))
        time.sleep(0.3)


def check_relay_server(ex, url, out):
    pub = publish(url)
    try:
        assert probe_when_published(url) == ["aac", "h264"]
    finally:
        pub.terminate()
        pub.wait(timeout=10)


def check_record_publish(ex, url, out):
    pub = publish(url, 3)
    assert pub.wait(timeout=30) == 0, pub.stderr.read().decode(errors="replace")
    path = os.path.join(ex["cwd"], url.rsplit("/", 1)[1] + ".flv")
    deadline = time.monotonic() + 5
    while not any(".flv:" in l for l in out):
        assert time.monotonic() < deadline, "the example did not report the recording: %s" % out
        time.sleep(0.1)
    r = run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    info = json.loads(r.stdout)
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"], info["streams"]
    assert 2.5 <= float(info["format"]["duration"]) <= 3.5, info["format"]["duration"]


EXAMPLES = [  # (binary, codec: None for the ones that take a publisher first, own check)
    ("render_server", "h264", None),
    ("remote_call", "h264", check_remote_call),
    ("multiple_apps", "h264", check_multiple_apps),
    ("screen_video", "flashsv", check_screen_video),
    ("custom_encoder", "h264", check_custom_encoder),
    ("backpressure", "h264", check_backpressure),
    ("custom_logger", "h264", check_custom_logger),
    ("broadcast", "h264", check_broadcast),
    ("relay_server", None, check_relay_server),
    ("record_publish", None, check_record_publish),
]


def smoke_test(build_dir, name, codec, check):
    def test(servers, tmp):
        binary = os.path.abspath(os.path.join(build_dir, name))
        if not os.access(binary, os.X_OK):
            return "skip: not built"
        srv = Server(binary, cwd=tmp)
        out = []
        threading.Thread(target=lambda: out.extend(l.rstrip() for l in srv.proc.stdout), daemon=True).start()
        try:
            url = srv.base  # the first stdout line: the URL to play
            m = re.match(r"^(rtmp://127\.0\.0\.1:([1-9]\d*))/([^/]+)/([^/]+)$", url)
            assert m, "first line is not rtmp://127.0.0.1:PORT/APP/NAME: %r" % url
            ex = {"server": srv, "base": m.group(1), "app": m.group(3), "cwd": tmp,
                  "stream": probe(url, codec) if codec else None}
            if check:
                check(ex, url, out)
            srv.proc.send_signal(signal.SIGINT)
            try:
                rc = srv.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise AssertionError("still running 5 s after SIGINT")
            assert rc == 0, "exit status %d after SIGINT" % rc
        except Exception as e:
            tail = "\n".join("  stderr: " + l for l in srv.stderr_lines[-10:])
            raise AssertionError("%s%s" % (e, "\n" + tail if tail else "")) from e
        finally:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait()
    test.__name__ = name
    return test


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tests = [smoke_test(sys.argv[1], *e) for e in EXAMPLES]
    return run_tests(tests, dict, ["ffprobe"])


if __name__ == "__main__":
    sys.exit(main())
