"""Runs the real groupsync binary for integration tests.

Standard library only. The binary comes from $GROUPSYNC_BIN (CTest sets
it); sample deliveries from tests/data/okta/samples.
"""
import atexit
import contextlib
import copy
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.environ.get("GS_TEST_DATA_DIR", os.path.join(ROOT, "tests", "data"))
SAMPLES = os.path.join(DATA, "okta", "samples")
BIN = os.environ.get("GROUPSYNC_BIN", os.path.join(ROOT, "build", "groupsync"))

SECRET = "Basic dGVzdDp0ZXN0LXNlY3JldC0xMjM0NQ=="
SECRET_NEXT = "Basic bmV4dDpuZXh0LXNlY3JldC02Nzg5MA=="
GROUP = "00g8sync7AbCdEfGh4x7"
PENDING, LEASED, DONE, DEAD = 0, 1, 2, 3  # enum queue_state


def needs(available, what):
    """Skips a test whose tool is missing on a developer's machine, but fails
    it in CI (CI=true): scripts/setup.sh installs every tool, so a missing one
    there is a broken setup, not a reason to pass unseen."""
    if available:
        return lambda f: f
    if os.environ.get("CI") == "true":
        def fail(f):
            if isinstance(f, type):  # a whole TestCase class
                def refuse(cls):
                    raise AssertionError("%s is missing: scripts/setup.sh should have "
                                         "installed it" % what)
                f.setUpClass = classmethod(refuse)
                return f

            def run(self, *a, **k):
                self.fail("%s is missing: scripts/setup.sh should have installed it" % what)
            run.__name__, run.__doc__ = f.__name__, f.__doc__
            return run
        return fail
    return unittest.skip("%s not installed" % what)


# Ports for servers the tests start come from below the kernel's ephemeral
# range (32768-60999 on Linux): a port the kernel handed out for bind(0) and
# that was then closed may be taken as the local port of any outgoing
# connection before the server binds it (seen in CI: "Address already in use").
# Below that range only another test can take a port, and a lock file per port,
# held until this process exits, keeps parallel tests (ctest -j, two runs on
# one machine) apart.
PORT_RANGE = (20000, 32000)
PORT_LOCKS = os.path.join(tempfile.gettempdir(), "groupsync-test-ports")
_held_ports = []  # open lock files: the locks last as long as the process


@atexit.register
def _release_ports():
    for lock in _held_ports:
        lock.close()


