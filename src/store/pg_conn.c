/*
 * The PostgreSQL backend's connections and the helpers every op uses.
 *
 * A small pool, not one connection behind a mutex: intake's committer
 * must not wait for a worker's lease query, nor /readyz for either. A
 * connection is made on first use and again after one broke; when one
 * breaks (the server restarted, the network failed) the idle ones are
 * dropped too, as they went with it, so that an outage costs each caller
 * at most one failed call and the store recovers without a restart.
 *
 * Messages: the URI may hold a password, so no message quotes it; the
 * store is named by its label (user, host, port, database).
 */
#include "pg.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupsync/base/util.h"

/* The value of keyword in a parsed connection string, or "". */
static const char *
pg_opt(const PQconninfoOption *opts, const char *keyword)
{
	for (; opts->keyword != NULL; opts++) {
		if (strcmp(opts->keyword, keyword) == 0)
			return opts->val != NULL ? opts->val : "";
	}
	return "";
}

int
pg_label(struct pg_store *p, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *msg = NULL;
	const char *host, *port, *user;

	opts = PQconninfoParse(p->conninfo, &msg);
	if (opts == NULL) {
		/* libpq quotes the part it could not read, which may be the
		 * password: only what comes before the quote */
		(void)util_format(err, errlen, "store postgresql://...: not a connection URI "
		    "libpq can read (%.*s)", msg != NULL ? (int)strcspn(msg, "\"\n") : 13,
		    msg != NULL ? msg : "out of memory");
		PQfreemem(msg);
		return -1;
	}
	host = pg_opt(opts, "host");
	if (*host == '\0')
		host = pg_opt(opts, "hostaddr");
	port = pg_opt(opts, "port");
	user = pg_opt(opts, "user");
	(void)util_format(p->label, sizeof(p->label), "postgresql://%s%s%s%s%s/%s", user,
	    *user != '\0' ? "@" : "", *host != '\0' ? host : "(default host)",
	    *port != '\0' ? ":" : "", port, pg_opt(opts, "dbname"));
	PQconninfoFree(opts);
	return 0;
}

/* The server's message on one line (libpq's span several). */
static void
pg_oneline(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
	}
}

void
pg_seterr(struct pg_store *p, PGconn *c, const PGresult *r, char *err, size_t errlen,
    const char *what)
{
	const char *msg = NULL;
	size_t n;

	if (err == NULL || errlen == 0)
		return;
	if (r != NULL)
		msg = PQresultErrorMessage(r);
	if ((msg == NULL || *msg == '\0') && c != NULL)
		msg = PQerrorMessage(c);
	if (msg == NULL || *msg == '\0')
		msg = r == NULL && c == NULL ? "out of memory" : "unknown error";
	(void)util_format(err, errlen, "%s: %s: %s", p->label, what, msg);
	pg_oneline(err);
	/* without libpq's trailing newline */
	n = strlen(err);
	while (n > 0 && err[n - 1] == ' ')
		err[--n] = '\0';
}

