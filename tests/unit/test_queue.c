/*
 * Unit tests of the store and its SQLite backend against a real file in
 * a fresh temporary directory per case (the setup creates it, the
 * teardown removes it), so that each case also runs alone.
 */
#include "queue_fixture.h"

#include "groupsync/store/store.h"
#include "groupsync/base/util.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* A far future "now": every job is ready. */
#define LATER INT64_C(4102444800000)

static void
reopen(struct fixture *fx, int mode)
{
	store_close(fx->q);
	fx->q = store_open_at(fx->dir, mode, fx->err, sizeof(fx->err));
	if (fx->q == NULL)
		fail_msg("store_open: %s", fx->err);
}

static void
job_init(struct store_job_in *j, const char *uuid, const char *user,
    const char *published)
{
	memset(j, 0, sizeof(*j));
	assert_int_equal(util_copy(j->uuid, sizeof(j->uuid), uuid), 0);
	assert_int_equal(util_copy(j->user_id, sizeof(j->user_id), user), 0);
	strcpy(j->event_type, "user.account.update_profile");
	assert_int_equal(util_copy(j->published, sizeof(j->published),
	    published), 0);
}

/* Enqueues a delivery of one job; returns what store_enqueue returned. */
static enum store_enqueue_result
enqueue1(struct fixture *fx, const char *event_id, const char *uuid,
    const char *user, const char *published, size_t *stored)
{
	struct store_job_in j;

	job_init(&j, uuid, user, published);
	return store_enqueue(fx->q, event_id, &j, 1, stored, fx->err,
	    sizeof(fx->err));
}

static void
must_enqueue(struct fixture *fx, const char *event_id, const char *uuid,
    const char *user, const char *published)
{
	size_t stored = 99;

	assert_int_equal(enqueue1(fx, event_id, uuid, user, published,
	    &stored), STORE_STORED);
	assert_int_equal(stored, 1);
}

static void
must_lease(struct fixture *fx, int64_t now, struct store_lease *l,
    const char *user, size_t njobs)
{
	assert_int_equal(store_lease(fx->q, now, l, fx->err,
	    sizeof(fx->err)), 1);
	assert_string_equal(l->user_id, user);
	assert_int_equal(l->njobs, njobs);
}

