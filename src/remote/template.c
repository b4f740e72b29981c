/*
 * template: rendering request templates (see
 * groupsync/remote/template.h and hooks/README.md): one request for one user from a loaded template, and
 * the accessors the remote client asks (statuses, ID pointer, profile
 * attributes read); and loading one: reading the file, parsing it as
 * strict JSON, checking its keys, method, URL, headers, body and
 * statuses, and every placeholder once, recording the profile attributes
 * it reads. The placeholder grammar (template_next) is defined once, so
 * that what is checked at load time is exactly what is expanded at
 * render time: a template that loaded can never hit a placeholder the
 * renderer does not know.
 *
 * A template file is operator input read once at start-up; the values it
 * renders come from Okta (profile attributes a user may edit himself),
 * from the remote system (its IDs) and from the configuration. So values
 * are never scanned for placeholders, never change the host a request
 * goes to, never add a header, and always reach the body as JSON values.
 *
 * Decisions where the design is silent, when rendering:
 * - A profile attribute that is absent or null is JSON null when it is a
 *   whole body value, and "" in a URL, a header or a longer string.
 * - Text form of a value: strings as they are, numbers and booleans as JSON
 *   writes them. An array or object has none: it may only be a whole body
 *   value.
 * - {{env.*}} values are the operator's and go into a URL as they are
 *   (REMOTE_BASE_URL is a URL prefix); {{user.*}} and {{remote.id}} are
 *   percent-encoded, and "." or ".." encoded too, so that a value cannot
 *   climb the path. Scheme and host must come before the first such value.
 * - A rendered header value holding CR, LF or NUL is refused.
 * - A template with a body and no Content-Type header gets
 *   "Content-Type: application/json".
 *
 * and when loading:
 * - There is no escape for a literal "{{": any "{{" must open a valid
 *   placeholder, so that a typo fails at load instead of going out as text.
 *   Spaces inside the braces are allowed ("{{ user.id }}").
 * - The URL must start with text or {{env.*}}, so that the host comes
 *   from the operator (the rendered URL is checked again).
 * - A body string with a placeholder in an object key is refused.
 * - "body": null means no body; GET takes no body (libcurl would drop it).
 * - At most TEMPLATE_MAX_HEADERS headers; a value holding CR or LF is
 *   refused at load, and once rendered (CR, LF or NUL).
 * - Unknown top-level keys are refused (typos), except "description" and
 *   keys that start with "_" (comments).
 */
#include "groupsync/remote/template.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>

#include "groupsync/base/url.h"
#include "groupsync/base/buf.h"
#include "groupsync/base/util.h"

#define TEMPLATE_MAX_HEADERS 16 /* leaves room for Content-Type and auth */
#define TEMPLATE_NAME_MAX 64 /* attribute names, as template_profile_attrs */

enum tpl_kind {
	TPL_USER_ID, TPL_USER_STATUS, TPL_PROFILE, TPL_REMOTE_ID, TPL_ENV, TPL_GROUP_ID,
	TPL_GROUP_NAME, TPL_GROUP_REMOTE_ID, TPL_GROUP_MEMBERS
};

/* One placeholder in a string: where it is and what it names. */
struct tpl_ph {
	size_t start, end; /* s[start..end) is "{{...}}" */
	enum tpl_kind kind;
	char text[160];    /* canonical, e.g. "user.profile.city" */
	const char *name;  /* into text: the attribute or variable name */
	int scimfilter;    /* "|scimfilter": a SCIM filter string, escaped */
};

/*
 * A loaded template. Filled by template_load, freed by template_free,
 * read-only in between: rendering happens on any thread and never writes
 * to it, body included.
 */
struct template {
	char file[64]; /* base name, for messages */
	char method[8];
	char *url;
	char *hname[TEMPLATE_MAX_HEADERS];
	char *hvalue[TEMPLATE_MAX_HEADERS];
	size_t nheaders;
	json_object *body; /* NULL: none */
	long success[TEMPLATE_MAX_STATUSES];
	size_t nsuccess;   /* 0: any 2xx */
	long not_found[TEMPLATE_MAX_STATUSES];
	size_t nnot_found;
	char *id;          /* JSON Pointer, NULL when absent */
	int reads_members; /* reads {{group.members}} */
	char *prefer_ptr;  /* "prefer": pointer in each listed record, or NULL */
	char *prefer_eq;   /* "prefer": the value it must equal (placeholders) */
	char *members;     /* group_get: pointer to the member list, or NULL */
	char *member_id;   /* group_get: pointer to the ID in each member */
	char attrs[TEMPLATE_MAX_ATTRS][TEMPLATE_NAME_MAX];
	size_t nattrs;
};

#define TEMPLATE_MAX_FILE (64 * 1024)
#define TEMPLATE_JSON_DEPTH 32
#define TEMPLATE_ENV_MAX 128

static int
name_chars(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || (c != '\0' && strchr(extra, c) != NULL)))
			return 0;
	}
	return n > 0;
}

