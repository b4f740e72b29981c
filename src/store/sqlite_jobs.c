/*
 * The SQLite backend's operations on jobs: store a batch of deliveries,
 * lease a user's jobs, end a lease, and what the front reads about them
 * (counts, oldest, next due, writable) or prunes.
 *
 * Lock order: q->lock is taken alone; the front's locks are never held
 * when it calls in here.
 */
#include "sqlite.h"

#include "groupsync/base/util.h"

/*
 * Stores one delivery inside the batch transaction. Returns -1 on a store
 * error (the whole batch then fails), else 0 with d->result set.
 */
static int
sq_store_delivery(struct sq_store *q, struct store_delivery *d, int64_t now)
{
	sqlite3_stmt *st;
	size_t i;

	d->stored = 0;
	if (d->event_id[0] != '\0') {
		st = sq_stmt(q, SQS_DELIVERY_ADD);
		sq_bind_text(st, 1, d->event_id);
		sqlite3_bind_int64(st, 2, now);
		if (sq_step_done(st) == -1)
			return -1;
		/* ignored insert: this eventId was stored earlier, maybe
		 * earlier in this very batch */
		if (sqlite3_changes(q->db) == 0) {
			d->result = STORE_DUPLICATE;
			return 0;
		}
	}
	for (i = 0; i < d->njobs; i++) {
		const struct store_job_in *j = &d->jobs[i];

		st = sq_stmt(q, SQS_JOB_ADD);
		sq_bind_text(st, 1, j->uuid);
		sq_bind_text(st, 2, j->user_id);
		sq_bind_text(st, 3, j->event_type);
		sq_bind_text(st, 4, j->published);
		sq_bind_text(st, 5, j->group_id);
		sq_bind_text(st, 6, j->changed);
		sqlite3_bind_int(st, 7, j->changed_known != 0);
		sqlite3_bind_int64(st, 8, now);
		if (sq_step_done(st) == -1)
			return -1;
		d->stored += (size_t)sqlite3_changes(q->db);
	}
	d->result = STORE_STORED;
	return 0;
}

/*
 * Writes a batch in one transaction with synchronous=FULL: the COMMIT
 * syncs the WAL, so the batch is on disk when this returns 0. -1: nothing
 * was committed, err says why.
 */
int
sq_enqueue(void *be, struct store_delivery *batch, char *err, size_t errlen)
{
	struct sq_store *q = be;
	struct store_delivery *d;
	int64_t now = util_now_ms();
	int ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sq_set_sync(q, 1) == -1 || sq_run(q, SQS_BEGIN) == -1) {
		sq_seterr(q, err, errlen, "begin");
		goto out;
	}
	for (d = batch; d != NULL; d = d->next) {
		if (sq_store_delivery(q, d, now) == -1) {
			sq_seterr(q, err, errlen, "store delivery");
			goto out;
		}
	}
	/*
	 * A COMMIT error can, in rare cases (a failed automatic checkpoint),
	 * come after the data is durable. Reporting a failure then is the
	 * safe side: Okta redelivers and the eventId makes it a duplicate.
	 */
	if (sq_run(q, SQS_COMMIT) == -1) {
		sq_seterr(q, err, errlen, "commit");
		goto out;
	}
	ret = 0;
out:
	sq_write_end(q, ret == 0, "store deliveries");
	(void)sq_set_sync(q, 0);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* Reads the ready pending jobs of out->user_id into out->jobs. */
static int
sq_lease_read(struct sq_store *q, int64_t now_ms, struct store_lease *out,
    char *err, size_t errlen)
{
	sqlite3_stmt *st = sq_stmt(q, SQS_LEASE_JOBS);
	struct store_job *j;
	size_t cap = 0;
	int rc, ret = -1;

	sq_bind_text(st, 1, out->user_id);
	sqlite3_bind_int64(st, 2, now_ms);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		j = store_lease_add(out, &cap);
		if (j == NULL) {
			(void)util_format(err, errlen, "%s: lease: out of "
			    "memory for the jobs of user %s", q->path,
			    out->user_id);
			goto out;
		}
		sq_read_job(st, j);
		/* returned as leased: the UPDATE that follows makes it so */
		j->state = STORE_LEASED;
	}
	if (rc != SQLITE_DONE) {
		sq_seterr(q, err, errlen, "lease: read jobs");
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(st);
	return ret;
}

