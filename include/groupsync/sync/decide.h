/*
 * decide: the decision of one sync, with no I/O. From what the leased
 * events say and what groupsync remembers of a user, whether Okta must be
 * read at all; from the user's state in Okta, the remote record
 * groupsync knows and GROUPSYNC_DEPROVISION, whether to create, update,
 * delete, disable, forget or do nothing.
 *
 * Sync is level-triggered: events only say which user to look at. The
 * steps of a sync (sync/converge.c) read Okta and call the remote
 * system; this module only decides, so that the whole table is
 * unit-tested.
 *
 * Threads: pure functions.
 */
#ifndef GROUPSYNC_SYNC_H
#define GROUPSYNC_SYNC_H

#include <stddef.h>

#include "groupsync/store/store.h"

/* Event type of jobs enqueued by reconcile (not an Okta event). */
#define SYNC_RECONCILE_EVENT "groupsync.reconcile"
/* Event type of the job that records an operator's `groupsync sync`. */
#define SYNC_ONDEMAND_EVENT "groupsync.sync"

/* DISABLE: the record stays, disabled (disable.json); FORGET: the record
 * stays as it is, groupsync only clears its own state (the remote ID it
 * recorded and customId). */
enum sync_action {
	SYNC_NOTHING = 0, SYNC_CREATE, SYNC_UPDATE, SYNC_DELETE, SYNC_DISABLE, SYNC_FORGET
};

/* GROUPSYNC_DEPROVISION: what leaving every synced group does remotely. */
enum sync_deprovision {
	SYNC_DEPROVISION_DELETE = 0, SYNC_DEPROVISION_DISABLE, SYNC_DEPROVISION_NONE
};

/* The mode of a GROUPSYNC_DEPROVISION value (config validates it). */
enum sync_deprovision sync_deprovision_mode(const char *value);

/*
 * The "hash" groupsync records for a disabled record, in place of the
 * update fingerprint: any real fingerprint differs from it, so a user
 * who comes back is updated (re-enabled) in the same record.
 */
#define SYNC_DISABLED_MARK "disabled"

/* What groupsync remembers of a user (store_remote_get). */
enum sync_known {
	SYNC_NEVER = 0,   /* no row: groupsync never synced this user */
	SYNC_GONE,        /* synced once, remote record deleted since */
	SYNC_HAS_REMOTE,  /* a remote ID is recorded */
};

/* Why a lease needs no Okta call, or SYNC_READ when it does. */
enum sync_precheck {
	SYNC_READ = 0,
	SYNC_SKIP_NEVER_SYNCED,   /* profile/lifecycle events of an unknown user */
	SYNC_SKIP_NOT_SYNCED_ATTRS, /* profile updates of attributes no template reads */
};

/*
 * relevant(changed, arg) returns 1 when a comma-separated list of changed
 * attributes names one that the templates read (remote_uses_any).
 */
enum sync_precheck sync_precheck(const struct store_job *jobs, size_t njobs,
    enum sync_known known, int (*relevant)(const char *changed, void *arg), void *arg);

/* The user's state as read from Okta, and what groupsync knows. */
struct sync_state {
	int exists;     /* Okta answered the user (not 404) */
	int active;     /* sync_status_active(status) */
	int deprovisioned; /* status DEPROVISIONED (deactivated) */
	int member;     /* in one of the configured groups */
	int has_remote; /* a remote ID is recorded */
	int changed;    /* the update would differ from the last synced one */
	int suspended;  /* status SUSPENDED */
	int disabled;   /* the recorded remote record was disabled by groupsync */
	enum sync_deprovision mode;
};

enum sync_action sync_decide(const struct sync_state *s);

/* 1 for the Okta statuses in which a member is kept in the remote system. */
int sync_status_active(const char *status);

const char *sync_action_name(enum sync_action a);

/*
 * Backoff before attempt number `attempts` (1 = first retry): base doubled
 * per attempt, capped, then a random point in [delay/2, delay] so that
 * failed jobs do not retry in lockstep. rnd is a uniform value in [0, 1).
 */
long long sync_backoff_ms(int attempts, long long base_ms, long long cap_ms, double rnd);

#endif