/* Sets ph->kind and ph->name from ph->text; -1 when it names nothing. */
static int
template_classify(struct tpl_ph *ph)
{
	const char *s = ph->text;
	size_t n;

	if (strcmp(s, "user.id") == 0) {
		ph->kind = TPL_USER_ID;
	} else if (strcmp(s, "user.status") == 0) {
		ph->kind = TPL_USER_STATUS;
	} else if (strcmp(s, "remote.id") == 0) {
		ph->kind = TPL_REMOTE_ID;
	} else if (strcmp(s, "group.id") == 0) {
		ph->kind = TPL_GROUP_ID;
	} else if (strcmp(s, "group.name") == 0) {
		ph->kind = TPL_GROUP_NAME;
	} else if (strcmp(s, "group.remote_id") == 0) {
		ph->kind = TPL_GROUP_REMOTE_ID;
	} else if (strcmp(s, "group.members") == 0) {
		ph->kind = TPL_GROUP_MEMBERS;
	} else if (strncmp(s, "user.profile.", 13) == 0) {
		n = strlen(s + 13);
		if (n >= TEMPLATE_NAME_MAX || !name_chars(s + 13, n, "-"))
			return -1;
		ph->kind = TPL_PROFILE;
		ph->name = s + 13;
	} else if (strncmp(s, "env.REMOTE_", 11) == 0) {
		n = strlen(s + 4);
		if (n >= TEMPLATE_ENV_MAX || !name_chars(s + 4, n, ""))
			return -1;
		ph->kind = TPL_ENV;
		ph->name = s + 4;
	} else {
		return -1;
	}
	return 0;
}

/* The length of the list part of an id pointer ("/Resources" of
 * "/Resources/0/id"): up to its first "/0" segment; -1 when it has none. */
long
template_id_list_len(const char *id)
{
	const char *p;

	for (p = strstr(id, "/0"); p != NULL; p = strstr(p + 1, "/0"))
		if (p[2] == '/' || p[2] == '\0')
			return (long)(p - id);
	return -1;
}

static const char *
find2(const char *s, size_t len, size_t from, char c)
{
	size_t i;

	for (i = from; i + 1 < len; i++)
		if (s[i] == c && s[i + 1] == c)
			return s + i;
	return NULL;
}

/* See template_internal.h. */
static int
template_next(const struct template *t, const char *where, const char *s, size_t len,
    size_t from, struct tpl_ph *ph, char *err, size_t errlen)
{
	const char *open, *close, *a, *b;

	open = find2(s, len, from, '{');
	if (open == NULL)
		return 0;
	close = find2(s, len, (size_t)(open - s) + 2, '}');
	if (close == NULL) {
		util_format(err, errlen, "%s: unterminated placeholder in %s", t->file, where);
		return -1;
	}
	for (a = open + 2; a < close && (*a == ' ' || *a == '\t'); a++)
		;
	for (b = close; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
		;
	memset(ph, 0, sizeof(*ph));
	if ((size_t)(b - a) >= sizeof(ph->text) || memchr(a, '\0', (size_t)(b - a)) != NULL)
		goto bad;
	memcpy(ph->text, a, (size_t)(b - a));
	if ((size_t)(b - a) > 11 && strcmp(ph->text + (b - a) - 11, "|scimfilter") == 0) {
		ph->text[(b - a) - 11] = '\0';
		ph->scimfilter = 1;
	}
	if (template_classify(ph) < 0)
		goto bad;
	if (ph->scimfilter && (strcmp(where, "url") != 0 || ph->kind == TPL_ENV ||
	    ph->kind == TPL_GROUP_MEMBERS)) {
		util_format(err, errlen, "%s: {{%s|scimfilter}} in %s: the modifier is for "
		    "user, remote and group values in the url only", t->file, ph->text, where);
		return -1;
	}
	ph->start = (size_t)(open - s);
	ph->end = (size_t)(close - s) + 2;
	return 1;
bad:
	util_format(err, errlen, "%s: unknown placeholder {{%.*s}} in %s (known: user.id, "
	    "user.status, user.profile.NAME, remote.id, env.REMOTE_NAME)", t->file,
	    (int)((b - a) > 80 ? 80 : (b - a)), a, where);
	return -1;
}

/* Checks every placeholder of s and records the profile attributes read. */
static int
template_scan(struct template *t, const char *where, const char *s, size_t len, char *err,
    size_t errlen)
{
	struct tpl_ph ph;
	size_t pos = 0, i;
	int r;

	while ((r = template_next(t, where, s, len, pos, &ph, err, errlen)) == 1) {
		pos = ph.end;
		if (ph.kind == TPL_GROUP_MEMBERS)
			t->reads_members = 1;
		if (ph.kind != TPL_PROFILE)
			continue;
		for (i = 0; i < t->nattrs && strcmp(t->attrs[i], ph.name) != 0; i++)
			;
		if (i < t->nattrs)
			continue;
		if (t->nattrs == TEMPLATE_MAX_ATTRS) {
			util_format(err, errlen, "%s: reads more than %d profile attributes",
			    t->file, TEMPLATE_MAX_ATTRS);
			return -1;
		}
		util_copy(t->attrs[t->nattrs++], TEMPLATE_NAME_MAX, ph.name);
	}
	return r;
}

static int
template_scan_json(struct template *t, json_object *node, char *err, size_t errlen)
{
	size_t i, n;

	switch (json_object_get_type(node)) {
	case json_type_object: {
		json_object_object_foreach(node, key, val) {
			if (find2(key, strlen(key), 0, '{') != NULL) {
				util_format(err, errlen, "%s: body: no placeholder may be an object "
				    "key (\"%.40s\")", t->file, key);
				return -1;
			}
			if (template_scan_json(t, val, err, errlen) < 0)
				return -1;
		}
		return 0;
	}
	case json_type_array:
		n = json_object_array_length(node);
		for (i = 0; i < n; i++)
			if (template_scan_json(t, json_object_array_get_idx(node, i), err,
			    errlen) < 0)
				return -1;
		return 0;
	case json_type_string:
		return template_scan(t, "body", json_object_get_string(node),
		    (size_t)json_object_get_string_len(node), err, errlen);
	default:
		return 0;
	}
}

/* obj[key] as a string without NUL; *s NULL when absent and optional. */
static int
template_string(const struct template *t, json_object *obj, const char *key, int required,
    const char **s, char *err, size_t errlen)
{
	json_object *v;

	*s = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (!required)
			return 0;
		util_format(err, errlen, "%s: \"%s\" is required", t->file, key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		util_format(err, errlen, "%s: \"%s\" must be a string", t->file, key);
		return -1;
	}
	*s = json_object_get_string(v);
	return 0;
}

static int
template_statuses(const struct template *t, json_object *root, const char *key, long *list,
    size_t *n, char *err, size_t errlen)
{
	json_object *a, *e;
	size_t i, len;
	int64_t s;

	*n = 0;
	if (!json_object_object_get_ex(root, key, &a))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		goto bad;
	len = json_object_array_length(a);
	if (len == 0 || len > TEMPLATE_MAX_STATUSES)
		goto bad;
	for (i = 0; i < len; i++) {
		e = json_object_array_get_idx(a, i);
		s = json_object_get_int64(e);
		if (!json_object_is_type(e, json_type_int) || s < 100 || s > 599)
			goto bad;
		list[(*n)++] = (long)s;
	}
	return 0;
bad:
	util_format(err, errlen, "%s: \"%s\" must be a list of 1 to %d HTTP statuses "
	    "(integers 100-599)", t->file, key, TEMPLATE_MAX_STATUSES);
	return -1;
}

static int
header_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789!#$%&'*+-.^_`|~") == n;
}

