"""Sync end to end: the real binary, a real json-server as the remote system
and the Okta stand-in (tests/standins/okta.js) that sends event hooks like
Okta does. Walks the Workflows template's own test, then the failure cases."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import (DONE, GROUP, ROOT, FaultProxy, Groupsync, JsonServer, OktaStandin,
                     delivery, http_json, membership_event, run_cli, wait_until)

OTHER_GROUP = "00g8othr9ZyXwVuTs4x7"
PROFILE = {"login": "jane.doe@example.com", "email": "jane.doe@example.com",
           "firstName": "Jane", "lastName": "Doe", "streetAddress": "100 Main St",
           "city": "Springfield", "state": "IL", "zipCode": "62701", "countryCode": "US"}


class SyncBase(unittest.TestCase):
    proxy = False
    extra_env = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-sync-")
        self.remote = JsonServer(self.tmp)
        self.fault = FaultProxy(self.tmp, self.remote.port) if self.proxy else None
        self.gs = Groupsync(env={"GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
                                 "GROUPSYNC_RETRY_BASE_MS": "300",
                                 "GROUPSYNC_RETRY_MAX_MS": "3000",
                                 "GROUPSYNC_HTTP_TIMEOUT_MS": "3000",
                                 "GROUPSYNC_WORKERS": "4"})
        self.okta = OktaStandin(self.tmp, hook_url="http://127.0.0.1:%d/hooks/okta" % self.gs.port)
        self.gs.env["GROUPSYNC_OKTA_ORG_URL"] = self.okta.url
        self.gs.env["REMOTE_BASE_URL"] = (self.fault or self.remote).url
        self.gs.env.update(self.extra_env)
        self.gs.start()
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})
        self.okta.admin("POST", "/groups", {"id": OTHER_GROUP, "name": "Everyone"})

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        if self.fault:
            self.fault.stop()
        self.remote.stop()
        if os.environ.get("GS_KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.gs.cleanup()

    # helpers
    def new_user(self, **profile):
        p = dict(PROFILE)
        p.update(profile)
        return self.okta.admin("POST", "/users", {"status": "ACTIVE", "profile": p})["id"]

    def okta_user(self, uid):
        """The user as the stand-in holds it (the admin API: not an API call)."""
        return self.okta.admin("GET", "/users/" + uid)

    def remote_users(self, **match):
        return [u for u in self.remote.users()
                if all(u.get(k) == v for k, v in match.items())]

    def deliveries_done(self):
        """Waits until the stand-in has delivered every event hook."""
        self.okta.admin("GET", "/deliveries/wait?timeout_ms=15000")

    def settled(self):
        """Every job done (or dead): nothing pending or leased."""
        jobs = self.gs.jobs()
        return jobs and all(j[3] >= DONE for j in jobs)

    def calls(self, method=None, prefix="/api/v1/"):
        return [c for c in self.okta.calls()
                if c["path"].startswith(prefix) and (method is None or c["method"] == method)
                and (c.get("user_agent") or "").startswith("groupsync/")]

    def synced(self, uid):
        """Waits until the user has a remote record and customId points at it."""
        def check():
            u = self.okta_user(uid)
            cid = (u.get("profile") or {}).get("customId")
            recs = [r for r in self.remote.users() if str(r.get("id")) == str(cid)]
            return recs[0] if cid and recs else None
        return wait_until(check, what="user %s synced" % uid)


class Sync(SyncBase):
    def test_template_walk(self):
        """Add to the group → created with the profile's values and customId
        written back; edit city → updated; remove → deleted, customId cleared."""
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        rec = self.synced(uid)
        for k in ("firstName", "lastName", "email", "streetAddress", "city", "state", "zipCode",
                  "countryCode"):
            self.assertEqual(rec[k], PROFILE[k], k)
        self.assertEqual(len(self.remote.users()), 1)

        self.okta.admin("POST", "/users/%s/profile" % uid, {"city": "Shelbyville"})
        wait_until(lambda: self.remote_users(city="Shelbyville"), what="city updated")
        self.assertEqual(len(self.remote.users()), 1)

        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: self.remote.users() == [], what="remote record deleted")
        wait_until(lambda: not self.okta_user(uid)["profile"].get("customId"),
                   what="customId cleared")
        wait_until(self.settled, what="queue settled")
        # never a full profile replace
        self.assertEqual([c for c in self.calls("PUT")], [])

    def test_templates_reload_on_sighup(self):
        """Issue 13 §7: SIGHUP loads the templates again, checked first: a
        good set is used from the next sync on, a bad one is refused with
        the reason in the log and the last good set stays in use."""
        hooks = os.path.join(self.tmp, "hooks")
        shutil.copytree(os.path.join(ROOT, "hooks", "rest"), hooks)
        self.gs.stop()
        self.gs.env["GROUPSYNC_HOOKS_DIR"] = hooks
        self.gs.start()
        create = os.path.join(hooks, "create.json")
        with open(create, encoding="utf-8") as f:
            good = f.read()

        def hup_and_wait(msg, count):
            self.gs.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: self.gs.log().count(msg) == count, what=msg)

        def add_and_sync():
            login = "u%s@example.com" % uuid.uuid4().hex[:8]
            uid = self.new_user(login=login, email=login)
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
            return self.synced(uid)

        with open(create, "w", encoding="utf-8") as f:
            f.write(good.replace('"oktaId": "{{user.id}}"',
                                 '"oktaId": "{{user.id}}", "source": "reloaded"'))
        hup_and_wait('"msg":"templates reloaded"', 1)
        self.assertEqual(add_and_sync().get("source"), "reloaded")

        with open(create, "w", encoding="utf-8") as f:
            f.write(good.replace("{{user.id}}", "{{user.nope}}"))
        hup_and_wait("templates not reloaded", 1)
        [line] = [l for l in self.gs.log_lines() if l.get("msg", "").startswith(
            "templates not reloaded")]
        self.assertEqual(line["level"], "warn")
        self.assertIn("create.json", line["error"])
        # the last good set stays: still the "reloaded" one
        self.assertEqual(add_and_sync().get("source"), "reloaded")
        self.assertTrue(self.gs.proc.poll() is None)

    def test_sync_on_demand(self):
        """Issue 13 §2: `groupsync sync USER --dry-run` prints the decision
        and the requests (auth redacted) and sends nothing; without
        --dry-run it syncs now, beside the running serve, through the
        store's lease, and the job it stored shows in the queue."""
        token = "remote-bearer-token-0123456789"
        self.gs.stop()
        self.gs.env.update({"GROUPSYNC_REMOTE_AUTH": "bearer", "GROUPSYNC_REMOTE_TOKEN": token,
                            "GROUPSYNC_WORKERS": "1"})
        self.gs.start()
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.deliveries_done()
        wait_until(self.settled, what="the hook's sync done")
        rec = self.synced(uid)

        r = run_cli(["sync", uid, "--dry-run"], self.gs.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertRegex(out, r"(?m)^decision +nothing$")
        # a profile change whose event was lost: update, shown first
        self.okta.admin("POST", "/users/%s/profile?emit=0" % uid, {"city": "North Haverbrook"})
        jobs_before = len(self.gs.jobs())
        r = run_cli(["sync", uid, "--dry-run"], self.gs.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertNotIn(token, out + r.stderr)
        self.assertRegex(out, r"(?m)^user +%s$" % uid)
        self.assertRegex(out, r"(?m)^okta +active, member$")
        self.assertRegex(out, r"(?m)^decision +update$")
        self.assertRegex(out, r"(?m)^update\.json +\w+ %s/users/%s$"
                         % (self.gs.env["REMOTE_BASE_URL"], rec["id"]))
        self.assertRegex(out, r"(?m)^  header +Authorization: \[redacted\]$")
        self.assertRegex(out, r'(?m)^  body +\{.*"city": ?"North Haverbrook"')
        self.assertRegex(out, r"(?m)^outcome +dry run: nothing sent$")
        self.assertEqual(self.remote_users(city="North Haverbrook"), [])
        self.assertEqual(len(self.gs.jobs()), jobs_before)

        r = run_cli(["sync", uid], self.gs.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^decision +update$")
        self.assertRegex(r.stdout, r"(?m)^remote_status +200$")
        # each answer of the calls it made, the remote's update among them
        self.assertRegex(r.stdout, r"(?m)^answer +PUT %s/users/%s -> 200$"
                         % (self.gs.env["REMOTE_BASE_URL"], rec["id"]))
        self.assertRegex(r.stdout, r'(?m)^  body +\{ "firstName": "Jane",')
        self.assertNotIn(token, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^outcome +ok$")
        self.assertEqual(len(self.remote_users(city="North Haverbrook")), 1)
        mine = [j for j in self.gs.jobs() if j[2] == "groupsync.sync"]
        self.assertEqual([j[3] for j in mine], [DONE])

        # a user not in Okta: an error naming it, exit 1; bad usage: 2
        r = run_cli(["sync", "00u0000000000missing"], self.gs.env)
        self.assertRegex(r.stdout, r"(?m)^okta +not in Okta$")
        self.assertEqual(run_cli(["sync"], self.gs.env).returncode, 2)
        self.assertEqual(run_cli(["sync", "a b"], self.gs.env).returncode, 2)

    def test_deprovision_threshold_holds(self):
        """Issue 13 §4: past GROUPSYNC_DEPROVISION_THRESHOLD deprovisions
        in an hour the rest are held (a warning, a metric, the queue say
        so) while creates go on; an operator releases or drops them."""
        self.gs.stop()
        self.gs.env["GROUPSYNC_DEPROVISION_THRESHOLD"] = "1"
        self.gs.start()

        def add_user():
            login = "u%s@example.com" % uuid.uuid4().hex[:8]
            uid = self.new_user(login=login, email=login)
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
            return uid

        users = [add_user() for _ in range(3)]
        for uid in users:
            self.synced(uid)
        for uid in users:
            self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))
        self.deliveries_done()
        wait_until(lambda: self.gs.log().count('"msg":"deprovision held"') == 2,
                   what="two deprovisions held")
        self.assertEqual(len(self.remote.users()), 2)
        # creates and updates go on
        self.synced(add_user())
        listed = [json.loads(l) for l in run_cli(["queue", "list", "--json"],
                                                 self.gs.env).stdout.splitlines()]
        held = [j for j in listed if j["state"] == "held"]
        self.assertEqual(sorted(j["user_id"] for j in held), sorted(
            u for u in users if any(r.get("oktaId") == u for r in self.remote.users())))
        self.assertTrue(all(j["last_error"].startswith("held:") for j in held), held)
        st, _, body = self.gs.request("GET", "/metrics")
        self.assertIn("groupsync_deprovisions_held 2\n", body.decode())
        self.assertIn('groupsync_syncs_total{outcome="held"', body.decode())
        held_only = [json.loads(l) for l in run_cli(["queue", "list", "--state", "held",
                                                      "--json"], self.gs.env).stdout.splitlines()]
        self.assertEqual([j["id"] for j in held_only], [j["id"] for j in held])
        stats = json.loads(run_cli(["queue", "stats", "--json"], self.gs.env).stdout)
        self.assertEqual(stats["held"], 2)

        r = run_cli(["queue", "drop", str(held[0]["id"])], self.gs.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_cli(["queue", "release-held", "--all", "--json"], self.gs.env)
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {"released": 1}), r.stderr)
        # released: deleted now, though the hour's threshold is still spent
        wait_until(lambda: len(self.remote.users()) == 2, what="released deprovision done")
        self.assertEqual([u.get("oktaId") for u in self.remote.users()
                          if u.get("oktaId") in users], [held[0]["user_id"]])
        self.assertEqual(run_cli(["queue", "release-held", "--all", "--json"],
                                 self.gs.env).stdout.strip(), '{"released":0}')

    def test_check_config_online(self):
        """Issue 13 §3: check-config --online asks Okta and the remote: the
        groups (name, members), the schema attribute, every template for a
        real member, the remote's find, the event hook; every check runs
        and the exit status says whether all passed."""
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        env = dict(self.gs.env)
        env["GROUPSYNC_GROUP_IDS"] = GROUP
        r = run_cli(["check-config", "--online"], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertRegex(out, r'(?m)^ok +group +%s "API Provisioning Group", 1 members$' % GROUP)
        self.assertRegex(out, r"(?m)^ok +schema +customId in the user profile$")
        for f in ("find.json", "create.json", "update.json", "delete.json"):
            self.assertRegex(out, r"(?m)^ok +template +%s$" % f)
        self.assertRegex(out, r"(?m)^ok +remote +find answered 200 \(found\)$")
        self.assertRegex(out, r"(?m)^ok +event hook +")
        # an SSWS token has no scopes to check: said, not failed
        self.assertRegex(out, r"(?m)^ok +okta auth +SSWS API token: it has no scopes ")

        env = dict(self.gs.env)
        env["GROUPSYNC_GROUP_IDS"] = GROUP + ",00g0000000000nothere"
        r = run_cli(["check-config", "--online"], env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^FAIL group +00g0000000000nothere: ")
        # the checks after the failed one ran too
        self.assertRegex(r.stdout, r"(?m)^ok +remote +find answered")

    def test_check_config_unknown_variable(self):
        """Issue 13 §3: a mistyped GROUPSYNC_* variable is an error naming
        the closest known setting, not silently ignored."""
        env = dict(self.gs.env)
        env["GROUPSYNC_WORKRES"] = "3"
        secret = os.path.join(self.tmp, "hook-secret")
        with open(secret, "w") as f:
            f.write(env.pop("GROUPSYNC_HOOK_SECRET"))
        env["GROUPSYNC_HOOK_SECRET_FILE"] = secret  # a NAME_FILE is known
        r = run_cli(["check-config"], env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("groupsync: GROUPSYNC_WORKRES: unknown setting (did you mean "
                      "GROUPSYNC_WORKERS?)", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_same_event_three_times(self):
        self.okta.admin("POST", "/hook", {"enabled": False})
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        ev = membership_event(uid)
        body = delivery([ev])
        for _ in range(2):
            self.assertEqual(self.gs.deliver(body)[0], 200)
        body["eventId"] = str(uuid.uuid4())  # a redelivery may carry a new eventId
        self.assertEqual(self.gs.deliver(body)[0], 200)
        self.synced(uid)
        wait_until(self.settled, what="queue settled")
        self.assertEqual(len(self.remote.users()), 1)
        self.assertEqual(len(self.gs.jobs()), 1)

    def test_write_back_echo(self):
        """customId is written once; Okta's update_profile echo of it costs
        no Okta call and no remote call."""
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        # the echo is an update_profile delivery with changedAttributes=customId
        self.deliveries_done()
        # ... and is not even stored: the delivery's line says why
        self.assertFalse(any(j[2] == "user.account.update_profile" for j in self.gs.jobs()))
        self.assertTrue(any("user.account.update_profile %s: no synced attribute changed" % uid
                            in l.get("not_synced", "") for l in self.gs.log_lines()))
        wait_until(self.settled, what="queue settled")
        writes = [c for c in self.calls("POST") if c["path"] == "/api/v1/users/" + uid]
        self.assertEqual(len(writes), 1, writes)
        reads = self.calls("GET")
        self.assertLessEqual(len(reads), 2, reads)  # one sync: user + groups
        self.assertEqual(len(self.remote.users()), 1)

    def test_outside_group(self):
        uid = self.new_user(email="outsider@example.com")
        self.okta.admin("POST", "/groups/%s/members/%s" % (OTHER_GROUP, uid))
        self.okta.admin("POST", "/users/%s/profile" % uid, {"city": "Elsewhere"})
        self.deliveries_done()
        wait_until(self.settled, what="queue settled")
        self.assertEqual(self.remote.users(), [])
        self.assertEqual(self.calls(), [])  # not one Okta call

    def test_deactivate_deletes(self):
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        self.okta.admin("POST", "/users/%s/lifecycle/deactivate" % uid)
        wait_until(lambda: self.remote.users() == [], what="remote record deleted")

    def test_shutdown_bounded(self):
        """SIGTERM while a sync waits on a slow Okta: exit within the grace
        period plus a little, the job given back untouched, synced after a
        restart."""
        uid = self.new_user()
        self.gs.stop()
        self.gs.env["GROUPSYNC_SHUTDOWN_GRACE_MS"] = "1000"
        self.gs.start()
        self.okta.admin("POST", "/fail", {"delay_ms": 8000})
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        adds = lambda: [j[3] for j in self.gs.jobs() if j[2] == "group.user_membership.add"]
        wait_until(lambda: adds() == [1], what="sync in flight")
        t = time.time()
        self.assertEqual(self.gs.stop(), 0)
        self.assertLess(time.time() - t, 4.0)
        self.assertEqual(adds(), [0])  # pending again, attempts untouched
        self.assertIn('"outcome":"released"', self.gs.log())
        self.okta.admin("DELETE", "/fail")
        self.gs.start()
        self.synced(uid)

    def test_okta_429_until_reset(self):
        uid = self.new_user()
        reset = int(time.time()) + 3
        self.okta.admin("POST", "/ratelimit", {"until_epoch": reset})
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        before = [c for c in self.calls() if c["time"] < reset * 1000]
        self.assertEqual(len(before), 1, before)  # the one that got 429, then none
        self.assertIn("rate", self.gs.log().lower())


class SyncOAuth(SyncBase):
    """Both OAuth 2.0 modes end to end: private_key_jwt with a Bearer token
    (RS256), and with a DPoP-bound token after the use_dpop_nonce
    handshake (ES256). No API token is configured."""

    def oauth_env(self, algorithm, dpop, scopes=None):
        key = os.path.join(self.tmp, "app-%s.pem" % algorithm)
        pub = key + ".pub"
        if algorithm == "RS256":
            gen = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        else:
            gen = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                   "ec_paramgen_curve:P-256"]
        subprocess.run(gen + ["-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                       capture_output=True)
        client = "0oa%s%s" % (algorithm.lower(), "dpop" if dpop else "bearer")
        with open(pub) as f:
            app = {"client_id": client, "public_key_pem": f.read(), "dpop": dpop}
            if scopes is not None:
                app["scopes"] = scopes
            self.okta.admin("POST", "/clients", app)
        return {"GROUPSYNC_OKTA_CLIENT_ID": client, "GROUPSYNC_OKTA_PRIVATE_KEY_FILE": key,
                "GROUPSYNC_OKTA_API_TOKEN": ""}

    def restart_with(self, env):
        self.gs.stop()
        self.gs.env.update(env)
        self.gs.start()

    def walk(self, scheme):
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        calls = self.calls()
        self.assertTrue(calls)
        self.assertEqual({c["auth"] for c in calls}, {scheme}, calls[:3])
        tokens = [c for c in self.okta.calls() if c["path"] == "/oauth2/v1/token"]
        self.assertTrue(tokens)
        return tokens

    def test_private_key_jwt_bearer(self):
        self.restart_with(self.oauth_env("RS256", dpop=False))
        tokens = self.walk("Bearer")
        self.assertEqual(len([t for t in tokens if t["status"] == 200]), 1)  # cached

    def test_private_key_jwt_dpop(self):
        self.restart_with(self.oauth_env("ES256", dpop=True))
        tokens = self.walk("DPoP")
        # auto: plain request refused, then use_dpop_nonce, then the token
        self.assertEqual([t["status"] for t in tokens], [400, 400, 200])
        self.assertIn("DPoP", self.gs.log())


    def test_check_config_online_scopes(self):
        """Issue 13 §3: check-config --online names each scope the OAuth
        service app was not granted: refused by Okta's token endpoint when
        requested, or left out of GROUPSYNC_OKTA_SCOPES."""
        env = dict(self.gs.env)
        env["GROUPSYNC_GROUP_IDS"] = GROUP
        env.update(self.oauth_env("RS256", dpop=False))
        r = run_cli(["check-config", "--online"], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^ok +okta auth +app 0oars256bearer granted: "
                                   r"okta.users.read okta.users.manage okta.groups.read$")
        # reads only this check makes, refused for want of a scope sync does not need
        self.assertRegex(r.stdout, r"(?m)^skip schema +not checked: the token lacks "
                                   r"okta.schemas.read ")
        self.assertRegex(r.stdout, r"(?m)^skip event hook +not checked: the token lacks "
                                   r"okta.eventHooks.read ")

        # an app granted only the read scopes: Okta refuses the token
        env.update(self.oauth_env("RS256", dpop=False,
                                  scopes=["okta.users.read", "okta.groups.read"]))
        r = run_cli(["check-config", "--online"], env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^FAIL okta auth +app 0oars256bearer not granted: "
                                   r"okta.users.manage$")

        # the scopes asked for leave one out: granted what was asked, still missing
        env["GROUPSYNC_OKTA_SCOPES"] = "okta.users.read"
        r = run_cli(["check-config", "--online"], env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^FAIL okta auth +app 0oars256bearer not granted: "
                                   r"okta.users.manage okta.groups.read$")


class SyncRemoteFaults(SyncBase):
    proxy = True

    def test_remote_503_then_recovers(self):
        self.fault.set(status=503, count=4)
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.synced(uid)
        log = self.fault.requests()
        failed = [r for r in log if r["fault"]]
        self.assertEqual(len(failed), 4)
        gaps = [b["t"] - a["t"] for a, b in zip(failed, failed[1:])]
        # base 300 ms doubling with jitter in [d/2, d]: 150+, 300+, 600+ ms
        for gap, low in zip(gaps, (0.15, 0.3, 0.6)):
            self.assertGreaterEqual(gap, low * 0.95, gaps)
        self.assertEqual(len(self.remote.users()), 1)
        self.assertIn('"outcome":"retry"', self.gs.log())

    def test_remote_permanent_error_dead_letters(self):
        self.fault.set(status=400, count=100)
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: any(j[3] == 3 for j in self.gs.jobs()), what="dead letter")
        self.assertEqual(self.remote.users(), [])
        self.assertEqual(len([r for r in self.fault.requests() if r["fault"]]), 1)


class SyncDeprovisionDisable(SyncBase):
    """hooks/rest in GROUPSYNC_DEPROVISION=disable: disable.json's PATCH."""
    extra_env = {"GROUPSYNC_DEPROVISION": "disable"}

    def test_leave_disables_return_reenables(self):
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        rec = self.synced(uid)
        self.assertIs(rec["active"], True)
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: self.remote_users(active=False), what="record disabled")
        self.assertEqual(self.okta_user(uid)["profile"].get("customId"), str(rec["id"]))
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: self.remote_users(active=True), what="record re-enabled")
        self.assertEqual([u["id"] for u in self.remote.users()], [rec["id"]])


class SyncDeprovisionNone(SyncBase):
    """hooks/rest in GROUPSYNC_DEPROVISION=none: the record stays."""
    extra_env = {"GROUPSYNC_DEPROVISION": "none"}

    def test_leave_keeps_record_return_relinks(self):
        uid = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        rec = self.synced(uid)
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(lambda: not self.okta_user(uid)["profile"].get("customId"),
                   what="customId cleared")
        self.assertEqual(len(self.remote.users()), 1)
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.assertEqual(self.synced(uid)["id"], rec["id"])
        self.assertEqual(len(self.remote.users()), 1)


class SyncPushGroups(SyncBase):
    """hooks/rest with GROUPSYNC_PUSH_GROUPS=1 against json-server: a
    /groups record per configured group, its whole members list sent on
    each change ({{group.members}}), workers racing on one group."""
    extra_env = {"GROUPSYNC_PUSH_GROUPS": "1", "GROUPSYNC_GROUP_IDS": GROUP}

    def group(self):
        gs = http_json("GET", self.remote.url + "/groups?externalId=" + GROUP)[1]
        return gs[0] if len(gs) == 1 else None

    def test_members_follow_okta(self):
        uids = [self.new_user(login="p%d@example.com" % i, email="p%d@example.com" % i)
                for i in range(6)]
        for uid in uids:
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        rids = [str(self.synced(uid)["id"]) for uid in uids]
        wait_until(lambda: self.group() and sorted(self.group()["members"]) == sorted(rids),
                   what="every member listed")
        self.assertEqual(self.group()["displayName"], "API Provisioning Group")
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uids[0]))
        wait_until(lambda: sorted(self.group()["members"]) == sorted(rids[1:]),
                   what="leaver unlisted")
        groups = http_json("GET", self.remote.url + "/groups")[1]
        self.assertEqual(len(groups), 1)


class SyncPushGroupsDrift(SyncBase):
    """Reconcile repairs the membership of pushed groups changed by hand on
    the remote side (hooks/rest's group_get.json): one read per group, the
    whole members list written back when it differs, unknown IDs kept."""
    extra_env = {"GROUPSYNC_PUSH_GROUPS": "1",
                 "GROUPSYNC_GROUP_IDS": GROUP + "," + OTHER_GROUP}

    def group(self, gid):
        gs = http_json("GET", self.remote.url + "/groups?externalId=" + gid)[1]
        return gs[0] if len(gs) == 1 else None

    def wait_members(self, gid, want):
        wait_until(lambda: self.group(gid) and
                   sorted(str(m) for m in self.group(gid)["members"]) == sorted(want),
                   what="members of %s == %s" % (gid, want))

    def test_reconcile_repairs_drift(self):
        a, b, c = [self.new_user(login="d%d@example.com" % i, email="d%d@example.com" % i)
                   for i in range(3)]
        for uid in (a, b):
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        self.okta.admin("POST", "/groups/%s/members/%s" % (OTHER_GROUP, c))
        ra, rb, rc = [str(self.synced(uid)["id"]) for uid in (a, b, c)]
        self.wait_members(GROUP, [ra, rb])
        self.wait_members(OTHER_GROUP, [rc])
        wait_until(self.settled, what="queue settled")
        # by hand: a taken out, c (synced, another group's) and an ID
        # groupsync does not know put in
        status, _ = http_json("PATCH", self.remote.url + "/groups/%s" % self.group(GROUP)["id"],
                              {"members": [rb, rc, "by-hand-1"]})
        self.assertEqual(status, 200)

        r = run_cli(["reconcile", "--json", "--dry-run"], self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual((out["group_members_added"], out["group_members_removed"],
                          out["group_members_unknown"], out["groups_read"]), (1, 1, 1, 2))
        self.assertEqual(sorted(self.group(GROUP)["members"]), sorted([rb, rc, "by-hand-1"]))

        r = run_cli(["reconcile", "--json"], self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["group_members_added"], out["group_members_removed"]), (1, 1))
        self.wait_members(GROUP, [ra, rb, "by-hand-1"])
        self.assertEqual([str(m) for m in self.group(OTHER_GROUP)["members"]], [rc])

    def test_reconcile_recreates_deleted_group(self):
        """A remote group deleted by hand: member changes sent to it find
        nothing, so no sync brings it back; reconcile makes it again, with
        its members, and remembers the new ID."""
        a, b = [self.new_user(login="g%d@example.com" % i, email="g%d@example.com" % i)
                for i in range(2)]
        for uid in (a, b):
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        ra, rb = [str(self.synced(uid)["id"]) for uid in (a, b)]
        self.wait_members(GROUP, [ra, rb])
        wait_until(self.settled, what="queue settled")
        old_id = self.group(GROUP)["id"]
        status, _ = http_json("DELETE", self.remote.url + "/groups/%s" % old_id)
        self.assertEqual(status, 200)
        self.assertIsNone(self.group(GROUP))

        r = run_cli(["reconcile", "--json", "--dry-run"], self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout.splitlines()[-1])["groups_gone"], 1)
        self.assertIsNone(self.group(GROUP))  # a dry run changes nothing

        r = run_cli(["reconcile", "--json"], self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["groups_gone"], out["group_members_added"]), (1, 2))
        self.wait_members(GROUP, [ra, rb])
        # the new ID is the one syncs use from now on: a leaver leaves it
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, b))
        self.wait_members(GROUP, [ra])

    def test_serve_periodic_reconcile_repairs_drift(self):
        """serve's own periodic reconcile repairs it too, and its log line
        says what it did."""
        a = self.new_user()
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, a))
        ra = str(self.synced(a)["id"])
        self.wait_members(GROUP, [ra])
        wait_until(self.settled, what="queue settled")
        status, _ = http_json("PATCH", self.remote.url + "/groups/%s" % self.group(GROUP)["id"],
                              {"members": []})
        self.assertEqual(status, 200)
        self.gs.stop()
        self.gs.env["GROUPSYNC_RECONCILE_INTERVAL"] = "1"
        self.gs.start()
        self.wait_members(GROUP, [ra])
        wait_until(lambda: any(l.get("msg") == "reconcile" and
                               l.get("group_members_added") == "1"
                               for l in self.gs.log_lines()),
                   what="a reconcile line with group_members_added=1")


if __name__ == "__main__":
    unittest.main()
