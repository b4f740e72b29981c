/*
 * okta/rate: the per-bucket budget and pace (see groupsync/okta/rate.h):
 * which bucket a call draws on, what X-Rate-Limit-* and 429 answers
 * taught, when the next call may go, and the bound on calls in flight.
 */
#include "groupsync/okta/rate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

#define OKTA_RATE_SHARE_DEFAULT 50
#define OKTA_RATE_CONCURRENCY_DEFAULT 10

static const char *const okta_bucket_names[OKTA_BUCKETS] = {
	[OKTA_BUCKET_USERS_ID_GET] = "users-id-get",
	[OKTA_BUCKET_USERS_ID_WRITE] = "users-id-write",
	[OKTA_BUCKET_USERS] = "users",
	[OKTA_BUCKET_GROUPS] = "groups",
	[OKTA_BUCKET_GROUPS_ID] = "groups-id",
	[OKTA_BUCKET_API] = "api",
	[OKTA_BUCKET_TOKEN] = "oauth2-token",
};

static const char *const okta_class_names[OKTA_CALL_CLASSES] = {
	"2xx", "4xx", "429", "5xx", "error",
};

const char *
okta_bucket_name(enum okta_bucket b)
{
	return (unsigned)b < OKTA_BUCKETS ? okta_bucket_names[b] : "api";
}

const char *
okta_call_class_name(enum okta_call_class c)
{
	return (unsigned)c < OKTA_CALL_CLASSES ? okta_class_names[c] : "error";
}

/* ---- which bucket ------------------------------------------------------------ */

/* The path of url: after "scheme://host" when there is one. */
static const char *
okta_url_path(const char *url)
{
	const char *p = strstr(url, "://");

	if (p == NULL)
		return url;
	p = strchr(p + 3, '/');
	return p != NULL ? p : "/";
}

/*
 * When path (up to the query) is prefix followed by more, the number of
 * segments after it (1 for "/x", 2 for "/x/y"); 0 when path is prefix
 * itself; -1 when it is not under prefix.
 */
static int
okta_segments_after(const char *path, size_t len, const char *prefix)
{
	size_t n = strlen(prefix), i;
	int segs = 0;

	if (len < n || strncmp(path, prefix, n) != 0)
		return -1;
	if (len == n || (len == n + 1 && path[n] == '/'))
		return 0;
	if (path[n] != '/')
		return -1; /* "/api/v1/usersX" */
	for (i = n; i < len; i++) {
		if (path[i] == '/' && i + 1 < len)
			segs++;
	}
	return segs;
}

enum okta_bucket
okta_bucket_of(const char *method, const char *url)
{
	const char *path = okta_url_path(url);
	size_t len = strcspn(path, "?#");
	int get = strcmp(method, "GET") == 0, users, groups;

	if (strcmp(method, "POST") == 0 && len == strlen("/oauth2/v1/token") &&
	    strncmp(path, "/oauth2/v1/token", len) == 0)
		return OKTA_BUCKET_TOKEN;
	users = okta_segments_after(path, len, "/api/v1/users");
	if (users == 1)
		return get ? OKTA_BUCKET_USERS_ID_GET : OKTA_BUCKET_USERS_ID_WRITE;
	if (users == 0 && (get || strcmp(method, "POST") == 0))
		return OKTA_BUCKET_USERS;
	groups = okta_segments_after(path, len, "/api/v1/groups");
	if (groups == 1)
		return OKTA_BUCKET_GROUPS_ID;
	if (groups >= 0)
		return OKTA_BUCKET_GROUPS;
	return OKTA_BUCKET_API;
}

/* ---- state --------------------------------------------------------------------- */

void
okta_rate_init(struct okta_rate *r, int share, int max_in_flight)
{
	int i;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->share = share >= 1 && share <= 100 ? share : OKTA_RATE_SHARE_DEFAULT;
	r->max_in_flight = max_in_flight >= 1 ? max_in_flight : OKTA_RATE_CONCURRENCY_DEFAULT;
	r->horizon_ms = OKTA_RATE_HORIZON_MS;
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
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}

int64_t
okta_rate_budget(const struct okta_rate *r, int64_t limit)
{
	int64_t n = limit * r->share / 100;

	return n >= 1 ? n : 1; /* a bucket of 1 at 50% still allows a call */
}

/* ---- pacing ----------------------------------------------------------------------- */

