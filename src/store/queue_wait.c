/*
 * How workers wait for work. A commit that stores jobs moves a sequence
 * number and wakes one waiting worker per job; a job that backs off needs
 * no event, so an idle worker also wakes when the earliest such job falls
 * due (not up to a second late, which spaced every retry by an extra
 * poll interval), and at least every max_ms for jobs another process
 * (queue retry, replay) made ready.
 */
#include "queue_db.h"

#include <time.h>

#include "groupsync/base/util.h"

uint64_t
queue_work_seq(struct queue *q)
{
	uint64_t seq;

	pthread_mutex_lock(&q->req_lock);
	seq = q->work_seq;
	pthread_mutex_unlock(&q->req_lock);
	return seq;
}

void
queue_wait_work(struct queue *q, uint64_t seen, int timeout_ms)
{
	struct timespec until;

	util_deadline(&until, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&q->req_lock);
	while (q->work_seq == seen && !q->stopping) {
		if (pthread_cond_timedwait(&q->work_cond, &q->req_lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&q->req_lock);
}

void
queue_wake(struct queue *q)
{
	pthread_mutex_lock(&q->req_lock);
	q->work_seq++;
	pthread_cond_broadcast(&q->work_cond);
	pthread_mutex_unlock(&q->req_lock);
}

int64_t
queue_next_due(struct queue *q, int64_t now_ms)
{
	sqlite3_stmt *st;
	int64_t due = -1;

	pthread_mutex_lock(&q->db_lock);
	st = queue_stmt(q, QS_NEXT_DUE);
	sqlite3_bind_int64(st, 1, now_ms);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		due = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	pthread_mutex_unlock(&q->db_lock);
	return due;
}

void
queue_wait_due(struct queue *q, uint64_t seen, int max_ms)
{
	int64_t now = util_now_ms(), due = queue_next_due(q, now);
	int wait = max_ms;

	if (due > now && due - now < max_ms)
		wait = (int)(due - now);
	queue_wait_work(q, seen, wait);
}
