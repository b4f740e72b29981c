"""GET /metrics: the real binary, its text parsed strictly (Prometheus text
format 0.0.4), the counts compared with what was sent and stored, and no
secret or identifier in it."""
import json
import re
import time
import unittest
import uuid

import test_sync
from harness import (DEAD, GROUP, OKTA_TOKEN, PENDING, SECRET, SECRET_NEXT, Groupsync, delivery,
                     membership_event, sample, wait_until)

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
VALUE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]Inf|NaN")
TYPES = ("counter", "gauge", "histogram")


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_labels(s):
    """'{a="x",b="y"}' -> {"a": "x", "b": "y"}; any other shape fails."""
    labels, pos = {}, 1
    if s == "{}":
        return labels
    while True:
        m = LABEL.match(s, pos)
        if not m:
            raise AssertionError("bad labels: %r" % s)
        if m.group(1) in labels:
            raise AssertionError("label twice: %r" % s)
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
        if s[pos:] == "}":
            return labels
        if s[pos] != ",":
            raise AssertionError("bad labels: %r" % s)
        pos += 1


def parse_sample(line):
    m = re.fullmatch(r"(%s)(\{.*\})? (\S+)" % NAME, line)
    if not m:
        raise AssertionError("not a sample line: %r" % line)
    if not VALUE.fullmatch(m.group(3)):
        raise AssertionError("bad value: %r" % line)
    return m.group(1), parse_labels(m.group(2) or "{}"), float(m.group(3))


def check_histogram(name, samples):
    buckets = sorted(((float(dict(lab)["le"]), v) for (n, lab), v in samples.items()
                      if n == name + "_bucket"), key=lambda b: b[0])
    if not buckets or buckets[-1][0] != float("inf"):
        raise AssertionError("%s: no +Inf bucket" % name)
    counts = [v for _, v in buckets]
    if counts != sorted(counts):
        raise AssertionError("%s: buckets not cumulative: %s" % (name, counts))
    if samples.get((name + "_count", ())) != counts[-1]:
        raise AssertionError("%s: +Inf bucket != _count" % name)
    if (name + "_sum", ()) not in samples:
        raise AssertionError("%s: no _sum" % name)


