/*
 * cmd_queue: the operator's commands on the store, `queue list|show|
 * retry|drop|stats` and `replay` (see groupsync/cli/commands.h).
 *
 * They run beside a live server on the same SQLite file: the store is
 * opened with STORE_OPEN_ADMIN, which leaves the server's leases alone,
 * and every change is one short transaction. The server's workers notice
 * a retried or replayed job within their idle wait (a second), as they
 * notice a retry whose time has come: no signal crosses the processes.
 *
 * Output goes to stdout, errors to stderr as one line. Every answer is
 * built once as a JSON object: --json prints it as one line (for
 * scripts), otherwise it is printed as "key value" lines, so the two
 * forms cannot disagree. Only `queue list` has a table of its own.
 */
#include "groupsync/cli/commands.h"
#include "groupsync/cli/command.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/intake/hook.h"
#include "groupsync/store/store.h"
#include "groupsync/intake/server.h"
#include "groupsync/base/util.h"

#define ADMIN_EXIT_RUNTIME 1
#define ADMIN_EXIT_USAGE 2
#define ADMIN_LIST_LIMIT 100
#define ADMIN_ERROR_WIDTH 40 /* bytes of the last error in the list table */

/* What a command accepts (struct admin_cmd.opts); ID and FILE are its
 * argument. */
enum {
	AO_JSON = 0x01, AO_STATE = 0x02, AO_USER = 0x04, AO_LIMIT = 0x08,
	AO_DRY_RUN = 0x10, AO_ALL_DEAD = 0x20, AO_ID = 0x40, AO_FILE = 0x80,
	AO_ALL = 0x100, /* --all, as --all-dead sets all_dead */
};

/* One run: the command line, the settings, the store. */
struct admin_ctx {
	const struct admin_cmd *cmd;
	const char *arg;    /* the job ID or file */
	const char *config; /* --config after the command, as serve allows */
	unsigned states; /* STORE_STATE_BIT()s */
	const char *user;
	long long limit;
	int json;
	int dry_run;
	int all_dead;
	int held_only; /* --state held: pending jobs on hold */
	int64_t id; /* arg, parsed, when a job ID */
	struct command_ctx run; /* the settings and the store */
	const struct config *cfg;
	struct store *q;
};

struct admin_cmd {
	const char *name; /* as typed, for messages */
	unsigned opts;
	int (*run)(struct admin_ctx *);
	const char *help; /* synopsis, newline, what it does */
};

/*
 * Prints s with control characters as spaces (an error may quote a
 * remote answer), cut after max bytes (0: whole) on a UTF-8 boundary.
 */
static void
admin_put_clean(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (max > 0 && n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i]);
	if (s[n] != '\0')
		fputs("...", stdout);
}

/* Prints an answer (see the top of the file) and puts it. */
static void
admin_emit(const struct admin_ctx *c, json_object *o)
{
	const char *s;

	if (c->json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		json_object_object_foreach(o, key, v) {
			s = v == NULL ? "" : json_object_get_string(v);
			printf("%-22s ", key);
			admin_put_clean(s[0] != '\0' ? s : "-", 0);
			putchar('\n');
		}
	}
	json_object_put(o);
}

/* Unix ms as ISO-8601 UTC like Okta's "published"; 0 → null. */
static json_object *
admin_json_time(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32], buf[40];

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return NULL;
	(void)util_format(buf, sizeof(buf), "%s.%03dZ", base,
	    (int)(ms % 1000));
	return json_object_new_string(buf);
}

