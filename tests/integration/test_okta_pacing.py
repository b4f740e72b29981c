"""Okta pacing (issue 12, parts 3 and 4): groupsync spends at most its share
of each of Okta's rate-limit buckets per window, spread over the window,
with at most GROUPSYNC_OKTA_CONCURRENCY calls in flight; a 429 that comes
anyway (another integration spent the bucket) is obeyed to its reset. The
real binary against the Okta stand-in's bucket model, with small buckets
and a 2-second window so that a burst spans several windows."""
import os
import shutil
import tempfile
import unittest

from harness import (GROUP, ROOT, Groupsync, JsonServer, OktaStandin, run_cli, wait_until)
from test_metrics import scrape
from test_sync import PROFILE

WINDOW_S = 2
LIMIT = 20          # every bucket groupsync uses, per window
SHARE = 50          # GROUPSYNC_OKTA_RATE_SHARE
CONCURRENCY = 3     # GROUPSYNC_OKTA_CONCURRENCY
USERS = 30          # 30 write-backs at 10 per window: at least 3 windows
BUCKETS = ("users-id-get", "users-id-write", "api")  # read, write-back, groups of user


class PacingBase(unittest.TestCase):
    bucket_limits = {b: LIMIT for b in BUCKETS}
    extra_env = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-pace-")
        self.remote = JsonServer(self.tmp)
        self.gs = Groupsync(env={"GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
                                 "GROUPSYNC_RETRY_BASE_MS": "300",
                                 "GROUPSYNC_RETRY_MAX_MS": "3000",
                                 "GROUPSYNC_HTTP_TIMEOUT_MS": "3000",
                                 "GROUPSYNC_WORKERS": "8",
                                 "GROUPSYNC_OKTA_RATE_SHARE": str(SHARE),
                                 "GROUPSYNC_OKTA_CONCURRENCY": str(CONCURRENCY),
                                 **self.extra_env})
        self.okta = OktaStandin(self.tmp, hook_url="http://127.0.0.1:%d/hooks/okta" % self.gs.port,
                                rate_limits="okta", rate_window=WINDOW_S,
                                bucket_limits=self.bucket_limits)
        self.gs.env["GROUPSYNC_OKTA_ORG_URL"] = self.okta.url
        self.gs.env["REMOTE_BASE_URL"] = self.remote.url
        self.gs.start()
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        self.remote.stop()
        if os.environ.get("GS_KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.gs.cleanup()

    def new_users(self, n):
        ids = []
        for i in range(n):
            p = dict(PROFILE, login="user%d@example.com" % i, email="user%d@example.com" % i)
            ids.append(self.okta.admin("POST", "/users", {"status": "ACTIVE", "profile": p})["id"])
        return ids

    def add_all(self, ids):
        for uid in ids:
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))

    def all_synced(self, ids):
        def check():
            remote = {str(r.get("id")) for r in self.remote.users()}
            return all((self.okta.admin("GET", "/users/" + uid)["profile"].get("customId")
                        in remote) for uid in ids)
        wait_until(check, timeout=90, interval=0.5, what="every user synced")

    def sync_lines(self):
        return [l for l in self.gs.log_lines() if l.get("msg") == "sync"]


