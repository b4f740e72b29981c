/*
 * backend: what every store backend shares (see backend.h): growing a
 * lease's jobs, and the store's health, which logs when the store stops
 * and starts taking writes, once each.
 */
#include "backend.h"

#include <stdint.h>
#include <stdlib.h>

#include "groupsync/base/log.h"

struct store_job *
store_lease_add(struct store_lease *l, size_t *cap)
{
	struct store_job *jobs;
	size_t n;

	if (l->njobs == *cap) {
		n = *cap == 0 ? 8 : *cap * 2;
		if (n > SIZE_MAX / sizeof(*jobs))
			return NULL;
		jobs = realloc(l->jobs, n * sizeof(*jobs));
		if (jobs == NULL)
			return NULL;
		l->jobs = jobs;
		*cap = n;
	}
	return &l->jobs[l->njobs++];
}

void
store_health_failed(struct store_health *h, const char *err)
{
	if (atomic_exchange(&h->write_failing, 1))
		return;
	log_emit(LOG_ERROR, "store does not take writes: deliveries are answered 503 "
	    "and syncs wait until it does", "error", err, (char *)NULL);
}

void
store_health_ok(struct store_health *h)
{
	if (!atomic_exchange(&h->write_failing, 0))
		return;
	log_emit(LOG_INFO, "store takes writes again", "path", h->label, (char *)NULL);
}
