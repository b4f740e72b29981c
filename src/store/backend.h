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
 * state itself. A backend that shares its store between processes (the
 * PostgreSQL one to come) must make lease exclusive across them, and
 * calls store_wake() when another process has stored jobs, if it can
 * learn of it (LISTEN/NOTIFY); otherwise the workers see them within
 * their idle wait.
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
	 * owner, which releases leases abandoned by a process that died;
	 * STORE_OPEN_ADMIN leaves them.
	 */
	void *(*open)(struct store_health *health, const char *location, int mode, char *err,
	    size_t errlen);
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
	 * is returned. */
	int (*lease)(void *be, int64_t now_ms, struct store_lease *out, char *err,
	    size_t errlen);
	/* Applies o to the lease's jobs that are still leased (a stale lease
	 * cannot undo what happened since), in one transaction. 0 or -1. */
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
};

/* The backends built in (store.c picks one at open). */
extern const struct store_ops store_sqlite_ops;

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
