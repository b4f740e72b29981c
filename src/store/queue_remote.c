/*
 * The table of remote IDs groupsync has written (user -> remote ID and the
 * fingerprint of what was last sent), part of the queue's store so that a
 * user deleted outright from Okta can still be removed remotely; and the
 * pruning of what the store no longer needs.
 */
#include "queue_db.h"

#include <string.h>

#include "groupsync/base/util.h"

int
queue_remote_get(struct queue *q, const char *user_id, char *remote_id,
    size_t rlen, char *hash, size_t hlen)
{
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_REMOTE_GET);
	queue_bind_text(st, 1, user_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if (rc == SQLITE_ROW) {
		/* a value that does not fit is an error, not a wrong ID */
		if (queue_copy_col(remote_id, rlen, st, 0) == 0 &&
		    queue_copy_col(hash, hlen, st, 1) == 0)
			ret = 1;
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}

/*
 * Calls fn for every user that has a remote record (remote_id not ""),
 * under the store's lock: fn must not call the queue. Stops at fn's first
 * non-zero answer and returns it; -1 with err set when the read fails.
 */
int
queue_remote_each(struct queue *q, int (*fn)(const char *user_id, void *arg), void *arg,
    char *err, size_t errlen)
{
	static const char sql[] = "SELECT user_id FROM remote_ids WHERE remote_id <> ''";
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	pthread_mutex_lock(&q->db_lock);
	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = fn((const char *)sqlite3_column_text(st, 0), arg);
		if (ret != 0)
			break;
		rc = SQLITE_OK;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		queue_seterr(q, err, errlen, "cannot read the remote IDs");
		ret = -1;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}

int
queue_remote_put(struct queue *q, const char *user_id, const char *remote_id,
    const char *hash)
{
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_REMOTE_PUT);
	queue_bind_text(st, 1, user_id);
	queue_bind_text(st, 2, remote_id);
	queue_bind_text(st, 3, hash != NULL ? hash : "");
	sqlite3_bind_int64(st, 4, util_now_ms());
	ret = queue_step_done(st);
	if (ret == 0)
		queue_write_ok(q);
	else
		queue_write_failed(q, "record a remote ID");
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}

int
queue_remote_delete(struct queue *q, const char *user_id)
{
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_REMOTE_DELETE);
	queue_bind_text(st, 1, user_id);
	ret = queue_step_done(st);
	if (ret == -1)
		queue_write_failed(q, "forget a remote ID");
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}

/* One slice of one prune statement in its own transaction: rows deleted. */
static int
queue_prune_slice(struct queue *q, enum queue_stmt_id id, int64_t before)
{
	sqlite3_stmt *st;
	int n = -1;

	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, id);
	sqlite3_bind_int64(st, 1, before);
	if (queue_step_done(st) == 0)
		n = sqlite3_changes(q->db);
	pthread_mutex_unlock(&q->db_lock);
	return n;
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
queue_prune(struct queue *q, int64_t older_than_ms)
{
	static const enum queue_stmt_id ids[] = {QS_PRUNE_JOBS, QS_PRUNE_DELIVERIES};
	long long total = 0;
	size_t i;
	int n;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		do {
			n = queue_prune_slice(q, ids[i], older_than_ms);
			if (n < 0)
				return -1;
			total += n;
		} while (n > 0);
	}
	return total;
}
