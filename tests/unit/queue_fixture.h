/*
 * The fixture of the store's unit tests, for either backend: a fresh,
 * empty store per case (setup creates it, teardown removes it), so that
 * each case also runs alone, with a server-mode handle on it. Tests of
 * the operator commands open a second, admin handle on the same store as
 * fx->adm.
 *
 * Which backend: GS_TEST_STORE unset (or empty), SQLite in a temporary
 * directory; a postgresql:// URI (tests/CMakeLists.txt sets one for the
 * unit.store_pg.* cases, on the private cluster tests/pg_cluster.sh
 * runs), a database of its own per case, created on that server and
 * dropped at teardown. fx_db_int / fx_db_exec read and change the store
 * behind its back, as an operator's sqlite3 or psql would.
 */
#ifndef GS_QUEUE_FIXTURE_H
#define GS_QUEUE_FIXTURE_H

#include "unit.h"

#include "groupsync/store/store.h"
#include "groupsync/base/util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

struct fixture {
	char dir[64];      /* SQLite: the temporary directory */
	char db[64];       /* PostgreSQL: the case's database */
	char loc[1024];    /* what store_open_with() is given */
	int lease_ms;      /* 0: the default */
	struct store *q;   /* the service's handle (STORE_OPEN_SERVER) */
	struct store *adm; /* NULL, or an operator's (STORE_OPEN_ADMIN) */
	char err[STORE_ERROR_MAX + 1];
};

/* The PostgreSQL server's URI, or NULL: SQLite. */
static inline const char *
fx_pg_base(void)
{
	const char *s = getenv("GS_TEST_STORE");

	return s != NULL && *s != '\0' ? s : NULL;
}

static inline int
fx_is_pg(const struct fixture *fx)
{
	return fx->db[0] != '\0';
}

/* Skips a case that means something for one backend only. */
#define FX_ONLY_SQLITE(fx, why)                                               \
	do {                                                                  \
		if (fx_is_pg(fx)) {                                           \
			fprintf(stderr, "SQLite only: %s\n", why);            \
			skip();                                               \
		}                                                             \
	} while (0)
#define FX_ONLY_PG(fx, why)                                                   \
	do {                                                                  \
		if (!fx_is_pg(fx)) {                                          \
			fprintf(stderr, "PostgreSQL only: %s\n", why);        \
			skip();                                               \
		}                                                             \
	} while (0)

/* base with its database replaced by db: "scheme://authority/db?query". */
static inline int
fx_pg_uri(char *out, size_t size, const char *base, const char *db)
{
	const char *auth = strstr(base, "://"), *path, *query;

	if (auth == NULL)
		return -1;
	auth += 3;
	query = auth + strcspn(auth, "?");
	path = auth + strcspn(auth, "/?");
	return util_format(out, size, "%.*s/%s%s", (int)(path - base), base, db, query);
}

/* Runs sql on the server's maintenance database: 0 or -1. */
static inline int
fx_pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(fx_pg_base());
	PGresult *r = NULL;
	int ok = PQstatus(c) == CONNECTION_OK;

	if (ok) {
		r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	}
	if (!ok)
		fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* A new, empty database: its name in db and its URI in loc. */
static inline int
fx_pg_create(char *db, size_t dblen, char *loc, size_t loclen)
{
	static atomic_uint n;
	char sql[128];

	if (util_format(db, dblen, "gs_test_%ld_%u", (long)getpid(),
	    atomic_fetch_add(&n, 1)) == -1 ||
	    fx_pg_uri(loc, loclen, fx_pg_base(), db) == -1)
		return -1;
	(void)util_format(sql, sizeof(sql), "CREATE DATABASE %s", db);
	return fx_pg_admin(sql);
}

static inline void
fx_pg_drop(const char *db)
{
	char sql[128];

	(void)util_format(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	(void)fx_pg_admin(sql);
}

/* Opens a handle on the case's store, with fx->lease_ms. */
static inline struct store *
fx_open(struct fixture *fx, int mode)
{
	const struct store_params p = {fx->lease_ms};

	return store_open_with(fx->loc, mode, &p, fx->err, sizeof(fx->err));
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->adm);
	store_close(fx->q);
	if (fx_is_pg(fx))
		fx_pg_drop(fx->db);
	else
		unit_remove_dir(fx->dir);
	free(fx);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	*state = fx;
	if (fx_pg_base() != NULL) {
		if (fx_pg_create(fx->db, sizeof(fx->db), fx->loc, sizeof(fx->loc)) == -1) {
			fx->db[0] = '\0';
			free(fx);
			return -1;
		}
	} else {
		strcpy(fx->dir, "/tmp/gs-test-queue-XXXXXX");
		if (mkdtemp(fx->dir) == NULL) {
			free(fx);
			return -1;
		}
		(void)util_copy(fx->loc, sizeof(fx->loc), fx->dir);
	}
	fx->q = fx_open(fx, STORE_OPEN_SERVER);
	if (fx->q == NULL) {
		fprintf(stderr, "store_open: %s\n", fx->err);
		teardown(state);
		return -1;
	}
	return 0;
}

/* Reads one integer through a connection of its own. */
static inline int64_t
fx_db_int(struct fixture *fx, const char *sql)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	PGconn *c;
	PGresult *r;
	int64_t v;

	if (fx_is_pg(fx)) {
		c = PQconnectdb(fx->loc);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		PQfinish(c);
		return v;
	}
	snprintf(path, sizeof(path), "%s/groupsync.db", fx->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static inline void
fx_db_exec(struct fixture *fx, const char *sql)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	PGconn *c;
	PGresult *r;

	if (fx_is_pg(fx)) {
		c = PQconnectdb(fx->loc);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return;
	}
	snprintf(path, sizeof(path), "%s/groupsync.db", fx->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static inline void
fx_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Stores one membership-add job for user, published at second sec,
 * through the service's handle. */
static inline void
add_job(struct fixture *fx, const char *uuid, const char *user, int sec)
{
	struct store_job_in j;
	size_t stored = 0;

	memset(&j, 0, sizeof(j));
	assert_int_equal(util_copy(j.uuid, sizeof(j.uuid), uuid), 0);
	assert_int_equal(util_copy(j.user_id, sizeof(j.user_id), user), 0);
	strcpy(j.event_type, "group.user_membership.add");
	snprintf(j.published, sizeof(j.published), "2024-01-01T00:00:%02d.000Z", sec);
	strcpy(j.group_id, "00g8sync7AbCdEfGh4x7");
	strcpy(j.changed, "city,zipCode");
	j.changed_known = 1;
	assert_int_equal(store_enqueue(fx->q, "", &j, 1, &stored, fx->err, sizeof(fx->err)),
	    STORE_STORED);
	assert_int_equal(stored, 1);
}

#endif
