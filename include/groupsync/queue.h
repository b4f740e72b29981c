/*
 * queue: durable jobs in SQLite (WAL) under the data directory.
 *
 * Owns the store file, its schema and every read or write of it: jobs
 * (one per handled event), the de-duplication keys (delivery eventId,
 * event uuid) and the table of remote IDs groupsync has written.
 *
 * Durability: a delivery's jobs are committed with synchronous=FULL before
 * queue_enqueue() returns 0; concurrent callers share one commit (group
 * commit, see queue.c), so one fsync covers many deliveries.
 *
 * Threads: every function is safe to call from any thread on one
 * struct queue. Another process (the admin commands) may open the same
 * file at the same time; it must pass QUEUE_OPEN_ADMIN so that it does not
 * release the server's leases.
 */
#ifndef GROUPSYNC_QUEUE_H
#define GROUPSYNC_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_ID_MAX 64   /* Okta IDs are 20 chars, uuids 36 */
#define QUEUE_TYPE_MAX 64 /* event type names */
#define QUEUE_TIME_MAX 40 /* ISO-8601 "published" */
#define QUEUE_ATTRS_MAX 512 /* changedAttributes, comma separated */
#define QUEUE_ERROR_MAX 512

struct queue;

/* One job to enqueue: the parsed, filtered form of one Okta event. */
struct queue_job_in {
	char uuid[QUEUE_ID_MAX + 1];       /* event uuid: dedup key */
	char user_id[QUEUE_ID_MAX + 1];    /* target Okta user id */
	char event_type[QUEUE_TYPE_MAX + 1];
	char published[QUEUE_TIME_MAX + 1];
	char group_id[QUEUE_ID_MAX + 1];   /* "" unless a group event */
	char changed[QUEUE_ATTRS_MAX + 1]; /* "" when unknown */
	int changed_known;                 /* 1 when changedAttributes came */
};

enum queue_state {
	QUEUE_PENDING = 0,
	QUEUE_LEASED,
	QUEUE_DONE,
	QUEUE_DEAD,
};

/* A leased job, as returned by queue_lease(). */
struct queue_job {
	int64_t id;
	char uuid[QUEUE_ID_MAX + 1];
	char user_id[QUEUE_ID_MAX + 1];
	char event_type[QUEUE_TYPE_MAX + 1];
	char published[QUEUE_TIME_MAX + 1];
	char group_id[QUEUE_ID_MAX + 1];
	char changed[QUEUE_ATTRS_MAX + 1];
	int changed_known;
	int attempts;  /* attempts made before this lease */
	enum queue_state state;
	int64_t not_before_ms; /* earliest next attempt (unix ms) */
	int64_t created_ms;
	char last_error[QUEUE_ERROR_MAX + 1];
};

/*
 * All the pending jobs of one user, leased together so that the worker
 * syncs the user once (coalescing). jobs[0] is the oldest by published.
 */
struct queue_lease {
	char user_id[QUEUE_ID_MAX + 1];
	struct queue_job *jobs; /* owned: free with queue_lease_free() */
	size_t njobs;
};

enum queue_enqueue_result {
	QUEUE_STORED = 0, /* committed: new jobs (maybe zero) are durable */
	QUEUE_DUPLICATE,  /* delivery eventId seen before: nothing stored */
	QUEUE_FAILED,     /* not committed: caller answers 503 */
};

#define QUEUE_OPEN_SERVER 0 /* owner: releases abandoned leases at open */
#define QUEUE_OPEN_ADMIN 1  /* another process: leaves leases alone */

/*
 * Opens (creating if needed) DATA_DIR/groupsync.db. Returns NULL and fills
 * err on failure. Free with queue_close().
 */
struct queue *queue_open(const char *data_dir, int mode, char *err, size_t errlen);
void queue_close(struct queue *q);

/*
 * Stores the jobs of one delivery in one transaction. event_id (the
 * delivery's eventId) may be "" when absent. Jobs whose uuid is already
 * stored, or repeated within jobs[], are skipped (*stored counts the new
 * ones). Blocks until the
 * commit is durable; concurrent calls share a commit.
 */
enum queue_enqueue_result queue_enqueue(struct queue *q, const char *event_id,
    const struct queue_job_in *jobs, size_t njobs, size_t *stored,
    char *err, size_t errlen);

/*
 * Leases every ready pending job (not_before <= now) of the user owning
 * the oldest ready job, among users that have no job leased. Returns 1 with
 * *out filled, 0 when nothing is ready, -1 on error.
 */
int queue_lease(struct queue *q, int64_t now_ms, struct queue_lease *out,
    char *err, size_t errlen);
void queue_lease_free(struct queue_lease *l);

/*
 * Workers wait for work without polling hard: read queue_work_seq()
 * before queue_lease(); when nothing was ready, queue_wait_work() returns
 * once a later commit stored jobs (the sequence moved), at close, or
 * after timeout_ms (retries whose time has come need no event).
 */
uint64_t queue_work_seq(struct queue *q);
void queue_wait_work(struct queue *q, uint64_t seen, int timeout_ms);
/* Wakes every waiter at once (shutdown). */
void queue_wake(struct queue *q);

/* Marks the lease's jobs done. */
int queue_complete(struct queue *q, const struct queue_lease *l);

/*
 * Puts the lease's jobs back as pending, attempts+1, not before
 * retry_at_ms, with the error kept for operators.
 */
int queue_retry(struct queue *q, const struct queue_lease *l,
    int64_t retry_at_ms, const char *error);

/* Moves the lease's jobs to the dead-letter state with the error. */
int queue_dead(struct queue *q, const struct queue_lease *l, const char *error);

/* Gives the lease back untouched (shutdown): pending, attempts unchanged. */
int queue_release(struct queue *q, const struct queue_lease *l);

/* Counts jobs by state (array indexed by enum queue_state). */
int queue_counts(struct queue *q, int64_t counts[4]);

/* Age in ms of the oldest pending job, 0 when none. */
int queue_oldest_pending_ms(struct queue *q, int64_t now_ms, int64_t *age_ms);

/* 1 when a write transaction can be committed now (readyz), else 0. */
int queue_writable(struct queue *q);

/* Remote IDs groupsync has written: user → remote ID, plus the hash of
 * the attributes last synced (so that an unchanged profile is a no-op).
 * A row with remote_id "" remembers a user groupsync has synced or seen
 * as a member, whose remote record does not exist (now). */
int queue_remote_get(struct queue *q, const char *user_id, char *remote_id,
    size_t rlen, char *hash, size_t hlen); /* 1 found, 0 not, -1 error */
int queue_remote_put(struct queue *q, const char *user_id, const char *remote_id,
    const char *hash);
int queue_remote_delete(struct queue *q, const char *user_id);

#endif