static int
template_parse_headers(struct template *t, json_object *root, char *err, size_t errlen)
{
	json_object *h;
	const char *s;
	char where[96];

	if (!json_object_object_get_ex(root, "headers", &h) || h == NULL)
		return 0;
	if (!json_object_is_type(h, json_type_object)) {
		util_format(err, errlen, "%s: \"headers\" must be an object", t->file);
		return -1;
	}
	json_object_object_foreach(h, key, val) {
		(void)val;
		if (t->nheaders == TEMPLATE_MAX_HEADERS || !header_name_ok(key)) {
			util_format(err, errlen, "%s: headers: \"%.64s\" is not a header name, or "
			    "more than %d headers", t->file, key, TEMPLATE_MAX_HEADERS);
			return -1;
		}
		util_format(where, sizeof(where), "header %s", key);
		if (template_string(t, h, key, 1, &s, err, errlen) < 0 ||
		    template_scan(t, where, s, strlen(s), err, errlen) < 0)
			return -1;
		if (strcspn(s, "\r\n") != strlen(s)) {
			util_format(err, errlen, "%s: header %s: value holds CR or LF", t->file, key);
			return -1;
		}
		t->hname[t->nheaders] = strdup(key);
		t->hvalue[t->nheaders++] = strdup(s);
		if (t->hname[t->nheaders - 1] == NULL || t->hvalue[t->nheaders - 1] == NULL) {
			util_format(err, errlen, "%s: out of memory", t->file);
			return -1;
		}
	}
	return 0;
}

static int
template_parse_request(struct template *t, json_object *root, char *err, size_t errlen)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	struct tpl_ph ph;
	json_object *body;
	const char *m, *u;
	size_t i;

	if (template_string(t, root, "method", 1, &m, err, errlen) < 0 ||
	    template_string(t, root, "url", 1, &u, err, errlen) < 0)
		return -1;
	for (i = 0; i < 5 && strcmp(m, methods[i]) != 0; i++)
		;
	if (i == 5) {
		util_format(err, errlen, "%s: \"method\" must be GET, POST, PUT, PATCH or DELETE",
		    t->file);
		return -1;
	}
	util_copy(t->method, sizeof(t->method), m);
	if (template_scan(t, "url", u, strlen(u), err, errlen) < 0)
		return -1;
	if (u[0] == '\0' || (template_next(t, "url", u, strlen(u), 0, &ph, err, errlen) == 1 &&
	    ph.start == 0 && ph.kind != TPL_ENV)) {
		util_format(err, errlen, "%s: \"url\" must start with text or {{env.*}}", t->file);
		return -1;
	}
	if ((t->url = strdup(u)) == NULL)
		return -1;
	if (!json_object_object_get_ex(root, "body", &body) || body == NULL)
		return 0;
	if (strcmp(m, "GET") == 0) {
		util_format(err, errlen, "%s: a GET request has no body", t->file);
		return -1;
	}
	if (template_scan_json(t, body, err, errlen) < 0)
		return -1;
	t->body = json_object_get(body);
	return 0;
}

