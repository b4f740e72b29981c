"""Operator commands (queue list/show/retry/drop/stats, replay) run against
the store of a LIVE service, which keeps accepting deliveries meanwhile.
The harness runs it with GROUPSYNC_WORKERS=0, so jobs stay as stored."""
import contextlib
import copy
import json
import os
import subprocess
import unittest
import uuid

from harness import (BIN, DEAD, DONE, LEASED, PENDING, SAMPLES, Groupsync, delivery,
                     membership_event, run_cli, sample)

USERS = ["00u0000000000admin01", "00u0000000000admin02", "00u0000000000admin03"]


class Admin(unittest.TestCase):
    def setUp(self):
        self.gs = Groupsync().start()

    def tearDown(self):
        self.gs.cleanup()

    # helpers
    def cli(self, *args, want=0, stdin=None):
        if stdin is None:
            r = run_cli(list(args), self.gs.env)
        else:
            r = subprocess.run([BIN] + list(args), env=self.gs.env, input=stdin,
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, want, "%s: %s%s" % (args, r.stdout, r.stderr))
        if want != 0:
            # an error is one line on stderr, nothing on stdout
            self.assertEqual(r.stdout, "")
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        return r

    def cli_json(self, *args):
        return [json.loads(line) for line in self.cli(*args, "--json").stdout.splitlines()]

    def deliver(self, users):
        st, _, data = self.gs.deliver(delivery([membership_event(u) for u in users]))
        self.assertEqual(st, 200, data)
        return json.loads(data)

    def rows(self):
        with contextlib.closing(self.gs.db()) as db:
            return db.execute("SELECT id, uuid, user_id, event_type, published, group_id,"
                              " state, attempts, last_error FROM jobs ORDER BY id").fetchall()

    def set_job(self, job_id, state, attempts=0, error=""):
        """What a worker would have done: written directly, as an operator's sqlite3 could."""
        with contextlib.closing(self.gs.db()) as db:
            db.execute("UPDATE jobs SET state = ?, attempts = ?, last_error = ? WHERE id = ?",
                       (state, attempts, error, job_id))
            db.commit()

    def assert_still_serving(self):
        """The service still stores deliveries after the admin commands."""
        user = "00u0000000000after01"
        self.assertEqual(self.deliver([user])["stored"], 1)
        self.assertIn(user, [r[2] for r in self.rows()])
        st, _, _ = self.gs.request("GET", "/readyz")
        self.assertEqual(st, 200)

    def write(self, name, text):
        path = os.path.join(self.gs.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    # cases
    def test_list_matches_store(self):
        self.deliver(USERS[:2])
        self.deliver(USERS[2:])
        listed = self.cli_json("queue", "list")
        self.assertEqual([(j["id"], j["uuid"], j["user_id"], j["event_type"], j["published"],
                           j["group_id"], j["attempts"], j["last_error"]) for j in listed],
                         [(r[0], r[1], r[2], r[3], r[4], r[5], r[7], r[8]) for r in self.rows()])
        self.assertTrue(all(j["state"] == "pending" and j["next_attempt"] == "now"
                            for j in listed), listed)
        # the table: a header and one row per job
        text = self.cli("queue", "list").stdout.splitlines()
        self.assertRegex(text[0], r"ID +STATE +USER +EVENT TYPE +ATTEMPTS +NEXT ATTEMPT +LAST ERROR")
        self.assertEqual(len(text), 4)
        self.assertIn(USERS[1], text[2])
        # filters: user, limit (the newest, and a note on stderr), state
        self.assertEqual([j["user_id"] for j in self.cli_json("queue", "list", "--user", USERS[1])],
                         [USERS[1]])
        r = self.cli("queue", "list", "--limit", "1", "--json")
        self.assertEqual([json.loads(line)["user_id"] for line in r.stdout.splitlines()],
                         [USERS[2]])
        self.assertIn("--limit", r.stderr)
        self.assertEqual(self.cli_json("queue", "list", "--state", "done"), [])
        self.assertEqual(self.cli("queue", "list", "--state", "done").stdout, "no jobs\n")
        self.assertEqual(len(self.cli_json("queue", "list", "--state", "all")), 3)
        self.cli("queue", "list", "--state", "finished", want=2)
        self.cli("queue", "list", "--limit", "0", want=2)
        self.assert_still_serving()

    def test_show(self):
        self.deliver(USERS[:1])
        row = self.rows()[0]
        [job] = self.cli_json("queue", "show", str(row[0]))
        self.assertEqual(set(job), {"id", "state", "user_id", "event_type", "uuid", "published",
                                    "group_id", "changed_attributes", "attempts", "next_attempt",
                                    "created", "updated", "last_error", "past_error"})
        self.assertEqual((job["id"], job["uuid"], job["user_id"], job["state"]),
                         (row[0], row[1], row[2], "pending"))
        self.assertRegex(job["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        text = self.cli("queue", "show", str(row[0])).stdout
        self.assertRegex(text, r"(?m)^uuid +%s$" % row[1])
        self.assertRegex(text, r"(?m)^last_error +-$")
        r = self.cli("queue", "show", "9999", want=1)
        self.assertIn("no job 9999", r.stderr)
        self.cli("queue", "show", "abc", want=2)
        self.cli("queue", "show", want=2)
        self.assert_still_serving()

    def test_show_past_error(self):
        """Issue 13 §7: the error of a failed attempt of a job that then
        succeeded is labelled as past, never shown as the job's error."""
        self.deliver(USERS[:2])
        ids = [r[0] for r in self.rows()]
        self.set_job(ids[0], DONE, 2, "remote: 503 Service Unavailable")
        self.set_job(ids[1], DEAD, 3, "remote: 400 Bad Request")
        done, dead = (self.cli_json("queue", "show", str(i))[0] for i in ids)
        self.assertEqual((done["attempts"], done["last_error"], done["past_error"]),
                         (2, "", "remote: 503 Service Unavailable"))
        self.assertEqual((dead["last_error"], dead["past_error"]),
                         ("remote: 400 Bad Request", None))
        text = self.cli("queue", "show", str(ids[0])).stdout
        self.assertRegex(text, r"(?m)^last_error +-$")
        self.assertRegex(text, r"(?m)^past_error +remote: 503 Service Unavailable$")
        table = self.cli("queue", "list", "--state", "all").stdout.splitlines()
        self.assertTrue(table[1].rstrip().endswith("(past) remote: 503 Service Unavailable"),
                        table[1])
        self.assertTrue(table[2].rstrip().endswith("  remote: 400 Bad Request"), table[2])

    def test_queue_alone_prints_usage(self):
        """Issue 13 §7: `groupsync queue` alone prints the queue commands,
        not "unknown command"."""
        r = run_cli(["queue"], self.gs.env)
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertNotIn("unknown command", r.stderr)
        self.assertIn("usage: groupsync queue", r.stderr)
        self.assertIn("queue list [--state", r.stderr)
        self.assertIn("queue show ID", r.stderr)

    def test_retry(self):
        self.deliver(USERS)
        ids = [r[0] for r in self.rows()]
        self.set_job(ids[0], DEAD, 10, "remote: 500 Internal Server Error")
        self.assertEqual([j["id"] for j in self.cli_json("queue", "list", "--state", "dead")],
                         [ids[0]])
        self.assertEqual(self.cli_json("queue", "retry", str(ids[0])), [{"retried": 1}])
        row = self.rows()[0]
        self.assertEqual((row[6], row[7], row[8]),
                         (PENDING, 0, "remote: 500 Internal Server Error"))
        # every dead job at once
        self.set_job(ids[0], DEAD, 10, "boom")
        self.set_job(ids[1], DEAD, 10, "boom")
        self.assertEqual(self.cli("queue", "retry", "--all-dead").stdout.split(), ["retried", "2"])
        self.assertEqual([(r[6], r[7]) for r in self.rows()], [(PENDING, 0)] * 3)
        self.assertEqual(self.cli_json("queue", "retry", "--all-dead"), [{"retried": 0}])
        # a leased job is the service's: refused, untouched
        self.set_job(ids[2], LEASED, 1)
        r = self.cli("queue", "retry", str(ids[2]), want=1)
        self.assertIn("job %d is leased" % ids[2], r.stderr)
        self.assertEqual(self.rows()[2][6:8], (LEASED, 1))
        self.assertIn("no job 9999", self.cli("queue", "retry", "9999", want=1).stderr)
        self.cli("queue", "retry", want=2)
        self.cli("queue", "retry", str(ids[0]), "--all-dead", want=2)
        self.assert_still_serving()

    def test_drop(self):
        self.deliver(USERS[:2])
        ids = [r[0] for r in self.rows()]
        self.assertEqual(self.cli("queue", "drop", str(ids[0])).stdout.split(), ["dropped", "1"])
        self.assertEqual([r[0] for r in self.rows()], ids[1:])
        self.assertIn("no job %d" % ids[0], self.cli("queue", "drop", str(ids[0]), want=1).stderr)
        self.set_job(ids[1], LEASED, 1)
        r = self.cli("queue", "drop", str(ids[1]), want=1)
        self.assertIn("job %d is leased" % ids[1], r.stderr)
        self.assertIn("syncing", r.stderr)
        self.assertEqual([r[0] for r in self.rows()], ids[1:])
        self.assert_still_serving()

    def test_replay_sample(self):
        path = os.path.join(SAMPLES, "delivery-group-add.json")
        want = sample("delivery-group-add.json")["data"]["events"][0]
        [out] = self.cli_json("replay", path)
        self.assertEqual((out["events"], out["jobs"], out["stored"], out["duplicate"]),
                         (1, 1, 1, False))
        [row] = self.rows()
        self.assertEqual((row[1], row[2], row[3], row[6]),
                         (want["uuid"], "00u8jane2XyZaBcDe4x7", want["eventType"], PENDING))
        # the same delivery again: its eventId is known, nothing stored
        [out] = self.cli_json("replay", path)
        self.assertEqual((out["stored"], out["duplicate"]), (0, True))
        # a dry run stores nothing; "-" reads stdin
        body = delivery([membership_event(USERS[0])])
        r = self.cli("replay", "-", "--dry-run", "--json", stdin=json.dumps(body))
        out = json.loads(r.stdout)
        self.assertEqual((out["jobs"], out["stored"], out["dry_run"]), (1, None, True))
        self.assertEqual(len(self.rows()), 1)
        r = self.cli("replay", "-", stdin=json.dumps(body))
        self.assertRegex(r.stdout, r"(?m)^stored +1$")
        self.assertEqual(len(self.rows()), 2)
        self.assert_still_serving()

    def test_replay_preview_null_target(self):
        """The body of the Admin Console's Preview tab: targets may be null."""
        body = sample("delivery-group-add.json")
        body["eventId"] = str(uuid.uuid4())
        preview = copy.deepcopy(body["data"]["events"][0])
        preview["uuid"] = str(uuid.uuid4())
        preview["target"] = None
        preview["actor"] = None
        body["data"]["events"] = [preview, membership_event(USERS[0])]
        [out] = self.cli_json("replay", self.write("preview.json", json.dumps(body)))
        self.assertEqual((out["events"], out["jobs"], out["stored"], out["ignored_no_target"]),
                         (2, 1, 1, 1))
        self.assertEqual([r[2] for r in self.rows()], [USERS[0]])
        body["eventId"] = str(uuid.uuid4())
        body["data"]["events"] = [preview]
        r = self.cli("replay", self.write("preview2.json", json.dumps(body)))
        self.assertRegex(r.stdout, r"(?m)^ignored_no_target +1$")
        self.assertRegex(r.stdout, r"(?m)^stored +0$")
        self.assertEqual(len(self.rows()), 1)
        self.assert_still_serving()

    def test_replay_malformed(self):
        for name, text, reason in (("bad.json", "{\"data\": {\"events\": [", "truncated JSON"),
                                   ("array.json", "[]", "not a JSON object"),
                                   ("empty.json", "", "empty body"),
                                   ("shape.json", "{\"data\": {}}", "data.events")):
            r = self.cli("replay", self.write(name, text), want=2)
            self.assertIn(reason, r.stderr)
        r = self.cli("replay", os.path.join(self.gs.tmp, "missing.json"), want=2)
        self.assertIn("No such file", r.stderr)
        self.cli("replay", want=2)
        self.assertEqual(self.rows(), [])
        self.assert_still_serving()

    def test_stats(self):
        self.deliver(USERS)
        self.set_job(self.rows()[0][0], DEAD, 10, "boom")
        [stats] = self.cli_json("queue", "stats")
        age = stats.pop("oldest_pending_age_ms")
        self.assertEqual(stats, {"pending": 2, "leased": 0, "done": 0, "dead": 1, "held": 0})
        self.assertTrue(0 <= age < 600000, age)
        text = self.cli("queue", "stats").stdout
        self.assertRegex(text, r"(?m)^dead +1$")
        self.assertRegex(text, r"(?m)^oldest_pending_age_ms +\d+$")
        self.assert_still_serving()

    def test_settings_like_serve(self):
        """A missing setting is serve's one-line error, exit 2."""
        env = dict(self.gs.env)
        env["GROUPSYNC_HOOK_SECRET"] = ""
        for args in (["queue", "list"], ["replay", os.path.join(SAMPLES, "delivery-group-add.json")]):
            r = run_cli(args, env)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stderr, "groupsync: GROUPSYNC_HOOK_SECRET: required\n")
        self.assertEqual(self.cli("queue", "frobnicate", want=2).returncode, 2)
        self.cli("queue", "list", "--bogus", want=2)
        r = run_cli(["--help"], {})
        for cmd in ("queue list", "queue show ID", "queue retry ID|--all-dead", "queue drop ID",
                    "queue stats", "replay FILE"):
            self.assertIn(cmd, r.stdout)


if __name__ == "__main__":
    unittest.main()
