/*
 * The keeper: one thread per server on a connection of its own, which
 *
 * - renews the leases this process holds every lease_ms / 3, so that
 *   they outlive any sync and expire only when the process is gone (or
 *   cannot reach the database for a whole lease_ms);
 * - returns the jobs of expired leases, anyone's, to pending (the sweep):
 *   a replica that died holding users loses them to the others within
 *   lease_ms, and the counts and the operator list say "pending", not
 *   "leased", for jobs nobody works on;
 * - LISTENs for the NOTIFY with which every replica's commit of new jobs
 *   ends, and wakes this process's idle workers when one came from
 *   another replica (without it they find the jobs within their idle
 *   wait).
 *
 * It never holds p->lock: the pool's callers do not wait for it.
 */
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

struct pg_keeper {
	struct pg_store *p;
	pthread_t thread;
	int pipe[2];             /* stop: a byte on pipe[1] */
	PGconn *conn;            /* the keeper's own; NULL: (re)connect */
	pthread_mutex_t lock;    /* guards wake, arg */
	void (*wake)(void *arg);
	void *arg;
};

long long
pg_sweep(PGconn *c)
{
	static const char sql[] =
	    "WITH x AS (SELECT user_id FROM leases WHERE token IS NOT NULL"
	    " AND expires < " PG_NOW_MS " FOR UPDATE SKIP LOCKED),"
	    " r AS (UPDATE leases l SET token = NULL, owner = '', expires = 0 FROM x"
	    " WHERE l.user_id = x.user_id RETURNING l.user_id)"
	    " UPDATE jobs j SET state = 0, updated = $1 FROM r"
	    " WHERE j.user_id = r.user_id AND j.state = 1";
	char now[24];
	const char *params[] = {pg_i64(now, util_now_ms())};
	PGresult *r = pg_exec(c, sql, 1, params);
	long long n = pg_ok(r) ? strtoll(PQcmdTuples(r), NULL, 10) : -1;

	PQclear(r);
	return n;
}

/* Pushes the expiry of the leases we hold forward. */
static int
pg_keeper_renew(struct pg_keeper *k)
{
	static const char sql[] = "UPDATE leases SET expires = " PG_NOW_MS " + $2"
	    " WHERE owner = $1 AND token = ANY($3::bigint[])";
	struct pg_store *p = k->p;
	char ms[24], *tokens = pg_held_array(p);
	const char *params[] = {p->owner, pg_i64(ms, p->lease_ms), tokens};
	PGresult *r;
	int ok;

	if (tokens == NULL)
		return -1;
	r = strcmp(tokens, "{}") != 0 ? pg_exec(k->conn, sql, 3, params) : NULL;
	ok = r == NULL || pg_ok(r);
	PQclear(r);
	free(tokens);
	return ok ? 0 : -1;
}

/* Wakes the workers for each NOTIFY another replica sent. -1: the
 * connection is gone (its socket would stay readable: drop it). */
static int
pg_keeper_notified(struct pg_keeper *k)
{
	PGnotify *n;
	int others = 0;

	if (PQconsumeInput(k->conn) == 0)
		return -1;
	while ((n = PQnotifies(k->conn)) != NULL) {
		if (strcmp(n->extra, k->p->owner) != 0)
			others = 1;
		PQfreemem(n);
	}
	if (!others)
		return 0;
	pthread_mutex_lock(&k->lock);
	if (k->wake != NULL)
		k->wake(k->arg);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* One round: connect if needed, renew, sweep. A failure drops the
 * connection, to be made again next round. */
static void
pg_keeper_round(struct pg_keeper *k)
{
	struct pg_store *p = k->p;
	char err[STORE_ERROR_MAX + 1];
	long long n;

	if (k->conn == NULL) {
		k->conn = pg_connect(p, err, sizeof(err));
		if (k->conn == NULL)
			return; /* the pool's callers report the outage */
		if (pg_run(p, k->conn, "LISTEN groupsync_jobs", err, sizeof(err), "listen") == -1)
			goto drop;
	}
	if (pg_keeper_renew(k) == -1)
		goto drop;
	n = pg_sweep(k->conn);
	if (n < 0)
		goto drop;
	if (n > 0) {
		char jobs[24];

		log_emit(LOG_WARN, "store: jobs of expired leases are pending again (a replica "
		    "stopped renewing them: it died, or lost the database for a whole lease)",
		    "jobs", pg_i64(jobs, n), (char *)NULL);
	}
	return;
drop:
	PQfinish(k->conn);
	k->conn = NULL;
}

static void *
pg_keeper_main(void *arg)
{
	struct pg_keeper *k = arg;
	struct pollfd fds[2];
	int64_t next = 0, now;
	int interval = k->p->lease_ms / 3, nfds, timeout;

	for (;;) {
		now = util_now_ms();
		if (now >= next) {
			pg_keeper_round(k);
			next = now + interval;
		}
		fds[0].fd = k->pipe[0];
		fds[0].events = POLLIN;
		nfds = 1;
		if (k->conn != NULL && PQsocket(k->conn) >= 0) {
			fds[1].fd = PQsocket(k->conn);
			fds[1].events = POLLIN;
			nfds = 2;
		}
		timeout = (int)(next - util_now_ms());
		if (timeout < 0)
			timeout = 0;
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents != 0)
			break;
		if (nfds == 2 && fds[1].revents != 0 && pg_keeper_notified(k) == -1) {
			/* the server went away: a new connection at the next round */
			PQfinish(k->conn);
			k->conn = NULL;
		}
	}
	return NULL;
}

int
pg_keeper_start(struct pg_store *p, char *err, size_t errlen)
{
	struct pg_keeper *k = calloc(1, sizeof(*k));

	if (k == NULL || pipe(k->pipe) == -1) {
		(void)util_format(err, errlen, "%s: cannot start the lease keeper: %s", p->label,
		    k == NULL ? "out of memory" : strerror(errno));
		free(k);
		return -1;
	}
	(void)fcntl(k->pipe[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(k->pipe[1], F_SETFD, FD_CLOEXEC);
	k->p = p;
	pthread_mutex_init(&k->lock, NULL);
	if (pthread_create(&k->thread, NULL, pg_keeper_main, k) != 0) {
		(void)util_format(err, errlen, "%s: cannot start the lease keeper thread",
		    p->label);
		close(k->pipe[0]);
		close(k->pipe[1]);
		pthread_mutex_destroy(&k->lock);
		free(k);
		return -1;
	}
	p->keeper = k;
	return 0;
}

void
pg_keeper_wake(struct pg_store *p, void (*wake)(void *arg), void *arg)
{
	struct pg_keeper *k = p->keeper;

	if (k == NULL)
		return;
	pthread_mutex_lock(&k->lock);
	k->wake = wake;
	k->arg = arg;
	pthread_mutex_unlock(&k->lock);
}

void
pg_keeper_stop(struct pg_store *p)
{
	struct pg_keeper *k = p->keeper;
	char b = 0;

	if (k == NULL)
		return;
	while (write(k->pipe[1], &b, 1) == -1 && errno == EINTR)
		;
	pthread_join(k->thread, NULL);
	if (k->conn != NULL)
		PQfinish(k->conn);
	close(k->pipe[0]);
	close(k->pipe[1]);
	pthread_mutex_destroy(&k->lock);
	free(k);
	p->keeper = NULL;
}
