/*
 * Unit tests of the store's operator queries (store_admin_*). Each case has a
 * fresh temporary directory with two handles on one store, as in
 * production: the service's (STORE_OPEN_SERVER), which enqueues and
 * leases, and an operator's (STORE_OPEN_ADMIN), which lists and changes.
 */
#include "queue_fixture.h"

#include "groupsync/store/store.h"
#include "groupsync/base/util.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000)
/* A far future "now": every job is ready. */
#define LATER INT64_C(4102444800000)

/* The shared fixture, plus the operator's handle on the same store. */
static int
setup_admin(void **state)
{
	struct fixture *fx;

	if (setup(state) != 0)
		return -1;
	fx = *state;
	fx->adm = fx_open(fx, STORE_OPEN_ADMIN);
	if (fx->adm == NULL) {
		fprintf(stderr, "store_open: %s\n", fx->err);
		teardown(state);
		return -1;
	}
	return 0;
}

/* Leases the oldest ready user's jobs, which must be user's. */
static void
lease_user(struct fixture *fx, const char *user, struct store_lease *l)
{
	assert_int_equal(store_lease(fx->q, LATER, l, fx->err,
	    sizeof(fx->err)), 1);
	assert_string_equal(l->user_id, user);
}

/* Leases user's jobs and dead-letters them with error. */
static void
kill_user(struct fixture *fx, const char *user, const char *error)
{
	struct store_lease l;

	lease_user(fx, user, &l);
	assert_int_equal(store_dead(fx->q, &l, error), 0);
	store_lease_free(&l);
}

static void
must_get(struct fixture *fx, int64_t id, struct store_job_info *info)
{
	assert_int_equal(store_admin_get(fx->adm, id, info, fx->err,
	    sizeof(fx->err)), 1);
	assert_int_equal(info->job.id, id);
}

