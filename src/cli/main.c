/*
 * groupsync: keeps a remote user store in step with an Okta group.
 * The command line: serve, check-config, version, help; the admin
 * commands (queue …, replay) are in admin.c, reconcile in reconcile.c,
 * okta setup in okta_setup.c.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

#include "groupsync/cli/commands.h"
#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/base/log.h"
#include "groupsync/okta/client.h"
#include "groupsync/okta/setup.h"
#include "groupsync/store/store.h"
#include "groupsync/sync/reconcile.h"
#include "groupsync/remote/client.h"
#include "groupsync/intake/server.h"
#include "groupsync/base/util.h"
#include "groupsync/sync/worker.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: groupsync [--config FILE] COMMAND\n"
	    "\n"
	    "Keeps a remote user store in step with an Okta group: receives Okta\n"
	    "event hooks, queues them durably and syncs each user.\n"
	    "\n"
	    "commands:\n"
	    "  serve          run the event-hook endpoint (until SIGTERM or SIGINT)\n"
	    "  check-config   validate the settings and print them, secrets redacted\n"
	    "  version        print the version\n"
	    "  help           print this help\n"
	    "\n");
	admin_usage(out);
	reconcile_usage(out);
	okta_setup_usage(out);
	fprintf(out,
	    "\n"
	    "options:\n"
	    "  --config FILE  JSON object of settings, keys as below; the environment\n"
	    "                 wins over the file\n"
	    "\n"
	    "settings (environment variables):\n");
	config_help(out);
	fprintf(out,
	    "\n"
	    "exit status: 0 ok, 1 runtime failure, 2 invalid usage or settings\n");
}

/* Applies the logging settings and registers every secret for redaction. */
static void
setup_logging(const struct config *cfg)
{
	enum log_format f = LOG_FORMAT_JSON;
	enum log_level l = LOG_INFO;

	log_parse_format(cfg->log_format, &f);
	log_parse_level(cfg->log_level, &l);
	log_setup(f, l);
	config_each_secret(cfg, log_add_secret);
}

