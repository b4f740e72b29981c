/*
 * bare_server: the baseline of the ingest benchmark.
 *
 * civetweb with the options groupsync's server.c uses (threads, keep-alive,
 * timeouts, TLS 1.2+ set up by an init_ssl callback with the same suites),
 * and one handler that reads the request body in full and answers 200
 * with a small JSON body and the same response headers as groupsync. No
 * authentication, parsing or storage: what is left is the cost of HTTP,
 * TLS and civetweb's threads, which groupsync pays as well.
 *
 * usage: bare_server -l ADDR:PORT -c CERT -k KEY [-t THREADS] [-T TIMEOUT_MS] [-1]
 * Prints "listening on PORT" once ready; stops on SIGTERM or SIGINT.
 *
 * -1 sends the response (status line, headers, body) with one mg_write(),
 * that is one TLS record, instead of civetweb's mg_response_header_*()
 * API that groupsync uses, which writes every header line as a TLS record
 * (and a TCP segment, with tcp_nodelay) of its own. It shows what that
 * costs; the benchmark itself runs without it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>
#include <openssl/ssl.h>

#define BARE_BODY_CHUNK (16 * 1024)
#define BARE_MAX_BODY (1024 * 1024)

/* The same TLS 1.2 suites as src/server.c. */
#define BARE_TLS12_CIPHERS                                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"     \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"     \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct bare {
	const char *cert;
	const char *key;
};

static atomic_ulong bare_counter;
static int bare_one_write;

static void
usage(void)
{
	fprintf(stderr, "usage: bare_server -l ADDR:PORT -c CERT -k KEY "
	    "[-t THREADS] [-T TIMEOUT_MS] [-1]\n");
	exit(2);
}

/* The same response as bare_reply(), written at once; keep-alive only. */
static void
bare_reply_one_write(struct mg_connection *c, int status, const char *body,
    const char *rid)
{
	char buf[512], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Request-Id: %s\r\n"
	    "Date: %s\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n%s", status, mg_get_response_code_text(c, status), strlen(body), rid,
	    date, body);
	if (n > 0 && (size_t)n < sizeof(buf))
		mg_write(c, buf, (size_t)n);
}

static void
bare_reply(struct mg_connection *c, int status, const char *body)
{
	char clen[24], rid[17];
	size_t len = strlen(body);

	/* groupsync sends a 16-hex-digit request id: same size here */
	snprintf(rid, sizeof(rid), "%016lx", atomic_fetch_add(&bare_counter, 1));
	if (bare_one_write) {
		bare_reply_one_write(c, status, body, rid);
		return;
	}
	snprintf(clen, sizeof(clen), "%zu", len);
	mg_response_header_start(c, status);
	mg_response_header_add(c, "Content-Type", "application/json", -1);
	mg_response_header_add(c, "Content-Length", clen, -1);
	mg_response_header_add(c, "Cache-Control", "no-store", -1);
	mg_response_header_add(c, "X-Content-Type-Options", "nosniff", -1);
	mg_response_header_add(c, "X-Request-Id", rid, -1);
	mg_response_header_send(c);
	mg_write(c, body, len);
}

/* Reads the body the way groupsync does: a buffer grown as data comes. */
static long
bare_read_body(struct mg_connection *c)
{
	size_t cap = 0, n = 0;
	char *buf = NULL, *nbuf;
	int got;

	for (;;) {
		if (n == cap) {
			if (cap >= BARE_MAX_BODY)
				goto fail;
			cap = cap ? cap * 2 : BARE_BODY_CHUNK;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = nbuf;
		}
		got = mg_read(c, buf + n, cap - n);
		if (got == 0)
			break;
		if (got < 0)
			goto fail;
		n += (size_t)got;
	}
	free(buf);
	return (long)n;
fail:
	free(buf);
	return -1;
}

static int
bare_handler(struct mg_connection *c, void *cbdata)
{
	char body[64];
	long n;

	(void)cbdata;
	if ((n = bare_read_body(c)) < 0) {
		bare_reply(c, 408, "{\"error\":\"request timeout\"}");
		return 408;
	}
	snprintf(body, sizeof(body), "{\"status\":\"ok\",\"bytes\":%ld}", n);
	bare_reply(c, 200, body);
	return 200;
}

static int
bare_init_tls(void *ssl_ctx, void *user_data)
{
	SSL_CTX *ctx = ssl_ctx;
	const struct bare *b = user_data;

	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, BARE_TLS12_CIPHERS) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, b->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, b->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "bare_server: TLS set-up failed\n");
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
	return 1;
}

int
main(int argc, char *argv[])
{
	struct bare b = {NULL, NULL};
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data ed;
	struct mg_server_port ports[4];
	struct mg_context *ctx;
	const char *addr = NULL;
	char ports_opt[300], threads[16] = "64", timeout[16] = "5000", cerr[256] = "";
	/* the options of src/server.c, in the same order */
	const char *opts[] = {
	    "listening_ports", ports_opt,
	    "num_threads", threads,
	    "request_timeout_ms", timeout,
	    "keep_alive_timeout_ms", "2000",
	    "enable_keep_alive", "yes",
	    "tcp_nodelay", "1",
	    "max_request_size", "16384",
	    "linger_timeout_ms", "0",
	    "listen_backlog", "512",
	    "connection_queue", "256",
	    "enable_directory_listing", "no",
	    "ssl_protocol_version", "4",
	    "decode_url", "yes",
	    NULL, NULL};
	unsigned code = 0;
	sigset_t set;
	int ch, sig;

	while ((ch = getopt(argc, argv, "l:c:k:t:T:1")) != -1) {
		switch (ch) {
		case '1':
			bare_one_write = 1;
			break;
		case 'l':
			addr = optarg;
			break;
		case 'c':
			b.cert = optarg;
			break;
		case 'k':
			b.key = optarg;
			break;
		case 't':
			snprintf(threads, sizeof(threads), "%d", atoi(optarg));
			break;
		case 'T':
			snprintf(timeout, sizeof(timeout), "%d", atoi(optarg));
			break;
		default:
			usage();
		}
	}
	if (addr == NULL || b.cert == NULL || b.key == NULL || optind != argc)
		usage();
	snprintf(ports_opt, sizeof(ports_opt), "%ss", addr);

	/* like groupsync: stop signals are taken by sigwait() in main only */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	mg_init_library(MG_FEATURES_TLS | MG_FEATURES_IPV6);
	memset(&cb, 0, sizeof(cb));
	memset(&init, 0, sizeof(init));
	memset(&ed, 0, sizeof(ed));
	cb.init_ssl = bare_init_tls;
	init.callbacks = &cb;
	init.user_data = &b;
	init.configuration_options = opts;
	ed.code = &code;
	ed.text = cerr;
	ed.text_buffer_size = sizeof(cerr);
	if ((ctx = mg_start2(&init, &ed)) == NULL) {
		fprintf(stderr, "bare_server: cannot listen on %s: %s\n", addr,
		    cerr[0] ? cerr : "civetweb failed to start");
		return 1;
	}
	mg_set_request_handler(ctx, "**", bare_handler, NULL);
	memset(ports, 0, sizeof(ports));
	if (mg_get_server_ports(ctx, 4, ports) > 0)
		printf("listening on %d\n", ports[0].port);
	fflush(stdout);

	sigwait(&set, &sig);
	mg_stop(ctx);
	mg_exit_library();
	return 0;
}
