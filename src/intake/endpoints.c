/*
 * endpoints: the HTTP endpoints (see groupsync/intake/endpoints.h): the
 * event hook (verification and deliveries), /healthz, /readyz, /metrics,
 * and 404 for everything else. civetweb's set-up, TLS and the connection
 * guard are intake/server.c's.
 */
#include "groupsync/intake/endpoints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>
#include <openssl/rand.h>

#include "civetweb_glue.h"
#include "groupsync/base/log.h"
#include "groupsync/base/metrics.h"
#include "groupsync/base/netaddr.h"
#include "groupsync/base/util.h"
#include "groupsync/intake/hook.h"
#include "groupsync/intake/server.h"
#include "groupsync/intake/status.h"
#include "groupsync/remote/client.h"

#define SERVER_BODY_CHUNK (16 * 1024)
#define SERVER_DRAIN_MAX (4 * SERVER_MAX_BODY)
#define ENDPOINT_RID_LEN 16
#define SERVER_STORE_RETRY_AFTER "5" /* seconds; Okta retries on its own schedule */

struct endpoints {
	const struct config *cfg;
	struct store *q;
	struct okta *okta; /* NULL: no Okta metrics */
	struct conn_guard *guard;
	struct hook_filter filter;
	int64_t start_ms; /* for /status's uptime */
};

/* One request being answered: what every reply and log line needs. */
struct endpoint_req {
	struct mg_connection *conn;
	struct endpoints *s;
	char rid[ENDPOINT_RID_LEN + 1];
	int64_t start_ms;
	char client[NETADDR_MAX]; /* see endpoint_client(); "" until asked */
};

static void
endpoint_request_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[ENDPOINT_RID_LEN / 2];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	for (i = 0; i < sizeof(r); i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[ENDPOINT_RID_LEN] = '\0';
}

/*
 * After an early error answer, civetweb reads and discards the rest of
 * the body the client announced before it serves the next request. Up to
 * SERVER_DRAIN_MAX that is polite: a client that sends its whole body
 * before reading gets to read the answer instead of a reset, and the
 * connection guard bounds how long the draining may take. A larger
 * announcement is a lie or an attack: the connection is closed without
 * reading it. Returns 1 if it will be closed.
 */
static int
endpoint_close_unread(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);

	if (ri == NULL || ri->content_length <= SERVER_DRAIN_MAX)
		return 0;
	civetweb_glue_close_after(conn);
	return 1;
}

/*
 * Sends a complete response in one write: civetweb's mg_response_header_*
 * sends each header line as its own write (and TLS record and TCP
 * segment), which cost more than all of groupsync's own work per delivery
 * (tests/bench/ingest). body may be NULL for none.
 */
static int
endpoint_reply(struct endpoint_req *r, int status, const char *type, const char *body,
    const char *extra_name, const char *extra_value)
{
	char stackbuf[8192], *buf = stackbuf, extra[256] = "";
	size_t len = body ? strlen(body) : 0, cap = sizeof(stackbuf);
	const char *close = "";
	int n;

	if (extra_name != NULL)
		util_format(extra, sizeof(extra), "%s: %s\r\n", extra_name, extra_value);
	if (status >= 400 && endpoint_close_unread(r->conn))
		close = "Connection: close\r\n";
	if (len + 1024 > cap) {
		cap = len + 1024;
		buf = malloc(cap);
		if (buf == NULL)
			return 500;
	}
	n = snprintf(buf, cap,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	    "X-Request-Id: %s\r\n%s%s\r\n",
	    status, mg_get_response_code_text(r->conn, status), type, len, r->rid, extra, close);
	if (n > 0 && (size_t)n + len < cap) {
		memcpy(buf + n, body ? body : "", len);
		mg_write(r->conn, buf, (size_t)n + len);
	}
	if (buf != stackbuf)
		free(buf);
	return status;
}

static int
endpoint_error(struct endpoint_req *r, int status, const char *what)
{
	char body[160];

	util_format(body, sizeof(body), "{\"error\":\"%s\"}", what);
	return endpoint_reply(r, status, "application/json", body, NULL, NULL);
}

