/*
 * The contract between the store's front (store.c: store_open picks a
 * backend and dispatches every call; commit.c: group commit and the
 * workers' wake-up) and a backend that keeps the data (SQLite today:
 * sqlite*.c). Internal to src/store/.
 *
 * What the front owns, once for every backend: batching concurrent
 * store_enqueue() calls into one ops->enqueue (group commit), waking
 * the workers of this process when jobs were stored, the meaning of
 * complete / retry / dead / release (a struct store_outcome), the operator
 * list's order and bound, the age of the oldest job, state names, and the
 * log lines when the store stops or starts taking writes.
 *
 * What a backend owns: its storage and every read or write of it, with
 * the guarantees each op states below. Its handle (void *be) is its own;
 * the front calls the ops from any thread at once, so a backend guards its
 * state itself. A backend that shares its store between processes
 * (PostgreSQL: pg*.c) must make lease exclusive across them, expire the
 * leases of a process that stopped renewing them, and may tell the front
 * when another process has stored jobs (ops->listen); otherwise the
 * workers see them within their idle wait.
 */
#ifndef GROUPSYNC_STORE_BACKEND_H
#define GROUPSYNC_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <limits.h>
#include <stdatomic.h>

#include "groupsync/store/store.h"

/* One delivery of a batch that the committer hands to ops->enqueue. */
struct store_delivery {
	const char *event_id;             /* "" when the delivery had none */
	const struct store_job_in *jobs;
	size_t njobs;
	size_t stored;                    /* out: jobs new to the store */
	enum store_enqueue_result result; /* out: STORE_STORED or _DUPLICATE */
	struct store_delivery *next;
};

/* One row of the store, as store_copy() moves it from one backend to
 * another: a job (every column), a delivery's eventId, a remote ID, and
 * group push's maps: a group's remote ID, a membership groupsync made. */
enum store_record_kind {
	STORE_REC_JOB, STORE_REC_DELIVERY, STORE_REC_REMOTE_ID, STORE_REC_GROUP,
	STORE_REC_MEMBER
};
struct store_record {
	enum store_record_kind kind;
	struct store_job_info job;  /* JOB */
	const char *event_id;       /* DELIVERY */
	const char *user_id;        /* REMOTE_ID: and remote_id, hash; MEMBER */
	const char *remote_id;      /* GROUP too */
	const char *hash;
	const char *group_id;       /* GROUP: and remote_id, name; MEMBER */
	const char *name;
	int64_t time_ms;            /* DELIVERY: received; REMOTE_ID, GROUP: updated */
};

/* How a lease ends: what each of its jobs still leased becomes. */
struct store_outcome {
	enum store_state state;
	int attempts_inc;             /* added to attempts: 0 or 1 */
	const int64_t *not_before_ms; /* NULL: unchanged */
	const char *error;            /* last_error; NULL: unchanged */
};

/* The write state of one open store, and its name for messages. */
struct store_health {
	atomic_int write_failing; /* the last write failed */
	char label[PATH_MAX];
};

struct store_ops {
	/*
	 * Opens the store at location (a data directory, or the URI of the
	 * backend's scheme) and returns the backend's handle, or NULL with
	 * err set. It writes a name of the store for messages into
	 * health->label (a path; never a password) and reports each write's
	 * outcome to health (store_health_failed/ok). STORE_OPEN_SERVER: the
	 * owner, which releases leases abandoned by a process that died
	 * (a shared store: only those that expired); STORE_OPEN_ADMIN leaves
	 * them. params is never NULL, and filled with the defaults.
	 */
	void *(*open)(struct store_health *health, const char *location, int mode,
	    const struct store_params *params, char *err, size_t errlen);
	void (*close)(void *be);

	/*
	 * Stores every delivery of batch in ONE transaction and returns once
	 * it is durable (fsync): 0 with each delivery's result and stored set.
	 * A delivery whose event_id is stored already (earlier, or earlier in
	 * this batch) is STORE_DUPLICATE and stores nothing; a job whose uuid
	 * is stored already is skipped. -1 with err set: nothing committed.
	 */
	int (*enqueue)(void *be, struct store_delivery *batch, char *err, size_t errlen);

