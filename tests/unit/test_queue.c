/*
 * Unit tests of the store against a real backend: SQLite in a fresh
 * temporary directory per case (unit.test_queue.*), and PostgreSQL in a
 * fresh database per case on a private cluster (unit.store_pg.*): see
 * queue_fixture.h. A case that means something for one backend only says
 * so and is skipped on the other.
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
#include <stdatomic.h>
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
	fx->q = fx_open(fx, mode);
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

#define db_int fx_db_int
#define db_exec fx_db_exec

static void
open_close_reopen(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];

	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	reopen(fx, STORE_OPEN_SERVER);
	assert_counts(fx, 1, 0, 0, 0);
	reopen(fx, STORE_OPEN_ADMIN);
	assert_counts(fx, 1, 0, 0, 0);
	if (fx_is_pg(fx)) {
		assert_int_equal(db_int(fx, "SELECT version FROM schema_version"), 4); /* 4: snapshots */
		assert_int_equal(db_int(fx, "SELECT count(*) FROM schema_version"), 1);
		return;
	}
	snprintf(path, sizeof(path), "%s/groupsync.db", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
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

	FX_ONLY_SQLITE(fx, "a data directory");
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
	if (fx_is_pg(fx)) {
		/* a newer groupsync migrated the database */
		assert_int_equal(db_int(fx, "SELECT version FROM schema_version"), 4);
		db_exec(fx, "UPDATE schema_version SET version = 99");
	} else {
		assert_int_equal(db_int(fx, "PRAGMA user_version"), 1);
		db_exec(fx, "PRAGMA user_version = 99");
	}
	assert_null(fx_open(fx, STORE_OPEN_SERVER));
	assert_non_null(strstr(fx->err, "schema version 99"));
	assert_non_null(strstr(fx->err, fx_is_pg(fx) ?
	    "newer than this groupsync supports (4)" : "newer than this groupsync supports (1)"));
	assert_non_null(strstr(fx->err, fx_is_pg(fx) ? fx->db : fx->dir));
	/* an admin command refuses it as well */
	assert_null(fx_open(fx, STORE_OPEN_ADMIN));
	assert_non_null(strstr(fx->err, "schema version 99"));
}

/* A URI picks the backend of its scheme; the refusal of an unknown one
 * names the scheme, never the rest (it may hold a password). */
static void
open_unknown_scheme(void **state)
{
	struct fixture *fx = *state;

	assert_null(store_open_at("mysql://gs:s3cret@db.example/groupsync",
	    STORE_OPEN_SERVER, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "mysql://"));
	assert_null(strstr(fx->err, "s3cret"));
	assert_null(strstr(fx->err, "db.example"));
}

/* A database that cannot be reached: the message names it, by its user,
 * host, port and database, and never quotes the password. */
static void
open_pg_unreachable(void **state)
{
	struct fixture *fx = *state;
	static const char *const uris[] = {
	    "postgresql://gs:s3cret@127.0.0.1:1/groupsync?connect_timeout=2",
	    "postgres://gs:s3cret@127.0.0.1:1/groupsync",
	};
	size_t i;

	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		assert_null(store_open_at(uris[i], STORE_OPEN_SERVER, fx->err, sizeof(fx->err)));
		assert_non_null(strstr(fx->err, "postgresql://gs@127.0.0.1:1/groupsync"));
		assert_null(strstr(fx->err, "s3cret"));
	}
	/* nor when libpq cannot read the URI */
	assert_null(store_open_at("postgresql://gs:s3cret@127.0.0.1:1/groupsync?nosuch=%zz",
	    STORE_OPEN_SERVER, fx->err, sizeof(fx->err)));
	assert_null(strstr(fx->err, "s3cret"));
	assert_null(strstr(fx->err, "%zz"));
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

/*
 * The process dies holding a lease. SQLite: the next server start
 * releases it. PostgreSQL: other replicas may be working, so a start
 * releases only leases that expired, which one nobody renews does.
 */
static void
recover_leases_server(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	fx->lease_ms = 1000;
	reopen(fx, STORE_OPEN_SERVER);
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
	store_close(fx->q); /* the process dies: nobody renews the lease */
	fx->q = NULL;
	if (fx_is_pg(fx)) {
		/* a replica that starts meanwhile leaves the live lease */
		reopen(fx, STORE_OPEN_SERVER);
		assert_counts(fx, 0, 1, 0, 0);
		must_not_lease(fx, LATER);
		store_close(fx->q);
		fx->q = NULL;
		fx_sleep_ms(fx->lease_ms + 200);
	}
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

	fx->lease_ms = 2000;
	reopen(fx, STORE_OPEN_SERVER);
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &l, "user-a", 1);
	store_lease_free(&l);
	reopen(fx, STORE_OPEN_ADMIN);
	assert_counts(fx, 0, 1, 0, 0);
	must_not_lease(fx, LATER);
	store_close(fx->q);
	fx->q = NULL;
	if (fx_is_pg(fx))
		fx_sleep_ms(fx->lease_ms + 200);
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
	admin = fx_open(fx, STORE_OPEN_ADMIN);
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

