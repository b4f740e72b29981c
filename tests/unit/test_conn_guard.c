/* conn_guard: the pure planner (which connections to close, and why). */
#include "unit.h"

#include "groupsync/intake/conn_guard.h"

#define NOW 100000

static const struct conn_guard_limits L = {
	.threads = 8, .request_ms = 5000, .idle_ms = 2000, .grace_ms = 1000, .tick_ms = 100,
};

static int keys[8];

static void
entry(struct conn_guard_entry *e, int i, enum conn_guard_phase p, int64_t age_ms)
{
	memset(e, 0, sizeof(*e));
	e->key = &keys[i];
	e->fd = 100 + i;
	e->phase = p;
	e->since_ms = NOW - age_ms;
}

/* Without pressure only deadlines close: a slow body past request_ms. */
static void
deadlines_only(void **state)
{
	struct conn_guard_entry e[8] = {0};
	enum conn_guard_verdict v[8];

	(void)state;
	entry(&e[0], 0, CONN_GUARD_BODY, 5001);
	entry(&e[1], 1, CONN_GUARD_BODY, 4999);
	entry(&e[2], 2, CONN_GUARD_IDLE, 2001);
	entry(&e[3], 3, CONN_GUARD_HANDLER, 60000); /* our own work: never */
	assert_int_equal(conn_guard_plan(e, 8, NOW, &L, 0, v), 2);
	assert_int_equal(v[0], CONN_GUARD_DEADLINE);
	assert_int_equal(v[1], CONN_GUARD_KEEP);
	assert_int_equal(v[2], CONN_GUARD_DEADLINE);
	assert_int_equal(v[3], CONN_GUARD_KEEP);
}

/* Under pressure: idle first, then the oldest stalled; never a handler,
 * never a request younger than the grace; only as many as wanted. */
static void
pressure_order(void **state)
{
	struct conn_guard_entry e[8];
	enum conn_guard_verdict v[8];

	(void)state;
	entry(&e[0], 0, CONN_GUARD_HANDLER, 4000);
	entry(&e[1], 1, CONN_GUARD_HEADER, 1500);
	entry(&e[2], 2, CONN_GUARD_BODY, 3000);
	entry(&e[3], 3, CONN_GUARD_HANDSHAKE, 500); /* within the grace */
	entry(&e[4], 4, CONN_GUARD_IDLE, 10);
	entry(&e[5], 5, CONN_GUARD_BODY, 200);
	entry(&e[6], 6, CONN_GUARD_HEADER, 2500);
	entry(&e[7], 7, CONN_GUARD_HEADER, 100);
	/* 8 busy, 0 free; want 1 reserve + 2 queued: close 3 */
	assert_int_equal(conn_guard_wanted_free(&L, 2), 3);
	assert_int_equal(conn_guard_plan(e, 8, NOW, &L, 2, v), 3);
	assert_int_equal(v[4], CONN_GUARD_PRESSURE); /* idle */
	assert_int_equal(v[2], CONN_GUARD_PRESSURE); /* oldest stalled */
	assert_int_equal(v[6], CONN_GUARD_PRESSURE);
	assert_int_equal(v[1], CONN_GUARD_KEEP);
	assert_int_equal(v[0], CONN_GUARD_KEEP);
	/* A flood: everything stalled goes, nothing else. */
	assert_int_equal(conn_guard_plan(e, 8, NOW, &L, 1000, v), 4);
	assert_int_equal(v[1], CONN_GUARD_PRESSURE);
	assert_int_equal(v[0] + v[3] + v[5] + v[7], 0);
}

/* Connections already shut down count as freeing their thread. */
static void
shed_not_counted(void **state)
{
	struct conn_guard_entry e[8];
	enum conn_guard_verdict v[8];
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		entry(&e[i], i, CONN_GUARD_HEADER, 3000);
		e[i].shed = i < 3;
	}
	/* 5 busy, 3 free, want 1 + 0 queued: nothing to do */
	assert_int_equal(conn_guard_plan(e, 8, NOW, &L, 0, v), 0);
	/* 3 queued: want 4, have 3 free: one more */
	assert_int_equal(conn_guard_plan(e, 8, NOW, &L, 3, v), 1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(deadlines_only),
	cmocka_unit_test(pressure_order),
	cmocka_unit_test(shed_not_counted),
};

GS_UNIT_MAIN(tests)
