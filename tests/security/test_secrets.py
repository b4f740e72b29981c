"""Issue 5, secrets: every scenario runs with known, distinctive secrets
(hook secret and the next one, Okta API token, OAuth private key, remote
basic/bearer/header/OAuth credentials, a REMOTE_*_FILE template secret, the
TLS key) at log level debug, and fails if any of them, or a fragment of
one (secretscan.py), appears in logs, stdout/stderr, metrics, HTTP answers,
error messages, queue output or the queue database.

Decision: the value a client sent in a failed authentication (a wrong or
near-miss hook secret) is not logged either: a near miss is most of the
real secret, and a wrong one may be another system's credential.
Remote and Okta error bodies are made to echo the request's credentials
(secretscan.Reflector), so a logger of response bodies is caught too.
"""
import json
import os
import shutil
import tempfile
import unittest

import secretscan as S
from harness import (DEAD, DONE, GROUP, ROOT, Groupsync, JsonServer, OktaStandin, delivery,
                     make_cert, membership_event, run_cli, wait_until)

PROFILE = {"login": "sam.secret@example.com", "email": "sam.secret@example.com",
           "firstName": "Sam", "lastName": "Secret"}
CLIENT_ID = "0oa-secrets-test-app"


class SecretsBase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="gs-secrets-keys-")
        cls.private_key, cls.public_key = S.make_rsa_key(cls.keys, "okta-app")
        cls.tls_cert, cls.tls_key = make_cert(cls.keys)
        cls.remote_var = os.path.join(cls.keys, "remote-api-key")
        with open(cls.remote_var, "w") as f:
            f.write(S.REMOTE_VAR_SECRET + "\n")
        with open(cls.private_key) as f, open(cls.tls_key) as g:
            cls.secrets = S.Secrets(f.read(), g.read())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keys, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-secrets-")
        self.out = S.Collector(self.secrets)
        self.stops = []

    def tearDown(self):
        for stop in reversed(self.stops):
            stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_no_leaks(self):
        leaks = self.out.report()
        print("\n%d texts from %d scenarios checked for %d secrets" % (
            len(self.out.items), len(self.out.scenarios()), len(self.secrets.table)))
        self.assertEqual(leaks, [], "secrets leaked:\n" + "\n".join(leaks))

    def env(self, okta_url, remote_url, auth="bearer", oauth=False, **extra):
        """Every secret setting set, as a serving groupsync would have them."""
        env = {"GROUPSYNC_HOOK_SECRET": S.HOOK_SECRET,
               "GROUPSYNC_HOOK_SECRET_NEXT": S.HOOK_SECRET_NEXT,
               "GROUPSYNC_OKTA_ORG_URL": okta_url,
               "GROUPSYNC_OKTA_API_TOKEN": S.OKTA_TOKEN,
               "GROUPSYNC_GROUP_IDS": GROUP,
               "GROUPSYNC_LOG_LEVEL": "debug",
               "GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
               "GROUPSYNC_REMOTE_AUTH": auth,
               "GROUPSYNC_REMOTE_USERNAME": S.REMOTE_USER,
               "GROUPSYNC_REMOTE_PASSWORD": S.REMOTE_PASSWORD,
               "GROUPSYNC_REMOTE_TOKEN": S.REMOTE_TOKEN,
               "GROUPSYNC_REMOTE_AUTH_HEADER": S.REMOTE_AUTH_HEADER,
               "GROUPSYNC_REMOTE_AUTH_VALUE": S.REMOTE_AUTH_VALUE,
               "REMOTE_BASE_URL": remote_url,
               "REMOTE_API_KEY_FILE": self.remote_var,
               "GROUPSYNC_WORKERS": "2",
               "GROUPSYNC_RETRY_BASE_MS": "50",
               "GROUPSYNC_RETRY_MAX_MS": "200",
               "GROUPSYNC_MAX_ATTEMPTS": "4",
               "GROUPSYNC_HTTP_TIMEOUT_MS": "3000"}
        if oauth:
            del env["GROUPSYNC_OKTA_API_TOKEN"]
            env["GROUPSYNC_OKTA_CLIENT_ID"] = CLIENT_ID
            env["GROUPSYNC_OKTA_PRIVATE_KEY_FILE"] = self.private_key
        env.update(extra)
        return env

    def serve(self, env, tls=False):
        gs = Groupsync(tls=tls, env=env)
        gs.env.pop("GROUPSYNC_HOOK_SECRET_NEXT", None) if "GROUPSYNC_HOOK_SECRET_NEXT" not in \
            env else None
        if tls:
            gs.env["GROUPSYNC_TLS_CERT"], gs.env["GROUPSYNC_TLS_KEY"] = self.tls_cert, self.tls_key
            gs.cert = self.tls_cert
        self.stops.append(gs.cleanup)
        return gs.start()

    def collect_serve(self, scenario, gs):
        """HTTP answers of every endpoint, right and wrong secrets, then
        the log and the data directory once stopped."""
        ev = delivery([membership_event("00uNoSuchUser0000000")])
        for name, secret in (("wrong secret", S.WRONG), ("near-miss secret", S.NEAR_MISS),
                             ("no secret", "")):
            st, hdr, body = gs.deliver(ev, secret=secret)
            self.assertEqual(st, 401, body)
            self.out.add(scenario, "POST hook, %s: answer" % name, json.dumps(hdr) + body.decode())
            st, hdr, body = gs.request("GET", "/hooks/okta", headers={
                "Authorization": secret, "X-Okta-Verification-Challenge": "chal"})
            self.out.add(scenario, "GET hook, %s: answer" % name, json.dumps(hdr) + body.decode())
        for path in ("/metrics", "/healthz", "/readyz", "/nothing-here"):
            st, hdr, body = gs.request("GET", path)
            self.out.add(scenario, "GET " + path, json.dumps(hdr) + body.decode())

    def collect_cli(self, scenario, gs, *commands):
        for args in commands:
            r = run_cli(list(args), gs.env, timeout=120)
            self.out.add(scenario, "%s: stdout" % " ".join(args), r.stdout)
            self.out.add(scenario, "%s: stderr" % " ".join(args), r.stderr)

    def finish(self, scenario, gs):
        gs.stop()
        self.out.add(scenario, "groupsync log", gs.log())
        self.out.add_tree(scenario, gs.data_dir)

    def jobs_done(self, gs, state=DONE):
        jobs = gs.jobs()
        return jobs and all(j[3] >= DONE for j in jobs) and any(j[3] == state for j in jobs)


