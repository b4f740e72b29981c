/*
 * config: groupsync's settings, from one table (config.c) that drives
 * loading (JSON file, then environment, then NAME_FILE for secrets),
 * validation, the redacted dump of check-config and --help.
 *
 * Precedence: environment > --config file > default. A secret may be given
 * as NAME_FILE=/path (in the environment or the file) instead of NAME.
 *
 * Ownership: config_load fills a struct config that owns its strings;
 * release with config_free. After start-up it is read-only and shared by
 * every thread.
 */
#ifndef GROUPSYNC_CONFIG_H
#define GROUPSYNC_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_GROUPS_MAX 64
#define CONFIG_OPTIONS_MAX 64
#define CONFIG_REMOTE_VARS_MAX 64

struct config {
	char *listen;
	char *tls_cert;
	char *tls_key;
	char *trusted_proxies; /* "" or addresses/CIDRs: see netaddr.h */
	char *hook_path;
	char *hook_auth_header;
	char *hook_secret;
	char *hook_secret_next;
	char *status_token; /* GET /status; NULL: off */
	char *okta_org_url;
	char *okta_api_token;
	char *okta_client_id;
	char *okta_private_key;
	char *okta_key_id;
	char *okta_scopes;
	char *okta_dpop;
	char *group_ids_raw;
	char *remote_id_attribute;
	char *hooks_dir;
	char *data_dir;
	char *store; /* GROUPSYNC_STORE: "sqlite" or a postgresql:// URI */
	char *log_format;
	char *log_level;
	char *remote_auth;
	char *remote_username;
	char *remote_password;
	char *remote_token;
	char *remote_auth_header;
	char *remote_auth_value;
	char *remote_token_url;
	char *remote_client_id;
	char *remote_client_secret;
	char *remote_scope;
	char *deprovision; /* "delete", "disable" or "none" */
	int push_groups;   /* 1: mirror the configured groups remotely */
	int workers;
	int max_attempts;
	int deprovision_threshold; /* deprovisions per hour before holding, 0 off */
	int retry_base_ms;
	int retry_max_ms;
	int http_timeout_ms;
	int connect_timeout_ms;
	int shutdown_grace_ms;
	int retention_days;
	int http_threads;
	int request_timeout_ms;
	int reconcile_interval_s; /* serve: seconds between reconciles, 0 off */
	int allow_insecure_http;
	int store_lease_ms; /* GROUPSYNC_STORE_LEASE_MS */
	int okta_rate_share;  /* percent of each Okta bucket per window, 1-100 */
	int okta_concurrency; /* Okta calls in flight per process, 1-75 */

	/* Derived by validation. */
	const char *group_ids[CONFIG_GROUPS_MAX]; /* point into group_ids_split */
	size_t ngroup_ids;
	char *group_ids_split;
	int tls; /* 1 when cert and key are set */

	/* REMOTE_* values the templates read as {{env.NAME}}: file, then
	 * environment; REMOTE_X_FILE=/path reads X from a file (secret). */
	char *remote_names[CONFIG_REMOTE_VARS_MAX];
	char *remote_values[CONFIG_REMOTE_VARS_MAX];
	unsigned char remote_secret[CONFIG_REMOTE_VARS_MAX];
	size_t nremote;
	unsigned char origin[CONFIG_OPTIONS_MAX]; /* per table row: where from */
};

/*
 * Loads defaults, then the JSON file at path (NULL: none), then the
 * environment, then validates. On error returns -1 with a one-line
 * message naming the variable in err; the struct is then freed.
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
void config_free(struct config *c);

/*
 * Calls fn with every secret value set: each secret setting and each
 * REMOTE_* variable read from a *_FILE. Commands register them all with
 * log_add_secret, so that a new secret setting cannot be forgotten.
 */
void config_each_secret(const struct config *c, void (*fn)(const char *));

/* The value of a REMOTE_* template variable, or NULL when unset. */
const char *config_remote_value(const struct config *c, const char *name);

/* Prints every setting, one per line, secrets redacted. */
void config_dump(const struct config *c, FILE *out);

/* Prints the settings table (name, default, meaning) for --help. */
void config_help(FILE *out);

/*
 * The environment's GROUPSYNC_* variables that name no setting (nor a
 * secret's NAME_FILE): fn(message, arg) for each, the message naming the
 * variable and the closest known name ("GROUPSYNC_WORKRES: unknown
 * setting (did you mean GROUPSYNC_WORKERS?)"). Returns how many.
 */
size_t config_unknown_env(void (*fn)(const char *message, void *arg), void *arg);

#endif
