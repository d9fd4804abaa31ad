# SPDX-License-Identifier: MIT
"""Shared pieces of the real-client tests: the server process, running tools, the test loop."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 60


def run(cmd, timeout=TIMEOUT):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def free_port():
    """A port nothing listens on now, for servers that cannot be told port 0 (nginx, node-media-server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def streams(url, timeout=20):
    """The codec names ffprobe finds on `url`, retried until something is published there."""
    end = time.monotonic() + timeout
    last = ""
    while time.monotonic() < end:
        r = run(["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", "-of", "json", url], timeout=20)
        if r.returncode == 0:
            found = sorted(s["codec_name"] for s in json.loads(r.stdout)["streams"])
            if found:
                return found
        last = r.stderr.decode(errors="replace")
        time.sleep(0.3)
    raise AssertionError("no streams on %s: %s" % (url, last))


def decode(url, seconds):
    """Decodes `seconds` of `url` with ffmpeg -xerror: ({stream index: frames}, returncode, stderr)."""
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-rw_timeout", "10000000", "-i", url, "-t", str(seconds),
             "-f", "framecrc", "-"])
    counts = {}
    for line in r.stdout.decode(errors="replace").splitlines():
        if line and not line.startswith("#"):
            index = int(line.split(",")[0])
            counts[index] = counts.get(index, 0) + 1
    return counts, r.returncode, r.stderr.decode(errors="replace")


def listening(port):
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_process(p, sig=signal.SIGTERM):
    """Ends a process started by a test: `sig`, then SIGKILL after 10 s."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def assert_decodes(url, seconds=2, audio=False):
    """ffmpeg -xerror decodes `seconds` of `url` cleanly, at 20 pictures (and audio frames) a second at least."""
    counts, rc, err = decode(url, seconds)
    assert rc == 0 and err.strip() == "", "ffmpeg exited %d: %s" % (rc, err)
    assert counts.get(0, 0) >= 20 * seconds, "decoded only %s" % counts
    if audio:
        assert len(counts) == 2 and counts.get(1, 0) >= 20 * seconds, "no audio decoded: %s" % counts


# A live test picture with a tone, as a publisher encodes it (H.264 and AAC).
SOURCES = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440"]
ENCODE = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-b:a", "64k"]


def flv_tags(path):
    """(type, timestamp, body) of each tag of an FLV file, in order (a torn last tag left out)."""
    with open(path, "rb") as f:
        data = f.read()
    tags, pos = [], 13
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos + 11 + size + 4 > len(data):
            break
        timestamp = int.from_bytes(data[pos + 4:pos + 7], "big") | data[pos + 7] << 24
        tags.append((data[pos], timestamp, data[pos + 11:pos + 11 + size]))
        pos += 11 + size + 4
    return tags


def publish_to(url, extra=()):
    """ffmpeg publishing SOURCES to `url` in real time, until stopped."""
    return subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re"] + SOURCES + ENCODE + list(extra) + ["-f", "flv", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Server:
    """The server binary, started on 127.0.0.1 port 0; it prints its base URL first."""

    def __init__(self, binary, *args, cwd=None):
        self.proc = subprocess.Popen([binary, "127.0.0.1:0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, cwd=cwd)
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("rtmp://"):
            self.stop()
            raise RuntimeError("server did not print its address: %r" % self.base)
        self.stderr_lines = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip())

    def url(self, app="live", name="demo"):
        return "%s/%s/%s" % (self.base, app, name) if name else "%s/%s" % (self.base, app)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def on_server(key, tests):
    """The tests, each taking one server (the one named `key`) instead of all of them."""
    def bind(test):
        def bound(servers, tmp):
            return test(servers[key], tmp)
        bound.__name__ = test.__name__
        return bound
    return [bind(t) for t in tests]


def tmp_only(tests):
    """The tests, each taking only the temp dir (they start the servers they need)."""
    def bind(test):
        def bound(servers, tmp):
            return test(tmp)
        bound.__name__ = test.__name__
        return bound
    return [bind(t) for t in tests]


def node_media_server(app_js, port, data):
    """node-media-server (its bin/app.js) with RTMP on 127.0.0.1:port, its other ports on free ones, data in `data`."""
    return subprocess.Popen(["node", app_js, "-b", "127.0.0.1", "--rtmp-port", str(port), "--rtmps-port", str(free_port()),
                             "--http-port", str(free_port()), "--https-port", str(free_port()), "--data-path", data,
                             "--no-admin"], cwd=os.path.dirname(app_js), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(tests, make_servers, required_tools):
    """Runs `tests` (functions taking the servers and a temp dir); prints a line each and the
    summary. A test returning "skip: ..." is counted as skipped. Exit 77 without the tools."""
    missing = [t for t in required_tools if not shutil.which(t)]
    if missing:
        print("skip: not installed: %s" % " ".join(missing))
        return 77
    passed = failed = skipped = 0
    servers = make_servers()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for test in tests:
                start = time.monotonic()
                try:
                    outcome = test(servers, tmp)
                except Exception as e:  # an assertion or a tool failure: report and go on
                    failed += 1
                    print("FAIL %s (%.1fs): %s: %s" % (test.__name__, time.monotonic() - start, type(e).__name__, e))
                    sys.stdout.flush()
                    continue
                if isinstance(outcome, str) and outcome.startswith("skip"):
                    skipped += 1
                    print("SKIP %s: %s" % (test.__name__, outcome))
                else:
                    passed += 1
                    print("ok   %s (%.1fs)" % (test.__name__, time.monotonic() - start))
                sys.stdout.flush()
    finally:
        for srv in servers.values():
            rc = srv.stop()
            if rc != 0:
                failed += 1
                print("FAIL server exited with %s" % rc)
            for line in srv.stderr_lines:
                print("server: " + line)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0
