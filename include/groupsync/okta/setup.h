/*
 * okta_setup: `groupsync okta setup`, the Okta side of an installation
 * that the Workflows template made an admin do by hand: the custom profile
 * attribute that holds the remote ID (GROUPSYNC_REMOTE_ID_ATTRIBUTE) and
 * the event hook that sends groupsync the 9 event types it handles, with
 * groupsync's authentication header, then Okta's one-time verification.
 *
 * Idempotent: the attribute is added only when missing; a hook with the
 * same URI (or name) is updated (PUT, as Okta's API wants) instead of a
 * second one being created. The hook secret is sent to Okta and never
 * printed (--dry-run shows it redacted).
 *
 * Threads: run from main only.
 */
#ifndef GROUPSYNC_OKTA_SETUP_H
#define GROUPSYNC_OKTA_SETUP_H

#include <stdio.h>

/*
 * Runs `okta setup --url URL [--name NAME] [--dry-run] [--config FILE]`
 * (argv[0] is "okta"). Returns the exit status: 0 done and verified,
 * 1 an Okta call failed or verification failed, 2 invalid usage or
 * settings.
 */
int okta_setup_main(const char *config_path, int argc, char **argv);

/* Prints the synopsis lines for --help. */
void okta_setup_usage(FILE *out);

#endif
