/*
 * The unit tests' HTTP server (see http_test_server.h).
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "groupsync/base/http.h"

#include "http_test_server.h"

#define SRV_BUF (256 * 1024)

/* A TCP socket bound to a free loopback port, which it puts in *port. */
static int
loopback_socket(int *port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

int
srv_free_port(void)
{
	int port;

	close(loopback_socket(&port));
	return port;
}

void
reply(char *out, size_t len, int status, const char *headers, const char *body)
{
	snprintf(out, len, "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s", status, strlen(body),
	    headers ? headers : "", body);
}

/*
 * Splits raw "Name: value" lines into h->f, the value trimmed as libcurl
 * trims the response headers it hands http.c; a status or request line
 * (a blank before any colon) is skipped. The tests keep writing headers
 * as they arrive on the wire; the server thread reads requests with it.
 */
void
raw_split(struct raw_headers *h, const char *raw)
{
	char *p, *eol, *colon, *v, *e;

	h->n = 0;
	snprintf(h->text, sizeof(h->text), "%s", raw);
	for (p = h->text; *p != '\0' && h->n < RAW_FIELDS; p = eol) {
		eol = p + strcspn(p, "\n");
		if (*eol == '\n')
			*eol++ = '\0';
		colon = strchr(p, ':');
		if (colon == NULL || colon == p || strcspn(p, " \t") < (size_t)(colon - p))
			continue;
		*colon = '\0';
		v = colon + 1 + strspn(colon + 1, " \t");
		for (e = v + strlen(v); e > v && strchr(" \t\r", e[-1]) != NULL; e--)
			e[-1] = '\0';
		h->f[h->n].name = p;
		h->f[h->n].value = v;
		h->n++;
	}
}

/* The first value of header name in raw text, copied to out; 1 found. */
int
raw_header(const char *raw, const char *name, char *out, size_t len)
{
	struct raw_headers *h = malloc(sizeof(*h));
	size_t i;
	int found = 0;

	if (h == NULL)
		return 0;
	raw_split(h, raw);
	for (i = 0; i < h->n && !found; i++)
		if (strcasecmp(h->f[i].name, name) == 0 && strlen(h->f[i].value) < len) {
			memcpy(out, h->f[i].value, strlen(h->f[i].value) + 1);
			found = 1;
		}
	free(h);
	return found;
}

int
req_header(const struct srv_req *r, const char *name, char *out, size_t len)
{
	return raw_header(r->headers, name, out, len);
}

static int
is_token(const struct srv *s, const struct srv_req *r)
{
	return s->token_path != NULL &&
	    strncmp(r->target, s->token_path, strlen(s->token_path)) == 0;
}

/* Parses the head (hlen bytes of buf, up to its blank line) into r. */
static void
srv_parse_head(const char *buf, size_t hlen, struct srv_req *r)
{
	const char *eol = strstr(buf, "\r\n");
	size_t hn = hlen - (size_t)(eol + 2 - buf);

	memset(r, 0, sizeof(*r));
	snprintf(r->line, sizeof(r->line), "%.*s", (int)(eol - buf), buf);
	sscanf(buf, "%15s %2047s", r->method, r->target);
	if (hn >= sizeof(r->headers))
		hn = sizeof(r->headers) - 1;
	memcpy(r->headers, eol + 2, hn);
}

/* Reads one request into r; 0 when the client gave up before its end. */
static int
srv_read(int c, char *buf, struct srv_req *r)
{
	char v[32];
	size_t n = 0, hlen = 0, clen = 0;
	ssize_t k;
	const char *eoh;

	for (;;) {
		k = recv(c, buf + n, SRV_BUF - 1 - n, 0);
		if (k <= 0)
			return 0;
		n += (size_t)k;
		buf[n] = '\0';
		if (hlen == 0 && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			hlen = (size_t)(eoh + 4 - buf);
			srv_parse_head(buf, hlen, r);
			clen = req_header(r, "Content-Length", v, sizeof(v)) ?
			    (size_t)strtoul(v, NULL, 10) : 0;
		}
		if (hlen > 0 && n >= hlen + clen)
			break;
	}
	if (clen >= sizeof(r->body))
		clen = sizeof(r->body) - 1;
	memcpy(r->body, buf + hlen, clen);
	return 1;
}

static void
answer_script(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	const struct srv_reply *rp = &s->script[(size_t)i < s->nscript ? (size_t)i : s->nscript - 1];

	(void)r;
	reply(out, len, rp->status, rp->headers, rp->body);
}

static void
srv_serve(struct srv *s, int c)
{
	char *buf = malloc(SRV_BUF), *out = malloc(SRV_BUF);
	struct srv_req *r = malloc(sizeof(*r));
	struct timeval tv = {5, 0};
	size_t off, len;
	ssize_t k;
	int i, token, delay;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (buf == NULL || out == NULL || r == NULL || !srv_read(c, buf, r))
		goto out;
	pthread_mutex_lock(&s->mu);
	i = s->n < SRV_MAX ? s->n : SRV_MAX - 1;
	s->n++;
	s->req[i] = *r;
	token = is_token(s, r);
	s->ntoken += token;
	delay = s->token_delay_ms;
	pthread_mutex_unlock(&s->mu);
	if (token && delay > 0) {
		struct timespec ts = {0, (long)delay * 1000000L};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&s->mu);
	s->answer(s, &s->req[i], i, out, SRV_BUF);
	pthread_mutex_unlock(&s->mu);
	len = strlen(out);
	for (off = 0; off < len; off += (size_t)k) {
		k = send(c, out + off, len - off, MSG_NOSIGNAL);
		if (k <= 0)
			break;
	}
out:
	free(buf);
	free(out);
	free(r);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p;
	int c;

	while (!atomic_load(&s->stop)) {
		p.fd = s->fd;
		p.events = POLLIN;
		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		srv_serve(s, c);
		close(c);
	}
	return NULL;
}

/* Fills in the rest of s and starts its thread. */
static struct srv *
srv_run(struct srv *s)
{
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->stop, 0);
	s->fd = loopback_socket(&s->port);
	assert_int_equal(listen(s->fd, 64), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	return s;
}

struct srv *
srv_start(srv_answer *answer, const char *token_path)
{
	struct srv *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->answer = answer;
	s->token_path = token_path;
	return srv_run(s);
}

struct srv *
srv_start_script(const struct srv_reply *script, size_t n)
{
	struct srv *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_true(n > 0);
	s->answer = answer_script;
	s->script = script;
	s->nscript = n;
	return srv_run(s);
}

void
srv_stop(struct srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
srv_get(struct srv *s, int i, struct srv_req *out)
{
	assert_true(i < srv_count(s, NULL) && i < SRV_MAX);
	pthread_mutex_lock(&s->mu);
	*out = s->req[i];
	pthread_mutex_unlock(&s->mu);
}

int
srv_count(struct srv *s, int *ntoken)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	if (ntoken != NULL)
		*ntoken = s->ntoken;
	pthread_mutex_unlock(&s->mu);
	return n;
}