static int
load_config(struct config *cfg, const char *path)
{
	char err[512];

	if (config_load(cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "groupsync: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * Loads what the settings point at (request templates, Okta keys), so
 * that a broken template or key is a one-line error at start, naming the
 * setting, like any other invalid setting.
 */
static int
load_clients(const struct config *cfg, struct remote **remote, struct okta **okta)
{
	char err[512];

	*remote = remote_new(cfg, err, sizeof(err));
	if (*remote == NULL) {
		fprintf(stderr, "groupsync: GROUPSYNC_HOOKS_DIR: %s\n", err);
		return -1;
	}
	*okta = okta_new(cfg, err, sizeof(err));
	if (*okta == NULL) {
		fprintf(stderr, "groupsync: GROUPSYNC_OKTA_ORG_URL: %s\n", err);
		remote_free(*remote);
		*remote = NULL;
		return -1;
	}
	return 0;
}

static int
cmd_check_config(const char *path)
{
	struct config cfg;
	struct remote *remote;
	struct okta *okta;

	if (load_config(&cfg, path) < 0)
		return EXIT_USAGE;
	if (load_clients(&cfg, &remote, &okta) < 0) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	config_dump(&cfg, stdout);
	printf("configuration ok\n");
	okta_free(okta);
	remote_free(remote);
	config_free(&cfg);
	return 0;
}

/* Blocks the stop signals in every thread; main waits for them. */
static void
block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
log_started(const struct config *cfg, int port)
{
	char p[16], groups[16];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(groups, sizeof(groups), "%zu", cfg->ngroup_ids);
	log_emit(LOG_INFO, "groupsync started", "version", GROUPSYNC_VERSION, "listen",
	    cfg->listen, "port", p, "tls", cfg->tls ? "on" : "off (behind a TLS proxy)",
	    "hook_path", cfg->hook_path, "groups", groups, "data_dir", cfg->data_dir,
	    "hooks_dir", cfg->hooks_dir, "okta", cfg->okta_org_url,
	    (char *)NULL);
}

/* Prunes what the store no longer needs, and logs what it removed. */
static void
maintain(const struct config *cfg, struct store *q)
{
	int64_t keep_ms = (int64_t)cfg->retention_days * 24 * 3600 * 1000;
	long long n = store_prune(q, util_now_ms() - keep_ms);
	char count[24];

	if (n == 0)
		return;
	snprintf(count, sizeof(count), "%lld", n);
	log_emit(n < 0 ? LOG_WARN : LOG_INFO, n < 0 ? "prune failed" : "pruned old jobs and "
	    "delivery IDs", "rows", n < 0 ? NULL : count, (char *)NULL);
}

/* The main thread's life while serving: maintenance every minute until a
 * stop signal. Returns the signal. */
static int
wait_for_stop(const sigset_t *set, const struct config *cfg, struct store *q)
{
	struct timespec minute = {60, 0};
	int sig;

	for (;;) {
		maintain(cfg, q);
		sig = sigtimedwait(set, NULL, &minute);
		if (sig > 0)
			return sig;
	}
}

/* The parts of a running service, started in order and stopped in reverse. */
struct service {
	struct store *q;
	struct okta *okta;
	struct remote *remote;
	struct server *srv;
	struct worker_pool *workers;
	struct reconcile_loop *reconcile;
};

static int
service_start(struct service *s, const struct config *cfg)
{
	struct server_deps sd;
	struct worker_deps d;
	char err[512];

	if (load_clients(cfg, &s->remote, &s->okta) < 0)
		return EXIT_USAGE;
	s->q = store_open(cfg, STORE_OPEN_SERVER, err, sizeof(err));
	if (s->q == NULL) {
		log_emit(LOG_ERROR, "cannot open the queue", "error", err, (char *)NULL);
		return EXIT_RUNTIME;
	}
	sd.cfg = cfg;
	sd.q = s->q;
	sd.okta = s->okta;
	s->srv = server_start(&sd, err, sizeof(err));
	if (s->srv == NULL) {
		log_emit(LOG_ERROR, "cannot start the server", "error", err, (char *)NULL);
		return EXIT_RUNTIME;
	}
	d.cfg = cfg;
	d.q = s->q;
	d.okta = s->okta;
	d.remote = s->remote;
	s->workers = worker_start(&d, err, sizeof(err));
	if (s->workers == NULL) {
		log_emit(LOG_ERROR, "cannot start the workers", "error", err, (char *)NULL);
		return EXIT_RUNTIME;
	}
	if (cfg->reconcile_interval_s > 0) {
		s->reconcile = reconcile_start(cfg, s->okta, s->q);
		if (s->reconcile == NULL) {
			log_emit(LOG_ERROR, "cannot start the reconcile thread", (char *)NULL);
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

/* Intake first (nothing new accepted), then reconcile, workers, the store. */
static void
service_stop(struct service *s, const struct config *cfg)
{
	server_stop(s->srv);
	reconcile_stop(s->reconcile);
	worker_stop(s->workers, cfg->shutdown_grace_ms);
	okta_free(s->okta);
	remote_free(s->remote);
	store_close(s->q);
}

static int
cmd_serve(const char *path)
{
	struct config cfg;
	struct service svc = {0};
	sigset_t set;
	int sig = 0, rc;

	if (load_config(&cfg, path) < 0)
		return EXIT_USAGE;
	setup_logging(&cfg);
	block_stop_signals(&set);
	mg_init_library(MG_FEATURES_TLS | MG_FEATURES_IPV6);
	if (http_global_init() < 0) {
		log_emit(LOG_ERROR, "cannot initialise libcurl", (char *)NULL);
		config_free(&cfg);
		return EXIT_RUNTIME;
	}
	rc = service_start(&svc, &cfg);
	if (rc == 0) {
		log_started(&cfg, server_port(svc.srv));
		sig = wait_for_stop(&set, &cfg, svc.q);
		log_emit(LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
		    (char *)NULL);
	}
	service_stop(&svc, &cfg);
	http_global_cleanup();
	mg_exit_library();
	if (rc == 0)
		log_emit(LOG_INFO, "stopped", (char *)NULL);
	config_free(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL, *cmd = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			cmd = "version";
		} else if (cmd == NULL && (strcmp(argv[i], "queue") == 0 ||
		    strcmp(argv[i], "replay") == 0)) {
			/* the admin commands parse the rest of the line */
			return admin_main(config_path, argc - i, argv + i);
		} else if (cmd == NULL && strcmp(argv[i], "reconcile") == 0) {
			return reconcile_main(config_path, argc - i, argv + i);
		} else if (cmd == NULL && strcmp(argv[i], "okta") == 0) {
			return okta_setup_main(config_path, argc - i, argv + i);
		} else if (cmd == NULL && argv[i][0] != '-') {
			cmd = argv[i];
		} else {
			fprintf(stderr, "groupsync: unexpected argument %s (see groupsync --help)\n",
			    argv[i]);
			return EXIT_USAGE;
		}
	}
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("groupsync %s\n", GROUPSYNC_VERSION);
		return 0;
	}
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(config_path);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(config_path);
	fprintf(stderr, "groupsync: unknown command %s (see groupsync --help)\n", cmd);
	return EXIT_USAGE;
}
