/*
 * okta/auth: how groupsync proves who it is to Okta (see
 * groupsync/okta/auth.h). The JWTs, DPoP proofs and keys themselves are
 * made in jws.c.
 */
#include "groupsync/okta/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"
#include "groupsync/okta/jws.h"
#include "groupsync/okta/response.h"
#include "groupsync/okta/send.h"

#define OKTA_TOKEN_MAX 16384         /* access tokens (Okta's JWTs are ~1 KiB) */
#define OKTA_REFRESH_EARLY_MS 60000  /* renew this long before expiry */
#define OKTA_TOKEN_TTL_DEFAULT 3600  /* s, when expires_in is missing */
#define OKTA_TOKEN_TTL_MAX 86400
#define OKTA_TOKEN_ATTEMPTS 3        /* plain, DPoP switched on, with nonce */
#define OKTA_DEFAULT_SCOPES "okta.users.read okta.users.manage okta.groups.read"

/* A token fresh from the token endpoint. */
struct okta_fresh {
	char *token;
	int dpop;
	int64_t expires_in;
	char *scope; /* the answer's "scope": what was granted; NULL unstated */
};

/* "prefix" + value, malloc'd (header lines). */
static char *
okta_concat(const char *prefix, const char *value)
{
	size_t n;
	char *s;

	if (value == NULL)
		return NULL;
	n = strlen(prefix) + strlen(value) + 1;
	s = malloc(n);
	if (s != NULL)
		util_format(s, n, "%s%s", prefix, value);
	return s;
}

/* Header values must not carry CR, LF or other controls (injection). */
static int
okta_header_safe(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || i >= max)
			return 0;
	return i > 0;
}

static int
okta_auth_init_oauth(struct okta_auth *a, const struct config *cfg, char *err, size_t errlen)
{
	const char *mode = cfg->okta_dpop ? cfg->okta_dpop : "auto";

	a->client_id = strdup(cfg->okta_client_id);
	a->kid = cfg->okta_key_id ? strdup(cfg->okta_key_id) : NULL;
	a->scopes = strdup(cfg->okta_scopes ? cfg->okta_scopes : OKTA_DEFAULT_SCOPES);
	if (a->client_id == NULL || a->scopes == NULL || (cfg->okta_key_id && a->kid == NULL)) {
		util_format(err, errlen, "out of memory");
		return -1;
	}
	a->key = okta_key_load(cfg->okta_private_key, err, errlen);
	if (a->key == NULL)
		return -1;
	if (strcmp(mode, "on") == 0)
		a->dpop_mode = OKTA_DPOP_ON;
	else if (strcmp(mode, "off") == 0)
		a->dpop_mode = OKTA_DPOP_OFF;
	else
		a->dpop_mode = OKTA_DPOP_AUTO;
	a->dpop = a->dpop_mode == OKTA_DPOP_ON;
	if (a->dpop_mode != OKTA_DPOP_OFF) {
		a->dpop_key = okta_dpop_keygen();
		if (a->dpop_key == NULL) {
			util_format(err, errlen, "cannot generate the DPoP key pair");
			return -1;
		}
	}
	return 0;
}

