/*
 * command: the set-up every command shares (see groupsync/cli/command.h).
 */
#include "groupsync/cli/command.h"

#include <stdarg.h>
#include <string.h>

#include "groupsync/base/log.h"

void
command_error(const struct command_ctx *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "groupsync: %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Applies the logging settings and registers every secret for redaction:
 * the clients may log (a DPoP switch, a rate-limit pause, a store error). */
static void
command_logging(const struct config *cfg)
{
	enum log_format f = LOG_FORMAT_JSON;
	enum log_level l = LOG_INFO;

	log_parse_format(cfg->log_format, &f);
	log_parse_level(cfg->log_level, &l);
	log_setup(f, l);
	config_each_secret(cfg, log_add_secret);
}

static int
command_open_okta(struct command_ctx *c)
{
	struct http_options ho;
	char err[512];

	c->okta = okta_new(&c->cfg, err, sizeof(err));
	if (c->okta == NULL) {
		fprintf(stderr, "groupsync: GROUPSYNC_OKTA_ORG_URL: %s\n", err);
		return COMMAND_EXIT_USAGE;
	}
	http_options_from_config(&ho, &c->cfg, NULL);
	c->hc = http_client_new(&ho);
	if (c->hc == NULL) {
		command_error(c, "out of memory");
		return COMMAND_EXIT_RUNTIME;
	}
	return 0;
}

int
command_open(struct command_ctx *c, const char *name, const char *config_path,
    unsigned needs)
{
	char err[2048], *line, *save = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	c->name = name;
	if (config_load(&c->cfg, config_path, err, sizeof(err)) < 0) {
		/* one line per problem: the settings report them all at once */
		for (line = strtok_r(err, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			fprintf(stderr, "groupsync: %s\n", line);
		return COMMAND_EXIT_USAGE;
	}
	c->loaded = 1;
	command_logging(&c->cfg);
	if (needs & (COMMAND_CURL | COMMAND_OKTA)) {
		if (http_global_init() < 0) {
			command_error(c, "cannot initialise libcurl");
			return COMMAND_EXIT_RUNTIME;
		}
		c->curl = 1;
	}
	rc = (needs & COMMAND_OKTA) ? command_open_okta(c) : 0;
	if (rc != 0)
		return rc;
	if (needs & COMMAND_STORE) {
		/* STORE_OPEN_ADMIN leaves a running server's leases alone */
		c->q = store_open(&c->cfg, STORE_OPEN_ADMIN, err, sizeof(err));
		if (c->q == NULL) {
			command_error(c, "%s", err);
			return COMMAND_EXIT_RUNTIME;
		}
	}
	return 0;
}

void
command_close(struct command_ctx *c)
{
	store_close(c->q);
	http_client_free(c->hc);
	okta_free(c->okta);
	if (c->curl)
		http_global_cleanup();
	if (c->loaded)
		config_free(&c->cfg);
	memset(c, 0, sizeof(*c));
}
