/*
 * store: the durable state of groupsync behind one interface.
 *
 * Owns jobs (one per handled event: enqueue with de-duplication, lease,
 * lease one named user on demand, complete, retry, dead-letter, hold for
 * an operator, release), the de-duplication keys
 * (delivery eventId, event uuid), the user -> remote ID map and the
 * operator commands on jobs. Nothing outside src/store/ sees how they are
 * kept: the backend is chosen at store_open() (SQLite, one file in WAL
 * mode under the data directory, the default; or PostgreSQL, a database
 * that several replicas share; src/store/backend.h says what a backend
 * provides).
 *
 * Durability: a delivery's jobs are on disk before store_enqueue()
 * returns STORE_STORED; concurrent callers share one commit (group
 * commit, see src/store/commit.c), so one fsync covers many deliveries.
 *
 * Threads: every function is safe to call from any thread on one
 * struct store. Another process (the admin commands, reconcile) may open
 * the same store at the same time; it must pass STORE_OPEN_ADMIN so that
 * it does not release the server's leases.
 *
 * Ownership: store_open() returns a handle the caller frees with
 * store_close(); a lease's jobs are freed with store_lease_free(), a
 * list's array with free().
 */
#ifndef GROUPSYNC_STORE_H
#define GROUPSYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_ID_MAX 64   /* Okta IDs are 20 chars, uuids 36 */
#define STORE_TYPE_MAX 64 /* event type names */
#define STORE_TIME_MAX 40 /* ISO-8601 "published" */
#define STORE_ATTRS_MAX 512 /* changedAttributes, comma separated */
#define STORE_ERROR_MAX 512

struct config;
struct store;

/* One job to enqueue: the parsed, filtered form of one Okta event. */
struct store_job_in {
	char uuid[STORE_ID_MAX + 1];       /* event uuid: dedup key */
	char user_id[STORE_ID_MAX + 1];    /* target Okta user id */
	char event_type[STORE_TYPE_MAX + 1];
	char published[STORE_TIME_MAX + 1];
	char group_id[STORE_ID_MAX + 1];   /* "" unless a group event */
	char changed[STORE_ATTRS_MAX + 1]; /* "" when unknown */
	int changed_known;                 /* 1 when changedAttributes came */
};

enum store_state {
	STORE_PENDING = 0,
	STORE_LEASED,
	STORE_DONE,
	STORE_DEAD,
};

/* A leased job, as returned by store_lease(). */
struct store_job {
	int64_t id;
	char uuid[STORE_ID_MAX + 1];
	char user_id[STORE_ID_MAX + 1];
	char event_type[STORE_TYPE_MAX + 1];
	char published[STORE_TIME_MAX + 1];
	char group_id[STORE_ID_MAX + 1];
	char changed[STORE_ATTRS_MAX + 1];
	int changed_known;
	int attempts;  /* attempts made before this lease */
	enum store_state state;
	int64_t not_before_ms; /* earliest next attempt (unix ms) */
	int64_t created_ms;
	char last_error[STORE_ERROR_MAX + 1];
};

/*
 * All the pending jobs of one user, leased together so that the worker
 * syncs the user once (coalescing). jobs[0] is the oldest by published.
 */
struct store_lease {
	char user_id[STORE_ID_MAX + 1];
	struct store_job *jobs; /* owned: free with store_lease_free() */
	size_t njobs;
	int64_t token; /* the backend's name of this lease (a shared store
	                * checks it when the lease ends); 0 for SQLite */
};

enum store_enqueue_result {
	STORE_STORED = 0, /* committed: new jobs (maybe zero) are durable */
	STORE_DUPLICATE,  /* delivery eventId seen before: nothing stored */
	STORE_FAILED,     /* not committed: caller answers 503 */
};

#define STORE_OPEN_SERVER 0 /* owner: releases abandoned leases at open */
#define STORE_OPEN_ADMIN 1  /* another process: leaves leases alone */

