/*
 * The SQLite backend's user -> remote ID map: the remote IDs groupsync has
 * written and the fingerprint of what was last sent, kept in the store so
 * that a user deleted outright from Okta can still be removed remotely.
 */
#include "sqlite.h"

#include "groupsync/base/util.h"

int
sq_remote_get(void *be, const char *user_id, char *remote_id, size_t rlen, char *hash,
    size_t hlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_REMOTE_GET);
	sq_bind_text(st, 1, user_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if (rc == SQLITE_ROW) {
		/* a value that does not fit is an error, not a wrong ID */
		if (sq_copy_col(remote_id, rlen, st, 0) == 0 &&
		    sq_copy_col(hash, hlen, st, 1) == 0)
			ret = 1;
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/*
 * Calls fn for every user that has a remote record (remote_id not ""),
 * under the store's lock: fn must not call the store. Stops at fn's first
 * non-zero answer and returns it; -1 with err set when the read fails.
 */
int
sq_remote_each(void *be, int (*fn)(const char *user_id, void *arg), void *arg, char *err,
    size_t errlen)
{
	struct sq_store *q = be;
	static const char sql[] = "SELECT user_id FROM remote_ids WHERE remote_id <> ''";
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	pthread_mutex_lock(&q->lock);
	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = fn((const char *)sqlite3_column_text(st, 0), arg);
		if (ret != 0)
			break;
		rc = SQLITE_OK;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		sq_seterr(q, err, errlen, "cannot read the remote IDs");
		ret = -1;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_remote_put(void *be, const char *user_id, const char *remote_id, const char *hash)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_REMOTE_PUT);
	sq_bind_text(st, 1, user_id);
	sq_bind_text(st, 2, remote_id);
	sq_bind_text(st, 3, hash);
	sqlite3_bind_int64(st, 4, util_now_ms());
	ret = sq_step_done(st);
	sq_write_end(q, ret == 0, "record a remote ID");
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_remote_delete(void *be, const char *user_id)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, SQS_REMOTE_DELETE);
	sq_bind_text(st, 1, user_id);
	ret = sq_step_done(st);
	sq_write_end(q, ret == 0, "forget a remote ID");
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/*
 * Group push: the remote ID of each Okta group (and the name last sent to
 * it), and the (group, user) pairs groupsync made remote members. Rare
 * calls (a membership change, a new group): statements are prepared per
 * call rather than kept.
 */
static sqlite3_stmt *
sq_group_stmt(struct sq_store *q, const char *sql, const char *a, const char *b,
    const char *c)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	sq_bind_text(st, 1, a);
	if (b != NULL)
		sq_bind_text(st, 2, b);
	if (c != NULL)
		sq_bind_text(st, 3, c);
	return st;
}

/* Runs a write statement; 0 or -1, reported to the front. */
static int
sq_group_write(struct sq_store *q, sqlite3_stmt *st, const char *what)
{
	int ret = st != NULL && sqlite3_step(st) == SQLITE_DONE ? 0 : -1;

	sqlite3_finalize(st);
	sq_write_end(q, ret == 0, what);
	return ret;
}

int
sq_group_get(void *be, const char *group_id, char *remote_id, size_t rlen, char *name,
    size_t nlen)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->lock);
	st = sq_group_stmt(q, "SELECT remote_id, name FROM group_remote_ids WHERE group_id = ?1",
	    group_id, NULL, NULL);
	rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
	if (rc == SQLITE_DONE)
		ret = 0;
	else if (rc == SQLITE_ROW && sq_copy_col(remote_id, rlen, st, 0) == 0 &&
	    sq_copy_col(name, nlen, st, 1) == 0)
		ret = 1;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_group_put(void *be, const char *group_id, const char *remote_id, const char *name)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&q->lock);
	st = sq_group_stmt(q, "INSERT INTO group_remote_ids(group_id, remote_id, name, updated)"
	    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(group_id) DO UPDATE SET"
	    " remote_id = excluded.remote_id, name = excluded.name, updated = excluded.updated",
	    group_id, remote_id, name);
	if (st != NULL)
		sqlite3_bind_int64(st, 4, util_now_ms());
	ret = sq_group_write(q, st, "record a group's remote ID");
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_member_get(void *be, const char *group_id, const char *user_id)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->lock);
	st = sq_group_stmt(q, "SELECT 1 FROM group_members WHERE group_id = ?1 AND user_id = ?2",
	    group_id, user_id, NULL);
	rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->lock);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
sq_member_put(void *be, const char *group_id, const char *user_id, int member)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&q->lock);
	st = sq_group_stmt(q, member ?
	    "INSERT OR IGNORE INTO group_members(group_id, user_id) VALUES(?1, ?2)" :
	    "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
	    group_id, user_id, NULL);
	ret = sq_group_write(q, st, "record a group membership");
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int
sq_member_each(void *be, const char *group_id, int (*fn)(const char *user_id, void *arg),
    void *arg)
{
	struct sq_store *q = be;
	sqlite3_stmt *st;
	int rc, ret = 0;

	pthread_mutex_lock(&q->lock);
	st = sq_group_stmt(q, "SELECT user_id FROM group_members WHERE group_id = ?1"
	    " ORDER BY user_id", group_id, NULL, NULL);
	rc = st != NULL ? SQLITE_OK : SQLITE_ERROR;
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = fn((const char *)sqlite3_column_text(st, 0), arg);
		if (ret != 0)
			break;
		rc = SQLITE_OK;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -1;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}
