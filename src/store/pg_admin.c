/*
 * The PostgreSQL backend's operator queries: list, show, retry and drop
 * jobs (see store.h), from an admin command while the replicas work.
 *
 * A change and the look-up that explains a refusal are one statement, so
 * the state named in "job 5 is leased" is the one the change saw. A job
 * made ready is announced (NOTIFY) so that the replicas take it at once.
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

#include "groupsync/base/util.h"

/* Reads a row of PG_ADMIN_COLUMNS. */
static void
pg_admin_read_row(const PGresult *r, int row, struct store_job_info *info)
{
	struct store_job *j = &info->job;

	memset(info, 0, sizeof(*info));
	pg_read_job(r, row, j); /* PG_ADMIN_COLUMNS starts with PG_JOB_COLUMNS */
	/* the schema's CHECK keeps it within enum store_state */
	j->state = (enum store_state)pg_get_i64(r, row, 12);
	info->updated_ms = pg_get_i64(r, row, 13);
}

/* Newest first (the front keeps the newest and turns them around). $1 a
 * mask of states (bit 1 << state), $2 at most, $3 the user or NULL, $4
 * 1 to leave out pending jobs never attempted. */
int
pg_admin_list(void *be, const struct store_list_query *qry, size_t max,
    int (*row)(const struct store_job_info *info, void *arg), void *arg, char *err,
    size_t errlen)
{
	struct store_job_info info;
	char states[24], limit[24];
	const char *params[] = {pg_i64(states, qry->states), pg_i64(limit, (int64_t)max),
	    qry->user_id, qry->attempted ? "1" : "0"};
	PGresult *r = pg_query(be, "SELECT " PG_ADMIN_COLUMNS " FROM jobs"
	    " WHERE ($1::integer >> state) & 1 = 1 AND ($3::text IS NULL OR user_id = $3)"
	    " AND ($4::integer = 0 OR state <> 0 OR attempts > 0)"
	    " ORDER BY id DESC LIMIT $2::bigint", 4, params, err, errlen, "list jobs");
	int i, ret = 0;

	if (r == NULL)
		return -1;
	for (i = 0; i < PQntuples(r) && ret == 0; i++) {
		pg_admin_read_row(r, i, &info);
		if (row(&info, arg) != 0)
			ret = -1;
	}
	PQclear(r);
	return ret;
}

int
pg_admin_get(void *be, int64_t id, struct store_job_info *out, char *err, size_t errlen)
{
	char ids[24];
	const char *params[] = {pg_i64(ids, id)};
	PGresult *r = pg_query(be, "SELECT " PG_ADMIN_COLUMNS " FROM jobs WHERE id = $1::bigint",
	    1, params, err, errlen, "read job");
	int ret;

	if (r == NULL)
		return -1;
	ret = PQntuples(r) == 1;
	if (ret)
		pg_admin_read_row(r, 0, out);
	PQclear(r);
	return ret;
}

/*
 * Runs a guarded change (a CTE "c" over the job $1::bigint that returns
 * a row when it changed it) and reads, in the same statement, whether it
 * did and else the state of the job (NULL: no such job).
 */
static enum store_admin_result
pg_admin_change(struct pg_store *p, const char *change, int n, const char *const *params,
    enum store_state *state, char *err, size_t errlen)
{
	char sql[1024];
	PGresult *r;
	enum store_admin_result res;

	if (util_format(sql, sizeof(sql), "WITH c AS (%s)"
	    " SELECT (SELECT count(*) FROM c), (SELECT state FROM jobs WHERE id = $1::bigint)",
	    change) == -1) {
		(void)util_format(err, errlen, "%s: change job: statement too long", p->label);
		return STORE_ADMIN_ERROR;
	}
	r = pg_query(p, sql, n, params, err, errlen, "change job");
	if (r == NULL)
		return STORE_ADMIN_ERROR;
	if (pg_get_i64(r, 0, 0) > 0) {
		res = STORE_ADMIN_OK;
	} else if (PQgetisnull(r, 0, 1)) {
		res = STORE_ADMIN_NO_JOB;
	} else {
		*state = (enum store_state)pg_get_i64(r, 0, 1);
		res = STORE_ADMIN_REFUSED;
	}
	PQclear(r);
	return res;
}

