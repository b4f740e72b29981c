/*
 * The settings table: one row a setting (name, type, default, field,
 * bounds, check, help). It drives loading (config.c), validation
 * (config_check.c), check-config's dump and --help; a new setting is one
 * row here, a field in struct config, and a row in the README's table.
 */
#include <stddef.h>

#include "config_table.h"

#define S(f) offsetof(struct config, f)
const struct config_option config_options[] = {
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
	{"GROUPSYNC_GROUP_IDS", CT_STRING, NULL, S(group_ids_raw), 0, 0, NULL, NULL,
	    "comma-separated Okta group IDs to sync (required)"},
	{"GROUPSYNC_REMOTE_ID_ATTRIBUTE", CT_STRING, "customId", S(remote_id_attribute), 0, 0,
	    check_word, NULL, "Okta profile attribute for the remote ID"},
	{"GROUPSYNC_HOOKS_DIR", CT_STRING, "hooks/rest", S(hooks_dir), 0, 0, NULL, NULL,
	    "directory of request templates"},
	{"GROUPSYNC_DATA_DIR", CT_STRING, "/var/lib/groupsync", S(data_dir), 0, 0, check_dir, NULL,
	    "directory of the queue database"},
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

const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);
