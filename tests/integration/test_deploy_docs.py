"""deploy/README.md says what the shipped configs do (issue 13 §7)."""
import os
import re
import unittest

from harness import ROOT

DEPLOY = os.path.join(ROOT, "deploy")
CONFIGS = ("systemd/groupsync.env", "docker-compose.yml", "kubernetes/groupsync.yaml")


def read(rel):
    with open(os.path.join(DEPLOY, rel), encoding="utf-8") as f:
        return f.read()


def setting(text, name):
    """The value a shipped config gives name (env file, compose or ConfigMap), or None."""
    m = re.search(r'(?m)^\s*%s\s*[=:]\s*"?([^"\s#]+)' % name, text)
    return m.group(1) if m else None


class DeployReadme(unittest.TestCase):
    def test_trusted_proxies_as_shipped(self):
        """The README said the client address is only in nginx's log while
        every shipped config sets GROUPSYNC_TRUSTED_PROXIES: each value a
        config sets is named in the README next to that config's file."""
        readme = " ".join(read("README.md").split())
        self.assertNotIn("the client address is in nginx's access log", readme)
        for rel in CONFIGS:
            value = setting(read(rel), "GROUPSYNC_TRUSTED_PROXIES")
            self.assertIsNotNone(value, rel)
            said = re.findall(r"`(?:GROUPSYNC_TRUSTED_PROXIES=)?([0-9./:]+)` in ([^;()]*)", readme)
            self.assertTrue(any(v == value and os.path.basename(rel) in where
                                for v, where in said), (rel, value, said))


if __name__ == "__main__":
    unittest.main()
