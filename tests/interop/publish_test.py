#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real publishers into rtmpx while real players watch, with sound.

Usage: publish_test.py SERVER_BINARY

Starts SERVER_BINARY (its "relay", "takeover" and "record" apps take published streams), then
publishes with ffmpeg (libx264 + aac from lavfi sources, and -c copy of an FLV file),
python-librtmp and nginx-rtmp's push directive, and plays with ffprobe, ffmpeg, rtmpdump and
python-librtmp. Prints one line per test and "N passed, N failed, N skipped". Exit 77 when
ffmpeg/ffprobe are not installed at all.
"""

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, decode, free_port, main as run_tests, on_server, run, streams, wait_for  # noqa: E402

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")
NGINX_RTMP = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

# 320x240 at 30/s with a key frame every `gop` frames, and a 440 Hz tone, both live (-re).
SOURCES = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]


def encode_args(gop=30):
    return ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(gop), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k"]


class Publisher:
    """An ffmpeg publishing to `url` until stopped (or for `seconds`)."""

    def __init__(self, url, gop=30, seconds=None, source=None):
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-re"]
        cmd += source if source else SOURCES
        if seconds:
            cmd += ["-t", str(seconds)]
        cmd += ([] if source else encode_args(gop)) + (["-c", "copy"] if source else []) + ["-f", "flv", url]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read().decode(errors="replace")


def assert_both_decoded(counts, rc, err, seconds):
    assert rc == 0 and err.strip() == "", "ffmpeg exited %d: %s" % (rc, err)
    assert len(counts) == 2, "expected audio and video, got streams %s" % counts
    video, audio = counts.get(0, 0), counts.get(1, 0)
    assert min(video, audio) >= 20 * seconds, "decoded only %s in %d s" % (counts, seconds)


def make_clip(path, seconds):
    """An FLV file of `seconds` of the test sources, as the publishers send them."""
    r = run(["ffmpeg", "-nostdin", "-v", "error"] + SOURCES + ["-t", str(seconds)] + encode_args(30) +
            ["-f", "flv", "-y", path])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return path


# ---------------------------------------------------------------------------------------------

def test_ffmpeg_publishes_and_players_get_video_and_audio(srv, tmp):
    pub = Publisher(srv.url(app="relay", name="cam"))
    try:
        assert streams(srv.url(app="relay", name="cam")) == ["aac", "h264"]
        results = {}
        dump = os.path.join(tmp, "relay.flv")

        def player(i):
            results[i] = decode(srv.url(app="relay", name="cam"), 3)

        threads = [threading.Thread(target=player, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        rec = subprocess.Popen(["rtmpdump", "--live", "-q", "-r", srv.url(app="relay", name="cam"), "-o", dump],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        librtmp = run([PYTHON, CLIENT, "play", srv.url(app="relay", name="cam"), "2.5"])
        time.sleep(0.5)
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=20)
        for t in threads:
            t.join()
        for i in sorted(results):
            assert_both_decoded(*results[i], 3)
        assert librtmp.returncode == 0, librtmp.stderr.decode(errors="replace")
        tags = json.loads(librtmp.stdout)
        assert tags["video"] >= 40 and tags["audio"] >= 40, "python-librtmp got %s" % tags
        p = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", dump])
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        assert sorted(s["codec_name"] for s in json.loads(p.stdout)["streams"]) == ["aac", "h264"]
        assert pub.proc.poll() is None, "the publisher ended: %s" % pub.stop()
    finally:
        pub.stop()


def test_a_player_that_comes_before_the_publisher_gets_the_stream(srv, tmp):
    url = srv.url(app="relay", name="early")
    result = {}
    player = threading.Thread(target=lambda: result.update(r=decode(url, 3)))
    player.start()
    time.sleep(1.0)
    pub = Publisher(url)
    try:
        player.join(timeout=40)
        assert "r" in result, "the player never finished"
        assert_both_decoded(*result["r"], 3)
    finally:
        pub.stop()


def test_a_player_joining_mid_group_starts_on_a_key_frame_at_once(srv, tmp):
    url = srv.url(app="relay", name="gop")
    pub = Publisher(url, gop=90)  # a key frame every 3 s
    try:
        streams(url)
        time.sleep(1.2)  # well inside a group
        start = time.monotonic()
        r = run(["ffprobe", "-v", "error", "-show_packets", "-read_intervals", "%+#20", "-of", "json", url])
        took = time.monotonic() - start
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        packets = json.loads(r.stdout)["packets"]
        video = [p for p in packets if p["codec_type"] == "video"]
        audio = [p for p in packets if p["codec_type"] == "audio"]
        assert video and audio, "packets: %s" % [p["codec_type"] for p in packets]
        assert "K" in video[0]["flags"], "the first video packet is not a key frame: %s" % video[0]
        assert int(video[0]["pts"]) < 200, "the first video packet is at %s ms" % video[0]["pts"]
        assert took < 2.5, "ffprobe waited %.1f s: the group was not served from the cache" % took
    finally:
        pub.stop()


def test_a_second_publisher_is_refused_and_the_first_goes_on(srv, tmp):
    url = srv.url(app="relay", name="dup")
    first = Publisher(url)
    try:
        streams(url)
        second = Publisher(url)
        try:
            second.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("the second publisher was not refused")
        assert second.proc.returncode != 0
        err = second.stop()
        assert "already published" in err or "BadName" in err, err
        assert_both_decoded(*decode(url, 2), 2)
        assert first.proc.poll() is None, "the first publisher ended: %s" % first.stop()
    finally:
        first.stop()


def test_with_takeover_a_second_publisher_replaces_the_first(srv, tmp):
    url = srv.url(app="takeover", name="cam")
    first = Publisher(url)
    second = None
    try:
        streams(url)
        second = Publisher(url)
        wait_for(lambda: first.proc.poll() is not None, 15, "the first publisher's connection to be closed")
        assert second.proc.poll() is None, "the second publisher ended: %s" % second.stop()
        assert_both_decoded(*decode(url, 2), 2)
        assert any("publisher took the stream over" in l for l in srv.stderr_lines), srv.stderr_lines[-5:]
    finally:
        first.stop()
        if second:
            second.stop()


def test_a_publisher_killed_mid_stream_ends_its_players_cleanly_and_may_come_back(srv, tmp):
    url = srv.url(app="relay", name="back")
    pub = Publisher(url)
    try:
        streams(url)
        result = {}
        player = threading.Thread(target=lambda: result.update(r=decode(url, 20)))
        player.start()
        time.sleep(2.0)
        pub.proc.kill()  # SIGKILL: most likely in the middle of a message
        pub.proc.wait()
        player.join(timeout=30)
        assert "r" in result, "the player did not end when the publisher left"
        counts, rc, err = result["r"]
        assert rc == 0 and err.strip() == "", "ffmpeg exited %d: %s" % (rc, err)
        assert min(counts.values()) >= 20, counts  # it played, then ended at UnpublishNotify
        pub = Publisher(url)
        assert streams(url) == ["aac", "h264"]
        assert_both_decoded(*decode(url, 2), 2)
    finally:
        pub.stop()


def test_ffmpeg_copies_an_flv_file_into_the_relay(srv, tmp):
    clip = make_clip(os.path.join(tmp, "clip.flv"), 6)
    url = srv.url(app="relay", name="copy")
    pub = Publisher(url, source=["-i", clip])
    try:
        assert streams(url) == ["aac", "h264"]
        assert_both_decoded(*decode(url, 2), 2)
    finally:
        pub.stop()


def test_python_librtmp_publishes_a_stream(srv, tmp):
    clip = make_clip(os.path.join(tmp, "py.flv"), 8)
    url = srv.url(app="relay", name="py")
    pub = subprocess.Popen([PYTHON, CLIENT, "publish", url, clip], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        assert streams(url) == ["aac", "h264"]
        assert_both_decoded(*decode(url, 2), 2)
        out, err = pub.communicate(timeout=30)
        assert pub.returncode == 0, err.decode(errors="replace")
        assert json.loads(out) > 400, out  # 8 s of video and audio tags
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()


def test_a_recording_of_a_publish_decodes_with_the_right_duration(srv, tmp):
    pub = Publisher(srv.url(app="record", name="take"), seconds=4)
    pub.proc.wait(timeout=30)
    assert pub.proc.returncode == 0, pub.stop()
    wait_for(lambda: any(l.startswith("recorded take:") for l in srv.stderr_lines), 10, "the recording to end")
    path = os.path.join(srv.record_dir, "take.flv")
    p = run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    info = json.loads(p.stdout)
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"], info["streams"]
    duration = float(info["format"]["duration"])
    assert 3.5 <= duration <= 4.5, "the recording lasts %.2f s" % duration
    counts, rc, err = decode(path, 10)
    assert rc == 0 and err.strip() == "", err
    assert counts.get(0, 0) >= 110 and counts.get(1, 0) >= 150, counts


def test_nginx_rtmp_pushes_into_rtmpx(srv, tmp):
    if not (shutil.which("nginx") and os.path.exists(NGINX_RTMP)):
        return "skip: nginx with libnginx-mod-rtmp is not installed"
    port = free_port()
    target = srv.base + "/relay"
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""load_module %s;
daemon off;
master_process off;
error_log %s/nginx-error.log;
pid %s/nginx.pid;
events { worker_connections 64; }
rtmp {
    server {
        listen 127.0.0.1:%d;
        application push { live on; push %s; }
    }
}
""" % (NGINX_RTMP, tmp, tmp, port, target))
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", tmp + "/"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pub = None
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 10, "nginx to listen")
        pub = Publisher("rtmp://127.0.0.1:%d/push/relayed" % port)
        assert streams(srv.url(app="relay", name="relayed")) == ["aac", "h264"]
        assert_both_decoded(*decode(srv.url(app="relay", name="relayed"), 2), 2)
    finally:
        if pub:
            pub.stop()
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()


