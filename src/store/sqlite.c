/*
 * The store's SQLite backend: one file, groupsync.db, in WAL mode under
 * the data directory. This file opens and closes it (pragmas, schema,
 * prepared statements), holds the helpers its operations share and the
 * ops table; the operations are in sqlite_jobs.c, sqlite_remote_ids.c and
 * sqlite_admin.c.
 *
 * Durability: only intake must be on disk before it answers (a delivery
 * answered 200 is never sent again), so intake batches commit with
 * synchronous=FULL and everything else (leases, outcomes, remote IDs)
 * with NORMAL: safe when the process dies (the WAL is in the page cache);
 * on power loss only a suffix of those transactions can go (the WAL is
 * ordered, and each FULL commit syncs all before it), which re-runs a
 * sync that converges to the same state (level-triggered, and a create
 * looks the user up first). It spares the workers three fsyncs per user.
 *
 * Job states are stored as the integers of enum store_state. "published"
 * is Okta's ISO-8601 UTC form (always the same width), so it sorts
 * correctly as text.
 */
#include "sqlite.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groupsync/base/util.h"

static const char sq_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS deliveries(event_id TEXT PRIMARY KEY,"
	" received INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS jobs(id INTEGER PRIMARY KEY,"
	" uuid TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,"
	" event_type TEXT NOT NULL, published TEXT NOT NULL,"
	" group_id TEXT NOT NULL, changed TEXT NOT NULL,"
	" changed_known INTEGER NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" not_before INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '');"
	/* lease walks the pending jobs in published order */
	/* covering not_before and user_id: the pick skips jobs that back off
	 * (an Okta outage leaves thousands) from the index alone, without
	 * reading their rows */
	"DROP INDEX IF EXISTS jobs_ready;"
	"CREATE INDEX IF NOT EXISTS jobs_pick ON jobs(state, published, id, not_before, user_id);"
	/* "has this user a leased job, or one that backs off?" and "all
	 * pending jobs of a user", from the index alone */
	"DROP INDEX IF EXISTS jobs_user;"
	"CREATE INDEX IF NOT EXISTS jobs_user_due ON jobs(user_id, state, not_before);"
	"CREATE TABLE IF NOT EXISTS remote_ids(user_id TEXT PRIMARY KEY,"
	" remote_id TEXT NOT NULL, hash TEXT NOT NULL,"
	" updated INTEGER NOT NULL) WITHOUT ROWID;"
	/* group push: the remote group of each Okta group, and which users
	 * groupsync made members of it */
	"CREATE TABLE IF NOT EXISTS group_remote_ids(group_id TEXT PRIMARY KEY,"
	" remote_id TEXT NOT NULL, name TEXT NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS group_members(group_id TEXT NOT NULL,"
	" user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;"
	/* one row that store_writable() rewrites to prove a commit works */
	/* GROUPSYNC_DEPROVISION_THRESHOLD: the deprovisions of the last
	 * window, by every process on this file */
	"CREATE TABLE IF NOT EXISTS deprovisions(at INTEGER NOT NULL);"
	/* what a member listing said of each user (store.h: snapshots); a
	 * rowid table, as the bodies are a few kB each */
	"CREATE TABLE IF NOT EXISTS user_snapshots(user_id TEXT PRIMARY KEY,"
	" taken INTEGER NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS user_snapshots_taken ON user_snapshots(taken);"
	"CREATE TABLE IF NOT EXISTS health(id INTEGER PRIMARY KEY"
	" CHECK (id = 1), checked INTEGER NOT NULL);";

