/*
 * The SQLite backend of the store, internal to it: the connection, its
 * statements and helpers (sqlite.c), shared with the backend's operations
 * on jobs (sqlite_jobs.c), the remote-ID map (sqlite_remote_ids.c), the
 * snapshots of member listings (sqlite_snapshots.c), the
 * operator queries (sqlite_admin.c) and the checkpoint thread
 * (sqlite_ckpt.c). The ops table, store_sqlite_ops, is sqlite_ops.c's.
 */
#ifndef GROUPSYNC_STORE_SQLITE_H
#define GROUPSYNC_STORE_SQLITE_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "backend.h"

#define SQ_SCHEMA_VERSION 1
#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_DB_NAME "groupsync.db"

#define SQ_JOB_COLUMNS "id, uuid, user_id, event_type, published, " \
	"group_id, changed, changed_known, attempts, not_before, created, " \
	"last_error"
/* the admin commands show every column: the lease's, then these two */
#define SQ_ADMIN_COLUMNS SQ_JOB_COLUMNS ", state, updated"

enum sq_stmt_id {
	SQS_BEGIN, SQS_COMMIT, SQS_ROLLBACK,
	SQS_DELIVERY_ADD, SQS_JOB_ADD,
	SQS_LEASE_PICK, SQS_LEASE_JOBS, SQS_LEASE_MARK, SQS_FINISH, SQS_NEXT_DUE,
	SQS_USER_LEASED, SQS_COUNT_HELD, SQS_RELEASE_HELD,
	SQS_DEPROV_PRUNE, SQS_DEPROV_TAKE,
	SQS_COUNTS, SQS_OLDEST, SQS_HEALTH,
	SQS_REMOTE_GET, SQS_REMOTE_PUT, SQS_REMOTE_DELETE,
	SQS_PRUNE_JOBS, SQS_PRUNE_DELIVERIES,
	SQS_ADMIN_LIST, SQS_ADMIN_LIST_USER, SQS_ADMIN_GET, SQS_ADMIN_STATE,
	SQS_ADMIN_RETRY, SQS_ADMIN_RETRY_DEAD, SQS_ADMIN_DROP,
	SQS_SNAP_PUT, SQS_SNAP_GET, SQS_SNAP_DELETE, SQS_SNAP_STALE, SQS_SNAP_PRUNE,
	SQS_BACKLOG,
	SQS_COUNT
};

/*
 * One connection serves every thread; lock guards it and the prepared
 * statements cached next to it. Transactions are short (one delivery
 * batch, one lease, one lease's outcome), so the lock is never held for
 * long.
 */
struct sq_store {
	char path[PATH_MAX];
	struct store_health *health; /* the front's: write state */

	pthread_mutex_t lock;	/* guards db and stmt */
	sqlite3 *db;
	sqlite3_stmt *stmt[SQS_COUNT];
	struct sq_ckpt *ckpt;	/* server mode: checkpoint thread */
};

void sq_seterr(struct sq_store *q, char *err, size_t errlen, const char *what);
sqlite3_stmt *sq_stmt(struct sq_store *q, enum sq_stmt_id id);
int sq_step_done(sqlite3_stmt *st);
/* Runs statement id with ?1 = arg under q->lock: 1 with *out set from its
 * first row's first column, 0 when it is NULL or there is no row, -1 on
 * error. */
int sq_scalar(struct sq_store *q, enum sq_stmt_id id, int64_t arg, int64_t *out);
/* Runs prune statement id (slices of rows older than before) until a
 * slice deletes nothing, releasing the lock between slices: rows
 * deleted, or -1. */
long long sq_prune_slices(struct sq_store *q, enum sq_stmt_id id, int64_t before);
int sq_run(struct sq_store *q, enum sq_stmt_id id);
void sq_rollback(struct sq_store *q);
int sq_set_sync(struct sq_store *q, int full);
/* With the lock held, after a write (what) committed (ok) or failed:
 * tells the front, which logs when the store stops or starts taking
 * writes, once each; then rolls back what a failure left open. */
