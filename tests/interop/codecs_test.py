#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The codecs by name, through examples/codec_server, against real players.

Usage: codecs_test.py CODEC_SERVER_BINARY [INTEROP_SERVER_BINARY]

For each codec the binary's registry has ("h264", "screen video", "sorenson"): starts
`codec_server NAME 127.0.0.1:0`, and checks what ffprobe sees. Sorenson Spark (FLV codec 2,
through libavcodec) is then decoded by ffmpeg -xerror, recorded by rtmpdump and decoded again,
and played by python-librtmp.

The Enhanced RTMP codecs ("av1", "vp9", "hevc", through libavcodec): ffprobe, which declares no
FourCC, is refused at once with the reason; rtmpx's client (INTEROP_SERVER_BINARY --pull,
declaring every FourCC) records the stream; its frames, taken out of the recording as an
elementary stream (AV1 as OBUs, VP9 as IVF, HEVC as Annex B), are decoded by ffmpeg -xerror.

Rendered audio (INTEROP_SERVER_BINARY's app "tone": a 440 Hz tone on the left channel from an
audio handler, AAC at 48 kHz): what ffprobe sees, ffmpeg -xerror decoding picture and sound, the
tone's pitch in what rtmpdump recorded, and audio timestamps in step with the video's. In Opus
(stream "opus", Enhanced RTMP): ffprobe refused, saying why; rtmpx's client records it; the
packets, put in an Ogg file, decode in ffmpeg to the same tone.

