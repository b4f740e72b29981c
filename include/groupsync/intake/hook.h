/*
 * hook: the Okta event-hook protocol, without any I/O.
 *
 * Owns authentication of a request (constant-time comparison with the
 * configured secrets), the verification answer, and the parsing of a
 * delivery body into jobs: which events groupsync handles, which target
 * user each one is for, and which are ignored and why. The server module
 * does the HTTP; the queue module stores what this module produces.
 *
 * Threads: all functions are reentrant; no shared state.
 */
#ifndef GROUPSYNC_HOOK_H
#define GROUPSYNC_HOOK_H

#include <stddef.h>

#include "groupsync/store/store.h"

#define HOOK_MAX_EVENTS 1000 /* more than any real batch; bounds work per delivery */

/* Which events count: the configured group IDs (borrowed, not copied). */
struct hook_filter {
	const char *const *group_ids;
	size_t ngroup_ids;
	/* 1 when a profile update that changed these attributes (comma
	 * separated) can change the remote record; NULL keeps every update */
	int (*relevant)(const char *changed, void *arg);
	void *relevant_arg;
};

/* Why an event produced no job. */
enum hook_ignore_reason {
	HOOK_IGNORED_TYPE = 0,  /* event type groupsync does not handle */
	HOOK_IGNORED_NO_TARGET, /* no usable User target (e.g. preview) */
	HOOK_IGNORED_GROUP,     /* group event for a group not configured */
	HOOK_IGNORED_INVALID,   /* non-object event, missing eventType, bad or
				   oversized uuid/id/published, conflicting targets */
	HOOK_IGNORED_UNCHANGED, /* a profile update whose changedAttributes name
				   nothing the templates read (e.g. groupsync's
				   own write-back coming back) */
	HOOK_IGNORED_NREASONS
};

/*
 * An event that produced no job, as the log shows it: its type and user
 * when they are tokens ("" otherwise: outside input is never echoed raw),
 * the reason, and for HOOK_IGNORED_INVALID what was wrong (a static
 * string).
 */
struct hook_skipped {
	enum hook_ignore_reason reason;
	const char *what;
	char event_type[STORE_TYPE_MAX + 1];
	char user_id[STORE_ID_MAX + 1];
};

/* One parsed delivery. Free with hook_delivery_free(). */
struct hook_delivery {
	char event_id[STORE_ID_MAX + 1]; /* "" when absent */
	struct store_job_in *jobs;       /* owned */
	size_t njobs;
	struct hook_skipped *skipped;    /* owned, in event order */
	size_t nskipped;
	size_t nevents; /* events in data.events[] */
	size_t ignored[HOOK_IGNORED_NREASONS];
};

/* The reason as the log and `replay` say it: "other group", "no target",
 * "unhandled type", "invalid", "no synced attribute changed". */
const char *hook_reason_name(enum hook_ignore_reason r);

/*
 * One line's worth of what became of a delivery's events: into jobs,
 * "TYPE USER" per job, comma separated; into skipped, "TYPE USER: REASON"
 * (REASON "invalid: WHAT" for an invalid event). Each is cut at its
 * buffer's size with "... (N more)" so that a 1000-event delivery still
 * logs one bounded line. Both are always NUL-terminated.
 */
void hook_delivery_describe(const struct hook_delivery *d, char *jobs,
    size_t jobslen, char *skipped, size_t skippedlen);

/* Returns 1 when event_type is one groupsync handles. */
int hook_handles_type(const char *event_type);

/* Returns 1 when event_type is a group membership event. */
int hook_is_group_type(const char *event_type);

/*
 * Parses a delivery. Returns 0 and fills *out, or -1 with a short reason
 * in err (never containing input longer than a few characters) when the
 * body is not JSON or not a delivery's shape (the answer is then 400).
 * On -1 *out is zeroed, so hook_delivery_free is always safe. A uuid seen
 * twice in one delivery gives two jobs: store_enqueue keeps one.
 */
int hook_parse_delivery(const char *body, size_t len, const struct hook_filter *f,
    struct hook_delivery *out, char *err, size_t errlen);
void hook_delivery_free(struct hook_delivery *d);

/*
 * Compares a presented header value with the secret and, when not NULL,
 * the next secret, in time that depends only on the lengths of the
 * secrets, never on where the values differ. NULL presented → 0; an empty
 * or NULL secret never matches. Returns 1 on a match.
 */
int hook_authenticate(const char *presented, const char *secret, const char *next);

/*
 * Writes {"verification":"<challenge>"} into buf. The challenge is
 * JSON-escaped. Returns the length, or -1 when it does not fit, the
 * challenge is longer than HOOK_CHALLENGE_MAX or is not printable ASCII.
 */
#define HOOK_CHALLENGE_MAX 1024
#define HOOK_ANSWER_MAX (6 * HOOK_CHALLENGE_MAX + 20)
int hook_verification_answer(const char *challenge, char *buf, size_t buflen);

#endif