static const char *
endpoint_peer(const struct endpoint_req *r)
{
	return mg_get_request_info(r->conn)->remote_addr;
}

/* The client's address: the peer, or what a trusted proxy reports. */
static const char *
endpoint_client(struct endpoint_req *r)
{
	if (r->client[0] == '\0')
		netaddr_client(endpoint_peer(r), mg_get_header(r->conn, "X-Forwarded-For"),
		    mg_get_header(r->conn, "X-Real-IP"), r->s->cfg->trusted_proxies, r->client);
	return r->client;
}

/*
 * Reads the body into a buffer that grows with what actually arrives, up
 * to SERVER_MAX_BODY: a client's Content-Length is checked but never used
 * to size an allocation. Returns 0, or the HTTP status to answer.
 */
static int
endpoint_read_body(struct endpoint_req *r, char **out, size_t *outlen)
{
	const struct mg_request_info *ri = mg_get_request_info(r->conn);
	int64_t deadline = r->start_ms + r->s->cfg->request_timeout_ms;
	size_t cap = 0, n = 0;
	char *buf = NULL, *nbuf;
	int got;

	if (mg_get_header(r->conn, "Transfer-Encoding") != NULL &&
	    mg_get_header(r->conn, "Content-Length") != NULL)
		return 400; /* request smuggling shape: never guess */
	if (ri->content_length > SERVER_MAX_BODY)
		return 413;
	for (;;) {
		if (n == cap) {
			if (cap > SERVER_MAX_BODY)
				goto too_large;
			cap = cap ? cap * 2 : SERVER_BODY_CHUNK;
			nbuf = realloc(buf, cap + 1);
			if (nbuf == NULL)
				goto fail;
			buf = nbuf;
		}
		got = mg_read(r->conn, buf + n, cap - n);
		if (got == 0)
			break;
		if (got < 0 || util_mono_ms() > deadline)
			goto fail;
		n += (size_t)got;
		if (n > SERVER_MAX_BODY)
			goto too_large;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
too_large:
	free(buf);
	return 413;
fail:
	free(buf);
	return 408;
}

/*
 * The one line per delivery that explains it: the jobs stored (type and
 * user) and every event not turned into a job with its reason, so that
 * "Okta got 200 and nothing happened" can be answered from the log.
 */
static void
endpoint_log_delivery(struct endpoint_req *r, const struct hook_delivery *d, size_t stored,
    int duplicate)
{
	char ev[16], jobs[16], st[16], it[16], inv[16], ms[24];
	char queued[2048], skipped[2048];

	snprintf(ev, sizeof(ev), "%zu", d->nevents);
	snprintf(jobs, sizeof(jobs), "%zu", d->njobs);
	snprintf(st, sizeof(st), "%zu", stored);
	snprintf(it, sizeof(it), "%zu", d->ignored[HOOK_IGNORED_TYPE]);
	snprintf(inv, sizeof(inv), "%zu", d->ignored[HOOK_IGNORED_INVALID]);
	snprintf(ms, sizeof(ms), "%lld", (long long)(util_mono_ms() - r->start_ms));
	hook_delivery_describe(d, queued, sizeof(queued), skipped, sizeof(skipped));
	log_emit(LOG_INFO, duplicate ? "delivery duplicate" : "delivery accepted",
	    "request_id", r->rid, "event_id", d->event_id, "events", ev, "jobs", jobs,
	    "stored", st, "ignored_type", it, "ignored_invalid", inv, "ms", ms,
	    "queued", queued, "not_synced", skipped, (char *)NULL);
}

/*
 * Counts a delivery answered 200: every event gets exactly one decision
 * (hook.c: njobs + ignored == nevents; the queue stored `stored` of the
 * njobs jobs, the rest it had already), so the decisions add up to the
 * events received. A duplicate delivery stores nothing: all its jobs
 * count as duplicates.
 */
static void
endpoint_count_delivery(const struct hook_delivery *d, enum store_enqueue_result res,
    size_t stored)
{
	static const enum metrics_event ignored[HOOK_IGNORED_NREASONS] = {
		[HOOK_IGNORED_TYPE] = METRICS_EVENT_IGNORED_TYPE,
		[HOOK_IGNORED_NO_TARGET] = METRICS_EVENT_IGNORED_NO_TARGET,
		[HOOK_IGNORED_GROUP] = METRICS_EVENT_IGNORED_GROUP,
		[HOOK_IGNORED_INVALID] = METRICS_EVENT_IGNORED_INVALID,
		[HOOK_IGNORED_UNCHANGED] = METRICS_EVENT_IGNORED_UNCHANGED,
	};
	size_t i;

	if (stored > d->njobs || res == STORE_DUPLICATE)
		stored = 0;
	metrics_delivery(res == STORE_DUPLICATE ? METRICS_DELIVERY_DUPLICATE :
	    METRICS_DELIVERY_ACCEPTED);
	metrics_events(METRICS_EVENT_QUEUED, stored);
	metrics_events(METRICS_EVENT_DUPLICATE, d->njobs - stored);
	for (i = 0; i < HOOK_IGNORED_NREASONS; i++)
		metrics_events(ignored[i], d->ignored[i]);
	for (i = 0; i < d->njobs; i++)
		metrics_event_type(d->jobs[i].event_type);
}

static int
endpoint_deliver(struct endpoint_req *r)
{
	struct hook_delivery d;
	char *body = NULL, err[128], answer[96];
	size_t len = 0, stored = 0;
	enum store_enqueue_result res;
	int status;

	status = endpoint_read_body(r, &body, &len);
	if (status == 0) /* the client is done: what remains is ours */
		conn_guard_enter(r->s->guard, r->conn, -1, NULL, CONN_GUARD_HANDLER);
	if (status != 0) {
		log_emit(LOG_WARN, "delivery refused", "request_id", r->rid, "client",
		    endpoint_client(r), "peer", endpoint_peer(r), "reason",
		    status == 413 ? "body too large" : status == 400 ?
		    "both Transfer-Encoding and Content-Length" : "body read failed or timed out",
		    (char *)NULL);
		metrics_delivery(status == 413 ? METRICS_DELIVERY_TOO_LARGE : status == 400 ?
		    METRICS_DELIVERY_MALFORMED : METRICS_DELIVERY_TIMEOUT);
		return endpoint_error(r, status, status == 413 ? "body too large" :
		    status == 400 ? "bad request" : "request timeout");
	}
	if (hook_parse_delivery(body, len, &r->s->filter, &d, err, sizeof(err)) < 0) {
		free(body);
		log_emit(LOG_WARN, "delivery malformed", "request_id", r->rid, "client",
		    endpoint_client(r), "peer", endpoint_peer(r), "reason", err, (char *)NULL);
		metrics_delivery(METRICS_DELIVERY_MALFORMED);
		return endpoint_error(r, 400, err);
	}
	free(body);
	res = store_enqueue(r->s->q, d.event_id, d.jobs, d.njobs, &stored, err, sizeof(err));
	if (res == STORE_FAILED) {
		/* warn, not error: the queue logs the store's failure once */
		log_emit(LOG_WARN, "delivery not stored: answering 503 so that Okta retries",
		    "request_id", r->rid, "event_id", d.event_id, "error", err, (char *)NULL);
		hook_delivery_free(&d);
		metrics_delivery(METRICS_DELIVERY_STORE_FAILED);
		return endpoint_reply(r, 503, "application/json", "{\"error\":\"store unavailable\"}",
		    "Retry-After", SERVER_STORE_RETRY_AFTER);
	}
	endpoint_count_delivery(&d, res, stored);
	endpoint_log_delivery(r, &d, stored, res == STORE_DUPLICATE);
	util_format(answer, sizeof(answer), "{\"events\":%zu,\"stored\":%zu,\"duplicate\":%s}",
	    d.nevents, stored, res == STORE_DUPLICATE ? "true" : "false");
	hook_delivery_free(&d);
	return endpoint_reply(r, 200, "application/json", answer, NULL, NULL);
}

static int
endpoint_verify(struct endpoint_req *r)
{
	const char *challenge = mg_get_header(r->conn, "X-Okta-Verification-Challenge");
	char answer[HOOK_ANSWER_MAX];

	if (challenge == NULL)
		return endpoint_error(r, 400, "missing X-Okta-Verification-Challenge");
	if (hook_verification_answer(challenge, answer, sizeof(answer)) < 0)
		return endpoint_error(r, 400, "challenge too long");
	log_emit(LOG_INFO, "event hook verified", "request_id", r->rid, "client",
	    endpoint_client(r), "peer", endpoint_peer(r), (char *)NULL);
	return endpoint_reply(r, 200, "application/json", answer, NULL, NULL);
}

/*
 * The value of the header the secret comes in, or NULL when it is absent
 * or sent more than once: with two values, a proxy in front may check one
 * and groupsync the other, so neither is trusted.
 */
static const char *
endpoint_presented_secret(const struct mg_connection *conn, const char *name)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *value = NULL;
	int i;

	for (i = 0; i < ri->num_headers; i++) {
		if (strcasecmp(ri->http_headers[i].name, name) != 0)
			continue;
		if (value != NULL)
			return NULL;
		value = ri->http_headers[i].value;
	}
	return value;
}

