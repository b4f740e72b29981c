/*
 * url: URLs as libcurl parses them (see groupsync/base/url.h): every
 * decision (scheme, userinfo, the loopback rule, same origin) is made on
 * the parts libcurl returns, never on text found by hand, so that what is
 * checked is what libcurl connects to.
 */
#include "groupsync/base/url.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "groupsync/base/util.h"

/* The part libcurl holds, or NULL when it has none. Caller curl_free()s. */
static char *
url_part(CURLU *h, CURLUPart what, unsigned flags)
{
	char *v = NULL;

	if (curl_url_get(h, what, &v, flags) != CURLUE_OK)
		return NULL;
	return v;
}

/* 1 when any of user, password or login options was given. */
static int
url_has_userinfo(CURLU *h)
{
	static const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS};
	size_t i;
	char *v;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		v = url_part(h, parts[i], 0);
		if (v != NULL) {
			curl_free(v);
			return 1;
		}
	}
	return 0;
}

/* "/" and no query: nothing past the origin. */
static int
url_is_bare(CURLU *h)
{
	char *path = url_part(h, CURLUPART_PATH, 0), *query = url_part(h, CURLUPART_QUERY, 0);
	int bare = path != NULL && strcmp(path, "/") == 0 && query == NULL;

	curl_free(path);
	curl_free(query);
	return bare;
}

static int
url_fill(struct url *u, char *err, size_t errlen)
{
	char *scheme = url_part(u->h, CURLUPART_SCHEME, 0);
	char *host = url_part(u->h, CURLUPART_HOST, 0);
	char *port = url_part(u->h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	int rc = -1;

	if (scheme == NULL || host == NULL || host[0] == '\0') {
		util_format(err, errlen, "is not a URL (no host)");
		goto out;
	}
	u->scheme = strdup(scheme);
	u->host = strdup(host);
	u->port = port != NULL ? strtol(port, NULL, 10) : 0; /* 0: unknown scheme */
	u->bare = url_is_bare(u->h);
	if (u->scheme == NULL || u->host == NULL) {
		util_format(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return rc;
}

/* 1 when s starts with a scheme (RFC 3986: a letter, then letters,
 * digits, '+', '-', '.') and "://". */
static int
url_has_authority(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return strncmp(s + n, "://", 3) == 0;
}

int
url_parse(struct url *u, const char *s, char *err, size_t errlen)
{
	CURLUcode rc;

	memset(u, 0, sizeof(*u));
	u->h = curl_url();
	if (u->h == NULL) {
		util_format(err, errlen, "out of memory");
		return -1;
	}
	/* Any scheme parses (the callers name the ones they take); no scheme
	 * guessing, no default scheme: "example.com" is not a URL. libcurl
	 * also reads "https:/host" and "https:host" as https://host: refused
	 * here, so that the text an operator or a template wrote is the URL
	 * in every form (logs, checks, what a rendered request shows). */
	if (!url_has_authority(s)) {
		util_format(err, errlen, "is not a URL (it must start with scheme://host)");
		return -1;
	}
	rc = curl_url_set(u->h, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK) {
		util_format(err, errlen, "is not a URL (%s)", curl_url_strerror(rc));
		return -1;
	}
	if (url_has_userinfo(u->h)) {
		util_format(err, errlen, "must not hold user:password@ (credentials go in "
		    "their own settings)");
		return -1;
	}
	return url_fill(u, err, errlen);
}

void
url_free(struct url *u)
{
	curl_url_cleanup(u->h);
	free(u->scheme);
	free(u->host);
	memset(u, 0, sizeof(*u));
}

int
url_is_loopback(const struct url *u)
{
	struct in_addr a;

	if (u->host == NULL)
		return 0;
	if (strcasecmp(u->host, "localhost") == 0 || strcmp(u->host, "[::1]") == 0)
		return 1;
	/* inet_pton takes four decimal parts only, as libcurl writes them. */
	return inet_pton(AF_INET, u->host, &a) == 1 &&
	    (ntohl(a.s_addr) >> 24) == 127;
}

int
url_allowed(const struct url *u, int allow_insecure, char *err, size_t errlen)
{
	if (strcmp(u->scheme, "https") == 0)
		return 0;
	if (strcmp(u->scheme, "http") != 0) {
		util_format(err, errlen, "must start with https://");
		return -1;
	}
	if (allow_insecure || url_is_loopback(u))
		return 0;
	util_format(err, errlen,
	    "plain http:// is refused for a non-loopback host "
	    "(set GROUPSYNC_ALLOW_INSECURE_HTTP=1 to allow)");
	return -1;
}

int
url_check(const char *s, int allow_insecure, char *err, size_t errlen)
{
	struct url u;
	int rc;

	rc = url_parse(&u, s, err, errlen);
	if (rc == 0)
		rc = url_allowed(&u, allow_insecure, err, errlen);
	url_free(&u);
	return rc;
}

int
url_same_origin(const struct url *a, const struct url *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcasecmp(a->host, b->host) == 0 &&
	    a->port == b->port;
}
