/*
 * okta/rate: the per-bucket budget (see groupsync/okta/rate.h): what
 * X-Rate-Limit-* and 429 answers taught, and whether a call may go now.
 */
#include "groupsync/okta/rate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

static const char *const okta_bucket_names[OKTA_BUCKETS] = {
	"users/{id}", "users/{id}/groups", "groups/{id}/users", "oauth2/v1/token",
};

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
