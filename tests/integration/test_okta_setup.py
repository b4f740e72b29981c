"""`groupsync okta setup` against the Okta stand-in (started without the
customId attribute), with a real groupsync serving the hook URL so that the
stand-in's verification GET reaches it."""
import shutil
import tempfile
import unittest

from harness import SECRET, Groupsync, OktaStandin, run_cli


class OktaSetup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-setup-")
        self.okta = OktaStandin(self.tmp, extra=["--bare-schema"])
        self.gs = Groupsync(env={"GROUPSYNC_OKTA_ORG_URL": self.okta.url})
        self.gs.start()
        self.hook_url = "http://127.0.0.1:%d/hooks/okta" % self.gs.port

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.gs.cleanup()

    def setup_cli(self, *args):
        return run_cli(["okta", "setup", "--url", self.hook_url] + list(args), self.gs.env)

    def custom_props(self):
        status, schema = self.okta.api("GET", "/api/v1/meta/schemas/user/default")
        self.assertEqual(status, 200)
        return schema["definitions"]["custom"]["properties"]

    def hooks(self):
        status, hooks = self.okta.api("GET", "/api/v1/eventHooks")
        self.assertEqual(status, 200)
        return hooks

    def calls(self):
        return [c for c in self.okta.calls() if c["path"].startswith("/api/v1/")]

    def assert_no_secret(self, r):
        for text in (r.stdout, r.stderr):
            self.assertNotIn(SECRET, text)
            self.assertNotIn(SECRET.split()[1], text)

    def test_setup_creates_verifies_then_updates(self):
        self.assertNotIn("customId", self.custom_props())
        r = self.setup_cli()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_no_secret(r)
        self.assertIn("schema: customId added", r.stdout)
        self.assertIn("event hook: created", r.stdout)
        self.assertIn("verification: VERIFIED", r.stdout)
        prop = self.custom_props()["customId"]
        self.assertEqual((prop["title"], prop["type"]), ("Remote ID", "string"))

        hooks = self.hooks()
        self.assertEqual(len(hooks), 1)
        hook = hooks[0]
        self.assertEqual(hook["channel"]["config"]["uri"], self.hook_url)
        self.assertEqual(hook["verificationStatus"], "VERIFIED")
        self.assertEqual(hook["status"], "ACTIVE")
        self.assertEqual(hook["name"], "groupsync")
        self.assertEqual(len(hook["events"]["items"]), 9)
        self.assertIn("group.user_membership.add", hook["events"]["items"])
        self.assertEqual(hook["channel"]["config"]["authScheme"]["key"], "Authorization")
        # the stand-in's verification GET reached groupsync and was answered
        self.assertTrue([x for x in self.gs.log_lines() if x.get("msg") == "event hook verified"])

        # a second run changes nothing it need not: same hook, updated (PUT)
        before = len(self.calls())
        r = self.setup_cli("--name", "groupsync-renamed")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_no_secret(r)
        self.assertIn("schema: customId present", r.stdout)
        self.assertIn("event hook: updated %s" % hook["id"], r.stdout)
        self.assertIn("verification: VERIFIED", r.stdout)
        hooks = self.hooks()
        self.assertEqual(len(hooks), 1)
        self.assertEqual(hooks[0]["name"], "groupsync-renamed")
        new = self.calls()[before:]
        methods = [(c["method"], c["path"]) for c in new]
        self.assertIn(("PUT", "/api/v1/eventHooks/" + hook["id"]), methods)
        self.assertNotIn(("POST", "/api/v1/eventHooks"), methods)
        self.assertNotIn(("POST", "/api/v1/meta/schemas/user/default"), methods)

    def test_dry_run_sends_nothing(self):
        before = self.okta.calls()
        r = self.setup_cli("--dry-run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_no_secret(r)
        self.assertIn("<redacted>", r.stdout)
        for line in ("GET /api/v1/meta/schemas/user/default",
                     "POST /api/v1/meta/schemas/user/default",
                     "GET /api/v1/eventHooks", "POST /api/v1/eventHooks",
                     "POST /api/v1/eventHooks/{id}/lifecycle/verify"):
            self.assertIn(line, r.stdout)
        self.assertEqual(self.okta.calls(), before)
        self.assertEqual(self.hooks(), [])
        self.assertNotIn("customId", self.custom_props())

    def test_verification_failure_exits_1(self):
        # groupsync expects another secret than the one the hook sends
        env = dict(self.gs.env, GROUPSYNC_HOOK_SECRET="Basic b3RoZXI6c2VjcmV0LXZhbHVlLTk5OTk=")
        r = run_cli(["okta", "setup", "--url", self.hook_url], env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("groupsync: okta setup:", r.stderr)
        self.assertNotIn("b3RoZXI6c2VjcmV0LXZhbHVlLTk5OTk=", r.stdout + r.stderr)

    def test_usage(self):
        r = run_cli(["okta", "setup"], self.gs.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--url", r.stderr)
        r = run_cli(["okta", "nothing"], self.gs.env)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
