"""`groupsync reconcile`: the real binary serving with workers, json-server as
the remote system and the Okta stand-in, whose group members are seeded (or
removed) without events, as if Okta had lost the deliveries."""
import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest

from harness import (DONE, GROUP, ROOT, Groupsync, JsonServer, OktaStandin, run_cli,
                     wait_until)

MEMBERS = 450  # okta_list_group_users asks for 1000 a page: 1 page


def profile(i):
    login = "user%04d@example.com" % i
    return {"login": login, "email": login, "firstName": "User", "lastName": "N%04d" % i,
            "streetAddress": "%d Main St" % i, "city": "Springfield", "state": "IL",
            "zipCode": "62701", "countryCode": "US"}


class Reconcile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-recon-")
        self.remote = JsonServer(self.tmp)
        self.gs = Groupsync(env={"GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
                                 "GROUPSYNC_GROUP_IDS": GROUP,
                                 "GROUPSYNC_RETRY_BASE_MS": "300",
                                 "GROUPSYNC_RETRY_MAX_MS": "3000",
                                 "GROUPSYNC_WORKERS": "4"})
        self.okta = OktaStandin(self.tmp,
                                hook_url="http://127.0.0.1:%d/hooks/okta" % self.gs.port)
        self.gs.env["GROUPSYNC_OKTA_ORG_URL"] = self.okta.url
        self.gs.env["REMOTE_BASE_URL"] = self.remote.url
        self.gs.start()
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        self.remote.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.gs.cleanup()

    def seed(self, n):
        users = [{"status": "ACTIVE", "profile": profile(i), "groups": [GROUP]}
                 for i in range(n)]
        return self.okta.admin("POST", "/users?emit=0", users)["ids"]

    def reconcile(self, *args):
        r = run_cli(["reconcile", "--json"] + list(args), self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        return lines, r

    def settled(self):
        jobs = self.gs.jobs()
        return jobs and all(j[3] >= DONE for j in jobs)

    def member_pages(self):
        return [c for c in self.okta.calls()
                if c["method"] == "GET" and c["path"] == "/api/v1/groups/%s/users" % GROUP]

    def test_reconcile_creates_and_deletes(self):
        ids = self.seed(MEMBERS)
        self.assertEqual(len(ids), MEMBERS)
        # nothing was delivered: nothing is synced yet
        self.assertEqual(self.gs.jobs(), [])

        # a dry run lists every member and stores nothing
        lines, _ = self.reconcile("--dry-run")
        summary = lines[-1]
        self.assertEqual(summary["members"], MEMBERS)
        self.assertEqual(summary["members_without_remote"], MEMBERS)
        self.assertTrue(summary["dry_run"])
        self.assertEqual(len([x for x in lines if "user_id" in x]), MEMBERS)
        self.assertEqual(self.gs.jobs(), [])

        lines, r = self.reconcile()
        summary = lines[-1]
        self.assertEqual(len(lines), 1)
        self.assertEqual(summary["members"], MEMBERS)
        self.assertEqual(summary["stored"], MEMBERS)
        self.assertGreaterEqual(summary["pages"], 1)
        self.assertNotIn("reconcile:", r.stderr)  # progress only on a terminal
        self.assertGreaterEqual(len(self.member_pages()), 1)

        wait_until(lambda: len(self.remote.users()) == MEMBERS, timeout=240,
                   what="%d remote records" % MEMBERS)
        wait_until(lambda: all((u.get("profile") or {}).get("customId")
                               for u in self.okta.admin("GET", "/users")),
                   timeout=120, what="customId written for every member")
        wait_until(self.settled, timeout=120, what="queue settled")

        # removed from the group with no event: only reconcile notices
        gone = ids[7]
        self.okta.admin("DELETE", "/groups/%s/members/%s?emit=0" % (GROUP, gone))
        jobs_before = len(self.gs.jobs())
        lines, _ = self.reconcile("--dry-run")
        self.assertIn({"user_id": gone, "reason": "no_longer_member"}, lines)
        self.assertEqual(lines[-1]["no_longer_members"], 1)
        self.assertEqual(len(self.gs.jobs()), jobs_before)

        lines, _ = self.reconcile()
        self.assertEqual(lines[-1]["no_longer_members"], 1)
        self.assertEqual(lines[-1]["members_without_remote"], 0)
        wait_until(lambda: len(self.remote.users()) == MEMBERS - 1, timeout=120,
                   what="remote record of the removed user deleted")
        remaining = {u.get("oktaId") for u in self.remote.users()}
        self.assertNotIn(gone, remaining)
        wait_until(self.settled, timeout=120, what="queue settled")
        self.assertEqual(len(self.remote.users()), MEMBERS - 1)

    def test_okta_error_exits_1(self):
        env = dict(self.gs.env, GROUPSYNC_GROUP_IDS="00gnosuchgroup0000000")
        r = run_cli(["reconcile"], env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("groupsync: reconcile:", r.stderr)
        self.assertEqual(self.gs.jobs(), [])

    def test_text_output(self):
        self.seed(3)
        r = run_cli(["reconcile", "--dry-run"], self.gs.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("would enqueue"), 3)
        self.assertIn("members_without_remote", r.stdout)

    def restart(self, **env):
        self.gs.stop()
        self.gs.env.update(env)
        self.gs.start()

    def reconcile_logs(self):
        return [x for x in self.gs.log_lines() if x.get("msg") == "reconcile"]

    def test_serve_reconciles_periodically(self):
        self.restart(GROUPSYNC_RECONCILE_INTERVAL="2")
        started = time.time()
        ids = self.seed(5)
        # no delivery, no CLI: only serve's own reconcile finds them
        wait_until(lambda: len(self.remote.users()) == 5, timeout=60,
                   what="5 remote records from the periodic reconcile")
        self.assertGreaterEqual(time.time() - started, 1.0)  # one interval first
        self.assertEqual({u.get("oktaId") for u in self.remote.users()}, set(ids))
        line = wait_until(self.reconcile_logs, timeout=10, what="a reconcile log line")[0]
        self.assertEqual(line["level"], "info")
        self.assertEqual(int(line["members"]), 5)
        self.assertEqual(int(line["jobs"]), 5)
        for key in ("pages", "ms"):
            self.assertIn(key, line)
        # issue 13 §5/§6: when it last finished, for /metrics and /status
        st, _, body = self.gs.request("GET", "/metrics")
        [stamp] = re.findall(r"(?m)^groupsync_reconcile_last_success_timestamp_seconds (\S+)$",
                             body.decode())
        self.assertLess(abs(float(stamp) - time.time()), 60)
        # and again, every interval: a user removed with no event goes too
        self.okta.admin("DELETE", "/groups/%s/members/%s?emit=0" % (GROUP, ids[0]))
        wait_until(lambda: len(self.remote.users()) == 4, timeout=60,
                   what="remote record of the removed user deleted")

    def test_sigterm_during_wait_is_prompt(self):
        self.restart(GROUPSYNC_RECONCILE_INTERVAL="3600")
        started = time.time()
        self.assertEqual(self.gs.stop(), 0)
        self.assertLess(time.time() - started, 3.0)
        self.assertEqual(self.reconcile_logs(), [])
        self.assertIn("stopped", [x.get("msg") for x in self.gs.log_lines()])

    def test_sigterm_during_a_run_is_prompt(self):
        # an Okta that accepts the listing call and never answers
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        held = []

        def accept():
            with contextlib.suppress(OSError):
                while True:
                    held.append(silent.accept()[0])
        threading.Thread(target=accept, daemon=True).start()
        try:
            self.restart(GROUPSYNC_RECONCILE_INTERVAL="1", GROUPSYNC_HTTP_TIMEOUT_MS="120000",
                         GROUPSYNC_OKTA_ORG_URL="http://127.0.0.1:%d" %
                         silent.getsockname()[1])
            wait_until(lambda: held, timeout=10, what="the listing call in flight")
            time.sleep(0.3)
            started = time.time()
            self.assertEqual(self.gs.stop(), 0)
            self.assertLess(time.time() - started, 3.0)
            msgs = [x.get("msg") for x in self.gs.log_lines()]
            self.assertNotIn("reconcile failed", msgs)  # stopped, not failed
            self.assertIn("stopped", msgs)
        finally:
            silent.close()
            for c in held:
                c.close()

    def test_failed_run_is_a_warning(self):
        self.restart(GROUPSYNC_RECONCILE_INTERVAL="1",
                     GROUPSYNC_GROUP_IDS="00gnosuchgroup0000000")
        line = wait_until(lambda: [x for x in self.gs.log_lines()
                                   if x.get("msg") == "reconcile failed"],
                          timeout=20, what="a reconcile failed line")[0]
        self.assertEqual(line["level"], "warn")
        self.assertEqual(self.gs.stop(), 0)

    def test_interval_bounds(self):
        for bad in ("-1", "604801", "soon"):
            r = run_cli(["check-config"], dict(self.gs.env, GROUPSYNC_RECONCILE_INTERVAL=bad))
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("GROUPSYNC_RECONCILE_INTERVAL", r.stderr)
        r = run_cli(["check-config"], dict(self.gs.env, GROUPSYNC_RECONCILE_INTERVAL="60"))
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
