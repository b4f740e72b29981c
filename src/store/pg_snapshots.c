/*
 * The PostgreSQL backend's snapshots (store.h): what a member listing
 * said of each user, shared by every replica (the reconcile of one
 * replica feeds the workers of all), and the backlog count. Each op is
 * one statement, so each is atomic without a transaction of its own: two
 * replicas taking one user's snapshot at once cannot both get it (the
 * DELETE locks the row; the second finds it gone).
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/util.h"

/* $1 the batch as a JSON array of {"u","t","b"}; the newest of a user
 * repeated in it wins, and an older listing never replaces a newer one. */
static const char pg_snap_put_sql[] =
	"INSERT INTO user_snapshots(user_id, taken, body)"
	" SELECT DISTINCT ON (x->>'u') x->>'u', (x->>'t')::bigint, x->>'b'"
	" FROM json_array_elements($1::json) AS x ORDER BY x->>'u', (x->>'t')::bigint DESC"
	" ON CONFLICT (user_id) DO UPDATE SET taken = excluded.taken, body = excluded.body"
	" WHERE excluded.taken >= user_snapshots.taken";

static char *
pg_snap_json(const struct store_snapshot *v, size_t n)
{
	json_object *a = json_object_new_array(), *o;
	char *out = NULL;
	size_t i;
	int ok = a != NULL;

	for (i = 0; ok && i < n; i++) {
		o = json_object_new_object();
		ok = o != NULL && json_object_array_add(a, o) == 0;
		if (!ok) {
			json_object_put(o);
			break;
		}
		ok = json_object_object_add(o, "u", json_object_new_string(v[i].user_id)) == 0 &&
		    json_object_object_add(o, "t", json_object_new_int64(v[i].taken_ms)) == 0 &&
		    json_object_object_add(o, "b", json_object_new_string(v[i].body)) == 0;
	}
	if (ok)
		out = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return out;
}

int
pg_snapshots_put(void *be, const struct store_snapshot *v, size_t n, char *err, size_t errlen)
{
	struct pg_store *p = be;
	char *batch = pg_snap_json(v, n);
	const char *params[1];
	PGresult *r;

	if (batch == NULL) {
		(void)util_format(err, errlen, "%s: store snapshots: out of memory", p->label);
		return -1;
	}
	params[0] = batch;
	r = pg_query(p, pg_snap_put_sql, 1, params, err, errlen, "store snapshots");
	pg_write_end(p, r != NULL, err);
	PQclear(r);
	free(batch);
	return r != NULL ? 0 : -1;
}

int
pg_snapshot_take(void *be, const char *user_id, const char *own_type, int64_t *taken_ms,
    char **body)
{
	struct pg_store *p = be;
	char err[STORE_ERROR_MAX + 1];
	const char *params[] = {user_id, own_type};
	PGresult *r = pg_query(p, "WITH d AS (DELETE FROM user_snapshots WHERE user_id = $1"
	    " RETURNING taken, body) SELECT d.taken, d.body, EXISTS (SELECT 1 FROM jobs j"
	    " WHERE j.user_id = $1 AND j.created >= d.taken AND j.event_type <> $2) FROM d",
	    2, params, err, sizeof(err), "take a snapshot");
	int ret = 0;

	pg_write_end(p, r != NULL, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 2), "f") == 0) {
		*taken_ms = pg_get_i64(r, 0, 0);
		*body = strdup(PQgetvalue(r, 0, 1));
		ret = *body != NULL ? 1 : -1;
	}
	PQclear(r);
	return ret;
}

/* In slices, as the jobs' prune (pg_prune_slices). */
long long
pg_snapshots_prune(void *be, int64_t before_ms)
{
	return pg_prune_slices(be, "DELETE FROM user_snapshots WHERE user_id IN (SELECT user_id"
	    " FROM user_snapshots WHERE taken < $1::bigint LIMIT 1000"
	    " FOR UPDATE SKIP LOCKED)", before_ms, "prune snapshots");
}

int
pg_backlog_users(void *be, int64_t now_ms, int64_t since_ms, const char *own_type,
    const char *known_type, int64_t *count)
{
	char now[24], since[24];
	const char *params[] = {pg_i64(now, now_ms), pg_i64(since, since_ms), own_type,
	    known_type};

	return pg_scalar(be, "SELECT count(DISTINCT j.user_id) FROM jobs j WHERE j.state = 0"
	    " AND j.not_before <= $1::bigint AND j.created >= $2::bigint"
	    " AND j.event_type <> $3 AND NOT (j.event_type = $4 AND j.changed_known)"
	    " AND NOT EXISTS (SELECT 1 FROM user_snapshots s WHERE s.user_id = j.user_id)",
	    4, params, count) == 1 ? 0 : -1;
}
