/*
 * okta_auth.h: internals of the okta module, shared by okta.c (API calls,
 * paging), okta_rate.c (rate limits, answers, errors), okta_auth.c
 * (credentials, the token cache), okta_jwt.c (keys, JWTs, DPoP proofs),
 * okta_setup.c (okta_request, okta_json_parse, okta_jstr) and
 * tests/unit/test_okta.c. Not for other modules: they use
 * include/groupsync/okta.h.
 *
 * Ownership: functions returning char * return a malloc'd string the
 * caller frees; NULL means failure (allocation, signing, bad input).
 */
#ifndef GROUPSYNC_OKTA_AUTH_H
#define GROUPSYNC_OKTA_AUTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/okta/client.h"

#define OKTA_URL_MAX 2048     /* org URL + path, or a next-page link */
#define OKTA_NONCE_MAX 512    /* DPoP-Nonce values (Okta's are ~40 chars) */
#define OKTA_TOKEN_MAX 16384  /* access tokens (Okta's JWTs are ~1 KiB) */

#define OKTA_RATE_BACKOFF_MS 5000        /* 429 with no reset time */
#define OKTA_RATE_MAX_WAIT_MS (15 * 60 * 1000) /* cap on a reset we obey */

/* ---- rate limits (okta_rate.c) ----------------------------------------- */

/*
 * Okta counts calls per endpoint family, so the state is kept per family
 * groupsync uses: a 429 on one does not stop the others, as in Okta.
 */
enum okta_bucket {
	OKTA_BUCKET_USER = 0,    /* GET/POST /api/v1/users/{id} */
	OKTA_BUCKET_USER_GROUPS, /* GET /api/v1/users/{id}/groups */
	OKTA_BUCKET_GROUPS,      /* GET /api/v1/groups/{id}/users */
	OKTA_BUCKET_TOKEN,       /* POST /oauth2/v1/token */
	OKTA_BUCKETS
};

struct okta_rate_bucket {
	int64_t limit;            /* last X-Rate-Limit-Limit, -1 unknown */
	int64_t remaining;        /* last X-Rate-Limit-Remaining, -1 unknown */
	int64_t blocked_until_ms; /* unix ms (our clock); no call before it */
};

/* Shared by every worker; the buckets are guarded by mu. */
struct okta_rate {
	pthread_mutex_t mu;
	struct okta_rate_bucket b[OKTA_BUCKETS];
	_Atomic int64_t last_remaining;
	_Atomic uint64_t rate_limited, deferred;
};

void okta_rate_init(struct okta_rate *r);
void okta_rate_destroy(struct okta_rate *r);

/*
 * Returns 0 when a call in bucket b may go now; else -1 with *until set to
 * the end of the block (unix ms) and one deferral counted.
 */
int okta_rate_admit(struct okta_rate *r, enum okta_bucket b, int64_t now_ms, int64_t *until);

/*
 * Learns from one answer: X-Rate-Limit-* (Reset taken relative to the
 * answer's Date header when present, so clock skew does not matter), 429,
 * Retry-After, and the headroom rule (Remaining <= max(2, 10% of Limit)
 * blocks until Reset). Returns the bucket's block end (unix ms), 0 if none.
 */
int64_t okta_rate_update(struct okta_rate *r, enum okta_bucket b,
    const struct http_response *resp, int64_t now_ms);

/* ---- answers (okta_rate.c) ----------------------------------------------- */

/*
 * Iterates over response header lines named name (case-insensitive).
 * Start with p = the raw headers; returns where to continue, or NULL when
 * no further header has that name. *val and *vlen: the trimmed value.
 */
const char *okta_header_next(const char *p, const char *name, const char **val, size_t *vlen);

/*
 * Finds the rel="next" link in every Link header of raw headers (one
 * header with several comma-separated links, or several headers).
 * Returns 1 with the URL in out, 0 when there is none, -1 when it is
 * malformed, too long, relative or not on origin ("https://host[:port]"):
 * the token must never be sent elsewhere.
 */
int okta_parse_link_next(const char *headers, const char *origin, char *out, size_t outlen);

/*
 * Summarises an error body into out: "E0000006 You do not have
 * permission..." (Okta API), "invalid_client The client..." (OAuth), or
 * a short printable prefix of anything else. Never more than outlen - 1.
 */
void okta_parse_error(const char *body, size_t len, char *out, size_t outlen);

/* Retry or permanent, by status (0: no answer). 401 is permanent. */
enum http_class okta_classify(long status);

