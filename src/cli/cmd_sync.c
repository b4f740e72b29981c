/*
 * cmd_sync: `groupsync sync USER_ID [--dry-run]`, provision on demand.
 * Reads the user from Okta, decides as a worker would (sync/converge.c),
 * prints the decision and every request it would send, secrets redacted,
 * and without --dry-run carries it out now and prints the outcome.
 *
 * Beside a running server it takes the user's lease through the store
 * (store_lease_user), so that no worker syncs the same user at once; the
 * job it stores records the operator's sync in `queue list`. A failure is
 * left to the queue as a worker's failed attempt is (store_retry): serve
 * retries it. A dry run takes no lease and changes nothing.
 */
#include "groupsync/cli/commands.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"
#include "groupsync/cli/command.h"
#include "groupsync/remote/client.h"
#include "groupsync/remote/template.h"
#include "groupsync/sync/converge.h"

#define SYNC_LEASE_WAIT_MS 10000 /* for a worker that holds the user */

struct sync_cmd {
	const char *user, *config;
	int dry_run;
};

static int
sync_parse(struct sync_cmd *c, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			c->dry_run = 1;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			c->config = argv[++i];
		} else if (c->user == NULL && argv[i][0] != '-') {
			c->user = argv[i];
		} else {
			fprintf(stderr, "groupsync: sync: unexpected argument %s (see "
			    "groupsync --help)\n", argv[i]);
			return -1;
		}
	}
	if (c->user == NULL || !util_is_token(c->user, STORE_ID_MAX)) {
		fprintf(stderr, "groupsync: sync: give an Okta user ID (see groupsync --help)\n");
		return -1;
	}
	return 0;
}

