#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A python-librtmp client for the interop tests; prints one JSON value on stdout.

Usage (Debian's /usr/bin/python3, package python3-librtmp):
  rpc_client.py call URL JSON_CALLS          make the calls ([[method, [args...]], ...]) in order on one
                                             connection; print the list of results
  rpc_client.py askback URL                  answer the server's clientName call, print askBack's result
  rpc_client.py pause URL                    play, pause, resume; report the frames around the resume
  rpc_client.py property URL                 play, then set stream properties through a call
  rpc_client.py publish URL FLV_FILE         publish the file's tags at their own pace (as live);
                                             print the number of tags written
  rpc_client.py play URL SECONDS             play; print the counts of audio, video and data tags
"""

import json
import sys
import time

import librtmp


def connect(url, **kw):
    conn = librtmp.RTMP(url, live=True, timeout=10, **kw)
    conn.connect()
    return conn


def flv_tags(data):
    """(type, timestamp ms, first body byte) of each complete FLV tag in `data`."""
    tags = []
    pos = 13 if data[:3] == b"FLV" else 0
    while pos + 11 <= len(data):
        ttype = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        if pos + 11 + size + 4 > len(data):
            break
        first = data[pos + 11] if size else None
        tags.append((ttype, ts, first))
        pos += 11 + size + 4
    return tags


def read_for(stream, seconds):
    data = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        data += stream.read(4096)
    return data


def main():
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "call":
        conn = connect(url)
        results = [conn.call(method, *args).result(timeout=10) for method, args in json.loads(sys.argv[3])]
        print(json.dumps(results))
    elif cmd == "askback":
        conn = connect(url)

        @conn.invoke_handler
        def clientName():
            return "py-client"

        print(json.dumps(conn.call("askBack").result(timeout=10)))
    elif cmd == "pause":
        conn = connect(url)
        stream = conn.create_stream()
        before = read_for(stream, 1.5)
        stream.pause()
        time.sleep(1.0)
        stream.unpause()
        after = read_for(stream, 1.5)
        tags = [t for t in flv_tags(before + after) if t[0] == 9]
        # Frames sent after the resume are the first ones whose timestamp jumps by the pause.
        resumed = next((i for i in range(1, len(tags)) if tags[i][1] - tags[i - 1][1] > 500), None)
        print(json.dumps({"video_tags": len(tags), "resumed_at": resumed,
                          "resumed_first_byte": tags[resumed][2] if resumed is not None else None,
                          "first_byte": tags[0][2] if tags else None}))
    elif cmd == "property":
        conn = connect(url)
        stream = conn.create_stream()
        read_for(stream, 0.3)
        results = {}
        for key, val in (("render_rate", "15"), ("render_rate", "-1"), ("user_note", "hello"), ("colour", "red")):
            results["%s=%s" % (key, val)] = conn.call("setStreamProperty", 1, key, val).result(timeout=10)
        print(json.dumps(results))
    elif cmd == "publish":
        with open(sys.argv[3], "rb") as f:
            data = f.read()
        conn = connect(url)
        stream = conn.create_stream(writeable=True)
        start = time.monotonic()
        pos, written = 13, 0
        while pos + 11 <= len(data):
            size = int.from_bytes(data[pos + 1:pos + 4], "big")
            ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
            delay = start + ts / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # librtmp's writer takes the file as it is, the FLV header with the first tag (the
            # header alone crashes it), then a tag at a time.
            stream.write(data[0 if pos == 13 else pos:pos + 11 + size + 4])
            pos += 11 + size + 4
            written += 1
        stream.close()
        conn.close()
        print(json.dumps(written))
    elif cmd == "play":
        conn = connect(url)
        stream = conn.create_stream()
        tags = flv_tags(read_for(stream, float(sys.argv[3])))
        print(json.dumps({"audio": sum(1 for t in tags if t[0] == 8), "video": sum(1 for t in tags if t[0] == 9),
                          "data": sum(1 for t in tags if t[0] == 18)}))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
