"""The SCIM 2.0 preset (hooks/scim) end to end: the real binary, the Okta
stand-in, and a real SCIM server (scimmy + scimmy-routers, strict about
schemas, filters and PATCH) on loopback. Each GROUPSYNC_DEPROVISION mode,
records linked instead of duplicated (by userName, after a 409), a crash in
the middle of a burst, and SCIM errors that end up in the job, visible."""
import json
import os
import shutil
import signal
import tempfile
import unittest

from harness import (DEAD, DONE, GROUP, ROOT, SCIMMY, Groupsync, OktaStandin, ScimServer,
                     drop_tmp, needs, run_cli, wait_until)

SCIM_HOOKS = os.path.join(ROOT, "hooks", "scim")
PROFILE = {"login": "jane.doe@example.com", "email": "jane.doe@example.com",
           "firstName": "Jane", "lastName": "Doe", "streetAddress": "100 Main St",
           "city": "Springfield", "state": "IL", "zipCode": "62701", "countryCode": "US",
           "primaryPhone": "+1 555 0100"}


@needs(os.path.isdir(SCIMMY), "scimmy-routers (npm)")
class ScimBase(unittest.TestCase):
    mode = "delete"
    workers = "4"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-scim-")
        self.scim = ScimServer(self.tmp)
        self.gs = Groupsync(env={"GROUPSYNC_HOOKS_DIR": getattr(self, "hooks", SCIM_HOOKS),
                                 "GROUPSYNC_DEPROVISION": self.mode,
                                 "GROUPSYNC_REMOTE_AUTH": "bearer",
                                 "GROUPSYNC_REMOTE_TOKEN": self.scim.token,
                                 "GROUPSYNC_RETRY_BASE_MS": "300",
                                 "GROUPSYNC_RETRY_MAX_MS": "2000",
                                 "GROUPSYNC_MAX_ATTEMPTS": "4",
                                 "GROUPSYNC_HTTP_TIMEOUT_MS": "3000",
                                 "GROUPSYNC_WORKERS": self.workers,
                                 "REMOTE_BASE_URL": self.scim.base})
        self.gs.env.update(getattr(self, "extra", {}))
        self.okta = OktaStandin(self.tmp, hook_url="http://127.0.0.1:%d/hooks/okta" % self.gs.port)
        self.gs.env["GROUPSYNC_OKTA_ORG_URL"] = self.okta.url
        self.gs.start()
        self.okta.admin("POST", "/groups", {"id": GROUP, "name": "API Provisioning Group"})

    def tearDown(self):
        self.gs.stop()
        self.okta.stop()
        self.scim.stop()
        drop_tmp(self.tmp)
        self.gs.cleanup()

    def new_user(self, **profile):
        p = dict(PROFILE)
        p.update(profile)
        return self.okta.admin("POST", "/users", {"status": "ACTIVE", "profile": p})["id"]

    def join(self, uid):
        self.okta.admin("POST", "/groups/%s/members/%s" % (GROUP, uid))

    def leave(self, uid):
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, uid))

    def custom_id(self, uid):
        return (self.okta.admin("GET", "/users/" + uid).get("profile") or {}).get("customId")

    def records(self, uid):
        return [u for u in self.scim.users() if u.get("externalId") == uid]

    def record(self, uid, **match):
        """Waits for the one record of uid whose fields match."""
        def check():
            recs = self.records(uid)
            ok = len(recs) == 1 and all(recs[0].get(k) == v for k, v in match.items())
            return recs[0] if ok else None
        return wait_until(check, what="record of %s with %s" % (uid, match))

    def synced(self, uid):
        """Waits until uid has its record, active, and customId points at it."""
        rec = self.record(uid, active=True)
        wait_until(lambda: self.custom_id(uid) == rec["id"], what="customId written back")
        return rec

    def settled(self):
        jobs = self.gs.jobs()
        return jobs and all(j[3] >= DONE for j in jobs)