/*
 * "prefer": {"pointer": "/externalId", "equals": "{{user.id}}"}: when a
 * find's answer lists several records (the "id" pointer goes through an
 * array index 0, e.g. "/Resources/0/id"), the record whose value at
 * "pointer" equals the rendered "equals" is the one; when none does, the
 * first. One request can then ask for two things at once (SCIM: externalId
 * or userName) and still say which answer wins.
 */
static int
template_parse_prefer(struct template *t, json_object *root, char *err, size_t errlen)
{
	json_object *p;
	const char *ptr, *eq;

	if (!json_object_object_get_ex(root, "prefer", &p))
		return 0;
	if (!json_object_is_type(p, json_type_object) || json_object_object_length(p) != 2 ||
	    template_string(t, p, "pointer", 1, &ptr, err, errlen) < 0 ||
	    template_string(t, p, "equals", 1, &eq, err, errlen) < 0 || ptr[0] != '/' ||
	    strlen(ptr) > 256 || template_id_list_len(t->id) < 0) {
		if (err[0] == '\0')
			util_format(err, errlen, "%s: \"prefer\" must be {\"pointer\": \"/...\", "
			    "\"equals\": \"...\"}, with an \"id\" through a list (\"/.../0/...\")",
			    t->file);
		return -1;
	}
	if (template_scan(t, "prefer", eq, strlen(eq), err, errlen) < 0)
		return -1;
	t->prefer_ptr = strdup(ptr);
	t->prefer_eq = strdup(eq);
	return t->prefer_ptr != NULL && t->prefer_eq != NULL ? 0 : -1;
}

/* A JSON Pointer (RFC 6901): "" or "/..." with only ~0 and ~1 escapes. */
static int
template_pointer_ok(const char *ptr)
{
	const char *p;

	for (p = strchr(ptr, '~'); p != NULL && (p[1] == '0' || p[1] == '1');
	    p = strchr(p + 1, '~'))
		;
	return (ptr[0] == '\0' || ptr[0] == '/') && p == NULL && strlen(ptr) <= 256;
}

/*
 * group_get: "members" points to the member list in the answer
 * ("/members" of a SCIM group, "/Resources" of a list of users) and
 * "member_id" to the ID in each listed member ("/value", "/id", or ""
 * for a list of bare IDs). Both or neither.
 */
static int
template_parse_members(struct template *t, json_object *root, char *err, size_t errlen)
{
	const char *list, *id;

	if (template_string(t, root, "members", 0, &list, err, errlen) < 0 ||
	    template_string(t, root, "member_id", 0, &id, err, errlen) < 0)
		return -1;
	if (list == NULL && id == NULL)
		return 0;
	if (list == NULL || id == NULL || !template_pointer_ok(list) ||
	    !template_pointer_ok(id)) {
		util_format(err, errlen, "%s: \"members\" and \"member_id\" go together, as "
		    "JSON Pointers (e.g. \"/members\" and \"/value\")", t->file);
		return -1;
	}
	t->members = strdup(list);
	t->member_id = strdup(id);
	return t->members != NULL && t->member_id != NULL ? 0 : -1;
}

static int
template_parse_answer(struct template *t, json_object *root, char *err, size_t errlen)
{
	const char *id;
	size_t i;

	if (template_parse_members(t, root, err, errlen) < 0 ||
	    template_statuses(t, root, "success", t->success, &t->nsuccess, err, errlen) < 0 ||
	    template_statuses(t, root, "not_found", t->not_found, &t->nnot_found, err,
	    errlen) < 0)
		return -1;
	for (i = 0; i < t->nnot_found; i++) {
		if (template_is_success(t, t->not_found[i])) {
			util_format(err, errlen, "%s: status %ld is both success and not_found",
			    t->file, t->not_found[i]);
			return -1;
		}
	}
	if (template_string(t, root, "id", 0, &id, err, errlen) < 0)
		return -1;
	if (id == NULL)
		return 0;
	if (!template_pointer_ok(id)) {
		util_format(err, errlen, "%s: \"id\" must be a JSON Pointer such as \"/id\" "
		    "(RFC 6901), or \"\" for the whole answer", t->file);
		return -1;
	}
	t->id = strdup(id);
	if (t->id == NULL)
		return -1;
	return template_parse_prefer(t, root, err, errlen);
}

