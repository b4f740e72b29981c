"""Helpers for the crash-consistency suites (issue 5): a full sync loop
(Okta stand-in, json-server, groupsync with workers), a proxy that holds
the remote's answers to creates (so that a kill lands between the remote
create and the recording of its ID), small filesystems to fill or break,
and the final exactly-once audit.

Standard library only; mounting needs root (the suites skip without it).
"""
import contextlib
import errno
import http.client
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import (DONE, GROUP, ROOT, Groupsync, JsonServer, OktaStandin, delivery,
                     membership_event, wait_until)

PROFILE = {"firstName": "Crash", "lastName": "Test", "streetAddress": "1 Disk Way",
           "city": "Springfield", "state": "IL", "zipCode": "62701", "countryCode": "US"}


class HoldProxy:
    """Forwards to json-server; after a POST /users has been answered by
    json-server it waits hold_s before passing the answer on. A kill in
    that window leaves a remote record whose ID groupsync never recorded:
    the case find-before-create exists for. Counts the creates whose
    answer never reached groupsync (the connection was gone)."""

    def __init__(self, upstream_port, hold_s=0.3):
        self.upstream_port = upstream_port
        self.hold_s = hold_s
        self.lock = threading.Lock()
        self.creates = 0
        self.creates_unanswered = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "content-length")}
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                conn.close()
                create = self.command == "POST" and self.path.startswith("/users")
                if create:
                    with proxy.lock:
                        proxy.creates += 1
                    time.sleep(proxy.hold_s)
                try:
                    self.send_response(r.status)
                    self.send_header("Content-Type", r.getheader("Content-Type") or
                                     "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    if create:
                        with proxy.lock:
                            proxy.creates_unanswered += 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # groupsync killed mid-request: expected here

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def need_root(test):
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root to mount file systems")


def mount_tmpfs(path, size, ro=False):
    os.makedirs(path, exist_ok=True)
    opts = "size=%s,mode=0755" % size + (",ro" if ro else "")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise unittest.SkipTest("cannot mount a tmpfs: " + r.stderr.strip())


def remount(path, opts):
    return subprocess.run(["mount", "-o", "remount," + opts, path], capture_output=True,
                          text=True)


def umount(path):
    """Unmounts if mounted; lazily when something still holds it."""
    if os.path.ismount(path):
        if subprocess.run(["umount", path], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True)


def fill(directory, name="filler"):
    """Writes a file until the file system is full; returns its path."""
    path = os.path.join(directory, name)
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[:len(chunk) // 2]
    return path


class Loop(unittest.TestCase):
    """The whole path: test clients deliver to groupsync (the stand-in's
    own hook is off, so the test knows which delivery got 200), workers
    sync users from the Okta stand-in to json-server."""

    workers = "4"
    hold_s = 0.0

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-rel-")
        self.addCleanup(self.cleanup_tmp)
        self.data_dir = self.make_data_dir()
        self.remote = JsonServer(self.tmp)
        self.addCleanup(self.remote.stop)
        self.proxy = HoldProxy(self.remote.port, self.hold_s)
        self.addCleanup(self.proxy.stop)
        self.okta = OktaStandin(self.tmp)
        self.addCleanup(self.okta.stop)
        self.gs = Groupsync(data_dir=self.data_dir, env={
            "GROUPSYNC_HOOKS_DIR": os.path.join(ROOT, "hooks", "rest"),
            "GROUPSYNC_RETRY_BASE_MS": "200", "GROUPSYNC_RETRY_MAX_MS": "2000",
            "GROUPSYNC_HTTP_TIMEOUT_MS": "5000", "GROUPSYNC_WORKERS": self.workers,
            "GROUPSYNC_LOG_LEVEL": "info", "GROUPSYNC_SHUTDOWN_GRACE_MS": "2000",
            "GROUPSYNC_OKTA_ORG_URL": self.okta.url, "REMOTE_BASE_URL": self.proxy.url})
        self.gs.log_path = os.path.join(self.tmp, "groupsync.log")  # kept with GS_KEEP_TMP
        self.addCleanup(self.stop_gs)
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})
        self.lock = threading.Lock()

    def make_data_dir(self):
        path = os.path.join(self.tmp, "data")
        os.makedirs(path)
        return path

    def cleanup_tmp(self):
        if os.environ.get("GS_KEEP_TMP"):
            print("kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop_gs(self):
        with contextlib.suppress(Exception):
            self.gs.stop()
        shutil.rmtree(self.gs.tmp, ignore_errors=True)

    def start_gs(self):
        self.gs.start(timeout=60)

    def kill_gs(self):
        self.gs.proc.kill()
        self.gs.proc.wait(30)
        self.gs.logf.close()

    def new_user(self, tag):
        login = "%s-%s@example.com" % (tag, uuid.uuid4().hex[:10])
        p = dict(PROFILE, login=login, email=login)
        return self.okta.admin("POST", "/users", {"status": "ACTIVE", "profile": p})["id"]

    def join(self, uid):
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))
        return delivery([membership_event(uid, kind="add")])

    def leave(self, uid):
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))
        return delivery([membership_event(uid, kind="remove")])

    def try_deliver(self, body, timeout=30):
        """One attempt: the status, or None when the connection failed."""
        try:
            conn = self.gs.connection(timeout=timeout)
            return self.gs.deliver(body, conn=conn)[0]
        except (OSError, http.client.HTTPException):
            return None
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def custom_id(self, uid):
        return (self.okta.admin("GET", "/users/" + uid).get("profile") or {}).get("customId")

    def settled(self):
        jobs = self.gs.jobs()
        return all(j[3] >= DONE for j in jobs)

    def wait_settled(self, timeout=90):
        wait_until(self.settled, timeout=timeout, interval=0.3, what="queue drained")
        dead = [j for j in self.gs.jobs() if j[3] != DONE]
        self.assertEqual(dead, [], "dead-lettered jobs")

    def audit(self, members, leavers=()):
        """Every member exactly once in the remote with customId pointing at
        it; no leaver in the remote and no customId left. Returns
        (synced, duplicates, lost)."""
        by_okta = {}
        for rec in self.remote.users():
            by_okta.setdefault(rec.get("oktaId"), []).append(rec)
        dups = {k: v for k, v in by_okta.items() if len(v) > 1}
        lost, synced = [], 0
        for uid in members:
            recs = by_okta.get(uid, [])
            cid = self.custom_id(uid)
            if len(recs) == 1 and str(recs[0]["id"]) == str(cid):
                synced += 1
            else:
                lost.append((uid, cid, recs))
        for uid in leavers:
            if by_okta.get(uid) or self.custom_id(uid):
                lost.append((uid, self.custom_id(uid), by_okta.get(uid)))
        return synced, dups, lost
