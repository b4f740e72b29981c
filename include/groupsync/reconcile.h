/*
 * reconcile: catches up on what event hooks missed. Lists every member of
 * the configured groups from Okta (all pages) and every user groupsync
 * holds a remote ID for, and enqueues one job of type SYNC_RECONCILE_EVENT
 * per user, so that the workers read each one and converge.
 *
 * What is enqueued: every member (with or without a remote ID) and every
 * user with a remote ID who is no longer a member. A member whose record
 * is unchanged costs the worker two Okta reads and no remote call (the
 * update fingerprint makes it a no-op); deciding "unchanged" here would
 * need the templates and the user's full profile, so it is left to the
 * worker, which is the one place that decides.
 *
 * Threads: run from main only.
 */
#ifndef GROUPSYNC_RECONCILE_H
#define GROUPSYNC_RECONCILE_H

#include <stdio.h>

/*
 * Runs `reconcile [--dry-run] [--json] [--config FILE]` (argv[0] is
 * "reconcile"). Returns the exit status: 0 ok, 1 Okta or store failure,
 * 2 invalid usage or settings.
 */
int reconcile_main(const char *config_path, int argc, char **argv);

/* Prints the synopsis lines for --help. */
void reconcile_usage(FILE *out);

#endif
