/*
 * okta/rate: Okta's rate limits as groupsync keeps them, one budget per
 * endpoint family (Okta counts calls per family, so a 429 on one does not
 * stop the others): learnt from X-Rate-Limit-* headers and 429 answers,
 * asked before every call (okta/send.h). Does not send anything.
 *
 * Threads: one struct okta_rate is shared by every worker; the buckets
 * are guarded by mu, the counters are atomic.
 */
#ifndef GROUPSYNC_OKTA_RATE_H
#define GROUPSYNC_OKTA_RATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "groupsync/base/http.h"

#define OKTA_RATE_BACKOFF_MS 5000        /* 429 with no reset time */
#define OKTA_RATE_MAX_WAIT_MS (15 * 60 * 1000) /* cap on a reset we obey */

enum okta_bucket {
	OKTA_BUCKET_USER = 0,    /* GET/POST /api/v1/users/{id} */
	OKTA_BUCKET_USER_GROUPS, /* GET /api/v1/users/{id}/groups */
	OKTA_BUCKET_GROUPS,      /* GET /api/v1/groups/{id}/users */
	OKTA_BUCKET_TOKEN,       /* POST /oauth2/v1/token */
	OKTA_BUCKETS
};

struct okta_rate_bucket {
	int64_t limit;            /* last X-Rate-Limit-Limit, -1 unknown */
	int64_t remaining;        /* last X-Rate-Limit-Remaining, -1 unknown */
	int64_t blocked_until_ms; /* unix ms (our clock); no call before it */
};

struct okta_rate {
	pthread_mutex_t mu;
	struct okta_rate_bucket b[OKTA_BUCKETS];
	_Atomic int64_t last_remaining;
	_Atomic uint64_t rate_limited, deferred;
};

void okta_rate_init(struct okta_rate *r);
void okta_rate_destroy(struct okta_rate *r);

/*
 * Returns 0 when a call in bucket b may go now; else -1 with *until set to
 * the end of the block (unix ms) and one deferral counted.
 */
int okta_rate_admit(struct okta_rate *r, enum okta_bucket b, int64_t now_ms, int64_t *until);

/*
 * Learns from one answer: X-Rate-Limit-* (Reset taken relative to the
 * answer's Date header when present, so clock skew does not matter), 429,
 * Retry-After, and the headroom rule (Remaining <= max(2, 10% of Limit)
 * blocks until Reset). Returns the bucket's block end (unix ms), 0 if none.
 */
int64_t okta_rate_update(struct okta_rate *r, enum okta_bucket b,
    const struct http_response *resp, int64_t now_ms);

#endif