class ScimDelete(ScimBase):
    def test_add_edit_remove(self):
        """The preset's resource: userName, externalId, name, e-mail,
        address, phone, active; an edit is a PUT of it; leaving deletes."""
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.assertEqual(rec["userName"], PROFILE["login"])
        self.assertEqual(rec["name"], {"givenName": "Jane", "familyName": "Doe"})
        self.assertEqual(rec["displayName"], "Jane Doe")
        self.assertEqual(rec["emails"][0]["value"], PROFILE["email"])
        self.assertEqual(rec["addresses"][0]["locality"], "Springfield")
        self.assertEqual(rec["addresses"][0]["postalCode"], "62701")
        self.assertEqual(rec["phoneNumbers"][0]["value"], "+1 555 0100")

        self.okta.admin("POST", "/users/%s/profile" % uid, {"city": "Shelbyville"})
        wait_until(lambda: self.records(uid) and
                   self.records(uid)[0]["addresses"][0].get("locality") == "Shelbyville",
                   what="city updated")
        self.assertEqual(self.records(uid)[0]["id"], rec["id"])

        self.leave(uid)
        wait_until(lambda: self.scim.users() == [], what="record deleted")
        wait_until(lambda: not self.custom_id(uid), what="customId cleared")

    def test_user_without_phone_or_address(self):
        """Attributes Okta leaves out are sent as null, which a strict
        server accepts as 'no value'."""
        uid = self.okta.admin("POST", "/users", {"status": "ACTIVE", "profile": {
            "login": "min@example.com", "email": "min@example.com",
            "firstName": "Min", "lastName": "Imal"}})["id"]
        self.join(uid)
        rec = self.synced(uid)
        self.assertEqual(rec["userName"], "min@example.com")

    def test_linked_by_username(self):
        """A record made by hand (no externalId) is found by userName,
        linked and updated: one record, externalId set."""
        made = self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": PROFILE["login"], "active": False})
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.assertEqual(rec["id"], made["id"])
        self.assertEqual(len(self.scim.users()), 1)

    def test_created_user_costs_two_calls(self):
        """A new user without group push: one find (externalId or userName,
        one request) and one create, as the SCIM server counts them."""
        uid = self.new_user()
        before = self.scim.state()["calls"]
        self.join(uid)
        self.synced(uid)
        wait_until(self.settled, what="queue settled")
        self.assertEqual(self.scim.state()["calls"] - before, 2)

    def test_login_with_quote_cannot_alter_filter(self):
        """A login holding '"' goes into the find's filter escaped (RFC 7644
        3.4.2.2), so it cannot widen it: 'x" or userName pr or userName eq
        "y' would otherwise match every record and link, then overwrite,
        someone else's. scimmy 1.3.5 cannot read an escaped quote (its
        string token ends at the first '"') and answers 400 invalidFilter:
        the job fails visibly, and the other record stays as it was."""
        victim = self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "victim@example.com", "active": True})
        uid = self.new_user(login='x" or userName pr or userName eq "y',
                            email="x@example.com")
        self.join(uid)
        wait_until(lambda: DEAD in [j[3] for j in self.gs.jobs()], what="the job failed")
        wait_until(self.settled, what="queue settled")
        users = self.scim.users()
        self.assertEqual([u["id"] for u in users], [victim["id"]])
        self.assertEqual(users[0]["userName"], "victim@example.com")
        self.assertNotIn("externalId", users[0])
        self.assertIsNone(self.custom_id(uid))
        self.assertIn("invalidFilter", self.gs.log())

    def test_linked_after_409(self):
        """The finds miss the record (a lagging search index), the create
        meets 409 uniqueness: groupsync finds again and links, no dead job."""
        self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": PROFILE["login"], "externalId": "someone-else"})
        self.scim.admin("POST", "/lag", {"count": 1})  # the one find misses
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.assertEqual(len(self.scim.users()), 1)
        self.assertEqual(rec["userName"], PROFILE["login"])
        wait_until(self.settled, what="queue settled")
        self.assertNotIn(DEAD, [j[3] for j in self.gs.jobs()])
        self.assertIn("remote record found, linking", self.gs.log())

    def test_4xx_is_dead_and_visible(self):
        """A SCIM 400 is permanent: the job is dead-lettered with the
        server's scimType and detail, the bearer token it echoed redacted."""
        self.scim.admin("POST", "/fail", {"status": 400, "count": 100})
        uid = self.new_user()
        self.join(uid)
        wait_until(lambda: [j for j in self.gs.jobs() if j[3] == DEAD], what="dead job")
        with self.gs.db() as db:
            errors = [r[0] for r in db.execute("SELECT last_error FROM jobs WHERE state = ?",
                                               (DEAD,))]
        self.assertTrue(errors, errors)
        self.assertIn("HTTP 400: invalidValue: refused by the test", errors[0])
        self.assertNotIn(self.scim.token, errors[0])
        self.assertIn("[redacted]", errors[0])
        self.assertNotIn(self.scim.token, self.gs.log())
        self.assertEqual(self.scim.users(), [])

    def test_kill9_mid_burst(self):
        """kill -9 while a burst of joins is being synced, then a restart:
        every user has exactly one record (counted by externalId)."""
        uids = [self.new_user(login="u%02d@example.com" % i, email="u%02d@example.com" % i)
                for i in range(24)]
        for uid in uids:
            self.join(uid)
        wait_until(lambda: len(self.scim.users()) >= 4, what="burst under way")
        self.gs.stop(sig=signal.SIGKILL)
        self.gs.start()
        for uid in uids:
            self.record(uid, active=True)
        wait_until(self.settled, timeout=40, what="queue settled")
        ext = [u.get("externalId") for u in self.scim.users()]
        self.assertEqual(sorted(ext), sorted(uids))


