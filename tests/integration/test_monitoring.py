"""deploy/monitoring (issue 13 §6): the alert rules pass promtool (check
and unit tests over recorded series), and every metric the rules and the
dashboard read is one the real binary exports."""
import json
import os
import re
import shutil
import subprocess
import unittest

from harness import ROOT, get_once

MON = os.path.join(ROOT, "deploy", "monitoring")
PROMTOOL = shutil.which("promtool")


def names_in(text):
    return set(re.findall(r"\b(groupsync_[a-z_]+)", text))


class Monitoring(unittest.TestCase):
    @unittest.skipUnless(PROMTOOL, "promtool (Debian's prometheus package) not installed")
    def test_promtool_check_and_test_rules(self):
        for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
            r = subprocess.run([PROMTOOL] + args, cwd=MON, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("SUCCESS", r.stdout)

    def test_rules_and_dashboard_use_exported_metrics(self):
        st, _, body = get_once("/metrics")
        self.assertEqual(st, 200)
        exported = set(re.findall(r"(?m)^# TYPE (groupsync_[a-z_]+) ", body.decode()))
        # a histogram's series carry _bucket, _sum and _count
        exported |= {n + s for n in exported for s in ("_bucket", "_sum", "_count")}
        with open(os.path.join(MON, "alerts.yml"), encoding="utf-8") as f:
            rules = f.read()
        with open(os.path.join(MON, "dashboard.json"), encoding="utf-8") as f:
            dash = json.load(f)
        exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
        exprs += " ".join(v.get("query", "") for v in dash["templating"]["list"])
        for name in ("alerts.yml", "dashboard.json"):
            used = names_in(rules if name == "alerts.yml" else exprs)
            self.assertTrue(used, name)
            self.assertEqual(used - exported, set(), name)
        for alert in ("GroupsyncDeadLetters", "GroupsyncOldestPendingTooOld",
                      "GroupsyncStoreNotWritable", "GroupsyncOktaBudgetExhausted",
                      "GroupsyncDeprovisionsHeld", "GroupsyncNoDeliveries"):
            self.assertIn("alert: " + alert, rules)


if __name__ == "__main__":
    unittest.main()
