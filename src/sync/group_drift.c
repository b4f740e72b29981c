/*
 * group_drift: reconcile's repair of pushed groups' remote membership
 * (see groupsync/sync/group_drift.h): per group, one read of its remote
 * members (group_get.json), then the members missing added and the
 * managed members in excess removed, one request each, or one request of
 * the whole list with {{group.members}} templates.
 *
 * Sets of remote IDs are json-c objects keyed by the ID: a group has at
 * most a few thousand members, and a lookup by key is what the
 * comparison needs.
 */
#include "groupsync/sync/group_drift.h"

#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/log.h"
#include "groupsync/base/util.h"
#include "groupsync/remote/client.h"
#include "groupsync/store/store.h"

struct drift {
	struct remote *remote;
	struct http_client *hc;
	struct store *q;
	int dry_run;
	json_object *managed; /* remote ID -> user ID, for every user with one */
	struct group_drift_summary *sum;
	char *err; /* the first failure */
	size_t errlen;
	int failed;
};

/* Keeps the first failure; returns -1. */
static int
drift_fail(struct drift *d, const char *gid, const char *what, const char *why)
{
	if (!d->failed)
		util_format(d->err, d->errlen, "group drift: %s: %s: %s", gid, what, why);
	d->failed = 1;
	log_emit(LOG_WARN, "group drift repair failed", "group", gid, "step", what, "error",
	    why, (char *)NULL);
	return -1;
}

static int
drift_collect(const char *user_id, void *arg)
{
	json_object *s = json_object_new_string(user_id);

	return s == NULL || json_object_array_add(arg, s) != 0 ? -1 : 0;
}

/* uids (an array of user IDs) as a map of their remote IDs to them;
 * users without a remote ID are left out. NULL when the store fails. */
static json_object *
drift_remote_ids(struct drift *d, json_object *uids)
{
	json_object *map = json_object_new_object(), *s;
	char rid[REMOTE_ID_MAX + 1], hash[65];
	const char *uid;
	size_t i;
	int ok = map != NULL;

	for (i = 0; ok && i < json_object_array_length(uids); i++) {
		uid = json_object_get_string(json_object_array_get_idx(uids, i));
		ok = store_remote_get(d->q, uid, rid, sizeof(rid), hash, sizeof(hash)) >= 0;
		if (!ok || rid[0] == '\0')
			continue;
		s = json_object_new_string(uid);
		ok = s != NULL && json_object_object_add(map, rid, s) == 0;
	}
	if (!ok) {
		json_object_put(map);
		return NULL;
	}
	return map;
}

/* Every user groupsync holds a remote record for: remote ID -> user. */
static int
drift_load_managed(struct drift *d)
{
	json_object *uids = json_object_new_array();
	char why[256] = "out of memory";

	if (uids == NULL || store_remote_each(d->q, drift_collect, uids, why, sizeof(why)) != 0) {
		json_object_put(uids);
		return drift_fail(d, "*", "read the remote IDs", why);
	}
	d->managed = drift_remote_ids(d, uids);
	json_object_put(uids);
	return d->managed != NULL ? 0 : drift_fail(d, "*", "read the remote IDs", "store read "
	    "failed");
}

/* What should be in group gid: remote ID -> user, of the members
 * groupsync made (the store's map). */
static json_object *
drift_want(struct drift *d, const char *gid)
{
	json_object *uids = json_object_new_array(), *want = NULL;

	if (uids != NULL && store_member_each(d->q, gid, drift_collect, uids) == 0)
		want = drift_remote_ids(d, uids);
	json_object_put(uids);
	return want;
}

/*
 * One member added or removed, unless the store no longer wants that
 * change: a sync of the same user may have changed the membership since
 * the group was read (it then made the remote right itself).
 */
static int
drift_change(struct drift *d, const struct template_group *g, const char *rid,
    const char *uid, int add)
{
	struct remote_result res;
	int member = store_member_get(d->q, g->id, uid);

	if (member < 0)
		return drift_fail(d, g->id, "read a group membership", "store read failed");
	if (member != add)
		return 0;
	if (!d->dry_run && remote_group_member(d->remote, d->hc, g, rid, add, &res) < 0)
		return drift_fail(d, g->id, add ? "add a member" : "remove a member", res.error);
	if (add)
		d->sum->added++;
	else
		d->sum->removed++;
	log_emit(LOG_INFO, add ? "group drift: member put back" : "group drift: member removed",
	    "group", g->id, "user", uid, "remote_id", rid, "dry_run", d->dry_run ? "1" : "0",
	    (char *)NULL);
	return 0;
}

/*
 * Templates that send the whole member list: one write of what should be
 * there plus the members groupsync does not know (they stay), when
 * anything differs. missing and extra count the differences; first is
 * one changed member ({{remote.id}}, should the template read it).
 */
static int
drift_whole(struct drift *d, struct template_group *g, json_object *want, json_object *have,
    size_t missing, size_t extra, const char *first)
{
	json_object *list = json_object_new_array(), *v;
	struct remote_result res;
	const char *rid;
	size_t i;
	int ok = list != NULL, rc = 0;

	json_object_object_foreach(want, key, uid) {
		(void)uid;
		ok = ok && json_object_array_add(list, json_object_new_string(key)) == 0;
	}
	for (i = 0; ok && i < json_object_array_length(have); i++) {
		rid = json_object_get_string(json_object_array_get_idx(have, i));
		if (!json_object_object_get_ex(d->managed, rid, &v))
			ok = json_object_array_add(list, json_object_new_string(rid)) == 0;
	}
	g->members = list;
	if (!ok)
		rc = drift_fail(d, g->id, "list the members", "out of memory");
	else if (!d->dry_run && remote_group_member(d->remote, d->hc, g, first, 1, &res) < 0)
		rc = drift_fail(d, g->id, "write the member list", res.error);
	if (rc == 0) {
		d->sum->added += missing;
		d->sum->removed += extra;
		log_emit(LOG_INFO, "group drift: member list rewritten", "group", g->id,
		    "dry_run", d->dry_run ? "1" : "0", (char *)NULL);
	}
	g->members = NULL;
	json_object_put(list);
	return rc;
}