static int
template_parse(struct template *t, json_object *root, char *err, size_t errlen)
{
	static const char *const keys[] = {"method", "url", "headers", "body", "success",
	    "not_found", "id", "prefer", "members", "member_id", "description"};
	size_t i;

	json_object_object_foreach(root, key, val) {
		(void)val;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == sizeof(keys) / sizeof(keys[0]) && key[0] != '_') {
			util_format(err, errlen, "%s: unknown key \"%.40s\"", t->file, key);
			return -1;
		}
	}
	if (template_parse_request(t, root, err, errlen) < 0 ||
	    template_parse_headers(t, root, err, errlen) < 0 ||
	    template_parse_answer(t, root, err, errlen) < 0) {
		if (err[0] == '\0')
			util_format(err, errlen, "%s: out of memory", t->file);
		return -1;
	}
	return 0;
}

/* Parses buf as one strict JSON object, UTF-8 checked, depth bounded. */
static json_object *
template_parse_json(const struct template *t, const char *buf, size_t n, char *err,
    size_t errlen)
{
	json_tokener *tok = json_tokener_new_ex(TEMPLATE_JSON_DEPTH);
	json_object *root = NULL;
	enum json_tokener_error jerr;

	if (tok == NULL) {
		util_format(err, errlen, "%s: out of memory", t->file);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf, (int)n);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		util_format(err, errlen, "%s: not valid JSON: %s", t->file,
		    jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
		json_object_put(root);
		return NULL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		util_format(err, errlen, "%s: must be a JSON object", t->file);
		json_object_put(root);
		return NULL;
	}
	return root;
}

static json_object *
template_read(const struct template *t, const char *path, char *err, size_t errlen)
{
	json_object *root = NULL;
	char *buf;
	size_t n = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		util_format(err, errlen, "%s: cannot open %s: %s", t->file, path, strerror(errno));
		return NULL;
	}
	buf = malloc(TEMPLATE_MAX_FILE + 1);
	if (buf != NULL)
		n = fread(buf, 1, TEMPLATE_MAX_FILE + 1, f);
	if (buf == NULL || ferror(f))
		util_format(err, errlen, "%s: cannot read %s", t->file, path);
	else if (n > TEMPLATE_MAX_FILE)
		util_format(err, errlen, "%s: larger than %d KiB", t->file, TEMPLATE_MAX_FILE / 1024);
	else if (memchr(buf, '\0', n) != NULL)
		util_format(err, errlen, "%s: holds a NUL byte", t->file);
	else
		root = template_parse_json(t, buf, n, err, errlen);
	free(buf);
	fclose(f);
	return root;
}

struct template *
template_load(const char *path, char *err, size_t errlen)
{
	struct template *t = calloc(1, sizeof(*t));
	const char *base = strrchr(path, '/');
	json_object *root;

	if (errlen > 0)
		err[0] = '\0';
	if (t == NULL) {
		util_format(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	util_copy(t->file, sizeof(t->file), base ? base + 1 : path);
	root = template_read(t, path, err, errlen);
	if (root == NULL || template_parse(t, root, err, errlen) < 0) {
		json_object_put(root);
		template_free(t);
		return NULL;
	}
	json_object_put(root);
	return t;
}

void
template_free(struct template *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nheaders; i++) {
		free(t->hname[i]);
		free(t->hvalue[i]);
	}
	free(t->url);
	free(t->id);
	free(t->prefer_ptr);
	free(t->prefer_eq);
	free(t->members);
	free(t->member_id);
	json_object_put(t->body);
	free(t);
}

/* A placeholder's value: a borrowed user value, or a string, or neither
 * (JSON null). */
struct tpl_val {
	json_object *json;
	const char *str;
	size_t len;
};

/* Finds the value a placeholder names; -1 when it has none. */
static int
template_value(const struct template *t, const struct tpl_ph *ph,
    const struct template_vars *v, struct tpl_val *val, char *err, size_t errlen)
{
	json_object *profile;

	memset(val, 0, sizeof(*val));
	switch (ph->kind) {
	case TPL_USER_ID:
	case TPL_USER_STATUS:
		if (json_object_object_get_ex(v->user, ph->text + 5, &val->json) &&
		    json_object_is_type(val->json, json_type_string) &&
		    json_object_get_string_len(val->json) > 0)
			return 0;
		break;
	case TPL_PROFILE:
		/* Okta leaves unset attributes out: absent means null. */
		if (!json_object_object_get_ex(v->user, "profile", &profile) ||
		    !json_object_object_get_ex(profile, ph->name, &val->json))
			val->json = NULL;
		return 0;
	case TPL_REMOTE_ID:
	case TPL_GROUP_ID:
	case TPL_GROUP_NAME:
	case TPL_GROUP_REMOTE_ID:
		val->str = ph->kind == TPL_REMOTE_ID ? v->remote_id : v->group == NULL ? NULL :
		    ph->kind == TPL_GROUP_ID ? v->group->id :
		    ph->kind == TPL_GROUP_NAME ? v->group->name : v->group->remote_id;
		if (val->str != NULL && val->str[0] != '\0') {
			val->len = strlen(val->str);
			return 0;
		}
		break;
	case TPL_GROUP_MEMBERS:
		val->json = v->group != NULL ? v->group->members : NULL;
		if (val->json != NULL)
			return 0;
		break;
	case TPL_ENV:
		val->str = v->cfg ? config_remote_value(v->cfg, ph->name) : NULL;
		if (val->str != NULL) {
			val->len = strlen(val->str);
			return 0;
		}
		break;
	}
	util_format(err, errlen, "%s: {{%s}} has no value", t->file, ph->text);
	return -1;
}

/*
 * The text form of a value (see the top of the file). num holds numbers;
 * a double is written with the fewest digits that read back the same.
 */
static int
template_text(const struct template *t, const struct tpl_ph *ph, const struct tpl_val *val,
    char num[40], const char **s, size_t *len, char *err, size_t errlen)
{
	json_object *j = val->json;
	double d;

	*s = val->str ? val->str : "";
	*len = val->str ? val->len : 0;
	switch (json_object_get_type(j)) {
	case json_type_null:
		return 0;
	case json_type_string:
		*s = json_object_get_string(j);
		*len = (size_t)json_object_get_string_len(j);
		return 0;
	case json_type_boolean:
		*s = json_object_get_boolean(j) ? "true" : "false";
		break;
	case json_type_int:
		snprintf(num, 40, "%lld", (long long)json_object_get_int64(j));
		*s = num;
		break;
	case json_type_double:
		d = json_object_get_double(j);
		snprintf(num, 40, "%.15g", d);
		if (strtod(num, NULL) != d)
			snprintf(num, 40, "%.17g", d);
		*s = num;
		break;
	default:
		util_format(err, errlen, "%s: {{%s}} is an array or object: only a body value "
		    "that is exactly this placeholder can carry it", t->file, ph->text);
		return -1;
	}
	*len = strlen(*s);
	return 0;
}

/* Appends a value to a URL, percent-encoded; "." and ".." too (each dot
 * becomes "%2E"), so that a value is never a dot segment. */
static int
template_url_add(const struct template *t, const struct tpl_ph *ph, struct buf *b,
    const char *s, size_t len, char *err, size_t errlen)
{
	char *enc;

	if (memchr(s, '\0', len) != NULL) {
		util_format(err, errlen, "%s: {{%s}} holds a NUL byte", t->file, ph->text);
		return -1;
	}
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		buf_add(b, "%2E%2E", 3 * len);
		return 0;
	}
	if (len > SIZE_MAX / 3 - 1 || (enc = malloc(3 * len + 1)) == NULL) {
		b->failed = 1;
		return 0;
	}
	if (http_url_escape(s, enc, 3 * len + 1) < 0)
		b->failed = 1;
	else
		buf_add(b, enc, strlen(enc));
	free(enc);
	return 0;
}

