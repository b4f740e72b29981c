/*
 * The store's front: picks the backend at open, dispatches every call to
 * its ops table (backend.h), and keeps what is the same for every backend:
 * the group commit and the workers' wake-up (commit.c), what complete,
 * retry, dead and release mean, the operator list's order and bound,
 * state names, and the store's health (backend.c logs when it stops or
 * starts taking writes).
 */
#include "backend.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "groupsync/base/config.h"
#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

struct store {
	const struct store_ops *ops;
	void *be;		/* the backend's handle */
	struct commit *commit;
	struct store_health health; /* write state, name for messages */
};

/*
 * The backends built in, by the scheme of a location "scheme://...". A
 * location without one is a data directory: SQLite's. libpq takes both
 * of its URI schemes.
 */
static const struct {
	const char *scheme;
	const struct store_ops *ops;
} store_backends[] = {
	{NULL, &store_sqlite_ops},
	{"postgresql", &store_pg_ops},
	{"postgres", &store_pg_ops},
};

/* The backend for location, or NULL with err set. A URI may hold a
 * password: only its scheme goes into err. */
static const struct store_ops *
store_backend(const char *location, char *err, size_t errlen)
{
	const char *sep = strstr(location, "://");
	size_t i, n = sep != NULL ? (size_t)(sep - location) : 0;

	for (i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++) {
		const char *scheme = store_backends[i].scheme;

		if (sep == NULL ? scheme == NULL : scheme != NULL &&
		    strlen(scheme) == n && strncmp(location, scheme, n) == 0)
			return store_backends[i].ops;
	}
	(void)util_format(err, errlen, "store %.*s://...: this groupsync has no backend for "
	    "that scheme (a data directory for SQLite is one without \"://\")",
	    (int)(n > 32 ? 32 : n), location);
	return NULL;
}

/* ops->listen's callback: another process stored jobs. */
static void
store_wake_cb(void *arg)
{
	store_wake(arg);
}

struct store *
store_open_with(const char *location, int mode, const struct store_params *params,
    char *err, size_t errlen)
{
	const struct store_ops *ops = store_backend(location, err, errlen);
	struct store_params p = {0};
	struct store *s;

	if (ops == NULL)
		return NULL;
	if (params != NULL)
		p = *params;
	if (p.lease_ms <= 0)
		p.lease_ms = STORE_LEASE_MS_DEFAULT;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		(void)util_format(err, errlen, "store: out of memory");
		return NULL;
	}
	s->ops = ops;
	atomic_init(&s->health.write_failing, 0);
	s->be = ops->open(&s->health, location, mode, &p, err, errlen);
	if (s->be == NULL) {
		free(s);
		return NULL;
	}
	s->commit = commit_start(ops, s->be, s->health.label, err, errlen);
	if (s->commit == NULL) {
		ops->close(s->be);
		free(s);
		return NULL;
	}
	if (mode == STORE_OPEN_SERVER && ops->listen != NULL)
		ops->listen(s->be, store_wake_cb, s);
	return s;
}

struct store *
store_open_at(const char *location, int mode, char *err, size_t errlen)
{
	return store_open_with(location, mode, NULL, err, errlen);
}

/* GROUPSYNC_STORE: "sqlite" is the file in the data directory; anything
 * else is the URI of a shared store. */
struct store *
store_open(const struct config *cfg, int mode, char *err, size_t errlen)
{
	const struct store_params p = {cfg->store_lease_ms};
	const char *where = cfg->store;

	if (where == NULL || strcmp(where, "sqlite") == 0)
		where = cfg->data_dir;
	return store_open_with(where, mode, &p, err, errlen);
}

const char *
store_label(const struct store *s)
{
	return s->health.label;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	/* no wake-up from the backend once the committer is gone */
	if (s->ops->listen != NULL)
		s->ops->listen(s->be, NULL, NULL);
	/* first: every enqueue in flight is written and answered */
	commit_stop(s->commit);
	s->ops->close(s->be);
	free(s);
}

enum store_enqueue_result
store_enqueue(struct store *s, const char *event_id, const struct store_job_in *jobs,
    size_t njobs, size_t *stored, char *err, size_t errlen)
{
	return commit_enqueue(s->commit, event_id, jobs, njobs, stored, err, errlen);
}

uint64_t
store_work_seq(struct store *s)
{
	return commit_work_seq(s->commit);
}

