/*
 * Checkpoints off the commit path. SQLite's automatic checkpoint runs
 * inside the COMMIT that crosses the WAL threshold, so every few hundredth
 * intake commit also copied the WAL into the database file and synced it
 * while deliveries waited: that was the p99 of tests/bench/ingest at
 * 1,000 deliveries/s. In server mode the main connection's WAL hook
 * (which replaces the automatic checkpoint) only signals this thread,
 * which runs PASSIVE checkpoints, that never block writers, on a
 * connection of its own: when the WAL passes SQ_CKPT_PAGES, and once a
 * second anyway.
 */
#include "sqlite.h"

#include <stdlib.h>
#include <time.h>

#include "groupsync/base/util.h"

/*
 * 4,000 pages (16 MB at 4 KB pages), four times SQLite's default: with
 * workers running, a synced user writes about 50 WAL pages (intake, lease,
 * outcome, remote ID, and the same for the write-back's echo), so 1,000
 * pages came every ~40 ms and this thread ran ~25 checkpoints a second,
 * each with two fsyncs, 11% of the process's CPU (perf, tests/bench/e2e).
 * Most of those pages are the same few index pages written again; a
 * larger WAL copies each of them once per checkpoint instead of once per
 * 1,000 pages.
 */
#define SQ_CKPT_PAGES 4000
#define SQ_CKPT_IDLE_MS 1000

struct sq_ckpt {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t lock; /* guards the two flags */
	pthread_cond_t cond;
	int stop;
	int wanted;
};

/* Called by SQLite after each commit on the main connection. */
static int
sq_ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_ckpt *c = arg;

	(void)db;
	(void)name;
	if (pages >= SQ_CKPT_PAGES) {
		pthread_mutex_lock(&c->lock);
		c->wanted = 1;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return SQLITE_OK;
}

static void *
sq_ckpt_main(void *arg)
{
	struct sq_ckpt *c = arg;
	struct timespec until;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		util_deadline(&until, CLOCK_REALTIME, SQ_CKPT_IDLE_MS);
		while (!c->stop && !c->wanted &&
		    pthread_cond_timedwait(&c->cond, &c->lock, &until) == 0)
			;
		if (c->stop)
			break;
		c->wanted = 0;
		pthread_mutex_unlock(&c->lock);
		/* PASSIVE copies what no reader still needs and never waits;
		 * a failure (e.g. disk full) is retried on the next round. */
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void
sq_ckpt_free(struct sq_ckpt *c)
{
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int
sq_ckpt_start(struct sq_store *q, char *err, size_t errlen)
{
	struct sq_ckpt *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (sqlite3_open_v2(q->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    pthread_create(&c->thread, NULL, sq_ckpt_main, c) != 0) {
		util_format(err, errlen, "%s: cannot start the checkpoint thread: %s", q->path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sq_ckpt_free(c);
		return -1;
	}
	sqlite3_wal_hook(q->db, sq_ckpt_hook, c);
	q->ckpt = c;
	return 0;
}

void
sq_ckpt_stop(struct sq_store *q)
{
	struct sq_ckpt *c = q->ckpt;

	if (c == NULL)
		return;
	/* back to SQLite's own checkpoints for the last commits and close */
	sqlite3_wal_autocheckpoint(q->db, SQ_CKPT_PAGES);
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sq_ckpt_free(c);
	q->ckpt = NULL;
}
