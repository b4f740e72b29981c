/*
 * Group commit, and how the workers of this process learn of new jobs.
 *
 * Group commit: a store that is durable at each COMMIT pays an fsync per
 * transaction, and one fsync per webhook delivery would cap intake at the
 * disk's fsync rate. store_enqueue() therefore does not write: it appends
 * a request to a list and sleeps on the request's own condition variable.
 * A committer thread takes the whole list, has the backend write all of
 * it in ONE transaction (ops->enqueue) and wakes every waiter with its own
 * result. While it commits, new requests pile up and form the next batch,
 * so the batch size grows with the load by itself. If the transaction
 * fails (disk full, read-only, I/O error) the whole batch fails, so that
 * every caller answers 5xx and Okta redelivers; the next batch simply
 * tries again, which is how the store recovers once space returns.
 *
 * Waking workers: a commit that stores jobs moves a sequence number and
 * wakes one waiting worker per job; a job that backs off needs no event,
 * so an idle worker also wakes when the earliest such job falls due (see
 * store_wait_due), and at least every max_ms for jobs another process
 * (queue retry, replay, reconcile) made ready.
 *
 * Lock order: c->lock is never held while the backend writes.
 */
#include "commit.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupsync/base/util.h"

/* One store_enqueue() call waiting for the committer. Lives on the
 * caller's stack; the committer must not touch it once done is set. */
struct commit_req {
	struct store_delivery d; /* first: the batch links these */
	char err[STORE_ERROR_MAX + 1];
	int done;		/* under lock */
	pthread_cond_t cond;	/* with lock */
};

struct commit {
	const struct store_ops *ops;
	void *be;
	char label[PATH_MAX];

	pthread_mutex_t lock;	/* guards the fields below */
	pthread_cond_t req_cond;	/* committer: work or stop */
	pthread_cond_t work_cond;	/* workers: new jobs committed */
	uint64_t work_seq;		/* bumped on each commit that stored jobs */
	struct store_delivery *head;
	struct store_delivery **tail;
	int stopping;
	pthread_t thread;
};

static struct commit_req *
commit_req_of(struct store_delivery *d)
{
	/* d is the first member of a struct commit_req */
	return (struct commit_req *)(void *)d;
}

/* Writes a batch in one transaction; on failure every request fails. */
static void
commit_batch(struct commit *c, struct store_delivery *batch)
{
	struct store_delivery *d;
	char err[STORE_ERROR_MAX + 1] = "";

	if (c->ops->enqueue(c->be, batch, err, sizeof(err)) == 0)
		return;
	for (d = batch; d != NULL; d = d->next) {
		d->result = STORE_FAILED;
		d->stored = 0;
		(void)util_copy(commit_req_of(d)->err, sizeof(commit_req_of(d)->err), err);
	}
}

/*
 * Wakes one idle worker per job stored, not all of them: each wakeup
 * costs a lease query, and a worker that finds nothing has only taken the
 * store's lock from the committer. Called with c->lock held.
 */
static void
commit_notify_work(struct commit *c, const struct store_delivery *batch)
{
	size_t stored = 0;

	for (; batch != NULL; batch = batch->next) {
		if (batch->result == STORE_STORED)
			stored += batch->stored;
	}
	if (stored == 0)
		return;
	c->work_seq++;
	for (; stored > 0 && stored <= 64; stored--)
		pthread_cond_signal(&c->work_cond);
	if (stored > 64)
		pthread_cond_broadcast(&c->work_cond);
}

static void *
commit_main(void *arg)
{
	struct commit *c = arg;
	struct store_delivery *batch, *d, *next;
	struct commit_req *r;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stopping)
			pthread_cond_wait(&c->req_cond, &c->lock);
		/* stop only once drained: every caller gets an answer */
		if (c->head == NULL)
			break;
		batch = c->head;
		c->head = NULL;
		c->tail = &c->head;
		pthread_mutex_unlock(&c->lock);

		commit_batch(c, batch);

		pthread_mutex_lock(&c->lock);
		commit_notify_work(c, batch);
		for (d = batch; d != NULL; d = next) {
			/* read next first: the waiter may return at once */
			next = d->next;
			r = commit_req_of(d);
			r->done = 1;
			pthread_cond_signal(&r->cond);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

enum store_enqueue_result
commit_enqueue(struct commit *c, const char *event_id, const struct store_job_in *jobs,
    size_t njobs, size_t *stored, char *err, size_t errlen)
{
	struct commit_req req;

	memset(&req, 0, sizeof(req));
	req.d.event_id = event_id != NULL ? event_id : "";
	req.d.jobs = jobs;
	req.d.njobs = njobs;
	req.d.result = STORE_FAILED;
	pthread_cond_init(&req.cond, NULL);

	pthread_mutex_lock(&c->lock);
	if (c->stopping) {
		(void)util_format(req.err, sizeof(req.err), "%s: store is closing", c->label);
		req.done = 1;
	} else {
		/* req outlives its time on the list: we return only once
		 * the committer has taken it off and set done */
		*c->tail = &req.d;
		/* cppcheck-suppress autoVariables */
		c->tail = &req.d.next;
		pthread_cond_signal(&c->req_cond);
	}
	while (!req.done)
		pthread_cond_wait(&req.cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&req.cond);

	if (stored != NULL)
		*stored = req.d.stored;
	if (req.d.result == STORE_FAILED && err != NULL && errlen > 0)
		(void)util_copy(err, errlen, req.err);
	return req.d.result;
}

struct commit *
commit_start(const struct store_ops *ops, void *be, const char *label, char *err,
    size_t errlen)
{
	struct commit *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		(void)util_format(err, errlen, "%s: out of memory", label);
		return NULL;
	}
	c->ops = ops;
	c->be = be;
	/* a truncated name is still a name */
	(void)util_copy(c->label, sizeof(c->label), label);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->req_cond, NULL);
	pthread_cond_init(&c->work_cond, NULL);
	c->tail = &c->head;
	if (pthread_create(&c->thread, NULL, commit_main, c) != 0) {
		(void)util_format(err, errlen, "%s: cannot start the committer thread", label);
		pthread_cond_destroy(&c->req_cond);
		pthread_cond_destroy(&c->work_cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	return c;
}

void
commit_stop(struct commit *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->req_cond);
	pthread_cond_broadcast(&c->work_cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->req_cond);
	pthread_cond_destroy(&c->work_cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t
commit_work_seq(struct commit *c)
{
	uint64_t seq;

	pthread_mutex_lock(&c->lock);
	seq = c->work_seq;
	pthread_mutex_unlock(&c->lock);
	return seq;
}

void
commit_wait_work(struct commit *c, uint64_t seen, int timeout_ms)
{
	struct timespec until;

	util_deadline(&until, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (c->work_seq == seen && !c->stopping) {
		if (pthread_cond_timedwait(&c->work_cond, &c->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
}

void
commit_wake(struct commit *c)
{
	pthread_mutex_lock(&c->lock);
	c->work_seq++;
	pthread_cond_broadcast(&c->work_cond);
	pthread_mutex_unlock(&c->lock);
}