class ScimPaging(ScimBase):
    """A SCIM server that pages its list answers (one Resource per page
    here): the find reads the pages it needs (startIndex), and a find that
    matches several records is an ambiguity in the job's error, never a
    silent pick."""

    def setUp(self):
        super().setUp()
        self.scim.admin("POST", "/page", {"size": 1})

    def test_find_ambiguous_across_pages(self):
        uid = self.new_user()
        for name in ("dup1@example.com", "dup2@example.com"):  # made by hand, twice
            self.scim.admin("POST", "/users", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name, "externalId": uid})
        ids = sorted(u["id"] for u in self.scim.users())
        before = self.scim.state()["calls"]
        self.join(uid)
        wait_until(lambda: [j for j in self.gs.jobs() if j[3] == DEAD], what="dead job")
        with self.gs.db() as db:
            errors = [r[0] for r in db.execute("SELECT last_error FROM jobs WHERE state = ?",
                                               (DEAD,))]
        self.assertIn("find.json: ambiguous: 2 records match (%s, %s)" % tuple(ids), errors[0])
        self.assertEqual(self.scim.state()["calls"] - before, 2)  # both pages, no create
        self.assertEqual(len(self.scim.users()), 2)
        self.assertFalse(self.custom_id(uid))

    def test_one_record_per_page_still_links(self):
        """With one Resource per page, a record made by hand is still found
        (by userName) and linked; groups work as before."""
        made = self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": PROFILE["login"], "active": False})
        self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "someone.else@example.com"})
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.assertEqual(rec["id"], made["id"])
        self.assertEqual(len(self.scim.users()), 2)


class ScimEtag(ScimBase):
    """A server that requires ETags (RFC 7644 section 3.14): a PUT without
    If-Match, or with a version that is no longer the record's, is refused
    with 412. groupsync sends If-Match when a find of the same sync read
    the record's version, and on a 412 finds the record again and retries
    once with the version just read."""

    def setUp(self):
        super().setUp()
        self.scim.admin("POST", "/etag", {"require": True})

    def hand_made(self):
        return self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": PROFILE["login"], "active": False})

    def calls_until_synced(self, uid):
        before = self.scim.state()["calls"]
        self.join(uid)
        rec = self.synced(uid)
        wait_until(self.settled, what="queue settled")
        return rec, self.scim.state()["calls"] - before

    def test_linked_record_updated_with_if_match(self):
        made = self.hand_made()
        uid = self.new_user()
        rec, calls = self.calls_until_synced(uid)
        self.assertEqual(rec["id"], made["id"])
        self.assertEqual(calls, 2)  # find, PUT with the version it read
        self.assertEqual(self.scim.state()["if_match"], 1)

    def test_changed_since_read_finds_again(self):
        made = self.hand_made()
        self.scim.admin("POST", "/etag", {"require": True, "stale": 1})
        uid = self.new_user()
        rec, calls = self.calls_until_synced(uid)
        self.assertEqual(rec["id"], made["id"])
        self.assertEqual(calls, 4)  # find, PUT (412), find, PUT
        self.assertEqual(len(self.scim.users()), 1)

    def test_edit_without_known_etag(self):
        """An edit of a synced user has no ETag of this sync: the PUT goes
        without If-Match, the 412 finds the record, the PUT goes again."""
        uid = self.new_user()
        self.calls_until_synced(uid)
        before = self.scim.state()["calls"]
        self.okta.admin("POST", "/users/%s/profile" % uid, {"city": "Shelbyville"})
        wait_until(lambda: self.records(uid)[0]["addresses"][0].get("locality") ==
                   "Shelbyville", what="city updated")
        wait_until(self.settled, what="queue settled")
        self.assertEqual(self.scim.state()["calls"] - before, 3)


