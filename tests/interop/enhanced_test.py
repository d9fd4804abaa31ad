#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Enhanced RTMP through rtmpx: a real Enhanced FLV file (AV1 + Opus, made outside this project)
published into the relay, read back by rtmpx's own client, refused to legacy players, decoded.

Usage: enhanced_test.py SERVER_BINARY

python-librtmp publishes tests/fixtures/eflv/testsrc.flv tag for tag into SERVER_BINARY's relay,
once, while these watch it:
- two more SERVER_BINARY processes pull it (rtmpx's client, declaring every FourCC) and record
  what they receive (--record-pull): one waiting before the publish, one joining 3 s in;
- ffprobe, a legacy player (its connect declares no codec), plays it;
- with node-media-server (RTMPX_NODE_MEDIA_SERVER), the relay also pushes it there and a fourth
  SERVER_BINARY pulls it back from there.
The tests then compare the recordings with the file tag for tag, and decode the AV1 with ffmpeg.
Then a drain: a server with 10 rtmpx pullers (declaring Reconnect) and 10 rtmpdump players is
drained (SIGUSR1) to a second server; the pullers move, the players end at the deadline.
Prints one line per test and "N passed, N failed, N skipped".
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Server, free_port, listening, main as run_tests, node_media_server, run, stop_process,  # noqa: E402
                     tmp_only, wait_for)

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")
EFLV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "eflv", "testsrc.flv")
NMS = os.environ.get("RTMPX_NODE_MEDIA_SERVER", "")
BINARY = ""
RUN = {}  # what the one publish left: recordings, ffprobe's answer


def flv_tags(path):
    """(type, body) of each audio and video tag of an FLV file, in order."""
    return [(kind, body) for kind, _, body in harness.flv_tags(path) if kind in (8, 9)]


def is_config(tag):
    """An Enhanced SequenceStart (video or audio) or MultichannelConfig: packet types 0 and 4 (audio)."""
    kind, body = tag
    return (body[0] & 0x0f) == 0 or (kind == 8 and (body[0] & 0x0f) == 4)


def describe(tag):
    return "%s %02x %s (%d bytes)" % ("video" if tag[0] == 9 else "audio", tag[1][0], tag[1][1:5], len(tag[1]))


def first_difference(got, expected):
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return "tag %d: got %s, expected %s" % (i, describe(g), describe(e))
    return "%d tags, expected %d" % (len(got), len(expected))


def puller(url, path):
    """rtmpx's client: a server pulling `url` and recording what arrives to `path`."""
    return Server(BINARY, "--pull", url, "--record-pull", path)