/*
 * Fills res for an answer that is not a success: status, class, retry time
 * (Retry-After, or the rate-limit block on a 429) and "what: status
 * (hint401, on a 401 only) errorCode errorSummary".
 */
void okta_result_fill(struct okta_result *res, const char *what,
    const struct http_response *resp, const char *hint401);

/* Parses a whole JSON text (bounded depth); NULL when it is not one.
 * Caller puts the result. */
json_object *okta_json_parse(const char *s, size_t len);

/*
 * The string member key of object o (o may be NULL), or NULL when it is
 * absent or not a string. Shared because okta.c reads group IDs from the
 * pages with it, okta_rate.c error fields.
 */
const char *okta_jstr(json_object *o, const char *key);

/*
 * Fails res: class cls, error "what: why". Returns -1, for tail calls.
 * Shared because both okta_send (okta_rate.c) and the API calls in
 * okta.c report their own failures this way.
 */
int okta_result_fail(struct okta_result *res, enum http_class cls, const char *what,
    const char *why);

/*
 * Sends req through the rate gate of bucket b, counting it in *sent (may
 * be NULL) when it goes out. Returns 0 when Okta answered (resp filled:
 * free it), -1 when the call was deferred or got no answer (res filled;
 * resp holds nothing to free).
 */
int okta_send(struct okta_rate *r, enum okta_bucket b, struct http_client *hc,
    const struct http_request *req, struct http_response *resp, struct okta_result *res,
    const char *what, _Atomic uint64_t *sent);

/* ---- generic calls (okta.c) ------------------------------------------- */

/*
 * One authenticated call to org + path (path starts with '/'; body JSON
 * or NULL) for callers beyond the worker's (okta_setup.c). Returns 0 when
 * Okta answered, any status: resp to free, res filled when it is not a
 * 2xx; -1 with res filled when it did not answer (resp holds nothing).
 */
int okta_request(struct okta *o, struct http_client *hc, const char *method, const char *path,
    const char *body, struct http_response *resp, struct okta_result *res);

/* ---- JWTs and DPoP (okta_jwt.c) ---------------------------------------- */

/*
 * base64url (RFC 4648 section 5) without padding. Returns the length
 * written (NUL-terminated), -1 when outlen is too small.
 */
int okta_b64url(const void *in, size_t n, char *out, size_t outlen);

/* Loads a PEM private key (RSA >= 2048 or EC P-256); NULL + err. */
EVP_PKEY *okta_key_load(const char *pem, char *err, size_t errlen);

/* A fresh EC P-256 key pair for DPoP, kept in memory only. */
EVP_PKEY *okta_dpop_keygen(void);

/*
 * The private_key_jwt client assertion: header {alg RS256|ES256, typ JWT,
 * kid when set}, claims iss = sub = client_id, aud, iat = now_s,
 * exp = iat + 300, random jti. ES256 signatures are raw R||S.
 */
char *okta_jwt_assertion(EVP_PKEY *key, const char *kid, const char *client_id,
    const char *aud, int64_t now_s);

/*
 * A DPoP proof (RFC 9449) signed ES256 with key, its public JWK in the
 * header; claims htm, htu (url without query or fragment), iat, jti,
 * nonce when not NULL, ath = b64url(SHA-256(access_token)) when not NULL.
 */
char *okta_dpop_proof(EVP_PKEY *key, const char *htm, const char *url, const char *nonce,
    const char *access_token, int64_t now_s);

/* ---- credentials and the token cache (okta_auth.c) --------------------- */

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

	/* Guarded by mu. One worker refreshes at a time (refreshing); the
	 * others keep using a token that has not expired yet, or wait on cv. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refreshing;
	uint64_t refresh_seq;   /* bumped after every refresh attempt */
	int last_failed;        /* the last refresh failed: last_err says why */
	struct okta_result last_err;
	int dpop;               /* proofs are sent (on, or auto switched on) */
	char *token;            /* NULL: none */
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

/* Drops the cached token if it is still generation gen (after a 401). */
void okta_auth_invalidate(struct okta_auth *a, uint64_t gen);

/* Remembers a DPoP-Nonce the answer carries (Okta rotates them). */
void okta_auth_note_nonce(struct okta_auth *a, const struct http_response *resp);

/* 1 when a 401 says WWW-Authenticate: DPoP error="use_dpop_nonce" or
 * "invalid_dpop_proof": the call deserves one more try with a new proof. */
int okta_auth_dpop_challenge(const struct http_response *resp);

#endif
