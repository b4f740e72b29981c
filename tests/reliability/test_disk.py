"""A full disk under the store (issue 5): the data directory is a small
tmpfs that the test fills while groupsync runs. Deliveries must be
answered 503 with Retry-After (never 200 for what was not stored, never
500, never a hang), /readyz must say not ready, and once space returns
deliveries are accepted again without a restart and every job
acknowledged before, during and after syncs exactly once."""
import os
import time

from crashkit import Loop, fill, mount_tmpfs, need_root, umount
from harness import wait_until

SIZE = "3m"


class FullDisk(Loop):
    workers = "2"

    def make_data_dir(self):
        need_root(self)
        path = os.path.join(self.tmp, "data")
        mount_tmpfs(path, SIZE)
        self.addCleanup(umount, path)
        return path

    def setUp(self):
        super().setUp()
        self.acked, self.statuses = [], []

    def deliver_new(self, n=1):
        """A delivery of n users joining; returns (status, headers, uids)."""
        uids = [self.new_user("disk") for _ in range(n)]
        body = self.join_many(uids)
        conn = self.gs.connection(timeout=30)
        try:
            status, headers, _ = self.gs.deliver(body, conn=conn)
        except OSError as e:
            self.fail("delivery failed at the connection level: %r" % e)
        finally:
            conn.close()
        self.statuses.append(status)
        if status == 200:
            self.acked.extend(uids)
        return status, headers, uids, body

    def join_many(self, uids):
        from harness import GROUP, delivery, membership_event
        for uid in uids:
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        return delivery([membership_event(uid) for uid in uids])

    def until_503(self, limit=400):
        for _ in range(limit):
            status, headers, uids, body = self.deliver_new(n=20)
            self.assertIn(status, (200, 503))
            if status == 503:
                return headers, uids, body
        self.fail("the store never refused a delivery on a full disk")

    def readyz(self):
        return self.gs.request("GET", "/readyz")[0]

    def test_fill_while_running(self):
        self.start_gs()
        for _ in range(3):
            self.assertEqual(self.deliver_new()[0], 200)
        filler = fill(self.data_dir)
        headers, refused, body = self.until_503()
        retry_after = headers.get("Retry-After")
        wait_until(lambda: self.readyz() == 503, timeout=30, what="readyz 503 on a full disk")
        # still refused, still answered at once, nothing else
        for _ in range(5):
            self.assertIn(self.deliver_new(n=20)[0], (200, 503))
        n503 = self.statuses.count(503)
        os.unlink(filler)
        # Okta redelivers the refused body: accepted now, no restart
        wait_until(lambda: self.gs.deliver(body)[0] == 200, timeout=30,
                            what="the refused delivery accepted once space returned")
        self.acked.extend(refused)
        self.assertEqual(self.readyz(), 200)
        for _ in range(3):
            self.assertEqual(self.deliver_new()[0], 200)
        self.wait_settled(timeout=40)
        synced, dups, lost = self.audit(self.acked)
        print("\nfull disk: deliveries %d, acknowledged users %d, 503 answers %d, "
              "synced %d, duplicates %d, lost %d, recovered without restart"
              % (len(self.statuses) + 1, len(self.acked), n503, synced, len(dups), len(lost)))
        self.assertEqual((dups, lost), ({}, []))
        self.assertNotIn(500, self.statuses)
        self.assertEqual(self.gs.stop(), 0)
        self.assertIsNotNone(retry_after, "503 without Retry-After")

    def test_start_on_full_disk(self):
        """groupsync starts only if the store takes a write at start. On a
        full disk it exits 1 at once, naming the path and the reason (a
        supervisor restarts it; Okta redelivers meanwhile), instead of
        running and refusing every delivery. Once space returns it starts
        and what was acknowledged before is synced."""
        self.start_gs()
        self.assertEqual(self.deliver_new(n=3)[0], 200)
        self.assertEqual(self.gs.stop(), 0)
        filler = fill(self.data_dir)
        with self.assertRaises(RuntimeError):
            self.gs.start(timeout=60)
        self.assertEqual(self.gs.proc.returncode, 1)
        self.gs.logf.close()
        line = self.gs.log().splitlines()[-1]
        self.assertIn("cannot open the queue", line)
        self.assertIn(self.data_dir, line)
        self.assertIn("No space left on device", line)
        os.unlink(filler)
        self.start_gs()
        self.assertEqual(self.deliver_new(n=2)[0], 200)
        self.wait_settled(timeout=90)
        synced, dups, lost = self.audit(self.acked)
        print("\nstart on a full disk: exit 1 (%s); after space returned: acknowledged %d, "
              "synced %d, duplicates %d, lost %d" % (line[-60:], len(self.acked), synced,
                                                      len(dups), len(lost)))
        self.assertEqual((dups, lost), ({}, []))
