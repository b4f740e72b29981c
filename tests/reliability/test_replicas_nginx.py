"""Three replicas behind nginx on one PostgreSQL (issue 11, section 3).

The replicas, the private cluster, the Okta stand-in, json-server and the
final audit are test_replicas.ReplicaSet's; in front of them runs Debian's
nginx with deploy/nginx/groupsync.conf as committed (test_deploy_nginx's
rendering: ports and certificate paths substituted), its upstream holding
all three replicas, so that what is tested is the shipped failover
(`proxy_next_upstream error timeout non_idempotent`). The test clients
send steady deliveries to nginx only, never to a replica, and do no
failover of their own: every answer nginx gives is counted. A delivery
answered anything but 2xx would cost Okta its one retry, so none may be
for a kill -9 or a rolling restart; while the database restarts a
delivery may be answered 503 with Retry-After, and the client sends it
again once after OKTA_RETRY_S, as Okta does, and then it must be 200.
"""
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import threading
import time
import unittest

import test_deploy_nginx as deploy_nginx  # a module, not its class: its tests stay there
import test_replicas as rep
from harness import SECRET, free_port, make_cert, needs, wait_until

# Okta retries a failed delivery once, after 3 s
OKTA_RETRY_S = float(os.environ.get("GS_OKTA_RETRY_S", "3"))
RATE = 20  # deliveries per second, over two clients


def render_upstream(text, https_port, http_port, ports, cert, key):
    """The committed site (test_deploy_nginx.render_site) with its one
    upstream server line made one line per replica, after checking that
    the failover settings this test relies on are the shipped ones."""
    for line in ("proxy_next_upstream error timeout non_idempotent;",
                 "proxy_next_upstream_tries 3;"):
        if line not in text:
            raise AssertionError("deploy/nginx/groupsync.conf lacks " + line)
    text = deploy_nginx.render_site(text, https_port, http_port, ports[0], cert, key)
    one = re.compile(r"^(\s*)server 127\.0\.0\.1:%d\b([^;]*);" % ports[0], re.M)
    text, n = one.subn(lambda m: "\n".join("%sserver 127.0.0.1:%d%s;" % (m[1], p, m[2])
                                           for p in ports), text)
    if n != 1:
        raise AssertionError("upstream groupsync_backend: %d server lines" % n)
    return text


def fail_timeout_s(text):
    """How long nginx leaves a replica alone after it failed (the server
    line's fail_timeout; nginx's default 10 s without one)."""
    m = re.search(r"^\s*server\s+127\.0\.0\.1:\d+[^;]*\bfail_timeout=(\d+)s", text, re.M)
    return int(m[1]) if m else 10


