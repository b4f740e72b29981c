"""Shared set-up and checks for the fault suites (test_faults_remote.py,
test_faults_okta.py): the real binary, json-server as the remote behind the
FaultProxy, the Okta stand-in; a mixed population of users (some created,
some updated, some deleted while a fault is on); and the checks every
scenario ends with: each user in the right state on both sides, attempts
counted, retry gaps against the configured backoff, dead letters."""
import datetime
import os
import shutil
import tempfile
import unittest

from harness import (DEAD, DONE, GROUP, ROOT, FaultProxy, Groupsync, JsonServer, OktaStandin,
                     http_json, wait_until)

PROFILE = {"firstName": "Pat", "lastName": "Fault", "streetAddress": "1 Retry Rd",
           "city": "Backoff", "state": "IL", "zipCode": "62701", "countryCode": "US"}
SLACK_S = 0.1  # scheduling and clock slack on a loaded machine


def parse_ts(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class FaultsBase(unittest.TestCase):
    BASE_MS = 300
    MAX_MS = 2000
    TIMEOUT_MS = 3000
    ATTEMPTS = 10
    WORKERS = 4
    slack_s = SLACK_S  # a scenario whose settings are scaled down scales this too
    extra_env = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-faults-")
        self.remote = JsonServer(self.tmp)
        self.fault = FaultProxy(self.tmp, self.remote.port)
        self.gs = Groupsync(env={"GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
                                 "GROUPSYNC_RETRY_BASE_MS": str(self.BASE_MS),
                                 "GROUPSYNC_RETRY_MAX_MS": str(self.MAX_MS),
                                 "GROUPSYNC_MAX_ATTEMPTS": str(self.ATTEMPTS),
                                 "GROUPSYNC_HTTP_TIMEOUT_MS": str(self.TIMEOUT_MS),
                                 "GROUPSYNC_SHUTDOWN_GRACE_MS": "2000",
                                 "GROUPSYNC_WORKERS": str(self.WORKERS)})
        self.okta = OktaStandin(self.tmp, hook_url="http://127.0.0.1:%d/hooks/okta" % self.gs.port)
        self.gs.env["GROUPSYNC_OKTA_ORG_URL"] = self.okta.url
        self.gs.env["REMOTE_BASE_URL"] = self.fault.url
        self.gs.env.update(self.extra_env)
        self.gs.start()
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})
        self.n = 0
        self.created, self.updated, self.deleted = [], [], []
        self.remote_ids = {}  # uid -> remote id, from before the fault

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        self.fault.stop()
        self.remote.stop()
        if os.environ.get("GS_KEEP_TMP"):
            print("kept", self.tmp, self.gs.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.gs.cleanup()

    # ---- the population -------------------------------------------------
    def new_user(self):
        self.n += 1
        p = dict(PROFILE, login="u%d@example.com" % self.n, email="u%d@example.com" % self.n)
        return self.okta.admin("POST", "/users", {"status": "ACTIVE", "profile": p})["id"]

    def customid(self, uid):
        return (self.okta.admin("GET", "/users/" + uid).get("profile") or {}).get("customId")

    def seed(self, n_update=2, n_delete=2):
        """Users synced before any fault: later updated or deleted."""
        users = [self.new_user() for _ in range(n_update + n_delete)]
        for uid in users:
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: all(self.customid(u) for u in users), timeout=60,
                   what="seeded users synced")
        self.updated, self.deleted = users[:n_update], users[n_update:]
        self.remote_ids = {u: str(self.customid(u)) for u in users}
        if users:
            wait_until(self.settled, timeout=60, what="seed settled")
        self.seed_jobs = len(self.gs.jobs())
        self.fault_log_reset()

    def act(self, n_create=3):
        """Creates, updates and deletes while the fault is on."""
        if n_create:
            self.created = [self.new_user() for _ in range(n_create)]
        for uid in self.created:
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        for uid in self.updated:
            self.okta.admin("POST", "/users/%s/profile" % uid, {"city": "Moved-" + uid[-4:]})
        for uid in self.deleted:
            self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))

    # ---- proxy ----------------------------------------------------------
    def faults(self, *rules):
        http_json("POST", self.fault.url + "/__fault", list(rules))

    def fault_log_reset(self):
        http_json("POST", self.fault.url + "/__fault/log/reset", {})

    def proxy_log(self):
        log = self.fault.requests()
        by_rid = {rid: uid for uid, rid in self.remote_ids.items()}
        for r in log:
            if not r["okta_id"]:
                r["okta_id"] = by_rid.get(r["path"].rsplit("/", 1)[-1].split("?")[0])
        return log

    # ---- end state ------------------------------------------------------
    def settled(self):
        jobs = self.gs.jobs()
        return jobs and all(j[3] >= DONE for j in jobs)

    def right(self, exclude=()):
        """Every user (but those excluded) in the right state on both
        sides, and the queue settled; or None."""
        recs = [r for r in self.remote.users() if r.get("oktaId") not in exclude]
        by_okta = {}
        for r in recs:
            by_okta.setdefault(r.get("oktaId"), []).append(r)
        for uid in self.created + self.updated:
            if uid in exclude:
                continue
            rs = by_okta.get(uid, [])
            if len(rs) != 1 or self.customid(uid) != str(rs[0]["id"]):
                return None
        for uid in self.updated:
            if uid not in exclude and by_okta[uid][0].get("city") != "Moved-" + uid[-4:]:
                return None
        for uid in self.deleted:
            if uid not in exclude and (uid in by_okta or self.customid(uid)):
                return None
        want = len([u for u in self.created + self.updated if u not in exclude])
        return len(recs) == want and self.settled()

    def wait_right(self, timeout=60, exclude=()):
        self.okta.admin("GET", "/deliveries/wait?timeout_ms=15000")
        wait_until(lambda: self.right(exclude), timeout=timeout, interval=0.3,
                   what="every user right")
        if not exclude:
            self.assertEqual(self.dead(), [])
        oktaids = [r.get("oktaId") for r in self.remote.users()]
        self.assertEqual(len(oktaids), len(set(oktaids)), "duplicate remote records")

    def dead(self):
        return [j for j in self.gs.jobs() if j[3] == DEAD]

    def attempts(self):
        """user -> the most failed attempts of its jobs since the seed (a
        done job's attempts count the one that succeeded too)."""
        with self.gs.db() as db:
            rows = db.execute("SELECT user_id, attempts - (state = ?) FROM jobs"
                              " ORDER BY id", (DONE,)).fetchall()
        out = {}
        for uid, a in rows[self.seed_jobs:]:
            out[uid] = max(out.get(uid, 0), a)
        return out

    # ---- spacing --------------------------------------------------------
    def backoff_floor(self, attempt):
        """The least delay after failed attempt N: half the capped doubling."""
        d = min(self.BASE_MS * 2 ** (attempt - 1), self.MAX_MS)
        return d / 2 / 1000.0

    def syncs(self, uid):
        """groupsync's sync lines for one user: (time, attempt, outcome)."""
        return [(parse_ts(l["ts"]), int(l["attempt"]), l["outcome"]) for l in self.gs.log_lines()
                if l.get("msg") == "sync" and l.get("user") == uid]

    def check_gaps(self, users, floor=None, proxy_times=None):
        """Each retry waited at least its backoff (and floor(uid, attempt),
        e.g. a Retry-After). Returns (retries, smallest gap/required)."""
        retries, worst = 0, None
        for uid in users:
            # A skipped job calls nothing. It can run during another job's
            # backoff: a later event of the user is leased on its own.
            lines = [x for x in self.syncs(uid) if not x[2].startswith("skipped")]
            for (t0, att, out), (t1, _, _) in zip(lines, lines[1:]):
                if out != "retry":
                    continue
                need = self.backoff_floor(att)
                if floor:
                    need = max(need, floor(uid, att))
                gap = t1 - t0
                self.assertGreaterEqual(gap, need - self.slack_s, (uid, att, gap, need, lines))
                retries += 1
                worst = gap / need if worst is None else min(worst, gap / need)
        return retries, worst

    def check_proxy_gaps(self, log, floor):
        """Faulted requests of one user: arrival to arrival >= floor(attempt)."""
        by_user = {}
        for r in log:
            by_user.setdefault(r["okta_id"], []).append(r)
        worst = None
        for uid, rs in by_user.items():
            failed = [r for r in rs if r["fault"]]
            nxt = {id(a): b for a, b in zip(rs, rs[1:])}
            for i, r in enumerate(failed):
                b = nxt.get(id(r))
                if b is None:
                    continue
                need = floor(r, i + 1)
                gap = b["t"] - r["t"]
                self.assertGreaterEqual(gap, need - self.slack_s, (uid, i + 1, gap, need))
                worst = gap if worst is None else min(worst, gap)
        return worst

    def report(self, name, **figures):
        print("\nFIGURES %s %s" % (name, " ".join("%s=%s" % kv for kv in figures.items())),
              flush=True)
