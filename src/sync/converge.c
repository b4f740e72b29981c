/*
 * The steps of one user's sync (worker_execute): read the user and its
 * group membership from Okta, decide (sync.c), then create, update or
 * delete the remote record, record the remote ID and write it back to
 * Okta. The pool that runs them is worker.c.
 */
#include "worker_internal.h"

#include <stdio.h>
#include <string.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

static const char *
worker_profile_str(json_object *user, const char *attr)
{
	json_object *profile, *v;

	if (user == NULL || !json_object_object_get_ex(user, "profile", &profile) ||
	    !json_object_object_get_ex(profile, attr, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char *
worker_user_str(json_object *user, const char *key)
{
	json_object *v;

	if (user == NULL || !json_object_object_get_ex(user, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Records why a step failed, from an Okta or remote result. */
static int
worker_fail(struct sync_ctx *x, enum http_class cls, int64_t retry_at, const char *what,
    const char *error)
{
	x->cls = cls;
	x->retry_at_ms = retry_at;
	util_format(x->error, sizeof(x->error), "%s: %s", what, error);
	return -1;
}

static int
worker_remote_fail(struct sync_ctx *x, const struct remote_result *r, const char *what)
{
	x->remote_status = r->status;
	return worker_fail(x, r->cls, r->retry_at_ms, what, r->error);
}

int
worker_store_fail(struct sync_ctx *x, const char *what)
{
	/* The store failing is not the user's fault: retry, never dead. */
	return worker_fail(x, HTTP_CLASS_RETRY, 0, what, "store write failed");
}

/* Writes the remote ID (or null) to the Okta user, unless already there. */
static int
worker_write_back(struct sync_ctx *x, const char *value)
{
	struct worker_pool *p = x->w->pool;
	const char *attr = p->d.cfg->remote_id_attribute;
	const char *current = worker_profile_str(x->user, attr);
	struct okta_result r;

	if (x->user == NULL)
		return 0; /* deleted in Okta: nothing to write to */
	if ((value == NULL && current == NULL) ||
	    (value != NULL && current != NULL && strcmp(value, current) == 0))
		return 0;
	if (okta_set_profile_attr(p->d.okta, x->w->hc, x->lease->user_id, attr, value, &r) < 0)
		return worker_fail(x, r.cls, r.retry_at_ms, "Okta write-back", r.error);
	return 0;
}

static int
worker_record(struct sync_ctx *x, const char *remote_id)
{
	struct worker_pool *p = x->w->pool;

	if (remote_id[0] != '\0' &&
	    remote_fingerprint(p->d.remote, x->user, remote_id, x->hash) < 0)
		return worker_fail(x, HTTP_CLASS_PERMANENT, 0, "update template",
		    "cannot render");
	if (store_remote_put(p->d.q, x->lease->user_id, remote_id,
	    remote_id[0] != '\0' ? x->hash : "") < 0)
		return worker_store_fail(x, "record remote ID");
	util_copy(x->remote_id, sizeof(x->remote_id), remote_id);
	return 0;
}

/*
 * Create, but first look the user up: a create that may repeat an
 * interrupted one (the process died after the remote answered, before
 * the ID was recorded) must find that record, not make a second one.
 */
static int
worker_create(struct sync_ctx *x)
{
	struct worker_pool *p = x->w->pool;
	struct remote_result r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (remote_has_find(p->d.remote)) {
		rc = remote_find(p->d.remote, x->w->hc, x->user, &r);
		metrics_remote_call(METRICS_REMOTE_FIND, r.status);
		if (rc < 0)
			return worker_remote_fail(x, &r, "remote find");
		x->remote_status = r.status;
	}
	if (!r.found) {
		rc = remote_create(p->d.remote, x->w->hc, x->user, &r);
		metrics_remote_call(METRICS_REMOTE_CREATE, r.status);
		if (rc < 0)
			return worker_remote_fail(x, &r, "remote create");
		x->remote_status = r.status;
	}
	if (worker_record(x, r.remote_id) < 0)
		return -1;
	return worker_write_back(x, x->remote_id);
}

static int
worker_update(struct sync_ctx *x)
{
	struct worker_pool *p = x->w->pool;
	struct remote_result r;
	int rc = remote_update(p->d.remote, x->w->hc, x->user, x->remote_id, &r);

	metrics_remote_call(METRICS_REMOTE_UPDATE, r.status);
	if (rc < 0)
		return worker_remote_fail(x, &r, "remote update");
	x->remote_status = r.status;
	if (!r.found) {
		/* The remote lost the record (404): make it again. */
		log_emit(LOG_WARN, "remote record gone, recreating", "user", x->lease->user_id,
		    "remote_id", x->remote_id, (char *)NULL);
		x->action = SYNC_CREATE;
		return worker_create(x);
	}
	if (worker_record(x, x->remote_id) < 0)
		return -1;
	return worker_write_back(x, x->remote_id);
}

static int
worker_delete(struct sync_ctx *x)
{
	struct worker_pool *p = x->w->pool;
	struct remote_result r;
	int rc = remote_delete(p->d.remote, x->w->hc, x->user, x->remote_id, &r);

	metrics_remote_call(METRICS_REMOTE_DELETE, r.status);
	if (rc < 0)
		return worker_remote_fail(x, &r, "remote delete");
	x->remote_status = r.status;
	if (worker_record(x, "") < 0)
		return -1;
	return worker_write_back(x, NULL);
}

/* Reads the user and membership (at most two Okta reads per sync). */
static int
worker_read_okta(struct sync_ctx *x, struct sync_state *s)
{
	struct worker_pool *p = x->w->pool;
	struct okta_result r;
	const char *status;

	memset(s, 0, sizeof(*s));
	if (okta_get_user(p->d.okta, x->w->hc, x->lease->user_id, &x->user, &r) < 0)
		return worker_fail(x, r.cls, r.retry_at_ms, "Okta get user", r.error);
	s->has_remote = x->known == SYNC_HAS_REMOTE;
	if (x->user == NULL)
		return 0;
	s->exists = 1;
	status = worker_user_str(x->user, "status");
	s->active = sync_status_active(status);
	s->deprovisioned = status != NULL && strcmp(status, "DEPROVISIONED") == 0;
	if (okta_user_in_groups(p->d.okta, x->w->hc, x->lease->user_id, &s->member, &r) < 0)
		return worker_fail(x, r.cls, r.retry_at_ms, "Okta groups", r.error);
	return 0;
}

static int
worker_changed(struct sync_ctx *x, struct sync_state *s)
{
	char fp[65];

	if (!(s->exists && s->member && s->active && s->has_remote))
		return 0;
	if (remote_fingerprint(x->w->pool->d.remote, x->user, x->remote_id, fp) < 0)
		return worker_fail(x, HTTP_CLASS_PERMANENT, 0, "update template", "cannot render");
	s->changed = strcmp(fp, x->hash) != 0;
	return 0;
}

/* Nothing to change remotely; repair what a crash may have left behind. */
static int
worker_nothing(struct sync_ctx *x, const struct sync_state *s)
{
	if (s->exists && s->member && s->active && s->has_remote)
		return worker_write_back(x, x->remote_id);
	/* Deleted remotely but customId not cleared (that write failed):
	 * clear it now. Repeating the delete instead is no fix: a remote
	 * that reuses IDs may have given this one to another user since. */
	if (s->exists && x->known == SYNC_GONE && (!s->member || s->deprovisioned))
		return worker_write_back(x, NULL);
	/* A member not synced now (suspended, staged) must not be skipped as
	 * "never synced" when its activation event arrives. */
	if (s->member && x->known == SYNC_NEVER)
		return worker_record(x, "");
	return 0;
}

int
worker_execute(struct sync_ctx *x)
{
	struct sync_state s;

	if (worker_read_okta(x, &s) < 0 || worker_changed(x, &s) < 0)
		return -1;
	x->action = sync_decide(&s);
	x->decided = 1;
	switch (x->action) {
	case SYNC_CREATE:
		return worker_create(x);
	case SYNC_UPDATE:
		return worker_update(x);
	case SYNC_DELETE:
		return worker_delete(x);
	default:
		return worker_nothing(x, &s);
	}
}
