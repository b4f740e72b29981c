/*
 * queue: the durable job store, one SQLite file in WAL mode.
 *
 * One connection serves every thread; q->db_lock guards it and the
 * prepared statements cached next to it. Transactions are short (one
 * delivery batch, one lease, one lease's outcome), so the lock is never
 * held for long.
 *
 * Durability: only intake must be on disk before it answers (a delivery
 * answered 200 is never sent again), so intake batches commit with
 * synchronous=FULL and everything else (leases, outcomes, remote IDs)
 * with NORMAL: safe when the process dies (the WAL is in the page cache);
 * on power loss only a suffix of those transactions can go (the WAL is
 * ordered, and each FULL commit syncs all before it), which re-runs a
 * sync that converges to the same state (level-triggered, and a create
 * looks the user up first). It spares the workers three fsyncs per user.
 *
 * Group commit: with synchronous=FULL every COMMIT costs an fsync, and one
 * fsync per webhook delivery would cap intake at the disk's fsync rate.
 * queue_enqueue() therefore does not write: it appends a request to a list
 * and sleeps on the request's own condition variable. A committer thread
 * takes the whole list, writes all of it in ONE transaction, commits once
 * and wakes every waiter with its own result. While it commits, new
 * requests pile up and form the next batch, so the batch size grows with
 * the load by itself. If the transaction fails (disk full, read-only,
 * I/O error) it is rolled back and the whole batch fails, so that every
 * caller answers 5xx and Okta redelivers; the next batch simply tries
 * again, which is how the store recovers once space returns.
 *
 * Lock order: q->req_lock and q->db_lock are never held together.
 *
 * Job states are stored as the integers of enum queue_state. "published"
 * is Okta's ISO-8601 UTC form (always the same width), so it sorts
 * correctly as text.
 */
#include "queue_db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupsync/base/util.h"

/*
 * Stores one request inside the batch transaction. Returns -1 on a store
 * error (the whole batch then fails), else 0 with req->result set.
 */
static int
queue_store_req(struct queue *q, struct queue_req *req, int64_t now)
{
	sqlite3_stmt *st;
	size_t i;

	req->stored = 0;
	if (req->event_id[0] != '\0') {
		st = queue_stmt(q, QS_DELIVERY_ADD);
		queue_bind_text(st, 1, req->event_id);
		sqlite3_bind_int64(st, 2, now);
		if (queue_step_done(st) == -1)
			return -1;
		/* ignored insert: this eventId was stored earlier, maybe
		 * earlier in this very batch */
		if (sqlite3_changes(q->db) == 0) {
			req->result = QUEUE_DUPLICATE;
			return 0;
		}
	}
	for (i = 0; i < req->njobs; i++) {
		const struct queue_job_in *j = &req->jobs[i];

		st = queue_stmt(q, QS_JOB_ADD);
		queue_bind_text(st, 1, j->uuid);
		queue_bind_text(st, 2, j->user_id);
		queue_bind_text(st, 3, j->event_type);
		queue_bind_text(st, 4, j->published);
		queue_bind_text(st, 5, j->group_id);
		queue_bind_text(st, 6, j->changed);
		sqlite3_bind_int(st, 7, j->changed_known != 0);
		sqlite3_bind_int64(st, 8, now);
		if (queue_step_done(st) == -1)
			return -1;
		req->stored += (size_t)sqlite3_changes(q->db);
	}
	req->result = QUEUE_STORED;
	return 0;
}

/* Writes a batch in one transaction; on failure every request fails. */
static void
queue_commit_batch(struct queue *q, struct queue_req *batch)
{
	struct queue_req *r;
	char err[QUEUE_ERROR_MAX + 1];
	int64_t now = util_now_ms();

	pthread_mutex_lock(&q->db_lock);
	if (queue_set_sync(q, 1) == -1 || queue_run(q, QS_BEGIN) == -1) {
		queue_seterr(q, err, sizeof(err), "begin");
		goto fail;
	}
	for (r = batch; r != NULL; r = r->next) {
		if (queue_store_req(q, r, now) == -1) {
			queue_seterr(q, err, sizeof(err), "store delivery");
			goto fail;
		}
	}
	/*
	 * A COMMIT error can, in rare cases (a failed automatic checkpoint),
	 * come after the data is durable. Reporting a failure then is the
	 * safe side: Okta redelivers and the eventId makes it a duplicate.
	 */
	if (queue_run(q, QS_COMMIT) == -1) {
		queue_seterr(q, err, sizeof(err), "commit");
		goto fail;
	}
	queue_write_ok(q);
	(void)queue_set_sync(q, 0);
	pthread_mutex_unlock(&q->db_lock);
	return;
fail:
	queue_write_failed(q, "store deliveries");
	queue_rollback(q);
	(void)queue_set_sync(q, 0);
	pthread_mutex_unlock(&q->db_lock);
	for (r = batch; r != NULL; r = r->next) {
		r->result = QUEUE_FAILED;
		r->stored = 0;
		(void)util_copy(r->err, sizeof(r->err), err);
	}
}

