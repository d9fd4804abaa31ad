#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rtmpx as a client: pushing to real origins, pulling from them, and coming back after faults.

Usage: push_test.py PUSH_EXAMPLE INTEROP_SERVER NGINX_CONF

PUSH_EXAMPLE (examples/push) renders and publishes to the URL it is given, printing each state
change; INTEROP_SERVER pushes its relay's names (--push) or pulls (--pull). Origins on
127.0.0.1: nginx-rtmp (NGINX_CONF: the README's origin and edge), `ffmpeg -listen 1`,
node-media-server (when RTMPX_NODE_MEDIA_SERVER names its bin/app.js) and rtmpx's own relay.
Players read back through the origin with ffprobe and ffmpeg -xerror. Prints one line per test
and "N passed, N failed, N skipped"; exit 77 when ffmpeg, ffprobe or nginx-rtmp are missing.
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
from harness import (Server, assert_decodes, decode, free_port, listening, main as run_tests,  # noqa: E402
                     node_media_server, publish_to, run, stop_process, streams, tmp_only, wait_for)

NGINX_RTMP = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
PUSH, INTEROP, NGINX_CONF = (os.path.abspath(a) for a in sys.argv[1:4]) if len(sys.argv) == 4 else (None, None, None)
NMS = os.environ.get("RTMPX_NODE_MEDIA_SERVER", "")





class Lines:
    """A process whose stdout (or stderr) lines are kept as they come."""

    def __init__(self, args, stream="stdout", **kw):
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, **kw)
        self.lines = []
        self._lock = threading.Lock()
        for name in ("stdout", "stderr"):
            threading.Thread(target=self._drain, args=(getattr(self.proc, name),), daemon=True).start()

    def _drain(self, f):
        for line in f:
            with self._lock:
                self.lines.append(line.rstrip())

    def seen(self, pattern):
        with self._lock:
            return [l for l in self.lines if re.search(pattern, l)]

    def wait_line(self, pattern, timeout=20):
        wait_for(lambda: self.seen(pattern), timeout, "a line like %r (have: %s)" % (pattern, self.lines[-5:]))
        return self.seen(pattern)


