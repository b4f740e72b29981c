/*
 * The PostgreSQL backend's operations on jobs: store a batch of
 * deliveries, lease a user's jobs, end a lease, and what the front reads
 * about them (counts, oldest, next due, writable) or prunes. pg.h says
 * how leases work across replicas.
 *
 * Times: received, not_before and later updates are the caller's clock
 * (as on SQLite: the front compares them with its own now); a job's
 * created (and its first updated) and a lease's expiry are the
 * database's (PG_NOW_MS), which every replica
 * shares: a snapshot's time (store_clock_ms) is compared with created
 * across replicas, and their clocks may differ by more than the gap
 * between a listing and an event. The front's comparisons of created
 * with its own now (ages) are off by that difference only.
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

/*
 * A whole batch of deliveries in ONE statement, so one round trip and one
 * plan per commit, however many deliveries share it. $1 the batch as JSON
 * (pg_batch_json), $2 now, $3 our owner (the NOTIFY's payload).
 *
 * b: the deliveries, numbered i in batch order. firsts: the first of each
 * eventId in the batch, whose eventId is recorded unless it is there
 * already (ins); ok: the deliveries that are not duplicates (no eventId,
 * or a newly recorded one). r: their jobs, the first of each uuid (by
 * delivery, then place in it). Each user gets its lease row (u); each job
 * whose uuid is new is stored (jj), in batch order, so that job IDs follow
 * arrival as on SQLite. The NOTIFY (n), delivered at COMMIT, wakes the
 * other replicas' workers. Rows written in key order (eventId, user) keep
 * two replicas' batches from deadlocking on them. Answers, for each
 * delivery that is not a duplicate, its i and the jobs it stored.
 */
static const char pg_batch_sql[] =
	"WITH b AS (SELECT x.i, x.d->>'e' AS e, x.d->'j' AS j"
	" FROM json_array_elements($1::json) WITH ORDINALITY AS x(d, i)),"
	" firsts AS (SELECT DISTINCT ON (e) e, i FROM b WHERE e <> '' ORDER BY e, i),"
	" ins AS (INSERT INTO deliveries(event_id, received)"
	" SELECT e, $2::bigint FROM firsts ORDER BY e ON CONFLICT DO NOTHING RETURNING event_id),"
	" ok AS (SELECT i FROM b WHERE e = ''"
	" UNION ALL SELECT f.i FROM firsts f JOIN ins ON ins.event_id = f.e),"
	" r AS (SELECT DISTINCT ON (x.uuid) ok.i, x.* FROM ok JOIN b ON b.i = ok.i,"
	" ROWS FROM (json_to_recordset(b.j) AS (uuid text, user_id text, event_type text,"
	" published text, group_id text, changed text, changed_known boolean))"
	" WITH ORDINALITY AS x(uuid, user_id, event_type, published, group_id, changed,"
	" changed_known, k) ORDER BY x.uuid, ok.i, x.k),"
	" u AS (INSERT INTO leases(user_id) SELECT DISTINCT user_id FROM r ORDER BY 1"
	" ON CONFLICT DO NOTHING),"
	" jj AS (INSERT INTO jobs(uuid, user_id, event_type, published, group_id, changed,"
	" changed_known, created, updated) SELECT uuid, user_id, event_type, published, group_id,"
	" changed, changed_known, " PG_NOW_MS ", " PG_NOW_MS " FROM r ORDER BY i, k"
	" ON CONFLICT (uuid) DO NOTHING RETURNING uuid),"
	" n AS (SELECT pg_notify('groupsync_jobs', $3) WHERE EXISTS (SELECT 1 FROM jj))"
	" SELECT ok.i, (SELECT count(*) FROM jj JOIN r ON r.uuid = jj.uuid WHERE r.i = ok.i),"
	" (SELECT count(*) FROM n) FROM ok ORDER BY ok.i";