static int
endpoint_hook(struct mg_connection *conn, void *cbdata)
{
	struct endpoint_req r = {.conn = conn, .s = cbdata, .start_ms = util_mono_ms()};
	const struct config *cfg = r.s->cfg;
	const char *method = mg_get_request_info(conn)->request_method;
	const char *presented = endpoint_presented_secret(conn, cfg->hook_auth_header);

	endpoint_request_id(r.rid);
	if (strcmp(mg_get_request_info(conn)->local_uri, cfg->hook_path) != 0)
		return endpoint_error(&r, 404, "not found"); /* civetweb matched a prefix */
	if (!hook_authenticate(presented, cfg->hook_secret, cfg->hook_secret_next)) {
		/* The presented value is never logged: it may be a near-miss
		 * of the real secret, or the secret of another hook. */
		log_emit(LOG_WARN, "event hook authentication failed", "request_id", r.rid,
		    "client", endpoint_client(&r), "peer", endpoint_peer(&r),
		    "header", cfg->hook_auth_header, "reason",
		    presented ? "wrong value" : "header missing or repeated", (char *)NULL);
		metrics_delivery(METRICS_DELIVERY_UNAUTHORIZED);
		return endpoint_error(&r, 401, "unauthorized");
	}
	if (strcmp(method, "POST") == 0)
		return endpoint_deliver(&r);
	if (strcmp(method, "GET") == 0)
		return endpoint_verify(&r);
	return endpoint_reply(&r, 405, "application/json", "{\"error\":\"method not allowed\"}",
	    "Allow", "GET, POST");
}

