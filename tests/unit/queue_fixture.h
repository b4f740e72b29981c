/*
 * The fixture of the queue's unit tests: a fresh temporary directory with
 * a server-mode store in it per case (setup creates it, teardown removes
 * it), so that each case also runs alone.
 */
#ifndef GS_QUEUE_FIXTURE_H
#define GS_QUEUE_FIXTURE_H

#include "unit.h"

#include "groupsync/queue.h"

#include <stdlib.h>

struct fixture {
	char dir[64];
	struct queue *q;
	char err[QUEUE_ERROR_MAX + 1];
};

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	queue_close(fx->q);
	unit_remove_dir(fx->dir);
	free(fx);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/gs-test-queue-XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	fx->q = queue_open(fx->dir, QUEUE_OPEN_SERVER, fx->err, sizeof(fx->err));
	if (fx->q == NULL) {
		fprintf(stderr, "queue_open: %s\n", fx->err);
		teardown(state);
		return -1;
	}
	return 0;
}

#endif
