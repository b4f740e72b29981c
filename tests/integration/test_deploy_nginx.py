"""deploy/nginx/groupsync.conf: real nginx in front of the real binary.

The site file is used as committed; only the listen ports, the upstream
address and the certificate paths are substituted (regular expressions
below), and it is included from a minimal nginx.conf that puts the pid,
logs and temp files under a temporary directory. nginx is Debian's
nginx-light (/usr/sbin/nginx); scripts/setup.sh installs it (a missing nginx fails in CI).
"""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import ROOT, SECRET, Groupsync, free_port, make_cert, needs, sample, wait_until

NGINX = os.environ.get("GS_NGINX", "/usr/sbin/nginx")
SITE = os.path.join(ROOT, "deploy", "nginx", "groupsync.conf")
# a second loopback address: /metrics is allowed from 127.0.0.1 only, so a
# client bound to 127.0.0.2 plays "outside"
OUTSIDE = "127.0.0.2"


def render_site(text, https_port, http_port, upstream_port, cert, key):
    """The committed site with test ports and certificate paths."""
    subs = [
        # IPv6 listeners: loopback-only test, and IPv6 may be off here
        (r"^\s*listen\s+\[::\]:\d+[^;]*;\s*$\n?", ""),
        (r"\blisten\s+443\b", "listen 127.0.0.1:%d" % https_port),
        (r"\blisten\s+80\b", "listen 127.0.0.1:%d" % http_port),
        (r"(upstream\s+groupsync_backend\s*\{[^}]*?\bserver\s+)127\.0\.0\.1:8080\b",
         r"\g<1>127.0.0.1:%d" % upstream_port),
        (r"\bssl_certificate\s+[^;]+;", "ssl_certificate %s;" % cert),
        (r"\bssl_certificate_key\s+[^;]+;", "ssl_certificate_key %s;" % key),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text, flags=re.M)
        if n == 0:
            raise AssertionError("deploy/nginx/groupsync.conf: no match for " + pattern)
    return text


def main_conf(tmp, site_path):
    user = "user root;\n" if os.geteuid() == 0 else ""
    t = lambda name: os.path.join(tmp, name)  # noqa: E731
    return (user +
            "worker_processes 1;\n"
            "pid %s;\n"
            "error_log %s info;\n"
            "events { worker_connections 128; }\n"
            "http {\n"
            "    access_log %s;\n"
            "    client_body_temp_path %s;\n"
            "    proxy_temp_path %s;\n"
            "    fastcgi_temp_path %s;\n"
            "    uwsgi_temp_path %s;\n"
            "    scgi_temp_path %s;\n"
            "    include %s;\n"
            "}\n") % (t("nginx.pid"), t("error.log"), t("access.log"), t("body"), t("proxy"),
                      t("fastcgi"), t("uwsgi"), t("scgi"), site_path)


def loopback_alias_works(addr):
    try:
        with socket.socket() as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