class Nginx:
    """nginx in front of the replicas, as test_deploy_nginx runs it."""

    def __init__(self, tmp, ports):
        self.tmp = os.path.join(tmp, "nginx")
        os.makedirs(self.tmp)
        self.cert, self.key = make_cert(self.tmp)
        self.port, http_port = free_port(), free_port()
        with open(deploy_nginx.SITE, encoding="utf-8") as f:
            text = render_upstream(f.read(), self.port, http_port, ports, self.cert, self.key)
        self.fail_timeout_s = fail_timeout_s(text)
        site_path = os.path.join(self.tmp, "groupsync.conf")
        with open(site_path, "w", encoding="utf-8") as f:
            f.write(text)
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(deploy_nginx.main_conf(self.tmp, site_path))
        argv = [deploy_nginx.NGINX, "-p", self.tmp, "-e", os.path.join(self.tmp, "error.log"),
                "-c", conf]
        check = subprocess.run(argv + ["-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError("nginx -t failed:\n" + check.stderr)
        self.out = open(os.path.join(self.tmp, "nginx.out"), "ab")
        self.proc = subprocess.Popen(argv + ["-g", "daemon off;"], stdout=self.out,
                                     stderr=self.out)
        self.ctx = ssl.create_default_context(cafile=self.cert)

    def deliver(self, body, timeout=30):
        """One delivery on a new connection, as Okta sends them: (status,
        Retry-After), status None when the connection failed."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ctx)
        try:
            conn.request("POST", "/hooks/okta", body=body,
                         headers={"Authorization": SECRET, "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return r.status, r.getheader("Retry-After")
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            conn.close()

    def ready(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5, context=self.ctx)
        try:
            conn.request("GET", "/readyz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def passed_on(self):
        """Requests nginx passed on to the next replica after one failed
        (refused, reset, timed out), from its error log."""
        return len(re.findall(r"\[error\][^\n]*while (connecting to|reading response header "
                              r"from|sending request to) upstream", self.error_log()))

    def error_log(self):
        try:
            with open(os.path.join(self.tmp, "error.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.out.close()


@needs(os.access(deploy_nginx.NGINX, os.X_OK), "nginx (Debian nginx-light)")
class NginxReplicas(rep.ReplicaSet):
    n_replicas = 3

    def setUp(self):
        super().setUp()
        self.nginx = Nginx(self.tmp, [g.port for g in self.replicas])
        self.addCleanup(self.nginx.stop)
        self.answers = []  # (status, Retry-After) of every answer nginx gave
        self.resent = 0
        self.retries = []  # Okta's retries in flight

    def attempt(self, body):
        """One delivery to nginx; counts its answer. True if 200."""
        status, retry_after = self.nginx.deliver(body)
        with self.lock:
            self.answers.append((status, retry_after))
            if status == 200:
                self.acked += 1
                return True
            self.failed_attempts += 1
        return False

    def send(self, body, okta_retry, on_200):
        """Sends one delivery to nginx and calls on_200() once it is
        answered 200; with okta_retry, one that was not goes again once,
        OKTA_RETRY_S later, from a thread of its own (Okta's retry does
        not hold back its next deliveries)."""
        body = body.encode()
        with self.lock:
            self.sent += 1
        if self.attempt(body):
            on_200()
        elif okta_retry:
            def retry():
                time.sleep(OKTA_RETRY_S)
                if self.attempt(body):
                    on_200()
            t = threading.Thread(target=retry)
            with self.lock:
                self.resent += 1
                self.retries.append(t)
            t.start()

    def not_2xx(self):
        with self.lock:
            return [a for a in self.answers if a[0] is None or not 200 <= a[0] < 300]

    def steady(self, action, okta_retry=False):
        """Two clients deliver the join of a new user each, RATE a second
        in all, to nginx, from before action() starts until a second after
        it returns; then every user must be synced exactly once."""
        for g in self.replicas:
            g.start(timeout=60)
        wait_until(self.nginx.ready, timeout=20, what="nginx answering:\n" +
                   self.nginx.error_log())
        stop = threading.Event()
        members = []

        def client(n):
            try:
                next_at = time.time()
                while not stop.is_set():
                    uid = self.new_user("n%d" % n)
                    body = json.dumps(self.join(uid))

                    def synced_later(uid=uid):
                        with self.lock:
                            members.append(uid)
                    self.send(body, okta_retry, synced_later)
                    next_at += 2.0 / RATE
                    time.sleep(max(0.0, next_at - time.time()))
            except Exception as e:  # reported by the test, not lost in a thread
                self.errors.append("client %d: %r" % (n, e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            action()
            time.sleep(1)
            done_at = time.time()
        finally:
            stop.set()
            for t in threads + self.retries:
                t.join(120)
        self.assertGreater(len(members), 20)
        failed = {}
        for status, _ in self.not_2xx():
            failed[status] = failed.get(status, 0) + 1
        if not okta_retry:
            self.assertEqual(failed, {}, "answers not 2xx by status; nginx's error log:\n" +
                             self.nginx.error_log()[-3000:])
        settled, synced = self.check_all_synced(members, done_at)
        return ("replicas %d behind nginx, deliveries %d, answered 200 %d, answers not 2xx "
                "%d (%s), resent by 'Okta' %d, passed on by nginx %d, users synced %d of %d, "
                "duplicates 0, lost 0, all done %.1f s after the event (lease %d ms)"
                % (len(self.replicas), self.sent, self.acked, len(self.not_2xx()),
                   sorted(set(str(a[0]) for a in self.not_2xx())), self.resent,
                   self.nginx.passed_on(), synced, len(members), settled, rep.LEASE_MS))

    def test_kill9_one_of_three(self):
        """One replica dies holding leases and stays dead: nginx sends its
        share to the other two (connection refused: the next upstream) and
        they finish its jobs once its leases expire. No delivery fails."""
        a = self.replicas[0]
        held = []

        def kill_a():
            held.append(self.kill_holding_leases(a, 30))
            time.sleep(rep.LEASE_MS / 1000.0 + 1)  # deliveries go on past the expiry

        line = self.steady(kill_a)
        print("\n%s; leases held by the killed replica %d" % (line, held[0]), flush=True)
        self.assertGreater(held[0], 0)
        self.assertEqual(self.not_2xx(), [])
        # the failover was nginx's: it tried the dead replica and went on
        self.assertRegex(self.nginx.error_log(), r"connect\(\) failed \(111: Connection "
                         r"refused\)[^\n]*upstream: \"http://127\.0\.0\.1:%d/" % a.port)

    def test_rolling_restart_of_three(self):
        """Each replica in turn gets SIGTERM and is started again, answering,
        before the next one stops; back as far as nginx knows too: a
        replica that refused a connection is tried again only after the
        server line's fail_timeout (as Kubernetes waits for readiness, the
        test waits for that). No delivery fails."""
        def roll():
            for g in self.replicas:
                self.assertEqual(g.stop(), 0)
                g.start(timeout=60)
                time.sleep(self.nginx.fail_timeout_s + 0.5)

        print("\n%s; rolling restart" % self.steady(roll), flush=True)
        self.assertEqual(self.not_2xx(), [])

    def test_postgres_restart_behind_nginx(self):
        """The database restarts in the middle: a delivery meanwhile may be
        answered 503 with Retry-After (never anything else), sent again
        like Okta does, and then answered 200; the replicas carry on by
        themselves."""
        def restart():
            subprocess.run([rep.CLUSTER, "restart", self.pg_dir], check=True, timeout=120,
                           capture_output=True)
            for g in self.replicas:
                wait_until(lambda g=g: g.request("GET", "/readyz")[0] == 200, timeout=30,
                           what="readyz 200 again")

        print("\n%s; PostgreSQL restarted" % self.steady(restart, okta_retry=True), flush=True)
        for status, retry_after in self.not_2xx():
            self.assertEqual(status, 503)
            self.assertTrue(retry_after)


if __name__ == "__main__":
    unittest.main()
