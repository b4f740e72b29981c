"""Several replicas on one PostgreSQL (issue 11): the real binary, twice,
on a private cluster (tests/pg/cluster.sh: initdb, a unix socket, no TCP),
with the Okta stand-in and json-server. Deliveries go to both replicas,
as a load balancer would send them (the next one while one does not
answer 200), while one replica is killed with SIGKILL holding leases (the
other finishes its jobs once the leases expire: GROUPSYNC_STORE_LEASE_MS,
shrunk here), or both restart in turn, or the database restarts. Each
ends with every delivery answered 200, every user synced exactly once
(one remote record, customId pointing at it) and every event stored
once."""
import contextlib
import http.client
import shutil
import signal
import subprocess
import threading
import time
import unittest

from crashkit import Loop
import json

from harness import (DONE, PG_CLUSTER, Groupsync, have_postgres, needs, pg_database, psql,
                     run_cli, wait_until)

CLUSTER = PG_CLUSTER
LEASE_MS = 2000
USERS = 40


@needs(have_postgres() and shutil.which("psql"), "PostgreSQL (postgresql-15)")
class ReplicaSet(Loop):
    """Loop (crashkit) with its one groupsync replaced by n_replicas
    replicas on one database (no tests of its own: test_replicas_nginx
    builds on it too)."""

    hold_s = 0.3  # creates take a while: a kill finds leases held
    n_replicas = 2

    def setUp(self):
        super().setUp()
        self.uri, self.pg_dir = pg_database(self)
        # the settings of Loop's single replica, less its address and directory
        env = {k: v for k, v in self.gs.env.items()
               if k not in ("GROUPSYNC_LISTEN", "GROUPSYNC_DATA_DIR")}
        env.update(GROUPSYNC_STORE=self.uri, GROUPSYNC_STORE_LEASE_MS=str(LEASE_MS))
        self.replicas = []
        for _ in range(self.n_replicas):
            g = Groupsync(env=env)
            self.replicas.append(g)
            self.addCleanup(g.cleanup)
        self.sent = self.acked = self.failed_attempts = 0
        self.errors = []

    @staticmethod
    def try_deliver_to(g, body):
        """One attempt: the status, or None when the connection failed."""
        conn = None
        try:
            conn = g.connection(timeout=10)
            return g.deliver(body, conn=conn)[0]
        except (OSError, http.client.HTTPException):
            return None
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def deliver_to(self, body, first, deadline):
        """Okta's retry, and a load balancer's: the same body to the next
        replica while one does not answer 200 (a stopped one refuses the
        connection). True once acknowledged."""
        with self.lock:
            self.sent += 1
        i = first
        while time.time() < deadline:
            g = self.replicas[i % len(self.replicas)]
            i += 1
            status = self.try_deliver_to(g, body)
            if status == 200:
                with self.lock:
                    self.acked += 1
                return True
            with self.lock:
                self.failed_attempts += 1
            if status is not None and status != 503:
                self.errors.append("delivery answered %s" % status)
            time.sleep(0.05)
        return False

    def leases_of(self, g):
        """Leases the replica's process holds right now."""
        return int(psql(self.uri, "SELECT count(*) FROM leases WHERE token IS NOT NULL"
                        " AND owner LIKE '%%/%d/%%'" % g.proc.pid))

    def jobs(self):
        rows = psql(self.uri, "SELECT state FROM jobs ORDER BY id")
        return [int(s) for s in rows.split()] if rows else []

    def under_load(self, action):
        """Two clients deliver the joins of USERS new users, spread over the
        replicas, while action() runs; then every job must end done and every
        user synced exactly once. Returns a line of figures."""
        for g in self.replicas:
            g.start(timeout=60)
        deadline = time.time() + 240
        members = []

        def client(n):
            try:
                for i in range(USERS // 2):
                    uid = self.new_user("r%d" % n)
                    if self.deliver_to(self.join(uid), i + n, deadline):
                        with self.lock:
                            members.append(uid)
                    time.sleep(0.05)
            except Exception as e:  # reported by the test, not lost in a thread
                self.errors.append("client %d: %r" % (n, e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        try:
            action()
            done_at = time.time()
        finally:
            for t in threads:
                t.join(240)
        self.assertEqual(len(members), USERS)
        settled, synced = self.check_all_synced(members, done_at)
        return ("replicas %d, deliveries sent %d, acknowledged %d (%d attempts refused or "
                "failed), users synced %d of %d, duplicates 0, lost 0, all done %.1f s "
                "after the event (lease %d ms)"
                % (len(self.replicas), self.sent, self.acked, self.failed_attempts, synced,
                   len(members), settled, LEASE_MS))

    def kill_holding_leases(self, r, timeout):
        """SIGKILL replica r while it holds leases (it stays dead); returns
        how many it held. The replica is frozen (SIGSTOP) while they are
        counted, so that a lease seen is still held when it dies: counting
        a running one raced with its workers finishing (CI once saw a
        lease, then 0 a query later)."""
        deadline = time.time() + timeout
        while True:
            if self.leases_of(r) > 0:
                r.proc.send_signal(signal.SIGSTOP)
                held = self.leases_of(r)
                if held > 0:
                    break
                r.proc.send_signal(signal.SIGCONT)
            if time.time() > deadline:
                self.fail("replica A never held leases in %d s" % timeout)
            time.sleep(0.02)
        r.proc.send_signal(signal.SIGKILL)
        r.proc.wait(30)
        return held

    def check_all_synced(self, members, done_at):
        """The end of every run: each acknowledged delivery stored once and
        done, no lease left, each member synced exactly once (one remote
        record, customId pointing at it), nothing lost; the replicas still
        running stop cleanly. Returns (seconds from done_at to all done,
        users synced)."""
        self.assertEqual(self.errors, [])
        wait_until(lambda: self.jobs() and all(s >= DONE for s in self.jobs()),
                   timeout=120, interval=0.3, what="every job done")
        settled = time.time() - done_at
        self.assertEqual([s for s in self.jobs() if s != DONE], [])
        self.assertEqual(int(psql(self.uri, "SELECT count(*) FROM leases"
                                  " WHERE token IS NOT NULL")), 0)
        synced, dups, lost = self.audit(members)
        self.assertEqual(self.sent, self.acked)
        self.assertEqual(dups, {})
        self.assertEqual(lost, [])
        self.assertEqual(len(self.jobs()), self.acked)  # each event stored once
        self.assertEqual(synced, len(members))
        for g in self.replicas:
            if g.proc.poll() is None:
                self.assertEqual(g.stop(), 0)
        return settled, synced


class Replicas(ReplicaSet):
    """Two replicas, the test client doing the failover itself."""

    def test_kill9_replica_jobs_finish_elsewhere(self):
        """One replica dies holding leases and stays dead: the other takes
        its users once the leases expire."""
        a = self.replicas[0]
        held = []

        def kill_a():
            held.append(self.kill_holding_leases(a, 60))

        line = self.under_load(kill_a)
        print("\n%s; leases held by the killed replica %d" % (line, held[0]), flush=True)
        self.assertGreater(held[0], 0)

    def test_rolling_restart(self):
        """Each replica in turn stops (SIGTERM: it gives its leases back)
        and starts again, while deliveries keep coming."""
        def roll():
            for g in self.replicas:
                time.sleep(1)
                self.assertEqual(g.stop(), 0)
                time.sleep(0.5)
                g.start(timeout=60)

        print("\n%s; rolling restart" % self.under_load(roll), flush=True)

    def test_postgres_restart(self):
        """The database restarts in the middle: deliveries meanwhile are
        answered 503 (Okta retries them), readiness says so, and both
        replicas carry on by themselves once it is back."""
        ready = []

        def restart():
            time.sleep(1)
            subprocess.run([CLUSTER, "restart", self.pg_dir], check=True, timeout=120,
                           capture_output=True)
            time.sleep(0.5)
            for g in self.replicas:
                wait_until(lambda g=g: g.request("GET", "/readyz")[0] == 200, timeout=30,
                           what="readyz 200 again")
            ready.append(True)

        print("\n%s; PostgreSQL restarted" % self.under_load(restart), flush=True)
        self.assertEqual(ready, [True])

    def test_migrate_from_sqlite(self):
        """The switch from one replica on SQLite to replicas on PostgreSQL:
        stop the SQLite replica, `groupsync store migrate`, start the
        replicas. Nothing is lost: jobs, delivery IDs (a delivery Okta
        sends again is a duplicate) and remote IDs (a user synced before
        is updated, not created twice) are all there."""
        self.gs.start(timeout=60)  # Loop's own replica, on SQLite
        before = [self.new_user("m") for _ in range(6)]
        bodies = [self.join(uid) for uid in before]
        for body in bodies:
            self.assertEqual(self.try_deliver_to(self.gs, body), 200)
        wait_until(lambda: all(self.custom_id(uid) for uid in before), timeout=60,
                   what="synced on SQLite")
        self.assertEqual(self.gs.stop(), 0)
        # group push's maps, as a store that pushed groups holds them
        with contextlib.closing(self.gs.db()) as db, db:
            db.execute("INSERT INTO group_remote_ids VALUES('00g-m', 'rg-7', 'Sales', 1)")
            db.executemany("INSERT INTO group_members VALUES('00g-m', ?)",
                           [(uid,) for uid in before[:4]])

        env = {k: v for k, v in self.replicas[0].env.items() if k != "GROUPSYNC_STORE"}
        r = run_cli(["store", "migrate", "--from", "sqlite:" + self.gs.data_dir, "--json"],
                    dict(env, GROUPSYNC_STORE=self.uri))
        self.assertEqual(r.returncode, 0, r.stderr)
        copied = json.loads(r.stdout)
        self.assertEqual(copied["jobs_done"], len(before))
        self.assertEqual(copied["delivery_ids"], len(before))
        self.assertEqual(copied["remote_ids"], len(before))
        self.assertEqual((copied["group_remote_ids"], copied["group_members"]), (1, 4))
        self.assertEqual(psql(self.uri, "SELECT remote_id || ' ' || name FROM group_remote_ids"
                              " WHERE group_id = '00g-m'"), "rg-7 Sales")
        self.assertEqual(sorted(psql(self.uri, "SELECT user_id FROM group_members").split()),
                         sorted(before[:4]))
        self.assertNotIn("postgres?", r.stdout)
        # a second run finds the target in use and changes nothing
        r = run_cli(["store", "migrate", "--from", self.gs.data_dir, "--to", self.uri], env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not empty", r.stderr)

        a = self.replicas[0]
        a.start(timeout=60)
        for body in bodies:  # Okta's retry of a delivery the old store took
            status, _, data = a.deliver(body)
            self.assertEqual(status, 200)
            self.assertTrue(json.loads(data)["duplicate"])
        after = [self.new_user("m") for _ in range(3)]
        for uid in after:
            self.assertEqual(self.try_deliver_to(a, self.join(uid)), 200)
        wait_until(lambda: all(s >= DONE for s in self.jobs()), timeout=60,
                   what="every job done")
        synced, dups, lost = self.audit(before + after)
        self.assertEqual((synced, dups, lost), (len(before) + len(after), {}, []))
        self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    unittest.main()