/*
 * Wakes one idle worker per job stored, not all of them: each wakeup
 * costs a lease query, and a worker that finds nothing has only taken the
 * store's lock from the committer. Called with req_lock held.
 */
static void
queue_notify_work(struct queue *q, const struct queue_req *batch)
{
	size_t stored = 0;

	for (; batch != NULL; batch = batch->next) {
		if (batch->result == QUEUE_STORED)
			stored += batch->stored;
	}
	if (stored == 0)
		return;
	q->work_seq++;
	for (; stored > 0 && stored <= 64; stored--)
		pthread_cond_signal(&q->work_cond);
	if (stored > 64)
		pthread_cond_broadcast(&q->work_cond);
}

static void *
queue_committer(void *arg)
{
	struct queue *q = arg;
	struct queue_req *batch, *r, *next;

	pthread_mutex_lock(&q->req_lock);
	for (;;) {
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->req_cond, &q->req_lock);
		/* stop only once drained: every caller gets an answer */
		if (q->head == NULL)
			break;
		batch = q->head;
		q->head = NULL;
		q->tail = &q->head;
		pthread_mutex_unlock(&q->req_lock);

		queue_commit_batch(q, batch);

		pthread_mutex_lock(&q->req_lock);
		queue_notify_work(q, batch);
		for (r = batch; r != NULL; r = next) {
			/* read next first: the waiter may return at once */
			next = r->next;
			r->done = 1;
			pthread_cond_signal(&r->cond);
		}
	}
	pthread_mutex_unlock(&q->req_lock);
	return NULL;
}

enum queue_enqueue_result
queue_enqueue(struct queue *q, const char *event_id,
    const struct queue_job_in *jobs, size_t njobs, size_t *stored,
    char *err, size_t errlen)
{
	struct queue_req req;

	memset(&req, 0, sizeof(req));
	req.event_id = event_id != NULL ? event_id : "";
	req.jobs = jobs;
	req.njobs = njobs;
	req.result = QUEUE_FAILED;
	pthread_cond_init(&req.cond, NULL);

	pthread_mutex_lock(&q->req_lock);
	if (q->stopping) {
		(void)util_format(req.err, sizeof(req.err),
		    "%s: queue is closing", q->path);
		req.done = 1;
	} else {
		/* req outlives its time on the list: we return only once
		 * the committer has taken it off and set done */
		*q->tail = &req;
		/* cppcheck-suppress autoVariables */
		q->tail = &req.next;
		pthread_cond_signal(&q->req_cond);
	}
	while (!req.done)
		pthread_cond_wait(&req.cond, &q->req_lock);
	pthread_mutex_unlock(&q->req_lock);
	pthread_cond_destroy(&req.cond);

	if (stored != NULL)
		*stored = req.stored;
	if (req.result == QUEUE_FAILED && err != NULL && errlen > 0)
		(void)util_copy(err, errlen, req.err);
	return req.result;
}