def test_the_vector_is_published_once_while_everyone_watches(tmp):
    nms_port = None
    nms = None
    if NMS and shutil.which("node"):
        nms_port = free_port()
        nms = node_media_server(NMS, nms_port, os.path.join(tmp, "nms"))
        wait_for(lambda: listening(nms_port), 20, "node-media-server to listen")
    nms_url = "rtmp://127.0.0.1:%d/live/eflv" % nms_port if nms_port else None
    origin = Server(BINARY, *(["--push", "eflv=" + nms_url] if nms_url else []))
    url = origin.url(app="relay", name="eflv")
    paths = {name: os.path.join(tmp, name + ".flv") for name in ("waiting", "late", "through-nms")}
    pullers = {"waiting": puller(url, paths["waiting"])}
    if nms_url:
        pullers["through-nms"] = puller(nms_url, paths["through-nms"])
    pub = None
    try:
        time.sleep(1.0)  # the pullers play before the publisher comes
        pub = subprocess.Popen([PYTHON, CLIENT, "publish", url, EFLV], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        time.sleep(2.0)
        started = time.monotonic()
        probe = run(["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", url], timeout=20)
        RUN["ffprobe"] = (probe.returncode, probe.stderr.decode(errors="replace"), time.monotonic() - started)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        pullers["late"] = puller(url, paths["late"])
        out, err = pub.communicate(timeout=40)
        assert pub.returncode == 0, err.decode(errors="replace")
        time.sleep(1.0)  # the last tags reach the recorders
    finally:
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()
        for name, p in pullers.items():
            rc = p.stop()
            RUN.setdefault("puller-logs", {})[name] = (rc, p.stderr_lines)
        rc = origin.stop()
        RUN["origin-log"] = (rc, origin.stderr_lines)
        if nms is not None:
            stop_process(nms)
    for name, p in pullers.items():
        RUN[name] = flv_tags(paths[name])
    assert RUN["origin-log"][0] == 0, RUN["origin-log"]


def sent():
    return flv_tags(EFLV)


def test_an_rtmpx_client_waiting_for_the_publisher_gets_every_tag_byte_identical(tmp):
    got, expected = RUN["waiting"], sent()
    assert got == expected, "the waiting client's recording differs: " + first_difference(got, expected)


def test_an_rtmpx_client_joining_mid_stream_gets_the_configuration_colorinfo_and_the_group(tmp):
    # The latest configuration (SequenceStart of each kind, MultichannelConfig), the latest
    # colorInfo, then the cached group: from the key frame on, every tag as published.
    expected_all = sent()
    key = next(i for i, t in enumerate(expected_all) if t[0] == 9 and t[1][0] == 0x91)
    config = {}
    for t in expected_all[:key]:
        if is_config(t):
            config[(t[0], t[1][0] & 0x0f)] = t
    color_info = [t for t in expected_all[:key] if t[0] == 9 and (t[1][0] & 0x0f) == 4]
    expected = list(config.values()) + color_info[-1:] + expected_all[key:]
    got = RUN["late"]
    assert got == expected, "the late client's recording differs: " + first_difference(got, expected)


def test_ffprobe_a_legacy_player_gets_play_failed_at_once_saying_why(tmp):
    rc, err, seconds = RUN["ffprobe"]
    assert rc != 0, "ffprobe read the stream: " + err
    assert "av01" in err and "declared none" in err, "ffprobe did not say why: " + err
    assert seconds < 5, "ffprobe took %.1f s to learn it" % seconds


def test_ffmpeg_decodes_the_relayed_av1(tmp):
    # The AV1 CodedFrames are OBUs in the low-overhead format, each opening with a temporal
    # delimiter: together they are an AV1 elementary stream ffmpeg reads with -f obu.
    frames = [body[5:] for kind, body in RUN["waiting"] if kind == 9 and (body[0] & 0x0f) == 1 and body[1:5] == b"av01"]
    assert len(frames) == 300, "%d AV1 frames recorded" % len(frames)
    path = os.path.join(tmp, "relayed.obu")
    with open(path, "wb") as f:
        f.write(b"".join(frames))
    r = run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
             "-of", "default=noprint_wrappers=1", "-f", "obu", path])
    out = r.stdout.decode()
    assert r.returncode == 0 and r.stderr.strip() == b"", r.stderr.decode(errors="replace")
    assert "codec_name=av1" in out and "nb_read_frames=300" in out, out
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-f", "obu", "-i", path, "-f", "null", "-"])
    assert r.returncode == 0 and r.stderr.strip() == b"", r.stderr.decode(errors="replace")


def test_node_media_server_takes_the_push_and_gives_it_back_to_an_rtmpx_client(tmp):
    if "through-nms" not in RUN:
        return "skip: node-media-server is not installed (RTMPX_NODE_MEDIA_SERVER)"
    got, expected = RUN["through-nms"], sent()
    frames = [t for t in expected if not is_config(t)]
    assert [t for t in got if not is_config(t)] == frames, "through node-media-server: " + first_difference(
        [t for t in got if not is_config(t)], frames)


