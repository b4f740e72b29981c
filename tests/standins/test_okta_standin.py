"""Self-test of the Okta stand-in (tests/standins/okta.js).

Standard library only; keys and signatures come from the openssl CLI.
Run from the repository root:

    python3 -m unittest tests/standins/test_okta_standin.py

or from this directory: python3 -m unittest test_okta_standin

Each test starts its own stand-in process (a fresh org), so tests are
independent and can run in any order.
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "okta.js")
NODE = os.environ.get("NODE", shutil.which("node") or "node")
TOKEN = "00test-api-token"
GROUP_EVENTS = {"group.user_membership.add", "group.user_membership.remove"}


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jprofile(login, **extra):
    first, _, rest = login.partition(".")
    p = {"login": login, "email": login, "firstName": first.capitalize() or "X",
         "lastName": (rest.split("@")[0] or "Y").capitalize()}
    p.update(extra)
    return p


# ---------------------------------------------------------------- openssl helpers

class Keys:
    """Key pairs made with the openssl CLI, and JWS signing with them."""

    def __init__(self, directory):
        self.dir = directory

    def _run(self, *args, data=None):
        return subprocess.run(["openssl", *args], input=data, check=True,
                              capture_output=True).stdout

    def rsa(self, name):
        key = os.path.join(self.dir, name + ".key")
        pub = os.path.join(self.dir, name + ".pub")
        self._run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
        self._run("pkey", "-in", key, "-pubout", "-out", pub)
        return key, pub

    def ec(self, name):
        key = os.path.join(self.dir, name + ".key")
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
        der = self._run("pkey", "-in", key, "-pubout", "-outform", "DER")
        point = der[-65:]  # uncompressed point 0x04 || X || Y at the end of the SPKI
        assert point[0] == 4
        jwk = {"kty": "EC", "crv": "P-256", "x": b64u(point[1:33]), "y": b64u(point[33:])}
        return key, jwk

    @staticmethod
    def _der_to_raw(der, size=32):
        assert der[0] == 0x30
        i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
        out = b""
        for _ in range(2):
            assert der[i] == 2
            n = der[i + 1]
            out += int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(size, "big")
            i += 2 + n
        return out

    def sign(self, key, header, payload):
        signing_input = b64u(json.dumps(header, separators=(",", ":"))) + "." + \
            b64u(json.dumps(payload, separators=(",", ":")))
        sig = self._run("dgst", "-sha256", "-sign", key, data=signing_input.encode())
        if header["alg"] == "ES256":
            sig = self._der_to_raw(sig)
        return signing_input + "." + b64u(sig)


def jwk_thumbprint(jwk):
    canon = json.dumps({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]},
                       separators=(",", ":"))
    return b64u(hashlib.sha256(canon.encode()).digest())


# ---------------------------------------------------------------- processes

class Standin:
    def __init__(self, *args):
        self.proc = subprocess.Popen([NODE, STANDIN, "--port", "0", "--api-token", TOKEN, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("okta-standin listening on http://"):
            self.proc.kill()
            raise RuntimeError("stand-in did not start: %r %s" % (line, self.proc.stderr.read().decode()))
        self.base = line.rsplit(" ", 1)[1]
        self.host, port = urllib.parse.urlsplit(self.base).netloc.rsplit(":", 1)
        self.port = int(port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def request(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if data is None and method in ("POST", "PUT"):
            data = b""
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read()
        conn.close()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text.decode(errors="replace")
        return resp.status, resp, parsed

    def api(self, method, path, body=None, headers=None, token=TOKEN):
        hdrs = {"Accept": "application/json", "User-Agent": "standin-selftest/1"}
        if token is not None:
            hdrs["Authorization"] = "SSWS " + token
        hdrs.update(headers or {})
        return self.request(method, path, body, hdrs)

    def admin(self, method, path, body=None):
        status, _, parsed = self.request(method, "/__admin/" + path, body)
        if status >= 300:
            raise AssertionError("admin %s %s -> %d %r" % (method, path, status, parsed))
        return parsed


class HookReceiver:
    """A tiny HTTP server standing in for groupsync's hook endpoint."""

    def __init__(self, statuses=None):
        self.received = []
        self.statuses = list(statuses or [])
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if body:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                challenge = self.headers.get("X-Okta-Verification-Challenge")
                with outer.cond:
                    outer.received.append(("GET", dict(self.headers), None))
                    outer.cond.notify_all()
                self._answer(200, json.dumps({"verification": challenge}).encode())

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with outer.cond:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.received.append(("POST", dict(self.headers), body))
                    outer.cond.notify_all()
                self._answer(status)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/okta" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self):
        with self.cond:
            return [r for r in self.received if r[0] == "POST"]

    def wait_posts(self, n, timeout=10):
        deadline = time.time() + timeout
        with self.cond:
            while len([r for r in self.received if r[0] == "POST"]) < n:
                left = deadline - time.time()
                if left <= 0:
                    break
                self.cond.wait(left)
        return self.posts()

    def events(self):
        return [e for _, _, body in self.posts() for e in body["data"]["events"]]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- tests

class StandinTest(unittest.TestCase):
    args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="okta-standin-test-")
        self.keys = Keys(self.tmp)
        self.okta = None

    def start(self, *args):
        self.okta = Standin(*args)
        return self.okta

    def tearDown(self):
        if self.okta:
            self.okta.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def create_user(self, login, **kw):
        spec = {"profile": jprofile(login, **kw.pop("profile", {}))}
        spec.update(kw)
        return self.okta.admin("POST", "users", spec)

    def assertOktaError(self, body, code):
        self.assertEqual(body["errorCode"], code)
        self.assertEqual(body["errorLink"], code)
        for k in ("errorSummary", "errorId", "errorCauses"):
            self.assertIn(k, body)
        self.assertIsInstance(body["errorCauses"], list)


