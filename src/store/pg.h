/*
 * The PostgreSQL backend of the store, internal to it: a database that
 * any number of groupsync replicas share. Its files are layered like the
 * SQLite backend's, each calling only the ones below it:
 *
 *   pg_ops.c      the ops table (backend.h)
 *   pg.c          open and close: the parts below, put together
 *   pg_jobs.c     jobs: enqueue, lease, finish, counts, prune, writable
 *   pg_admin.c    the operator queries
 *   pg_remote_ids.c  the user -> remote ID map
 *   pg_snapshots.c   what member listings said of users, the backlog count
 *   pg_import.c   store migrate's target: a whole store in one transaction
 *   pg_keeper.c   a thread per server: renews this process's leases,
 *                 returns expired ones, hears other replicas' NOTIFY
 *   pg_schema.c   creates and migrates the schema, under an advisory lock
 *   pg_conn.c     the connection pool and the helpers every op uses
 *
 * Leases. Each user has a row in "leases" (made when its first job is
 * stored) that says which process holds the user (owner), which lease it
 * is (token, from a sequence) and until when (expires, ms on the
 * database's clock, so that replicas' clocks do not matter). A lease is
 * taken by locking free rows with FOR UPDATE SKIP LOCKED, so replicas
 * never wait for each other and never take one user twice; the holder's
 * keeper thread pushes expires forward while it runs. A replica that
 * dies stops doing so, and once its leases expire any replica's keeper
 * puts their jobs back as pending. A lease ends (finish) only while its
 * row still has its token: a replica that lost it changes nothing.
 */
#ifndef GROUPSYNC_STORE_PG_H
#define GROUPSYNC_STORE_PG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "backend.h"

#define PG_SCHEMA_VERSION 4
#define PG_POOL_MAX 4           /* connections: intake's committer, workers, probes */
#define PG_CONNECT_TIMEOUT "5"  /* seconds, unless the URI says otherwise */
#define PG_LABEL_MAX 256
#define PG_OWNER_MAX 128

/* The database's clock in unix ms: leases expire by it, not ours. */
#define PG_NOW_MS "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"

/* The columns a lease reads; the admin commands add state and updated. */
#define PG_JOB_COLUMNS "id, uuid, user_id, event_type, published, group_id, changed, " \
	"changed_known, attempts, not_before, created, last_error"
#define PG_ADMIN_COLUMNS PG_JOB_COLUMNS ", state, updated"

struct pg_keeper;

/*
 * One open store. The pool's connections are made on first use and made
 * again after one broke (the database restarted, the network failed), so
 * that the store recovers without a restart; lock guards the pool.
 */
struct pg_store {
	char *conninfo;              /* the URI as given: may hold a password */
	char label[PG_LABEL_MAX];    /* postgresql://user@host:port/db, no password */
	char owner[PG_OWNER_MAX];    /* this handle's name in leases.owner */
	int lease_ms;
	int mode;                    /* STORE_OPEN_SERVER or _ADMIN */
	struct store_health *health; /* the front's: write state */

	pthread_mutex_t lock;        /* guards conn, busy */
	pthread_cond_t free_cond;    /* a connection was given back */
	PGconn *conn[PG_POOL_MAX];   /* NULL: not connected */
	int busy[PG_POOL_MAX];

	/* The leases this handle holds (their tokens), which its keeper
	 * renews: only these, so that a lease whose COMMIT we never heard
	 * of (the connection broke) expires instead of living forever. */
	pthread_mutex_t held_lock;
	int64_t *held;
	size_t nheld, held_cap;

	struct pg_keeper *keeper;    /* server mode */
	PGconn *import;              /* store migrate's transaction, or NULL */
};

/* pg_conn.c: the pool. */

/* Fills p->label from p->conninfo: the URI's user, host, port and
 * database, never its password. 0, or -1 with err set (a URI libpq
 * cannot read). */
int pg_label(struct pg_store *p, char *err, size_t errlen);
/* A new connection to p's database, set up (synchronous_commit on), or
 * NULL with err set (no password in it). The caller PQfinish()es it. */
PGconn *pg_connect(struct pg_store *p, char *err, size_t errlen);
/* Takes a connection of the pool (waits while all are busy; connects
 * when the slot has none): NULL with err set when the database cannot be
 * reached. Give it back with pg_give(), which drops a broken one and
 * rolls back what a failure left open. */