class ScimDisable(ScimBase):
    mode = "disable"

    def test_leave_disables_return_reenables(self):
        """Leaving deactivates the record (same ID, customId kept); coming
        back re-enables the same record, never a second one."""
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.leave(uid)
        self.record(uid, active=False)
        self.assertEqual(self.custom_id(uid), rec["id"])
        self.join(uid)
        again = self.record(uid, active=True)
        self.assertEqual(again["id"], rec["id"])
        self.assertEqual(len(self.scim.users()), 1)
        metrics = self.gs.request("GET", "/metrics")[2].decode()
        self.assertIn('groupsync_syncs_total{outcome="ok",action="disable"} 1', metrics)
        self.assertIn('groupsync_remote_requests_total{operation="disable",class="2xx"} 1',
                      metrics)

    def test_suspend_disables_unsuspend_reenables(self):
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.okta.admin("POST", "/users/%s/lifecycle/suspend" % uid)
        self.record(uid, active=False)
        self.okta.admin("POST", "/users/%s/lifecycle/unsuspend" % uid)
        again = self.record(uid, active=True)
        self.assertEqual(again["id"], rec["id"])

    def test_deactivate_disables(self):
        uid = self.new_user()
        self.join(uid)
        self.synced(uid)
        self.okta.admin("POST", "/users/%s/lifecycle/deactivate" % uid)
        self.record(uid, active=False)
        self.assertEqual(len(self.scim.users()), 1)


class ScimPatchDisable(ScimBase):
    """hooks/scim with update.patch.json copied over update.json: edits
    and re-enabling as one PATCH, in disable mode."""
    mode = "disable"

    def setUp(self):
        hooks = tempfile.mkdtemp(prefix="gs-scim-patch-")
        self.addCleanup(shutil.rmtree, hooks, True)
        for f in os.listdir(SCIM_HOOKS):
            shutil.copy(os.path.join(SCIM_HOOKS, f), hooks)
        shutil.copy(os.path.join(SCIM_HOOKS, "update.patch.json"),
                    os.path.join(hooks, "update.json"))
        self.hooks = hooks
        super().setUp()

    def test_edit_leave_return_by_patch(self):
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.okta.admin("POST", "/users/%s/profile" % uid, {"lastName": "Roe"})
        self.record(uid, name={"givenName": "Jane", "familyName": "Roe"})
        self.leave(uid)
        self.record(uid, active=False)
        self.join(uid)
        again = self.record(uid, active=True)
        self.assertEqual(again["id"], rec["id"])
        self.assertEqual(again["displayName"], "Jane Roe")


class ScimNone(ScimBase):
    mode = "none"

    def test_leave_keeps_record_return_relinks(self):
        """Leaving leaves the record as it is and clears customId; coming
        back finds it by externalId: the same record, one of it."""
        uid = self.new_user()
        self.join(uid)
        rec = self.synced(uid)
        self.leave(uid)
        wait_until(lambda: not self.custom_id(uid), what="customId cleared")
        self.assertEqual(self.records(uid)[0]["active"], True)
        self.join(uid)
        again = self.synced(uid)
        self.assertEqual(again["id"], rec["id"])
        self.assertEqual(len(self.scim.users()), 1)


OTHER = "00g8second0000000000"  # the harness's second configured group


class GroupsBase(ScimBase):
    """GROUPSYNC_PUSH_GROUPS=1: each configured group mirrored as a SCIM
    group whose members are exactly its synced users."""
    extra = {"GROUPSYNC_PUSH_GROUPS": "1"}

    def setUp(self):
        super().setUp()
        self.okta.admin("POST", "/groups", {"id": OTHER, "name": "Second Group"})

    def groups(self, gid):
        return [g for g in self.scim.state()["groups"] if g.get("externalId") == gid]

    def members(self, gid):
        """Waits for the one remote group of gid; its member IDs, sorted."""
        g = wait_until(lambda: (lambda gs: gs[0] if len(gs) == 1 else None)(self.groups(gid)),
                       what="remote group of %s" % gid)
        return sorted(m["value"] for m in g.get("members") or [])

    def wait_members(self, gid, want):
        wait_until(lambda: self.members(gid) == sorted(want),
                   what="members of %s == %s" % (gid, want))

