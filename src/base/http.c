#include "groupsync/base/http.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "groupsync/base/buf.h"
#include "groupsync/base/url.h"
#include "groupsync/base/util.h"

struct http_client {
	CURL *curl; /* reused: keeps connections alive between calls */
	struct http_options opt;
	int64_t waited_ms; /* http_client_add_wait since the last take */
};

int
http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
http_global_cleanup(void)
{
	curl_global_cleanup();
}

void
http_options_from_config(struct http_options *o, const struct config *cfg,
    const _Atomic int *abort_flag)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = cfg->connect_timeout_ms;
	o->timeout_ms = cfg->http_timeout_ms;
	o->allow_insecure = cfg->allow_insecure_http;
	o->abort_flag = abort_flag;
}

struct http_client *
http_client_new(const struct http_options *o)
{
	struct http_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		free(c);
		return NULL;
	}
	c->opt = *o;
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

int
http_client_aborting(const struct http_client *c)
{
	return c->opt.abort_flag != NULL && atomic_load(c->opt.abort_flag);
}

void
http_client_add_wait(struct http_client *c, int64_t ms)
{
	if (ms > 0)
		c->waited_ms += ms;
}

int64_t
http_client_take_wait(struct http_client *c)
{
	int64_t ms = c->waited_ms;

	c->waited_ms = 0;
	return ms;
}

static size_t
http_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *body = arg;

	buf_add(body, data, size * n);
	return body->failed ? 0 : size * n;
}

/* Lets a shutdown abort a call instead of waiting for its timeout. */
static int
http_on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const _Atomic int *abort_flag = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(abort_flag) ? 1 : 0;
}

enum http_class
http_classify(long status)
{
	if (status >= 200 && status < 300)
		return HTTP_CLASS_OK;
	if (status == 0 || status == 408 || status == 429 || status >= 500)
		return HTTP_CLASS_RETRY;
	return HTTP_CLASS_PERMANENT;
}

/*
 * Parses the URL and applies the transport rule (url.h): http:// is for
 * loopback only unless allowed. The parse is what libcurl then connects
 * to (CURLOPT_CURLU), not a second reading of the text.
 */
static int
http_url_allowed(const struct http_client *c, const char *s, struct url *u, char *err,
    size_t errlen)
{
	char why[160];

	if (url_parse(u, s, why, sizeof(why)) == 0 &&
	    url_allowed(u, c->opt.allow_insecure, why, sizeof(why)) == 0)
		return 1;
	util_format(err, errlen, "refused URL: %s", why);
	return 0;
}

static struct curl_slist *
http_header_list(const struct http_client *c, const struct http_request *req)
{
	struct curl_slist *h = NULL, *t;
	size_t i;

	(void)c;
	for (i = 0; i < HTTP_MAX_HEADERS && req->headers[i] != NULL; i++) {
		t = curl_slist_append(h, req->headers[i]);
		if (t == NULL)
			goto fail;
		h = t;
	}
	/* libcurl would add "Expect: 100-continue" to large bodies: a wasted
	 * round trip against APIs that answer at once. */
	t = curl_slist_append(h, "Expect:");
	if (t == NULL)
		goto fail;
	return t;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static void
http_setup(struct http_client *c, const struct http_request *req, const struct url *u,
    struct curl_slist *hdrs, struct buf *body)
{
	CURL *k = c->curl;

	curl_easy_reset(k);
	curl_easy_setopt(k, CURLOPT_CURLU, u->h);
	curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(k, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, (long)c->opt.connect_timeout_ms);
	curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, (long)c->opt.timeout_ms);
	curl_easy_setopt(k, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(k, CURLOPT_TCP_NODELAY, 1L);
	if (c->opt.ca_file != NULL)
		curl_easy_setopt(k, CURLOPT_CAINFO, c->opt.ca_file);
	curl_easy_setopt(k, CURLOPT_USERAGENT,
	    c->opt.user_agent ? c->opt.user_agent : "groupsync/" GROUPSYNC_VERSION);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, http_on_body);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, body);
	if (c->opt.abort_flag != NULL) {
		curl_easy_setopt(k, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(k, CURLOPT_XFERINFOFUNCTION, http_on_progress);
		curl_easy_setopt(k, CURLOPT_XFERINFODATA, (void *)c->opt.abort_flag);
	}
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
	} else if (req->body != NULL || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0) {
		/* Okta wants a body or Content-Length: 0 on every POST/PUT. */
		curl_easy_setopt(k, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(req->body ? req->body_len : 0));
	}
}

