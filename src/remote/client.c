/*
 * remote: the remote system's client (see groupsync/remote/client.h and
 * hooks/README.md):
 * loads the request templates of GROUPSYNC_HOOKS_DIR, renders and sends
 * them (find, create, update, delete), reads the answers, and computes
 * update fingerprints. The auth header each call carries, and the OAuth
 * 2.0 token cache, are remote/auth.c's; what an answer means is
 * remote/answer.c's.
 *
 * Decisions where the design is silent:
 * - remote_new renders every template once for a blank user, so that an
 *   {{env.*}} without a value, or a URL that is refused, fails at
 *   start-up instead of on every job.
 * - 410 Gone counts as 404 for update and delete.
 * - A template that cannot be rendered (a placeholder without a value) is
 *   a PERMANENT failure: retrying would not give it a value.
 * - Messages never hold the rendered URL or headers, which may carry
 *   {{env.*}} secrets: the file, the status, and the start of the remote's
 *   answer (printable ASCII only).
 * - remote_uses_any(NULL) is 1: an unknown change may touch anything.
 * - remote_reload (SIGHUP) loads and checks a whole new set of templates
 *   before it replaces the loaded one, so that a bad edit leaves the
 *   service on the last good set. Each call holds a reference to the set
 *   it started with: a reload never frees a template in use, and one
 *   call never mixes two sets (find of the old, create of the new).
 */
#include "groupsync/remote/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "groupsync/remote/template.h"
#include "groupsync/base/buf.h"
#include "groupsync/base/url.h"
#include "groupsync/base/util.h"

#include "groupsync/remote/answer.h"
#include "groupsync/remote/auth.h"

#define REMOTE_NOPS 12
/* A list read page by page stops here: a server that pages a find by
 * one, or ignores startIndex, costs at most this many requests. */
#define REMOTE_MAX_PAGES 100
#define REMOTE_ATTRS_MAX (REMOTE_NOPS * TEMPLATE_MAX_ATTRS)

enum remote_op {
	OP_FIND, OP_CREATE, OP_UPDATE, OP_DELETE, OP_FIND_FALLBACK, OP_DISABLE,
	OP_GROUP_FIND, OP_GROUP_CREATE, OP_GROUP_UPDATE, OP_GROUP_ADD, OP_GROUP_REMOVE,
	OP_GROUP_GET
};

static const char *const remote_files[REMOTE_NOPS] = {
	"find.json", "create.json", "update.json", "delete.json", "find_fallback.json",
	"disable.json", "group_find.json", "group_create.json", "group_update.json",
	"group_add_member.json", "group_remove_member.json", "group_get.json",
};

/* One loaded set of templates, read-only once loaded; freed with its
 * last reference (the remote's own, and one per call in flight). */
struct remote_set {
	struct template *t[REMOTE_NOPS]; /* the optional ones may be NULL */
	char attrs[REMOTE_ATTRS_MAX][64]; /* user.profile.* read by any template */
	size_t nattrs;
	atomic_int refs;
};

struct remote {
	const struct config *cfg; /* borrowed: outlives the remote */
	pthread_mutex_t set_lock; /* guards set (the pointer, not the set) */
	struct remote_set *set;
	struct remote_auth auth; /* the auth header, the OAuth token cache */
};

/* 1 for the templates a set may leave out (disable.json: unless
 * GROUPSYNC_DEPROVISION=disable needs it; the group_* files: unless
 * GROUPSYNC_PUSH_GROUPS=1 does; group_get.json always: without it,
 * reconcile does not repair remote membership drift). */
static int
remote_optional(const struct config *cfg, enum remote_op op)
{
	if (op == OP_GROUP_GET)
		return 1;
	if (op >= OP_GROUP_FIND)
		return !cfg->push_groups;
	return op == OP_FIND || op == OP_FIND_FALLBACK ||
	    (op == OP_DISABLE && (cfg->deprovision == NULL ||
	    strcmp(cfg->deprovision, "disable") != 0));
}

static int
remote_bad(char *err, size_t errlen, const char *name, const char *why)
{
	util_format(err, errlen, "%s: %s", name, why);
	return -1;
}

static void
remote_set_put(struct remote_set *set)
{
	size_t i;

	if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	for (i = 0; i < REMOTE_NOPS; i++)
		template_free(set->t[i]);
	free(set);
}

