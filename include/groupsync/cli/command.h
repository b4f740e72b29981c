/*
 * command: what every command shares before it runs, the way git's
 * builtins share their set-up: the settings loaded and checked (from
 * --config and the environment), every secret registered for redaction,
 * logging set up, and on demand libcurl with the Okta client and an HTTP
 * client bounded by the settings' timeouts, and the store opened beside a
 * running server. Each command parses its own arguments first (a usage
 * error needs no settings), then calls command_open, runs, and calls
 * command_close.
 *
 * Errors are printed as one line on stderr, naming the command.
 *
 * Threads: main only.
 */
#ifndef GROUPSYNC_CLI_COMMAND_H
#define GROUPSYNC_CLI_COMMAND_H

#include <stdio.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/okta/client.h"
#include "groupsync/store/store.h"

#define COMMAND_EXIT_RUNTIME 1 /* something failed while running */
#define COMMAND_EXIT_USAGE 2   /* invalid usage or settings */

/* What a command needs besides its settings (command_open's needs). */
#define COMMAND_CURL 0x1  /* libcurl initialised (once per process) */
#define COMMAND_OKTA 0x2  /* libcurl, the Okta client and an HTTP client */
#define COMMAND_STORE 0x4 /* the store, opened beside a running server */

struct command_ctx {
	const char *name;       /* "queue list", "reconcile": for messages */
	struct config cfg;
	struct okta *okta;      /* COMMAND_OKTA */
	struct http_client *hc; /* COMMAND_OKTA */
	struct store *q;        /* COMMAND_STORE */
	int loaded, curl;       /* what command_close undoes */
};

/*
 * Loads the settings (config_path may be NULL), registers their secrets
 * for redaction, sets up logging and opens what needs asks for. Returns 0,
 * or the exit status with the reason printed. Call command_close either
 * way.
 */
int command_open(struct command_ctx *c, const char *name, const char *config_path,
    unsigned needs);
void command_close(struct command_ctx *c);

/* Prints "groupsync: NAME: " and the message as one line on stderr. */
void command_error(const struct command_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