class SecretsServe(SecretsBase):
    """serve against the Okta stand-in and json-server: everything works."""

    def standin(self, hook_url, **kw):
        okta = OktaStandin(self.tmp, hook_url=hook_url, hook_secret=S.HOOK_SECRET, **kw)
        self.stops.append(okta.stop)
        okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})
        return okta

    def sync_one(self, okta, remote, gs):
        uid = okta.admin("POST", "/users", {"status": "ACTIVE", "profile": PROFILE})["id"]
        okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        wait_until(remote.users, timeout=30, what="the user created remotely")
        wait_until(lambda: self.jobs_done(gs), timeout=30, what="jobs done")

    def test_sync_with_api_token(self):
        remote = JsonServer(self.tmp)
        self.stops.append(remote.stop)
        gs = Groupsync(env=self.env("http://x", remote.url, auth="basic"))
        self.stops.append(gs.cleanup)
        okta = self.standin("http://127.0.0.1:%d/hooks/okta" % gs.port,
                            extra=["--api-token", S.OKTA_TOKEN])
        gs.env["GROUPSYNC_OKTA_ORG_URL"] = okta.url
        gs.start()
        self.sync_one(okta, remote, gs)
        self.collect_serve("serve (SSWS, remote basic)", gs)
        self.collect_cli("cli", gs, ("queue", "list"), ("queue", "list", "--json"),
                         ("queue", "show", "1"), ("queue", "show", "1", "--json"),
                         ("queue", "stats"), ("reconcile", "--dry-run", "--json"),
                         ("reconcile",), ("check-config",))
        self.finish("serve (SSWS, remote basic)", gs)
        self.assert_no_leaks()

    def test_sync_with_oauth_and_tls(self):
        remote = JsonServer(self.tmp)
        self.stops.append(remote.stop)
        gs = Groupsync(tls=True, env=self.env("http://x", remote.url, auth="header",
                                              oauth=True))
        gs.env["GROUPSYNC_TLS_CERT"], gs.env["GROUPSYNC_TLS_KEY"] = self.tls_cert, self.tls_key
        gs.cert = self.tls_cert
        self.stops.append(gs.cleanup)
        okta = self.standin("https://127.0.0.1:%d/hooks/okta" % gs.port,
                            extra=["--client", "%s:%s" % (CLIENT_ID, self.public_key),
                                   "--hook-ca", self.tls_cert])
        gs.env["GROUPSYNC_OKTA_ORG_URL"] = okta.url
        gs.start()
        self.sync_one(okta, remote, gs)
        self.collect_serve("serve (OAuth, TLS, remote header)", gs)
        self.collect_cli("cli (OAuth)", gs, ("reconcile", "--json"), ("check-config",))
        self.finish("serve (OAuth, TLS, remote header)", gs)
        self.assert_no_leaks()


