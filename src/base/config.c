/*
 * config: the settings, table-driven. One table lists every setting; it
 * drives loading (defaults, the JSON config file, the environment,
 * NAME_FILE secrets), the check of each value and of the settings
 * together, check-config's redacted dump and --help.
 */
#include "groupsync/base/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <json-c/json.h>

#include "groupsync/base/log.h"
#include "groupsync/base/netaddr.h"
#include "groupsync/base/url.h"
#include "groupsync/base/util.h"

#define CONFIG_FILE_MAX (64 * 1024) /* secret files, config files */

enum config_type { CT_STRING, CT_SECRET, CT_INT, CT_BOOL };
/* CO_FILE: the --config file; CO_SECRET_FILE: a NAME_FILE secret file
 * (named by either source), which check-config shows as "(file)" */
enum config_origin { CO_UNSET = 0, CO_DEFAULT, CO_FILE, CO_ENV, CO_SECRET_FILE };

struct config_option;
typedef int (*config_check_fn)(const struct config *, const struct config_option *,
    const char *, char *, size_t);

/* One setting: a row of the table below. */
struct config_option {
	const char *name;
	enum config_type type;
	const char *def;     /* NULL: unset by default */
	size_t offset;       /* of a char * (strings) or int field */
	int min, max;        /* CT_INT bounds */
	config_check_fn check;
	const char *choices; /* "a|b|c" for check_choice */
	const char *help;
};

