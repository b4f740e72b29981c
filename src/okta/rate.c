/*
 * okta_rate.c: the rate-limit state all workers share (per endpoint
 * family, learnt from X-Rate-Limit-* and 429s), the gate every call goes
 * through (okta_send), and the reading of Okta's answers: headers, Link
 * paging headers, JSON bodies and error summaries for okta_result.
 */
#include "okta_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

#define OKTA_SNIPPET 64      /* bytes of a non-JSON error body worth showing */

static const char *const okta_bucket_names[OKTA_BUCKETS] = {
	"users/{id}", "users/{id}/groups", "groups/{id}/users", "oauth2/v1/token",
};

/* ---- rate limits -------------------------------------------------------- */

void
okta_rate_init(struct okta_rate *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	for (i = 0; i < OKTA_BUCKETS; i++) {
		r->b[i].limit = -1;
		r->b[i].remaining = -1;
	}
	atomic_init(&r->last_remaining, -1);
	atomic_init(&r->rate_limited, 0);
	atomic_init(&r->deferred, 0);
}

void
okta_rate_destroy(struct okta_rate *r)
{
	pthread_mutex_destroy(&r->mu);
}

int
okta_rate_admit(struct okta_rate *r, enum okta_bucket b, int64_t now_ms, int64_t *until)
{
	int64_t u;

	pthread_mutex_lock(&r->mu);
	u = r->b[b].blocked_until_ms;
	pthread_mutex_unlock(&r->mu);
	if (now_ms >= u)
		return 0;
	*until = u;
	atomic_fetch_add(&r->deferred, 1);
	return -1;
}

/* A non-negative integer header, -1 when absent or not a number. */
static int64_t
okta_header_int(const struct http_response *resp, const char *name)
{
	char v[32], *end;
	long long n;

	if (!http_header(resp, name, v, sizeof(v)))
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || n < 0 || errno != 0)
		return -1;
	return n;
}

/*
 * X-Rate-Limit-Reset is on Okta's clock. The Date header of the same
 * answer says what that clock read, so the wait is measured between the
 * two and does not depend on ours being right (Okta's own advice).
 */
static int64_t
okta_rate_reset_ms(const struct http_response *resp, int64_t reset_s, int64_t now_ms)
{
	int64_t base_s = now_ms / 1000, wait_s;
	char d[64];
	time_t server;

	if (http_header(resp, "Date", d, sizeof(d))) {
		server = curl_getdate(d, NULL);
		if (server > 0)
			base_s = (int64_t)server;
	}
	wait_s = reset_s - base_s;
	if (wait_s > OKTA_RATE_MAX_WAIT_MS / 1000)
		wait_s = OKTA_RATE_MAX_WAIT_MS / 1000;
	return now_ms + wait_s * 1000;
}

/* Headroom: the bucket is shared with every other client of the org. */
static int
okta_rate_low(int64_t limit, int64_t remaining)
{
	return remaining >= 0 && (remaining <= 2 || (limit > 0 && remaining <= limit / 10));
}

