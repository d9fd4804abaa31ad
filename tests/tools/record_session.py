#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Record a real RTMP session between two ffmpeg processes as test fixtures.

Starts ``ffmpeg -listen 1`` as an RTMP server on a free 127.0.0.1 port, a
small TCP recording proxy on another free port, and an ffmpeg RTMP client
pointed at the proxy.  Every byte forwarded by the proxy is appended to

    DIR/<mode>_c2s.bin   (client -> server)
    DIR/<mode>_s2c.bin   (server -> client)

Recording stops when either side closes its connection or when the global
timeout expires.  Every process started here is stopped by PID (terminate,
then kill) on every exit path.

Usage:
    record_session.py --mode play|publish --out-dir DIR [--timeout SECONDS]

mode publish: the client publishes a 1 s H.264 test pattern to the server.
mode play:    the server serves a 2 s H.264 test pattern and the client
              plays 1 s of it.

Python 3 standard library only.
"""

import argparse
import os
import selectors
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
APP_STREAM = "live/fixture"
CONNECT_RETRY_SECONDS = 5.0


def free_port():
    """Return a currently free TCP port on HOST (bind port 0 to learn it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def commands(mode, sport, pport):
    """Return (server_argv, client_argv) for the given mode."""
    base = ["ffmpeg", "-hide_banner", "-loglevel", "error"]
    source = ["-re", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
    h264 = ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"]
    server_url = "rtmp://%s:%d/%s" % (HOST, sport, APP_STREAM)
    proxy_url = "rtmp://%s:%d/%s" % (HOST, pport, APP_STREAM)
    if mode == "publish":
        server = base + ["-listen", "1", "-i", server_url, "-f", "null", "-"]
        client = base + source + ["-t", "1"] + h264 + ["-f", "flv", proxy_url]
    elif mode == "play":
        server = (base + source + ["-t", "2"] + h264
                  + ["-f", "flv", "-listen", "1", server_url])
        client = base + ["-i", proxy_url, "-t", "1", "-f", "null", "-"]
    else:
        raise ValueError("unknown mode: %r" % mode)
    return server, client


def stop_process(proc, grace=3.0):
    """Stop one process by PID: terminate, wait, then kill."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


def connect_upstream(port, deadline):
    """Connect to the ffmpeg server, retrying while it starts listening."""
    stop = min(deadline, time.monotonic() + CONNECT_RETRY_SECONDS)
    last_error = None
    while time.monotonic() < stop:
        try:
            return socket.create_connection((HOST, port), timeout=1.0)
        except OSError as exc:
            last_error = exc
            time.sleep(0.1)
    raise RuntimeError("could not connect to ffmpeg server on port %d: %s"
                       % (port, last_error))


def pump(client, upstream, c2s, s2c, deadline):
    """Forward bytes both ways until either side closes or deadline passes."""
    client.setblocking(False)
    upstream.setblocking(False)
    routes = {
        client.fileno(): (client, upstream, c2s, "client"),
        upstream.fileno(): (upstream, client, s2c, "server"),
    }
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(upstream, selectors.EVENT_READ)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                src, dst, log, name = routes[key.fd]
                try:
                    data = src.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    return "%s closed" % name
                log.write(data)
                log.flush()
                dst.setblocking(True)
                try:
                    dst.sendall(data)
                except OSError:
                    return "%s closed" % ("server" if name == "client"
                                          else "client")
                finally:
                    dst.setblocking(False)
    finally:
        sel.close()


def record(mode, out_dir, timeout):
    deadline = time.monotonic() + timeout
    os.makedirs(out_dir, exist_ok=True)
    c2s_path = os.path.join(out_dir, "%s_c2s.bin" % mode)
    s2c_path = os.path.join(out_dir, "%s_s2c.bin" % mode)
    # Start from empty files; the proxy then appends as bytes flow.
    for path in (c2s_path, s2c_path):
        open(path, "wb").close()

    sport = free_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(1)
    pport = listener.getsockname()[1]
    server_argv, client_argv = commands(mode, sport, pport)

    server = client_proc = None
    client_sock = upstream = None
    try:
        server = subprocess.Popen(server_argv, stdin=subprocess.DEVNULL)
        client_proc = subprocess.Popen(client_argv, stdin=subprocess.DEVNULL)

        listener.settimeout(max(0.1, deadline - time.monotonic()))
        client_sock, _ = listener.accept()
        # The ffmpeg server accepts exactly one connection, so it cannot be
        # probed beforehand: connect (with retries) only once the client is in.
        upstream = connect_upstream(sport, deadline)
        with open(c2s_path, "ab") as c2s, open(s2c_path, "ab") as s2c:
            reason = pump(client_sock, upstream, c2s, s2c, deadline)
        print("%s: stopped (%s); c2s %d bytes, s2c %d bytes"
              % (mode, reason, os.path.getsize(c2s_path),
                 os.path.getsize(s2c_path)), file=sys.stderr)
        return 0 if reason != "timeout" else 1
    finally:
        for sock in (client_sock, upstream, listener):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        stop_process(client_proc)
        stop_process(server)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", required=True, choices=("play", "publish"))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="global timeout in seconds (default 30)")
    args = parser.parse_args(argv)
    try:
        return record(args.mode, args.out_dir, args.timeout)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print("record_session: %s: %s" % (type(exc).__name__, exc),
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
