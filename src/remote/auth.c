/*
 * auth: how groupsync authenticates to the remote system (see
 * groupsync/remote/auth.h): no header, HTTP Basic, a bearer token or a
 * custom header, each built once from the configuration; or OAuth 2.0
 * client credentials, with the access token cached for every worker.
 *
 * Decisions where the design is silent:
 * - OAuth 2.0 client credentials: the client authenticates with HTTP Basic
 *   (client_secret_basic, which RFC 6749 2.3.1 requires every server to
 *   support; ID and secret form-encoded first); the form carries
 *   grant_type and scope only. token_type must be Bearer. The token is
 *   kept until 60 s before expires_in (half of it when that is under two
 *   minutes; five minutes when the server gives none).
 * - A token fetch holds the cache's lock, so that the other workers wait
 *   for that one fetch instead of each asking the server at once.
 * - Secrets (passwords, client secrets, tokens, header lines) are wiped
 *   before they are freed.
 */
#include "groupsync/remote/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "groupsync/base/base64.h"
#include "groupsync/base/log.h"
#include "groupsync/base/util.h"
#include "groupsync/remote/answer.h"

#define REMOTE_TOKEN_MAX 8192

/* Formats "name: why" into err; returns -1. */
static int
auth_bad(char *err, size_t errlen, const char *name, const char *why)
{
	util_format(err, errlen, "%s: %s", name, why);
	return -1;
}

/* prefix + base64(a ":" b), or NULL. */
static char *
basic_line(const char *prefix, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la + 1 + lb, plen = strlen(prefix);
	size_t olen = plen + base64_len(BASE64_STD, n) + 1;
	unsigned char *raw = malloc(n);
	char *out = malloc(olen);

	if (raw != NULL && out != NULL) {
		memcpy(raw, a, la);
		raw[la] = ':';
		memcpy(raw + la + 1, b, lb);
		memcpy(out, prefix, plen);
	}
	if (raw == NULL || out == NULL ||
	    base64_encode(BASE64_STD, raw, n, out + plen, olen - plen) < 0) {
		free(out);
		out = NULL;
	}
	if (raw != NULL)
		OPENSSL_cleanse(raw, n);
	free(raw);
	return out;
}

static char *
url_escaped(const char *s)
{
	size_t n = strlen(s) * 3 + 1;
	char *e = malloc(n);

	if (e != NULL && http_url_escape(s, e, n) < 0) {
		free(e);
		e = NULL;
	}
	return e;
}

int
remote_auth_init(struct remote_auth *a, const struct config *cfg)
{
	a->cfg = cfg;
	return pthread_mutex_init(&a->lock, NULL) != 0 ? -1 : 0;
}

/* basic, bearer, header: one header line, built once. */
static int
remote_auth_static(struct remote_auth *a, const char *mode, char *err, size_t errlen)
{
	const struct config *c = a->cfg;
	const char *name = "Authorization", *pre = "Bearer ", *val = c->remote_token;
	size_t n;

	if (strcmp(mode, "basic") == 0) {
		if (c->remote_username == NULL || strchr(c->remote_username, ':') != NULL ||
		    util_has_ctl(c->remote_username))
			return auth_bad(err, errlen, "GROUPSYNC_REMOTE_USERNAME",
			    "required, without ':' or control characters");
		if (c->remote_password == NULL || util_has_ctl(c->remote_password))
			return auth_bad(err, errlen, "GROUPSYNC_REMOTE_PASSWORD",
			    "required, without control characters");
		a->auth_line = basic_line("Authorization: Basic ", c->remote_username,
		    c->remote_password);
		goto out;
	}
	if (strcmp(mode, "header") == 0) {
		name = c->remote_auth_header;
		pre = "";
		val = c->remote_auth_value;
		if (name == NULL || name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(name))
			return auth_bad(err, errlen, "GROUPSYNC_REMOTE_AUTH_HEADER",
			    "required: a header name");
	}
	if (val == NULL || val[0] == '\0' || util_has_ctl(val))
		return auth_bad(err, errlen, strcmp(mode, "header") == 0 ?
		    "GROUPSYNC_REMOTE_AUTH_VALUE" : "GROUPSYNC_REMOTE_TOKEN",
		    "required, without control characters");
	n = strlen(name) + strlen(pre) + strlen(val) + 3;
	a->auth_line = malloc(n);
	if (a->auth_line != NULL)
		snprintf(a->auth_line, n, "%s: %s%s", name, pre, val);
out:
	a->mode = REMOTE_AUTH_STATIC;
	return a->auth_line != NULL ? 0 : auth_bad(err, errlen, "remote", "out of memory");
}

static int
remote_auth_oauth2(struct remote_auth *a, char *err, size_t errlen)
{
	const struct config *c = a->cfg;
	char *id = NULL, *secret = NULL, *scope = NULL;
	size_t n;

	if (c->remote_token_url == NULL)
		return auth_bad(err, errlen, "GROUPSYNC_REMOTE_TOKEN_URL", "required");
	if (c->remote_client_id == NULL || c->remote_client_secret == NULL)
		return auth_bad(err, errlen, c->remote_client_id ?
		    "GROUPSYNC_REMOTE_CLIENT_SECRET" : "GROUPSYNC_REMOTE_CLIENT_ID", "required");
	a->mode = REMOTE_AUTH_OAUTH2;
	id = url_escaped(c->remote_client_id);
	secret = url_escaped(c->remote_client_secret);
	scope = url_escaped(c->remote_scope ? c->remote_scope : "");
	if (id != NULL && secret != NULL)
		a->auth_line = basic_line("Authorization: Basic ", id, secret);
	n = 64 + (scope ? strlen(scope) : 0);
	if (scope != NULL && (a->token_form = malloc(n)) != NULL)
		snprintf(a->token_form, n, "grant_type=client_credentials%s%s",
		    scope[0] ? "&scope=" : "", scope);
	free(id);
	util_secret_free(secret);
	free(scope);
	if (a->auth_line == NULL || a->token_form == NULL)
		return auth_bad(err, errlen, "remote", "out of memory");
	return 0;
}

