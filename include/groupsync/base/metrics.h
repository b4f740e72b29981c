/*
 * metrics: counters and one histogram for GET /metrics, rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * Owns the process-wide counters that the server (deliveries, events)
 * and the workers (syncs, sync latency, remote calls) update, and the
 * rendering of those counters together with the gauges the caller reads
 * at scrape time (queue depth from the store, Okta call counters).
 * Does not own the store or the Okta client: the server passes their
 * values in struct metrics_gauges.
 *
 * Every label value comes from a fixed enum or table, never from input,
 * so memory is bounded and no user ID, request body or secret can ever
 * reach the output.
 *
 * Threads: every function is safe from any thread. Updates are one
 * relaxed atomic add (no lock); a render reads each counter atomically,
 * so a scrape taken during updates may mix older and newer values, but
 * never tears one, and a histogram's +Inf bucket always equals its count.
 */
#ifndef GROUPSYNC_METRICS_H
#define GROUPSYNC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "groupsync/intake/conn_guard.h"
#include "groupsync/okta/client.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What became of one request to the event hook path. */
enum metrics_delivery {
	METRICS_DELIVERY_ACCEPTED = 0, /* 200, jobs committed */
	METRICS_DELIVERY_DUPLICATE,    /* 200, eventId seen before */
	METRICS_DELIVERY_UNAUTHORIZED, /* 401 (any method) */
	METRICS_DELIVERY_MALFORMED,    /* 400 */
	METRICS_DELIVERY_TOO_LARGE,    /* 413 */
	METRICS_DELIVERY_TIMEOUT,      /* 408: body read failed or too slow */
	METRICS_DELIVERY_STORE_FAILED, /* 503: Okta retries */
	METRICS_DELIVERY_N
};

/* What became of one event of a delivery answered 200. */
enum metrics_event {
	METRICS_EVENT_QUEUED = 0,        /* a new job */
	METRICS_EVENT_DUPLICATE,         /* uuid or delivery stored before */
	METRICS_EVENT_IGNORED_TYPE,      /* the HOOK_IGNORED_* reasons */
	METRICS_EVENT_IGNORED_NO_TARGET,
	METRICS_EVENT_IGNORED_GROUP,
	METRICS_EVENT_IGNORED_INVALID,
	METRICS_EVENT_IGNORED_UNCHANGED,
	METRICS_EVENT_N
};

/* How one sync (one lease) ended. */
enum metrics_sync_outcome {
	METRICS_SYNC_OK = 0,
	METRICS_SYNC_RETRY,
	METRICS_SYNC_DEAD,
	METRICS_SYNC_RELEASED,     /* shutdown: lease given back */
	METRICS_SYNC_SKIPPED,      /* no Okta call was needed */
	METRICS_SYNC_STORE_FAILED, /* done, but not recorded: runs again */
	METRICS_SYNC_HELD,         /* a deprovision past the threshold, held */
	METRICS_SYNC_DEFERRED,     /* put off for Okta's rate budget: no attempt */
	METRICS_SYNC_OUTCOME_N
};

/* What the sync decided; UNDECIDED when it failed before deciding. */
enum metrics_sync_action {
	METRICS_ACTION_CREATE = 0,
	METRICS_ACTION_UPDATE,
	METRICS_ACTION_DELETE,
	METRICS_ACTION_NOTHING,
	METRICS_ACTION_DISABLE,
	METRICS_ACTION_FORGET,
	METRICS_ACTION_UNDECIDED,
	METRICS_ACTION_N
};

/* The remote system's operations (the templates in hooks/). */
enum metrics_remote_op {
	METRICS_REMOTE_FIND = 0,
	METRICS_REMOTE_CREATE,
	METRICS_REMOTE_UPDATE,
	METRICS_REMOTE_DELETE,
	METRICS_REMOTE_DISABLE,
	METRICS_REMOTE_OP_N
};

/* Sync latency buckets, seconds: METRICS_SYNC_BUCKETS upper bounds + +Inf. */
#define METRICS_SYNC_BUCKETS 12

/*
 * The values read at scrape time. have_queue 0 (the store could not be
 * read) or have_okta 0 (no Okta client) leave those samples out rather
 * than report made-up zeros.
 */
struct metrics_gauges {
	int have_queue;
	int64_t jobs[4];           /* by enum store_state (store_counts) */
	int64_t oldest_pending_ms; /* store_oldest_pending_ms */
	int64_t held;              /* store_count_held */
	int have_okta;
	struct okta_stats okta;
	int have_conns;
	struct conn_guard_stats conns;
};

/* Hot-path updates: one relaxed atomic add each. Out-of-range values are
 * ignored (never an out-of-bounds write). */
void metrics_delivery(enum metrics_delivery outcome);
void metrics_events(enum metrics_event decision, uint64_t n);
/* Counts one handled event by its type; a type not in the table counts
 * as "other". The string is compared, never stored. */
void metrics_event_type(const char *event_type);
void metrics_sync(enum metrics_sync_outcome outcome, enum metrics_sync_action action,
    uint64_t duration_us);
/* status: the HTTP status answered, 0 when none came. */
void metrics_remote_call(enum metrics_remote_op op, long status);

/* Monotonic clock in microseconds, for durations given to metrics_sync. */
uint64_t metrics_now_us(void);

/* serve's reconcile loop finished a run at unix ms now_ms; the last such
 * time (0: none yet) for /metrics and /status. */
void metrics_reconcile_done(uint64_t now_ms);
uint64_t metrics_reconcile_last_ms(void);

/*
 * Renders every metric. Returns 0 with *out (NUL-terminated, the caller
 * frees it with free()) and *len, or -1 when out of memory.
 */
int metrics_render(const struct metrics_gauges *g, char **out, size_t *len);

/*
 * Escapes a label value for the text format (backslash, double quote,
 * newline). Returns the length, or -1 when it does not fit in outlen.
 */
int metrics_escape_label(const char *in, char *out, size_t outlen);

/* Zeroes every counter (tests; updates racing with it may be lost). */
void metrics_reset(void);

#endif