class AuthAndUsers(StandinTest):
    def test_ssws_auth(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com")
        status, _, _ = okta.api("GET", "/api/v1/users/" + u["id"])
        self.assertEqual(status, 200)
        for token, header in (("wrong", None), (None, None), (None, "Bearer nope"), (None, "SSWS")):
            hdrs = {"Authorization": header} if header else {}
            status, _, body = okta.api("GET", "/api/v1/users/" + u["id"], headers=hdrs, token=token)
            self.assertEqual(status, 401, (token, header))
            self.assertOktaError(body, "E0000011")
            self.assertEqual(body["errorSummary"], "Invalid token provided")
        calls = okta.admin("GET", "calls")["calls"]
        self.assertEqual([c["status"] for c in calls], [200, 401, 401, 401, 401])
        self.assertEqual(calls[0]["auth"], "SSWS")

    def test_get_user_shapes(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com", profile={"city": "Springfield"})
        status, resp, user = okta.api("GET", "/api/v1/users/" + u["id"])
        self.assertEqual(status, 200)
        for k in ("id", "status", "created", "activated", "statusChanged", "lastUpdated", "profile", "_links"):
            self.assertIn(k, user)
        self.assertEqual(user["status"], "ACTIVE")
        self.assertEqual(user["profile"]["city"], "Springfield")
        self.assertIsNone(user["profile"]["customId"])
        self.assertTrue(u["id"].startswith("00u") and len(u["id"]) == 20)
        self.assertEqual(user["_links"]["self"]["href"], okta.base + "/api/v1/users/" + u["id"])
        self.assertTrue(resp.getheader("ETag"))
        for h in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
            self.assertTrue(resp.getheader(h), h)
        status, _, body = okta.api("GET", "/api/v1/users/00u8gone0XyZaBcDe4x7")
        self.assertEqual(status, 404)
        self.assertOktaError(body, "E0000007")
        self.assertIn("00u8gone0XyZaBcDe4x7", body["errorSummary"])
        # a deleted user is gone
        okta.admin("POST", "users/%s/lifecycle/delete" % u["id"])
        status, _, body = okta.api("GET", "/api/v1/users/" + u["id"])
        self.assertEqual(status, 404)

    def test_partial_update_vs_put_replace(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com", profile={"city": "Springfield", "state": "IL"})
        path = "/api/v1/users/" + u["id"]
        status, _, user = okta.api("POST", path, {"profile": {"customId": "r-1"}})
        self.assertEqual(status, 200)
        self.assertEqual(user["profile"]["customId"], "r-1")
        self.assertEqual(user["profile"]["city"], "Springfield")  # untouched
        self.assertGreater(user["lastUpdated"], u["lastUpdated"])
        # null clears
        status, _, user = okta.api("POST", path, {"profile": {"state": None}})
        self.assertIsNone(user["profile"]["state"])
        self.assertEqual(user["profile"]["customId"], "r-1")
        # POST without a body is refused
        status, _, body = okta.api("POST", path)
        self.assertEqual(status, 400)
        self.assertOktaError(body, "E0000003")
        # malformed JSON
        status, _, body = okta.request("POST", path, raw=b"{nope", headers={
            "Authorization": "SSWS " + TOKEN, "Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertOktaError(body, "E0000003")
        # unknown attribute
        status, _, body = okta.api("POST", path, {"profile": {"noSuchAttr": "x"}})
        self.assertEqual(status, 400)
        self.assertOktaError(body, "E0000001")
        # PUT replaces: attributes not sent are lost
        full = {"login": "jane.doe@example.com", "email": "jane.doe@example.com",
                "firstName": "Jane", "lastName": "Doe"}
        status, _, user = okta.api("PUT", path, {"profile": dict(full, customId="r-2")})
        self.assertEqual(status, 200)
        self.assertEqual(user["profile"]["customId"], "r-2")
        self.assertNotIn("city", user["profile"])
        # PUT with only the write-back attribute fails validation (required attributes)
        status, _, body = okta.api("PUT", path, {"profile": {"customId": "r-3"}})
        self.assertEqual(status, 400)
        self.assertOktaError(body, "E0000001")
        # If-Match
        status, resp, _ = okta.api("GET", path)
        etag = resp.getheader("ETag")
        status, _, _ = okta.api("POST", path, {"profile": {"customId": "r-4"}}, headers={"If-Match": etag})
        self.assertEqual(status, 200)
        status, _, _ = okta.api("POST", path, {"profile": {"customId": "r-5"}}, headers={"If-Match": etag})
        self.assertEqual(status, 412)
        writes = okta.admin("GET", "calls?method=PUT")["calls"]
        self.assertEqual(len(writes), 2)


class Groups(StandinTest):
    def test_group_members_paging_450(self):
        okta = self.start()
        g = okta.admin("POST", "groups", {"name": "API Provisioning Group"})
        self.assertTrue(g["id"].startswith("00g"))
        users = [{"profile": jprofile("user%03d.test@example.com" % i)} for i in range(450)]
        ids = okta.admin("POST", "users?emit=0", users)["ids"]
        okta.admin("POST", "groups/%s/members?emit=0" % g["id"], {"user_ids": ids})
        path = "/api/v1/groups/%s/users?limit=200" % g["id"]
        seen, pages = [], 0
        url = path
        while url:
            status, resp, page = okta.api("GET", url)
            self.assertEqual(status, 200)
            pages += 1
            seen += [u["id"] for u in page]
            links = resp.headers.get_all("Link")
            self.assertTrue(any('rel="self"' in l for l in links))
            nxt = [l for l in links if 'rel="next"' in l]
            if nxt:
                href = nxt[0].split(";")[0].strip()[1:-1]
                self.assertTrue(href.startswith(okta.base + "/api/v1/groups/"), href)
                self.assertIn("after=", href)
                url = href[len(okta.base):]
            else:
                url = None
        self.assertEqual(pages, 3)
        self.assertEqual(len(seen), 450)
        self.assertEqual(sorted(seen), sorted(ids))  # all members exactly once

    def test_user_groups_paging_and_shape(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com")
        gids = []
        for i in range(5):
            g = okta.admin("POST", "groups", {"name": "G%d" % i, "description": "d"})
            okta.admin("POST", "groups/%s/members/%s?emit=0" % (g["id"], u["id"]))
            gids.append(g["id"])
        status, resp, page = okta.api("GET", "/api/v1/users/%s/groups?limit=2" % u["id"])
        self.assertEqual(status, 200)
        self.assertEqual(len(page), 2)
        self.assertEqual(page[0]["type"], "OKTA_GROUP")
        self.assertIn("name", page[0]["profile"])
        self.assertTrue(any('rel="next"' in l for l in resp.headers.get_all("Link")))
        status, resp, page = okta.api("GET", "/api/v1/users/%s/groups" % u["id"])
        self.assertEqual(sorted(g["id"] for g in page), sorted(gids))
        self.assertFalse(any('rel="next"' in l for l in resp.headers.get_all("Link")))


class RateLimits(StandinTest):
    def test_forced_429_until(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com")
        until = int(time.time()) + 2
        okta.admin("POST", "ratelimit", {"until_epoch": until})
        status, resp, body = okta.api("GET", "/api/v1/users/" + u["id"])
        self.assertEqual(status, 429)
        self.assertOktaError(body, "E0000047")
        self.assertEqual(body["errorSummary"], "API call exceeded rate limit due to too many requests.")
        self.assertEqual(resp.getheader("X-Rate-Limit-Reset"), str(until))
        self.assertEqual(resp.getheader("X-Rate-Limit-Remaining"), "0")
        self.assertTrue(resp.getheader("X-Rate-Limit-Limit"))
        status, _, _ = okta.api("POST", "/api/v1/users/" + u["id"], {"profile": {"customId": "x"}})
        self.assertEqual(status, 429)
        while time.time() < until:
            time.sleep(0.1)
        status, resp, _ = okta.api("GET", "/api/v1/users/" + u["id"])
        self.assertEqual(status, 200)
        calls = okta.admin("GET", "calls")["calls"]
        self.assertEqual([c["status"] for c in calls], [429, 429, 200])
        self.assertGreaterEqual(calls[-1]["time"], until * 1000)

    def test_limit_per_bucket(self):
        okta = self.start("--rate-limits", "unlimited", "--bucket-limit", "users-id-get=3",
                          "--bucket-limit", "users-id-write=3")
        u = self.create_user("jane.doe@example.com")
        statuses = [okta.api("GET", "/api/v1/users/" + u["id"])[0] for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        # the write-back has its own bucket
        status, resp, _ = okta.api("POST", "/api/v1/users/" + u["id"], {"profile": {"customId": "x"}})
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("X-Rate-Limit-Remaining"), "2")

    def test_fail_injection(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com")
        okta.admin("POST", "fail", {"status": 503, "count": 2, "path_prefix": "/api/v1/users"})
        got = [okta.api("GET", "/api/v1/users/" + u["id"])[0] for _ in range(3)]
        self.assertEqual(got, [503, 503, 200])


    def test_delay_and_peak_concurrency(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com", emit=False)
        okta.admin("POST", "fail", {"delay_ms": 300})
        results = []
        threads = [threading.Thread(target=lambda: results.append(okta.api("GET", "/api/v1/users/" + u["id"])[0]))
                   for _ in range(4)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertGreaterEqual(time.time() - t0, 0.3)
        self.assertEqual(results, [200] * 4)
        self.assertEqual(okta.admin("GET", "stats")["peak_concurrency"], 4)
        okta.admin("DELETE", "fail")
        okta.admin("POST", "settings", {"max_concurrent": 1})
        okta.admin("POST", "fail", {"delay_ms": 300, "count": 1})
        results.clear()
        threads = [threading.Thread(target=lambda: results.append(okta.api("GET", "/api/v1/users/" + u["id"])[0]))
                   for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200, 429])


# Okta's management table, Enterprise column (rl-global-mgmt), and the org
# token endpoint; tests/standins/README.md lists the mapping.
OKTA_ENTERPRISE = {"users-id-get": 1000, "users-id-write": 600, "users": 600, "groups": 600,
                   "groups-id": 600, "api": 600, "oauth2-token": 1200}
SAMPLE_429 = os.path.join(HERE, "..", "data", "okta", "samples", "api-error-429.json")


class Buckets(StandinTest):
    """The rate-limit model: buckets, windows, 429s, concurrency, counters."""

    # distinct sizes, so that X-Rate-Limit-Limit names the bucket that answered
    SIZES = {"users-id-get": 101, "users-id-write": 102, "users": 103, "groups": 104,
             "groups-id": 105, "api": 106, "oauth2-token": 107}

    def start_sized(self, *args, **sizes):
        limits = dict(self.SIZES, **sizes)
        flags = []
        for name, n in limits.items():
            flags += ["--bucket-limit", "%s=%d" % (name, n)]
        return self.start("--rate-limits", "unlimited", *flags, *args)

    def rl(self, body=None):
        return self.okta.admin("POST" if body is not None else "GET", "ratelimit", body)

    def wait_window_start(self, window, margin=0.4):
        """Sleeps until the current window has at least `window - margin` seconds left."""
        while time.time() % window > window - margin - 0.05:
            time.sleep(0.02)

    def assertSample429(self, body):
        with open(SAMPLE_429) as f:
            sample = json.load(f)
        self.assertEqual(sorted(body), sorted(sample))
        for k in ("errorCode", "errorSummary", "errorLink", "errorCauses"):
            self.assertEqual(body[k], sample[k], k)
        self.assertTrue(body["errorId"].startswith("oae"))

    def test_defaults_are_okta_enterprise(self):
        okta = self.start()
        state = okta.admin("GET", "ratelimit")
        self.assertEqual({k: v["limit"] for k, v in state["buckets"].items()}, OKTA_ENTERPRISE)
        self.assertEqual(state["window_s"], 60)
        self.assertEqual(state["concurrency"]["limit"], 75)
        okta.stop()
        okta = self.start("--rate-limits", "unlimited")
        state = okta.admin("GET", "ratelimit")
        self.assertEqual(set(v["limit"] for v in state["buckets"].values()), {10000000})
        self.assertEqual(state["concurrency"]["limit"], 0)

    def test_bad_options_refused(self):
        for args in (("--rate-limits", "fast"), ("--bucket-limit", "nope=3"), ("--bucket-limit", "users"),
                     ("--rate-window", "0")):
            r = subprocess.run([NODE, STANDIN, "--port", "0", *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("okta-standin: --", r.stderr, args)

    def test_each_request_counts_in_its_bucket(self):
        okta = self.start_sized()
        u = self.create_user("jane.doe@example.com", emit=False)
        v = self.create_user("john.roe@example.com", emit=False)
        g = okta.admin("POST", "groups", {"name": "G", "description": "d"})
        uid, gid = u["id"], g["id"]
        cases = [
            ("GET", "/api/v1/users/" + uid, None, "users-id-get"),
            ("GET", "/api/v1/users/jane.doe@example.com", None, "users-id-get"),
            ("GET", "/api/v1/users/" + uid + "/", None, "users-id-get"),
            ("POST", "/api/v1/users/" + uid, {"profile": {"customId": "r-1"}}, "users-id-write"),
            ("PUT", "/api/v1/users/" + uid, {"profile": dict(u["profile"], customId="r-2")}, "users-id-write"),
            ("GET", "/api/v1/users?limit=1", None, "users"),
            ("POST", "/api/v1/users?activate=false", {"profile": jprofile("new.one@example.com")}, "users"),
            ("GET", "/api/v1/users/" + uid + "/groups", None, "api"),
            ("POST", "/api/v1/users/" + v["id"] + "/lifecycle/suspend", None, "api"),
            ("GET", "/api/v1/meta/schemas/user/default", None, "api"),
            ("GET", "/api/v1/eventHooks", None, "api"),
            ("GET", "/api/v1/apps", None, "api"),
            ("GET", "/api/v1/groups", None, "groups"),
            ("GET", "/api/v1/groups/" + gid + "/users", None, "groups"),
            ("PUT", "/api/v1/groups/%s/users/%s" % (gid, uid), None, "groups"),
            ("DELETE", "/api/v1/groups/%s/users/%s" % (gid, uid), None, "groups"),
            ("GET", "/api/v1/groups/" + gid, None, "groups-id"),
            ("DELETE", "/api/v1/users/" + v["id"], None, "users-id-write"),
            ("POST", "/oauth2/v1/token", None, "oauth2-token"),
        ]
        for method, path, body, bucket in cases:
            before = self.rl()["buckets"]
            if path == "/oauth2/v1/token":
                status, resp, _ = okta.request(method, path, raw=b"grant_type=client_credentials",
                                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            else:
                status, resp, _ = okta.api(method, path, body)
            after = self.rl()["buckets"]
            what = "%s %s -> %d" % (method, path, status)
            self.assertNotEqual(status, 429, what)
            self.assertEqual(resp.getheader("X-Rate-Limit-Limit"), str(self.SIZES[bucket]), what)
            self.assertEqual(resp.getheader("X-Rate-Limit-Remaining"),
                             str(self.SIZES[bucket] - after[bucket]["used"]), what)
            self.assertEqual(int(resp.getheader("X-Rate-Limit-Reset")), after[bucket]["reset"], what)
            for name in self.SIZES:
                grew = after[name]["calls"] - before[name]["calls"]
                self.assertEqual(grew, 1 if name == bucket else 0, "%s: %s" % (what, name))
        calls = okta.admin("GET", "calls")["calls"]
        self.assertEqual([c["bucket"] for c in calls], [c[3] for c in cases])

    def test_429_when_spent_costs_nothing(self):
        okta = self.start_sized(**{"users-id-write": 2})
        u = self.create_user("jane.doe@example.com", emit=False)
        path = "/api/v1/users/" + u["id"]
        got = []
        for i in range(3):
            status, resp, body = okta.api("POST", path, {"profile": {"customId": "r-%d" % i}})
            got.append((status, resp.getheader("X-Rate-Limit-Remaining")))
        self.assertEqual(got, [(200, "1"), (200, "0"), (429, "0")])
        self.assertSample429(body)
        state = self.rl()
        b = state["buckets"]["users-id-write"]
        reset = int(resp.getheader("X-Rate-Limit-Reset"))
        self.assertEqual(reset % 60, 0)  # the end of the aligned minute
        self.assertTrue(state["now"] < reset <= state["now"] + 60, (state["now"], reset))
        self.assertEqual(reset, b["reset"])
        self.assertEqual(resp.getheader("X-Rate-Limit-Limit"), "2")
        self.assertEqual((b["used"], b["peak"], b["calls"], b["answered_429"]), (2, 2, 3, 1))
        self.assertEqual(b["by_class"], {"2xx": 2, "4xx": 1, "5xx": 0})
        # the rejected write changed nothing
        self.assertEqual(okta.api("GET", path)[2]["profile"]["customId"], "r-1")
        # the other buckets are untouched
        self.assertEqual(okta.api("GET", path)[0], 200)

    def test_window_rolls_over(self):
        okta = self.start_sized("--rate-window", "2", **{"users-id-get": 2})
        u = self.create_user("jane.doe@example.com", emit=False)
        path = "/api/v1/users/" + u["id"]
        self.wait_window_start(2)
        first = [okta.api("GET", path) for _ in range(3)]
        self.assertEqual([r[0] for r in first], [200, 200, 429])
        reset = int(first[2][1].getheader("X-Rate-Limit-Reset"))
        self.assertEqual(reset % 2, 0)
        self.assertEqual(reset, int(first[0][1].getheader("X-Rate-Limit-Reset")))
        self.assertTrue(time.time() < reset <= time.time() + 2)
        while time.time() < reset:
            time.sleep(0.05)
        status, resp, _ = okta.api("GET", path)
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("X-Rate-Limit-Remaining"), "1")
        self.assertEqual(int(resp.getheader("X-Rate-Limit-Reset")), reset + 2)
        b = self.rl()["buckets"]["users-id-get"]
        self.assertEqual((b["used"], b["peak"], b["calls"], b["answered_429"]), (1, 2, 4, 1))

    def test_concurrency_limit(self):
        okta = self.start_sized("--max-concurrent", "2")
        u = self.create_user("jane.doe@example.com", emit=False)
        okta.admin("POST", "fail", {"delay_ms": 500})
        results = []

        def call():
            status, resp, body = okta.api("GET", "/api/v1/users/" + u["id"])
            results.append((status, resp.getheader("X-Rate-Limit-Limit"),
                            resp.getheader("X-Rate-Limit-Remaining"), resp.getheader("X-Rate-Limit-Reset"), body))
        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
        results.sort(key=lambda r: r[0])
        self.assertEqual([r[0] for r in results], [200, 200, 429])
        _, limit, remaining, reset, body = results[2]
        self.assertSample429(body)
        self.assertEqual((limit, remaining), ("2", "0"))  # the concurrency limit's own figures
        self.assertGreater(int(reset), time.time() - 1)
        state = self.rl()
        self.assertEqual(state["concurrency"], {"limit": 2, "in_flight": 0, "max_in_flight": 3, "rejected": 1})
        b = state["buckets"]["users-id-get"]
        self.assertEqual((b["used"], b["calls"], b["answered_429"]), (2, 3, 1))  # not spent
        # raised through the admin API: the same burst passes
        self.rl({"max_concurrent": 3})
        results.clear()
        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r[0] for r in results], [200, 200, 200])

    def test_spend_as_another_integration(self):
        okta = self.start_sized(**{"users-id-write": 5})
        u = self.create_user("jane.doe@example.com", emit=False)
        state = self.rl({"spend": {"bucket": "users-id-write", "n": 4}})
        b = state["buckets"]["users-id-write"]
        self.assertEqual((b["used"], b["remaining"], b["peak"], b["calls"]), (4, 1, 4, 0))
        path = "/api/v1/users/" + u["id"]
        status, resp, _ = okta.api("POST", path, {"profile": {"customId": "a"}})
        self.assertEqual((status, resp.getheader("X-Rate-Limit-Remaining")), (200, "0"))
        self.assertEqual(okta.api("POST", path, {"profile": {"customId": "b"}})[0], 429)
        b = self.rl()["buckets"]["users-id-write"]
        self.assertEqual((b["used"], b["peak"], b["calls"], b["answered_429"]), (5, 5, 2, 1))
        status, _, _ = okta.request("POST", "/__admin/ratelimit", {"spend": {"bucket": "nope", "n": 1}})
        self.assertEqual(status, 400)

    def test_admin_limits_window_and_reset(self):
        okta = self.start_sized()
        g = okta.admin("POST", "groups", {"name": "G", "description": "d"})
        state = self.rl({"limits": {"groups": 1, "groups-id": 1}})
        self.assertEqual(state["buckets"]["groups"]["limit"], 1)
        self.assertEqual([okta.api("GET", "/api/v1/groups")[0] for _ in range(2)], [200, 429])
        self.assertEqual(okta.api("GET", "/api/v1/groups/" + g["id"])[0], 200)
        state = self.rl({"reset": True})
        for name, b in state["buckets"].items():
            self.assertEqual((b["used"], b["peak"], b["calls"], b["answered_429"]), (0, 0, 0, 0), name)
            self.assertEqual(b["by_class"], {"2xx": 0, "4xx": 0, "5xx": 0}, name)
        self.assertEqual(state["buckets"]["groups"]["limit"], 1)  # sizes stay
        self.assertEqual(okta.api("GET", "/api/v1/groups")[0], 200)
        # the older form: {limit, family} names a bucket
        self.rl({"limit": 0, "family": "groups-id"})
        self.assertEqual(okta.api("GET", "/api/v1/groups/" + g["id"])[0], 429)
        state = self.rl({"window_s": 1, "max_concurrent": 9})
        self.assertEqual((state["window_s"], state["concurrency"]["limit"]), (1, 9))
        self.assertTrue(all(b["reset"] % 1 == 0 and b["used"] == 0 for b in state["buckets"].values()))
        for bad in ({"limits": {"nope": 1}}, {"limits": {"groups": -1}}, {"window_s": 0}):
            status, _, _ = okta.request("POST", "/__admin/ratelimit", bad)
            self.assertEqual(status, 400, bad)
        self.assertEqual(self.rl()["buckets"]["groups"]["limit"], 1)  # a refused change changes nothing

    def test_member_listing_pages_full_users_up_to_the_cap(self):
        okta = self.start("--rate-limits", "unlimited")
        g = okta.admin("POST", "groups", {"name": "Big", "description": "d"})
        for start in range(0, 10001, 2500):  # admin bodies are capped at 1 MB
            users = [{"profile": jprofile("user%05d@example.com" % i), "groups": [g["id"]]}
                     for i in range(start, min(start + 2500, 10001))]
            self.assertEqual(okta.admin("POST", "users?emit=0", users)["created"], len(users))
        path = "/api/v1/groups/%s/users" % g["id"]
        status, resp, page = okta.api("GET", path)
        self.assertEqual((status, len(page)), (200, 1000))  # Okta's default page
        self.assertEqual(page[0]["profile"], okta.admin("GET", "users/" + page[0]["id"])["profile"])
        for key in ("id", "status", "created", "lastUpdated", "profile", "credentials", "_links"):
            self.assertIn(key, page[0])
        self.assertIn("firstName", page[0]["profile"])
        status, resp, page = okta.api("GET", path + "?limit=50000")
        self.assertEqual((status, len(page)), (200, 10000))  # capped, silently
        nxt = [l for l in resp.headers.get_all("Link") if 'rel="next"' in l]
        self.assertEqual(len(nxt), 1)
        url = urllib.parse.urlsplit(nxt[0][nxt[0].index("<") + 1:nxt[0].index(">")])
        q = urllib.parse.parse_qs(url.query)
        self.assertEqual(q["limit"], ["10000"])
        self.assertEqual(q["after"], [page[-1]["id"]])
        status, resp, rest = okta.api("GET", url.path + "?" + url.query)
        self.assertEqual((status, len(rest)), (200, 1))
        self.assertFalse(any('rel="next"' in l for l in resp.headers.get_all("Link")))
        self.assertNotIn(rest[0]["id"], {u["id"] for u in page})


class Hooks(StandinTest):
    def setUp(self):
        super().setUp()
        self.recv = HookReceiver()
        self.secret = "Basic dGVzdDpzZWNyZXQ="

    def tearDown(self):
        super().tearDown()
        self.recv.stop()

    def start_hooked(self, *args):
        return self.start("--hook-url", self.recv.url, "--hook-secret", self.secret, *args)

    def test_profile_change_delivery(self):
        okta = self.start_hooked()
        u = self.create_user("jane.doe@example.com", profile={"city": "Springfield", "streetAddress": "1 A St"})
        okta.admin("POST", "users/%s/profile" % u["id"], {"city": "Chicago", "streetAddress": "2 B St",
                                                          "state": None})
        posts = self.recv.wait_posts(2)  # user.lifecycle.activate (creation) + update_profile
        okta.api("POST", "/api/v1/users/" + u["id"], {"profile": {"customId": "r-1"}})
        posts = self.recv.wait_posts(3)
        updates = [(h, b) for _, h, b in posts if b["data"]["events"][0]["eventType"] == "user.account.update_profile"]
        self.assertEqual(len(updates), 2)
        headers, body = updates[0]
        self.assertEqual(headers["Authorization"], self.secret)
        self.assertEqual(headers["Content-Type"], "application/json")
        for k, v in (("eventType", "com.okta.event_hook"), ("eventTypeVersion", "1.0"),
                     ("cloudEventsVersion", "0.1"), ("contentType", "application/json")):
            self.assertEqual(body[k], v)
        uuid.UUID(body["eventId"])
        self.assertIn("/api/v1/eventHooks/", body["source"])
        ev = body["data"]["events"][0]
        for k in ("uuid", "published", "eventType", "version", "displayMessage", "severity", "client",
                  "device", "actor", "outcome", "target", "transaction", "debugContext",
                  "legacyEventType", "authenticationContext", "securityContext"):
            self.assertIn(k, ev)
        self.assertEqual(ev["target"][0]["type"], "User")
        self.assertEqual(ev["target"][0]["id"], u["id"])
        self.assertEqual(ev["target"][0]["alternateId"], "jane.doe@example.com")
        self.assertEqual(ev["debugContext"]["debugData"]["changedAttributes"], "city,streetAddress")
        # state was already absent-as-null: clearing it is not a change
        wb = updates[1][1]["data"]["events"][0]
        self.assertEqual(wb["debugContext"]["debugData"]["changedAttributes"], "customId")
        self.assertEqual(wb["debugContext"]["debugData"]["requestUri"], "/api/v1/users/" + u["id"])
        self.assertEqual(wb["client"]["userAgent"]["rawUserAgent"], "standin-selftest/1")
        # delivery results are recorded
        okta.request("GET", "/__admin/deliveries/wait?timeout_ms=5000")
        d = okta.admin("GET", "deliveries")
        self.assertTrue(all(x["result"] == "delivered" for x in d["deliveries"]))
        self.assertEqual(d["deliveries"][-1]["attempts"][0]["status"], 200)

    def test_membership_and_lifecycle_events(self):
        okta = self.start_hooked()
        g = okta.admin("POST", "groups", {"name": "API Provisioning Group"})
        u = self.create_user("jane.doe@example.com", emit=False)
        okta.admin("POST", "groups/%s/members/%s" % (g["id"], u["id"]))
        okta.admin("DELETE", "groups/%s/members/%s" % (g["id"], u["id"]))
        okta.admin("POST", "users/%s/lifecycle/delete" % u["id"])
        self.recv.wait_posts(4)
        evs = sorted(self.recv.events(), key=lambda e: e["published"])
        types = [e["eventType"] for e in evs]
        self.assertEqual(types[:2], ["group.user_membership.add", "group.user_membership.remove"])
        self.assertEqual(sorted(types[2:]), ["user.lifecycle.deactivate", "user.lifecycle.delete.initiated"])
        for e in evs[:2]:
            by_type = {t["type"]: t for t in e["target"]}
            self.assertEqual(by_type["User"]["id"], u["id"])
            self.assertEqual(by_type["UserGroup"]["id"], g["id"])
            self.assertEqual(by_type["UserGroup"]["displayName"], "API Provisioning Group")

    def test_retry_once_on_5xx(self):
        self.recv.statuses = [500, 500, 503]
        okta = self.start_hooked()
        u = self.create_user("jane.doe@example.com", emit=False)
        okta.admin("POST", "users/%s/profile" % u["id"], {"city": "X"})
        okta.request("GET", "/__admin/deliveries/wait?timeout_ms=5000")
        d = okta.admin("GET", "deliveries")["deliveries"]
        self.assertEqual(len(d), 1)
        self.assertEqual([a["status"] for a in d[0]["attempts"]], [500, 500])
        self.assertEqual(d[0]["result"], "failed")
        self.assertEqual(len(self.recv.posts()), 2)
        same = {b["eventId"] for _, _, b in self.recv.posts()}
        self.assertEqual(len(same), 1)  # the retry is the same delivery

    def test_batching_duplicates_and_drops(self):
        okta = self.start_hooked()
        okta.admin("POST", "hook", {"batch_ms": 200})
        ids = okta.admin("POST", "users?emit=0", [{"profile": jprofile("u%d.x@example.com" % i)} for i in range(5)])["ids"]
        for uid in ids:
            okta.admin("POST", "users/%s/profile" % uid, {"city": "X"})
        posts = self.recv.wait_posts(1)
        time.sleep(0.3)
        self.assertEqual(len(self.recv.posts()), 1)
        evs = posts[0][2]["data"]["events"]
        self.assertEqual([e["target"][0]["id"] for e in evs], ids)
        self.assertEqual(len({e["uuid"] for e in evs}), 5)
        # duplicates: the same delivery (same eventId) twice; drop_next: lost deliveries
        okta.admin("POST", "hook", {"batch_ms": 0, "duplicate": True})
        okta.admin("POST", "users/%s/profile" % ids[0], {"city": "Y"})
        posts = self.recv.wait_posts(3)
        self.assertEqual(posts[1][2]["eventId"], posts[2][2]["eventId"])
        okta.admin("POST", "hook", {"duplicate": False, "drop_next": 1})
        okta.admin("POST", "users/%s/profile" % ids[0], {"city": "Z"})
        okta.request("GET", "/__admin/deliveries/wait?timeout_ms=5000")
        self.assertEqual(len(self.recv.posts()), 3)
        self.assertEqual(okta.admin("GET", "deliveries")["deliveries"][-1]["result"], "dropped")

    def test_event_hook_api_and_verify(self):
        okta = self.start()
        hook = {"name": "groupsync", "events": {"type": "EVENT_TYPE", "items": ["user.account.update_profile"]},
                "channel": {"type": "HTTP", "version": "1.0.0",
                            "config": {"uri": self.recv.url, "headers": [],
                                       "authScheme": {"type": "HEADER", "key": "Authorization",
                                                      "value": self.secret}}}}
        status, _, created = okta.api("POST", "/api/v1/eventHooks", hook)
        self.assertEqual(status, 200, created)
        self.assertTrue(created["id"].startswith("who"))
        self.assertEqual(created["verificationStatus"], "UNVERIFIED")
        self.assertNotIn("value", created["channel"]["config"]["authScheme"])
        status, _, verified = okta.api("POST", "/api/v1/eventHooks/%s/lifecycle/verify" % created["id"])
        self.assertEqual(status, 200, verified)
        self.assertEqual(verified["verificationStatus"], "VERIFIED")
        method, headers, _ = self.recv.received[0]
        self.assertEqual(method, "GET")
        self.assertEqual(headers["Authorization"], self.secret)
        self.assertTrue(headers["X-Okta-Verification-Challenge"])
        # updates are PUT (replace); POST on the hook is not an update
        status, _, _ = okta.api("POST", "/api/v1/eventHooks/" + created["id"], hook)
        self.assertEqual(status, 405)
        status, _, listed = okta.api("GET", "/api/v1/eventHooks")
        self.assertEqual([h["id"] for h in listed], [created["id"]])
        # a verified API hook receives its events
        u = self.create_user("jane.doe@example.com", emit=False)
        okta.admin("POST", "users/%s/profile" % u["id"], {"city": "X"})
        posts = self.recv.wait_posts(1)
        self.assertEqual(posts[0][2]["data"]["events"][0]["eventType"], "user.account.update_profile")

    def test_schema_custom_property(self):
        okta = self.start("--bare-schema")
        u = self.create_user("jane.doe@example.com", emit=False)
        status, _, body = okta.api("POST", "/api/v1/users/" + u["id"], {"profile": {"customId": "r-1"}})
        self.assertEqual(status, 400)
        status, _, schema = okta.api("POST", "/api/v1/meta/schemas/user/default", {
            "definitions": {"custom": {"id": "#custom", "type": "object", "properties": {
                "customId": {"title": "Remote ID", "type": "string"}}}}})
        self.assertEqual(status, 200, schema)
        self.assertEqual(schema["definitions"]["custom"]["properties"]["customId"]["type"], "string")
        status, _, schema = okta.api("GET", "/api/v1/meta/schemas/user/default")
        self.assertIn("customId", schema["definitions"]["custom"]["properties"])
        status, _, user = okta.api("POST", "/api/v1/users/" + u["id"], {"profile": {"customId": "r-1"}})
        self.assertEqual(status, 200)
        self.assertEqual(user["profile"]["customId"], "r-1")


class OAuth(StandinTest):
    SCOPE = "okta.users.read okta.users.manage okta.groups.read"

    def assertion(self, key, client_id, aud, **over):
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 300,
                  "jti": str(uuid.uuid4())}
        claims.update(over)
        return self.keys.sign(key, {"alg": "RS256", "typ": "JWT"}, claims)

    def token_request(self, okta, assertion, dpop=None, scope=None):
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "scope": scope or self.SCOPE,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion})
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if dpop:
            hdrs["DPoP"] = dpop
        return okta.request("POST", "/oauth2/v1/token", raw=form.encode(), headers=hdrs)

    def dpop_proof(self, key, jwk, method, url, **extra):
        claims = {"htm": method, "htu": url, "iat": int(time.time()), "jti": str(uuid.uuid4())}
        claims.update(extra)
        return self.keys.sign(key, {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, claims)

    def test_client_credentials_rs256(self):
        key, pub = self.keys.rsa("app")
        okta = self.start("--client", "0oaapp:" + pub)
        aud = okta.base + "/oauth2/v1/token"
        a = self.assertion(key, "0oaapp", aud)
        status, resp, body = self.token_request(okta, a)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 3600)
        self.assertEqual(body["scope"], self.SCOPE)
        tok = body["access_token"]
        u = self.create_user("jane.doe@example.com", emit=False)
        status, _, _ = okta.api("GET", "/api/v1/users/" + u["id"], token=None,
                                headers={"Authorization": "Bearer " + tok})
        self.assertEqual(status, 200)
        # the same assertion again: jti reuse
        status, _, body = self.token_request(okta, a)
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        # bad signature: signed by another key
        other, _ = self.keys.rsa("other")
        status, _, body = self.token_request(okta, self.assertion(other, "0oaapp", aud))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        self.assertIn("signature", body["error_description"])
        # wrong audience, expiry too far
        status, _, body = self.token_request(okta, self.assertion(key, "0oaapp", okta.base + "/oauth2/default/v1/token"))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        status, _, body = self.token_request(okta, self.assertion(key, "0oaapp", aud, exp=int(time.time()) + 7200))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        # missing scope for a write
        status, _, body = self.token_request(okta, self.assertion(key, "0oaapp", aud), scope="okta.users.read")
        tok2 = body["access_token"]
        status, resp, body = okta.api("POST", "/api/v1/users/" + u["id"], {"profile": {"customId": "x"}},
                                      token=None, headers={"Authorization": "Bearer " + tok2})
        self.assertEqual(status, 403)
        self.assertIn("insufficient_scope", resp.getheader("WWW-Authenticate"))

    def test_dpop_nonce_handshake_and_ath(self):
        key, pub = self.keys.rsa("app")
        dkey, jwk = self.keys.ec("dpop")
        okta = self.start("--client", "0oadpop:" + pub + ":dpop")
        token_url = okta.base + "/oauth2/v1/token"
        # no DPoP header at all
        status, _, body = self.token_request(okta, self.assertion(key, "0oadpop", token_url))
        self.assertEqual(status, 400)
        self.assertEqual(body, {"error": "invalid_dpop_proof",
                                "error_description": "The DPoP proof JWT header is missing."})
        # first proof without nonce
        status, resp, body = self.token_request(okta, self.assertion(key, "0oadpop", token_url),
                                                dpop=self.dpop_proof(dkey, jwk, "POST", token_url))
        self.assertEqual(status, 400)
        self.assertEqual(body["error"], "use_dpop_nonce")
        nonce = resp.getheader("dpop-nonce")
        self.assertTrue(nonce)
        # re-signed with the nonce (and a fresh assertion: Okta consumed the first)
        status, resp, body = self.token_request(okta, self.assertion(key, "0oadpop", token_url),
                                                dpop=self.dpop_proof(dkey, jwk, "POST", token_url, nonce=nonce))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["token_type"], "DPoP")
        tok = body["access_token"]
        tokens = okta.admin("GET", "tokens")["access_tokens"]
        self.assertEqual(tokens[0]["dpop_jkt"], jwk_thumbprint(jwk))
        u = self.create_user("jane.doe@example.com", emit=False)
        url = okta.base + "/api/v1/users/" + u["id"]
        ath = b64u(hashlib.sha256(tok.encode()).digest())
        status, _, user = okta.api("GET", "/api/v1/users/" + u["id"], token=None, headers={
            "Authorization": "DPoP " + tok, "DPoP": self.dpop_proof(dkey, jwk, "GET", url, ath=ath)})
        self.assertEqual(status, 200, user)
        self.assertEqual(user["id"], u["id"])
        # wrong ath
        status, resp, body = okta.api("GET", "/api/v1/users/" + u["id"], token=None, headers={
            "Authorization": "DPoP " + tok, "DPoP": self.dpop_proof(dkey, jwk, "GET", url, ath=b64u(b"x" * 32))})
        self.assertIn(status, (400, 401))
        self.assertIn('error="invalid_dpop_proof"', resp.getheader("WWW-Authenticate"))
        self.assertIn("ath", resp.getheader("WWW-Authenticate"))
        # replayed proof
        proof = self.dpop_proof(dkey, jwk, "GET", url, ath=ath)
        hdrs = {"Authorization": "DPoP " + tok, "DPoP": proof}
        self.assertEqual(okta.api("GET", "/api/v1/users/" + u["id"], token=None, headers=hdrs)[0], 200)
        self.assertNotEqual(okta.api("GET", "/api/v1/users/" + u["id"], token=None, headers=hdrs)[0], 200)
        # DPoP-bound token presented as Bearer
        status, _, _ = okta.api("GET", "/api/v1/users/" + u["id"], token=None, headers={"Authorization": "Bearer " + tok})
        self.assertEqual(status, 401)
        # rotated nonce: old one refused at the token endpoint
        okta.admin("POST", "dpop", {"rotate": True})
        status, resp, body = self.token_request(okta, self.assertion(key, "0oadpop", token_url),
                                                dpop=self.dpop_proof(dkey, jwk, "POST", token_url, nonce=nonce))
        self.assertEqual((status, body["error"]), (400, "use_dpop_nonce"))
        self.assertNotEqual(resp.getheader("dpop-nonce"), nonce)


class Robustness(StandinTest):
    def test_body_limit_and_admin_state(self):
        okta = self.start()
        u = self.create_user("jane.doe@example.com", emit=False)
        big = json.dumps({"profile": {"city": "x" * (1024 * 1024 + 10)}}).encode()
        status, _, body = okta.request("POST", "/api/v1/users/" + u["id"], raw=big, headers={
            "Authorization": "SSWS " + TOKEN, "Content-Type": "application/json"})
        self.assertEqual(status, 413)
        state = okta.admin("GET", "state")
        self.assertEqual([x["id"] for x in state["users"]], [u["id"]])

    def test_state_file_roundtrip(self):
        state_file = os.path.join(self.tmp, "state.json")
        okta = self.start("--state", state_file)
        g = okta.admin("POST", "groups", {"name": "G"})
        u = self.create_user("jane.doe@example.com", emit=False, groups=[g["id"]])
        okta.stop()
        self.okta = None
        okta = self.start("--state", state_file)
        status, _, page = okta.api("GET", "/api/v1/groups/%s/users" % g["id"])
        self.assertEqual([x["id"] for x in page], [u["id"]])


if __name__ == "__main__":
    unittest.main()
