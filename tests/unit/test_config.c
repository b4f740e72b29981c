/* Unit tests of config (table, precedence, secrets, validation), log
 * (format, redaction) and util (constant-time comparison). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "groupsync/base/config.h"
#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

extern char **environ;

static char tmpdir[64];

/* Clears every GROUPSYNC_* variable, then sets a minimal valid config. */
static void
env_reset(void)
{
	char **e;
	int again = 1;

	while (again) {
		again = 0;
		for (e = environ; *e != NULL; e++) {
			if (strncmp(*e, "GROUPSYNC_", 10) == 0 ||
			    strncmp(*e, "REMOTE_", 7) == 0) {
				char name[128];
				size_t n = strcspn(*e, "=");
				memcpy(name, *e, n);
				name[n] = '\0';
				unsetenv(name);
				again = 1;
				break;
			}
		}
	}
	strcpy(tmpdir, "/tmp/gs-config-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	setenv("GROUPSYNC_HOOK_SECRET", "s3cret-s3cret-s3cret", 1);
	setenv("GROUPSYNC_OKTA_ORG_URL", "https://example.okta.com", 1);
	setenv("GROUPSYNC_OKTA_API_TOKEN", "00token-token-token", 1);
	setenv("GROUPSYNC_GROUP_IDS", "00g1,00g2", 1);
	setenv("GROUPSYNC_DATA_DIR", tmpdir, 1);
}

/* Loads and expects failure with a message starting with prefix. */
static void
expect_error(const char *path, const char *prefix)
{
	struct config c;
	char err[512] = "";

	assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
}

static void
defaults(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	env_reset();
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "0.0.0.0:8443");
	assert_string_equal(c.hook_path, "/hooks/okta");
	assert_string_equal(c.hook_auth_header, "Authorization");
	assert_string_equal(c.remote_id_attribute, "customId");
	assert_string_equal(c.hooks_dir, "hooks/rest");
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.tls, 0);
	assert_null(c.hook_secret_next);
	assert_int_equal(c.ngroup_ids, 2);
	assert_string_equal(c.group_ids[0], "00g1");
	assert_string_equal(c.group_ids[1], "00g2");
	config_free(&c);
}

static void
required_settings(void **state)
{
	(void)state;
	env_reset();
	unsetenv("GROUPSYNC_HOOK_SECRET");
	expect_error(NULL, "GROUPSYNC_HOOK_SECRET: required");
	env_reset();
	unsetenv("GROUPSYNC_OKTA_ORG_URL");
	expect_error(NULL, "GROUPSYNC_OKTA_ORG_URL: required");
	env_reset();
	unsetenv("GROUPSYNC_GROUP_IDS");
	expect_error(NULL, "GROUPSYNC_GROUP_IDS: required");
	env_reset();
	unsetenv("GROUPSYNC_OKTA_API_TOKEN");
	expect_error(NULL, "GROUPSYNC_OKTA_API_TOKEN: required");
	env_reset();
	setenv("GROUPSYNC_HOOK_SECRET", "", 1); /* empty means unset */
	expect_error(NULL, "GROUPSYNC_HOOK_SECRET: required");
}

static void
invalid_values(void **state)
{
	(void)state;
	env_reset();
	setenv("GROUPSYNC_WORKERS", "65", 1);
	expect_error(NULL, "GROUPSYNC_WORKERS: must be an integer from 0 to 64");
	env_reset();
	setenv("GROUPSYNC_WORKERS", "4x", 1);
	expect_error(NULL, "GROUPSYNC_WORKERS:");
	env_reset();
	setenv("GROUPSYNC_LISTEN", "example.com:80", 1);
	expect_error(NULL, "GROUPSYNC_LISTEN:");
	env_reset();
	setenv("GROUPSYNC_LISTEN", "127.0.0.1:70000", 1);
	expect_error(NULL, "GROUPSYNC_LISTEN:");
	env_reset();
	setenv("GROUPSYNC_HOOK_SECRET", "short", 1);
	expect_error(NULL, "GROUPSYNC_HOOK_SECRET: must be 16");
	env_reset();
	setenv("GROUPSYNC_LOG_LEVEL", "verbose", 1);
	expect_error(NULL, "GROUPSYNC_LOG_LEVEL:");
	env_reset();
	setenv("GROUPSYNC_GROUP_IDS", "00g1,bad id!", 1);
	expect_error(NULL, "GROUPSYNC_GROUP_IDS:");
	env_reset();
	setenv("GROUPSYNC_HOOK_PATH", "hooks", 1);
	expect_error(NULL, "GROUPSYNC_HOOK_PATH:");
	env_reset();
	setenv("GROUPSYNC_DATA_DIR", "/nonexistent/groupsync", 1);
	expect_error(NULL, "GROUPSYNC_DATA_DIR:");
	env_reset();
	setenv("GROUPSYNC_TLS_CERT", "/etc/hostname", 1);
	expect_error(NULL, "GROUPSYNC_TLS_KEY: GROUPSYNC_TLS_CERT and GROUPSYNC_TLS_KEY");
}

