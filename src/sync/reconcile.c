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
	uint64_t pages;
	size_t without_remote, gone, stored;
	struct group_drift_summary drift;
	char published[STORE_TIME_MAX + 1];
	char err[512];
};

/* The serve loop (reconcile_start): owned by serve. */
struct reconcile_loop {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled at stop; waits on CLOCK_MONOTONIC */
	_Atomic int stop;  /* also the HTTP client's abort flag */
	const struct config *cfg;
	struct okta *okta;
	struct store *q;
	struct remote *remote;
	struct http_client *hc;
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
	if (recon_ids_add(&c->members, id) < 0) {
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

	okta_get_stats(c->okta, &before);
	for (i = 0; i < c->cfg->ngroup_ids; i++) {
		memset(&res, 0, sizeof(res));
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

/* The work of one run; 0, or -1 with the reason in c->err. */
static int
recon_exec(struct recon_ctx *c)
{
	if (recon_list_members(c) < 0 || recon_load_known(c) < 0 || recon_enqueue(c) < 0)
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
	out->drift = c.drift;
	recon_ids_free(&c.members);
	recon_ids_free(&c.known);
	return rc;
}

/* Waits one interval; 0 when it passed, -1 when stopped. */
static int
recon_loop_wait(struct reconcile_loop *l)
{
	struct timespec at;
	int rc = 0, stop;

	util_deadline(&at, CLOCK_MONOTONIC, (int64_t)l->cfg->reconcile_interval_s * 1000);
	pthread_mutex_lock(&l->mu);
	while (!l->stop && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&l->cv, &l->mu, &at);
	stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop ? -1 : 0;
}

/* Every interval, one run and its log line (none when stopped in a run). */
static void *
recon_loop_main(void *arg)
{
	struct reconcile_loop *l = arg;
	struct reconcile_opts o = {.abort_flag = &l->stop, .remote = l->remote};
	struct reconcile_summary s;
	char err[512], members[24], pages[24], jobs[24], ms[24];
	int64_t t0;

	while (recon_loop_wait(l) == 0) {
		/* replicas on one store: one of them reconciles for all, not
		 * each (every run costs two Okta reads per member); a tenth of
		 * the interval spares the timers' jitter */
		if (store_claim(l->q, "reconcile",
		    (int64_t)l->cfg->reconcile_interval_s * 900) != 1)
			continue;
		t0 = util_now_ms();
		if (reconcile_run(l->cfg, l->okta, l->hc, l->q, &o, &s, err, sizeof(err)) < 0) {
			if (!l->stop)
				log_emit(LOG_WARN, "reconcile failed", "error", err, (char *)NULL);
			continue;
		}
		snprintf(members, sizeof(members), "%zu", s.members);
		snprintf(pages, sizeof(pages), "%llu", (unsigned long long)s.pages);
		snprintf(jobs, sizeof(jobs), "%zu", s.stored);
		snprintf(ms, sizeof(ms), "%lld", (long long)(util_now_ms() - t0));
		metrics_reconcile_done((uint64_t)util_now_ms());
		log_emit(LOG_INFO, "reconcile", "members", members, "pages", pages, "jobs",
		    jobs, "ms", ms, (char *)NULL);
	}
	return NULL;
}

static void
recon_loop_free(struct reconcile_loop *l)
{
	http_client_free(l->hc);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

struct reconcile_loop *
reconcile_start(const struct config *cfg, struct okta *okta, struct store *q,
    struct remote *remote)
{
	struct reconcile_loop *l = calloc(1, sizeof(*l));
	struct http_options ho;
	pthread_condattr_t ca;
	int rc;

	if (l == NULL)
		return NULL;
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return NULL;
	}
	rc = pthread_condattr_init(&ca);
	if (rc == 0) {
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(&l->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (rc != 0) {
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	l->cfg = cfg;
	l->okta = okta;
	l->q = q;
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
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	recon_loop_free(l);
}