/* Adds d's jobs to o as "j" and its eventId as "e": 0, or -1 (memory). */
static int
pg_delivery_json(json_object *o, const struct store_delivery *d)
{
	json_object *a = json_object_new_array(), *jo;
	const struct store_job_in *j;
	size_t i;

	if (json_object_object_add(o, "j", a) != 0) {
		json_object_put(a);
		return -1;
	}
	if (json_object_object_add(o, "e", json_object_new_string(d->event_id)) != 0)
		return -1;
	for (i = 0; i < d->njobs; i++) {
		j = &d->jobs[i];
		jo = json_object_new_object();
		if (jo == NULL || json_object_array_add(a, jo) != 0) {
			json_object_put(jo);
			return -1;
		}
		if (json_object_object_add(jo, "uuid", json_object_new_string(j->uuid)) != 0 ||
		    json_object_object_add(jo, "user_id",
		    json_object_new_string(j->user_id)) != 0 ||
		    json_object_object_add(jo, "event_type",
		    json_object_new_string(j->event_type)) != 0 ||
		    json_object_object_add(jo, "published",
		    json_object_new_string(j->published)) != 0 ||
		    json_object_object_add(jo, "group_id",
		    json_object_new_string(j->group_id)) != 0 ||
		    json_object_object_add(jo, "changed", json_object_new_string(j->changed)) != 0 ||
		    json_object_object_add(jo, "changed_known",
		    json_object_new_boolean(j->changed_known != 0)) != 0)
			return -1;
	}
	return 0;
}

/* The batch as pg_batch_sql's $1 (malloc'ed), or NULL. */
static char *
pg_batch_json(const struct store_delivery *batch)
{
	json_object *a = json_object_new_array(), *o;
	char *s = NULL;

	if (a == NULL)
		return NULL;
	for (; batch != NULL; batch = batch->next) {
		o = json_object_new_object();
		if (o == NULL || json_object_array_add(a, o) != 0) {
			json_object_put(o);
			goto out;
		}
		if (pg_delivery_json(o, batch) == -1)
			goto out;
	}
	s = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(a);
	return s;
}

struct pg_batch {
	struct store_delivery *head;
	const char *json;
};

/*
 * The batch's statement, its own transaction. Two replicas storing the
 * same keys can still deadlock (a delivery retried on another replica
 * while the first one commits it); PostgreSQL then aborts one of them,
 * which tries again here rather than failing its deliveries.
 */
static int
pg_enqueue_on(struct pg_store *p, PGconn *c, void *arg, char *err, size_t errlen)
{
	struct pg_batch *b = arg;
	struct store_delivery *d;
	char now[24];
	const char *params[] = {b->json, now, p->owner};
	PGresult *r;
	int64_t i;
	int attempt, retry = 0, nrows, row;

	for (attempt = 0; attempt < 3; attempt++) {
		(void)pg_i64(now, util_now_ms());
		r = pg_exec_ok(p, c, pg_batch_sql, 3, params, &retry, err, errlen,
		    "store deliveries");
		if (r != NULL)
			break;
		if (!retry || PQstatus(c) != CONNECTION_OK)
			return -1;
	}
	if (r == NULL)
		return -1;
	/* a row for each delivery that is not a duplicate, in order of i */
	nrows = PQntuples(r);
	row = 0;
	for (d = b->head, i = 1; d != NULL; d = d->next, i++) {
		d->result = STORE_DUPLICATE;
		d->stored = 0;
		if (row < nrows && pg_get_i64(r, row, 0) == i) {
			d->result = STORE_STORED;
			d->stored = (size_t)pg_get_i64(r, row, 1);
			row++;
		}
	}
	PQclear(r);
	return 0;
}

/*
 * A batch of deliveries in one transaction, durable (synchronous_commit
 * on, set per connection) when this returns 0. -1: nothing committed
 * (or, when the connection broke during the commit, maybe committed: the
 * deliveries are answered 503 and Okta's retry finds them duplicates).
 */
int
pg_enqueue(void *be, struct store_delivery *batch, char *err, size_t errlen)
{
	struct pg_store *p = be;
	struct pg_batch b = {batch, pg_batch_json(batch)};
	int ret = -1;

	if (b.json == NULL)
		(void)util_format(err, errlen, "%s: store deliveries: out of memory", p->label);
	else
		ret = pg_with_conn(p, pg_enqueue_on, &b, err, errlen);
	pg_write_end(p, ret == 0, err);
	free((char *)b.json);
	return ret;
}

/*
 * The user owning the oldest ready job whose lease row is free (never
 * taken, ended, or expired), locked; users whose rows other transactions
 * hold are skipped, not waited for. A user with a job that backs off is
 * not picked for a newer job either (as on SQLite: the newer one waits
 * and is synced with it). $1 now.
 */
