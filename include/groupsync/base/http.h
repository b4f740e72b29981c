/*
 * http: outbound HTTP(S) calls on libcurl, for the okta and remote modules.
 *
 * Owns timeouts (connect and total on every call), TLS policy (TLS 1.2+,
 * peer verification always on, http:// only to loopback unless allowed:
 * url.h), response capture with a size cap (the body; libcurl bounds the
 * headers), and the classification of failures into retryable and
 * permanent ones. Response headers are libcurl's parse (its header API),
 * copied at response time so that a response outlives its transfer.
 *
 * Threads: a struct http_client is used by one thread at a time (each
 * worker owns one, so its connections are kept alive between calls).
 * http_global_init() runs once before threads start.
 */
#ifndef GROUPSYNC_HTTP_H
#define GROUPSYNC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "groupsync/base/config.h"

#define HTTP_MAX_RESPONSE (4 * 1024 * 1024) /* larger answers are an error */
#define HTTP_MAX_HEADERS 32

int http_global_init(void);
void http_global_cleanup(void);

struct http_request;
struct http_response;

struct http_options {
	int connect_timeout_ms;
	int timeout_ms;
	int allow_insecure; /* 1: http:// to any host */
	const char *user_agent;
	const char *ca_file; /* NULL: system trust store */
	/* When not NULL and set, calls in flight are aborted (shutdown). */
	const _Atomic int *abort_flag;
	/* When not NULL, called after each call with what was sent and what
	 * came back (`groupsync sync` prints each answer). */
	void (*observe)(const struct http_request *req, const struct http_response *resp,
	    void *arg);
	void *observe_arg;
};

struct http_client;

/* The options every outbound client of groupsync uses: the settings'
 * connect and total timeouts and their http:// rule; abort_flag may be NULL. */
void http_options_from_config(struct http_options *o, const struct config *cfg,
    const _Atomic int *abort_flag);

/* Returns NULL on allocation failure. Free with http_client_free. */
struct http_client *http_client_new(const struct http_options *o);
void http_client_free(struct http_client *c);

/* 1 once the client's abort_flag is set: a caller about to wait before a
 * call (a rate gate) gives up instead, as a call in flight would. */
int http_client_aborting(const struct http_client *c);

/*
 * Time the client's owner waited before its calls (a rate gate), kept on
 * the client because it is the owner's alone (one thread): add, then take
 * (returns the sum since the last take, and starts again at 0). A worker
 * reports it per sync.
 */
void http_client_add_wait(struct http_client *c, int64_t ms);
int64_t http_client_take_wait(struct http_client *c);

struct http_request {
	const char *method; /* "GET", "POST", "PUT", "DELETE", ... */
	const char *url;
	const char *headers[HTTP_MAX_HEADERS]; /* "Name: value", NULL-ended */
	const char *body;   /* NULL: none (POST/PUT then send Content-Length: 0) */
	size_t body_len;
};

/* Kinds of outcome a caller branches on. */
enum http_class {
	HTTP_CLASS_OK = 0,    /* 2xx */
	HTTP_CLASS_RETRY,     /* timeout, connection failure, 5xx, 429, 408 */
	HTTP_CLASS_PERMANENT, /* other 4xx, 3xx, bad URL, refused http:// */
};

/* One response header as libcurl read it (value without surrounding blanks). */
struct http_field {
	char *name;
	char *value;
};

struct http_response {
	long status;        /* 0 when no answer came */
	char *body;         /* NUL-terminated, owned; "" when empty */
	size_t body_len;
	struct http_field *headers; /* the final response's, in order received, owned:
				     * one block with the names and values */
	size_t nheaders;
	enum http_class cls;
	int64_t retry_after_ms; /* from Retry-After (absolute, unix ms), else 0 */
	int64_t elapsed_ms;
	char error[256];    /* transport error text, "" when an answer came */
};

/*
 * Sends one request. Returns 0 when an HTTP answer came (any status; see
 * resp->cls), -1 when none did (resp->error says why, cls RETRY or
 * PERMANENT). resp must be released with http_response_free either way.
 */
int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_free(struct http_response *resp);

/*
 * The value of the index-th (from 0) response header named name (case
 * insensitive), or NULL when there are not that many: several Link or
 * WWW-Authenticate headers are read by index, as curl_easy_header does.
 * The string belongs to resp.
 */
const char *http_header_get(const struct http_response *resp, const char *name, size_t index);

/*
 * Copies the value of the first response header named name (case
 * insensitive) into buf. Returns 1 when found, 0 when not or too long.
 */
int http_header(const struct http_response *resp, const char *name, char *buf, size_t len);

/* Classifies a status code (0: no answer, treated as retryable). */
enum http_class http_classify(long status);

/* Percent-encodes s for a URL component into buf. -1 if it does not fit. */
int http_url_escape(const char *s, char *buf, size_t len);

#endif