Each player its codec: `codec_server av1,h264` gives rtmpx's client AV1 and ffmpeg, at the same
time, H.264; app "tone" stream "both" gives rtmpx's client Opus and ffprobe and ffmpeg AAC.
Prints one line per test and "N passed, N failed, N skipped".
"""

import json
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, assert_decodes, flv_tags, main as run_tests, run, stop_process, tmp_only  # noqa: E402

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")
BINARY = ""
INTEROP = ""


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


def elementary_stream(codec, record, frames):
    """The frames as a stream ffmpeg reads alone: (bytes, its -f format)."""
    out = bytearray()
    if codec == "av1":
        # OBUs; each temporal unit opens with a temporal delimiter (added where the encoder left it out).
        for _, data in frames:
            out += (b"" if data[:2] == b"\x12\x00" else b"\x12\x00") + data
        return bytes(out), "obu"
    if codec == "vp9":
        out += b"DKIF" + struct.pack("<HHIHHIIII", 0, 32, 0x30395056, 640, 360, 1000, 1, len(frames), 0)
        for timestamp, data in frames:
            out += struct.pack("<IQ", len(data), timestamp) + data
        return bytes(out), "ivf"
    # HEVC: the hvcC arrays' parameter sets, then each frame's NAL units, with start codes.
    pos = 23
    for _ in range(record[22]):
        count = int.from_bytes(record[pos + 1:pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(record[pos:pos + 2], "big")
            out += b"\0\0\0\1" + record[pos + 2:pos + 2 + size]
            pos += 2 + size
    for _, data in frames:
        data, pos = data[3:], 0  # after the composition time
        while pos < len(data):
            size = int.from_bytes(data[pos:pos + 4], "big")
            out += b"\0\0\0\1" + data[pos + 4:pos + 4 + size]
            pos += 4 + size
    return bytes(out), "hevc"


FOURCC = {"av1": b"av01", "vp9": b"vp09", "hevc": b"hvc1"}


def enhanced_test(codec, legacy=None):
    """With `legacy` ("h264"), the broadcast has both codecs: ffmpeg decodes that one meanwhile."""
    def test(tmp):
        if not INTEROP:
            return "skip: no interop_server (it is built with OpenH264)"
        srv = CodecServer(codec + ("," + legacy if legacy else ""))
        if srv.url is None:
            assert "no codec" in srv.error, srv.error
            return "skip: this build has no '%s' (configure with -Dlibavcodec=enabled)" % codec
        fourcc = FOURCC[codec]
        recording = os.path.join(tmp, codec + ".flv")
        try:
            if not legacy:
                # A legacy player: refused at once, with the reason.
                start = time.monotonic()
                r = run(["ffprobe", "-v", "error", "-show_streams", srv.url], timeout=30)
                seconds = time.monotonic() - start
                err = r.stderr.decode(errors="replace")
                assert r.returncode != 0 and fourcc.decode() in err and "declared none" in err, err
                assert seconds < 5, "ffprobe took %.1f s to learn it" % seconds
            # rtmpx's client, declaring every FourCC, records it.
            puller = Server(INTEROP, "--pull", srv.url, "--record-pull", recording)
            if legacy:
                # Meanwhile a legacy player of the same URL gets the legacy codec, and decodes it.
                time.sleep(0.5)
                s = video_stream(srv.url)
                assert (s["codec_name"], s["width"], s["height"]) == (legacy, 640, 360), s
                assert_decodes(srv.url, seconds=2)
                time.sleep(0.5)
            else:
                time.sleep(4)
            assert puller.stop() == 0, puller.stderr_lines
        finally:
            assert srv.stop() == 0
        tags = flv_tags(recording)
        video = [(ts, body) for kind, ts, body in tags if kind == 9]
        assert video and all(body[0] & 0x80 and body[1:5] == fourcc for _, body in video), \
            "not all %s Enhanced tags: %s" % (fourcc, [body[:5].hex() for _, body in video[:3]])
        starts = [body[5:] for _, body in video if body[0] & 0x0f == 0]
        frames = [(ts, body[5:]) for ts, body in video if body[0] & 0x0f == 1]
        assert len(starts) == 1 and video[0][1][0] & 0x0f == 0, "one SequenceStart first, got %d" % len(starts)
        record = starts[0]
        well_formed = {"av1": lambda: record[:1] == b"\x81",  # av1C marker and version
                       "vp9": lambda: len(record) == 12 and record[0] == 1,  # vpcC version 1
                       "hevc": lambda: len(record) > 23 and record[0] == 1 and record[22] == 3}  # VPS, SPS, PPS
        assert well_formed[codec](), "configuration record " + record[:24].hex()
        assert (video[1][1][0] >> 4) & 7 == 1, "the first frame is not a key frame"
        assert len(frames) >= 60, "%d frames recorded in 4 s" % len(frames)
        metadata = [body for kind, _, body in tags if kind == 18]
        assert metadata and struct.pack(">d", int.from_bytes(fourcc, "big")) in metadata[0], \
            "onMetaData has no videocodecid %s" % fourcc
        data, fmt = elementary_stream(codec, record, frames)
        path = os.path.join(tmp, codec + "." + fmt)
        with open(path, "wb") as f:
            f.write(data)
        r = run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
                 "-of", "default=noprint_wrappers=1", "-f", fmt, path])
        out = r.stdout.decode()
        assert r.returncode == 0 and r.stderr.strip() == b"", r.stderr.decode(errors="replace")
        expected = {"av1": "av1", "vp9": "vp9", "hevc": "hevc"}[codec]
        assert ("codec_name=%s" % expected) in out and "width=640" in out and "height=360" in out, out
        assert ("nb_read_frames=%d" % len(frames)) in out, "%s (%d frames recorded)" % (out, len(frames))
        r = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-f", fmt, "-i", path, "-f", "null", "-"])
        assert r.returncode == 0 and r.stderr.strip() == b"", r.stderr.decode(errors="replace")
    test.__name__ = ("test_%s_to_an_rtmpx_client_decoded_by_ffmpeg_while_ffmpeg_decodes_%s" % (codec, legacy) if legacy else
                     "test_%s_refused_to_ffprobe_recorded_by_an_rtmpx_client_decoded_by_ffmpeg" % codec)
    return test


def ogg_crc(data):
    """Ogg's CRC-32: polynomial 0x04c11db7, not reflected, starting at 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04c11db7) if crc & 0x80000000 else crc << 1
            crc &= 0xffffffff
    return crc


