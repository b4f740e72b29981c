/*
 * okta/response: reading Okta's answers (see groupsync/okta/response.h):
 * Link paging headers, JSON bodies, error summaries, and the okta_result
 * that reports them.
 */
#include "groupsync/okta/response.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "groupsync/base/url.h"
#include "groupsync/base/util.h"

#define OKTA_SNIPPET 64      /* bytes of a non-JSON error body worth showing */

static const char *
okta_skip(const char *p, const char *end, const char *set)
{
	while (p < end && *p != '\0' && strchr(set, *p) != NULL)
		p++;
	return p;
}

/* 1 when the rel value (space-separated relation types) holds "next". */
static int
okta_rel_next(const char *v, size_t n)
{
	const char *end = v + n, *t;

	while (v < end) {
		v = okta_skip(v, end, " \t");
		for (t = v; t < end && *t != ' ' && *t != '\t'; t++)
			;
		if (t - v == 4 && strncasecmp(v, "next", 4) == 0)
			return 1;
		v = t;
	}
	return 0;
}

/*
 * One link parameter after ';': name, name=token or name="quoted". Sets
 * *next when it is a rel naming "next". Returns where it ends, NULL when
 * malformed.
 */
static const char *
okta_link_param(const char *p, const char *end, int *next)
{
	const char *name = okta_skip(p, end, " \t"), *v, *q;
	size_t nlen, vlen = 0;

	for (p = name; p < end && strchr("=;, \t", *p) == NULL; p++)
		;
	nlen = (size_t)(p - name);
	p = okta_skip(p, end, " \t");
	v = p;
	if (p < end && *p == '=') {
		v = okta_skip(p + 1, end, " \t");
		if (v < end && *v == '"') {
			q = memchr(v + 1, '"', (size_t)(end - v - 1));
			if (q == NULL)
				return NULL;
			v++;
			vlen = (size_t)(q - v);
			p = q + 1;
		} else {
			for (p = v; p < end && strchr(";, \t", *p) == NULL; p++)
				;
			vlen = (size_t)(p - v);
		}
	}
	if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && okta_rel_next(v, vlen))
		*next = 1;
	return p;
}

/*
 * Reads one link-value (RFC 8288) `<uri>; param=value; rel="next"` from
 * *pp. Returns 0 at the end, -1 when malformed, 1 for the next link (its
 * URI in *uri and *ulen), 2 for another link.
 */
static int
okta_link_value(const char **pp, const char *end, const char **uri, size_t *ulen)
{
	const char *p = okta_skip(*pp, end, " \t,"), *q;
	int next = 0;

	if (p == end)
		return 0;
	q = *p == '<' ? memchr(p, '>', (size_t)(end - p)) : NULL;
	if (q == NULL)
		return -1;
	*uri = p + 1;
	*ulen = (size_t)(q - p - 1);
	p = okta_skip(q + 1, end, " \t");
	while (p < end && *p == ';') {
		p = okta_link_param(p + 1, end, &next);
		if (p == NULL)
			return -1;
		p = okta_skip(p, end, " \t");
	}
	if (p < end && *p != ',')
		return -1;
	*pp = p;
	return next ? 1 : 2;
}

/*
 * The next link must be plain text (no blanks or controls), absolute, on
 * the org's origin as libcurl reads both (url.h: no userinfo, scheme, host
 * and port equal), and name a page, not the bare origin.
 */
static int
okta_link_accept(const char *uri, size_t n, const char *org, char *out, size_t outlen)
{
	struct url link = {0}, home = {0};
	char why[160];
	size_t i;
	int ok;

	if (n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)uri[i] <= 0x20 || uri[i] == 0x7f)
			return -1;
	memcpy(out, uri, n);
	out[n] = '\0';
	ok = url_parse(&link, out, why, sizeof(why)) == 0 &&
	    url_parse(&home, org, why, sizeof(why)) == 0 &&
	    url_same_origin(&link, &home) && !link.bare;
	url_free(&link);
	url_free(&home);
	if (!ok)
		out[0] = '\0';
	return ok ? 1 : -1;
}

int
okta_parse_link_next(const struct http_response *resp, const char *org, char *out,
    size_t outlen)
{
	const char *v, *end, *uri;
	size_t i, ulen;
	int rc;

	for (i = 0; (v = http_header_get(resp, "Link", i)) != NULL; i++) {
		end = v + strlen(v);
		do {
			rc = okta_link_value(&v, end, &uri, &ulen);
			if (rc == 1)
				return okta_link_accept(uri, ulen, org, out, outlen);
		} while (rc == 2);
		if (rc < 0)
			return -1;
	}
	return 0;
}

