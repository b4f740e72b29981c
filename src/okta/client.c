/*
 * okta/client: the Okta management API calls groupsync makes (read a user,
 * its groups, a group's members; write one profile attribute), their
 * paging, and the okta handle's lifecycle. The rate budget is rate.c, the
 * gate every call passes send.c, the reading of answers response.c; how
 * each call is authenticated is auth.c (and jws.c).
 */
#include "groupsync/okta/client.h"

#include <stdlib.h>
#include <string.h>

#include "groupsync/base/url.h"
#include "groupsync/base/util.h"
#include "groupsync/okta/auth.h"
#include "groupsync/okta/rate.h"
#include "groupsync/okta/response.h"
#include "groupsync/okta/send.h"

/* Members per page of GET /api/v1/groups/{id}/users: 1000, the largest
 * (and default) page Okta's reference gives for it, so that a listing
 * costs a fifth of the requests of 200 (Okta recommends 200 for speed of
 * each answer; the budget is in requests, not in users). */
#define OKTA_PAGE_LIMIT "1000"
#define OKTA_MAX_PAGES 10000 /* 2 million members: anything more is a loop */
#define OKTA_ID_MAX 128      /* IDs in paths; Okta's are 20 characters */
#define OKTA_WHAT_MAX 160    /* "GET user 00u...": names the call in errors */

struct okta {
	struct okta_auth auth;
	struct okta_rate rate;
	char *groups[CONFIG_GROUPS_MAX];
	size_t ngroups;
	_Atomic uint64_t reads, writes;
};

/* One API call, as okta_call makes it. */
struct okta_req {
	const char *what;   /* "GET user 00u..." */
	const char *method;
	const char *url;
	const char *body;   /* JSON, or NULL */
};

/* ---- calls --------------------------------------------------------------- */

static void
okta_result_ok(struct okta_result *res)
{
	memset(res, 0, sizeof(*res));
	res->cls = HTTP_CLASS_OK;
}

static const char *
okta_hint401(const struct okta *o)
{
	return o->auth.ssws ? "API token rejected: check GROUPSYNC_OKTA_API_TOKEN" :
	    "access token rejected even after a refresh";
}

static int
okta_exchange(struct okta *o, struct http_client *hc, const struct okta_req *q,
    const struct okta_cred *c, struct http_response *resp, struct okta_result *res)
{
	struct http_request req;
	size_t i = 0;

	memset(&req, 0, sizeof(req));
	req.method = q->method;
	req.url = q->url;
	req.headers[i++] = "Accept: application/json";
	req.headers[i++] = c->authorization;
	if (c->dpop != NULL)
		req.headers[i++] = c->dpop;
	if (q->body != NULL) {
		req.headers[i++] = "Content-Type: application/json";
		req.body = q->body;
		req.body_len = strlen(q->body);
	}
	if (okta_send(&o->rate, hc, &req, resp, res, q->what, NULL) < 0)
		return -1;
	atomic_fetch_add(strcmp(q->method, "GET") == 0 ? &o->reads : &o->writes, 1);
	okta_auth_note_nonce(&o->auth, resp);
	return 0;
}

/*
 * One API call with credentials, and one more try on a 401 that a fresh
 * credential can cure: a DPoP challenge (new proof, with the nonce that
 * came with it) or, with OAuth, a token Okta no longer accepts (dropped
 * and fetched again). Returns 0 when Okta answered (resp to free; any
 * status), -1 with res filled when it did not.
 */
static int
okta_call(struct okta *o, struct http_client *hc, const struct okta_req *q,
    struct http_response *resp, struct okta_result *res)
{
	struct okta_cred c;
	char why[sizeof(res->error)];
	int attempt, rc;

	for (attempt = 0;; attempt++) {
		if (okta_auth_begin(&o->auth, hc, q->method, q->url, &c, res) < 0) {
			util_copy(why, sizeof(why), res->error);
			util_format(res->error, sizeof(res->error), "%s: %s", q->what, why);
			return -1;
		}
		rc = okta_exchange(o, hc, q, &c, resp, res);
		if (rc < 0 || resp->status != 401 || o->auth.ssws != NULL || attempt > 0)
			break;
		if (!okta_auth_dpop_challenge(resp))
			okta_auth_invalidate(&o->auth, c.gen);
		okta_cred_clear(&c);
		http_response_free(resp);
	}
	okta_cred_clear(&c);
	return rc;
}

