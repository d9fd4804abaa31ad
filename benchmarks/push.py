#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scale-out benchmark: rtmpx renders 720p and publishes it to nginx-rtmp, which serves N players.

    python3 benchmarks/push.py --build build-bench [--push PATH] [--players 10,100,1000] [--seconds 10]

`examples/push` (PATH; by default the first built one of BUILD/examples/push, build/examples/push,
build-test-g++/examples/push) renders and encodes 1280x720 H.264 at 30/s and publishes it to an
nginx-rtmp origin on 127.0.0.1 (one worker, config written here). For each N, `load_client`
plays N players from nginx; the push process and nginx are sampled (/proc: user+system CPU per
second, RSS) when all players play (READY) and S seconds later (DONE). rtmpx's figures should not
move with N: the fan-out is nginx's. Then nginx is killed and started again on the same port, and
the time from its listening to the push's "publishing" line is the reconnect time (median of 3).
Prints markdown; standard library only; everything started is stopped by PID.
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fanout import ROOT, free_port, log, nginx_server, proc_sample, spawn, started, stop  # noqa: E402


class PushProcess:
    def __init__(self, binary, url):
        self.proc = spawn([binary, url, "1280x720"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))

    def publishing_count(self):
        return sum(1 for _, l in self.lines if l == "publishing")

    def wait_publishing(self, count, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            hits = [t for t, l in self.lines if l == "publishing"]
            if len(hits) >= count:
                return hits[count - 1]
            time.sleep(0.01)
        raise RuntimeError("the push did not publish (%s)" % self.lines[-3:])


def window(client, port, n, seconds, pids):
    """load_client with N players; samples `pids` at READY and DONE: {pid: (cpu/s, rss KB)} and the client JSON."""
    p = spawn([client, "--host", "127.0.0.1", "--port", str(port), "--app", "live", "--stream", "clip", "--players", str(n),
               "--seconds", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = {}
    for line in p.stderr:
        word = line.strip()
        if word in ("READY", "DONE"):
            samples[word] = (time.monotonic(), {pid: proc_sample(pid) for pid in pids})
    p.wait(timeout=seconds + 120)
    started.remove(p)
    out = [l for l in p.stdout.read().splitlines() if l.startswith("{")]
    if "READY" not in samples or "DONE" not in samples or not out:
        raise RuntimeError("load_client did not finish (%d)" % p.returncode)
    (t0, a), (t1, b) = samples["READY"], samples["DONE"]
    figures = {pid: ((b[pid][0] + b[pid][1] - a[pid][0] - a[pid][1]) / (t1 - t0), b[pid][2]) for pid in pids}
    return figures, out[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--push", help="the push example binary")
    ap.add_argument("--players", default="10,100,1000")
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    client = os.path.join(build, "benchmarks", "load_client")
    push = args.push or next((c for c in (os.path.join(build, "examples", "push"), os.path.join(ROOT, "build", "examples", "push"),
                                          os.path.join(ROOT, "build-test-g++", "examples", "push")) if os.access(c, os.X_OK)), None)
    if not push or not os.access(client, os.X_OK):
        sys.exit("needs load_client (meson compile -C %s benchmarks/load_client) and examples/push (--push)" % args.build)
    tmp = tempfile.mkdtemp(prefix="rtmpx-push-")
    port = free_port()
    rows, reconnects = [], []
    try:
        nginx = nginx_server(tmp, port)
        pusher = PushProcess(push, "rtmp://127.0.0.1:%d/live/clip" % port)
        pusher.wait_publishing(1)
        time.sleep(2)
        idle = proc_sample(pusher.proc.pid)[2]
        for n in [int(x) for x in args.players.split(",") if x]:
            log("== %d players through nginx ..." % n)
            figures, result = window(client, port, n, args.seconds, [pusher.proc.pid, nginx.pid])
            realtime = int(re.search(r'"realtime":(\d+)', result).group(1))
            rows.append((n, realtime, figures[pusher.proc.pid], figures[nginx.pid]))
        for i in range(3):
            nginx.kill()  # SIGKILL: the origin dies under the publisher
            nginx.wait()
            started.remove(nginx)
            before = pusher.publishing_count()
            time.sleep(1.0)
            nginx = nginx_server(tmp, port)
            up = time.monotonic()
            reconnects.append(pusher.wait_publishing(before + 1) - up)
            time.sleep(2)
    finally:
        for p in list(started):
            stop(p)
    print("### One 720p stream rendered by rtmpx, published to nginx-rtmp, played by N players through nginx\n")
    print("| players | real-time | rtmpx push CPU/s | rtmpx push RSS MB | nginx CPU/s | nginx RSS MB |")
    print("|--:|--:|--:|--:|--:|--:|")
    for n, realtime, (pcpu, prss), (ncpu, nrss) in rows:
        print("| %d | %d/%d | %.3f | %.1f | %.3f | %.1f |" % (n, realtime, n, pcpu, prss / 1024, ncpu, nrss / 1024))
    print("\nrtmpx push RSS when idle before the first window: %.1f MB" % (idle / 1024))
    print("Reconnect after nginx was killed and started again (its listening -> push publishing): %s s, median %.2f s"
          % (", ".join("%.2f" % r for r in reconnects), statistics.median(reconnects)))


if __name__ == "__main__":
    main()