/* Every stored field of a job; the caller puts it. */
static json_object *
admin_job_json(const struct store_job_info *info, int64_t now)
{
	const struct store_job *j = &info->job;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(j->id));
	/* a held deprovision is pending with a not_before that never comes */
	int held = j->state == STORE_PENDING && j->not_before_ms == STORE_HELD_NOT_BEFORE;

	json_object_object_add(o, "state",
	    json_object_new_string(held ? "held" : store_state_name(j->state)));
	json_object_object_add(o, "user_id", json_object_new_string(j->user_id));
	json_object_object_add(o, "event_type",
	    json_object_new_string(j->event_type));
	json_object_object_add(o, "uuid", json_object_new_string(j->uuid));
	json_object_object_add(o, "published",
	    json_object_new_string(j->published));
	json_object_object_add(o, "group_id", j->group_id[0] != '\0' ?
	    json_object_new_string(j->group_id) : NULL);
	/* null: the event did not say which attributes changed */
	json_object_object_add(o, "changed_attributes", j->changed_known ?
	    json_object_new_string(j->changed) : NULL);
	json_object_object_add(o, "attempts", json_object_new_int(j->attempts));
	/* when a worker may take it: "now", a time, or null (not pending) */
	json_object_object_add(o, "next_attempt", j->state != STORE_PENDING || held ?
	    NULL : j->not_before_ms <= now ? json_object_new_string("now") :
	    admin_json_time(j->not_before_ms));
	json_object_object_add(o, "created", admin_json_time(j->created_ms));
	json_object_object_add(o, "updated", admin_json_time(info->updated_ms));
	/* a done job's error is from an attempt before the one that
	 * succeeded: said as such, never as the job's present trouble */
	json_object_object_add(o, "last_error", json_object_new_string(
	    j->state == STORE_DONE ? "" : j->last_error));
	json_object_object_add(o, "past_error", j->state == STORE_DONE &&
	    j->last_error[0] != '\0' ? json_object_new_string(j->last_error) :
	    NULL);
	return o;
}

/* Parses a decimal in 1..max; -1 when it is not one. */
static long long
admin_number(const char *s, long long max)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 1 || n > max)
		return -1;
	return n;
}

/* The table's string for member key of a job's JSON ("-" for null). */
static const char *
admin_col(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v != NULL ? json_object_get_string(v) : "-";
}

/* One row of the list table, from the same JSON as --json. */
static void
admin_list_row(json_object *o)
{
	printf("%8s  %-7s  %-20s  %-31s  %8s  %-24s  ", admin_col(o, "id"),
	    admin_col(o, "state"), admin_col(o, "user_id"),
	    admin_col(o, "event_type"), admin_col(o, "attempts"),
	    admin_col(o, "next_attempt"));
	if (json_object_object_get(o, "past_error") != NULL) {
		fputs("(past) ", stdout);
		admin_put_clean(admin_col(o, "past_error"), ADMIN_ERROR_WIDTH);
	} else {
		admin_put_clean(admin_col(o, "last_error"), ADMIN_ERROR_WIDTH);
	}
	putchar('\n');
	json_object_put(o);
}

static int
admin_list(struct admin_ctx *c)
{
	struct store_list_query qry;
	struct store_job_info *jobs;
	char err[STORE_ERROR_MAX + 1];
	int64_t now = util_now_ms();
	size_t n, i, k;
	int more;

	qry.states = c->states;
	qry.user_id = c->user;
	qry.limit = (size_t)c->limit;
	qry.attempted = 0;
	if (store_admin_list(c->q, &qry, &jobs, &n, &more, err,
	    sizeof(err)) == -1) {
		command_error(&c->run, "%s", err);
		return ADMIN_EXIT_RUNTIME;
	}
	for (i = k = 0; i < n; i++)
		if (!c->held_only || jobs[i].job.not_before_ms == STORE_HELD_NOT_BEFORE)
			jobs[k++] = jobs[i];
	n = k;
	if (!c->json && n == 0)
		printf("no jobs\n");
	else if (!c->json)
		printf("%8s  %-7s  %-20s  %-31s  %8s  %-24s  %s\n", "ID",
		    "STATE", "USER", "EVENT TYPE", "ATTEMPTS", "NEXT ATTEMPT",
		    "LAST ERROR");
	for (i = 0; i < n; i++) {
		if (c->json)
			admin_emit(c, admin_job_json(&jobs[i], now));
		else
			admin_list_row(admin_job_json(&jobs[i], now));
	}
	/* on stderr, so that --json stays one job per line */
	if (more)
		command_error(&c->run, "older jobs match too: --limit shows more");
	free(jobs);
	return 0;
}

