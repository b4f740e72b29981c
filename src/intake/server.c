/*
 * server: civetweb's lifecycle (see groupsync/intake/server.h): options,
 * start and stop, TLS set-up, and the callbacks that report every
 * connection's phase to the connection guard (conn_guard.h), which frees
 * threads held by slow or idle clients. The endpoints themselves are
 * intake/endpoints.c's.
 */
#include "groupsync/intake/server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "civetweb_glue.h"
#include "groupsync/intake/conn_guard.h"
#include "groupsync/intake/endpoints.h"
#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

#define SERVER_KEEPALIVE_MS 2000 /* idle keep-alive connection: closed after this */
/* Under thread pressure, a handshake, header or body still incomplete
 * after this long is stalled (a real Okta request sends it at once). */
#define SERVER_STALLED_MS 1000
#define SERVER_GUARD_TICK_MS 100

struct server {
	struct mg_context *ctx;
	const struct config *cfg;
	struct endpoints *ep;
	struct conn_guard *guard;
	_Atomic(struct mg_context *) guarded; /* ctx, for the guard's thread */
	int port;
	_Atomic int routed; /* the routes are registered: see server_conn_begin */
	/* civetweb's first "cannot bind" line, written only by the thread in
	 * mg_start2() (civetweb binds before it starts any thread), read by
	 * it after: the cause the start error names */
	char bind_error[192];
};

/*
 * Mozilla's "intermediate" TLS 1.2 suites: forward secret AEAD only.
 * TLS 1.3 suites are OpenSSL's defaults, all of them modern.
 */
#define SERVER_TLS12_CIPHERS                                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"     \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"     \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/*
 * civetweb callbacks that report each connection's phase to the guard
 * (conn_guard.h). They run on the connection's own worker thread.
 */
static struct conn_guard *
server_guard(const struct mg_connection *conn)
{
	const struct server *s = mg_get_user_data(mg_get_context(conn));

	return s->guard;
}

static int
server_conn_open(const struct mg_connection *conn, void **conn_data)
{
	(void)conn_data;
	conn_guard_enter(server_guard(conn), conn, civetweb_glue_socket(conn),
	    civetweb_glue_peer(conn), CONN_GUARD_HEADER);
	return 0;
}

/*
 * civetweb listens, and its threads take requests, before mg_start2()
 * returns, so a request could come before endpoints_route() and get
 * civetweb's own 404; Okta drops a delivery answered 4xx for good (a
 * restart under load lost some: rel.test_crash.Restart). Until the routes
 * are in place every request gets 503, which Okta retries.
 */
static int
server_conn_begin(struct mg_connection *conn)
{
	const struct server *s = mg_get_user_data(mg_get_context(conn));

	conn_guard_enter(s->guard, conn, -1, NULL, CONN_GUARD_BODY);
	if (atomic_load(&s->routed))
		return 0; /* civetweb dispatches to the routes */
	return endpoints_starting(conn);
}

static void
server_conn_end(const struct mg_connection *conn, int status)
{
	(void)status;
	conn_guard_enter(server_guard(conn), conn, -1, NULL, CONN_GUARD_IDLE);
}

/* civetweb calls this before it closes the socket (see conn_guard.h). */
static void
server_conn_close(const struct mg_connection *conn)
{
	conn_guard_forget(server_guard(conn), conn);
}

/*
 * civetweb calls init_connection only after the TLS handshake, which it
 * bounds loosely; OpenSSL's info callback tells the guard when a
 * handshake starts, on the worker thread, before the first byte is read.
 * civetweb stores its connection as the SSL's app data.
 */
static void
server_tls_info(const SSL *ssl, int where, int ret)
{
	const struct mg_connection *conn;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_START))
		return;
	conn = SSL_get_app_data(ssl);
	if (conn != NULL)
		conn_guard_enter(server_guard(conn), conn, SSL_get_fd(ssl),
		    civetweb_glue_peer(conn), CONN_GUARD_HANDSHAKE);
}