static void
must_not_lease(struct fixture *fx, int64_t now)
{
	struct store_lease l;

	assert_int_equal(store_lease(fx->q, now, &l, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(l.njobs, 0);
	assert_null(l.jobs);
}

static void
assert_counts(struct fixture *fx, int64_t pending, int64_t leased,
    int64_t done, int64_t dead)
{
	int64_t c[4];

	assert_int_equal(store_counts(fx->q, c), 0);
	assert_int_equal(c[STORE_PENDING], pending);
	assert_int_equal(c[STORE_LEASED], leased);
	assert_int_equal(c[STORE_DONE], done);
	assert_int_equal(c[STORE_DEAD], dead);
}

/* Reads one integer through a connection of its own, as an operator's
 * sqlite3 shell would. */
static int64_t
db_int(struct fixture *fx, const char *sql)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v;

	snprintf(path, sizeof(path), "%s/groupsync.db", fx->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
db_exec(struct fixture *fx, const char *sql)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/groupsync.db", fx->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
open_close_reopen(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	snprintf(path, sizeof(path), "%s/groupsync.db", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
	reopen(fx, STORE_OPEN_SERVER);
	assert_counts(fx, 1, 0, 0, 0);
	reopen(fx, STORE_OPEN_ADMIN);
	assert_counts(fx, 1, 0, 0, 0);
	assert_int_equal(db_int(fx, "PRAGMA user_version"), 1);
	/* WAL mode is persistent: the open handle keeps its -wal file */
	snprintf(path, sizeof(path), "%s/groupsync.db-wal", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
}

static void
open_bad_dir(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], err[STORE_ERROR_MAX + 1];
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing", fx->dir);
	assert_null(store_open_at(path, STORE_OPEN_SERVER, err, sizeof(err)));
	assert_non_null(strstr(err, path));

	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/file", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_null(store_open_at(path, STORE_OPEN_SERVER, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "Not a directory"));

	/* root writes anyway: this part only means something for others */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/ro", fx->dir);
		assert_int_equal(mkdir(path, 0500), 0);
		assert_null(store_open_at(path, STORE_OPEN_SERVER, err,
		    sizeof(err)));
		assert_non_null(strstr(err, path));
		rmdir(path);
	}
}

static void
open_newer_schema(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->q);
	fx->q = NULL;
	assert_int_equal(db_int(fx, "PRAGMA user_version"), 1);
	db_exec(fx, "PRAGMA user_version = 99");
	assert_null(store_open_at(fx->dir, STORE_OPEN_SERVER, fx->err,
	    sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "schema version 99"));
	assert_non_null(strstr(fx->err, fx->dir));
}

/* A URI picks the backend of its scheme; none but SQLite is built, and
 * the refusal names the scheme, never the rest (it may hold a password). */
static void
open_unknown_scheme(void **state)
{
	struct fixture *fx = *state;

	assert_null(store_open_at("postgresql://gs:s3cret@db.example/groupsync",
	    STORE_OPEN_SERVER, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "postgresql://"));
	assert_null(strstr(fx->err, "s3cret"));
	assert_null(strstr(fx->err, "db.example"));
}

static void
enqueue_stores_jobs(void **state)
{
	struct fixture *fx = *state;
	struct store_job_in j[3];
	struct store_lease l;
	size_t stored = 0;
	int64_t t0 = util_now_ms();

	job_init(&j[0], "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	job_init(&j[1], "uuid-2", "user-b", "2024-01-01T00:00:02.000Z");
	job_init(&j[2], "uuid-3", "user-a", "2024-01-01T00:00:03.000Z");
	strcpy(j[2].event_type, "group.user_membership.add");
	strcpy(j[2].group_id, "00g1");
	strcpy(j[2].changed, "city,email");
	j[2].changed_known = 1;
	assert_int_equal(store_enqueue(fx->q, "evt-1", j, 3, &stored,
	    fx->err, sizeof(fx->err)), STORE_STORED);
	assert_int_equal(stored, 3);
	assert_counts(fx, 3, 0, 0, 0);

	must_lease(fx, LATER, &l, "user-a", 2);
	assert_string_equal(l.jobs[0].uuid, "uuid-1");
	assert_string_equal(l.jobs[1].uuid, "uuid-3");
	assert_string_equal(l.jobs[1].event_type, "group.user_membership.add");
	assert_string_equal(l.jobs[1].published, "2024-01-01T00:00:03.000Z");
	assert_string_equal(l.jobs[1].group_id, "00g1");
	assert_string_equal(l.jobs[1].changed, "city,email");
	assert_int_equal(l.jobs[1].changed_known, 1);
	assert_int_equal(l.jobs[0].changed_known, 0);
	assert_int_equal(l.jobs[1].attempts, 0);
	assert_int_equal(l.jobs[1].state, STORE_LEASED);
	assert_string_equal(l.jobs[1].last_error, "");
	assert_true(l.jobs[1].created_ms >= t0);
	assert_true(l.jobs[0].id < l.jobs[1].id);
	assert_counts(fx, 1, 2, 0, 0);
	store_lease_free(&l);
}

static void
duplicate_delivery(void **state)
{
	struct fixture *fx = *state;
	size_t stored = 99;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	/* same eventId, other content: nothing of it is stored */
	assert_int_equal(enqueue1(fx, "evt-1", "uuid-2", "user-b",
	    "2024-01-01T00:00:02.000Z", &stored), STORE_DUPLICATE);
	assert_int_equal(stored, 0);
	assert_counts(fx, 1, 0, 0, 0);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM deliveries"), 1);
}

static void
duplicate_uuid(void **state)
{
	struct fixture *fx = *state;
	size_t stored = 99;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	assert_int_equal(enqueue1(fx, "evt-2", "uuid-1", "user-a",
	    "2024-01-01T00:00:01.000Z", &stored), STORE_STORED);
	assert_int_equal(stored, 0);
	assert_counts(fx, 1, 0, 0, 0);
}

static void
empty_event_id(void **state)
{
	struct fixture *fx = *state;
	size_t stored = 99;

	must_enqueue(fx, "", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	/* no eventId: never a duplicate delivery, deduplicated by uuid */
	assert_int_equal(enqueue1(fx, "", "uuid-1", "user-a",
	    "2024-01-01T00:00:01.000Z", &stored), STORE_STORED);
	assert_int_equal(stored, 0);
	must_enqueue(fx, "", "uuid-2", "user-a", "2024-01-01T00:00:02.000Z");
	assert_counts(fx, 2, 0, 0, 0);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM deliveries"), 0);
}

static void
lease_empty(void **state)
{
	struct fixture *fx = *state;

	must_not_lease(fx, LATER);
}

static void
lease_oldest_first(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	/* enqueued out of order: published decides, not arrival */
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:03.000Z");
	must_enqueue(fx, "evt-2", "uuid-2", "user-b", "2024-01-01T00:00:01.000Z");
	must_enqueue(fx, "evt-3", "uuid-3", "user-c", "2024-01-01T00:00:02.000Z");
	must_lease(fx, LATER, &l, "user-b", 1);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-c", 1);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
	must_not_lease(fx, LATER);
}

static void
lease_per_user(void **state)
{
	struct fixture *fx = *state;
	struct store_lease a, b;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &a, "user-a", 1);
	/* A's new job is older than B's, yet A is busy */
	must_enqueue(fx, "evt-2", "uuid-2", "user-a", "2024-01-01T00:00:02.000Z");
	must_enqueue(fx, "evt-3", "uuid-3", "user-b", "2024-01-01T00:00:03.000Z");
	must_lease(fx, LATER, &b, "user-b", 1);
	must_not_lease(fx, LATER);
	assert_int_equal(store_complete(fx->q, &a), 0);
	store_lease_free(&a);
	must_lease(fx, LATER, &a, "user-a", 1);
	assert_string_equal(a.jobs[0].uuid, "uuid-2");
	store_lease_free(&a);
	store_lease_free(&b);
}

static void
lease_coalesces(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:04.000Z");
	must_enqueue(fx, "evt-2", "uuid-2", "user-b", "2024-01-01T00:00:02.000Z");
	must_enqueue(fx, "evt-3", "uuid-3", "user-a", "2024-01-01T00:00:01.000Z");
	must_enqueue(fx, "evt-4", "uuid-4", "user-a", "2024-01-01T00:00:03.000Z");
	must_lease(fx, LATER, &l, "user-a", 3);
	assert_string_equal(l.jobs[0].uuid, "uuid-3");
	assert_string_equal(l.jobs[1].uuid, "uuid-4");
	assert_string_equal(l.jobs[2].uuid, "uuid-1");
	assert_counts(fx, 1, 3, 0, 0);
	store_lease_free(&l);
}

static void
not_before_respected(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;
	int64_t now = INT64_C(1700000000000);

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, now, &l, "user-a", 1);
	assert_int_equal(store_retry(fx->q, &l, now + 60000, "HTTP 503"), 0);
	store_lease_free(&l);
	must_not_lease(fx, now);
	must_not_lease(fx, now + 59999);
	/* a ready job of another user is leased meanwhile */
	must_enqueue(fx, "evt-2", "uuid-2", "user-b", "2024-01-01T00:00:02.000Z");
	must_lease(fx, now, &l, "user-b", 1);
	store_lease_free(&l);
	must_lease(fx, now + 60000, &l, "user-a", 1);
	assert_int_equal(l.jobs[0].not_before_ms, now + 60000);
	store_lease_free(&l);
}

static void
retry_attempts(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(l.jobs[0].attempts, 0);
	assert_int_equal(store_retry(fx->q, &l, 0, "HTTP 503"), 0);
	store_lease_free(&l);
	assert_counts(fx, 1, 0, 0, 0);

	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(l.jobs[0].attempts, 1);
	assert_string_equal(l.jobs[0].last_error, "HTTP 503");
	assert_int_equal(store_retry(fx->q, &l, 0, "timeout"), 0);
	store_lease_free(&l);

	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(l.jobs[0].attempts, 2);
	assert_string_equal(l.jobs[0].last_error, "timeout");
	store_lease_free(&l);
}

static void
dead_letter(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_enqueue(fx, "evt-2", "uuid-2", "user-a", "2024-01-01T00:00:02.000Z");
	must_lease(fx, LATER, &l, "user-a", 2);
	assert_int_equal(store_dead(fx->q, &l, "HTTP 400"), 0);
	store_lease_free(&l);
	assert_counts(fx, 0, 0, 0, 2);
	must_not_lease(fx, LATER);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM jobs WHERE "
	    "attempts = 1 AND last_error = 'HTTP 400'"), 2);
	/* the user is free again for new events */
	must_enqueue(fx, "evt-3", "uuid-3", "user-a", "2024-01-01T00:00:03.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
}

static void
complete_done(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(store_complete(fx->q, &l), 0);
	/* a stale second outcome of the same lease changes nothing */
	assert_int_equal(store_retry(fx->q, &l, 0, "late"), 0);
	store_lease_free(&l);
	assert_counts(fx, 0, 0, 1, 0);
	must_not_lease(fx, LATER);
	/* done keeps the uuid: a redelivered event is not redone */
	assert_int_equal(enqueue1(fx, "evt-2", "uuid-1", "user-a",
	    "2024-01-01T00:00:01.000Z", NULL), STORE_STORED);
	assert_counts(fx, 0, 0, 1, 0);
}

/* Old done jobs and delivery IDs go; pending, leased and dead jobs stay. */
static void
prune_old(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_enqueue(fx, "evt-2", "uuid-2", "user-b", "2024-01-01T00:00:02.000Z");
	must_enqueue(fx, "evt-3", "uuid-3", "user-c", "2024-01-01T00:00:03.000Z");
	must_enqueue(fx, "evt-4", "uuid-4", "user-d", "2024-01-01T00:00:04.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-b", 1);
	assert_int_equal(store_dead(fx->q, &l, "HTTP 400"), 0);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-c", 1); /* stays leased */
	assert_counts(fx, 1, 1, 1, 1);

	/* nothing is old enough yet */
	assert_int_equal(store_prune(fx->q, 0), 0);
	assert_counts(fx, 1, 1, 1, 1);
	/* everything is: only the done job and the 4 delivery IDs go */
	assert_int_equal(store_prune(fx->q, INT64_MAX), 5);
	assert_counts(fx, 1, 1, 0, 1);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM deliveries"), 0);
	/* the pruned delivery and event can come again: a new job */
	assert_int_equal(enqueue1(fx, "evt-1", "uuid-1", "user-a",
	    "2024-01-01T00:00:01.000Z", NULL), STORE_STORED);
	assert_counts(fx, 2, 1, 0, 1);
	store_lease_free(&l);
}

static void
release_lease(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(store_retry(fx->q, &l, 0, "HTTP 503"), 0);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(store_release(fx->q, &l), 0);
	store_lease_free(&l);
	assert_counts(fx, 1, 0, 0, 0);
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(l.jobs[0].attempts, 1);
	assert_string_equal(l.jobs[0].last_error, "HTTP 503");
	store_lease_free(&l);
}

static void
recover_leases_server(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
	/* the process dies holding the lease */
	reopen(fx, STORE_OPEN_SERVER);
	assert_counts(fx, 1, 0, 0, 0);
	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(l.jobs[0].attempts, 0);
	store_lease_free(&l);
}

static void
keep_leases_admin(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
	reopen(fx, STORE_OPEN_ADMIN);
	assert_counts(fx, 0, 1, 0, 0);
	must_not_lease(fx, LATER);
	reopen(fx, STORE_OPEN_SERVER);
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
}

static void
admin_alongside_server(void **state)
{
	struct fixture *fx = *state;
	struct store *admin;
	struct store_lease l;
	char rid[STORE_ID_MAX + 1], hash[65];
	int64_t c[4];

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	admin = store_open_at(fx->dir, STORE_OPEN_ADMIN, fx->err, sizeof(fx->err));
	assert_non_null(admin);
	assert_int_equal(store_counts(admin, c), 0);
	assert_int_equal(c[STORE_LEASED], 1);
	/* a write through the admin handle is seen by the server */
	assert_int_equal(store_remote_put(admin, "user-a", "r-1", "h"), 0);
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	assert_int_equal(store_counts(admin, c), 0);
	assert_int_equal(c[STORE_DONE], 1);
	store_close(admin);
	assert_int_equal(store_remote_get(fx->q, "user-a", rid, sizeof(rid),
	    hash, sizeof(hash)), 1);
	assert_string_equal(rid, "r-1");
}

#define CE_THREADS 16
#define CE_DELIVERIES 200
#define CE_JOBS 2

struct ce_arg {
	struct store *q;
	int t;
	int stored, duplicate, failed;
	size_t jobs;
};

/* Thread pairs (0,1), (2,3)... send the same deliveries at once: each
 * eventId must end up stored exactly once, whatever the batching. */
static void *
ce_run(void *p)
{
	struct ce_arg *a = p;
	struct store_job_in j[CE_JOBS];
	char event_id[64], uuid[64], user[64], err[STORE_ERROR_MAX + 1];
	size_t stored;
	int i, k;

	for (i = 0; i < CE_DELIVERIES; i++) {
		snprintf(event_id, sizeof(event_id), "evt-%d-%d", a->t / 2, i);
		for (k = 0; k < CE_JOBS; k++) {
			snprintf(uuid, sizeof(uuid), "uuid-%d-%d-%d", a->t / 2,
			    i, k);
			snprintf(user, sizeof(user), "user-%d", (i + k) % 50);
			memset(&j[k], 0, sizeof(j[k]));
			strcpy(j[k].uuid, uuid);
			strcpy(j[k].user_id, user);
			strcpy(j[k].published, "2024-01-01T00:00:01.000Z");
		}
		switch (store_enqueue(a->q, event_id, j, CE_JOBS, &stored,
		    err, sizeof(err))) {
		case STORE_STORED:
			a->stored++;
			a->jobs += stored;
			break;
		case STORE_DUPLICATE:
			a->duplicate++;
			break;
		default:
			a->failed++;
			break;
		}
	}
	return NULL;
}

static void
concurrent_enqueue(void **state)
{
	struct fixture *fx = *state;
	struct ce_arg a[CE_THREADS];
	pthread_t th[CE_THREADS];
	int i, stored = 0, duplicate = 0, failed = 0;
	size_t jobs = 0;
	int64_t n = (int64_t)CE_THREADS / 2 * CE_DELIVERIES;

	for (i = 0; i < CE_THREADS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].q = fx->q;
		a[i].t = i;
		assert_int_equal(pthread_create(&th[i], NULL, ce_run, &a[i]), 0);
	}
	for (i = 0; i < CE_THREADS; i++) {
		pthread_join(th[i], NULL);
		stored += a[i].stored;
		duplicate += a[i].duplicate;
		failed += a[i].failed;
		jobs += a[i].jobs;
	}
	assert_int_equal(failed, 0);
	assert_int_equal(stored, n);
	assert_int_equal(duplicate, n);
	assert_int_equal(jobs, n * CE_JOBS);
	assert_counts(fx, n * CE_JOBS, 0, 0, 0);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM deliveries"), n);
}