static int
admin_show(struct admin_ctx *c)
{
	struct store_job_info info;
	char err[STORE_ERROR_MAX + 1];
	int found;

	found = store_admin_get(c->q, c->id, &info, err, sizeof(err));
	if (found == 0)
		command_error(&c->run, "no job %lld", (long long)c->id);
	else if (found == -1)
		command_error(&c->run, "job %lld: %s", (long long)c->id, err);
	if (found != 1)
		return ADMIN_EXIT_RUNTIME;
	admin_emit(c, admin_job_json(&info, util_now_ms()));
	return 0;
}

/* Prints {"retried": n} or {"dropped": n}. */
static void
admin_emit_count(const struct admin_ctx *c, const char *what, int64_t n)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, what, json_object_new_int64(n));
	admin_emit(c, o);
}

/* Retries or drops (queue drop) job c->id, or says why it did not. */
static int
admin_change(struct admin_ctx *c)
{
	enum store_admin_result res;
	enum store_state state = STORE_PENDING;
	char err[STORE_ERROR_MAX + 1];
	long long id = (long long)c->id;
	int drop = strcmp(c->cmd->name, "queue drop") == 0;

	if (drop)
		res = store_admin_drop(c->q, c->id, &state, err, sizeof(err));
	else
		res = store_admin_retry(c->q, c->id, util_now_ms(), &state, err,
		    sizeof(err));
	if (res == STORE_ADMIN_OK) {
		admin_emit_count(c, drop ? "dropped" : "retried", 1);
		return 0;
	}
	if (res == STORE_ADMIN_NO_JOB)
		command_error(&c->run, "no job %lld", id);
	else if (res == STORE_ADMIN_ERROR)
		command_error(&c->run, "job %lld: %s", id, err);
	else if (state == STORE_LEASED)
		command_error(&c->run, "job %lld is leased: a worker is syncing it now; "
		    "try again once it is done or dead", id);
	else
		command_error(&c->run, "job %lld is %s: only a dead or pending job can "
		    "be retried", id, store_state_name(state));
	return ADMIN_EXIT_RUNTIME;
}

static int
admin_retry(struct admin_ctx *c)
{
	char err[STORE_ERROR_MAX + 1];
	int64_t n;

	if (!c->all_dead)
		return admin_change(c);
	if (store_admin_retry_dead(c->q, util_now_ms(), &n, err,
	    sizeof(err)) == -1) {
		command_error(&c->run, "%s", err);
		return ADMIN_EXIT_RUNTIME;
	}
	admin_emit_count(c, "retried", n);
	return 0;
}

/* queue release-held ID|--all: held deprovisions go ahead, marked so
 * that the threshold does not hold them again. */
static int
admin_release_held(struct admin_ctx *c)
{
	char err[STORE_ERROR_MAX + 1];
	int64_t n;

	if (store_admin_release_held(c->q, c->all_dead ? 0 : c->id, &n, err,
	    sizeof(err)) == -1) {
		command_error(&c->run, "%s", err);
		return ADMIN_EXIT_RUNTIME;
	}
	if (n == 0 && !c->all_dead) {
		command_error(&c->run, "job %lld is not held", (long long)c->id);
		return ADMIN_EXIT_RUNTIME;
	}
	admin_emit_count(c, "released", n);
	return 0;
}