/* Lists with the query and checks the IDs returned, in order. */
static void
list_ids(struct fixture *fx, unsigned states, const char *user,
    size_t limit, const int64_t *want, size_t nwant, int want_more)
{
	struct store_list_query qry = {states, user, limit, 0};
	struct store_job_info *jobs = NULL;
	size_t n = 99, i;
	int more = -1;

	assert_int_equal(store_admin_list(fx->adm, &qry, &jobs, &n, &more,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, nwant);
	assert_int_equal(more, want_more);
	for (i = 0; i < n; i++)
		assert_int_equal(jobs[i].job.id, want[i]);
	free(jobs);
}

/* One job in each state: 1 done, 2 dead, 3 leased, 4 pending. */
static void
one_of_each(struct fixture *fx)
{
	struct store_lease l;

	add_job(fx, "uuid-1", "user-a", 1);
	add_job(fx, "uuid-2", "user-b", 2);
	add_job(fx, "uuid-3", "user-c", 3);
	add_job(fx, "uuid-4", "user-d", 4);
	lease_user(fx, "user-a", &l);
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	kill_user(fx, "user-b", "remote: 400 Bad Request");
	lease_user(fx, "user-c", &l);
	store_lease_free(&l);
}

static void
list_by_state(void **state)
{
	struct fixture *fx = *state;
	static const int64_t open[] = {2, 3, 4}, all[] = {1, 2, 3, 4};
	static const int64_t done[] = {1}, dead[] = {2}, leased[] = {3};
	static const int64_t pending[] = {4};
	unsigned s;

	list_ids(fx, STORE_STATES_OPEN, NULL, 100, NULL, 0, 0);
	one_of_each(fx);
	list_ids(fx, STORE_STATES_OPEN, NULL, 100, open, 3, 0);
	list_ids(fx, STORE_STATES_ALL, NULL, 100, all, 4, 0);
	list_ids(fx, STORE_STATE_BIT(STORE_DONE), NULL, 100, done, 1, 0);
	list_ids(fx, STORE_STATE_BIT(STORE_DEAD), NULL, 100, dead, 1, 0);
	list_ids(fx, STORE_STATE_BIT(STORE_LEASED), NULL, 100, leased, 1, 0);
	list_ids(fx, STORE_STATE_BIT(STORE_PENDING), NULL, 100, pending, 1, 0);

	/* the names the command line takes */
	assert_int_equal(store_states_parse("dead", &s), 0);
	assert_int_equal(s, STORE_STATE_BIT(STORE_DEAD));
	assert_int_equal(store_states_parse("all", &s), 0);
	assert_int_equal(s, STORE_STATES_ALL);
	assert_int_equal(store_states_parse("Dead", &s), -1);
	assert_int_equal(store_states_parse("", &s), -1);
	assert_string_equal(store_state_name(STORE_LEASED), "leased");
	assert_string_equal(store_state_name((enum store_state)7), "unknown");
}

/* Issue 13 §5, the status page's last syncs: with attempted, pending
 * jobs are listed only once a sync of them failed (backing off), never
 * when untried; the other states as asked. */
static void
list_attempted(void **state)
{
	struct fixture *fx = *state;
	struct store_list_query qry = {STORE_STATES_ALL, NULL, 100, 1};
	struct store_job_info *jobs = NULL;
	struct store_lease l;
	size_t n = 99;
	int more = -1;

	one_of_each(fx);
	lease_user(fx, "user-d", &l);
	assert_int_equal(store_retry(fx->q, &l, LATER, "remote: 503"), 0);
	store_lease_free(&l);
	add_job(fx, "uuid-5", "user-e", 5);
	assert_int_equal(store_admin_list(fx->adm, &qry, &jobs, &n, &more, fx->err,
	    sizeof(fx->err)), 0);
	/* 1 done, 2 dead, 3 leased, 4 backing off; not 5, never tried */
	assert_int_equal(n, 4);
	assert_int_equal(jobs[0].job.id, 1);
	assert_int_equal(jobs[1].job.id, 2);
	assert_int_equal(jobs[2].job.id, 3);
	assert_int_equal(jobs[3].job.id, 4);
	assert_int_equal(jobs[3].job.state, STORE_PENDING);
	free(jobs);
	/* per user, too */
	qry.user_id = "user-e";
	assert_int_equal(store_admin_list(fx->adm, &qry, &jobs, &n, &more, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(n, 0);
	free(jobs);
}

static void
list_by_user(void **state)
{
	struct fixture *fx = *state;
	static const int64_t a[] = {1, 3}, b[] = {2};

	add_job(fx, "uuid-1", "user-a", 1);
	add_job(fx, "uuid-2", "user-b", 2);
	add_job(fx, "uuid-3", "user-a", 3);
	list_ids(fx, STORE_STATES_OPEN, "user-a", 100, a, 2, 0);
	list_ids(fx, STORE_STATES_OPEN, "user-b", 100, b, 1, 0);
	list_ids(fx, STORE_STATES_OPEN, "user-x", 100, NULL, 0, 0);
	/* user and state together */
	kill_user(fx, "user-a", "boom");
	list_ids(fx, STORE_STATE_BIT(STORE_DEAD), "user-a", 100, a, 2, 0);
	list_ids(fx, STORE_STATE_BIT(STORE_DEAD), "user-b", 100, NULL, 0, 0);
}

static void
list_limit(void **state)
{
	struct fixture *fx = *state;
	static const int64_t newest2[] = {4, 5}, all[] = {1, 2, 3, 4, 5};
	static const int64_t a_newest[] = {5};
	char uuid[32];
	int i;

	for (i = 1; i <= 5; i++) {
		snprintf(uuid, sizeof(uuid), "uuid-%d", i);
		add_job(fx, uuid, i % 2 ? "user-a" : "user-b", i);
	}
	/* the newest N, oldest first; "more" says older ones were left */
	list_ids(fx, STORE_STATES_OPEN, NULL, 2, newest2, 2, 1);
	list_ids(fx, STORE_STATES_OPEN, NULL, 5, all, 5, 0);
	list_ids(fx, STORE_STATES_OPEN, NULL, 6, all, 5, 0);
	list_ids(fx, STORE_STATES_OPEN, "user-a", 1, a_newest, 1, 1);
}

static void
show(void **state)
{
	struct fixture *fx = *state;
	struct store_job_info info;
	struct store_lease l;
	int64_t before = util_now_ms();

	add_job(fx, "uuid-1", "user-a", 7);
	must_get(fx, 1, &info);
	assert_string_equal(info.job.uuid, "uuid-1");
	assert_string_equal(info.job.user_id, "user-a");
	assert_string_equal(info.job.event_type, "group.user_membership.add");
	assert_string_equal(info.job.published, "2024-01-01T00:00:07.000Z");
	assert_string_equal(info.job.group_id, "00g8sync7AbCdEfGh4x7");
	assert_string_equal(info.job.changed, "city,zipCode");
	assert_int_equal(info.job.changed_known, 1);
	assert_int_equal(info.job.state, STORE_PENDING);
	assert_int_equal(info.job.attempts, 0);
	assert_int_equal(info.job.not_before_ms, 0);
	assert_true(info.job.created_ms >= before);
	assert_true(info.updated_ms >= info.job.created_ms);
	assert_string_equal(info.job.last_error, "");

	/* the stored state, not "leased" as a lease returns it */
	lease_user(fx, "user-a", &l);
	assert_int_equal(store_retry(fx->q, &l, T0, "remote: timeout"), 0);
	store_lease_free(&l);
	must_get(fx, 1, &info);
	assert_int_equal(info.job.state, STORE_PENDING);
	assert_int_equal(info.job.attempts, 1);
	assert_int_equal(info.job.not_before_ms, T0);
	assert_string_equal(info.job.last_error, "remote: timeout");

	assert_int_equal(store_admin_get(fx->adm, 99, &info, fx->err,
	    sizeof(fx->err)), 0);
}

/*
 * Issue 13 §7: a job that succeeds after a failed attempt counts both
 * attempts, and one retried by an operator counts the attempt that
 * succeeded (before: 1 and 0); the failed attempt's error stays.
 */
static void
attempts_after_success(void **state)
{
	struct fixture *fx = *state;
	struct store_job_info info;
	struct store_lease l;
	enum store_state st = STORE_DONE;

	add_job(fx, "uuid-1", "user-a", 1);
	lease_user(fx, "user-a", &l);
	assert_int_equal(store_retry(fx->q, &l, T0, "remote: timeout"), 0);
	store_lease_free(&l);
	lease_user(fx, "user-a", &l);
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	must_get(fx, 1, &info);
	assert_int_equal(info.job.state, STORE_DONE);
	assert_int_equal(info.job.attempts, 2);
	assert_string_equal(info.job.last_error, "remote: timeout");

	add_job(fx, "uuid-2", "user-b", 2);
	kill_user(fx, "user-b", "remote: 400 Bad Request");
	assert_int_equal(store_admin_retry(fx->adm, 2, util_now_ms(), &st,
	    fx->err, sizeof(fx->err)), STORE_ADMIN_OK);
	lease_user(fx, "user-b", &l);
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	must_get(fx, 2, &info);
	assert_int_equal(info.job.attempts, 1);
}

static void
retry_dead(void **state)
{
	struct fixture *fx = *state;
	struct store_job_info info;
	struct store_lease l;
	enum store_state st = STORE_DONE;
	int64_t now = util_now_ms();

	add_job(fx, "uuid-1", "user-a", 1);
	kill_user(fx, "user-a", "remote: 400 Bad Request");
	must_get(fx, 1, &info);
	assert_int_equal(info.job.state, STORE_DEAD);
	assert_int_equal(info.job.attempts, 1);

	assert_int_equal(store_admin_retry(fx->adm, 1, now, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_OK);
	must_get(fx, 1, &info);
	assert_int_equal(info.job.state, STORE_PENDING);
	assert_int_equal(info.job.attempts, 0);
	assert_int_equal(info.job.not_before_ms, now);
	/* kept for the record: why it was dead */
	assert_string_equal(info.job.last_error, "remote: 400 Bad Request");
	/* and the service takes it at once */
	assert_int_equal(store_lease(fx->q, now, &l, fx->err,
	    sizeof(fx->err)), 1);
	assert_int_equal(l.jobs[0].id, 1);
	assert_int_equal(l.jobs[0].attempts, 0);
	store_lease_free(&l);
}

static void
retry_backoff(void **state)
{
	struct fixture *fx = *state;
	struct store_job_info info;
	struct store_lease l;
	enum store_state st;
	int64_t now = util_now_ms();

	add_job(fx, "uuid-1", "user-a", 1);
	lease_user(fx, "user-a", &l);
	assert_int_equal(store_retry(fx->q, &l, LATER, "remote: 503"), 0);
	store_lease_free(&l);
	assert_int_equal(store_lease(fx->q, now, &l, fx->err,
	    sizeof(fx->err)), 0);

	assert_int_equal(store_admin_retry(fx->adm, 1, now, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_OK);
	must_get(fx, 1, &info);
	assert_int_equal(info.job.attempts, 0);
	assert_int_equal(store_lease(fx->q, now, &l, fx->err,
	    sizeof(fx->err)), 1);
	store_lease_free(&l);
}

static void
retry_refused(void **state)
{
	struct fixture *fx = *state;
	enum store_state st = STORE_PENDING;
	int64_t now = util_now_ms();

	one_of_each(fx);
	assert_int_equal(store_admin_retry(fx->adm, 1, now, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_REFUSED);
	assert_int_equal(st, STORE_DONE);
	assert_int_equal(store_admin_retry(fx->adm, 3, now, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_REFUSED);
	assert_int_equal(st, STORE_LEASED);
	assert_int_equal(store_admin_retry(fx->adm, 99, now, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_NO_JOB);
}

static void
retry_all_dead(void **state)
{
	struct fixture *fx = *state;
	int64_t n = -1, c[4];

	add_job(fx, "uuid-1", "user-a", 1);
	add_job(fx, "uuid-2", "user-a", 2);
	add_job(fx, "uuid-3", "user-b", 3);
	add_job(fx, "uuid-4", "user-c", 4);
	kill_user(fx, "user-a", "gone");
	kill_user(fx, "user-b", "gone");
	assert_int_equal(store_counts(fx->adm, c), 0);
	assert_int_equal(c[STORE_DEAD], 3);

	assert_int_equal(store_admin_retry_dead(fx->adm, util_now_ms(), &n,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_counts(fx->adm, c), 0);
	assert_int_equal(c[STORE_PENDING], 4);
	assert_int_equal(c[STORE_DEAD], 0);
	assert_int_equal(store_admin_retry_dead(fx->adm, util_now_ms(), &n,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 0);
}

static void
drop(void **state)
{
	struct fixture *fx = *state;
	struct store_job_info info;
	enum store_state st;
	int64_t c[4];

	one_of_each(fx);
	assert_int_equal(store_admin_drop(fx->adm, 4, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_OK);
	assert_int_equal(store_admin_get(fx->adm, 4, &info, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(store_admin_drop(fx->adm, 4, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_NO_JOB);
	/* dead and done jobs go too */
	assert_int_equal(store_admin_drop(fx->adm, 2, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_OK);
	assert_int_equal(store_admin_drop(fx->adm, 1, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_OK);
	assert_int_equal(store_counts(fx->adm, c), 0);
	assert_int_equal(c[STORE_PENDING] + c[STORE_DONE] + c[STORE_DEAD], 0);
	assert_int_equal(c[STORE_LEASED], 1);
	/* the uuid went with the job: the same event is a new job */
	add_job(fx, "uuid-4", "user-d", 4);
}

static void
drop_leased_refused(void **state)
{
	struct fixture *fx = *state;
	struct store_job_info info;
	struct store_lease l;
	enum store_state st = STORE_PENDING;

	add_job(fx, "uuid-1", "user-a", 1);
	lease_user(fx, "user-a", &l);
	assert_int_equal(store_admin_drop(fx->adm, 1, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_REFUSED);
	assert_int_equal(st, STORE_LEASED);
	must_get(fx, 1, &info);
	assert_int_equal(info.job.state, STORE_LEASED);
	/* the worker's outcome still lands, and then the drop does */
	assert_int_equal(store_complete(fx->q, &l), 0);
	store_lease_free(&l);
	must_get(fx, 1, &info);
	assert_int_equal(info.job.state, STORE_DONE);
	assert_int_equal(store_admin_drop(fx->adm, 1, &st, fx->err,
	    sizeof(fx->err)), STORE_ADMIN_OK);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(list_by_state, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(attempts_after_success, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(list_attempted, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(list_by_user, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(list_limit, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(show, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(retry_dead, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(retry_backoff, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(retry_refused, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(retry_all_dead, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(drop, setup_admin, teardown),
	cmocka_unit_test_setup_teardown(drop_leased_refused, setup_admin, teardown),
};

GS_UNIT_MAIN(tests)