class Nginx:
    """nginx-rtmp with the README's origin and edge, on free ports."""

    def __init__(self, tmp, origin_port=None):
        self.origin, self.edge = origin_port or free_port(), free_port()
        with open(NGINX_CONF) as f:
            text = f.read()
        text = text.replace("127.0.0.1:1935", "127.0.0.1:%d" % self.origin).replace("127.0.0.1:1936", "127.0.0.1:%d" % self.edge)
        text = "daemon off;\nmaster_process off;\n" + text
        self.dir = tmp
        path = os.path.join(tmp, "nginx-%d.conf" % self.origin)
        with open(path, "w") as f:
            f.write(text)
        self.proc = subprocess.Popen(["nginx", "-c", path, "-p", tmp + "/"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: listening(self.origin) and listening(self.edge), 10, "nginx to listen")

    def url(self, name, edge=False):
        return "rtmp://127.0.0.1:%d/live/%s" % (self.edge if edge else self.origin, name)

    def stop(self, sig=signal.SIGTERM):
        stop_process(self.proc, sig)



def push(url):
    return Lines([PUSH, url])


def first_video_timestamp(url, tmp):
    """The timestamp of the first video frame a fresh player gets from `url` (as rtmpdump records it)."""
    out = os.path.join(tmp, "first-%d.flv" % time.monotonic_ns())
    rec = subprocess.Popen(["rtmpdump", "--live", "-q", "-r", url, "-o", out], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    stop_process(rec, signal.SIGINT)
    with open(out, "rb") as f:
        data = f.read()
    pos = 13
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        if data[pos] == 9 and size > 5 and data[pos + 12] == 1:  # an AVC picture, not the sequence header
            return ts
        pos += 11 + size + 4
    raise AssertionError("no video recorded from %s" % url)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------


def test_the_readme_shows_the_configuration_these_tests_run(tmp):
    with open(NGINX_CONF) as f:
        body = "".join(l for l in f.readlines() if not l.startswith("#"))
    with open(os.path.join(os.path.dirname(NGINX_CONF), "..", "README.md")) as f:
        blocks = re.findall(r"```nginx\n(.*?)```", f.read(), re.S)
    assert blocks == [body], "README's nginx block differs from %s" % NGINX_CONF


def test_push_to_nginx_origin_and_through_its_edge(tmp):
    nginx = Nginx(tmp)
    p = push(nginx.url("scene"))
    try:
        p.wait_line("^publishing$")
        assert streams(nginx.url("scene")) == ["h264"]
        assert_decodes(nginx.url("scene"))
        assert_decodes(nginx.url("scene", edge=True))  # the scale-out configuration: a player of the edge
        assert not p.seen("retrying|failed"), p.lines
    finally:
        stop_process(p.proc, signal.SIGINT)
        nginx.stop()
    assert p.proc.returncode == 0, p.lines
    assert p.seen("^stopped$") and p.seen(r"^frames sent [1-9]"), p.lines


def test_push_to_ffmpeg_listening_records_what_arrives(tmp):
    port = free_port()
    out = os.path.join(tmp, "received.flv")
    receiver = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-f", "flv", "-listen", "1", "-i",
                                 "rtmp://127.0.0.1:%d/live/in" % port, "-c", "copy", "-t", "3", "-y", out],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # no probe connection: ffmpeg -listen takes the first client that comes (the push retries anyway)
    p = push("rtmp://127.0.0.1:%d/live/in" % port)
    try:
        receiver.wait(timeout=30)
        assert receiver.returncode == 0, receiver.stderr.read().decode(errors="replace")
    finally:
        stop_process(p.proc, signal.SIGINT)
        stop_process(receiver)
    counts, rc, err = decode(out, 10)
    assert rc == 0 and err.strip() == "", err
    assert counts.get(0, 0) >= 60, counts


def test_push_to_node_media_server(tmp):
    if not NMS or not shutil.which("node"):
        return "skip: node-media-server is not installed (RTMPX_NODE_MEDIA_SERVER)"
    port = free_port()
    nms = node_media_server(NMS, port, os.path.join(tmp, "nms"))
    p = None
    try:
        wait_for(lambda: listening(port), 20, "node-media-server to listen")
        p = push("rtmp://127.0.0.1:%d/live/scene" % port)
        p.wait_line("^publishing$")
        assert streams("rtmp://127.0.0.1:%d/live/scene" % port) == ["h264"]
        assert_decodes("rtmp://127.0.0.1:%d/live/scene" % port)
    finally:
        if p:
            stop_process(p.proc, signal.SIGINT)
        stop_process(nms)


def test_push_into_rtmpx_and_refusals_that_will_not_change(tmp):
    origin = Server(INTEROP)
    try:
        p = push(origin.url(app="relay", name="scene"))
        p.wait_line("^publishing$")
        assert_decodes(origin.url(app="relay", name="scene"))
        # A second publisher of the name: BadName, reported once and not retried.
        second = push(origin.url(app="relay", name="scene"))
        second.proc.wait(timeout=20)
        assert second.proc.returncode == 1, second.lines
        assert second.seen("^failed: NetStream.Publish.BadName"), second.lines
        assert not second.seen("retrying"), second.lines
        # An app the server refuses: NetConnection.Connect.Rejected, not retried either.
        third = push(origin.url(app="nosuchapp", name="scene"))
        third.proc.wait(timeout=20)
        assert third.seen("^failed: NetConnection.Connect.Rejected"), third.lines
        assert not third.seen("retrying"), third.lines
        stop_process(p.proc, signal.SIGINT)
        assert p.proc.returncode == 0, p.lines
    finally:
        origin.stop()


def test_origin_killed_and_restarted_the_push_comes_back_and_the_timeline_goes_on(tmp):
    nginx = Nginx(tmp)
    p = push(nginx.url("scene"))
    try:
        p.wait_line("^publishing$")
        time.sleep(3.0)
        before = first_video_timestamp(nginx.url("scene"), tmp)
        nginx.stop(signal.SIGKILL)
        p.wait_line("^retrying in ", 20)
        nginx = Nginx(tmp, origin_port=nginx.origin)
        up = time.monotonic()
        wait_for(lambda: len(p.seen("^publishing$")) == 2, 40, "the push to publish again")
        reconnect_s = time.monotonic() - up
        print("     reconnect: origin up -> publishing again in %.2f s" % reconnect_s)
        assert_decodes(nginx.url("scene"))
        after = first_video_timestamp(nginx.url("scene"), tmp)
        assert after > before + 1000, "the timeline restarted: %d ms before the restart, %d after" % (before, after)
    finally:
        stop_process(p.proc, signal.SIGINT)
        nginx.stop()
    assert p.seen(r"reconnects [1-9]"), p.lines[-3:]


def test_a_relayed_stream_with_audio_goes_to_two_origins_and_one_failing_hurts_no_other(tmp):
    nginx = Nginx(tmp)
    dead = free_port()  # nothing listens there
    edge = Server(INTEROP, "--push", "cam=" + nginx.url("cam"), "--push", "cam=rtmp://127.0.0.1:%d/live/cam" % dead)
    pub = publish_to(edge.url(app="relay", name="cam"))
    try:
        assert streams(nginx.url("cam")) == ["aac", "h264"]
        assert_decodes(nginx.url("cam"), audio=True)
        assert_decodes(edge.url(app="relay", name="cam"), audio=True)  # the local players too
        wait_for(lambda: any("push rtmp://127.0.0.1:%d/live/cam: retrying" % dead in l for l in edge.stderr_lines), 20,
                 "the dead target to be retried")
    finally:
        stop_process(pub)
        edge.stop()
        nginx.stop()


def test_an_origin_that_stops_reading_costs_drops_not_memory(tmp):
    origin = Server(INTEROP)
    edge = Server(INTEROP, "--push", "cam=" + origin.url(app="relay", name="cam"))
    pub = publish_to(edge.url(app="relay", name="cam"))
    try:
        assert streams(origin.url(app="relay", name="cam")) == ["aac", "h264"]
        rss_before = rss_kb(edge.proc.pid)
        result = {}
        player = threading.Thread(target=lambda: result.update(r=decode(edge.url(app="relay", name="cam"), 6)))
        player.start()
        os.kill(origin.proc.pid, signal.SIGSTOP)  # the origin reads nothing more
        time.sleep(7.0)
        rss_after = rss_kb(edge.proc.pid)
        os.kill(origin.proc.pid, signal.SIGCONT)
        player.join(timeout=30)
        counts, rc, err = result["r"]
        assert rc == 0 and err.strip() == "", "the local player suffered: %s" % err
        assert counts.get(0, 0) >= 150, counts
        assert rss_after - rss_before < 16 * 1024, "the edge grew by %d KB" % (rss_after - rss_before)
    finally:
        if origin.alive():
            os.kill(origin.proc.pid, signal.SIGCONT)
        stop_process(pub)
        edge.stop()
        origin.stop()
    final = [l for l in edge.stderr_lines if l.startswith("push ") and "stopped" in l]
    assert final, edge.stderr_lines[-5:]
    dropped = int(re.search(r"frames_dropped=(\d+)", final[-1]).group(1))
    assert dropped > 0, final[-1]


def test_pull_from_nginx_into_a_local_broadcast(tmp):
    nginx = Nginx(tmp)
    pub = publish_to(nginx.url("src"))
    edge = None
    try:
        streams(nginx.url("src"))
        edge = Server(INTEROP, "--pull", nginx.url("src"))
        assert streams(edge.url(app="edge", name="any")) == ["aac", "h264"]
        assert_decodes(edge.url(app="edge", name="any"), audio=True)
    finally:
        stop_process(pub)
        if edge:
            edge.stop()
        nginx.stop()
    assert any("pull rtmp://" in l and ": started" in l for l in edge.stderr_lines), edge.stderr_lines[-5:]



def test_pull_comes_back_after_the_origin_restarts(tmp):
    nginx = Nginx(tmp)
    pub = publish_to(nginx.url("src"))
    edge = None
    try:
        streams(nginx.url("src"))
        edge = Server(INTEROP, "--pull", nginx.url("src"))
        assert_decodes(edge.url(app="edge", name="any"))
        stop_process(pub)
        nginx.stop(signal.SIGKILL)
        wait_for(lambda: any(": retrying" in l for l in edge.stderr_lines), 30, "the puller to retry")
        nginx = Nginx(tmp, origin_port=nginx.origin)
        pub = publish_to(nginx.url("src"))
        wait_for(lambda: sum(": started" in l for l in edge.stderr_lines if l.startswith("pull ")) >= 2, 40,
                 "the puller to play again")
        assert_decodes(edge.url(app="edge", name="any"), audio=True)
    finally:
        stop_process(pub)
        if edge:
            edge.stop()
        nginx.stop()


def test_pull_from_ffmpeg_listening(tmp):
    port = free_port()
    url = "rtmp://127.0.0.1:%d/live/src" % port
    source = publish_to(url, ["-listen", "1"])  # ffmpeg serves the stream to the one client that comes
    time.sleep(1.0)
    edge = Server(INTEROP, "--pull", url)
    try:
        assert streams(edge.url(app="edge", name="any")) == ["aac", "h264"]
        assert_decodes(edge.url(app="edge", name="any"), audio=True)
    finally:
        edge.stop()
        stop_process(source)


def test_pull_from_node_media_server(tmp):
    if not NMS or not shutil.which("node"):
        return "skip: node-media-server is not installed (RTMPX_NODE_MEDIA_SERVER)"
    port = free_port()
    nms = node_media_server(NMS, port, os.path.join(tmp, "nms-pull"))
    pub = edge = None
    try:
        wait_for(lambda: listening(port), 20, "node-media-server to listen")
        url = "rtmp://127.0.0.1:%d/live/src" % port
        pub = publish_to(url)
        streams(url)
        edge = Server(INTEROP, "--pull", url)
        assert streams(edge.url(app="edge", name="any")) == ["aac", "h264"]
        assert_decodes(edge.url(app="edge", name="any"), audio=True)
    finally:
        if pub:
            stop_process(pub)
        if edge:
            edge.stop()
        stop_process(nms)


TESTS = [
    test_the_readme_shows_the_configuration_these_tests_run,
    test_push_to_nginx_origin_and_through_its_edge,
    test_push_to_ffmpeg_listening_records_what_arrives,
    test_push_to_node_media_server,
    test_push_into_rtmpx_and_refusals_that_will_not_change,
    test_origin_killed_and_restarted_the_push_comes_back_and_the_timeline_goes_on,
    test_a_relayed_stream_with_audio_goes_to_two_origins_and_one_failing_hurts_no_other,
    test_an_origin_that_stops_reading_costs_drops_not_memory,
    test_pull_from_nginx_into_a_local_broadcast,
    test_pull_comes_back_after_the_origin_restarts,
    test_pull_from_ffmpeg_listening,
    test_pull_from_node_media_server,
]


def main():
    if not PUSH:
        print(__doc__)
        return 2
    if not (shutil.which("nginx") and os.path.exists(NGINX_RTMP)):
        print("skip: nginx with libnginx-mod-rtmp is not installed")
        return 77

    return run_tests(tmp_only(TESTS), dict, ["ffmpeg", "ffprobe", "rtmpdump"])


if __name__ == "__main__":
    sys.exit(main())