void sq_write_end(struct sq_store *q, int ok, const char *what);
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
int sq_copy_col(char *dst, size_t size, sqlite3_stmt *st, int col);
void sq_read_job(sqlite3_stmt *st, struct store_job *j);

/* Server mode: WAL checkpoints on a thread of their own (sqlite_ckpt.c).
 * Start after the main connection is open; stop before it closes. */
struct sq_ckpt;
int sq_ckpt_start(struct sq_store *q, char *err, size_t errlen);
void sq_ckpt_stop(struct sq_store *q);

/* The ops (backend.h) of sqlite.c, sqlite_jobs.c, sqlite_remote_ids.c
 * and sqlite_admin.c, gathered in sqlite_ops.c. */
void *sq_open(struct store_health *health, const char *data_dir, int mode,
    const struct store_params *params, char *err, size_t errlen);
void sq_close(void *be);

int sq_enqueue(void *be, struct store_delivery *batch, char *err, size_t errlen);
int sq_lease(void *be, int64_t now_ms, struct store_lease *out, char *err, size_t errlen);
int sq_lease_user(void *be, const struct store_job_in *job, int64_t now_ms,
    struct store_lease *out, char *err, size_t errlen);
int sq_finish(void *be, const struct store_lease *l, const struct store_outcome *o);
int64_t sq_next_due(void *be, int64_t now_ms);
int sq_counts(void *be, int64_t counts[4]);
int sq_oldest_pending(void *be, int64_t *created_ms);
long long sq_prune(void *be, int64_t older_than_ms);
int sq_writable(void *be);

int sq_remote_get(void *be, const char *user_id, char *remote_id, size_t rlen, char *hash,
    size_t hlen);
int sq_remote_put(void *be, const char *user_id, const char *remote_id, const char *hash);
int sq_remote_delete(void *be, const char *user_id);
int sq_remote_each(void *be, int (*fn)(const char *user_id, void *arg), void *arg, char *err,
    size_t errlen);
int sq_group_get(void *be, const char *group_id, char *remote_id, size_t rlen, char *name,
    size_t nlen);
int sq_group_put(void *be, const char *group_id, const char *remote_id, const char *name);
int sq_member_get(void *be, const char *group_id, const char *user_id);
int sq_member_put(void *be, const char *group_id, const char *user_id, int member);
int sq_member_each(void *be, const char *group_id, int (*fn)(const char *user_id, void *arg),
    void *arg);

int sq_admin_list(void *be, const struct store_list_query *qry, size_t max,
    int (*row)(const struct store_job_info *info, void *arg), void *arg, char *err,
    size_t errlen);
int sq_admin_get(void *be, int64_t id, struct store_job_info *out, char *err, size_t errlen);
enum store_admin_result sq_admin_retry(void *be, int64_t id, int64_t now_ms,
    enum store_state *state, char *err, size_t errlen);
int sq_admin_retry_dead(void *be, int64_t now_ms, int64_t *count, char *err, size_t errlen);
int sq_count_held(void *be, int64_t *count);
int sq_deprovision_take(void *be, int64_t now_ms, int64_t window_ms, int64_t limit);
int sq_admin_release_held(void *be, int64_t id, int64_t now_ms, int64_t *count, char *err,
    size_t errlen);
enum store_admin_result sq_admin_drop(void *be, int64_t id, enum store_state *state,
    char *err, size_t errlen);
int sq_snapshots_put(void *be, const struct store_snapshot *v, size_t n, char *err,
    size_t errlen);
int sq_snapshot_take(void *be, const char *user_id, const char *own_type, int64_t *taken_ms,
    char **body);
long long sq_snapshots_prune(void *be, int64_t before_ms);
int sq_backlog_users(void *be, int64_t now_ms, int64_t since_ms, const char *own_type,
    const char *known_type, int64_t *count);
int sq_export(void *be, int (*row)(const struct store_record *r, void *arg), void *arg,
    char *err, size_t errlen);

#endif