/* org + prefix + escaped id + suffix. */
static int
okta_url(const struct okta *o, char *url, size_t len, const char *prefix, const char *id,
    const char *suffix, const char *what, struct okta_result *res)
{
	char esc[OKTA_ID_MAX * 3 + 1];

	if (id == NULL || id[0] == '\0' || strlen(id) > OKTA_ID_MAX ||
	    http_url_escape(id, esc, sizeof(esc)) < 0 ||
	    util_format(url, len, "%s%s%s%s", o->auth.org, prefix, esc, suffix) < 0)
		return okta_result_fail(res, HTTP_CLASS_PERMANENT, what, "ID empty or too long");
	return 0;
}

static void
okta_what(char *what, size_t len, const char *verb, const char *id)
{
	util_format(what, len, "%s %.64s", verb, id ? id : "(none)");
}

int
okta_get_user(struct okta *o, struct http_client *hc, const char *user_id, json_object **user,
    struct okta_result *res)
{
	struct okta_req q = {0};
	struct http_response resp;
	char url[OKTA_URL_MAX], what[OKTA_WHAT_MAX];
	int rc = -1;

	*user = NULL;
	okta_result_ok(res);
	okta_what(what, sizeof(what), "GET user", user_id);
	if (okta_url(o, url, sizeof(url), "/api/v1/users/", user_id, "", what, res) < 0)
		return -1;
	q = (struct okta_req){what, "GET", url, NULL};
	if (okta_call(o, hc, &q, &resp, res) < 0)
		return -1;
	res->status = resp.status;
	if (resp.status == 404) {
		rc = 0; /* deleted: the caller converges to "gone" */
	} else if (resp.status >= 200 && resp.status < 300) {
		*user = okta_json_parse(resp.body, resp.body_len);
		if (json_object_is_type(*user, json_type_object))
			rc = 0;
		else
			okta_result_fail(res, HTTP_CLASS_RETRY, what, "answer is not a JSON object");
	} else {
		okta_result_fill(res, what, &resp, okta_hint401(o));
	}
	if (rc < 0) {
		json_object_put(*user);
		*user = NULL;
	}
	http_response_free(&resp);
	return rc;
}

/*
 * {"profile":{"<attr>":value}}, built by json-c so that a value can never
 * break out of its string; value NULL gives JSON null. malloc'd.
 */
static char *
okta_profile_body(const char *attr, const char *value)
{
	json_object *root = json_object_new_object(), *profile = json_object_new_object();
	json_object *v = value ? json_object_new_string(value) : NULL;
	const char *s = NULL;
	char *body = NULL;

	if (root != NULL && profile != NULL && (value == NULL || v != NULL) &&
	    json_object_object_add(profile, attr, json_object_get(v)) == 0 &&
	    json_object_object_add(root, "profile", json_object_get(profile)) == 0)
		s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		body = strdup(s);
	json_object_put(v);
	json_object_put(profile);
	json_object_put(root);
	return body;
}

int
okta_set_profile_attr(struct okta *o, struct http_client *hc, const char *user_id,
    const char *attr, const char *value, struct okta_result *res)
{
	struct okta_req q = {0};
	struct http_response resp;
	char url[OKTA_URL_MAX], what[OKTA_WHAT_MAX], *body = NULL;
	int rc = -1;

	okta_result_ok(res);
	okta_what(what, sizeof(what), "POST user", user_id);
	if (okta_url(o, url, sizeof(url), "/api/v1/users/", user_id, "", what, res) < 0)
		return -1;
	if (attr != NULL && attr[0] != '\0')
		body = okta_profile_body(attr, value);
	if (body == NULL)
		return okta_result_fail(res, HTTP_CLASS_PERMANENT, what, "cannot build the body");
	q = (struct okta_req){what, "POST", url, body};
	if (okta_call(o, hc, &q, &resp, res) < 0)
		goto out;
	res->status = resp.status;
	if (resp.status >= 200 && resp.status < 300)
		rc = 0;
	else
		okta_result_fill(res, what, &resp, okta_hint401(o));
	http_response_free(&resp);
out:
	free(body);
	return rc;
}

/*
 * GETs first and every page after it (Link rel="next", followed verbatim
 * but only on the org's origin), calling page for each JSON array:
 * page returns 1 to stop early, 0 for more, -1 on failure (res filled).
 */