/*
 * A store shared by several processes (PostgreSQL) cannot tell a replica
 * that died from one that is busy: a lease there lasts lease_ms unless
 * its holder renews it (it does, while it runs), and a lease that
 * expired is abandoned, so its jobs go to another replica. SQLite has one
 * server process, whose start releases every lease; it ignores this.
 */
#define STORE_LEASE_MS_DEFAULT 30000
struct store_params {
	int lease_ms; /* 0: STORE_LEASE_MS_DEFAULT */
};

/*
 * Opens the store the settings name: GROUPSYNC_STORE "sqlite" (the file
 * cfg->data_dir/groupsync.db, created if needed) or a postgresql:// URI.
 * Returns NULL and fills err on failure (never with a password). Free
 * with store_close().
 */
struct store *store_open(const struct config *cfg, int mode, char *err, size_t errlen);

/*
 * Opens the store at location: "postgresql://..." or "postgres://..." (a
 * libpq connection URI) is PostgreSQL; any other "scheme://" is refused;
 * anything else is a data directory that holds the SQLite file. params
 * may be NULL (defaults). As store_open().
 */
struct store *store_open_with(const char *location, int mode, const struct store_params *params,
    char *err, size_t errlen);
/* store_open_with(location, mode, NULL, err, errlen). */
struct store *store_open_at(const char *location, int mode, char *err, size_t errlen);

/* The store's name for messages: the SQLite file's path, or
 * postgresql://user@host:port/database (never a password). */
const char *store_label(const struct store *s);

/* Answers every enqueue still waiting, wakes waiting workers, frees s. */
void store_close(struct store *s);

/*
 * Stores the jobs of one delivery in one transaction. event_id (the
 * delivery's eventId) may be "" when absent. Jobs whose uuid is already
 * stored, or repeated within jobs[], are skipped (*stored counts the new
 * ones). Blocks until the
 * commit is durable; concurrent calls share a commit.
 */
enum store_enqueue_result store_enqueue(struct store *s, const char *event_id,
    const struct store_job_in *jobs, size_t njobs, size_t *stored,
    char *err, size_t errlen);

/*
 * Leases every ready pending job (not_before <= now) of the user owning
 * the oldest ready job, among users that have no job leased and no job
 * backing off (a newer job of such a user waits and is synced with it).
 * Returns 1 with *out filled, 0 when nothing is ready, -1 on error.
 */
int store_lease(struct store *s, int64_t now_ms, struct store_lease *out,
    char *err, size_t errlen);
void store_lease_free(struct store_lease *l);

/*
 * On demand (`groupsync sync USER`): stores job (for job->user_id) and
 * leases it with every ready pending job of that user, as store_lease
 * would, in one durable transaction, unless the user has a job leased
 * (a worker is syncing it): then nothing is stored. Returns 1 with *out
 * filled, 0 when the user is leased elsewhere, -1 on error (also when
 * the backend cannot do it).
 */
int store_lease_user(struct store *s, const struct store_job_in *job, int64_t now_ms,
    struct store_lease *out, char *err, size_t errlen);

/*
 * Workers wait for work without polling hard: read store_work_seq()
 * before store_lease(); when nothing was ready, store_wait_work() returns
 * once a later commit stored jobs (the sequence moved), at close, or
 * after timeout_ms (retries whose time has come need no event).
 */
uint64_t store_work_seq(struct store *s);
void store_wait_work(struct store *s, uint64_t seen, int timeout_ms);

/*
 * When the earliest pending job that backs off falls due (not_before
 * after now_ms), or -1 if none.
 */
int64_t store_next_due(struct store *s, int64_t now_ms);

/* store_wait_work() for at most max_ms, less if a backed-off job falls
 * due sooner. */
void store_wait_due(struct store *s, uint64_t seen, int max_ms);
/* Wakes every waiter at once (shutdown). */
void store_wake(struct store *s);

/* Marks the lease's jobs done, attempts+1 (this attempt); the last error
 * stays, for the record, as the error of an earlier attempt. */
