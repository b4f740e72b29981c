"""Intake: the real binary on HTTP and HTTPS, checked from outside."""
import json
import os
import signal
import threading
import unittest
import uuid

from harness import (GROUP, PENDING, SECRET, SECRET_NEXT, Groupsync, delivery, membership_event,
                     sample)


class IntakeHTTP(unittest.TestCase):
    tls = False

    def setUp(self):
        self.gs = Groupsync(tls=self.tls).start()

    def tearDown(self):
        self.gs.cleanup()

    def test_verification(self):
        st, hdr, body = self.gs.request(
            "GET", "/hooks/okta",
            headers={"Authorization": SECRET, "X-Okta-Verification-Challenge": "abc\"123"})
        self.assertEqual(st, 200)
        self.assertEqual(hdr["Content-Type"], "application/json")
        self.assertEqual(json.loads(body), {"verification": "abc\"123"})
        # the next secret (rotation) is accepted too
        st, _, body = self.gs.request(
            "GET", "/hooks/okta",
            headers={"Authorization": SECRET_NEXT, "X-Okta-Verification-Challenge": "x"})
        self.assertEqual((st, json.loads(body)), (200, {"verification": "x"}))
        # authenticated first: no answer to the challenge without the secret
        st, _, body = self.gs.request("GET", "/hooks/okta",
                                      headers={"X-Okta-Verification-Challenge": "x"})
        self.assertEqual(st, 401)
        self.assertNotIn(b"verification", body)
        st, _, _ = self.gs.request("GET", "/hooks/okta", headers={"Authorization": SECRET})
        self.assertEqual(st, 400)

    def test_unauthorized(self):
        body = sample("delivery-group-add.json")
        near = SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B")
        for secret in (None, "", "wrong", near, SECRET + "x", SECRET[:-1], SECRET.lower()):
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                headers["Authorization"] = secret
            st, _, data = self.gs.request("POST", "/hooks/okta", body, headers)
            self.assertEqual(st, 401, secret)
            self.assertEqual(json.loads(data), {"error": "unauthorized"})
        self.assertEqual(self.gs.jobs(), [])
        log = self.gs.log()
        self.assertIn("event hook authentication failed", log)
        self.assertNotIn(near, log)
        self.assertNotIn(SECRET, log)
        self.assertNotIn("wrong", log.replace("wrong value", ""))

    def test_malformed(self):
        cases = [b"", b"{", b"not json", b"[]", b"{\"data\":{}}",
                 b"{\"data\":{\"events\":{}}}", b"{\"data\":{\"events\":[]}} trailing",
                 b"\xff\xfe{}", b"[" * 100000,
                 b"{\"eventType\":\"com.okta.event_hook\",\"data\":{\"events\":[\"\x00\"]}}"]
        for body in cases:
            st, _, data = self.gs.deliver(body)
            self.assertEqual(st, 400, body[:40])
            self.assertIn("error", json.loads(data))
        self.assertEqual(self.gs.jobs(), [])
        st, _, _ = self.gs.request("GET", "/healthz")
        self.assertEqual(st, 200)

    def test_too_large(self):
        big = b"{\"data\":{\"events\":[]},\"pad\":\"" + b"x" * (1024 * 1024) + b"\"}"
        st, _, _ = self.gs.deliver(big)
        self.assertEqual(st, 413)
        # a Content-Length that lies about a huge body: refused before reading
        out = self.gs.raw(b"POST /hooks/okta HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                          SECRET.encode() + b"\r\nContent-Length: 99999999999\r\n\r\n{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:60])
        # chunked, growing past the limit
        chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
        req = (b"POST /hooks/okta HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() +
               b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 20 + b"0\r\n\r\n")
        out = self.gs.raw(req)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:60])
        self.assertEqual(self.gs.jobs(), [])

    def test_chunked_and_content_length(self):
        body = json.dumps(sample("delivery-group-add.json")).encode()
        req = (b"POST /hooks/okta HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() +
               b"\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(body) +
               b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        out = self.gs.raw(req)
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:60])
        self.assertEqual(self.gs.jobs(), [])

    def test_chunked_delivery_accepted(self):
        body = json.dumps(sample("delivery-group-add.json")).encode()
        req = (b"POST /hooks/okta HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() +
               b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
               b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        out = self.gs.raw(req)
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:60])
        self.assertEqual(len(self.gs.jobs()), 1)

    def test_samples(self):
        expect = {
            "delivery-group-add.json": [("00u8jane2XyZaBcDe4x7", "group.user_membership.add")],
            "delivery-group-remove.json": [("00u8jane2XyZaBcDe4x7",
                                            "group.user_membership.remove")],
            "delivery-update-profile.json": [("00u8jane2XyZaBcDe4x7",
                                              "user.account.update_profile")],
            "delivery-deactivate.json": [("00u8jane2XyZaBcDe4x7", "user.lifecycle.deactivate")],
            "okta-docs-sample-session-start.json": [],
        }
        for name, want in expect.items():
            before = len(self.gs.jobs())
            st, _, _ = self.gs.deliver(sample(name))
            self.assertEqual(st, 200, name)
            got = [(j[1], j[2]) for j in self.gs.jobs()[before:]]
            self.assertEqual(got, want, name)

    def test_batch_mixed(self):
        st, _, data = self.gs.deliver(sample("delivery-batch-mixed.json"))
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data)["events"], 4)
        types = sorted(j[2] for j in self.gs.jobs())
        # the add for another group ("Everyone") and the session start are
        # ignored: one add and one profile update remain
        self.assertEqual(types, ["group.user_membership.add", "user.account.update_profile"])

    def test_delivery_line_names_every_event(self):
        """Issue 13 §1: one info line per delivery says what became of each
        event: the jobs stored and, for the rest, why not."""
        other = "00g0000000000other01"
        good = membership_event("00u000000000000good1")
        elsewhere = membership_event("00u000000000000else1", group_id=other)
        unpublished = membership_event("00u000000000000nopub")
        del unpublished["published"]
        notarget = membership_event("00u000000000000gone1")
        notarget["target"] = None
        session = sample("okta-docs-sample-session-start.json")["data"]["events"][0]
        st, _, _ = self.gs.deliver(delivery([good, elsewhere, unpublished, notarget, session]))
        self.assertEqual(st, 200)
        [line] = [l for l in self.gs.log_lines() if l.get("msg") == "delivery accepted"]
        self.assertEqual(line["level"], "info")
        self.assertEqual(line["queued"], "group.user_membership.add 00u000000000000good1")
        self.assertEqual(line["not_synced"], ", ".join([
            "group.user_membership.add 00u000000000000else1: other group",
            "group.user_membership.add 00u000000000000nopub: invalid: bad published",
            "group.user_membership.add: no target",
            "user.session.start: unhandled type"]))

    def test_preview_null_target(self):
        body = sample("delivery-group-add.json")
        body["data"]["events"][0]["target"] = None
        body["data"]["events"][0]["actor"] = None
        st, _, data = self.gs.deliver(body)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data)["stored"], 0)
        self.assertEqual(self.gs.jobs(), [])

    def test_fifty_events(self):
        users = ["00u%017d" % i for i in range(50)]
        body = delivery([membership_event(u) for u in users])
        st, _, data = self.gs.deliver(body)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data), {"events": 50, "stored": 50, "duplicate": False})
        jobs = self.gs.jobs()
        self.assertEqual(sorted(j[1] for j in jobs), users)
        self.assertTrue(all(j[3] == PENDING for j in jobs), jobs[:3])

    def test_duplicate_delivery(self):
        body = delivery([membership_event("00u0000000000000dup1")])
        for _ in range(3):
            st, _, _ = self.gs.deliver(body)
            self.assertEqual(st, 200)
        self.assertEqual(len(self.gs.jobs()), 1)
        # same event in a new delivery (another eventId): still one job
        body["eventId"] = str(uuid.uuid4())
        st, _, data = self.gs.deliver(body)
        self.assertEqual((st, json.loads(data)["stored"]), (200, 0))
        self.assertEqual(len(self.gs.jobs()), 1)
        self.assertIn("delivery duplicate", self.gs.log())

    def test_keepalive_many(self):
        conn = self.gs.connection()
        for i in range(20):
            st, _, _ = self.gs.deliver(delivery([membership_event("00u%017d" % i)]), conn=conn)
            self.assertEqual(st, 200)
        conn.close()
        self.assertEqual(len(self.gs.jobs()), 20)

    def test_concurrent_deliveries(self):
        errors = []

        def client(k):
            conn = self.gs.connection()
            for i in range(25):
                st, _, _ = self.gs.deliver(
                    delivery([membership_event("00u%08d%09d" % (k, i))]), conn=conn)
                if st != 200:
                    errors.append(st)
            conn.close()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(self.gs.jobs()), 200)

    def test_routes(self):
        self.assertEqual(self.gs.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.gs.request("GET", "/readyz")[0], 200)
        self.assertEqual(self.gs.request("GET", "/")[0], 404)
        self.assertEqual(self.gs.request("GET", "/etc/passwd")[0], 404)
        self.assertEqual(self.gs.request("GET", "/hooks/okta/../../x")[0], 404)
        self.assertEqual(self.gs.request("GET", "/hooks/oktax",
                                         headers={"Authorization": SECRET})[0], 404)
        self.assertEqual(self.gs.request("GET", "/hooks/okta/sub",
                                         headers={"Authorization": SECRET})[0], 404)
        st, hdr, _ = self.gs.request("PUT", "/hooks/okta", b"{}", {"Authorization": SECRET})
        self.assertEqual(st, 405)
        self.assertEqual(hdr["Allow"], "GET, POST")
        # each answer carries a request id, also found in the log
        st, hdr, _ = self.gs.deliver(sample("delivery-group-add.json"))
        rid = hdr["X-Request-Id"]
        lines = [l for l in self.gs.log_lines() if l.get("request_id") == rid]
        self.assertEqual(lines[0]["msg"], "delivery accepted")

    def test_kill9_after_200(self):
        """Every delivery answered 200 is on disk after SIGKILL."""
        acked = []
        conn = self.gs.connection()
        for i in range(60):
            user = "00u%017d" % i
            st, _, _ = self.gs.deliver(delivery([membership_event(user)]), conn=conn)
            if st == 200:
                acked.append(user)
        self.gs.proc.send_signal(signal.SIGKILL)
        self.gs.proc.wait()
        self.assertEqual(len(acked), 60)
        stored = {j[1] for j in self.gs.jobs()}
        self.assertEqual(stored, set(acked))
        # and the restarted service still has them
        self.gs.start()
        self.assertEqual({j[1] for j in self.gs.jobs()}, set(acked))

    def test_sigterm_clean(self):
        self.assertEqual(self.gs.stop(), 0)
        self.assertIn('"msg":"stopped"', self.gs.log())


class IntakeHTTPS(IntakeHTTP):
    tls = True

    def test_tls_versions(self):
        import socket
        import ssl
        for version, ok in ((ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_3, True),
                            (ssl.TLSVersion.TLSv1_1, False)):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(self.gs.cert)
            ctx.minimum_version = version
            ctx.maximum_version = version
            if version == ssl.TLSVersion.TLSv1_1:
                ctx.set_ciphers("ALL:@SECLEVEL=0")
            s = socket.create_connection(("127.0.0.1", self.gs.port), timeout=5)
            try:
                ctx.wrap_socket(s, server_hostname="127.0.0.1").close()
                got = True
            except (ssl.SSLError, OSError):
                got = False
            finally:
                s.close()
            self.assertEqual(got, ok, version)

    def test_plain_http_to_tls_port(self):
        import socket
        s = socket.create_connection(("127.0.0.1", self.gs.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except OSError:
            data = b""
        s.close()
        self.assertFalse(data.startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.gs.request("GET", "/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main()
