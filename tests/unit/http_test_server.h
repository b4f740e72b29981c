/*
 * The unit tests' HTTP server: it listens on a free loopback port in a
 * thread of its own, so that the real http, okta and remote code talks to
 * it over a socket. It reads one request a connection (head and
 * Content-Length body), records it, and answers from a script of canned
 * replies or through a function of the test's, then closes. A test may
 * name its OAuth token path: those requests are counted, and can be held
 * back a while (token races).
 */
#ifndef GROUPSYNC_TEST_HTTP_TEST_SERVER_H
#define GROUPSYNC_TEST_HTTP_TEST_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "groupsync/base/http.h"

#define SRV_MAX 64 /* requests recorded; later ones take the last slot */

struct srv_req {
	char line[2080]; /* the request line: "GET /path HTTP/1.1" */
	char method[16];
	char target[2048];
	char headers[8192]; /* the header lines, each ending in "\r\n" */
	char body[8192];
};

/* A canned reply. */
struct srv_reply {
	int status;
	const char *headers; /* extra lines, each ending in "\r\n"; NULL: none */
	const char *body;
};

struct srv;

/* Writes the answer to request r (in slot i) into out, with reply();
 * called in the server's thread with s->mu held. */
typedef void srv_answer(struct srv *s, const struct srv_req *r, int i, char *out, size_t len);

struct srv {
	int fd, port;
	char url[64]; /* "http://127.0.0.1:<port>" */
	pthread_t th;
	atomic_int stop;
	pthread_mutex_t mu; /* guards what follows */
	struct srv_req req[SRV_MAX];
	int n;              /* requests seen */
	const char *token_path; /* NULL, or where the OAuth token requests go */
	int ntoken;         /* requests seen whose target starts with token_path */
	int token_delay_ms; /* how long those wait for their answer */
	srv_answer *answer;
	const struct srv_reply *script; /* srv_start_script's; the last repeats */
	size_t nscript;
};

/* Starts a server answering through answer; token_path may be NULL. */
struct srv *srv_start(srv_answer *answer, const char *token_path);

/* Starts a server answering request i with script[i] (n replies). */
struct srv *srv_start_script(const struct srv_reply *script, size_t n);

/* Stops the server and frees it. */
void srv_stop(struct srv *s);

/* Copies request i (under the lock: the server thread may be running). */
void srv_get(struct srv *s, int i, struct srv_req *out);

/* The number of requests seen; with ntoken, those to the token path. */
int srv_count(struct srv *s, int *ntoken);

/* Copies the value of header name of r into out; 1 when present. */
int req_header(const struct srv_req *r, const char *name, char *out, size_t len);

/*
 * Header lines written as text ("Name: value\r\n", as on the wire), split
 * into the fields http.c keeps of a response: the value trimmed as
 * libcurl trims it; a status or request line is skipped. Tests write
 * headers as text; the server reads requests with it.
 */
#define RAW_FIELDS 32
struct raw_headers {
	struct http_field f[RAW_FIELDS];
	size_t n;
	char text[8192];
};
void raw_split(struct raw_headers *h, const char *raw);
/* The first value of header name in raw text, copied to out; 1 found. */
int raw_header(const char *raw, const char *name, char *out, size_t len);

/* Writes a whole response (status, extra header lines or NULL, body). */
void reply(char *out, size_t len, int status, const char *headers, const char *body);

/* A loopback port nobody listens on (for transport failures). */
int srv_free_port(void);

#endif