int
okta_auth_init(struct okta_auth *a, const struct config *cfg, struct okta_rate *rate,
    char *err, size_t errlen)
{
	size_t n;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	atomic_init(&a->token_requests, 0);
	a->rate = rate;
	if (cfg->okta_org_url == NULL || cfg->okta_org_url[0] == '\0') {
		util_format(err, errlen, "GROUPSYNC_OKTA_ORG_URL: required");
		return -1;
	}
	a->org = strdup(cfg->okta_org_url);
	n = a->org ? strlen(a->org) : 0;
	while (n > 0 && a->org[n - 1] == '/')
		a->org[--n] = '\0';
	a->token_url = a->org ? okta_concat(a->org, "/oauth2/v1/token") : NULL;
	if (a->token_url == NULL) {
		util_format(err, errlen, "out of memory");
		return -1;
	}
	/* Okta recommends the OAuth service app: it wins when both are set. */
	if (cfg->okta_client_id != NULL && cfg->okta_private_key != NULL)
		return okta_auth_init_oauth(a, cfg, err, errlen);
	if (cfg->okta_api_token == NULL || !okta_header_safe(cfg->okta_api_token, 1024)) {
		util_format(err, errlen, "GROUPSYNC_OKTA_API_TOKEN: required (one line, no "
		    "spaces) unless GROUPSYNC_OKTA_CLIENT_ID and GROUPSYNC_OKTA_PRIVATE_KEY are set");
		return -1;
	}
	a->ssws = strdup(cfg->okta_api_token);
	if (a->ssws == NULL) {
		util_format(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
okta_auth_free(struct okta_auth *a)
{
	free(a->org);
	free(a->token_url);
	util_secret_free(a->ssws);
	free(a->client_id);
	free(a->kid);
	free(a->scopes);
	free(a->granted);
	EVP_PKEY_free(a->key);
	EVP_PKEY_free(a->dpop_key);
	util_secret_free(a->token);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
}

void
okta_auth_note_nonce(struct okta_auth *a, const struct http_response *resp)
{
	char v[OKTA_NONCE_MAX];

	if (a->dpop_key == NULL || !http_header(resp, "DPoP-Nonce", v, sizeof(v)) ||
	    !okta_header_safe(v, sizeof(v)))
		return;
	pthread_mutex_lock(&a->mu);
	util_copy(a->nonce, sizeof(a->nonce), v);
	pthread_mutex_unlock(&a->mu);
}

int
okta_auth_dpop_challenge(const struct http_response *resp)
{
	const char *v;
	char buf[512];
	size_t i;

	for (i = 0; (v = http_header_get(resp, "WWW-Authenticate", i)) != NULL; i++) {
		if (strncasecmp(v, "DPoP", 4) != 0)
			continue;
		util_copy(buf, sizeof(buf), v); /* the error is near the start */
		if (strstr(buf, "use_dpop_nonce") != NULL || strstr(buf, "invalid_dpop_proof") != NULL)
			return 1;
	}
	return 0;
}

/* grant_type=client_credentials&scope=..&client_assertion_type=..&client_assertion=.. */
static char *
okta_token_form(struct okta_auth *a, int64_t now_s)
{
	static const char type[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
	char scope[1024], etype[128], *jwt, *form = NULL;
	size_t n;

	jwt = okta_jwt_assertion(a->key, a->kid, a->client_id, a->token_url, now_s);
	if (jwt == NULL || http_url_escape(a->scopes, scope, sizeof(scope)) < 0 ||
	    http_url_escape(type, etype, sizeof(etype)) < 0)
		goto out;
	n = strlen(jwt) + strlen(scope) + strlen(etype) + 96;
	form = malloc(n);
	if (form != NULL && util_format(form, n, "grant_type=client_credentials&scope=%s&"
	    "client_assertion_type=%s&client_assertion=%s", scope, etype, jwt) < 0) {
		free(form);
		form = NULL;
	}
out:
	util_secret_free(jwt);
	return form;
}

/* One POST to the token endpoint: 0 answered (free resp), -1 res filled. */
static int
okta_token_post(struct okta_auth *a, struct http_client *hc, struct http_response *resp,
    int *sent_dpop, struct okta_result *res)
{
	struct http_request req;
	char nonce[OKTA_NONCE_MAX], *form, *proof = NULL, *line = NULL;
	int64_t now_s = util_now_ms() / 1000;
	int rc = -1;

	pthread_mutex_lock(&a->mu);
	*sent_dpop = a->dpop;
	util_copy(nonce, sizeof(nonce), a->nonce);
	pthread_mutex_unlock(&a->mu);
	form = okta_token_form(a, now_s);
	if (*sent_dpop) {
		proof = okta_dpop_proof(a->dpop_key, "POST", a->token_url,
		    nonce[0] != '\0' ? nonce : NULL, NULL, now_s);
		line = proof ? okta_concat("DPoP: ", proof) : NULL;
	}
	if (form == NULL || (*sent_dpop && line == NULL)) {
		res->cls = HTTP_CLASS_PERMANENT;
		util_format(res->error, sizeof(res->error), "token request: cannot sign");
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = a->token_url;
	req.headers[0] = "Accept: application/json";
	req.headers[1] = "Content-Type: application/x-www-form-urlencoded";
	req.headers[2] = line; /* NULL ends the list when there is no proof */
	req.body = form;
	req.body_len = strlen(form);
	rc = okta_send(a->rate, hc, &req, resp, res, "token request",
	    &a->token_requests);
	if (rc == 0)
		okta_auth_note_nonce(a, resp);
out:
	util_secret_free(form);
	free(proof);
	free(line);
	return rc;
}

/* access_token as token68 (it goes into a header line). */
static int
okta_token_parse(const struct http_response *resp, int sent_dpop, struct okta_fresh *t)
{
	json_object *root = okta_json_parse(resp->body, resp->body_len), *v;
	const char *tok = NULL, *type = NULL;
	size_t n = 0;
	int rc = -1;

	if (json_object_object_get_ex(root, "access_token", &v))
		tok = json_object_get_string(v);
	if (json_object_object_get_ex(root, "token_type", &v))
		type = json_object_get_string(v);
	t->expires_in = OKTA_TOKEN_TTL_DEFAULT;
	if (json_object_object_get_ex(root, "expires_in", &v) && json_object_get_int64(v) > 0)
		t->expires_in = json_object_get_int64(v);
	if (t->expires_in > OKTA_TOKEN_TTL_MAX)
		t->expires_in = OKTA_TOKEN_TTL_MAX;
	if (tok != NULL)
		n = strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-._~+/=");
	if (tok == NULL || type == NULL || n == 0 || tok[n] != '\0' || n >= OKTA_TOKEN_MAX)
		goto out;
	/* A DPoP-bound token is useless without the proofs it was bound to. */
	t->dpop = strcasecmp(type, "DPoP") == 0;
	if ((t->dpop && !sent_dpop) || (!t->dpop && strcasecmp(type, "Bearer") != 0))
		goto out;
	if (json_object_object_get_ex(root, "scope", &v) && json_object_get_string(v) &&
	    (t->scope = strdup(json_object_get_string(v))) == NULL)
		goto out;
	t->token = strdup(tok);
	rc = t->token ? 0 : -1;
out:
	json_object_put(root);
	return rc;
}

/*
 * Whether a refused token request deserves another try: a nonce to sign
 * with (once), or, in auto mode, the app requiring DPoP.
 */
static int
okta_token_retry(struct okta_auth *a, const struct http_response *resp, int *nonce_tries)
{
	json_object *root, *v;
	const char *e = "", *d = "";
	char nonce[OKTA_NONCE_MAX];
	int retry = 0, switched = 0;

	if ((resp->status != 400 && resp->status != 401) || a->dpop_key == NULL)
		return 0;
	root = okta_json_parse(resp->body, resp->body_len);
	if (json_object_object_get_ex(root, "error", &v) && json_object_get_string(v))
		e = json_object_get_string(v);
	if (json_object_object_get_ex(root, "error_description", &v) && json_object_get_string(v))
		d = json_object_get_string(v);
	pthread_mutex_lock(&a->mu);
	if (strcmp(e, "use_dpop_nonce") == 0 && a->dpop && *nonce_tries == 0 &&
	    http_header(resp, "DPoP-Nonce", nonce, sizeof(nonce)) != 0) {
		(*nonce_tries)++;
		retry = 1;
	} else if (!a->dpop && a->dpop_mode == OKTA_DPOP_AUTO &&
	    (strcmp(e, "invalid_dpop_proof") == 0 || strstr(d, "DPoP proof") != NULL)) {
		a->dpop = 1;
		retry = switched = 1;
	}
	pthread_mutex_unlock(&a->mu);
	json_object_put(root);
	if (switched)
		log_emit(LOG_INFO, "okta requires DPoP: sending proofs from now on", (char *)NULL);
	return retry;
}

static void
okta_token_log(const struct okta_fresh *t)
{
	char secs[32];

	util_format(secs, sizeof(secs), "%lld", (long long)t->expires_in);
	log_emit(LOG_DEBUG, "okta access token obtained", "type", t->dpop ? "DPoP" : "Bearer",
	    "expires_in", secs, (char *)NULL);
}

static int
okta_token_fetch(struct okta_auth *a, struct http_client *hc, struct okta_fresh *t,
    struct okta_result *res)
{
	struct http_response resp;
	int attempt, nonce_tries = 0, sent_dpop = 0, rc;

	for (attempt = 0; attempt < OKTA_TOKEN_ATTEMPTS; attempt++) {
		if (okta_token_post(a, hc, &resp, &sent_dpop, res) < 0)
			return -1;
		if (resp.status == 200) {
			rc = okta_token_parse(&resp, sent_dpop, t);
			http_response_free(&resp);
			if (rc == 0)
				okta_token_log(t);
			if (rc < 0) {
				res->cls = HTTP_CLASS_RETRY;
				res->status = 200;
				util_format(res->error, sizeof(res->error),
				    "token request: 200 without a usable access token");
			}
			return rc;
		}
		rc = okta_token_retry(a, &resp, &nonce_tries);
		if (!rc)
			okta_result_fill(res, "token request", &resp, "client authentication "
			    "failed: check GROUPSYNC_OKTA_CLIENT_ID, the key and its kid");
		http_response_free(&resp);
		if (!rc)
			return -1;
	}
	res->cls = HTTP_CLASS_PERMANENT;
	util_format(res->error, sizeof(res->error), "token request: DPoP handshake failed");
	return -1;
}

/* Under a->mu: the cached token may be used now. */
static int
okta_token_usable(const struct okta_auth *a, int64_t now)
{
	if (a->token == NULL)
		return 0;
	/* While another worker refreshes, a token not yet expired still serves. */
	return now < a->refresh_ms || (a->refreshing && now < a->expires_ms);
}

/*
 * Called and returns with a->mu held. 0: the cached token is usable;
 * 1: the caller is now the one refresher; -1: the refresh it waited for
 * failed (res says why), so that a failing token endpoint is asked once,
 * not once per waiting worker.
 */
static int
okta_token_wait(struct okta_auth *a, struct okta_result *res)
{
	uint64_t seq;

	for (;;) {
		if (okta_token_usable(a, util_now_ms()))
			return 0;
		if (!a->refreshing) {
			a->refreshing = 1;
			return 1;
		}
		seq = a->refresh_seq;
		while (a->refreshing && a->refresh_seq == seq)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->last_failed) {
			if (a->token != NULL && util_now_ms() < a->expires_ms)
				return 0;
			*res = a->last_err;
			return -1;
		}
	}
}

/* Called and returns with a->mu held; drops it for the network call. */
static int
okta_token_refresh(struct okta_auth *a, struct http_client *hc, struct okta_result *res)
{
	struct okta_fresh t = {0};
	int64_t now, life;
	int rc;

	pthread_mutex_unlock(&a->mu);
	rc = okta_token_fetch(a, hc, &t, res);
	pthread_mutex_lock(&a->mu);
	now = util_now_ms();
	if (rc == 0) {
		util_secret_free(a->token);
		a->token = t.token;
		a->token_dpop = t.dpop;
		free(a->granted);
		a->granted = t.scope;
		a->gen++;
		life = t.expires_in * 1000;
		a->expires_ms = now + life;
		a->refresh_ms = now + (life > 2 * OKTA_REFRESH_EARLY_MS ?
		    life - OKTA_REFRESH_EARLY_MS : life / 2);
	} else {
		free(t.scope);
		a->last_err = *res;
	}
	a->last_failed = rc < 0;
	a->refreshing = 0;
	a->refresh_seq++;
	pthread_cond_broadcast(&a->cv);
	if (rc < 0 && a->token != NULL && now < a->expires_ms) {
		/* The old token has a little life left: use it, and the call
		 * must not report the refresh's failure as its own. */
		memset(res, 0, sizeof(*res));
		res->cls = HTTP_CLASS_OK;
		return 0;
	}
	return rc;
}

void
okta_cred_clear(struct okta_cred *c)
{
	util_secret_free(c->authorization);
	free(c->dpop);
	c->authorization = NULL;
	c->dpop = NULL;
}

static int
okta_cred_oom(struct okta_cred *c, struct okta_result *res)
{
	okta_cred_clear(c);
	res->cls = HTTP_CLASS_RETRY;
	util_format(res->error, sizeof(res->error), "out of memory or signing failed");
	return -1;
}

int
okta_auth_begin(struct okta_auth *a, struct http_client *hc, const char *method,
    const char *url, struct okta_cred *c, struct okta_result *res)
{
	char nonce[OKTA_NONCE_MAX], *tok = NULL, *proof;
	int rc, dpop = 0;

	memset(c, 0, sizeof(*c));
	if (a->ssws != NULL) {
		c->authorization = okta_concat("Authorization: SSWS ", a->ssws);
		return c->authorization ? 0 : okta_cred_oom(c, res);
	}
	pthread_mutex_lock(&a->mu);
	rc = okta_token_wait(a, res);
	if (rc == 1)
		rc = okta_token_refresh(a, hc, res);
	if (rc == 0) {
		tok = strdup(a->token);
		dpop = a->token_dpop;
		c->gen = a->gen;
		util_copy(nonce, sizeof(nonce), a->nonce);
	}
	pthread_mutex_unlock(&a->mu);
	if (rc < 0)
		return -1;
	if (tok == NULL)
		return okta_cred_oom(c, res);
	c->authorization = okta_concat(dpop ? "Authorization: DPoP " : "Authorization: Bearer ",
	    tok);
	if (dpop) {
		proof = okta_dpop_proof(a->dpop_key, method, url, nonce[0] ? nonce : NULL, tok,
		    util_now_ms() / 1000);
		c->dpop = proof ? okta_concat("DPoP: ", proof) : NULL;
		free(proof);
	}
	util_secret_free(tok);
	if (c->authorization == NULL || (dpop && c->dpop == NULL))
		return okta_cred_oom(c, res);
	return 0;
}

void
okta_auth_invalidate(struct okta_auth *a, uint64_t gen)
{
	pthread_mutex_lock(&a->mu);
	if (a->token != NULL && a->gen == gen) {
		util_secret_free(a->token);
		a->token = NULL;
		a->gen++;
	}
	pthread_mutex_unlock(&a->mu);
}

/* 1 when the space-separated list has word. */
static int
okta_scope_in(const char *list, const char *word, size_t wlen)
{
	const char *p = list;
	size_t n;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == wlen && n > 0 && strncmp(p, word, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* Appends to out each word of need that is not in have (NULL: none is);
 * returns how many. */
static int
okta_scope_missing(const char *need, const char *have, char *out, size_t outlen)
{
	const char *p = need;
	size_t n, used;
	int count = 0;

	while (*p != '\0') {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n > 0 && !okta_scope_in(have, p, n) && !okta_scope_in(out, p, n)) {
			used = strlen(out);
			if (used + n + 2 < outlen) {
				if (used > 0)
					out[used++] = ' ';
				memcpy(out + used, p, n);
				out[used + n] = '\0';
			}
			count++;
		}
		p += n;
	}
	return count;
}

int
okta_auth_scopes(struct okta_auth *a, struct http_client *hc, char *out, size_t outlen)
{
	struct okta_cred c;
	struct okta_result res;
	char missing[512] = "", refused[512] = "", *granted = NULL;
	const char *list;
	size_t n;
	int count;

	if (a->ssws != NULL) {
		util_copy(out, outlen, "SSWS API token: it has no scopes (the roles of the "
		    "admin who created it decide what it may do)");
		return 2;
	}
	memset(&res, 0, sizeof(res));
	if (okta_auth_begin(a, hc, "GET", a->token_url, &c, &res) < 0) {
		/* Okta refuses the whole request and names the scopes the app
		 * was not granted: "The following scopes are not allowed: [a, b]." */
		list = strstr(res.error, "scopes are not allowed: [");
		if (list == NULL) {
			util_copy(out, outlen, res.error);
			return -1;
		}
		list += strlen("scopes are not allowed: [");
		n = strcspn(list, "]");
		if (n >= sizeof(refused))
			n = sizeof(refused) - 1;
		memcpy(refused, list, n);
		refused[n] = '\0';
		for (n = 0; refused[n] != '\0'; n++)
			if (refused[n] == ',')
				refused[n] = ' ';
		(void)okta_scope_missing(refused, NULL, missing, sizeof(missing));
		/* and those groupsync needs but GROUPSYNC_OKTA_SCOPES leaves out */
		(void)okta_scope_missing(OKTA_DEFAULT_SCOPES, a->scopes, missing, sizeof(missing));
		util_format(out, outlen, "app %s not granted: %s", a->client_id, missing);
		return 1;
	}
	okta_cred_clear(&c);
	pthread_mutex_lock(&a->mu);
	if (a->granted != NULL)
		granted = strdup(a->granted);
	pthread_mutex_unlock(&a->mu);
	if (granted == NULL) {
		util_format(out, outlen, "app %s: token obtained; the answer names no scopes",
		    a->client_id);
		return 0;
	}
	count = okta_scope_missing(OKTA_DEFAULT_SCOPES, granted, missing, sizeof(missing));
	if (count > 0)
		util_format(out, outlen, "app %s not granted: %s", a->client_id, missing);
	else
		util_format(out, outlen, "app %s granted: %s", a->client_id, granted);
	free(granted);
	return count > 0 ? 1 : 0;
}
