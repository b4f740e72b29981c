/*
 * cmd_store: `groupsync store migrate --from DIR [--to URI] [--json]`,
 * which moves an existing SQLite store into an empty PostgreSQL one
 * (store_copy in store.h): pending, leased (as pending), dead and done
 * jobs, delivery IDs, the user -> remote ID map and group push's maps
 * (group remote IDs, the memberships groupsync made), in one transaction,
 * then checked by counting. The target is --to, or GROUPSYNC_STORE from
 * the settings (GROUPSYNC_STORE_FILE keeps a password off the command
 * line, where ps would show it).
 */
#include "groupsync/cli/commands.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/cli/command.h"
#include "groupsync/store/store.h"

#define STORE_SQLITE_PREFIX "sqlite:"

void
cmd_store_usage(FILE *out)
{
	fprintf(out, "  store migrate --from DIR [--to URI] [--json]\n"
	    "                 copy a stopped SQLite store (DIR or sqlite:DIR) into an\n"
	    "                 empty PostgreSQL one (--to, else GROUPSYNC_STORE);\n"
	    "                 member-listing snapshots are not copied (a cache)\n");
}

static int
store_usage(const char *why)
{
	fprintf(stderr, "groupsync: store: %s\nusage:\n", why);
	cmd_store_usage(stderr);
	return COMMAND_EXIT_USAGE;
}

static void
store_print(const char *to, const struct store_copy_counts *n, int json)
{
	json_object *o = json_object_new_object();
	char count[24];
	int i;

	json_object_object_add(o, "to", json_object_new_string(to));
	for (i = 0; i < 4; i++) {
		snprintf(count, sizeof(count), "jobs_%s", store_state_name((enum store_state)i));
		json_object_object_add(o, count, json_object_new_int64(n->jobs[i]));
	}
	json_object_object_add(o, "delivery_ids", json_object_new_int64(n->deliveries));
	json_object_object_add(o, "remote_ids", json_object_new_int64(n->remote_ids));
	json_object_object_add(o, "group_remote_ids", json_object_new_int64(n->groups));
	json_object_object_add(o, "group_members", json_object_new_int64(n->group_members));
	if (json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		json_object_object_foreach(o, key, v)
			printf("%-24s %s\n", key, json_object_get_string(v));
	}
	json_object_put(o);
}

int
cmd_store(const char *config_path, int argc, char **argv)
{
	struct command_ctx run;
	struct store_copy_counts n;
	struct store *from = NULL, *to = NULL;
	const char *src = NULL, *dst = NULL;
	char err[1024];
	int i, json = 0, rc;

	if (argc < 2 || strcmp(argv[1], "migrate") != 0)
		return store_usage("unknown or missing subcommand");
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			src = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			dst = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return store_usage("unexpected argument");
	}
	if (src == NULL)
		return store_usage("--from is required");
	if (strncmp(src, STORE_SQLITE_PREFIX, strlen(STORE_SQLITE_PREFIX)) == 0)
		src += strlen(STORE_SQLITE_PREFIX);
	rc = command_open(&run, "store migrate", config_path, 0);
	if (rc != 0)
		goto out;
	if (dst == NULL)
		dst = run.cfg.store;
	if (dst == NULL || strcmp(dst, "sqlite") == 0) {
		command_error(&run, "no target: give --to postgresql://... or set GROUPSYNC_STORE");
		rc = COMMAND_EXIT_USAGE;
		goto out;
	}
	rc = COMMAND_EXIT_RUNTIME;
	/* admin mode: neither start takes a lease or starts a keeper */
	from = store_open_at(src, STORE_OPEN_ADMIN, err, sizeof(err));
	if (from == NULL) {
		command_error(&run, "%s", err);
		goto out;
	}
	to = store_open_at(dst, STORE_OPEN_ADMIN, err, sizeof(err));
	if (to == NULL) {
		command_error(&run, "%s", err);
		goto out;
	}
	if (store_copy(from, to, &n, err, sizeof(err)) == -1) {
		command_error(&run, "%s", err);
		goto out;
	}
	store_print(store_label(to), &n, json);
	rc = 0;
out:
	store_close(to);
	store_close(from);
	command_close(&run);
	return rc;
}