/*
 * A URL value: percent-encoded; with "|scimfilter" first escaped as a
 * SCIM filter's string (RFC 7644 section 3.4.2.2: the JSON string rules,
 * so '"' becomes '\"' and '\' becomes '\\'), so that a login holding a
 * quote stays inside the quotes the template wrote around it.
 */
static int
template_url_value(const struct template *t, const struct tpl_ph *ph, struct buf *b,
    const char *s, size_t len, char *err, size_t errlen)
{
	struct buf e = {0};
	size_t i;
	int rc;

	if (!ph->scimfilter)
		return template_url_add(t, ph, b, s, len, err, errlen);
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_add(&e, "\\", 1);
		buf_add(&e, s + i, 1);
	}
	buf_add(&e, "", 1); /* NUL-ended, as template_url_add reads it */
	if (e.failed) {
		free(e.p);
		b->failed = 1;
		return 0;
	}
	rc = template_url_add(t, ph, b, e.p, e.len - 1, err, errlen);
	free(e.p);
	return rc;
}

/*
 * Appends s[0..len) to b with each placeholder replaced by its text form.
 * trusted NULL: plain text. Else a URL: values other than {{env.*}} are
 * encoded, and *trusted is set to where the first of them starts.
 */
static int
template_expand(const struct template *t, const char *where, const char *s, size_t len,
    const struct template_vars *v, struct buf *b, size_t *trusted, char *err,
    size_t errlen)
{
	struct tpl_ph ph;
	struct tpl_val val;
	const char *txt;
	size_t pos = 0, tlen;
	char num[40];
	int r;

	while ((r = template_next(t, where, s, len, pos, &ph, err, errlen)) == 1) {
		buf_add(b, s + pos, ph.start - pos);
		if (template_value(t, &ph, v, &val, err, errlen) < 0 ||
		    template_text(t, &ph, &val, num, &txt, &tlen, err, errlen) < 0)
			return -1;
		if (trusted == NULL || ph.kind == TPL_ENV) {
			buf_add(b, txt, tlen);
		} else {
			if (*trusted == SIZE_MAX)
				*trusted = b->len;
			if (template_url_value(t, &ph, b, txt, tlen, err, errlen) < 0)
				return -1;
		}
		pos = ph.end;
	}
	if (r < 0)
		return -1;
	buf_add(b, s + pos, len - pos);
	if (b->failed) {
		util_format(err, errlen, "%s: out of memory", t->file);
		return -1;
	}
	return 0;
}

