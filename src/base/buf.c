/*
 * buf: a growable byte buffer (see groupsync/base/buf.h). Capacity doubles
 * from 256 bytes, so that appending n bytes in pieces costs O(n).
 */
#include "groupsync/base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_START 256

/* Room for need more bytes and the NUL; 0, or -1 with failed set. */
static int
buf_reserve(struct buf *b, size_t need)
{
	size_t ncap;
	char *np;

	if (b->failed)
		return -1;
	if (need > SIZE_MAX / 2 - b->len || (b->max > 0 && b->len + need > b->max)) {
		b->failed = BUF_TOO_LARGE;
		return -1;
	}
	if (b->p != NULL && b->len + need + 1 <= b->cap)
		return 0;
	ncap = b->cap > 0 ? b->cap : BUF_START;
	while (ncap < b->len + need + 1)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (np == NULL) {
		b->failed = BUF_OOM;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

void
buf_add(struct buf *b, const void *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (!b->failed)
			b->failed = BUF_OOM;
		return;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