#define CL_THREADS 8
#define CL_USERS 40
#define CL_JOBS 5

struct cl_shared {
	struct store *q;
	pthread_mutex_t lock;
	int busy[CL_USERS];	/* users leased right now, under lock */
	int overlap, errors;
	size_t jobs;
};

static void *
cl_run(void *p)
{
	struct cl_shared *s = p;
	struct store_lease l;
	struct timespec pause = { 0, 100000 };
	char err[STORE_ERROR_MAX + 1];
	int rc, u;

	for (;;) {
		rc = store_lease(s->q, LATER, &l, err, sizeof(err));
		if (rc == 0)
			return NULL;
		if (rc == -1) {
			pthread_mutex_lock(&s->lock);
			s->errors++;
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		u = atoi(l.user_id + strlen("user-"));
		pthread_mutex_lock(&s->lock);
		if (s->busy[u] != 0)
			s->overlap++;
		s->busy[u]++;
		s->jobs += l.njobs;
		pthread_mutex_unlock(&s->lock);
		/* leave the user unfinished a little while */
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&s->lock);
		s->busy[u]--;
		pthread_mutex_unlock(&s->lock);
		if (store_complete(s->q, &l) == -1) {
			pthread_mutex_lock(&s->lock);
			s->errors++;
			pthread_mutex_unlock(&s->lock);
		}
		store_lease_free(&l);
	}
}

