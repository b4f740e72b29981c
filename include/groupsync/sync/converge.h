/*
 * converge: one user's sync, the steps between a lease and its outcome:
 * what groupsync remembers of the user, Okta's user and group
 * membership, the decision (sync/decide.c), then the remote create,
 * update, delete, disable or forget (GROUPSYNC_DEPROVISION), the remote
 * ID recorded and written back to Okta, and with GROUPSYNC_PUSH_GROUPS
 * the user's remote group memberships.
 *
 * It neither leases nor settles: the worker pool (sync/worker.c) leases a
 * user's jobs, runs converge_run and records how it ended.
 *
 * Threads: one struct converge per sync, on the worker's thread; the
 * deps are shared and thread-safe.
 */
#ifndef GROUPSYNC_SYNC_CONVERGE_H
#define GROUPSYNC_SYNC_CONVERGE_H

#include <pthread.h>
#include <stdint.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/okta/client.h"
#include "groupsync/remote/client.h"
#include "groupsync/store/store.h"
#include "groupsync/sync/decide.h"
#include "groupsync/sync/reconcile.h"

/* What a sync uses. Borrowed: each outlives every sync. */
struct converge_deps {
	const struct config *cfg;
	struct store *q;
	struct okta *okta;
	struct remote *remote;
	/* Group writes that read before they write, one at a time in the
	 * process (see converge_group_ensure): the owner's lock. */
	pthread_mutex_t *groups_lock;
	/* serve's backlog listing (NULL: none): a sync without a snapshot
	 * waits for one in progress before it reads Okta */
	struct reconcile_gate *gate;
};

/* One sync: the inputs, then what it found and did. Zero it first. */
struct converge {
	const struct converge_deps *d;
	struct http_client *hc;         /* the worker's own: keep-alive */
	const struct store_lease *lease;

	enum sync_known known;          /* after converge_load_known */
	char remote_id[REMOTE_ID_MAX + 1];
	char hash[65];                  /* of the update last sent */
	json_object *user;              /* Okta's user, NULL when deleted: caller puts */
	struct sync_state state;        /* what the decision read */
	enum sync_action action;
	int decided;                    /* action holds sync_decide's answer */
	long remote_status;             /* of the last remote call, 0: none */
	/* the failure, when a step fails */
	enum http_class cls;
	int64_t retry_at_ms;            /* 0, or Retry-After / a rate-limit reset */
	int deferred;                   /* an Okta call was not sent (rate
	                                 * budget): not an attempt */
	char error[300];
	/* group push: the user's configured groups, as Okta answered */
	struct okta_membership groups;
};

/* Reads what groupsync remembers of the lease's user into x->known,
 * remote_id and hash. 0, or -1 with the failure in x (RETRY). */
int converge_load_known(struct converge *x);

/* Reads Okta, decides and carries the decision out. 0 once the user is
 * converged, -1 with the failure's class, retry time and error in x. */
int converge_run(struct converge *x);

/* converge_run in two halves, for `groupsync sync`, which shows the
 * decision before (or instead of) carrying it out: converge_decide reads
 * Okta and sets x->action (0, or -1 as converge_run); converge_apply
 * carries a decided x out. */
int converge_decide(struct converge *x);
int converge_apply(struct converge *x);

#endif
