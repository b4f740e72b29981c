/*
 * template: rendering request templates (see template.h and
 * hooks/README.md): one request for one user from a loaded template, and
 * the accessors the remote client asks (statuses, ID pointer, profile
 * attributes read). Loading and checking a file, and the placeholder
 * grammar, are in template_load.c; struct template is in
 * template_internal.h.
 *
 * A template file is operator input read once at start-up; the values it
 * renders come from Okta (profile attributes a user may edit himself),
 * from the remote system (its IDs) and from the configuration. So values
 * are never scanned for placeholders, never change the host a request
 * goes to, never add a header, and always reach the body as JSON values.
 *
 * Decisions where the design is silent:
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
 */
#include "template_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "groupsync/base/util.h"

/* A placeholder's value: a borrowed user value, or a string, or neither
 * (JSON null). */
struct tpl_val {
	json_object *json;
	const char *str;
	size_t len;
};

struct tpl_buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
buf_add(struct tpl_buf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

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
		val->str = v->remote_id;
		if (val->str != NULL && val->str[0] != '\0') {
			val->len = strlen(val->str);
			return 0;
		}
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
template_url_add(const struct template *t, const struct tpl_ph *ph, struct tpl_buf *b,
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
 * Appends s[0..len) to b with each placeholder replaced by its text form.
 * trusted NULL: plain text. Else a URL: values other than {{env.*}} are
 * encoded, and *trusted is set to where the first of them starts.
 */
static int
template_expand(const struct template *t, const char *where, const char *s, size_t len,
    const struct template_vars *v, struct tpl_buf *b, size_t *trusted, char *err,
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
			if (template_url_add(t, &ph, b, txt, tlen, err, errlen) < 0)
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
 * Scheme and host must come from the template's text and {{env.*}}
 * values only: the host, and the character that ends it, lie before the
 * first user or remote value. (Values are percent-encoded besides, so none
 * can add "/", "?", "#" or "@".)
 */
static int
template_render_url(const struct template *t, const struct template_vars *v, char **out,
    char *err, size_t errlen)
{
	struct tpl_buf b = {0};
	size_t trusted = SIZE_MAX, skip, hostend;

	if (template_expand(t, "url", t->url, strlen(t->url), v, &b, &trusted, err, errlen) < 0)
		goto fail;
	if (strncasecmp(b.p, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(b.p, "http://", 7) == 0)
		skip = 7;
	else {
		util_format(err, errlen, "%s: url does not start with http:// or https://",
		    t->file);
		goto fail;
	}
	hostend = skip + strcspn(b.p + skip, "/?#");
	if (hostend == skip || (trusted != SIZE_MAX && hostend >= trusted)) {
		util_format(err, errlen, "%s: url: the host must come from the template or "
		    "{{env.*}}, before any other value", t->file);
		goto fail;
	}
	*out = b.p;
	return 0;
fail:
	free(b.p);
	return -1;
}

static int
template_render_headers(const struct template *t, const struct template_vars *v,
    struct template_request *out, char *err, size_t errlen)
{
	struct tpl_buf b;
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
	struct tpl_buf b = {0};
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
