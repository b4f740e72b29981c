/*
 * template: one request template of hooks/<set>/<op>.json, loaded and
 * rendered. A template is a JSON object:
 *
 *   {
 *     "method": "POST",
 *     "url": "{{env.REMOTE_BASE_URL}}/users",
 *     "headers": {"Content-Type": "application/json"},
 *     "body": {"firstName": "{{user.profile.firstName}}", ...},
 *     "success": [200, 201],
 *     "id": "/id"
 *   }
 *
 * Placeholders: {{user.id}}, {{user.status}}, {{user.profile.NAME}},
 * {{remote.id}}, {{env.REMOTE_NAME}}, and for group push {{group.id}},
 * {{group.name}}, {{group.remote_id}} (strings, like {{remote.id}}) and
 * {{group.members}} (a JSON array of the members' remote IDs, for APIs
 * that replace a group's whole member list). Every "{{" must open one of these
 * (no escape), checked at load time.
 *
 * - URL: {{env.*}} values go in unencoded (they are the operator's, e.g.
 *   a base URL with a path); {{user.*}} and {{remote.id}} values are
 *   percent-encoded, and a value "." or ".." is encoded too ("%2E"), so
 *   that it is never a dot segment. The scheme (http:// or https://) and
 *   the host must come from the template's literal text or {{env.*}},
 *   before any user or remote value.
 * - Headers: a value is inserted as is; a header whose value holds CR, LF
 *   or NUL is refused. At most 16 headers per template. A template with a
 *   body and no Content-Type header gets "Content-Type: application/json".
 * - Body: a string that is exactly one placeholder becomes the JSON value
 *   (string, number, boolean, null, or even an array or object), and a
 *   placeholder inside a longer string is inserted as text, JSON-escaped
 *   by construction. A placeholder may not be an object key. "body": null
 *   (or no "body") means no body; a GET template may not have one.
 * - An absent or null {{user.profile.NAME}} renders as JSON null when it
 *   is a whole body value, and as "" in a URL, a header or a longer
 *   string. Any other placeholder without a value (a missing or empty
 *   user.id or user.status, no remote ID, an unset env.REMOTE_NAME) is an
 *   error naming it.
 *
 * "success" lists the statuses that mean success (default: any 2xx), "id"
 * is a JSON Pointer (RFC 6901) to the remote ID in the answer (create,
 * find), and for find, "not_found" may list statuses that mean "no such
 * user" (e.g. [404]); an empty array or a missing pointer target also
 * means not found.
 * group_get has "members", a pointer to the member list in the answer,
 * and "member_id", a pointer to the ID in each member.
 *
 * Threads: a loaded template is read-only; render from any thread.
 */
#ifndef GROUPSYNC_TEMPLATE_H
#define GROUPSYNC_TEMPLATE_H

#include <stddef.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"

#define TEMPLATE_MAX_STATUSES 16
#define TEMPLATE_MAX_ATTRS 64

struct template;

/* Loads and checks one file. NULL + err (naming the file) on failure. */
struct template *template_load(const char *path, char *err, size_t errlen);
void template_free(struct template *t);

/* A group's values ({{group.*}}), borrowed; NULL or "" when unknown. */
struct template_group {
	const char *id;        /* the Okta group ID */
	const char *name;      /* its name in Okta */
	const char *remote_id; /* the remote group's ID */
	json_object *members;  /* array of member remote IDs; NULL: not built */
};

/* The values placeholders read. user is borrowed (an Okta user object). */
struct template_vars {
	json_object *user;
	const char *remote_id;    /* NULL when unknown */
	const struct config *cfg; /* {{env.REMOTE_*}} via config_remote_value */
	const struct template_group *group; /* NULL: not a group request */
};

/* A rendered request: strings owned, free with template_request_free. */
struct template_request {
	char *method;
	char *url;
	char *headers[HTTP_MAX_HEADERS]; /* "Name: value", NULL-ended */
	char *body;                      /* NULL when the template has none */
	size_t body_len;
};

int template_render(const struct template *t, const struct template_vars *v,
    struct template_request *out, char *err, size_t errlen);
void template_request_free(struct template_request *r);

/* Fills http_request fields pointing into r (valid while r lives). */
void template_request_to_http(const struct template_request *r, struct http_request *h);

/* 1 when status means success for this template. */
int template_is_success(const struct template *t, long status);
/* 1 when status means "not found" (find templates). */
int template_is_not_found(const struct template *t, long status);
/* 1 when the template reads {{group.members}}. */
int template_reads_members(const struct template *t);
/* The JSON Pointer to the remote ID, or NULL. */
const char *template_id_pointer(const struct template *t);
/* "members" and "member_id" (group_get): the pointer to the member list
 * in the answer, and to the ID in each member; NULL when absent. */
const char *template_members_pointer(const struct template *t);
const char *template_member_id_pointer(const struct template *t);
/* "prefer" (find): the pointer in each listed record, NULL when none. */
const char *template_prefer_pointer(const struct template *t);
/* Renders "prefer"'s "equals" into *out (malloc'd; NULL when none). */
int template_render_prefer(const struct template *t, const struct template_vars *v,
    char **out, char *err, size_t errlen);
/* The length of an id pointer's list part ("/Resources" of
 * "/Resources/0/id"), -1 when it goes through no "/0" segment. */
long template_id_list_len(const char *id);

/*
 * Adds the names of the user.profile.* attributes this template reads to
 * names[] (deduplicated, at most max), updating *n.
 */
void template_profile_attrs(const struct template *t, char names[][64], size_t max,
    size_t *n);

#endif
