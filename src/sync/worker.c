/*
 * The worker pool: threads that lease a user's jobs, run one sync
 * (converge_run, sync/converge.c), and record how it ended (done,
 * retry with backoff, dead letter, or released at shutdown), retrying
 * while the store refuses writes.
 */
#include "groupsync/sync/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "groupsync/base/log.h"
#include "groupsync/base/metrics.h"
#include "groupsync/sync/decide.h"
#include "groupsync/base/util.h"
#include "groupsync/sync/converge.h"

#define WORKER_IDLE_WAIT_MS 1000 /* jobs another process made ready need no event */
#define WORKER_STORE_WAIT_MS 100     /* first wait for a store that failed */
#define WORKER_STORE_WAIT_MAX_MS 5000

struct worker {
	struct worker_pool *pool;
	pthread_t thread;
	struct http_client *hc;
	int started;
};

struct worker_pool {
	struct worker_deps d;
	struct converge_deps cd; /* the same, as each sync sees them */
	pthread_mutex_t groups_lock; /* cd.groups_lock */
	struct worker *w;
	int n;
	_Atomic int stopping; /* take no new lease */
	_Atomic int abort;    /* abort calls in flight, release leases */
	_Atomic int running;  /* threads not yet finished */
	_Atomic uint64_t syncs, created, updated, deleted, unchanged, skipped;
	_Atomic uint64_t retried, dead, released, events;
};

/* One sync as the pool sees it: the steps' state, and how it ended. */
struct worker_run {
	struct converge c;
	struct worker_pool *pool;
	const char *outcome;          /* for the log line */
	int64_t okta_wait_ms;         /* waited for paced Okta slots (okta/send.h) */
	enum metrics_sync_outcome mo; /* the same, for metrics */
};

enum worker_end {
	WORKER_END_DONE,
	WORKER_END_RETRY,
	WORKER_END_DEFER,
	WORKER_END_DEAD,
	WORKER_END_RELEASE
};

/* Sleeps ms in short slices; returns -1 at once when shutdown begins. */
static int
worker_nap(struct worker_pool *p, int ms)
{
	struct timespec ts = {0, 50 * 1000000L};

	for (; ms > 0; ms -= 50) {
		if (atomic_load(&p->stopping))
			return -1;
		nanosleep(&ts, NULL);
	}
	return atomic_load(&p->stopping) ? -1 : 0;
}

/*
 * Records how a lease ended, retrying while the store refuses writes
 * (disk full, read-only or failing file system): a lease that stays
 * "leased" in the store holds its user until the next start (only
 * opening the store releases leases), so that user's later events would
 * never sync. The queue logs the store's failure once. Gives up only at
 * shutdown: the next start releases the lease and the user is synced
 * again, which converges to the same state. Returns 0 once recorded.
 */
static int
worker_end_lease(struct worker_pool *p, const struct store_lease *l, enum worker_end how,
    int64_t retry_at_ms, const char *error)
{
	int wait_ms = WORKER_STORE_WAIT_MS, rc;

	for (;;) {
		if (how == WORKER_END_DONE)
			rc = store_complete(p->d.q, l);
		else if (how == WORKER_END_RETRY)
			rc = store_retry(p->d.q, l, retry_at_ms, error);
		else if (how == WORKER_END_DEFER)
			rc = store_defer(p->d.q, l, retry_at_ms);
		else if (how == WORKER_END_DEAD)
			rc = store_dead(p->d.q, l, error);
		else
			rc = store_release(p->d.q, l);
		if (rc == 0)
			return 0;
		if (worker_nap(p, wait_ms) < 0)
			return -1;
		if (wait_ms < WORKER_STORE_WAIT_MAX_MS / 2)
			wait_ms *= 2;
	}
}

static int
worker_relevant(const char *changed, void *arg)
{
	return remote_uses_any(arg, changed);
}

static int
worker_max_attempts(const struct store_lease *l)
{
	size_t i;
	int m = 0;

	for (i = 0; i < l->njobs; i++)
		m = l->jobs[i].attempts > m ? l->jobs[i].attempts : m;
	return m;
}

