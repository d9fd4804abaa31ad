#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load on one server: 500 connections held at once, and 1000 connect/disconnect cycles.

Usage: load_test.py SERVER_BINARY

Raw clients (Python sockets) do the handshake and `connect`; ten ffmpeg players play at the same
time. Reports the server's memory and thread count, and checks that 1000 short connections
leave no thread, descriptor or memory behind. Prints "N passed, N failed, N skipped".
"""

import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main as run_tests  # noqa: E402


def amf_string(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_number(n):
    return b"\x00" + struct.pack(">d", n)


def connect_command(app, tc_url):
    body = amf_string("connect") + amf_number(1) + b"\x03"
    for key, value in (("app", app), ("tcUrl", tc_url)):
        k = key.encode()
        body += struct.pack(">H", len(k)) + k + amf_string(value)
    body += b"\x00\x00\x09"
    # One chunk on chunk stream 3 (the body is under the default 128-byte chunk size).
    assert len(body) <= 128
    return bytes([0x03]) + b"\x00\x00\x00" + len(body).to_bytes(3, "big") + b"\x14" + b"\x00\x00\x00\x00" + body


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise ConnectionError("closed after %d of %d bytes" % (len(data), n))
        data += part
    return data


def rtmp_connect(port, base):
    """Handshake and connect; returns the socket once the server's `_result` arrived."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"\x03" + bytes(1536))
    s1 = read_exactly(s, 3073)[1:1537]
    s.sendall(s1)
    s.sendall(connect_command("live", base + "/live"))
    data = b""
    while b"_result" not in data:
        part = s.recv(65536)
        if not part:
            raise ConnectionError("closed before _result")
        data += part
    return s


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return {"rss_kb": int(out["VmRSS"].split()[0]), "threads": int(out["Threads"]), "fds": out["fds"]}


def settle(pid, seconds=15):
    """The thread and descriptor counts once they stop changing (connections end asynchronously
    and their threads are joined lazily)."""
    end = time.monotonic() + seconds
    last = proc_status(pid)
    while time.monotonic() < end:
        time.sleep(0.5)
        st = proc_status(pid)
        if (st["threads"], st["fds"]) == (last["threads"], last["fds"]):
            return st
        last = st
    return last


def test_500_connections_at_once_some_playing(servers, tmp):
    srv = servers["main"]
    port = int(srv.base.rsplit(":", 1)[1])
    pid = srv.proc.pid
    before = proc_status(pid)
    players = [subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", srv.url(name="p%d" % i), "-t", "6",
                                 "-f", "null", "-"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL) for i in range(10)]
    idle = []
    start = time.monotonic()
    try:
        for _ in range(490):
            idle.append(rtmp_connect(port, srv.base))
        held = proc_status(pid)
        elapsed = time.monotonic() - start
        errors = []
        for p in players:
            p.wait(timeout=60)
            err = p.stderr.read().decode(errors="replace").strip()
            if p.returncode != 0 or err:
                errors.append((p.returncode, err))
    finally:
        for s in idle:
            s.close()
    print("     500 connections (490 idle, 10 playing H.264): connected in %.1f s; server RSS %d -> %d KB "
          "(%.1f KB per connection), threads %d -> %d, descriptors %d -> %d"
          % (elapsed, before["rss_kb"], held["rss_kb"], (held["rss_kb"] - before["rss_kb"]) / 500.0,
             before["threads"], held["threads"], before["fds"], held["fds"]))
    assert len(idle) == 490
    assert not errors, "players failed: %s" % errors[:2]
    assert held["threads"] >= 490, "expected a thread per connection, saw %d" % held["threads"]
    assert srv.alive()


def test_1000_connect_disconnect_cycles_leave_nothing_behind(servers, tmp):
    srv = servers["main"]
    port = int(srv.base.rsplit(":", 1)[1])
    pid = srv.proc.pid
    # Warm up allocator caches, then measure.
    for _ in range(50):
        rtmp_connect(port, srv.base).close()
    warm = settle(pid)
    start = time.monotonic()
    for i in range(1000):
        s = rtmp_connect(port, srv.base)
        if i % 2:
            s.shutdown(socket.SHUT_RDWR)  # half of them abruptly
        s.close()
    elapsed = time.monotonic() - start
    after = settle(pid)
    print("     1000 cycles in %.1f s; threads %d -> %d, descriptors %d -> %d, RSS %d -> %d KB"
          % (elapsed, warm["threads"], after["threads"], warm["fds"], after["fds"], warm["rss_kb"], after["rss_kb"]))
    assert after["threads"] <= warm["threads"], (warm, after)
    assert after["fds"] <= warm["fds"], (warm, after)
    assert after["rss_kb"] - warm["rss_kb"] < 8 * 1024, (warm, after)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    return run_tests([test_500_connections_at_once_some_playing, test_1000_connect_disconnect_cycles_leave_nothing_behind],
                     lambda: {"main": Server(sys.argv[1])}, ["ffmpeg"])


if __name__ == "__main__":
    sys.exit(main())
