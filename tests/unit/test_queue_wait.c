/*
 * Unit tests of a user whose job backs off (the SQLite backend's lease
 * pick) and of how idle workers learn when the next such job falls due
 * (store_next_due, store_wait_due). A real store in a temporary directory.
 */
#include "queue_fixture.h"

#include "groupsync/store/store.h"
#include "groupsync/base/util.h"

#define T0 INT64_C(1700000000000)
#define BACKOFF_MS 5000

/* user's first job failed at T0 and backs off until T0 + BACKOFF_MS. */
static void
fail_first(struct fixture *fx, const char *user)
{
	struct store_lease l;

	add_job(fx, "e1", user, 1);
	assert_int_equal(store_lease(fx->q, T0, &l, fx->err, sizeof(fx->err)), 1);
	assert_int_equal(store_retry(fx->q, &l, T0 + BACKOFF_MS, "remote 503"), 0);
	store_lease_free(&l);
}

/* A newer event of a user in backoff waits for the backoff (it ran at
 * once before: every profile edit hit a remote that was down). */
static void
backoff_holds_new_jobs(void **state)
{
	struct fixture *fx = *state;
	struct store_lease l;

	fail_first(fx, "00uA");
	add_job(fx, "e2", "00uA", 2);
	add_job(fx, "e3", "00uB", 3); /* another user is not held */
	assert_int_equal(store_lease(fx->q, T0 + 1000, &l, fx->err, sizeof(fx->err)), 1);
	assert_string_equal(l.user_id, "00uB");
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	assert_int_equal(store_lease(fx->q, T0 + 1000, &l, fx->err, sizeof(fx->err)), 0);
	/* due: both jobs of the user together, one sync */
	assert_int_equal(store_lease(fx->q, T0 + BACKOFF_MS, &l, fx->err, sizeof(fx->err)), 1);
	assert_string_equal(l.user_id, "00uA");
	assert_int_equal(l.njobs, 2);
	store_lease_free(&l);
}

static void
next_due(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(store_next_due(fx->q, T0), -1); /* empty */
	fail_first(fx, "00uA");
	add_job(fx, "e2", "00uB", 2); /* ready now: not "due later" */
	assert_int_equal(store_next_due(fx->q, T0 + 1000), T0 + BACKOFF_MS);
	assert_int_equal(store_next_due(fx->q, T0 + BACKOFF_MS), -1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(backoff_holds_new_jobs, setup, teardown),
	cmocka_unit_test_setup_teardown(next_due, setup, teardown),
};

GS_UNIT_MAIN(tests)