static void
insecure_urls(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	env_reset();
	setenv("GROUPSYNC_OKTA_ORG_URL", "http://example.okta.com", 1);
	expect_error(NULL, "GROUPSYNC_OKTA_ORG_URL: plain http:// is refused");
	env_reset();
	setenv("GROUPSYNC_OKTA_ORG_URL", "ftp://example.okta.com", 1);
	expect_error(NULL, "GROUPSYNC_OKTA_ORG_URL: must start with https://");
	env_reset();
	setenv("GROUPSYNC_OKTA_ORG_URL", "http://127.0.0.1:9000", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	config_free(&c);
	env_reset();
	setenv("GROUPSYNC_OKTA_ORG_URL", "http://localhost.evil.com", 1);
	expect_error(NULL, "GROUPSYNC_OKTA_ORG_URL: plain http://");
	env_reset();
	setenv("GROUPSYNC_OKTA_ORG_URL", "http://okta.internal", 1);
	setenv("GROUPSYNC_ALLOW_INSECURE_HTTP", "1", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	config_free(&c);
}

/*
 * Plain http:// to another host, however it is spelt, is refused in every
 * URL setting. Each of these passed as loopback (or, with userinfo, as
 * https) before url.c.
 */
static void
insecure_urls_hostile(void **state)
{
	static const char *const hostile[] = {
		"http://127.0.0.1@evil.com/", "http://127.0.0.1:80@evil.com/",
		"http://localhost:x@evil.com/", "http://[::1]@evil.com/",
		"http://127.0.0.1\\@evil.com/", "http://127.0.0.1.evil.com/",
		"http://127.evil.com/", "http://127.0.0.1%2eevil.com/", "http://127.0.0.1./",
		"http://[::1].evil.com/", "http://127.0.0.1\\evil.com/",
		"https://user:pass@example.okta.com/",
	};
	static const char *const vars[] = {
		"GROUPSYNC_OKTA_ORG_URL", "GROUPSYNC_REMOTE_TOKEN_URL", "REMOTE_BASE_URL",
	};
	char prefix[64];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		for (j = 0; j < sizeof(hostile) / sizeof(hostile[0]); j++) {
			env_reset();
			setenv(vars[i], hostile[j], 1);
			snprintf(prefix, sizeof(prefix), "%s: ", vars[i]);
			expect_error(NULL, prefix);
		}
	}
}

/* Loopback in any case, and https in any case (refused before url.c). */
static void
insecure_urls_loopback(void **state)
{
	static const char *const ok[] = {
		"http://127.0.0.1:3000", "http://localhost:8080/x", "http://[::1]:9/",
		"HTTP://LOCALHOST:8080/", "HTTPS://EXAMPLE.okta.com",
	};
	struct config c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		env_reset();
		setenv("GROUPSYNC_OKTA_ORG_URL", ok[i], 1);
		setenv("REMOTE_BASE_URL", ok[i], 1);
		if (config_load(&c, NULL, err, sizeof(err)) != 0)
			fail_msg("%s: %s", ok[i], err);
		config_free(&c);
	}
}

