/*
 * okta/rate: Okta's rate limits as groupsync keeps them, and the pace it
 * calls at. One budget per bucket of Okta's management rate-limit table
 * (okta_bucket_of: a 429 on one bucket does not stop the others), learnt
 * from X-Rate-Limit-* headers and 429 answers, asked before every call
 * (okta/send.h); and the bound on calls in flight per process.
 *
 * Pacing: in a window whose limit L and end R are known, groupsync spends
 * at most floor(L * share / 100) calls (GROUPSYNC_OKTA_RATE_SHARE), each
 * slot spaced (R - previous slot) / (calls left + 1) after the previous
 * one (the + 1 is the next window's first call, at R), so that a burst of
 * workers becomes an even stream and the org's other clients always find
 * budget. Until an answer tells a window, one call at
 * a time goes (it learns the window). A 429 is obeyed to its reset, and a
 * bucket that others left low (the headroom rule) waits for its reset.
 *
 * Pure: every function takes the time (now_ms, unix ms) and sends
 * nothing, so the arithmetic is tested with an injected clock.
 *
 * Threads: one struct okta_rate is shared by every caller; its state is
 * guarded by mu, the plain counters are atomic.
 */
#ifndef GROUPSYNC_OKTA_RATE_H
#define GROUPSYNC_OKTA_RATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "groupsync/base/http.h"

#define OKTA_RATE_BACKOFF_MS 5000        /* 429 with no reset time */
#define OKTA_RATE_MAX_WAIT_MS (15 * 60 * 1000) /* cap on a reset we obey */
#define OKTA_RATE_HORIZON_MS 3000        /* slots granted at most this far ahead */
#define OKTA_RATE_POLL_MS 20             /* ask again: the bucket's first call is out */
#define OKTA_RATE_EDGE_MS 50             /* no slot this close to a window's end */
#define OKTA_RATE_SKEW_MS 2000           /* Date corrects clock skews beyond this */

/* Okta's management buckets (developer.okta.com/docs/reference/rl-global-mgmt). */
enum okta_bucket {
	OKTA_BUCKET_USERS_ID_GET = 0, /* GET /api/v1/users/{idOrLogin} */
	OKTA_BUCKET_USERS_ID_WRITE,   /* POST, PUT, DELETE /api/v1/users/{id} */
	OKTA_BUCKET_USERS,            /* GET, POST /api/v1/users */
	OKTA_BUCKET_GROUPS,           /* /api/v1/groups, /api/v1/groups/{id}/... */
	OKTA_BUCKET_GROUPS_ID,        /* /api/v1/groups/{id} */
	OKTA_BUCKET_API,              /* every other path */
	OKTA_BUCKET_TOKEN,            /* POST /oauth2/v1/token */
	OKTA_BUCKETS
};

/* How a call ended, for groupsync_okta_calls_total{class}. */
enum okta_call_class {
	OKTA_CALL_2XX = 0, OKTA_CALL_4XX, OKTA_CALL_429, OKTA_CALL_5XX, OKTA_CALL_ERROR,
	OKTA_CALL_CLASSES
};

/* The bucket a call draws on: method and URL (an absolute URL or a path;
 * the query is ignored). Every Okta call is counted by this one function. */
enum okta_bucket okta_bucket_of(const char *method, const char *url);
const char *okta_bucket_name(enum okta_bucket b);   /* "users-id-get", ... */
const char *okta_call_class_name(enum okta_call_class c); /* "2xx", ... */

struct okta_rate_bucket {
	int64_t limit;            /* last X-Rate-Limit-Limit, -1 unknown */
	int64_t remaining;        /* last X-Rate-Limit-Remaining, -1 unknown */
	int64_t reset_ms;         /* end of the window counted in (our clock), 0 none */
	int64_t used;             /* our slots in that window */
	int64_t fresh;            /* our calls since that window ended, not yet placed */
	int64_t last_slot_ms;     /* the latest slot granted */
	int64_t blocked_until_ms; /* 429 or headroom: no call before it */
	int probing;              /* a call is out to learn the window */
	int unlimited;            /* Okta answered without X-Rate-Limit-Limit */
	uint64_t calls[OKTA_CALL_CLASSES];
	int64_t waited_ms;        /* callers' waits for a slot, in total */
};