static const char pg_pick_sql[] =
	"SELECT j.user_id FROM jobs j JOIN leases u ON u.user_id = j.user_id"
	" WHERE j.state = 0 AND j.not_before <= $1::bigint AND u.expires < " PG_NOW_MS
	" AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.user_id = j.user_id"
	" AND b.state = 0 AND b.not_before > $1::bigint)"
	" ORDER BY j.published, j.id LIMIT 1 FOR UPDATE OF u SKIP LOCKED";

/*
 * Takes the picked user: its lease row gets us as owner, a new token and
 * an expiry; its ready jobs, and those an expired lease left leased, are
 * leased. A statement of its own, so it sees what committed since the
 * pick (a job finished meanwhile is not leased again). $1 user, $2 now,
 * $3 owner, $4 lease_ms, $5 the time of the change.
 */
static const char pg_mark_sql[] =
	"WITH l AS (UPDATE leases SET owner = $3, token = nextval('lease_tokens'),"
	" expires = " PG_NOW_MS " + $4::bigint WHERE user_id = $1 RETURNING token),"
	" m AS (UPDATE jobs SET state = 1, updated = $5::bigint WHERE user_id = $1"
	" AND (state = 0 AND not_before <= $2::bigint OR state = 1)"
	" AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.user_id = $1"
	" AND b.state = 0 AND b.not_before > $2::bigint)"
	" RETURNING " PG_JOB_COLUMNS ")"
	" SELECT m.*, (SELECT token FROM l) FROM m ORDER BY published, id";

struct pg_lease_arg {
	int64_t now_ms;
	struct store_lease *out;
};

/* Reads the rows of pg_mark_sql into out: 0, or -1 out of memory. */
static int
pg_lease_read(struct pg_store *p, const PGresult *r, struct store_lease *out, char *err,
    size_t errlen)
{
	struct store_job *j;
	size_t cap = 0;
	int i;

	for (i = 0; i < PQntuples(r); i++) {
		j = store_lease_add(out, &cap);
		if (j == NULL) {
			(void)util_format(err, errlen, "%s: lease: out of memory for the jobs "
			    "of user %s", p->label, out->user_id);
			return -1;
		}
		pg_read_job(r, i, j);
		j->state = STORE_LEASED;
	}
	out->token = pg_get_i64(r, 0, 12);
	return 0;
}

/* One attempt: 1 leased, 0 nothing to lease (or the pick went stale),
 * -1 error. Called in a transaction; the caller commits or rolls back. */
static int
pg_lease_try(struct pg_store *p, PGconn *c, struct pg_lease_arg *a, char *err,
    size_t errlen)
{
	char now[24], ms[24], upd[24];
	const char *pick[] = {pg_i64(now, a->now_ms)};
	const char *mark[] = {a->out->user_id, now, p->owner, pg_i64(ms, p->lease_ms),
	    pg_i64(upd, util_now_ms())};
	PGresult *r = pg_exec_ok(p, c, pg_pick_sql, 1, pick, NULL, err, errlen,
	    "lease: pick user");
	int rc;

	if (r == NULL)
		return -1;
	rc = PQntuples(r) == 1;
	if (rc)
		(void)pg_copy(a->out->user_id, sizeof(a->out->user_id), r, 0, 0);
	PQclear(r);
	if (!rc)
		return 0;
	r = pg_exec_ok(p, c, pg_mark_sql, 5, mark, NULL, err, errlen, "lease: mark leased");
	if (r == NULL)
		return -1;
	rc = PQntuples(r) == 0 ? 0 : pg_lease_read(p, r, a->out, err, errlen) == -1 ? -1 : 1;
	PQclear(r);
	return rc;
}

static int
pg_lease_on(struct pg_store *p, PGconn *c, void *arg, char *err, size_t errlen)
{
	struct pg_lease_arg *a = arg;
	int attempt, rc;

	/* a pick that went stale (the user's jobs ended since) is rolled
	 * back and made again, a few times */
	for (attempt = 0; attempt < 3; attempt++) {
		/* the jobs of a pick that went stale (not the front's
		 * store_lease_free: backends call no function of the front) */
		free(a->out->jobs);
		memset(a->out, 0, sizeof(*a->out));
		if (pg_run(p, c, "BEGIN", err, errlen, "lease: begin") == -1)
			return -1;
		rc = pg_lease_try(p, c, a, err, errlen);
		if (rc == 1) {
			/* renewed from now on, even if the COMMIT's answer is lost */
			if (pg_held_add(p, a->out->token) == -1) {
				(void)util_format(err, errlen, "%s: lease: out of memory", p->label);
				return -1;
			}
			if (pg_run(p, c, "COMMIT", err, errlen, "lease: commit") == 0)
				return 1;
			pg_held_remove(p, a->out->token);
			return -1;
		}
		PQclear(PQexec(c, "ROLLBACK"));
		if (rc == -1 || a->out->user_id[0] == '\0')
			return rc;
	}
	return 0;
}