PGconn *pg_take(struct pg_store *p, char *err, size_t errlen);
void pg_give(struct pg_store *p, PGconn *c);
/* Closes every connection; none may be taken. */
void pg_pool_close(struct pg_store *p);

/* The held leases: add (0, or -1 out of memory), remove, and their
 * tokens as a PostgreSQL array literal "{1,2}" (malloc'ed; NULL: out of
 * memory). */
int pg_held_add(struct pg_store *p, int64_t token);
void pg_held_remove(struct pg_store *p, int64_t token);
char *pg_held_array(struct pg_store *p);

/*
 * Runs fn on a connection of the pool, and once more on a new one when
 * the first one turned out broken (the server restarted since it was last
 * used): fn must be safe to repeat, which the store's ops are (a repeated
 * enqueue finds its eventIds and uuids stored; a repeated finish finds
 * its lease ended). Returns fn's answer, or -1 with err set when no
 * connection could be made.
 */
typedef int (*pg_op_fn)(struct pg_store *p, PGconn *c, void *arg, char *err,
    size_t errlen);
int pg_with_conn(struct pg_store *p, pg_op_fn fn, void *arg, char *err, size_t errlen);
/* One statement, as pg_with_conn: its result (rows or none; the caller
 * PQclear()s it), or NULL with err set ("label: what: message"). */
PGresult *pg_query(struct pg_store *p, const char *sql, int n, const char *const *params,
    char *err, size_t errlen, const char *what);

/* A statement with RETURNING 1 that may not take effect: 1 it did, 0 it
 * did not, -1 error. */
int pg_query_took(struct pg_store *p, const char *sql, int n, const char *const *params,
    const char *what);

/* Runs sql with text parameters (NULL: SQL NULL); PQclear() the result. */
PGresult *pg_exec(PGconn *c, const char *sql, int n, const char *const *params);
/* The same, but a failure is NULL with err set ("label: what: message")
 * and, when retry is not NULL, *retry 1 if PostgreSQL aborted the
 * transaction to break a deadlock or a serialization conflict (trying
 * again may work). */
PGresult *pg_exec_ok(struct pg_store *p, PGconn *c, const char *sql, int n,
    const char *const *params, int *retry, char *err, size_t errlen, const char *what);
/* 1 when r is a success (rows or none), else 0. */
int pg_ok(const PGresult *r);
/* Runs sql without parameters nor rows: 0 or -1 (with err set). */
int pg_run(struct pg_store *p, PGconn *c, const char *sql, char *err, size_t errlen,
    const char *what);
/* err = "label: what: the server's message" on one line. */
void pg_seterr(struct pg_store *p, PGconn *c, const PGresult *r, char *err, size_t errlen,
    const char *what);
/* The SQLSTATE of a failed result ("" when none). */
const char *pg_sqlstate(const PGresult *r);
/* After a write (what) committed (ok) or failed (err): tells the front,
 * which logs when the store stops or starts taking writes. */
void pg_write_end(struct pg_store *p, int ok, const char *err);

/* Text forms of a parameter; buf holds at least 24 bytes. */
const char *pg_i64(char *buf, int64_t v);
int64_t pg_get_i64(const PGresult *r, int row, int col);
/* Copies a text column; -1 when it did not fit (dst holds a truncated
 * copy). */
int pg_copy(char *dst, size_t size, const PGresult *r, int row, int col);
/* Reads PG_JOB_COLUMNS (0-11) of row into j; state is the caller's. */
void pg_read_job(const PGresult *r, int row, struct store_job *j);

/* pg_schema.c: creates or migrates the schema on c (under an advisory
 * lock, so that replicas starting together take turns). Refuses, with a
 * line that says so, a schema newer than this binary. 0 or -1. */
int pg_schema(struct pg_store *p, PGconn *c, char *err, size_t errlen);

/* pg_keeper.c: server mode. Starts the thread that renews p's leases
 * every lease_ms / 3 and returns expired ones (everyone's) to pending;
 * pg_keeper_wake sets what it calls when another replica stores jobs
 * (NULL: nothing; returns once no call is under way). */
int pg_keeper_start(struct pg_store *p, char *err, size_t errlen);
void pg_keeper_wake(struct pg_store *p, void (*wake)(void *arg), void *arg);
void pg_keeper_stop(struct pg_store *p);
/* Puts the jobs of expired leases back as pending: the rows returned,
 * or -1. Called by the keeper and at server open. */