/* The next slot in a window whose limit and end are known (mu held). */
static enum okta_rate_verdict
okta_rate_paced(struct okta_rate *r, struct okta_rate_bucket *k, int64_t now_ms,
    int64_t *at_ms)
{
	int64_t left = okta_rate_budget(r, k->limit) - k->used;
	int64_t prev = k->last_slot_ms, slot;

	if (left <= 0) {
		*at_ms = k->reset_ms; /* spent: the next window */
		return OKTA_RATE_LATER;
	}
	/* The time left after the previous slot, split among the calls left
	 * and the next window's first call (at its start): a burst of callers
	 * gets slots an even step apart, the last one a step before the end. */
	slot = prev > 0 && prev < k->reset_ms ? prev + (k->reset_ms - prev) / (left + 1) : now_ms;
	if (slot < now_ms)
		slot = now_ms;
	/* A call sent this close to the end may reach Okta in the next window,
	 * which groupsync has not counted yet. */
	if (slot >= k->reset_ms - OKTA_RATE_EDGE_MS) {
		*at_ms = k->reset_ms;
		return OKTA_RATE_LATER;
	}
	*at_ms = slot;
	if (slot > now_ms + r->horizon_ms)
		return OKTA_RATE_LATER; /* too far to wait for: reserved by nobody */
	k->used++;
	k->last_slot_ms = slot;
	return OKTA_RATE_GO;
}

enum okta_rate_verdict
okta_rate_reserve(struct okta_rate *r, enum okta_bucket b, int64_t now_ms, int64_t *at_ms)
{
	struct okta_rate_bucket *k = &r->b[b];
	enum okta_rate_verdict v = OKTA_RATE_GO;

	*at_ms = now_ms;
	pthread_mutex_lock(&r->mu);
	if (k->blocked_until_ms > now_ms) {
		*at_ms = k->blocked_until_ms;
		v = OKTA_RATE_BLOCKED;
	} else if (k->limit > 0 && k->reset_ms > now_ms) {
		v = okta_rate_paced(r, k, now_ms, at_ms);
	} else if (k->unlimited && k->limit <= 0) {
		v = OKTA_RATE_GO; /* Okta states no limit here: only the concurrency bound */
	} else if (k->probing) {
		*at_ms = now_ms + OKTA_RATE_POLL_MS; /* its answer tells the window */
		v = OKTA_RATE_LATER;
	} else {
		/* No window known (first call, or ours ended): one call learns it. */
		k->probing = 1;
		k->fresh++;
		k->last_slot_ms = now_ms;
	}
	pthread_mutex_unlock(&r->mu);
	return v;
}

/* ---- learning ------------------------------------------------------------------------ */

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
 * X-Rate-Limit-Reset (epoch seconds) on our clock. Windows may be a few
 * seconds long and Date has 1-second resolution, so Date is used only to
 * correct a skew larger than OKTA_RATE_SKEW_MS (Okta's clock is right;
 * ours may not be); within it, Reset is compared with our clock as is.
 */
static int64_t
okta_rate_reset_ms(const struct http_response *resp, int64_t reset_s, int64_t now_ms)
{
	int64_t reset_ms = reset_s * 1000, skew_ms;
	char d[64];
	time_t server;

	if (http_header(resp, "Date", d, sizeof(d))) {
		server = curl_getdate(d, NULL);
		/* Date is truncated to its second: its middle is the best guess */
		skew_ms = server > 0 ? (int64_t)server * 1000 + 500 - now_ms : 0;
		if (skew_ms > OKTA_RATE_SKEW_MS || skew_ms < -OKTA_RATE_SKEW_MS)
			reset_ms -= skew_ms;
	}
	if (reset_ms > now_ms + OKTA_RATE_MAX_WAIT_MS)
		reset_ms = now_ms + OKTA_RATE_MAX_WAIT_MS;
	return reset_ms;
}

/* Headroom: the bucket is shared with every other client of the org. */
static int
okta_rate_low(int64_t limit, int64_t remaining)
{
	return remaining >= 0 && (remaining <= 2 || (limit > 0 && remaining <= limit / 10));
}

static enum okta_call_class
okta_rate_class(const struct http_response *resp)
{
	if (resp == NULL || resp->status == 0)
		return OKTA_CALL_ERROR;
	if (resp->status == 429)
		return OKTA_CALL_429;
	if (resp->status >= 200 && resp->status < 300)
		return OKTA_CALL_2XX;
	if (resp->status >= 500)
		return OKTA_CALL_5XX;
	return resp->status >= 400 ? OKTA_CALL_4XX : OKTA_CALL_ERROR;
}

