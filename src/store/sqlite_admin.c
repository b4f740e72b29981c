/*
 * The SQLite backend's operator queries: list, show, retry and drop jobs
 * (see store.h). They run in the admin commands' process while the server
 * works on the same file; WAL lets the reads run beside its writes, and
 * each change is one short write transaction that the server's busy
 * timeout waits out.
 *
 * A change and the look-up that explains a refusal share one
 * transaction, so the state named in "job 5 is leased" is the state that
 * refused the change, not one that came a moment later.
 */
#include "sqlite.h"

#include <string.h>

/* Reads a row of SQ_ADMIN_COLUMNS. */
static void
sq_admin_read_row(sqlite3_stmt *st, struct store_job_info *info)
{
	struct store_job *j = &info->job;

	memset(info, 0, sizeof(*info));
	sq_read_job(st, j); /* SQ_ADMIN_COLUMNS starts with SQ_JOB_COLUMNS */
	/* the schema's CHECK keeps it within enum store_state */
	j->state = (enum store_state)sqlite3_column_int(st, 12);
	info->updated_ms = sqlite3_column_int64(st, 13);
}

/* Newest first (the front keeps the newest and turns them around). */
int
sq_admin_list(void *be, const struct store_list_query *qry, size_t max,
    int (*row)(const struct store_job_info *info, void *arg), void *arg, char *err,
    size_t errlen)
{
	struct sq_store *q = be;
	struct store_job_info info;
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, qry->user_id != NULL ? SQS_ADMIN_LIST_USER : SQS_ADMIN_LIST);
	sqlite3_bind_int(st, 1, (int)qry->states);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	sqlite3_bind_int(st, 4, qry->attempted != 0);
	if (qry->user_id != NULL)
		sq_bind_text(st, 3, qry->user_id);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		sq_admin_read_row(st, &info);
		if (row(&info, arg) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		sq_seterr(q, err, errlen, "list jobs");
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_admin_get(void *be, int64_t id, struct store_job_info *out, char *err, size_t errlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_ADMIN_GET);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sq_admin_read_row(st, out);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		sq_seterr(q, err, errlen, "read job");
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* The state of job id: 1 found, 0 none, -1 error. Called locked. */
static int
sq_admin_state(struct sq_store *q, int64_t id, enum store_state *state)
{
	sqlite3_stmt *st = sq_stmt(q, SQS_ADMIN_STATE);
	int rc;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*state = (enum store_state)sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Runs the guarded change which (?1 the job id, ?2 now when it takes
 * one); when it changed no row, reads why: no such job, or its state.
 */
static enum store_admin_result
sq_admin_change(struct sq_store *q, enum sq_stmt_id which, int64_t id,
    int64_t now_ms, enum store_state *state, char *err, size_t errlen)
{
	enum store_admin_result res = STORE_ADMIN_ERROR;
	sqlite3_stmt *st;
	int found;

	pthread_mutex_lock(&q->lock);
	if (sq_run(q, SQS_BEGIN) == -1) {
		sq_seterr(q, err, errlen, "begin");
		goto out;
	}
	st = sq_stmt(q, which);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, now_ms);
	if (sq_step_done(st) == -1) {
		sq_seterr(q, err, errlen, "change job");
		goto out;
	}
	if (sqlite3_changes(q->db) > 0) {
		res = STORE_ADMIN_OK;
	} else {
		found = sq_admin_state(q, id, state);
		if (found == -1) {
			sq_seterr(q, err, errlen, "read job state");
			goto out;
		}
		res = found ? STORE_ADMIN_REFUSED : STORE_ADMIN_NO_JOB;
	}
	if (sq_run(q, SQS_COMMIT) == -1) {
		sq_seterr(q, err, errlen, "commit");
		res = STORE_ADMIN_ERROR;
	}
out:
	sq_rollback(q);
	pthread_mutex_unlock(&q->lock);
	return res;
}

enum store_admin_result
sq_admin_retry(void *be, int64_t id, int64_t now_ms, enum store_state *state, char *err,
    size_t errlen)
{
	return sq_admin_change(be, SQS_ADMIN_RETRY, id, now_ms, state, err,
	    errlen);
}

enum store_admin_result
sq_admin_drop(void *be, int64_t id, enum store_state *state, char *err, size_t errlen)
{
	return sq_admin_change(be, SQS_ADMIN_DROP, id, 0, state, err, errlen);
}

/* Runs the bound UPDATE st under q->lock (taken by the caller) and sets
 * *count to the rows it changed, then releases the lock. 0 or -1. */
static int
sq_update_count(struct sq_store *q, sqlite3_stmt *st, int64_t *count, const char *what,
    char *err, size_t errlen)
{
	int ret = -1;

	if (sq_step_done(st) == -1) {
		sq_seterr(q, err, errlen, what);
	} else {
		*count = sqlite3_changes64(q->db);
		ret = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_admin_retry_dead(void *be, int64_t now_ms, int64_t *count, char *err, size_t errlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_ADMIN_RETRY_DEAD);
	sqlite3_bind_int64(st, 1, now_ms);
	return sq_update_count(q, st, count, "retry dead jobs", err, errlen);
}

int
sq_count_held(void *be, int64_t *count)
{
	/* count(*) always gives a row */
	return sq_scalar(be, SQS_COUNT_HELD, STORE_HELD_NOT_BEFORE, count) == 1 ? 0 : -1;
}

/* In one write transaction: forget what left the window, then take one
 * if fewer than limit remain. */
int
sq_deprovision_take(void *be, int64_t now_ms, int64_t window_ms, int64_t limit)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sq_run(q, SQS_BEGIN) == -1)
		goto out;
	st = sq_stmt(q, SQS_DEPROV_PRUNE);
	sqlite3_bind_int64(st, 1, now_ms - window_ms);
	if (sq_step_done(st) == -1)
		goto out;
	st = sq_stmt(q, SQS_DEPROV_TAKE);
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, limit);
	if (sq_step_done(st) == -1)
		goto out;
	ret = sqlite3_changes(q->db) > 0;
	if (sq_run(q, SQS_COMMIT) == -1)
		ret = -1;
