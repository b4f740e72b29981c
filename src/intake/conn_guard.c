#include "groupsync/intake/conn_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

static const char *const conn_guard_phase_names[CONN_GUARD_NPHASES] = {
	[CONN_GUARD_HANDSHAKE] = "tls_handshake",
	[CONN_GUARD_HEADER] = "header",
	[CONN_GUARD_BODY] = "body",
	[CONN_GUARD_HANDLER] = "handler",
	[CONN_GUARD_IDLE] = "idle",
};

struct conn_guard {
	pthread_mutex_t mu; /* guards everything below but limits and queued */
	pthread_cond_t wake;
	pthread_t thread;
	int stop;
	struct conn_guard_limits limits;
	int (*queued)(void *arg);
	void *queued_arg;
	/* One slot per civetweb thread: a thread serves one connection. */
	struct conn_guard_entry *e;
	size_t n;
	enum conn_guard_verdict *verdict; /* watchdog scratch, n long */
	struct conn_guard_stats stats;
};

/* What one watchdog pass did, logged after the lock is released. */
struct conn_guard_pass {
	size_t deadline, pressure;
	int busy, queued;
	int64_t oldest_ms;
	enum conn_guard_phase phase; /* of the oldest closed */
	char peer[48];               /* of the oldest closed */
};

int
conn_guard_wanted_free(const struct conn_guard_limits *l, int queued)
{
	/* A reserve of an eighth of the threads (at least one) so that a
	 * real delivery arriving next finds a thread at once. */
	int reserve = l->threads / 8 > 1 ? l->threads / 8 : 1;

	return (queued > 0 ? queued : 0) + reserve;
}

static int
conn_guard_limit_ms(const struct conn_guard_limits *l, enum conn_guard_phase p)
{
	if (p == CONN_GUARD_HANDLER)
		return -1;
	return p == CONN_GUARD_IDLE ? l->idle_ms : l->request_ms;
}

/* Idle keep-alive connections go first, then the oldest stalled phase. */
static int
conn_guard_before(const struct conn_guard_entry *a, const struct conn_guard_entry *b)
{
	int ai = a->phase == CONN_GUARD_IDLE, bi = b->phase == CONN_GUARD_IDLE;

	if (ai != bi)
		return ai;
	return a->since_ms < b->since_ms;
}

static int
conn_guard_candidate(const struct conn_guard_entry *e, enum conn_guard_verdict v,
    int64_t now_ms, const struct conn_guard_limits *l)
{
	if (e->key == NULL || e->shed || v != CONN_GUARD_KEEP || e->phase == CONN_GUARD_HANDLER)
		return 0;
	return e->phase == CONN_GUARD_IDLE || now_ms - e->since_ms >= l->grace_ms;
}

size_t
conn_guard_plan(const struct conn_guard_entry *e, size_t n, int64_t now_ms,
    const struct conn_guard_limits *l, int queued, enum conn_guard_verdict *verdict)
{
	size_t i, best, closed = 0;
	int busy = 0, limit, need;

	for (i = 0; i < n; i++) {
		verdict[i] = CONN_GUARD_KEEP;
		if (e[i].key == NULL || e[i].shed)
			continue;
		limit = conn_guard_limit_ms(l, e[i].phase);
		if (limit >= 0 && now_ms - e[i].since_ms > limit) {
			verdict[i] = CONN_GUARD_DEADLINE;
			closed++;
		} else {
			busy++;
		}
	}
	need = conn_guard_wanted_free(l, queued) - (l->threads - busy);
	/* Each round closes the best remaining candidate: n is the thread
	 * count, and need is small unless under attack. */
	while (need-- > 0) {
		best = n;
		for (i = 0; i < n; i++) {
			if (conn_guard_candidate(&e[i], verdict[i], now_ms, l) &&
			    (best == n || conn_guard_before(&e[i], &e[best])))
				best = i;
		}
		if (best == n)
			break;
		verdict[best] = CONN_GUARD_PRESSURE;
		closed++;
	}
	return closed;
}

static struct conn_guard_entry *
conn_guard_find(struct conn_guard *g, const void *key)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->e[i].key == key)
			return &g->e[i];
	return NULL;
}

void
conn_guard_enter(struct conn_guard *g, const void *key, int fd, const char *peer,
    enum conn_guard_phase phase)
{
	struct conn_guard_entry *e;