const char *
pg_sqlstate(const PGresult *r)
{
	const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

PGconn *
pg_connect(struct pg_store *p, char *err, size_t errlen)
{
	/* before dbname, so that the URI's own values win */
	static const char *const keys[] = {"connect_timeout", "application_name",
	    "keepalives_idle", "keepalives_interval", "keepalives_count", "dbname", NULL};
	const char *vals[] = {PG_CONNECT_TIMEOUT, "groupsync", "10", "5", "3", p->conninfo,
	    NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (c == NULL) {
		(void)util_format(err, errlen, "%s: connect: out of memory", p->label);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pg_seterr(p, c, NULL, err, errlen, "connect");
		PQfinish(c);
		return NULL;
	}
	/* a delivery is answered 200 only once its COMMIT is durable,
	 * whatever the server's default says */
	if (pg_run(p, c, "SET synchronous_commit = on", err, errlen, "connect") == -1) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *
pg_take(struct pg_store *p, char *err, size_t errlen)
{
	PGconn *c;
	int i, slot;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		slot = -1;
		for (i = 0; i < PG_POOL_MAX; i++) {
			if (p->busy[i])
				continue;
			if (p->conn[i] != NULL) {
				slot = i;
				break;
			}
			if (slot == -1)
				slot = i;
		}
		if (slot != -1)
			break;
		pthread_cond_wait(&p->free_cond, &p->lock);
	}
	p->busy[slot] = 1;
	c = p->conn[slot];
	pthread_mutex_unlock(&p->lock);
	if (c != NULL)
		return c;

	/* connect without the lock: it can take connect_timeout */
	c = pg_connect(p, err, errlen);
	pthread_mutex_lock(&p->lock);
	p->conn[slot] = c;
	if (c == NULL) {
		p->busy[slot] = 0;
		pthread_cond_signal(&p->free_cond);
	}
	pthread_mutex_unlock(&p->lock);
	return c;
}

void
pg_give(struct pg_store *p, PGconn *c)
{
	PGconn *drop[PG_POOL_MAX];
	int i, n = 0, broken;

	if (c == NULL)
		return;
	/* what a failure left open must not become the next caller's */
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	broken = PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < PG_POOL_MAX; i++) {
		if (p->conn[i] == c) {
			p->busy[i] = 0;
			if (broken) {
				drop[n++] = c;
				p->conn[i] = NULL;
			}
		}
	}
	/* the idle ones most likely went with it (a server restart) */
	for (i = 0; broken && i < PG_POOL_MAX; i++) {
		if (!p->busy[i] && p->conn[i] != NULL) {
			drop[n++] = p->conn[i];
			p->conn[i] = NULL;
		}
	}
	pthread_cond_signal(&p->free_cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < n; i++)
		PQfinish(drop[i]);
}

void
pg_pool_close(struct pg_store *p)
{
	int i;

	for (i = 0; i < PG_POOL_MAX; i++) {
		if (p->conn[i] != NULL)
			PQfinish(p->conn[i]);
		p->conn[i] = NULL;
		p->busy[i] = 0;
	}
}

PGresult *
pg_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
	/* without parameters, sql may be several statements (the schema) */
	if (n == 0)
		return PQexec(c, sql);
	return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
}

PGresult *
pg_exec_ok(struct pg_store *p, PGconn *c, const char *sql, int n, const char *const *params,
    int *retry, char *err, size_t errlen, const char *what)
{
	PGresult *r = pg_exec(c, sql, n, params);
	const char *state;

	if (pg_ok(r))
		return r;
	pg_seterr(p, c, r, err, errlen, what);
	state = pg_sqlstate(r);
	if (retry != NULL)
		*retry = strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0;
	PQclear(r);
	return NULL;
}

