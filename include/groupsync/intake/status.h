/*
 * status: the operator's page, GET /status (intake/status.c), without
 * I/O: who may see it, and its HTML from values the endpoint read. The
 * endpoint (intake/endpoints.c) reads the store and Okta's counters and
 * answers.
 *
 * Authentication: GROUPSYNC_STATUS_TOKEN, as "Authorization: Bearer
 * TOKEN" or the cookie the sign-in form sets (gs_status: a SHA-256 of the
 * token, never the token itself; HttpOnly, Secure, SameSite=Strict). The
 * page shows IDs, states and error texts, never profile data.
 *
 * Threads: reentrant.
 */
#ifndef GROUPSYNC_INTAKE_STATUS_H
#define GROUPSYNC_INTAKE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "groupsync/base/buf.h"
#include "groupsync/store/store.h"

#define STATUS_COOKIE "gs_status"
#define STATUS_COOKIE_LEN 64 /* hex SHA-256 */

/* What the page shows. jobs arrays are borrowed. */
struct status_view {
	int64_t uptime_s;
	int have_queue;
	int64_t jobs[4], held, oldest_pending_ms;
	int64_t okta_remaining; /* -1: unknown */
	int64_t reconcile_last_ms; /* 0: none since start */
	int reconcile_interval_s;  /* 0: periodic reconcile off */
	const struct store_job_info *dead, *recent; /* newest first */
	size_t ndead, nrecent;
	int64_t now_ms;
};

/* The cookie value for token (out: STATUS_COOKIE_LEN + 1). 0 or -1. */
int status_cookie_value(const char *token, char *out);

/*
 * 1 when the Authorization header is "Bearer TOKEN" or the Cookie header
 * carries gs_status with token's cookie value; either may be NULL. Time
 * depends on the lengths only. token NULL or "": 0.
 */
int status_authorized(const char *token, const char *authorization, const char *cookie);

/* The token from a sign-in form body ("token=..." url-encoded) into out;
 * 0, or -1 when there is none or it does not fit. */
int status_form_token(const char *body, char *out, size_t outlen);

/* The page, or the sign-in form (failed: say the token was wrong). */
void status_render(struct buf *b, const struct status_view *v);
void status_render_signin(struct buf *b, int failed);

#endif
