/*
 * cmd_reconcile: `groupsync reconcile [--dry-run] [--json]`, the operator's
 * run of sync/reconcile.c beside a live server: progress on a terminal,
 * "would enqueue" lines in a dry run, and a summary, as text or JSON.
 */
#include "groupsync/cli/commands.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "groupsync/cli/command.h"
#include "groupsync/remote/client.h"
#include "groupsync/sync/reconcile.h"

struct recon_cmd {
	int dry_run, json, tty;
	int drift; /* group push with group_get.json: drift repaired */
	const char *config;
};

static void
recon_print(const struct recon_cmd *c, json_object *o)
{
	if (c->json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		json_object_object_foreach(o, key, v)
			printf("%-24s %s\n", key, v ? json_object_get_string(v) : "-");
	}
	json_object_put(o);
}

/* On a terminal only: a count that overwrites itself while listing. */
static void
recon_progress(size_t members, uint64_t pages, int last, void *arg)
{
	const struct recon_cmd *c = arg;

	if (!c->tty)
		return;
	if (last < 0) {
		fputc('\n', stderr);
		return;
	}
	fprintf(stderr, "\rreconcile: %zu members", members);
	if (last)
		fprintf(stderr, ", %llu pages\n", (unsigned long long)pages);
}

static void
recon_would_enqueue(const char *user, const char *reason, void *arg)
{
	const struct recon_cmd *c = arg;
	json_object *o;

	if (!c->json) {
		printf("would enqueue %s (%s)\n", user, reason);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user_id", json_object_new_string(user));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	recon_print(c, o);
}

static void
recon_summary(const struct recon_cmd *c, const struct reconcile_summary *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "groups", json_object_new_int64((int64_t)s->groups));
	json_object_object_add(o, "members", json_object_new_int64((int64_t)s->members));
	json_object_object_add(o, "pages", json_object_new_int64((int64_t)s->pages));
	json_object_object_add(o, "remote_ids", json_object_new_int64((int64_t)s->remote_ids));
	json_object_object_add(o, "members_without_remote",
	    json_object_new_int64((int64_t)s->without_remote));
	json_object_object_add(o, "no_longer_members", json_object_new_int64((int64_t)s->gone));
	json_object_object_add(o, "jobs", json_object_new_int64((int64_t)s->jobs));
	json_object_object_add(o, "snapshots", json_object_new_int64((int64_t)s->snapshots));
	if (c->drift) {
		json_object_object_add(o, "groups_read", json_object_new_int64(
		    (int64_t)s->drift.groups));
		json_object_object_add(o, "group_members_added", json_object_new_int64(
		    (int64_t)s->drift.added));
		json_object_object_add(o, "group_members_removed", json_object_new_int64(
		    (int64_t)s->drift.removed));
		json_object_object_add(o, "group_members_unknown", json_object_new_int64(
		    (int64_t)s->drift.unknown));
		json_object_object_add(o, "groups_gone", json_object_new_int64(
		    (int64_t)s->drift.gone));
	}
	json_object_object_add(o, "stored", c->dry_run ? NULL :
	    json_object_new_int64((int64_t)s->stored));
	json_object_object_add(o, "dry_run", json_object_new_boolean(c->dry_run));
	recon_print(c, o);
}

static int
recon_parse(struct recon_cmd *c, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			c->dry_run = 1;
		else if (strcmp(argv[i], "--json") == 0)
			c->json = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			c->config = argv[++i];
		else {
			fprintf(stderr, "groupsync: reconcile: unexpected argument %s (see "
			    "groupsync --help)\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

int
cmd_reconcile(const char *config_path, int argc, char **argv)
{
	struct recon_cmd c = {0};
	struct reconcile_opts o = {0};
	struct reconcile_summary s;
	struct command_ctx run;
	struct remote *remote = NULL;
	char err[512];
	int rc;

	c.tty = isatty(STDERR_FILENO);
	if (recon_parse(&c, argc, argv) < 0)
		return COMMAND_EXIT_USAGE;
	rc = command_open(&run, "reconcile", c.config ? c.config : config_path,
	    COMMAND_OKTA | COMMAND_STORE);
	o.dry_run = c.dry_run;
	o.progress = recon_progress;
	o.would_enqueue = recon_would_enqueue;
	o.arg = &c;
	/* group push: the remote groups' drift is repaired too */
	if (rc == 0 && run.cfg.push_groups) {
		remote = remote_new(&run.cfg, err, sizeof(err));
		if (remote == NULL) {
			command_error(&run, "GROUPSYNC_HOOKS_DIR: %s", err);
			rc = COMMAND_EXIT_USAGE;
		} else if (remote_has_group_get(remote)) {
			o.remote = remote;
			c.drift = 1;
		}
	}
	if (rc == 0 && reconcile_run(&run.cfg, run.okta, run.hc, run.q, &o, &s, err,
	    sizeof(err)) < 0) {
		command_error(&run, "%s", err);
		rc = COMMAND_EXIT_RUNTIME;
	}
	if (rc == 0)
		recon_summary(&c, &s);
	remote_free(remote);
	command_close(&run);
	return rc;
}

void
cmd_reconcile_usage(FILE *out)
{
	fprintf(out, "  reconcile [--dry-run] [--json]\n"
	    "                 enqueue a sync of every group member and of every user\n"
	    "                 with a remote ID who left (what event hooks missed); with\n"
	    "                 group push and group_get.json, repair the remote groups'\n"
	    "                 members changed by hand\n");
}