class ScimGroups(GroupsBase):
    def test_membership_both_ways(self):
        a = self.new_user()
        b = self.new_user(login="b@example.com", email="b@example.com")
        self.join(a)
        ra = self.synced(a)["id"]
        self.wait_members(GROUP, [ra])
        g = self.groups(GROUP)[0]
        self.assertEqual(g["displayName"], "API Provisioning Group")
        self.join(b)
        rb = self.synced(b)["id"]
        self.wait_members(GROUP, [ra, rb])
        self.leave(a)
        self.wait_members(GROUP, [rb])
        wait_until(lambda: not self.records(a), what="a deleted")
        self.assertEqual(len(self.groups(GROUP)), 1)
        self.assertEqual(self.groups(OTHER), [])  # no synced member: not made

    def test_user_in_two_groups(self):
        uid = self.new_user()
        self.join(uid)
        self.okta.admin("POST", "/groups/%s/members/%s" % (OTHER, uid))
        rid = self.synced(uid)["id"]
        self.wait_members(GROUP, [rid])
        self.wait_members(OTHER, [rid])
        self.leave(uid)
        self.wait_members(GROUP, [])
        self.assertEqual(self.members(OTHER), [rid])
        self.assertEqual(len(self.records(uid)), 1)
        self.okta.admin("DELETE", "/groups/%s/members/%s" % (OTHER, uid))
        wait_until(lambda: not self.records(uid), what="deprovisioned when in none")
        self.assertEqual(len(self.scim.users()), 0)

    def calls_for(self, action, settle):
        """The SCIM calls action causes, once settle holds and the queue
        has settled."""
        before = self.scim.state()["calls"]
        action()
        wait_until(settle, what="settled")
        wait_until(self.settled, what="queue settled")
        return self.scim.state()["calls"] - before

    def test_remote_calls_per_change(self):
        """A new user: one find (externalId or userName), create, add member
        (plus group find and create for the group's first member): at most 2
        calls plus 1 per group joined (issue 10's target); a leaver:
        remove member, delete; an edit: one update. The profile write-back
        echo costs nothing."""
        a = self.new_user()
        b = self.new_user(login="b@example.com", email="b@example.com")
        self.assertEqual(self.calls_for(lambda: self.join(a),
                                        lambda: self.members(GROUP) and self.custom_id(a)), 5)
        self.assertEqual(self.calls_for(lambda: self.join(b),
                                        lambda: len(self.members(GROUP)) == 2), 3)
        rb = self.records(b)[0]["id"]
        self.assertEqual(self.calls_for(
            lambda: self.okta.admin("DELETE", "/groups/%s/members/%s" % (GROUP, a)),
            lambda: self.members(GROUP) == [rb] and not self.records(a)), 2)  # remove, delete
        self.assertEqual(self.calls_for(
            lambda: self.okta.admin("POST", "/users/%s/profile" % b, {"city": "X"}),
            lambda: self.records(b)[0]["addresses"][0].get("locality") == "X"), 1)

    def test_rename(self):
        uid = self.new_user()
        self.join(uid)
        self.synced(uid)
        self.members(GROUP)
        self.okta.admin("PUT", "/groups/" + GROUP, {"name": "Renamed Group"})
        self.okta.admin("POST", "/users/%s/profile" % uid, {"city": "Elsewhere"})
        wait_until(lambda: self.groups(GROUP)[0]["displayName"] == "Renamed Group",
                   what="group renamed")
        self.assertEqual(len(self.groups(GROUP)), 1)

    def test_kill9_mid_burst_no_duplicate_group(self):
        uids = [self.new_user(login="g%02d@example.com" % i, email="g%02d@example.com" % i)
                for i in range(16)]
        for uid in uids:
            self.join(uid)
        wait_until(lambda: self.scim.state()["groups"], what="group made")
        self.gs.stop(sig=signal.SIGKILL)
        self.gs.start()
        rids = [self.record(uid, active=True)["id"] for uid in uids]
        self.wait_members(GROUP, rids)
        self.assertEqual(len(self.groups(GROUP)), 1)

    def test_reconcile_repairs_drift(self):
        """Issue 10: reconcile repairs membership changed by hand on the
        remote side, with one read of each group (group_get.json): a member
        removed is added back, a member groupsync manages added by hand (a
        synced user of another group) is removed, a member groupsync does
        not know stays."""
        a = self.new_user()
        b = self.new_user(login="b@example.com", email="b@example.com")
        c = self.new_user(login="c@example.com", email="c@example.com")
        self.join(a)
        self.join(b)
        self.okta.admin("POST", "/groups/%s/members/%s" % (OTHER, c))
        ra, rb, rc = [self.synced(uid)["id"] for uid in (a, b, c)]
        self.wait_members(GROUP, [ra, rb])
        self.wait_members(OTHER, [rc])
        wait_until(self.settled, what="queue settled")
        stranger = self.scim.admin("POST", "/users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "by-hand@example.com"})["id"]
        self.scim.admin("POST", "/groups/" + self.groups(GROUP)[0]["id"],
                        {"members": [{"value": rb}, {"value": rc}, {"value": stranger}]})

        before = self.scim.state()["calls"]
        r = run_cli(["reconcile", "--json"], self.gs.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["groups_read"], out["group_members_added"],
                          out["group_members_removed"], out["group_members_unknown"]),
                         (2, 1, 1, 1))
        self.assertEqual(self.scim.state()["calls"] - before, 4)  # 2 reads, add, remove
        self.wait_members(GROUP, [ra, rb, stranger])
        self.assertEqual(self.members(OTHER), [rc])
        # a second run finds nothing to repair
        r = run_cli(["reconcile", "--json"], self.gs.env, timeout=120)
        out = json.loads(r.stdout)
        self.assertEqual((out["group_members_added"], out["group_members_removed"]), (0, 0))


