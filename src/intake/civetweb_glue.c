/*
 * The civetweb compilation unit (see civetweb_glue.h): civetweb.c itself,
 * unchanged, followed by accessors to a few private fields. Compiled with
 * civetweb's own definitions and warnings off (CMakeLists.txt), like
 * civetweb.c was on its own.
 *
 * Pinned to Debian's civetweb 1.15+dfsg-4 (scripts/setup.sh fetches exactly
 * that; CMakeLists.txt refuses another civetweb.h). Each accessor names the
 * private fields it uses and what of civetweb 1.15 it relies on. The checks
 * after the include fail the build, not a run, when the version, a field's
 * type or place, or the size of a struct holding one is not the reviewed
 * one: on a new civetweb, re-read how its civetweb.c uses each field, then
 * update the pins.
 */
#include "civetweb.c"

#include <stddef.h>

#include "civetweb_glue.h"

#if !defined(CIVETWEB_VERSION_MAJOR) || CIVETWEB_VERSION_MAJOR != 1 \
    || CIVETWEB_VERSION_MINOR != 15 || CIVETWEB_VERSION_PATCH != 0
#error "civetweb_glue.c reads private structs of civetweb 1.15.0 (Debian 1.15+dfsg-4): review it against this civetweb.c before moving the pin"
#endif
#if defined(ALTERNATIVE_QUEUE)
#error "civetweb_glue_queued reads the default accept queue (sq_head/sq_tail), which ALTERNATIVE_QUEUE replaces"
#endif

#define GLUE_PIN(cond, what) \
	_Static_assert(cond, "civetweb layout moved: " what \
	    " (civetweb_glue.c is pinned to civetweb 1.15+dfsg-4)")
#define GLUE_IS(expr, type) _Generic((expr), type : 1, default : 0)
#define GLUE_CONN ((struct mg_connection *)0)
#define GLUE_CTX ((struct mg_context *)0)

/* Types, on every ABI (_Generic does not evaluate its operand). */
GLUE_PIN(GLUE_IS(&GLUE_CONN->client, struct socket *), "mg_connection.client");
GLUE_PIN(GLUE_IS(&GLUE_CONN->client.sock, int *), "socket.sock is not an int fd");
GLUE_PIN(GLUE_IS(&GLUE_CONN->request_info, struct mg_request_info *),
    "mg_connection.request_info");
GLUE_PIN(GLUE_IS(&GLUE_CONN->request_info.remote_addr, char(*)[48]),
    "mg_request_info.remote_addr is not char[48]");
GLUE_PIN(GLUE_IS(&GLUE_CONN->must_close, int *), "mg_connection.must_close");
GLUE_PIN(GLUE_IS(&GLUE_CTX->thread_mutex, pthread_mutex_t *), "mg_context.thread_mutex");
GLUE_PIN(GLUE_IS(&GLUE_CTX->sq_head, volatile int *), "mg_context.sq_head");
GLUE_PIN(GLUE_IS(&GLUE_CTX->sq_tail, volatile int *), "mg_context.sq_tail");

/*
 * Places and sizes, as 1.15+dfsg-4 lays them out with this build's options
 * on x86-64 Linux (the ABI groupsync is built for; other ABIs get the type
 * checks above only). A struct that grew or moved means another civetweb,
 * or options (USE_SERVER_STATS, USE_HTTP2, ...) the glue was not reviewed
 * with.
 */
#if defined(__x86_64__) && defined(__LP64__) && defined(__GLIBC__)
GLUE_PIN(sizeof(struct mg_connection) == 2536, "sizeof(struct mg_connection)");
GLUE_PIN(sizeof(struct mg_context) == 952, "sizeof(struct mg_context)");
GLUE_PIN(sizeof(struct socket) == 64, "sizeof(struct socket)");
GLUE_PIN(sizeof(struct mg_request_info) == 1192, "sizeof(struct mg_request_info)");
GLUE_PIN(offsetof(struct mg_connection, client) == 2296, "offsetof(mg_connection, client)");
GLUE_PIN(offsetof(struct socket, sock) == 0, "offsetof(socket, sock)");
GLUE_PIN(offsetof(struct mg_connection, request_info) == 16,
    "offsetof(mg_connection, request_info)");
GLUE_PIN(offsetof(struct mg_request_info, remote_addr) == 56,
    "offsetof(mg_request_info, remote_addr)");
GLUE_PIN(offsetof(struct mg_connection, must_close) == 2432,
    "offsetof(mg_connection, must_close)");
GLUE_PIN(offsetof(struct mg_context, thread_mutex) == 48, "offsetof(mg_context, thread_mutex)");
GLUE_PIN(offsetof(struct mg_context, sq_head) == 128, "offsetof(mg_context, sq_head)");
GLUE_PIN(offsetof(struct mg_context, sq_tail) == 132, "offsetof(mg_context, sq_tail)");
#endif

/*
 * conn->client.sock: the connection's accepted socket. worker_thread_run
 * copies it from the accept queue before any callback runs, and
 * close_connection sets it to INVALID_SOCKET only after the
 * connection_close callback, so it is the connection's own fd for as long
 * as the guard knows the connection. civetweb 1.15 has no public call that
 * gives it; the guard needs it to shut a stalled connection down.
 */
int
civetweb_glue_socket(const struct mg_connection *conn)
{
	return conn->client.sock == INVALID_SOCKET ? -1 : (int)conn->client.sock;
}

/*
 * conn->request_info.remote_addr: worker_thread_run writes the peer's
 * address there right after accept, before the TLS handshake and before
 * init_connection; the public mg_get_request_info() answers NULL until a
 * request has been parsed (connection_type), too late for the guard.
 */
const char *
civetweb_glue_peer(const struct mg_connection *conn)
{
	return conn->request_info.remote_addr;
}

/*
 * conn->must_close (written, not read): process_new_connection asks
 * should_keep_alive() after the handler returns, which answers 0 when it
 * is set, so civetweb closes the connection instead of reading and
 * discarding the unread body first. No public call sets it.
 */
void
civetweb_glue_close_after(struct mg_connection *conn)
{
	conn->must_close = 1;
}

/*
 * ctx->thread_mutex, ctx->sq_head, ctx->sq_tail: the accept queue of the
 * default (not ALTERNATIVE_QUEUE) build. produce_socket and consume_socket
 * move head and tail under thread_mutex, so head - tail is the number of
 * accepted sockets no worker has taken yet. The public
 * mg_get_context_info() reports the queue only with USE_SERVER_STATS.
 */
int
civetweb_glue_queued(struct mg_context *ctx)
{
	int n;

	/* thread_mutex guards the queue; civetweb never calls back into
	 * groupsync while holding it, so taking it here cannot deadlock. */
	pthread_mutex_lock(&ctx->thread_mutex);
	n = ctx->sq_head - ctx->sq_tail;
	pthread_mutex_unlock(&ctx->thread_mutex);
	return n;
}
