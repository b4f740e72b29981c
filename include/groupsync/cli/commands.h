/*
 * commands: every command of the groupsync binary, each in a file of its
 * own under src/cli/ and each set up through one command context
 * (groupsync/cli/command.h). cli/main.c picks the command from the
 * command line and prints --help from their usage lines.
 *
 * Each cmd_* takes the --config path given before the command (may be
 * NULL) and its own argv (argv[0] is the command's name) and returns the
 * exit status: 0 ok, 1 runtime failure, 2 invalid usage or settings.
 *
 * Threads: main only.
 */
#ifndef GROUPSYNC_CLI_COMMANDS_H
#define GROUPSYNC_CLI_COMMANDS_H

#include <stdio.h>

/* serve: the service itself, until SIGTERM or SIGINT (cli/cmd_serve.c). */
int cmd_serve(const char *config_path);

/* check-config [--online]: the settings checked and printed, secrets
 * redacted; the templates and Okta keys they name loaded (cli/cmd_serve.c,
 * as serve loads them); an unknown GROUPSYNC_* variable is an error.
 * --online also asks Okta and the remote system (cmd_check_online). */
int cmd_check_config(const char *config_path, int online);

/* check-config --online's checks (cli/cmd_check_online.c), on a context
 * opened with COMMAND_OKTA: 0 when all passed, else 1. */
struct command_ctx;
struct remote;
int cmd_check_online(struct command_ctx *run, struct remote *remote);

/*
 * queue list|show|retry|drop|stats and replay (cli/cmd_queue.c): the
 * operator's commands on the store, beside a running server. argv[0] is
 * "queue" or "replay".
 */
int cmd_queue(const char *config_path, int argc, char **argv);
void cmd_queue_usage(FILE *out);

/* reconcile [--dry-run] [--json] (cli/cmd_reconcile.c). */
int cmd_reconcile(const char *config_path, int argc, char **argv);
void cmd_reconcile_usage(FILE *out);

/* sync USER_ID [--dry-run] (cli/cmd_sync.c): provision on demand. */
int cmd_sync(const char *config_path, int argc, char **argv);
void cmd_sync_usage(FILE *out);

/* okta setup --url URL [--name NAME] [--dry-run] (cli/cmd_okta_setup.c);
 * argv[0] is "okta". */
int cmd_okta_setup(const char *config_path, int argc, char **argv);
void cmd_okta_setup_usage(FILE *out);

/* store migrate --from DIR [--to URI] [--json] (cli/cmd_store.c); argv[0]
 * is "store". */
int cmd_store(const char *config_path, int argc, char **argv);
void cmd_store_usage(FILE *out);

#endif
