/*
 * reconcile: enqueues a SYNC_RECONCILE_EVENT job for every member of the
 * configured groups and every user with a remote ID who is no longer a
 * member (see reconcile.h for why every member).
 *
 * As the `reconcile` command (cli/cmd_reconcile.c) it runs beside a live
 * server on a store opened for operators: the jobs are committed like a
 * delivery (one transaction per batch) and the server's workers notice
 * them within their idle wait. In `serve`, reconcile_start runs the same
 * work on a thread of its own.
 */
#include "groupsync/sync/reconcile.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "groupsync/base/config.h"
#include "groupsync/base/metrics.h"
#include "groupsync/base/http.h"
#include "groupsync/base/log.h"
#include "groupsync/okta/client.h"
#include "groupsync/store/store.h"
#include "groupsync/sync/decide.h"
#include "groupsync/base/util.h"

#define RECON_BATCH 256 /* jobs per transaction */
#define RECON_PROGRESS_EVERY 100

/* A set of user IDs: appended, then sorted and de-duplicated. */
struct recon_ids {
	char **v;
	size_t n, cap;
};

struct recon_ctx {
	const struct reconcile_opts *o;
	const struct config *cfg;
	struct okta *okta;
	struct http_client *hc;
	struct store *q;
	struct recon_ids members, known; /* known: a non-empty remote ID */
	/* user ID -> {"user": the listed object, "groups": [{"id","name"}]}:
	 * the snapshot bodies (store.h) */
	json_object *seen;
	size_t group;                    /* the configured group being listed */
	char names[CONFIG_GROUPS_MAX][256]; /* the configured groups' names */
	int64_t taken_ms;                /* when the listing began */
	uint64_t pages;
	size_t without_remote, gone, stored, snapshots;
	struct group_drift_summary drift;
	char published[STORE_TIME_MAX + 1];
	char err[512];
};

/*
 * Backlogs: when at least RECON_BACKLOG_MIN users have ready jobs that
 * would each cost two Okta reads, one listing of the configured groups
 * (one request per 1000 members) is cheaper. Checked whenever jobs are
 * stored, and every RECON_BACKLOG_CHECK_MS; a failed listing is not tried
 * again for RECON_BACKLOG_RETRY_MS.
 */
#define RECON_BACKLOG_MIN 100
#define RECON_BACKLOG_CHECK_MS 1000
#define RECON_BACKLOG_RETRY_MS 30000

/* The serve loop (reconcile_start): owned by serve. */
struct reconcile_loop {
	pthread_t thread;
	_Atomic int stop;  /* also the HTTP client's abort flag */
	const struct config *cfg;
	struct okta *okta;
	struct store *q;
	struct remote *remote;
	struct http_client *hc;
	struct reconcile_gate *gate;
	/* jobs stored before it are covered by the last backlog listing
	 * (its members have a snapshot; the others are no members) */
	int64_t backlog_since;
	int64_t backlog_retry_mono; /* no backlog listing before it */
};

/* Workers wait at it while a backlog listing runs: owned by serve. */
struct reconcile_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	int listing;       /* a backlog listing runs */
	int open;          /* stopping: nobody waits any more */
};

static int
recon_ids_add(struct recon_ids *s, const char *id)
{
	char **v;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		v = realloc(s->v, s->cap * sizeof(*v));
		if (v == NULL)
			return -1;
		s->v = v;
	}
	if ((s->v[s->n] = strdup(id)) == NULL)
		return -1;
	s->n++;
	return 0;
}

static int
recon_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
recon_ids_sort(struct recon_ids *s)
{
	size_t i, j = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), recon_cmp);
	for (i = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[j]) == 0)
			free(s->v[i]);
		else
			s->v[++j] = s->v[i];
	}
	s->n = j + 1;
}

static int
recon_ids_has(const struct recon_ids *s, const char *id)
{
	return s->n > 0 && bsearch(&id, s->v, s->n, sizeof(*s->v), recon_cmp) != NULL;
}

