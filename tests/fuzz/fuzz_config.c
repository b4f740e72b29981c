/*
 * libFuzzer target for the config loader (config.c, config_check.c):
 * config_load, the real path groupsync serve and check-config take, fed
 * both of its sources.
 *
 * Input: ENV [NUL CONFIG]. ENV is an environment file in systemd's
 * EnvironmentFile= syntax (KEY=value, one a line, '#' comments), as
 * deploy/systemd/groupsync.env; each GROUPSYNC_* and REMOTE_* line is set
 * in the process environment (other names are ignored, so that the input
 * cannot change the fuzzer's own PATH or sanitizer options). CONFIG, when
 * present, is the --config JSON file. Before every input, every
 * GROUPSYNC_* and REMOTE_* variable is removed, so runs do not leak into
 * each other.
 *
 * *_FILE settings read the named file. A few small files are prepared in
 * a fixed directory (FUZZ_DIR, see fuzz_fixtures) so that the seeds reach
 * the secret-file code with valid, empty, NUL-holding and oversized files.
 * stdin is /dev/null, so that /dev/stdin cannot block a run.
 */
#include "fuzz_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "groupsync/base/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DIR "/tmp/groupsync-fuzz-config"
#define FUZZ_MAX_VARS 256

extern char **environ;
static struct fuzz_file fuzz_cfg_file;

static void
fuzz_write(const char *name, const char *data, size_t len)
{
	char path[128], tmp[160];
	FILE *f;

	snprintf(path, sizeof(path), FUZZ_DIR "/%s", name);
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	fuzz_check(f != NULL);
	fuzz_check(fwrite(data, 1, len, f) == len);
	fuzz_check(fclose(f) == 0);
	fuzz_check(rename(tmp, path) == 0); /* atomic: parallel jobs share them */
}

/* The files the seeds name in *_FILE settings and paths. */
static void
fuzz_fixtures(void)
{
	static const char secret[] = "Basic dGVzdDp0ZXN0LXNlY3JldC0xMjM0NQ==\n";
	static const char token[] = "00okta-api-token-for-fuzzing\r\n";
	static const char nul[] = "0123456789abcdef\0tail";
	char *big;

	if (mkdir(FUZZ_DIR, 0700) < 0 && errno != EEXIST) {
		perror(FUZZ_DIR);
		abort();
	}
	fuzz_write("hook-secret", secret, sizeof(secret) - 1);
	fuzz_write("okta-token", token, sizeof(token) - 1);
	fuzz_write("empty", "", 0);
	fuzz_write("nul", nul, sizeof(nul) - 1);
	fuzz_write("cert.pem", "not checked beyond readable\n", 28);
	big = malloc(70000);
	fuzz_check(big != NULL);
	memset(big, 'a', 70000);
	fuzz_write("big", big, 70000);
	free(big);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = open("/dev/null", O_RDONLY);

	(void)argc;
	(void)argv;
	fuzz_check(fd >= 0 && dup2(fd, 0) == 0);
	close(fd);
	fuzz_fixtures();
	return 0;
}

static int
fuzz_our_name(const char *s, size_t n)
{
	size_t i;

	if (!((n > 10 && strncmp(s, "GROUPSYNC_", 10) == 0) ||
	    (n > 7 && strncmp(s, "REMOTE_", 7) == 0)))
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return 1;
}

/* Removes every GROUPSYNC_* and REMOTE_* variable (names copied first:
 * unsetenv rewrites environ). */
static void
fuzz_env_reset(void)
{
	char *names[FUZZ_MAX_VARS];
	size_t n = 0, i;
	char **e;

	for (e = environ; *e != NULL && n < FUZZ_MAX_VARS; e++) {
		size_t len = strcspn(*e, "=");

		if (fuzz_our_name(*e, len))
			names[n++] = strndup(*e, len);
	}
	for (i = 0; i < n; i++) {
		fuzz_check(names[i] != NULL);
		unsetenv(names[i]);
		free(names[i]);
	}
}

/* Sets the variables of an environment file. */
static void
fuzz_env_set(const char *s, size_t size)
{
	const char *line = s, *end = s + size;
	char name[128], *value;
	size_t nset = 0;

	while (line < end && nset < FUZZ_MAX_VARS) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end, *eq;
		size_t vlen;

		eq = memchr(line, '=', (size_t)(stop - line));
		if (eq != NULL && (size_t)(eq - line) < sizeof(name) &&
		    fuzz_our_name(line, (size_t)(eq - line))) {
			memcpy(name, line, (size_t)(eq - line));
			name[eq - line] = '\0';
			vlen = (size_t)(stop - eq - 1);
			if (vlen > 0 && eq[vlen] == '\r')
				vlen--;
			value = strndup(eq + 1, vlen);
			fuzz_check(value != NULL);
			setenv(name, value, 1);
			free(value);
			nset++;
		}
		line = stop + 1;
	}
}

/* What the rest of groupsync relies on in a loaded config. */
static void
fuzz_check_config(const struct config *c)
{
	size_t i;
	FILE *out;

	fuzz_check(c->hook_secret != NULL && c->okta_org_url != NULL);
	fuzz_check(c->ngroup_ids >= 1 && c->ngroup_ids <= CONFIG_GROUPS_MAX);
	for (i = 0; i < c->ngroup_ids; i++)
		fuzz_check(c->group_ids[i] != NULL && c->group_ids[i][0] != '\0');
	fuzz_check(c->workers >= 0 && c->workers <= 64);
	fuzz_check(c->tls == (c->tls_cert != NULL) && (c->tls_cert == NULL) ==
	    (c->tls_key == NULL));
	fuzz_check(c->okta_api_token != NULL ||
	    (c->okta_client_id != NULL && c->okta_private_key != NULL));
	fuzz_check(c->nremote <= CONFIG_REMOTE_VARS_MAX);
	for (i = 0; i < c->nremote; i++)
		fuzz_check(config_remote_value(c, c->remote_names[i]) == c->remote_values[i]);
	out = fopen("/dev/null", "w");
	fuzz_check(out != NULL);
	config_dump(c, out);
	fclose(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *sep = memchr(s, '\0', size);
	const char *path = NULL;
	struct config c;
	char err[256];

	fuzz_env_reset();
	fuzz_env_set(s, sep ? (size_t)(sep - s) : size);
	if (sep != NULL)
		path = fuzz_file_set(&fuzz_cfg_file, "config.json", sep + 1,
		    size - (size_t)(sep - s) - 1);
	err[0] = 'x';
	if (config_load(&c, path, err, sizeof(err)) == 0) {
		fuzz_check_config(&c);
		config_free(&c);
	} else {
		fuzz_check(err[0] != '\0' && strlen(err) < sizeof(err));
	}
	return 0;
}
