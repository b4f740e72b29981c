/*
 * The fixture of the store's unit tests: a fresh temporary directory with
 * a server-mode store in it per case (setup creates it, teardown removes
 * it), so that each case also runs alone. Tests of the operator commands
 * open a second, admin handle on the same store as fx->adm.
 */
#ifndef GS_QUEUE_FIXTURE_H
#define GS_QUEUE_FIXTURE_H

#include "unit.h"

#include "groupsync/store/store.h"
#include "groupsync/base/util.h"

#include <stdlib.h>

struct fixture {
	char dir[64];
	struct store *q;   /* the service's handle (STORE_OPEN_SERVER) */
	struct store *adm; /* NULL, or an operator's (STORE_OPEN_ADMIN) */
	char err[STORE_ERROR_MAX + 1];
};

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->adm);
	store_close(fx->q);
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
	fx->q = store_open_at(fx->dir, STORE_OPEN_SERVER, fx->err, sizeof(fx->err));
	if (fx->q == NULL) {
		fprintf(stderr, "store_open: %s\n", fx->err);
		teardown(state);
		return -1;
	}
	return 0;
}

/* Stores one membership-add job for user, published at second sec,
 * through the service's handle. */
static inline void
add_job(struct fixture *fx, const char *uuid, const char *user, int sec)
{
	struct store_job_in j;
	size_t stored = 0;

	memset(&j, 0, sizeof(j));
	assert_int_equal(util_copy(j.uuid, sizeof(j.uuid), uuid), 0);
	assert_int_equal(util_copy(j.user_id, sizeof(j.user_id), user), 0);
	strcpy(j.event_type, "group.user_membership.add");
	snprintf(j.published, sizeof(j.published), "2024-01-01T00:00:%02d.000Z", sec);
	strcpy(j.group_id, "00g8sync7AbCdEfGh4x7");
	strcpy(j.changed, "city,zipCode");
	j.changed_known = 1;
	assert_int_equal(store_enqueue(fx->q, "", &j, 1, &stored, fx->err, sizeof(fx->err)),
	    STORE_STORED);
	assert_int_equal(stored, 1);
}

#endif