static void
file_and_precedence(void **state)
{
	struct config c;
	char path[128], err[512];

	(void)state;
	env_reset();
	snprintf(path, sizeof(path), "%s/groupsync.json", tmpdir);
	unit_write_file(path, "{\"GROUPSYNC_WORKERS\": 7, \"GROUPSYNC_HOOK_PATH\": \"/file\","
	    " \"GROUPSYNC_LOG_FORMAT\": \"text\", \"REMOTE_BASE_URL\": \"http://127.0.0.1:1\"}");
	setenv("GROUPSYNC_HOOK_PATH", "/env", 1);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.workers, 7);
	assert_string_equal(c.hook_path, "/env"); /* the environment wins */
	assert_string_equal(c.log_format, "text");
	config_free(&c);

	unit_write_file(path, "{\"GROUPSYNC_NO_SUCH\": 1}");
	expect_error(path, "--config: unknown key GROUPSYNC_NO_SUCH");
	unit_write_file(path, "[1,2]");
	expect_error(path, "--config:");
	unit_write_file(path, "{\"GROUPSYNC_WORKERS\": [1]}");
	expect_error(path, "GROUPSYNC_WORKERS:");
	expect_error("/nonexistent.json", "--config: cannot read /nonexistent.json");
}

/* An empty variable or file value is "not given": the default (or the
 * file's value) stays. Found by fuzz_config: GROUPSYNC_REMOTE_AUTH= left
 * remote_auth NULL and config_validate_remote crashed on it. */
static void
empty_means_default(void **state)
{
	struct config c;
	char path[128], err[512];

	(void)state;
	env_reset();
	setenv("GROUPSYNC_REMOTE_AUTH", "", 1);
	setenv("GROUPSYNC_OKTA_DPOP", "", 1);
	setenv("GROUPSYNC_LISTEN", "", 1);
	setenv("GROUPSYNC_HOOK_PATH", "", 1);
	setenv("GROUPSYNC_HOOKS_DIR", "", 1);
	setenv("GROUPSYNC_LOG_LEVEL", "", 1);
	setenv("GROUPSYNC_WORKERS", "", 1);
	if (config_load(&c, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.remote_auth, "none");
	assert_string_equal(c.okta_dpop, "auto");
	assert_string_equal(c.listen, "0.0.0.0:8443");
	assert_string_equal(c.hook_path, "/hooks/okta");
	assert_string_equal(c.hooks_dir, "hooks/rest");
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.workers, 4);
	config_free(&c);

	/* an empty variable does not clear the file's value; an empty file
	 * value does not clear the default */
	snprintf(path, sizeof(path), "%s/groupsync.json", tmpdir);
	unit_write_file(path, "{\"GROUPSYNC_LOG_FORMAT\": \"text\", \"GROUPSYNC_REMOTE_AUTH\": \"\"}");
	setenv("GROUPSYNC_LOG_FORMAT", "", 1);
	if (config_load(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.log_format, "text");
	assert_string_equal(c.remote_auth, "none");
	config_free(&c);
}

static void
secret_files(void **state)
{
	struct config c;
	char path[128], fpath[128], err[512];

	(void)state;
	env_reset();
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	unit_write_file(path, "from-a-file-0123456789\n");
	unsetenv("GROUPSYNC_HOOK_SECRET");
	setenv("GROUPSYNC_HOOK_SECRET_FILE", path, 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.hook_secret, "from-a-file-0123456789");
	config_free(&c);

	setenv("GROUPSYNC_HOOK_SECRET", "also-set-in-the-env-123", 1);
	expect_error(NULL, "GROUPSYNC_HOOK_SECRET and GROUPSYNC_HOOK_SECRET_FILE are both set");

	unsetenv("GROUPSYNC_HOOK_SECRET");
	setenv("GROUPSYNC_HOOK_SECRET_FILE", "/nonexistent/secret", 1);
	expect_error(NULL, "GROUPSYNC_HOOK_SECRET: cannot read /nonexistent/secret");

	/* NAME_FILE in the config file too */
	unsetenv("GROUPSYNC_HOOK_SECRET_FILE");
	snprintf(fpath, sizeof(fpath), "%s/c.json", tmpdir);
	{
		char text[300];
		snprintf(text, sizeof(text), "{\"GROUPSYNC_HOOK_SECRET_FILE\": \"%s\"}", path);
		unit_write_file(fpath, text);
	}
	assert_int_equal(config_load(&c, fpath, err, sizeof(err)), 0);
	assert_string_equal(c.hook_secret, "from-a-file-0123456789");
	config_free(&c);
}

/* What config_dump() prints for c (check-config), into text. */
static void
dump_text(const struct config *c, char *text, size_t size)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/dump", tmpdir);
	f = fopen(path, "w+");
	assert_non_null(f);
	config_dump(c, f);
	rewind(f);
	n = fread(text, 1, size - 1, f);
	text[n] = '\0';
	fclose(f);
}

