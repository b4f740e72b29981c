"""Bulk reads (issue 12): a member listing stands in for the two Okta reads
each sync makes (GET /api/v1/users/{id} and /groups). The real binary, the
Okta stand-in (whose call log counts the reads) and json-server as the
remote; snapshots live in the real store."""
import json
import os
import re
import shutil
import tempfile
import time
import unittest

from harness import (DONE, GROUP, ROOT, Groupsync, JsonServer, OktaStandin, delivery,
                     have_postgres, membership_event, needs, pg_database, psql, run_cli,
                     wait_until)
from test_reconcile import profile

USER_READ = re.compile(r"^/api/v1/users/[^/]+$")
GROUPS_READ = re.compile(r"^/api/v1/users/[^/]+/groups$")


class BulkReads(unittest.TestCase):
    extra_env = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-bulk-")
        self.remote = JsonServer(self.tmp)
        env = {"GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
               "GROUPSYNC_GROUP_IDS": GROUP,
               "GROUPSYNC_RETRY_BASE_MS": "300",
               "GROUPSYNC_RETRY_MAX_MS": "3000",
               "GROUPSYNC_WORKERS": "4"}
        env.update(self.extra_env)
        self.gs = Groupsync(env=env)
        self.okta = OktaStandin(self.tmp,
                                hook_url="http://127.0.0.1:%d/hooks/okta" % self.gs.port)
        self.gs.env["GROUPSYNC_OKTA_ORG_URL"] = self.okta.url
        self.gs.env["REMOTE_BASE_URL"] = self.remote.url
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        self.remote.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.gs.cleanup()

    def seed(self, n, start=0, groups=(GROUP,)):
        users = [{"status": "ACTIVE", "profile": profile(start + i), "groups": list(groups)}
                 for i in range(n)]
        return self.okta.admin("POST", "/users?emit=0", users)["ids"]

    def cli(self, *args):
        r = run_cli(list(args), self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def reads(self, user=None):
        """The per-user Okta reads made so far: (user reads, group reads)."""
        calls = [c for c in self.okta.calls() if c["method"] == "GET"]
        if user is not None:
            calls = [c for c in calls if c["path"].startswith("/api/v1/users/%s" % user)]
        return (len([c for c in calls if USER_READ.match(c["path"])]),
                len([c for c in calls if GROUPS_READ.match(c["path"])]))

    def settled(self):
        jobs = self.gs.jobs()
        return jobs and all(j[3] >= DONE for j in jobs)

    def custom_ids(self, ids):
        users = {u["id"]: u for u in self.okta.admin("GET", "/users")}
        return all((users[i].get("profile") or {}).get("customId") for i in ids)

    def remote_okta_ids(self):
        return {u.get("oktaId") for u in self.remote.users()}

    def test_reconcile_syncs_members_without_reading_them(self):
        ids = self.seed(50)
        self.gs.start()
        r = self.cli("reconcile", "--json")
        summary = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual(summary["members"], 50)
        self.assertEqual(summary["snapshots"], 50)
        # one page: the member listing asks for Okta's largest page
        pages = [c for c in self.okta.calls()
                 if c["path"] == "/api/v1/groups/%s/users" % GROUP]
        self.assertEqual(len(pages), 1)
        self.assertIn("limit=1000", pages[0]["query"] or "")
        wait_until(lambda: self.custom_ids(ids), timeout=120, what="customId of every member")
        wait_until(self.settled, timeout=60, what="queue settled")
        self.assertEqual(self.remote_okta_ids(), set(ids))
        self.assertEqual(self.reads(), (0, 0))

    def replay(self, events):
        path = os.path.join(self.tmp, "delivery-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump(delivery(events), f)
        self.cli("replay", path)

    def test_changes_after_the_listing_win(self):
        """With serve stopped: reconcile (snapshots and jobs stored), then
        membership changes in Okta whose events are stored after the
        listing began, some out of order; then the workers start. Every
        user ends as Okta has it now, and the untouched members cost no
        read."""
        ids = self.seed(12)
        late = self.seed(1, start=100, groups=())[0]
        self.cli("reconcile", "--json")
        gone, flip, back = ids[0], ids[1], ids[2]
        # removed after the listing: its snapshot says member, the event not
        self.okta.admin("DELETE", "/groups/%s/members/%s?emit=0" % (GROUP, gone))
        # removed, then added again: events delivered newest first
        self.okta.admin("DELETE", "/groups/%s/members/%s?emit=0" % (GROUP, back))
        self.okta.admin("POST", "/groups/%s/members/%s?emit=0" % (GROUP, back))
        # added then removed (ends out), delivered newest first
        self.okta.admin("DELETE", "/groups/%s/members/%s?emit=0" % (GROUP, flip))
        # added after the listing: no snapshot at all
        self.okta.admin("POST", "/groups/%s/members/%s?emit=0" % (GROUP, late))

        def ev(user, kind, sec):
            e = membership_event(user, kind=kind)
            e["published"] = "2031-01-01T00:00:%02d.000Z" % sec
            return e
        self.replay([ev(gone, "remove", 1)])
        self.replay([ev(back, "add", 3), ev(back, "remove", 2)])
        self.replay([ev(flip, "remove", 5), ev(flip, "add", 4)])
        self.replay([ev(late, "add", 6)])
        self.gs.start()
        want = (set(ids) - {gone, flip}) | {late}
        wait_until(lambda: self.remote_okta_ids() == want, timeout=120,
                   what="remote records as Okta's membership")
        wait_until(self.settled, timeout=60, what="queue settled")
        self.assertEqual(self.remote_okta_ids(), want)
        for u in set(ids) - {gone, flip, back}:
            self.assertEqual(self.reads(u), (0, 0), u)
        for u in (gone, flip, back, late):
            user_reads, group_reads = self.reads(u)
            self.assertGreaterEqual(user_reads, 1, u)
            self.assertLessEqual(user_reads + group_reads, 2, u)

    def test_single_event_reads_at_most_twice(self):
        uid = self.seed(1, groups=())[0]
        self.gs.start()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: self.custom_ids([uid]), timeout=60, what="customId written")
        wait_until(self.settled, timeout=60, what="queue settled")
        user_reads, group_reads = self.reads(uid)
        self.assertGreaterEqual(user_reads, 1)
        self.assertLessEqual(user_reads + group_reads, 2)
        self.assertEqual(self.remote_okta_ids(), {uid})

    def test_burst_of_adds_is_read_through_one_listing(self):
        """300 users added at once (one delivery, as Okta batches events):
        serve's backlog check lists the group once and the workers take
        the snapshots, instead of 600 reads."""
        n = 300
        ids = self.seed(n, groups=())
        self.okta.admin("POST", "/groups/%s/members?emit=0" % GROUP, ids)
        self.gs.start()
        self.gs.deliver(delivery([membership_event(u) for u in ids]))
        wait_until(lambda: self.custom_ids(ids), timeout=180, what="customId of every user")
        wait_until(self.settled, timeout=60, what="queue settled")
        self.assertEqual(self.remote_okta_ids(), set(ids))
        user_reads, group_reads = self.reads()
        pages = [c for c in self.okta.calls()
                 if c["path"] == "/api/v1/groups/%s/users" % GROUP]
        self.assertGreaterEqual(len(pages), 1)
        print("burst: %d users, %d user reads, %d group reads, %d member pages"
              % (n, user_reads, group_reads, len(pages)))
        self.assertLessEqual(user_reads + group_reads, 0.1 * n)
        self.assertTrue([x for x in self.gs.log_lines() if x.get("msg") == "backlog listing"])

    def test_few_events_keep_reading(self):
        """Below the backlog bound no listing is made: each user is read."""
        ids = self.seed(5, groups=())
        self.okta.admin("POST", "/groups/%s/members?emit=0" % GROUP, ids)
        self.gs.start()
        self.gs.deliver(delivery([membership_event(u) for u in ids]))
        wait_until(lambda: self.custom_ids(ids), timeout=60, what="customId of every user")
        wait_until(self.settled, timeout=60, what="queue settled")
        pages = [c for c in self.okta.calls()
                 if c["path"] == "/api/v1/groups/%s/users" % GROUP]
        self.assertEqual(pages, [])
        for u in ids:
            user_reads, group_reads = self.reads(u)
            self.assertEqual(user_reads, 1, u)
            self.assertLessEqual(user_reads + group_reads, 2, u)


@needs(have_postgres() and shutil.which("psql"), "PostgreSQL (postgresql-15)")
class BulkReadsPostgres(BulkReads):
    """All of the above on a PostgreSQL store, and what only processes with
    clocks of their own can do to it."""

    def setUp(self):
        self.uri, _ = pg_database(self)
        self.extra_env = {"GROUPSYNC_STORE": self.uri}
        super().setUp()

    def settled(self):
        total, open_ = psql(self.uri, "SELECT count(*), count(*) FILTER (WHERE state < %d)"
                            " FROM jobs" % DONE).split("|")
        return int(total) > 0 and int(open_) == 0

    @needs(shutil.which("faketime"), "faketime (Debian faketime)")
    def test_lister_clock_ahead(self):
        """reconcile runs on a host whose clock is 30 s ahead of the one
        that stores the next event (replicas' clocks differ): an event
        stored after the listing must still make the snapshot stale. The
        times compared are the database's, not the processes'."""
        ids = self.seed(3)
        gone = ids[0]
        env = dict(self.gs.env)
        # libfaketime is preloaded: ASan would refuse not to come first
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        r = run_cli(["reconcile", "--json"], env, timeout=120, wrap=("faketime", "-f", "+30s"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout.splitlines()[-1])["snapshots"], 3)
        self.okta.admin("DELETE", "/groups/%s/members/%s?emit=0" % (GROUP, gone))
        self.replay([membership_event(gone, kind="remove")])
        self.gs.start()
        want = set(ids) - {gone}
        wait_until(lambda: self.remote_okta_ids() == want, timeout=120,
                   what="the removed member not in the remote")
        wait_until(self.settled, timeout=60, what="queue settled")
        self.assertEqual(self.remote_okta_ids(), want)
        self.assertGreaterEqual(self.reads(gone)[0], 1)  # its snapshot was stale


if __name__ == "__main__":
    unittest.main()