static int
admin_stats(struct admin_ctx *c)
{
	int64_t counts[4], age, held;
	json_object *o;
	int i;

	if (store_counts(c->q, counts) == -1 ||
	    store_oldest_pending_ms(c->q, util_now_ms(), &age) == -1 ||
	    store_count_held(c->q, &held) == -1) {
		command_error(&c->run, "cannot read the store");
		return ADMIN_EXIT_RUNTIME;
	}
	o = json_object_new_object();
	for (i = STORE_PENDING; i <= STORE_DEAD; i++)
		json_object_object_add(o, store_state_name((enum store_state)i),
		    json_object_new_int64(counts[i]));
	json_object_object_add(o, "held", json_object_new_int64(held));
	json_object_object_add(o, "oldest_pending_age_ms",
	    counts[STORE_PENDING] > 0 ? json_object_new_int64(age) : NULL);
	admin_emit(c, o);
	return 0;
}

/*
 * Reads a whole file ("-": stdin), up to the server's body limit: a
 * larger one could never have come from Okta. The caller frees it.
 */
static char *
admin_read_file(struct admin_ctx *c, size_t *len)
{
	FILE *f = strcmp(c->arg, "-") == 0 ? stdin : fopen(c->arg, "rb");
	char *buf = malloc(SERVER_MAX_BODY + 1);
	const char *why = NULL;

	if (f == NULL || buf == NULL) {
		why = strerror(errno);
	} else {
		*len = fread(buf, 1, SERVER_MAX_BODY + 1, f);
		if (ferror(f))
			why = strerror(errno);
		else if (*len > SERVER_MAX_BODY)
			why = "larger than any delivery (1 MiB)";
	}
	if (f != NULL && f != stdin)
		fclose(f);
	if (why == NULL)
		return buf;
	command_error(&c->run, "%s: %s", c->arg, why);
	free(buf);
	return NULL;
}

/* The summary of a replay, named like the server's log line. */
static json_object *
admin_replay_json(const struct hook_delivery *d, size_t stored, int dup,
    int dry_run)
{
	static const char *const why[HOOK_IGNORED_NREASONS] = {"ignored_type",
	    "ignored_no_target", "ignored_other_group", "ignored_invalid", "ignored_unchanged"};
	json_object *o = json_object_new_object();
	int i;

	json_object_object_add(o, "events",
	    json_object_new_int64((int64_t)d->nevents));
	json_object_object_add(o, "jobs",
	    json_object_new_int64((int64_t)d->njobs));
	json_object_object_add(o, "stored", dry_run ? NULL :
	    json_object_new_int64((int64_t)stored));
	/* a delivery whose eventId is stored already stores nothing */
	json_object_object_add(o, "duplicate", json_object_new_boolean(dup));
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	for (i = 0; i < HOOK_IGNORED_NREASONS; i++)
		json_object_object_add(o, why[i],
		    json_object_new_int64((int64_t)d->ignored[i]));
	return o;
}

/* A saved delivery takes the path of one over HTTP: parse, enqueue. */
static int
admin_replay(struct admin_ctx *c)
{
	struct hook_filter filter = {c->cfg->group_ids, c->cfg->ngroup_ids, NULL, NULL};
	struct hook_delivery d;
	enum store_enqueue_result res = STORE_STORED;
	char *body, err[STORE_ERROR_MAX + 1];
	size_t len = 0, stored = 0;
	int rc = ADMIN_EXIT_RUNTIME;

	body = admin_read_file(c, &len);
	if (body == NULL)
		return ADMIN_EXIT_USAGE;
	if (hook_parse_delivery(body, len, &filter, &d, err, sizeof(err)) == -1) {
		command_error(&c->run, "%s: %s", c->arg, err);
		free(body);
		return ADMIN_EXIT_USAGE;
	}
	free(body);
	if (!c->dry_run) {
		res = store_enqueue(c->q, d.event_id, d.jobs, d.njobs, &stored,
		    err, sizeof(err));
		if (res == STORE_FAILED) {
			command_error(&c->run, "%s: not stored: %s", c->arg, err);
			goto out;
		}
	}
	admin_emit(c, admin_replay_json(&d, stored, res == STORE_DUPLICATE,
	    c->dry_run));
	rc = 0;
out:
	hook_delivery_free(&d);
	return rc;
}

