/*
 * okta: the Okta management API client groupsync needs: read a user,
 * check membership of the configured groups, write one profile attribute
 * (partial update), list a group's members (reconcile).
 *
 * Owns authentication (SSWS API token, or OAuth 2.0 client credentials
 * with a private_key_jwt assertion signed RS256/ES256, DPoP-bound tokens
 * when Okta requires them), the access-token cache, the rate-limit state
 * shared by every worker (X-Rate-Limit-* headers and 429), and the call
 * counters. Does not own HTTP connections: each call takes the caller's
 * http_client (one per worker thread).
 *
 * Threads: one struct okta is shared by all workers; every function is
 * thread-safe (token cache and rate-limit state are guarded).
 */
#ifndef GROUPSYNC_OKTA_H
#define GROUPSYNC_OKTA_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/okta/rate.h"

struct okta;

/* Builds the client from the configuration (keys parsed here). NULL +
 * err on failure. Free with okta_free. */
struct okta *okta_new(const struct config *cfg, char *err, size_t errlen);
void okta_free(struct okta *o);

/* The outcome of one API operation, for the worker's retry decision. */
struct okta_result {
	enum http_class cls;  /* OK, RETRY or PERMANENT */
	long status;          /* last HTTP status, 0 when none */
	int64_t retry_at_ms;  /* earliest sensible retry (unix ms), 0: backoff */
	int deferred;         /* 1: not sent, for the rate budget (a 429 or
	                       * low Remaining, or our slot is too far off):
	                       * nothing was tried, so it is not an attempt */
	char error[256];      /* errorCode/errorSummary or transport error */
};

/*
 * GET /api/v1/users/{id}. On success returns 0 and *user is the parsed
 * user object (caller frees with json_object_put), or NULL when Okta
 * answers 404 (deleted). Returns -1 with *res filled otherwise.
 */
int okta_get_user(struct okta *o, struct http_client *hc, const char *user_id,
    json_object **user, struct okta_result *res);

/*
 * Sets *member to 1 when the user belongs to any configured group
 * (GET /api/v1/users/{id}/groups, every page). 0 / -1 as above.
 */
int okta_user_in_groups(struct okta *o, struct http_client *hc, const char *user_id,
    int *member, struct okta_result *res);

/* Which configured groups the user is in, with their names (group push). */
struct okta_membership {
	int member;                    /* in any configured group */
	unsigned char in[CONFIG_GROUPS_MAX]; /* per configured group, in config order */
	char name[CONFIG_GROUPS_MAX][256];   /* profile.name of those in, "" others */
};

/* As okta_user_in_groups, every page read, into m. 0 / -1 as above. */
int okta_user_groups(struct okta *o, struct http_client *hc, const char *user_id,
    struct okta_membership *m, struct okta_result *res);

/*
 * Partial profile update: POST /api/v1/users/{id} with
 * {"profile":{"<attr>": value}}; value NULL sends JSON null (clears it).
 * Never a PUT, which would drop the attributes not sent.
 */
int okta_set_profile_attr(struct okta *o, struct http_client *hc, const char *user_id,
    const char *attr, const char *value, struct okta_result *res);

/*
 * Lists the members of a group, calling fn for each user object (borrowed
 * for the duration of the call), following Link rel="next" until the last
 * page. fn returning -1 stops the walk (returns -1).
 */
int okta_list_group_users(struct okta *o, struct http_client *hc, const char *group_id,
    int (*fn)(json_object *user, void *arg), void *arg, struct okta_result *res);

/*
 * Any other call, for callers beyond the worker's (okta setup): method on
 * org + path (path starts with '/'; body JSON or NULL), through the same
 * credentials, retry on a curable 401 and rate gate. Returns 0 when Okta
 * answered, any status: resp to free (http_response_free), res filled
 * when it is not a 2xx; -1 with res filled when it did not answer (resp
 * holds nothing).
 */
int okta_request(struct okta *o, struct http_client *hc, const char *method, const char *path,
    const char *body, struct http_response *resp, struct okta_result *res);

/* The credentials' scopes against what groupsync needs: see
 * okta_auth_scopes (2 SSWS, 0 all granted, 1 some missing, -1 failed). */
int okta_check_scopes(struct okta *o, struct http_client *hc, char *out, size_t outlen);

/* Counters since okta_new, for logs, metrics and benchmarks. */
struct okta_stats {
	uint64_t reads;          /* GET calls answered */
	uint64_t writes;         /* POST/PUT calls answered (token calls excluded) */
	uint64_t token_requests; /* calls to the token endpoint */
	uint64_t rate_limited;   /* 429 answers */
	uint64_t deferred;       /* calls not made: their slot was beyond the horizon */
	int64_t rate_remaining;  /* last X-Rate-Limit-Remaining, -1 unknown */
	struct okta_bucket_stats buckets[OKTA_BUCKETS]; /* per rate-limit bucket */
};
void okta_get_stats(struct okta *o, struct okta_stats *out);

#endif
