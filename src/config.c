#include "groupsync/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "groupsync/log.h"
#include "groupsync/util.h"

#define CONFIG_FILE_MAX (64 * 1024) /* secret files, config files */

enum config_type { CT_STRING, CT_SECRET, CT_INT, CT_BOOL };
enum config_origin { CO_UNSET = 0, CO_DEFAULT, CO_FILE, CO_ENV };

struct config_option;
typedef int (*config_check_fn)(const struct config *, const struct config_option *,
    const char *, char *, size_t);

/* One setting: the table below drives load, validation, dump and help. */
struct config_option {
	const char *name;
	enum config_type type;
	const char *def; /* NULL: unset by default */
	size_t offset;   /* of a char * (strings) or int field */
	int min, max;    /* CT_INT bounds */
	config_check_fn check;
	const char *help;
};

static int check_listen(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_path(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_header(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_secret(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_url(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_word(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_enum(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_readable(const struct config *, const struct config_option *,
    const char *, char *, size_t);
static int check_dir(const struct config *, const struct config_option *,
    const char *, char *, size_t);

#define S(f) offsetof(struct config, f)
static const struct config_option config_options[] = {
	{"GROUPSYNC_LISTEN", CT_STRING, "0.0.0.0:8443", S(listen), 0, 0, check_listen,
	    "host:port to listen on ([::1]:port for IPv6)"},
	{"GROUPSYNC_TLS_CERT", CT_STRING, NULL, S(tls_cert), 0, 0, check_readable,
	    "PEM certificate chain; with GROUPSYNC_TLS_KEY: serve HTTPS"},
	{"GROUPSYNC_TLS_KEY", CT_SECRET, NULL, S(tls_key), 0, 0, check_readable,
	    "PEM private key file for GROUPSYNC_TLS_CERT"},
	{"GROUPSYNC_HOOK_PATH", CT_STRING, "/hooks/okta", S(hook_path), 0, 0, check_path,
	    "event hook path"},
	{"GROUPSYNC_HOOK_AUTH_HEADER", CT_STRING, "Authorization", S(hook_auth_header), 0, 0,
	    check_header, "header Okta sends the secret in"},
	{"GROUPSYNC_HOOK_SECRET", CT_SECRET, NULL, S(hook_secret), 0, 0, check_secret,
	    "expected value of that header (required)"},
	{"GROUPSYNC_HOOK_SECRET_NEXT", CT_SECRET, NULL, S(hook_secret_next), 0, 0, check_secret,
	    "second accepted value, for rotation"},
	{"GROUPSYNC_OKTA_ORG_URL", CT_STRING, NULL, S(okta_org_url), 0, 0, check_url,
	    "Okta org URL, e.g. https://example.okta.com (required)"},
	{"GROUPSYNC_OKTA_API_TOKEN", CT_SECRET, NULL, S(okta_api_token), 0, 0, NULL,
	    "SSWS API token (or OAuth below)"},
	{"GROUPSYNC_OKTA_CLIENT_ID", CT_STRING, NULL, S(okta_client_id), 0, 0, check_word,
	    "OAuth 2.0 service app client ID"},
	{"GROUPSYNC_OKTA_PRIVATE_KEY", CT_SECRET, NULL, S(okta_private_key), 0, 0, NULL,
	    "PEM private key of that app (private_key_jwt)"},
	{"GROUPSYNC_GROUP_IDS", CT_STRING, NULL, S(group_ids_raw), 0, 0, NULL,
	    "comma-separated Okta group IDs to sync (required)"},
	{"GROUPSYNC_REMOTE_ID_ATTRIBUTE", CT_STRING, "customId", S(remote_id_attribute), 0, 0,
	    check_word, "Okta profile attribute for the remote ID"},
	{"GROUPSYNC_HOOKS_DIR", CT_STRING, "hooks/rest", S(hooks_dir), 0, 0, NULL,
	    "directory of request templates"},
	{"GROUPSYNC_DATA_DIR", CT_STRING, "/var/lib/groupsync", S(data_dir), 0, 0, check_dir,
	    "directory of the queue database"},
	{"GROUPSYNC_WORKERS", CT_INT, "4", S(workers), 1, 64, NULL, "worker threads"},
	{"GROUPSYNC_HTTP_THREADS", CT_INT, "64", S(http_threads), 4, 1024, NULL,
	    "HTTP connection threads (each serves one connection at a time)"},
	{"GROUPSYNC_REQUEST_TIMEOUT_MS", CT_INT, "5000", S(request_timeout_ms), 100, 60000,
	    NULL, "socket read/write timeout and whole-body deadline"},
	{"GROUPSYNC_LOG_FORMAT", CT_STRING, "json", S(log_format), 0, 0, check_enum,
	    "json or text"},
	{"GROUPSYNC_LOG_LEVEL", CT_STRING, "info", S(log_level), 0, 0, check_enum,
	    "debug, info, warn or error"},
	{"GROUPSYNC_ALLOW_INSECURE_HTTP", CT_BOOL, "0", S(allow_insecure_http), 0, 1, NULL,
	    "1: allow http:// URLs to non-loopback hosts"},
};
#undef S
#define NOPTIONS (sizeof(config_options) / sizeof(config_options[0]))

_Static_assert(sizeof(config_options) / sizeof(config_options[0]) <= CONFIG_OPTIONS_MAX,
    "raise CONFIG_OPTIONS_MAX");

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
		rc = config_set_raw(raw, origin, content, from);
		memset(content, 0, strlen(content));
		free(content);
		return rc;
	}
	if (value != NULL)
		return config_set_raw(raw, origin, value, from);
	return 0;
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
config_load_file(char **raw, unsigned char *origin, const char *path, char *err,
    size_t errlen)
{
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

		if (strncmp(key, "REMOTE_", 7) == 0)
			continue; /* template values: read by the remote module */
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

	if (config_check_url(v, c->allow_insecure_http, why, sizeof(why)) == 0)
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
check_enum(const struct config *c, const struct config_option *o, const char *v,
    char *err, size_t errlen)
{
	enum log_level l;
	enum log_format f;

	(void)c;
	if (strcmp(o->name, "GROUPSYNC_LOG_LEVEL") == 0 && log_parse_level(v, &l) == 0)
		return 0;
	if (strcmp(o->name, "GROUPSYNC_LOG_FORMAT") == 0 && log_parse_format(v, &f) == 0)
		return 0;
	util_format(err, errlen, "%s: must be one of: %s", o->name, o->help);
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
	(void)c;
	if (access(v, W_OK | X_OK) == 0)
		return 0;
	util_format(err, errlen, "%s: %s is not a writable directory: %s", o->name, v,
	    strerror(errno));
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

/* Cross-field rules, after every value passed its own check. */
static int
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
	return config_split_groups(c, err, errlen);
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
	char *raw[NOPTIONS] = {0};
	size_t i;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NOPTIONS; i++) {
		if (config_set_raw(&raw[i], &c->origin[i], config_options[i].def, CO_DEFAULT) < 0)
			goto out;
	}
	if (path != NULL && config_load_file(raw, c->origin, path, err, errlen) < 0)
		goto out;
	if (config_load_env(raw, c->origin, err, errlen) < 0)
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
	free(c->group_ids_split);
	c->group_ids_split = NULL;
	c->ngroup_ids = 0;
}

static const char *const config_origin_names[] = {"unset", "default", "file", "env"};

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
}

void
config_help(FILE *out)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];

		fprintf(out, "  %-30s %s%s%s%s\n", o->name, o->help,
		    o->def ? " [default: " : "", o->def ? o->def : "", o->def ? "]" : "");
		if (o->type == CT_SECRET)
			fprintf(out, "  %-30s   (or %s_FILE=/path/to/file)\n", "", o->name);
	}
}
