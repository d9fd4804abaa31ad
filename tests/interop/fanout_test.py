#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real players on a broadcast, and on a server that runs its connections on a pool of threads.

Usage: fanout_test.py SERVER_BINARY

Starts SERVER_BINARY with `--threads 2` (its "broadcast" app encodes one picture once for every
player), then runs ffmpeg, ffprobe, rtmpdump and python-librtmp against it. Prints one line per
test and "N passed, N failed, N skipped". Exit 77 when ffmpeg/ffprobe are not installed.
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
from harness import Server, main as run_tests, on_server, run  # noqa: E402

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")


def decode(url, seconds):
    """Decodes `seconds` of video with -xerror: (frames, returncode, stderr)."""
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", url, "-t", str(seconds), "-f", "framecrc", "-"])
    frames = [l for l in r.stdout.decode(errors="replace").splitlines() if l and not l.startswith("#")]
    return len(frames), r.returncode, r.stderr.decode(errors="replace")


def test_six_ffmpeg_players_decode_one_broadcast_without_errors(srv, tmp):
    results = {}

    def play(i):
        results[i] = decode(srv.url(app="broadcast", name="show"), 4)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(6)]
    for i, t in enumerate(threads):
        t.start()
        time.sleep(0.15 * (i % 3))  # players join at different points of the group
    for t in threads:
        t.join()
    for i, (frames, rc, err) in sorted(results.items()):
        assert rc == 0 and err.strip() == "", "player %d: exit %d: %s" % (i, rc, err)
        assert frames >= 110, "player %d decoded only %d frames in 4 s at 30/s" % (i, frames)


def test_a_late_player_starts_at_once_on_the_cached_key_frame(srv, tmp):
    time.sleep(1.0)  # the broadcast has been running: its current group started before we join
    r = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_packets", "-read_intervals", "%+#10",
             "-of", "json", srv.url(app="broadcast", name="late")])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    packets = json.loads(r.stdout)["packets"]
    assert len(packets) == 10, packets
    assert "K" in packets[0]["flags"], "the first packet is not a key frame: %s" % packets[0]
    pts = [int(p["pts"]) for p in packets]
    assert pts[0] == 0 and all(b > a for a, b in zip(pts, pts[1:])), pts


def test_rtmpdump_records_the_broadcast(srv, tmp):
    if not shutil.which("rtmpdump"):
        return "skip: rtmpdump not installed"
    out = os.path.join(tmp, "broadcast.flv")
    dump = subprocess.Popen(["rtmpdump", "--live", "-q", "-r", srv.url(app="broadcast", name="dump"), "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    time.sleep(2.5)
    dump.send_signal(signal.SIGINT)
    try:
        _, err = dump.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        dump.kill()
        _, err = dump.communicate()
    assert os.path.exists(out) and os.path.getsize(out) > 1000, "rtmpdump wrote nothing: %s" % err.decode(errors="replace")
    p = run(["ffprobe", "-v", "error", "-show_streams", "-show_packets", "-select_streams", "v", "-of", "json", out])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    data = json.loads(p.stdout)
    assert data["streams"][0]["codec_name"] == "h264", data["streams"][0]
    assert "K" in data["packets"][0]["flags"], "the recording does not start on a key frame"
    assert len(data["packets"]) >= 45, "only %d packets in 2.5 s" % len(data["packets"])


def test_pooled_connections_play_their_own_streams_and_answer_calls(srv, tmp):
    results = {}

    def play(name):
        results[name] = decode(srv.url(app="live", name=name), 3)

    threads = [threading.Thread(target=play, args=("pool-%d" % i,)) for i in range(3)]
    for t in threads:
        t.start()
    r = subprocess.run([PYTHON, CLIENT, "call", srv.url(name=None), json.dumps([["echo", ["pooled"]], ["add", [1, 2]]])],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=40, stdin=subprocess.DEVNULL)
    for t in threads:
        t.join()
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert json.loads(r.stdout) == ["pooled", 3], r.stdout
    for name, (frames, rc, err) in results.items():
        assert rc == 0 and err.strip() == "", "%s: exit %d: %s" % (name, rc, err)
        assert frames >= 80, "%s decoded only %d frames in 3 s" % (name, frames)


TESTS = [
    test_six_ffmpeg_players_decode_one_broadcast_without_errors,
    test_a_late_player_starts_at_once_on_the_cached_key_frame,
    test_rtmpdump_records_the_broadcast,
    test_pooled_connections_play_their_own_streams_and_answer_calls,
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    return run_tests(on_server("pool", TESTS), lambda: {"pool": Server(sys.argv[1], "--threads", "2")},
                     ["ffmpeg", "ffprobe"])


if __name__ == "__main__":
    sys.exit(main())