/* Retry later, dead-letter, or (shutting down) give the lease back. */
static void
worker_settle_failure(struct worker_run *x, int attempt)
{
	struct worker_pool *p = x->pool;
	const struct config *cfg = p->d.cfg;
	uint32_t r = 0;
	int64_t at;

	if (atomic_load(&p->abort)) {
		(void)worker_end_lease(p, x->c.lease, WORKER_END_RELEASE, 0, NULL);
		x->outcome = "released";
		x->mo = METRICS_SYNC_RELEASED;
		atomic_fetch_add(&p->released, 1);
		return;
	}
	if (x->c.deferred) {
		/* nothing failed: Okta's budget put the call off, so no
		 * attempt counts and no backoff adds to the slot's time */
		(void)worker_end_lease(p, x->c.lease, WORKER_END_DEFER, x->c.retry_at_ms, NULL);
		x->outcome = "deferred";
		x->mo = METRICS_SYNC_DEFERRED;
		return;
	}
	if (x->c.cls == HTTP_CLASS_PERMANENT || attempt >= cfg->max_attempts) {
		(void)worker_end_lease(p, x->c.lease, WORKER_END_DEAD, 0, x->c.error);
		x->outcome = "dead";
		x->mo = METRICS_SYNC_DEAD;
		atomic_fetch_add(&p->dead, 1);
		return;
	}
	RAND_bytes((unsigned char *)&r, sizeof(r));
	at = util_now_ms() + sync_backoff_ms(attempt, cfg->retry_base_ms, cfg->retry_max_ms,
	    (double)r / 4294967296.0);
	if (x->c.retry_at_ms > at)
		at = x->c.retry_at_ms; /* Retry-After or a rate-limit reset */
	(void)worker_end_lease(p, x->c.lease, WORKER_END_RETRY, at, x->c.error);
	x->outcome = "retry";
	x->mo = METRICS_SYNC_RETRY;
	atomic_fetch_add(&p->retried, 1);
}

/*
 * Whether a deprovision may go ahead: fewer than the threshold in the
 * last hour, counted by the store for every process on it (replicas on
 * one PostgreSQL share one count), and counted when it may. A lease an
 * operator released from hold always may. The count is taken before the
 * delete is sent, so a failing delete still counts, and a store that
 * cannot count holds: the threshold errs towards holding.
 */
#define WORKER_DEPROVISION_WINDOW_MS INT64_C(3600000)
static int
worker_deprovision_allowed(struct worker_pool *p, const struct store_lease *l)
{
	size_t i;

	for (i = 0; i < l->njobs; i++)
		if (l->jobs[i].not_before_ms == STORE_RELEASED_NOT_BEFORE)
			return 1;
	if (p->d.cfg->deprovision_threshold <= 0)
		return 1;
	return store_deprovision_take(p->d.q, util_now_ms(), WORKER_DEPROVISION_WINDOW_MS,
	    p->d.cfg->deprovision_threshold) == 1;
}

/* Puts a deprovision past the threshold on hold, for an operator. */
static void
worker_hold(struct worker_run *x)
{
	struct worker_pool *p = x->pool;
	char why[160];

	(void)util_format(why, sizeof(why), "held: over %d deprovisions in the last hour "
	    "(GROUPSYNC_DEPROVISION_THRESHOLD): groupsync queue release-held or drop",
	    p->d.cfg->deprovision_threshold);
	if (store_hold(p->d.q, x->c.lease, why) < 0)
		(void)worker_end_lease(p, x->c.lease, WORKER_END_RELEASE, 0, NULL);
	log_emit(LOG_WARN, "deprovision held", "user", x->c.lease->user_id, "remote_id",
	    x->c.remote_id[0] ? x->c.remote_id : NULL, "reason", why, (char *)NULL);
	x->outcome = "held";
	x->mo = METRICS_SYNC_HELD;
}

static void
worker_count_success(struct worker_pool *p, enum sync_action a, size_t njobs)
{
	_Atomic uint64_t *c = a == SYNC_CREATE ? &p->created : a == SYNC_UPDATE ? &p->updated :
	    a == SYNC_DELETE ? &p->deleted : &p->unchanged;

	atomic_fetch_add(c, 1);
	atomic_fetch_add(&p->events, njobs);
}

