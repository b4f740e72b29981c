/*
 * util: small helpers every module needs: bounded string copies with the
 * truncation reported, clocks, and constant-time comparison.
 * Threads: all reentrant.
 */
#ifndef GROUPSYNC_UTIL_H
#define GROUPSYNC_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Copies src into dst (size bytes, always NUL-terminated). Returns 0, or
 * -1 when src did not fit (dst then holds a truncated copy). */
int util_copy(char *dst, size_t size, const char *src);

/* Like snprintf, but returns -1 on truncation or error, else the length. */
int util_format(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Wall clock in ms since the epoch (for stored times). */
int64_t util_now_ms(void);

/* Monotonic clock in ms (for durations and deadlines). */
int64_t util_mono_ms(void);

/* The absolute time ms from now on clock, for pthread_cond_timedwait
 * (CLOCK_REALTIME, or the clock the condition variable was set to). */
void util_deadline(struct timespec *ts, clockid_t clock, int64_t ms);

/* Initialises cv to time its waits on CLOCK_MONOTONIC (so that a wall
 * clock step neither shortens nor stretches them; util_deadline with
 * CLOCK_MONOTONIC gives its deadlines). 0, or an errno value. */
int util_cond_init_monotonic(pthread_cond_t *cv);

/* Compares a and b in time that depends on their lengths only. 1 if equal. */
int util_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/* 1 when s is non-empty, at most max bytes, and only [A-Za-z0-9._:@+-]. */
int util_is_token(const char *s, size_t max);

/* Wipes and frees a string that may hold a secret; NULL is fine. */
void util_secret_free(char *s);

/* 1 when s holds a control character (below 0x20, or DEL). */
int util_has_ctl(const char *s);

#endif
