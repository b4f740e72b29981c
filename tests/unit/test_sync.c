/* Unit tests of the sync decision (pure): the table from the issue, the
 * no-Okta-call prechecks, and the backoff schedule. */
#include "unit.h"

#include "groupsync/sync/decide.h"
#include "groupsync/base/util.h"

static struct sync_state
st(int exists, int active, int deprov, int member, int has_remote, int changed)
{
	struct sync_state s = {exists, active, deprov, member, has_remote, changed};
	return s;
}

static void
decide_member_active(void **state)
{
	(void)state;
	/* member and active, no remote ID → create */
	assert_int_equal(sync_decide(&(struct sync_state){1, 1, 0, 1, 0, 0}), SYNC_CREATE);
	assert_int_equal(sync_decide(&(struct sync_state){1, 1, 0, 1, 0, 1}), SYNC_CREATE);
	/* remote ID known: update only when the synced attributes changed */
	{
		struct sync_state a = st(1, 1, 0, 1, 1, 1), b = st(1, 1, 0, 1, 1, 0);
		assert_int_equal(sync_decide(&a), SYNC_UPDATE);
		assert_int_equal(sync_decide(&b), SYNC_NOTHING); /* the write-back echo */
	}
}

static void
decide_leavers(void **state)
{
	struct sync_state removed = st(1, 1, 0, 0, 1, 0);
	struct sync_state deactivated = st(1, 0, 1, 1, 1, 0);
	struct sync_state deleted = st(0, 0, 0, 0, 1, 0);
	struct sync_state removed_unknown = st(1, 1, 0, 0, 0, 0);
	struct sync_state deleted_unknown = st(0, 0, 0, 0, 0, 0);

	(void)state;
	assert_int_equal(sync_decide(&removed), SYNC_DELETE);
	assert_int_equal(sync_decide(&deactivated), SYNC_DELETE);
	assert_int_equal(sync_decide(&deleted), SYNC_DELETE);
	assert_int_equal(sync_decide(&removed_unknown), SYNC_NOTHING);
	assert_int_equal(sync_decide(&deleted_unknown), SYNC_NOTHING);
}

static void
decide_everything_else(void **state)
{
	struct sync_state suspended_member = st(1, 0, 0, 1, 1, 1);
	struct sync_state staged_member = st(1, 0, 0, 1, 0, 0);
	struct sync_state outsider = st(1, 1, 0, 0, 0, 1);

	(void)state;
	assert_int_equal(sync_decide(&suspended_member), SYNC_NOTHING);
	assert_int_equal(sync_decide(&staged_member), SYNC_NOTHING);
	assert_int_equal(sync_decide(&outsider), SYNC_NOTHING);
}

static void
status_active(void **state)
{
	(void)state;
	assert_true(sync_status_active("ACTIVE"));
	assert_true(sync_status_active("PROVISIONED"));
	assert_true(sync_status_active("LOCKED_OUT"));
	assert_true(sync_status_active("PASSWORD_EXPIRED"));
	assert_true(sync_status_active("RECOVERY"));
	assert_false(sync_status_active("SUSPENDED"));
	assert_false(sync_status_active("DEPROVISIONED"));
	assert_false(sync_status_active("STAGED"));
	assert_false(sync_status_active(NULL));
	assert_false(sync_status_active("active"));
	assert_string_equal(sync_action_name(SYNC_CREATE), "create");
	assert_string_equal(sync_action_name(SYNC_NOTHING), "nothing");
}

/* Attributes the templates read, for the prechecks. */
static int
uses_address(const char *changed, void *arg)
{
	(void)arg;
	return strstr(changed, "city") != NULL || strstr(changed, "email") != NULL;
}

static struct store_job
job(const char *type, const char *changed, int known)
{
	struct store_job j;

	memset(&j, 0, sizeof(j));
	util_copy(j.event_type, sizeof(j.event_type), type);
	util_copy(j.changed, sizeof(j.changed), changed);
	j.changed_known = known;
	return j;
}

