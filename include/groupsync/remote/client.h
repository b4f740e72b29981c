/*
 * remote: the remote system's client, driven by the request templates in
 * GROUPSYNC_HOOKS_DIR (create, update, delete required; find.json and
 * find_fallback.json optional, tried in that order; disable.json required
 * when GROUPSYNC_DEPROVISION=disable; the group_*.json files with
 * GROUPSYNC_PUSH_GROUPS=1, group_get.json optional) and by the remote
 * auth settings (none, basic, bearer, custom header, or OAuth 2.0 client credentials with a cached token; the
 * client authenticates to the token endpoint with client_secret_basic:
 * HTTP Basic with the form-encoded ID and secret).
 *
 * Threads: one struct remote is shared by all workers; calls take the
 * caller's http_client. The OAuth token cache is guarded.
 */
#ifndef GROUPSYNC_REMOTE_H
#define GROUPSYNC_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/remote/template.h"

#define REMOTE_ID_MAX 255
#define REMOTE_ETAG_MAX 127 /* a longer ETag is not used */

struct remote;

/*
 * Loads and checks the templates, and the auth settings. cfg is borrowed:
 * it must outlive the struct remote. Every template is also rendered once
 * for a blank user, so that a missing {{env.*}} value or a refused URL
 * fails here, at start-up, not on every job. NULL + err (naming the file
 * or setting) on failure.
 */
struct remote *remote_new(const struct config *cfg, char *err, size_t errlen);
void remote_free(struct remote *r);

/*
 * Loads GROUPSYNC_HOOKS_DIR again (SIGHUP), checked as remote_new checks
 * it, and puts the new set in place for the calls that start from now
 * on; calls in flight finish with the set they began with. On failure
 * (-1 + err naming the file) the loaded set stays. Thread-safe.
 */
int remote_reload(struct remote *r, char *err, size_t errlen);

struct remote_result {
	enum http_class cls;
	long status;
	/* find: a record matched; update, delete: 1 done, 0 already gone */
	int found;
	/* create: the create met a 409 and the finds linked the existing
	 * record (remote_id): it may differ from Okta, update it */
	int linked;
	char remote_id[REMOTE_ID_MAX + 1]; /* find, create: the ID */
	/* find: the record's ETag (its meta.version, or the answer's ETag
	 * header), "" when the server gave none */
	char etag[REMOTE_ETAG_MAX + 1];
	int64_t retry_at_ms;            /* from Retry-After, 0 otherwise */
	char error[256];
};

/*
 * The request a call would send, for `groupsync sync --dry-run`: file is
 * "find.json", "create.json", "update.json" or "delete.json". The auth
 * header is added with its value replaced by "[redacted]" (nothing is
 * fetched: an OAuth 2.0 token shows as "Bearer [redacted]"); {{env.*}}
 * secrets in the rest are the caller's to redact (log_fput_redacted).
 * Returns 1 with *out filled (free with template_request_free), 0 when
 * the set has no such template, -1 with err.
 */
struct template_request;
int remote_render(struct remote *r, const char *file, json_object *user,
    const char *remote_id, struct template_request *out, char *err, size_t errlen);

/* 1 when the set has a find template. */
int remote_has_find(const struct remote *r);

/*
 * find (find.json, then find_fallback.json): 0 with found 0/1, -1 on
 * failure (res->cls says retry or not). An answer that lists several
 * records is an ambiguity (-1, PERMANENT, the error names them) unless
 * "prefer" singles one out; a paged SCIM list is read to its end then.
 */
int remote_find(struct remote *r, struct http_client *hc, json_object *user,
    struct remote_result *res);
/* create: 0 with remote_id filled, -1 on failure. A 409 with a find
 * template runs the finds: 0 with linked 1 when they find the record. */
int remote_create(struct remote *r, struct http_client *hc, json_object *user,
    struct remote_result *res);
/* update: 0 with found 1 on success, or 0 with found 0 when the remote
 * answered 404 or 410 (the record is gone: the caller recreates), -1 on
 * failure. */
int remote_update(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, struct remote_result *res);
/* update with "If-Match: etag" when etag is not NULL or "" (the ETag a
 * find of this sync read); a 412 runs the find again and retries once
 * with the new ETag (remote_update does too, without an ETag first). */
int remote_update_if(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, const char *etag, struct remote_result *res);
/* delete: 0 with found 1 when deleted, 0 with found 0 on 404 or 410
 * (already gone), -1 on failure. */
int remote_delete(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, struct remote_result *res);

/* 1 when the set has a disable template. */
int remote_has_disable(const struct remote *r);
/* disable: like delete (found 0 on 404 or 410), with disable.json. */
int remote_disable(struct remote *r, struct http_client *hc, json_object *user,
    const char *remote_id, struct remote_result *res);

/*
 * Group push (GROUPSYNC_PUSH_GROUPS=1: the group_*.json templates are
 * required then). g names the group: its Okta ID and name, and (rename,
 * member) its remote ID. group_find: 0 with found 0/1; group_create: 0
 * with remote_id (a 409 runs group_find: linked 1); rename and member:
 * 0 with found 1, or found 0 on 404 or 410 (the group, or for a removal
 * the membership, is gone). -1 on failure, as for users.
 */
int remote_push_groups(const struct remote *r);
/* 1 when group_add_member or group_remove_member reads {{group.members}}
 * (the whole member list, for APIs that cannot add or remove one): the
 * caller then fills g->members with the list after the change. */
int remote_group_reads_members(const struct remote *r);
int remote_group_find(struct remote *r, struct http_client *hc, const struct template_group *g,
    struct remote_result *res);
int remote_group_create(struct remote *r, struct http_client *hc,
    const struct template_group *g, struct remote_result *res);
int remote_group_rename(struct remote *r, struct http_client *hc,
    const struct template_group *g, struct remote_result *res);
int remote_group_member(struct remote *r, struct http_client *hc,
    const struct template_group *g, const char *member_remote_id, int add,
    struct remote_result *res);

/*
 * Reconcile's drift repair: group_get.json (optional) reads the remote
 * group's members in one request (every page of a SCIM list answer when
 * "members" is "/Resources"). 0 with found 1 and *members a new array of
 * the member IDs as strings (put it), or found 0 on 404 or 410 (the
 * group is gone; *members NULL); -1 on failure.
 */
int remote_has_group_get(const struct remote *r);
int remote_group_get(struct remote *r, struct http_client *hc, const struct template_group *g,
    json_object **members, struct remote_result *res);

/*
 * A fingerprint (hex SHA-256, 64 chars + NUL) of the update request that
 * would be sent for this user (method, URL and body): equal fingerprints
 * mean nothing to update. Returns 0, or -1 (out "") when the update
 * template cannot be rendered for this user (or hashing fails).
 */
int remote_fingerprint(struct remote *r, json_object *user, const char *remote_id,
    char out[65]);

/* 1 when the comma-separated attribute list names an attribute any
 * template reads (user.profile.NAME). changed NULL (unknown) gives 1. */
int remote_uses_any(const struct remote *r, const char *changed);

#endif