/*
 * Configures TLS ourselves (civetweb skips its own set-up when this
 * returns 1): TLS 1.2 minimum, forward-secret AEAD suites, no
 * renegotiation, no compression, and a key that matches the certificate.
 * Security level 2 (keys of 112 bits of strength: RSA and DH 2048, EC 224)
 * is set here rather than left to the system's OpenSSL build and
 * openssl.cnf, some of which default to level 1 (RSA 1024); a weaker key
 * is then refused at start, with OpenSSL's reason ("ee key too small").
 */
static int
server_init_tls(void *ssl_ctx, void *user_data)
{
	SSL_CTX *ctx = ssl_ctx;
	const struct server *s = user_data;
	const char *why = NULL;
	char reason[256];

	ERR_clear_error();
	SSL_CTX_set_security_level(ctx, 2);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		why = "cannot require TLS 1.2";
	else if (SSL_CTX_set_cipher_list(ctx, SERVER_TLS12_CIPHERS) != 1)
		why = "cannot set the cipher list";
	else if (SSL_CTX_use_certificate_chain_file(ctx, s->cfg->tls_cert) != 1)
		why = "cannot load GROUPSYNC_TLS_CERT (PEM certificate chain expected)";
	else if (SSL_CTX_use_PrivateKey_file(ctx, s->cfg->tls_key, SSL_FILETYPE_PEM) != 1)
		why = "cannot load GROUPSYNC_TLS_KEY (PEM private key expected)";
	else if (SSL_CTX_check_private_key(ctx) != 1)
		why = "GROUPSYNC_TLS_KEY does not match GROUPSYNC_TLS_CERT";
	if (why != NULL) {
		/* the reason names no key material: "ee key too small" */
		ERR_error_string_n(ERR_peek_last_error(), reason, sizeof(reason));
		ERR_clear_error();
		log_emit(LOG_ERROR, why, "reason", reason, (char *)NULL);
		return -1;
	}
	SSL_CTX_set_info_callback(ctx, server_tls_info);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
	return 1;
}

static int
server_civetweb_log(const struct mg_connection *conn, const char *message)
{
	struct server *s = conn != NULL ? mg_get_user_data(mg_get_context(conn)) : NULL;

	if (s != NULL && s->bind_error[0] == '\0' &&
	    strncmp(message, "cannot bind", 11) == 0)
		(void)util_copy(s->bind_error, sizeof(s->bind_error), message);
	log_emit(LOG_INFO, "http", "detail", message, (char *)NULL);
	return 1;
}

/* civetweb's listening_ports syntax: "addr:port" or "addr:ports". */
static int
server_ports_option(const struct config *cfg, char *buf, size_t len)
{
	return util_format(buf, len, "%s%s", cfg->listen, cfg->tls ? "s" : "");
}

static int
server_queued(void *arg)
{
	struct server *s = arg;

	/* The guard starts before civetweb: nothing is queued until then. */
	struct mg_context *ctx = atomic_load(&s->guarded);

	return ctx != NULL ? civetweb_glue_queued(ctx) : 0;
}

static int
server_start_guard(struct server *s, char *err, size_t errlen)
{
	struct conn_guard_limits l = {
		.threads = s->cfg->http_threads,
		.request_ms = s->cfg->request_timeout_ms,
		.idle_ms = SERVER_KEEPALIVE_MS,
		.grace_ms = SERVER_STALLED_MS,
		.tick_ms = SERVER_GUARD_TICK_MS,
	};

	s->guard = conn_guard_new(&l, server_queued, s, err, errlen);
	return s->guard != NULL ? 0 : -1;
}

/* civetweb's options, with the buffers their values live in. */
struct server_options {
	char ports[300], threads[16], timeout[16], keepalive[16];
	const char *list[32];
};

