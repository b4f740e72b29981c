/*
 * What server.c (request handlers) and server_start.c (civetweb's
 * lifecycle: connection guard callbacks, TLS, start and stop) share.
 * Internal to the server module.
 */
#ifndef GROUPSYNC_SERVER_INTERNAL_H
#define GROUPSYNC_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <civetweb.h>

#include "groupsync/intake/conn_guard.h"
#include "groupsync/intake/hook.h"
#include "groupsync/base/netaddr.h"
#include "groupsync/intake/server.h"

#define SERVER_RID_LEN 16

struct server {
	struct mg_context *ctx;
	const struct config *cfg;
	struct store *q;
	struct okta *okta; /* NULL: no Okta metrics */
	struct hook_filter filter;
	struct conn_guard *guard;
	_Atomic(struct mg_context *) guarded; /* ctx, for the guard's thread */
	int port;
	_Atomic int routed; /* the routes are registered: see server_conn_begin */
};

/* One request being answered: what every reply and log line needs. */
struct server_req {
	struct mg_connection *conn;
	struct server *s;
	char rid[SERVER_RID_LEN + 1];
	int64_t start_ms;
	char client[NETADDR_MAX]; /* see server_client(); "" until asked */
};

/* A fresh random request id (SERVER_RID_LEN hex digits) into out. */
void server_request_id(char *out);

/*
 * Sends a complete response in one write; extra_name/extra_value is one
 * more header, or NULL. Returns civetweb's "handled" status.
 */
int server_reply(struct server_req *r, int status, const char *type, const char *body,
    const char *extra_name, const char *extra_value);

/* Registers the request handlers on s->ctx. */
void server_routes(struct server *s);

#endif