class Pacing(PacingBase):
    def test_burst_paced_within_share(self):
        """A burst of group adds: every user synced, no 429, no window in
        which groupsync spent more than its share of a bucket, never more
        calls in flight than the setting; the metrics and the sync log line
        say so."""
        ids = self.new_users(USERS)
        self.okta.ratelimit({"reset": True})
        self.add_all(ids)
        self.all_synced(ids)
        rl = self.okta.ratelimit()
        budget = LIMIT * SHARE // 100
        for name, b in rl["buckets"].items():
            self.assertEqual(b["answered_429"], 0, (name, b))
            if name in BUCKETS:
                self.assertLessEqual(b["peak"], budget, (name, b))
        self.assertGreaterEqual(rl["buckets"]["users-id-write"]["calls"], USERS)
        self.assertLessEqual(rl["concurrency"]["max_in_flight"], CONCURRENCY, rl["concurrency"])
        self.assertEqual(rl["concurrency"]["rejected"], 0)

        m = scrape(self.gs)
        self.assertGreaterEqual(m.value("groupsync_okta_calls_total", bucket="users-id-write",
                                        **{"class": "2xx"}), USERS)
        self.assertEqual(m.total("groupsync_okta_calls_total", **{"class": "429"}), 0)
        # 30 writes at 10 per 2-s window: the workers waited for their slots
        self.assertGreater(m.value("groupsync_okta_budget_wait_seconds_total",
                                   bucket="users-id-write"), 0)
        for b in ("groups", "groups-id", "users", "oauth2-token"):
            self.assertEqual(m.value("groupsync_okta_bucket_share_remaining", bucket=b), 1)
        share_left = m.value("groupsync_okta_bucket_share_remaining", bucket="users-id-write")
        self.assertTrue(0 <= share_left <= 1, share_left)
        # the existing names still answer
        self.assertTrue(m.has("groupsync_okta_requests_total"))
        self.assertTrue(m.has("groupsync_okta_rate_limited_total"))

        waits = [int(l["okta_wait_ms"]) for l in self.sync_lines() if l["outcome"] == "ok"]
        self.assertGreaterEqual(len(waits), USERS)
        self.assertGreater(max(waits), 0)

    def test_other_integration_spent_bucket(self):
        """Another client of the org spends the write-back bucket's window:
        at most one 429 (the call that learns the bucket), obeyed to the
        reset, then every user synced without another."""
        ids = self.new_users(10)
        self.okta.ratelimit({"reset": True})
        self.okta.ratelimit({"spend": {"bucket": "users-id-write", "n": LIMIT}})
        self.add_all(ids)
        self.all_synced(ids)
        rl = self.okta.ratelimit()
        self.assertLessEqual(rl["buckets"]["users-id-write"]["answered_429"], 1, rl["buckets"])
        for name in ("users-id-get", "api"):
            self.assertEqual(rl["buckets"][name]["answered_429"], 0, rl["buckets"])
        m = scrape(self.gs)
        self.assertEqual(m.total("groupsync_okta_calls_total", bucket="users-id-write",
                                 **{"class": "429"}),
                         rl["buckets"]["users-id-write"]["answered_429"])


class PacingDeferral(PacingBase):
    """A tiny read bucket (2 calls per 2-s window for groupsync) and 12
    users: most reads get a slot further than a worker waits, so their jobs
    are put back until the slot. A call that was never sent is not an
    attempt: with GROUPSYNC_MAX_ATTEMPTS=2 nobody is dead-lettered."""
    bucket_limits = {"users-id-get": 4}
    extra_env = {"GROUPSYNC_MAX_ATTEMPTS": "2"}

    def test_deferral_is_not_an_attempt(self):
        ids = self.new_users(12)
        self.okta.ratelimit({"reset": True})
        self.add_all(ids)
        self.all_synced(ids)
        outcomes = [l.get("outcome") for l in self.sync_lines()]
        self.assertNotIn("dead", outcomes)
        self.assertIn("deferred", outcomes)  # the slots were put off, or this proves nothing
        m = scrape(self.gs)
        self.assertGreater(m.total("groupsync_syncs_total", outcome="deferred"), 0)
        rl = self.okta.ratelimit()
        self.assertEqual(rl["buckets"]["users-id-get"]["answered_429"], 0, rl["buckets"])
        self.assertLessEqual(rl["buckets"]["users-id-get"]["peak"], 2, rl["buckets"])


class PacingSettings(unittest.TestCase):
    def test_check_config_validates(self):
        """The two settings are checked like every other: out of range is
        exit 2 with one line naming the variable; in range is printed."""
        gs = Groupsync()
        try:
            for name, bad in (("GROUPSYNC_OKTA_RATE_SHARE", "0"),
                              ("GROUPSYNC_OKTA_RATE_SHARE", "101"),
                              ("GROUPSYNC_OKTA_RATE_SHARE", "half"),
                              ("GROUPSYNC_OKTA_CONCURRENCY", "0"),
                              ("GROUPSYNC_OKTA_CONCURRENCY", "76")):
                env = dict(gs.env, **{name: bad})
                r = run_cli(["check-config"], env)
                self.assertEqual(r.returncode, 2, (name, bad, r.stdout, r.stderr))
                self.assertIn(name + ": must be an integer from", r.stderr)
            env = dict(gs.env, GROUPSYNC_OKTA_RATE_SHARE="100", GROUPSYNC_OKTA_CONCURRENCY="75")
            r = run_cli(["check-config"], env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"GROUPSYNC_OKTA_RATE_SHARE\W+100")
            self.assertRegex(r.stdout, r"GROUPSYNC_OKTA_CONCURRENCY\W+75")
            r = run_cli(["--help"], gs.env)
            self.assertIn("GROUPSYNC_OKTA_RATE_SHARE", r.stdout + r.stderr)
            self.assertIn("GROUPSYNC_OKTA_CONCURRENCY", r.stdout + r.stderr)
        finally:
            gs.cleanup()


if __name__ == "__main__":
    unittest.main()