static void
concurrent_lease(void **state)
{
	struct fixture *fx = *state;
	struct cl_shared s;
	pthread_t th[CL_THREADS];
	char event_id[32], uuid[32], user[32], published[48];
	int i;

	for (i = 0; i < CL_USERS * CL_JOBS; i++) {
		snprintf(event_id, sizeof(event_id), "evt-%d", i);
		snprintf(uuid, sizeof(uuid), "uuid-%d", i);
		snprintf(user, sizeof(user), "user-%d", i % CL_USERS);
		snprintf(published, sizeof(published),
		    "2024-01-01T00:%02d:%02d.000Z", i / 60, i % 60);
		must_enqueue(fx, event_id, uuid, user, published);
	}
	memset(&s, 0, sizeof(s));
	s.q = fx->q;
	pthread_mutex_init(&s.lock, NULL);
	for (i = 0; i < CL_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cl_run, &s), 0);
	for (i = 0; i < CL_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&s.lock);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.overlap, 0);
	assert_int_equal(s.jobs, CL_USERS * CL_JOBS);
	assert_counts(fx, 0, 0, CL_USERS * CL_JOBS, 0);
}

/*
 * Root ignores file modes, so a read-only directory proves nothing here.
 * RLIMIT_FSIZE binds root too: with a limit of 0 every write to the WAL
 * fails (EFBIG), as on a full disk. Lifting it must be enough to recover.
 */