void
store_wait_work(struct store *s, uint64_t seen, int timeout_ms)
{
	commit_wait_work(s->commit, seen, timeout_ms);
}

void
store_wake(struct store *s)
{
	commit_wake(s->commit);
}

int64_t
store_next_due(struct store *s, int64_t now_ms)
{
	return s->ops->next_due(s->be, now_ms);
}

/* Not up to max_ms late for a job that backs off: that spaced every
 * retry by an extra idle wait. */
void
store_wait_due(struct store *s, uint64_t seen, int max_ms)
{
	int64_t now = util_now_ms(), due = store_next_due(s, now);
	int wait = max_ms;

	if (due > now && due - now < max_ms)
		wait = (int)(due - now);
	store_wait_work(s, seen, wait);
}

int
store_lease(struct store *s, int64_t now_ms, struct store_lease *out, char *err,
    size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s->ops->lease(s->be, now_ms, out, err, errlen);
	/* never 1 with no jobs, never a leak with 0 or -1 */
	if (rc == 1 && out->njobs == 0)
		rc = 0;
	if (rc != 1)
		store_lease_free(out);
	return rc;
}

int
store_lease_user(struct store *s, const struct store_job_in *job, int64_t now_ms,
    struct store_lease *out, char *err, size_t errlen)
{
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (s->ops->lease_user == NULL)
		(void)util_format(err, errlen, "this store cannot lease one user");
	else
		rc = s->ops->lease_user(s->be, job, now_ms, out, err, errlen);
	if (rc == 1 && out->njobs == 0)
		rc = 0;
	if (rc != 1)
		store_lease_free(out);
	return rc;
}

void
store_lease_free(struct store_lease *l)
{
	if (l == NULL)
		return;
	free(l->jobs);
	l->jobs = NULL;
	l->njobs = 0;
}

int
store_complete(struct store *s, const struct store_lease *l)
{
	/* the attempt that succeeded counts: `queue show` of a job done
	 * after a retry says 2, not 1 (and never 0 after an operator's
	 * retry); the error of the failed attempt stays, as the past */
	const struct store_outcome o = {STORE_DONE, 1, NULL, NULL};

	return s->ops->finish(s->be, l, &o);
}

int
store_retry(struct store *s, const struct store_lease *l, int64_t retry_at_ms,
    const char *error)
{
	const struct store_outcome o = {STORE_PENDING, 1, &retry_at_ms,
	    error != NULL ? error : ""};

	return s->ops->finish(s->be, l, &o);
}

int
store_defer(struct store *s, const struct store_lease *l, int64_t not_before_ms)
{
	const struct store_outcome o = {STORE_PENDING, 0, &not_before_ms, NULL};

	return s->ops->finish(s->be, l, &o);
}

int
store_dead(struct store *s, const struct store_lease *l, const char *error)
{
	const struct store_outcome o = {STORE_DEAD, 1, NULL, error != NULL ? error : ""};

	return s->ops->finish(s->be, l, &o);
}

int
store_hold(struct store *s, const struct store_lease *l, const char *why)
{
	const int64_t held = STORE_HELD_NOT_BEFORE;
	const struct store_outcome o = {STORE_PENDING, 0, &held, why != NULL ? why : ""};

	return s->ops->finish(s->be, l, &o);
}

int
store_count_held(struct store *s, int64_t *count)
{
	*count = 0;
	return s->ops->count_held != NULL ? s->ops->count_held(s->be, count) : -1;
}

int
store_deprovision_take(struct store *s, int64_t now_ms, int64_t window_ms, int64_t limit)
{
	if (s->ops->deprovision_take == NULL)
		return -1;
	return s->ops->deprovision_take(s->be, now_ms, window_ms, limit);
}

int
store_admin_release_held(struct store *s, int64_t id, int64_t *count, char *err,
    size_t errlen)
{
	*count = 0;
	if (s->ops->admin_release_held == NULL) {
		(void)util_format(err, errlen, "this store cannot release held jobs");
		return -1;
	}
	return s->ops->admin_release_held(s->be, id, util_now_ms(), count, err, errlen);
}

int
store_release(struct store *s, const struct store_lease *l)
{
	const struct store_outcome o = {STORE_PENDING, 0, NULL, NULL};

	return s->ops->finish(s->be, l, &o);
}

int
store_counts(struct store *s, int64_t counts[4])
{
	memset(counts, 0, 4 * sizeof(counts[0]));
	return s->ops->counts(s->be, counts);
}

