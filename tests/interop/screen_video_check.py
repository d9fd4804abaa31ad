#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Exact-pixel check of screen_video_encoder against FFmpeg's Flash Screen Video decoder.

Usage: screen_video_check.py DUMP_BINARY

For each case, runs DUMP_BINARY (tests/interop/screen_video_dump.cpp) to write an FLV file of
Screen Video frames and the RGB24 pictures it encoded, decodes the FLV with
`ffmpeg -f rawvideo -pix_fmt rgb24 -`, and compares every frame byte for byte. It also walks
the FLV tags to check the tag framing and to count the blocks sent as unchanged (size 0), so
that the real decoder is shown to keep them from the previous frame.

Prints one line per case and "N passed, N failed". Exit status: 0 all passed, 1 a failure,
77 when ffmpeg is not installed.
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

TIMEOUT = 120

# name, width, height, frames, block size, key frame interval, canvas format
CASES = [
    ("96x64 block 64 rgba", 96, 64, 30, 64, 10, "rgba"),
    ("100x70 block 16 bgra", 100, 70, 24, 16, 0, "bgra"),
    ("100x70 block 32 rgb24", 100, 70, 12, 32, 5, "rgb24"),
    ("17x300 block 256 bgr24", 17, 300, 8, 256, 3, "bgr24"),
]


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def walk_flv(data, width, height):
    """Checks the FLV framing; returns (frames, key frames, blocks, unchanged blocks in inter frames)."""
    if data[:3] != b"FLV" or data[3] != 1 or data[4] != 0x01:
        raise ValueError("bad FLV header")
    (header_size,) = struct.unpack(">I", data[5:9])
    pos = header_size
    if struct.unpack(">I", data[pos:pos + 4])[0] != 0:
        raise ValueError("PreviousTagSize0 is not 0")
    pos += 4
    frames = keys = blocks = unchanged = 0
    while pos < len(data):
        tag_type = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        body = data[pos + 11:pos + 11 + size]
        (previous,) = struct.unpack(">I", data[pos + 11 + size:pos + 15 + size])
        if tag_type != 9 or len(body) != size or previous != 11 + size:
            raise ValueError("bad video tag at byte %d" % pos)
        kind, codec = body[0] >> 4, body[0] & 0x0F
        if codec != 3 or kind not in (1, 2):
            raise ValueError("bad frame type/codec byte 0x%02x at byte %d" % (body[0], pos))
        frames += 1
        keys += kind == 1
        bits = int.from_bytes(body[1:5], "big")
        bw, w = 16 * ((bits >> 28) + 1), (bits >> 16) & 0xFFF
        bh, h = 16 * (((bits >> 12) & 0xF) + 1), bits & 0xFFF
        if (w, h) != (width, height):
            raise ValueError("frame %d says %dx%d" % (frames - 1, w, h))
        at = 5
        for _ in range(((h + bh - 1) // bh) * ((w + bw - 1) // bw)):
            (n,) = struct.unpack(">H", body[at:at + 2])
            at += 2 + n
            blocks += 1
            if n == 0:
                if kind == 1:
                    raise ValueError("key frame %d has an empty block" % (frames - 1))
                unchanged += 1
        if at != len(body):
            raise ValueError("frame %d: blocks end at %d of %d bytes" % (frames - 1, at, len(body)))
        pos += 15 + size
    return frames, keys, blocks, unchanged


def first_mismatch(expected, got, width, height):
    frame_bytes = width * height * 3
    if len(got) != len(expected):
        return "decoded %d bytes (%g frames), expected %d (%d frames)" % (
            len(got), len(got) / frame_bytes, len(expected), len(expected) // frame_bytes)
    for i in range(0, len(expected), frame_bytes):
        a, b = expected[i:i + frame_bytes], got[i:i + frame_bytes]
        if a != b:
            j = next(k for k in range(frame_bytes) if a[k] != b[k]) // 3 * 3
            pixel = j // 3
            return "frame %d pixel (%d, %d): expected RGB %s, decoded %s" % (
                i // frame_bytes, pixel % width, pixel // width, tuple(a[j:j + 3]), tuple(b[j:j + 3]))
    return None


def check(dump, workdir, case):
    name, width, height, frames, block, key, fmt = case
    flv = os.path.join(workdir, "out.flv")
    rgb = os.path.join(workdir, "expected.rgb")
    r = run([dump, flv, rgb, str(width), str(height), str(frames), str(block), str(key), fmt])
    if r.returncode != 0:
        return False, "dump failed: " + r.stderr.decode(errors="replace").strip()
    with open(flv, "rb") as f:
        flv_bytes = f.read()
    with open(rgb, "rb") as f:
        expected = f.read()
    try:
        n, keys, blocks, unchanged = walk_flv(flv_bytes, width, height)
    except (ValueError, IndexError, struct.error) as e:
        return False, "FLV: %s" % e
    if n != frames:
        return False, "FLV has %d frames, expected %d" % (n, frames)
    r = run(["ffmpeg", "-v", "error", "-i", flv, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    if r.returncode != 0:
        return False, "ffmpeg failed: " + r.stderr.decode(errors="replace").strip()
    if r.stderr.strip():
        return False, "ffmpeg reported: " + r.stderr.decode(errors="replace").strip()
    problem = first_mismatch(expected, r.stdout, width, height)
    if problem:
        return False, problem
    return True, "%d frames of %dx%d identical (%d key frames, %d of %d blocks unchanged)" % (
        n, width, height, keys, unchanged, blocks)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found: skipped")
        return 77
    dump = os.path.abspath(sys.argv[1])
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="screen_video_check.") as workdir:
        for case in CASES:
            try:
                ok, detail = check(dump, workdir, case)
            except subprocess.TimeoutExpired as e:
                ok, detail = False, "timed out: %s" % " ".join(e.cmd)
            print("%s %s: %s" % ("ok  " if ok else "FAIL", case[0], detail))
            if ok:
                passed += 1
            else:
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