static int
endpoint_healthz(struct mg_connection *conn, void *cbdata)
{
	struct endpoint_req r = {.conn = conn, .s = cbdata};

	endpoint_request_id(r.rid);
	return endpoint_reply(&r, 200, "application/json", "{\"status\":\"ok\"}", NULL, NULL);
}

static int
endpoint_readyz(struct mg_connection *conn, void *cbdata)
{
	struct endpoint_req r = {.conn = conn, .s = cbdata};

	endpoint_request_id(r.rid);
	if (store_writable(r.s->q))
		return endpoint_reply(&r, 200, "application/json", "{\"status\":\"ready\"}", NULL,
		    NULL);
	log_emit(LOG_WARN, "not ready: the store does not accept writes", (char *)NULL);
	return endpoint_error(&r, 503, "store not writable");
}

/* The values /metrics reads at scrape time, from the store and Okta. */
static void
endpoint_gauges(struct endpoints *s, struct metrics_gauges *g)
{
	memset(g, 0, sizeof(*g));
	g->have_queue = store_counts(s->q, g->jobs) == 0 &&
	    store_oldest_pending_ms(s->q, util_now_ms(), &g->oldest_pending_ms) == 0 &&
	    store_count_held(s->q, &g->held) == 0;
	if (!g->have_queue)
		log_emit(LOG_WARN, "metrics: cannot read the queue", (char *)NULL);
	if (s->okta != NULL) {
		okta_get_stats(s->okta, &g->okta);
		g->have_okta = 1;
	}
	conn_guard_get_stats(s->guard, &g->conns);
	g->have_conns = 1;
}

