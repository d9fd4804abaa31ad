#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Regenerates the fuzz seed corpora in tests/fuzz/corpus/ from the recorded sessions in tests/fixtures/.
"""Writes small seed inputs for each fuzz target (stdlib only, deterministic).

    python3 tests/fuzz/make_corpus.py            # from the repository root or anywhere

Input formats (see the targets): chunk_fuzz and handshake_fuzz take one control byte (low seven
bits: piece sizes, 0 = all at once; chunk_fuzz's top bit: tight limits) before the bytes;
amf_fuzz takes AMF bodies; session_fuzz takes client-to-server bytes from C0 on; media_fuzz takes
one byte (even: video, odd: audio) before an audio or video tag body (the Enhanced FLV fixture's
first tags, and multitrack and ModEx tags made here).
"""

import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
CORPUS = HERE / "corpus"
HANDSHAKE = 1 + 2 * 1536  # C0 C1 C2


# ---- AMF0 ----------------------------------------------------------------------------------

def amf_str(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def amf(v):
    """AMF0 for None, bool, int/float, str, dict (object), list (strict array)."""
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + bytes([v])
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", v)
    if isinstance(v, str):
        return b"\x02" + amf_str(v)
    if isinstance(v, dict):
        return b"\x03" + b"".join(amf_str(k) + amf(x) for k, x in v.items()) + b"\x00\x00\x09"
    if isinstance(v, list):
        return b"\x0a" + struct.pack(">I", len(v)) + b"".join(amf(x) for x in v)
    raise TypeError(v)


def body(*values):
    return b"".join(amf(v) for v in values)


# One AVM+ switch to an AMF3 object using most AMF3 kinds: sealed and dynamic members, string,
# object and trait references, a dictionary, a byte array, an int vector, a mixed array, a date, XML;
# then an AMF0 reference (0x07) to the first complex AMF0 value.
AMF3_SAMPLE = bytes.fromhex(
    "11"                      # AVM+
    "0a2b01" "0378" "0379"    # object, inline traits, dynamic, 2 sealed: "", "x", "y"
    "0405" "0607616263"       # x = 5, y = "abc"
    "037a" "0600"             # z = string reference 0 ("x")
    "0364" "110300" "0401" "0c07616263"  # d = dictionary {1: bytes "abc"}
    "0376" "0d0500" "00000001ffffffff"   # v = Vector.<int> [1, -1]
    "0372" "0c04"             # r = object reference 2 (the byte array)
    "0361" "0905" "036b" "02" "01" "05400921fb54442d18" "01"  # a = [k: false; 3.14159, null]
    "0374" "0801" "4273ef7d2a400000"     # t = date
    "0378" "0b09" "3c612f3e"  # x again (dynamic) = XML "<a/>"
    "01"                      # end of dynamic members
    "11" "0a13" "0b506f696e74" "0378" "047f"  # AVM+ typed object Point {x: 127}
) + amf({"n": 1}) + b"\x07\x00\x00"


# ---- chunk stream ----------------------------------------------------------------------------

def dechunk(data):
    """The messages (csid, type, timestamp, stream id, payload) of a client chunk stream."""
    pos, chunk_size, streams, out = 0, 128, {}, []
    while pos < len(data):
        b0 = data[pos]
        fmt, csid = b0 >> 6, b0 & 0x3F
        pos += 1
        if csid == 0:
            csid, pos = 64 + data[pos], pos + 1
        elif csid == 1:
            csid, pos = 64 + data[pos] + 256 * data[pos + 1], pos + 2
        st = streams.setdefault(csid, {"ts": 0, "delta": 0, "len": 0, "type": 0, "sid": 0, "buf": b""})
        if fmt <= 2:
            field = int.from_bytes(data[pos:pos + 3], "big")
        if fmt <= 1:
            st["len"] = int.from_bytes(data[pos + 3:pos + 6], "big")
            st["type"] = data[pos + 6]
        if fmt == 0:
            st["sid"] = int.from_bytes(data[pos + 7:pos + 11], "little")
        pos += (11, 7, 3, 0)[fmt]
        if fmt <= 2 and field == 0xFFFFFF:
            field, pos = int.from_bytes(data[pos:pos + 4], "big"), pos + 4
        if not st["buf"]:
            if fmt == 0:
                st["ts"], st["delta"] = field, field
            elif fmt <= 2:
                st["ts"], st["delta"] = st["ts"] + field, field
            else:
                st["ts"] += st["delta"]
        n = min(chunk_size, st["len"] - len(st["buf"]))
        st["buf"] += data[pos:pos + n]
        pos += n
        if len(st["buf"]) == st["len"]:
            out.append((csid, st["type"], st["ts"], st["sid"], st["buf"]))
            if st["type"] == 1:
                chunk_size = int.from_bytes(st["buf"][:4], "big")
            st["buf"] = b""
    return out


class Chunker:
    """A client's chunk writer with header compression (formats 0 to 3, extended timestamps)."""

    def __init__(self):
        self.chunk_size, self.last = 128, {}

    def basic(self, fmt, csid):
        if csid < 64:
            return bytes([fmt << 6 | csid])
        if csid < 320:
            return bytes([fmt << 6, csid - 64])
        return bytes([fmt << 6 | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])

    def message(self, csid, mtype, ts, sid, payload, cut=None):
        prev = self.last.get(csid)
        if prev is None or prev[2] != sid or ts < prev[0]:
            fmt, field = 0, ts
        else:
            field = ts - prev[0]
            fmt = 2 if (prev[1], prev[3]) == (mtype, len(payload)) else 1
        ext = field >= 0xFFFFFF
        head = struct.pack(">I", min(field, 0xFFFFFF))[1:]
        if fmt <= 1:
            head += struct.pack(">I", len(payload))[1:] + bytes([mtype])
        if fmt == 0:
            head += struct.pack("<I", sid)
        if ext:
            head += struct.pack(">I", field)
        out = self.basic(fmt, csid) + head
        pieces = [payload[i:i + self.chunk_size] for i in range(0, len(payload), self.chunk_size)] or [b""]
        for i, piece in enumerate(pieces[:cut]):
            if i:
                out += self.basic(3, csid) + (struct.pack(">I", field) if ext else b"")
            out += piece
        self.last[csid] = (ts, mtype, sid, len(payload))
        if mtype == 1:
            self.chunk_size = struct.unpack(">I", payload[:4])[0]
        return out


def synthetic_chunk_stream():
    """A client session touching most of what the server handles, after the handshake."""
    w = Chunker()
    cmd = lambda name, txn, *args, sid=0, ts=0: w.message(3 if sid == 0 else 8, 20, ts, sid,
                                                          body(name, txn, None, *args))
    uc = lambda event, *fields: w.message(2, 4, 0, 0, struct.pack(">H" + "I" * len(fields), event, *fields))
    flv = b"\x17\x01\x00\x00\x00" + bytes(range(40))
    part = lambda t, ts, p: bytes([t]) + struct.pack(">I", len(p))[1:] + struct.pack(">I", ts)[1:] + \
        bytes([ts >> 24]) + b"\x00\x00\x00" + p + struct.pack(">I", 11 + len(p))
    s = w.message(3, 20, 0, 0, body("connect", 1, {
        "app": "live", "flashVer": "LNX 9,0,124,2", "tcUrl": "rtmp://127.0.0.1/live",
        "objectEncoding": 0, "capabilities": 15, "fourCcList": ["avc1", "hvc1"]}))
    s += w.message(2, 1, 0, 0, struct.pack(">I", 256))  # Set Chunk Size 256
    s += w.message(2, 5, 0, 0, struct.pack(">I", 4096))  # Window Acknowledgement Size
    s += cmd("createStream", 2) + cmd("createStream", 3) + cmd("_checkbw", 4)
    s += cmd("echo", 5, {"a": 1, "b": [1, "two", None]}) + cmd("fail", 6) + cmd("whoami", 7, "x")
    s += w.message(3, 20, 1, 0, body("_result", 1, None, "late answer"))
    s += cmd("getStreamLength", 8, "demo", sid=1) + cmd("play", 0, "demo", -2, -1, True, sid=1)
    s += uc(3, 1, 3000) + uc(6, 1234)  # Set Buffer Length, Ping Request
    s += cmd("pause", 0, True, 100.0, sid=1) + cmd("pause", 0, False, 100.0, sid=1)
    s += cmd("receiveVideo", 0, False, sid=1) + cmd("receiveVideo", 0, True, sid=1)
    s += cmd("play", 0, "refused", sid=2) + cmd("play", 0, "nowhere", sid=7)
    s += cmd("releaseStream", 9, "demo") + cmd("FCPublish", 10, "demo") + cmd("FCSubscribe", 11, "demo")
    s += cmd("publish", 12, "demo", "live", sid=2) + cmd("seek", 13, 0.0, sid=1) + cmd("play2", 14, {"x": 1})
    s += cmd("receiveAudio", 0, False, sid=1)
    s += w.message(4, 18, 0, 1, body("@setDataFrame", "onMetaData", {"width": 64.0, "height": 48.0}))
    s += w.message(6, 9, 0, 1, flv) + w.message(6, 9, 40, 1, flv) + w.message(6, 9, 80, 1, flv)
    s += w.message(4, 8, 0, 1, b"\xaf\x01" + bytes(20))
    s += w.message(5, 22, 100, 1, part(9, 100, flv) + part(8, 120, b"\xaf\x01\x00"))
    s += w.message(3, 17, 0, 0, b"\x00" + body("echo", 15, None) + AMF3_SAMPLE)
    s += w.message(9, 20, 0x1000000, 0, body("echo", 16, None, "x" * 300))  # extended timestamp
    s += w.message(10, 20, 0, 0, body("echo", 17, None, "y" * 600), cut=1)  # unfinished, then aborted
    s += w.message(2, 2, 0, 0, struct.pack(">I", 10)) + w.message(2, 3, 0, 0, struct.pack(">I", 2000))
    s += w.message(70, 20, 0, 0, body("echo", 18, None)) + w.message(400, 20, 0, 0, body("echo", 19, None))
    s += cmd("play", 0, False, sid=1) + cmd("deleteStream", 20, 1.0) + cmd("closeStream", 0, sid=2)
    return s


def plain_handshake():
    """C0, a C1 without digest (zero version bytes), and a C2."""
    c1 = bytes(8) + bytes((i * 7) & 0xFF for i in range(1528))
    return b"\x03" + c1 + bytes((i * 13) & 0xFF for i in range(1536))


# ---- output --------------------------------------------------------------------------------

def flv_tags(data):
    """(tag type, body) of each tag of an FLV file."""
    at, tags = 13, []
    while at + 11 <= len(data):
        size = int.from_bytes(data[at + 1:at + 4], "big")
        tags.append((data[at], data[at + 11:at + 11 + size]))
        at += 11 + size + 4
    return tags


def main():
    play = (FIXTURES / "play_c2s.bin").read_bytes()
    publish = (FIXTURES / "publish_c2s.bin").read_bytes()
    synthetic = synthetic_chunk_stream()
    corpus = {"amf": {}, "chunk": {}, "handshake": {}, "session": {}, "media": {}}

    # amf: every AMF body the fixtures' clients sent, plus the AMF3 sample.
    seen = set()
    for name, data in (("play", play), ("publish", publish)):
        for i, (_, mtype, _, _, payload) in enumerate(dechunk(data[HANDSHAKE:])):
            if mtype in (18, 20) and payload not in seen:
                seen.add(payload)
                corpus["amf"][f"{name}_{i:02d}_type{mtype}.bin"] = payload
    corpus["amf"]["amf3_sample.bin"] = AMF3_SAMPLE
    corpus["amf"]["type17_echo.bin"] = b"\x00" + body("echo", 2, None) + AMF3_SAMPLE

    # chunk: the chunk streams, whole, in pieces, and with tight limits.
    for name, data in (("play", play[HANDSHAKE:]), ("publish", publish[HANDSHAKE:]), ("synthetic", synthetic)):
        corpus["chunk"][f"{name}_whole.bin"] = b"\x00" + data
        corpus["chunk"][f"{name}_pieces.bin"] = b"\x05" + data
    corpus["chunk"]["synthetic_tight.bin"] = b"\x85" + synthetic

    # handshake: the recorded (digest) handshakes and a plain one, at once and in pieces.
    corpus["handshake"]["play_whole.bin"] = b"\x00" + play[:HANDSHAKE] + play[HANDSHAKE:HANDSHAKE + 16]
    corpus["handshake"]["publish_pieces.bin"] = b"\x41" + publish[:HANDSHAKE]
    corpus["handshake"]["plain_pieces.bin"] = b"\x1e" + plain_handshake()

    # session: the recorded client sessions and a synthetic one.
    corpus["session"]["play_c2s.bin"] = play
    corpus["session"]["publish_c2s.bin"] = publish
    corpus["session"]["synthetic.bin"] = plain_handshake() + synthetic

    # media: the Enhanced FLV fixture's first audio and video tags of each kind, and tags with
    # the layouts it lacks (ModEx, multitrack of each layout, a command frame).
    kinds = set()
    for tag_type, tag in flv_tags((FIXTURES / "eflv" / "testsrc.flv").read_bytes()):
        if tag_type in (8, 9) and (tag_type, tag[0]) not in kinds:
            kinds.add((tag_type, tag[0]))
            corpus["media"][f"eflv_type{tag_type}_{tag[0]:02x}.bin"] = (b"\x00" if tag_type == 9 else b"\x01") + tag[:512]
    av1 = b"av01"
    corpus["media"]["video_modex.bin"] = b"\x00\x97\x02\x0f\x42\x3f\x01" + av1 + b"\xaa"
    corpus["media"]["video_one_track.bin"] = b"\x00\x96\x01" + av1 + b"\x02\xaa\xbb"
    corpus["media"]["video_many_tracks.bin"] = (b"\x00\x96\x10" + av1 + b"\x00\x00\x00\x02\x0a\x0b"
                                                b"\x01\x00\x00\x01\x0c")
    corpus["media"]["video_many_codecs.bin"] = (b"\x00\x96\x21" + av1 + b"\x00\x00\x00\x01\xaa"
                                                b"hvc1\x05\x00\x00\x04\x00\x00\x10\xbb")
    corpus["media"]["video_command.bin"] = b"\x00\xd1\x01"
    corpus["media"]["audio_many_codecs.bin"] = (b"\x01\x95\x21mp4a\x00\x00\x00\x01\x21"
                                                b".mp3\x01\x00\x00\x02\xff\xfb")
    corpus["media"]["audio_multichannel.bin"] = b"\x01\x94Opus\x02\x02\x01\x00"

    total = 0
    for target, files in corpus.items():
        directory = CORPUS / target
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        for name, data in sorted(files.items()):
            (directory / name).write_bytes(data)
            total += len(data)
        print(f"{directory.relative_to(HERE.parent.parent)}: {len(files)} files")
    print(f"{total} bytes in all")


if __name__ == "__main__":
    main()