/* Two server handles on one store: two replicas (PostgreSQL), or a
 * server and a second one opened beside it (SQLite). */
struct cl_shared {
	struct store *q[2];
	atomic_int next;	/* which handle the next thread takes */
	pthread_mutex_t lock;
	int busy[CL_USERS];	/* users leased right now, under lock */
	int overlap, errors;
	size_t jobs;
};

static void *
cl_run(void *p)
{
	struct cl_shared *s = p;
	struct store *q = s->q[atomic_fetch_add(&s->next, 1) % 2];
	struct store_lease l;
	struct timespec pause = { 0, 100000 };
	char err[STORE_ERROR_MAX + 1];
	int rc, u;

	for (;;) {
		rc = store_lease(q, LATER, &l, err, sizeof(err));
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
		if (store_complete(q, &l) == -1) {
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
	s.q[0] = fx->q;
	s.q[1] = fx_open(fx, STORE_OPEN_SERVER);
	assert_non_null(s.q[1]);
	atomic_init(&s.next, 0);
	pthread_mutex_init(&s.lock, NULL);
	for (i = 0; i < CL_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cl_run, &s), 0);
	for (i = 0; i < CL_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&s.lock);
	store_close(s.q[1]);
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

	FX_ONLY_SQLITE(fx, "a file size limit; store_unreachable_recovers is PostgreSQL's");
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

/*
 * PostgreSQL unreachable (here: the database refuses connections and
 * drops the ones it had, as in a restart): intake's commit fails, so
 * deliveries are answered 503, and readiness says so; once it takes
 * connections again, the store works again without being reopened.
 */
static void
store_unreachable_recovers(void **state)
{
	struct fixture *fx = *state;
	char sql[256];
	size_t stored = 99;
	int64_t c[4];

	FX_ONLY_PG(fx, "a database server; store_failure_recovers is SQLite's");
	must_enqueue(fx, "evt-0", "uuid-0", "user-a", "2024-01-01T00:00:00.000Z");
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", fx->db);
	assert_int_equal(fx_pg_admin(sql), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE datname = '%s'", fx->db);
	assert_int_equal(fx_pg_admin(sql), 0);

	fx->err[0] = '\0';
	assert_int_equal(enqueue1(fx, "evt-1", "uuid-1", "user-a",
	    "2024-01-01T00:00:01.000Z", &stored), STORE_FAILED);
	assert_int_equal(stored, 0);
	assert_non_null(strstr(fx->err, fx->db));
	assert_int_equal(store_writable(fx->q), 0);
	assert_int_equal(store_counts(fx->q, c), -1);

	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", fx->db);
	assert_int_equal(fx_pg_admin(sql), 0);
	assert_int_equal(store_writable(fx->q), 1);
	/* the same delivery, redelivered, is stored */
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	assert_counts(fx, 2, 0, 0, 0);
}

/*
 * Two replicas: a lease is the holder's for as long as it renews it
 * (longer than the lease itself); once the holder is gone, the user goes
 * to the other replica within the lease, and an outcome the old holder
 * sends late changes nothing.
 */
static void
lease_expires_to_replica(void **state)
{
	struct fixture *fx = *state;
	struct store *b, *a2;
	struct store_lease la, lb;

	FX_ONLY_PG(fx, "replicas on one database");
	fx->lease_ms = 600;
	reopen(fx, STORE_OPEN_SERVER);
	b = fx_open(fx, STORE_OPEN_SERVER);
	assert_non_null(b);
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_lease(fx, LATER, &la, "user-a", 1);
	assert_int_equal(store_lease(b, LATER, &lb, fx->err, sizeof(fx->err)), 0);
	fx_sleep_ms(3 * fx->lease_ms);
	/* renewed all along */
	assert_int_equal(store_lease(b, LATER, &lb, fx->err, sizeof(fx->err)), 0);
	assert_counts(fx, 0, 1, 0, 0);

	store_close(fx->q); /* replica A dies holding user-a */
	fx->q = NULL;
	fx_sleep_ms(fx->lease_ms + 400);
	assert_int_equal(store_lease(b, LATER, &lb, fx->err, sizeof(fx->err)), 1);
	assert_string_equal(lb.user_id, "user-a");
	assert_int_equal(lb.njobs, 1);
	assert_int_equal(lb.jobs[0].id, la.jobs[0].id);
	assert_int_equal(lb.jobs[0].attempts, 0);
	assert_true(lb.token != la.token);

	/* A's outcome, late: nothing */
	a2 = fx_open(fx, STORE_OPEN_SERVER);
	assert_non_null(a2);
	assert_int_equal(store_complete(a2, &la), 0);
	assert_int_equal(store_retry(a2, &la, 0, "late"), 0);
	fx->q = a2;
	assert_counts(fx, 0, 1, 0, 0);
	assert_int_equal(store_complete(b, &lb), 0);
	assert_counts(fx, 0, 0, 1, 0);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM jobs WHERE last_error = 'late'"), 0);
	store_lease_free(&la);
	store_lease_free(&lb);
	store_close(b);
}

#define OC_REPLICAS 8

struct oc_arg {
	const char *loc;
	struct store *q;
	char err[STORE_ERROR_MAX + 1];
};

static void *
oc_run(void *p)
{
	struct oc_arg *a = p;

	a->q = store_open_at(a->loc, STORE_OPEN_SERVER, a->err, sizeof(a->err));
	return NULL;
}

/* Replicas that start together on a new database: one creates the
 * schema, the others wait for it and find it made. */
static void
open_concurrently(void **state)
{
	struct fixture *fx = *state;
	struct oc_arg a[OC_REPLICAS];
	pthread_t th[OC_REPLICAS];
	struct fixture other;
	int i;

	FX_ONLY_PG(fx, "replicas on one database");
	memset(&other, 0, sizeof(other));
	assert_int_equal(fx_pg_create(other.db, sizeof(other.db), other.loc,
	    sizeof(other.loc)), 0);
	for (i = 0; i < OC_REPLICAS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].loc = other.loc;
		assert_int_equal(pthread_create(&th[i], NULL, oc_run, &a[i]), 0);
	}
	for (i = 0; i < OC_REPLICAS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < OC_REPLICAS; i++) {
		if (a[i].q == NULL)
			fail_msg("replica %d: %s", i, a[i].err);
		store_close(a[i].q);
	}
	assert_int_equal(fx_db_int(&other, "SELECT count(*) FROM schema_version"), 1);
	fx_pg_drop(other.db);
}

/* Jobs another replica stores wake this one's idle workers at once
 * (LISTEN/NOTIFY), not after their idle wait. */
static void
notify_wakes_replica(void **state)
{
	struct fixture *fx = *state;
	struct store *b;
	struct store_job_in j;
	uint64_t seq;
	size_t stored;
	int64_t t0;

	FX_ONLY_PG(fx, "replicas on one database");
	b = fx_open(fx, STORE_OPEN_SERVER);
	assert_non_null(b);
	fx_sleep_ms(300); /* the keeper of fx->q listens */
	seq = store_work_seq(fx->q);
	job_init(&j, "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	t0 = util_now_ms();
	assert_int_equal(store_enqueue(b, "evt-1", &j, 1, &stored, fx->err, sizeof(fx->err)),
	    STORE_STORED);
	store_wait_work(fx->q, seq, 10000);
	assert_true(store_work_seq(fx->q) != seq);
	assert_true(util_now_ms() - t0 < 5000);
	store_close(b);
}

/*
 * store migrate: a SQLite store with a job in each state, delivery IDs,
 * remote IDs and group push's maps, copied into the case's (empty)
 * PostgreSQL store: the same jobs under the same IDs (the leased one
 * pending), the eventIds still duplicates, the remote IDs, group remote
 * IDs and memberships there; a second copy is refused, also into a store
 * that holds group map rows only. SQLite is no target.
 */
static void
copy_sqlite_store(void **state)
{
	struct fixture *fx = *state;
	struct fixture src;
	struct store_copy_counts n;
	struct store_job_info info;
	struct store_lease l;
	struct store *to;
	char rid[STORE_ID_MAX + 1], hash[65], name[64];
	size_t stored = 99;

	memset(&src, 0, sizeof(src));
	strcpy(src.dir, "/tmp/gs-test-copy-XXXXXX");
	assert_non_null(mkdtemp(src.dir));
	strcpy(src.loc, src.dir);
	src.q = fx_open(&src, STORE_OPEN_SERVER);
	assert_non_null(src.q);
	must_enqueue(&src, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_enqueue(&src, "evt-2", "uuid-2", "user-b", "2024-01-01T00:00:02.000Z");
	must_enqueue(&src, "evt-3", "uuid-3", "user-c", "2024-01-01T00:00:03.000Z");
	must_enqueue(&src, "evt-4", "uuid-4", "user-d", "2024-01-01T00:00:04.000Z");
	must_lease(&src, LATER, &l, "user-a", 1);
	assert_int_equal(store_complete(src.q, &l), 0);
	store_lease_free(&l);
	must_lease(&src, LATER, &l, "user-b", 1);
	assert_int_equal(store_dead(src.q, &l, "HTTP 400"), 0);
	store_lease_free(&l);
	must_lease(&src, LATER, &l, "user-c", 1); /* held when the copy runs */
	store_lease_free(&l);
	assert_int_equal(store_remote_put(src.q, "user-a", "r-1", "h1"), 0);
	assert_int_equal(store_group_put(src.q, "00g-1", "rg-1", "Sales"), 0);
	assert_int_equal(store_group_put(src.q, "00g-2", "rg-2", "Ops"), 0);
	assert_int_equal(store_member_put(src.q, "00g-1", "user-a", 1), 0);
	assert_int_equal(store_member_put(src.q, "00g-2", "user-a", 1), 0);
	assert_int_equal(store_member_put(src.q, "00g-2", "user-d", 1), 0);

	to = fx_open(fx, STORE_OPEN_ADMIN);
	assert_non_null(to);
	if (!fx_is_pg(fx)) {
		assert_int_equal(store_copy(src.q, to, &n, fx->err, sizeof(fx->err)), -1);
		assert_non_null(strstr(fx->err, "not supported"));
		goto out;
	}
	assert_int_equal(store_copy(src.q, to, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n.jobs[STORE_PENDING], 2);
	assert_int_equal(n.jobs[STORE_LEASED], 0);
	assert_int_equal(n.jobs[STORE_DONE], 1);
	assert_int_equal(n.jobs[STORE_DEAD], 1);
	assert_int_equal(n.deliveries, 4);
	assert_int_equal(n.remote_ids, 1);
	assert_int_equal(n.groups, 2);
	assert_int_equal(n.group_members, 3);
	assert_counts(fx, 2, 0, 1, 1);
	assert_int_equal(store_group_get(fx->q, "00g-2", rid, sizeof(rid), name, sizeof(name)), 1);
	assert_string_equal(rid, "rg-2");
	assert_string_equal(name, "Ops");
	assert_int_equal(store_member_get(fx->q, "00g-2", "user-d"), 1);
	assert_int_equal(store_member_get(fx->q, "00g-1", "user-d"), 0);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM group_members"), 3);
	assert_int_equal(store_admin_get(to, 2, &info, fx->err, sizeof(fx->err)), 1);
	assert_string_equal(info.job.uuid, "uuid-2");
	assert_int_equal(info.job.state, STORE_DEAD);
	assert_string_equal(info.job.last_error, "HTTP 400");
	assert_int_equal(store_remote_get(fx->q, "user-a", rid, sizeof(rid), hash,
	    sizeof(hash)), 1);
	assert_string_equal(rid, "r-1");
	assert_string_equal(hash, "h1");
	/* a redelivery is still a duplicate; new jobs get new IDs */
	assert_int_equal(enqueue1(fx, "evt-4", "uuid-9", "user-x", "2024-01-01T00:00:09.000Z",
	    &stored), STORE_DUPLICATE);
	must_enqueue(fx, "evt-5", "uuid-5", "user-e", "2024-01-01T00:00:05.000Z");
	assert_int_equal(db_int(fx, "SELECT max(id) FROM jobs"), 5);
	/* the job that was leased is pending, and leased again */
	must_lease(fx, LATER, &l, "user-c", 1);
	assert_int_equal(l.jobs[0].id, 3);
	store_lease_free(&l);
	/* never into a store that holds anything, group map rows included */
	assert_int_equal(store_copy(src.q, to, &n, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "is not empty"));
	db_exec(fx, "DELETE FROM jobs; DELETE FROM deliveries; DELETE FROM remote_ids;"
	    " DELETE FROM group_remote_ids");
	assert_int_equal(store_copy(src.q, to, &n, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "3 group map rows"));
out:
	store_close(to);
	store_close(src.q);
	unit_remove_dir(src.dir);
}

/* Periodic work (reconcile, pruning): one replica of a shared store a
 * period; the only server of a SQLite store always. */
static void
claim_once_among_replicas(void **state)
{
	struct fixture *fx = *state;
	struct store *b = fx_open(fx, STORE_OPEN_SERVER);

	assert_non_null(b);
	assert_int_equal(store_claim(fx->q, "reconcile", 60000), 1);
	assert_int_equal(store_claim(b, "reconcile", 60000), fx_is_pg(fx) ? 0 : 1);
	assert_int_equal(store_claim(fx->q, "reconcile", 60000), fx_is_pg(fx) ? 0 : 1);
	/* another task is claimed on its own */
	assert_int_equal(store_claim(b, "prune", 60000), 1);
	/* once the period has passed, whoever asks first */
	fx_sleep_ms(50);
	assert_int_equal(store_claim(b, "reconcile", 40), 1);
	assert_int_equal(store_claim(fx->q, "reconcile", 40), fx_is_pg(fx) ? 0 : 1);
	store_close(b);
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

/*
 * Issue 13 §2: `groupsync sync USER` leases the user through the store:
 * refused (nothing stored) while a worker holds the user, then its job
 * and the user's pending jobs are leased together, and no worker can
 * lease that user until it ends.
 */
static void
lease_user_beside_workers(void **state)
{
	struct fixture *fx = *state;
	struct store_lease w, cli, other;
	struct store_job_in job;
	struct store *adm;
	int64_t counts[4];
	size_t n;

	adm = fx_open(fx, STORE_OPEN_ADMIN);
	assert_non_null(adm);
	assert_int_equal(enqueue1(fx, "", "u-1", "jane", "2024-01-01T00:00:01Z", &n),
	    STORE_STORED);
	job_init(&job, "sync-1", "jane", "2024-01-01T00:00:09Z");
	strcpy(job.event_type, "groupsync.sync");

	/* a worker holds jane: the operator's sync waits, nothing stored */
	assert_int_equal(store_lease(fx->q, LATER, &w, fx->err, sizeof(fx->err)), 1);
	assert_int_equal(store_lease_user(adm, &job, LATER, &cli, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(store_counts(fx->q, counts), 0);
	assert_int_equal(counts[STORE_LEASED], 1);
	assert_int_equal(counts[STORE_PENDING], 0);
	assert_int_equal(store_complete(fx->q, &w), 0);
	store_lease_free(&w);

	/* free now: its job and jane's pending one, leased together */
	assert_int_equal(enqueue1(fx, "", "u-2", "jane", "2024-01-01T00:00:02Z", &n),
	    STORE_STORED);
	assert_int_equal(store_lease_user(adm, &job, LATER, &cli, fx->err,
	    sizeof(fx->err)), 1);
	assert_string_equal(cli.user_id, "jane");
	assert_int_equal(cli.njobs, 2);
	assert_string_equal(cli.jobs[0].uuid, "u-2");
	assert_string_equal(cli.jobs[1].uuid, "sync-1");
	assert_string_equal(cli.jobs[1].event_type, "groupsync.sync");
	/* a worker gets nothing of jane's while the operator's sync runs */
	assert_int_equal(enqueue1(fx, "", "u-3", "jane", "2024-01-01T00:00:03Z", &n),
	    STORE_STORED);
	assert_int_equal(store_lease(fx->q, LATER, &other, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(store_complete(adm, &cli), 0);
	store_lease_free(&cli);
	assert_int_equal(store_lease(fx->q, LATER, &other, fx->err, sizeof(fx->err)), 1);
	assert_string_equal(other.jobs[0].uuid, "u-3");
	store_lease_free(&other);
	store_close(adm);
}

/*
 * Issue 13 §4: a held deprovision never falls due and holds its user's
 * later jobs back, is left out of the oldest pending age, is counted, and
 * once released is due at once and marked as released.
 */
static void
hold_and_release(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;
	int64_t n, age;
	size_t stored;

	assert_int_equal(enqueue1(fx, "", "u-1", "jane", "2024-01-01T00:00:01Z", &stored),
	    STORE_STORED);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	assert_int_equal(store_hold(fx->q, &l, "held: over 1"), 0);
	store_lease_free(&l);
	assert_int_equal(store_count_held(fx->q, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_oldest_pending_ms(fx->q, LATER, &age), 0);
	assert_int_equal(age, 0);
	/* jane's next event waits behind the held job */
	assert_int_equal(enqueue1(fx, "", "u-2", "jane", "2024-01-01T00:00:02Z", &stored),
	    STORE_STORED);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 0);

	assert_int_equal(store_admin_release_held(fx->q, 0, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_count_held(fx->q, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	assert_int_equal(l.njobs, 2);
	assert_string_equal(l.jobs[0].uuid, "u-1");
	assert_true(l.jobs[0].not_before_ms == STORE_RELEASED_NOT_BEFORE);
	assert_string_equal(l.jobs[0].last_error, "held: over 1");
	store_lease_free(&l);
}

/*
 * Issue 13 §4: `queue retry` of a held (or released) deprovision makes it
 * due at once as a release does, and keeps the released mark: the worker
 * must not hold it again. A dead job retried gets no such mark.
 */
static void
retry_held_stays_released(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;
	enum store_state st;
	int64_t id, n;
	size_t stored;

	assert_int_equal(enqueue1(fx, "", "u-1", "jane", "2024-01-01T00:00:01Z", &stored),
	    STORE_STORED);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	id = l.jobs[0].id;
	assert_int_equal(store_hold(fx->q, &l, "held: over 1"), 0);
	store_lease_free(&l);
	assert_int_equal(store_admin_retry(fx->q, id, LATER, &st, fx->err, sizeof(fx->err)),
	    STORE_ADMIN_OK);
	assert_int_equal(store_count_held(fx->q, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	assert_true(l.jobs[0].id == id);
	assert_true(l.jobs[0].not_before_ms == STORE_RELEASED_NOT_BEFORE);
	/* given back (shutdown) and retried again: still released */
	assert_int_equal(store_release(fx->q, &l), 0);
	store_lease_free(&l);
	assert_int_equal(store_admin_retry(fx->q, id, LATER, &st, fx->err, sizeof(fx->err)),
	    STORE_ADMIN_OK);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	assert_true(l.jobs[0].not_before_ms == STORE_RELEASED_NOT_BEFORE);
	/* a dead job retried is due now, not marked */
	assert_int_equal(store_dead(fx->q, &l, "gone"), 0);
	store_lease_free(&l);
	assert_int_equal(store_admin_retry(fx->q, id, LATER, &st, fx->err, sizeof(fx->err)),
	    STORE_ADMIN_OK);
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	assert_true(l.jobs[0].not_before_ms == LATER);
	store_lease_free(&l);
}

/*
 * Issue 13 §4: the deprovision threshold is counted by the store, so
 * every process on it (replicas on one PostgreSQL) shares one count over
 * a sliding window.
 */
static void
deprovision_count_shared(void **state)
{
	struct fixture *fx = *state;
	struct store *other = fx_open(fx, STORE_OPEN_ADMIN);

	assert_int_equal(store_deprovision_take(fx->q, 10000, 1000, 2), 1);
	assert_int_equal(store_deprovision_take(other, 10500, 1000, 2), 1);
	/* the other process took the second: this one is over */
	assert_int_equal(store_deprovision_take(fx->q, 10900, 1000, 2), 0);
	assert_int_equal(store_deprovision_take(other, 10900, 1000, 2), 0);
	/* the first has left the window: one more may go */
	assert_int_equal(store_deprovision_take(other, 11000, 1000, 2), 1);
	assert_int_equal(store_deprovision_take(fx->q, 11100, 1000, 2), 0);
	/* a higher limit counts the same records */
	assert_int_equal(store_deprovision_take(fx->q, 11100, 1000, 3), 1);
	assert_int_equal(store_deprovision_take(fx->q, 11100, 1000, 0), 0);
	store_close(other);
}

/* ---- snapshots (store.h) ------------------------------------------------ */

#define OWN_TYPE "groupsync.reconcile"

static void
snap_put1(struct fixture *fx, const char *user, int64_t taken, const char *body)
{
	struct store_snapshot v = {user, taken, body};

	assert_int_equal(store_snapshots_put(fx->q, &v, 1, fx->err, sizeof(fx->err)), 0);
}

/* 1 with the body checked against want, or take's answer. */
static int
snap_take(struct fixture *fx, const char *user, const char *own, int64_t *taken,
    const char *want)
{
	char *body = (char *)"unset";
	int rc = store_snapshot_take(fx->q, user, own, taken, &body);

	if (rc == 1) {
		assert_non_null(body);
		if (want != NULL)
			assert_string_equal(body, want);
		free(body);
	} else {
		assert_null(body);
	}
	return rc;
}

/* A fresh snapshot is taken once: the take deletes it. */
static void
snapshot_put_take(void **state)
{
	struct fixture *fx = *state;
	int64_t taken = 0, t = util_now_ms();

	snap_put1(fx, "user-a", t, "{\"user\":{\"id\":\"user-a\"},\"groups\":[]}");
	assert_int_equal(snap_take(fx, "user-b", NULL, &taken, NULL), 0);
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken,
	    "{\"user\":{\"id\":\"user-a\"},\"groups\":[]}"), 1);
	assert_true(taken == t);
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken, NULL), 0);
}

/* A job stored at or after the listing began makes the snapshot stale
 * (and it goes all the same); one stored before does not; a job of the
 * caller's own type never does. */
static void
snapshot_stale(void **state)
{
	struct fixture *fx = *state;
	struct store_job_in j;
	int64_t taken = 0, before = util_now_ms() - 1000, t;
	size_t stored = 0;

	must_enqueue(fx, "", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	snap_put1(fx, "user-a", before, "{}");
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken, NULL), 0);
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken, NULL), 0); /* deleted */

	/* the job came first, the listing after it: fresh */
	t = util_now_ms() + 1;
	snap_put1(fx, "user-a", t, "{\"fresh\":1}");
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken, "{\"fresh\":1}"), 1);

	/* the reconcile's own job, stored after its listing began */
	job_init(&j, "uuid-2", "user-c", "2024-01-01T00:00:02.000Z");
	strcpy(j.event_type, OWN_TYPE);
	snap_put1(fx, "user-c", before, "{\"c\":1}");
	assert_int_equal(store_enqueue(fx->q, "", &j, 1, &stored, fx->err, sizeof(fx->err)),
	    STORE_STORED);
	assert_int_equal(snap_take(fx, "user-c", OWN_TYPE, &taken, "{\"c\":1}"), 1);
	snap_put1(fx, "user-c", before, "{\"c\":1}");
	assert_int_equal(snap_take(fx, "user-c", NULL, &taken, NULL), 0);
	/* the own type excuses only its own jobs */
	snap_put1(fx, "user-a", before, "{}");
	assert_int_equal(snap_take(fx, "user-a", OWN_TYPE, &taken, NULL), 0);
}

/* An older listing never replaces a newer one; a newer one does. */
static void
snapshot_older_never_replaces(void **state)
{
	struct fixture *fx = *state;
	struct store_snapshot v[2];
	int64_t taken = 0, t = util_now_ms() + 60000;

	snap_put1(fx, "user-a", t, "{\"n\":2}");
	snap_put1(fx, "user-a", t - 1000, "{\"n\":1}");
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken, "{\"n\":2}"), 1);
	assert_true(taken == t);

	snap_put1(fx, "user-a", t - 1000, "{\"n\":1}");
	snap_put1(fx, "user-a", t, "{\"n\":2}");
	assert_int_equal(snap_take(fx, "user-a", NULL, &taken, "{\"n\":2}"), 1);

	/* the same user twice in one batch: the newer wins */
	v[0] = (struct store_snapshot){"user-b", t, "{\"n\":2}"};
	v[1] = (struct store_snapshot){"user-b", t - 5, "{\"n\":1}"};
	assert_int_equal(store_snapshots_put(fx->q, v, 2, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(snap_take(fx, "user-b", NULL, &taken, "{\"n\":2}"), 1);
}

/* A batch is one call whatever its size; the prune drops snapshots older
 * than STORE_SNAPSHOT_KEEP_MS and keeps the others. */
static void
snapshot_batch_and_prune(void **state)
{
	struct fixture *fx = *state;
	enum { N = 1200 };
	struct store_snapshot *v = calloc(N, sizeof(*v));
	char (*ids)[16] = calloc(N, sizeof(*ids));
	int64_t now = util_now_ms(), taken = 0;
	size_t i;

	assert_non_null(v);
	assert_non_null(ids);
	for (i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "user-%04zu", i);
		v[i].user_id = ids[i];
		/* the first half an hour and more old */
		v[i].taken_ms = i < N / 2 ? now - STORE_SNAPSHOT_KEEP_MS - 1000 : now;
		v[i].body = "{\"user\":{},\"groups\":[]}";
	}
	assert_int_equal(store_snapshots_put(fx->q, v, N, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM user_snapshots"), N);
	assert_true(store_prune(fx->q, 0) >= N / 2);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM user_snapshots"), N / 2);
	assert_int_equal(snap_take(fx, "user-0000", NULL, &taken, NULL), 0);
	assert_int_equal(snap_take(fx, "user-1199", NULL, &taken, NULL), 1);
	free(v);
	free(ids);
}

/* The backlog: distinct users with a ready pending job stored since a
 * time, not of the own type, without a snapshot. */
static void
backlog_users_count(void **state)
{
	struct fixture *fx = *state;
	struct store_job_in j;
	struct store_lease l;
	int64_t n = -1, t0 = util_now_ms();
	size_t stored = 0;

	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE, NULL, &n), 0);
	assert_int_equal(n, 0);
	must_enqueue(fx, "", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	must_enqueue(fx, "", "uuid-2", "user-a", "2024-01-01T00:00:02.000Z");
	must_enqueue(fx, "", "uuid-3", "user-b", "2024-01-01T00:00:03.000Z");
	must_enqueue(fx, "", "uuid-4", "user-c", "2024-01-01T00:00:04.000Z");
	job_init(&j, "uuid-5", "user-d", "2024-01-01T00:00:05.000Z");
	strcpy(j.event_type, OWN_TYPE);
	assert_int_equal(store_enqueue(fx->q, "", &j, 1, &stored, fx->err, sizeof(fx->err)),
	    STORE_STORED);
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE, NULL, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, NULL, NULL, &n), 0);
	assert_int_equal(n, 4);
	/* user-c's job is a profile update with its attributes known */
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE, "group.user_membership.add",
	    &n), 0);
	assert_int_equal(n, 3); /* must_enqueue's jobs say nothing of attributes */
	job_init(&j, "uuid-6", "user-e", "2024-01-01T00:00:06.000Z");
	strcpy(j.changed, "customId");
	j.changed_known = 1;
	assert_int_equal(store_enqueue(fx->q, "", &j, 1, &stored, fx->err, sizeof(fx->err)),
	    STORE_STORED);
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE, NULL, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE,
	    "user.account.update_profile", &n), 0);
	assert_int_equal(n, 3);
	db_exec(fx, "DELETE FROM jobs WHERE uuid = 'uuid-6'");
	/* one has a snapshot now */
	snap_put1(fx, "user-b", t0, "{}");
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE, NULL, &n), 0);
	assert_int_equal(n, 2);
	/* jobs stored before since are covered by a listing that began then */
	assert_int_equal(store_backlog_users(fx->q, LATER, util_now_ms() + 1000, OWN_TYPE, NULL,
	    &n), 0);
	assert_int_equal(n, 0);
	/* a leased user's jobs are not pending */
	assert_int_equal(store_lease(fx->q, LATER, &l, fx->err, sizeof(fx->err)), 1);
	assert_string_equal(l.user_id, "user-a");
	assert_int_equal(store_backlog_users(fx->q, LATER, 0, OWN_TYPE, NULL, &n), 0);
	assert_int_equal(n, 1);
	store_lease_free(&l);
}

