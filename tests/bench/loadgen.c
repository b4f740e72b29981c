/*
 * loadgen: open-loop HTTPS load at a fixed rate, for latency at a given
 * delivery rate.
 *
 * Request k of the run is due at t0 + k / rate, whatever happened to the
 * requests before it. One thread per keep-alive TLS connection; a thread
 * that is free takes the next due request, sleeps until its time and sends
 * it. The latency of a request is measured from the time it was due, not
 * from the time it was sent, so a stall of the server (or of every
 * connection) shows in the figures in full instead of silently slowing
 * the generator down ("coordinated omission"). "late" says how far behind
 * its schedule the generator itself ever was when sending.
 *
 * The body is read from a template file in which @EVENT_ID@ and
 * @EVENT_UUID@ are replaced by ids unique to the request (uuid-shaped,
 * made of the run tag and k), so that every request is a new delivery,
 * and @USER_ID@, if present, by an Okta-shaped user id unique to it too
 * (see lg_fill_ids(); -s makes them sort in the order they are sent).
 *
 * Requests in the first WARMUP seconds are sent and checked but left out
 * of the percentiles. Output: a human line, then one "RESULT k=v ..." line.
 * Exit status 1 when any request failed (I/O error or status not 2xx).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define LG_ID_LEN 36		/* 8-4-4-4-12, like a uuid */
#define LG_USER_LEN 20		/* an Okta user id: 00u + 17 */
#define LG_RESP_MAX (64 * 1024)
#define LG_IO_TIMEOUT_S 10
#define LG_IDLE_REUSE_NS (1000LL * 1000 * 1000) /* server keep-alive: 2 s */
#define LG_NS 1000000000LL

/* Placeholders of the body template and the length of what replaces them. */
enum lg_mark { LG_EVENT_ID, LG_EVENT_UUID, LG_USER_ID, LG_NMARKS };

static const struct {
	const char *text;
	size_t len;	/* of the id written in its place */
} lg_marks[LG_NMARKS] = {
	[LG_EVENT_ID] = {"@EVENT_ID@", LG_ID_LEN},
	[LG_EVENT_UUID] = {"@EVENT_UUID@", LG_ID_LEN},
	[LG_USER_ID] = {"@USER_ID@", LG_USER_LEN},
};

#define LG_MAX_SLOTS 16

/* Where one placeholder's id goes in the request. */
struct lg_slot {
	enum lg_mark mark;
	size_t off;
};

struct lg {
	const char *host;
	const char *port;
	const char *path;
	const char *auth;
	const char *cafile;
	unsigned long tag;
	double rate;
	double duration;
	double warmup;
	int nconn;
	int sequential;		/* ids in send order, not scattered */

	SSL_CTX *ssl_ctx;
	struct addrinfo *ai;
	char *req;		/* the request with placeholders blanked */
	size_t reqlen;
	struct lg_slot slot[LG_MAX_SLOTS]; /* where the ids go in req */
	int nslots;

	uint64_t total;		/* requests in the run, warm-up included */
	uint64_t nwarm;		/* the first nwarm are the warm-up */
	int64_t t0;		/* CLOCK_MONOTONIC ns of request 0 */
	int64_t *lat;		/* per request: ns from due to answered, -1 failed */
	atomic_uint_fast64_t next;
	atomic_uint_fast64_t ok;
	atomic_uint_fast64_t failed;
	atomic_int_fast64_t max_late;
	pthread_barrier_t ready;
	pthread_barrier_t go;
};

struct lg_conn {
	struct lg *lg;
	int id;
	int fd;
	SSL *ssl;
	int64_t last_used;
	char *req;		/* this thread's copy of lg->req */
	char *resp;
	char err[160];
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -p PORT -r RATE -d SECONDS -c CONNECTIONS -b BODY_TEMPLATE\n"
	    "               -a AUTHORIZATION [-h HOST] [-u PATH] [-w WARMUP_SECONDS]\n"
	    "               [-i TAG_HEX] [-C CAFILE] [-s]\n");
	exit(2);
}

static int64_t
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * LG_NS + ts.tv_nsec;
}

static void
lg_sleep_until(int64_t t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / LG_NS);
	ts.tv_nsec = (long)(t % LG_NS);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static char *
