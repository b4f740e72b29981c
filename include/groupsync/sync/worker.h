/*
 * worker: the pool of threads that lease jobs and converge each user
 * (sync/converge.c: read the user from Okta, decide, call the remote
 * system, record the remote ID, write it back to Okta), then complete,
 * retry or dead-letter the lease.
 *
 * Owns the threads, one http_client per thread (keep-alive), the retry
 * policy and the per-sync log line. One user is never synced by two
 * workers at once: the store leases all pending jobs of a user together.
 *
 * Threads: worker_start/worker_stop from the main thread only;
 * worker_get_stats from any thread.
 */
#ifndef GROUPSYNC_WORKER_H
#define GROUPSYNC_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "groupsync/base/config.h"
#include "groupsync/okta/client.h"
#include "groupsync/store/store.h"
#include "groupsync/remote/client.h"

struct worker_pool;

/* Borrowed: must outlive the pool. */
struct worker_deps {
	const struct config *cfg;
	struct store *q;
	struct okta *okta;
	struct remote *remote;
	struct reconcile_gate *gate; /* serve's backlog listing; NULL: none */
};

struct worker_pool *worker_start(const struct worker_deps *d, char *err, size_t errlen);

/*
 * Stops taking jobs and waits up to grace_ms for the syncs in flight;
 * then aborts their outbound calls and gives their leases back untouched
 * (a create that may have reached the remote is found again by find.json
 * on the next attempt). Frees the pool.
 */
void worker_stop(struct worker_pool *p, int grace_ms);

struct worker_stats {
	uint64_t syncs;    /* leases processed */
	uint64_t created, updated, deleted, unchanged;
	uint64_t skipped;  /* no Okta call needed */
	uint64_t retried, dead, released;
	uint64_t events;   /* jobs completed (coalesced into syncs) */
};
void worker_get_stats(struct worker_pool *p, struct worker_stats *out);

#endif