/* A database of schema version 3 (before snapshots) is migrated to 4 at
 * open, its jobs kept. */
static void
pg_migrate_v3_snapshots(void **state)
{
	struct fixture *fx = *state;

	FX_ONLY_PG(fx, "schema versions");
	must_enqueue(fx, "evt-1", "uuid-1", "user-a", "2024-01-01T00:00:01.000Z");
	db_exec(fx, "DROP TABLE user_snapshots; UPDATE schema_version SET version = 3");
	reopen(fx, STORE_OPEN_SERVER);
	assert_int_equal(db_int(fx, "SELECT version FROM schema_version"), 4);
	assert_int_equal(db_int(fx, "SELECT count(*) FROM user_snapshots"), 0);
	assert_counts(fx, 1, 0, 0, 0);
	snap_put1(fx, "user-b", util_now_ms(), "{}");
	assert_int_equal(db_int(fx, "SELECT count(*) FROM user_snapshots"), 1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(open_close_reopen, setup, teardown),
	cmocka_unit_test_setup_teardown(deprovision_count_shared, setup, teardown),
	cmocka_unit_test_setup_teardown(retry_held_stays_released, setup, teardown),
	cmocka_unit_test_setup_teardown(lease_user_beside_workers, setup, teardown),
	cmocka_unit_test_setup_teardown(hold_and_release, setup, teardown),
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
	cmocka_unit_test_setup_teardown(open_pg_unreachable, setup, teardown),
	cmocka_unit_test_setup_teardown(store_unreachable_recovers, setup, teardown),
	cmocka_unit_test_setup_teardown(lease_expires_to_replica, setup, teardown),
	cmocka_unit_test_setup_teardown(open_concurrently, setup, teardown),
	cmocka_unit_test_setup_teardown(notify_wakes_replica, setup, teardown),
	cmocka_unit_test_setup_teardown(copy_sqlite_store, setup, teardown),
	cmocka_unit_test_setup_teardown(claim_once_among_replicas, setup, teardown),
	cmocka_unit_test_setup_teardown(snapshot_put_take, setup, teardown),
	cmocka_unit_test_setup_teardown(snapshot_stale, setup, teardown),
	cmocka_unit_test_setup_teardown(snapshot_older_never_replaces, setup, teardown),
	cmocka_unit_test_setup_teardown(snapshot_batch_and_prune, setup, teardown),
	cmocka_unit_test_setup_teardown(backlog_users_count, setup, teardown),
	cmocka_unit_test_setup_teardown(pg_migrate_v3_snapshots, setup, teardown),
};

GS_UNIT_MAIN(tests)