struct okta_rate {
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a call in flight ended */
	int share;                /* percent of each bucket, 1-100 */
	int max_in_flight;        /* GROUPSYNC_OKTA_CONCURRENCY */
	int in_flight;
	int64_t horizon_ms;       /* OKTA_RATE_HORIZON_MS; tests may change it */
	struct okta_rate_bucket b[OKTA_BUCKETS];
	_Atomic int64_t last_remaining;
	_Atomic uint64_t rate_limited, deferred;
};

/* share: percent 1-100; max_in_flight >= 1 (0 or less: the defaults). */
void okta_rate_init(struct okta_rate *r, int share, int max_in_flight);
void okta_rate_destroy(struct okta_rate *r);

/* Calls groupsync may make in a window of limit calls (at least 1). */
int64_t okta_rate_budget(const struct okta_rate *r, int64_t limit);

enum okta_rate_verdict {
	OKTA_RATE_GO,      /* a slot is reserved at *at_ms (<= now + horizon): wait, then send */
	OKTA_RATE_LATER,   /* nothing reserved: ask again at *at_ms */
	OKTA_RATE_BLOCKED, /* a 429 or low headroom: nothing before *at_ms, the reset */
};

/*
 * Asks for the next slot of bucket b. GO reserves it (counted in the
 * window, or as the call that learns the window). LATER reserves nothing
 * (our share of the window spent: *at_ms is its end; the window's first
 * call still out; or the slot beyond the horizon: *at_ms is that slot)
 * and says when asking again makes sense. BLOCKED: Okta said to wait.
 */
enum okta_rate_verdict okta_rate_reserve(struct okta_rate *r, enum okta_bucket b,
    int64_t now_ms, int64_t *at_ms);

/*
 * Learns from one answer of bucket b (resp NULL: the call got none):
 * X-Rate-Limit-* (Reset is epoch seconds read on our clock; the answer's
 * Date corrects it only when the clocks differ by more than
 * OKTA_RATE_SKEW_MS), a new window, 429 (blocked until the reset, else
 * Retry-After, else OKTA_RATE_BACKOFF_MS), and the headroom rule
 * (Remaining <= max(2, 10% of Limit) blocks until Reset). Counts the call
 * by class. Returns the bucket's block end (unix ms), 0 if none.
 */
int64_t okta_rate_update(struct okta_rate *r, enum okta_bucket b,
    const struct http_response *resp, int64_t now_ms);

/* A slot reserved and not used (the caller stops): the window's first
 * call, if it was that, is no longer out. The slot stays counted. */
void okta_rate_cancel(struct okta_rate *r, enum okta_bucket b);

/* Adds a caller's wait for a slot to the bucket's total. */
void okta_rate_note_wait(struct okta_rate *r, enum okta_bucket b, int64_t ms);

/*
 * The concurrency bound: takes one of max_in_flight places, waiting up to
 * wait_ms for one to free. 0 when taken (okta_rate_leave it), -1 when
 * none freed in time.
 */
int okta_rate_enter(struct okta_rate *r, int wait_ms);
void okta_rate_leave(struct okta_rate *r);

/* One bucket as /metrics shows it. */
struct okta_bucket_stats {
	const char *name;       /* okta_bucket_name */
	uint64_t calls[OKTA_CALL_CLASSES];
	double share_remaining; /* of our share in the current window; 1 unknown */
	double waited_s;
};
void okta_rate_stats(struct okta_rate *r, int64_t now_ms, struct okta_bucket_stats out[OKTA_BUCKETS]);

#endif
