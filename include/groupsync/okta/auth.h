/*
 * okta/auth: how groupsync proves who it is to Okta: an SSWS API token,
 * or OAuth 2.0 client credentials with a private_key_jwt assertion
 * (okta/jws.h), DPoP-bound tokens when the app requires them; and the
 * access-token cache every worker shares. Token requests go through the
 * rate gate (okta/send.h) in their own bucket.
 *
 * Threads: one struct okta_auth is shared by all workers; the fields after
 * mu are guarded by it. One worker refreshes at a time; the others keep
 * using a token that has not expired yet, or wait on cv.
 * Ownership: struct okta_cred's strings are the caller's, released with
 * okta_cred_clear.
 */
#ifndef GROUPSYNC_OKTA_AUTH_H
#define GROUPSYNC_OKTA_AUTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/okta/client.h"
#include "groupsync/okta/rate.h"

#define OKTA_NONCE_MAX 512 /* DPoP-Nonce values (Okta's are ~40 chars) */

enum okta_dpop_mode { OKTA_DPOP_OFF = 0, OKTA_DPOP_AUTO, OKTA_DPOP_ON };

struct okta_auth {
	/* Set by okta_auth_init, read-only afterwards. */
	char *org;          /* org URL without trailing '/' */
	char *token_url;    /* org + /oauth2/v1/token */
	char *ssws;         /* API token; NULL with OAuth */
	char *client_id;
	char *kid;          /* NULL: no kid in the assertion header */
	char *scopes;
	EVP_PKEY *key;      /* client assertion key (OAuth) */
	EVP_PKEY *dpop_key; /* NULL when DPoP is off or with SSWS */
	enum okta_dpop_mode dpop_mode;
	struct okta_rate *rate; /* the token endpoint has its own bucket */
	_Atomic uint64_t token_requests;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refreshing;
	uint64_t refresh_seq;   /* bumped after every refresh attempt */
	int last_failed;        /* the last refresh failed: last_err says why */
	struct okta_result last_err;
	int dpop;               /* proofs are sent (on, or auto switched on) */
	char *token;            /* NULL: none */
	char *granted;          /* the scopes its answer says were granted; NULL unstated */
	int token_dpop;         /* token_type DPoP: proofs on every call */
	uint64_t gen;           /* bumped whenever token changes */
	int64_t refresh_ms;     /* unix ms: refresh from here on */
	int64_t expires_ms;     /* unix ms: unusable from here on */
	char nonce[OKTA_NONCE_MAX]; /* last DPoP-Nonce, "" none */
};

/* What one API call sends to authenticate. */
struct okta_cred {
	char *authorization; /* "Authorization: ..." header line */
	char *dpop;          /* "DPoP: <proof>" header line, or NULL */
	uint64_t gen;        /* token generation, for okta_auth_invalidate */
};

/* Reads the credentials from cfg (keys parsed here). 0, or -1 + err;
 * okta_auth_free either way. */
int okta_auth_init(struct okta_auth *a, const struct config *cfg, struct okta_rate *rate,
    char *err, size_t errlen);
void okta_auth_free(struct okta_auth *a);

/*
 * Fills c for one call (method, url), fetching a token first when none is
 * cached or it is about to expire. Returns 0, or -1 with res filled
 * ("token request: ...").
 */
int okta_auth_begin(struct okta_auth *a, struct http_client *hc, const char *method,
    const char *url, struct okta_cred *c, struct okta_result *res);
void okta_cred_clear(struct okta_cred *c);

/*
 * What check-config --online says of the scopes: 2 with an SSWS token (it
 * has none); else fetches a token and 0 when every scope groupsync needs
 * was granted, 1 when some were not (out names each), -1 when the token
 * request failed otherwise (out says why).
 */
int okta_auth_scopes(struct okta_auth *a, struct http_client *hc, char *out, size_t outlen);

/* Drops the cached token if it is still generation gen (after a 401). */
void okta_auth_invalidate(struct okta_auth *a, uint64_t gen);

/* Remembers a DPoP-Nonce the answer carries (Okta rotates them). */
void okta_auth_note_nonce(struct okta_auth *a, const struct http_response *resp);

/* 1 when a 401 says WWW-Authenticate: DPoP error="use_dpop_nonce" or
 * "invalid_dpop_proof": the call deserves one more try with a new proof. */
int okta_auth_dpop_challenge(const struct http_response *resp);

#endif
