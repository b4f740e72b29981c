/*
 * groupsync: keeps a remote user store in step with an Okta group.
 * The command line: global options, --help and version here; each
 * command in a cli/cmd_*.c of its own (see groupsync/cli/commands.h).
 */
#include <stdio.h>
#include <string.h>

#include "groupsync/base/config.h"
#include "groupsync/cli/command.h"
#include "groupsync/cli/commands.h"

#define EXIT_USAGE COMMAND_EXIT_USAGE

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: groupsync [--config FILE] COMMAND\n"
	    "\n"
	    "Keeps a remote user store in step with an Okta group: receives Okta\n"
	    "event hooks, queues them durably and syncs each user.\n"
	    "\n"
	    "commands:\n"
	    "  serve          run the event-hook endpoint (until SIGTERM or SIGINT)\n"
	    "  check-config [--online]\n"
	    "                 validate the settings and print them, secrets redacted;\n"
	    "                 --online: also check Okta (credentials, groups, schema,\n"
	    "                 event hook) and the remote (templates, find)\n"
	    "  version        print the version\n"
	    "  help           print this help\n"
	    "\n");
	cmd_queue_usage(out);
	cmd_reconcile_usage(out);
	cmd_sync_usage(out);
	cmd_okta_setup_usage(out);
	cmd_store_usage(out);
	fprintf(out,
	    "\n"
	    "options:\n"
	    "  --config FILE  JSON object of settings, keys as below; the environment\n"
	    "                 wins over the file\n"
	    "\n"
	    "settings (environment variables):\n");
	config_help(out);
	fprintf(out,
	    "\n"
	    "exit status: 0 ok, 1 runtime failure, 2 invalid usage or settings\n");
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL, *cmd = NULL;
	int i, online = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			cmd = "version";
		} else if (cmd == NULL && (strcmp(argv[i], "queue") == 0 ||
		    strcmp(argv[i], "replay") == 0)) {
			/* the admin commands parse the rest of the line */
			return cmd_queue(config_path, argc - i, argv + i);
		} else if (cmd == NULL && strcmp(argv[i], "sync") == 0) {
			return cmd_sync(config_path, argc - i, argv + i);
		} else if (cmd == NULL && strcmp(argv[i], "reconcile") == 0) {
			return cmd_reconcile(config_path, argc - i, argv + i);
		} else if (cmd == NULL && strcmp(argv[i], "okta") == 0) {
			return cmd_okta_setup(config_path, argc - i, argv + i);
		} else if (cmd == NULL && strcmp(argv[i], "store") == 0) {
			return cmd_store(config_path, argc - i, argv + i);
		} else if (cmd != NULL && strcmp(cmd, "check-config") == 0 &&
		    strcmp(argv[i], "--online") == 0) {
			online = 1;
		} else if (cmd == NULL && argv[i][0] != '-') {
			cmd = argv[i];
		} else {
			fprintf(stderr, "groupsync: unexpected argument %s (see groupsync --help)\n",
			    argv[i]);
			return EXIT_USAGE;
		}
	}
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("groupsync %s\n", GROUPSYNC_VERSION);
		return 0;
	}
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(config_path, online);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(config_path);
	fprintf(stderr, "groupsync: unknown command %s (see groupsync --help)\n", cmd);
	return EXIT_USAGE;
}
