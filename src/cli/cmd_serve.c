/*
 * cmd_serve: `groupsync serve`, the service: the store, intake, the
 * workers and the periodic reconcile, started in order and stopped in
 * reverse at SIGTERM or SIGINT, with the store pruned every minute; and
 * `check-config`, which loads what serve would load and prints the
 * settings, secrets redacted.
 */
#include "groupsync/cli/commands.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/base/log.h"
#include "groupsync/base/util.h"
#include "groupsync/cli/command.h"
#include "groupsync/intake/server.h"
#include "groupsync/okta/client.h"
#include "groupsync/remote/client.h"
#include "groupsync/store/store.h"
#include "groupsync/sync/reconcile.h"
#include "groupsync/sync/worker.h"

#define EXIT_RUNTIME COMMAND_EXIT_RUNTIME
#define EXIT_USAGE COMMAND_EXIT_USAGE

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

static void
print_unknown(const char *message, void *arg)
{
	(void)arg;
	fprintf(stderr, "groupsync: %s\n", message);
}

static void
log_unknown(const char *message, void *arg)
{
	(void)arg;
	log_emit(LOG_WARN, "unknown setting in the environment", "detail", message,
	    (char *)NULL);
}

int
cmd_check_config(const char *path, int online)
{
	struct command_ctx run;
	struct remote *remote;
	struct okta *okta;
	int rc = command_open(&run, "check-config", path, online ? COMMAND_OKTA : 0);

	/* a mistyped variable is silently not set: say so, as an error */
	if (config_unknown_env(print_unknown, NULL) > 0 && rc == 0)
		rc = EXIT_USAGE;
	if (rc == 0 && load_clients(&run.cfg, &remote, &okta) < 0)
		rc = EXIT_USAGE;
	if (rc == 0) {
		config_dump(&run.cfg, stdout);
		printf("configuration ok\n");
		if (online)
			rc = cmd_check_online(&run, remote);
		okta_free(okta);
		remote_free(remote);
	}
	command_close(&run);
	return rc;
}

/* Blocks the stop signals and SIGHUP (reload) in every thread; main
 * waits for them. */
static void
block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
log_started(const struct config *cfg, int port, const char *store)
{
	char p[16], groups[16];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(groups, sizeof(groups), "%zu", cfg->ngroup_ids);
	log_emit(LOG_INFO, "groupsync started", "version", GROUPSYNC_VERSION, "listen",
	    cfg->listen, "port", p, "tls", cfg->tls ? "on" : "off (behind a TLS proxy)",
	    "hook_path", cfg->hook_path, "groups", groups, "store", store,
	    "hooks_dir", cfg->hooks_dir, "okta", cfg->okta_org_url,
	    (char *)NULL);
}

/* Prunes what the store no longer needs, and logs what it removed; one
 * replica of a shared store a minute (MAINTAIN_CLAIM_MS) does it for all. */
#define MAINTAIN_CLAIM_MS 50000
static void
maintain(const struct config *cfg, struct store *q)
{
	int64_t keep_ms = (int64_t)cfg->retention_days * 24 * 3600 * 1000;
	long long n;
	char count[24];

	if (store_claim(q, "prune", MAINTAIN_CLAIM_MS) != 1)
		return;
	n = store_prune(q, util_now_ms() - keep_ms);
	if (n == 0)
		return;
	snprintf(count, sizeof(count), "%lld", n);
	log_emit(n < 0 ? LOG_WARN : LOG_INFO, n < 0 ? "prune failed" : "pruned old jobs and "
	    "delivery IDs", "rows", n < 0 ? NULL : count, (char *)NULL);
}

/* SIGHUP: the templates again, checked first; a bad set keeps the old. */
static void
reload_templates(const struct config *cfg, struct remote *remote)
{
	char err[512];

	if (remote_reload(remote, err, sizeof(err)) == 0)
		log_emit(LOG_INFO, "templates reloaded", "hooks_dir", cfg->hooks_dir,
		    (char *)NULL);
	else
		log_emit(LOG_WARN, "templates not reloaded: the loaded set stays",
		    "hooks_dir", cfg->hooks_dir, "error", err, (char *)NULL);
}

/* The main thread's life while serving: maintenance every minute and a
 * template reload on SIGHUP until a stop signal. Returns the signal. */
static int
wait_for_stop(const sigset_t *set, const struct config *cfg, struct store *q,
    struct remote *remote)
{
	struct timespec minute = {60, 0};
	int sig;

	for (;;) {
		maintain(cfg, q);
		sig = sigtimedwait(set, NULL, &minute);
		if (sig == SIGHUP)
			reload_templates(cfg, remote);
		else if (sig > 0)
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
	struct reconcile_gate *gate;
	struct reconcile_loop *reconcile; /* the periodic run and the backlog check */
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
	sd.remote = s->remote;
	s->srv = server_start(&sd, err, sizeof(err));
	if (s->srv == NULL) {
		log_emit(LOG_ERROR, "cannot start the server", "error", err, (char *)NULL);
		return EXIT_RUNTIME;
	}
	/* before the workers, which wait at its gate during a backlog
	 * listing; it runs even without a periodic reconcile */
	s->gate = reconcile_gate_new();
	if (s->gate != NULL)
		s->reconcile = reconcile_start(cfg, s->okta, s->q, s->gate, s->remote);
	if (s->reconcile == NULL) {
		log_emit(LOG_ERROR, "cannot start the reconcile thread", (char *)NULL);
		return EXIT_RUNTIME;
	}
	d.cfg = cfg;
	d.q = s->q;
	d.okta = s->okta;
	d.remote = s->remote;
	d.gate = s->gate;
	s->workers = worker_start(&d, err, sizeof(err));
	if (s->workers == NULL) {
		log_emit(LOG_ERROR, "cannot start the workers", "error", err, (char *)NULL);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* Intake first (nothing new accepted), then reconcile, workers, the store. */
static void
service_stop(struct service *s, const struct config *cfg)
{
	server_stop(s->srv);
	reconcile_stop(s->reconcile); /* opens the gate: no worker waits at it */
	worker_stop(s->workers, cfg->shutdown_grace_ms);
	reconcile_gate_free(s->gate);
	okta_free(s->okta);
	remote_free(s->remote);
	store_close(s->q);
}

int
cmd_serve(const char *path)
{
	struct command_ctx run;
	struct service svc = {0};
	sigset_t set;
	int sig, rc;

	rc = command_open(&run, "serve", path, COMMAND_CURL);
	if (rc != 0) {
		command_close(&run);
		return rc;
	}
	(void)config_unknown_env(log_unknown, NULL);
	block_stop_signals(&set);
	mg_init_library(MG_FEATURES_TLS | MG_FEATURES_IPV6);
	rc = service_start(&svc, &run.cfg);
	if (rc == 0) {
		log_started(&run.cfg, server_port(svc.srv), store_label(svc.q));
		sig = wait_for_stop(&set, &run.cfg, svc.q, svc.remote);
		log_emit(LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
		    (char *)NULL);
	}
	service_stop(&svc, &run.cfg);
	mg_exit_library();
	if (rc == 0)
		log_emit(LOG_INFO, "stopped", (char *)NULL);
	command_close(&run);
	return rc;
}