int store_complete(struct store *s, const struct store_lease *l);

/*
 * Puts the lease's jobs back as pending, attempts+1, not before
 * retry_at_ms, with the error kept for operators.
 */
int store_retry(struct store *s, const struct store_lease *l,
    int64_t retry_at_ms, const char *error);

/*
 * Puts the lease's jobs back as pending, not before not_before_ms, with
 * attempts and the last error unchanged: the sync was put off before
 * anything was tried (Okta's rate budget), so it is not an attempt.
 */
int store_defer(struct store *s, const struct store_lease *l, int64_t not_before_ms);

/* Moves the lease's jobs to the dead-letter state with the error. */
int store_dead(struct store *s, const struct store_lease *l, const char *error);

/*
 * Deprovisions held for an operator (GROUPSYNC_DEPROVISION_THRESHOLD): a
 * held job is a pending job with not_before STORE_HELD_NOT_BEFORE, so it
 * never falls due, and its user's later jobs wait behind it as behind any
 * job that backs off. An operator releases it (not_before
 * STORE_RELEASED_NOT_BEFORE: due at once, and marked so that the worker
 * does not hold it again) or drops it. No new state or column: every
 * backend keeps them as it keeps pending jobs.
 */
#define STORE_HELD_NOT_BEFORE INT64_MAX
#define STORE_RELEASED_NOT_BEFORE INT64_C(1)

/* Puts the lease's jobs on hold with the reason as their last error;
 * attempts unchanged (nothing was attempted). */
int store_hold(struct store *s, const struct store_lease *l, const char *why);

/*
 * GROUPSYNC_DEPROVISION_THRESHOLD, shared by every process on the store:
 * takes one deprovision from the window_ms before now_ms if fewer than
 * limit were taken in it (by any replica), and records it with its time.
 * 1 taken, 0 over the limit, -1 error (or a backend without a count).
 */
int store_deprovision_take(struct store *s, int64_t now_ms, int64_t window_ms,
    int64_t limit);

/* Jobs held now. 0, or -1 (also when the backend cannot count them). */
int store_count_held(struct store *s, int64_t *count);

/* Releases held job id, or every held job when id is 0; *count says how
 * many. 0 or -1 (err). */
int store_admin_release_held(struct store *s, int64_t id, int64_t *count, char *err,
    size_t errlen);

/* Gives the lease back untouched (shutdown): pending, attempts unchanged. */
int store_release(struct store *s, const struct store_lease *l);

/* Counts jobs by state (array indexed by enum store_state). */
int store_counts(struct store *s, int64_t counts[4]);

/* Age in ms of the oldest pending job, 0 when none. */
int store_oldest_pending_ms(struct store *s, int64_t now_ms, int64_t *age_ms);

/*
 * Forgets what is no longer needed: done jobs and delivery eventIds older
 * than older_than_ms (unix ms), and snapshots older than
 * STORE_SNAPSHOT_KEEP_MS. Dead jobs stay until an operator acts.
 * Works in short slices; returns the rows deleted, or -1.
 */
long long store_prune(struct store *s, int64_t older_than_ms);

/* 1 when a write transaction can be committed now (readyz), else 0. */
int store_writable(struct store *s);

/*
 * Periodic work that one replica of a shared store does for all (the
 * periodic reconcile, pruning): 1 when this process should run task now,
 * that is when no process has claimed it in the last period_ms (by the
 * store's clock), and the claim is recorded; 0 when another one did; -1
 * on error. A store with one server (SQLite) always answers 1.
 */
int store_claim(struct store *s, const char *task, int64_t period_ms);

/* Remote IDs groupsync has written: user → remote ID, plus the hash of
 * the attributes last synced (so that an unchanged profile is a no-op).
 * A row with remote_id "" remembers a user groupsync has synced or seen
 * as a member, whose remote record does not exist (now). */