struct queue *
queue_open(const char *data_dir, int mode, char *err, size_t errlen)
{
	struct queue *q;

	if (queue_check_dir(data_dir, err, errlen) == -1)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		(void)util_format(err, errlen, "queue: out of memory");
		return NULL;
	}
	if (util_format(q->path, sizeof(q->path), "%s/%s", data_dir,
	    QUEUE_DB_NAME) == -1) {
		(void)util_format(err, errlen, "data directory %s: path too "
		    "long", data_dir);
		goto fail;
	}
	if (queue_open_db(q, mode, err, errlen) == -1)
		goto fail;
	if (mode == QUEUE_OPEN_SERVER && queue_ckpt_start(q, err, errlen) == -1)
		goto fail;
	pthread_mutex_init(&q->db_lock, NULL);
	pthread_mutex_init(&q->req_lock, NULL);
	pthread_cond_init(&q->req_cond, NULL);
	pthread_cond_init(&q->work_cond, NULL);
	q->tail = &q->head;
	if (pthread_create(&q->committer, NULL, queue_committer, q) != 0) {
		(void)util_format(err, errlen, "%s: cannot start the committer "
		    "thread", q->path);
		pthread_cond_destroy(&q->req_cond);
		pthread_cond_destroy(&q->work_cond);
		pthread_mutex_destroy(&q->req_lock);
		pthread_mutex_destroy(&q->db_lock);
		queue_ckpt_stop(q);
		goto fail;
	}
	return q;
fail:
	queue_close_db(q);
	free(q);
	return NULL;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->req_lock);
	q->stopping = 1;
	pthread_cond_signal(&q->req_cond);
	pthread_cond_broadcast(&q->work_cond);
	pthread_mutex_unlock(&q->req_lock);
	pthread_join(q->committer, NULL);
	queue_ckpt_stop(q);

	queue_close_db(q);
	pthread_cond_destroy(&q->req_cond);
	pthread_cond_destroy(&q->work_cond);
	pthread_mutex_destroy(&q->req_lock);
	pthread_mutex_destroy(&q->db_lock);
	free(q);
}

/* Appends one slot to out->jobs, growing it by doubling. */
static struct queue_job *
queue_lease_grow(struct queue_lease *out, size_t *cap)
{
	struct queue_job *jobs;
	size_t n;

	if (out->njobs == *cap) {
		n = *cap == 0 ? 8 : *cap * 2;
		if (n > SIZE_MAX / sizeof(*jobs))
			return NULL;
		jobs = realloc(out->jobs, n * sizeof(*jobs));
		if (jobs == NULL)
			return NULL;
		out->jobs = jobs;
		*cap = n;
	}
	return &out->jobs[out->njobs++];
}

/* Reads the ready pending jobs of out->user_id into out->jobs. */
static int
queue_lease_read(struct queue *q, int64_t now_ms, struct queue_lease *out,
    char *err, size_t errlen)
{
	sqlite3_stmt *st = queue_stmt(q, QS_LEASE_JOBS);
	struct queue_job *j;
	size_t cap = 0;
	int rc, ret = -1;

	queue_bind_text(st, 1, out->user_id);
	sqlite3_bind_int64(st, 2, now_ms);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		j = queue_lease_grow(out, &cap);
		if (j == NULL) {
			(void)util_format(err, errlen, "%s: lease: out of "
			    "memory for the jobs of user %s", q->path,
			    out->user_id);
			goto out;
		}
		queue_read_job(st, j);
		/* returned as leased: the UPDATE that follows makes it so */
		j->state = QUEUE_LEASED;
	}
	if (rc != SQLITE_DONE) {
		queue_seterr(q, err, errlen, "lease: read jobs");
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(st);
	return ret;
}

/*
 * The pick, the read and the update run in one write transaction, so two
 * workers can never lease the same user: the second one waits for the
 * first one's COMMIT and then sees that user's jobs as leased.
 */
int
queue_lease(struct queue *q, int64_t now_ms, struct queue_lease *out,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&q->db_lock);
	if (queue_run(q, QS_BEGIN) == -1) {
		queue_seterr(q, err, errlen, "lease: begin");
		goto out;
	}
	st = queue_stmt(q, QS_LEASE_PICK);
	sqlite3_bind_int64(st, 1, now_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		(void)queue_copy_col(out->user_id, sizeof(out->user_id), st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		queue_seterr(q, err, errlen, "lease: pick user");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
	if (queue_lease_read(q, now_ms, out, err, errlen) == -1)
		goto out;
	/* cannot happen inside one transaction, but never return 1 empty */
	if (out->njobs == 0) {
		ret = 0;
		goto out;
	}
	st = queue_stmt(q, QS_LEASE_MARK);
	queue_bind_text(st, 1, out->user_id);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, util_now_ms());
	if (queue_step_done(st) == -1 || queue_run(q, QS_COMMIT) == -1) {
		queue_seterr(q, err, errlen, "lease: mark leased");
		queue_write_failed(q, "lease jobs");
		goto out;
	}
	queue_write_ok(q);
	ret = 1;
out:
	queue_rollback(q);
	pthread_mutex_unlock(&q->db_lock);
	if (ret != 1)
		queue_lease_free(out);
	return ret;
}