json_object *
okta_json_parse(const char *s, size_t len)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	if (s == NULL || len == 0 || len > INT_MAX)
		return NULL;
	tok = json_tokener_new_ex(64); /* bounded depth: answers are shallow */
	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	end = json_tokener_get_parse_end(tok);
	/* s[len] need not be a NUL (fuzz_template found strspn reading past
	 * len): skip the trailing white space within len only. */
	while (end < len && s[end] != '\0' && strchr(" \t\r\n", s[end]) != NULL)
		end++;
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success && end < len) {
		json_object_put(o); /* trailing garbage */
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

const char *
okta_jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Copies at most n bytes, controls blanked: error text ends up in logs. */
static void
okta_copy_printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	out[i] = '\0';
}

/*
 * Replaces the credential after an HTTP auth scheme ("SSWS x", "Bearer x",
 * "DPoP x", "Basic x") with [redacted], in place (s has room for size
 * bytes). Error text comes from the other side and ends up in the log, the
 * queue (last_error) and CLI output: a server that echoes the request's
 * Authorization header in its error must not make groupsync print it.
 */
static void
okta_scrub_credentials(char *s, size_t size)
{
	static const char *const schemes[] = {"SSWS ", "Bearer ", "DPoP ", "Basic "};
	char tmp[512];
	size_t i, in = 0, o = 0;

	while (s[in] != '\0' && o + 1 < sizeof(tmp)) {
		size_t n = 0, tok = 0;

		for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && tok == 0; i++) {
			n = strlen(schemes[i]);
			if (strncasecmp(s + in, schemes[i], n) == 0)
				tok = strcspn(s + in + n, " \t;,\"'}");
		}
		if (tok == 0) {
			tmp[o++] = s[in++];
			continue;
		}
		o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%.*s[redacted]", (int)n, s + in);
		if (o >= sizeof(tmp))
			o = sizeof(tmp) - 1;
		in += n + tok;
	}
	tmp[o] = '\0';
	util_copy(s, size, tmp);
}

void
okta_parse_error(const char *body, size_t len, char *out, size_t outlen)
{
	json_object *root = okta_json_parse(body, len), *causes;
	const char *code, *summary, *cause = NULL;
	char text[512];

	code = okta_jstr(root, "errorCode");
	summary = okta_jstr(root, "errorSummary");
	if (code == NULL) { /* OAuth endpoints answer RFC 6749 errors */
		code = okta_jstr(root, "error");
		summary = okta_jstr(root, "error_description");
	}
	if (json_object_object_get_ex(root, "errorCauses", &causes) &&
	    json_object_is_type(causes, json_type_array) && json_object_array_length(causes) > 0)
		cause = okta_jstr(json_object_array_get_idx(causes, 0), "errorSummary");
	if (code != NULL) {
		util_format(text, sizeof(text), "%s%s%s%s%s", code, summary ? " " : "",
		    summary ? summary : "", cause ? ": " : "", cause ? cause : "");
		okta_copy_printable(out, outlen, text, strlen(text));
	} else {
		okta_copy_printable(out, outlen, body ? body : "", len < OKTA_SNIPPET ?
		    len : OKTA_SNIPPET);
		if (len > OKTA_SNIPPET && strlen(out) + 4 < outlen)
			strcat(out, "...");
	}
	if (outlen > 0)
		okta_scrub_credentials(out, outlen);
	json_object_put(root);
}

enum http_class
okta_classify(long status)
{
	/* Okta's rules are HTTP's: 429 and 5xx pass, other 4xx (401 bad
	 * credentials, 403 E0000006 missing scope or role, 400 E0000001
	 * validation, 404) will not get better by themselves. */
	return http_classify(status);
}

void
okta_result_fill(struct okta_result *res, const char *what, const struct http_response *resp,
    const char *hint401)
{
	char detail[200];
	const char *hint = resp->status == 401 ? hint401 : NULL;

	res->status = resp->status;
	res->cls = okta_classify(resp->status);
	res->retry_at_ms = res->cls == HTTP_CLASS_RETRY ? resp->retry_after_ms : 0;
	okta_parse_error(resp->body, resp->body_len, detail, sizeof(detail));
	util_format(res->error, sizeof(res->error), "%s: %ld%s%s%s%s%s", what, resp->status,
	    hint ? " (" : "", hint ? hint : "", hint ? ")" : "", detail[0] ? " " : "", detail);
}

int
okta_result_fail(struct okta_result *res, enum http_class cls, const char *what,
    const char *why)
{
	res->cls = cls;
	res->deferred = 0;
	util_format(res->error, sizeof(res->error), "%s: %s", what, why);
	return -1;
}