static void
worker_log(const struct worker_run *x, int attempt, int64_t start)
{
	char ms[24], att[16], st[16], ev[16], wait[24];
	/* Skips are most events of a large org: debug, not info. */
	enum log_level lvl = strcmp(x->outcome, "dead") == 0 ? LOG_ERROR :
	    strcmp(x->outcome, "retry") == 0 ? LOG_WARN :
	    strncmp(x->outcome, "skipped", 7) == 0 ? LOG_DEBUG : LOG_INFO;

	snprintf(ms, sizeof(ms), "%lld", (long long)(util_mono_ms() - start));
	snprintf(att, sizeof(att), "%d", attempt);
	snprintf(st, sizeof(st), "%ld", x->c.remote_status);
	snprintf(ev, sizeof(ev), "%zu", x->c.lease->njobs);
	snprintf(wait, sizeof(wait), "%lld", (long long)x->okta_wait_ms);
	log_emit(lvl, "sync", "user", x->c.lease->user_id, "action", sync_action_name(x->c.action),
	    "outcome", x->outcome, "remote_status", x->c.remote_status ? st : NULL, "ms", ms,
	    "okta_wait_ms", wait, "attempt", att, "events", ev, "remote_id", x->c.remote_id[0] ? x->c.remote_id : NULL,
	    "error", x->c.error[0] ? x->c.error : NULL, (char *)NULL);
}

/* The sync's outcome, action and duration, for /metrics. */
static void
worker_count_sync(const struct worker_run *x, uint64_t start_us)
{
	static const enum metrics_sync_action actions[] = {
		[SYNC_NOTHING] = METRICS_ACTION_NOTHING, [SYNC_CREATE] = METRICS_ACTION_CREATE,
		[SYNC_UPDATE] = METRICS_ACTION_UPDATE, [SYNC_DELETE] = METRICS_ACTION_DELETE,
		[SYNC_DISABLE] = METRICS_ACTION_DISABLE, [SYNC_FORGET] = METRICS_ACTION_FORGET,
	};
	enum metrics_sync_action a = METRICS_ACTION_UNDECIDED;

	if (x->c.decided && (unsigned)x->c.action < sizeof(actions) / sizeof(actions[0]))
		a = actions[x->c.action];
	metrics_sync(x->mo, a, metrics_now_us() - start_us);
}

static void
worker_sync(struct worker *w, const struct store_lease *lease)
{
	struct worker_pool *p = w->pool;
	struct worker_run x;
	int64_t start = util_mono_ms();
	uint64_t start_us = metrics_now_us();
	int attempt = worker_max_attempts(lease) + 1;
	enum sync_precheck pre;

	memset(&x, 0, sizeof(x));
	x.pool = p;
	x.c.d = &p->cd;
	x.c.hc = w->hc;
	x.c.lease = lease;
	x.outcome = "ok";
	x.mo = METRICS_SYNC_OK;
	(void)http_client_take_wait(w->hc); /* this sync's waits only */
	atomic_fetch_add(&p->syncs, 1);
	if (converge_load_known(&x.c) < 0) {
		worker_settle_failure(&x, attempt);
	} else if ((pre = sync_precheck(lease->jobs, lease->njobs, x.c.known, worker_relevant,
	    p->d.remote)) != SYNC_READ) {
		x.outcome = pre == SYNC_SKIP_NEVER_SYNCED ? "skipped: never synced" :
		    "skipped: no synced attribute changed";
		x.mo = METRICS_SYNC_SKIPPED;
		x.c.decided = 1; /* x.c.action is SYNC_NOTHING */
		(void)worker_end_lease(p, lease, WORKER_END_DONE, 0, NULL);
		atomic_fetch_add(&p->skipped, 1);
		atomic_fetch_add(&p->events, lease->njobs);
	} else if (converge_decide(&x.c) < 0) {
		worker_settle_failure(&x, attempt);
	} else if (x.c.action == SYNC_DELETE && !worker_deprovision_allowed(p, lease)) {
		worker_hold(&x);
	} else if (converge_apply(&x.c) < 0) {
		worker_settle_failure(&x, attempt);
	} else if (worker_end_lease(p, lease, WORKER_END_DONE, 0, NULL) < 0) {
		x.outcome = "done, not recorded (store failed): runs again after a restart";
		x.mo = METRICS_SYNC_STORE_FAILED;
	} else {
		worker_count_success(p, x.c.action, lease->njobs);
	}
	x.okta_wait_ms = http_client_take_wait(w->hc);
	worker_log(&x, attempt, start);
	worker_count_sync(&x, start_us);
	json_object_put(x.c.user);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct worker_pool *p = w->pool;
	struct store_lease lease;
	char err[STORE_ERROR_MAX + 1];
	uint64_t seq;
	int rc, failing = 0;

	while (!atomic_load(&p->stopping)) {
		seq = store_work_seq(p->d.q);
		rc = store_lease(p->d.q, util_now_ms(), &lease, err, sizeof(err));
		if (rc < 0) {
			/* once per streak: a failing store fails every second */
			if (!failing)
				log_emit(LOG_ERROR, "cannot lease jobs", "error", err, (char *)NULL);
			failing = 1;
			store_wait_work(p->d.q, seq, WORKER_IDLE_WAIT_MS);
			continue;
		}
		failing = 0;
		if (rc == 0) {
			store_wait_due(p->d.q, seq, WORKER_IDLE_WAIT_MS);
			continue;
		}
		worker_sync(w, &lease);
		store_lease_free(&lease);
	}
	atomic_fetch_sub(&p->running, 1);
	return NULL;
}