/* check-config output: every setting named, no secret value shown. */
static void
dump_redacts(void **state)
{
	struct config c;
	char err[512], text[8192];

	(void)state;
	env_reset();
	setenv("GROUPSYNC_HOOK_SECRET_NEXT", "the-next-secret-value", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	dump_text(&c, text, sizeof(text));
	config_free(&c);
	assert_null(strstr(text, "s3cret-s3cret-s3cret"));
	assert_null(strstr(text, "the-next-secret-value"));
	assert_null(strstr(text, "00token-token-token"));
	assert_non_null(strstr(text, "GROUPSYNC_HOOK_SECRET=<redacted> (env)"));
	assert_non_null(strstr(text, "GROUPSYNC_LISTEN=0.0.0.0:8443 (default)"));
	assert_non_null(strstr(text, "GROUPSYNC_TLS_CERT= (unset)"));
}

/* Runs log_emit with stderr captured; returns what was written. */
static void
capture_log(char *out, size_t len, void (*fn)(void))
{
	char path[] = "/tmp/gs-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, len - 1);
	out[n < 0 ? 0 : n] = '\0';
	close(fd);
	unlink(path);
}

static void
emit_json(void)
{
	log_setup(LOG_FORMAT_JSON, LOG_INFO);
	log_add_secret("topsecretvalue");
	log_emit(LOG_DEBUG, "hidden", (char *)NULL);
	log_emit(LOG_INFO, "hello \"world\"", "k", "a\nb", "s", "x-topsecretvalue-y",
	    "n", (char *)NULL, (char *)NULL);
}

static void
log_json_redacts(void **state)
{
	char out[4096];

	(void)state;
	capture_log(out, sizeof(out), emit_json);
	assert_null(strstr(out, "hidden"));
	assert_null(strstr(out, "topsecretvalue"));
	assert_non_null(strstr(out, "\"level\":\"info\""));
	assert_non_null(strstr(out, "\"msg\":\"hello \\\"world\\\"\""));
	assert_non_null(strstr(out, "\"k\":\"a\\u000ab\""));
	assert_non_null(strstr(out, "\"s\":\"x-[redacted]-y\""));
	assert_non_null(strstr(out, "\"n\":null}\n"));
}

/* log_redact: stored text (a job's error) loses every secret, and is cut
 * at the buffer's size or 1 KiB, whichever is smaller, never mid-secret
 * with the secret's start kept. */
static void
log_redact_stored(void **state)
{
	char s[64], big[2048];

	(void)state;
	log_add_secret("redactme-1234");
	log_add_secret("other-secret-99");
	strcpy(s, "a redactme-1234 b other-secret-99redactme-1234 c");
	log_redact(s, sizeof(s));
	assert_string_equal(s, "a [redacted] b [redacted][redacted] c");
	strcpy(s, "no secret here");
	log_redact(s, sizeof(s));
	assert_string_equal(s, "no secret here");
	strcpy(s, "0123456789 redactme-1234");
	log_redact(s, 14); /* room for 13: the mark is cut, the secret gone */
	assert_string_equal(s, "0123456789 [r");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_redact(big, sizeof(big));
	assert_int_equal(strlen(big), 1023);
}

static void
emit_text(void)
{
	log_setup(LOG_FORMAT_TEXT, LOG_DEBUG);
	log_emit(LOG_DEBUG, "shown", "k", "two words", "e", "", (char *)NULL);
}

static void
log_text_format(void **state)
{
	char out[4096];

	(void)state;
	capture_log(out, sizeof(out), emit_text);
	assert_non_null(strstr(out, " debug shown k=\"two words\" e=\"\"\n"));
}

static void
secret_equal(void **state)
{
	(void)state;
	assert_true(util_secret_equal("abc", 3, "abc", 3));
	assert_false(util_secret_equal("abc", 3, "abd", 3));
	assert_false(util_secret_equal("abc", 3, "abcd", 4));
	assert_false(util_secret_equal("", 0, "a", 1));
	assert_true(util_secret_equal("", 0, "", 0));
	assert_true(util_is_token("00uABC-_.", 64));
	assert_false(util_is_token("", 64));
	assert_false(util_is_token("a b", 64));
	assert_false(util_is_token("abcdef", 5));
}

/* util_deadline: now + ms on the given clock, nanoseconds normalised. */
static void
deadline_normalised(void **state)
{
	struct timespec before, at;
	int64_t ms[] = {0, 999, 1000, 1500, 86400000}, d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		clock_gettime(CLOCK_MONOTONIC, &before);
		util_deadline(&at, CLOCK_MONOTONIC, ms[i]);
		assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L);
		d = (int64_t)(at.tv_sec - before.tv_sec) * 1000 +
		    (at.tv_nsec - before.tv_nsec) / 1000000;
		assert_true(d >= ms[i] && d < ms[i] + 1000);
	}
}

