/*
 * The store's PostgreSQL backend: open and close. Opening reads the URI
 * (for a label without its password), connects once to create or check
 * the schema (pg_schema.c), and in server mode returns the jobs of
 * leases that expired (never a live one: other replicas are working on
 * them) and starts the keeper (pg_keeper.c). The pool (pg_conn.c)
 * connects again whenever the database comes back.
 */
#include "pg.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

/* A name unique among every process on the database, now and later:
 * host, process, this handle, and the time (a container's pid is the
 * same at each restart). */
static void
pg_owner(struct pg_store *p)
{
	static atomic_uint handles;
	char host[64];

	if (gethostname(host, sizeof(host)) != 0)
		(void)util_copy(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	(void)util_format(p->owner, sizeof(p->owner), "%s/%ld/%u/%lld", host, (long)getpid(),
	    atomic_fetch_add(&handles, 1) + 1, (long long)util_now_ms());
}

/* Also frees what a failed pg_open left half done. */
void
pg_close(void *be)
{
	struct pg_store *p = be;

	if (p == NULL)
		return;
	pg_keeper_stop(p);
	pg_pool_close(p);
	if (p->conninfo != NULL) {
		memset(p->conninfo, 0, strlen(p->conninfo));
		free(p->conninfo);
	}
	free(p->held);
	pthread_cond_destroy(&p->free_cond);
	pthread_mutex_destroy(&p->held_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void *
pg_open(struct store_health *health, const char *location, int mode,
    const struct store_params *params, char *err, size_t errlen)
{
	struct pg_store *p = calloc(1, sizeof(*p));
	PGconn *c;
	long long n;
	int ret;

	if (p == NULL || (p->conninfo = strdup(location)) == NULL) {
		(void)util_format(err, errlen, "store: out of memory");
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->held_lock, NULL);
	pthread_cond_init(&p->free_cond, NULL);
	p->health = health;
	p->mode = mode;
	p->lease_ms = params->lease_ms;
	pg_owner(p);
	if (pg_label(p, err, errlen) == -1)
		goto fail;
	(void)util_copy(health->label, sizeof(health->label), p->label);

	c = pg_take(p, err, errlen);
	if (c == NULL)
		goto fail;
	ret = pg_schema(p, c, err, errlen);
	if (ret == 0 && mode == STORE_OPEN_SERVER) {
		/* only expired leases: a live one is another replica's */
		n = pg_sweep(c);
		if (n < 0) {
			pg_seterr(p, c, NULL, err, errlen, "return expired leases");
			ret = -1;
		}
	}
	pg_give(p, c);
	if (ret == -1)
		goto fail;
	if (mode == STORE_OPEN_SERVER && pg_keeper_start(p, err, errlen) == -1)
		goto fail;
	return p;
fail:
	pg_close(p);
	return NULL;
}

void
pg_listen(void *be, void (*wake)(void *arg), void *arg)
{
	pg_keeper_wake(be, wake, arg);
}
