#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""RTMPS: real players and publishers over TLS into rtmpx, rtmpx pushing over TLS to real
origins, and the bad cases ending the way the README says.

Usage: tls_test.py INTEROP_SERVER [TLS_SERVER_EXAMPLE]

Certificates come from the `openssl` command, made afresh in a temporary directory (a test CA,
a certificate for 127.0.0.1 and localhost, one for another name, one that expired, one from
nobody's CA). Players: ffprobe, ffmpeg -xerror, rtmpdump and python-librtmp with rtmps://.
Publisher: ffmpeg. Origins for rtmpx's own push: nginx-rtmp behind nginx's stream TLS proxy
(libnginx-mod-stream), node-media-server's RTMPS port (when RTMPX_NODE_MEDIA_SERVER names its
bin/app.js), and rtmpx itself. Prints one line per test and "N passed, N failed, N skipped";
exit 77 when ffmpeg, ffprobe, rtmpdump or openssl are missing.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (assert_decodes, free_port, listening, main as run_tests, publish_to, run,  # noqa: E402
                     stop_process, streams, wait_for)

INTEROP = os.path.abspath(sys.argv[1]) if len(sys.argv) in (2, 3) else None
TLS_SERVER = os.path.abspath(sys.argv[2]) if len(sys.argv) == 3 else None
NMS = os.environ.get("RTMPX_NODE_MEDIA_SERVER", "")
NGINX_MODULES = "/usr/lib/nginx/modules"
PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_client.py")



# ---- certificates ----------------------------------------------------------------------------

