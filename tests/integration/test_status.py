"""GET /status, the operator page (issue 13 §5): nothing without the
token, the page with it (bearer header, or the sign-in form's cookie), and
in a real browser (Debian's headless Chromium) both the refusal and the
page."""
import contextlib
import http.client
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import DEAD, DONE, Groupsync, delivery, get_once, membership_event

TOKEN = "status-token-0123456789abcdef"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(args, timeout=60):
    with tempfile.TemporaryDirectory(prefix="gs-chromium-") as profile:
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            "--user-data-dir=" + profile, "--virtual-time-budget=5000"] + args,
                           capture_output=True, text=True, timeout=timeout)
    return r


class Status(unittest.TestCase):
    def setUp(self):
        self.gs = Groupsync(env={"GROUPSYNC_STATUS_TOKEN": TOKEN, "GROUPSYNC_WORKERS": "0"})
        self.gs.start()

    def tearDown(self):
        self.gs.cleanup()

    def get(self, headers=None):
        st, hdr, body = self.gs.request("GET", "/status", headers=headers or {})
        return st, hdr, body.decode()

    def post(self, token):
        body = urllib.parse.urlencode({"token": token}).encode()
        st, hdr, data = self.gs.request(
            "POST", "/status", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        return st, hdr, data.decode()

    def add_dead_job(self):
        st, _, _ = self.gs.deliver(delivery([membership_event("00u00000000000dead01")]))
        self.assertEqual(st, 200)
        with contextlib.closing(self.gs.db()) as db:
            db.execute("UPDATE jobs SET state = ?, attempts = 3, last_error = ?",
                       (DEAD, "remote: 400 <b>Bad</b> Request"))
            db.commit()

    def add_syncs(self):
        """Four jobs: synced, dead, failed and backing off, never tried."""
        users = {"00u0000000000000done": (DONE, 1, ""),
                 "00u0000000000000dead": (DEAD, 10, "remote: 400 Bad Request"),
                 "00u000000000000retry": (0, 2, "remote: 503 Service Unavailable"),
                 "00u0000000000000news": (0, 0, "")}
        for uid in users:
            st, _, _ = self.gs.deliver(delivery([membership_event(uid)]))
            self.assertEqual(st, 200)
        with contextlib.closing(self.gs.db()) as db:
            for uid, (state, attempts, error) in users.items():
                db.execute("UPDATE jobs SET state = ?, attempts = ?, last_error = ?,"
                           " not_before = ? WHERE user_id = ?",
                           (state, attempts, error, 4102444800000 if state == 0 else 0, uid))
            db.commit()

    def test_refused_without_token(self):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                        {"Authorization": TOKEN}, {"Cookie": "gs_status=" + TOKEN}):
            st, hdr, body = self.get(headers)
            self.assertEqual(st, 401, headers)
            self.assertIn('<form method="post" action="/status">', body)
            self.assertNotIn('id="queue"', body)
            self.assertNotIn("Dead letters", body)
        st, _, body = self.post("wrong-token-0123456789")
        self.assertEqual(st, 401)
        self.assertIn("Wrong token", body)
        self.assertIn("status sign-in failed", self.gs.log())

    def test_page_with_bearer(self):
        self.add_dead_job()
        st, hdr, body = self.get({"Authorization": "Bearer " + TOKEN})
        self.assertEqual(st, 200, body)
        self.assertTrue(hdr["Content-Type"].startswith("text/html"))
        self.assertEqual(hdr["Cache-Control"], "no-store")
        self.assertIn('<meta http-equiv="refresh" content="30">', body)
        self.assertNotIn("<script", body)
        self.assertIn('id="q-dead">1<', body)
        self.assertIn('id="q-held">0<', body)
        self.assertIn("00u00000000000dead01", body)
        # the error text is escaped, never markup
        self.assertIn("remote: 400 &lt;b&gt;Bad&lt;/b&gt; Request", body)
        self.assertIn('<p id="reconcile">periodic reconcile off', body)
        self.assertIn('<p id="okta">rate limit remaining: unknown', body)
        self.assertNotIn(TOKEN, body)

    def test_signin_cookie(self):
        st, hdr, body = self.post(TOKEN)
        self.assertEqual(st, 200, body)
        cookie = hdr["Set-Cookie"]
        for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/status"):
            self.assertIn(attr, cookie)
        value = cookie.split(";")[0]
        self.assertNotIn(TOKEN, value)
        st, _, body = self.get({"Cookie": "other=1; " + value})
        self.assertEqual(st, 200)
        self.assertIn('id="queue"', body)

    def test_off_without_setting(self):
        st, _, _ = get_once("/status")
        self.assertEqual(st, 404)

    @unittest.skipUnless(CHROMIUM, "chromium (Debian package) not installed")
    def test_in_chromium(self):
        self.add_dead_job()
        url = "http://127.0.0.1:%d/status" % self.gs.port
        r = chromium(["--dump-dom", url])
        self.assertIn('name="token"', r.stdout, r.stderr[-2000:])
        self.assertNotIn('id="queue"', r.stdout)
        # signing in through the form, as a person would (the helper page
        # submits it; the status page itself has no JavaScript)
        login = os.path.join(self.gs.tmp, "login.html")
        with open(login, "w", encoding="utf-8") as f:
            f.write('<form method="post" action="%s"><input name="token" value="%s"></form>'
                    '<script>document.forms[0].submit()</script>' % (url, TOKEN))
        r = chromium(["--dump-dom", "file://" + login])
        self.assertIn('id="queue"', r.stdout, r.stderr[-2000:])
        self.assertIn("00u00000000000dead01", r.stdout)
        shot = os.environ.get("GS_STATUS_SCREENSHOT")
        if shot:
            chromium(["--screenshot=" + shot, "--window-size=1000,700", "file://" + login])


    @unittest.skipUnless(CHROMIUM, "chromium (Debian package) not installed")
    def test_last_syncs_in_chromium(self):
        """The last syncs list shows how each ended: done, and the failed
        ones (dead, or backing off to retry) too; a job never tried is no
        sync."""
        self.add_syncs()
        url = "http://127.0.0.1:%d/status" % self.gs.port
        login = os.path.join(self.gs.tmp, "login.html")
        with open(login, "w", encoding="utf-8") as f:
            f.write('<form method="post" action="%s"><input name="token" value="%s"></form>'
                    '<script>document.forms[0].submit()</script>' % (url, TOKEN))
        r = chromium(["--dump-dom", "file://" + login])
        dom = r.stdout
        start = dom.find('<table id="recent">')
        self.assertGreaterEqual(start, 0, dom[-3000:] + r.stderr[-2000:])
        recent = dom[start:dom.find("</table>", start)]
        rows = {}
        for row in recent.split("<tr>")[2:]:
            cells = [c.split("<code>", 1)[1].split("<", 1)[0] if "<code>" in c else
                     c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
            rows[cells[2]] = (cells[1], cells[4], cells[6])
        self.assertEqual(rows, {
            "00u0000000000000done": ("done", "1", "-"),
            "00u0000000000000dead": ("dead", "10", "remote: 400 Bad Request"),
            "00u000000000000retry": ("retry", "2", "remote: 503 Service Unavailable")})


if __name__ == "__main__":
    unittest.main()