static void
remote_settings(void **state)
{
	struct config c;
	char path[128], err[512];

	(void)state;
	env_reset();
	unsetenv("REMOTE_BASE_URL");
	setenv("REMOTE_BASE_URL", "http://127.0.0.1:3000", 1);
	snprintf(path, sizeof(path), "%s/apikey", tmpdir);
	unit_write_file(path, "remote-api-key-123\n");
	setenv("REMOTE_API_KEY_FILE", path, 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(config_remote_value(&c, "REMOTE_BASE_URL"), "http://127.0.0.1:3000");
	assert_string_equal(config_remote_value(&c, "REMOTE_API_KEY"), "remote-api-key-123");
	assert_null(config_remote_value(&c, "REMOTE_NOPE"));
	assert_string_equal(c.remote_auth, "none");
	config_free(&c);
	unsetenv("REMOTE_API_KEY_FILE");

	setenv("REMOTE_BASE_URL", "http://legacy.example.com", 1);
	expect_error(NULL, "REMOTE_BASE_URL: plain http:// is refused");
	setenv("REMOTE_BASE_URL", "https://legacy.example.com", 1);
	setenv("GROUPSYNC_REMOTE_AUTH", "basic", 1);
	setenv("GROUPSYNC_REMOTE_USERNAME", "svc", 1);
	expect_error(NULL, "GROUPSYNC_REMOTE_PASSWORD: required with GROUPSYNC_REMOTE_AUTH=basic");
	setenv("GROUPSYNC_REMOTE_AUTH", "oauth2", 1);
	expect_error(NULL, "GROUPSYNC_REMOTE_TOKEN_URL: required with GROUPSYNC_REMOTE_AUTH=oauth2");
	setenv("GROUPSYNC_REMOTE_AUTH", "kerberos", 1);
	expect_error(NULL, "GROUPSYNC_REMOTE_AUTH: must be one of none|basic|bearer|header|oauth2");
	unsetenv("REMOTE_BASE_URL");
}

static void
okta_private_key(void **state)
{
	struct config c;
	char err[512];
	FILE *p;
	char pem[4096];
	size_t n;

	(void)state;
	env_reset();
	unsetenv("GROUPSYNC_OKTA_API_TOKEN");
	setenv("GROUPSYNC_OKTA_CLIENT_ID", "0oa1service", 1);
	setenv("GROUPSYNC_OKTA_PRIVATE_KEY", "not a key", 1);
	expect_error(NULL, "GROUPSYNC_OKTA_PRIVATE_KEY: must be a PEM private key");
	p = popen("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null", "r");
	assert_non_null(p);
	n = fread(pem, 1, sizeof(pem) - 1, p);
	pclose(p);
	pem[n] = '\0';
	setenv("GROUPSYNC_OKTA_PRIVATE_KEY", pem, 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.okta_dpop, "auto");
	config_free(&c);
	unsetenv("GROUPSYNC_OKTA_PRIVATE_KEY");
	expect_error(NULL, "GROUPSYNC_OKTA_API_TOKEN: required unless");
}

/*
 * Every secret is registered for redaction, however many: the log held 16
 * and dropped the rest without a word, while 20 REMOTE_*_FILE values and
 * the secret settings are allowed (and reconcile and okta setup
 * registered only three).
 */
static struct config many_secrets_cfg;

static void
emit_many_secrets(void)
{
	char all[1024] = "";
	int i;

	log_setup(LOG_FORMAT_JSON, LOG_INFO);
	config_each_secret(&many_secrets_cfg, log_add_secret);
	for (i = 0; i < 20; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "remote-secret-value-%02d-end,", i);
	log_emit(LOG_INFO, "x", "a", all, "b", "s3cret-s3cret-s3cret", "c", "remote-pass-1234",
	    (char *)NULL);
}

static void
every_secret_redacted(void **state)
{
	char path[128], name[64], value[64], err[512], out[4096];
	int i;

	(void)state;
	env_reset();
	setenv("REMOTE_BASE_URL", "http://127.0.0.1:3000", 1);
	setenv("GROUPSYNC_REMOTE_AUTH", "basic", 1);
	setenv("GROUPSYNC_REMOTE_USERNAME", "svc", 1);
	setenv("GROUPSYNC_REMOTE_PASSWORD", "remote-pass-1234", 1);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/secret%d", tmpdir, i);
		snprintf(value, sizeof(value), "remote-secret-value-%02d-end\n", i);
		unit_write_file(path, value);
		snprintf(name, sizeof(name), "REMOTE_SECRET_%d_FILE", i);
		setenv(name, path, 1);
	}
	assert_int_equal(config_load(&many_secrets_cfg, NULL, err, sizeof(err)), 0);
	capture_log(out, sizeof(out), emit_many_secrets);
	assert_null(strstr(out, "remote-secret-value-"));
	assert_null(strstr(out, "s3cret-s3cret-s3cret"));
	assert_null(strstr(out, "remote-pass-1234"));
	config_free(&many_secrets_cfg);
	env_reset(); /* drops every GROUPSYNC_* and REMOTE_* set above */
}

