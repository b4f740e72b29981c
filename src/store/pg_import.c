/*
 * store migrate's target (backend.h's import_*): a whole store copied
 * into an empty PostgreSQL store in one transaction, on a connection kept
 * for it from begin to end, with the tables locked against writers (a
 * replica started too early waits instead of mixing its deliveries in).
 * Jobs keep their IDs, which operators may have noted, and the ID
 * sequence continues after the highest.
 */
#include "pg.h"

#include <stdlib.h>

#include "groupsync/base/util.h"

int
pg_import_begin(void *be, char *err, size_t errlen)
{
	struct pg_store *p = be;
	PGconn *c;
	PGresult *r = NULL;

	if (p->import != NULL) {
		(void)util_format(err, errlen, "%s: an import is under way", p->label);
		return -1;
	}
	c = pg_take(p, err, errlen);
	if (c == NULL)
		return -1;
	if (pg_run(p, c, "BEGIN", err, errlen, "import: begin") == -1 ||
	    pg_run(p, c, "LOCK TABLE jobs, deliveries, remote_ids, leases, group_remote_ids,"
	    " group_members IN EXCLUSIVE MODE", err, errlen, "import: lock") == -1)
		goto fail;
	r = pg_exec_ok(p, c, "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM"
	    " deliveries), (SELECT count(*) FROM remote_ids), (SELECT count(*) FROM"
	    " group_remote_ids) + (SELECT count(*) FROM group_members)", 0, NULL, NULL, err,
	    errlen, "import: is it empty");
	if (r == NULL)
		goto fail;
	if (pg_get_i64(r, 0, 0) + pg_get_i64(r, 0, 1) + pg_get_i64(r, 0, 2) +
	    pg_get_i64(r, 0, 3) > 0) {
		(void)util_format(err, errlen, "%s is not empty (%s jobs, %s delivery IDs, %s "
		    "remote IDs, %s group map rows): store migrate copies into an empty store "
		    "only", p->label, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
		    PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
		goto fail;
	}
	PQclear(r);
	p->import = c;
	return 0;
fail:
	PQclear(r);
	pg_give(p, c); /* rolls back */
	return -1;
}

int
pg_import_row(void *be, const struct store_record *rec, char *err, size_t errlen)
{
	struct pg_store *p = be;
	const struct store_job *j = &rec->job.job;
	char a[24], b[24], c[24], d[24], e[24], f[24], g[24];
	const char *params[14];
	const char *sql;
	PGresult *r;
	int n;

	if (rec->kind == STORE_REC_JOB) {
		sql = "WITH u AS (INSERT INTO leases(user_id) VALUES($3) ON CONFLICT DO NOTHING)"
		    " INSERT INTO jobs(id, uuid, user_id, event_type, published, group_id,"
		    " changed, changed_known, state, attempts, not_before, created, updated,"
		    " last_error) VALUES($1::bigint, $2, $3, $4, $5, $6, $7, $8::boolean,"
		    " $9::smallint, $10::integer, $11::bigint, $12::bigint, $13::bigint, $14)";
		params[0] = pg_i64(a, j->id);
		params[1] = j->uuid;
		params[2] = j->user_id;
		params[3] = j->event_type;
		params[4] = j->published;
		params[5] = j->group_id;
		params[6] = j->changed;
		params[7] = j->changed_known ? "true" : "false";
		params[8] = pg_i64(b, j->state);
		params[9] = pg_i64(c, j->attempts);
		params[10] = pg_i64(d, j->not_before_ms);
		params[11] = pg_i64(e, j->created_ms);
		params[12] = pg_i64(f, rec->job.updated_ms);
		params[13] = j->last_error;
		n = 14;
	} else if (rec->kind == STORE_REC_DELIVERY) {
		sql = "INSERT INTO deliveries(event_id, received) VALUES($1, $2::bigint)";
		params[0] = rec->event_id;
		params[1] = pg_i64(g, rec->time_ms);
		n = 2;
	} else if (rec->kind == STORE_REC_REMOTE_ID) {
		sql = "INSERT INTO remote_ids(user_id, remote_id, hash, updated)"
		    " VALUES($1, $2, $3, $4::bigint)";
		params[0] = rec->user_id;
		params[1] = rec->remote_id;
		params[2] = rec->hash;
		params[3] = pg_i64(g, rec->time_ms);
		n = 4;
	} else if (rec->kind == STORE_REC_GROUP) {
		sql = "INSERT INTO group_remote_ids(group_id, remote_id, name, updated)"
		    " VALUES($1, $2, $3, $4::bigint)";
		params[0] = rec->group_id;
		params[1] = rec->remote_id;
		params[2] = rec->name;
		params[3] = pg_i64(g, rec->time_ms);
		n = 4;
	} else {
		sql = "INSERT INTO group_members(group_id, user_id) VALUES($1, $2)";
		params[0] = rec->group_id;
		params[1] = rec->user_id;
		n = 2;
	}
	r = pg_exec_ok(p, p->import, sql, n, params, NULL, err, errlen, "import");
	PQclear(r);
	return r != NULL ? 0 : -1;
}

int
pg_import_end(void *be, int commit, char *err, size_t errlen)
{
	struct pg_store *p = be;
	PGconn *c = p->import;
	int ret = -1;

	if (c == NULL)
		return -1;
	p->import = NULL;
	if (!commit) {
		ret = 0;
		goto out;
	}
	if (pg_run(p, c, "SELECT setval(pg_get_serial_sequence('jobs', 'id'),"
	    " (SELECT coalesce(max(id), 0) + 1 FROM jobs), false)", err, errlen,
	    "import: continue the job IDs") == 0 &&
	    pg_run(p, c, "COMMIT", err, errlen, "import: commit") == 0)
		ret = 0;
out:
	pg_give(p, c); /* rolls back what was not committed */
	return ret;
}