static void
store_failure_recovers(void **state)
{
	struct fixture *fx = *state;
	struct rlimit saved, zero;
	size_t stored = 99;
	enum store_enqueue_result r;
	int writable;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	zero = saved;
	zero.rlim_cur = 0;
	signal(SIGXFSZ, SIG_IGN);
	fx->err[0] = '\0';
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &zero), 0);
	r = enqueue1(fx, "evt-1", "uuid-1", "user-a",
	    "2024-01-01T00:00:01.000Z", &stored);
	writable = store_writable(fx->q);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);

	assert_int_equal(r, STORE_FAILED);
	assert_int_equal(stored, 0);
	assert_non_null(strstr(fx->err, fx->dir));
	assert_int_equal(writable, 0);

	/* space is back: the same delivery, redelivered, is stored */
	assert_int_equal(store_writable(fx->q), 1);
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	assert_counts(fx, 1, 0, 0, 0);
	reopen(fx, STORE_OPEN_SERVER);
	assert_counts(fx, 1, 0, 0, 0);
}

static void
writable_ok(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(store_writable(fx->q), 1);
	assert_int_equal(store_writable(fx->q), 1);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM health"), 1);
}

static int
collect_member(const char *user_id, void *arg)
{
	char *out = arg;

	strcat(out, user_id);
	strcat(out, ",");
	return 0;
}