int store_remote_get(struct store *s, const char *user_id, char *remote_id,
    size_t rlen, char *hash, size_t hlen); /* 1 found, 0 not, -1 error */
int store_remote_put(struct store *s, const char *user_id, const char *remote_id,
    const char *hash);
int store_remote_delete(struct store *s, const char *user_id);
/* Calls fn(user_id, arg) for each user with a remote record; fn must not
 * call the store. Returns fn's first non-zero answer, 0, or -1 (err). */
int store_remote_each(struct store *s, int (*fn)(const char *user_id, void *arg), void *arg,
    char *err, size_t errlen);

/* Group push: the remote group of an Okta group and the name last sent
 * to it (1 found, 0 not, -1 error), and whether groupsync made a user a
 * member of it (1, 0, -1). Puts return 0 or -1. */
int store_group_get(struct store *s, const char *group_id, char *remote_id, size_t rlen,
    char *name, size_t nlen);
int store_group_put(struct store *s, const char *group_id, const char *remote_id,
    const char *name);
int store_member_get(struct store *s, const char *group_id, const char *user_id);
int store_member_put(struct store *s, const char *group_id, const char *user_id, int member);
/* Calls fn(user_id, arg) for each member groupsync made of group_id, in
 * user ID order; fn must not call the store. fn's first non-zero answer,
 * 0, or -1 (read failed). */
int store_member_each(struct store *s, const char *group_id,
    int (*fn)(const char *user_id, void *arg), void *arg);

/*
 * Snapshots: what a member listing of the configured groups (reconcile)
 * said of a user, so that the worker syncing the user's jobs need not
 * read Okta again. One row a user: the time the listing began (taken_ms,
 * on the store's clock, store_clock_ms, as jobs' created is) and the
 * body, JSON {"user": <the user object as listed>, "groups": [{"id",
 * "name"}...]} (the store does not read it).
 *
 * A snapshot is fresh while no job of its user was created at or after
 * taken_ms: an event stored since the listing began may say something the
 * listing did not see, and then the worker reads Okta (sync stays
 * level-triggered). Jobs of type own_type (the reconcile's own jobs,
 * which carry no news from Okta) do not count. Snapshots are no part of
 * store migrate (store_copy), and store_prune drops those older than
 * STORE_SNAPSHOT_KEEP_MS.
 */
#define STORE_SNAPSHOT_KEEP_MS (3600 * 1000) /* a listing an hour old is no news */
struct store_snapshot {
	const char *user_id;
	int64_t taken_ms;
	const char *body;
};

/*
 * The store's clock (unix ms), the one jobs' created is stamped with:
 * PostgreSQL's server clock, which every replica shares, so that a time
 * taken by one process compares with jobs stored by another whatever
 * their own clocks say; SQLite's is this machine's. 0, or -1 when the
 * store cannot be asked.
 */
int store_clock_ms(struct store *s, int64_t *now_ms);

/* Stores v[0..n) in ONE transaction; for a user with a snapshot already,
 * an older taken_ms never replaces a newer one. 0, or -1 with err. */
int store_snapshots_put(struct store *s, const struct store_snapshot *v, size_t n,
    char *err, size_t errlen);

/*
 * Takes the user's snapshot: deletes it and, when it is still fresh (see
 * above; own_type NULL: every job counts), returns 1 with *taken_ms and
 * *body (malloc'ed: the caller frees it). 0 when there is none or it is
 * stale (deleted all the same), -1 on error.
 */
int store_snapshot_take(struct store *s, const char *user_id, const char *own_type,
    int64_t *taken_ms, char **body);

/*
 * Backlogs: how many distinct users have a ready pending job (not_before
 * <= now_ms) created at or after since_ms and no snapshot, leaving out
 * jobs of type own_type, and jobs of type known_type whose changed
 * attributes are known (the worker may drop those without a read:
 * groupsync's own write-backs come back so). NULL types: none left out.
 * 0 with *count, or -1.
 */
