/*
 * log: structured log lines on stderr, one per event: a JSON object per
 * line (default) or "key=value" text. Values are strings; the caller
 * formats numbers. Every value is scrubbed of the registered secrets
 * before it is written, as a second line of defence: no module should
 * pass a secret in the first place.
 *
 * Threads: log_emit is safe from any thread (one write(2) per line).
 * log_setup and log_add_secret run once at start-up, before threads.
 */
#ifndef GROUPSYNC_LOG_H
#define GROUPSYNC_LOG_H

#include <stdio.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT };

void log_setup(enum log_format format, enum log_level min_level);

/* Returns 0 and sets *out for "debug", "info", "warn", "error"; else -1. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

/* Registers a secret (borrowed; must outlive logging) to redact. */
void log_add_secret(const char *secret);

/* Writes s to f with every registered secret replaced by "[redacted]",
 * as log lines have them (for commands that print requests). */
void log_fput_redacted(FILE *f, const char *s);
/* Replaces every registered secret in s (a NUL-terminated string in a
 * buffer of size bytes, at most 1 KiB of it kept) by the redaction mark:
 * for text that is stored, not logged, such as a job's error. */
void log_redact(char *s, size_t size);

/* 1 when a line at this level would be written. */
int log_enabled(enum log_level level);

/*
 * Writes one line: msg, then key/value string pairs, ended by NULL:
 *   log_emit(LOG_INFO, "delivery accepted", "request_id", rid,
 *       "events", n, (char *)NULL);
 * A NULL value is written as null (JSON) or "-" (text).
 */
void log_emit(enum log_level level, const char *msg, ...)
    __attribute__((sentinel));

#endif
