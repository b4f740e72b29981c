/*
 * endpoints: what intake answers (intake/endpoints.c): the Okta event hook
 * (GET verification, POST deliveries: authenticate, parse, filter, commit
 * the jobs, answer), /healthz, /readyz, /metrics, and 404 for anything
 * else. Handlers only validate, commit and answer; they never call out.
 *
 * The server (intake/server.c) creates the endpoints once the connection
 * guard exists and registers them on civetweb once it listens.
 *
 * Threads: handlers run on civetweb's threads; everything they use is
 * read-only or thread-safe.
 */
#ifndef GROUPSYNC_INTAKE_ENDPOINTS_H
#define GROUPSYNC_INTAKE_ENDPOINTS_H

#include <civetweb.h>

#include "groupsync/base/config.h"
#include "groupsync/intake/conn_guard.h"
#include "groupsync/okta/client.h"
#include "groupsync/store/store.h"

struct endpoints;

/* Borrowed: each must outlive the endpoints. */
struct endpoints_deps {
	const struct config *cfg;
	struct store *q;
	struct okta *okta;        /* read by /metrics; NULL leaves Okta out */
	struct conn_guard *guard; /* told when a handler runs; read by /metrics */
	const struct remote *remote; /* as in struct server_deps */
};

/* NULL when out of memory. Free with endpoints_free (NULL is fine). */
struct endpoints *endpoints_new(const struct endpoints_deps *d);
void endpoints_free(struct endpoints *e);

/* Registers every endpoint on ctx; from then on civetweb calls them. */
void endpoints_route(struct endpoints *e, struct mg_context *ctx);

/* Answers 503 with Retry-After: 1, for a request that came before the
 * routes were registered (Okta retries a 503, never a 404). */
int endpoints_starting(struct mg_connection *conn);

#endif