out:
	sq_write_end(q, ret != -1, "count a deprovision");
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_admin_release_held(void *be, int64_t id, int64_t now_ms, int64_t *count, char *err,
    size_t errlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_RELEASE_HELD);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, STORE_RELEASED_NOT_BEFORE);
	sqlite3_bind_int64(st, 4, STORE_HELD_NOT_BEFORE);
	return sq_update_count(q, st, count, "release held jobs", err, errlen);
}

/* Calls row for each row of sql's result, read into a record of kind. */
static int
sq_export_table(struct sq_store *q, const char *sql, enum store_record_kind kind,
    int (*row)(const struct store_record *r, void *arg), void *arg, char *err,
    size_t errlen)
{
	struct store_record r;
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sq_seterr(q, err, errlen, "export");
		return -1;
	}
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		memset(&r, 0, sizeof(r));
		r.kind = kind;
		if (kind == STORE_REC_JOB) {
			sq_admin_read_row(st, &r.job);
		} else if (kind == STORE_REC_DELIVERY) {
			r.event_id = (const char *)sqlite3_column_text(st, 0);
			r.time_ms = sqlite3_column_int64(st, 1);
		} else if (kind == STORE_REC_REMOTE_ID) {
			r.user_id = (const char *)sqlite3_column_text(st, 0);
			r.remote_id = (const char *)sqlite3_column_text(st, 1);
			r.hash = (const char *)sqlite3_column_text(st, 2);
			r.time_ms = sqlite3_column_int64(st, 3);
		} else if (kind == STORE_REC_GROUP) {
			r.group_id = (const char *)sqlite3_column_text(st, 0);
			r.remote_id = (const char *)sqlite3_column_text(st, 1);
			r.name = (const char *)sqlite3_column_text(st, 2);
			r.time_ms = sqlite3_column_int64(st, 3);
		} else {
			r.group_id = (const char *)sqlite3_column_text(st, 0);
			r.user_id = (const char *)sqlite3_column_text(st, 1);
		}
		if (row(&r, arg) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		sq_seterr(q, err, errlen, "export");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* store migrate's source: every table, in one read transaction, so that
 * the copy is of one moment of the store. */
int
sq_export(void *be, int (*row)(const struct store_record *r, void *arg), void *arg,
    char *err, size_t errlen)
{
	struct sq_store *q = be;
	int ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		sq_seterr(q, err, errlen, "export: begin");
		goto out;
	}
	if (sq_export_table(q, "SELECT " SQ_ADMIN_COLUMNS " FROM jobs ORDER BY id",
	    STORE_REC_JOB, row, arg, err, errlen) == 0 &&
	    sq_export_table(q, "SELECT event_id, received FROM deliveries",
	    STORE_REC_DELIVERY, row, arg, err, errlen) == 0 &&
	    sq_export_table(q, "SELECT user_id, remote_id, hash, updated FROM remote_ids",
	    STORE_REC_REMOTE_ID, row, arg, err, errlen) == 0 &&
	    sq_export_table(q, "SELECT group_id, remote_id, name, updated FROM "
	    "group_remote_ids", STORE_REC_GROUP, row, arg, err, errlen) == 0 &&
	    sq_export_table(q, "SELECT group_id, user_id FROM group_members",
	    STORE_REC_MEMBER, row, arg, err, errlen) == 0)
		ret = 0;
out:
	sq_rollback(q);
	pthread_mutex_unlock(&q->lock);
	return ret;
}