class Exposition:
    """A parsed scrape: families (name -> help, type) and samples."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.samples = {}  # (name, sorted label items) -> value
        if not text.endswith("\n"):
            raise AssertionError("text does not end with a newline")
        current = None
        for line in text[:-1].split("\n"):
            if line.startswith("#"):
                current = self.comment(line)
            else:
                self.sample(line, current)
        for name, fam in self.families.items():
            if fam["help"] is None or fam["type"] is None:
                raise AssertionError("%s: HELP or TYPE missing" % name)
            if not name.startswith("groupsync_"):
                raise AssertionError("%s: not prefixed groupsync_" % name)
            if fam["type"] == "counter" and not name.endswith("_total"):
                raise AssertionError("%s: a counter not ending in _total" % name)
            if fam["type"] == "histogram":
                check_histogram(name, self.samples)

    def comment(self, line):
        m = re.fullmatch(r"# (HELP|TYPE) (%s) (.+)" % NAME, line)
        if not m:
            raise AssertionError("bad comment line: %r" % line)
        kind, name, rest = m.groups()
        fam = self.families.setdefault(name, {"help": None, "type": None, "samples": 0})
        if fam["samples"]:
            raise AssertionError("%s: %s after its samples" % (name, kind))
        key = kind.lower()
        if fam[key] is not None:
            raise AssertionError("%s: %s twice" % (name, kind))
        if kind == "TYPE" and rest not in TYPES:
            raise AssertionError("%s: type %s" % (name, rest))
        fam[key] = rest
        return name

    def sample(self, line, current):
        name, labels, value = parse_sample(line)
        fam = self.families.get(current)
        if fam is None or fam["help"] is None or fam["type"] is None:
            raise AssertionError("sample before HELP and TYPE: %r" % line)
        suffixes = ("_bucket", "_sum", "_count") if fam["type"] == "histogram" else ("",)
        if name not in [current + s for s in suffixes]:
            raise AssertionError("sample %s outside its family %s" % (name, current))
        key = (name, tuple(sorted(labels.items())))
        if key in self.samples:
            raise AssertionError("sample twice: %r" % line)
        self.samples[key] = value
        fam["samples"] += 1

    def value(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in self.samples:
            raise AssertionError("no sample %s %s" % (name, labels))
        return self.samples[key]

    def total(self, name, **match):
        """Sum of the samples of name whose labels include match."""
        return sum(v for (n, lab), v in self.samples.items()
                   if n == name and all(dict(lab).get(k) == w for k, w in match.items()))

    def has(self, name):
        return any(n == name for n, _ in self.samples)


def scrape(gs):
    st, hdr, body = gs.request("GET", "/metrics")
    if st != 200:
        raise AssertionError("GET /metrics: %d" % st)
    if hdr.get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8":
        raise AssertionError("Content-Type %r" % hdr.get("Content-Type"))
    return Exposition(body.decode("utf-8"))


class ParserSelfTest(unittest.TestCase):
    """The parser refuses what the format forbids, so its passes mean something."""

    GOOD = ('# HELP groupsync_a_total A.\n# TYPE groupsync_a_total counter\n'
            'groupsync_a_total{k="x\\"y\\\\z\\n"} 3\n')

    def test_parser(self):
        e = Exposition(self.GOOD)
        self.assertEqual(e.value("groupsync_a_total", k='x"y\\z\n'), 3)
        bad = [
            self.GOOD.rstrip("\n"),
            self.GOOD.replace("# HELP groupsync_a_total A.\n", ""),
            self.GOOD.replace("counter", "countr"),
            self.GOOD.replace("_total", ""),
            self.GOOD.replace('\\"y', '"y'),
            self.GOOD.replace(" 3\n", " three\n"),
            self.GOOD + 'groupsync_a_total{k="x\\"y\\\\z\\n"} 4\n',
            self.GOOD + "# HELP groupsync_a_total again\n",
            ('# HELP groupsync_h H.\n# TYPE groupsync_h histogram\n'
             'groupsync_h_bucket{le="1"} 2\ngroupsync_h_bucket{le="+Inf"} 1\n'
             'groupsync_h_sum 1\ngroupsync_h_count 1\n'),
        ]
        for text in bad:
            with self.assertRaises(AssertionError, msg=text):
                Exposition(text)


class MetricsIntake(unittest.TestCase):
    tls = False

    def setUp(self):
        self.gs = Groupsync(tls=self.tls).start()

    def tearDown(self):
        self.gs.cleanup()

    def deliver_ok(self, body):
        st, _, data = self.gs.deliver(body)
        self.assertEqual(st, 200, data)
        return json.loads(data)

    def test_counts_match(self):
        user = "00u0000000metrics001"
        dup_uuid = str(uuid.uuid4())
        preview = sample("delivery-group-add.json")
        preview["eventId"] = str(uuid.uuid4())
        preview["data"]["events"][0]["target"] = None
        sent = [
            sample("delivery-group-add.json"),          # 1 job
            sample("delivery-group-add.json"),          # the same delivery again
            sample("delivery-batch-mixed.json"),        # 2 jobs, other group, session
            sample("okta-docs-sample-session-start.json"),  # type not handled
            delivery([membership_event(user, event_uuid=dup_uuid),
                      membership_event(user, event_uuid=dup_uuid)]),  # 2 jobs, 1 new
            delivery([preview["data"]["events"][0], 42]),  # no target, invalid
        ]
        answers = [self.deliver_ok(b) for b in sent]
        self.assertEqual([a["duplicate"] for a in answers], [False, True] + [False] * 4)
        stored = sum(a["stored"] for a in answers)
        events = sum(a["events"] for a in answers)
        jobs_parsed = 1 + 1 + 2 + 0 + 2 + 0
        # refused ones
        self.assertEqual(self.gs.deliver(sample("delivery-group-add.json"), secret="wrong")[0],
                         401)
        self.assertEqual(self.gs.request("GET", "/hooks/okta")[0], 401)
        self.assertEqual(self.gs.deliver(b"{")[0], 400)
        self.assertEqual(self.gs.deliver(b"[]")[0], 400)
        big = b"{\"data\":{\"events\":[]},\"pad\":\"" + b"x" * (1024 * 1024) + b"\"}"
        self.assertEqual(self.gs.deliver(big)[0], 413)

        m = scrape(self.gs)
        d = "groupsync_deliveries_total"
        self.assertEqual(m.value(d, outcome="accepted"), 5)
        self.assertEqual(m.value(d, outcome="duplicate"), 1)
        self.assertEqual(m.value(d, outcome="unauthorized"), 2)
        self.assertEqual(m.value(d, outcome="malformed"), 2)
        self.assertEqual(m.value(d, outcome="too_large"), 1)
        self.assertEqual(m.value(d, outcome="store_failed"), 0)
        self.assertEqual(m.value(d, outcome="timeout"), 0)

        e = "groupsync_events_total"
        self.assertEqual(m.value(e, decision="queued"), stored)
        self.assertEqual(m.value(e, decision="duplicate"), jobs_parsed - stored)
        self.assertGreaterEqual(m.value(e, decision="duplicate"), 2)
        self.assertEqual(m.value(e, decision="ignored_type"), 2)
        self.assertEqual(m.value(e, decision="ignored_group"), 1)
        self.assertEqual(m.value(e, decision="ignored_no_target"), 1)
        self.assertEqual(m.value(e, decision="ignored_invalid"), 1)
        self.assertEqual(m.total(e), events)  # one decision per event

        h = "groupsync_events_handled_total"
        self.assertEqual(m.value(h, type="group.user_membership.add"), 5)
        self.assertEqual(m.value(h, type="user.account.update_profile"), 1)
        self.assertEqual(m.value(h, type="other"), 0)
        self.assertEqual(m.total(h), jobs_parsed)

        jobs = self.gs.jobs()
        self.assertEqual(len(jobs), stored)
        self.assertTrue(all(j[3] == PENDING for j in jobs))
        self.assertEqual(m.value("groupsync_queue_jobs", state="pending"), len(jobs))
        self.assertEqual(m.value("groupsync_queue_jobs", state="leased"), 0)
        self.assertEqual(m.value("groupsync_queue_jobs", state="dead"), 0)
        self.assertEqual(m.value("groupsync_dead_letters"), 0)
        self.assertEqual(m.value("groupsync_queue_readable"), 1)
        # no worker (GROUPSYNC_WORKERS=0): nothing synced, Okta never called
        self.assertEqual(m.total("groupsync_syncs_total"), 0)
        self.assertEqual(m.value("groupsync_sync_duration_seconds_count"), 0)
        self.assertEqual(m.total("groupsync_okta_requests_total"), 0)
        self.assertFalse(m.has("groupsync_okta_rate_limit_remaining"))
        self.assert_nothing_private(m.text, jobs, sent)

    def assert_nothing_private(self, text, jobs, sent):
        private = [SECRET, SECRET_NEXT, OKTA_TOKEN, "dGVzdDp0ZXN0", GROUP, self.gs.data_dir]
        private += [j[0] for j in jobs] + [j[1] for j in jobs]  # event uuids, user IDs
        private += [b["eventId"] for b in sent]
        for p in private:
            self.assertNotIn(p, text)
        self.assertNotIn("00u", text)

    def test_oldest_pending_age(self):
        m = scrape(self.gs)
        self.assertEqual(m.value("groupsync_queue_oldest_pending_age_seconds"), 0)
        self.deliver_ok(delivery([membership_event("00u0000000metrics002")]))
        time.sleep(1.2)
        m = scrape(self.gs)
        age = m.value("groupsync_queue_oldest_pending_age_seconds")
        self.assertGreaterEqual(age, 1.0)
        self.assertLess(age, 60)
        self.assertEqual(m.value("groupsync_queue_jobs", state="pending"), 1)

    def test_routes(self):
        # unauthenticated like /healthz; a hook secret sent along changes nothing
        self.assertEqual(self.gs.request("GET", "/metrics")[0], 200)
        st, _, body = self.gs.request("GET", "/metrics", headers={"Authorization": SECRET})
        self.assertEqual(st, 200)
        self.assertNotIn(SECRET.encode(), body)
        st, hdr, _ = self.gs.request("POST", "/metrics", b"x")
        self.assertEqual((st, hdr.get("Allow")), (405, "GET"))
        self.assertEqual(self.gs.request("GET", "/metrics/x")[0], 404)
        self.assertEqual(self.gs.request("GET", "/metricsx")[0], 404)
        # scraping is not a delivery
        m = scrape(self.gs)
        self.assertEqual(m.total("groupsync_deliveries_total"), 0)


class MetricsIntakeHTTPS(MetricsIntake):
    tls = True


class MetricsSync(test_sync.SyncBase):
    """The workers' metrics, against json-server and the Okta stand-in."""
    proxy = True

    def settled_metrics(self):
        """A scrape once every job is settled and every sync counted."""
        wait_until(self.settled, what="queue settled")

        def counted():
            m = scrape(self.gs)
            return m if (m.value("groupsync_queue_jobs", state="pending") == 0 and
                         m.value("groupsync_queue_jobs", state="leased") == 0) else None
        return wait_until(counted, what="metrics settled")

    def test_sync_counts(self):
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: self.remote.users() == [], what="remote record deleted")
        self.deliveries_done()
        m = wait_until(lambda: (lambda m: m if m.value(
            "groupsync_syncs_total", outcome="ok", action="delete") == 1 else None)(
            self.settled_metrics()), what="delete counted")
        s = "groupsync_syncs_total"
        self.assertEqual(m.value(s, outcome="ok", action="create"), 1)
        self.assertEqual(m.total(s, outcome="retry") + m.total(s, outcome="dead"), 0)
        # every sync is in the histogram, and in one outcome
        self.assertEqual(m.value("groupsync_sync_duration_seconds_count"), m.total(s))
        self.assertGreater(m.value("groupsync_sync_duration_seconds_sum"), 0)
        r = "groupsync_remote_requests_total"
        self.assertEqual(m.value(r, operation="find", **{"class": "2xx"}), 1)
        self.assertEqual(m.value(r, operation="create", **{"class": "2xx"}), 1)
        self.assertEqual(m.value(r, operation="delete", **{"class": "2xx"}), 1)
        self.assertEqual(m.total(r, **{"class": "none"}), 0)
        reads = len(self.calls("GET"))
        writes = len(self.calls("POST"))
        self.assertEqual(m.value("groupsync_okta_requests_total", kind="read"), reads)
        self.assertEqual(m.value("groupsync_okta_requests_total", kind="write"), writes)
        self.assertGreaterEqual(writes, 2)  # customId written, then cleared
        self.assertGreaterEqual(m.value("groupsync_okta_rate_limit_remaining"), 0)
        self.assertEqual(m.value("groupsync_queue_jobs", state="done"), len(self.gs.jobs()))
        self.assertNotIn(uid, m.text)

    def test_retries_and_dead_letters(self):
        self.fault.set(status=503, count=2)
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        self.deliveries_done()
        m = self.settled_metrics()
        s, r = "groupsync_syncs_total", "groupsync_remote_requests_total"
        self.assertEqual(m.value(s, outcome="retry", action="create"), 2)
        self.assertEqual(m.value(r, operation="find", **{"class": "5xx"}), 2)
        self.assertEqual(m.value("groupsync_dead_letters"), 0)

        self.fault.set(status=400, count=100)
        other = self.new_user(login="dead.letter@example.com", email="dead.letter@example.com")
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, other))
        self.deliveries_done()
        m = wait_until(lambda: (lambda m: m if m.value("groupsync_dead_letters") > 0 else None)(
            scrape(self.gs)), what="dead letter counted")
        dead = [j for j in self.gs.jobs() if j[3] == DEAD]
        self.assertEqual(m.value("groupsync_dead_letters"), len(dead))
        self.assertEqual(m.value("groupsync_queue_jobs", state="dead"), len(dead))
        m = wait_until(lambda: (lambda m: m if m.value(s, outcome="dead", action="create") == 1
                                else None)(scrape(self.gs)), what="dead sync counted")
        self.assertEqual(m.value(r, operation="find", **{"class": "4xx"}), 1)


if __name__ == "__main__":
    unittest.main()
