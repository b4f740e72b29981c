/*
 * url: the one reader of the URLs groupsync sends requests to (the Okta
 * org, the remote base and token URLs, rendered templates, Okta's
 * next-page links), and the rule for plain http://.
 *
 * Parsing is libcurl's URL API, the same parser that makes the connection
 * (http.c hands the parsed URL itself to libcurl, CURLOPT_CURLU): what is
 * checked is what is connected to, so no spelling can make the two
 * disagree. Every decision is taken on the parts libcurl returns, never on
 * the text. libcurl 7.88 normalises hosts before we see them:
 * percent-encoding is decoded ("local%68ost" is localhost,
 * "127.0.0.1%2eevil.com" is 127.0.0.1.evil.com), IPv4 numbers in any form
 * are written as a dotted quad ("2130706433", "0x7f.1", "0177.0.0.1" and
 * "127.1" are 127.0.0.1), IPv6 addresses are shortened ("[0:0::1]" is
 * [::1]); schemes are lower-cased. A host libcurl would reject (a
 * backslash, a space, "[::1].x") fails the parse.
 *
 * Refused in every URL: a scheme libcurl cannot parse, and userinfo
 * (user:password@, even empty "@"): "http://127.0.0.1@evil.com/" is
 * evil.com with a user name, and credentials belong in the settings made
 * for them, not in a URL that ends up in logs.
 *
 * Loopback (url_is_loopback) is decided on the host alone, case
 * insensitively: "localhost" exactly, [::1], or a dotted quad in
 * 127.0.0.0/8 (after the normalisation above, so 2130706433 counts: it is
 * the address libcurl connects to). Not loopback: "localhost." and
 * "127.0.0.1." (a trailing dot sends the name to DNS), names that merely
 * start like an address ("127.0.0.1.evil.com"), and IPv4-mapped IPv6
 * ([::ffff:127.0.0.1]), which reaches 127.0.0.1 only on a dual-stack
 * socket and which nobody needs to spell.
 *
 * Threads: all reentrant. Ownership: url_parse fills a struct url that the
 * caller releases with url_free (also after a failed parse).
 */
#ifndef GROUPSYNC_URL_H
#define GROUPSYNC_URL_H

#include <stddef.h>

#include <curl/curl.h>

struct url {
	CURLU *h;     /* libcurl's parse, for CURLOPT_CURLU */
	char *scheme; /* lower case, e.g. "https" */
	char *host;   /* as libcurl connects to it (see above); IPv6 in brackets */
	long port;    /* explicit, else the scheme's default (0 when it has none) */
	int bare;     /* path "/" and no query: the URL names no resource */
};

/*
 * Parses s. Returns 0, or -1 with the reason in err ("is not a URL
 * (Bad hostname)", "must not hold user:password@").
 */
int url_parse(struct url *u, const char *s, char *err, size_t errlen);
void url_free(struct url *u);

/* 1 when u's host is a loopback address or localhost (rules above). */
int url_is_loopback(const struct url *u);

/*
 * The transport rule: https:// anywhere, http:// to a loopback host or,
 * when allow_insecure, anywhere; no other scheme. 0, or -1 with the
 * reason in err.
 */
int url_allowed(const struct url *u, int allow_insecure, char *err, size_t errlen);

/* url_parse and url_allowed in one, for a URL given as text. */
int url_check(const char *s, int allow_insecure, char *err, size_t errlen);

/* 1 when a and b have the same scheme, host (case-insensitive) and port. */
int url_same_origin(const struct url *a, const struct url *b);

#endif
