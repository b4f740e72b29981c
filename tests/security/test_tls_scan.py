"""Issue 5, TLS: scans groupsync's HTTPS listener (and the nginx site in
deploy/nginx) with sslscan and testssl.sh and fails on anything below
TLS 1.2, weak or non-forward-secret suites, compression, insecure
renegotiation or weak keys (policy and parsing in tlsscan.py).

Both an EC P-256 and an RSA 2048 certificate: the TLS 1.2 suites offered
depend on the key type. Each scanner is first run against a deliberately
weak Python TLS server, so that a scanner unable to speak TLS 1.0 or CBC
suites (OpenSSL 3 builds) cannot pass vacuously. Python's ssl module
cross-checks the protocol versions without any scanner.
"""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import tlsscan
import test_deploy_nginx as nginx_site
from harness import Groupsync, free_port, make_cert, needs

WEAK_CIPHERS = "AES128-SHA:ECDHE-RSA-AES128-SHA:AES256-GCM-SHA384:@SECLEVEL=0"


def make_rsa_cert(directory, bits=2048):
    cert = os.path.join(directory, "rsa%d-cert.pem" % bits)
    key = os.path.join(directory, "rsa%d-key.pem" % bits)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:%d" % bits, "-nodes", "-keyout", key,
         "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class WeakServer:
    """A TLS 1.0+ server with non-forward-secret CBC suites: every scanner
    and probe below must notice it."""

    def __init__(self, tmp):
        cert, key = make_rsa_cert(tmp)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1
        self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.set_ciphers(WEAK_CIPHERS)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(5)
                with self.ctx.wrap_socket(conn, server_side=True) as s:
                    s.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def stop(self):
        self.sock.close()


def handshake(port, version):
    """The negotiated version, or None when the handshake fails. The client
    is allowed everything (security level 0) so that a failure is the
    server's refusal, not the client's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = version
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return s.version()
    except (ssl.SSLError, ConnectionError):
        return None


V = ssl.TLSVersion


class TlsScan(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gs-tls-")
        cls.weak = WeakServer(cls.tmp)
        cls.servers = {}
        rsa = make_rsa_cert(cls.tmp)
        for kind, pair in (("ec", make_cert(cls.tmp)), ("rsa", rsa)):
            gs = Groupsync(tls=True, env={"GROUPSYNC_TLS_CERT": pair[0],
                                          "GROUPSYNC_TLS_KEY": pair[1]})
            gs.cert = pair[0]
            cls.servers[kind] = gs.start()

    @classmethod
    def tearDownClass(cls):
        for gs in cls.servers.values():
            gs.cleanup()
        cls.weak.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def report(self, what, summary):
        print("\n%s: %s" % (what, summary))

    def test_python_handshakes(self):
        self.assertEqual(handshake(self.weak.port, V.TLSv1), "TLSv1",
                         "this client cannot speak TLS 1.0: the checks below would be vacuous")
        for kind, gs in self.servers.items():
            with self.subTest(kind):
                self.assertIsNone(handshake(gs.port, V.TLSv1), "TLS 1.0 accepted")
                self.assertIsNone(handshake(gs.port, V.TLSv1_1), "TLS 1.1 accepted")
                self.assertEqual(handshake(gs.port, V.TLSv1_2), "TLSv1.2")
                self.assertEqual(handshake(gs.port, V.TLSv1_3), "TLSv1.3")

    def sslscan(self, port, what):
        findings, summary = tlsscan.sslscan_findings(tlsscan.sslscan_xml(port))
        self.report("sslscan " + what, summary)
        return findings

    @needs(tlsscan.SSLSCAN, "sslscan (Debian sslscan)")
    def test_sslscan(self):
        weak = self.sslscan(self.weak.port, "weak server")
        for expected in ("protocol tls 1.0 accepted", "AES128-SHA: no forward secrecy",
                         "not an AEAD cipher"):
            self.assertTrue(any(expected in f for f in weak), (expected, weak))
        for kind, gs in self.servers.items():
            with self.subTest(kind):
                self.assertEqual(self.sslscan(gs.port, "groupsync " + kind), [])

    # testssl.sh takes about 30 s a scan: one scan per test
    @needs(tlsscan.TESTSSL, "testssl.sh (Debian testssl.sh)")
    def test_testssl_detects_weak_server(self):
        weak = tlsscan.testssl_findings(tlsscan.testssl_json(self.weak.port, self.tmp))
        for expected in ("testssl TLS1:", "testssl cipherlist_AVERAGE:"):
            self.assertTrue(any(f.startswith(expected) for f in weak), (expected, weak))

    def scan_testssl(self, kind):
        report = tlsscan.testssl_json(self.servers[kind].port, self.tmp)
        self.report("testssl groupsync " + kind,
                    {k: report[k]["finding"] for k in
                     ("PFS_ciphers", "PFS_ECDHE_curves", "DH_groups", "cert_keySize")
                     if k in report})
        self.assertEqual(tlsscan.testssl_findings(report), [])

    @needs(tlsscan.TESTSSL, "testssl.sh (Debian testssl.sh)")
    def test_testssl_ec(self):
        self.scan_testssl("ec")

    @needs(tlsscan.TESTSSL, "testssl.sh (Debian testssl.sh)")
    def test_testssl_rsa(self):
        self.scan_testssl("rsa")

    def test_weak_key_refused(self):
        """A 1024-bit RSA key is refused at start, saying why, whatever the
        system OpenSSL's default security level (OPENSSL_CONF=/dev/null)."""
        cert, key = make_rsa_cert(self.tmp, 1024)
        gs = Groupsync(tls=True, env={"GROUPSYNC_TLS_CERT": cert, "GROUPSYNC_TLS_KEY": key,
                                      "OPENSSL_CONF": "/dev/null"})
        try:
            with self.assertRaises(RuntimeError) as cm:
                gs.start()
            self.assertIn("too small", str(cm.exception))
        finally:
            gs.cleanup()


class NginxSiteScan(unittest.TestCase):
    """deploy/nginx/groupsync.conf as committed (ports and paths substituted,
    as in tests/integration/test_deploy_nginx.py), RSA certificate."""

    @needs(os.access(nginx_site.NGINX, os.X_OK) and tlsscan.SSLSCAN,
           "nginx-light and sslscan (Debian)")
    def test_sslscan_nginx_site(self):
        tmp = tempfile.mkdtemp(prefix="gs-tls-nginx-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = make_rsa_cert(tmp)
        port = free_port()
        with open(nginx_site.SITE, encoding="utf-8") as f:
            site = nginx_site.render_site(f.read(), port, free_port(), free_port(), cert, key)
        site_path, conf = os.path.join(tmp, "site.conf"), os.path.join(tmp, "nginx.conf")
        with open(site_path, "w", encoding="utf-8") as f:
            f.write(site)
        with open(conf, "w", encoding="utf-8") as f:
            f.write(nginx_site.main_conf(tmp, site_path))
        argv = [nginx_site.NGINX, "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", conf]
        proc = subprocess.Popen(argv + ["-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        from harness import wait_until
        wait_until(lambda: handshake(port, V.TLSv1_2) or proc.poll() is not None,
                   timeout=15, what="nginx")
        self.assertIsNone(proc.poll(), "nginx exited")
        findings, summary = tlsscan.sslscan_findings(tlsscan.sslscan_xml(port))
        print("\nsslscan nginx site: %s" % summary)
        self.assertEqual(findings, [])
        self.assertIsNone(handshake(port, V.TLSv1_1))


if __name__ == "__main__":
    unittest.main()
