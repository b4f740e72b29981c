/*
 * server: the HTTP(S) front of groupsync, on civetweb.
 *
 * Owns the listener, TLS settings, request limits and the connection
 * guard, and registers the endpoints (intake/endpoints.h: the Okta event
 * hook, /healthz, /readyz and /metrics) once it listens. Handlers only
 * validate, commit and answer; they never call out, so a slow remote
 * system or Okta cannot hold an HTTP thread.
 *
 * Threads: civetweb runs handlers on its own threads; the server reads the
 * configuration (read-only), calls the store (thread-safe) and reads the
 * Okta client's counters (okta_get_stats, thread-safe).
 */
#ifndef GROUPSYNC_SERVER_H
#define GROUPSYNC_SERVER_H

#include <stddef.h>

#include "groupsync/base/config.h"
#include "groupsync/okta/client.h"
#include "groupsync/remote/client.h"
#include "groupsync/store/store.h"

#define SERVER_MAX_BODY (1024 * 1024) /* an Okta delivery is a few KiB */

struct server;

/* What the server uses. Borrowed: each must outlive the server. */
struct server_deps {
	const struct config *cfg;
	struct store *q;
	struct okta *okta; /* read by /metrics; NULL leaves the Okta metrics out */
	/* the templates: a profile update that changed nothing they read is
	 * not stored; NULL stores every one */
	const struct remote *remote;
};

/* Starts listening. Returns NULL with the reason in err. */
struct server *server_start(const struct server_deps *d, char *err, size_t errlen);

/* Stops accepting, waits for the requests in progress, frees. */
void server_stop(struct server *s);

/* The port actually bound (useful with port 0 in tests). */
int server_port(const struct server *s);

#endif