/* Group push: group remote IDs and names (upsert, durable across a
 * reopen, never truncated), and the memberships groupsync made. */
static void
group_ids(void **state)
{
	struct fixture *fx = *state;
	char rid[STORE_ID_MAX + 1], name[256], small[3];

	assert_int_equal(store_group_get(fx->q, "00g1", rid, sizeof(rid), name, sizeof(name)),
	    0);
	assert_int_equal(store_group_put(fx->q, "00g1", "g-1", "Sales"), 0);
	assert_int_equal(store_group_put(fx->q, "00g1", "g-1", "Sales EMEA"), 0);
	assert_int_equal(store_member_get(fx->q, "00g1", "user-a"), 0);
	assert_int_equal(store_member_put(fx->q, "00g1", "user-a", 1), 0);
	assert_int_equal(store_member_put(fx->q, "00g1", "user-a", 1), 0);
	assert_int_equal(store_member_put(fx->q, "00g2", "user-b", 1), 0);
	reopen(fx, STORE_OPEN_SERVER);
	assert_int_equal(store_group_get(fx->q, "00g1", rid, sizeof(rid), name, sizeof(name)),
	    1);
	assert_string_equal(rid, "g-1");
	assert_string_equal(name, "Sales EMEA");
	assert_int_equal(store_group_get(fx->q, "00g1", small, sizeof(small), name,
	    sizeof(name)), -1);
	assert_int_equal(store_member_get(fx->q, "00g1", "user-a"), 1);
	assert_int_equal(store_member_get(fx->q, "00g2", "user-a"), 0);
	assert_int_equal(store_member_put(fx->q, "00g1", "user-a", 0), 0);
	assert_int_equal(store_member_put(fx->q, "00g1", "user-a", 0), 0);
	assert_int_equal(store_member_get(fx->q, "00g1", "user-a"), 0);
	assert_int_equal(store_member_get(fx->q, "00g2", "user-b"), 1);
	{
		char seen[128] = "";

		assert_int_equal(store_member_put(fx->q, "00g2", "user-0", 1), 0);
		assert_int_equal(store_member_each(fx->q, "00g2", collect_member, seen), 0);
		assert_string_equal(seen, "user-0,user-b,"); /* in user ID order */
		seen[0] = '\0';
		assert_int_equal(store_member_each(fx->q, "00g1", collect_member, seen), 0);
		assert_string_equal(seen, "");
	}
}

