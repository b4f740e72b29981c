/*
 * admin: the operator commands that work on the store while the service
 * runs: `queue list|show|retry|drop|stats` and `replay`.
 *
 * Owns their command lines, output (a table or text for people, one JSON
 * object per line with --json for scripts) and exit statuses. The store
 * is opened with STORE_OPEN_ADMIN, so the running server's leases are
 * left alone; `replay` goes through the same parser and enqueue as a
 * delivery over HTTP (hook_parse_delivery, store_enqueue).
 *
 * Threads: run from main only.
 */
#ifndef GROUPSYNC_ADMIN_H
#define GROUPSYNC_ADMIN_H

#include <stdio.h>

/*
 * Runs the command in argv[0] ("queue" or "replay") with its arguments,
 * after loading the settings like serve does (config_path may be NULL).
 * Returns the exit status: 0 ok, 1 runtime failure (no such job, refused,
 * store error), 2 invalid usage, settings or replay file.
 */
int admin_main(const char *config_path, int argc, char **argv);

/* Prints the admin commands' synopsis lines for --help. */
void admin_usage(FILE *out);

#endif