int64_t
okta_rate_update(struct okta_rate *r, enum okta_bucket b, const struct http_response *resp,
    int64_t now_ms)
{
	int64_t limit = okta_header_int(resp, "X-Rate-Limit-Limit");
	int64_t rem = okta_header_int(resp, "X-Rate-Limit-Remaining");
	int64_t reset_s = okta_header_int(resp, "X-Rate-Limit-Reset");
	int64_t reset_ms = reset_s > 0 ? okta_rate_reset_ms(resp, reset_s, now_ms) : 0;
	int64_t until = 0, was, ret;
	char secs[32];

	if (resp->status == 429) {
		atomic_fetch_add(&r->rate_limited, 1);
		until = reset_ms > resp->retry_after_ms ? reset_ms : resp->retry_after_ms;
		if (until <= now_ms)
			until = now_ms + OKTA_RATE_BACKOFF_MS;
	} else if (okta_rate_low(limit, rem) && reset_ms > now_ms) {
		until = reset_ms;
	}
	if (until > now_ms + OKTA_RATE_MAX_WAIT_MS)
		until = now_ms + OKTA_RATE_MAX_WAIT_MS;
	if (rem >= 0)
		atomic_store(&r->last_remaining, rem);
	pthread_mutex_lock(&r->mu);
	r->b[b].limit = limit >= 0 ? limit : r->b[b].limit;
	r->b[b].remaining = rem >= 0 ? rem : r->b[b].remaining;
	was = r->b[b].blocked_until_ms;
	if (until > was)
		r->b[b].blocked_until_ms = until;
	ret = r->b[b].blocked_until_ms > now_ms ? r->b[b].blocked_until_ms : 0;
	pthread_mutex_unlock(&r->mu);
	if (until > now_ms && was <= now_ms) {
		util_format(secs, sizeof(secs), "%lld", (long long)((until - now_ms + 999) / 1000));
		log_emit(LOG_WARN, "okta rate limit: pausing calls", "endpoint",
		    okta_bucket_names[b], "reason", resp->status == 429 ? "429" : "headroom",
		    "seconds", secs, (char *)NULL);
	}
	return ret;
}

/* ---- answers ------------------------------------------------------------- */

const char *
okta_header_next(const char *p, const char *name, const char **val, size_t *vlen)
{
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		const char *next = eol ? eol + 1 : p + strlen(p);
		const char *v = p + n + 1, *e = eol ? eol : next;

		if ((size_t)(e - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*val = v;
			*vlen = (size_t)(e - v);
			return next;
		}
		p = next;
	}
	return NULL;
}

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

/* The next link must be absolute, on the org's origin, and plain. */
static int
okta_link_accept(const char *uri, size_t n, const char *origin, char *out, size_t outlen)
{
	size_t olen = strlen(origin), i;

	if (n >= outlen || n <= olen || strncasecmp(uri, origin, olen) != 0 ||
	    (uri[olen] != '/' && uri[olen] != '?'))
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)uri[i] <= 0x20 || uri[i] == 0x7f)
			return -1;
	memcpy(out, uri, n);
	out[n] = '\0';
	return 1;
}

int
okta_parse_link_next(const char *headers, const char *origin, char *out, size_t outlen)
{
	const char *p, *v, *end, *uri;
	size_t vlen, ulen;
	int rc;

	for (p = okta_header_next(headers, "Link", &v, &vlen); p != NULL;
	    p = okta_header_next(p, "Link", &v, &vlen)) {
		end = v + vlen;
		do {
			rc = okta_link_value(&v, end, &uri, &ulen);
			if (rc == 1)
				return okta_link_accept(uri, ulen, origin, out, outlen);
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
	util_format(res->error, sizeof(res->error), "%s: %s", what, why);
	return -1;
}

int
okta_send(struct okta_rate *r, enum okta_bucket b, struct http_client *hc,
    const struct http_request *req, struct http_response *resp, struct okta_result *res,
    const char *what, _Atomic uint64_t *sent)
{
	int64_t now = util_now_ms(), until = 0, blocked;
	char why[96];

	memset(resp, 0, sizeof(*resp));
	res->status = 0;
	res->retry_at_ms = 0;
	if (okta_rate_admit(r, b, now, &until) < 0) {
		res->retry_at_ms = until;
		util_format(why, sizeof(why), "not sent: Okta rate limit, next call in %lld s",
		    (long long)((until - now + 999) / 1000));
		return okta_result_fail(res, HTTP_CLASS_RETRY, what, why);
	}
	if (sent != NULL)
		atomic_fetch_add(sent, 1);
	if (http_do(hc, req, resp) < 0) {
		okta_result_fail(res, resp->cls, what, resp->error);
		http_response_free(resp);
		return -1;
	}
	blocked = okta_rate_update(r, b, resp, util_now_ms());
	if (resp->status == 429 && blocked > resp->retry_after_ms)
		resp->retry_after_ms = blocked;
	return 0;
}
