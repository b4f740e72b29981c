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

/*
 * When the earliest pending job that backs off falls due (not_before
 * after now_ms), or -1 if none.
 */
int64_t queue_next_due(struct queue *q, int64_t now_ms);

/* queue_wait_work() for at most max_ms, less if a backed-off job falls
 * due sooner. */
void queue_wait_due(struct queue *q, uint64_t seen, int max_ms);
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

/*
 * Forgets what is no longer needed: done jobs and delivery eventIds older
 * than older_than_ms (unix ms). Dead jobs stay until an operator acts.
 * Works in short slices; returns the rows deleted, or -1.
 */
long long queue_prune(struct queue *q, int64_t older_than_ms);

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
/* Calls fn(user_id, arg) for each user with a remote record; fn must not
 * call the queue. Returns fn's first non-zero answer, 0, or -1 (err). */
int queue_remote_each(struct queue *q, int (*fn)(const char *user_id, void *arg), void *arg,
    char *err, size_t errlen);

/*
 * Operator commands (queue_admin.c): list, show, retry and drop jobs from
 * another process than the server's (QUEUE_OPEN_ADMIN). Each call is one
 * short transaction, so the running server only waits for it (busy
 * timeout). None of them changes a leased job: a worker is syncing it,
 * and changing it underneath would lose or repeat that sync.
 */
#define QUEUE_STATE_BIT(s) (1u << (s))
#define QUEUE_STATES_ALL 0xfu
#define QUEUE_STATES_OPEN (QUEUE_STATES_ALL & ~QUEUE_STATE_BIT(QUEUE_DONE))
#define QUEUE_LIST_MAX 100000 /* bounds one list's memory */

/* "pending", "leased", "done", "dead" ("unknown" for anything else). */
const char *queue_state_name(enum queue_state s);
/* The bit of the state so named, or every bit for "all": 0, or -1. */
int queue_states_parse(const char *name, unsigned *states);

/* One job with every stored field; job.state is the stored state. */
struct queue_job_info {
	struct queue_job job;
	int64_t updated_ms; /* last change of state */
};

struct queue_list_query {
	unsigned states;     /* QUEUE_STATE_BIT()s of the states wanted */
	const char *user_id; /* NULL: every user */
	size_t limit;        /* 1..QUEUE_LIST_MAX */
};

/*
 * Reads the newest qry->limit matching jobs into *out, oldest first (the
 * caller frees *out with free()). *more is 1 when older ones matched too.
 * Returns 0, or -1 with err set.
 */
int queue_admin_list(struct queue *q, const struct queue_list_query *qry,
    struct queue_job_info **out, size_t *n, int *more, char *err,
    size_t errlen);

/* Reads job id: 1 found, 0 no such job, -1 error (err set). */
int queue_admin_get(struct queue *q, int64_t id, struct queue_job_info *out,
    char *err, size_t errlen);

enum queue_admin_result {
	QUEUE_ADMIN_OK = 0,
	QUEUE_ADMIN_NO_JOB,  /* no job with that ID */
	QUEUE_ADMIN_REFUSED, /* its state forbids it: *state says which */
	QUEUE_ADMIN_ERROR,   /* err set */
};

/*
 * Makes a dead or pending job ready at now_ms with attempts 0; the last
 * error is kept for the record. A leased or done job is refused.
 */
enum queue_admin_result queue_admin_retry(struct queue *q, int64_t id,
    int64_t now_ms, enum queue_state *state, char *err, size_t errlen);

/* The same for every dead job; *count says how many. 0 or -1 (err). */
int queue_admin_retry_dead(struct queue *q, int64_t now_ms, int64_t *count,
    char *err, size_t errlen);

/*
 * Deletes a job that is not leased. Its uuid goes with it, so the same
 * event delivered again later makes a new job; its delivery's eventId is
 * kept, so a retried delivery stays a duplicate.
 */
enum queue_admin_result queue_admin_drop(struct queue *q, int64_t id,
    enum queue_state *state, char *err, size_t errlen);

#endif