void
queue_lease_free(struct queue_lease *l)
{
	if (l == NULL)
		return;
	free(l->jobs);
	l->jobs = NULL;
	l->njobs = 0;
}

/*
 * Ends a lease: every job of it moves to state, attempts += inc; a NULL
 * not_before or error keeps the stored value. Only rows still leased are
 * touched, so a stale lease cannot undo what happened since.
 */
static int
queue_finish(struct queue *q, const struct queue_lease *l,
    enum queue_state state, int inc, const int64_t *not_before,
    const char *error)
{
	sqlite3_stmt *st;
	int64_t now = util_now_ms();
	size_t i;
	int ret = -1;

	pthread_mutex_lock(&q->db_lock);
	if (queue_run(q, QS_BEGIN) == -1)
		goto out;
	for (i = 0; i < l->njobs; i++) {
		st = queue_stmt(q, QS_FINISH);
		sqlite3_bind_int64(st, 1, l->jobs[i].id);
		sqlite3_bind_int(st, 2, (int)state);
		sqlite3_bind_int(st, 3, inc);
		if (not_before != NULL)
			sqlite3_bind_int64(st, 4, *not_before);
		if (error != NULL)
			queue_bind_text(st, 5, error);
		sqlite3_bind_int64(st, 6, now);
		if (queue_step_done(st) == -1)
			goto out;
	}
	if (queue_run(q, QS_COMMIT) == -1)
		goto out;
	ret = 0;
out:
	if (ret == 0)
		queue_write_ok(q);
	else
		queue_write_failed(q, "record a sync's outcome");
	queue_rollback(q);
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}

int
queue_complete(struct queue *q, const struct queue_lease *l)
{
	return queue_finish(q, l, QUEUE_DONE, 0, NULL, NULL);
}

int
queue_retry(struct queue *q, const struct queue_lease *l,
    int64_t retry_at_ms, const char *error)
{
	return queue_finish(q, l, QUEUE_PENDING, 1, &retry_at_ms,
	    error != NULL ? error : "");
}

int
queue_dead(struct queue *q, const struct queue_lease *l, const char *error)
{
	return queue_finish(q, l, QUEUE_DEAD, 1, NULL,
	    error != NULL ? error : "");
}

int
queue_release(struct queue *q, const struct queue_lease *l)
{
	return queue_finish(q, l, QUEUE_PENDING, 0, NULL, NULL);
}

int
queue_counts(struct queue *q, int64_t counts[4])
{
	sqlite3_stmt *st;
	int rc, s;

	memset(counts, 0, 4 * sizeof(counts[0]));
	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_COUNTS);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		s = sqlite3_column_int(st, 0);
		if (s >= QUEUE_PENDING && s <= QUEUE_DEAD)
			counts[s] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->db_lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
queue_oldest_pending_ms(struct queue *q, int64_t now_ms, int64_t *age_ms)
{
	sqlite3_stmt *st;
	int rc;

	*age_ms = 0;
	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_OLDEST);
	rc = sqlite3_step(st);
	/* min() of no rows is NULL: no pending job, age 0 */
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    now_ms > sqlite3_column_int64(st, 0))
		*age_ms = now_ms - sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->db_lock);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* A real write and commit: only that proves the disk takes our data. */
int
queue_writable(struct queue *q)
{
	sqlite3_stmt *st;
	int ok = 0;

	pthread_mutex_lock(&q->db_lock);
	if (queue_run(q, QS_BEGIN) == -1)
		goto out;
	st = queue_stmt(q, QS_HEALTH);
	sqlite3_bind_int64(st, 1, util_now_ms());
	if (queue_step_done(st) == -1 || queue_run(q, QS_COMMIT) == -1)
		goto out;
	ok = 1;
out:
	if (ok)
		queue_write_ok(q);
	else
		queue_write_failed(q, "readiness write");
	queue_rollback(q);
	pthread_mutex_unlock(&q->db_lock);
	return ok;
}