def free_port():
    """A loopback TCP port no other test of this machine holds, not ephemeral."""
    import fcntl
    import random
    os.makedirs(PORT_LOCKS, exist_ok=True)
    for _ in range(500):
        port = random.randrange(*PORT_RANGE)
        lock = open(os.path.join(PORT_LOCKS, str(port)), "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            lock.close()
            continue
        _held_ports.append(lock)
        return port
    raise RuntimeError("no free port in %d-%d" % PORT_RANGE)


PG_CLUSTER = os.path.join(ROOT, "tests", "pg", "cluster.sh")


def have_postgres():
    return any(os.path.exists("/usr/lib/postgresql/%s/bin/initdb" % v)
               for v in os.listdir("/usr/lib/postgresql")) \
        if os.path.isdir("/usr/lib/postgresql") else False


def psql(uri, sql):
    r = subprocess.run(["psql", uri, "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("psql: %s" % r.stderr.strip())
    return r.stdout.strip()


def pg_database(test):
    """Starts a private PostgreSQL cluster (tests/pg/cluster.sh: initdb, a
    unix socket, no TCP), stopped by test's cleanup, with a database
    "groupsync" in it. Returns (its libpq URI, the cluster's directory)."""
    # the cluster runs as the postgres user: a directory it can reach
    parent = tempfile.mkdtemp(prefix="gs-pg-")
    os.chmod(parent, 0o755)
    pg_dir = os.path.join(parent, "cluster")
    r = subprocess.run([PG_CLUSTER, "start", pg_dir], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
        test.fail("cluster.sh start: " + r.stderr)

    def stop():
        subprocess.run([PG_CLUSTER, "stop", pg_dir], capture_output=True, timeout=120)
        shutil.rmtree(parent, ignore_errors=True)
    test.addCleanup(stop)
    base = r.stdout.strip()
    psql(base, "CREATE DATABASE groupsync")
    return base.replace("/postgres?", "/groupsync?"), pg_dir


def sample(name):
    with open(os.path.join(SAMPLES, name), encoding="utf-8") as f:
        return json.load(f)


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 (ECDSA P-256)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def delivery(events, event_id=None):
    """A delivery envelope around events, in Okta's shape."""
    body = sample("delivery-group-add.json")
    body["eventId"] = event_id or str(uuid.uuid4())
    body["data"]["events"] = events
    return body


def membership_event(user_id, group_id=GROUP, kind="add", event_uuid=None):
    ev = copy.deepcopy(sample("delivery-group-add.json")["data"]["events"][0])
    ev["uuid"] = event_uuid or str(uuid.uuid4())
    ev["eventType"] = "group.user_membership." + kind
    for t in ev["target"]:
        if t["type"] == "User":
            t["id"] = user_id
        else:
            t["id"] = group_id
    return ev


class Groupsync:
    """One groupsync process with its own data directory and port."""

    def __init__(self, tls=False, env=None, data_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="gs-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GROUPSYNC_LISTEN": "127.0.0.1:%d" % self.port,
            "GROUPSYNC_HOOK_SECRET": SECRET,
            "GROUPSYNC_HOOK_SECRET_NEXT": SECRET_NEXT,
            "GROUPSYNC_OKTA_ORG_URL": "http://127.0.0.1:9",
            "GROUPSYNC_OKTA_API_TOKEN": "00okta-api-token-for-tests",
            "GROUPSYNC_GROUP_IDS": GROUP + ",00g8second0000000000",
            "GROUPSYNC_DATA_DIR": self.data_dir,
            "GROUPSYNC_LOG_LEVEL": "debug",
            "GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
            "REMOTE_BASE_URL": "http://127.0.0.1:9",
            # intake tests look at the queue as stored: no worker takes jobs
            "GROUPSYNC_WORKERS": "0",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        if tls:
            self.cert, self.key = make_cert(self.tmp)
            self.env["GROUPSYNC_TLS_CERT"] = self.cert
            self.env["GROUPSYNC_TLS_KEY"] = self.key
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(self.tmp, "groupsync.log")

    def start(self, timeout=10):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=self.logf,
                                     stderr=self.logf)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("groupsync exited %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                status, _, _ = self.request("GET", "/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("groupsync did not start:\n" + self.log())

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_lines(self):
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        return ctx

    def connection(self, timeout=10):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ssl_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or self.connection()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data
        finally:
            if own:
                conn.close()

    def deliver(self, body, secret=SECRET, conn=None):
        return self.request("POST", "/hooks/okta", body,
                            {"Authorization": secret, "Content-Type": "application/json"},
                            conn=conn)

    def raw(self, data, read=True, timeout=5):
        """Sends raw bytes on a new connection; returns what came back."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.tls:
            s = self.ssl_context().wrap_socket(s, server_hostname="127.0.0.1")
        try:
            try:
                s.sendall(data)
            except OSError:
                pass  # the server may answer and close before all is sent
            if not read:
                return b""
            out = b""
            with contextlib.suppress(OSError):
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            return out
        finally:
            s.close()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        if self.proc:
            self.logf.close()
        return self.proc.returncode if self.proc else None

    def db(self):
        return sqlite3.connect(os.path.join(self.data_dir, "groupsync.db"), timeout=10)

    def jobs(self):
        with contextlib.closing(self.db()) as db:
            return db.execute(
                "SELECT uuid, user_id, event_type, state FROM jobs ORDER BY id").fetchall()

    def cleanup(self):
        """Stops the process and removes its files; then fails the test if
        the process printed a ThreadSanitizer report. Checked here, last in
        every tearDown, because a report at shutdown only changes the exit
        status, which most tests do not look at."""
        try:
            self.stop()
        finally:
            report = tsan_report(self.log()) if os.path.exists(self.log_path) else None
            shutil.rmtree(self.tmp, ignore_errors=True)
        if report:
            raise AssertionError("groupsync: ThreadSanitizer report:\n" + report)


def get_once(path, env=None):
    """Starts groupsync, GETs path, stops it: (status, headers, body)."""
    gs = Groupsync(env=env).start()
    try:
        return gs.request("GET", path)
    finally:
        gs.cleanup()


def tsan_report(text):
    """The first ThreadSanitizer report in text, or None."""
    start = text.find("WARNING: ThreadSanitizer:")
    if start < 0:
        start = text.find("ThreadSanitizer: ")  # FATAL/ERROR lines too
    if start < 0:
        return None
    end = text.find("==================", start)
    return text[start:end if end > 0 else start + 20000]


def run_cli(args, env, timeout=30, wrap=()):
    """Runs groupsync ARGS (under the command wrap, e.g. faketime, when
    given) with env on top of the sanitizers' options."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            full[k] = os.environ[k]
    full.update(env)
    r = subprocess.run(list(wrap) + [BIN] + args, env=full, capture_output=True, text=True,
                       timeout=timeout)
    report = tsan_report(r.stderr or "")
    if report:
        raise AssertionError("groupsync %s: ThreadSanitizer report:\n%s"
                             % (" ".join(args), report))
    return r


JSON_SERVER = os.path.join(ROOT, "tests", "node_modules", ".bin", "json-server")
OKTA_STANDIN = os.path.join(ROOT, "tests", "standins", "okta.js")
SCIM_STANDIN = os.path.join(ROOT, "tests", "standins", "scim.js")
SCIMMY = os.path.join(ROOT, "tests", "node_modules", "scimmy-routers")
OKTA_TOKEN = "00okta-api-token-for-tests"


def wait_http(url, timeout=15, proc=None, what="server"):
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited %d" % (what, proc.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s did not answer at %s" % (what, url))


def http_json(method, url, body=None, headers=None, timeout=10):
    """A small JSON client for the stand-ins' APIs."""
    import urllib.request
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, raw


class StandIn:
    """A helper server on a free loopback port, logging to tmp/NAME.log."""

    def __init__(self, tmp, name, argv_for_port, ready_path):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(tmp, name + ".log"), "ab")
        self.proc = subprocess.Popen(argv_for_port(self.port), stdout=self.log, stderr=self.log)
        wait_http(self.url + ready_path, proc=self.proc, what=name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class JsonServer(StandIn):
    """The remote system: a real json-server (npm, pinned) on loopback."""

    def __init__(self, tmp):
        self.db = os.path.join(tmp, "remote-db.json")
        with open(self.db, "w") as f:
            json.dump({"users": [], "groups": []}, f)
        super().__init__(tmp, "json-server", lambda port: [
            JSON_SERVER, "--host", "127.0.0.1", "--port", str(port), "--quiet", self.db],
            "/users")

    def users(self):
        return http_json("GET", self.url + "/users")[1]


class ScimServer(StandIn):
    """The remote system as a real SCIM 2.0 server: scimmy + scimmy-routers
    (npm, pinned) over an in-memory store (tests/standins/scim.js)."""

    def __init__(self, tmp, token="scim-test-token-1234"):
        self.token = token
        super().__init__(tmp, "scim", lambda port: [
            "node", SCIM_STANDIN, "--port", str(port), "--token", token], "/__admin/state")
        self.base = self.url + "/scim/v2"

    def state(self):
        return http_json("GET", self.url + "/__admin/state")[1]

    def users(self):
        return self.state()["users"]

    def admin(self, method, path, body=None):
        return http_json(method, self.url + "/__admin" + path, body)[1]


class OktaStandin(StandIn):
    """The Okta stand-in (tests/standins/okta.js) on loopback.

    Rate limits are off unless asked for (rate_limits="unlimited": every
    bucket 10,000,000 per window, no concurrency limit), because tests and
    benchmarks make bursts. rate_limits="okta" gives Okta's Enterprise bucket
    sizes and its concurrency limit of 75; bucket_limits={NAME: N} sizes single
    buckets, rate_window=S shrinks the minute, max_concurrent=N (0 = off) sets
    the concurrency limit. Bucket names: tests/standins/README.md."""

    def __init__(self, tmp, hook_url=None, hook_secret=SECRET, extra=None,
                 rate_limits="unlimited", bucket_limits=None, rate_window=None,
                 max_concurrent=None):
        def argv(port):
            args = ["node", OKTA_STANDIN, "--port", str(port), "--api-token", OKTA_TOKEN,
                    "--rate-limits", rate_limits]
            for name, n in (bucket_limits or {}).items():
                args += ["--bucket-limit", "%s=%d" % (name, n)]
            if rate_window is not None:
                args += ["--rate-window", str(rate_window)]
            if max_concurrent is not None:
                args += ["--max-concurrent", str(max_concurrent)]
            if hook_url:
                args += ["--hook-url", hook_url, "--hook-secret", hook_secret]
            return args + (extra or [])
        super().__init__(tmp, "okta-standin", argv, "/__admin/state")

    def admin(self, method, path, body=None):
        status, data = http_json(method, self.url + "/__admin" + path, body)
        if status >= 300:
            raise RuntimeError("stand-in %s %s: %s %s" % (method, path, status, data))
        return data

    def api(self, method, path, body=None):
        return http_json(method, self.url + path, body,
                         {"Authorization": "SSWS " + OKTA_TOKEN})

    def calls(self):
        return self.admin("GET", "/calls")["calls"]

    def ratelimit(self, body=None):
        """GET (or, with a body, POST) /__admin/ratelimit: buckets and counters."""
        return self.admin("POST" if body is not None else "GET", "/ratelimit", body)


def drop_tmp(path):
    """Removes a test's temporary folder, or keeps it and says where
    (GS_KEEP_TMP=1), to read the logs of a failed run."""
    if os.environ.get("GS_KEEP_TMP"):
        print("kept", path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def wait_until(predicate, timeout=20, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


class FaultProxy(StandIn):
    """tests/integration/faultproxy.py in front of an upstream port."""

    def __init__(self, tmp, upstream_port):
        super().__init__(tmp, "faultproxy", lambda port: [
            "python3", os.path.join(HERE, "faultproxy.py"), str(port), str(upstream_port)],
            "/__fault/log")

    def set(self, **fault):
        http_json("POST", self.url + "/__fault", fault)

    def requests(self):
        return http_json("GET", self.url + "/__fault/log")[1]
