#include "groupsync/base/base64.h"

#include <limits.h>
#include <stdint.h>

size_t
base64_len(enum base64_alphabet a, size_t n)
{
	if (a == BASE64_STD)
		return (n + 2) / 3 * 4;
	return n / 3 * 4 + (n % 3 != 0 ? n % 3 + 1 : 0);
}

int
base64_encode(enum base64_alphabet a, const void *in, size_t n, char *out, size_t outlen)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *tab = a == BASE64_STD ? std : url;
	const unsigned char *p = in;
	size_t need, i, o = 0, rest;
	uint32_t v;

	if (n > (size_t)INT_MAX / 4 * 3) /* the length must fit the int returned */
		return -1;
	need = base64_len(a, n);
	if (need >= outlen)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	rest = n - i;
	if (rest > 0) {
		v = (uint32_t)p[i] << 16 | (rest == 2 ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (rest == 2)
			out[o++] = tab[v >> 6 & 63];
		while (a == BASE64_STD && o < need)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}