int
remote_auth_setup(struct remote_auth *a, char *err, size_t errlen)
{
	const char *mode = a->cfg->remote_auth ? a->cfg->remote_auth : "none";

	if (strcmp(mode, "none") == 0)
		return 0;
	if (strcmp(mode, "basic") == 0 || strcmp(mode, "bearer") == 0 ||
	    strcmp(mode, "header") == 0)
		return remote_auth_static(a, mode, err, errlen);
	if (strcmp(mode, "oauth2") == 0)
		return remote_auth_oauth2(a, err, errlen);
	return auth_bad(err, errlen, "GROUPSYNC_REMOTE_AUTH",
	    "must be none, basic, bearer, header or oauth2");
}

void
remote_auth_free(struct remote_auth *a)
{
	util_secret_free(a->auth_line);
	free(a->token_form);
	util_secret_free(a->token);
	pthread_mutex_destroy(&a->lock);
}

/* Keeps the token of a 200 answer; called with the lock held. */
static int
remote_token_keep(struct remote_auth *a, const struct http_response *resp,
    struct remote_result *res)
{
	json_object *root = json_tokener_parse(resp->body), *v;
	const char *tok = NULL, *type = "Bearer";
	int64_t ttl = 300;
	char *line = NULL, num[24];

	if (json_object_object_get_ex(root, "access_token", &v) &&
	    json_object_is_type(v, json_type_string))
		tok = json_object_get_string(v);
	if (json_object_object_get_ex(root, "token_type", &v) &&
	    json_object_is_type(v, json_type_string))
		type = json_object_get_string(v);
	/* Some servers send expires_in as a string: json-c reads both. */
	if (json_object_object_get_ex(root, "expires_in", &v) &&
	    json_object_get_int64(v) > 0)
		ttl = json_object_get_int64(v);
	if (tok != NULL && tok[0] != '\0' && strlen(tok) <= REMOTE_TOKEN_MAX &&
	    !util_has_ctl(tok) && strchr(tok, ' ') == NULL &&
	    strcasecmp(type, "Bearer") == 0 && (line = malloc(strlen(tok) + 32)) != NULL)
		snprintf(line, strlen(tok) + 32, "Authorization: Bearer %s", tok);
	json_object_put(root);
	if (line == NULL) {
		res->cls = HTTP_CLASS_PERMANENT;
		util_copy(res->error, sizeof(res->error),
		    "oauth2 token: the answer has no Bearer access_token");
		return -1;
	}
	ttl = ttl > 120 ? ttl - 60 : ttl / 2;
	util_secret_free(a->token);
	a->token = line;
	a->token_until = util_mono_ms() + ttl * 1000;
	snprintf(num, sizeof(num), "%lld", (long long)ttl);
	log_emit(LOG_DEBUG, "remote oauth2 token fetched", "cached_s", num, (char *)NULL);
	return 0;
}

/* POSTs the client credentials grant; called with the lock held. */
static int
remote_token_fetch(struct remote_auth *a, struct http_client *hc, struct remote_result *res)
{
	struct http_request req;
	struct http_response resp;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = a->cfg->remote_token_url;
	req.headers[0] = "Content-Type: application/x-www-form-urlencoded";
	req.headers[1] = "Accept: application/json";
	req.headers[2] = a->auth_line;
	req.body = a->token_form;
	req.body_len = strlen(a->token_form);
	if (http_do(hc, &req, &resp) < 0) {
		res->cls = resp.cls;
		util_format(res->error, sizeof(res->error), "oauth2 token: %s", resp.error);
	} else if (resp.status != 200) {
		remote_status_error(res, "oauth2 token", &resp);
	} else {
		rc = remote_token_keep(a, &resp, res);
	}
	res->retry_at_ms = resp.retry_after_ms;
	http_response_free(&resp);
	return rc;
}

/* The auth header line for one call (free with util_secret_free); NULL: none. */
int
remote_auth_get(struct remote_auth *a, struct http_client *hc, char **line,
    struct remote_result *res)
{
	int rc = 0;

	*line = NULL;
	if (a->mode == REMOTE_AUTH_NONE)
		return 0;
	if (a->mode == REMOTE_AUTH_STATIC) {
		*line = strdup(a->auth_line);
	} else {
		pthread_mutex_lock(&a->lock);
		if (a->token == NULL || util_mono_ms() >= a->token_until)
			rc = remote_token_fetch(a, hc, res);
		if (rc == 0)
			*line = strdup(a->token);
		pthread_mutex_unlock(&a->lock);
		if (rc < 0)
			return -1;
	}
	if (*line == NULL) {
		res->cls = HTTP_CLASS_RETRY;
		util_copy(res->error, sizeof(res->error), "remote: out of memory");
		return -1;
	}
	return 0;
}

/* Forgets the token used, unless another worker has replaced it already. */
void
remote_auth_drop(struct remote_auth *a, const char *used)
{
	pthread_mutex_lock(&a->lock);
	if (a->token != NULL && strcmp(a->token, used) == 0) {
		util_secret_free(a->token);
		a->token = NULL;
	}
	pthread_mutex_unlock(&a->lock);
}
