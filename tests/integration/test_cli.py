"""The command line: help, version, check-config, and serve's start-up errors."""
import os
import socket
import tempfile
import unittest

from harness import ROOT, SECRET, run_cli

TOKEN = "00okta-api-token-for-tests"


def base_env(data_dir):
    return {
        "GROUPSYNC_HOOK_SECRET": SECRET,
        "GROUPSYNC_OKTA_ORG_URL": "https://example.okta.com",
        "GROUPSYNC_OKTA_API_TOKEN": TOKEN,
        "GROUPSYNC_GROUP_IDS": "00g8sync7AbCdEfGh4x7",
        "GROUPSYNC_DATA_DIR": data_dir,
        "GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
        "REMOTE_BASE_URL": "https://legacy.example.com",
    }


class CLI(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gs-cli-")
        self.env = base_env(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_help_lists_every_setting(self):
        r = run_cli(["--help"], {})
        self.assertEqual(r.returncode, 0)
        for name in ("serve", "check-config", "version", "GROUPSYNC_LISTEN",
                     "GROUPSYNC_TLS_CERT", "GROUPSYNC_HOOK_PATH", "GROUPSYNC_HOOK_SECRET_NEXT",
                     "GROUPSYNC_OKTA_ORG_URL", "GROUPSYNC_OKTA_CLIENT_ID", "GROUPSYNC_GROUP_IDS",
                     "GROUPSYNC_REMOTE_ID_ATTRIBUTE", "GROUPSYNC_HOOKS_DIR",
                     "GROUPSYNC_DATA_DIR", "GROUPSYNC_WORKERS", "GROUPSYNC_LOG_FORMAT",
                     "GROUPSYNC_LOG_LEVEL", "GROUPSYNC_HOOK_SECRET_FILE"):
            self.assertIn(name, r.stdout)
        self.assertEqual(run_cli([], {}).returncode, 2)
        r = run_cli(["frobnicate"], {})
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command frobnicate", r.stderr)

    def test_readme_lists_every_setting(self):
        """The README's settings table and --help (the config table) agree."""
        import re
        r = run_cli(["--help"], {})
        helped = set(re.findall(r"^  (GROUPSYNC_[A-Z_]+)", r.stdout, re.M))
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        table = readme[readme.index("| variable | meaning | default |"):]
        table = table[:table.index("\n\n")]
        documented = set(re.findall(r"`(GROUPSYNC_[A-Z_]+)`", table))
        self.assertEqual(helped - documented, set(), "missing from the README")
        self.assertEqual(documented - helped, set(), "in the README, unknown to groupsync")

    def test_version(self):
        r = run_cli(["version"], {})
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^groupsync \d+\.\d+\.\d+\n$")

    def test_check_config_redacts(self):
        r = run_cli(["check-config"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("GROUPSYNC_HOOK_SECRET=<redacted> (env)", r.stdout)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        self.assertNotIn(TOKEN, r.stdout + r.stderr)

    def test_check_config_errors(self):
        for var, value, want in (
                ("GROUPSYNC_HOOK_SECRET", "", "GROUPSYNC_HOOK_SECRET: required"),
                ("GROUPSYNC_WORKERS", "many", "GROUPSYNC_WORKERS: must be an integer"),
                ("GROUPSYNC_OKTA_ORG_URL", "http://example.okta.com",
                 "GROUPSYNC_OKTA_ORG_URL: plain http://"),
                ("GROUPSYNC_DATA_DIR", "/nonexistent", "GROUPSYNC_DATA_DIR:")):
            env = dict(self.env)
            env[var] = value
            for cmd in ("check-config", "serve"):
                r = run_cli([cmd], env)
                self.assertEqual(r.returncode, 2, (cmd, var, r.stderr))
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("groupsync: " + want), lines[0])

    def test_check_config_all_problems_at_once(self):
        """Issue 13 §3: from an empty environment check-config names every
        missing setting in one run, a line each (it took one run each)."""
        r = run_cli(["check-config"], {"GROUPSYNC_DATA_DIR": self.tmp.name})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual([l.split(":")[1].strip() for l in r.stderr.splitlines()],
                         ["GROUPSYNC_HOOK_SECRET", "GROUPSYNC_OKTA_ORG_URL",
                          "GROUPSYNC_OKTA_API_TOKEN", "GROUPSYNC_GROUP_IDS"])
        self.assertTrue(all(l.startswith("groupsync: GROUPSYNC_") for l in r.stderr.splitlines()))

    def test_config_file(self):
        path = os.path.join(self.tmp.name, "groupsync.json")
        with open(path, "w") as f:
            f.write('{"GROUPSYNC_WORKERS": 9}')
        r = run_cli(["--config", path, "check-config"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("GROUPSYNC_WORKERS=9 (config)", r.stdout)

    def test_check_config_secret_file_source(self):
        """Issue 13 §7: a secret read from NAME_FILE shows "(file)" as its
        source, not the "(env)" of the variable that named the file."""
        path = os.path.join(self.tmp.name, "hook-secret")
        with open(path, "w") as f:
            f.write(SECRET)
        env = dict(self.env)
        del env["GROUPSYNC_HOOK_SECRET"]
        env["GROUPSYNC_HOOK_SECRET_FILE"] = path
        r = run_cli(["check-config"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("GROUPSYNC_HOOK_SECRET=<redacted> (file)\n", r.stdout)
        self.assertIn("GROUPSYNC_OKTA_API_TOKEN=<redacted> (env)\n", r.stdout)
        self.assertNotIn(SECRET, r.stdout + r.stderr)

    def test_serve_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        env = dict(self.env)
        env["GROUPSYNC_LISTEN"] = "127.0.0.1:%d" % s.getsockname()[1]
        r = run_cli(["serve"], env, timeout=20)
        s.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot start the server", r.stderr)
        self.assertIn("GROUPSYNC_LISTEN", r.stderr)
        # issue 13 §7: the error line itself names the cause
        [line] = [l for l in r.stderr.splitlines() if "cannot start the server" in l]
        self.assertIn("Address already in use", line)


if __name__ == "__main__":
    unittest.main()
