# SPDX-License-Identifier: MIT
"""Shared pieces of the real-client tests: the server process, running tools, the test loop."""

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 60


def run(cmd, timeout=TIMEOUT):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          stdin=subprocess.DEVNULL)


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
