"""Faults of Okta (issue 5), injected by the Okta stand-in: 429 with
X-Rate-Limit-Reset, 500/502/503, and answers later than the outbound
timeout, on the user read, the groups read and the customId write-back.
Users are created, updated and deleted while the fault is on; each
scenario ends with every user right, attempts counted and retry gaps
checked against the configured backoff."""
import time
import unittest

from faults_base import SLACK_S, FaultsBase
from harness import GROUP


class OktaFaults(FaultsBase):
    def okta_calls(self):
        return [c for c in self.okta.calls() if c["path"].startswith("/api/v1/users/")
                and (c.get("user_agent") or "").startswith("groupsync/")]

    def user_of(self, call):
        return call["path"].split("/")[4]

    def fail(self, uid, status=None, what="user", count=1, **extra):
        """A stand-in fail rule on one user's user read, groups read or
        write-back."""
        rule = {"count": count, "path_prefix": "/api/v1/users/" + uid,
                "method": "POST" if what == "write" else "GET"}
        if what == "groups":
            rule["path_prefix"] += "/groups"
        if status:
            rule["status"] = status
        rule.update(extra)
        self.okta.admin("POST", "/fail", rule)

    def calls_gaps(self, calls, faulted, floor):
        """Arrival of a faulted call to the user's next call >= floor."""
        worst = None
        by_user = {}
        for c in calls:
            by_user.setdefault(self.user_of(c), []).append(c)
        for uid, cs in by_user.items():
            n = 0
            for a, b in zip(cs, cs[1:]):
                if not faulted(a):
                    continue
                n += 1
                need = floor(uid, n)
                gap = (b["time"] - a["time"]) / 1000.0
                self.assertGreaterEqual(gap, need - SLACK_S, (uid, n, gap, need))
                worst = gap if worst is None else min(worst, gap)
        return worst


class Okta429(OktaFaults):
    def test_rate_limited_until_reset(self):
        """Every call answers 429 until X-Rate-Limit-Reset: the workers
        stop calling (a handful in flight at most), then all converge."""
        self.seed()
        reset = int(time.time()) + 4
        self.okta.admin("POST", "/ratelimit", {"until_epoch": reset})
        self.act(n_create=3)
        users = self.created + self.updated + self.deleted
        self.wait_right()
        calls = self.okta_calls()
        limited = [c for c in calls if c["status"] == 429]
        self.assertGreaterEqual(len(limited), 1)
        # the gate closes after the first 429: at most one per worker
        self.assertLessEqual(len(limited), self.WORKERS, limited)
        first = min(c["time"] for c in limited)
        early = [c for c in calls if first < c["time"] < reset * 1000 - 1000 * SLACK_S
                 and c["status"] != 429]
        self.assertEqual(early, [])
        att = self.attempts()
        retries, ratio = self.check_gaps(users)
        self.report("okta429", users=len(users), calls_429=len(limited),
                    attempts=sum(att.get(u, 0) for u in users), retries=retries,
                    first_call_after_reset_s=round(
                        (min(c["time"] for c in calls if c["time"] > first and c["status"] == 200)
                         - reset * 1000) / 1000.0, 2), dead=0, duplicates=0)


class Okta5xx(OktaFaults):
    def test_500_502_503(self):
        """5xx on the user read, the groups read and the write-back: retried
        with backoff (and not before a Retry-After); the deleted user's
        customId is cleared even when the clearing write failed once."""
        self.seed()
        self.created = [self.new_user() for _ in range(2)]
        c, u, d = self.created, self.updated, self.deleted
        self.fail(c[0], 500, count=2)
        self.fail(c[1], 503, what="write", count=2)
        self.fail(u[0], 502)
        self.fail(u[1], 502, what="groups")
        self.fail(d[0], 503, count=2, headers={"Retry-After": "2"})
        self.fail(d[1], 500, what="write")
        self.act(n_create=0)
        self.wait_right()
        want = {c[0]: 2, c[1]: 2, u[0]: 1, u[1]: 1, d[0]: 2, d[1]: 1}
        calls = self.okta_calls()
        faulted = {uid: len([x for x in calls if x["status"] >= 500 and self.user_of(x) == uid])
                   for uid in want}
        self.assertEqual(faulted, want)
        att = self.attempts()
        for uid, n in want.items():
            self.assertEqual(att[uid], n, uid)
        ra = {d[0]: 2.0}
        worst = self.calls_gaps(calls, lambda x: x["status"] >= 500,
                                lambda uid, n: max(ra.get(uid, 0), self.backoff_floor(n)))
        retries, ratio = self.check_gaps(want, floor=lambda uid, n: ra.get(uid, 0))
        self.assertEqual(retries, sum(want.values()))
        self.report("okta5xx", users=7, faulted=sum(want.values()), retries=retries,
                    min_gap_s=round(worst, 3), min_gap_over_floor=round(ratio, 2), dead=0,
                    duplicates=0)


class OktaTimeout(OktaFaults):
    TIMEOUT_MS = 1000

    def test_no_answer_within_timeout(self):
        """The stand-in answers 2.5 s late (and still applies a late write):
        each such call fails at the 1 s timeout, is retried, ends right."""
        self.seed()
        self.created = [self.new_user() for _ in range(2)]
        c, u, d = self.created, self.updated, self.deleted
        late = {"delay_ms": 2500}
        self.fail(c[0], **late)
        self.fail(c[1], what="write", **late)
        self.fail(u[0], **late)
        self.fail(u[1], what="groups", **late)
        self.fail(d[0], **late)
        self.fail(d[1], what="write", **late)
        self.act(n_create=0)
        self.wait_right()
        slow = [c[0], c[1], u[0], u[1], d[0], d[1]]
        att = self.attempts()
        for uid in slow:
            self.assertEqual(att[uid], 1, uid)
            first = [l for l in self.gs.log_lines() if l.get("msg") == "sync"
                     and l.get("user") == uid and l.get("outcome") == "retry"][0]
            self.assertIn("imeout", first["error"])
            self.assertLess(int(first["ms"]), 10000)  # not wedged
        retries, ratio = self.check_gaps(slow)
        self.assertEqual(retries, len(slow))
        self.assertEqual(len(self.remote.users()), len(c) + len(u))
        self.report("okta-timeout", users=7, timed_out=len(slow), retries=retries,
                    min_gap_over_floor=round(ratio, 2), dead=0, duplicates=0)


if __name__ == "__main__":
    unittest.main()