/*
 * store_lease_user (provision on demand): in one transaction, the user's
 * lease row is made if new and locked (FOR UPDATE: every other lease of
 * the user, on any replica, waits for this one or skips it); a lease
 * still in force means a worker holds the user: nothing is stored. Else
 * the job is stored (a uuid seen before is skipped) and the user's ready
 * jobs leased as pg_lease does (pg_mark_sql).
 */
static const char pg_user_row_sql[] =
	"INSERT INTO leases(user_id) VALUES ($1) ON CONFLICT DO NOTHING";
static const char pg_user_lock_sql[] =
	"SELECT expires >= " PG_NOW_MS " FROM leases WHERE user_id = $1 FOR UPDATE";
static const char pg_user_job_sql[] =
	"INSERT INTO jobs(uuid, user_id, event_type, published, group_id, changed,"
	" changed_known, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7::boolean,"
	" " PG_NOW_MS ", " PG_NOW_MS ") ON CONFLICT (uuid) DO NOTHING";

struct pg_user_arg {
	const struct store_job_in *job;
	int64_t now_ms;
	struct store_lease *out;
};

/* In the caller's transaction: 1 leased, 0 a worker holds the user, -1. */
static int
pg_lease_user_try(struct pg_store *p, PGconn *c, struct pg_user_arg *a, char *err,
    size_t errlen)
{
	const struct store_job_in *jb = a->job;
	char now[24], upd[24], ms[24];
	const char *user[] = {jb->user_id};
	const char *job[] = {jb->uuid, jb->user_id, jb->event_type, jb->published,
	    jb->group_id, jb->changed, jb->changed_known ? "true" : "false"};
	const char *mark[] = {jb->user_id, pg_i64(now, a->now_ms), p->owner,
	    pg_i64(ms, p->lease_ms), pg_i64(upd, util_now_ms())};
	PGresult *r;
	int held, rc;

	r = pg_exec_ok(p, c, pg_user_row_sql, 1, user, NULL, err, errlen, "lease user: row");
	PQclear(r);
	if (r == NULL)
		return -1;
	r = pg_exec_ok(p, c, pg_user_lock_sql, 1, user, NULL, err, errlen, "lease user: lock");
	if (r == NULL)
		return -1;
	held = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (held)
		return 0;
	r = pg_exec_ok(p, c, pg_user_job_sql, 7, job, NULL, err, errlen, "lease user: store");
	PQclear(r);
	if (r == NULL)
		return -1;
	(void)util_copy(a->out->user_id, sizeof(a->out->user_id), jb->user_id);
	r = pg_exec_ok(p, c, pg_mark_sql, 5, mark, NULL, err, errlen, "lease user: mark");
	if (r == NULL)
		return -1;
	rc = PQntuples(r) == 0 ? -1 : pg_lease_read(p, r, a->out, err, errlen) == -1 ? -1 : 1;
	if (PQntuples(r) == 0) /* the job just stored is ready: as on SQLite, an error */
		(void)util_format(err, errlen, "lease user %s: no job to lease", jb->user_id);
	PQclear(r);
	return rc;
}

