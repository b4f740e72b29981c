/*
 * civetweb_glue: the few facts about a civetweb connection that
 * civetweb 1.15 keeps private and conn_guard needs. Internal to the
 * intake modules (server.c, conn_guard.c).
 *
 * civetweb is compiled from Debian's source by our CMake; civetweb_glue.c
 * is that compilation unit (it includes civetweb.c), so these accessors
 * see the real struct layout of the version we build, never a copy of it.
 * civetweb itself stays unpatched.
 *
 * Thread safety: civetweb_glue_socket, _peer and _close_after are
 * called on the connection's own worker thread (from a civetweb callback
 * or a request handler); civetweb_glue_queued from any thread.
 */
#ifndef GROUPSYNC_CIVETWEB_GLUE_H
#define GROUPSYNC_CIVETWEB_GLUE_H

struct mg_connection;
struct mg_context;

/* The connection's socket, or -1. */
int civetweb_glue_socket(const struct mg_connection *conn);

/*
 * The peer's address as text. mg_get_request_info() answers NULL before
 * the first request is parsed, when the guard first sees a connection.
 */
const char *civetweb_glue_peer(const struct mg_connection *conn);

/*
 * Closes the connection once the current request is answered, without
 * reading the rest of its body first: civetweb otherwise reads (and
 * discards) whatever body the client announced before it serves the next
 * request, and a client that announced much and sends slowly would hold
 * the thread for as long as it likes.
 */
void civetweb_glue_close_after(struct mg_connection *conn);

/* Accepted connections waiting for a free worker thread. */
int civetweb_glue_queued(struct mg_context *ctx);

#endif