/* What one answer teaches about the window (mu held). */
static void
okta_rate_learn(struct okta_rate_bucket *k, int64_t limit, int64_t rem, int64_t reset_ms,
    int64_t now_ms)
{
	if (limit > 0)
		k->limit = limit;
	else if (limit < 0 && k->limit < 0)
		k->unlimited = 1;
	if (rem >= 0)
		k->remaining = rem;
	/* A later window: our calls since the last one ended are its first. */
	if (reset_ms > now_ms && reset_ms > k->reset_ms) {
		k->reset_ms = reset_ms;
		k->used = k->fresh;
		k->fresh = 0;
	}
}

int64_t
okta_rate_update(struct okta_rate *r, enum okta_bucket b, const struct http_response *resp,
    int64_t now_ms)
{
	struct okta_rate_bucket *k = &r->b[b];
	int64_t limit = resp ? okta_header_int(resp, "X-Rate-Limit-Limit") : 0;
	int64_t rem = resp ? okta_header_int(resp, "X-Rate-Limit-Remaining") : -1;
	int64_t reset_s = resp ? okta_header_int(resp, "X-Rate-Limit-Reset") : -1;
	int64_t reset_ms = reset_s > 0 ? okta_rate_reset_ms(resp, reset_s, now_ms) : 0;
	int64_t until = 0, was, ret;
	int is429 = resp != NULL && resp->status == 429;
	char secs[32];

	if (is429) {
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
	k->calls[okta_rate_class(resp)]++;
	k->probing = 0;
	if (resp != NULL && resp->status != 0)
		okta_rate_learn(k, limit, rem, reset_ms, now_ms);
	was = k->blocked_until_ms;
	if (until > was)
		k->blocked_until_ms = until;
	ret = k->blocked_until_ms > now_ms ? k->blocked_until_ms : 0;
	pthread_mutex_unlock(&r->mu);
	if (until > now_ms && was <= now_ms) {
		util_format(secs, sizeof(secs), "%lld", (long long)((until - now_ms + 999) / 1000));
		log_emit(LOG_WARN, "okta rate limit: pausing calls", "bucket", okta_bucket_names[b],
		    "reason", is429 ? "429" : "headroom", "seconds", secs, (char *)NULL);
	}
	return ret;
}

void
okta_rate_cancel(struct okta_rate *r, enum okta_bucket b)
{
	pthread_mutex_lock(&r->mu);
	r->b[b].probing = 0;
	pthread_mutex_unlock(&r->mu);
}

void
okta_rate_note_wait(struct okta_rate *r, enum okta_bucket b, int64_t ms)
{
	if (ms <= 0)
		return;
	pthread_mutex_lock(&r->mu);
	r->b[b].waited_ms += ms;
	pthread_mutex_unlock(&r->mu);
}

/* ---- concurrency ----------------------------------------------------------------------- */

int
okta_rate_enter(struct okta_rate *r, int wait_ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	while (r->in_flight >= r->max_in_flight && rc == 0)
		rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	if (r->in_flight < r->max_in_flight) {
		r->in_flight++;
		rc = 0;
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
okta_rate_leave(struct okta_rate *r)
{
	pthread_mutex_lock(&r->mu);
	r->in_flight--;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---- figures ------------------------------------------------------------------------------ */

void
okta_rate_stats(struct okta_rate *r, int64_t now_ms, struct okta_bucket_stats out[OKTA_BUCKETS])
{
	const struct okta_rate_bucket *k;
	int64_t budget;
	int i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < OKTA_BUCKETS; i++) {
		k = &r->b[i];
		out[i].name = okta_bucket_names[i];
		memcpy(out[i].calls, k->calls, sizeof(out[i].calls));
		out[i].waited_s = (double)k->waited_ms / 1000.0;
		out[i].share_remaining = 1.0;
		if (k->limit > 0 && k->reset_ms > now_ms) {
			budget = okta_rate_budget(r, k->limit);
			out[i].share_remaining = k->used >= budget ? 0.0 :
			    (double)(budget - k->used) / (double)budget;
		}
	}
	pthread_mutex_unlock(&r->mu);
}