lg_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nbuf;
	size_t cap = 0, n = 0, got;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nbuf;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Builds the request once: headers, then the body with each placeholder
 * replaced by blanks of the length of its id, which lg_fill_ids() writes
 * for every request.
 */
static int
lg_build_request(struct lg *lg, const char *template_path)
{
	char *tpl, *body, *p, head[1024];
	const char *t;
	size_t tlen, hlen, blen = 0;
	int i, n, need[LG_NMARKS] = {0};

	if ((tpl = lg_read_file(template_path, &tlen)) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", template_path, strerror(errno));
		return -1;
	}
	/* room for the template with every placeholder grown to its id */
	if ((body = malloc(tlen + LG_MAX_SLOTS * LG_ID_LEN + 1)) == NULL) {
		free(tpl);
		return -1;
	}
	for (t = tpl, p = body; *t != '\0'; ) {
		for (i = 0; i < LG_NMARKS; i++)
			if (strncmp(t, lg_marks[i].text, strlen(lg_marks[i].text)) == 0)
				break;
		if (i == LG_NMARKS) {
			*p++ = *t++;
			continue;
		}
		if (lg->nslots == LG_MAX_SLOTS) {
			fprintf(stderr, "loadgen: %s: too many placeholders\n", template_path);
			goto fail;
		}
		lg->slot[lg->nslots].mark = (enum lg_mark)i;
		lg->slot[lg->nslots++].off = (size_t)(p - body);
		memset(p, ' ', lg_marks[i].len);
		p += lg_marks[i].len;
		t += strlen(lg_marks[i].text);
		need[i]++;
	}
	blen = (size_t)(p - body);
	if (need[LG_EVENT_ID] == 0 || need[LG_EVENT_UUID] == 0) {
		fprintf(stderr, "loadgen: %s: needs %s and %s (and may have %s)\n",
		    template_path, lg_marks[LG_EVENT_ID].text, lg_marks[LG_EVENT_UUID].text,
		    lg_marks[LG_USER_ID].text);
		goto fail;
	}
	free(tpl);
	tpl = NULL;

	n = snprintf(head, sizeof(head),
	    "POST %s HTTP/1.1\r\n"
	    "Host: %s:%s\r\n"
	    "User-Agent: groupsync-loadgen\r\n"
	    "Accept: application/json\r\n"
	    "Content-Type: application/json\r\n"
	    "Authorization: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "\r\n", lg->path, lg->host, lg->port, lg->auth, blen);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		fprintf(stderr, "loadgen: request head too long\n");
		goto fail;
	}
	hlen = (size_t)n;
	lg->reqlen = hlen + blen;
	if ((lg->req = malloc(lg->reqlen)) == NULL)
		goto fail;
	memcpy(lg->req, head, hlen);
	memcpy(lg->req + hlen, body, blen);
	for (i = 0; i < lg->nslots; i++)
		lg->slot[i].off += hlen;
	free(body);
	return 0;
fail:
	free(tpl);
	free(body);
	return -1;
}

/* murmur3's finalizer: a bijection of 32-bit numbers that scatters them. */
static uint32_t
lg_fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/*
 * Writes the ids of request k, of the lengths of Okta's. By default they
 * start with a scrambled k, so that they land all over the indexes as
 * Okta's (random or time-low-first) uuids and user ids do; with -s they
 * sort in the order they are sent. Either way they are unique in the run
 * (k is in them) and across runs with different tags.
 */
