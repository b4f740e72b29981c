/*
 * The civetweb compilation unit (see civetweb_glue.h): civetweb.c itself,
 * unchanged, followed by accessors to a few private fields. Compiled with
 * civetweb's own definitions and warnings off (CMakeLists.txt), like
 * civetweb.c was on its own.
 */
#include "civetweb.c"

#include "civetweb_glue.h"

int
civetweb_glue_socket(const struct mg_connection *conn)
{
	return conn->client.sock == INVALID_SOCKET ? -1 : (int)conn->client.sock;
}

const char *
civetweb_glue_peer(const struct mg_connection *conn)
{
	return conn->request_info.remote_addr;
}

void
civetweb_glue_close_after(struct mg_connection *conn)
{
	conn->must_close = 1;
}

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