int store_backlog_users(struct store *s, int64_t now_ms, int64_t since_ms,
    const char *own_type, const char *known_type, int64_t *count);

/*
 * Operator commands: list, show, retry and drop jobs from another process
 * than the server's (STORE_OPEN_ADMIN). Each call is one short
 * transaction, so the running server only waits for it. None of them
 * changes a leased job: a worker is syncing it, and changing it
 * underneath would lose or repeat that sync.
 */
#define STORE_STATE_BIT(s) (1u << (s))
#define STORE_STATES_ALL 0xfu
#define STORE_STATES_OPEN (STORE_STATES_ALL & ~STORE_STATE_BIT(STORE_DONE))
#define STORE_LIST_MAX 100000 /* bounds one list's memory */

/* "pending", "leased", "done", "dead" ("unknown" for anything else). */
const char *store_state_name(enum store_state s);
/* The bit of the state so named, or every bit for "all": 0, or -1. */
int store_states_parse(const char *name, unsigned *states);

/* One job with every stored field; job.state is the stored state. */
struct store_job_info {
	struct store_job job;
	int64_t updated_ms; /* last change of state */
};

struct store_list_query {
	unsigned states;     /* STORE_STATE_BIT()s of the states wanted */
	const char *user_id; /* NULL: every user */
	size_t limit;        /* 1..STORE_LIST_MAX */
	int attempted;       /* 1: of the pending jobs, only those attempted
	                      * before (backing off after a failure) */
};

/*
 * Reads the newest qry->limit matching jobs into *out, oldest first (the
 * caller frees *out with free()). *more is 1 when older ones matched too.
 * Returns 0, or -1 with err set.
 */
int store_admin_list(struct store *s, const struct store_list_query *qry,
    struct store_job_info **out, size_t *n, int *more, char *err,
    size_t errlen);

/* Reads job id: 1 found, 0 no such job, -1 error (err set). */
int store_admin_get(struct store *s, int64_t id, struct store_job_info *out,
    char *err, size_t errlen);

enum store_admin_result {
	STORE_ADMIN_OK = 0,
	STORE_ADMIN_NO_JOB,  /* no job with that ID */
	STORE_ADMIN_REFUSED, /* its state forbids it: *state says which */
	STORE_ADMIN_ERROR,   /* err set */
};

/*
 * Makes a dead or pending job ready at now_ms with attempts 0; the last
 * error is kept for the record. A leased or done job is refused.
 */
enum store_admin_result store_admin_retry(struct store *s, int64_t id,
    int64_t now_ms, enum store_state *state, char *err, size_t errlen);

/* The same for every dead job; *count says how many. 0 or -1 (err). */
int store_admin_retry_dead(struct store *s, int64_t now_ms, int64_t *count,
    char *err, size_t errlen);

/*
 * Deletes a job that is not leased. Its uuid goes with it, so the same
 * event delivered again later makes a new job; its delivery's eventId is
 * kept, so a retried delivery stays a duplicate.
 */
enum store_admin_result store_admin_drop(struct store *s, int64_t id,
    enum store_state *state, char *err, size_t errlen);

/*
 * store migrate: copies every job (a leased one as pending: nobody holds
 * it in the new store), delivery eventId and remote ID of from into to
 * (not the snapshots: a cache of Okta's answers, which the workers read
 * again when it is missing),
 * in one transaction of to, which must be empty (nothing is written
 * otherwise). Then checks that to counts what was copied. Open from with
 * STORE_OPEN_ADMIN while no server uses it (deliveries it took after the
 * copy would not be in to). 0 with *n filled, or -1 with err set.
 */
struct store_copy_counts {
	int64_t jobs[4]; /* by state, as stored in to */
	int64_t deliveries;
	int64_t remote_ids;
	int64_t groups;        /* group push: group remote IDs */
	int64_t group_members; /* and the memberships groupsync made */
};
int store_copy(struct store *from, struct store *to, struct store_copy_counts *n,
    char *err, size_t errlen);

#endif