int
store_oldest_pending_ms(struct store *s, int64_t now_ms, int64_t *age_ms)
{
	int64_t created = 0;
	int rc = s->ops->oldest_pending(s->be, &created);

	/* a clock behind the stored time is age 0, not negative */
	*age_ms = rc == 1 && now_ms > created ? now_ms - created : 0;
	return rc == -1 ? -1 : 0;
}

long long
store_prune(struct store *s, int64_t older_than_ms)
{
	long long n = s->ops->prune(s->be, older_than_ms), m;

	if (n < 0)
		return -1;
	m = s->ops->snapshots_prune(s->be, util_now_ms() - STORE_SNAPSHOT_KEEP_MS);
	return m < 0 ? -1 : n + m;
}

int
store_snapshots_put(struct store *s, const struct store_snapshot *v, size_t n, char *err,
    size_t errlen)
{
	if (n == 0)
		return 0;
	return s->ops->snapshots_put(s->be, v, n, err, errlen);
}

int
store_clock_ms(struct store *s, int64_t *now_ms)
{
	if (s->ops->clock_ms == NULL) {
		*now_ms = util_now_ms();
		return 0;
	}
	return s->ops->clock_ms(s->be, now_ms);
}

int
store_snapshot_take(struct store *s, const char *user_id, const char *own_type,
    int64_t *taken_ms, char **body)
{
	*body = NULL;
	return s->ops->snapshot_take(s->be, user_id, own_type != NULL ? own_type : "",
	    taken_ms, body);
}

int
store_backlog_users(struct store *s, int64_t now_ms, int64_t since_ms, const char *own_type,
    const char *known_type, int64_t *count)
{
	*count = 0;
	return s->ops->backlog_users(s->be, now_ms, since_ms, own_type != NULL ? own_type : "",
	    known_type != NULL ? known_type : "", count);
}

int
store_claim(struct store *s, const char *task, int64_t period_ms)
{
	if (s->ops->claim == NULL)
		return 1;
	return s->ops->claim(s->be, task, period_ms);
}

int
store_writable(struct store *s)
{
	return s->ops->writable(s->be);
}

int
store_remote_get(struct store *s, const char *user_id, char *remote_id, size_t rlen,
    char *hash, size_t hlen)
{
	return s->ops->remote_get(s->be, user_id, remote_id, rlen, hash, hlen);
}

int
store_remote_put(struct store *s, const char *user_id, const char *remote_id,
    const char *hash)
{
	return s->ops->remote_put(s->be, user_id, remote_id, hash != NULL ? hash : "");
}

int
store_remote_delete(struct store *s, const char *user_id)
{
	return s->ops->remote_delete(s->be, user_id);
}

int
store_group_get(struct store *s, const char *group_id, char *remote_id, size_t rlen,
    char *name, size_t nlen)
{
	return s->ops->group_get(s->be, group_id, remote_id, rlen, name, nlen);
}

int
store_group_put(struct store *s, const char *group_id, const char *remote_id,
    const char *name)
{
	return s->ops->group_put(s->be, group_id, remote_id, name);
}

int
store_member_get(struct store *s, const char *group_id, const char *user_id)
{
	return s->ops->member_get(s->be, group_id, user_id);
}

int
store_member_put(struct store *s, const char *group_id, const char *user_id, int member)
{
	return s->ops->member_put(s->be, group_id, user_id, member);
}

int
store_member_each(struct store *s, const char *group_id,
    int (*fn)(const char *user_id, void *arg), void *arg)
{
	return s->ops->member_each(s->be, group_id, fn, arg);
}

int
store_remote_each(struct store *s, int (*fn)(const char *user_id, void *arg), void *arg,
    char *err, size_t errlen)
{
	return s->ops->remote_each(s->be, fn, arg, err, errlen);
}

static const char *const store_state_names[] = {
	[STORE_PENDING] = "pending",
	[STORE_LEASED] = "leased",
	[STORE_DONE] = "done",
	[STORE_DEAD] = "dead",
};
#define STORE_NSTATES (sizeof(store_state_names) / sizeof(store_state_names[0]))

const char *
store_state_name(enum store_state st)
{
	if ((unsigned)st >= STORE_NSTATES)
		return "unknown";
	return store_state_names[st];
}