class SecretsErrors(SecretsBase):
    """Okta and the remote API fail, with bodies that echo credentials."""

    def reflector(self, *statuses):
        r = S.Reflector(statuses)
        self.stops.append(r.stop)
        return r

    def fail_users(self, scenario, gs, seen, calls_after_each):
        """One job per user, one after the other; each ends dead (or done)
        once the server has seen that many calls."""
        for i, calls in enumerate(calls_after_each):
            st, _, body = gs.deliver(delivery([membership_event("00uFailing%010d" % i)]),
                                     secret=S.HOOK_SECRET_NEXT)
            self.assertEqual(st, 200, body)
            wait_until(lambda: seen.count() >= calls, timeout=30, what=scenario + ": calls")
            wait_until(lambda: all(j[3] >= DONE for j in gs.jobs()), timeout=30,
                       what=scenario + ": jobs finished")
        self.collect_cli(scenario, gs, ("queue", "list", "--json"), ("queue", "show", "1"),
                         ("queue", "list"))

    def test_okta_errors(self):
        """429, 500, 403, 401 from Okta's API (SSWS) and its token endpoint
        (OAuth); reconcile and okta setup against the same."""
        for oauth in (False, True):
            # 500: retried; 429 (no reset header): paused, retried; 401 and
            # 403: permanent
            okta = self.reflector(500, 429, 401, 403)
            scenario = "Okta errors (%s)" % ("OAuth" if oauth else "SSWS")
            gs = self.serve(self.env(okta.url, okta.url, oauth=oauth))
            self.fail_users(scenario, gs, okta, (3, 4))
            self.collect_cli(scenario, gs, ("reconcile", "--json"), ("reconcile",),
                             ("okta", "setup", "--url", "https://gs.example.com/hooks/okta"))
            self.finish(scenario, gs)
        self.assert_no_leaks()

    def test_remote_errors(self):
        """500 then 401 from the remote API, in each remote auth mode."""
        okta = OktaStandin(self.tmp, extra=["--api-token", S.OKTA_TOKEN])
        self.stops.append(okta.stop)
        okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})
        okta.admin("POST", "/users", {"id": "00uFailing0000000000", "status": "ACTIVE",
                                      "profile": PROFILE, "groups": [GROUP]})
        okta.admin("POST", "/users", {"id": "00uFailing0000000001", "status": "ACTIVE",
                                      "profile": dict(PROFILE, login="x@example.com"),
                                      "groups": [GROUP]})
        for auth in ("basic", "bearer", "header", "none"):
            remote = self.reflector(500, 401, 403)
            scenario = "remote errors (%s)" % auth
            gs = self.serve(self.env(okta.url, remote.url, auth=auth))
            self.fail_users(scenario, gs, remote, (2, 3))
            self.finish(scenario, gs)
        self.assert_no_leaks()