	if (g == NULL || key == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	e = conn_guard_find(g, key);
	if (e != NULL && phase == CONN_GUARD_HANDSHAKE)
		goto out; /* TLS 1.3 post-handshake message: not a new connection */
	if (e == NULL && fd >= 0) {
		e = conn_guard_find(g, NULL);
		if (e == NULL)
			goto out; /* more connections than threads: cannot happen */
		memset(e, 0, sizeof(*e));
		e->key = key;
		e->fd = fd;
		util_format(e->peer, sizeof(e->peer), "%s", peer ? peer : "");
		g->stats.tracked++;
		g->stats.live++;
	}
	if (e != NULL) {
		/* A new connection's handshake, header and body are one turn
		 * of the client, timed from its start: a client dribbling each
		 * phase just under the limit must not get three limits. */
		if (!(e->phase <= CONN_GUARD_HEADER && phase <= CONN_GUARD_BODY) || e->since_ms == 0)
			e->since_ms = util_mono_ms();
		e->phase = phase;
	}
out:
	pthread_mutex_unlock(&g->mu);
}

void
conn_guard_forget(struct conn_guard *g, const void *key)
{
	struct conn_guard_entry *e;

	if (g == NULL || key == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	e = conn_guard_find(g, key);
	if (e != NULL) {
		e->key = NULL;
		g->stats.live--;
	}
	pthread_mutex_unlock(&g->mu);
}

void
conn_guard_get_stats(struct conn_guard *g, struct conn_guard_stats *out)
{
	pthread_mutex_lock(&g->mu);
	*out = g->stats;
	pthread_mutex_unlock(&g->mu);
}

/*
 * Shuts down what the plan closes. Called with g->mu held: an entry
 * exists until civetweb's connection_close callback removes it, which
 * happens before civetweb closes the fd, so every fd shut down here is
 * still the connection's own.
 */
static void
conn_guard_apply(struct conn_guard *g, int64_t now, struct conn_guard_pass *p)
{
	size_t i;
	struct conn_guard_entry *e;

	for (i = 0; i < g->n; i++) {
		e = &g->e[i];
		if (g->verdict[i] == CONN_GUARD_KEEP)
			continue;
		if (shutdown(e->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
			log_emit(LOG_WARN, "connection guard: shutdown failed", "peer", e->peer,
			    "error", strerror(errno), (char *)NULL);
		e->shed = 1;
		if (g->verdict[i] == CONN_GUARD_DEADLINE)
			p->deadline++;
		else
			p->pressure++;
		if (now - e->since_ms > p->oldest_ms) {
			p->oldest_ms = now - e->since_ms;
			p->phase = e->phase;
			util_format(p->peer, sizeof(p->peer), "%s", e->peer);
		}
	}
	g->stats.deadline += p->deadline;
	g->stats.pressure += p->pressure;
	p->busy = g->stats.live;
}

static void
conn_guard_log(const struct conn_guard_pass *p)
{
	char dl[16], pr[16], busy[16], q[16], ms[24];

	snprintf(dl, sizeof(dl), "%zu", p->deadline);
	snprintf(pr, sizeof(pr), "%zu", p->pressure);
	snprintf(busy, sizeof(busy), "%d", p->busy);
	snprintf(q, sizeof(q), "%d", p->queued);
	snprintf(ms, sizeof(ms), "%lld", (long long)p->oldest_ms);
	/* One line per pass, not per connection: under attack this is at
	 * most one line per tick. */
	log_emit(LOG_WARN, "slow or idle connections closed", "past_deadline", dl,
	    "to_free_threads", pr, "busy_threads", busy, "queued", q, "oldest_phase",
	    conn_guard_phase_names[p->phase], "oldest_ms", ms, "oldest_peer", p->peer,
	    (char *)NULL);
}

static void
conn_guard_pass(struct conn_guard *g)
{
	struct conn_guard_pass p = {0};
	int64_t now;

	/* Read before taking g->mu: queued() takes civetweb's queue lock. */
	p.queued = g->queued != NULL ? g->queued(g->queued_arg) : 0;
	pthread_mutex_lock(&g->mu);
	now = util_mono_ms();
	if (conn_guard_plan(g->e, g->n, now, &g->limits, p.queued, g->verdict) > 0)
		conn_guard_apply(g, now, &p);
	pthread_mutex_unlock(&g->mu);
	if (p.deadline + p.pressure > 0)
		conn_guard_log(&p);
}

static void *
conn_guard_run(void *arg)
{
	struct conn_guard *g = arg;
	struct timespec until;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		util_deadline(&until, CLOCK_MONOTONIC, g->limits.tick_ms);
		pthread_cond_timedwait(&g->wake, &g->mu, &until);
		if (g->stop)
			break;
		pthread_mutex_unlock(&g->mu);
		conn_guard_pass(g);
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static int
conn_guard_init_sync(struct conn_guard *g)
{
	if (pthread_mutex_init(&g->mu, NULL) != 0)
		return -1;
	if (util_cond_init_monotonic(&g->wake) == 0)
		return 0;
	pthread_mutex_destroy(&g->mu);
	return -1;
}

struct conn_guard *
conn_guard_new(const struct conn_guard_limits *l, int (*queued)(void *arg), void *arg,
    char *err, size_t errlen)
{
	struct conn_guard *g = calloc(1, sizeof(*g));

	if (g == NULL || l->threads <= 0 || l->tick_ms <= 0)
		goto fail;
	g->limits = *l;
	g->queued = queued;
	g->queued_arg = arg;
	g->n = (size_t)l->threads;
	g->e = calloc(g->n, sizeof(*g->e));
	g->verdict = calloc(g->n, sizeof(*g->verdict));
	if (g->e == NULL || g->verdict == NULL || conn_guard_init_sync(g) < 0)
		goto fail;
	if (pthread_create(&g->thread, NULL, conn_guard_run, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->mu);
		goto fail;
	}
	return g;
fail:
	util_format(err, errlen, "connection guard: cannot start (out of memory or threads)");
	if (g != NULL) {
		free(g->e);
		free(g->verdict);
		free(g);
	}
	return NULL;
}

void
conn_guard_stop(struct conn_guard *g)
{
	int joined;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	joined = g->stop;
	g->stop = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->mu);
	if (!joined)
		pthread_join(g->thread, NULL);
}

void
conn_guard_free(struct conn_guard *g)
{
	if (g == NULL)
		return;
	conn_guard_stop(g);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->mu);
	free(g->e);
	free(g->verdict);
	free(g);
}
