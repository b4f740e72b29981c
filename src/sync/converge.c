/*
 * converge: the steps of one user's sync (see groupsync/sync/converge.h):
 * read the user and its group membership (from a fresh snapshot of a
 * member listing, else from Okta), decide
 * (sync/decide.c), then create, update or delete the remote record,
 * record the remote ID and write it back to Okta.
 */
#include "groupsync/sync/converge.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupsync/base/log.h"
#include "groupsync/base/metrics.h"
#include "groupsync/base/util.h"

static const char *
converge_profile_str(json_object *user, const char *attr)
{
	json_object *profile, *v;

	if (user == NULL || !json_object_object_get_ex(user, "profile", &profile) ||
	    !json_object_object_get_ex(profile, attr, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char *
converge_user_str(json_object *user, const char *key)
{
	json_object *v;

	if (user == NULL || !json_object_object_get_ex(user, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Records why a step failed, from an Okta or remote result. */
static int
converge_fail(struct converge *x, enum http_class cls, int64_t retry_at, const char *what,
    const char *error)
{
	x->cls = cls;
	x->retry_at_ms = retry_at;
	x->deferred = 0;
	util_format(x->error, sizeof(x->error), "%s: %s", what, error);
	return -1;
}

static int
converge_okta_fail(struct converge *x, const struct okta_result *r, const char *what)
{
	converge_fail(x, r->cls, r->retry_at_ms, what, r->error);
	x->deferred = r->deferred;
	return -1;
}

static int
converge_remote_fail(struct converge *x, const struct remote_result *r, const char *what)
{
	x->remote_status = r->status;
	return converge_fail(x, r->cls, r->retry_at_ms, what, r->error);
}

static int
converge_store_fail(struct converge *x, const char *what)
{
	/* The store failing is not the user's fault: retry, never dead. */
	return converge_fail(x, HTTP_CLASS_RETRY, 0, what, "store write failed");
}

/* Writes the remote ID (or null) to the Okta user, unless already there. */
static int
converge_write_back(struct converge *x, const char *value)
{
	const struct converge_deps *d = x->d;
	const char *attr = d->cfg->remote_id_attribute;
	const char *current = converge_profile_str(x->user, attr);
	struct okta_result r;

	if (x->user == NULL)
		return 0; /* deleted in Okta: nothing to write to */
	if ((value == NULL && current == NULL) ||
	    (value != NULL && current != NULL && strcmp(value, current) == 0))
		return 0;
	if (okta_set_profile_attr(d->okta, x->hc, x->lease->user_id, attr, value, &r) < 0)
		return converge_okta_fail(x, &r, "Okta write-back");
	return 0;
}

static int
converge_record(struct converge *x, const char *remote_id)
{
	const struct converge_deps *d = x->d;

	if (remote_id[0] != '\0' &&
	    remote_fingerprint(d->remote, x->user, remote_id, x->hash) < 0)
		return converge_fail(x, HTTP_CLASS_PERMANENT, 0, "update template",
		    "cannot render");
	if (store_remote_put(d->q, x->lease->user_id, remote_id,
	    remote_id[0] != '\0' ? x->hash : "") < 0)
		return converge_store_fail(x, "record remote ID");
	util_copy(x->remote_id, sizeof(x->remote_id), remote_id);
	return 0;
}

static int converge_create(struct converge *x);

/*
 * Updates the record x->remote_id to the user's state in Okta (which
 * also re-enables a disabled one), then records it. A 404 means the
 * remote lost the record: make it again, unless the record was just
 * found (recreate 0), when a 404 is a race with someone deleting it that
 * the next attempt sorts out. etag: the record's ETag when the find just
 * read it (If-Match), else NULL.
 */
static int
converge_update_record(struct converge *x, int recreate, const char *etag)
{
	const struct converge_deps *d = x->d;
	struct remote_result r;
	int rc = remote_update_if(d->remote, x->hc, x->user, x->remote_id, etag, &r);

	metrics_remote_call(METRICS_REMOTE_UPDATE, r.status);
	if (rc < 0)
		return converge_remote_fail(x, &r, "remote update");
	x->remote_status = r.status;
	if (!r.found && !recreate)
		return converge_fail(x, HTTP_CLASS_RETRY, 0, "remote update",
		    "the record found is gone");
	if (!r.found) {
		log_emit(LOG_WARN, "remote record gone, recreating", "user", x->lease->user_id,
		    "remote_id", x->remote_id, (char *)NULL);
		x->action = SYNC_CREATE;
		return converge_create(x);
	}
	if (converge_record(x, x->remote_id) < 0)
		return -1;
	return converge_write_back(x, x->remote_id);
}

/*
 * Create, but first look the user up: a create that may repeat an
 * interrupted one (the process died after the remote answered, before
 * the ID was recorded) must find that record, not make a second one.
 * A record found (or linked after a 409) was made by someone else, or
 * by an earlier create, or disabled or left behind by a deprovision: it
 * is updated to the user's state, in the same record.
 */
static int
converge_create(struct converge *x)
{
	const struct converge_deps *d = x->d;
	struct remote_result r;
	int rc, linked = 0;

	memset(&r, 0, sizeof(r));
	if (remote_has_find(d->remote)) {
		rc = remote_find(d->remote, x->hc, x->user, &r);
		metrics_remote_call(METRICS_REMOTE_FIND, r.status);
		if (rc < 0)
			return converge_remote_fail(x, &r, "remote find");
		x->remote_status = r.status;
		linked = r.found;
	}
	if (!linked) {
		rc = remote_create(d->remote, x->hc, x->user, &r);
		metrics_remote_call(METRICS_REMOTE_CREATE, r.status);
		if (rc < 0)
			return converge_remote_fail(x, &r, "remote create");
		x->remote_status = r.status;
		linked = r.linked;
	}
	if (linked) {
		log_emit(LOG_INFO, "remote record found, linking", "user", x->lease->user_id,
		    "remote_id", r.remote_id, (char *)NULL);
		util_copy(x->remote_id, sizeof(x->remote_id), r.remote_id);
		return converge_update_record(x, 0, r.etag);
	}
	if (converge_record(x, r.remote_id) < 0)
		return -1;
	return converge_write_back(x, x->remote_id);
}

static int
converge_update(struct converge *x)
{
	return converge_update_record(x, 1, NULL);
}

/*
 * GROUPSYNC_DEPROVISION=disable: the record stays, disabled, and keeps
 * its ID (customId too), so that a user who comes back is re-enabled in
 * it. Recorded with SYNC_DISABLED_MARK in place of the fingerprint. A
 * record already gone remotely (404) is recorded as gone.
 */
static int
converge_disable(struct converge *x)
{
	const struct converge_deps *d = x->d;
	struct remote_result r;
	int rc = remote_disable(d->remote, x->hc, x->user, x->remote_id, &r);

	metrics_remote_call(METRICS_REMOTE_DISABLE, r.status);
	if (rc < 0)
		return converge_remote_fail(x, &r, "remote disable");
	x->remote_status = r.status;
	if (!r.found) {
		if (converge_record(x, "") < 0)
			return -1;
		return converge_write_back(x, NULL);
	}
	if (store_remote_put(d->q, x->lease->user_id, x->remote_id, SYNC_DISABLED_MARK) < 0)
		return converge_store_fail(x, "record remote ID");
	return 0;
}

/* GROUPSYNC_DEPROVISION=none: the record stays as it is; groupsync
 * forgets it (a user who comes back is found again, by find.json). */
static int
converge_forget(struct converge *x)
{
	if (converge_record(x, "") < 0)
		return -1;
	return converge_write_back(x, NULL);
}

static int
converge_delete(struct converge *x)
{
	const struct converge_deps *d = x->d;
	struct remote_result r;
	int rc = remote_delete(d->remote, x->hc, x->user, x->remote_id, &r);

	metrics_remote_call(METRICS_REMOTE_DELETE, r.status);
	if (rc < 0)
		return converge_remote_fail(x, &r, "remote delete");
	x->remote_status = r.status;
	if (converge_record(x, "") < 0)
		return -1;
	return converge_write_back(x, NULL);
}

static int
converge_pushes_groups(const struct converge *x)
{
	return x->d->cfg->push_groups && remote_push_groups(x->d->remote);
}

/*
 * Group writes that read before they write: the find-or-create of a
 * group (two workers syncing its first members at once would each find
 * nothing and create one) and whole-list membership writes (each would
 * send a list without the other's member; the last would win). This lock
 * makes each one step within the process. Replicas sharing a store can
 * still race: a server's uniqueness on externalId (a 409, then linked)
 * and one-member add and remove templates keep them right.
 */
/*
 * The remote group of configured group j, made when missing: the store's,
 * else group_find's (a crash after an earlier create), else a new one. A
 * group whose Okta name changed is renamed. Fills g (pointing into x and
 * rid) or fails.
 */
static int
converge_group_ensure(struct converge *x, size_t j, struct template_group *g,
    char rid[REMOTE_ID_MAX + 1], char name[256])
{
	const struct converge_deps *d = x->d;
	const char *gid = d->cfg->group_ids[j], *want = x->groups.name[j];
	struct remote_result r;
	int rc;

	g->id = gid;
	g->name = want;
	g->remote_id = rid;
	pthread_mutex_lock(x->d->groups_lock);
	rc = store_group_get(d->q, gid, rid, REMOTE_ID_MAX + 1, name, 256);
	if (rc < 0) {
		rc = converge_store_fail(x, "read a group's remote ID");
		goto out;
	}
	if (rc == 1 && strcmp(name, want) == 0) {
		rc = 0;
		goto out;
	}
	if (rc == 1) {
		rc = remote_group_rename(d->remote, x->hc, g, &r);
		if (rc < 0) {
			rc = converge_remote_fail(x, &r, "remote group rename");
			goto out;
		}
	} else {
		rc = remote_group_find(d->remote, x->hc, g, &r);
		if (rc == 0 && !r.found)
			rc = remote_group_create(d->remote, x->hc, g, &r);
		if (rc < 0) {
			rc = converge_remote_fail(x, &r, "remote group create");
			goto out;
		}
		util_copy(rid, REMOTE_ID_MAX + 1, r.remote_id);
	}
	util_copy(name, 256, want);
	rc = store_group_put(d->q, gid, rid, want) < 0 ?
	    converge_store_fail(x, "record a group's remote ID") : 0;
out:
	pthread_mutex_unlock(x->d->groups_lock);
	return rc;
}

static int
converge_collect(const char *user_id, void *arg)
{
	json_object *s = json_object_new_string(user_id);

	return s == NULL || json_object_array_add(arg, s) < 0 ? -1 : 0;
}

/*
 * For templates that replace a group's whole member list
 * ({{group.members}}): the remote IDs of the members groupsync made, with
 * this user added (add 1) or left out. NULL when the store cannot say.
 */
static json_object *
converge_member_list(struct converge *x, const char *gid, int add)
{
	json_object *uids = json_object_new_array(), *out = json_object_new_array(), *s;
	char rid[REMOTE_ID_MAX + 1], hash[65];
	const char *uid;
	size_t i;
	int ok = uids != NULL && out != NULL &&
	    store_member_each(x->d->q, gid, converge_collect, uids) == 0;

	for (i = 0; ok && i < json_object_array_length(uids); i++) {
		uid = json_object_get_string(json_object_array_get_idx(uids, i));
		if (strcmp(uid, x->lease->user_id) == 0)
			continue;
		ok = store_remote_get(x->d->q, uid, rid, sizeof(rid), hash, sizeof(hash)) >= 0;
		if (ok && rid[0] != '\0') {
			s = json_object_new_string(rid);
			ok = s != NULL && json_object_array_add(out, s) == 0;
		}
	}
	if (ok && add) {
		s = json_object_new_string(x->remote_id);
		ok = s != NULL && json_object_array_add(out, s) == 0;
	}
	json_object_put(uids);
	if (!ok) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

/* Adds or removes the user (x->remote_id) in group g, remotely when call
 * is 1, then records it. */
static int
converge_group_member(struct converge *x, struct template_group *g, int add, int call)
{
	int whole = remote_group_reads_members(x->d->remote);
	struct remote_result r;
	int rc = 0;

	g->members = NULL;
	if (whole)
		pthread_mutex_lock(x->d->groups_lock);
	if (call && whole && (g->members = converge_member_list(x, g->id, add)) == NULL)
		rc = converge_store_fail(x, "list a group's members");
	else if (call && remote_group_member(x->d->remote, x->hc, g, x->remote_id, add, &r) < 0)
		rc = converge_remote_fail(x, &r, add ? "remote group add member" :
		    "remote group remove member");
	if (rc == 0 && store_member_put(x->d->q, g->id, x->lease->user_id, add) < 0)
		rc = converge_store_fail(x, "record a group membership");
	if (whole)
		pthread_mutex_unlock(x->d->groups_lock);
	json_object_put(g->members);
	g->members = NULL;
	return rc;
}

/*
 * Group push: the user's remote memberships follow Okta's. A user with a
 * live record (live 1) is a member of the remote group of each configured
 * group they are in and of no other; a user being deprovisioned (live 0:
 * run before the delete, disable or forget, while the remote ID is still
 * the record's) of none. The store remembers the memberships groupsync
 * made, so that only a change costs a remote call; without a remote ID
 * only the store is cleared.
 */
static int
converge_groups(struct converge *x, int live)
{
	const struct converge_deps *d = x->d;
	const char *uid = x->lease->user_id;
	char rid[REMOTE_ID_MAX + 1], name[256];
	struct template_group g;
	size_t j;
	int want, have, rc = 0;

	for (j = 0; j < d->cfg->ngroup_ids; j++) {
		want = live && x->groups.in[j];
		have = store_member_get(d->q, d->cfg->group_ids[j], uid);
		if (have < 0)
			return converge_store_fail(x, "read a group membership");
		if (want && converge_group_ensure(x, j, &g, rid, name) < 0)
			return -1;
		if (want == have)
			continue;
		if (!want) {
			rc = store_group_get(d->q, d->cfg->group_ids[j], rid, sizeof(rid), name,
			    sizeof(name));
			if (rc < 0)
				return converge_store_fail(x, "read a group's remote ID");
			g.id = d->cfg->group_ids[j];
			g.name = name;
			g.remote_id = rid;
		}
		if (converge_group_member(x, &g, want,
		    want || (rc == 1 && x->remote_id[0] != '\0')) < 0)
			return -1;
	}
	return 0;
}

/*
 * The membership a snapshot lists ({"groups": [{"id", "name"}...]}) into
 * x->groups, as okta_user_groups fills it.
 */
static void
converge_snapshot_groups(struct converge *x, json_object *groups)
{
	const struct config *cfg = x->d->cfg;
	json_object *g;
	const char *id, *name;
	size_t i, j;

	memset(&x->groups, 0, sizeof(x->groups));
	for (i = 0; i < json_object_array_length(groups); i++) {
		g = json_object_array_get_idx(groups, i);
		id = converge_user_str(g, "id");
		name = converge_user_str(g, "name");
		for (j = 0; id != NULL && j < cfg->ngroup_ids; j++) {
			if (strcmp(id, cfg->group_ids[j]) != 0)
				continue;
			x->groups.member = 1;
			x->groups.in[j] = 1;
			util_copy(x->groups.name[j], sizeof(x->groups.name[j]),
			    name != NULL ? name : id);
		}
	}
}

/*
 * The user and its membership from a fresh snapshot of a member listing
 * (store.h), instead of two Okta reads: 1 when x->user and x->groups come
 * from it, 0 when there is none fit to use (absent, stale, unreadable,
 * or the store failed: Okta is read as for any event).
 */
static int
converge_from_snapshot(struct converge *x)
{
	json_object *body, *user, *groups;
	int64_t taken_ms;
	char *text = NULL;
	int used = 0;

	if (store_snapshot_take(x->d->q, x->lease->user_id, SYNC_RECONCILE_EVENT, &taken_ms,
	    &text) != 1)
		return 0;
	body = json_tokener_parse(text);
	free(text);
	if (json_object_object_get_ex(body, "user", &user) &&
	    json_object_is_type(user, json_type_object) &&
	    json_object_object_get_ex(body, "groups", &groups) &&
	    json_object_is_type(groups, json_type_array)) {
		x->user = json_object_get(user);
		converge_snapshot_groups(x, groups);
		used = 1;
	}
	json_object_put(body);
	return used;
}

/* How long a sync waits for a backlog listing: pages of 1000 members
 * at the pace Okta allows take seconds, not minutes. */
#define CONVERGE_GATE_MAX_MS 60000

/* Reads the user and membership: from a fresh snapshot, else from Okta
 * (at most two Okta reads per sync). */
static int
converge_read_okta(struct converge *x, struct sync_state *s)
{
	const struct converge_deps *d = x->d;
	struct okta_result r;
	const char *status;
	int snap;

	memset(s, 0, sizeof(*s));
	snap = converge_from_snapshot(x);
	/* a backlog listing under way brings this user's snapshot, if a
	 * member: cheaper than two reads */
	if (!snap && reconcile_gate_wait(d->gate, CONVERGE_GATE_MAX_MS))
		snap = converge_from_snapshot(x);
	if (!snap && okta_get_user(d->okta, x->hc, x->lease->user_id, &x->user, &r) < 0)
		return converge_okta_fail(x, &r, "Okta get user");
	s->has_remote = x->known == SYNC_HAS_REMOTE;
	s->disabled = s->has_remote && strcmp(x->hash, SYNC_DISABLED_MARK) == 0;
	s->mode = sync_deprovision_mode(d->cfg->deprovision);
	if (x->user == NULL)
		return 0;
	s->exists = 1;
	status = converge_user_str(x->user, "status");
	s->active = sync_status_active(status);
	s->deprovisioned = status != NULL && strcmp(status, "DEPROVISIONED") == 0;
	s->suspended = status != NULL && strcmp(status, "SUSPENDED") == 0;
	if (snap) {
		s->member = x->groups.member;
		return 0;
	}
	if (converge_pushes_groups(x)) {
		if (okta_user_groups(d->okta, x->hc, x->lease->user_id, &x->groups, &r) < 0)
			return converge_okta_fail(x, &r, "Okta groups");
		s->member = x->groups.member;
		return 0;
	}
	if (okta_user_in_groups(d->okta, x->hc, x->lease->user_id, &s->member, &r) < 0)
		return converge_okta_fail(x, &r, "Okta groups");
	return 0;
}

static int
converge_changed(struct converge *x, struct sync_state *s)
{
	char fp[65];

	if (!(s->exists && s->member && s->active && s->has_remote))
		return 0;
	if (remote_fingerprint(x->d->remote, x->user, x->remote_id, fp) < 0)
		return converge_fail(x, HTTP_CLASS_PERMANENT, 0, "update template", "cannot render");
	s->changed = strcmp(fp, x->hash) != 0;
	return 0;
}

/* Nothing to change remotely; repair what a crash may have left behind. */
static int
converge_nothing(struct converge *x, const struct sync_state *s)
{
	if (s->exists && s->member && s->active && s->has_remote)
		return converge_write_back(x, x->remote_id);
	/* Deleted remotely but customId not cleared (that write failed):
	 * clear it now. Repeating the delete instead is no fix: a remote
	 * that reuses IDs may have given this one to another user since. */
	if (s->exists && x->known == SYNC_GONE && (!s->member || s->deprovisioned))
		return converge_write_back(x, NULL);
	/* A member not synced now (suspended, staged) must not be skipped as
	 * "never synced" when its activation event arrives. */
	if (s->member && x->known == SYNC_NEVER)
		return converge_record(x, "");
	return 0;
}

int
converge_decide(struct converge *x)
{
	if (converge_read_okta(x, &x->state) < 0 || converge_changed(x, &x->state) < 0)
		return -1;
	x->action = sync_decide(&x->state);
	x->decided = 1;
	return 0;
}

static int
converge_act(struct converge *x, const struct sync_state *s)
{
	switch (x->action) {
	case SYNC_CREATE:
		return converge_create(x);
	case SYNC_UPDATE:
		return converge_update(x);
	case SYNC_DELETE:
		return converge_delete(x);
	case SYNC_DISABLE:
		return converge_disable(x);
	case SYNC_FORGET:
		return converge_forget(x);
	default:
		return converge_nothing(x, s);
	}
}

int
converge_apply(struct converge *x)
{
	const struct sync_state *s = &x->state;
	int leaving, groups;

	assert(x->decided);
	groups = converge_pushes_groups(x);
	leaving = x->action == SYNC_DELETE || x->action == SYNC_DISABLE ||
	    x->action == SYNC_FORGET;
	/* Memberships go before the record does: a server that keeps a
	 * deleted user's memberships must not list a member it lost. */
	if (groups && leaving && converge_groups(x, 0) < 0)
		return -1;
	if (converge_act(x, s) < 0)
		return -1;
	if (!groups || leaving)
		return 0;
	/* Live: a record, not left disabled, of a user still in Okta. */
	return converge_groups(x, s->exists && x->remote_id[0] != '\0' &&
	    (!s->disabled || x->action == SYNC_CREATE || x->action == SYNC_UPDATE));
}

int
converge_run(struct converge *x)
{
	if (converge_decide(x) < 0)
		return -1;
	return converge_apply(x);
}

int
converge_load_known(struct converge *x)
{
	int rc = store_remote_get(x->d->q, x->lease->user_id, x->remote_id,
	    sizeof(x->remote_id), x->hash, sizeof(x->hash));

	if (rc < 0)
		return converge_store_fail(x, "read remote ID");
	x->known = rc == 0 ? SYNC_NEVER : x->remote_id[0] ? SYNC_HAS_REMOTE : SYNC_GONE;
	return 0;
}