static void
server_options(const struct config *cfg, struct server_options *o)
{
	const char *list[] = {
	    "listening_ports", o->ports,
	    "num_threads", o->threads,
	    "request_timeout_ms", o->timeout,
	    "keep_alive_timeout_ms", o->keepalive,
	    "enable_keep_alive", "yes",
	    "tcp_nodelay", "1",
	    "max_request_size", "16384", /* request line + headers */
	    "linger_timeout_ms", "0",
	    "listen_backlog", "512",
	    "connection_queue", "256",
	    "enable_directory_listing", "no",
	    "ssl_protocol_version", "4",
	    "decode_url", "yes",
	    NULL, NULL};

	_Static_assert(sizeof(list) <= sizeof(o->list), "server_options: list too small");
	server_ports_option(cfg, o->ports, sizeof(o->ports));
	snprintf(o->threads, sizeof(o->threads), "%d", cfg->http_threads);
	snprintf(o->timeout, sizeof(o->timeout), "%d", cfg->request_timeout_ms);
	snprintf(o->keepalive, sizeof(o->keepalive), "%d", SERVER_KEEPALIVE_MS);
	memcpy(o->list, list, sizeof(list));
}

/* Starts civetweb with the guard's callbacks; 0, or -1 with err set. */
static int
server_start_civetweb(struct server *s, char *err, size_t errlen)
{
	struct mg_callbacks cb = {0};
	struct mg_init_data init = {0};
	struct mg_error_data ed = {0};
	struct server_options o;
	char cerr[256] = "";
	unsigned code = 0;

	server_options(s->cfg, &o);
	cb.log_message = server_civetweb_log;
	cb.init_connection = server_conn_open;
	cb.begin_request = server_conn_begin;
	cb.end_request = server_conn_end;
	cb.connection_close = server_conn_close;
	if (s->cfg->tls)
		cb.init_ssl = server_init_tls;
	init.callbacks = &cb;
	init.user_data = s;
	init.configuration_options = o.list;
	ed.code = &code;
	ed.text = cerr;
	ed.text_buffer_size = sizeof(cerr);
	s->ctx = mg_start2(&init, &ed);
	if (s->ctx != NULL)
		return 0;
	util_format(err, errlen, "GROUPSYNC_LISTEN: cannot listen on %s%s: %s", s->cfg->listen,
	    s->cfg->tls ? " (HTTPS)" : "", s->bind_error[0] ? s->bind_error :
	    cerr[0] ? cerr : "civetweb failed to start");
	return -1;
}

struct server *
server_start(const struct server_deps *d, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	struct mg_server_port ports[4];

	if (s == NULL)
		return NULL;
	s->cfg = d->cfg;
	if (server_start_guard(s, err, errlen) < 0) {
		free(s);
		return NULL;
	}
	s->ep = endpoints_new(&(struct endpoints_deps){d->cfg, d->q, d->okta, s->guard,
	    d->remote});
	if (s->ep == NULL || server_start_civetweb(s, err, errlen) < 0) {
		if (s->ep == NULL)
			util_copy(err, errlen, "out of memory");
		endpoints_free(s->ep);
		conn_guard_free(s->guard);
		free(s);
		return NULL;
	}
	atomic_store(&s->guarded, s->ctx);
	endpoints_route(s->ep, s->ctx);
	atomic_store(&s->routed, 1);
	memset(ports, 0, sizeof(ports));
	if (mg_get_server_ports(s->ctx, 4, ports) > 0)
		s->port = ports[0].port;
	return s;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	/* The watchdog reads civetweb's queue: stop it before civetweb
	 * frees that. Callbacks still report to the guard until mg_stop
	 * has closed every connection. */
	conn_guard_stop(s->guard);
	mg_stop(s->ctx);
	endpoints_free(s->ep);
	conn_guard_free(s->guard);
	free(s);
}

int
server_port(const struct server *s)
{
	return s->port;
}
