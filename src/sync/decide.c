#include "groupsync/sync/decide.h"

#include <string.h>

static int
sync_is_membership(const char *type)
{
	return strncmp(type, "group.user_membership.", 22) == 0;
}

static int
sync_is_profile(const char *type)
{
	return strcmp(type, "user.account.update_profile") == 0;
}

/*
 * The hook receives profile and lifecycle events for the whole org, most
 * for users outside the group, and Okta's rate limits are shared with
 * every other client of the org: an event that cannot change anything
 * costs no Okta call. Every pending job of the user is in this lease
 * (coalesced), so "nothing pending" holds by construction.
 */
enum sync_precheck
sync_precheck(const struct store_job *jobs, size_t njobs, enum sync_known known,
    int (*relevant)(const char *changed, void *arg), void *arg)
{
	int only_profile = 1, profile_relevant = 0;
	size_t i;

	for (i = 0; i < njobs; i++) {
		const struct store_job *j = &jobs[i];

		/* A join, a leave, a reconcile or an operator's sync can
		 * always change something. */
		if (sync_is_membership(j->event_type) ||
		    strcmp(j->event_type, SYNC_RECONCILE_EVENT) == 0 ||
		    strcmp(j->event_type, SYNC_ONDEMAND_EVENT) == 0)
			return SYNC_READ;
		if (!sync_is_profile(j->event_type))
			only_profile = 0;
		else if (!j->changed_known || relevant(j->changed, arg))
			profile_relevant = 1;
	}
	if (known == SYNC_NEVER)
		return SYNC_SKIP_NEVER_SYNCED;
	/* A lifecycle event (reactivation) may bring back a removed user. */
	if (!only_profile)
		return SYNC_READ;
	if (known == SYNC_GONE)
		return SYNC_SKIP_NEVER_SYNCED;
	return profile_relevant ? SYNC_READ : SYNC_SKIP_NOT_SYNCED_ATTRS;
}

/*
 * The decision table:
 *   member and active, no remote                 → create
 *   member and active, remote, changed or disabled → update (re-enables)
 *   remote known, and leaving (gone from Okta, not a member, deactivated):
 *     mode delete → delete, disable → disable (once), none → forget
 *   remote known, suspended member, mode disable → disable (once)
 *   everything else (suspended in the other modes, staged, unchanged,
 *   unknown) → nothing
 */
enum sync_action
sync_decide(const struct sync_state *s)
{
	int leaving = !s->exists || !s->member || s->deprovisioned;

	if (s->exists && s->member && s->active)
		return !s->has_remote ? SYNC_CREATE :
		    s->changed || s->disabled ? SYNC_UPDATE : SYNC_NOTHING;
	if (!s->has_remote)
		return SYNC_NOTHING;
	switch (s->mode) {
	case SYNC_DEPROVISION_DISABLE:
		return (leaving || s->suspended) && !s->disabled ? SYNC_DISABLE : SYNC_NOTHING;
	case SYNC_DEPROVISION_NONE:
		return leaving ? SYNC_FORGET : SYNC_NOTHING;
	default:
		return leaving ? SYNC_DELETE : SYNC_NOTHING;
	}
}

enum sync_deprovision
sync_deprovision_mode(const char *value)
{
	if (value != NULL && strcmp(value, "disable") == 0)
		return SYNC_DEPROVISION_DISABLE;
	if (value != NULL && strcmp(value, "none") == 0)
		return SYNC_DEPROVISION_NONE;
	return SYNC_DEPROVISION_DELETE;
}

int
sync_status_active(const char *status)
{
	static const char *const active[] = {"ACTIVE", "PROVISIONED", "RECOVERY",
	    "PASSWORD_EXPIRED", "LOCKED_OUT"};
	size_t i;

	for (i = 0; status != NULL && i < sizeof(active) / sizeof(active[0]); i++) {
		if (strcmp(status, active[i]) == 0)
			return 1;
	}
	return 0;
}

const char *
sync_action_name(enum sync_action a)
{
	switch (a) {
	case SYNC_CREATE:
		return "create";
	case SYNC_UPDATE:
		return "update";
	case SYNC_DELETE:
		return "delete";
	case SYNC_DISABLE:
		return "disable";
	case SYNC_FORGET:
		return "forget";
	default:
		return "nothing";
	}
}

long long
sync_backoff_ms(int attempts, long long base_ms, long long cap_ms, double rnd)
{
	long long delay = base_ms;
	int i;

	for (i = 1; i < attempts && delay < cap_ms; i++)
		delay *= 2;
	if (delay > cap_ms)
		delay = cap_ms;
	return delay / 2 + (long long)((double)(delay - delay / 2) * rnd);
}