long long pg_sweep(PGconn *c);

/* The ops (backend.h), gathered in pg_ops.c. */
void *pg_open(struct store_health *health, const char *location, int mode,
    const struct store_params *params, char *err, size_t errlen);
void pg_close(void *be);
void pg_listen(void *be, void (*wake)(void *arg), void *arg);

int pg_enqueue(void *be, struct store_delivery *batch, char *err, size_t errlen);
int pg_lease(void *be, int64_t now_ms, struct store_lease *out, char *err, size_t errlen);
int pg_lease_user(void *be, const struct store_job_in *job, int64_t now_ms,
    struct store_lease *out, char *err, size_t errlen);
/* The one value of a query that returns one row; 1 found, 0 NULL, -1. */
int pg_scalar(struct pg_store *p, const char *sql, int n, const char *const *params,
    int64_t *v);
int pg_count_held(void *be, int64_t *count);
int pg_deprovision_take(void *be, int64_t now_ms, int64_t window_ms, int64_t limit);
int pg_admin_release_held(void *be, int64_t id, int64_t now_ms, int64_t *count, char *err,
    size_t errlen);
int pg_finish(void *be, const struct store_lease *l, const struct store_outcome *o);
int64_t pg_next_due(void *be, int64_t now_ms);
int pg_counts(void *be, int64_t counts[4]);
int pg_oldest_pending(void *be, int64_t *created_ms);
long long pg_prune(void *be, int64_t older_than_ms);
/* Runs a DELETE of at most 1000 rows older than $1 (before_ms) until it
 * deletes nothing, a transaction a slice: rows deleted, or -1. */
long long pg_prune_slices(struct pg_store *p, const char *sql, int64_t before_ms,
    const char *what);
int pg_writable(void *be);
int pg_claim(void *be, const char *task, int64_t period_ms);

int pg_remote_get(void *be, const char *user_id, char *remote_id, size_t rlen, char *hash,
    size_t hlen);
int pg_remote_put(void *be, const char *user_id, const char *remote_id, const char *hash);
int pg_remote_delete(void *be, const char *user_id);
int pg_group_get(void *be, const char *group_id, char *remote_id, size_t rlen, char *name,
    size_t nlen);
int pg_group_put(void *be, const char *group_id, const char *remote_id, const char *name);
int pg_member_get(void *be, const char *group_id, const char *user_id);
int pg_member_put(void *be, const char *group_id, const char *user_id, int member);
int pg_member_each(void *be, const char *group_id, int (*fn)(const char *user_id, void *arg),
    void *arg);
int pg_remote_each(void *be, int (*fn)(const char *user_id, void *arg), void *arg, char *err,
    size_t errlen);

int pg_admin_list(void *be, const struct store_list_query *qry, size_t max,
    int (*row)(const struct store_job_info *info, void *arg), void *arg, char *err,
    size_t errlen);
int pg_admin_get(void *be, int64_t id, struct store_job_info *out, char *err, size_t errlen);
enum store_admin_result pg_admin_retry(void *be, int64_t id, int64_t now_ms,
    enum store_state *state, char *err, size_t errlen);
int pg_admin_retry_dead(void *be, int64_t now_ms, int64_t *count, char *err, size_t errlen);
enum store_admin_result pg_admin_drop(void *be, int64_t id, enum store_state *state,
    char *err, size_t errlen);

int pg_snapshots_put(void *be, const struct store_snapshot *v, size_t n, char *err,
    size_t errlen);
/* The server's clock (PG_NOW_MS), the one jobs' created is: 0 or -1. */
int pg_clock_ms(void *be, int64_t *now_ms);
int pg_snapshot_take(void *be, const char *user_id, const char *own_type, int64_t *taken_ms,
    char **body);
long long pg_snapshots_prune(void *be, int64_t before_ms);
int pg_backlog_users(void *be, int64_t now_ms, int64_t since_ms, const char *own_type,
    const char *known_type, int64_t *count);
int pg_import_begin(void *be, char *err, size_t errlen);
int pg_import_row(void *be, const struct store_record *r, char *err, size_t errlen);
int pg_import_end(void *be, int commit, char *err, size_t errlen);

#endif