int
pg_ok(const PGresult *r)
{
	ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int
pg_run(struct pg_store *p, PGconn *c, const char *sql, char *err, size_t errlen,
    const char *what)
{
	PGresult *r = pg_exec_ok(p, c, sql, 0, NULL, NULL, err, errlen, what);

	PQclear(r);
	return r != NULL ? 0 : -1;
}

void
pg_write_end(struct pg_store *p, int ok, const char *err)
{
	if (ok)
		store_health_ok(p->health);
	else
		store_health_failed(p->health, err);
}

const char *
pg_i64(char *buf, int64_t v)
{
	(void)snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

int64_t
pg_get_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int
pg_copy(char *dst, size_t size, const PGresult *r, int row, int col)
{
	return util_copy(dst, size, PQgetvalue(r, row, col));
}

void
pg_read_job(const PGresult *r, int row, struct store_job *j)
{
	/* our columns were bounded by struct store_job_in when stored */
	memset(j, 0, sizeof(*j));
	j->id = pg_get_i64(r, row, 0);
	(void)pg_copy(j->uuid, sizeof(j->uuid), r, row, 1);
	(void)pg_copy(j->user_id, sizeof(j->user_id), r, row, 2);
	(void)pg_copy(j->event_type, sizeof(j->event_type), r, row, 3);
	(void)pg_copy(j->published, sizeof(j->published), r, row, 4);
	(void)pg_copy(j->group_id, sizeof(j->group_id), r, row, 5);
	(void)pg_copy(j->changed, sizeof(j->changed), r, row, 6);
	j->changed_known = PQgetvalue(r, row, 7)[0] == 't';
	j->attempts = (int)pg_get_i64(r, row, 8);
	j->not_before_ms = pg_get_i64(r, row, 9);
	j->created_ms = pg_get_i64(r, row, 10);
	(void)pg_copy(j->last_error, sizeof(j->last_error), r, row, 11);
}

int
pg_held_add(struct pg_store *p, int64_t token)
{
	int64_t *h;
	size_t n;
	int ret = 0;

	pthread_mutex_lock(&p->held_lock);
	if (p->nheld == p->held_cap) {
		n = p->held_cap == 0 ? 16 : p->held_cap * 2;
		h = n <= SIZE_MAX / sizeof(*h) ? realloc(p->held, n * sizeof(*h)) : NULL;
		if (h == NULL) {
			ret = -1;
			goto out;
		}
		p->held = h;
		p->held_cap = n;
	}
	p->held[p->nheld++] = token;
out:
	pthread_mutex_unlock(&p->held_lock);
	return ret;
}

void
pg_held_remove(struct pg_store *p, int64_t token)
{
	size_t i;

	pthread_mutex_lock(&p->held_lock);
	for (i = 0; i < p->nheld; i++) {
		if (p->held[i] == token) {
			p->held[i] = p->held[--p->nheld];
			break;
		}
	}
	pthread_mutex_unlock(&p->held_lock);
}

char *
pg_held_array(struct pg_store *p)
{
	char *s;
	size_t i, len, off = 0;

	pthread_mutex_lock(&p->held_lock);
	len = 3 + p->nheld * 21; /* "{", each number and its comma, "}", NUL */
	s = malloc(len);
	if (s != NULL) {
		s[off++] = '{';
		for (i = 0; i < p->nheld; i++)
			off += (size_t)snprintf(s + off, len - off, "%s%" PRId64, i ? "," : "",
			    p->held[i]);
		(void)snprintf(s + off, len - off, "}");
	}
	pthread_mutex_unlock(&p->held_lock);
	return s;
}

int
pg_with_conn(struct pg_store *p, pg_op_fn fn, void *arg, char *err, size_t errlen)
{
	PGconn *c;
	int attempt, rc = -1, broken;

	for (attempt = 0; attempt < 2; attempt++) {
		c = pg_take(p, err, errlen);
		if (c == NULL)
			return -1;
		rc = fn(p, c, arg, err, errlen);
		broken = rc == -1 && PQstatus(c) != CONNECTION_OK;
		pg_give(p, c);
		if (!broken)
			break;
	}
	return rc;
}

/* pg_query's statement, for pg_with_conn. */
struct pg_stmt {
	const char *sql;
	int n;
	const char *const *params;
	const char *what;
	PGresult *r;
};

static int
pg_stmt_run(struct pg_store *p, PGconn *c, void *arg, char *err, size_t errlen)
{
	struct pg_stmt *s = arg;

	s->r = pg_exec_ok(p, c, s->sql, s->n, s->params, NULL, err, errlen, s->what);
	return s->r != NULL ? 0 : -1;
}

PGresult *
pg_query(struct pg_store *p, const char *sql, int n, const char *const *params, char *err,
    size_t errlen, const char *what)
{
	struct pg_stmt s = {sql, n, params, what, NULL};

	if (pg_with_conn(p, pg_stmt_run, &s, err, errlen) == -1)
		return NULL;
	return s.r;
}

/* One statement that writes a row when it takes effect (an upsert whose
 * WHERE may refuse it, RETURNING 1): 1 it did, 0 it did not, -1 error. */
int
pg_query_took(struct pg_store *p, const char *sql, int n, const char *const *params,
    const char *what)
{
	char err[STORE_ERROR_MAX + 1];
	PGresult *r = pg_query(p, sql, n, params, err, sizeof(err), what);
	int ret;

	if (r == NULL)
		return -1;
	ret = PQntuples(r) == 1;
	PQclear(r);
	return ret;
}
