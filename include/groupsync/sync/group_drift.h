/*
 * group_drift: reconcile's repair of the remote membership of pushed
 * groups (GROUPSYNC_PUSH_GROUPS=1, with group_get.json). Someone may add
 * or remove members of a remote group by hand; event hooks never say so.
 *
 * For each configured group with a remote ID, one read of the remote
 * group's members (group_get.json), compared with what should be there:
 * the remote IDs of the users the store says groupsync made members of it
 * (group members map, remote-ID map). A member missing is added; a member
 * groupsync manages (a remote ID of one of its users) that should not be
 * there is removed; a member groupsync does not know stays. With
 * templates that send the whole list ({{group.members}}), one write per
 * group sends what should be there plus the unknown members.
 *
 * What "should be there" is the store's: the workers keep it in step
 * with Okta (reconcile enqueues every member first). A sync writing the
 * same membership at the same moment can race the repair; each change is
 * checked against the store again just before it is sent, and what still
 * slips through is repaired by the next reconcile.
 *
 * Threads: one run at a time per http_client; the store and the remote
 * are shared and thread-safe.
 */
#ifndef GROUPSYNC_SYNC_GROUP_DRIFT_H
#define GROUPSYNC_SYNC_GROUP_DRIFT_H

#include <stddef.h>

struct config;
struct http_client;
struct remote;
struct store;

/* What one run found and did (in a dry run: would do). */
struct group_drift_summary {
	size_t groups;  /* remote groups read */
	size_t added;   /* members put back */
	size_t removed; /* managed members taken out */
	size_t unknown; /* members groupsync does not know, left alone */
	size_t gone;    /* remote groups not found (404): made again and filled
	                 * (a dry run only counts them) */
};

/*
 * Reads and repairs each pushed group. dry_run: reads, counts, changes
 * nothing. Every group is tried; returns 0, or -1 with the first
 * failure in err (the other groups are still repaired).
 */
int group_drift_run(const struct config *cfg, struct remote *remote, struct http_client *hc,
    struct store *q, int dry_run, struct group_drift_summary *out, char *err, size_t errlen);

#endif