int
store_states_parse(const char *name, unsigned *states)
{
	unsigned i;

	if (strcmp(name, "all") == 0) {
		*states = STORE_STATES_ALL;
		return 0;
	}
	for (i = 0; i < STORE_NSTATES; i++) {
		if (strcmp(name, store_state_names[i]) == 0) {
			*states = STORE_STATE_BIT(i);
			return 0;
		}
	}
	return -1;
}

/* What store_admin_list collects from the backend's rows. */
struct store_list {
	const struct store_list_query *qry;
	struct store_job_info *jobs;
	size_t n, cap;
	int more;
	int oom; /* a row did not fit in memory */
};

/* Keeps the first qry->limit rows (the newest); one more only says that
 * there are more, which spares a count over a table of done jobs. */
static int
store_list_row(const struct store_job_info *info, void *arg)
{
	struct store_list *l = arg;
	struct store_job_info *p;
	size_t c;

	if (l->n == l->qry->limit) {
		l->more = 1;
		return 0;
	}
	if (l->n == l->cap) {
		c = l->cap == 0 ? 16 : l->cap * 2;
		p = c <= SIZE_MAX / sizeof(*p) ? realloc(l->jobs, c * sizeof(*p)) : NULL;
		if (p == NULL) {
			l->oom = 1;
			return -1;
		}
		l->jobs = p;
		l->cap = c;
	}
	l->jobs[l->n++] = *info;
	return 0;
}

int
store_admin_list(struct store *s, const struct store_list_query *qry,
    struct store_job_info **out, size_t *n, int *more, char *err, size_t errlen)
{
	struct store_list l = {.qry = qry};
	struct store_job_info t;
	size_t i;

	if (s->ops->admin_list(s->be, qry, qry->limit + 1, store_list_row, &l, err,
	    errlen) == -1) {
		if (l.oom)
			(void)util_format(err, errlen, "%s: list: out of memory", s->health.label);
		free(l.jobs);
		*out = NULL;
		*n = 0;
		*more = 0;
		return -1;
	}
	/* newest first from the backend; oldest first to the caller */
	for (i = 0; i < l.n / 2; i++) {
		t = l.jobs[i];
		l.jobs[i] = l.jobs[l.n - 1 - i];
		l.jobs[l.n - 1 - i] = t;
	}
	*out = l.jobs;
	*n = l.n;
	*more = l.more;
	return 0;
}

int
store_admin_get(struct store *s, int64_t id, struct store_job_info *out, char *err,
    size_t errlen)
{
	return s->ops->admin_get(s->be, id, out, err, errlen);
}

enum store_admin_result
store_admin_retry(struct store *s, int64_t id, int64_t now_ms, enum store_state *state,
    char *err, size_t errlen)
{
	return s->ops->admin_retry(s->be, id, now_ms, state, err, errlen);
}

int
store_admin_retry_dead(struct store *s, int64_t now_ms, int64_t *count, char *err,
    size_t errlen)
{
	*count = 0;
	return s->ops->admin_retry_dead(s->be, now_ms, count, err, errlen);
}

enum store_admin_result
store_admin_drop(struct store *s, int64_t id, enum store_state *state, char *err,
    size_t errlen)
{
	return s->ops->admin_drop(s->be, id, state, err, errlen);
}

/* A group map row copied, kept to be read back from the target: a
 * group's ID and remote ID, or a membership's group and user. */
struct store_copied {
	char *a, *b;
};

/* store_copy's walk over the source's rows. */
struct store_copier {
	struct store *to;
	struct store_copy_counts *n;
	char *err;
	size_t errlen;
	int failed; /* the target refused a row: err is set */
	struct store_copied *groups, *members; /* read back after the commit */
};

/* Keeps a group map row (copies of a and b) in *v, the nth. */
static int
store_copied_add(struct store_copied **v, int64_t n, const char *a, const char *b)
{
	struct store_copied *nv;

	if ((n & (n - 1)) == 0) { /* 0, 1, 2, 4...: grow at each power of two */
		nv = realloc(*v, (size_t)(n ? 2 * n : 1) * sizeof(**v));
		if (nv == NULL)
			return -1;
		*v = nv;
	}
	(*v)[n].a = strdup(a);
	(*v)[n].b = strdup(b);
	if ((*v)[n].a == NULL || (*v)[n].b == NULL) {
		free((*v)[n].a);
		free((*v)[n].b);
		return -1;
	}
	return 0;
}

static void
store_copied_free(struct store_copied *v, int64_t n)
{
	int64_t i;

	for (i = 0; i < n; i++) {
		free(v[i].a);
		free(v[i].b);
	}
	free(v);
}