static void
remote_ids(void **state)
{
	struct fixture *fx = *state;
	char rid[STORE_ID_MAX + 1], hash[65], small[4];

	assert_int_equal(store_remote_get(fx->q, "user-a", rid, sizeof(rid),
	    hash, sizeof(hash)), 0);
	assert_int_equal(store_remote_put(fx->q, "user-a", "r-1", "h1"), 0);
	assert_int_equal(store_remote_put(fx->q, "user-b", "r-2", "h2"), 0);
	assert_int_equal(store_remote_get(fx->q, "user-a", rid, sizeof(rid),
	    hash, sizeof(hash)), 1);
	assert_string_equal(rid, "r-1");
	assert_string_equal(hash, "h1");

	/* upsert */
	assert_int_equal(store_remote_put(fx->q, "user-a", "r-10", "h10"), 0);
	reopen(fx, STORE_OPEN_SERVER);
	assert_int_equal(store_remote_get(fx->q, "user-a", rid, sizeof(rid),
	    hash, sizeof(hash)), 1);
	assert_string_equal(rid, "r-10");
	assert_string_equal(hash, "h10");
	assert_int_equal(db_int(fx, "SELECT count(*) FROM remote_ids"), 2);

	/* a remote ID that does not fit is an error, never a truncated ID */
	assert_int_equal(store_remote_get(fx->q, "user-a", small,
	    sizeof(small), hash, sizeof(hash)), -1);

	assert_int_equal(store_remote_delete(fx->q, "user-a"), 0);
	assert_int_equal(store_remote_delete(fx->q, "user-a"), 0);
	assert_int_equal(store_remote_get(fx->q, "user-a", rid, sizeof(rid),
	    hash, sizeof(hash)), 0);
	assert_int_equal(store_remote_get(fx->q, "user-b", rid, sizeof(rid),
	    hash, sizeof(hash)), 1);
	assert_string_equal(rid, "r-2");
}