/*
 * Prometheus scrape. Unauthenticated, like /healthz: the text holds
 * counts and fixed labels only (metrics.h), nothing from a request.
 */
static int
endpoint_metrics(struct mg_connection *conn, void *cbdata)
{
	struct endpoint_req r = {.conn = conn, .s = cbdata};
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct metrics_gauges g;
	char *text = NULL;
	size_t len = 0;
	int status;

	endpoint_request_id(r.rid);
	if (strcmp(ri->local_uri, "/metrics") != 0)
		return endpoint_error(&r, 404, "not found"); /* civetweb matched a prefix */
	if (strcmp(ri->request_method, "GET") != 0)
		return endpoint_reply(&r, 405, "application/json",
		    "{\"error\":\"method not allowed\"}", "Allow", "GET");
	endpoint_gauges(r.s, &g);
	if (metrics_render(&g, &text, &len) < 0) {
		log_emit(LOG_ERROR, "metrics: cannot render (out of memory)", (char *)NULL);
		return endpoint_error(&r, 500, "out of memory");
	}
	status = endpoint_reply(&r, 200, METRICS_CONTENT_TYPE, text, NULL, NULL);
	free(text);
	return status;
}

/* The values /status shows: the store's, Okta's counters, the uptime. */
static void
endpoint_status_page(struct endpoints *s, struct buf *b)
{
	struct store_list_query dq = {STORE_STATE_BIT(STORE_DEAD), NULL, 20, 0};
	/* the last syncs, failed ones too: dead, or backing off to retry */
	struct store_list_query rq = {STORE_STATE_BIT(STORE_DONE) | STORE_STATE_BIT(STORE_DEAD) |
	    STORE_STATE_BIT(STORE_PENDING), NULL, 10, 1};
	struct store_job_info *dead = NULL, *recent = NULL;
	struct status_view v;
	struct okta_stats os;
	char err[STORE_ERROR_MAX + 1];
	int more;

	memset(&v, 0, sizeof(v));
	v.now_ms = util_now_ms();
	v.uptime_s = (util_now_ms() - s->start_ms) / 1000;
	v.have_queue = store_counts(s->q, v.jobs) == 0 &&
	    store_oldest_pending_ms(s->q, v.now_ms, &v.oldest_pending_ms) == 0 &&
	    store_count_held(s->q, &v.held) == 0 &&
	    store_admin_list(s->q, &dq, &dead, &v.ndead, &more, err, sizeof(err)) == 0 &&
	    store_admin_list(s->q, &rq, &recent, &v.nrecent, &more, err, sizeof(err)) == 0;
	v.dead = dead;
	v.recent = recent;
	v.okta_remaining = -1;
	v.reconcile_last_ms = (int64_t)metrics_reconcile_last_ms();
	v.reconcile_interval_s = s->cfg->reconcile_interval_s;
	if (s->okta != NULL) {
		okta_get_stats(s->okta, &os);
		v.okta_remaining = os.rate_remaining;
	}
	status_render(b, &v);
	free(dead);
	free(recent);
}

/*
 * GET /status: the operator's page for holders of GROUPSYNC_STATUS_TOKEN
 * (bearer header or the sign-in cookie); POST /status: the sign-in form.
 * Off (404) when the token is unset. Nothing but the form without it.
 */
