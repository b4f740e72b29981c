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
#define CONFIG_OPTIONS_MAX 32

struct config {
	char *listen;
	char *tls_cert;
	char *tls_key;
	char *hook_path;
	char *hook_auth_header;
	char *hook_secret;
	char *hook_secret_next;
	char *okta_org_url;
	char *okta_api_token;
	char *okta_client_id;
	char *okta_private_key;
	char *group_ids_raw;
	char *remote_id_attribute;
	char *hooks_dir;
	char *data_dir;
	char *log_format;
	char *log_level;
	int workers;
	int http_threads;
	int request_timeout_ms;
	int allow_insecure_http;

	/* Derived by validation. */
	const char *group_ids[CONFIG_GROUPS_MAX]; /* point into group_ids_split */
	size_t ngroup_ids;
	char *group_ids_split;
	int tls; /* 1 when cert and key are set */
	unsigned char origin[CONFIG_OPTIONS_MAX]; /* per table row: where from */
};

/*
 * Loads defaults, then the JSON file at path (NULL: none), then the
 * environment, then validates. On error returns -1 with a one-line
 * message naming the variable in err; the struct is then freed.
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
void config_free(struct config *c);

/* Prints every setting, one per line, secrets redacted. */
void config_dump(const struct config *c, FILE *out);

/* Prints the settings table (name, default, meaning) for --help. */
void config_help(FILE *out);

/*
 * Checks that a URL is https, or http to a loopback host, or http with
 * insecure allowed. Returns 0 or -1 with the reason in err.
 */
int config_check_url(const char *url, int allow_insecure, char *err, size_t errlen);

#endif