static void
counts_and_age(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;
	int64_t age = -1, t0, t1;

	assert_counts(fx, 0, 0, 0, 0);
	assert_int_equal(store_oldest_pending_ms(fx->q, util_now_ms(), &age), 0);
	assert_int_equal(age, 0);

	t0 = util_now_ms();
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	t1 = util_now_ms();
	must_enqueue(fx, "evt-2", "uuid-2", "user-b", "2024-01-01T00:00:02.000Z");
	must_enqueue(fx, "evt-3", "uuid-3", "user-c", "2024-01-01T00:00:03.000Z");
	must_enqueue(fx, "evt-4", "uuid-4", "user-d", "2024-01-01T00:00:04.000Z");
	assert_int_equal(store_oldest_pending_ms(fx->q, t1 + 10000, &age), 0);
	assert_true(age >= 10000 && age <= 10000 + (t1 - t0));
	/* a clock behind the stored time is age 0, not negative */
	assert_int_equal(store_oldest_pending_ms(fx->q, t0 - 1000, &age), 0);
	assert_int_equal(age, 0);

	must_lease(fx, LATER, &l, "user-a", 1);
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-b", 1);
	assert_int_equal(store_dead(fx->q, &l, "HTTP 404"), 0);
	store_lease_free(&l);
	must_lease(fx, LATER, &l, "user-c", 1);
	store_lease_free(&l);
	assert_counts(fx, 1, 1, 1, 1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(open_close_reopen, setup, teardown),
	cmocka_unit_test_setup_teardown(open_bad_dir, setup, teardown),
	cmocka_unit_test_setup_teardown(open_newer_schema, setup, teardown),
	cmocka_unit_test_setup_teardown(open_unknown_scheme, setup, teardown),
	cmocka_unit_test_setup_teardown(enqueue_stores_jobs, setup, teardown),
	cmocka_unit_test_setup_teardown(duplicate_delivery, setup, teardown),
	cmocka_unit_test_setup_teardown(duplicate_uuid, setup, teardown),
	cmocka_unit_test_setup_teardown(empty_event_id, setup, teardown),
	cmocka_unit_test_setup_teardown(lease_empty, setup, teardown),
	cmocka_unit_test_setup_teardown(lease_oldest_first, setup, teardown),
	cmocka_unit_test_setup_teardown(lease_per_user, setup, teardown),
	cmocka_unit_test_setup_teardown(lease_coalesces, setup, teardown),
	cmocka_unit_test_setup_teardown(not_before_respected, setup, teardown),
	cmocka_unit_test_setup_teardown(retry_attempts, setup, teardown),
	cmocka_unit_test_setup_teardown(dead_letter, setup, teardown),
	cmocka_unit_test_setup_teardown(complete_done, setup, teardown),
	cmocka_unit_test_setup_teardown(prune_old, setup, teardown),
	cmocka_unit_test_setup_teardown(release_lease, setup, teardown),
	cmocka_unit_test_setup_teardown(recover_leases_server, setup, teardown),
	cmocka_unit_test_setup_teardown(keep_leases_admin, setup, teardown),
	cmocka_unit_test_setup_teardown(admin_alongside_server, setup, teardown),
	cmocka_unit_test_setup_teardown(concurrent_enqueue, setup, teardown),
	cmocka_unit_test_setup_teardown(concurrent_lease, setup, teardown),
	cmocka_unit_test_setup_teardown(store_failure_recovers, setup, teardown),
	cmocka_unit_test_setup_teardown(writable_ok, setup, teardown),
	cmocka_unit_test_setup_teardown(group_ids, setup, teardown),
	cmocka_unit_test_setup_teardown(remote_ids, setup, teardown),
	cmocka_unit_test_setup_teardown(counts_and_age, setup, teardown),
};

GS_UNIT_MAIN(tests)
