/*
 * conn_guard: keeps slow, idle and hostile clients from holding civetweb's
 * connection threads.
 *
 * civetweb serves each connection on one of a fixed number of threads,
 * for as long as the connection lasts. Its own limits bound the TLS
 * handshake and the request header, but not a body that arrives a byte at
 * a time, nor the body it reads and discards after an early answer; and
 * even bounded phases let a few hundred slow clients hold every thread
 * while real deliveries wait in the accept queue past Okta's 3 s budget.
 *
 * The guard tracks every connection a thread is serving (the server
 * reports each phase change from civetweb's callbacks) and a watchdog
 * thread closes, with shutdown(2), connections that
 *   - exceed their deadline: a new connection's handshake, first header
 *     and body together within limits.request_ms of its start, a later
 *     request's body within limits.request_ms, an idle keep-alive
 *     connection (waiting for or reading its next header) within
 *     limits.idle_ms; or
 *   - are stalled while threads run short: when fewer threads are free
 *     than connections wait for one (plus a reserve), idle keep-alive
 *     connections first, then those stuck in a handshake, header or body
 *     for longer than limits.grace_ms, oldest first, until enough threads
 *     are free. A real Okta request sends its header and body at once
 *     and is past these phases in milliseconds.
 * A connection whose body has been read (CONN_GUARD_HANDLER: groupsync is
 * storing it) is never closed: that work is bounded by groupsync itself.
 *
 * shutdown() wakes the thread blocked in poll/recv/SSL_accept, civetweb
 * sees the connection end and closes it. The fd is only ever shut down
 * under the guard's mutex while its entry exists, and the entry is removed
 * (conn_guard_forget, from civetweb's connection_close callback) before
 * civetweb closes the socket: a closed and reused fd is never touched.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef GROUPSYNC_CONN_GUARD_H
#define GROUPSYNC_CONN_GUARD_H

#include <stddef.h>
#include <stdint.h>

enum conn_guard_phase {
	CONN_GUARD_HANDSHAKE, /* TLS handshake */
	CONN_GUARD_HEADER,    /* new connection, waiting for its first request */
	CONN_GUARD_BODY,      /* header read, body being read or discarded */
	CONN_GUARD_HANDLER,   /* body read, groupsync answering: never closed */
	CONN_GUARD_IDLE,      /* keep-alive, between requests */
	CONN_GUARD_NPHASES
};

struct conn_guard_limits {
	int threads;    /* civetweb's worker threads */
	int request_ms; /* a new connection's handshake+header+body, a later body */
	int idle_ms;    /* keep-alive wait for the next request */
	int grace_ms;   /* under thread pressure, a phase older than this is stalled */
	int tick_ms;    /* watchdog period */
};

/* What the guard did since it started (for logs, metrics and tests). */
struct conn_guard_stats {
	uint64_t tracked;  /* connections seen */
	uint64_t deadline; /* closed for exceeding their phase's deadline */
	uint64_t pressure; /* closed to free a thread */
	int live;          /* connections being served now */
};

/* One tracked connection, as the pure planner sees it. */
struct conn_guard_entry {
	const void *key; /* civetweb's struct mg_connection, NULL: free slot */
	int fd;
	enum conn_guard_phase phase;
	int64_t since_ms; /* phase start (a new connection's: its start), monotonic */
	int shed;         /* already shut down, waiting for civetweb to close it */
	char peer[48];
};

enum conn_guard_verdict { CONN_GUARD_KEEP, CONN_GUARD_DEADLINE, CONN_GUARD_PRESSURE };

struct conn_guard;

/*
 * Returns the number of free threads the planner wants: the connections
 * waiting in the accept queue plus a reserve. Exposed for tests.
 */
int conn_guard_wanted_free(const struct conn_guard_limits *l, int queued);

/*
 * The decision, without I/O: fills verdict[i] for each of the n entries
 * given the time, the limits and how many accepted connections wait for
 * a thread. Returns how many entries are to be closed.
 */
size_t conn_guard_plan(const struct conn_guard_entry *e, size_t n, int64_t now_ms,
    const struct conn_guard_limits *l, int queued, enum conn_guard_verdict *verdict);

/*
 * Starts the watchdog. queued() (may be NULL: 0) tells how many accepted
 * connections wait for a thread; it is called without the guard's lock
 * held. Returns NULL with the reason in err. Free with conn_guard_free.
 */
struct conn_guard *conn_guard_new(const struct conn_guard_limits *l,
    int (*queued)(void *arg), void *arg, char *err, size_t errlen);

/*
 * Stops the watchdog (no more queued() calls, nothing more is closed);
 * tracking goes on until conn_guard_free. NULL is accepted.
 */
void conn_guard_stop(struct conn_guard *g);

/* Stops the watchdog if still running and frees. NULL is accepted. */
void conn_guard_free(struct conn_guard *g);

/*
 * Reports that the connection key (on socket fd) entered phase. The first
 * report of a key starts tracking it; peer is only read then (may be NULL).
 * A key that is not tracked and fd < 0 is ignored.
 */
void conn_guard_enter(struct conn_guard *g, const void *key, int fd, const char *peer,
    enum conn_guard_phase phase);

/* Stops tracking key: call before its socket is closed. */
void conn_guard_forget(struct conn_guard *g, const void *key);

void conn_guard_get_stats(struct conn_guard *g, struct conn_guard_stats *out);

#endif
