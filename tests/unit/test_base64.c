/*
 * Unit tests of base64 (base64.c): the RFC 4648 section 10 test vectors in
 * both alphabets, the bytes where the two differ, and buffer bounds.
 */
#include "unit.h"

#include "groupsync/base/base64.h"

struct vec {
	const char *in;
	size_t n;
	const char *out;
};

static void
check_vectors(enum base64_alphabet a, const struct vec *v, size_t nv)
{
	char out[64];
	size_t i;

	for (i = 0; i < nv; i++) {
		assert_int_equal(base64_encode(a, v[i].in, v[i].n, out, sizeof(out)),
		    (int)strlen(v[i].out));
		assert_string_equal(out, v[i].out);
		assert_int_equal(base64_len(a, v[i].n), strlen(v[i].out));
	}
}

/* RFC 4648 section 10, padded, and the alphabet's last two characters. */
static void
std_vectors(void **state)
{
	static const struct vec v[] = {
		{"", 0, ""}, {"f", 1, "Zg=="}, {"fo", 2, "Zm8="}, {"foo", 3, "Zm9v"},
		{"foob", 4, "Zm9vYg=="}, {"fooba", 5, "Zm9vYmE="}, {"foobar", 6, "Zm9vYmFy"},
		{"\xfb\xff", 2, "+/8="}, {"\xff\xff\xff", 3, "////"}, {"\x00", 1, "AA=="},
		{"\xfb\xef\xbe", 3, "++++"},
		/* an HTTP Basic credential (RFC 7617 section 2) */
		{"Aladdin:open sesame", 19, "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
	};

	(void)state;
	check_vectors(BASE64_STD, v, sizeof(v) / sizeof(v[0]));
}

/* RFC 4648 section 5: '-' and '_', no padding (as JWS wants). */
static void
b64url_vectors(void **state)
{
	static const struct vec v[] = {
		{"", 0, ""}, {"f", 1, "Zg"}, {"fo", 2, "Zm8"}, {"foo", 3, "Zm9v"},
		{"foob", 4, "Zm9vYg"}, {"fooba", 5, "Zm9vYmE"}, {"foobar", 6, "Zm9vYmFy"},
		{"\xfb\xff", 2, "-_8"}, {"\xff\xff\xff", 3, "____"}, {"\x00", 1, "AA"},
		{"\x3e\x3f", 2, "Pj8"}, {"\xfb\xef\xbe", 3, "----"},
	};

	(void)state;
	check_vectors(BASE64_URL, v, sizeof(v) / sizeof(v[0]));
}

static void
b64url_small_buffer(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(base64_encode(BASE64_URL, "foob", 4, out, 7), 6); /* exactly enough */
	assert_string_equal(out, "Zm9vYg");
	assert_int_equal(base64_encode(BASE64_URL, "foob", 4, out, 6), -1); /* no room for NUL */
	assert_int_equal(base64_encode(BASE64_URL, "", 0, out, 0), -1);
	assert_int_equal(base64_encode(BASE64_URL, "", 0, out, 1), 0);
	assert_string_equal(out, "");
}

/* The padding counts: "foob" takes 8 characters and a NUL, not 6. */
static void
std_small_buffer(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(base64_encode(BASE64_STD, "foob", 4, out, 9), 8);
	assert_string_equal(out, "Zm9vYg==");
	assert_int_equal(base64_encode(BASE64_STD, "foob", 4, out, 8), -1);
	assert_int_equal(base64_encode(BASE64_STD, "foob", 4, out, 7), -1);
	assert_int_equal(base64_encode(BASE64_STD, "", 0, out, 1), 0);
	assert_string_equal(out, "");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(std_vectors),
	cmocka_unit_test(b64url_vectors),
	cmocka_unit_test(b64url_small_buffer),
	cmocka_unit_test(std_small_buffer),
};

GS_UNIT_MAIN(tests)
