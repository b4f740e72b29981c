#include "groupsync/base/metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupsync/base/buf.h"
#include "groupsync/store/store.h"

/* A scrape is about 8 KiB: starting smaller, every render grows the
 * buffer, so the growth path is exercised by every test, not only in rare
 * production cases. */
#define METRICS_LABEL_MAX 128 /* one escaped label value */
#define METRICS_VALUE_MAX 32  /* one formatted sample value */

static const char *const metrics_delivery_names[METRICS_DELIVERY_N] = {
	"accepted", "duplicate", "unauthorized", "malformed", "too_large", "timeout",
	"store_failed",
};

static const char *const metrics_event_names[METRICS_EVENT_N] = {
	"queued", "duplicate", "ignored_type", "ignored_no_target", "ignored_group",
	"ignored_invalid", "ignored_unchanged",
};

/* The event types hook.c handles; anything else is "other" (the last). */
static const char *const metrics_type_names[] = {
	"group.user_membership.add", "group.user_membership.remove",
	"user.account.update_profile", "user.lifecycle.activate",
	"user.lifecycle.reactivate", "user.lifecycle.deactivate", "user.lifecycle.suspend",
	"user.lifecycle.unsuspend", "user.lifecycle.delete.initiated", "other",
};
#define METRICS_TYPE_N (sizeof(metrics_type_names) / sizeof(metrics_type_names[0]))

static const char *const metrics_outcome_names[METRICS_SYNC_OUTCOME_N] = {
	"ok", "retry", "dead", "released", "skipped", "store_failed", "held", "deferred",
};

static const char *const metrics_action_names[METRICS_ACTION_N] = {
	"create", "update", "delete", "nothing", "disable", "forget", "undecided",
};

static const char *const metrics_op_names[METRICS_REMOTE_OP_N] = {
	"find", "create", "update", "delete", "disable",
};

/* HTTP status classes; "none" when no answer came (transport error,
 * timeout, abort, or a request that could not be rendered). */
enum metrics_class {
	METRICS_CLASS_2XX = 0, METRICS_CLASS_3XX, METRICS_CLASS_4XX, METRICS_CLASS_5XX,
	METRICS_CLASS_OTHER, METRICS_CLASS_NONE, METRICS_CLASS_N
};
static const char *const metrics_class_names[METRICS_CLASS_N] = {
	"2xx", "3xx", "4xx", "5xx", "other", "none",
};

/*
 * Sync latency: from 5 ms (a skip, or a sync against a local remote) to
 * 30 s (several calls near the default 10 s timeout, or a rate-limit
 * wait). The bounds are kept as text too, so that "le" is exactly what
 * the table says, never a float printed differently.
 */
static const uint64_t metrics_bounds_us[METRICS_SYNC_BUCKETS] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000, 30000000,
};
static const char *const metrics_bound_names[METRICS_SYNC_BUCKETS] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
};

/*
 * The counters: the only mutable globals besides the configuration
 * (STYLE.md). Static storage is zero-initialised, which C11 guarantees
 * is a valid state for atomics. sync_buckets are per bucket, not
 * cumulative (the last one is above every bound): one add per sync, and
 * the render adds them up, so +Inf always equals the count.
 */
static struct {
	_Atomic uint64_t deliveries[METRICS_DELIVERY_N];
	_Atomic uint64_t events[METRICS_EVENT_N];
	_Atomic uint64_t event_types[METRICS_TYPE_N];
	_Atomic uint64_t syncs[METRICS_SYNC_OUTCOME_N][METRICS_ACTION_N];
	_Atomic uint64_t sync_buckets[METRICS_SYNC_BUCKETS + 1];
	_Atomic uint64_t sync_sum_us;
	_Atomic uint64_t remote[METRICS_REMOTE_OP_N][METRICS_CLASS_N];
	_Atomic uint64_t reconcile_last_ms;
} metrics_counters;

