/* Unit tests of client addresses behind trusted proxies (netaddr.c). */
#include "unit.h"

#include "groupsync/base/netaddr.h"

static void
list_check(void **state)
{
	char err[128];

	(void)state;
	assert_int_equal(netaddr_list_check("", err, sizeof(err)), 0);
	assert_int_equal(netaddr_list_check("127.0.0.1", err, sizeof(err)), 0);
	assert_int_equal(netaddr_list_check(" 10.0.0.0/8, ::1 ,fd00::/8", err, sizeof(err)), 0);
	assert_int_equal(netaddr_list_check("10.0.0.0/33", err, sizeof(err)), -1);
	assert_int_equal(netaddr_list_check("10.0.0.0/", err, sizeof(err)), -1);
	assert_int_equal(netaddr_list_check("nginx", err, sizeof(err)), -1);
	assert_int_equal(netaddr_list_check("127.0.0.1,,", err, sizeof(err)), -1);
	assert_int_equal(netaddr_list_check("::1/129", err, sizeof(err)), -1);
}

static void
in_list(void **state)
{
	(void)state;
	assert_true(netaddr_in_list("10.1.2.3", "127.0.0.1, 10.0.0.0/8"));
	assert_false(netaddr_in_list("11.1.2.3", "127.0.0.1, 10.0.0.0/8"));
	assert_true(netaddr_in_list("172.18.0.5", "172.16.0.0/12"));
	assert_false(netaddr_in_list("172.32.0.5", "172.16.0.0/12"));
	assert_true(netaddr_in_list("fd00::7", "fd00::/8"));
	assert_false(netaddr_in_list("fe80::7", "fd00::/8"));
	assert_false(netaddr_in_list("10.0.0.1", "::/0")); /* families never mix */
	assert_true(netaddr_in_list("203.0.113.9", "0.0.0.0/0"));
	assert_false(netaddr_in_list("not-an-ip", "0.0.0.0/0"));
	assert_false(netaddr_in_list("10.0.0.1", ""));
}

static void
client_untrusted_peer(void **state)
{
	char out[NETADDR_MAX];

	(void)state;
	/* anyone can send these headers: ignored unless the peer is trusted */
	assert_string_equal(netaddr_client("198.51.100.7", "203.0.113.9", "203.0.113.9", "",
	    out), "198.51.100.7");
	assert_string_equal(netaddr_client("198.51.100.7", "203.0.113.9", NULL, "127.0.0.1",
	    out), "198.51.100.7");
}

static void
client_behind_proxies(void **state)
{
	char out[NETADDR_MAX];
	const char *trusted = "127.0.0.1, 10.0.0.0/8";

	(void)state;
	assert_string_equal(netaddr_client("127.0.0.1", "203.0.113.9", NULL, trusted, out),
	    "203.0.113.9");
	/* a client's own forged entry comes first: the right-most untrusted wins */
	assert_string_equal(netaddr_client("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.0.0.2",
	    NULL, trusted, out), "203.0.113.9");
	/* all hops trusted: the left-most */
	assert_string_equal(netaddr_client("127.0.0.1", "10.0.0.3,10.0.0.2", NULL, trusted,
	    out), "10.0.0.3");
	/* garbage stops the walk at the last address proven */
	assert_string_equal(netaddr_client("127.0.0.1", "x\r\ny, 10.0.0.2", NULL, trusted,
	    out), "10.0.0.2");
	assert_string_equal(netaddr_client("127.0.0.1", "<script>", NULL, trusted, out),
	    "127.0.0.1");
	/* no X-Forwarded-For: X-Real-IP if it is an address */
	assert_string_equal(netaddr_client("127.0.0.1", NULL, " 2001:db8::1 ", trusted, out),
	    "2001:db8::1");
	assert_string_equal(netaddr_client("127.0.0.1", NULL, "evil\"}", trusted, out),
	    "127.0.0.1");
	assert_string_equal(netaddr_client("127.0.0.1", "", NULL, trusted, out), "127.0.0.1");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(list_check),
	cmocka_unit_test(in_list),
	cmocka_unit_test(client_untrusted_peer),
	cmocka_unit_test(client_behind_proxies),
};

GS_UNIT_MAIN(tests)