/* The loaded set, with a reference the caller puts. remote_uses_any and
 * remote_has_find take a const remote: the lock is not part of what
 * const promises (the remote's settings and behaviour). */
static struct remote_set *
remote_set_get(const struct remote *cr)
{
	struct remote *r = (struct remote *)cr;
	struct remote_set *set;

	pthread_mutex_lock(&r->set_lock);
	set = r->set;
	atomic_fetch_add(&set->refs, 1);
	pthread_mutex_unlock(&r->set_lock);
	return set;
}

static int
remote_load(const struct config *cfg, struct remote_set *set, char *err, size_t errlen)
{
	const char *dir = cfg->hooks_dir;
	char path[4096];
	size_t i;

	if (dir == NULL)
		return remote_bad(err, errlen, "GROUPSYNC_HOOKS_DIR", "not set");
	for (i = 0; i < REMOTE_NOPS; i++) {
		if (util_format(path, sizeof(path), "%s/%s", dir, remote_files[i]) < 0)
			return remote_bad(err, errlen, "GROUPSYNC_HOOKS_DIR", "too long");
		if (remote_optional(cfg, i) && access(path, F_OK) != 0 && errno == ENOENT)
			continue;
		set->t[i] = template_load(path, err, errlen);
		if (set->t[i] == NULL)
			return -1;
		template_profile_attrs(set->t[i], set->attrs, REMOTE_ATTRS_MAX, &set->nattrs);
		if ((i == OP_FIND || i == OP_FIND_FALLBACK || i == OP_CREATE ||
		    i == OP_GROUP_FIND || i == OP_GROUP_CREATE) &&
		    template_id_pointer(set->t[i]) == NULL) {
			util_format(err, errlen, "%s: \"id\" is required: the JSON Pointer to "
			    "the remote ID in the answer", remote_files[i]);
			return -1;
		}
		if (i == OP_GROUP_GET && template_members_pointer(set->t[i]) == NULL)
			return remote_bad(err, errlen, "group_get.json", "\"members\" and "
			    "\"member_id\" are required: where the answer lists the members");
	}
	if (set->t[OP_FIND_FALLBACK] != NULL && set->t[OP_FIND] == NULL)
		return remote_bad(err, errlen, "find_fallback.json", "needs find.json: it is "
		    "tried when find.json finds nothing");
	return 0;
}

/* Renders each template for a blank user: a missing {{env.*}} or a
 * refused URL shows now, not on every job. */
static int
remote_dry_run(const struct config *cfg, const struct remote_set *set, char *err,
    size_t errlen)
{
	struct template_group blank = {"00g0", "group", "0", NULL};
	struct template_vars v = {NULL, "0", cfg, &blank};
	struct template_request tr;
	char why[160];
	size_t i;
	int rc = 0;

	v.user = json_tokener_parse("{\"id\":\"00u0\",\"status\":\"ACTIVE\",\"profile\":{}}");
	blank.members = json_object_new_array();
	if (v.user == NULL || blank.members == NULL) {
		json_object_put(v.user);
		json_object_put(blank.members);
		return remote_bad(err, errlen, "remote", "out of memory");
	}
	for (i = 0; i < REMOTE_NOPS && rc == 0; i++) {
		if (set->t[i] == NULL)
			continue;
		rc = template_render(set->t[i], &v, &tr, err, errlen);
		if (rc == 0 && url_check(tr.url, cfg->allow_insecure_http, why,
		    sizeof(why)) < 0) {
			util_format(err, errlen, "%s: url %s", remote_files[i], why);
			rc = -1;
		}
		template_request_free(&tr); /* zeroed by a failed render: no-op */
	}
	json_object_put(v.user);
	json_object_put(blank.members);
	return rc;
}

/* A new set from GROUPSYNC_HOOKS_DIR, loaded and checked, or NULL + err. */
static struct remote_set *
remote_set_new(const struct config *cfg, char *err, size_t errlen)
{
	struct remote_set *set = calloc(1, sizeof(*set));

	if (set == NULL) {
		remote_bad(err, errlen, "remote", "out of memory");
		return NULL;
	}
	atomic_init(&set->refs, 1);
	if (remote_load(cfg, set, err, errlen) < 0 || remote_dry_run(cfg, set, err, errlen) < 0) {
		remote_set_put(set);
		return NULL;
	}
	return set;
}