static void
lg_fill_ids(const struct lg *lg, char *req, uint64_t k)
{
	char id[LG_NMARKS][LG_ID_LEN + 1];
	unsigned long tag = lg->tag & 0xffffffffUL;
	uint64_t k48 = k & UINT64_C(0xffffffffffff);
	uint32_t h = lg_fmix32((uint32_t)k), g = lg_fmix32((uint32_t)k + 0x9e3779b9U);
	int i;

	if (lg->sequential) {
		snprintf(id[LG_EVENT_ID], sizeof(id[0]), "%08lx-0e7e-4000-8000-%012" PRIx64,
		    tag, k48);
		snprintf(id[LG_EVENT_UUID], sizeof(id[0]), "%08lx-0000-4000-8000-%012" PRIx64,
		    tag, k48);
		snprintf(id[LG_USER_ID], sizeof(id[0]), "00ub%08lx%08" PRIx64, tag,
		    k & UINT64_C(0xffffffff));
	} else {
		snprintf(id[LG_EVENT_ID], sizeof(id[0]), "%08" PRIx32 "-%04lx-4e7e-8000-%012"
		    PRIx64, h, tag & 0xffff, k48);
		snprintf(id[LG_EVENT_UUID], sizeof(id[0]), "%08" PRIx32 "-%04lx-4000-8000-%012"
		    PRIx64, h, tag & 0xffff, k48);
		snprintf(id[LG_USER_ID], sizeof(id[0]), "00u%08" PRIx32 "%04lx%05" PRIu64, g,
		    tag & 0xffff, k % 100000);
	}
	for (i = 0; i < lg->nslots; i++)
		memcpy(req + lg->slot[i].off, id[lg->slot[i].mark], lg_marks[lg->slot[i].mark].len);
}