static int
okta_walk(struct okta *o, struct http_client *hc, const char *what, const char *first,
    int (*page)(struct okta *, json_object *, void *, struct okta_result *),
    void *arg, struct okta_result *res)
{
	char url[OKTA_URL_MAX], next[OKTA_URL_MAX];
	struct http_response resp;
	struct okta_req q;
	json_object *items;
	int n, rc, link;

	util_copy(url, sizeof(url), first);
	for (n = 0; n < OKTA_MAX_PAGES; n++) {
		q = (struct okta_req){what, "GET", url, NULL};
		if (okta_call(o, hc, &q, &resp, res) < 0)
			return -1;
		res->status = resp.status;
		if (resp.status < 200 || resp.status >= 300) {
			okta_result_fill(res, what, &resp, okta_hint401(o));
			http_response_free(&resp);
			return -1;
		}
		items = okta_json_parse(resp.body, resp.body_len);
		link = okta_parse_link_next(&resp, o->auth.org, next, sizeof(next));
		http_response_free(&resp);
		if (!json_object_is_type(items, json_type_array)) {
			json_object_put(items);
			return okta_result_fail(res, HTTP_CLASS_RETRY, what, "answer is not a JSON array");
		}
		rc = page(o, items, arg, res);
		json_object_put(items);
		if (rc != 0 || link == 0)
			return rc < 0 ? -1 : 0;
		/* A link elsewhere would carry the token there; a partial member
		 * list must not pass for a whole one either: fail. */
		if (link < 0 || strcmp(next, url) == 0)
			return okta_result_fail(res, HTTP_CLASS_PERMANENT, what,
			    "next-page link refused (not on the org URL, or malformed)");
		util_copy(url, sizeof(url), next);
	}
	return okta_result_fail(res, HTTP_CLASS_PERMANENT, what, "too many pages");
}

static int
okta_groups_page(struct okta *o, json_object *items, void *arg, struct okta_result *res)
{
	int *member = arg;
	const char *id;
	size_t i, j;

	(void)res;
	for (i = 0; i < json_object_array_length(items); i++) {
		id = okta_jstr(json_object_array_get_idx(items, i), "id");
		for (j = 0; id != NULL && j < o->ngroups; j++) {
			if (strcmp(id, o->groups[j]) == 0) {
				*member = 1;
				return 1; /* no need for the other pages */
			}
		}
	}
	return 0;
}

/*
 * Walks GET /api/v1/users/{id}/groups with page. A 404 (the user is
 * deleted: a member of nothing) is 0 with res->status 404; the caller
 * clears what page filled.
 */
static int
okta_walk_user_groups(struct okta *o, struct http_client *hc, const char *user_id,
    int (*page)(struct okta *, json_object *, void *, struct okta_result *), void *arg,
    struct okta_result *res)
{
	char url[OKTA_URL_MAX], what[OKTA_WHAT_MAX];

	okta_result_ok(res);
	okta_what(what, sizeof(what), "GET groups of user", user_id);
	if (okta_url(o, url, sizeof(url), "/api/v1/users/", user_id, "/groups", what, res) < 0)
		return -1;
	if (okta_walk(o, hc, what, url, page, arg, res) == 0)
		return 0;
	if (res->status != 404)
		return -1;
	okta_result_ok(res);
	res->status = 404;
	return 0;
}

int
okta_user_in_groups(struct okta *o, struct http_client *hc, const char *user_id, int *member,
    struct okta_result *res)
{
	*member = 0;
	if (okta_walk_user_groups(o, hc, user_id, okta_groups_page, member, res) < 0)
		return -1;
	if (res->status == 404)
		*member = 0;
	return 0;
}

static int
okta_user_groups_page(struct okta *o, json_object *items, void *arg, struct okta_result *res)
{
	struct okta_membership *m = arg;
	json_object *g, *profile;
	const char *id, *name;
	size_t i, j;

	(void)res;
	for (i = 0; i < json_object_array_length(items); i++) {
		g = json_object_array_get_idx(items, i);
		id = okta_jstr(g, "id");
		name = json_object_object_get_ex(g, "profile", &profile) ?
		    okta_jstr(profile, "name") : NULL;
		for (j = 0; id != NULL && j < o->ngroups; j++) {
			if (strcmp(id, o->groups[j]) == 0) {
				m->member = 1;
				m->in[j] = 1;
				util_copy(m->name[j], sizeof(m->name[j]), name != NULL ? name : id);
			}
		}
	}
	return 0;
}

int
okta_user_groups(struct okta *o, struct http_client *hc, const char *user_id,
    struct okta_membership *m, struct okta_result *res)
{
	memset(m, 0, sizeof(*m));
	if (okta_walk_user_groups(o, hc, user_id, okta_user_groups_page, m, res) < 0)
		return -1;
	if (res->status == 404)
		memset(m, 0, sizeof(*m));
	return 0;
}