/*
 * Takes "--name value" for an option that has one. Returns 1 when taken,
 * 0 when name is none of them, -1 (said) when the value is invalid.
 */
static int
admin_value(struct admin_ctx *c, const char *name, const char *value)
{
	unsigned o = c->cmd->opts;
	int bad = 0;

	if (strcmp(name, "--state") == 0 && (o & AO_STATE) && strcmp(value, "held") == 0) {
		/* held is pending in the store (store.h: STORE_HELD_NOT_BEFORE) */
		c->held_only = 1;
		c->states = STORE_STATE_BIT(STORE_PENDING);
	} else if (strcmp(name, "--state") == 0 && (o & AO_STATE))
		bad = store_states_parse(value, &c->states) == -1;
	else if (strcmp(name, "--user") == 0 && (o & AO_USER))
		c->user = value;
	else if (strcmp(name, "--limit") == 0 && (o & AO_LIMIT)) {
		c->limit = admin_number(value, STORE_LIST_MAX);
		bad = c->limit == -1;
	} else if (strcmp(name, "--config") == 0) /* after the command too */
		c->config = value;
	else
		return 0;
	if (bad && c->limit == -1)
		command_error(&c->run, "--limit %s: must be 1 to %d", value,
		    STORE_LIST_MAX);
	else if (bad)
		command_error(&c->run, "--state %s: must be pending, leased, done, "
		    "dead, held or all", value);
	return bad ? -1 : 1;
}

static int
admin_parse(struct admin_ctx *c, int argc, char **argv)
{
	unsigned o = c->cmd->opts;
	const char *s;
	int i, r;

	for (i = 0; i < argc; i++) {
		s = argv[i];
		r = i + 1 < argc ? admin_value(c, s, argv[i + 1]) : 0;
		if (r == -1)
			return -1;
		if (r == 1)
			i++;
		else if (strcmp(s, "--json") == 0 && (o & AO_JSON))
			c->json = 1;
		else if (strcmp(s, "--dry-run") == 0 && (o & AO_DRY_RUN))
			c->dry_run = 1;
		else if (strcmp(s, "--all-dead") == 0 && (o & AO_ALL_DEAD))
			c->all_dead = 1;
		else if (strcmp(s, "--all") == 0 && (o & AO_ALL))
			c->all_dead = 1;
		else if (c->arg == NULL && (o & (AO_ID | AO_FILE)) &&
		    (s[0] != '-' || strcmp(s, "-") == 0))
			c->arg = s;
		else {
			command_error(&c->run, "unexpected argument %s (see groupsync "
			    "--help)", s);
			return -1;
		}
	}
	/* retry takes a job ID or --all-dead, not both */
	if ((o & (AO_ID | AO_FILE)) && (c->arg != NULL) == c->all_dead) {
		command_error(&c->run, "give %s", (o & AO_FILE) ? "a FILE (- for stdin)" :
		    (o & AO_ALL_DEAD) ? "a job ID or --all-dead" : (o & AO_ALL) ?
		    "a job ID or --all" : "a job ID");
		return -1;
	}
	c->id = (o & AO_ID) && c->arg ? admin_number(c->arg, INT64_MAX) : 0;
	if ((o & AO_ID) && c->id == -1) {
		command_error(&c->run, "%s: not a job ID", c->arg);
		return -1;
	}
	return 0;
}

