/*
 * The queue's operator queries: list, show, retry and drop jobs (see
 * queue.h). They run in the admin commands' process while the server
 * works on the same file; WAL lets the reads run beside its writes, and
 * each change is one short write transaction that the server's busy
 * timeout waits out.
 *
 * A change and the look-up that explains a refusal share one
 * transaction, so the state named in "job 5 is leased" is the state that
 * refused the change, not one that came a moment later.
 */
#include "queue_db.h"

#include <stdlib.h>
#include <string.h>

#include "groupsync/base/util.h"

static const char *const queue_state_names[] = {
	[QUEUE_PENDING] = "pending",
	[QUEUE_LEASED] = "leased",
	[QUEUE_DONE] = "done",
	[QUEUE_DEAD] = "dead",
};
#define QUEUE_NSTATES (sizeof(queue_state_names) / sizeof(queue_state_names[0]))

const char *
queue_state_name(enum queue_state s)
{
	if ((unsigned)s >= QUEUE_NSTATES)
		return "unknown";
	return queue_state_names[s];
}

int
queue_states_parse(const char *name, unsigned *states)
{
	unsigned i;

	if (strcmp(name, "all") == 0) {
		*states = QUEUE_STATES_ALL;
		return 0;
	}
	for (i = 0; i < QUEUE_NSTATES; i++) {
		if (strcmp(name, queue_state_names[i]) == 0) {
			*states = QUEUE_STATE_BIT(i);
			return 0;
		}
	}
	return -1;
}

/* Reads a row of QUEUE_ADMIN_COLUMNS. */
static void
queue_admin_read_row(sqlite3_stmt *st, struct queue_job_info *info)
{
	struct queue_job *j = &info->job;

	memset(info, 0, sizeof(*info));
	queue_read_job(st, j); /* QUEUE_ADMIN_COLUMNS starts with QUEUE_JOB_COLUMNS */
	/* the schema's CHECK keeps it within enum queue_state */
	j->state = (enum queue_state)sqlite3_column_int(st, 12);
	info->updated_ms = sqlite3_column_int64(st, 13);
}

/* Returns a new slot at the end of *jobs, growing it by doubling. */
static struct queue_job_info *
queue_admin_grow(struct queue_job_info **jobs, size_t *n, size_t *cap)
{
	struct queue_job_info *p;
	size_t c;

	if (*n == *cap) {
		c = *cap == 0 ? 16 : *cap * 2;
		if (c > SIZE_MAX / sizeof(*p))
			return NULL;
		p = realloc(*jobs, c * sizeof(*p));
		if (p == NULL)
			return NULL;
		*jobs = p;
		*cap = c;
	}
	return &(*jobs)[(*n)++];
}

/* Turns the newest-first rows into oldest first. */
static void
queue_admin_reverse(struct queue_job_info *jobs, size_t n)
{
	struct queue_job_info t;
	size_t i;

	for (i = 0; i < n / 2; i++) {
		t = jobs[i];
		jobs[i] = jobs[n - 1 - i];
		jobs[n - 1 - i] = t;
	}
}

/*
 * One row more than asked for is read: it only says that there are more
 * (*more), which spares a count(*) over a table of done jobs.
 */
int
queue_admin_list(struct queue *q, const struct queue_list_query *qry,
    struct queue_job_info **out, size_t *n, int *more, char *err,
    size_t errlen)
{
	struct queue_job_info *slot;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, ret = -1;

	*out = NULL;
	*n = 0;
	*more = 0;
	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, qry->user_id != NULL ? QS_ADMIN_LIST_USER :
	    QS_ADMIN_LIST);
	sqlite3_bind_int(st, 1, (int)qry->states);
	sqlite3_bind_int64(st, 2, (int64_t)qry->limit + 1);
	if (qry->user_id != NULL)
		queue_bind_text(st, 3, qry->user_id);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		if (*n == qry->limit) {
			*more = 1;
			continue;
		}
		slot = queue_admin_grow(out, n, &cap);
		if (slot == NULL) {
			(void)util_format(err, errlen, "%s: list: out of memory",
			    q->path);
			goto out;
		}
		queue_admin_read_row(st, slot);
	}
	if (rc != SQLITE_DONE) {
		queue_seterr(q, err, errlen, "list jobs");
		goto out;
	}
	queue_admin_reverse(*out, *n);
	ret = 0;
out:
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->db_lock);
	if (ret == -1) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

int
queue_admin_get(struct queue *q, int64_t id, struct queue_job_info *out,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, ret = -1;

	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_ADMIN_GET);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		queue_admin_read_row(st, out);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		queue_seterr(q, err, errlen, "read job");
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}

/* The state of job id: 1 found, 0 none, -1 error. Called locked. */
static int
queue_admin_state(struct queue *q, int64_t id, enum queue_state *state)
{
	sqlite3_stmt *st = queue_stmt(q, QS_ADMIN_STATE);
	int rc;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*state = (enum queue_state)sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Runs the guarded change which (?1 the job id, ?2 now when it takes
 * one); when it changed no row, reads why: no such job, or its state.
 */
static enum queue_admin_result
queue_admin_change(struct queue *q, enum queue_stmt_id which, int64_t id,
    int64_t now_ms, enum queue_state *state, char *err, size_t errlen)
{
	enum queue_admin_result res = QUEUE_ADMIN_ERROR;
	sqlite3_stmt *st;
	int found;

	pthread_mutex_lock(&q->db_lock);
	if (queue_run(q, QS_BEGIN) == -1) {
		queue_seterr(q, err, errlen, "begin");
		goto out;
	}
	st = queue_stmt(q, which);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, now_ms);
	if (queue_step_done(st) == -1) {
		queue_seterr(q, err, errlen, "change job");
		goto out;
	}
	if (sqlite3_changes(q->db) > 0) {
		res = QUEUE_ADMIN_OK;
	} else {
		found = queue_admin_state(q, id, state);
		if (found == -1) {
			queue_seterr(q, err, errlen, "read job state");
			goto out;
		}
		res = found ? QUEUE_ADMIN_REFUSED : QUEUE_ADMIN_NO_JOB;
	}
	if (queue_run(q, QS_COMMIT) == -1) {
		queue_seterr(q, err, errlen, "commit");
		res = QUEUE_ADMIN_ERROR;
	}
out:
	queue_rollback(q);
	pthread_mutex_unlock(&q->db_lock);
	return res;
}

enum queue_admin_result
queue_admin_retry(struct queue *q, int64_t id, int64_t now_ms,
    enum queue_state *state, char *err, size_t errlen)
{
	return queue_admin_change(q, QS_ADMIN_RETRY, id, now_ms, state, err,
	    errlen);
}

enum queue_admin_result
queue_admin_drop(struct queue *q, int64_t id, enum queue_state *state,
    char *err, size_t errlen)
{
	return queue_admin_change(q, QS_ADMIN_DROP, id, 0, state, err, errlen);
}

int
queue_admin_retry_dead(struct queue *q, int64_t now_ms, int64_t *count,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret = -1;

	*count = 0;
	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_ADMIN_RETRY_DEAD);
	sqlite3_bind_int64(st, 1, now_ms);
	if (queue_step_done(st) == -1) {
		queue_seterr(q, err, errlen, "retry dead jobs");
	} else {
		*count = sqlite3_changes64(q->db);
		ret = 0;
	}
	pthread_mutex_unlock(&q->db_lock);
	return ret;
}
