/* Validation of setting values: one check per kind of value, and the
 * rules that relate settings to each other. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "config_table.h"
#include "groupsync/base/netaddr.h"
#include "groupsync/base/util.h"

int
check_listen(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;
	size_t i, hostlen;

	(void)c;
	if (colon == NULL || colon == v)
		goto bad;
	hostlen = (size_t)(colon - v);
	for (i = 0; i < hostlen; i++) {
		if (strchr("0123456789abcdefABCDEF.:[]", v[i]) == NULL)
			goto bad; /* civetweb wants an address, not a name */
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno == 0 && end != colon + 1 && *end == '\0' && port >= 1 && port <= 65535)
		return 0;
bad:
	util_format(err, errlen, "%s: must be ADDRESS:PORT, e.g. 0.0.0.0:8443 or [::]:8443",
	    o->name);
	return -1;
}

int
check_path(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (v[0] == '/' && strlen(v) < 256 && (v[1] == '\0' || util_is_token(v + 1, 255) ||
	    strspn(v, "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	    strlen(v)))
		return 0;
	util_format(err, errlen, "%s: must be a path such as /hooks/okta", o->name);
	return -1;
}

int
check_header(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
	    strlen(v) && strlen(v) <= 64)
		return 0;
	util_format(err, errlen, "%s: must be an HTTP header name", o->name);
	return -1;
}

int
check_secret(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	size_t i;

	(void)c;
	/* Okta stores at most 1024 characters; short secrets are guessable. */
	if (strlen(v) < 16 || strlen(v) > 1024) {
		util_format(err, errlen, "%s: must be 16 to 1024 characters long", o->name);
		return -1;
	}
	for (i = 0; v[i] != '\0'; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			util_format(err, errlen, "%s: contains a control character", o->name);
			return -1;
		}
	}
	return 0;
}

int
check_url(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	char why[128];

	if (config_check_url(v, c->allow_insecure_http, why, sizeof(why)) == 0)
		return 0;
	util_format(err, errlen, "%s: %s", o->name, why);
	return -1;
}

int
check_word(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (util_is_token(v, 128))
		return 0;
	util_format(err, errlen, "%s: must be letters, digits and ._:@+- only", o->name);
	return -1;
}

int
check_proxies(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	char why[96];

	(void)c;
	if (netaddr_list_check(v, why, sizeof(why)) == 0)
		return 0;
	util_format(err, errlen, "%s: %s", o->name, why);
	return -1;
}

int
check_choice(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	const char *p = o->choices;
	size_t n = strlen(v);

	(void)c;
	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, "|");
		if (len == n && strncmp(p, v, n) == 0)
			return 0;
		p += len + (p[len] == '|');
	}
	util_format(err, errlen, "%s: must be one of %s", o->name, o->choices);
	return -1;
}

int
check_readable(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (access(v, R_OK) == 0)
		return 0;
	util_format(err, errlen, "%s: cannot read %s: %s", o->name, v, strerror(errno));
	return -1;
}

int
check_dir(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (access(v, W_OK | X_OK) == 0)
		return 0;
	util_format(err, errlen, "%s: %s is not a writable directory: %s", o->name, v,
	    strerror(errno));
	return -1;
}

/* The OAuth app key must be PEM and RSA (RS256) or EC P-256 (ES256). */
int
check_pem_key(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(v, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int ok = 0;

	(void)c;
	if (key != NULL && EVP_PKEY_is_a(key, "RSA"))
		ok = EVP_PKEY_get_bits(key) >= 2048;
	else if (key != NULL && EVP_PKEY_is_a(key, "EC"))
		ok = EVP_PKEY_get_bits(key) == 256;
	EVP_PKEY_free(key);
	BIO_free(bio);
	if (ok)
		return 0;
	util_format(err, errlen, "%s: must be a PEM private key: RSA of 2048 bits or more, or "
	    "EC P-256 (give the file as %s_FILE=/path)", o->name, o->name);
	return -1;
}

int
config_check_url(const char *url, int allow_insecure, char *err, size_t errlen)
{
	const char *host, *end;
	char h[256];
	size_t n;

	if (strncmp(url, "https://", 8) == 0 && url[8] != '\0')
		return 0;
	if (strncmp(url, "http://", 7) != 0) {
		util_format(err, errlen, "must start with https://");
		return -1;
	}
	if (allow_insecure)
		return 0;
	host = url + 7;
	end = host + strcspn(host, "/?#");
	n = (size_t)(end - host);
	if (n >= sizeof(h))
		n = sizeof(h) - 1;
	memcpy(h, host, n);
	h[n] = '\0';
	/* strip :port, keeping [v6] brackets */
	if (h[0] == '[') {
		char *rb = strchr(h, ']');
		if (rb != NULL)
			rb[1] = '\0';
	} else if (strchr(h, ':') != NULL) {
		*strchr(h, ':') = '\0';
	}
	if (strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "[::1]") == 0)
		return 0;
	util_format(err, errlen,
	    "plain http:// is refused for a non-loopback host "
	    "(set GROUPSYNC_ALLOW_INSECURE_HTTP=1 to allow)");
	return -1;
}