class ScimGroupsDisable(GroupsBase):
    """Group push in disable mode: a disabled user is no member; back,
    the same record is a member again."""
    mode = "disable"

    def test_disable_leaves_groups_return_rejoins(self):
        uid = self.new_user()
        self.join(uid)
        rid = self.synced(uid)["id"]
        self.wait_members(GROUP, [rid])
        self.okta.admin("POST", "/users/%s/lifecycle/suspend" % uid)
        self.record(uid, active=False)
        self.wait_members(GROUP, [])
        self.okta.admin("POST", "/users/%s/lifecycle/unsuspend" % uid)
        self.record(uid, active=True)
        self.wait_members(GROUP, [rid])


class ScimCheckConfig(unittest.TestCase):
    def env(self, hooks, mode):
        tmp = tempfile.mkdtemp(prefix="gs-scim-cc-")
        self.addCleanup(shutil.rmtree, tmp, True)
        return {"GROUPSYNC_HOOK_SECRET": "Basic dGVzdDp0ZXN0LXNlY3JldC0xMjM0NQ==",
                "GROUPSYNC_OKTA_ORG_URL": "http://127.0.0.1:9",
                "GROUPSYNC_OKTA_API_TOKEN": "00okta-api-token-for-tests",
                "GROUPSYNC_GROUP_IDS": GROUP, "GROUPSYNC_DATA_DIR": tmp,
                "GROUPSYNC_HOOKS_DIR": hooks, "GROUPSYNC_DEPROVISION": mode,
                "REMOTE_BASE_URL": "http://127.0.0.1:9/scim/v2"}

    def test_disable_needs_disable_json(self):
        tmp = tempfile.mkdtemp(prefix="gs-scim-hooks-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for f in ("create.json", "update.json", "delete.json", "find.json"):
            shutil.copy(os.path.join(SCIM_HOOKS, f), tmp)
        ok = run_cli(["check-config"], self.env(tmp, "delete"))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        r = run_cli(["check-config"], self.env(tmp, "disable"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("disable.json", r.stderr + r.stdout)
        for preset in ("scim", "rest"):
            r = run_cli(["check-config"], self.env(os.path.join(ROOT, "hooks", preset),
                                                   "disable"))
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_push_groups_needs_group_templates(self):
        tmp = tempfile.mkdtemp(prefix="gs-scim-hooks-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for f in os.listdir(SCIM_HOOKS):
            if not f.startswith("group_"):
                shutil.copy(os.path.join(SCIM_HOOKS, f), tmp)
        env = self.env(tmp, "delete")
        self.assertEqual(run_cli(["check-config"], env).returncode, 0)
        env["GROUPSYNC_PUSH_GROUPS"] = "1"
        r = run_cli(["check-config"], env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("group_", r.stderr + r.stdout)
        for preset in ("scim", "rest"):
            env = self.env(os.path.join(ROOT, "hooks", preset), "delete")
            env["GROUPSYNC_PUSH_GROUPS"] = "1"
            r = run_cli(["check-config"], env)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_mode_refused(self):
        r = run_cli(["check-config"], self.env(SCIM_HOOKS, "archive"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("GROUPSYNC_DEPROVISION", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
