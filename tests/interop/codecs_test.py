#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The codecs by name, through examples/codec_server, against real players.

Usage: codecs_test.py CODEC_SERVER_BINARY

For each codec the binary's registry has ("h264", "screen video", "sorenson"): starts
`codec_server NAME 127.0.0.1:0`, and checks what ffprobe sees. Sorenson Spark (FLV codec 2,
through libavcodec) is then decoded by ffmpeg -xerror, recorded by rtmpdump and decoded again,
and played by python-librtmp. Prints one line per test and "N passed, N failed, N skipped".
"""

import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import assert_decodes, main as run_tests, run, stop_process, tmp_only  # noqa: E402

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")
BINARY = ""


class CodecServer:
    """codec_server NAME on 127.0.0.1:0; `url` is its first stdout line, or None when it has no such codec."""

    def __init__(self, codec):
        self.proc = subprocess.Popen([BINARY, codec, "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        self.url = line if line.startswith("rtmp://") else None
        if self.url is None:
            self.error = self.proc.stderr.read()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stop_process(self.proc, signal.SIGKILL)
                raise AssertionError("codec_server still running 10 s after SIGINT")
        return self.proc.returncode


def video_stream(url):
    r = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", url])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    streams = json.loads(r.stdout)["streams"]
    assert len(streams) == 1 and streams[0]["codec_type"] == "video", streams
    return streams[0]


def probe_test(codec, ffprobe_name):
    def test(tmp):
        srv = CodecServer(codec)
        if srv.url is None:
            assert "no codec" in srv.error, srv.error
            return "skip: this build has no '%s'" % codec
        try:
            s = video_stream(srv.url)
            assert (s["codec_name"], s["width"], s["height"]) == (ffprobe_name, 640, 360), s
        finally:
            assert srv.stop() == 0
    test.__name__ = "test_%s_is_what_ffprobe_sees" % codec.replace(" ", "_")
    return test


def test_sorenson_decodes_in_ffmpeg_rtmpdump_and_python_librtmp(tmp):
    srv = CodecServer("sorenson")
    if srv.url is None:
        return "skip: this build has no 'sorenson' (configure with -Dlibavcodec=enabled)"
    try:
        assert_decodes(srv.url, seconds=2)  # ffmpeg -xerror, 20 pictures a second at least
        recording = os.path.join(tmp, "sorenson.flv")
        r = run(["rtmpdump", "--live", "-q", "-r", srv.url, "-B", "2", "-o", recording], timeout=30)
        assert os.path.getsize(recording) > 10000, "rtmpdump recorded %d bytes (exit %d)" % (
            os.path.getsize(recording), r.returncode)
        d = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", recording, "-f", "framecrc", "-"])
        assert d.returncode == 0 and d.stderr.strip() == b"", d.stderr.decode(errors="replace")
        frames = [l for l in d.stdout.decode().splitlines() if l and not l.startswith("#")]
        assert len(frames) >= 40, "%d pictures decoded from rtmpdump's recording" % len(frames)
        p = run([PYTHON, CLIENT, "play", srv.url, "2"], timeout=30)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        counts = json.loads(p.stdout)
        assert counts["video"] >= 40, counts
    finally:
        assert srv.stop() == 0


TESTS = [
    probe_test("h264", "h264"),
    probe_test("screen video", "flashsv"),
    probe_test("sorenson", "flv1"),
    test_sorenson_decodes_in_ffmpeg_rtmpdump_and_python_librtmp,
]


def main():
    global BINARY
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    BINARY = sys.argv[1]
    return run_tests(tmp_only(TESTS), dict, ["ffmpeg", "ffprobe", "rtmpdump"])


if __name__ == "__main__":
    sys.exit(main())
