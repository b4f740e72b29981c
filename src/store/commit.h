/*
 * Group commit of deliveries and the wake-up of idle workers, for any
 * backend (commit.c). Internal to src/store/: store.c owns one per store.
 *
 * Threads: every function but commit_start/commit_stop from any thread.
 */
#ifndef GROUPSYNC_STORE_COMMIT_H
#define GROUPSYNC_STORE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct commit;

/* Starts the committer thread, which writes each batch with
 * ops->enqueue(be, ...); label names the store in messages. NULL with err
 * set when it cannot start. */
struct commit *commit_start(const struct store_ops *ops, void *be, const char *label,
    char *err, size_t errlen);
/* Answers every request still waiting (stop only once drained), wakes
 * the waiting workers, joins the thread and frees c. */
void commit_stop(struct commit *c);

/* store_enqueue(): queues the delivery for the next batch and waits for
 * that batch's result. */
enum store_enqueue_result commit_enqueue(struct commit *c, const char *event_id,
    const struct store_job_in *jobs, size_t njobs, size_t *stored, char *err,
    size_t errlen);

/* store_work_seq(), store_wait_work(), store_wake(). */
uint64_t commit_work_seq(struct commit *c);
void commit_wait_work(struct commit *c, uint64_t seen, int timeout_ms);
void commit_wake(struct commit *c);

#endif
