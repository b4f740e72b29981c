/*
 * The table of remote IDs groupsync has written (user -> remote ID and the
 * fingerprint of what was last sent), part of the queue's store so that a
 * user deleted outright from Okta can still be removed remotely.
 */
#include "queue_db.h"

#include <string.h>

#include "groupsync/util.h"

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
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}
