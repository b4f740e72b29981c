/*
 * The SQLite backend's snapshots (store.h): what a member listing said of
 * each user, put in batches by reconcile and taken, once, by the worker
 * that syncs the user; and the backlog count that tells serve when one
 * listing is cheaper than reading each user.
 */
#include "sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "groupsync/base/util.h"

int
sq_snapshots_put(void *be, const struct store_snapshot *v, size_t n, char *err,
    size_t errlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	size_t i;
	int ok;

	pthread_mutex_lock(&q->lock);
	ok = sq_run(q, SQS_BEGIN) == 0;
	for (i = 0; ok && i < n; i++) {
		st = sq_stmt(q, SQS_SNAP_PUT);
		sq_bind_text(st, 1, v[i].user_id);
		sqlite3_bind_int64(st, 2, v[i].taken_ms);
		sq_bind_text(st, 3, v[i].body);
		ok = sq_step_done(st) == 0;
	}
	ok = ok && sq_run(q, SQS_COMMIT) == 0;
	if (!ok)
		sq_seterr(q, err, errlen, "store snapshots");
	sq_write_end(q, ok, "store snapshots");
	pthread_mutex_unlock(&q->lock);
	return ok ? 0 : -1;
}

/* Within the take's transaction: 1 fresh (body copied), 0 none or stale,
 * -1 error. */
static int
sq_snapshot_read(struct sq_store *q, const char *user_id, const char *own_type,
    int64_t *taken_ms, char **body)
{
	sqlite3_stmt *st = sq_stmt(q, SQS_SNAP_GET);
	const unsigned char *text;
	int rc;

	sq_bind_text(st, 1, user_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	*taken_ms = sqlite3_column_int64(st, 0);
	text = sqlite3_column_text(st, 1);
	*body = strdup(text != NULL ? (const char *)text : "");
	sqlite3_reset(st);
	if (*body == NULL)
		return -1;
	st = sq_stmt(q, SQS_SNAP_DELETE);
	sq_bind_text(st, 1, user_id);
	if (sq_step_done(st) < 0)
		return -1;
	st = sq_stmt(q, SQS_SNAP_STALE);
	sq_bind_text(st, 1, user_id);
	sqlite3_bind_int64(st, 2, *taken_ms);
	sq_bind_text(st, 3, own_type);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 1;
	return rc == SQLITE_ROW ? 0 : -1;
}

int
sq_snapshot_take(void *be, const char *user_id, const char *own_type, int64_t *taken_ms,
    char **body)
{
	struct sq_store *q = be;
	int ret = -1;

	pthread_mutex_lock(&q->lock);
	if (sq_run(q, SQS_BEGIN) == 0) {
		ret = sq_snapshot_read(q, user_id, own_type, taken_ms, body);
		if (ret >= 0 && sq_run(q, SQS_COMMIT) < 0)
			ret = -1;
	}
	sq_write_end(q, ret >= 0, "take a snapshot");
	pthread_mutex_unlock(&q->lock);
	if (ret != 1) {
		free(*body);
		*body = NULL;
	}
	return ret;
}

/* In slices, as the jobs' prune, so that no transaction holds the store
 * for long. */
long long
sq_snapshots_prune(void *be, int64_t before_ms)
{
	return sq_prune_slices(be, SQS_SNAP_PRUNE, before_ms);
}

int
sq_backlog_users(void *be, int64_t now_ms, int64_t since_ms, const char *own_type,
    const char *known_type, int64_t *count)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_BACKLOG);
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, since_ms);
	sq_bind_text(st, 3, own_type);
	sq_bind_text(st, 4, known_type);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return rc == SQLITE_ROW ? 0 : -1;
}