/* The indent lines a description up under its command in --help. */
#define AD "\n                 "
static const struct admin_cmd admin_cmds[] = {
	{"queue list", AO_STATE | AO_USER | AO_LIMIT | AO_JSON, admin_list,
	    "queue list [--state pending|leased|done|dead|held|all] [--user ID] "
	    "[--limit N] [--json]" AD "the newest N (100) jobs, newest last; "
	    "default: all but done"},
	{"queue show", AO_ID | AO_JSON, admin_show,
	    "queue show ID [--json]" AD "every field of one job"},
	{"queue retry", AO_ID | AO_ALL_DEAD | AO_JSON, admin_retry,
	    "queue retry ID|--all-dead [--json]" AD "make dead (or backing-off) "
	    "jobs pending now, with attempts 0"},
	{"queue release-held", AO_ID | AO_ALL | AO_JSON, admin_release_held,
	    "queue release-held ID|--all [--json]" AD "let held deprovisions (past "
	    "GROUPSYNC_DEPROVISION_THRESHOLD) go ahead"},
	{"queue drop", AO_ID | AO_JSON, admin_change, "queue drop ID [--json]"
	    AD "delete a job (not a leased one: it is being synced)"},
	{"queue stats", AO_JSON, admin_stats, "queue stats [--json]"
	    AD "jobs by state, and the age in ms of the oldest pending one"},
	{"replay", AO_FILE | AO_DRY_RUN | AO_JSON, admin_replay,
	    "replay FILE|- [--dry-run] [--json]" AD "store the jobs of a saved "
	    "delivery body (e.g. from Okta's" AD "Preview tab) as if Okta had "
	    "sent it"},
};
#define ADMIN_NCMDS (sizeof(admin_cmds) / sizeof(admin_cmds[0]))

void
cmd_queue_usage(FILE *out)
{
	size_t i;

	fprintf(out, "admin commands (on the store, also while serve runs):\n");
	for (i = 0; i < ADMIN_NCMDS; i++)
		fprintf(out, "  %s\n", admin_cmds[i].help);
}

/* The command named by argv[0] (and argv[1] for queue), or NULL. */
static const struct admin_cmd *
admin_find(int argc, char **argv, int *used)
{
	size_t i, n = strlen(argv[0]);
	const char *name;

	for (i = 0; i < ADMIN_NCMDS; i++) {
		name = admin_cmds[i].name;
		if (strncmp(name, argv[0], n) != 0)
			continue;
		*used = name[n] == '\0' ? 1 : 2;
		if (*used == 1 || (name[n] == ' ' && argc > 1 &&
		    strcmp(name + n + 1, argv[1]) == 0))
			return &admin_cmds[i];
	}
	return NULL;
}

int
cmd_queue(const char *config_path, int argc, char **argv)
{
	struct admin_ctx c;
	int used, rc;

	memset(&c, 0, sizeof(c));
	c.states = STORE_STATES_OPEN;
	c.limit = ADMIN_LIST_LIMIT;
	c.cmd = admin_find(argc, argv, &used);
	if (c.cmd == NULL && argc == 1 && strcmp(argv[0], "queue") == 0) {
		/* "queue" alone: the choices (a mistyped one stays one line) */
		fprintf(stderr, "usage: groupsync queue SUBCOMMAND ...\n");
		cmd_queue_usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (c.cmd == NULL) {
		fprintf(stderr, "groupsync: unknown command %s%s%s (see "
		    "groupsync --help)\n", argv[0], argc > 1 ? " " : "",
		    argc > 1 ? argv[1] : "");
		return ADMIN_EXIT_USAGE;
	}
	c.run.name = c.cmd->name; /* for the usage errors' messages */
	if (admin_parse(&c, argc - used, argv + used) == -1)
		return ADMIN_EXIT_USAGE;
	/* --config after the command too, as serve allows; a dry run needs
	 * no store */
	rc = command_open(&c.run, c.cmd->name, c.config != NULL ? c.config : config_path,
	    c.dry_run ? 0 : COMMAND_STORE);
	c.cfg = &c.run.cfg;
	c.q = c.run.q;
	if (rc == 0)
		rc = c.cmd->run(&c);
	command_close(&c.run);
	return rc;
}