/* The job that records this sync: a fresh uuid, published now. */
static int
sync_job(const char *user, struct store_job_in *job)
{
	unsigned char r[16];
	char hex[33];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	memset(job, 0, sizeof(*job));
	if (RAND_bytes(r, sizeof(r)) != 1 || gmtime_r(&now, &tm) == NULL)
		return -1;
	for (i = 0; i < sizeof(r); i++)
		(void)util_format(hex + 2 * i, 3, "%02x", r[i]);
	(void)util_format(job->uuid, sizeof(job->uuid), "sync-%s", hex);
	(void)util_copy(job->user_id, sizeof(job->user_id), user);
	(void)util_copy(job->event_type, sizeof(job->event_type), SYNC_ONDEMAND_EVENT);
	strftime(job->published, sizeof(job->published), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return 0;
}

/* Leases the user, waiting a while for a worker that holds it. */
static int
sync_lease(struct command_ctx *run, const char *user, struct store_lease *l)
{
	struct timespec nap = {0, 200 * 1000000L};
	struct store_job_in job;
	char err[STORE_ERROR_MAX + 1];
	int waited, rc;

	if (sync_job(user, &job) < 0) {
		command_error(run, "cannot make a job ID");
		return -1;
	}
	for (waited = 0;; waited += 200) {
		rc = store_lease_user(run->q, &job, util_now_ms(), l, err, sizeof(err));
		if (rc == 1)
			return 0;
		if (rc < 0) {
			command_error(run, "%s", err);
			return -1;
		}
		if (waited >= SYNC_LEASE_WAIT_MS) {
			command_error(run, "user %s is being synced by serve: try again", user);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

static void
sync_line(const char *key, const char *value)
{
	printf("%-12s ", key);
	log_fput_redacted(stdout, value != NULL ? value : "-");
	putchar('\n');
}

/* One request as it would go out: method, URL, headers, body. */
static int
sync_print_request(struct command_ctx *run, struct remote *remote, const char *file,
    const struct converge *x)
{
	struct template_request tr;
	char err[256];
	size_t i;
	int rc = remote_render(remote, file, x->user, x->remote_id[0] ? x->remote_id : NULL,
	    &tr, err, sizeof(err));

	if (rc < 0) {
		command_error(run, "%s", err);
		return -1;
	}
	if (rc == 0)
		return 0;
	printf("%-12s %s ", file, tr.method);
	log_fput_redacted(stdout, tr.url);
	putchar('\n');
	for (i = 0; tr.headers[i] != NULL; i++)
		sync_line("  header", tr.headers[i]);
	if (tr.body != NULL)
		sync_line("  body", tr.body);
	template_request_free(&tr);
	return 0;
}

/* The decision and what it would send: find+create, update or delete. */
static int
sync_print_plan(struct command_ctx *run, struct remote *remote, const struct converge *x)
{
	const struct sync_state *s = &x->state;
	char state[96];

	(void)util_format(state, sizeof(state), "%s%s%s",
	    !s->exists ? "not in Okta" : s->active ? "active" : "not active",
	    s->exists ? (s->member ? ", member" : ", not a member") : "",
	    s->exists && s->deprovisioned ? ", deprovisioned" : "");
	sync_line("user", x->lease->user_id);
	sync_line("okta", state);
	sync_line("remote_id", x->remote_id[0] ? x->remote_id : NULL);
	sync_line("decision", sync_action_name(x->action));
	if (x->action == SYNC_CREATE)
		return sync_print_request(run, remote, "find.json", x) < 0 ? -1 :
		    sync_print_request(run, remote, "create.json", x);
	if (x->action == SYNC_UPDATE)
		return sync_print_request(run, remote, "update.json", x);
	if (x->action == SYNC_DELETE)
		return sync_print_request(run, remote, "delete.json", x);
	return 0;
}

/* Each call a real sync makes, Okta's and the remote's: method, URL,
 * status and the start of the answer, secrets redacted. */
static void
sync_observe(const struct http_request *req, const struct http_response *resp, void *arg)
{
	char line[400], body[201];
	const char *p = resp->body != NULL ? resp->body : "";
	size_t n = 0;

	(void)arg;
	/* one line: a pretty-printed answer's newlines and indents as one space */
	for (; *p != '\0' && n + 1 < sizeof(body); p++) {
		int space = *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t';

		if (!space || (n > 0 && body[n - 1] != ' '))
			body[n++] = space ? ' ' : *p;
	}
	body[n] = '\0';
	(void)util_format(line, sizeof(line), "%s %s -> %ld%s%s", req->method, req->url,
	    resp->status, resp->status ? "" : " ", resp->status ? "" : resp->error);
	sync_line("answer", line);
	if (body[0] != '\0')
		sync_line("  body", body);
}

/* Decides, prints, and (not a dry run) carries it out. 0 or exit status. */
static int
sync_user(struct command_ctx *run, struct remote *remote, const struct sync_cmd *c,
    struct store_lease *lease)
{
	pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER; /* one sync: no rival */
	struct converge_deps d = {&run->cfg, run->q, run->okta, remote, &groups_lock, NULL};
	struct converge x;
	char st[16];
	int rc = 0;

	struct http_options ho;
	struct http_client *loud = NULL;

	memset(&x, 0, sizeof(x));
	x.d = &d;
	x.hc = run->hc;
	x.lease = lease;
	if (converge_load_known(&x) < 0 || converge_decide(&x) < 0)
		rc = -1;
	else if (sync_print_plan(run, remote, &x) < 0)
		rc = COMMAND_EXIT_RUNTIME;
	else if (c->dry_run)
		sync_line("outcome", "dry run: nothing sent");
	if (rc == 0 && !c->dry_run) {
		/* the calls that carry it out, each answer printed */
		http_options_from_config(&ho, &run->cfg, NULL);
		ho.observe = sync_observe;
		loud = http_client_new(&ho);
		x.hc = loud != NULL ? loud : run->hc;
		if (converge_apply(&x) < 0)
			rc = -1;
	}
	http_client_free(loud);
	if (rc == -1)
		command_error(run, "user %s: %s", lease->user_id, x.error);
	if (!c->dry_run && rc == 0) {
		(void)util_format(st, sizeof(st), "%ld", x.remote_status);
		sync_line("remote_status", x.remote_status ? st : NULL);
		sync_line("remote_id", x.remote_id[0] ? x.remote_id : NULL);
		sync_line("outcome", "ok");
		if (store_complete(run->q, lease) < 0)
			command_error(run, "synced, but the job was not recorded as done");
	} else if (!c->dry_run) {
		/* as a worker's failed attempt: serve retries it */
		(void)store_retry(run->q, lease, util_now_ms(), x.error[0] ? x.error :
		    "groupsync sync failed");
	}
	json_object_put(x.user);
	return rc == -1 ? COMMAND_EXIT_RUNTIME : rc;
}

int
cmd_sync(const char *config_path, int argc, char **argv)
{
	struct sync_cmd c = {0};
	struct command_ctx run;
	struct store_lease lease = {0};
	struct remote *remote = NULL;
	char err[512];
	int rc;

	if (sync_parse(&c, argc, argv) < 0)
		return COMMAND_EXIT_USAGE;
	rc = command_open(&run, "sync", c.config ? c.config : config_path,
	    COMMAND_OKTA | COMMAND_STORE);
	if (rc == 0) {
		remote = remote_new(&run.cfg, err, sizeof(err));
		if (remote == NULL) {
			command_error(&run, "GROUPSYNC_HOOKS_DIR: %s", err);
			rc = COMMAND_EXIT_USAGE;
		}
	}
	if (rc == 0 && c.dry_run)
		(void)util_copy(lease.user_id, sizeof(lease.user_id), c.user);
	else if (rc == 0 && sync_lease(&run, c.user, &lease) < 0)
		rc = COMMAND_EXIT_RUNTIME;
	if (rc == 0)
		rc = sync_user(&run, remote, &c, &lease);
	store_lease_free(&lease);
	remote_free(remote);
	command_close(&run);
	return rc;
}

void
cmd_sync_usage(FILE *out)
{
	fprintf(out, "  sync USER_ID [--dry-run]\n"
	    "                 sync one user now: read it from Okta, print the decision\n"
	    "                 and each request (secrets redacted), then send them; beside\n"
	    "                 serve too (it takes the user's lease like a worker)\n");
}