static int
endpoint_status(struct mg_connection *conn, void *cbdata)
{
	struct endpoint_req r = {.conn = conn, .s = cbdata, .start_ms = util_mono_ms()};
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *token = r.s->cfg->status_token;
	char *body = NULL, tok[512] = "", cookie[STATUS_COOKIE_LEN + 1], set[192] = "";
	struct buf b = {0};
	size_t len = 0;
	int post, ok, status;

	endpoint_request_id(r.rid);
	if (token == NULL || strcmp(ri->local_uri, "/status") != 0)
		return endpoint_error(&r, 404, "not found");
	post = strcmp(ri->request_method, "POST") == 0;
	if (!post && strcmp(ri->request_method, "GET") != 0)
		return endpoint_reply(&r, 405, "application/json",
		    "{\"error\":\"method not allowed\"}", "Allow", "GET, POST");
	ok = status_authorized(token, mg_get_header(conn, "Authorization"),
	    mg_get_header(conn, "Cookie"));
	if (post) {
		status = endpoint_read_body(&r, &body, &len);
		if (status != 0)
			return endpoint_error(&r, status, "bad request");
		ok = status_form_token(body, tok, sizeof(tok)) == 0 &&
		    util_secret_equal(tok, strlen(tok), token, strlen(token));
		memset(tok, 0, sizeof(tok));
		free(body);
		if (ok && status_cookie_value(token, cookie) == 0)
			util_format(set, sizeof(set), "%s=%s; Path=/status; HttpOnly; Secure; "
			    "SameSite=Strict", STATUS_COOKIE, cookie);
		if (!ok)
			log_emit(LOG_WARN, "status sign-in failed", "request_id", r.rid, "client",
			    endpoint_client(&r), (char *)NULL);
	}
	if (!ok)
		status_render_signin(&b, post);
	else
		endpoint_status_page(r.s, &b);
	status = b.failed ? endpoint_error(&r, 500, "out of memory") :
	    endpoint_reply(&r, ok ? 200 : 401, "text/html; charset=utf-8", b.p,
	    ok && set[0] ? "Set-Cookie" : ok ? NULL : "WWW-Authenticate", ok ? set : "Bearer");
	free(b.p);
	return status;
}

/* Everything else: 404, so that civetweb never looks for a file. */
static int
endpoint_not_found(struct mg_connection *conn, void *cbdata)
{
	struct endpoint_req r = {.conn = conn, .s = cbdata};

	endpoint_request_id(r.rid);
	return endpoint_error(&r, 404, "not found");
}

void
endpoints_route(struct endpoints *s, struct mg_context *ctx)
{
	char exact[300];

	util_format(exact, sizeof(exact), "%s", s->cfg->hook_path);
	mg_set_request_handler(ctx, exact, endpoint_hook, s);
	mg_set_request_handler(ctx, "/healthz", endpoint_healthz, s);
	mg_set_request_handler(ctx, "/readyz", endpoint_readyz, s);
	mg_set_request_handler(ctx, "/metrics", endpoint_metrics, s);
	mg_set_request_handler(ctx, "/status", endpoint_status, s);
	mg_set_request_handler(ctx, "**", endpoint_not_found, s);
}

int
endpoints_starting(struct mg_connection *conn)
{
	struct endpoint_req r = {.conn = conn};

	endpoint_request_id(r.rid);
	return endpoint_reply(&r, 503, "application/json", "{\"error\":\"starting\"}",
	    "Retry-After", "1");
}

static int
endpoint_relevant(const char *changed, void *arg)
{
	return remote_uses_any(arg, changed);
}

struct endpoints *
endpoints_new(const struct endpoints_deps *d)
{
	struct endpoints *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = d->cfg;
	s->q = d->q;
	s->okta = d->okta;
	s->guard = d->guard;
	s->start_ms = util_now_ms();
	s->filter.group_ids = d->cfg->group_ids;
	s->filter.ngroup_ids = d->cfg->ngroup_ids;
	if (d->remote != NULL) {
		s->filter.relevant = endpoint_relevant;
		s->filter.relevant_arg = (void *)d->remote;
	}
	return s;
}

void
endpoints_free(struct endpoints *s)
{
	free(s);
}
