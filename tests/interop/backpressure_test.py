#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Backpressure with real players: a slow reader loses whole groups of pictures, never the server.

Usage: backpressure_test.py SERVER_BINARY

A throttling proxy lets one ffmpeg player read at a quarter of the stream's bit rate for a while,
then at full speed. The server must drop frames up to the next key frame (the player then decodes
without errors), count the drops, keep its memory bounded, and keep a second, fast player at full
frame rate. Prints "N passed, N failed, N skipped".
"""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main as run_tests, run  # noqa: E402


class ThrottlingProxy:
    """Forwards one connection; server-to-client bytes at `rate` bytes/s until `slow_until`."""

    def __init__(self, upstream_host, upstream_port):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.upstream = (upstream_host, upstream_port)
        self.rate = None
        self.slow_until = 0
        self.forwarded = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        client, _ = self.listener.accept()
        server = socket.socket()
        # A small receive buffer, so that the server, not the kernel, holds what the client cannot take.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        server.connect(self.upstream)
        threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
        self._pump(server, client, True)

    def _pump(self, src, dst, throttled):
        try:
            while True:
                slow = throttled and self.rate and time.monotonic() < self.slow_until
                data = src.recv(1024 if slow else 65536)
                if not data:
                    break
                dst.sendall(data)
                if throttled:
                    self.forwarded += len(data)
                if slow:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stream_bytes_per_second(srv):
    """The stream's bit rate, from a player that reads freely for 3 s."""
    proxy = ThrottlingProxy("127.0.0.1", int(srv.base.rsplit(":", 1)[1]))
    run(["ffmpeg", "-nostdin", "-v", "error", "-i", "rtmp://127.0.0.1:%d/live/measure" % proxy.port, "-t", "3",
         "-f", "null", "-"])
    return proxy.forwarded / 3.0


def test_a_slow_reader_loses_whole_groups_and_recovers(servers, tmp):
    srv = servers["main"]
    rate = stream_bytes_per_second(srv)
    assert rate > 1000, "the stream sent only %d bytes/s" % rate
    proxy = ThrottlingProxy("127.0.0.1", int(srv.base.rsplit(":", 1)[1]))
    proxy.rate = rate / 4
    slow_seconds = 12
    proxy.slow_until = time.monotonic() + slow_seconds + 1
    base_rss = rss_kb(srv.proc.pid)
    slow = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i",
                             "rtmp://127.0.0.1:%d/live/slow" % proxy.port, "-t", str(slow_seconds + 6), "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    # Meanwhile a fast player on the same server decodes at full rate.
    fast = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", srv.url(name="fast"), "-t", "8", "-f",
                "framecrc", "-"])
    peak_rss = base_rss
    while slow.poll() is None:
        peak_rss = max(peak_rss, rss_kb(srv.proc.pid))
        time.sleep(0.2)
    err = slow.stderr.read().decode(errors="replace")
    fast_frames = len([l for l in fast.stdout.decode().splitlines() if l and not l.startswith("#")])
    print("     stream %.0f B/s, slow reader %.0f B/s for %d s; server RSS %d -> %d KB; fast player %d frames in 8 s"
          % (rate, rate / 4, slow_seconds, base_rss, peak_rss, fast_frames))
    assert slow.returncode == 0 and err.strip() == "", "the slow player failed (%d): %s" % (slow.returncode, err)
    assert fast.returncode == 0 and fast_frames >= 225, "the fast player got %d frames" % fast_frames
    assert peak_rss - base_rss < 64 * 1024, "server memory grew by %d KB" % (peak_rss - base_rss)
    time.sleep(0.5)
    closes = [l for l in srv.stderr_lines if l.startswith("closed") and "frames_dropped=" in l]
    drops = [int(l.split("frames_dropped=")[1].split()[0]) for l in closes]
    print("     per-connection drops: %s" % drops)
    assert any(d > 0 for d in drops), "no drops were counted: %s" % closes


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    return run_tests([test_a_slow_reader_loses_whole_groups_and_recovers], lambda: {"main": Server(sys.argv[1])},
                     ["ffmpeg"])


if __name__ == "__main__":
    sys.exit(main())