static const char *const sq_sql[SQS_COUNT] = {
	[SQS_BEGIN] = "BEGIN IMMEDIATE",
	[SQS_COMMIT] = "COMMIT",
	[SQS_ROLLBACK] = "ROLLBACK",
	[SQS_DELIVERY_ADD] = "INSERT OR IGNORE INTO deliveries(event_id, received)"
	    " VALUES(?1, ?2)",
	[SQS_JOB_ADD] = "INSERT OR IGNORE INTO jobs(uuid, user_id, event_type,"
	    " published, group_id, changed, changed_known, created, updated)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
	/* A user whose job backs off is not picked for a newer job either:
	 * the newer one waits and is synced with it (level-triggered), so
	 * an outage is not hit again at every profile edit. */
	[SQS_LEASE_PICK] = "SELECT j.user_id FROM jobs j"
	    " WHERE j.state = 0 AND j.not_before <= ?1 AND NOT EXISTS"
	    " (SELECT 1 FROM jobs l WHERE l.user_id = j.user_id AND l.state = 1)"
	    " AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.user_id = j.user_id"
	    " AND b.state = 0 AND b.not_before > ?1)"
	    " ORDER BY j.published, j.id LIMIT 1",
	[SQS_NEXT_DUE] = "SELECT min(not_before) FROM jobs WHERE state = 0 AND not_before > ?1",
	[SQS_USER_LEASED] = "SELECT 1 FROM jobs WHERE user_id = ?1 AND state = 1 LIMIT 1",
	[SQS_DEPROV_PRUNE] = "DELETE FROM deprovisions WHERE at <= ?1",
	[SQS_DEPROV_TAKE] = "INSERT INTO deprovisions(at) SELECT ?1"
	    " WHERE (SELECT count(*) FROM deprovisions) < ?2",
	[SQS_COUNT_HELD] = "SELECT count(*) FROM jobs WHERE state = 0 AND not_before = ?1",
	[SQS_RELEASE_HELD] = "UPDATE jobs SET not_before = ?3, updated = ?2"
	    " WHERE state = 0 AND not_before = ?4 AND (?1 = 0 OR id = ?1)",
	[SQS_LEASE_JOBS] = "SELECT " SQ_JOB_COLUMNS " FROM jobs"
	    " WHERE user_id = ?1 AND state = 0 AND not_before <= ?2"
	    " ORDER BY published, id",
	[SQS_LEASE_MARK] = "UPDATE jobs SET state = 1, updated = ?3"
	    " WHERE user_id = ?1 AND state = 0 AND not_before <= ?2",
	/* NULL keeps the column: one statement serves every outcome */
	[SQS_FINISH] = "UPDATE jobs SET state = ?2, attempts = attempts + ?3,"
	    " not_before = coalesce(?4, not_before),"
	    " last_error = coalesce(?5, last_error), updated = ?6"
	    " WHERE id = ?1 AND state = 1",
	[SQS_COUNTS] = "SELECT state, count(*) FROM jobs GROUP BY state",
	/* held jobs (not_before INT64_MAX) wait for an operator, not a worker */
	[SQS_OLDEST] = "SELECT min(created) FROM jobs WHERE state = 0"
	    " AND not_before <> 9223372036854775807",
	[SQS_HEALTH] = "INSERT OR REPLACE INTO health(id, checked) VALUES(1, ?1)",
	[SQS_REMOTE_GET] = "SELECT remote_id, hash FROM remote_ids"
	    " WHERE user_id = ?1",
	[SQS_REMOTE_PUT] = "INSERT INTO remote_ids(user_id, remote_id, hash,"
	    " updated) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(user_id) DO UPDATE"
	    " SET remote_id = excluded.remote_id, hash = excluded.hash,"
	    " updated = excluded.updated",
	[SQS_REMOTE_DELETE] = "DELETE FROM remote_ids WHERE user_id = ?1",
	/* in slices, so that no transaction holds the store for long */
	[SQS_PRUNE_JOBS] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
	    " WHERE state = 2 AND updated < ?1 LIMIT 1000)",
	[SQS_PRUNE_DELIVERIES] = "DELETE FROM deliveries WHERE event_id IN"
	    " (SELECT event_id FROM deliveries WHERE received < ?1 LIMIT 1000)",
	/* ?1 is a mask of states (bit 1 << state); newest first, so that
	 * LIMIT keeps the newest jobs; the user form uses jobs_user */
	[SQS_ADMIN_LIST] = "SELECT " SQ_ADMIN_COLUMNS " FROM jobs"
	    " WHERE (?1 >> state) & 1 AND (?4 = 0 OR state <> 0 OR attempts > 0)"
	    " ORDER BY id DESC LIMIT ?2",
	[SQS_ADMIN_LIST_USER] = "SELECT " SQ_ADMIN_COLUMNS " FROM jobs"
	    " WHERE user_id = ?3 AND (?1 >> state) & 1"
	    " AND (?4 = 0 OR state <> 0 OR attempts > 0)"
	    " ORDER BY id DESC LIMIT ?2",
	[SQS_ADMIN_GET] = "SELECT " SQ_ADMIN_COLUMNS " FROM jobs"
	    " WHERE id = ?1",
	[SQS_ADMIN_STATE] = "SELECT state FROM jobs WHERE id = ?1",
	/* never a leased job: a worker is syncing it and will finish it */
	/* a held or released deprovision (store.h: STORE_HELD_NOT_BEFORE,
	 * STORE_RELEASED_NOT_BEFORE) stays marked released: never held again */
	[SQS_ADMIN_RETRY] = "UPDATE jobs SET state = 0, attempts = 0,"
	    " not_before = CASE WHEN state = 0 AND not_before IN"
	    " (9223372036854775807, 1) THEN 1 ELSE ?2 END,"
	    " updated = ?2 WHERE id = ?1 AND state IN (0, 3)",
	[SQS_ADMIN_RETRY_DEAD] = "UPDATE jobs SET state = 0, attempts = 0,"
	    " not_before = ?1, updated = ?1 WHERE state = 3",
	[SQS_ADMIN_DROP] = "DELETE FROM jobs WHERE id = ?1 AND state <> 1",
	/* an older listing never replaces a newer one */
	[SQS_SNAP_PUT] = "INSERT INTO user_snapshots(user_id, taken, body) VALUES(?1, ?2, ?3)"
	    " ON CONFLICT(user_id) DO UPDATE SET taken = excluded.taken,"
	    " body = excluded.body WHERE excluded.taken >= user_snapshots.taken",
	[SQS_SNAP_GET] = "SELECT taken, body FROM user_snapshots WHERE user_id = ?1",
	[SQS_SNAP_DELETE] = "DELETE FROM user_snapshots WHERE user_id = ?1",
	/* a job stored since the listing began: the listing may be old news */
	[SQS_SNAP_STALE] = "SELECT 1 FROM jobs WHERE user_id = ?1 AND created >= ?2"
	    " AND event_type <> ?3 LIMIT 1",
	[SQS_SNAP_PRUNE] = "DELETE FROM user_snapshots WHERE rowid IN (SELECT rowid"
	    " FROM user_snapshots WHERE taken < ?1 LIMIT 1000)",
	[SQS_BACKLOG] = "SELECT count(DISTINCT j.user_id) FROM jobs j WHERE j.state = 0"
	    " AND j.not_before <= ?1 AND j.created >= ?2 AND j.event_type <> ?3"
	    " AND NOT (j.event_type = ?4 AND j.changed_known <> 0)"
	    " AND NOT EXISTS (SELECT 1 FROM user_snapshots s WHERE s.user_id = j.user_id)",
};