static void
metrics_add(_Atomic uint64_t *c, uint64_t n)
{
	/* Relaxed: a counter orders nothing else, it only has to be exact. */
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
metrics_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void
metrics_delivery(enum metrics_delivery outcome)
{
	if ((unsigned)outcome < METRICS_DELIVERY_N)
		metrics_add(&metrics_counters.deliveries[outcome], 1);
}

void
metrics_events(enum metrics_event decision, uint64_t n)
{
	if ((unsigned)decision < METRICS_EVENT_N && n > 0)
		metrics_add(&metrics_counters.events[decision], n);
}

void
metrics_event_type(const char *event_type)
{
	size_t i;

	for (i = 0; i + 1 < METRICS_TYPE_N; i++) {
		if (event_type != NULL && strcmp(event_type, metrics_type_names[i]) == 0)
			break;
	}
	metrics_add(&metrics_counters.event_types[i], 1);
}

void
metrics_sync(enum metrics_sync_outcome outcome, enum metrics_sync_action action,
    uint64_t duration_us)
{
	size_t b;

	if ((unsigned)outcome >= METRICS_SYNC_OUTCOME_N || (unsigned)action >= METRICS_ACTION_N)
		return;
	for (b = 0; b < METRICS_SYNC_BUCKETS; b++) {
		if (duration_us <= metrics_bounds_us[b])
			break;
	}
	metrics_add(&metrics_counters.syncs[outcome][action], 1);
	metrics_add(&metrics_counters.sync_buckets[b], 1);
	metrics_add(&metrics_counters.sync_sum_us, duration_us);
}

static enum metrics_class
metrics_status_class(long status)
{
	if (status == 0)
		return METRICS_CLASS_NONE;
	if (status >= 200 && status < 600)
		return (enum metrics_class)(status / 100 - 2);
	return METRICS_CLASS_OTHER;
}

void
metrics_remote_call(enum metrics_remote_op op, long status)
{
	if ((unsigned)op < METRICS_REMOTE_OP_N)
		metrics_add(&metrics_counters.remote[op][metrics_status_class(status)], 1);
}

uint64_t
metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
metrics_reconcile_done(uint64_t now_ms)
{
	atomic_store(&metrics_counters.reconcile_last_ms, now_ms);
}

uint64_t
metrics_reconcile_last_ms(void)
{
	return atomic_load(&metrics_counters.reconcile_last_ms);
}

void
metrics_reset(void)
{
	size_t i, j;

	for (i = 0; i < METRICS_DELIVERY_N; i++)
		atomic_store(&metrics_counters.deliveries[i], 0);
	for (i = 0; i < METRICS_EVENT_N; i++)
		atomic_store(&metrics_counters.events[i], 0);
	for (i = 0; i < METRICS_TYPE_N; i++)
		atomic_store(&metrics_counters.event_types[i], 0);
	for (i = 0; i < METRICS_SYNC_OUTCOME_N; i++) {
		for (j = 0; j < METRICS_ACTION_N; j++)
			atomic_store(&metrics_counters.syncs[i][j], 0);
	}
	for (i = 0; i <= METRICS_SYNC_BUCKETS; i++)
		atomic_store(&metrics_counters.sync_buckets[i], 0);
	atomic_store(&metrics_counters.sync_sum_us, 0);
	atomic_store(&metrics_counters.reconcile_last_ms, 0);
	for (i = 0; i < METRICS_REMOTE_OP_N; i++) {
		for (j = 0; j < METRICS_CLASS_N; j++)
			atomic_store(&metrics_counters.remote[i][j], 0);
	}
}

int
metrics_escape_label(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	const char *esc;
	char one[2] = "";

	for (; *in != '\0'; in++) {
		esc = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" : *in == '\n' ? "\\n" : NULL;
		if (esc == NULL) {
			one[0] = *in;
			esc = one;
		}
		if (n + strlen(esc) >= outlen)
			return -1;
		memcpy(out + n, esc, strlen(esc));
		n += strlen(esc);
	}
	if (n >= outlen)
		return -1;
	out[n] = '\0';
	return (int)n;
}

/* The text being rendered; failed sticks once an allocation failed. */
/* HELP and TYPE: help texts are constants without '\' or newline, which
 * the format would require escaping. */
static void
metrics_family(struct buf *b, const char *name, const char *type, const char *help)
{
	assert(strchr(help, '\\') == NULL && strchr(help, '\n') == NULL);
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample line without labels; the value already formatted. */
static void
metrics_plain(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, "%s %s\n", name, value);
}

/*
 * Sample lines with one or two labels. Every label value is escaped,
 * even though all of them come from fixed tables: the format requires
 * it, and a table entry added later must not be able to break the output.
 * A value too long to escape is a bug in a table, never input: the whole
 * render fails.
 */
static void
metrics_sample1(struct buf *b, const char *name, const char *k, const char *v,
    const char *value)
{
	char e[METRICS_LABEL_MAX];

	if (metrics_escape_label(v, e, sizeof(e)) < 0) {
		b->failed = 1;
		return;
	}
	buf_printf(b, "%s{%s=\"%s\"} %s\n", name, k, e, value);
}

static void
metrics_sample2(struct buf *b, const char *name, const char *k1, const char *v1,
    const char *k2, const char *v2, const char *value)
{
	char e1[METRICS_LABEL_MAX], e2[METRICS_LABEL_MAX];

	if (metrics_escape_label(v1, e1, sizeof(e1)) < 0 ||
	    metrics_escape_label(v2, e2, sizeof(e2)) < 0) {
		b->failed = 1;
		return;
	}
	buf_printf(b, "%s{%s=\"%s\",%s=\"%s\"} %s\n", name, k1, e1, k2, e2, value);
}

static const char *
metrics_u64(char *buf, uint64_t v)
{
	snprintf(buf, METRICS_VALUE_MAX, "%" PRIu64, v);
	return buf;
}

static const char *
metrics_i64(char *buf, int64_t v)
{
	snprintf(buf, METRICS_VALUE_MAX, "%" PRId64, v);
	return buf;
}

/* A value in thousandths (ms) or millionths (us) as exact decimal seconds. */
static const char *
metrics_seconds(char *buf, uint64_t v, uint64_t per_second, int digits)
{
	snprintf(buf, METRICS_VALUE_MAX, "%" PRIu64 ".%0*" PRIu64, v / per_second, digits,
	    v % per_second);
	return buf;
}

/* A counter with one label, one sample per table entry. */
static void
metrics_counter_vec(struct buf *b, const char *name, const char *help,
    const char *label, const char *const *names, _Atomic uint64_t *c, size_t n)
{
	char v[METRICS_VALUE_MAX];
	size_t i;

	metrics_family(b, name, "counter", help);
	for (i = 0; i < n; i++)
		metrics_sample1(b, name, label, names[i], metrics_u64(v, metrics_get(&c[i])));
}

static void
metrics_render_intake(struct buf *b)
{
	metrics_counter_vec(b, "groupsync_deliveries_total",
	    "Requests to the event hook path by outcome (unauthorized counts every method).",
	    "outcome", metrics_delivery_names, metrics_counters.deliveries, METRICS_DELIVERY_N);
	metrics_counter_vec(b, "groupsync_events_total",
	    "Events of deliveries answered 200, by decision: queued as a new job, duplicate "
	    "(uuid or delivery stored before), or ignored and why.",
	    "decision", metrics_event_names, metrics_counters.events, METRICS_EVENT_N);
	metrics_counter_vec(b, "groupsync_events_handled_total",
	    "Events of deliveries answered 200 that became jobs, by event type, "
	    "duplicates included.",
	    "type", metrics_type_names, metrics_counters.event_types, METRICS_TYPE_N);
}

static void
metrics_render_syncs(struct buf *b)
{
	const char *name = "groupsync_syncs_total";
	char v[METRICS_VALUE_MAX];
	size_t o, a;

	metrics_family(b, name, "counter",
	    "Syncs (one per leased user) by outcome and by the action decided.");
	for (o = 0; o < METRICS_SYNC_OUTCOME_N; o++) {
		for (a = 0; a < METRICS_ACTION_N; a++)
			metrics_sample2(b, name, "outcome", metrics_outcome_names[o], "action",
			    metrics_action_names[a], metrics_u64(v, metrics_get(
			    &metrics_counters.syncs[o][a])));
	}
}

static void
metrics_render_latency(struct buf *b)
{
	const char *name = "groupsync_sync_duration_seconds";
	char v[METRICS_VALUE_MAX];
	uint64_t cum = 0;
	size_t i;

	metrics_family(b, name, "histogram", "Time one sync took, from lease to outcome.");
	for (i = 0; i < METRICS_SYNC_BUCKETS; i++) {
		cum += metrics_get(&metrics_counters.sync_buckets[i]);
		metrics_sample1(b, "groupsync_sync_duration_seconds_bucket", "le",
		    metrics_bound_names[i], metrics_u64(v, cum));
	}
	cum += metrics_get(&metrics_counters.sync_buckets[METRICS_SYNC_BUCKETS]);
	metrics_sample1(b, "groupsync_sync_duration_seconds_bucket", "le", "+Inf",
	    metrics_u64(v, cum));
	metrics_plain(b, "groupsync_sync_duration_seconds_sum",
	    metrics_seconds(v, metrics_get(&metrics_counters.sync_sum_us), 1000000, 6));
	metrics_plain(b, "groupsync_sync_duration_seconds_count", metrics_u64(v, cum));
}

static void
metrics_render_remote(struct buf *b)
{
	const char *name = "groupsync_remote_requests_total";
	char v[METRICS_VALUE_MAX];
	size_t o, c;

	metrics_family(b, name, "counter",
	    "Calls to the remote system by operation and HTTP status class "
	    "(none: no answer, e.g. timeout or connection error).");
	for (o = 0; o < METRICS_REMOTE_OP_N; o++) {
		for (c = 0; c < METRICS_CLASS_N; c++)
			metrics_sample2(b, name, "operation", metrics_op_names[o], "class",
			    metrics_class_names[c], metrics_u64(v, metrics_get(
			    &metrics_counters.remote[o][c])));
	}
}

static void
metrics_render_reconcile(struct buf *b)
{
	char v[METRICS_VALUE_MAX];

	metrics_family(b, "groupsync_reconcile_last_success_timestamp_seconds", "gauge",
	    "When serve's periodic reconcile last finished (unix time; 0: not yet).");
	metrics_plain(b, "groupsync_reconcile_last_success_timestamp_seconds",
	    metrics_seconds(v, metrics_reconcile_last_ms(), 1000, 3));
}

static void
metrics_render_queue(struct buf *b, const struct metrics_gauges *g)
{
	static const char *const states[4] = {
		[STORE_PENDING] = "pending", [STORE_LEASED] = "leased", [STORE_DONE] = "done",
		[STORE_DEAD] = "dead",
	};
	char v[METRICS_VALUE_MAX];
	int64_t age = g->oldest_pending_ms > 0 ? g->oldest_pending_ms : 0;
	size_t i;

	metrics_family(b, "groupsync_queue_readable", "gauge",
	    "1 when the store answered this scrape; 0 leaves the queue metrics out.");
	metrics_plain(b, "groupsync_queue_readable", g->have_queue ? "1" : "0");
	metrics_family(b, "groupsync_queue_jobs", "gauge", "Jobs in the store by state.");
	for (i = 0; g->have_queue && i < 4; i++)
		metrics_sample1(b, "groupsync_queue_jobs", "state", states[i],
		    metrics_i64(v, g->jobs[i]));
	metrics_family(b, "groupsync_queue_oldest_pending_age_seconds", "gauge",
	    "Age of the oldest pending job, 0 when none.");
	if (g->have_queue)
		metrics_plain(b, "groupsync_queue_oldest_pending_age_seconds",
		    metrics_seconds(v, (uint64_t)age, 1000, 3));
	metrics_family(b, "groupsync_dead_letters", "gauge",
	    "Jobs in the dead-letter state, waiting for an operator.");
	if (g->have_queue)
		metrics_plain(b, "groupsync_dead_letters", metrics_i64(v, g->jobs[STORE_DEAD]));
	metrics_family(b, "groupsync_deprovisions_held", "gauge",
	    "Deprovisions held past GROUPSYNC_DEPROVISION_THRESHOLD, waiting for an operator "
	    "(counted among the pending jobs).");
	if (g->have_queue)
		metrics_plain(b, "groupsync_deprovisions_held", metrics_i64(v, g->held));
}

/* Per rate-limit bucket (okta/rate.h): calls by class, share left, waits. */
static void
metrics_render_okta_buckets(struct buf *b, const struct okta_stats *o)
{
	static const char *const classes[OKTA_CALL_CLASSES] = {
		[OKTA_CALL_2XX] = "2xx", [OKTA_CALL_4XX] = "4xx", [OKTA_CALL_429] = "429",
		[OKTA_CALL_5XX] = "5xx", [OKTA_CALL_ERROR] = "error",
	};
	const char *calls = "groupsync_okta_calls_total";
	const char *share = "groupsync_okta_bucket_share_remaining";
	const char *wait = "groupsync_okta_budget_wait_seconds_total";
	char v[METRICS_VALUE_MAX];
	int i, c;

	metrics_family(b, calls, "counter",
	    "Okta calls by rate-limit bucket and how they ended (error: no answer).");
	for (i = 0; i < OKTA_BUCKETS; i++)
		for (c = 0; o->buckets[i].name != NULL && c < OKTA_CALL_CLASSES; c++)
			metrics_sample2(b, calls, "bucket", o->buckets[i].name, "class", classes[c],
			    metrics_u64(v, o->buckets[i].calls[c]));
	metrics_family(b, share, "gauge", "Fraction of groupsync's share of each Okta bucket "
	    "left in its current window (GROUPSYNC_OKTA_RATE_SHARE); 1 when not known.");
	for (i = 0; i < OKTA_BUCKETS; i++) {
		if (o->buckets[i].name == NULL)
			continue; /* a caller that filled no buckets */
		snprintf(v, sizeof(v), "%.4f", o->buckets[i].share_remaining);
		metrics_sample1(b, share, "bucket", o->buckets[i].name, v);
	}
	metrics_family(b, wait, "counter",
	    "Seconds Okta calls waited for a paced slot of their bucket, in total.");
	for (i = 0; i < OKTA_BUCKETS; i++) {
		if (o->buckets[i].name == NULL)
			continue; /* a caller that filled no buckets */
		snprintf(v, sizeof(v), "%.3f", o->buckets[i].waited_s);
		metrics_sample1(b, wait, "bucket", o->buckets[i].name, v);
	}
}

static void
metrics_render_okta(struct buf *b, const struct metrics_gauges *g)
{
	const char *name = "groupsync_okta_requests_total";
	char v[METRICS_VALUE_MAX];

	if (!g->have_okta)
		return;
	metrics_family(b, name, "counter",
	    "Okta API calls answered: reads, writes, and token endpoint requests.");
	metrics_sample1(b, name, "kind", "read", metrics_u64(v, g->okta.reads));
	metrics_sample1(b, name, "kind", "write", metrics_u64(v, g->okta.writes));
	metrics_sample1(b, name, "kind", "token", metrics_u64(v, g->okta.token_requests));
	metrics_family(b, "groupsync_okta_rate_limited_total", "counter",
	    "Okta answers 429 (rate limited).");
	metrics_plain(b, "groupsync_okta_rate_limited_total",
	    metrics_u64(v, g->okta.rate_limited));
	metrics_family(b, "groupsync_okta_deferred_total", "counter",
	    "Okta calls not made: their paced slot was too far ahead, or a 429 or low headroom "
	    "made the bucket wait for its reset (the sync retries then).");
	metrics_plain(b, "groupsync_okta_deferred_total", metrics_u64(v, g->okta.deferred));
	metrics_family(b, "groupsync_okta_rate_limit_remaining", "gauge",
	    "Last X-Rate-Limit-Remaining Okta sent (absent until Okta sent one).");
	if (g->okta.rate_remaining >= 0)
		metrics_plain(b, "groupsync_okta_rate_limit_remaining",
		    metrics_i64(v, g->okta.rate_remaining));
	metrics_render_okta_buckets(b, &g->okta);
}

/* The connection guard (conn_guard.h): what slow or idle clients cost. */
static void
metrics_render_conns(struct buf *b, const struct metrics_gauges *g)
{
	const char *closed = "groupsync_http_connections_closed_total";
	char v[METRICS_VALUE_MAX];

	if (!g->have_conns)
		return;
	metrics_family(b, "groupsync_http_connections", "gauge",
	    "HTTP connections being served by a thread now.");
	metrics_plain(b, "groupsync_http_connections", metrics_i64(v, g->conns.live));
	metrics_family(b, closed, "counter",
	    "Connections the server closed: past their deadline (slow or idle), or to "
	    "free a thread while threads ran short.");
	metrics_sample1(b, closed, "reason", "deadline", metrics_u64(v, g->conns.deadline));
	metrics_sample1(b, closed, "reason", "pressure", metrics_u64(v, g->conns.pressure));
}

int
metrics_render(const struct metrics_gauges *g, char **out, size_t *len)
{
	struct buf b = {0};

	metrics_family(&b, "groupsync_build_info", "gauge",
	    "Always 1; the version as a label.");
	metrics_sample1(&b, "groupsync_build_info", "version", GROUPSYNC_VERSION, "1");
	metrics_render_intake(&b);
	metrics_render_syncs(&b);
	metrics_render_latency(&b);
	metrics_render_remote(&b);
	metrics_render_reconcile(&b);
	metrics_render_queue(&b, g);
	metrics_render_okta(&b, g);
	metrics_render_conns(&b, g);
	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