def test_nothing_went_wrong_on_the_server(srv, tmp):
    # Every relay connection closed so far says what it received; none dropped media as broken.
    closed = [l for l in srv.stderr_lines if l.startswith("closed relay")]
    assert closed, "no relay connection closed"
    broken = [l for l in closed if "media_dropped=0" not in l]
    assert not broken, broken
    assert srv.alive()


TESTS = [
    test_ffmpeg_publishes_and_players_get_video_and_audio,
    test_a_player_that_comes_before_the_publisher_gets_the_stream,
    test_a_player_joining_mid_group_starts_on_a_key_frame_at_once,
    test_a_second_publisher_is_refused_and_the_first_goes_on,
    test_with_takeover_a_second_publisher_replaces_the_first,
    test_a_publisher_killed_mid_stream_ends_its_players_cleanly_and_may_come_back,
    test_ffmpeg_copies_an_flv_file_into_the_relay,
    test_python_librtmp_publishes_a_stream,
    test_a_recording_of_a_publish_decodes_with_the_right_duration,
    test_nginx_rtmp_pushes_into_rtmpx,
    test_nothing_went_wrong_on_the_server,
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    record_dir = tempfile.mkdtemp(prefix="rtmpx-record-")

    def make():
        srv = Server(sys.argv[1], "--record-dir", record_dir)
        srv.record_dir = record_dir
        return {"main": srv}

    try:
        return run_tests(on_server("main", TESTS), make, ["ffmpeg", "ffprobe"])
    finally:
        shutil.rmtree(record_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