static void
precheck_unknown_user(void **state)
{
	struct store_job p = job("user.account.update_profile", "city", 1);
	struct store_job l = job("user.lifecycle.deactivate", "", 0);
	struct store_job a = job("group.user_membership.add", "", 0);
	struct store_job both[2];

	(void)state;
	/* never synced, profile or lifecycle only: no Okta call */
	assert_int_equal(sync_precheck(&p, 1, SYNC_NEVER, uses_address, NULL),
	    SYNC_SKIP_NEVER_SYNCED);
	assert_int_equal(sync_precheck(&l, 1, SYNC_NEVER, uses_address, NULL),
	    SYNC_SKIP_NEVER_SYNCED);
	/* a join always reads */
	assert_int_equal(sync_precheck(&a, 1, SYNC_NEVER, uses_address, NULL), SYNC_READ);
	both[0] = p;
	both[1] = a;
	assert_int_equal(sync_precheck(both, 2, SYNC_NEVER, uses_address, NULL), SYNC_READ);
	/* removed earlier: a reactivation reads, a profile edit does not */
	assert_int_equal(sync_precheck(&l, 1, SYNC_GONE, uses_address, NULL), SYNC_READ);
	assert_int_equal(sync_precheck(&p, 1, SYNC_GONE, uses_address, NULL),
	    SYNC_SKIP_NEVER_SYNCED);
}

static void
precheck_changed_attributes(void **state)
{
	struct store_job echo = job("user.account.update_profile", "customId", 1);
	struct store_job city = job("user.account.update_profile", "customId,city", 1);
	struct store_job unknown = job("user.account.update_profile", "", 0);
	struct store_job two[2];
	struct store_job r = job(SYNC_RECONCILE_EVENT, "", 0);

	(void)state;
	/* groupsync's own customId write-back: no Okta call */
	assert_int_equal(sync_precheck(&echo, 1, SYNC_HAS_REMOTE, uses_address, NULL),
	    SYNC_SKIP_NOT_SYNCED_ATTRS);
	assert_int_equal(sync_precheck(&city, 1, SYNC_HAS_REMOTE, uses_address, NULL),
	    SYNC_READ);
	/* changedAttributes missing: unknown, read the user */
	assert_int_equal(sync_precheck(&unknown, 1, SYNC_HAS_REMOTE, uses_address, NULL),
	    SYNC_READ);
	two[0] = echo;
	two[1] = city;
	assert_int_equal(sync_precheck(two, 2, SYNC_HAS_REMOTE, uses_address, NULL), SYNC_READ);
	assert_int_equal(sync_precheck(&r, 1, SYNC_NEVER, uses_address, NULL), SYNC_READ);
}

static void
backoff_schedule(void **state)
{
	(void)state;
	/* low end of the jitter range: half the delay */
	assert_int_equal(sync_backoff_ms(1, 1000, 300000, 0.0), 500);
	assert_int_equal(sync_backoff_ms(2, 1000, 300000, 0.0), 1000);
	assert_int_equal(sync_backoff_ms(4, 1000, 300000, 0.0), 4000);
	/* high end: the full delay */
	assert_int_equal(sync_backoff_ms(1, 1000, 300000, 0.999999), 999);
	assert_int_equal(sync_backoff_ms(3, 1000, 300000, 0.999999), 3999);
	/* capped, even for absurd attempt counts */
	assert_int_equal(sync_backoff_ms(50, 1000, 300000, 0.0), 150000);
	assert_true(sync_backoff_ms(1000, 1000, 300000, 0.999999) <= 300000);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(decide_member_active),
	cmocka_unit_test(decide_leavers),
	cmocka_unit_test(decide_everything_else),
	cmocka_unit_test(status_active),
	cmocka_unit_test(precheck_unknown_user),
	cmocka_unit_test(precheck_changed_attributes),
	cmocka_unit_test(backoff_schedule),
};

GS_UNIT_MAIN(tests)
