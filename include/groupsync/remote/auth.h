/*
 * remote_auth.h: internals of the remote module, shared by remote.c
 * (templates, calls, answers) and remote_auth.c (the auth header: none,
 * basic, bearer, custom header, or an OAuth 2.0 client credentials token
 * and its cache). Not for other modules: they use
 * include/groupsync/remote.h, where struct remote stays opaque.
 *
 * Why this header exists: struct remote embeds a struct remote_auth, so
 * remote.c needs its layout (it is zeroed with the remote, and remote_call
 * asks whether a 401 is worth one retry with a new token); and the two
 * files share a few small helpers, declared at the end with the file that
 * defines them.
 *
 * Ownership: header lines handed out are malloc'd and may hold secrets:
 * free them with remote_secret_free.
 */
#ifndef GROUPSYNC_REMOTE_AUTH_H
#define GROUPSYNC_REMOTE_AUTH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/remote/client.h"

enum remote_auth_mode { REMOTE_AUTH_NONE, REMOTE_AUTH_STATIC, REMOTE_AUTH_OAUTH2 };

/*
 * All zero (as calloc leaves it) means mode none. Set up by
 * remote_auth_init and remote_auth_setup, read-only afterwards except the
 * token cache, which every worker shares.
 */
struct remote_auth {
	const struct config *cfg; /* borrowed: outlives the remote */
	enum remote_auth_mode mode;
	char *auth_line;  /* static: the header line; oauth2: the token request's */
	char *token_form; /* oauth2: the token request's body */

	pthread_mutex_t lock; /* guards token and token_until */
	char *token;          /* oauth2: "Authorization: Bearer ...", or NULL */
	int64_t token_until;  /* monotonic ms */
};

/* ---- the auth header (remote_auth.c) ----------------------------------- */

/* Sets cfg and creates the lock; -1 when the lock cannot be created. On
 * success, release with remote_auth_free. */
int remote_auth_init(struct remote_auth *a, const struct config *cfg);

/*
 * Reads GROUPSYNC_REMOTE_AUTH and what its mode needs, and builds the
 * static header line, or the token request's header and form (oauth2:
 * client_secret_basic, grant_type and scope in the form). Returns 0, or
 * -1 with err naming the setting at fault.
 */
int remote_auth_setup(struct remote_auth *a, char *err, size_t errlen);
void remote_auth_free(struct remote_auth *a);

/*
 * The auth header line for one call (free with remote_secret_free);
 * *line NULL: mode none. With oauth2, fetches a token first when none is
 * cached or it has expired; one fetch at a time, under the lock. Returns
 * 0, or -1 with res filled (class, error, retry time).
 */
int remote_auth_get(struct remote_auth *a, struct http_client *hc, char **line,
    struct remote_result *res);

/* Forgets the cached token line used (after a 401), unless another worker
 * has replaced it already. */
void remote_auth_drop(struct remote_auth *a, const char *used);

/* Wipes and frees a string that may hold a secret; NULL is fine. */
void remote_secret_free(char *s);

/* 1 when s holds a control character (below 0x20, or DEL). */
int remote_has_ctl(const char *s);

/* ---- shared with remote.c (defined there) ------------------------------ */

/* Formats "name: why" into err; returns -1. */
int remote_bad(char *err, size_t errlen, const char *name, const char *why);

/*
 * A status not accepted: fills res (status; class, a 2xx being PERMANENT;
 * "what: HTTP status: start of the answer", printable ASCII only).
 * Returns -1.
 */
int remote_status_error(struct remote_result *res, const char *what,
    const struct http_response *resp);

#endif