/* Compares the remote members (have) with want and repairs the group. */
static int
drift_repair(struct drift *d, struct template_group *g, json_object *want, json_object *have)
{
	json_object *seen = json_object_new_object(), *v, *uid;
	int whole = remote_group_reads_members(d->remote), rc = 0;
	size_t i, missing = 0, extra = 0;
	const char *rid, *first = NULL;

	if (seen == NULL)
		return drift_fail(d, g->id, "compare", "out of memory");
	for (i = 0; i < json_object_array_length(have); i++) {
		rid = json_object_get_string(json_object_array_get_idx(have, i));
		json_object_object_add(seen, rid, NULL);
		if (json_object_object_get_ex(want, rid, &v))
			continue;
		if (!json_object_object_get_ex(d->managed, rid, &uid)) {
			d->sum->unknown++;
			continue;
		}
		extra++;
		first = first != NULL ? first : rid;
		if (!whole && drift_change(d, g, rid, json_object_get_string(uid), 0) < 0)
			rc = -1;
	}
	json_object_object_foreach(want, key, wuid) {
		if (json_object_object_get_ex(seen, key, &v))
			continue;
		missing++;
		first = first != NULL ? first : key;
		if (!whole && drift_change(d, g, key, json_object_get_string(wuid), 1) < 0)
			rc = -1;
	}
	if (whole && missing + extra > 0)
		rc = drift_whole(d, g, want, have, missing, extra, first);
	json_object_put(seen);
	return rc;
}

/*
 * The remote group was deleted behind groupsync's back: a member change
 * sent to it finds nothing (404) and counts as done, so no sync would
 * ever bring it back. Finds it again (someone may have made it anew) or
 * creates it, as a sync does, and records its new remote ID; the caller
 * then puts the members back. In a dry run only counted. 1 when g now
 * names a group to fill, 0 dry run, -1 failed.
 */
static int
drift_recreate(struct drift *d, struct template_group *g, char *grid, size_t glen)
{
	struct remote_result res;
	int rc;

	d->sum->gone++;
	log_emit(LOG_WARN, "group drift: the remote group is gone", "group", g->id,
	    "remote_id", grid, "dry_run", d->dry_run ? "1" : "0", (char *)NULL);
	if (d->dry_run)
		return 0;
	rc = remote_group_find(d->remote, d->hc, g, &res);
	if (rc == 0 && !res.found)
		rc = remote_group_create(d->remote, d->hc, g, &res);
	if (rc < 0)
		return drift_fail(d, g->id, "create the group again", res.error);
	util_copy(grid, glen, res.remote_id);
	if (store_group_put(d->q, g->id, grid, g->name) < 0)
		return drift_fail(d, g->id, "record the group's new remote ID", "store write failed");
	log_emit(LOG_INFO, "group drift: remote group created again", "group", g->id,
	    "remote_id", grid, (char *)NULL);
	return 1;
}

/* One pushed group: read, compare, repair. 0 also for a group never
 * pushed (no remote ID); a group gone remotely is made again. */
static int
drift_group(struct drift *d, const char *gid)
{
	char grid[REMOTE_ID_MAX + 1], name[256];
	struct template_group g = {gid, name, grid, NULL};
	struct remote_result res;
	json_object *want, *have = NULL;
	int rc = store_group_get(d->q, gid, grid, sizeof(grid), name, sizeof(name));

	if (rc < 0)
		return drift_fail(d, gid, "read the group's remote ID", "store read failed");
	if (rc == 0)
		return 0;
	want = drift_want(d, gid);
	if (want == NULL)
		return drift_fail(d, gid, "read the group's members", "store read failed");
	if (remote_group_get(d->remote, d->hc, &g, &have, &res) < 0) {
		json_object_put(want);
		return drift_fail(d, gid, "read the remote members", res.error);
	}
	if (!res.found) {
		rc = drift_recreate(d, &g, grid, sizeof(grid));
		if (rc <= 0 || (have = json_object_new_array()) == NULL) {
			json_object_put(want);
			return rc < 0 ? -1 : rc == 0 ? 0 : drift_fail(d, gid, "compare",
			    "out of memory");
		}
	}
	d->sum->groups++;
	rc = drift_repair(d, &g, want, have);
	json_object_put(want);
	json_object_put(have);
	return rc;
}

int
group_drift_run(const struct config *cfg, struct remote *remote, struct http_client *hc,
    struct store *q, int dry_run, struct group_drift_summary *out, char *err, size_t errlen)
{
	struct drift d = {remote, hc, q, dry_run, NULL, out, err, errlen, 0};
	size_t j;

	memset(out, 0, sizeof(*out));
	if (!cfg->push_groups || !remote_push_groups(remote) || !remote_has_group_get(remote))
		return 0;
	if (drift_load_managed(&d) < 0)
		return -1;
	for (j = 0; j < cfg->ngroup_ids; j++)
		(void)drift_group(&d, cfg->group_ids[j]);
	json_object_put(d.managed);
	return d.failed ? -1 : 0;
}