class Certificates:
    """A test CA and the certificates it signs, made with the openssl command."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = self.path("ca.pem")
        self.openssl("req", "-x509", *self.new_key("ca.key"), "-days", "2", "-subj", "/CN=rtmpx test CA", "-out", self.ca)
        with open(self.path("index.txt"), "w"):
            pass
        with open(self.path("serial"), "w") as f:
            f.write("1000\n")
        with open(self.path("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\n"
                    "default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n"
                    % (self.path("index.txt"), self.dir, self.path("serial")))

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        r = run(["openssl", *args])
        assert r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr.decode(errors="replace"))

    def new_key(self, name):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.path(name)]

    def issue(self, name, san="IP:127.0.0.1,DNS:localhost", start=None, end=None, self_signed=False):
        """(certificate, key) files for `name`, signed by the CA (or by itself)."""
        cert, key = self.path(name + ".pem"), self.path(name + ".key")
        if self_signed:
            self.openssl("req", "-x509", *self.new_key(name + ".key"), "-days", "2", "-subj", "/CN=" + name,
                         "-addext", "subjectAltName=" + san, "-out", cert)
            return cert, key
        self.openssl("req", *self.new_key(name + ".key"), "-subj", "/CN=" + name, "-out", self.path(name + ".csr"))
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", "2"]
        self.openssl("ca", "-batch", "-notext", "-config", self.path("ca.cnf"), "-cert", self.ca, "-keyfile",
                     self.path("ca.key"), "-in", self.path(name + ".csr"), "-out", cert, "-extfile",
                     self.path(name + ".ext"), *dates)
        return cert, key


# ---- processes -------------------------------------------------------------------------------



class Rtmpx:
    """interop_server with a plain and a TLS listener; its first two stdout lines are their URLs."""

    def __init__(self, cert, key, *args):
        self.proc = subprocess.Popen([INTEROP, "127.0.0.1:0", "--verbose", "--tls", cert, key, *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.plain = self.proc.stdout.readline().strip()
        self.tls = self.proc.stdout.readline().strip()
        self.lines = []
        threading.Thread(target=self._drain, daemon=True).start()
        if not (self.plain.startswith("rtmp://") and self.tls.startswith("rtmps://")):
            self.stop()
            raise AssertionError("the server did not print its two URLs: %r %r %s" % (self.plain, self.tls, self.lines))

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())

    def port(self, tls):
        return int((self.tls if tls else self.plain).rsplit(":", 1)[1])

    def url(self, app="live", name="demo", tls=True):
        return "%s/%s/%s" % (self.tls if tls else self.plain, app, name)

    def seen(self, pattern):
        return [l for l in list(self.lines) if re.search(pattern, l)]

    def wait_line(self, pattern, timeout=20):
        wait_for(lambda: self.seen(pattern), timeout, "a line like %r (have: %s)" % (pattern, self.lines[-8:]))
        return self.seen(pattern)

    def stop(self):
        stop_process(self.proc)
        return self.proc.returncode




def flv_video_tags(path):
    with open(path, "rb") as f:
        data = f.read()
    pos, n = 13, 0
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos + 11 + size + 4 > len(data):
            break
        n += data[pos] == 9
        pos += 11 + size + 4
    return n


# ---- tests -----------------------------------------------------------------------------------

def test_players_over_rtmps(tmp, pki):
    srv = Rtmpx(*pki.issue("players"))
    try:
        assert streams(srv.url()) == ["h264"]
        assert_decodes(srv.url())
        # rtmpdump records two seconds over TLS.
        out = os.path.join(tmp, "dump.flv")
        r = run(["rtmpdump", "--live", "-q", "-r", srv.url(), "--stop", "2", "-o", out], timeout=30)
        assert os.path.exists(out) and flv_video_tags(out) >= 30, "rtmpdump (%d) recorded %d video tags: %s" % (
            r.returncode, flv_video_tags(out) if os.path.exists(out) else 0, r.stderr.decode(errors="replace")[-300:])
        # python-librtmp's remote calls answer over TLS as over TCP.
        r = run([PYTHON, CLIENT, "call", srv.url(name=""), json.dumps([["echo", ["tls"]], ["add", [2, 3]]])])
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        assert json.loads(r.stdout) == ["tls", 5], r.stdout
        # The connections ended as ordinary ends (a player that closes without close_notify included).
        assert not srv.seen(r"closed: .*(TLS|truncated)"), srv.seen("closed")
    finally:
        assert srv.stop() == 0


def test_ffmpeg_publishes_over_rtmps_and_players_watch_on_both_ports(tmp, pki):
    srv = Rtmpx(*pki.issue("ingest"))
    pub = publish_to(srv.url(app="relay", name="cam"))
    try:
        assert streams(srv.url(app="relay", name="cam", tls=False)) == ["aac", "h264"]
        assert_decodes(srv.url(app="relay", name="cam", tls=False), audio=True)
        assert_decodes(srv.url(app="relay", name="cam", tls=True), audio=True)
    finally:
        stop_process(pub)
        srv.stop()


def test_plain_rtmp_on_the_tls_port_and_tls_on_the_plain_port(tmp, pki):
    srv = Rtmpx(*pki.issue("ports"))
    try:
        wrong_plain = "rtmp://127.0.0.1:%d/live/demo" % srv.port(tls=True)
        wrong_tls = "rtmps://127.0.0.1:%d/live/demo" % srv.port(tls=False)
        for url in (wrong_plain, wrong_tls):
            r = run(["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams", url], timeout=30)
            assert r.returncode != 0, "ffprobe played %s" % url
        srv.wait_line(r"closed: not TLS: plain RTMP")
        srv.wait_line(r"closed: a TLS handshake on a plain RTMP port")
        # Both listeners serve on.
        assert streams(srv.url(tls=True)) == ["h264"]
        assert streams(srv.url(tls=False)) == ["h264"]
    finally:
        srv.stop()


def test_a_peer_that_closes_without_close_notify_ends_like_any_other(tmp, pki):
    srv = Rtmpx(*pki.issue("abrupt"))
    try:
        context = ssl.create_default_context(cafile=pki.ca)
        raw = socket.create_connection(("127.0.0.1", srv.port(tls=True)))
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"\x03" + bytes(1536))  # C0 and C1
        need, got = 1 + 1536 * 2, b""
        while len(got) < need:
            chunk = tls.recv(65536)
            assert chunk, "the server closed during the RTMP handshake"
            got += chunk
        tls.shutdown(socket.SHUT_RDWR)  # the TCP connection ends under TLS: no close_notify (that is unwrap)
        tls.close()
        srv.wait_line(r"closed: by the client")
        assert not srv.seen(r"closed: .*truncated"), srv.seen("closed")
    finally:
        srv.stop()


def nginx_behind_tls_proxy(tmp, cert, key):
    """nginx-rtmp on a plain port with nginx's stream TLS proxy in front: (process, tls port, rtmp port)."""
    tls_port, rtmp_port = free_port(), free_port()
    conf = os.path.join(tmp, "nginx-tls.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
error_log stderr warn;
load_module %(mods)s/ngx_stream_module.so;
load_module %(mods)s/ngx_rtmp_module.so;
pid nginx-tls.pid;
events { worker_connections 256; }
stream {
    server {
        listen 127.0.0.1:%(tls)d ssl;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        proxy_pass 127.0.0.1:%(rtmp)d;
    }
}
rtmp {
    server {
        listen 127.0.0.1:%(rtmp)d;
        application live { live on; }
    }
}
""" % {"mods": NGINX_MODULES, "tls": tls_port, "rtmp": rtmp_port, "cert": cert, "key": key})
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp + "/"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: listening(tls_port) and listening(rtmp_port), 10, "nginx to listen")
    return proc, tls_port, rtmp_port


def test_push_over_tls_to_nginx_behind_its_stream_proxy(tmp, pki):
    if not os.path.exists(os.path.join(NGINX_MODULES, "ngx_stream_module.so")):
        return "skip: libnginx-mod-stream is not installed"
    nginx, tls_port, rtmp_port = nginx_behind_tls_proxy(tmp, *pki.issue("nginx"))
    srv = Rtmpx(*pki.issue("pusher"), "--ca", pki.ca, "--push", "cam=rtmps://localhost:%d/live/cam" % tls_port)
    pub = publish_to(srv.url(app="relay", name="cam", tls=False))
    try:
        srv.wait_line(r"^push rtmps://localhost:\d+/live/cam: started")
        origin = "rtmp://127.0.0.1:%d/live/cam" % rtmp_port
        assert streams(origin) == ["aac", "h264"]
        assert_decodes(origin, audio=True)
    finally:
        stop_process(pub)
        srv.stop()
        stop_process(nginx)


def test_push_over_tls_to_node_media_server(tmp, pki):
    if not NMS or not shutil.which("node"):
        return "skip: node-media-server is not installed (RTMPX_NODE_MEDIA_SERVER)"
    cert, key = pki.issue("nms")
    rtmp_port, rtmps_port = free_port(), free_port()
    config = os.path.join(tmp, "nms.json")
    with open(config, "w") as f:
        json.dump({"bind": "127.0.0.1", "rtmp": {"port": rtmp_port}, "rtmps": {"port": rtmps_port, "key": key, "cert": cert},
                   "http": {"port": free_port()}, "store": {"path": os.path.join(tmp, "nms-data")}}, f)
    nms = subprocess.Popen(["node", NMS, "-c", config, "--no-admin"], cwd=os.path.dirname(NMS), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = pub = None
    try:
        wait_for(lambda: listening(rtmps_port) and listening(rtmp_port), 20, "node-media-server to listen")
        srv = Rtmpx(*pki.issue("pusher-nms"), "--ca", pki.ca, "--push", "cam=rtmps://127.0.0.1:%d/live/cam" % rtmps_port)
        pub = publish_to(srv.url(app="relay", name="cam", tls=False))
        srv.wait_line(r"^push rtmps://127\.0\.0\.1:\d+/live/cam: started")
        origin = "rtmp://127.0.0.1:%d/live/cam" % rtmp_port
        assert streams(origin) == ["aac", "h264"]
        assert_decodes(origin, audio=True)
    finally:
        if pub:
            stop_process(pub)
        if srv:
            srv.stop()
        stop_process(nms)


def test_certificates_the_client_refuses_end_its_push_cleanly(tmp, pki):
    cases = [  # (origin certificate, the pusher's options, the error it reports)
        (pki.issue("other-name", san="DNS:other.example"), ["--ca", pki.ca], "is for another host name"),
        (pki.issue("expired", start="20200101000000Z", end="20200201000000Z"), ["--ca", pki.ca], "has expired"),
        (pki.issue("nobody", self_signed=True), [], "does not verify"),  # the system's roots: no test CA
    ]
    for (cert, key), options, error in cases:
        origin = Rtmpx(cert, key)
        url = origin.url(app="relay", name="cam")
        pusher = Rtmpx(*pki.issue("pusher-" + error.split()[-1]), *options, "--push", "cam=" + url)
        try:
            line = pusher.wait_line(r"^push rtmps://.*: failed")[0]
            assert "error=the server's certificate " + error in line, line
            assert not pusher.seen(": retrying"), pusher.lines
            # The origin serves on, and said why the connection ended.
            assert streams(origin.url(tls=True)) == ["h264"]
        finally:
            pusher.stop()
            origin.stop()
    # Verification off, asked for by name: the same origin takes the push.
    origin = Rtmpx(*pki.issue("insecure", san="DNS:other.example"))
    pusher = Rtmpx(*pki.issue("pusher-insecure"), "--insecure", "--push", "cam=" + origin.url(app="relay", name="cam"))
    try:
        pusher.wait_line(r"^push rtmps://.*: started")
    finally:
        pusher.stop()
        origin.stop()


def serial_of(port):
    """The serial number of the certificate a TLS server on 127.0.0.1:port presents."""
    with socket.create_connection(("127.0.0.1", port)) as raw:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der, capture_output=True)
    return r.stdout.decode().strip()


def test_the_example_serves_rtmps_and_reloads_its_certificate_on_sighup(tmp, pki):
    if not TLS_SERVER:
        return "skip: examples/tls_server is not built here"
    cert, key = pki.issue("example")
    live_cert, live_key = os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    ex = subprocess.Popen([TLS_SERVER, live_cert, live_key, "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []
    try:
        url = ex.stdout.readline().strip()
        m = re.match(r"^rtmps://127\.0\.0\.1:([1-9]\d*)/live/demo$", url)
        assert m, "first line is not rtmps://127.0.0.1:PORT/live/demo: %r" % url
        threading.Thread(target=lambda: err.extend(l.rstrip() for l in ex.stderr), daemon=True).start()
        assert streams(url) == ["h264"]
        before = serial_of(int(m.group(1)))
        new_cert, new_key = pki.issue("example-renewed")
        shutil.copy(new_cert, live_cert)
        shutil.copy(new_key, live_key)
        ex.send_signal(signal.SIGHUP)
        wait_for(lambda: "certificate reloaded: ok" in err, 10, "the reload (stderr: %s)" % err)
        after = serial_of(int(m.group(1)))
        assert before != after, "the same certificate after the reload: %s" % before
        assert streams(url) == ["h264"]
        ex.send_signal(signal.SIGINT)
        assert ex.wait(timeout=5) == 0
    finally:
        stop_process(ex, signal.SIGKILL)


TESTS = [
    test_players_over_rtmps,
    test_ffmpeg_publishes_over_rtmps_and_players_watch_on_both_ports,
    test_plain_rtmp_on_the_tls_port_and_tls_on_the_plain_port,
    test_a_peer_that_closes_without_close_notify_ends_like_any_other,
    test_push_over_tls_to_nginx_behind_its_stream_proxy,
    test_push_over_tls_to_node_media_server,
    test_certificates_the_client_refuses_end_its_push_cleanly,
    test_the_example_serves_rtmps_and_reloads_its_certificate_on_sighup,
]


def main():
    if not INTEROP:
        print(__doc__)
        return 2
    if not shutil.which("openssl"):
        print("skip: the openssl command is not installed")
        return 77
    holder = {}

    def bind(test):
        def bound(servers, tmp):
            if "pki" not in holder:
                holder["pki"] = Certificates(tmp)
            return test(tmp, holder["pki"])
        bound.__name__ = test.__name__
        return bound

    return run_tests([bind(t) for t in TESTS], dict, ["ffmpeg", "ffprobe", "rtmpdump"])


if __name__ == "__main__":
    sys.exit(main())
