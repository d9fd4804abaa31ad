#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Remote calls, pause and properties from real clients (python-librtmp, ffmpeg) against rtmpx.

Usage: calls_test.py SERVER_BINARY

python-librtmp waits only for `_result`, so the server runs with --errors-as-result, which
reports failed calls as a `_result` carrying the error object. Each python-librtmp client runs
in a child process (rpc_client.py) with a time limit. Prints "N passed, N failed, N skipped".
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main as run_tests, run  # noqa: E402

PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")


def client(*args):
    r = subprocess.run([PYTHON, CLIENT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=40,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "rpc_client %s failed (%d): %s" % (args[0], r.returncode, r.stderr.decode(errors="replace"))
    return json.loads(r.stdout)


def calls(url, *pairs):
    return client("call", url, json.dumps([list(p) for p in pairs]))


def test_named_calls_return_the_handlers_response(servers, tmp):
    # python-librtmp decodes strict and ECMA arrays as empty: echo scalars only.
    text, flag, total = calls(servers["compat"].url(name=None), ("echo", ["two"]), ("echo", [True]), ("add", [2, 3.5]))
    assert text == "two", text
    assert flag is True, flag
    assert total == 5.5, total


def test_unknown_call_fails_without_default_and_reaches_the_default_handler(servers, tmp):
    (missing,) = calls(servers["compat"].url(name=None), ("noSuchMethod", []))
    assert isinstance(missing, dict) and missing.get("code") == "NetConnection.Call.Failed", missing
    assert missing.get("level") == "error", missing
    (answer,) = calls(servers["compat"].url(app="withdefault", name=None), ("anything", [1]))
    assert answer == "default:anything", answer


def test_failing_and_throwing_calls_report_errors_and_the_connection_lives_on(servers, tmp):
    failed, thrown, after = calls(servers["compat"].url(name=None), ("fail", []), ("throw", []), ("add", [1, 1]))
    assert failed.get("code") == "App.Fail", failed
    assert thrown.get("code") == "NetConnection.Call.Failed", thrown
    assert after == 2, after


def test_two_connect_handlers_serve_two_applications(servers, tmp):
    (live,) = calls(servers["compat"].url(name=None), ("whoami", []))
    (other,) = calls(servers["compat"].url(app="other", name=None), ("whoami", []))
    assert (live, other) == ("live", "other"), (live, other)


def test_statistics_move(servers, tmp):
    first, second = calls(servers["compat"].url(name=None), ("stats", []), ("stats", []))
    assert second["bytes_in"] > first["bytes_in"], (first, second)
    assert second["bytes_out"] > first["bytes_out"], (first, second)
    assert second["messages_in"] == first["messages_in"] + 1, (first, second)


def test_a_call_changes_what_is_rendered(servers, tmp):
    url = servers["compat"].url(name="solid-red")
    (ok,) = calls(servers["compat"].url(name=None), ("setColor", ["solid-red", 230, 20, 40]))
    assert ok == "ok", ok
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-frames:v", "3", "-f", "rawvideo", "-pix_fmt", "rgb24",
             "-"])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    px = r.stdout[-320 * 240 * 3:]
    assert len(px) == 320 * 240 * 3, len(r.stdout)
    n = len(px) // 3
    mean = [sum(px[i::3]) / n for i in range(3)]
    assert abs(mean[0] - 230) < 12 and abs(mean[1] - 20) < 12 and abs(mean[2] - 40) < 12, mean


def test_pause_and_resume_restart_video_on_a_key_frame(servers, tmp):
    r = client("pause", servers["compat"].url(name="paused"))
    assert r["video_tags"] > 20, r
    assert r["first_byte"] == 0x17, "the stream does not start with a key frame: %r" % r
    assert r["resumed_at"] is not None, "no gap in timestamps: the pause had no effect: %r" % r
    assert r["resumed_first_byte"] == 0x17, "video resumed on a non-key frame: %r" % r


def test_a_server_call_is_answered_by_the_client(servers, tmp):
    answer = client("askback", servers["compat"].url(name=None))
    assert answer == "py-client", answer


def test_stream_properties_refuse_unknown_keys_and_bad_values(servers, tmp):
    r = client("property", servers["compat"].url(name="props"))
    assert r["render_rate=15"] == "15", r
    assert r["render_rate=-1"].get("code") == "App.PropertyRefused", r
    assert r["user_note=hello"] == "hello", r
    assert r["colour=red"].get("code") == "App.PropertyRefused", r


TESTS = [
    test_named_calls_return_the_handlers_response,
    test_unknown_call_fails_without_default_and_reaches_the_default_handler,
    test_failing_and_throwing_calls_report_errors_and_the_connection_lives_on,
    test_two_connect_handlers_serve_two_applications,
    test_statistics_move,
    test_a_call_changes_what_is_rendered,
    test_pause_and_resume_restart_video_on_a_key_frame,
    test_a_server_call_is_answered_by_the_client,
    test_stream_properties_refuse_unknown_keys_and_bad_values,
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if subprocess.run([PYTHON, "-c", "import librtmp"], stderr=subprocess.DEVNULL).returncode != 0:
        print("skip: python3-librtmp is not installed")
        return 77
    return run_tests(TESTS, lambda: {"compat": Server(sys.argv[1], "--errors-as-result")}, ["ffmpeg"])


if __name__ == "__main__":
    sys.exit(main())