/* Reads and marks out->user_id's ready jobs, inside the caller's
 * transaction: 1 leased, 0 none ready, -1 error. */
static int
sq_lease_take(struct sq_store *q, int64_t now_ms, struct store_lease *out, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if (sq_lease_read(q, now_ms, out, err, errlen) == -1)
		return -1;
	/* cannot happen inside one transaction, but never mark nothing */
	if (out->njobs == 0)
		return 0;
	st = sq_stmt(q, SQS_LEASE_MARK);
	sq_bind_text(st, 1, out->user_id);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, util_now_ms());
	if (sq_step_done(st) == 0 && sq_run(q, SQS_COMMIT) == 0)
		return 1;
	sq_seterr(q, err, errlen, "lease: mark leased");
	return -1;
}

/*
 * The pick, the read and the update run in one write transaction, so two
 * workers can never lease the same user: the second one waits for the
 * first one's COMMIT and then sees that user's jobs as leased.
 */
int
sq_lease(void *be, int64_t now_ms, struct store_lease *out, char *err, size_t errlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sq_run(q, SQS_BEGIN) == -1) {
		sq_seterr(q, err, errlen, "lease: begin");
		goto out;
	}
	st = sq_stmt(q, SQS_LEASE_PICK);
	sqlite3_bind_int64(st, 1, now_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		(void)sq_copy_col(out->user_id, sizeof(out->user_id), st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_seterr(q, err, errlen, "lease: pick user");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
	ret = sq_lease_take(q, now_ms, out, err, errlen);
	if (ret != 0)
		sq_write_end(q, ret == 1, "lease jobs");
out:
	sq_rollback(q);
	pthread_mutex_unlock(&q->lock);
	/* the front frees out->jobs unless 1 */
	return ret;
}

/*
 * As sq_lease, for one named user, with the on-demand job stored in the
 * same transaction (durable: synchronous=FULL, as a delivery), so the job
 * that records the operator's sync and its lease appear together.
 */
int
sq_lease_user(void *be, const struct store_job_in *job, int64_t now_ms,
    struct store_lease *out, char *err, size_t errlen)
{
	struct sq_store *q = be;
	struct store_delivery d = {"", job, 1, 0, STORE_STORED, NULL};
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sq_set_sync(q, 1) == -1 || sq_run(q, SQS_BEGIN) == -1) {
		sq_seterr(q, err, errlen, "lease user: begin");
		goto out;
	}
	st = sq_stmt(q, SQS_USER_LEASED);
	sq_bind_text(st, 1, job->user_id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW) {
		ret = 0; /* a worker holds the user */
		goto out;
	}
	if (rc != SQLITE_DONE || sq_store_delivery(q, &d, util_now_ms()) == -1) {
		sq_seterr(q, err, errlen, "lease user: store the job");
		goto out;
	}
	(void)util_copy(out->user_id, sizeof(out->user_id), job->user_id);
	ret = sq_lease_take(q, now_ms, out, err, errlen);
	if (ret == 0) {
		/* the job just stored is ready: nothing to lease is a bug */
		(void)util_format(err, errlen, "lease user %s: no job to lease", job->user_id);
		ret = -1;
	}
	sq_write_end(q, ret == 1, "lease a user's jobs");
out:
	sq_rollback(q);
	(void)sq_set_sync(q, 0);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/*
 * Ends a lease: every job of it moves to o->state, attempts +=
 * o->attempts_inc; a NULL not_before or error keeps the stored value.
 * Only rows still leased are touched, so a stale lease cannot undo what
 * happened since.
 */
int
sq_finish(void *be, const struct store_lease *l, const struct store_outcome *o)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int64_t now = util_now_ms();
	size_t i;
	int ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sq_run(q, SQS_BEGIN) == -1)
		goto out;
	for (i = 0; i < l->njobs; i++) {
		st = sq_stmt(q, SQS_FINISH);
		sqlite3_bind_int64(st, 1, l->jobs[i].id);
		sqlite3_bind_int(st, 2, (int)o->state);
		sqlite3_bind_int(st, 3, o->attempts_inc);
		if (o->not_before_ms != NULL)
			sqlite3_bind_int64(st, 4, *o->not_before_ms);
		if (o->error != NULL)
			sq_bind_text(st, 5, o->error);
		sqlite3_bind_int64(st, 6, now);
		if (sq_step_done(st) == -1)
			goto out;
	}
	if (sq_run(q, SQS_COMMIT) == -1)
		goto out;
	ret = 0;
