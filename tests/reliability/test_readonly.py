"""A read-only data directory (issue 5).

- At start: groupsync refuses to run, naming the directory and the reason,
  exit status 2 (settings); once it is writable again it starts and what
  was acknowledged before is still there and syncs.
- While running: Linux refuses `mount -o remount,ro` while a file on it is
  open for writing (EBUSY), and groupsync keeps its store open; so a plain
  remount cannot pull the store away. What can is the kernel turning a
  file system read-only on an error (ext4 errors=remount-ro). We provoke
  that with ext4's `abort` mount option on a loop device: every write then
  fails (EIO/EROFS). Deliveries must get 503 with Retry-After, /readyz 503,
  no hang, no crash, a clean SIGTERM; after the file system is checked and
  mounted again, a restart recovers everything acknowledged.
"""
import os
import signal
import subprocess
import time
import unittest

from crashkit import Loop, mount_tmpfs, need_root, remount, umount
from harness import wait_until


class Base(Loop):
    workers = "2"

    def setUp(self):
        super().setUp()
        self.acked = []

    def deliver_new(self, n=1):
        from harness import GROUP, delivery, membership_event
        uids = [self.new_user("ro") for _ in range(n)]
        for uid in uids:
            self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        body = delivery([membership_event(uid) for uid in uids])
        conn = self.gs.connection(timeout=30)
        try:
            status, headers, _ = self.gs.deliver(body, conn=conn)
        finally:
            conn.close()
        if status == 200:
            self.acked.extend(uids)
        return status, headers, uids, body

    def readyz(self):
        return self.gs.request("GET", "/readyz")[0]

    def check_synced(self, what):
        self.wait_settled(timeout=90)
        synced, dups, lost = self.audit(self.acked)
        print("\n%s: acknowledged users %d, synced %d, duplicates %d, lost %d"
              % (what, len(self.acked), synced, len(dups), len(lost)), flush=True)
        self.assertEqual((dups, lost), ({}, []))


class ReadOnlyDir(Base):
    def make_data_dir(self):
        need_root(self)
        path = os.path.join(self.tmp, "data")
        mount_tmpfs(path, "8m")
        self.addCleanup(umount, path)
        return path

    def test_start_read_only(self):
        self.start_gs()
        self.assertEqual(self.deliver_new(n=3)[0], 200)
        self.assertEqual(self.gs.stop(), 0)
        r = remount(self.data_dir, "ro")
        self.assertEqual(r.returncode, 0, r.stderr)
        with self.assertRaises(RuntimeError):
            self.gs.start(timeout=60)
        self.assertEqual(self.gs.proc.returncode, 2)
        self.gs.logf.close()
        line = self.gs.log().splitlines()[-1]
        self.assertIn(self.data_dir, line)
        self.assertIn("Read-only file system", line)
        self.assertEqual(remount(self.data_dir, "rw").returncode, 0)
        self.start_gs()
        self.assertEqual(self.deliver_new()[0], 200)
        self.check_synced("start on a read-only dir: exit 2 (%s), then rw" % line[-60:])

    def test_remount_ro_while_running(self):
        """Documents the kernel's rule: no read-only remount under an open
        store. If a kernel ever allows it, the service must answer 503 and
        recover after `remount,rw` without a restart."""
        self.start_gs()
        self.assertEqual(self.deliver_new()[0], 200)
        r = remount(self.data_dir, "ro")
        if r.returncode != 0:
            self.assertIn("busy", r.stderr)
            self.assertEqual(self.deliver_new()[0], 200)
        else:
            self.addCleanup(remount, self.data_dir, "rw")
            self.assertEqual(self.deliver_new()[0], 503)
            self.assertEqual(remount(self.data_dir, "rw").returncode, 0)
            wait_until(lambda: self.deliver_new()[0] == 200, timeout=30, what="recovered")
        self.check_synced("remount,ro while running: %s"
                          % ("refused by the kernel (busy)" if r.returncode else "503"))


class FailingFs(Base):
    """ext4 on a loop device, aborted under the running service."""

    def make_data_dir(self):
        need_root(self)
        self.image = os.path.join(self.tmp, "fs.img")
        path = os.path.join(self.tmp, "data")
        os.makedirs(path)
        with open(self.image, "wb") as f:
            f.truncate(32 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.image], check=True, capture_output=True)
        self.mount_image(path)
        self.addCleanup(umount, path)
        return path

    def mount_image(self, path):
        r = subprocess.run(["mount", "-o", "loop,errors=remount-ro", self.image, path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise unittest.SkipTest("cannot mount an ext4 image: " + r.stderr.strip())

    def test_fs_fails_while_running(self):
        self.start_gs()
        self.assertEqual(self.deliver_new(n=5)[0], 200)
        r = remount(self.data_dir, "abort")
        if r.returncode != 0:
            self.skipTest("ext4 abort not supported: " + r.stderr.strip())
        refused = []
        for _ in range(5):
            t = time.monotonic()
            status, headers, uids, body = self.deliver_new(n=2)
            self.assertEqual(status, 503)
            self.assertEqual(headers.get("Retry-After"), "5")
            self.assertLess(time.monotonic() - t, 25)  # no hang: answered, not timed out
            refused.append(body)
        self.assertEqual(self.readyz(), 503)
        self.assertEqual(self.gs.proc.poll(), None)  # still running
        self.assertEqual(self.gs.stop(sig=signal.SIGTERM, timeout=30), 0)
        errors = [line for line in self.gs.log().splitlines()
                  if '"level":"error"' in line and "store does not take writes" in line]
        self.assertEqual(len(errors), 1, "the store's failure is logged once")
        r = subprocess.run(["umount", self.data_dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # what an operator does after errors=remount-ro: check, mount again
        subprocess.run(["e2fsck", "-fy", self.image], capture_output=True)
        self.mount_image(self.data_dir)
        self.start_gs()
        for body in refused:  # Okta's redeliveries
            self.assertEqual(self.gs.deliver(body)[0], 200)
            self.acked.extend(t["id"] for ev in body["data"]["events"] for t in ev["target"]
                              if t["type"] == "User")
        self.check_synced("ext4 aborted while running: %d deliveries 503, recovered after "
                          "remount + restart" % len(refused))