/* Splits GROUPSYNC_GROUP_IDS into group_ids[]. */
static int
config_split_groups(struct config *c, char *err, size_t errlen)
{
	char *p, *tok, *save = NULL;

	if (c->group_ids_raw == NULL)
		goto bad;
	c->group_ids_split = strdup(c->group_ids_raw);
	if (c->group_ids_split == NULL)
		goto bad;
	for (p = c->group_ids_split; (tok = strtok_r(p, ", ", &save)) != NULL; p = NULL) {
		if (!util_is_token(tok, 64) || c->ngroup_ids == CONFIG_GROUPS_MAX)
			goto bad;
		c->group_ids[c->ngroup_ids++] = tok;
	}
	if (c->ngroup_ids > 0)
		return 0;
bad:
	util_format(err, errlen,
	    "GROUPSYNC_GROUP_IDS: required: a comma-separated list of up to %d Okta group IDs",
	    CONFIG_GROUPS_MAX);
	return -1;
}

/* Each remote auth mode needs its own settings. */
static int
config_validate_remote(const struct config *c, char *err, size_t errlen)
{
	const char *a = c->remote_auth, *base = config_remote_value(c, "REMOTE_BASE_URL");
	const char *missing = NULL;
	char why[160];

	if (strcmp(a, "basic") == 0 && (c->remote_username == NULL || c->remote_password == NULL))
		missing = c->remote_username ? "GROUPSYNC_REMOTE_PASSWORD" : "GROUPSYNC_REMOTE_USERNAME";
	else if (strcmp(a, "bearer") == 0 && c->remote_token == NULL)
		missing = "GROUPSYNC_REMOTE_TOKEN";
	else if (strcmp(a, "header") == 0 && c->remote_auth_header == NULL)
		missing = "GROUPSYNC_REMOTE_AUTH_HEADER";
	else if (strcmp(a, "header") == 0 && c->remote_auth_value == NULL)
		missing = "GROUPSYNC_REMOTE_AUTH_VALUE";
	else if (strcmp(a, "oauth2") == 0 && c->remote_token_url == NULL)
		missing = "GROUPSYNC_REMOTE_TOKEN_URL";
	else if (strcmp(a, "oauth2") == 0 && c->remote_client_id == NULL)
		missing = "GROUPSYNC_REMOTE_CLIENT_ID";
	else if (strcmp(a, "oauth2") == 0 && c->remote_client_secret == NULL)
		missing = "GROUPSYNC_REMOTE_CLIENT_SECRET";
	if (missing != NULL) {
		util_format(err, errlen, "%s: required with GROUPSYNC_REMOTE_AUTH=%s", missing, a);
		return -1;
	}
	if (base != NULL && config_check_url(base, c->allow_insecure_http, why, sizeof(why)) < 0) {
		util_format(err, errlen, "REMOTE_BASE_URL: %s", why);
		return -1;
	}
	return 0;
}

/* Cross-field rules, after every value passed its own check. */
int
config_validate_all(struct config *c, char *err, size_t errlen)
{
	if (c->hook_secret == NULL) {
		util_format(err, errlen, "GROUPSYNC_HOOK_SECRET: required");
		return -1;
	}
	if (c->okta_org_url == NULL) {
		util_format(err, errlen, "GROUPSYNC_OKTA_ORG_URL: required");
		return -1;
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		util_format(err, errlen, "%s: GROUPSYNC_TLS_CERT and GROUPSYNC_TLS_KEY go together",
		    c->tls_cert ? "GROUPSYNC_TLS_KEY" : "GROUPSYNC_TLS_CERT");
		return -1;
	}
	c->tls = c->tls_cert != NULL;
	if (c->okta_api_token == NULL &&
	    (c->okta_client_id == NULL || c->okta_private_key == NULL)) {
		util_format(err, errlen,
		    "GROUPSYNC_OKTA_API_TOKEN: required unless GROUPSYNC_OKTA_CLIENT_ID and "
		    "GROUPSYNC_OKTA_PRIVATE_KEY are set");
		return -1;
	}
	if ((c->okta_client_id == NULL) != (c->okta_private_key == NULL)) {
		util_format(err, errlen, "%s: required with %s",
		    c->okta_client_id ? "GROUPSYNC_OKTA_PRIVATE_KEY" : "GROUPSYNC_OKTA_CLIENT_ID",
		    c->okta_client_id ? "GROUPSYNC_OKTA_CLIENT_ID" : "GROUPSYNC_OKTA_PRIVATE_KEY");
		return -1;
	}
	if (config_validate_remote(c, err, errlen) < 0)
		return -1;
	return config_split_groups(c, err, errlen);
}