@needs(os.access(NGINX, os.X_OK), "nginx (Debian nginx-light)")
class DeployNginx(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # nginx connects from 127.0.0.1; the outside client plays 127.0.0.2
        cls.gs = Groupsync(env={"GROUPSYNC_LOG_LEVEL": "debug",
                                "GROUPSYNC_TRUSTED_PROXIES": "127.0.0.1"}).start()
        cls.tmp = tempfile.mkdtemp(prefix="gs-nginx-")
        cls.cert, cls.key = make_cert(cls.tmp)
        cls.port = free_port()
        cls.http_port = free_port()
        with open(SITE, encoding="utf-8") as f:
            site = render_site(f.read(), cls.port, cls.http_port, cls.gs.port, cls.cert, cls.key)
        site_path = os.path.join(cls.tmp, "groupsync.conf")
        with open(site_path, "w", encoding="utf-8") as f:
            f.write(site)
        cls.conf = os.path.join(cls.tmp, "nginx.conf")
        with open(cls.conf, "w", encoding="utf-8") as f:
            f.write(main_conf(cls.tmp, site_path))
        argv = [NGINX, "-p", cls.tmp, "-e", os.path.join(cls.tmp, "error.log"), "-c", cls.conf]
        check = subprocess.run(argv + ["-t"], capture_output=True, text=True)
        if check.returncode != 0:
            cls.gs.cleanup()
            raise AssertionError("nginx -t failed:\n" + check.stderr)
        cls.nginx_out = open(os.path.join(cls.tmp, "nginx.out"), "ab")
        cls.nginx = subprocess.Popen(argv + ["-g", "daemon off;"], stdout=cls.nginx_out,
                                     stderr=cls.nginx_out)
        deadline = time.time() + 10
        while True:
            if cls.nginx.poll() is not None:
                cls.gs.cleanup()
                raise AssertionError("nginx exited %d: %s" % (cls.nginx.returncode,
                                                               cls.error_log()))
            try:
                if cls.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise AssertionError("nginx did not answer: " + cls.error_log())
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.nginx.poll() is None:
            cls.nginx.terminate()
            cls.nginx.wait(10)
        cls.nginx_out.close()
        cls.gs.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def error_log(cls):
        try:
            with open(os.path.join(cls.tmp, "error.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @classmethod
    def connection(cls, source=None, ctx=None):
        ctx = ctx or ssl.create_default_context(cafile=cls.cert)
        return http.client.HTTPSConnection(
            "127.0.0.1", cls.port, timeout=15, context=ctx,
            source_address=(source, 0) if source else None)

    @classmethod
    def request(cls, method, path, body=None, headers=None, source=None, ctx=None):
        conn = cls.connection(source, ctx)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            version = conn.sock.version()  # before nginx may close the connection
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read(), version
        finally:
            conn.close()

    def deliver(self, body, secret=SECRET, **kw):
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["Authorization"] = secret
        return self.request("POST", "/hooks/okta", body, headers, **kw)

    # --- the checks ------------------------------------------------------

    def test_health_and_tls(self):
        st, hdr, _, version = self.request("GET", "/readyz")
        self.assertEqual(st, 200)
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        self.assertIn("max-age=", hdr.get("Strict-Transport-Security", ""))
        # TLS 1.2 with the configured (ECDHE, AEAD) ciphers works too
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        st, _, _, version = self.request("GET", "/healthz", ctx=ctx)
        self.assertEqual((st, version), (200, "TLSv1.2"))
        # any other path stays at nginx
        st, _, _, _ = self.request("GET", "/")
        self.assertEqual(st, 404)

    def test_http_redirects_to_https(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request("GET", "/hooks/okta")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 301)
            self.assertTrue(r.getheader("Location", "").startswith("https://"))
        finally:
            conn.close()

    def test_verification(self):
        st, _, body, _ = self.request(
            "GET", "/hooks/okta",
            headers={"Authorization": SECRET, "X-Okta-Verification-Challenge": "chal-123"})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"verification": "chal-123"})

    def test_delivery_stored(self):
        body = sample("delivery-group-add.json")
        body["eventId"] = str(uuid.uuid4())
        ev_uuid = str(uuid.uuid4())
        body["data"]["events"][0]["uuid"] = ev_uuid
        st, hdr, data, _ = self.deliver(body)
        self.assertEqual(st, 200, data)
        self.assertEqual(json.loads(data)["stored"], 1)
        self.assertIn("X-Request-Id", hdr)  # groupsync's header passes through
        self.assertIn(ev_uuid, [j[0] for j in self.gs.jobs()])

    def test_wrong_secret(self):
        st, _, data, _ = self.deliver(sample("delivery-group-add.json"),
                                      secret="Basic d3Jvbmc6d3Jvbmctc2VjcmV0LXh4eA==")
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(data), {"error": "unauthorized"})
        st, _, _, _ = self.deliver(sample("delivery-group-add.json"), secret=None)
        self.assertEqual(st, 401)

    def test_body_too_large_answered_by_nginx(self):
        before = self.gs.log()
        big = b"{\"data\":{\"events\":[]},\"pad\":\"" + b"x" * (2 * 1024 * 1024) + b"\"}"
        try:
            st, hdr, data, _ = self.deliver(big)
        except (BrokenPipeError, ConnectionResetError):
            # nginx may answer and close before the whole body is sent; the
            # status then has to come from its log
            st, data = None, b""
        if st is None:
            time.sleep(0.2)
            with open(os.path.join(self.tmp, "access.log"), encoding="utf-8") as f:
                self.assertRegex(f.read(), r'"POST /hooks/okta HTTP/1\.1" 413 ')
        else:
            self.assertEqual(st, 413)
            self.assertIn(b"nginx", data)  # nginx's own error page, not groupsync's JSON
        time.sleep(0.2)
        # groupsync never saw it (no "delivery refused ... too large" line)
        self.assertNotIn("delivery", self.gs.log()[len(before):])

    def test_metrics_only_from_loopback(self):
        st, _, body, _ = self.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertIn(b"# TYPE", body)
        if not loopback_alias_works(OUTSIDE):
            self.skipTest("cannot bind %s to play an outside client" % OUTSIDE)
        st, _, body, _ = self.request("GET", "/metrics", source=OUTSIDE)
        self.assertEqual(st, 403)
        self.assertNotIn(b"# TYPE", body)
        # the hook itself is open to the outside
        st, _, _, _ = self.request("GET", "/healthz", source=OUTSIDE)
        self.assertEqual(st, 200)

    def test_upstream_keepalive(self):
        """nginx keeps its HTTP/1.1 connection to groupsync open between requests."""
        def established():
            peers = set()
            for name in ("/proc/net/tcp", "/proc/net/tcp6"):
                try:
                    with open(name) as f:
                        rows = f.read().splitlines()[1:]
                except OSError:
                    continue
                for row in rows:
                    cols = row.split()
                    local, remote, state = cols[1], cols[2], cols[3]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == self.gs.port:
                        peers.add(int(remote.rsplit(":", 1)[1], 16))
            return peers
        if not os.path.exists("/proc/net/tcp"):
            self.skipTest("no /proc/net/tcp")
        seen = set()
        for _ in range(5):
            st, _, _, _ = self.request("GET", "/readyz")
            self.assertEqual(st, 200)
            now = established()
            self.assertTrue(now, "no idle upstream connection kept by nginx")
            seen |= now
        self.assertLess(len(seen), 5, "a new upstream connection per request")

    def test_forwarded_client_ip(self):
        """nginx's X-Forwarded-For names the client in groupsync's log
        (GROUPSYNC_TRUSTED_PROXIES); the TCP peer stays as "peer"."""
        if not loopback_alias_works(OUTSIDE):
            self.skipTest("cannot bind %s to play an outside client" % OUTSIDE)
        st, hdr, _, _ = self.deliver(sample("delivery-group-add.json"), secret="wrong-secret",
                                     source=OUTSIDE)
        self.assertEqual(st, 401)
        line = self.log_line(hdr.get("X-Request-Id"))
        self.assertEqual(line.get("client"), OUTSIDE, line)
        self.assertEqual(line.get("peer"), "127.0.0.1", line)

    def test_forwarded_header_from_untrusted_peer_ignored(self):
        """Straight to groupsync, a forged X-Forwarded-For is not believed."""
        if not loopback_alias_works(OUTSIDE):
            self.skipTest("cannot bind %s to play an outside client" % OUTSIDE)
        st, hdr, _ = self.gs.request("POST", "/hooks/okta", b"{}", {
            "Authorization": "wrong", "X-Forwarded-For": "203.0.113.66",
            "X-Real-IP": "203.0.113.66"}, conn=self.direct_from(OUTSIDE))
        self.assertEqual(st, 401)
        line = self.log_line(hdr.get("X-Request-Id"))
        self.assertEqual(line.get("client"), OUTSIDE, line)

    def log_line(self, rid):
        """groupsync's log line of the request with X-Request-Id rid."""
        return wait_until(lambda: next((x for x in self.gs.log_lines()
                                        if x.get("request_id") == rid), None),
                          what="the log line of request %s" % rid)

    @staticmethod
    def direct_from(source):
        """An HTTP connection to groupsync itself from a given source address."""
        import http.client
        return http.client.HTTPConnection("127.0.0.1", DeployNginx.gs.port, timeout=10,
                                          source_address=(source, 0))

if __name__ == "__main__":
    unittest.main()