	/* store_lease(), exclusive per user among every handle on the store
	 * (and, for a shared store, every process). out arrives zeroed; jobs
	 * are appended with store_lease_add(); the front frees them unless 1
	 * is returned. A shared store names the lease in out->token. */
	int (*lease)(void *be, int64_t now_ms, struct store_lease *out, char *err,
	    size_t errlen);
	/*
	 * store_lease_user(): in ONE durable transaction, when job->user_id
	 * has no job leased: store job as enqueue stores one (a uuid already
	 * stored is skipped), then lease every ready pending job of that user
	 * exactly as lease does (same exclusion, out->user_id set, jobs via
	 * store_lease_add) and return 1; when the user has a job leased:
	 * store nothing, return 0. -1 with err: nothing committed. The check
	 * and the lease must be atomic against every other lease of the
	 * store (PostgreSQL: the same lock lease takes, or SELECT ... FOR
	 * UPDATE on the user's rows). NULL: the front answers -1 ("not
	 * supported by this store").
	 */
	int (*lease_user)(void *be, const struct store_job_in *job, int64_t now_ms,
	    struct store_lease *out, char *err, size_t errlen);
	/* Applies o to the lease's jobs that are still leased (a stale lease
	 * cannot undo what happened since), in one transaction. 0 or -1. A
	 * shared store applies nothing, and returns 0, when the lease is no
	 * longer l->token (it expired and another process took the user). */
	int (*finish)(void *be, const struct store_lease *l, const struct store_outcome *o);
	int64_t (*next_due)(void *be, int64_t now_ms);
	/* counts arrives zeroed: fill the states that have jobs. 0 or -1. */
	int (*counts)(void *be, int64_t counts[4]);
	/* min(created) of the pending jobs: 1 found, 0 none, -1 error. */
	int (*oldest_pending)(void *be, int64_t *created_ms);
	long long (*prune)(void *be, int64_t older_than_ms);
	/* A real write and commit: 1 when it worked, else 0. */
	int (*writable)(void *be);

	/* As store.h's store_remote_*; hash is never NULL. */
	int (*remote_get)(void *be, const char *user_id, char *remote_id, size_t rlen,
	    char *hash, size_t hlen);
	int (*remote_put)(void *be, const char *user_id, const char *remote_id,
	    const char *hash);
	int (*remote_delete)(void *be, const char *user_id);
	int (*remote_each)(void *be, int (*fn)(const char *user_id, void *arg), void *arg,
	    char *err, size_t errlen);
	/*
	 * Group push (GROUPSYNC_PUSH_GROUPS), as store.h's store_group_* and
	 * store_member_*. A backend keeps two small maps, durable once the
	 * call returns, each put an upsert that replaces the row whole:
	 * Okta group ID -> (remote group ID, the name last sent), and the set
	 * of (Okta group ID, user ID) pairs groupsync made remote members.
	 * get: 1 found (strings filled; a value that does not fit is -1, not
	 * a cut ID), 0 none, -1 error. member_put with member 0 deletes the
	 * pair (absent already: 0). No ordering or transaction with the jobs
	 * is needed: the sync that calls them holds the user's lease, and a
	 * crash between the remote call and the put only repeats the call
	 * (group_find before group_create; membership changes are
	 * idempotent remotely).
	 */
	int (*group_get)(void *be, const char *group_id, char *remote_id, size_t rlen,
	    char *name, size_t nlen);
	int (*group_put)(void *be, const char *group_id, const char *remote_id,
	    const char *name);
	int (*member_get)(void *be, const char *group_id, const char *user_id);
	int (*member_put)(void *be, const char *group_id, const char *user_id, int member);
	/* Calls fn(user_id, arg) for each member of group_id that groupsync
	 * made, in user ID order; fn must not call the store. fn's first
	 * non-zero answer, 0, or -1 when the read fails. */
	int (*member_each)(void *be, const char *group_id,
	    int (*fn)(const char *user_id, void *arg), void *arg);

	/*
	 * Snapshots (store.h: store_snapshots_put, store_snapshot_take,
	 * store_backlog_users). snapshots_put: one transaction, an upsert
	 * that keeps the row whose taken_ms is newer. snapshot_take: reads
	 * and deletes the row and checks freshness in ONE transaction, so
	 * that two takers cannot both get it. snapshots_prune: deletes those
	 * taken before before_ms; the rows deleted, or -1.
	 */
	int (*snapshots_put)(void *be, const struct store_snapshot *v, size_t n, char *err,
	    size_t errlen);
	int (*snapshot_take)(void *be, const char *user_id, const char *own_type,
	    int64_t *taken_ms, char **body);
	long long (*snapshots_prune)(void *be, int64_t before_ms);
	int (*backlog_users)(void *be, int64_t now_ms, int64_t since_ms, const char *own_type,
	    const char *known_type, int64_t *count);
	/* The clock jobs' created is stamped with (store_clock_ms); NULL:
	 * this machine's (util_now_ms). */
	int (*clock_ms)(void *be, int64_t *now_ms);