class SecretsCli(SecretsBase):
    """Commands that never serve: settings, help, setup dry run."""

    def cli(self, scenario, args, env, want=None):
        r = run_cli(args, env)
        if want is not None:
            self.assertEqual(r.returncode, want, "%s: %s %s" % (scenario, r.stdout, r.stderr))
        self.out.add(scenario, "stdout", r.stdout)
        self.out.add(scenario, "stderr", r.stderr)
        return r

    def secret_file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_config_help_and_setup_dry_run(self):
        env = self.env("https://example.okta.com", "https://remote.example.com",
                       GROUPSYNC_DATA_DIR=self.tmp)
        self.cli("check-config (env)", ["check-config"], env, want=0)
        oauth = self.env("https://example.okta.com", "https://remote.example.com",
                         oauth=True, GROUPSYNC_DATA_DIR=self.tmp,
                         GROUPSYNC_TLS_CERT=self.tls_cert, GROUPSYNC_TLS_KEY=self.tls_key,
                         GROUPSYNC_REMOTE_AUTH="oauth2",
                         GROUPSYNC_REMOTE_TOKEN_URL="https://remote.example.com/token",
                         GROUPSYNC_REMOTE_CLIENT_ID="remote-client",
                         GROUPSYNC_REMOTE_CLIENT_SECRET=S.REMOTE_CLIENT_SECRET)
        self.cli("check-config (OAuth, TLS)", ["check-config"], oauth, want=0)
        with open(self.private_key) as f:
            inline = dict(oauth, GROUPSYNC_OKTA_PRIVATE_KEY=f.read())
        del inline["GROUPSYNC_OKTA_PRIVATE_KEY_FILE"]
        self.cli("check-config (PEM inline)", ["check-config"], inline, want=0)
        files = {k + "_FILE": self.secret_file(k, v + "\n") for k, v in env.items()
                 if k in ("GROUPSYNC_HOOK_SECRET", "GROUPSYNC_OKTA_API_TOKEN",
                          "GROUPSYNC_REMOTE_TOKEN")}
        via_files = {k: v for k, v in env.items() if k + "_FILE" not in files}
        via_files.update(files)
        self.cli("check-config (*_FILE)", ["check-config"], via_files, want=0)
        conf = self.secret_file("config.json", json.dumps(
            {k: v for k, v in oauth.items() if k.startswith("GROUPSYNC_") or k == "REMOTE_BASE_URL"}))
        self.cli("check-config (--config)", ["--config", conf, "check-config"],
                 {"PATH": os.environ.get("PATH", "")}, want=0)
        for args in (["--help"], ["help"], ["version"], ["bogus-command"]):
            self.cli(" ".join(args), args, env)
        for e in (env, oauth):
            self.cli("okta setup --dry-run", ["okta", "setup", "--url",
                     "https://gs.example.com/hooks/okta", "--dry-run"], e, want=0)
        self.assert_no_leaks()

    def invalid_cases(self, env):
        """(scenario, changed settings): each secret setting made invalid."""
        weak_key = S.make_rsa_key(self.tmp, "weak", 1024)[0]
        with open(weak_key) as f:
            self.out.extra.append(("invalid (1024-bit) private key", S.pem_fragments(f.read())))
        short = "Zebra-9931-Q"  # too short a secret is still a secret
        self.out.extra.append(("invalid short secret", [short]))
        missing = os.path.join(self.tmp, "no-such-secret")
        bad_pem = "-----BEGIN PRIVATE KEY-----\n" + S.HOOK_PW * 3 + "\n-----END PRIVATE KEY-----\n"
        return [
            ("hook secret too short", {"GROUPSYNC_HOOK_SECRET": short}),
            ("next secret too short", {"GROUPSYNC_HOOK_SECRET_NEXT": short}),
            ("hook secret control char", {"GROUPSYNC_HOOK_SECRET": S.HOOK_SECRET + "\x01"}),
            ("hook secret too long", {"GROUPSYNC_HOOK_SECRET": S.HOOK_SECRET * 60}),
            ("hook secret twice", {"GROUPSYNC_HOOK_SECRET_FILE": missing}),
            ("hook secret file missing", {"GROUPSYNC_HOOK_SECRET": "",
                                          "GROUPSYNC_HOOK_SECRET_FILE": missing}),
            ("okta token file missing", {"GROUPSYNC_OKTA_API_TOKEN": "",
                                         "GROUPSYNC_OKTA_API_TOKEN_FILE": missing}),
            ("okta token with newline", {"GROUPSYNC_OKTA_API_TOKEN": S.OKTA_TOKEN + "\nx"}),
            ("private key not PEM", {"GROUPSYNC_OKTA_CLIENT_ID": CLIENT_ID,
                                     "GROUPSYNC_OKTA_PRIVATE_KEY": bad_pem}),
            ("private key 1024 bits", {"GROUPSYNC_OKTA_CLIENT_ID": CLIENT_ID,
                                       "GROUPSYNC_OKTA_PRIVATE_KEY_FILE": weak_key}),
            ("private key without client id", {"GROUPSYNC_OKTA_PRIVATE_KEY_FILE":
                                               self.private_key}),
            ("remote password missing user", {"GROUPSYNC_REMOTE_AUTH": "basic",
                                              "GROUPSYNC_REMOTE_USERNAME": ""}),
            ("remote header name invalid", {"GROUPSYNC_REMOTE_AUTH": "header",
                                            "GROUPSYNC_REMOTE_AUTH_HEADER": S.REMOTE_AUTH_VALUE
                                            + ":"}),
            ("remote var file missing", {"REMOTE_API_KEY_FILE": missing}),
            ("tls key not a key", {"GROUPSYNC_TLS_CERT": self.tls_cert,
                                   "GROUPSYNC_TLS_KEY": self.private_key + ".nope"}),
            ("remote base url invalid", {"REMOTE_BASE_URL": "ftp://" + S.REMOTE_PASSWORD}),
        ]

    def test_invalid_settings(self):
        env = self.env("https://example.okta.com", "https://remote.example.com",
                       GROUPSYNC_DATA_DIR=self.tmp)
        for scenario, change in self.invalid_cases(env):
            e = dict(env)
            e.update(change)
            for cmd in (["check-config"], ["serve"]):
                self.cli("invalid: %s: %s" % (scenario, cmd[0]), cmd, e, want=2)
        conf = self.secret_file("bad.json", "GROUPSYNC_HOOK_SECRET=" + S.HOOK_SECRET)
        self.cli("invalid: config not JSON", ["--config", conf, "check-config"], env, want=2)
        for value in ({"v": S.HOOK_SECRET}, [S.OKTA_TOKEN]):
            conf = self.secret_file("bad.json", json.dumps({"GROUPSYNC_HOOK_SECRET": value}))
            self.cli("invalid: config value type", ["--config", conf, "check-config"], env,
                     want=2)
        conf = self.secret_file("bad.json", json.dumps({"GROUPSYNC_HOOK_SECRETS": S.HOOK_SECRET}))
        self.cli("invalid: config unknown key", ["--config", conf, "check-config"], env, want=2)
        self.assert_no_leaks()

    def test_detector_finds_planted_secrets(self):
        """The search itself: each secret planted in a text is found."""
        for name, frags in self.secrets.table.items():
            text = "log line ... %s ..." % frags[-1]
            self.assertIn(name, [n for n, _ in self.secrets.leaks(text)], name)


if __name__ == "__main__":
    unittest.main()
