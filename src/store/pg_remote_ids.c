/*
 * The PostgreSQL backend's user -> remote ID map: the remote IDs
 * groupsync has written and the fingerprint of what was last sent, shared
 * by every replica; and group push's maps: each Okta group's remote group
 * (and the name last sent), and the memberships groupsync made.
 */
#include "pg.h"

#include "groupsync/base/util.h"

/* Reads the two text columns of the row sql finds for key into a and b:
 * 1 found, 0 none, -1 error (a value that does not fit is an error, not a
 * cut ID). */
static int
pg_get_pair(void *be, const char *sql, const char *key, char *a, size_t alen, char *b,
    size_t blen, const char *what)
{
	char err[STORE_ERROR_MAX + 1];
	const char *params[] = {key};
	PGresult *r = pg_query(be, sql, 1, params, err, sizeof(err), what);
	int ret = -1;

	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0)
		ret = 0;
	else if (pg_copy(a, alen, r, 0, 0) == 0 && pg_copy(b, blen, r, 0, 1) == 0)
		ret = 1;
	PQclear(r);
	return ret;
}

int
pg_remote_get(void *be, const char *user_id, char *remote_id, size_t rlen, char *hash,
    size_t hlen)
{
	return pg_get_pair(be, "SELECT remote_id, hash FROM remote_ids WHERE user_id = $1",
	    user_id, remote_id, rlen, hash, hlen, "read a remote ID");
}

/* A write of the map: 0 or -1, and the store's write health. */
static int
pg_remote_write(struct pg_store *p, const char *sql, int n, const char *const *params,
    const char *what)
{
	char err[STORE_ERROR_MAX + 1];
	PGresult *r = pg_query(p, sql, n, params, err, sizeof(err), what);

	pg_write_end(p, r != NULL, err);
	PQclear(r);
	return r != NULL ? 0 : -1;
}

int
pg_remote_put(void *be, const char *user_id, const char *remote_id, const char *hash)
{
	char now[24];
	const char *params[] = {user_id, remote_id, hash, pg_i64(now, util_now_ms())};

	return pg_remote_write(be, "INSERT INTO remote_ids(user_id, remote_id, hash, updated)"
	    " VALUES($1, $2, $3, $4::bigint) ON CONFLICT (user_id) DO UPDATE"
	    " SET remote_id = excluded.remote_id, hash = excluded.hash,"
	    " updated = excluded.updated", 4, params, "record a remote ID");
}

int
pg_remote_delete(void *be, const char *user_id)
{
	const char *params[] = {user_id};

	return pg_remote_write(be, "DELETE FROM remote_ids WHERE user_id = $1", 1, params,
	    "forget a remote ID");
}

/*
 * Calls fn for the first column of each row sql answers, from one read of
 * them all (fn may take its time: no connection or lock is held
 * meanwhile). Stops at fn's first non-zero answer and returns it; -1 with
 * err set when the read fails.
 */
static int
pg_each_value(struct pg_store *p, const char *sql, int n, const char *const *params,
    int (*fn)(const char *value, void *arg), void *arg, char *err, size_t errlen,
    const char *what)
{
	PGresult *r = pg_query(p, sql, n, params, err, errlen, what);
	int i, ret = 0;

	if (r == NULL)
		return -1;
	for (i = 0; i < PQntuples(r) && ret == 0; i++)
		ret = fn(PQgetvalue(r, i, 0), arg);
	PQclear(r);
	return ret;
}

/* Every user that has a remote record (remote_id not ""). */
int
pg_remote_each(void *be, int (*fn)(const char *user_id, void *arg), void *arg, char *err,
    size_t errlen)
{
	return pg_each_value(be, "SELECT user_id FROM remote_ids WHERE remote_id <> ''", 0,
	    NULL, fn, arg, err, errlen, "cannot read the remote IDs");
}

int
pg_group_get(void *be, const char *group_id, char *remote_id, size_t rlen, char *name,
    size_t nlen)
{
	return pg_get_pair(be, "SELECT remote_id, name FROM group_remote_ids WHERE group_id = $1",
	    group_id, remote_id, rlen, name, nlen, "read a group's remote ID");
}

int
pg_group_put(void *be, const char *group_id, const char *remote_id, const char *name)
{
	char now[24];
	const char *params[] = {group_id, remote_id, name, pg_i64(now, util_now_ms())};

	return pg_remote_write(be, "INSERT INTO group_remote_ids(group_id, remote_id, name,"
	    " updated) VALUES($1, $2, $3, $4::bigint) ON CONFLICT (group_id) DO UPDATE"
	    " SET remote_id = excluded.remote_id, name = excluded.name,"
	    " updated = excluded.updated", 4, params, "record a group's remote ID");
}

int
pg_member_get(void *be, const char *group_id, const char *user_id)
{
	char err[STORE_ERROR_MAX + 1];
	const char *params[] = {group_id, user_id};
	PGresult *r = pg_query(be, "SELECT 1 FROM group_members WHERE group_id = $1"
	    " AND user_id = $2", 2, params, err, sizeof(err), "read a group membership");
	int ret;

	if (r == NULL)
		return -1;
	ret = PQntuples(r) > 0;
	PQclear(r);
	return ret;
}

int
pg_member_put(void *be, const char *group_id, const char *user_id, int member)
{
	const char *params[] = {group_id, user_id};

	return pg_remote_write(be, member ?
	    "INSERT INTO group_members(group_id, user_id) VALUES($1, $2) ON CONFLICT DO NOTHING" :
	    "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2", 2, params,
	    "record a group membership");
}

int
pg_member_each(void *be, const char *group_id, int (*fn)(const char *user_id, void *arg),
    void *arg)
{
	char err[STORE_ERROR_MAX + 1];
	const char *params[] = {group_id};

	return pg_each_value(be, "SELECT user_id FROM group_members WHERE group_id = $1"
	    " ORDER BY user_id", 1, params, fn, arg, err, sizeof(err), "read a group's members");
}
