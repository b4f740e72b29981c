/*
 * auth: how the remote client authenticates (remote/auth.c): no header,
 * basic, bearer, a custom header, or an OAuth 2.0 client credentials
 * token and its cache shared by every worker.
 *
 * struct remote_auth is public because the remote client embeds it (it
 * is set up with the client, and a 401 drops the token used).
 *
 * Ownership: header lines handed out are malloc'd and may hold secrets:
 * free them with util_secret_free.
 *
 * Threads: remote_auth_get and remote_auth_drop from any worker; the
 * rest from the thread that owns the remote client.
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

/* ---- the auth header (remote/auth.c) ---------------------------------- */

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
 * The auth header line for one call (free with util_secret_free);
 * *line NULL: mode none. With oauth2, fetches a token first when none is
 * cached or it has expired; one fetch at a time, under the lock. Returns
 * 0, or -1 with res filled (class, error, retry time).
 */
int remote_auth_get(struct remote_auth *a, struct http_client *hc, char **line,
    struct remote_result *res);

/* Forgets the cached token line used (after a 401), unless another worker
 * has replaced it already. */
void remote_auth_drop(struct remote_auth *a, const char *used);

#endif
