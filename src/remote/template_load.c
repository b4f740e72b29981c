/*
 * template_load.c: loading a request template (see template.h and
 * hooks/README.md). Reads the file, parses it as strict JSON, checks its
 * keys, method, URL, headers, body and statuses, and checks every
 * placeholder once, recording the profile attributes it reads. Also owns
 * the placeholder grammar (template_next), which template.c uses to
 * render, and template_free.
 *
 * Decisions where the design is silent:
 * - There is no escape for a literal "{{": any "{{" must open a valid
 *   placeholder, so that a typo fails at load instead of going out as text.
 *   Spaces inside the braces are allowed ("{{ user.id }}").
 * - The URL must start with text or {{env.*}}, so that the host comes
 *   from the operator (template.c checks the rendered URL again).
 * - A body string with a placeholder in an object key is refused.
 * - "body": null means no body; GET takes no body (libcurl would drop it).
 * - At most TEMPLATE_MAX_HEADERS headers; a value holding CR or LF is
 *   refused here, and once rendered (CR, LF or NUL) in template.c.
 * - Unknown top-level keys are refused (typos), except "description" and
 *   keys that start with "_" (comments).
 */
#include "template_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupsync/base/util.h"

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
int
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
	if (template_classify(ph) < 0)
		goto bad;
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

static int
template_parse_answer(struct template *t, json_object *root, char *err, size_t errlen)
{
	const char *id, *p;
	size_t i;

	if (template_statuses(t, root, "success", t->success, &t->nsuccess, err, errlen) < 0 ||
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
	for (p = strchr(id, '~'); p != NULL && (p[1] == '0' || p[1] == '1');
	    p = strchr(p + 1, '~'))
		;
	if ((id[0] != '\0' && id[0] != '/') || p != NULL || strlen(id) > 256) {
		util_format(err, errlen, "%s: \"id\" must be a JSON Pointer such as \"/id\" "
		    "(RFC 6901), or \"\" for the whole answer", t->file);
		return -1;
	}
	t->id = strdup(id);
	return t->id != NULL ? 0 : -1;
}

static int
template_parse(struct template *t, json_object *root, char *err, size_t errlen)
{
	static const char *const keys[] = {"method", "url", "headers", "body", "success",
	    "not_found", "id", "description"};
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
	json_object_put(t->body);
	free(t);
}
