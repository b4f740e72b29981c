#include "groupsync/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "groupsync/base/config.h"
#include "groupsync/base/util.h"

#define LOG_LINE_MAX 8192
/* every secret setting and every REMOTE_* variable (config.h's limits) */
#define LOG_SECRETS_MAX (CONFIG_OPTIONS_MAX + CONFIG_REMOTE_VARS_MAX)
#define LOG_REDACTED "[redacted]"

/* Set once at start-up, read-only afterwards. */
static enum log_format log_fmt = LOG_FORMAT_JSON;
static enum log_level log_min = LOG_INFO;
static const char *log_secrets[LOG_SECRETS_MAX];
static size_t log_nsecrets;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void
log_setup(enum log_format format, enum log_level min_level)
{
	log_fmt = format;
	log_min = min_level;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else
		return -1;
	return 0;
}

void
log_add_secret(const char *secret)
{
	/* Very short values would redact ordinary words; config requires
	 * secrets long enough that this never skips a real one. */
	if (secret == NULL || strlen(secret) < 4 || log_nsecrets == LOG_SECRETS_MAX)
		return;
	log_secrets[log_nsecrets++] = secret;
}

/* The first registered secret in v, or NULL; *len its length. */
static const char *
log_find_secret(const char *v, size_t *len)
{
	const char *hit = NULL;
	size_t i;

	for (i = 0; i < log_nsecrets; i++) {
		const char *p = strstr(v, log_secrets[i]);
		if (p != NULL && (hit == NULL || p < hit)) {
			hit = p;
			*len = strlen(log_secrets[i]);
		}
	}
	return hit;
}

void
log_fput_redacted(FILE *f, const char *s)
{
	const char *hit;
	size_t len = 0;

	while ((hit = log_find_secret(s, &len)) != NULL) {
		fwrite(s, 1, (size_t)(hit - s), f);
		fputs(LOG_REDACTED, f);
		s = hit + len;
	}
	fputs(s, f);
}

int
log_enabled(enum log_level level)
{
	return level >= log_min;
}

/* Line buffer with a write position; output past the end is dropped. */
struct log_buf {
	char s[LOG_LINE_MAX];
	size_t n;
};

static void
log_put(struct log_buf *b, const char *s, size_t len)
{
	if (len > sizeof(b->s) - 2 - b->n)
		len = sizeof(b->s) - 2 - b->n; /* keep room for "\n" */
	memcpy(b->s + b->n, s, len);
	b->n += len;
}

static void
log_puts(struct log_buf *b, const char *s)
{
	log_put(b, s, strlen(s));
}

/* Appends s escaped for JSON (json) or for a text value (quotes kept). */
static void
log_put_escaped_raw(struct log_buf *b, const char *s, size_t len, int json)
{
	size_t i;
	char esc[8];

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			log_put(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x", c);
			log_puts(b, esc);
		} else {
			log_put(b, (const char *)&c, 1);
		}
	}
}

/* Appends a value with every registered secret replaced. */
static void
log_put_value(struct log_buf *b, const char *v, int json)
{
	while (*v != '\0') {
		size_t hitlen = 0;
		const char *hit = log_find_secret(v, &hitlen);

		if (hit == NULL) {
			log_put_escaped_raw(b, v, strlen(v), json);
			return;
		}
		log_put_escaped_raw(b, v, (size_t)(hit - v), json);
		log_puts(b, LOG_REDACTED);
		v = hit + hitlen;
	}
}

/* Appends s[0..len) to out[*n..], as much as fits before the NUL. */
static void
log_append(char *out, size_t size, size_t *n, const char *s, size_t len)
{
	if (len > size - 1 - *n)
		len = size - 1 - *n;
	memcpy(out + *n, s, len);
	*n += len;
}

void
log_redact(char *s, size_t size)
{
	char out[1024];
	const char *v = s, *hit;
	size_t n = 0, len = 0;

	if (size == 0)
		return;
	while (*v != '\0') {
		hit = log_find_secret(v, &len);
		if (hit == NULL) {
			log_append(out, sizeof(out), &n, v, strlen(v));
			break;
		}
		log_append(out, sizeof(out), &n, v, (size_t)(hit - v));
		log_append(out, sizeof(out), &n, LOG_REDACTED, strlen(LOG_REDACTED));
		v = hit + len;
	}
	out[n] = '\0';
	util_copy(s, size, out);
}

static void
log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

static void
log_field(struct log_buf *b, const char *key, const char *val)
{
	if (log_fmt == LOG_FORMAT_JSON) {
		log_puts(b, ",\"");
		log_put_escaped_raw(b, key, strlen(key), 1);
		log_puts(b, "\":");
		if (val == NULL) {
			log_puts(b, "null");
			return;
		}
		log_puts(b, "\"");
		log_put_value(b, val, 1);
		log_puts(b, "\"");
		return;
	}
	log_puts(b, " ");
	log_puts(b, key);
	log_puts(b, "=");
	if (val == NULL) {
		log_puts(b, "-");
	} else if (val[0] != '\0' && strpbrk(val, " \"=\\") == NULL) {
		log_put_value(b, val, 0);
	} else {
		log_puts(b, "\"");
		log_put_value(b, val, 0);
		log_puts(b, "\"");
	}
}

void
log_emit(enum log_level level, const char *msg, ...)
{
	struct log_buf b;
	char ts[48];
	va_list ap;
	const char *key;

	if (!log_enabled(level))
		return;
	b.n = 0;
	log_timestamp(ts, sizeof(ts));
	if (log_fmt == LOG_FORMAT_JSON) {
		log_puts(&b, "{\"ts\":\"");
		log_puts(&b, ts);
		log_puts(&b, "\",\"level\":\"");
		log_puts(&b, log_level_names[level]);
		log_puts(&b, "\",\"msg\":\"");
		log_put_value(&b, msg, 1);
		log_puts(&b, "\"");
	} else {
		log_puts(&b, ts);
		log_puts(&b, " ");
		log_puts(&b, log_level_names[level]);
		log_puts(&b, " ");
		log_put_value(&b, msg, 0);
	}
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL)
		log_field(&b, key, va_arg(ap, const char *));
	va_end(ap);
	if (log_fmt == LOG_FORMAT_JSON)
		log_puts(&b, "}");
	b.s[b.n++] = '\n';
	/* One write per line keeps lines whole when threads log together. */
	if (write(STDERR_FILENO, b.s, b.n) < 0)
		return;
}