struct remote *
remote_new(const struct config *cfg, char *err, size_t errlen)
{
	struct remote *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		remote_bad(err, errlen, "remote", "out of memory");
		return NULL;
	}
	r->cfg = cfg;
	if (pthread_mutex_init(&r->set_lock, NULL) != 0) {
		free(r);
		remote_bad(err, errlen, "remote", "cannot create a mutex");
		return NULL;
	}
	if (remote_auth_init(&r->auth, cfg) < 0) {
		pthread_mutex_destroy(&r->set_lock);
		free(r);
		remote_bad(err, errlen, "remote", "cannot create a mutex");
		return NULL;
	}
	r->set = remote_set_new(cfg, err, errlen);
	if (r->set == NULL || remote_auth_setup(&r->auth, err, errlen) < 0) {
		remote_free(r);
		return NULL;
	}
	return r;
}

int
remote_reload(struct remote *r, char *err, size_t errlen)
{
	struct remote_set *set = remote_set_new(r->cfg, err, errlen), *old;

	if (set == NULL)
		return -1;
	pthread_mutex_lock(&r->set_lock);
	old = r->set;
	r->set = set;
	pthread_mutex_unlock(&r->set_lock);
	remote_set_put(old);
	return 0;
}

void
remote_free(struct remote *r)
{
	if (r == NULL)
		return;
	remote_set_put(r->set);
	remote_auth_free(&r->auth);
	pthread_mutex_destroy(&r->set_lock);
	free(r);
}

int
remote_has_find(const struct remote *r)
{
	struct remote_set *set = remote_set_get(r);
	int has = set->t[OP_FIND] != NULL;

	remote_set_put(set);
	return has;
}

/* What a call adds to its rendered request. */
struct remote_extra {
	int64_t start;        /* > 0: the list page that starts there */
	const char *if_match; /* the record's ETag (If-Match), or NULL */
};

/*
 * url with "startIndex=start" in its query (RFC 7644 section 3.4.2.4),
 * in place of any startIndex it had; NULL when out of memory.
 */