static int
pg_lease_user_on(struct pg_store *p, PGconn *c, void *arg, char *err, size_t errlen)
{
	struct pg_user_arg *a = arg;
	int rc;

	if (pg_run(p, c, "BEGIN", err, errlen, "lease user: begin") == -1)
		return -1;
	rc = pg_lease_user_try(p, c, a, err, errlen);
	if (rc == 1) {
		if (pg_held_add(p, a->out->token) == -1) {
			(void)util_format(err, errlen, "%s: lease user: out of memory", p->label);
			rc = -1;
		} else if (pg_run(p, c, "COMMIT", err, errlen, "lease user: commit") == 0) {
			return 1;
		} else {
			pg_held_remove(p, a->out->token);
			return -1;
		}
	}
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

int
pg_lease_user(void *be, const struct store_job_in *job, int64_t now_ms,
    struct store_lease *out, char *err, size_t errlen)
{
	struct pg_store *p = be;
	struct pg_user_arg a = {job, now_ms, out};
	int rc = pg_with_conn(p, pg_lease_user_on, &a, err, errlen);

	pg_write_end(p, rc != -1, err);
	return rc;
}

/*
 * Leases the jobs of one user for this process, exclusive across every
 * replica: see pg.h. 1 with *out and out->token set, 0 nothing ready, -1.
 */
int
pg_lease(void *be, int64_t now_ms, struct store_lease *out, char *err, size_t errlen)
{
	struct pg_store *p = be;
	struct pg_lease_arg a = {now_ms, out};
	int rc = pg_with_conn(p, pg_lease_on, &a, err, errlen);

	if (rc != 0)
		pg_write_end(p, rc == 1, err);
	return rc;
}

/*
 * Ends a lease in one statement: the lease row is freed only while it
 * still has the lease's token, and the jobs change only if it was; a
 * lease that expired and was taken by another replica (or swept) changes
 * nothing, and a second outcome of one lease finds it ended. $1 user, $2
 * token, $3 job ids, $4 state, $5 attempts added, $6 not_before (NULL:
 * kept), $7 error (NULL: kept), $8 now.
 */
static const char pg_finish_sql[] =
	"WITH l AS (UPDATE leases SET owner = '', token = NULL, expires = 0"
	" WHERE user_id = $1 AND token = $2::bigint RETURNING 1),"
	" j AS (UPDATE jobs SET state = $4::smallint, attempts = attempts + $5::integer,"
	" not_before = coalesce($6::bigint, not_before),"
	" last_error = coalesce($7::text, last_error), updated = $8::bigint"
	" WHERE id = ANY($3::bigint[]) AND state = 1 AND EXISTS (SELECT 1 FROM l) RETURNING 1)"
	" SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM j)";

/* The lease's job ids as an array literal (malloc'ed), or NULL. */
static char *
pg_job_ids(const struct store_lease *l)
{
	size_t i, off = 0, len = 3 + l->njobs * 21;
	char *s = malloc(len);

	if (s == NULL)
		return NULL;
	s[off++] = '{';
	for (i = 0; i < l->njobs; i++)
		off += (size_t)snprintf(s + off, len - off, "%s%lld", i ? "," : "",
		    (long long)l->jobs[i].id);
	(void)snprintf(s + off, len - off, "}");
	return s;
}

int
pg_finish(void *be, const struct store_lease *l, const struct store_outcome *o)
{
	struct pg_store *p = be;
	char token[24], state[24], inc[24], nb[24], now[24], err[STORE_ERROR_MAX + 1];
	char *ids = pg_job_ids(l);
	const char *params[] = {l->user_id, pg_i64(token, l->token), ids,
	    pg_i64(state, o->state), pg_i64(inc, o->attempts_inc),
	    o->not_before_ms != NULL ? pg_i64(nb, *o->not_before_ms) : NULL, o->error,
	    pg_i64(now, util_now_ms())};
	PGresult *r;

	if (ids == NULL) {
		(void)util_format(err, sizeof(err), "%s: out of memory", p->label);
		pg_write_end(p, 0, err);
		return -1;
	}
	r = pg_query(p, pg_finish_sql, 8, params, err, sizeof(err), "record a sync's outcome");
	free(ids);
	pg_write_end(p, r != NULL, err);
	if (r == NULL)
		return -1;
	if (pg_get_i64(r, 0, 0) == 0)
		log_emit(LOG_WARN, "store: a lease had expired and the user went to another "
		    "worker: this outcome is not recorded (the other one syncs the user again)",
		    "user_id", l->user_id, (char *)NULL);
	PQclear(r);
	pg_held_remove(p, l->token);
	return 0;
}

int
pg_counts(void *be, int64_t counts[4])
{
	struct pg_store *p = be;
	char err[STORE_ERROR_MAX + 1];
	PGresult *r = pg_query(p, "SELECT state, count(*) FROM jobs GROUP BY state", 0, NULL,
	    err, sizeof(err), "count jobs");
	int i;
	int64_t s;

	if (r == NULL)
		return -1;
	for (i = 0; i < PQntuples(r); i++) {
		s = pg_get_i64(r, i, 0);
		if (s >= STORE_PENDING && s <= STORE_DEAD)
			counts[s] = pg_get_i64(r, i, 1);
	}
	PQclear(r);
	return 0;
}

/* The one value of a query that returns one row; 1 found, 0 NULL, -1. */
int
pg_scalar(struct pg_store *p, const char *sql, int n, const char *const *params, int64_t *v)
{
	char err[STORE_ERROR_MAX + 1];
	PGresult *r = pg_query(p, sql, n, params, err, sizeof(err), "read");
	int ret;

	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	ret = !PQgetisnull(r, 0, 0);
	if (ret)
		*v = pg_get_i64(r, 0, 0);
	PQclear(r);
	return ret;
}

int
pg_clock_ms(void *be, int64_t *now_ms)
{
	return pg_scalar(be, "SELECT " PG_NOW_MS, 0, NULL, now_ms) == 1 ? 0 : -1;
}

int
pg_oldest_pending(void *be, int64_t *created_ms)
{
	/* held deprovisions wait for an operator, not for a worker */
	return pg_scalar(be, "SELECT min(created) FROM jobs WHERE state = 0"
	    " AND not_before <> 9223372036854775807", 0, NULL, created_ms);
}

int64_t
pg_next_due(void *be, int64_t now_ms)
{
	char now[24];
	const char *params[] = {pg_i64(now, now_ms)};
	int64_t due = -1;

	if (pg_scalar(be, "SELECT min(not_before) FROM jobs WHERE state = 0"
	    " AND not_before > $1::bigint", 1, params, &due) != 1)
		return -1;
	return due;
}

/* A real write and commit, on a connection of the pool: what intake's
 * next commit needs. */
int
pg_writable(void *be)
{
	struct pg_store *p = be;
	char now[24], err[STORE_ERROR_MAX + 1];
	const char *params[] = {pg_i64(now, util_now_ms())};
	PGresult *r = pg_query(p, "INSERT INTO health(id, checked) VALUES(1, $1::bigint)"
	    " ON CONFLICT (id) DO UPDATE SET checked = excluded.checked", 1, params, err,
	    sizeof(err), "readiness write");

	pg_write_end(p, r != NULL, err);
	PQclear(r);
	return r != NULL;
}

/*
 * One replica runs a periodic task for all: the row of the task takes
 * the claim only if its last one is at least period_ms old (the
 * database's clock); replicas that try at once wait for each other's row
 * lock, and the later one then finds the claim fresh.
 */
int
pg_claim(void *be, const char *task, int64_t period_ms)
{
	char period[24];
	const char *params[] = {task, pg_i64(period, period_ms)};

	return pg_query_took(be, "INSERT INTO tasks(name, claimed) VALUES($1, " PG_NOW_MS ")"
	    " ON CONFLICT (name) DO UPDATE SET claimed = excluded.claimed"
	    " WHERE tasks.claimed <= excluded.claimed - $2::bigint RETURNING 1", 2, params,
	    "claim a periodic task");
}

/*
 * Runs sql (a DELETE of at most 1000 rows older than $1) until it deletes
 * nothing, each slice its own transaction so that no statement holds
 * many row locks for long; several replicas pruning at once skip each
 * other's rows (FOR UPDATE SKIP LOCKED). Rows deleted, or -1.
 */
long long
pg_prune_slices(struct pg_store *p, const char *sql, int64_t before_ms, const char *what)
{
	char before[24], err[STORE_ERROR_MAX + 1];
	const char *params[] = {pg_i64(before, before_ms)};
	long long total = 0, n;
	PGresult *r;

	do {
		r = pg_query(p, sql, 1, params, err, sizeof(err), what);
		if (r == NULL)
			return -1;
		n = strtoll(PQcmdTuples(r), NULL, 10);
		PQclear(r);
		total += n;
	} while (n > 0);
	return total;
}

/* Done jobs and delivery IDs past retention. */
long long
pg_prune(void *be, int64_t older_than_ms)
{
	static const char *const sql[] = {
	    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 2"
	    " AND updated < $1::bigint LIMIT 1000 FOR UPDATE SKIP LOCKED)",
	    "DELETE FROM deliveries WHERE event_id IN (SELECT event_id FROM deliveries"
	    " WHERE received < $1::bigint LIMIT 1000 FOR UPDATE SKIP LOCKED)",
	};
	long long total = 0, n;
	size_t i;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		n = pg_prune_slices(be, sql[i], older_than_ms, "prune");
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}