/* Retry-After: delta seconds or an HTTP date; stored as absolute ms. */
static int64_t
http_retry_after(const struct http_response *resp)
{
	char v[128], *end;
	long secs;
	time_t when;

	if (!http_header(resp, "Retry-After", v, sizeof(v)))
		return 0;
	secs = strtol(v, &end, 10);
	if (end != v && *end == '\0' && secs >= 0)
		return util_now_ms() + (int64_t)secs * 1000;
	when = curl_getdate(v, NULL);
	return when > 0 ? (int64_t)when * 1000 : 0;
}

/*
 * Copies the headers of the final response (libcurl's header API: origin
 * CURLH_HEADER of the last request, so neither 1xx interim answers nor a
 * proxy's CONNECT answer) into resp. They are read now because resp
 * outlives the transfer: the handle is reset and reused by the next call,
 * and libcurl drops what it stored then. One allocation holds the array
 * and every name and value (a response has a dozen headers and a sync
 * makes five calls: two strdup each was a tenth of its mallocs). Missing
 * headers on allocation failure only make lookups miss.
 */
static void
http_keep_headers(CURL *k, struct http_response *resp)
{
	struct curl_header *h = NULL;
	size_t n = 0, text = 0, len;
	char *p;

	while ((h = curl_easy_nextheader(k, CURLH_HEADER, -1, h)) != NULL) {
		n++;
		text += strlen(h->name) + strlen(h->value) + 2;
	}
	if (n == 0 || (resp->headers = malloc(n * sizeof(*resp->headers) + text)) == NULL)
		return;
	p = (char *)(resp->headers + n);
	while (resp->nheaders < n && (h = curl_easy_nextheader(k, CURLH_HEADER, -1, h)) != NULL) {
		resp->headers[resp->nheaders].name = p;
		len = strlen(h->name) + 1;
		memcpy(p, h->name, len);
		p += len;
		resp->headers[resp->nheaders].value = p;
		len = strlen(h->value) + 1;
		memcpy(p, h->value, len);
		p += len;
		resp->nheaders++;
	}
}

int
http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	struct buf body = {.max = HTTP_MAX_RESPONSE};
	struct curl_slist *hdrs = NULL;
	struct url u = {0};
	int64_t start = util_mono_ms();
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	resp->cls = HTTP_CLASS_PERMANENT;
	if (!http_url_allowed(c, req->url, &u, resp->error, sizeof(resp->error)))
		goto out;
	hdrs = http_header_list(c, req);
	if (hdrs == NULL) {
		util_copy(resp->error, sizeof(resp->error), "out of memory");
		goto out;
	}
	http_setup(c, req, &u, hdrs, &body);
	rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	http_keep_headers(c->curl, resp);
	if (rc != CURLE_OK) {
		util_format(resp->error, sizeof(resp->error), "%s%s", curl_easy_strerror(rc),
		    body.failed == BUF_TOO_LARGE ? " (response too large)" : "");
		resp->status = 0;
		/* Bad URLs and refused protocols will not get better. */
		resp->cls = rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
		    body.failed == BUF_TOO_LARGE ? HTTP_CLASS_PERMANENT : HTTP_CLASS_RETRY;
		goto out;
	}
	resp->cls = http_classify(resp->status);
out:
	/* the handle must not keep pointing at u, freed below */
	curl_easy_setopt(c->curl, CURLOPT_CURLU, NULL);
	url_free(&u);
	curl_slist_free_all(hdrs);
	resp->body = body.p ? body.p : strdup("");
	resp->body_len = body.len;
	resp->retry_after_ms = http_retry_after(resp);
	resp->elapsed_ms = util_mono_ms() - start;
	if (c->opt.observe != NULL)
		c->opt.observe(req, resp, c->opt.observe_arg);
	return resp->status != 0 ? 0 : -1;
}

void
http_response_free(struct http_response *resp)
{
	/* one block: the array, then the names and values (http_keep_headers) */
	free(resp->body);
	free(resp->headers);
	resp->body = NULL;
	resp->headers = NULL;
	resp->nheaders = 0;
}

const char *
http_header_get(const struct http_response *resp, const char *name, size_t index)
{
	size_t i;

	for (i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0 && index-- == 0)
			return resp->headers[i].value;
	return NULL;
}

int
http_header(const struct http_response *resp, const char *name, char *buf, size_t len)
{
	const char *v = http_header_get(resp, name, 0);

	return v != NULL && util_copy(buf, len, v) == 0;
}

int
http_url_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
		if (o + (plain ? 1 : 3) >= len)
			return -1;
		if (plain) {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	buf[o] = '\0';
	return (int)o;
}