out:
	sq_write_end(q, ret == 0, "record a sync's outcome");
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* Fills the states that have jobs; the front zeroed counts. */
int
sq_counts(void *be, int64_t counts[4])
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, s;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_COUNTS);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		s = sqlite3_column_int(st, 0);
		if (s >= STORE_PENDING && s <= STORE_DEAD)
			counts[s] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
sq_oldest_pending(void *be, int64_t *created_ms)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_OLDEST);
	rc = sqlite3_step(st);
	/* min() of no rows is NULL: no pending job */
	if (rc == SQLITE_ROW) {
		ret = sqlite3_column_type(st, 0) != SQLITE_NULL;
		*created_ms = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* A real write and commit: only that proves the disk takes our data. */
int
sq_writable(void *be)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int ok = 0;

	pthread_mutex_lock(&q->lock);
	if (sq_run(q, SQS_BEGIN) == -1)
		goto out;
	st = sq_stmt(q, SQS_HEALTH);
	sqlite3_bind_int64(st, 1, util_now_ms());
	if (sq_step_done(st) == -1 || sq_run(q, SQS_COMMIT) == -1)
		goto out;
	ok = 1;
out:
	sq_write_end(q, ok, "readiness write");
	pthread_mutex_unlock(&q->lock);
	return ok;
}

int64_t
sq_next_due(void *be, int64_t now_ms)
{
	int64_t due = -1;

	(void)sq_scalar(be, SQS_NEXT_DUE, now_ms, &due);
	return due;
}

/* One slice of one prune statement in its own transaction: rows deleted. */
static int
sq_prune_slice(struct sq_store *q, enum sq_stmt_id id, int64_t before)
{
	sqlite3_stmt *st;
	int n = -1;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, id);
	sqlite3_bind_int64(st, 1, before);
	if (sq_step_done(st) == 0)
		n = sqlite3_changes(q->db);
	pthread_mutex_unlock(&q->lock);
	return n;
}

long long
sq_prune_slices(struct sq_store *q, enum sq_stmt_id id, int64_t before)
{
	long long total = 0;
	int n;

	do {
		n = sq_prune_slice(q, id, before);
		if (n < 0)
			return -1;
		total += n;
	} while (n > 0);
	return total;
}

/*
 * Done jobs keep the uuid that de-duplicates a repeated event, and
 * deliveries the eventId of a repeated delivery: Okta repeats within
 * minutes, so after the retention period they only make the store grow.
 * An event repeated later is synced again, which changes nothing (sync
 * is level-triggered). Each slice releases the lock, so that intake and
 * the workers get the store between slices.
 */
long long
sq_prune(void *be, int64_t older_than_ms)
{
	static const enum sq_stmt_id ids[] = {SQS_PRUNE_JOBS, SQS_PRUNE_DELIVERIES};
	long long total = 0, n;
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		n = sq_prune_slices(be, ids[i], older_than_ms);
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}