static void
recon_ids_free(struct recon_ids *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void
recon_progress(const struct recon_ctx *c, int last)
{
	if (c->o->progress != NULL)
		c->o->progress(c->members.n, c->pages, last, c->o->arg);
}

/* Records that user (as listed) is a member of group c->group. */
static int
recon_seen_add(struct recon_ctx *c, const char *id, json_object *user)
{
	json_object *entry, *groups, *g;

	if (!json_object_object_get_ex(c->seen, id, &entry)) {
		entry = json_object_new_object();
		groups = json_object_new_array();
		if (entry == NULL || groups == NULL ||
		    json_object_object_add(entry, "user", json_object_get(user)) != 0 ||
		    json_object_object_add(entry, "groups", groups) != 0 ||
		    json_object_object_add(c->seen, id, entry) != 0) {
			json_object_put(entry);
			return -1;
		}
	}
	if (!json_object_object_get_ex(entry, "groups", &groups) ||
	    (g = json_object_new_object()) == NULL)
		return -1;
	if (json_object_array_add(groups, g) != 0) {
		json_object_put(g);
		return -1;
	}
	json_object_object_add(g, "id", json_object_new_string(c->cfg->group_ids[c->group]));
	json_object_object_add(g, "name", json_object_new_string(c->names[c->group]));
	return 0;
}

/*
 * The configured groups' names, which group push sends: one GET
 * /api/v1/groups/{id} a group and run, and only with group push (a
 * snapshot without it names each group by its ID, as okta_user_groups
 * does when Okta gives no name).
 */
static int
recon_group_names(struct recon_ctx *c)
{
	struct http_response resp;
	struct okta_result res;
	json_object *g, *profile, *name;
	char path[160];
	size_t i;

	for (i = 0; i < c->cfg->ngroup_ids; i++) {
		util_copy(c->names[i], sizeof(c->names[i]), c->cfg->group_ids[i]);
		if (!c->cfg->push_groups)
			continue;
		if (util_format(path, sizeof(path), "/api/v1/groups/%s", c->cfg->group_ids[i]) < 0) {
			util_copy(c->err, sizeof(c->err), "group ID too long");
			return -1;
		}
		if (okta_request(c->okta, c->hc, "GET", path, NULL, &resp, &res) < 0) {
			util_copy(c->err, sizeof(c->err), res.error);
			return -1;
		}
		if (res.status < 200 || res.status >= 300) {
			http_response_free(&resp);
			util_copy(c->err, sizeof(c->err), res.error);
			return -1;
		}
		g = json_tokener_parse(resp.body != NULL ? resp.body : "");
		http_response_free(&resp);
		if (json_object_object_get_ex(g, "profile", &profile) &&
		    json_object_object_get_ex(profile, "name", &name) &&
		    json_object_is_type(name, json_type_string))
			util_copy(c->names[i], sizeof(c->names[i]), json_object_get_string(name));
		json_object_put(g);
	}
	return 0;
}

/* okta_list_group_users callback: one member. */
static int
recon_member(json_object *user, void *arg)
{
	struct recon_ctx *c = arg;
	json_object *v;
	const char *id;

	if (!json_object_object_get_ex(user, "id", &v) ||
	    !json_object_is_type(v, json_type_string))
		return 0;
	id = json_object_get_string(v);
	if (id[0] == '\0' || strlen(id) > STORE_ID_MAX)
		return 0; /* not an ID a job can hold */
	if (c->o->abort_flag != NULL && *c->o->abort_flag) {
		util_copy(c->err, sizeof(c->err), "stopped");
		return -1;
	}
	if (recon_seen_add(c, id, user) < 0 || recon_ids_add(&c->members, id) < 0) {
		util_copy(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	if (c->members.n % RECON_PROGRESS_EVERY == 0)
		recon_progress(c, 0);
	return 0;
}

static int
recon_list_members(struct recon_ctx *c)
{
	struct okta_result res;
	struct okta_stats before, after;
	size_t i;

	/* before the first page: an event stored from now on may be news
	 * that the listing did not see (store_snapshot_take) */
	if (store_clock_ms(c->q, &c->taken_ms) < 0) {
		util_copy(c->err, sizeof(c->err), "cannot read the store's clock");
		return -1;
	}
	okta_get_stats(c->okta, &before);
	for (i = 0; i < c->cfg->ngroup_ids; i++) {
		memset(&res, 0, sizeof(res));
		c->group = i;
		if (okta_list_group_users(c->okta, c->hc, c->cfg->group_ids[i], recon_member, c,
		    &res) < 0) {
			recon_progress(c, -1);
			if (c->err[0] == '\0')
				util_copy(c->err, sizeof(c->err), res.error);
			return -1;
		}
	}
	okta_get_stats(c->okta, &after);
	c->pages = after.reads - before.reads; /* only member pages were read */
	recon_ids_sort(&c->members);
	recon_progress(c, 1);
	return 0;
}

static int
recon_known_add(const char *user_id, void *arg)
{
	return recon_ids_add(arg, user_id) < 0 ? -1 : 0;
}

/* The users groupsync holds a remote record for. */
static int
recon_load_known(struct recon_ctx *c)
{
	int ret;

	c->err[0] = '\0';
	ret = store_remote_each(c->q, recon_known_add, &c->known, c->err, sizeof(c->err));
	if (ret < 0 && c->err[0] == '\0')
		util_copy(c->err, sizeof(c->err), "cannot read the remote IDs: out of memory");
	recon_ids_sort(&c->known);
	return ret < 0 ? -1 : 0;
}

/* Now as ISO-8601 UTC with milliseconds, like Okta's "published". */
static void
recon_now_iso(char *buf, size_t len)
{
	int64_t ms = util_now_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	util_format(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

/* A random (version 4) UUID: a fresh dedup key for every job of every run. */
static int
recon_uuid(char *out, size_t len)
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	return util_format(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
	    r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* Commits the batch; 0 or -1 (said). */
static int
recon_flush(struct recon_ctx *c, struct store_job_in *jobs, size_t *n)
{
	char err[STORE_ERROR_MAX + 1] = "";
	size_t stored = 0;

	if (*n == 0 || c->o->dry_run) {
		*n = 0;
		return 0;
	}
	if (store_enqueue(c->q, "", jobs, *n, &stored, err, sizeof(err)) != STORE_STORED) {
		util_format(c->err, sizeof(c->err), "not stored: %s", err);
		return -1;
	}
	c->stored += stored;
	*n = 0;
	return 0;
}

/* Adds one user's job to the batch (or, in a dry run, prints it). */
static int
recon_add(struct recon_ctx *c, struct store_job_in *jobs, size_t *n, const char *user,
    const char *reason)
{
	struct store_job_in *j = &jobs[*n];

	if (c->o->dry_run) {
		if (c->o->would_enqueue != NULL)
			c->o->would_enqueue(user, reason, c->o->arg);
		return 0;
	}
	memset(j, 0, sizeof(*j));
	if (recon_uuid(j->uuid, sizeof(j->uuid)) < 0) {
		util_copy(c->err, sizeof(c->err), "no random bytes for a uuid");
		return -1;
	}
	util_copy(j->user_id, sizeof(j->user_id), user);
	util_copy(j->event_type, sizeof(j->event_type), SYNC_RECONCILE_EVENT);
	util_copy(j->published, sizeof(j->published), c->published);
	if (++*n == RECON_BATCH)
		return recon_flush(c, jobs, n);
	return 0;
}

static int
recon_enqueue(struct recon_ctx *c)
{
	struct store_job_in *jobs = calloc(RECON_BATCH, sizeof(*jobs));
	const char *reason;
	size_t i, n = 0;
	int rc = -1;

	if (jobs == NULL) {
		util_copy(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	recon_now_iso(c->published, sizeof(c->published));
	for (i = 0; i < c->members.n; i++) {
		reason = "member";
		if (!recon_ids_has(&c->known, c->members.v[i])) {
			reason = "member_without_remote";
			c->without_remote++;
		}
		if (recon_add(c, jobs, &n, c->members.v[i], reason) < 0)
			goto out;
	}
	for (i = 0; i < c->known.n; i++) {
		if (recon_ids_has(&c->members, c->known.v[i]))
			continue;
		c->gone++;
		if (recon_add(c, jobs, &n, c->known.v[i], "no_longer_member") < 0)
			goto out;
	}
	rc = recon_flush(c, jobs, &n);
out:
	free(jobs);
	return rc;
}

/*
 * The members' snapshots, committed before their jobs are stored so that
 * each job finds its snapshot, in transactions of RECON_SNAP_BATCH.
 */
#define RECON_SNAP_BATCH 500
static int
recon_put_snapshots(struct recon_ctx *c)
{
	struct store_snapshot v[RECON_SNAP_BATCH];
	char err[STORE_ERROR_MAX + 1] = "";
	json_object *entry;
	size_t i, n = 0;
	int rc = 0;

	if (c->o->dry_run)
		return 0;
	for (i = 0; rc == 0 && i < c->members.n; i++) {
		if (!json_object_object_get_ex(c->seen, c->members.v[i], &entry))
			continue;
		v[n].user_id = c->members.v[i];
		v[n].taken_ms = c->taken_ms;
		/* json-c keeps the string until entry is freed or changed */
		v[n].body = json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN);
		if (++n == RECON_SNAP_BATCH) {
			rc = store_snapshots_put(c->q, v, n, err, sizeof(err));
			c->snapshots += rc == 0 ? n : 0;
			n = 0;
		}
	}
	if (rc == 0 && n > 0) {
		rc = store_snapshots_put(c->q, v, n, err, sizeof(err));
		c->snapshots += rc == 0 ? n : 0;
	}
	if (rc < 0)
		util_format(c->err, sizeof(c->err), "snapshots not stored: %s", err);
	return rc;
}

/* The work of one run; 0, or -1 with the reason in c->err. */
static int
recon_exec(struct recon_ctx *c)
{
	c->seen = json_object_new_object();
	if (c->seen == NULL) {
		util_copy(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	if (recon_group_names(c) < 0 || recon_list_members(c) < 0 ||
	    recon_put_snapshots(c) < 0)
		return -1;
	if (c->o->snapshots_only)
		return 0;
	if (recon_load_known(c) < 0 || recon_enqueue(c) < 0)
		return -1;
	if (c->o->remote == NULL)
		return 0;
	return group_drift_run(c->cfg, c->o->remote, c->hc, c->q, c->o->dry_run, &c->drift,
	    c->err, sizeof(c->err));
}

int
reconcile_run(const struct config *cfg, struct okta *okta, struct http_client *hc,
    struct store *q, const struct reconcile_opts *o, struct reconcile_summary *out,
    char *err, size_t errlen)
{
	struct recon_ctx c = {.o = o, .cfg = cfg, .okta = okta, .hc = hc, .q = q};
	int rc = recon_exec(&c);

	if (rc < 0)
		util_copy(err, errlen, c.err);
	memset(out, 0, sizeof(*out));
	out->groups = cfg->ngroup_ids;
	out->members = c.members.n;
	out->remote_ids = c.known.n;
	out->without_remote = c.without_remote;
	out->gone = c.gone;
	out->jobs = c.members.n + c.gone;
	out->stored = c.stored;
	out->pages = c.pages;
	out->snapshots = c.snapshots;
	out->taken_ms = c.taken_ms;
	json_object_put(c.seen);
	out->drift = c.drift;
	recon_ids_free(&c.members);
	recon_ids_free(&c.known);
	return rc;
}

struct reconcile_gate *
reconcile_gate_new(void)
{
	struct reconcile_gate *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	if (pthread_mutex_init(&g->mu, NULL) != 0) {
		free(g);
		return NULL;
	}
	if (util_cond_init_monotonic(&g->cv) != 0) {
		pthread_mutex_destroy(&g->mu);
		free(g);
		return NULL;
	}
	return g;
}

void
reconcile_gate_free(struct reconcile_gate *g)
{
	if (g == NULL)
		return;
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

static void
recon_gate_set(struct reconcile_gate *g, int listing, int open)
{
	pthread_mutex_lock(&g->mu);
	g->listing = listing;
	g->open |= open;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

int
reconcile_gate_wait(struct reconcile_gate *g, int max_ms)
{
	struct timespec at;
	int waited = 0, rc = 0;

	if (g == NULL)
		return 0;
	util_deadline(&at, CLOCK_MONOTONIC, max_ms);
	pthread_mutex_lock(&g->mu);
	while (g->listing && !g->open && rc != ETIMEDOUT) {
		waited = 1;
		rc = pthread_cond_timedwait(&g->cv, &g->mu, &at);
	}
	pthread_mutex_unlock(&g->mu);
	return waited;
}

static void
recon_log_run(const char *what, const struct reconcile_summary *s, int64_t t0)
{
	char members[24], pages[24], jobs[24], snaps[24], ms[24], added[24], removed[24];

	snprintf(members, sizeof(members), "%zu", s->members);
	snprintf(pages, sizeof(pages), "%llu", (unsigned long long)s->pages);
	snprintf(jobs, sizeof(jobs), "%zu", s->stored);
	snprintf(snaps, sizeof(snaps), "%zu", s->snapshots);
	snprintf(ms, sizeof(ms), "%lld", (long long)(util_now_ms() - t0));
	if (s->drift.groups == 0) {
		log_emit(LOG_INFO, what, "members", members, "pages", pages, "jobs", jobs,
		    "snapshots", snaps, "ms", ms, (char *)NULL);
		return;
	}
	/* group push: what the remote groups' repair did, as `reconcile
	 * --json` says it */
	snprintf(added, sizeof(added), "%zu", s->drift.added);
	snprintf(removed, sizeof(removed), "%zu", s->drift.removed);
	log_emit(LOG_INFO, what, "members", members, "pages", pages, "jobs", jobs,
	    "snapshots", snaps, "group_members_added", added, "group_members_removed", removed,
	    "ms", ms, (char *)NULL);
}

/* One periodic run and its log line (none when stopped in a run). */
static void
recon_periodic(struct reconcile_loop *l)
{
	struct reconcile_opts o = {.abort_flag = &l->stop, .remote = l->remote};
	struct reconcile_summary s;
	char err[512];
	int64_t t0;

	/* replicas on one store: one of them reconciles for all, not each
	 * (every run costs a listing); a tenth of the interval spares the
	 * timers' jitter */
	if (store_claim(l->q, "reconcile", (int64_t)l->cfg->reconcile_interval_s * 900) != 1)
		return;
	t0 = util_now_ms();
	if (reconcile_run(l->cfg, l->okta, l->hc, l->q, &o, &s, err, sizeof(err)) < 0) {
		if (!l->stop)
			log_emit(LOG_WARN, "reconcile failed", "error", err, (char *)NULL);
		return;
	}
	metrics_reconcile_done((uint64_t)util_now_ms());
	recon_log_run("reconcile", &s, t0);
}

/*
 * A backlog of users whose jobs would each read Okta: one listing that
 * stores the members' snapshots, no job (the jobs are there). Jobs stored
 * before the listing began are all covered by it (taken_ms), so they are
 * not counted again; workers wait at the gate meanwhile instead of
 * reading the users the listing is about to bring.
 */
static void
recon_backlog(struct reconcile_loop *l)
{
	struct reconcile_opts o = {.abort_flag = &l->stop, .snapshots_only = 1};
	struct reconcile_summary s;
	int64_t n = 0, t0 = util_now_ms();
	char err[512], users[24];

	if (util_mono_ms() < l->backlog_retry_mono ||
	    store_backlog_users(l->q, t0, l->backlog_since, SYNC_RECONCILE_EVENT,
	    "user.account.update_profile", &n) < 0 ||
	    n < RECON_BACKLOG_MIN || store_claim(l->q, "backlog", RECON_BACKLOG_CHECK_MS / 2) != 1)
		return;
	recon_gate_set(l->gate, 1, 0);
	if (reconcile_run(l->cfg, l->okta, l->hc, l->q, &o, &s, err, sizeof(err)) < 0) {
		recon_gate_set(l->gate, 0, 0);
		l->backlog_retry_mono = util_mono_ms() + RECON_BACKLOG_RETRY_MS;
		if (!l->stop)
			log_emit(LOG_WARN, "backlog listing failed", "error", err, (char *)NULL);
		return;
	}
	recon_gate_set(l->gate, 0, 0);
	l->backlog_since = s.taken_ms;
	snprintf(users, sizeof(users), "%lld", (long long)n);
	log_emit(LOG_INFO, "backlog listing", "users_waiting", users, (char *)NULL);
	recon_log_run("backlog listing done", &s, t0);
}

/*
 * Until stopped: the backlog check whenever jobs are stored (and every
 * RECON_BACKLOG_CHECK_MS), and with GROUPSYNC_RECONCILE_INTERVAL a run
 * every interval, the first one interval after start.
 */
static void *
recon_loop_main(void *arg)
{
	struct reconcile_loop *l = arg;
	int64_t interval = (int64_t)l->cfg->reconcile_interval_s * 1000;
	int64_t next = interval > 0 ? util_mono_ms() + interval : INT64_MAX, wait;
	uint64_t seen;

	while (!l->stop) {
		seen = store_work_seq(l->q);
		if (util_mono_ms() >= next) {
			recon_periodic(l);
			next = util_mono_ms() + interval;
			continue;
		}
		recon_backlog(l);
		wait = next - util_mono_ms();
		if (wait > RECON_BACKLOG_CHECK_MS)
			wait = RECON_BACKLOG_CHECK_MS;
		if (!l->stop && wait > 0)
			store_wait_work(l->q, seen, (int)wait);
	}
	return NULL;
}

static void
recon_loop_free(struct reconcile_loop *l)
{
	http_client_free(l->hc);
	free(l);
}

struct reconcile_loop *
reconcile_start(const struct config *cfg, struct okta *okta, struct store *q,
    struct reconcile_gate *gate, struct remote *remote)
{
	struct reconcile_loop *l = calloc(1, sizeof(*l));
	struct http_options ho;

	if (l == NULL)
		return NULL;
	l->cfg = cfg;
	l->okta = okta;
	l->q = q;
	l->gate = gate;
	l->remote = remote;
	http_options_from_config(&ho, cfg, &l->stop);
	l->hc = http_client_new(&ho);
	if (l->hc == NULL || pthread_create(&l->thread, NULL, recon_loop_main, l) != 0) {
		recon_loop_free(l);
		return NULL;
	}
	return l;
}

void
reconcile_stop(struct reconcile_loop *l)
{
	if (l == NULL)
		return;
	l->stop = 1;
	/* the loop waits for work in the store: wake it (and the workers,
	 * which look again and wait again) */
	store_wake(l->q);
	recon_gate_set(l->gate, 0, 1);
	pthread_join(l->thread, NULL);
	recon_loop_free(l);
}
