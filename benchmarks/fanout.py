#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fan-out benchmark: one live 720p clip with audio played by N players, rtmpx against nginx-rtmp.

    python3 benchmarks/fanout.py --build build-bench [--players 1,10,100] [--seconds 10] [--out DIR]

For each server (nginx-rtmp; rtmpx thread-per-connection; rtmpx with a pool of 2 threads; rtmpx
relaying a publisher, pool of 2 threads; and by name only, RTMPS: nginx-tls, nginx's stream TLS
proxy in front of nginx-rtmp in the same nginx process, and rtmpx-relay-tls, the relay's own
RTMPS listener, both with the players on TLS and the publisher on plain RTMP; and rtmpx-wake, thread
per connection with `producer_writes` off, every frame waking every player's thread) and each N,
the server is started fresh, left idle 2 s
(idle RSS), then `load_client` plays N players. The client prints READY when all of them play and
DONE S seconds later; the server's /proc/PID/stat (utime, stime) and VmRSS are sampled at both
lines. Only the server process is measured. nginx and rtmpx-relay get the same publisher, an
ffmpeg copying the clip at real-time pace (`-re -c copy`), which is NOT counted: that pair is like
for like. In the other rtmpx modes the clip reader runs inside the server and IS counted. Writes results.csv, ratios.csv, fanout.gp and fanout.png into --out
and prints markdown tables. Standard library only; everything started is stopped by PID.
"""

import argparse
import csv
import json
import math
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIP_SECONDS = 20
SERVERS = ("nginx", "rtmpx", "rtmpx-pool", "rtmpx-relay", "nginx-tls", "rtmpx-relay-tls", "rtmpx-wake")
DEFAULT_SERVERS = ("nginx", "rtmpx", "rtmpx-pool", "rtmpx-relay")
NOTE = ("CPU is the server process only: the publishing ffmpeg of nginx and rtmpx-relay is not counted; "
        "rtmpx and rtmpx-pool read the clip inside the server, which is counted.")

started = []  # every Popen this script started, stopped in `finally`


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def spawn(args, log_path=None, **kw):
    """Popen, remembered for `stop`; stderr appended to `log_path` if given."""
    if log_path:
        with open(log_path, "ab") as f:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=f, **kw)
    else:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kw)
    started.append(p)
    return p


def stop(p):
    """SIGTERM, then SIGKILL after 5 s; by PID, never by name."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in started:
        started.remove(p)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def proc_sample(pid):
    """(utime s, stime s, VmRSS KB) of a process, all threads included."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14 and 15
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return utime, stime, rss


def sched_ns(pid):
    """{tid: run time ns} from /proc/PID/task/*/schedstat: user+system at ns resolution (the tick
    counts of /proc/PID/stat are 10 ms apart, too coarse for a few players)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except OSError:
            pass  # the thread just ended
    return out


def machine_cpu():
    """System-wide CPU seconds from /proc/stat: (busy, softirq, total). Loopback TCP work done in
    softirq context may be charged to no process, so this shows whether the 2 cores were full."""
    with open("/proc/stat") as f:
        v = [int(x) / CLK_TCK for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal, softirq, sum(v[:8])


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---- servers ------------------------------------------------------------------------------------

def start_nginx(tmp, clip, tls=None):
    """nginx-rtmp and its publisher; with `tls` (cert, key), the players' port is nginx's stream
    TLS proxy in front of it. Returns (server, the players' port, [publisher])."""
    port = free_port()
    tls_port = free_port() if tls else None
    server = nginx_server(tmp, port, tls_port, tls)
    return server, tls_port or port, [publish(clip, port, tmp)]


def nginx_server(tmp, port, tls_port=None, tls=None):
    """nginx-rtmp on 127.0.0.1:`port`: one worker, no master, application live; with `tls_port`,
    a stream TLS proxy to it there, in the same process."""
    conf = os.path.join(tmp, "nginx.conf")
    proxy = ""
    if tls_port:
        proxy = f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
stream {{
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {tls[0]};
        ssl_certificate_key {tls[1]};
        proxy_pass 127.0.0.1:{port};
    }}
}}
"""
    with open(conf, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
{proxy}daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
error_log {tmp}/error.log;
pid {tmp}/nginx.pid;
events {{ worker_connections 10000; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{ live on; }}
    }}
}}
""")
    # master_process off: the process started here is the one that serves (and is measured).
    server = spawn(["nginx", "-c", conf, "-p", tmp + "/"],
                   stdout=subprocess.DEVNULL, log_path=os.path.join(tmp, "nginx.stderr"))
    wait_listening(port, server)
    if tls_port:
        wait_listening(tls_port, server)
    return server


def publish(clip, port, tmp):
    """The publisher of nginx and rtmpx-relay: ffmpeg copying the clip, looped, at real-time pace."""
    return spawn(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
                  "-i", clip, "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{port}/live/clip"],
                 stdout=subprocess.DEVNULL, log_path=os.path.join(tmp, "publisher.stderr"))


def read_port(server, word):
    """The port fanout_server prints on a line `WORD NNNN`."""
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        if server.poll() is not None:
            raise RuntimeError(f"fanout_server exited with {server.returncode}")
        r, _, _ = select.select([server.stdout], [], [], 0.2)
        if r:
            c = os.read(server.stdout.fileno(), 1)
            if not c:
                break
            line += c
    words = line.decode(errors="replace").split()
    if len(words) != 2 or words[0] != word:
        raise RuntimeError(f"fanout_server did not print '{word} NNNN' (got {line!r})")
    return int(words[1])


def start_rtmpx(binary, clip, threads, tmp, relay=False, tls=None, producer_writes=True):
    """fanout_server (and its publisher when relaying); with `tls` (cert, key), the players' port
    is its RTMPS listener. Returns (server, the players' port, [publisher])."""
    source = ["--relay"] if relay else [clip]
    server = spawn([binary, *source, "--threads", str(threads), *(["--tls", *tls] if tls else []),
                    *([] if producer_writes else ["--no-producer-writes"])],
                   stdout=subprocess.PIPE, log_path=os.path.join(tmp, f"fanout_server-{threads}.stderr"))
    port = read_port(server, "port")
    players_port = read_port(server, "tls-port") if tls else port
    return server, players_port, [publish(clip, port, tmp)] if relay else []


# ---- one measurement ----------------------------------------------------------------------------

def run_client(client, port, n, seconds, server, tls=False):
    """Runs load_client; samples the server at READY and DONE. Returns (json, samples)."""
    p = spawn([client, "--host", "127.0.0.1", "--port", str(port), "--app", "live", "--stream", "clip",
               "--players", str(n), "--seconds", str(seconds), *(["--tls", "1"] if tls else [])],
              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples, other = {}, []

    def read_stderr():
        for line in p.stderr:
            word = line.strip()
            if word in ("READY", "DONE"):
                try:
                    samples[word] = (time.monotonic(), *proc_sample(server.pid), sched_ns(server.pid),
                                     machine_cpu())
                except OSError:
                    samples[word] = None  # the server is gone
            else:
                other.append(line.rstrip())

    t = threading.Thread(target=read_stderr, daemon=True)
    t.start()
    try:
        p.wait(timeout=seconds + 5 + 15 + 60)  # ramp (≤ 5 s) + READY timeout (15 s) + margin
    except subprocess.TimeoutExpired:
        stop(p)
        raise RuntimeError("load_client timed out")
    started.remove(p)
    t.join(5)
    out = p.stdout.read()  # one JSON line: it fits in the pipe while the client runs
    for line in other:
        log("   ", line)
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"load_client failed ({p.returncode})")
    return json.loads(lines[-1]), samples


def self_signed(tmp):
    """A certificate and key for 127.0.0.1 (the players do not check it), made once."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
    return cert, key


def measure(kind, n, args, tmp, clip, client, rtmpx_bin, clip_bps):
    extra = []
    server = None
    tls = self_signed(tmp) if kind.endswith("-tls") else None
    try:
        if kind.startswith("nginx"):
            server, port, extra = start_nginx(tmp, clip, tls)
        else:
            server, port, extra = start_rtmpx(rtmpx_bin, clip, 0 if kind in ("rtmpx", "rtmpx-wake") else 2, tmp,
                                              kind.startswith("rtmpx-relay"), tls, kind != "rtmpx-wake")
        time.sleep(2)
        if server.poll() is not None or any(e.poll() is not None for e in extra):
            raise RuntimeError("server or publisher exited during the idle wait")
        idle_rss = proc_sample(server.pid)[2]
        load = loadavg()
        r, s = run_client(client, port, n, args.seconds, server, tls is not None)
    finally:
        for p in extra + ([server] if server else []) + list(started):  # publisher first, then server
            stop(p)
    if not s.get("READY") or not s.get("DONE"):
        raise RuntimeError("the server could not be sampled at READY and DONE")
    (t0, u0, s0, _, sch0, m0), (t1, u1, s1, rss, sch1, m1) = s["READY"], s["DONE"]
    wall = t1 - t0
    # Threads that ended inside the window lose their in-window time here; /proc/PID/stat keeps it.
    sched = sum(ns - sch0.get(tid, 0) for tid, ns in sch1.items()) / 1e9
    user, system = u1 - u0, s1 - s0
    gb = r["bytes"] / 1e9
    per_gb = (lambda v: v / gb) if gb > 0 else (lambda v: float("nan"))
    row = {
        "server": kind, "players": n,
        "connected": r["connected"], "playing": r["playing"], "realtime": r["realtime"], "errors": r["errors"],
        "window_s": wall, "bytes": r["bytes"], "gb": gb,
        # delivered / what N real-time players of the clip's bitrate would receive
        "delivered_fraction": r["bytes"] / (n * clip_bps * r["seconds"]) if clip_bps else float("nan"),
        "cpu_user_per_s": user / wall, "cpu_sys_per_s": system / wall, "cpu_total_per_s": (user + system) / wall,
        "cpu_user_per_gb": per_gb(user), "cpu_sys_per_gb": per_gb(system), "cpu_total_per_gb": per_gb(user + system),
        "cpu_sched_per_s": sched / wall, "cpu_sched_per_gb": per_gb(sched),
        "rss_idle_kb": idle_rss, "rss_done_kb": rss, "rss_per_player_kb": (rss - idle_rss) / n,
        "latency_p50_ms": r["latency_ms"]["p50"], "latency_p99_ms": r["latency_ms"]["p99"],
        "connect_to_play_start_p50_ms": r["connect_to_play_start_ms"]["p50"],
        "connect_to_play_start_p99_ms": r["connect_to_play_start_ms"]["p99"],
        "play_to_first_video_p50_ms": r["play_to_first_video_ms"]["p50"],
        "play_to_first_video_p99_ms": r["play_to_first_video_ms"]["p99"],
        "lag_max_ms": r["lag_ms"]["max"],
        # the whole machine (all processes, other users' work included), in cores
        "machine_busy_cores": (m1[0] - m0[0]) / wall, "machine_softirq_cores": (m1[1] - m0[1]) / wall,
        "client_cpu_per_s": (r["client_cpu_s"]["user"] + r["client_cpu_s"]["system"]) / r["seconds"],
        "client_cpu_user_s": r["client_cpu_s"]["user"], "client_cpu_sys_s": r["client_cpu_s"]["system"],
        "loadavg_before": load,
    }
    return {k: (float("nan") if v is None else v) for k, v in row.items()}


# ---- reporting ----------------------------------------------------------------------------------

def fmt(v, digits=3):
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.0f}"
    return str(v)


def ratio(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return float("nan")
    return a / b


# (metric, column, goal, test: ratio -> met, applies(mode, n))
GOALS = [
    ("total CPU/GB", "cpu_total_per_gb", "<= 0.9x", lambda r: r <= 0.9, lambda m, n: True),
    ("user CPU/GB", "cpu_user_per_gb", "<= 0.5x", lambda r: r <= 0.5, lambda m, n: True),
    ("realtime players", "realtime", ">= nginx", lambda r: r >= 1, lambda m, n: True),
    ("RSS/player", "rss_per_player_kb", "<= 2x (pool)", lambda r: r <= 2, lambda m, n: m == "rtmpx-pool"),
    ("connect->Play.Start p50", "connect_to_play_start_p50_ms", "<= 1/20", lambda r: r <= 0.05, lambda m, n: True),
    ("play->first video p50", "play_to_first_video_p50_ms", "<= 1/10", lambda r: r <= 0.1, lambda m, n: True),
    ("latency p99", "latency_p99_ms", "<= 1/4 (N=100)", lambda r: r <= 0.25, lambda m, n: n == 100),
]
EXTRA_RATIOS = ["cpu_sys_per_gb", "cpu_total_per_s", "latency_p50_ms", "connect_to_play_start_p99_ms",
                "play_to_first_video_p99_ms"]


def ratios(rows):
    by = {(r["server"], r["players"]): r for r in rows}
    out = []
    for (mode, n), r in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        base = by.get(("nginx-tls" if mode.endswith("-tls") else "nginx", n))  # TLS against TLS
        if mode.startswith("nginx") or base is None:
            continue
        for name, col, goal, test, applies in GOALS:
            q = ratio(float(r[col]), float(base[col]))
            if col == "realtime":
                met = r["realtime"] >= base["realtime"]
            else:
                met = (test(q) if not math.isnan(q) else None) if applies(mode, n) else None
            out.append({"players": n, "mode": mode, "metric": name, "column": col, "rtmpx": r[col],
                        "nginx": base[col], "ratio": q, "goal": goal if applies(mode, n) else "",
                        "met": "" if met is None else ("yes" if met else "NO")})
        for col in EXTRA_RATIOS:
            out.append({"players": n, "mode": mode, "metric": col, "column": col, "rtmpx": r[col],
                        "nginx": base[col], "ratio": ratio(float(r[col]), float(base[col])), "goal": "", "met": ""})
    return out


def markdown(rows, rat):
    lines = ["### Measured (server process only; window = READY..DONE)", "",
             "| server | N | realtime/N | CPU/s usr+sys | CPU s/GB usr | sys | total | total (ns clock) | RSS KB/player "
             "| latency p50/p99 ms | connect->Play.Start p50/p99 ms | play->1st video p50/p99 ms "
             "| delivered | client CPU/s | machine busy / softirq cores |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        lines.append(
            f"| {r['server']} | {r['players']} | {r['realtime']}/{r['players']} | {fmt(r['cpu_total_per_s'])} "
            f"| {fmt(r['cpu_user_per_gb'])} | {fmt(r['cpu_sys_per_gb'])} | {fmt(r['cpu_total_per_gb'])} "
            f"| {fmt(r['cpu_sched_per_gb'])} "
            f"| {fmt(r['rss_per_player_kb'])} | {fmt(r['latency_p50_ms'])} / {fmt(r['latency_p99_ms'])} "
            f"| {fmt(r['connect_to_play_start_p50_ms'])} / {fmt(r['connect_to_play_start_p99_ms'])} "
            f"| {fmt(r['play_to_first_video_p50_ms'])} / {fmt(r['play_to_first_video_p99_ms'])} "
            f"| {fmt(r['delivered_fraction'])} | {fmt(r['client_cpu_per_s'])} "
            f"| {fmt(r['machine_busy_cores'], 2)} / {fmt(r['machine_softirq_cores'], 2)} |")
    lines += ["", NOTE, "CPU s/GB columns: /proc/PID/stat ticks (10 ms steps: coarse at small N); "
              "'ns clock': the same total from /proc/PID/task/*/schedstat.",
              "Latency: arrival - (ts + baseline), baseline = each player's smallest arrival - ts, "
              "frames from 2 s after its first one.", ""]
    by = {(r["server"], r["players"]): r for r in rows}
    tls_rows = [(k, n) for (k, n) in sorted(by, key=lambda kn: (kn[1], kn[0])) if k.endswith("-tls") and (k[:-4], n) in by]
    if tls_rows:
        lines += ["### What TLS costs (the same server with its players on RTMPS, against plain RTMP)", "",
                  "| N | server | CPU s/GB plain | CPU s/GB TLS | TLS / plain | realtime TLS |", "|--:|---|--:|--:|--:|--:|"]
        for k, n in tls_rows:
            plain, tls = by[(k[:-4], n)], by[(k, n)]
            lines.append(f"| {n} | {k[:-4]} | {fmt(plain['cpu_total_per_gb'])} | {fmt(tls['cpu_total_per_gb'])} "
                         f"| {fmt(ratio(tls['cpu_total_per_gb'], plain['cpu_total_per_gb']), 2)} | {tls['realtime']}/{n} |")
        lines += ["", "nginx-tls is one nginx process: the stream module's TLS proxy and nginx-rtmp behind it "
                  "(a second loopback connection per player).", ""]
    if not rat:
        lines.append("(no rtmpx rows: no ratios)")
        return "\n".join(lines)
    lines += ["### rtmpx / nginx (goal in brackets; * = goal missed)", "",
              "| N | mode | " + " | ".join(f"{g[0]} [{g[2]}]" for g in GOALS) + " |",
              "|--:|---|" + "--:|" * len(GOALS)]
    keys = sorted({(x["players"], x["mode"]) for x in rat})
    for n, mode in keys:
        cells = []
        for name, col, *_ in GOALS:
            x = next(x for x in rat if x["players"] == n and x["mode"] == mode and x["metric"] == name)
            if col == "realtime":
                cell = f"{x['rtmpx']} vs {x['nginx']}"
            else:
                cell = fmt(x["ratio"], 2)
            cells.append(cell + (" *" if x["met"] == "NO" else ""))
        lines.append(f"| {n} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows, out):
    """fanout.gp + fanout.png: CPU/GB, real-time players, RSS/player and latency p99 against N."""
    present = [k for k in SERVERS if any(r["server"] == k for r in rows)]
    for k in present:
        with open(os.path.join(out, f"fanout-{k}.dat"), "w") as f:
            f.write("# N cpu_total_per_gb cpu_user_per_gb realtime_fraction rss_per_player_kb latency_p99_ms\n")
            for r in sorted((r for r in rows if r["server"] == k), key=lambda r: r["players"]):
                vals = [r["players"], r["cpu_total_per_gb"], r["cpu_user_per_gb"], r["realtime"] / r["players"],
                        r["rss_per_player_kb"], r["latency_p99_ms"]]
                f.write(" ".join("NaN" if isinstance(v, float) and math.isnan(v) else str(v) for v in vals) + "\n")

    def series(col, extra="", suffix=""):  # one colour per server in every panel
        return ", ".join(f"'fanout-{k}.dat' using 1:{col} with linespoints lc {SERVERS.index(k) + 1} {extra} "
                         f"title '{k}{suffix}'" for k in present)

    gp = f"""# Generated by benchmarks/fanout.py; run in this directory: gnuplot fanout.gp
set terminal pngcairo size 1400,1000 font ',10'
set output 'fanout.png'
set multiplot layout 2,2 title 'RTMP fan-out of one 2.5 Mbit/s 720p30 clip with AAC (server CPU only)'
set logscale x
set xlabel 'players'
set grid
set key top left
set title 'server CPU-seconds per GB delivered (total solid, user dashed)'
plot {series(2)}, {series(3, "dt 2", " user")}
set title 'players kept real-time (fraction)'
set yrange [0:1.05]
plot {series(4)}
set autoscale y
set title 'RSS growth per player (KB)'
plot {series(5)}
set title 'latency p99 above each player''s best frame (ms)'
plot {series(6)}
unset multiplot
"""
    with open(os.path.join(out, "fanout.gp"), "w") as f:
        f.write(gp)
    if shutil.which("gnuplot"):
        res = subprocess.run(["gnuplot", "fanout.gp"], cwd=out, capture_output=True, text=True)
        if res.returncode != 0:
            log("gnuplot failed:", res.stderr.strip())


# ---- main ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-bench", help="meson build dir (with benchmarks/load_client)")
    ap.add_argument("--players", default="1,10,100,400,1600", help="comma-separated player counts")
    ap.add_argument("--seconds", type=float, default=10, help="measurement window per run")
    ap.add_argument("--servers", default=",".join(DEFAULT_SERVERS), help="subset of " + ",".join(SERVERS))
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"), help="output directory")
    ap.add_argument("--clip", help="use this FLV instead of encoding one")
    args = ap.parse_args()
    players = [int(x) for x in args.players.split(",") if x]
    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s}")
    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    client = os.path.join(build, "benchmarks", "load_client")
    rtmpx_bin = os.path.join(build, "benchmarks", "fanout_server")
    if not os.access(client, os.X_OK):
        sys.exit(f"{client} missing: meson compile -C {args.build} benchmarks/load_client")
    if any(not s.startswith("nginx") for s in servers) and not os.access(rtmpx_bin, os.X_OK):
        log(f"NOTE: {rtmpx_bin} is missing: the rtmpx runs are skipped.")
        servers = [s for s in servers if s.startswith("nginx")]
    if any(s.startswith("nginx") for s in servers) and not os.path.exists("/usr/lib/nginx/modules/ngx_rtmp_module.so"):
        log("NOTE: nginx-rtmp (libnginx-mod-rtmp) is not installed: the nginx runs are skipped.")
        servers = [s for s in servers if not s.startswith("nginx")]
    if "nginx-tls" in servers and not os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
        log("NOTE: nginx's stream module (libnginx-mod-stream) is not installed: nginx-tls is skipped.")
        servers = [s for s in servers if s != "nginx-tls"]
    os.makedirs(args.out, exist_ok=True)

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    rows = []
    tmp = tempfile.mkdtemp(prefix="rtmpx-fanout-")
    try:
        clip = args.clip
        if not clip:
            clip = os.path.join(tmp, "clip.flv")
            log("encoding the clip (20 s, 1280x720 30 fps, 2.5 Mbit/s, GOP 60; AAC 128 kbit/s) ...")
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                            "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
                            "-t", str(CLIP_SECONDS), "-c:v", "libx264",
                            "-preset", "veryfast", "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
                            "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
                            "-c:a", "aac", "-b:a", "128k", "-f", "flv", clip], check=True)
        clip_bps = os.path.getsize(clip) / CLIP_SECONDS  # bytes per second of media, roughly
        for kind in servers:
            for n in players:
                log(f"== {kind}, {n} players ...")
                try:
                    row = measure(kind, n, args, tmp, clip, client, rtmpx_bin, clip_bps)
                except RuntimeError as e:
                    log(f"   FAILED: {e}")
                    continue
                rows.append(row)
                log(f"   realtime {row['realtime']}/{n}, CPU/s {row['cpu_total_per_s']:.3f}, "
                    f"CPU s/GB {fmt(row['cpu_total_per_gb'])}, client CPU/s {row['client_cpu_per_s']:.3f}")
        if not rows:
            sys.exit("no measurement succeeded")
        with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
        rat = ratios(rows)
        with open(os.path.join(args.out, "ratios.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["players", "mode", "metric", "column", "rtmpx", "nginx", "ratio",
                                              "goal", "met"])
            w.writeheader()
            w.writerows(rat)
        plot(rows, args.out)
        print(markdown(rows, rat))
        log(f"written: {args.out}/results.csv, ratios.csv, fanout.gp, fanout.png")
    finally:
        for p in list(started):
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM; `main` has stopped what it started
        sys.exit("fanout.py: interrupted")