/*
 * SQLite says "disk I/O error" or "unable to open database file" for
 * every OS failure; the errno says which (no space, read-only file
 * system, permission), which is what an operator needs to act on. It is
 * only current after an I/O or open error.
 */
void
sq_seterr(struct sq_store *q, char *err, size_t errlen, const char *what)
{
	int code = sqlite3_errcode(q->db) & 0xff, sys = sqlite3_system_errno(q->db);

	if (err == NULL || errlen == 0)
		return;
	/* a truncated message is still worth returning */
	if ((code == SQLITE_IOERR || code == SQLITE_CANTOPEN) && sys != 0)
		(void)util_format(err, errlen, "%s: %s: %s (%s)", q->path, what,
		    sqlite3_errmsg(q->db), strerror(sys));
	else
		(void)util_format(err, errlen, "%s: %s: %s", q->path, what,
		    sqlite3_errmsg(q->db));
}

/* Returns the cached statement, reset and with its bindings cleared. */
sqlite3_stmt *
sq_stmt(struct sq_store *q, enum sq_stmt_id id)
{
	sqlite3_stmt *st = q->stmt[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no rows, then resets it. */
int
sq_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs a cached statement without parameters: BEGIN, COMMIT, ROLLBACK. */
int
sq_run(struct sq_store *q, enum sq_stmt_id id)
{
	return sq_step_done(sq_stmt(q, id));
}

/* Rolls back if a transaction is still open; SQLite ends some on error
 * by itself, and a ROLLBACK without one would only add a second error. */
void
sq_rollback(struct sq_store *q)
{
	if (!sqlite3_get_autocommit(q->db))
		(void)sq_run(q, SQS_ROLLBACK);
}

/* The front logs the first failure of a run and the first success after
 * it (backend.h); the error is read here, while it is the connection's. */
void
sq_write_end(struct sq_store *q, int ok, const char *what)
{
	char err[STORE_ERROR_MAX + 1];

	if (ok) {
		store_health_ok(q->health);
	} else {
		sq_seterr(q, err, sizeof(err), what);
		store_health_failed(q->health, err);
	}
	sq_rollback(q);
}

/*
 * Switches the connection between synchronous=FULL (intake: fsync the WAL
 * at COMMIT) and NORMAL. Never through a cached statement: SQLite applies
 * PRAGMA synchronous when the statement is *prepared*, and stepping a
 * prepared one again changes nothing. The store once did that, so intake
 * ran with the last pragma prepared (NORMAL) and answered 200 for commits
 * that were not yet on disk (lost when the file system or the machine
 * failed; tests/reliability/test_readonly.py FailingFs and
 * tests/unit/test_queue_durable.c).
 */
int
sq_set_sync(struct sq_store *q, int full)
{
	return sqlite3_exec(q->db, full ? "PRAGMA synchronous=FULL" :
	    "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void
sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Returns -1 when the value did not fit (dst holds a truncated copy). */
int
sq_copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return util_copy(dst, size, s != NULL ? (const char *)s : "");
}

/* Refuses a missing or read-only data directory instead of creating it:
 * a typo in GROUPSYNC_DATA_DIR must not silently start an empty store. */
static int
sq_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			errno = ENOTDIR;
		else if (access(dir, W_OK | X_OK) == 0)
			return 0;
	}
	(void)util_format(err, errlen, "data directory %s: %s", dir,
	    strerror(errno));
	return -1;
}

/* Runs a PRAGMA and copies the first column of its first row. */
static int
sq_pragma(struct sq_store *q, const char *sql, char *val, size_t len)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		(void)sq_copy_col(val, len, st, 0);
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static int
sq_pragmas(struct sq_store *q, char *err, size_t errlen)
{
	char mode[16];

	sqlite3_busy_timeout(q->db, SQ_BUSY_TIMEOUT_MS);
	if (sq_pragma(q, "PRAGMA journal_mode=WAL", mode,
	    sizeof(mode)) == -1) {
		sq_seterr(q, err, errlen, "journal_mode=WAL");
		return -1;
	}
	/* WAL lets the admin commands read while the server writes */
	if (strcmp(mode, "wal") != 0) {
		(void)util_format(err, errlen, "%s: cannot use WAL mode "
		    "(journal_mode is %s)", q->path, mode);
		return -1;
	}
	/* NORMAL between intake commits; the committer switches to FULL for
	 * its own transactions (see sqlite_jobs.c, sq_enqueue). */
	if (sqlite3_exec(q->db, "PRAGMA synchronous=NORMAL", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sq_seterr(q, err, errlen, "synchronous=NORMAL");
		return -1;
	}
	return 0;
}

/*
 * Creates or checks the schema in one write transaction, so that a server
 * and an admin command opening a new file at once cannot interleave.
 */
static int
sq_schema(struct sq_store *q, char *err, size_t errlen)
{
	char sql[64], val[16];
	int version, ret = -1;

	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sq_seterr(q, err, errlen, "begin");
		return -1;
	}
	if (sq_pragma(q, "PRAGMA user_version", val, sizeof(val)) == -1) {
		sq_seterr(q, err, errlen, "user_version");
		goto out;
	}
	version = (int)strtol(val, NULL, 10);
	if (version > SQ_SCHEMA_VERSION) {
		(void)util_format(err, errlen, "%s: schema version %d is newer "
		    "than this groupsync supports (%d)", q->path, version,
		    SQ_SCHEMA_VERSION);
		goto out;
	}
	(void)util_format(sql, sizeof(sql), "PRAGMA user_version=%d",
	    SQ_SCHEMA_VERSION);
	if (sqlite3_exec(q->db, sq_schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sq_seterr(q, err, errlen, "create schema");
		goto out;
	}
	ret = 0;
out:
	if (ret == -1 && !sqlite3_get_autocommit(q->db))
		(void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* Opens the file, sets it up and prepares the statements. */
static int
sq_open_db(struct sq_store *q, int mode, char *err, size_t errlen)
{
	int i;

	if (sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sq_seterr(q, err, errlen, "open");
		return -1;
	}
	if (sq_pragmas(q, err, errlen) == -1 ||
	    sq_schema(q, err, errlen) == -1)
		return -1;
	for (i = 0; i < SQS_COUNT; i++) {
		if (sqlite3_prepare_v3(q->db, sq_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->stmt[i], NULL) != SQLITE_OK) {
			sq_seterr(q, err, errlen, "prepare");
			return -1;
		}
	}
	/* Only the owner may do this: an admin command would otherwise
	 * steal the running server's leases. */
	if (mode == STORE_OPEN_SERVER && sqlite3_exec(q->db,
	    "UPDATE jobs SET state = 0 WHERE state = 1", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sq_seterr(q, err, errlen, "release abandoned leases");
		return -1;
	}
	return 0;
}

/* Also frees what a failed sq_open left half done. */
void
sq_close(void *be)
{
	struct sq_store *q = be;
	int i;

	sq_ckpt_stop(q);
	for (i = 0; i < SQS_COUNT; i++)
		sqlite3_finalize(q->stmt[i]);
	/* the last connection checkpoints and removes the WAL file */
	sqlite3_close(q->db);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

void *
sq_open(struct store_health *health, const char *data_dir, int mode,
    const struct store_params *params, char *err, size_t errlen)
{
	struct sq_store *q;

	(void)params; /* one server process: its start releases every lease */
	if (sq_check_dir(data_dir, err, errlen) == -1)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		(void)util_format(err, errlen, "store: out of memory");
		return NULL;
	}
	q->health = health;
	pthread_mutex_init(&q->lock, NULL);
	if (util_format(q->path, sizeof(q->path), "%s/%s", data_dir, SQ_DB_NAME) == -1) {
		(void)util_format(err, errlen, "data directory %s: path too long", data_dir);
		goto fail;
	}
	if (sq_open_db(q, mode, err, errlen) == -1)
		goto fail;
	if (mode == STORE_OPEN_SERVER && sq_ckpt_start(q, err, errlen) == -1)
		goto fail;
	(void)util_copy(health->label, sizeof(health->label), q->path);
	return q;
fail:
	sq_close(q);
	return NULL;
}

/* Reads columns 0-11 (SQ_JOB_COLUMNS) of a job row; state is left to
 * the caller, which knows which query it ran. */
void
sq_read_job(sqlite3_stmt *st, struct store_job *j)
{
	/* our columns were bounded by struct store_job_in when stored */
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	(void)sq_copy_col(j->uuid, sizeof(j->uuid), st, 1);
	(void)sq_copy_col(j->user_id, sizeof(j->user_id), st, 2);
	(void)sq_copy_col(j->event_type, sizeof(j->event_type), st, 3);
	(void)sq_copy_col(j->published, sizeof(j->published), st, 4);
	(void)sq_copy_col(j->group_id, sizeof(j->group_id), st, 5);
	(void)sq_copy_col(j->changed, sizeof(j->changed), st, 6);
	j->changed_known = sqlite3_column_int(st, 7);
	j->attempts = sqlite3_column_int(st, 8);
	j->not_before_ms = sqlite3_column_int64(st, 9);
	j->created_ms = sqlite3_column_int64(st, 10);
	(void)sq_copy_col(j->last_error, sizeof(j->last_error), st, 11);
}

int
sq_scalar(struct sq_store *q, enum sq_stmt_id id, int64_t arg, int64_t *out)
{
	sqlite3_stmt *st;
	int rc, ret;

	pthread_mutex_lock(&q->lock);
	st = sq_stmt(q, id);
	sqlite3_bind_int64(st, 1, arg);
	rc = sqlite3_step(st);
	ret = rc == SQLITE_ROW ? sqlite3_column_type(st, 0) != SQLITE_NULL :
	    rc == SQLITE_DONE ? 0 : -1;
	if (ret == 1)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* the admin retry statement spells these two out */
_Static_assert(STORE_HELD_NOT_BEFORE == INT64_C(9223372036854775807) &&
    STORE_RELEASED_NOT_BEFORE == 1, "held and released marks as in the SQL");