/* GROUPSYNC_STORE: sqlite by default; a PostgreSQL URI is a secret (it
 * may carry a password), from a _FILE too, never shown nor quoted. */
static void
store_setting(void **state)
{
	struct config c;
	char path[128], err[512], text[8192];

	(void)state;
	env_reset();
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.store, "sqlite");
	assert_int_equal(c.store_lease_ms, 30000);
	config_free(&c);

	snprintf(path, sizeof(path), "%s/store", tmpdir);
	unit_write_file(path, "postgresql://gs:pg-pass-4321@db.example/groupsync\n");
	setenv("GROUPSYNC_STORE_FILE", path, 1);
	setenv("GROUPSYNC_STORE_LEASE_MS", "2000", 1);
	/* the data directory is SQLite's: not needed with PostgreSQL */
	setenv("GROUPSYNC_DATA_DIR", "/nonexistent/groupsync", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.store, "postgresql://gs:pg-pass-4321@db.example/groupsync");
	assert_int_equal(c.store_lease_ms, 2000);
	dump_text(&c, text, sizeof(text));
	config_free(&c);
	assert_null(strstr(text, "pg-pass-4321"));
	assert_non_null(strstr(text, "GROUPSYNC_STORE=<redacted> (file)"));

	unsetenv("GROUPSYNC_STORE_FILE");
	setenv("GROUPSYNC_STORE", "mysql://gs:my-pass-4321@db.example/groupsync", 1);
	expect_error(NULL, "GROUPSYNC_STORE: must be sqlite or a postgresql:// URI");
	setenv("GROUPSYNC_STORE", "sqlite", 1);
	expect_error(NULL, "GROUPSYNC_DATA_DIR:");
	env_reset();
	setenv("GROUPSYNC_STORE_LEASE_MS", "100", 1);
	expect_error(NULL, "GROUPSYNC_STORE_LEASE_MS: must be an integer");
	env_reset();
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(remote_settings),
	cmocka_unit_test(okta_private_key),
	cmocka_unit_test(defaults),
	cmocka_unit_test(required_settings),
	cmocka_unit_test(invalid_values),
	cmocka_unit_test(insecure_urls),
	cmocka_unit_test(insecure_urls_hostile),
	cmocka_unit_test(insecure_urls_loopback),
	cmocka_unit_test(file_and_precedence),
	cmocka_unit_test(empty_means_default),
	cmocka_unit_test(every_secret_redacted),
	cmocka_unit_test(deadline_normalised),
	cmocka_unit_test(secret_files),
	cmocka_unit_test(dump_redacts),
	cmocka_unit_test(log_json_redacts),
	cmocka_unit_test(log_redact_stored),
	cmocka_unit_test(log_text_format),
	cmocka_unit_test(secret_equal),
	cmocka_unit_test(store_setting),
};

GS_UNIT_MAIN(tests)