/* never a leased job: a worker is syncing it and will finish it */
enum store_admin_result
pg_admin_retry(void *be, int64_t id, int64_t now_ms, enum store_state *state, char *err,
    size_t errlen)
{
	struct pg_store *p = be;
	char ids[24], now[24];
	const char *params[] = {pg_i64(ids, id), pg_i64(now, now_ms), p->owner};

	/* a held or released deprovision (store.h: STORE_HELD_NOT_BEFORE,
	 * STORE_RELEASED_NOT_BEFORE) stays marked released: never held again */
	return pg_admin_change(p, "UPDATE jobs SET state = 0, attempts = 0,"
	    " not_before = CASE WHEN state = 0 AND not_before IN"
	    " (9223372036854775807, 1) THEN 1 ELSE $2::bigint END, updated = $2::bigint"
	    " WHERE id = $1::bigint AND state IN (0, 3)"
	    " RETURNING pg_notify('groupsync_jobs', $3)", 3, params, state, err, errlen);
}

enum store_admin_result
pg_admin_drop(void *be, int64_t id, enum store_state *state, char *err, size_t errlen)
{
	char ids[24];
	const char *params[] = {pg_i64(ids, id)};

	return pg_admin_change(be, "DELETE FROM jobs WHERE id = $1::bigint AND state <> 1"
	    " RETURNING 1", 1, params, state, err, errlen);
}

int
pg_admin_retry_dead(void *be, int64_t now_ms, int64_t *count, char *err, size_t errlen)
{
	struct pg_store *p = be;
	char now[24];
	const char *params[] = {pg_i64(now, now_ms), p->owner};
	PGresult *r = pg_query(p, "WITH c AS (UPDATE jobs SET state = 0, attempts = 0,"
	    " not_before = $1::bigint, updated = $1::bigint WHERE state = 3 RETURNING 1)"
	    " SELECT (SELECT count(*) FROM c), CASE WHEN EXISTS (SELECT 1 FROM c)"
	    " THEN pg_notify('groupsync_jobs', $2) END", 2, params, err,
	    errlen, "retry dead jobs");

	if (r == NULL)
		return -1;
	*count = pg_get_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int
pg_count_held(void *be, int64_t *count)
{
	char held[24];
	const char *params[] = {pg_i64(held, STORE_HELD_NOT_BEFORE)};

	return pg_scalar(be, "SELECT count(*) FROM jobs WHERE state = 0"
	    " AND not_before = $1::bigint", 1, params, count) == 1 ? 0 : -1;
}

/* id 0: every held job. The workers of every replica are woken. */
/*
 * One statement on the one window row: replicas taking at once wait for
 * each other's row lock, and the later one re-reads the row as the
 * earlier one left it (READ COMMITTED re-checks an updated row), so the
 * count is never passed by two at once.
 */
int
pg_deprovision_take(void *be, int64_t now_ms, int64_t window_ms, int64_t limit)
{
	char now[24], win[24], lim[24];
	const char *params[] = {pg_i64(now, now_ms), pg_i64(win, window_ms), pg_i64(lim, limit)};

	return pg_query_took(be, "INSERT INTO deprovision_window AS w(id, times)"
	    " SELECT 1, ARRAY[$1::bigint] WHERE $3::bigint > 0"
	    " ON CONFLICT (id) DO UPDATE SET times = ARRAY(SELECT t FROM unnest(w.times) t"
	    " WHERE t > $1::bigint - $2::bigint) || $1::bigint"
	    " WHERE (SELECT count(*) FROM unnest(w.times) t"
	    " WHERE t > $1::bigint - $2::bigint) < $3::bigint RETURNING 1", 3, params,
	    "count a deprovision");
}

int
pg_admin_release_held(void *be, int64_t id, int64_t now_ms, int64_t *count, char *err,
    size_t errlen)
{
	struct pg_store *p = be;
	char ids[24], now[24], rel[24], held[24];
	const char *params[] = {pg_i64(ids, id), pg_i64(now, now_ms),
	    pg_i64(rel, STORE_RELEASED_NOT_BEFORE), pg_i64(held, STORE_HELD_NOT_BEFORE), p->owner};
	PGresult *r = pg_query(p, "WITH c AS (UPDATE jobs SET not_before = $3::bigint,"
	    " updated = $2::bigint WHERE state = 0 AND not_before = $4::bigint"
	    " AND ($1::bigint = 0 OR id = $1::bigint) RETURNING 1)"
	    " SELECT (SELECT count(*) FROM c), CASE WHEN EXISTS (SELECT 1 FROM c)"
	    " THEN pg_notify('groupsync_jobs', $5) END", 5, params, err, errlen,
	    "release held jobs");

	if (r == NULL)
		return -1;
	*count = pg_get_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* the admin retry statement spells these two out */
_Static_assert(STORE_HELD_NOT_BEFORE == INT64_C(9223372036854775807) &&
    STORE_RELEASED_NOT_BEFORE == 1, "held and released marks as in the SQL");