def test_a_drain_moves_the_clients_that_declared_reconnect_and_lets_the_others_finish(tmp):
    # 20 players of a rendered broadcast: 10 rtmpx pullers (they declare capsEx Reconnect) and 10
    # rtmpdump players (they declare nothing). The first server is drained to the second.
    second = Server(BINARY)
    first = Server(BINARY, "--drain-to", second.url(app="broadcast", name=None))
    pulls = None
    dumps = []
    try:
        pulls = Server(BINARY, "--pull", first.url(app="broadcast", name="scene"), "--pulls", "10")
        dumps = [subprocess.Popen(["rtmpdump", "--live", "-q", "-r", first.url(app="broadcast", name="scene"), "-o", os.devnull],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(10)]

        def started(count):
            return len([l for l in pulls.stderr_lines if l.startswith("pull") and ": started " in l]) >= count

        wait_for(lambda: started(10), 20, "10 pullers to play")
        time.sleep(1.0)  # the rtmpdump players too
        first.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "drained" in first.stderr_lines, 20, "the drain to end")
        wait_for(lambda: started(20), 10, "the pullers to play on the second server")
        for d in dumps:
            d.wait(timeout=10)  # closed at the deadline
        time.sleep(1.0)
        # The stream goes on, on the second server, decodable from a key frame on.
        r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-rw_timeout", "10000000", "-i", pulls.url(app="edge", name="scene"),
                 "-t", "2", "-f", "null", "-"])
        assert r.returncode == 0 and r.stderr.strip() == b"", r.stderr.decode(errors="replace")
    finally:
        for d in dumps:
            stop_process(d)
        rc_pulls = pulls.stop() if pulls else None
        rc_first, rc_second = first.stop(), second.stop()
    assert (rc_pulls, rc_first, rc_second) == (0, 0, 0), (rc_pulls, rc_first, rc_second)
    closed = [l for l in first.stderr_lines if l.startswith("closed broadcast ")]
    ids = [l.split()[2] for l in closed]
    assert len(closed) == 20 and len(set(ids)) == 20, "each connect handler told once: %s" % closed
    moved = [l for l in closed if l.endswith("reason=none")]
    ended = [l for l in closed if "reason=server drained" in l]
    assert len(moved) == 10 and len(ended) == 10, closed
    on_second = [l for l in second.stderr_lines if l.startswith("closed broadcast ")]
    assert len(on_second) == 10, "the second server had %d of the pullers: %s" % (len(on_second), second.stderr_lines)
    for i in range(1, 11):
        name = "pull" if i == 1 else "pull#%d" % i
        starts = [l for l in pulls.stderr_lines if l.startswith(name + " ") and ": started " in l]
        assert len(starts) == 2, (name, starts)
        at_switch = int(starts[1].split("frames_sent=")[1].split()[0])
        total = int([l for l in pulls.stderr_lines if l.startswith("pull#%d frames_sent=" % i)][0].split("=")[1])
        assert total > at_switch + 30, "%s: %d messages at the switch, %d at the end" % (name, at_switch, total)


def test_nothing_went_wrong(tmp):
    rc, lines = RUN["origin-log"]
    assert not [l for l in lines if "media_dropped=" in l and "media_dropped=0" not in l], lines
    for name, (rc, lines) in RUN["puller-logs"].items():
        assert rc == 0, (name, lines)
        recorded = [l for l in lines if l.startswith("recorded pull:")]
        assert recorded and recorded[0].endswith(", 0 dropped"), (name, lines)


TESTS = [
    test_the_vector_is_published_once_while_everyone_watches,
    test_an_rtmpx_client_waiting_for_the_publisher_gets_every_tag_byte_identical,
    test_an_rtmpx_client_joining_mid_stream_gets_the_configuration_colorinfo_and_the_group,
    test_ffprobe_a_legacy_player_gets_play_failed_at_once_saying_why,
    test_ffmpeg_decodes_the_relayed_av1,
    test_node_media_server_takes_the_push_and_gives_it_back_to_an_rtmpx_client,
    test_a_drain_moves_the_clients_that_declared_reconnect_and_lets_the_others_finish,
    test_nothing_went_wrong,
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