static void
worker_free(struct worker_pool *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		http_client_free(p->w[i].hc);
	free(p->w);
	pthread_mutex_destroy(&p->groups_lock);
	free(p);
}

struct worker_pool *
worker_start(const struct worker_deps *d, char *err, size_t errlen)
{
	struct worker_pool *p = calloc(1, sizeof(*p));
	struct http_options ho;
	int i;

	if (p == NULL)
		return NULL;
	p->d = *d;
	if (pthread_mutex_init(&p->groups_lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	p->cd = (struct converge_deps){d->cfg, d->q, d->okta, d->remote, &p->groups_lock,
	    d->gate};
	p->n = d->cfg->workers;
	p->w = calloc((size_t)p->n, sizeof(*p->w));
	http_options_from_config(&ho, d->cfg, &p->abort);
	for (i = 0; p->w != NULL && i < p->n; i++) { /* n may be 0: intake only */
		p->w[i].pool = p;
		p->w[i].hc = http_client_new(&ho);
		if (p->w[i].hc == NULL)
			break;
	}
	if ((p->n > 0 && p->w == NULL) || i < p->n) {
		util_format(err, errlen, "cannot allocate %d workers", d->cfg->workers);
		worker_free(p);
		return NULL;
	}
	for (i = 0; i < p->n; i++) {
		atomic_fetch_add(&p->running, 1);
		if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) != 0) {
			atomic_fetch_sub(&p->running, 1);
			util_format(err, errlen, "cannot start worker thread %d", i);
			worker_stop(p, 0);
			return NULL;
		}
		p->w[i].started = 1;
	}
	return p;
}

void
worker_stop(struct worker_pool *p, int grace_ms)
{
	int64_t deadline = util_mono_ms() + grace_ms;
	struct timespec ts = {0, 20 * 1000000L};
	int i;

	if (p == NULL)
		return;
	atomic_store(&p->stopping, 1);
	store_wake(p->d.q); /* idle workers wait on the queue */
	while (atomic_load(&p->running) > 0 && util_mono_ms() < deadline)
		nanosleep(&ts, NULL);
	if (atomic_load(&p->running) > 0) {
		log_emit(LOG_WARN, "syncs still running at shutdown: aborting their calls, "
		    "their jobs go back to the queue", (char *)NULL);
		atomic_store(&p->abort, 1);
	}
	for (i = 0; i < p->n; i++) {
		if (p->w[i].started)
			pthread_join(p->w[i].thread, NULL);
	}
	worker_free(p);
}

void
worker_get_stats(struct worker_pool *p, struct worker_stats *o)
{
	o->syncs = atomic_load(&p->syncs);
	o->created = atomic_load(&p->created);
	o->updated = atomic_load(&p->updated);
	o->deleted = atomic_load(&p->deleted);
	o->unchanged = atomic_load(&p->unchanged);
	o->skipped = atomic_load(&p->skipped);
	o->retried = atomic_load(&p->retried);
	o->dead = atomic_load(&p->dead);
	o->released = atomic_load(&p->released);
	o->events = atomic_load(&p->events);
}
