/* Unit tests of the sync decision (pure): the table from the issue, the
 * no-Okta-call prechecks, and the backoff schedule. */
#include "unit.h"

#include "groupsync/sync/decide.h"
#include "groupsync/base/util.h"

static struct sync_state
st(int exists, int active, int deprov, int member, int has_remote, int changed)
{
	struct sync_state s;

	memset(&s, 0, sizeof(s));
	s.exists = exists;
	s.active = active;
	s.deprovisioned = deprov;
	s.member = member;
	s.has_remote = has_remote;
	s.changed = changed;
	return s;
}

static void
decide_member_active(void **state)
{
	(void)state;
	/* member and active, no remote ID → create */
	{
		struct sync_state a = st(1, 1, 0, 1, 0, 0), b = st(1, 1, 0, 1, 0, 1);
		assert_int_equal(sync_decide(&a), SYNC_CREATE);
		assert_int_equal(sync_decide(&b), SYNC_CREATE);
	}
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

/*
 * GROUPSYNC_DEPROVISION: one row a case, the same states decided in each
 * mode (delete, disable, none).
 */
static void
decide_deprovision_modes(void **state)
{
	static const struct {
		const char *what;
		int exists, active, deprov, member, has_remote, changed, suspended, disabled;
		enum sync_action delete_mode, disable_mode, none_mode;
	} rows[] = {
		{"removed from the group", 1, 1, 0, 0, 1, 0, 0, 0,
		    SYNC_DELETE, SYNC_DISABLE, SYNC_FORGET},
		{"deactivated", 1, 0, 1, 1, 1, 0, 0, 0, SYNC_DELETE, SYNC_DISABLE, SYNC_FORGET},
		{"deleted in Okta", 0, 0, 0, 0, 1, 0, 0, 0, SYNC_DELETE, SYNC_DISABLE, SYNC_FORGET},
		{"suspended member", 1, 0, 0, 1, 1, 0, 1, 0,
		    SYNC_NOTHING, SYNC_DISABLE, SYNC_NOTHING},
		{"suspended, already disabled", 1, 0, 0, 1, 1, 0, 1, 1,
		    SYNC_NOTHING, SYNC_NOTHING, SYNC_NOTHING},
		{"removed, already disabled", 1, 1, 0, 0, 1, 0, 0, 1,
		    SYNC_DELETE, SYNC_NOTHING, SYNC_FORGET},
		/* back in the group or unsuspended: re-enabled, same record */
		{"back, disabled record", 1, 1, 0, 1, 1, 0, 0, 1,
		    SYNC_UPDATE, SYNC_UPDATE, SYNC_UPDATE},
		{"back, forgotten record", 1, 1, 0, 1, 0, 0, 0, 0,
		    SYNC_CREATE, SYNC_CREATE, SYNC_CREATE},
		{"removed, never synced", 1, 1, 0, 0, 0, 0, 0, 0,
		    SYNC_NOTHING, SYNC_NOTHING, SYNC_NOTHING},
		{"suspended, never synced", 1, 0, 0, 1, 0, 0, 1, 0,
		    SYNC_NOTHING, SYNC_NOTHING, SYNC_NOTHING},
		{"member, unchanged", 1, 1, 0, 1, 1, 0, 0, 0,
		    SYNC_NOTHING, SYNC_NOTHING, SYNC_NOTHING},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sync_state s = st(rows[i].exists, rows[i].active, rows[i].deprov,
		    rows[i].member, rows[i].has_remote, rows[i].changed);
		enum sync_action want[3] = {rows[i].delete_mode, rows[i].disable_mode,
		    rows[i].none_mode};
		int m;

		s.suspended = rows[i].suspended;
		s.disabled = rows[i].disabled;
		for (m = 0; m < 3; m++) {
			s.mode = (enum sync_deprovision)m;
			if (sync_decide(&s) != want[m])
				fail_msg("%s, mode %d: %s, want %s", rows[i].what, m,
				    sync_action_name(sync_decide(&s)), sync_action_name(want[m]));
		}
	}
	assert_int_equal(sync_deprovision_mode("delete"), SYNC_DEPROVISION_DELETE);
	assert_int_equal(sync_deprovision_mode("disable"), SYNC_DEPROVISION_DISABLE);
	assert_int_equal(sync_deprovision_mode("none"), SYNC_DEPROVISION_NONE);
	assert_string_equal(sync_action_name(SYNC_DISABLE), "disable");
	assert_string_equal(sync_action_name(SYNC_FORGET), "forget");
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
	cmocka_unit_test(decide_deprovision_modes),
	cmocka_unit_test(status_active),
	cmocka_unit_test(precheck_unknown_user),
	cmocka_unit_test(precheck_changed_attributes),
	cmocka_unit_test(backoff_schedule),
};

GS_UNIT_MAIN(tests)