/*
 * 1 when the first n bytes of the URL u (the text before the first user
 * or remote value) already decide scheme, host and port, as libcurl reads
 * them (url.h): they parse, and still parse to the same origin with one
 * more character. A cut inside the authority fails one or the other:
 * "https://api.example.com" + "x" is another host, "http://h:30" + "x" no
 * port at all, "https://" no host.
 */
static int
template_origin_fixed(const char *u, size_t n)
{
	struct url a = {0}, b = {0};
	char why[160], *cut = malloc(n + 2);
	int fixed = 0;

	if (cut == NULL)
		return 0;
	memcpy(cut, u, n);
	cut[n] = '\0';
	if (url_parse(&a, cut, why, sizeof(why)) == 0) {
		cut[n] = 'x';
		cut[n + 1] = '\0';
		fixed = url_parse(&b, cut, why, sizeof(why)) == 0 && url_same_origin(&a, &b);
	}
	url_free(&a);
	url_free(&b);
	free(cut);
	return fixed;
}

/*
 * Scheme and host must come from the template's text and {{env.*}}
 * values only, before the first user or remote value. (Values are
 * percent-encoded besides, so none can add "/", "?", "#" or "@".)
 */
static int
template_render_url(const struct template *t, const struct template_vars *v, char **out,
    char *err, size_t errlen)
{
	struct buf b = {0};
	struct url u = {0};
	size_t trusted = SIZE_MAX;
	char why[160];
	int rc = -1;

	if (template_expand(t, "url", t->url, strlen(t->url), v, &b, &trusted, err, errlen) < 0)
		goto out;
	if (trusted != SIZE_MAX && !template_origin_fixed(b.p, trusted)) {
		util_format(err, errlen, "%s: url: the host must come from the template or "
		    "{{env.*}}, before any other value", t->file);
		goto out;
	}
	if (url_parse(&u, b.p, why, sizeof(why)) < 0) {
		util_format(err, errlen, "%s: url %s", t->file, why);
		goto out;
	}
	if (strcmp(u.scheme, "https") != 0 && strcmp(u.scheme, "http") != 0) {
		util_format(err, errlen, "%s: url does not start with http:// or https://",
		    t->file);
		goto out;
	}
	*out = b.p;
	b.p = NULL;
	rc = 0;
out:
	url_free(&u);
	free(b.p);
	return rc;
}

static int
template_render_headers(const struct template *t, const struct template_vars *v,
    struct template_request *out, char *err, size_t errlen)
{
	struct buf b;
	size_t i, n = 0, vstart;
	int has_type = 0;
	char where[96];

	for (i = 0; i < t->nheaders; i++) {
		memset(&b, 0, sizeof(b));
		buf_add(&b, t->hname[i], strlen(t->hname[i]));
		buf_add(&b, ": ", 2);
		vstart = b.len;
		util_format(where, sizeof(where), "header %s", t->hname[i]);
		if (template_expand(t, where, t->hvalue[i], strlen(t->hvalue[i]), v, &b, NULL,
		    err, errlen) < 0)
			goto fail;
		/* Never the value in the message: it may hold a secret. */
		if (strcspn(b.p + vstart, "\r\n") != b.len - vstart) {
			util_format(err, errlen, "%s: header %s: value holds CR, LF or NUL", t->file,
			    t->hname[i]);
			goto fail;
		}
		out->headers[n++] = b.p;
		has_type |= strcasecmp(t->hname[i], "Content-Type") == 0;
	}
	if (t->body != NULL && !has_type &&
	    (out->headers[n] = strdup("Content-Type: application/json")) == NULL)
		goto oom;
	return 0;
oom:
	util_format(err, errlen, "%s: out of memory", t->file);
	return -1;
fail:
	free(b.p);
	return -1;
}

static int template_body(const struct template *, json_object *,
    const struct template_vars *, json_object **, char *, size_t);

/* A string that is exactly one placeholder becomes that value as JSON. */
static int
template_body_string(const struct template *t, json_object *node,
    const struct template_vars *v, json_object **out, char *err, size_t errlen)
{
	const char *s = json_object_get_string(node);
	size_t len = (size_t)json_object_get_string_len(node);
	struct buf b = {0};
	struct tpl_ph ph;
	struct tpl_val val;
	int r;

	r = template_next(t, "body", s, len, 0, &ph, err, errlen);
	if (r < 0)
		return -1;
	if (r == 1 && ph.start == 0 && ph.end == len) {
		if (template_value(t, &ph, v, &val, err, errlen) < 0)
			return -1;
		if (val.str != NULL)
			*out = json_object_new_string_len(val.str, (int)val.len);
		else if (val.json == NULL)
			return 0; /* JSON null */
		else if (json_object_deep_copy(val.json, out, NULL) < 0)
			*out = NULL;
		return *out != NULL ? 0 : -1;
	}
	if (template_expand(t, "body", s, len, v, &b, NULL, err, errlen) < 0) {
		free(b.p);
		return -1;
	}
	*out = b.len <= INT_MAX ? json_object_new_string_len(b.p ? b.p : "", (int)b.len) : NULL;
	free(b.p);
	return *out != NULL ? 0 : -1;
}