static void
lg_close(struct lg_conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

static void
lg_ssl_err(struct lg_conn *c, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[120];

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", errno ? strerror(errno) : "closed");
	ERR_clear_error();
	snprintf(c->err, sizeof(c->err), "%s: %s", what, buf);
}

static int
lg_open(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	struct timeval tv = {LG_IO_TIMEOUT_S, 0};
	int one = 1;

	c->fd = socket(lg->ai->ai_family, SOCK_STREAM, 0);
	if (c->fd == -1 || connect(c->fd, lg->ai->ai_addr, lg->ai->ai_addrlen) == -1) {
		snprintf(c->err, sizeof(c->err), "connect: %s", strerror(errno));
		lg_close(c);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((c->ssl = SSL_new(lg->ssl_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, lg->host) != 1) {
		lg_ssl_err(c, "ssl");
		lg_close(c);
		return -1;
	}
	if (lg->cafile != NULL) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

		if (X509_VERIFY_PARAM_set1_ip_asc(vp, lg->host) != 1)
			(void)X509_VERIFY_PARAM_set1_host(vp, lg->host, 0);
	}
	errno = 0;
	if (SSL_connect(c->ssl) != 1) {
		lg_ssl_err(c, "handshake");
		lg_close(c);
		return -1;
	}
	c->last_used = lg_now();
	return 0;
}

/* Finds a header's value in a response head; NULL when absent. */
static const char *
lg_header(const char *head, const char *name)
{
	size_t n = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

/*
 * Sends one request and reads its response. Returns the HTTP status, or
 * -1 on an I/O or protocol error (the connection is then closed).
 */
static int
lg_exchange(struct lg_conn *c)
{
	const struct lg *lg = c->lg;
	size_t n = 0, need;
	const char *end, *v;
	int got, status, keep = 1;

	errno = 0;
	if (SSL_write(c->ssl, c->req, (int)lg->reqlen) != (int)lg->reqlen) {
		lg_ssl_err(c, "write");
		goto fail;
	}
	for (;;) {
		if (n == LG_RESP_MAX - 1) {
			snprintf(c->err, sizeof(c->err), "response head too long");
			goto fail;
		}
		errno = 0;
		got = SSL_read(c->ssl, c->resp + n, (int)(LG_RESP_MAX - 1 - n));
		if (got <= 0) {
			lg_ssl_err(c, n == 0 ? "read (no response)" : "read");
			goto fail;
		}
		n += (size_t)got;
		c->resp[n] = '\0';
		if ((end = strstr(c->resp, "\r\n\r\n")) != NULL)
			break;
	}
	if (sscanf(c->resp, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(c->err, sizeof(c->err), "not an HTTP response");
		goto fail;
	}
	if ((v = lg_header(c->resp, "Content-Length")) == NULL) {
		snprintf(c->err, sizeof(c->err), "response without Content-Length");
		goto fail;
	}
	need = (size_t)(end + 4 - c->resp) + strtoul(v, NULL, 10);
	if ((v = lg_header(c->resp, "Connection")) != NULL && strncasecmp(v, "close", 5) == 0)
		keep = 0;
	while (n < need) {
		char sink[4096];

		got = SSL_read(c->ssl, sink, (int)sizeof(sink));
		if (got <= 0) {
			lg_ssl_err(c, "read body");
			goto fail;
		}
		n += (size_t)got;
	}
	c->last_used = lg_now();
	if (!keep)
		lg_close(c);
	return status;
fail:
	lg_close(c);
	return -1;
}

static void
lg_note_late(struct lg *lg, int64_t late)
{
	int_fast64_t cur = atomic_load(&lg->max_late);

	while (late > cur && !atomic_compare_exchange_weak(&lg->max_late, &cur, late))
		;
}

static void *
lg_thread(void *arg)
{
	struct lg_conn *c = arg;
	struct lg *lg = c->lg;
	uint64_t k;
	int64_t due, t;
	int status;

	if (lg_open(c) == -1)
		fprintf(stderr, "loadgen: connection %d: %s\n", c->id, c->err);
	pthread_barrier_wait(&lg->ready);
	pthread_barrier_wait(&lg->go);
	for (;;) {
		k = atomic_fetch_add(&lg->next, 1);
		if (k >= lg->total)
			break;
		due = lg->t0 + (int64_t)((double)k * (double)LG_NS / lg->rate);
		lg_sleep_until(due);
		t = lg_now();
		lg_note_late(lg, t - due);
		/* the server drops a keep-alive connection idle for 2 s */
		if (c->ssl != NULL && t - c->last_used > LG_IDLE_REUSE_NS)
			lg_close(c);
		status = -1;
		if (c->ssl != NULL || lg_open(c) == 0) {
			lg_fill_ids(lg, c->req, k);
			status = lg_exchange(c);
		}
		if (status >= 200 && status < 300) {
			lg->lat[k] = lg_now() - due;
			atomic_fetch_add(&lg->ok, 1);
		} else {
			lg->lat[k] = -1;
			if (atomic_fetch_add(&lg->failed, 1) < 5) {
				if (status == -1)
					fprintf(stderr, "loadgen: request %" PRIu64 ": %s\n",
					    k, c->err);
				else
					fprintf(stderr, "loadgen: request %" PRIu64
					    ": status %d\n", k, status);
			}
		}
	}
	lg_close(c);
	return NULL;
}

static int
lg_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, in ms. */
static double
lg_pct(const int64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return (double)v[i - 1] / 1e6;
}

static int
lg_setup_tls(struct lg *lg)
{
	if ((lg->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(lg->ssl_ctx, TLS1_2_VERSION) != 1)
		return -1;
	if (lg->cafile != NULL) {
		if (SSL_CTX_load_verify_locations(lg->ssl_ctx, lg->cafile, NULL) != 1)
			return -1;
		SSL_CTX_set_verify(lg->ssl_ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(lg->ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct lg lg;
	struct addrinfo hints;
	struct lg_conn *conns;
	pthread_t *tids;
	const char *body_path = NULL;
	int64_t *sorted;
	size_t nsorted = 0;
	uint64_t k;
	int ch, i, rc;

	memset(&lg, 0, sizeof(lg));
	lg.host = "127.0.0.1";
	lg.path = "/hooks/okta";
	lg.nconn = 16;
	lg.tag = (unsigned long)time(NULL);
	while ((ch = getopt(argc, argv, "p:r:d:c:b:a:h:u:w:i:C:s")) != -1) {
		switch (ch) {
		case 's':
			lg.sequential = 1;
			break;
		case 'p':
			lg.port = optarg;
			break;
		case 'r':
			lg.rate = strtod(optarg, NULL);
			break;
		case 'd':
			lg.duration = strtod(optarg, NULL);
			break;
		case 'c':
			lg.nconn = atoi(optarg);
			break;
		case 'b':
			body_path = optarg;
			break;
		case 'a':
			lg.auth = optarg;
			break;
		case 'h':
			lg.host = optarg;
			break;
		case 'u':
			lg.path = optarg;
			break;
		case 'w':
			lg.warmup = strtod(optarg, NULL);
			break;
		case 'i':
			lg.tag = strtoul(optarg, NULL, 16);
			break;
		case 'C':
			lg.cafile = optarg;
			break;
		default:
			usage();
		}
	}
	if (lg.port == NULL || body_path == NULL || lg.auth == NULL || optind != argc ||
	    lg.rate <= 0 || lg.duration <= 0 || lg.warmup < 0 || lg.nconn < 1 ||
	    lg.nconn > 1024)
		usage();
	signal(SIGPIPE, SIG_IGN);

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(lg.host, lg.port, &hints, &lg.ai)) != 0) {
		fprintf(stderr, "loadgen: %s:%s: %s\n", lg.host, lg.port, gai_strerror(rc));
		return 2;
	}
	if (lg_setup_tls(&lg) == -1) {
		fprintf(stderr, "loadgen: TLS set-up failed\n");
		return 2;
	}
	if (lg_build_request(&lg, body_path) == -1)
		return 2;
	lg.nwarm = (uint64_t)(lg.rate * lg.warmup + 0.5);
	lg.total = lg.nwarm + (uint64_t)(lg.rate * lg.duration + 0.5);
	lg.lat = calloc(lg.total, sizeof(*lg.lat));
	sorted = calloc(lg.total, sizeof(*sorted));
	conns = calloc((size_t)lg.nconn, sizeof(*conns));
	tids = calloc((size_t)lg.nconn, sizeof(*tids));
	if (lg.lat == NULL || sorted == NULL || conns == NULL || tids == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 2;
	}
	pthread_barrier_init(&lg.ready, NULL, (unsigned)lg.nconn + 1);
	pthread_barrier_init(&lg.go, NULL, (unsigned)lg.nconn + 1);
	for (i = 0; i < lg.nconn; i++) {
		conns[i].lg = &lg;
		conns[i].id = i;
		conns[i].fd = -1;
		conns[i].req = malloc(lg.reqlen);
		conns[i].resp = malloc(LG_RESP_MAX);
		if (conns[i].req == NULL || conns[i].resp == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			return 2;
		}
		memcpy(conns[i].req, lg.req, lg.reqlen);
		if (pthread_create(&tids[i], NULL, lg_thread, &conns[i]) != 0) {
			fprintf(stderr, "loadgen: cannot start threads\n");
			return 2;
		}
	}
	/* every connection is open (TLS handshake done) before the clock starts */
	pthread_barrier_wait(&lg.ready);
	lg.t0 = lg_now() + 20 * 1000 * 1000;
	pthread_barrier_wait(&lg.go);
	for (i = 0; i < lg.nconn; i++)
		pthread_join(tids[i], NULL);

	for (k = lg.nwarm; k < lg.total; k++)
		if (lg.lat[k] >= 0)
			sorted[nsorted++] = lg.lat[k];
	qsort(sorted, nsorted, sizeof(*sorted), lg_cmp);
	printf("loadgen: %.0f req/s for %.0f s (+%.0f s warm-up), %d connections: "
	    "%zu answered, %" PRIuFAST64 " errors; p50 %.2f p90 %.2f p99 %.2f max %.2f ms; "
	    "sends at most %.2f ms late\n", lg.rate, lg.duration, lg.warmup, lg.nconn,
	    nsorted, atomic_load(&lg.failed), lg_pct(sorted, nsorted, 50),
	    lg_pct(sorted, nsorted, 90), lg_pct(sorted, nsorted, 99),
	    lg_pct(sorted, nsorted, 100), (double)atomic_load(&lg.max_late) / 1e6);
	printf("RESULT count=%" PRIu64 " answered=%zu errors=%" PRIuFAST64
	    " sent_total=%" PRIu64 " ok_total=%" PRIuFAST64
	    " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f late_ms=%.3f\n",
	    lg.total - lg.nwarm, nsorted, atomic_load(&lg.failed), lg.total,
	    atomic_load(&lg.ok), lg_pct(sorted, nsorted, 50), lg_pct(sorted, nsorted, 90),
	    lg_pct(sorted, nsorted, 99), lg_pct(sorted, nsorted, 100),
	    (double)atomic_load(&lg.max_late) / 1e6);

	for (i = 0; i < lg.nconn; i++) {
		free(conns[i].req);
		free(conns[i].resp);
	}
	free(conns);
	free(tids);
	free(sorted);
	free(lg.lat);
	free(lg.req);
	SSL_CTX_free(lg.ssl_ctx);
	freeaddrinfo(lg.ai);
	return atomic_load(&lg.failed) == 0 ? 0 : 1;
}