def ogg_opus(head, packets, frame=960):
    """An Ogg Opus file (RFC 7845): the identification header, comments, one packet per page."""
    pages, granule = [], 0
    pre_skip = int.from_bytes(head[10:12], "little")
    tags = b"OpusTags" + struct.pack("<I", 5) + b"rtmpx" + struct.pack("<I", 0)
    for n, packet in enumerate([head, tags] + packets):
        if n >= 2:
            granule += frame
        flags = 0x02 if n == 0 else 0x04 if n == len(packets) + 1 else 0
        lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
        page = bytearray(b"OggS" + struct.pack("<BBqIII", 0, flags, granule if n >= 2 else 0, 1, n, 0) +
                         bytes([len(lacing)]) + lacing + packet)
        page[22:26] = struct.pack("<I", ogg_crc(page))
        pages.append(bytes(page))
    assert pre_skip < granule
    return b"".join(pages)


def tone_pitch(pcm):
    """(Hz of the left channel, peak left, peak right) of interleaved stereo s16le after its first second."""
    samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm[:len(pcm) // 2 * 2])
    left, right = samples[96000:][0::2], samples[96000:][1::2]
    assert len(left) >= 48000, "%d samples after the first second" % len(left)
    crossings = sum(1 for a, b in zip(left, left[1:]) if a < 0 <= b)
    return crossings * 48000 / len(left), max(abs(v) for v in left), max(abs(v) for v in right)


def tone_unavailable():
    """Why interop_server's app "tone" cannot be tested here ("skip: ..."), or None."""
    if not INTEROP:
        return "skip: no interop_server (it is built with OpenH264)"
    probe = CodecServer("sorenson")  # the registry has it when libavcodec is in the build
    if probe.url is None:
        return "skip: this build has no libavcodec (configure with -Dlibavcodec=enabled)"
    assert probe.stop() == 0
    return None


def test_rendered_aac_reaches_ffprobe_ffmpeg_and_rtmpdump_in_step_with_the_video(tmp):
    why_not = tone_unavailable()
    if why_not:
        return why_not
    server = Server(INTEROP)
    try:
        url = server.url("tone", "x")
        r = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", url])
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        streams = {s["codec_type"]: s for s in json.loads(r.stdout)["streams"]}
        assert set(streams) == {"audio", "video"}, streams
        audio = streams["audio"]
        assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", 48000, 2), audio
        assert streams["video"]["codec_name"] == "h264", streams
        assert_decodes(url, seconds=2, audio=True)
        recording = os.path.join(tmp, "tone.flv")
        run(["rtmpdump", "--live", "-q", "-r", url, "-B", "3", "-o", recording], timeout=30)
    finally:
        assert server.stop() == 0, server.stderr_lines
    # The pitch: zero crossings of the left channel, after the first half second; the right is silent.
    d = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", recording, "-map", "0:a", "-f", "s16le", "-ac", "2", "-"])
    assert d.returncode == 0 and d.stderr.strip() == b"", d.stderr.decode(errors="replace")
    pitch, left, right = tone_pitch(d.stdout)
    assert abs(pitch - 440) < 3, "the left channel is at %.1f Hz" % pitch
    assert left > 6000 and right < 200, "levels %d and %d" % (left, right)
    # Audio and video timestamps run together: neither ends more than a frame (33 ms) and an AAC
    # packet (21 ms) after the other, and every message comes in timestamp order.
    tags = [(kind, ts) for kind, ts, _ in flv_tags(recording) if kind in (8, 9)]
    stamps = [ts for _, ts in tags]
    assert stamps == sorted(stamps), "timestamps out of order"
    last_audio = max(ts for kind, ts in tags if kind == 8)
    last_video = max(ts for kind, ts in tags if kind == 9)
    assert last_video >= 2000 and abs(last_audio - last_video) <= 55, "audio ends at %d ms, video at %d ms" % (
        last_audio, last_video)


def opus_test(stream):
    """Stream "opus": Opus alone; "both": Opus to rtmpx's client, AAC to ffprobe meanwhile."""
    def test(tmp):
        why_not = tone_unavailable()
        if why_not:
            return why_not
        server = Server(INTEROP)
        recording = os.path.join(tmp, "opus.flv")
        try:
            url = server.url("tone", stream)
            if stream == "opus":
                r = run(["ffprobe", "-v", "error", "-show_streams", url], timeout=30)
                err = r.stderr.decode(errors="replace")
                assert r.returncode != 0 and "Opus" in err and "declared none" in err, err
            puller = Server(INTEROP, "--pull", url, "--record-pull", recording)
            if stream == "both":
                time.sleep(0.5)
                r = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", url])
                assert r.returncode == 0, r.stderr.decode(errors="replace")
                codecs = sorted(s["codec_name"] for s in json.loads(r.stdout)["streams"])
                assert codecs == ["aac", "h264"], codecs
                assert_decodes(url, seconds=2, audio=True)
                time.sleep(0.5)
            else:
                time.sleep(4)
            assert puller.stop() == 0, puller.stderr_lines
        finally:
            assert server.stop() == 0, server.stderr_lines
        check_opus_recording(tmp, recording)
    test.__name__ = ("test_rendered_opus_to_an_rtmpx_client_decoded_by_ffmpeg_while_ffprobe_and_ffmpeg_get_aac" if stream == "both"
                     else "test_rendered_opus_refused_to_ffprobe_recorded_by_an_rtmpx_client_decoded_by_ffmpeg")
    return test


def check_opus_recording(tmp, recording):
    """The recording holds Opus alone, OpusHead first, and decodes (in Ogg) to the 440 Hz tone."""
    audio = [(ts, body) for kind, ts, body in flv_tags(recording) if kind == 8]
    assert audio and all(body[0] >> 4 == 9 and body[1:5] == b"Opus" for _, body in audio), [b[:5] for _, b in audio[:3]]
    heads = [body[5:] for _, body in audio if body[0] & 0x0f == 0]
    packets = [body[5:] for _, body in audio if body[0] & 0x0f == 1]
    assert len(heads) == 1 and heads[0][:8] == b"OpusHead" and audio[0][1][0] & 0x0f == 0, "one OpusHead first"
    assert len(packets) >= 150, "%d Opus packets in 4 s" % len(packets)
    path = os.path.join(tmp, "tone.opus")
    with open(path, "wb") as f:
        f.write(ogg_opus(heads[0], packets))
    d = run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", path, "-f", "s16le", "-ar", "48000", "-ac", "2", "-"])
    assert d.returncode == 0 and d.stderr.strip() == b"", d.stderr.decode(errors="replace")
    pitch, left, right = tone_pitch(d.stdout)
    assert abs(pitch - 440) < 3, "the left channel is at %.1f Hz" % pitch
    assert left > 6000 and right < 400, "levels %d and %d" % (left, right)
    stamps = [ts for _, ts, _ in flv_tags(recording)]
    assert stamps == sorted(stamps), "timestamps out of order"


TESTS = [
    probe_test("h264", "h264"),
    probe_test("screen video", "flashsv"),
    probe_test("sorenson", "flv1"),
    test_sorenson_decodes_in_ffmpeg_rtmpdump_and_python_librtmp,
    enhanced_test("av1"),
    enhanced_test("vp9"),
    enhanced_test("hevc"),
    test_rendered_aac_reaches_ffprobe_ffmpeg_and_rtmpdump_in_step_with_the_video,
    opus_test("opus"),
    enhanced_test("av1", legacy="h264"),
    opus_test("both"),
]


def main():
    global BINARY, INTEROP
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    BINARY = sys.argv[1]
    INTEROP = sys.argv[2] if len(sys.argv) == 3 else ""
    return run_tests(tmp_only(TESTS), dict, ["ffmpeg", "ffprobe", "rtmpdump"])


if __name__ == "__main__":
    sys.exit(main())