static int
template_body_container(const struct template *t, json_object *node,
    const struct template_vars *v, json_object **out, char *err, size_t errlen)
{
	json_object *child;
	size_t i, n;
	int isobj = json_object_is_type(node, json_type_object);

	*out = isobj ? json_object_new_object() : json_object_new_array();
	if (*out == NULL)
		return -1;
	if (isobj) {
		json_object_object_foreach(node, key, val) {
			if (template_body(t, val, v, &child, err, errlen) < 0 ||
			    json_object_object_add(*out, key, child) < 0)
				return -1;
		}
		return 0;
	}
	n = json_object_array_length(node);
	for (i = 0; i < n; i++) {
		if (template_body(t, json_object_array_get_idx(node, i), v, &child, err,
		    errlen) < 0 || json_object_array_add(*out, child) < 0)
			return -1;
	}
	return 0;
}

/* Builds the body afresh (the template's tree is shared by threads and
 * never written). *out is NULL for JSON null. */
static int
template_body(const struct template *t, json_object *node, const struct template_vars *v,
    json_object **out, char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	switch (json_object_get_type(node)) {
	case json_type_null:
		return 0;
	case json_type_object:
	case json_type_array:
		rc = template_body_container(t, node, v, out, err, errlen);
		break;
	case json_type_string:
		rc = template_body_string(t, node, v, out, err, errlen);
		break;
	default:
		rc = json_object_deep_copy(node, out, NULL) < 0 ? -1 : 0;
		break;
	}
	if (rc < 0) {
		json_object_put(*out);
		*out = NULL;
		if (err[0] == '\0')
			util_format(err, errlen, "%s: out of memory", t->file);
	}
	return rc;
}

static int
template_render_body(const struct template *t, const struct template_vars *v,
    struct template_request *out, char *err, size_t errlen)
{
	json_object *root;
	const char *s;
	size_t len;

	if (template_body(t, t->body, v, &root, err, errlen) < 0)
		return -1;
	s = json_object_to_json_string_length(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	out->body = s ? malloc(len + 1) : NULL;
	if (out->body != NULL) {
		memcpy(out->body, s, len + 1);
		out->body_len = len;
	}
	json_object_put(root);
	if (out->body == NULL) {
		util_format(err, errlen, "%s: out of memory", t->file);
		return -1;
	}
	return 0;
}

int
template_render(const struct template *t, const struct template_vars *v,
    struct template_request *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	out->method = strdup(t->method);
	if (out->method == NULL) {
		util_format(err, errlen, "%s: out of memory", t->file);
		goto fail;
	}
	if (template_render_url(t, v, &out->url, err, errlen) < 0 ||
	    template_render_headers(t, v, out, err, errlen) < 0)
		goto fail;
	if (t->body != NULL && template_render_body(t, v, out, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	template_request_free(out);
	return -1;
}

void
template_request_free(struct template_request *r)
{
	size_t i;

	free(r->method);
	free(r->url);
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		free(r->headers[i]);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

void
template_request_to_http(const struct template_request *r, struct http_request *h)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	h->method = r->method;
	h->url = r->url;
	for (i = 0; i + 1 < HTTP_MAX_HEADERS && r->headers[i] != NULL; i++)
		h->headers[i] = r->headers[i];
	h->body = r->body;
	h->body_len = r->body_len;
}

static int
status_in(const long *list, size_t n, long status)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] == status)
			return 1;
	return 0;
}

int
template_is_success(const struct template *t, long status)
{
	if (t->nsuccess == 0)
		return status >= 200 && status < 300;
	return status_in(t->success, t->nsuccess, status);
}

int
template_is_not_found(const struct template *t, long status)
{
	return status_in(t->not_found, t->nnot_found, status);
}

int
template_reads_members(const struct template *t)
{
	return t->reads_members;
}

const char *
template_id_pointer(const struct template *t)
{
	return t->id;
}

void
template_profile_attrs(const struct template *t, char names[][64], size_t max, size_t *n)
{
	size_t i, j;

	for (i = 0; i < t->nattrs; i++) {
		for (j = 0; j < *n && strcmp(names[j], t->attrs[i]) != 0; j++)
			;
		if (j == *n && *n < max)
			util_copy(names[(*n)++], 64, t->attrs[i]);
	}
}

const char *
template_members_pointer(const struct template *t)
{
	return t->members;
}

const char *
template_member_id_pointer(const struct template *t)
{
	return t->member_id;
}

const char *
template_prefer_pointer(const struct template *t)
{
	return t->prefer_ptr;
}

int
template_render_prefer(const struct template *t, const struct template_vars *v, char **out,
    char *err, size_t errlen)
{
	struct buf b = {0};

	*out = NULL;
	if (t->prefer_eq == NULL)
		return 0;
	if (template_expand(t, "prefer", t->prefer_eq, strlen(t->prefer_eq), v, &b, NULL, err,
	    errlen) < 0) {
		free(b.p);
		return -1;
	}
	buf_add(&b, "", 1);
	if (b.failed) {
		free(b.p);
		util_format(err, errlen, "%s: out of memory", t->file);
		return -1;
	}
	*out = b.p;
	return 0;
}