static char *
remote_url_page(const char *url, int64_t start)
{
	size_t n = strcspn(url, "?"), len;
	const char *p = url + n;
	struct buf b = {0};

	buf_add(&b, url, n);
	while (*p != '\0') {
		p++; /* '?' or '&' */
		len = strcspn(p, "&");
		if (len > 0 && strncmp(p, "startIndex=", 11) != 0) {
			buf_add(&b, b.len > n ? "&" : "?", 1);
			buf_add(&b, p, len);
		}
		p += len;
	}
	buf_printf(&b, "%sstartIndex=%lld", b.len > n ? "&" : "?", (long long)start);
	buf_add(&b, "", 1);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/*
 * Renders the op's template for the user and sends it with the auth
 * header, and what ex adds (NULL: nothing): the list page that starts at
 * ex->start, an If-Match header. Returns 0 when an answer came (status in res; resp is the
 * caller's to free either way), -1 otherwise (res says why). With OAuth
 * 2.0, a 401 drops the cached token and the call goes once more with a
 * new one: the token may have been revoked or expired early.
 */
static int
remote_call(struct remote *r, const struct remote_set *set, struct http_client *hc,
    enum remote_op op, json_object *user, const char *remote_id, const struct template_group *g,
    const struct remote_extra *ex, struct http_response *resp, struct remote_result *res)
{
	struct template_vars v = {user, remote_id, r->cfg, g};
	struct template_request tr;
	struct http_request hr;
	char *auth = NULL, *paged, if_match[REMOTE_ETAG_MAX + 16] = "";
	size_t i;
	int attempt, rc;

	memset(resp, 0, sizeof(*resp));
	if (template_render(set->t[op], &v, &tr, res->error, sizeof(res->error)) < 0) {
		res->cls = HTTP_CLASS_PERMANENT;
		return -1;
	}
	if (ex != NULL && ex->if_match != NULL)
		util_format(if_match, sizeof(if_match), "If-Match: %s", ex->if_match);
	if (ex != NULL && ex->start > 0) {
		paged = remote_url_page(tr.url, ex->start);
		if (paged == NULL) {
			template_request_free(&tr);
			res->cls = HTTP_CLASS_RETRY;
			util_format(res->error, sizeof(res->error), "%s: out of memory",
			    remote_files[op]);
			return -1;
		}
		free(tr.url);
		tr.url = paged;
	}
	for (attempt = 0;; attempt++) {
		rc = remote_auth_get(&r->auth, hc, &auth, res);
		if (rc < 0)
			break;
		template_request_to_http(&tr, &hr);
		for (i = 0; hr.headers[i] != NULL; i++)
			;
		/* templates leave room: at most 17 headers, then these two */
		if (if_match[0] != '\0')
			hr.headers[i++] = if_match;
		hr.headers[i] = auth;
		http_response_free(resp);
		rc = http_do(hc, &hr, resp);
		res->retry_at_ms = resp->retry_after_ms;
		if (rc < 0) {
			res->cls = resp->cls;
			util_format(res->error, sizeof(res->error), "%s: %s", remote_files[op],
			    resp->error);
			break;
		}
		res->status = resp->status;
		if (resp->status != 401 || r->auth.mode != REMOTE_AUTH_OAUTH2 || attempt == 1)
			break;
		remote_auth_drop(&r->auth, auth);
		util_secret_free(auth);
		auth = NULL;
	}
	util_secret_free(auth);
	template_request_free(&tr);
	return rc;
}

/* "Name: [redacted]" for the auth header line, or NULL (mode none). */
static char *
remote_auth_redacted(const struct remote *r)
{
	const char *line = r->auth.mode == REMOTE_AUTH_STATIC ? r->auth.auth_line : NULL;
	size_t n = line != NULL ? strcspn(line, ":") : 0;
	char buf[160];

	if (r->auth.mode == REMOTE_AUTH_OAUTH2)
		return strdup("Authorization: Bearer [redacted]");
	if (line == NULL || util_format(buf, sizeof(buf), "%.*s: [redacted]", (int)n, line) < 0)
		return NULL;
	return strdup(buf);
}

int
remote_render(struct remote *r, const char *file, json_object *user, const char *remote_id,
    struct template_request *out, char *err, size_t errlen)
{
	struct template_vars v = {user, remote_id, r->cfg, NULL};
	struct remote_set *set;
	size_t op, i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (op = 0; op < REMOTE_NOPS && strcmp(remote_files[op], file) != 0; op++)
		;
	if (op == REMOTE_NOPS)
		return remote_bad(err, errlen, file, "no such operation");
	set = remote_set_get(r);
	if (set->t[op] != NULL)
		rc = template_render(set->t[op], &v, out, err, errlen) < 0 ? -1 : 1;
	remote_set_put(set);
	if (rc == 1) {
		/* templates leave room for the auth header, as remote_call */
		for (i = 0; out->headers[i] != NULL; i++)
			;
		out->headers[i] = remote_auth_redacted(r);
	}
	return rc;
}

static void
remote_result_init(struct remote_result *res)
{
	memset(res, 0, sizeof(*res));
	res->cls = HTTP_CLASS_OK;
}

/*
 * The pages after the first of a list answer (pg: the first page's,
 * list: its records, in the first answer), asked with startIndex and
 * appended to list, until it holds totalResults records, at most
 * REMOTE_MAX_PAGES pages in all. A server that answers another page than
 * the one asked (it ignores startIndex) would loop: that is an error.
 */
static int
remote_more_pages(struct remote *r, const struct remote_set *set, struct http_client *hc,
    enum remote_op op, json_object *user, const struct template_group *g, const char *head,
    json_object *list, struct remote_page pg, struct remote_result *res)
{
	const char *what = remote_files[op];
	struct http_response resp;
	json_object *root, *more;
	struct remote_extra ex = {0, NULL};
	size_t i, pages = 1;
	int rc = 0;

	while (rc == 0 &&
	    (ex.start = remote_next_start(&pg, json_object_array_length(list))) > 0) {
		if (++pages > REMOTE_MAX_PAGES) {
			res->cls = HTTP_CLASS_PERMANENT;
			util_format(res->error, sizeof(res->error), "%s: the list has more than %d "
			    "pages", what, REMOTE_MAX_PAGES);
			return -1;
		}
		rc = remote_call(r, set, hc, op, user, NULL, g, &ex, &resp, res);
		if (rc == 0 && !template_is_success(set->t[op], resp.status))
			rc = remote_status_error(res, what, &resp);
		root = rc == 0 ? remote_parse_answer(what, &resp, res) : NULL;
		http_response_free(&resp);
		if (root == NULL)
			return -1;
		more = remote_list_at(root, head, &pg);
		if (more == NULL || pg.start != ex.start) {
			res->cls = HTTP_CLASS_PERMANENT;
			util_format(res->error, sizeof(res->error), "%s: the page at startIndex "
			    "%lld is not that page of the list", what, (long long)ex.start);
			rc = -1;
		}
		for (i = 0; rc == 0 && i < pg.len; i++) {
			if (json_object_array_add(list,
			    json_object_get(json_object_array_get_idx(more, i))) != 0)
				rc = -1;
		}
		json_object_put(root);
	}
	return rc;
}

/*
 * A find's answer. When its "id" goes through a list ("/Resources/0/id",
 * "/0/id"), the list says how many records match: none, one (its ID), or
 * several, which is an ambiguity (a PERMANENT failure naming them), not a
 * pick: linking the wrong record would sync one person into another's
 * account. The one exception is "prefer": of several, the single record
 * whose value at its pointer is the user's (e.g. externalId) is the one;
 * every page of a paged answer is read to look for it. 1 with
 * res->remote_id, 0 for none, -1.
 */
static int
remote_find_read(struct remote *r, const struct remote_set *set, struct http_client *hc,
    enum remote_op op, json_object *user, const struct template_group *g,
    const struct http_response *resp, const char *prefer, struct remote_result *res)
{
	const struct template *t = set->t[op];
	const char *what = remote_files[op], *id = template_id_pointer(t);
	const char *pref = template_prefer_pointer(t);
	long n = template_id_list_len(id);
	json_object *root = remote_parse_answer(what, resp, res), *list = NULL;
	struct remote_page pg;
	char head[260], at[300];
	size_t first = 0;
	int64_t total;
	int rc = 0;

	if (root == NULL)
		return -1;
	if (n >= 0 && (size_t)n < sizeof(head)) {
		memcpy(head, id, (size_t)n);
		head[n] = '\0';
		list = remote_list_at(root, head, &pg);
	}
	if (list == NULL) {
		rc = remote_id_at(root, id, what, res->remote_id, res);
		if (rc == 1)
			remote_read_etag(root, id, resp, res->etag, sizeof(res->etag));
		json_object_put(root);
		return rc;
	}
	total = pg.total > (int64_t)pg.len ? pg.total : (int64_t)pg.len;
	if (total > 1 && pref != NULL && prefer != NULL)
		rc = remote_more_pages(r, set, hc, op, user, g, head, list, pg, res);
	if (rc == 0 && total > 1 && (pref == NULL || prefer == NULL ||
	    remote_prefer_count(list, pref, prefer, &first) != 1))
		rc = remote_ambiguous(res, what, list, id + n + 2, total);
	if (rc == 0 && util_format(at, sizeof(at), "%s/%zu%s", head, first, id + n + 2) < 0)
		rc = -1;
	if (rc == 0)
		rc = remote_id_at(root, at, what, res->remote_id, res);
	if (rc == 1)
		remote_read_etag(root, at, NULL, res->etag, sizeof(res->etag));
	json_object_put(root);
	return rc;
}

/* One lookup (find or find_fallback): 0 with res->found 0/1, or -1. */
static int
remote_find_one(struct remote *r, const struct remote_set *set, struct http_client *hc,
    enum remote_op op, json_object *user, const struct template_group *g,
    struct remote_result *res)
{
	const struct template *t = set->t[op];
	struct template_vars v = {user, NULL, r->cfg, g};
	struct http_response resp;
	char *prefer;
	int rc, got;

	if (template_render_prefer(t, &v, &prefer, res->error, sizeof(res->error)) < 0) {
		res->cls = HTTP_CLASS_PERMANENT;
		return -1;
	}
	rc = remote_call(r, set, hc, op, user, NULL, g, NULL, &resp, res);
	if (rc == 0 && !template_is_not_found(t, resp.status)) {
		if (!template_is_success(t, resp.status))
			rc = remote_status_error(res, remote_files[op], &resp);
		else if ((got = remote_find_read(r, set, hc, op, user, g, &resp, prefer,
		    res)) < 0)
			rc = -1;
		else
			res->found = got;
	}
	http_response_free(&resp);
	free(prefer);
	return rc;
}

/* find.json, then find_fallback.json when the first finds nothing (e.g.
 * by externalId, then by userName: a record made by hand is linked). */
static int
remote_find_in(struct remote *r, const struct remote_set *set, struct http_client *hc,
    json_object *user, struct remote_result *res)
{
	int rc;

	remote_result_init(res);
	if (set->t[OP_FIND] == NULL) {
		res->cls = HTTP_CLASS_PERMANENT;
		util_copy(res->error, sizeof(res->error), "find.json: not in GROUPSYNC_HOOKS_DIR");
		return -1;
	}
	rc = remote_find_one(r, set, hc, OP_FIND, user, NULL, res);
	if (rc < 0 || res->found || set->t[OP_FIND_FALLBACK] == NULL)
		return rc;
	return remote_find_one(r, set, hc, OP_FIND_FALLBACK, user, NULL, res);
}

int
remote_find(struct remote *r, struct http_client *hc, json_object *user,
    struct remote_result *res)
{
	struct remote_set *set = remote_set_get(r);
	int rc = remote_find_in(r, set, hc, user, res);

	remote_set_put(set);
	return rc;
}

/*
 * A 409 Conflict on create (SCIM: scimType "uniqueness") says a record
 * for this user exists: one made by hand, or by a create whose answer was
 * lost. Find it and link it, never dead-letter the user; when the finds
 * cannot see it either, the 409 is the error (permanent: a retry would
 * meet the same conflict).
 */
static int
remote_create_conflict(struct remote *r, const struct remote_set *set, struct http_client *hc,
    enum remote_op op, json_object *user, const struct template_group *g,
    struct remote_result *res)
{
	int rc = op == OP_CREATE ? remote_find_in(r, set, hc, user, res) :
	    remote_find_one(r, set, hc, OP_GROUP_FIND, NULL, g, res);

	if (rc < 0)
		return -1;
	if (!res->found) {
		res->status = 409;
		res->cls = HTTP_CLASS_PERMANENT;
		util_format(res->error, sizeof(res->error), "%s: HTTP 409 (conflict), and the "
		    "find templates do not find the record", remote_files[op]);
		return -1;
	}
	res->linked = 1;
	return 0;
}

/* create and group_create: the new ID, or a 409 linked through the finds
 * (find is the op's find template, which may be absent). */
static int
remote_create_op(struct remote *r, const struct remote_set *set, struct http_client *hc,
    enum remote_op op, enum remote_op find, json_object *user, const struct template_group *g,
    struct remote_result *res)
{
	const struct template *t = set->t[op];
	struct http_response resp;
	int rc, got;

	remote_result_init(res);
	rc = remote_call(r, set, hc, op, user, NULL, g, NULL, &resp, res);
	if (rc == 0 && resp.status == 409 && set->t[find] != NULL) {
		http_response_free(&resp);
		return remote_create_conflict(r, set, hc, op, user, g, res);
	} else if (rc == 0 && !template_is_success(t, resp.status)) {
		rc = remote_status_error(res, remote_files[op], &resp);
	} else if (rc == 0) {
		got = remote_read_id(t, remote_files[op], &resp, NULL, res->remote_id, res);
		/* The record may exist: only a find before the next create
		 * keeps a retry from making a second one. */
		if (got < 0 && set->t[find] == NULL)
			res->cls = HTTP_CLASS_PERMANENT;
		if (got == 0) {
			res->cls = HTTP_CLASS_PERMANENT;
			util_format(res->error, sizeof(res->error),
			    "%s: the answer has no ID at \"%s\"", remote_files[op],
			    template_id_pointer(t));
		}
		res->found = got > 0;
		rc = got > 0 ? 0 : -1;
	}
	http_response_free(&resp);
	return rc;
}

int
remote_create(struct remote *r, struct http_client *hc, json_object *user,
    struct remote_result *res)
{
	struct remote_set *set = remote_set_get(r);
	int rc = remote_create_op(r, set, hc, OP_CREATE, OP_FIND, user, NULL, res);

	remote_set_put(set);
	return rc;
}

/* update and delete: success, or 404/410 (gone), or a failure. */
static int
remote_change(struct remote *r, struct http_client *hc, enum remote_op op, json_object *user,
    const char *remote_id, const struct template_group *g, const struct remote_extra *ex,
    struct remote_result *res)
{
	struct remote_set *set = remote_set_get(r);
	const struct template *t = set->t[op];
	struct http_response resp;
	int rc;

	remote_result_init(res);
	if (t == NULL) { /* an optional template gone with a reload */
		res->cls = HTTP_CLASS_PERMANENT;
		util_format(res->error, sizeof(res->error), "%s: not in GROUPSYNC_HOOKS_DIR",
		    remote_files[op]);
		remote_set_put(set);
		return -1;
	}
	rc = remote_call(r, set, hc, op, user, remote_id, g, ex, &resp, res);
	if (rc == 0 && template_is_success(t, resp.status))
		res->found = 1;
	else if (rc == 0 && resp.status != 404 && resp.status != 410)
		rc = remote_status_error(res, remote_files[op], &resp);
	http_response_free(&resp);
	remote_set_put(set);
	return rc;
}

/*
 * update, with If-Match when the record's ETag is known (etag, from a
 * find of this sync). 412 Precondition Failed means the record changed
 * since that read, or the server wants an If-Match it was not sent: with
 * a find template, the record is found again and the update sent once
 * more, with the ETag just read. A find that now names another record,
 * or none, leaves the 412 as the error.
 */
int
remote_update_if(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, const char *etag, struct remote_result *res)
{
	struct remote_extra ex = {0, etag != NULL && etag[0] != '\0' ? etag : NULL};
	struct remote_result again;
	int rc = remote_change(r, hc, OP_UPDATE, user, remote_id, NULL, &ex, res);

	if (rc == 0 || res->status != 412 || !remote_has_find(r))
		return rc;
	if (remote_find(r, hc, user, &again) < 0) {
		*res = again;
		return -1;
	}
	if (!again.found || strcmp(again.remote_id, remote_id) != 0)
		return rc;
	ex.if_match = again.etag[0] != '\0' ? again.etag : NULL;
	return remote_change(r, hc, OP_UPDATE, user, remote_id, NULL, &ex, res);
}

int
remote_update(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, struct remote_result *res)
{
	return remote_update_if(r, hc, user, remote_id, NULL, res);
}

int
remote_delete(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, struct remote_result *res)
{
	return remote_change(r, hc, OP_DELETE, user, remote_id, NULL, NULL, res);
}

/* 1 when the loaded set has the op's template. */
static int
remote_has(const struct remote *r, enum remote_op op)
{
	struct remote_set *set = remote_set_get(r);
	int has = set->t[op] != NULL;

	remote_set_put(set);
	return has;
}

int
remote_has_disable(const struct remote *r)
{
	return remote_has(r, OP_DISABLE);
}

int
remote_disable(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, struct remote_result *res)
{
	return remote_change(r, hc, OP_DISABLE, user, remote_id, NULL, NULL, res);
}

int
remote_push_groups(const struct remote *r)
{
	return remote_has(r, OP_GROUP_FIND);
}

int
remote_group_reads_members(const struct remote *r)
{
	struct remote_set *set = remote_set_get(r);
	int reads = set->t[OP_GROUP_ADD] != NULL &&
	    (template_reads_members(set->t[OP_GROUP_ADD]) ||
	    template_reads_members(set->t[OP_GROUP_REMOVE]));

	remote_set_put(set);
	return reads;
}

int
remote_group_find(struct remote *r, struct http_client *hc, const struct template_group *g,
    struct remote_result *res)
{
	struct remote_set *set = remote_set_get(r);
	int rc;

	remote_result_init(res);
	rc = remote_find_one(r, set, hc, OP_GROUP_FIND, NULL, g, res);
	remote_set_put(set);
	return rc;
}

int
remote_group_create(struct remote *r, struct http_client *hc, const struct template_group *g,
    struct remote_result *res)
{
	struct remote_set *set = remote_set_get(r);
	int rc = remote_create_op(r, set, hc, OP_GROUP_CREATE, OP_GROUP_FIND, NULL, g, res);

	remote_set_put(set);
	return rc;
}

int
remote_group_rename(struct remote *r, struct http_client *hc, const struct template_group *g,
    struct remote_result *res)
{
	return remote_change(r, hc, OP_GROUP_UPDATE, NULL, NULL, g, NULL, res);
}

int
remote_group_member(struct remote *r, struct http_client *hc, const struct template_group *g,
    const char *member_remote_id, int add, struct remote_result *res)
{
	return remote_change(r, hc, add ? OP_GROUP_ADD : OP_GROUP_REMOVE, NULL, member_remote_id,
	    g, NULL, res);
}

int
remote_has_group_get(const struct remote *r)
{
	return remote_has(r, OP_GROUP_GET);
}

/* The member IDs of a group_get answer's list (all its pages) into out. */
static int
remote_group_members_read(struct remote *r, const struct remote_set *set,
    struct http_client *hc, const struct template_group *g, const struct http_response *resp,
    json_object *out, struct remote_result *res)
{
	const struct template *t = set->t[OP_GROUP_GET];
	const char *what = remote_files[OP_GROUP_GET], *ptr = template_members_pointer(t);
	json_object *root = remote_parse_answer(what, resp, res), *list;
	char id[REMOTE_ID_MAX + 1];
	struct remote_page pg;
	size_t i;
	int rc = 0, got;

	if (root == NULL)
		return -1;
	list = remote_list_at(root, ptr, &pg);
	if (list == NULL) {
		json_object *v = NULL;

		/* a group without members may leave the attribute out */
		if (json_pointer_get(root, ptr, &v) == 0 && v != NULL) {
			res->cls = HTTP_CLASS_PERMANENT;
			util_format(res->error, sizeof(res->error), "%s: the value at \"%s\" is no "
			    "list", what, ptr);
			rc = -1;
		}
		json_object_put(root);
		return rc;
	}
	rc = remote_more_pages(r, set, hc, OP_GROUP_GET, NULL, g, ptr, list, pg, res);
	for (i = 0; rc == 0 && i < json_object_array_length(list); i++) {
		got = remote_id_at(json_object_array_get_idx(list, i),
		    template_member_id_pointer(t), what, id, res);
		if (got < 0 || (got == 1 && json_object_array_add(out,
		    json_object_new_string(id)) != 0))
			rc = -1;
	}
	json_object_put(root);
	return rc;
}

int
remote_group_get(struct remote *r, struct http_client *hc, const struct template_group *g,
    json_object **members, struct remote_result *res)
{
	struct remote_set *set = remote_set_get(r);
	struct http_response resp;
	int rc;

	remote_result_init(res);
	*members = NULL;
	if (set->t[OP_GROUP_GET] == NULL) {
		res->cls = HTTP_CLASS_PERMANENT;
		util_copy(res->error, sizeof(res->error), "group_get.json: not in "
		    "GROUPSYNC_HOOKS_DIR");
		remote_set_put(set);
		return -1;
	}
	rc = remote_call(r, set, hc, OP_GROUP_GET, NULL, NULL, g, NULL, &resp, res);
	if (rc == 0 && (resp.status == 404 || resp.status == 410)) {
		rc = 0; /* the group is gone: found 0 */
	} else if (rc == 0 && !template_is_success(set->t[OP_GROUP_GET], resp.status)) {
		rc = remote_status_error(res, remote_files[OP_GROUP_GET], &resp);
	} else if (rc == 0) {
		*members = json_object_new_array();
		rc = *members != NULL ? remote_group_members_read(r, set, hc, g, &resp,
		    *members, res) : -1;
		res->found = rc == 0;
		if (rc < 0) {
			json_object_put(*members);
			*members = NULL;
		}
	}
	http_response_free(&resp);
	remote_set_put(set);
	return rc;
}

int
remote_fingerprint(struct remote *r, json_object *user, const char *remote_id, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct template_vars v = {user, remote_id, r->cfg, NULL};
	struct template_request tr;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int i, mdlen = 0;
	EVP_MD_CTX *ctx;
	struct remote_set *set;
	char err[256];
	int ok;

	out[0] = '\0';
	set = remote_set_get(r);
	ok = template_render(set->t[OP_UPDATE], &v, &tr, err, sizeof(err));
	remote_set_put(set);
	if (ok < 0)
		return -1;
	/* NUL after method and URL: two different requests never hash the
	 * same bytes. */
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, tr.method, strlen(tr.method) + 1) &&
	    EVP_DigestUpdate(ctx, tr.url, strlen(tr.url) + 1) &&
	    (tr.body == NULL || EVP_DigestUpdate(ctx, tr.body, tr.body_len)) &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	template_request_free(&tr);
	if (!ok)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

int
remote_uses_any(const struct remote *r, const char *changed)
{
	const char *p = changed;
	struct remote_set *set;
	size_t n, i;
	int uses = 0;

	if (changed == NULL)
		return 1;
	set = remote_set_get(r);
	while (*p != '\0' && !uses) {
		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		for (i = 0; i < set->nattrs && !uses; i++)
			uses = n > 0 && strlen(set->attrs[i]) == n &&
			    strncmp(set->attrs[i], p, n) == 0;
		p += strcspn(p, ",");
	}
	remote_set_put(set);
	return uses;
}
