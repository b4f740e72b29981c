/*
 * What worker.c (the pool: threads, leases, retries, shutdown) and
 * worker_sync.c (the steps of one user's sync: read Okta, decide, create,
 * update or delete in the remote system, write the ID back) share.
 * Internal to the worker module.
 */
#ifndef GROUPSYNC_WORKER_INTERNAL_H
#define GROUPSYNC_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "groupsync/base/metrics.h"
#include "groupsync/sync/decide.h"
#include "groupsync/sync/worker.h"

struct worker {
	struct worker_pool *pool;
	pthread_t thread;
	struct http_client *hc;
	int started;
};

struct worker_pool {
	struct worker_deps d;
	struct worker *w;
	int n;
	_Atomic int stopping; /* take no new lease */
	_Atomic int abort;    /* abort calls in flight, release leases */
	_Atomic int running;  /* threads not yet finished */
	_Atomic uint64_t syncs, created, updated, deleted, unchanged, skipped;
	_Atomic uint64_t retried, dead, released, events;
};

/* Everything one sync of one user reads and produces. */
struct sync_ctx {
	struct worker *w;
	const struct store_lease *lease;
	enum sync_known known;
	char remote_id[REMOTE_ID_MAX + 1];
	char hash[65];
	json_object *user;      /* Okta's user, NULL when deleted */
	enum sync_action action;
	int decided;            /* action holds sync_decide's answer */
	const char *outcome;    /* for the log line */
	enum metrics_sync_outcome mo; /* the same, for metrics */
	long remote_status;
	/* the failure, when a step fails */
	enum http_class cls;
	int64_t retry_at_ms;
	char error[300];
};

/*
 * One sync of x->lease's user: reads the user from Okta, decides with
 * sync_decide() and carries the action out. 0, or -1 with the failure in
 * x->cls, x->retry_at_ms and x->error.
 */
int worker_execute(struct sync_ctx *x);

/* Records a store failure in x (always retried); returns -1. */
int worker_store_fail(struct sync_ctx *x, const char *what);

#endif