/*
 * The group maps read back from the target, row by row: each group with
 * its remote ID, each membership. With the target empty before the copy
 * (import_begin), every row there means the counts are the source's.
 */
static int
store_copy_check_groups(struct store_copier *c)
{
	char rid[512], name[512]; /* remote IDs are up to 255 bytes */
	int64_t i, groups = 0, members = 0;

	for (i = 0; i < c->n->groups; i++) {
		if (store_group_get(c->to, c->groups[i].a, rid, sizeof(rid), name,
		    sizeof(name)) == 1 && strcmp(rid, c->groups[i].b) == 0)
			groups++;
	}
	for (i = 0; i < c->n->group_members; i++)
		members += store_member_get(c->to, c->members[i].a, c->members[i].b) == 1;
	if (groups == c->n->groups && members == c->n->group_members)
		return 0;
	(void)util_format(c->err, c->errlen, "%s: holds %lld of %lld group remote IDs and "
	    "%lld of %lld group memberships after the copy", c->to->health.label,
	    (long long)groups, (long long)c->n->groups, (long long)members,
	    (long long)c->n->group_members);
	return -1;
}

static int
store_copy_row(const struct store_record *r, void *arg)
{
	struct store_copier *c = arg;
	struct store_record row = *r;

	if (row.kind == STORE_REC_JOB) {
		/* nobody holds it in the new store */
		if (row.job.job.state == STORE_LEASED)
			row.job.job.state = STORE_PENDING;
		if ((unsigned)row.job.job.state >= STORE_NSTATES)
			row.job.job.state = STORE_PENDING;
	}
	if (c->to->ops->import_row(c->to->be, &row, c->err, c->errlen) == -1) {
		c->failed = 1;
		return -1;
	}
	if (row.kind == STORE_REC_JOB) {
		c->n->jobs[row.job.job.state]++;
	} else if (row.kind == STORE_REC_DELIVERY) {
		c->n->deliveries++;
	} else if (row.kind == STORE_REC_REMOTE_ID) {
		c->n->remote_ids++;
	} else if (row.kind == STORE_REC_GROUP) {
		if (store_copied_add(&c->groups, c->n->groups, row.group_id, row.remote_id) < 0)
			goto oom;
		c->n->groups++;
	} else {
		if (store_copied_add(&c->members, c->n->group_members, row.group_id,
		    row.user_id) < 0)
			goto oom;
		c->n->group_members++;
	}
	return 0;
oom:
	(void)util_format(c->err, c->errlen, "store migrate: out of memory");
	c->failed = 1;
	return -1;
}

/* The source's export and the target's import meet here, so that neither
 * backend knows the other. */
int
store_copy(struct store *from, struct store *to, struct store_copy_counts *n, char *err,
    size_t errlen)
{
	struct store_copier c = {to, n, err, errlen, 0, NULL, NULL};
	int64_t counts[4];
	int i, rc;

	memset(n, 0, sizeof(*n));
	if (from->ops->export_rows == NULL || to->ops->import_begin == NULL) {
		(void)util_format(err, errlen, "store migrate: from %s to %s is not supported "
		    "(from SQLite to PostgreSQL is)", from->health.label, to->health.label);
		return -1;
	}
	if (to->ops->import_begin(to->be, err, errlen) == -1)
		return -1;
	rc = from->ops->export_rows(from->be, store_copy_row, &c, err, errlen);
	if (rc == -1)
		(void)to->ops->import_end(to->be, 0, NULL, 0);
	else
		rc = to->ops->import_end(to->be, 1, err, errlen);
	if (rc == 0)
		rc = store_copy_check_groups(&c);
	store_copied_free(c.groups, n->groups);
	store_copied_free(c.members, n->group_members);
	if (rc == -1)
		return -1;
	/* what the target holds now, read back */
	if (store_counts(to, counts) == -1) {
		(void)util_format(err, errlen, "%s: cannot count the jobs copied", to->health.label);
		return -1;
	}
	for (i = 0; i < 4; i++) {
		if (counts[i] != n->jobs[i]) {
			(void)util_format(err, errlen, "%s: holds %lld %s jobs after the copy of "
			    "%lld", to->health.label, (long long)counts[i],
			    store_state_name((enum store_state)i), (long long)n->jobs[i]);
			return -1;
		}
	}
	return 0;
}