/* Checks of one value, named in the table below (defined further down). */
static int check_listen(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_path(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_header(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_secret(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_url(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_word(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_proxies(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_choice(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_readable(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_dir(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_pem_key(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int check_store(const struct config *, const struct config_option *, const char *,
    char *, size_t);
static int config_validate_all(struct config *c, char *err, size_t errlen);

/*
 * The settings table: one row a setting (name, type, default, field,
 * bounds, check, help). It drives loading, validation, check-config's
 * dump and --help; a new setting is one row here, a field in struct
 * config, and a row in the README's table.
 */


#define S(f) offsetof(struct config, f)
static const struct config_option config_options[] = {
	{"GROUPSYNC_LISTEN", CT_STRING, "0.0.0.0:8443", S(listen), 0, 0, check_listen, NULL,
	    "host:port to listen on ([::1]:port for IPv6)"},
	{"GROUPSYNC_TLS_CERT", CT_STRING, NULL, S(tls_cert), 0, 0, check_readable, NULL,
	    "PEM certificate chain; with GROUPSYNC_TLS_KEY: serve HTTPS"},
	{"GROUPSYNC_TLS_KEY", CT_SECRET, NULL, S(tls_key), 0, 0, check_readable, NULL,
	    "PEM private key file for GROUPSYNC_TLS_CERT"},
	{"GROUPSYNC_TRUSTED_PROXIES", CT_STRING, "", S(trusted_proxies), 0, 0, check_proxies,
	    NULL, "reverse proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For is logged as the client"},
	{"GROUPSYNC_HOOK_PATH", CT_STRING, "/hooks/okta", S(hook_path), 0, 0, check_path, NULL,
	    "event hook path"},
	{"GROUPSYNC_HOOK_AUTH_HEADER", CT_STRING, "Authorization", S(hook_auth_header), 0, 0,
	    check_header, NULL, "header Okta sends the secret in"},
	{"GROUPSYNC_HOOK_SECRET", CT_SECRET, NULL, S(hook_secret), 0, 0, check_secret, NULL,
	    "expected value of that header (required)"},
	{"GROUPSYNC_HOOK_SECRET_NEXT", CT_SECRET, NULL, S(hook_secret_next), 0, 0, check_secret, NULL,
	    "second accepted value, for rotation"},
	{"GROUPSYNC_STATUS_TOKEN", CT_SECRET, NULL, S(status_token), 0, 0, check_secret, NULL,
	    "enables GET /status (operator page) for holders of this token"},
	{"GROUPSYNC_OKTA_ORG_URL", CT_STRING, NULL, S(okta_org_url), 0, 0, check_url, NULL,
	    "Okta org URL, e.g. https://example.okta.com (required)"},
	{"GROUPSYNC_OKTA_API_TOKEN", CT_SECRET, NULL, S(okta_api_token), 0, 0, NULL, NULL,
	    "SSWS API token (or OAuth below)"},
	{"GROUPSYNC_OKTA_CLIENT_ID", CT_STRING, NULL, S(okta_client_id), 0, 0, check_word, NULL,
	    "OAuth 2.0 service app client ID"},
	{"GROUPSYNC_OKTA_PRIVATE_KEY", CT_SECRET, NULL, S(okta_private_key), 0, 0, check_pem_key,
	    NULL, "PEM private key (RSA: RS256, EC P-256: ES256) of that app"},
	{"GROUPSYNC_OKTA_KEY_ID", CT_STRING, NULL, S(okta_key_id), 0, 0, check_word, NULL,
	    "kid of that key as registered in Okta"},
	{"GROUPSYNC_OKTA_SCOPES", CT_STRING, "okta.users.read okta.users.manage okta.groups.read",
	    S(okta_scopes), 0, 0, NULL, NULL, "OAuth scopes requested"},
	{"GROUPSYNC_OKTA_DPOP", CT_STRING, "auto", S(okta_dpop), 0, 0, check_choice,
	    "auto|on|off", "DPoP-bound tokens (auto: when Okta asks for them)"},
	{"GROUPSYNC_OKTA_RATE_SHARE", CT_INT, "50", S(okta_rate_share), 1, 100, NULL, NULL,
	    "percent of each Okta rate-limit bucket groupsync spends per window, paced evenly "
	    "over it (the rest is left to the org's other clients)"},
	{"GROUPSYNC_OKTA_CONCURRENCY", CT_INT, "10", S(okta_concurrency), 1, 75, NULL, NULL,
	    "most Okta calls in flight at once per process (Okta's org limit is 75)"},
	{"GROUPSYNC_GROUP_IDS", CT_STRING, NULL, S(group_ids_raw), 0, 0, NULL, NULL,
	    "comma-separated Okta group IDs to sync (required)"},
	{"GROUPSYNC_REMOTE_ID_ATTRIBUTE", CT_STRING, "customId", S(remote_id_attribute), 0, 0,
	    check_word, NULL, "Okta profile attribute for the remote ID"},
	{"GROUPSYNC_HOOKS_DIR", CT_STRING, "hooks/rest", S(hooks_dir), 0, 0, NULL, NULL,
	    "directory of request templates"},
	{"GROUPSYNC_DEPROVISION", CT_STRING, "delete", S(deprovision), 0, 0, check_choice,
	    "delete|disable|none", "what leaving every synced group does remotely: delete the "
	    "record, disable it (disable.json), or none (only groupsync forgets it)"},
	{"GROUPSYNC_PUSH_GROUPS", CT_BOOL, "0", S(push_groups), 0, 1, NULL, NULL,
	    "1: mirror each configured group as a remote group with the synced members "
	    "(group_*.json)"},
	{"GROUPSYNC_DATA_DIR", CT_STRING, "/var/lib/groupsync", S(data_dir), 0, 0, check_dir, NULL,
	    "directory of the queue database"},
	/* a secret: a URI may carry the database password */
	{"GROUPSYNC_STORE", CT_SECRET, "sqlite", S(store), 0, 0, check_store, NULL,
	    "sqlite (a file in GROUPSYNC_DATA_DIR) or a postgresql:// URI shared by replicas"},
	{"GROUPSYNC_STORE_LEASE_MS", CT_INT, "30000", S(store_lease_ms), 500, 3600000, NULL, NULL,
	    "postgresql: a replica that stops renewing its leases (it died) loses its jobs to the "
	    "others after this long"},
	{"GROUPSYNC_REMOTE_AUTH", CT_STRING, "none", S(remote_auth), 0, 0, check_choice,
	    "none|basic|bearer|header|oauth2", "how groupsync authenticates to the remote API"},
	{"GROUPSYNC_REMOTE_USERNAME", CT_STRING, NULL, S(remote_username), 0, 0, NULL, NULL,
	    "basic: user name"},
	{"GROUPSYNC_REMOTE_PASSWORD", CT_SECRET, NULL, S(remote_password), 0, 0, NULL, NULL,
	    "basic: password"},
	{"GROUPSYNC_REMOTE_TOKEN", CT_SECRET, NULL, S(remote_token), 0, 0, NULL, NULL,
	    "bearer: token"},
	{"GROUPSYNC_REMOTE_AUTH_HEADER", CT_STRING, NULL, S(remote_auth_header), 0, 0,
	    check_header, NULL, "header: header name"},
	{"GROUPSYNC_REMOTE_AUTH_VALUE", CT_SECRET, NULL, S(remote_auth_value), 0, 0, NULL, NULL,
	    "header: header value"},
	{"GROUPSYNC_REMOTE_TOKEN_URL", CT_STRING, NULL, S(remote_token_url), 0, 0, check_url,
	    NULL, "oauth2: token endpoint (client credentials)"},
	{"GROUPSYNC_REMOTE_CLIENT_ID", CT_STRING, NULL, S(remote_client_id), 0, 0, NULL, NULL,
	    "oauth2: client ID"},
	{"GROUPSYNC_REMOTE_CLIENT_SECRET", CT_SECRET, NULL, S(remote_client_secret), 0, 0, NULL,
	    NULL, "oauth2: client secret"},
	{"GROUPSYNC_REMOTE_SCOPE", CT_STRING, NULL, S(remote_scope), 0, 0, NULL, NULL,
	    "oauth2: scope (optional)"},
	{"GROUPSYNC_WORKERS", CT_INT, "4", S(workers), 0, 64, NULL, NULL,
	    "worker threads (0: queue deliveries, sync nothing)"},
	{"GROUPSYNC_MAX_ATTEMPTS", CT_INT, "10", S(max_attempts), 1, 1000, NULL, NULL,
	    "attempts before a job is dead-lettered"},
	{"GROUPSYNC_DEPROVISION_THRESHOLD", CT_INT, "100", S(deprovision_threshold), 0, 1000000,
	    NULL, NULL, "deprovisions per hour (every replica on the store counted together) "
	    "past which the rest are held for an operator (queue release-held or drop; 0 off)"},
	{"GROUPSYNC_RETRY_BASE_MS", CT_INT, "1000", S(retry_base_ms), 1, 3600000, NULL, NULL,
	    "first retry delay; doubles per attempt, with jitter"},
	{"GROUPSYNC_RETRY_MAX_MS", CT_INT, "300000", S(retry_max_ms), 1, 86400000, NULL, NULL,
	    "longest retry delay"},
	{"GROUPSYNC_HTTP_TIMEOUT_MS", CT_INT, "10000", S(http_timeout_ms), 100, 300000, NULL,
	    NULL, "total time limit of each outbound call"},
	{"GROUPSYNC_CONNECT_TIMEOUT_MS", CT_INT, "3000", S(connect_timeout_ms), 100, 60000, NULL,
	    NULL, "connect time limit of each outbound call"},
	{"GROUPSYNC_SHUTDOWN_GRACE_MS", CT_INT, "10000", S(shutdown_grace_ms), 0, 600000, NULL,
	    NULL, "at stop, how long syncs in flight may finish before their calls are aborted"},
	{"GROUPSYNC_RETENTION_DAYS", CT_INT, "7", S(retention_days), 1, 3650, NULL, NULL,
	    "days done jobs and delivery IDs are kept (dead jobs stay until acted on)"},
	/* 256: a thread costs a 16 KiB buffer and a little stack, and the
	 * connection guard frees threads held by slow clients once per
	 * second, so the more threads, the larger an attack that real
	 * deliveries still get through in Okta's 3 s (conn_guard.h). */
	{"GROUPSYNC_HTTP_THREADS", CT_INT, "256", S(http_threads), 4, 1024, NULL, NULL,
	    "HTTP connection threads (each serves one connection at a time)"},
	{"GROUPSYNC_REQUEST_TIMEOUT_MS", CT_INT, "5000", S(request_timeout_ms), 100, 60000,
	    NULL, NULL, "deadline of a new connection's TLS handshake, header and body together"},
	{"GROUPSYNC_RECONCILE_INTERVAL", CT_INT, "0", S(reconcile_interval_s), 0, 604800, NULL,
	    NULL, "serve: seconds between reconciles (0: off; 60 or more is sensible)"},
	{"GROUPSYNC_LOG_FORMAT", CT_STRING, "json", S(log_format), 0, 0, check_choice,
	    "json|text", "log line format"},
	{"GROUPSYNC_LOG_LEVEL", CT_STRING, "info", S(log_level), 0, 0, check_choice,
	    "debug|info|warn|error", "lowest level logged"},
	{"GROUPSYNC_ALLOW_INSECURE_HTTP", CT_BOOL, "0", S(allow_insecure_http), 0, 1, NULL, NULL,
	    "1: allow http:// URLs to non-loopback hosts"},
};
#undef S

_Static_assert(sizeof(config_options) / sizeof(config_options[0]) <= CONFIG_OPTIONS_MAX,
    "raise CONFIG_OPTIONS_MAX");

static const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);

#define NOPTIONS config_noptions

static char **
config_str(struct config *c, const struct config_option *o)
{
	return (char **)(void *)((char *)c + o->offset);
}

static const char *
config_cstr(const struct config *c, const struct config_option *o)
{
	return *(char *const *)(const void *)((const char *)c + o->offset);
}

static int *
config_int(struct config *c, const struct config_option *o)
{
	return (int *)(void *)((char *)c + o->offset);
}

/* Reads a small file whole; strips one trailing newline (secret files). */
static char *
config_read_file(const char *path, char *err, size_t errlen, const char *name)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		util_format(err, errlen, "%s: cannot read %s: %s", name, path, strerror(errno));
		return NULL;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (buf == NULL || n > CONFIG_FILE_MAX) {
		util_format(err, errlen, "%s: %s is larger than %d bytes", name, path,
		    CONFIG_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (strlen(buf) != n) {
		util_format(err, errlen, "%s: %s contains a NUL byte", name, path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Sets the raw string of an option; "" means unset (compose passes
 * empty variables for unset ones). */
static int
config_set_raw(char **raw, unsigned char *origin, const char *value, enum config_origin from)
{
	char *copy = NULL;

	if (value != NULL && value[0] != '\0') {
		copy = strdup(value);
		if (copy == NULL)
			return -1;
	}
	free(*raw);
	*raw = copy;
	*origin = copy ? (unsigned char)from : CO_UNSET;
	return 0;
}

/* Applies NAME and (for secrets) NAME_FILE from one source; both set is
 * an error, since which one wins would be a guess. */
static int
config_apply_source(char **raw, unsigned char *origin, const struct config_option *o,
    const char *value, const char *file_value, enum config_origin from, char *err,
    size_t errlen)
{
	char *content;
	int rc;

	if (value != NULL && value[0] != '\0' && file_value != NULL && file_value[0] != '\0') {
		util_format(err, errlen, "%s and %s_FILE are both set: set only one",
		    o->name, o->name);
		return -1;
	}
	if (file_value != NULL && file_value[0] != '\0') {
		content = config_read_file(file_value, err, errlen, o->name);
		if (content == NULL)
			return -1;
		rc = config_set_raw(raw, origin, content, CO_SECRET_FILE);
		memset(content, 0, strlen(content));
		free(content);
		return rc;
	}
	/* Empty is not given (compose passes empty variables for unset
	 * ones): the default or the file's value stays. Clearing it instead
	 * left a NULL where the rest of groupsync expects a default
	 * ("GROUPSYNC_REMOTE_AUTH=" crashed config_validate_remote). */
	if (value != NULL && value[0] != '\0')
		return config_set_raw(raw, origin, value, from);
	return 0;
}

/*
 * REMOTE_* template variables: any name, so they are kept in a small list
 * rather than the table. NAME_FILE reads NAME from a file and marks it
 * secret (redacted in check-config and logs).
 */
static int
config_remote_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	char name[128], *content = NULL;
	size_t i, n = strlen(key);
	int secret = 0;

	err[0] = '\0';
	if (n > 5 && strcmp(key + n - 5, "_FILE") == 0) {
		if (util_format(name, sizeof(name), "%.*s", (int)(n - 5), key) < 0)
			goto bad;
		content = config_read_file(value, err, errlen, name);
		if (content == NULL)
			return -1;
		value = content;
		secret = 1;
	} else if (util_copy(name, sizeof(name), key) < 0) {
		goto bad;
	}
	for (i = 0; i < c->nremote && strcmp(c->remote_names[i], name) != 0; i++)
		;
	if (i == CONFIG_REMOTE_VARS_MAX)
		goto bad;
	if (i == c->nremote) {
		c->remote_names[i] = strdup(name);
		c->nremote++;
	}
	free(c->remote_values[i]);
	c->remote_values[i] = strdup(value);
	c->remote_secret[i] = (unsigned char)secret;
	free(content);
	if (c->remote_names[i] == NULL || c->remote_values[i] == NULL)
		goto bad;
	return 0;
bad:
	free(content);
	util_format(err, errlen, "%.64s: too many or too long REMOTE_* variables (at most %d)",
	    key, CONFIG_REMOTE_VARS_MAX);
	return -1;
}

static int
config_remote_env(struct config *c, char *err, size_t errlen)
{
	extern char **environ;
	char key[128];
	char **e;

	for (e = environ; *e != NULL; e++) {
		size_t n = strcspn(*e, "=");

		if (strncmp(*e, "REMOTE_", 7) != 0 || (*e)[n] != '=' || n >= sizeof(key))
			continue;
		memcpy(key, *e, n);
		key[n] = '\0';
		if (config_remote_set(c, key, *e + n + 1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

const char *
config_remote_value(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nremote; i++) {
		if (strcmp(c->remote_names[i], name) == 0)
			return c->remote_values[i];
	}
	return NULL;
}

static void
config_remote_free(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nremote; i++) {
		if (c->remote_secret[i] && c->remote_values[i] != NULL)
			memset(c->remote_values[i], 0, strlen(c->remote_values[i]));
		free(c->remote_names[i]);
		free(c->remote_values[i]);
	}
	c->nremote = 0;
}

/* A JSON config value as a string: strings, integers and booleans. */
static int
config_json_value(json_object *v, char *buf, size_t len)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return util_copy(buf, len, json_object_get_string(v));
	case json_type_int:
		return util_format(buf, len, "%lld", (long long)json_object_get_int64(v)) < 0 ? -1 : 0;
	case json_type_boolean:
		return util_copy(buf, len, json_object_get_boolean(v) ? "1" : "0");
	default:
		return -1;
	}
}

static const struct config_option *
config_find(const char *name, int *is_file)
{
	size_t i, n;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		n = strlen(o->name);
		if (strcmp(name, o->name) == 0) {
			*is_file = 0;
			return o;
		}
		if (o->type == CT_SECRET && strncmp(name, o->name, n) == 0 &&
		    strcmp(name + n, "_FILE") == 0) {
			*is_file = 1;
			return o;
		}
	}
	return NULL;
}

/* Loads the JSON config file into raw values: keys are the variable names. */
static int
config_load_file(struct config *c, char **raw, const char *path, char *err, size_t errlen)
{
	unsigned char *origin = c->origin;
	char *text, value[CONFIG_FILE_MAX];
	json_object *root;
	int rc = -1;

	text = config_read_file(path, err, errlen, "--config");
	if (text == NULL)
		return -1;
	root = json_tokener_parse(text);
	free(text);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		util_format(err, errlen, "--config: %s is not a JSON object", path);
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		int is_file;
		const struct config_option *o = config_find(key, &is_file);
		size_t i;

		if (strncmp(key, "REMOTE_", 7) == 0) {
			if (config_json_value(val, value, sizeof(value)) < 0 ||
			    config_remote_set(c, key, value, err, errlen) < 0) {
				if (err[0] == '\0')
					util_format(err, errlen, "%s: in %s: must be a string", key, path);
				goto out;
			}
			continue;
		}
		if (o == NULL) {
			util_format(err, errlen, "--config: unknown key %.64s in %s", key, path);
			goto out;
		}
		if (config_json_value(val, value, sizeof(value)) < 0) {
			util_format(err, errlen, "%s: in %s: must be a string, number or boolean",
			    key, path);
			goto out;
		}
		i = (size_t)(o - config_options);
		if (config_apply_source(&raw[i], &origin[i], o, is_file ? NULL : value,
		    is_file ? value : NULL, CO_FILE, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

static int
config_load_env(char **raw, unsigned char *origin, char *err, size_t errlen)
{
	char fname[128];
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		const char *fv = NULL;

		if (o->type == CT_SECRET) {
			util_format(fname, sizeof(fname), "%s_FILE", o->name);
			fv = getenv(fname);
		}
		if (config_apply_source(&raw[i], &origin[i], o, getenv(o->name), fv, CO_ENV,
		    err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int
config_parse_int(const struct config_option *o, const char *s, int *out, char *err,
    size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (o->type == CT_BOOL) {
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
			v = 1, end = (char *)s + strlen(s);
		else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
			v = 0, end = (char *)s + strlen(s);
	}
	if (errno != 0 || end == s || *end != '\0' || v < o->min || v > o->max) {
		if (o->type == CT_BOOL)
			util_format(err, errlen, "%s: must be 0 or 1", o->name);
		else
			util_format(err, errlen, "%s: must be an integer from %d to %d",
			    o->name, o->min, o->max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Moves raw strings into the typed struct (ownership passes to c). */
static int
config_convert(struct config *c, char **raw, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];

		if (o->type == CT_STRING || o->type == CT_SECRET) {
			*config_str(c, o) = raw[i];
			raw[i] = NULL;
		} else if (config_parse_int(o, raw[i] ? raw[i] : o->def, config_int(c, o), err,
		    errlen) < 0) {
			return -1;
		}
	}
	return 0;
}

static int
config_check_values(struct config *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		const char *v;

		if (o->check == NULL || (o->type != CT_STRING && o->type != CT_SECRET))
			continue;
		v = config_cstr(c, o);
		if (v != NULL && o->check(c, o, v, err, errlen) < 0)
			return -1;
	}
	return config_validate_all(c, err, errlen);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char *raw[CONFIG_OPTIONS_MAX] = {0};
	size_t i;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NOPTIONS; i++) {
		if (config_set_raw(&raw[i], &c->origin[i], config_options[i].def, CO_DEFAULT) < 0)
			goto out;
	}
	if (path != NULL && config_load_file(c, raw, path, err, errlen) < 0)
		goto out;
	if (config_load_env(raw, c->origin, err, errlen) < 0)
		goto out;
	if (config_remote_env(c, err, errlen) < 0)
		goto out;
	if (config_convert(c, raw, err, errlen) < 0)
		goto out;
	rc = config_check_values(c, err, errlen);
out:
	for (i = 0; i < NOPTIONS; i++)
		free(raw[i]);
	if (rc < 0)
		config_free(c);
	return rc;
}

void
config_free(struct config *c)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		char **s;

		if (o->type != CT_STRING && o->type != CT_SECRET)
			continue;
		s = config_str(c, o);
		if (*s != NULL && o->type == CT_SECRET)
			memset(*s, 0, strlen(*s));
		free(*s);
		*s = NULL;
	}
	config_remote_free(c);
	free(c->group_ids_split);
	c->group_ids_split = NULL;
	c->ngroup_ids = 0;
}

void
config_each_secret(const struct config *c, void (*fn)(const char *))
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const char *v;

		if (config_options[i].type != CT_SECRET)
			continue; /* the offset of an int setting is no char * */
		v = config_cstr(c, &config_options[i]);
		if (v != NULL)
			fn(v);
	}
	for (i = 0; i < c->nremote; i++) {
		if (c->remote_secret[i])
			fn(c->remote_values[i]);
	}
}

static const char *const config_origin_names[] = {"unset", "default", "config", "env", "file"};

void
config_dump(const struct config *c, FILE *out)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		const char *origin = config_origin_names[c->origin[i]];

		if (o->type == CT_INT || o->type == CT_BOOL) {
			fprintf(out, "%s=%d (%s)\n", o->name,
			    *(const int *)(const void *)((const char *)c + o->offset), origin);
		} else if (config_cstr(c, o) == NULL) {
			fprintf(out, "%s= (unset)\n", o->name);
		} else if (o->type == CT_SECRET) {
			fprintf(out, "%s=<redacted> (%s)\n", o->name, origin);
		} else {
			fprintf(out, "%s=%s (%s)\n", o->name, config_cstr(c, o), origin);
		}
	}
	for (i = 0; i < c->nremote; i++) {
		fprintf(out, "%s=%s (template variable)\n", c->remote_names[i],
		    c->remote_secret[i] ? "<redacted>" : c->remote_values[i]);
	}
}

void
config_help(FILE *out)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];

		fprintf(out, "  %-30s %s%s%s%s%s%s\n", o->name, o->help,
		    o->choices ? ": " : "", o->choices ? o->choices : "",
		    o->def ? " [default: " : "", o->def ? o->def : "", o->def ? "]" : "");
		if (o->type == CT_SECRET)
			fprintf(out, "  %-30s   (or %s_FILE=/path/to/file)\n", "", o->name);
	}
	fprintf(out, "  %-30s values the request templates read as {{env.REMOTE_X}},\n"
	    "  %-30s e.g. REMOTE_BASE_URL; REMOTE_X_FILE=/path reads a secret one\n",
	    "REMOTE_*", "");
}

/*
 * Validation of setting values: one check per kind of value, and the
 * rules that relate settings to each other.
 */

static int
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

static int
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

static int
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

static int
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

static int
check_url(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	char why[128];

	if (url_check(v, c->allow_insecure_http, why, sizeof(why)) == 0)
		return 0;
	util_format(err, errlen, "%s: %s", o->name, why);
	return -1;
}

static int
check_word(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (util_is_token(v, 128))
		return 0;
	util_format(err, errlen, "%s: must be letters, digits and ._:@+- only", o->name);
	return -1;
}

static int
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

static int
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

static int
check_readable(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (access(v, R_OK) == 0)
		return 0;
	util_format(err, errlen, "%s: cannot read %s: %s", o->name, v, strerror(errno));
	return -1;
}

static int
check_dir(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	/* a shared store keeps nothing in the data directory */
	if (c->store != NULL && strcmp(c->store, "sqlite") != 0)
		return 0;
	if (access(v, W_OK | X_OK) == 0)
		return 0;
	util_format(err, errlen, "%s: %s is not a writable directory: %s", o->name, v,
	    strerror(errno));
	return -1;
}

/* The OAuth app key must be PEM and RSA (RS256) or EC P-256 (ES256). */
static int
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

/* Never quotes the value: a URI may carry a password. */
static int
check_store(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	(void)c;
	if (strcmp(v, "sqlite") == 0 || (strncmp(v, "postgresql://", 13) == 0 ||
	    strncmp(v, "postgres://", 11) == 0))
		return 0;
	util_format(err, errlen, "%s: must be sqlite or a postgresql:// URI", o->name);
	return -1;
}

/* Splits GROUPSYNC_GROUP_IDS into group_ids[]. */
/* Appends one problem to err, a line each (*n counts them). */
static void
config_add_problem(char *err, size_t errlen, size_t *n, const char *problem)
{
	size_t used = strlen(err);

	if (used < errlen)
		(void)util_format(err + used, errlen - used, "%s%s", *n > 0 ? "\n" : "",
		    problem);
	(*n)++;
}

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
	if (base != NULL && url_check(base, c->allow_insecure_http, why, sizeof(why)) < 0) {
		util_format(err, errlen, "REMOTE_BASE_URL: %s", why);
		return -1;
	}
	return 0;
}

/* Cross-field rules, after every value passed its own check. */
static int
config_validate_all(struct config *c, char *err, size_t errlen)
{
	/* Every problem at once, one per line (check-config from an empty
	 * environment used to take a run per missing setting). */
	char one[512];
	size_t n = 0;

#define CONFIG_PROBLEM(...) do { \
	util_format(one, sizeof(one), __VA_ARGS__); \
	config_add_problem(err, errlen, &n, one); \
} while (0)
	err[0] = '\0';
	if (c->hook_secret == NULL)
		CONFIG_PROBLEM("GROUPSYNC_HOOK_SECRET: required");
	if (c->okta_org_url == NULL)
		CONFIG_PROBLEM("GROUPSYNC_OKTA_ORG_URL: required");
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		CONFIG_PROBLEM("%s: GROUPSYNC_TLS_CERT and GROUPSYNC_TLS_KEY go together",
		    c->tls_cert ? "GROUPSYNC_TLS_KEY" : "GROUPSYNC_TLS_CERT");
	c->tls = c->tls_cert != NULL;
	if (c->okta_api_token == NULL &&
	    (c->okta_client_id == NULL || c->okta_private_key == NULL))
		CONFIG_PROBLEM("GROUPSYNC_OKTA_API_TOKEN: required unless GROUPSYNC_OKTA_CLIENT_ID "
		    "and GROUPSYNC_OKTA_PRIVATE_KEY are set");
	if ((c->okta_client_id == NULL) != (c->okta_private_key == NULL))
		CONFIG_PROBLEM("%s: required with %s",
		    c->okta_client_id ? "GROUPSYNC_OKTA_PRIVATE_KEY" : "GROUPSYNC_OKTA_CLIENT_ID",
		    c->okta_client_id ? "GROUPSYNC_OKTA_CLIENT_ID" : "GROUPSYNC_OKTA_PRIVATE_KEY");
	if (config_validate_remote(c, one, sizeof(one)) < 0)
		config_add_problem(err, errlen, &n, one);
	if (config_split_groups(c, one, sizeof(one)) < 0)
		config_add_problem(err, errlen, &n, one);
#undef CONFIG_PROBLEM
	return n > 0 ? -1 : 0;
}

/* Levenshtein distance of a and b, for "did you mean" (names are short). */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, row[128];

	if (lb >= sizeof(row) / sizeof(row[0]))
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = a[i - 1] == b[j - 1] ? prev : 1 + (prev < row[j] ?
			    (prev < row[j - 1] ? prev : row[j - 1]) :
			    (row[j] < row[j - 1] ? row[j] : row[j - 1]));
			prev = cur;
		}
	}
	return row[lb];
}

/* 1 when name (n bytes) is a setting, or NAME_FILE of a secret one. */
static int
config_env_known(const char *name, size_t n)
{
	size_t i, k;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];

		k = strlen(o->name);
		if (k == n && strncmp(o->name, name, n) == 0)
			return 1;
		if (o->type == CT_SECRET && n == k + 5 && strncmp(o->name, name, k) == 0 &&
		    strncmp(name + k, "_FILE", 5) == 0)
			return 1;
	}
	return 0;
}

size_t
config_unknown_env(void (*fn)(const char *message, void *arg), void *arg)
{
	extern char **environ;
	char name[128], msg[320];
	const char *best;
	size_t i, d, bestd, n, count = 0;
	char **e;

	for (e = environ; *e != NULL; e++) {
		n = strcspn(*e, "=");
		if (strncmp(*e, "GROUPSYNC_", 10) != 0 || config_env_known(*e, n) ||
		    n >= sizeof(name))
			continue;
		memcpy(name, *e, n);
		name[n] = '\0';
		best = NULL;
		bestd = (size_t)-1;
		for (i = 0; i < NOPTIONS; i++) {
			d = config_distance(name, config_options[i].name);
			if (d < bestd) {
				bestd = d;
				best = config_options[i].name;
			}
		}
		(void)util_format(msg, sizeof(msg), "%s: unknown setting (did you mean %s?)",
		    name, best != NULL ? best : "?");
		fn(msg, arg);
		count++;
	}
	return count;
}
