/*
 * base64: RFC 4648 encoding, the one copy for every caller: the standard
 * alphabet with '=' padding (section 4: HTTP Basic credentials) and the
 * URL and file name safe alphabet without padding (section 5: JWS parts,
 * DPoP's ath and key coordinates, random IDs).
 *
 * Threads: reentrant; no allocation.
 */
#ifndef GROUPSYNC_BASE64_H
#define GROUPSYNC_BASE64_H

#include <stddef.h>

enum base64_alphabet {
	BASE64_STD, /* A-Z a-z 0-9 + /, padded with '=' to a multiple of 4 */
	BASE64_URL, /* A-Z a-z 0-9 - _, no padding */
};

/* Characters the encoding of n bytes takes, without the NUL. */
size_t base64_len(enum base64_alphabet a, size_t n);

/*
 * Encodes n bytes of in into out (outlen bytes, NUL-terminated). Returns
 * the length written without the NUL, or -1 when out is too small or the
 * result would not fit an int.
 */
int base64_encode(enum base64_alphabet a, const void *in, size_t n, char *out, size_t outlen);

#endif