	/*
	 * Calls row for the jobs that match qry's states and user, newest
	 * (highest id) first, at most max rows; row's non-zero answer stops
	 * with -1 (err is then the caller's). 0, or -1 with err set.
	 */
	int (*admin_list)(void *be, const struct store_list_query *qry, size_t max,
	    int (*row)(const struct store_job_info *info, void *arg), void *arg,
	    char *err, size_t errlen);
	int (*admin_get)(void *be, int64_t id, struct store_job_info *out, char *err,
	    size_t errlen);
	/* For admin_retry and admin_drop, the change and the read of the
	 * state that refused it are one transaction, so *state is the state
	 * that refused it. *count arrives 0. */
	enum store_admin_result (*admin_retry)(void *be, int64_t id, int64_t now_ms,
	    enum store_state *state, char *err, size_t errlen);
	int (*admin_retry_dead)(void *be, int64_t now_ms, int64_t *count, char *err,
	    size_t errlen);
	enum store_admin_result (*admin_drop)(void *be, int64_t id, enum store_state *state,
	    char *err, size_t errlen);

	/* Optional (NULL: every claim succeeds): store_claim(). */
	int (*claim)(void *be, const char *task, int64_t period_ms);

	/*
	 * Optional (NULL: this backend is no source of store_copy): calls
	 * row for every job, delivery, remote ID, group remote ID and group
	 * membership, from one consistent
	 * read. row's non-zero answer stops with -1 (err is then the
	 * caller's). 0, or -1 with err set.
	 */
	int (*export_rows)(void *be, int (*row)(const struct store_record *r, void *arg),
	    void *arg, char *err, size_t errlen);
	/*
	 * Optional (NULL: no target of store_copy): import_begin starts one
	 * transaction and refuses (-1, err) a store that holds any job,
	 * delivery, remote ID or group map row; import_row adds a row as it is (a job keeps
	 * its ID and state: the caller turns leased into pending);
	 * import_end commits (commit 1) or rolls back. Only one import at a
	 * time on a handle. 0 or -1 (err).
	 */
	int (*import_begin)(void *be, char *err, size_t errlen);
	int (*import_row)(void *be, const struct store_record *r, char *err, size_t errlen);
	int (*import_end)(void *be, int commit, char *err, size_t errlen);

	/*
	 * Optional (NULL: none). Server mode, once the front is ready: call
	 * wake(arg) from any thread whenever another process stored jobs,
	 * until close.
	 */
	void (*listen)(void *be, void (*wake)(void *arg), void *arg);
	/*
	 * Held deprovisions (store.h: STORE_HELD_NOT_BEFORE). count_held:
	 * the pending jobs whose not_before is STORE_HELD_NOT_BEFORE, 0 or
	 * -1. admin_release_held: sets not_before to
	 * STORE_RELEASED_NOT_BEFORE (and updated to now) on the pending jobs
	 * whose not_before is STORE_HELD_NOT_BEFORE and, unless id is 0,
	 * whose id is id; *count the rows changed. 0, or -1 with err. The
	 * rest of holding needs nothing new: finish() with that not_before
	 * holds a lease, and lease/next_due already treat such a job as
	 * one backing off. Also: oldest_pending must leave held jobs out
	 * (they wait for an operator, not for a worker). NULL: the front
	 * answers -1.
	 */
	int (*count_held)(void *be, int64_t *count);
	/* store_deprovision_take, atomic across processes; NULL: -1. */
	int (*deprovision_take)(void *be, int64_t now_ms, int64_t window_ms, int64_t limit);
	int (*admin_release_held)(void *be, int64_t id, int64_t now_ms, int64_t *count,
	    char *err, size_t errlen);
};

/* The backends built in (store.c picks one at open). */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/*
 * What backends share (backend.c): they call it, and it calls none of
 * them nor the front.
 */

/* Appends one slot to l->jobs (growing it; *cap is its size) and returns
 * it, or NULL when out of memory. */
struct store_job *store_lease_add(struct store_lease *l, size_t *cap);

/*
 * A full disk or a read-only file system fails every write until it is
 * fixed: intake answers 503 to each delivery and the workers retry, so a
 * line per failure would be a flood (and would fill the same disk). A
 * backend reports each write's outcome; the store's health logs when it
 * stops taking writes (with err) and when it takes them again, once each.
 * The front owns it, for as long as the store is open.
 */
void store_health_failed(struct store_health *h, const char *err);
void store_health_ok(struct store_health *h);

#endif