struct okta_members {
	int (*fn)(json_object *user, void *arg);
	void *arg;
	const char *what;
};

static int
okta_members_page(struct okta *o, json_object *items, void *arg, struct okta_result *res)
{
	struct okta_members *m = arg;
	json_object *user;
	size_t i;

	(void)o;
	for (i = 0; i < json_object_array_length(items); i++) {
		user = json_object_array_get_idx(items, i);
		if (!json_object_is_type(user, json_type_object))
			continue;
		if (m->fn(user, m->arg) < 0)
			return okta_result_fail(res, HTTP_CLASS_PERMANENT, m->what,
			    "stopped by the caller");
	}
	return 0;
}

int
okta_list_group_users(struct okta *o, struct http_client *hc, const char *group_id,
    int (*fn)(json_object *user, void *arg), void *arg, struct okta_result *res)
{
	char url[OKTA_URL_MAX], what[OKTA_WHAT_MAX];
	struct okta_members m = {fn, arg, what};

	okta_result_ok(res);
	okta_what(what, sizeof(what), "GET members of group", group_id);
	if (okta_url(o, url, sizeof(url), "/api/v1/groups/", group_id,
	    "/users?limit=" OKTA_PAGE_LIMIT, what, res) < 0)
		return -1;
	return okta_walk(o, hc, what, url, okta_members_page, &m, res);
}

/* Its bucket is the path's, as for every call (okta_bucket_of). */
int
okta_request(struct okta *o, struct http_client *hc, const char *method, const char *path,
    const char *body, struct http_response *resp, struct okta_result *res)
{
	struct okta_req q;
	char url[OKTA_URL_MAX], what[OKTA_WHAT_MAX];

	okta_result_ok(res);
	util_format(what, sizeof(what), "%s %.120s", method, path);
	if (path[0] != '/' || util_format(url, sizeof(url), "%s%s", o->auth.org, path) < 0)
		return okta_result_fail(res, HTTP_CLASS_PERMANENT, what, "bad or too long path");
	q = (struct okta_req){what, method, url, body};
	if (okta_call(o, hc, &q, resp, res) < 0)
		return -1;
	res->status = resp->status;
	if (resp->status < 200 || resp->status >= 300)
		okta_result_fill(res, what, resp, okta_hint401(o));
	return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

struct okta *
okta_new(const struct config *cfg, char *err, size_t errlen)
{
	struct okta *o = calloc(1, sizeof(*o));
	char why[160];
	size_t i;

	if (o == NULL) {
		util_format(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&o->reads, 0);
	atomic_init(&o->writes, 0);
	okta_rate_init(&o->rate, cfg->okta_rate_share, cfg->okta_concurrency);
	if (okta_auth_init(&o->auth, cfg, &o->rate, err, errlen) < 0)
		goto fail;
	/* config_load checked it; a caller that built cfg itself may not have */
	if (url_check(o->auth.org, cfg->allow_insecure_http, why, sizeof(why)) < 0) {
		util_format(err, errlen, "GROUPSYNC_OKTA_ORG_URL: %s", why);
		goto fail;
	}
	for (i = 0; i < cfg->ngroup_ids && i < CONFIG_GROUPS_MAX; i++) {
		o->groups[i] = strdup(cfg->group_ids[i]);
		if (o->groups[i] == NULL) {
			util_format(err, errlen, "out of memory");
			goto fail;
		}
		o->ngroups++;
	}
	return o;
fail:
	okta_free(o);
	return NULL;
}

void
okta_free(struct okta *o)
{
	size_t i;

	if (o == NULL)
		return;
	okta_auth_free(&o->auth);
	okta_rate_destroy(&o->rate);
	for (i = 0; i < o->ngroups; i++)
		free(o->groups[i]);
	free(o);
}

void
okta_get_stats(struct okta *o, struct okta_stats *out)
{
	out->reads = atomic_load(&o->reads);
	out->writes = atomic_load(&o->writes);
	out->token_requests = atomic_load(&o->auth.token_requests);
	out->rate_limited = atomic_load(&o->rate.rate_limited);
	out->deferred = atomic_load(&o->rate.deferred);
	out->rate_remaining = atomic_load(&o->rate.last_remaining);
	okta_rate_stats(&o->rate, util_now_ms(), out->buckets);
}

int
okta_check_scopes(struct okta *o, struct http_client *hc, char *out, size_t outlen)
{
	return okta_auth_scopes(&o->auth, hc, out, outlen);
}
