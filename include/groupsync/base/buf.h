/*
 * buf: a growable, NUL-terminated byte buffer for text built piece by
 * piece (a response body as libcurl hands it over, a rendered template, the
 * /metrics page). A failure is sticky: once an append fails (out of
 * memory, or past max), later appends do nothing and the caller checks
 * failed once at the end.
 *
 * Ownership: p is malloc'd; the caller frees it (or takes it) once done.
 * Threads: one buffer, one thread.
 */
#ifndef GROUPSYNC_BASE_BUF_H
#define GROUPSYNC_BASE_BUF_H

#include <stddef.h>

struct buf {
	char *p;     /* NULL until the first append; then NUL-terminated */
	size_t len, cap;
	size_t max;  /* 0: no bound; else appends past max bytes fail */
	int failed;  /* BUF_OOM or BUF_TOO_LARGE once an append failed */
};

#define BUF_OOM 1
#define BUF_TOO_LARGE 2

/* Appends n bytes of s (n may be 0: the buffer is then allocated). */
void buf_add(struct buf *b, const void *s, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
