/*
 * Unit tests of buf (buf.c): appends that grow the buffer many times keep
 * every byte, printf-style appends of any length, the bound (a response
 * larger than HTTP_MAX_RESPONSE must fail as too large, not truncate), and
 * that a failure sticks.
 */
#include "unit.h"

#include "groupsync/base/buf.h"

static void
grows_and_keeps_bytes(void **state)
{
	struct buf b = {0};
	size_t i;

	(void)state;
	for (i = 0; i < 10000; i++)
		buf_add(&b, &"0123456789"[i % 10], 1);
	assert_int_equal(b.failed, 0);
	assert_int_equal(b.len, 10000);
	assert_int_equal(strlen(b.p), 10000); /* NUL-terminated, no NUL inside */
	for (i = 0; i < 10000; i++)
		assert_int_equal(b.p[i], '0' + (int)(i % 10));
	free(b.p);
}

static void
empty_add_allocates(void **state)
{
	struct buf b = {0};

	(void)state;
	buf_add(&b, "", 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	free(b.p);
}

static void
printf_any_length(void **state)
{
	struct buf b = {0};
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "%s=%d;", "a", 1);
	buf_printf(&b, "%s", big); /* past the first capacity */
	buf_printf(&b, ";%s", "end");
	assert_int_equal(b.failed, 0);
	assert_int_equal(b.len, 4 + 4999 + 4);
	assert_memory_equal(b.p, "a=1;xxx", 7);
	assert_string_equal(b.p + b.len - 4, ";end");
	free(b.p);
}

static void
bound_is_too_large_and_sticks(void **state)
{
	struct buf b = {.max = 10};

	(void)state;
	buf_add(&b, "0123456789", 10); /* exactly max */
	assert_int_equal(b.failed, 0);
	buf_add(&b, "a", 1);
	assert_int_equal(b.failed, BUF_TOO_LARGE);
	assert_int_equal(b.len, 10); /* nothing of it kept */
	b.max = 0;
	buf_add(&b, "b", 1); /* sticky: the caller checks once at the end */
	buf_printf(&b, "%d", 7);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.p, "0123456789");
	free(b.p);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(grows_and_keeps_bytes),
	cmocka_unit_test(empty_add_allocates),
	cmocka_unit_test(printf_any_length),
	cmocka_unit_test(bound_is_too_large_and_sticks),
};

GS_UNIT_MAIN(tests)
