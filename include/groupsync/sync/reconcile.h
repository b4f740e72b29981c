/*
 * reconcile: catches up on what event hooks missed. Lists every member of
 * the configured groups from Okta (all pages) and every user groupsync
 * holds a remote ID for, and enqueues one job of type SYNC_RECONCILE_EVENT
 * per user, so that the workers read each one and converge.
 *
 * What is enqueued: every member (with or without a remote ID) and every
 * user with a remote ID who is no longer a member. Before the jobs, each
 * member's snapshot is stored (store.h): the user object as listed and
 * the configured groups it was listed in, taken when the listing began,
 * so that the worker reads nothing from Okta unless an event of the user
 * was stored since (then the snapshot is stale, and it reads as for any
 * event: sync stays level-triggered). A member whose record is unchanged
 * costs no remote call either (the update fingerprint makes it a no-op);
 * deciding "unchanged" here would need the templates, so it is left to
 * the worker, which is the one place that decides. A user no longer a
 * member has no snapshot: the worker reads it.
 *
 * With group push and a remote (reconcile_opts.remote), the remote
 * groups' membership drift is repaired after the jobs are enqueued
 * (sync/group_drift.c).
 *
 * Runs as the `reconcile` command (cli/cmd_reconcile.c), or inside
 * `serve` every GROUPSYNC_RECONCILE_INTERVAL seconds (reconcile_start).
 *
 * Threads: reconcile_run from any one thread at a time per http_client.
 * reconcile_start and reconcile_stop from main; the loop runs on its own
 * thread with its own http_client.
 */
#ifndef GROUPSYNC_RECONCILE_H
#define GROUPSYNC_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "groupsync/sync/group_drift.h"

struct config;
struct http_client;
struct okta;
struct remote;
struct store;
struct reconcile_loop;

/* What one run found and did. */
struct reconcile_summary {
	size_t groups;
	size_t members;
	size_t remote_ids;     /* users with a non-empty remote ID */
	size_t without_remote; /* members without one */
	size_t gone;           /* remote IDs of users no longer members */
	size_t jobs;           /* members + gone */
	size_t stored;         /* jobs committed (0 in a dry run) */
	uint64_t pages;        /* Okta reads while listing (others' reads count too) */
	size_t snapshots;      /* members' snapshots stored */
	int64_t taken_ms;      /* when the listing began */
	struct group_drift_summary drift; /* group push: remote membership repaired */
};

/* How a run goes; zero it for a plain run. The callbacks may be NULL. */
struct reconcile_opts {
	int dry_run;                   /* enqueue nothing: tell would_enqueue */
	int snapshots_only;            /* store the members' snapshots, no job
	                                * (serve's backlog listing) */
	const _Atomic int *abort_flag; /* set: the run ends early, as a failure */
	/* every 100 members listed (last 0), once at the end of the listing
	 * (last 1), or when the listing failed (last -1) */
	void (*progress)(size_t members, uint64_t pages, int last, void *arg);
	/* in a dry run, each job that would be enqueued, and why */
	void (*would_enqueue)(const char *user_id, const char *reason, void *arg);
	void *arg;
	/* group push: repair the remote groups' membership drift after the
	 * jobs are enqueued (sync/group_drift.c); NULL: no repair */
	struct remote *remote;
};

/*
 * Lists the members, reads the remote IDs and enqueues the jobs. Returns
 * 0, or -1 with a one-line reason in err.
 */
int reconcile_run(const struct config *cfg, struct okta *okta, struct http_client *hc,
    struct store *q, const struct reconcile_opts *o, struct reconcile_summary *out,
    char *err, size_t errlen);

/*
 * Workers wait at the gate while serve's backlog listing runs, instead
 * of reading users the listing is about to bring. Made and freed by
 * serve, around both the loop and the workers.
 */
struct reconcile_gate;
struct reconcile_gate *reconcile_gate_new(void);
void reconcile_gate_free(struct reconcile_gate *g);
/* Waits while a backlog listing runs, at most max_ms; 1 when it waited
 * (a listing ran: look for a snapshot again), 0 when none ran. g NULL:
 * 0 at once. Any thread. */
int reconcile_gate_wait(struct reconcile_gate *g, int max_ms);

/*
 * Starts serve's reconcile thread, with its own HTTP client, which logs
 * one line per run:
 * - with cfg->reconcile_interval_s, reconcile_run every interval, the
 *   first one interval after start;
 * - always, the backlog check: whenever jobs are stored (and every
 *   second), when at least 100 users have ready jobs stored since the
 *   last backlog listing, without a snapshot, a listing that stores the
 *   members' snapshots (no job), with the gate closed meanwhile.
 * remote: as reconcile_opts' (NULL: no drift repair). Returns its
 * handle, or NULL when the thread cannot start. cfg, okta, q, gate and
 * remote must outlive it.
 */
struct reconcile_loop *reconcile_start(const struct config *cfg, struct okta *okta,
    struct store *q, struct reconcile_gate *gate, struct remote *remote);

/*
 * Stops it: wakes the wait at once, makes a run in progress abort its Okta
 * call in flight and stop listing, opens the gate for good, joins the
 * thread and frees the loop. NULL is fine.
 */
void reconcile_stop(struct reconcile_loop *l);

#endif
