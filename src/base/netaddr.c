#include "groupsync/base/netaddr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "groupsync/base/util.h"

/* One parsed address: family and 16 bytes (IPv4 in the first 4). */
struct netaddr {
	int family;
	unsigned char b[16];
};

/* Parses len bytes of s (no surrounding blanks) as an address. */
static int
netaddr_parse(const char *s, size_t len, struct netaddr *a)
{
	char buf[NETADDR_MAX];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->b) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->b) == 1)
		a->family = AF_INET6;
	else
		return -1;
	return 0;
}

/* Trims blanks from [*s, *s + *len). */
static void
netaddr_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* Parses one list entry, "addr" or "addr/bits". */
static int
netaddr_prefix(const char *s, size_t len, struct netaddr *a, int *bits)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	char num[4];
	char *end;
	long v;

	if (netaddr_parse(s, alen, a) < 0)
		return -1;
	*bits = a->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return 0;
	if (len - alen - 1 == 0 || len - alen - 1 >= sizeof(num))
		return -1;
	memcpy(num, slash + 1, len - alen - 1);
	num[len - alen - 1] = '\0';
	v = strtol(num, &end, 10);
	if (*end != '\0' || v < 0 || v > *bits)
		return -1;
	*bits = (int)v;
	return 0;
}

static int
netaddr_match(const struct netaddr *ip, const struct netaddr *net, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (ip->family != net->family || memcmp(ip->b, net->b, (size_t)full) != 0)
		return 0;
	return rest == 0 || ((ip->b[full] ^ net->b[full]) & (0xff << (8 - rest))) == 0;
}

/*
 * Calls each entry of a comma-separated list with its trimmed text.
 * Stops at the first non-zero answer and returns it.
 */
static int
netaddr_each(const char *list, int (*fn)(const char *, size_t, void *), void *arg)
{
	const char *p = list;
	int rc;

	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, ",");
		const char *item = p;
		size_t ilen = len;

		netaddr_trim(&item, &ilen);
		if ((rc = fn(item, ilen, arg)) != 0)
			return rc;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int
netaddr_check_one(const char *s, size_t len, void *arg)
{
	struct netaddr a;
	int bits;

	(void)arg;
	return netaddr_prefix(s, len, &a, &bits) < 0 ? -1 : 0;
}

int
netaddr_list_check(const char *list, char *err, size_t errlen)
{
	if (netaddr_each(list, netaddr_check_one, NULL) == 0)
		return 0;
	util_format(err, errlen, "must be IP addresses or CIDR prefixes separated by commas");
	return -1;
}

static int
netaddr_contains(const char *s, size_t len, void *arg)
{
	struct netaddr net;
	int bits;

	if (len == 0 || netaddr_prefix(s, len, &net, &bits) < 0)
		return 0;
	return netaddr_match(arg, &net, bits);
}

int
netaddr_in_list(const char *ip, const char *list)
{
	struct netaddr a;

	if (ip == NULL || list == NULL || netaddr_parse(ip, strlen(ip), &a) < 0)
		return 0;
	return netaddr_each(list, netaddr_contains, &a) == 1;
}

/* Copies the address s[0..len) into out if it is one; 0 on success. */
static int
netaddr_take(const char *s, size_t len, char out[NETADDR_MAX])
{
	struct netaddr a;

	netaddr_trim(&s, &len);
	if (netaddr_parse(s, len, &a) < 0)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

const char *
netaddr_client(const char *peer, const char *xff, const char *xrealip,
    const char *trusted, char out[NETADDR_MAX])
{
	size_t end;

	util_copy(out, NETADDR_MAX, peer ? peer : "");
	if (trusted == NULL || *trusted == '\0' || !netaddr_in_list(peer, trusted))
		return out;
	if (xff != NULL && *xff != '\0') {
		/* right to left: each hop appends the address it saw */
		for (end = strlen(xff);;) {
			size_t start = end;
			char hop[NETADDR_MAX];

			while (start > 0 && xff[start - 1] != ',')
				start--;
			if (netaddr_take(xff + start, end - start, hop) < 0)
				return out; /* garbage: keep the last address proven */
			util_copy(out, NETADDR_MAX, hop);
			if (!netaddr_in_list(hop, trusted) || start == 0)
				return out;
			end = start - 1;
		}
	}
	if (xrealip != NULL)
		netaddr_take(xrealip, strlen(xrealip), out);
	return out;
}
