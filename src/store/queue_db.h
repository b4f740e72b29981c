/*
 * Internal to the queue module: the SQLite plumbing (queue_db.c) shared
 * with the queue operations (queue.c). Not for other modules.
 */
#ifndef GROUPSYNC_QUEUE_DB_H
#define GROUPSYNC_QUEUE_DB_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "groupsync/store/queue.h"

#define QUEUE_SCHEMA_VERSION 1
#define QUEUE_BUSY_TIMEOUT_MS 5000
#define QUEUE_DB_NAME "groupsync.db"

#define QUEUE_JOB_COLUMNS "id, uuid, user_id, event_type, published, " \
	"group_id, changed, changed_known, attempts, not_before, created, " \
	"last_error"
/* the admin commands show every column: the lease's, then these two */
#define QUEUE_ADMIN_COLUMNS QUEUE_JOB_COLUMNS ", state, updated"

enum queue_stmt_id {
	QS_BEGIN, QS_COMMIT, QS_ROLLBACK,
	QS_DELIVERY_ADD, QS_JOB_ADD,
	QS_LEASE_PICK, QS_LEASE_JOBS, QS_LEASE_MARK, QS_FINISH, QS_NEXT_DUE,
	QS_COUNTS, QS_OLDEST, QS_HEALTH,
	QS_REMOTE_GET, QS_REMOTE_PUT, QS_REMOTE_DELETE,
	QS_PRUNE_JOBS, QS_PRUNE_DELIVERIES,
	QS_ADMIN_LIST, QS_ADMIN_LIST_USER, QS_ADMIN_GET, QS_ADMIN_STATE,
	QS_ADMIN_RETRY, QS_ADMIN_RETRY_DEAD, QS_ADMIN_DROP,
	QS_COUNT
};
/* One queue_enqueue() call waiting for the committer. Lives on the
 * caller's stack; the committer must not touch it once done is set. */
struct queue_req {
	const char *event_id;
	const struct queue_job_in *jobs;
	size_t njobs;
	size_t stored;
	enum queue_enqueue_result result;
	char err[QUEUE_ERROR_MAX + 1];
	int done;		/* under req_lock */
	pthread_cond_t cond;	/* with req_lock */
	struct queue_req *next;
};

struct queue {
	char path[PATH_MAX];

	pthread_mutex_t db_lock;	/* guards db and stmt */
	sqlite3 *db;
	sqlite3_stmt *stmt[QS_COUNT];

	pthread_mutex_t req_lock;	/* guards the fields below */
	pthread_cond_t req_cond;	/* committer: work or stop */
	pthread_cond_t work_cond;	/* workers: new jobs committed */
	uint64_t work_seq;		/* bumped on each commit that stored jobs */
	struct queue_req *head;
	struct queue_req **tail;
	int stopping;
	pthread_t committer;
	struct queue_ckpt *ckpt;	/* server mode: checkpoint thread */
	int write_failing;		/* under db_lock: last write failed */
};

void queue_seterr(struct queue *q, char *err, size_t errlen, const char *what);
sqlite3_stmt *queue_stmt(struct queue *q, enum queue_stmt_id id);
int queue_step_done(sqlite3_stmt *st);
int queue_run(struct queue *q, enum queue_stmt_id id);
void queue_rollback(struct queue *q);
int queue_set_sync(struct queue *q, int full);
/* With db_lock held, after a write transaction failed or committed: logs
 * when the store stops or starts taking writes again, once each. */
void queue_write_failed(struct queue *q, const char *what);
void queue_write_ok(struct queue *q);
void queue_bind_text(sqlite3_stmt *st, int i, const char *s);
int queue_copy_col(char *dst, size_t size, sqlite3_stmt *st, int col);
void queue_read_job(sqlite3_stmt *st, struct queue_job *j);

/* Opens q->path (set by the caller), applies the pragmas and the schema,
 * prepares the statements; server mode releases abandoned leases. */
int queue_open_db(struct queue *q, int mode, char *err, size_t errlen);
void queue_close_db(struct queue *q);
int queue_check_dir(const char *dir, char *err, size_t errlen);

/* Server mode: WAL checkpoints on a thread of their own (queue_ckpt.c).
 * Start after the main connection is open; stop before it closes. */
struct queue_ckpt;
int queue_ckpt_start(struct queue *q, char *err, size_t errlen);
void queue_ckpt_stop(struct queue *q);

#endif
