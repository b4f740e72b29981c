/* Unit tests of the metrics module: the text format parsed line by line
 * (HELP/TYPE/sample syntax, histogram buckets, label escaping), every
 * counter family, the scrape-time gauges, and exact sums under threads. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "unit.h"

#include "groupsync/base/metrics.h"
#include "groupsync/store/store.h"

/* ---- a strict parser of the Prometheus text format (version 0.0.4) ---- */

#define P_MAX_SAMPLES 512
#define P_MAX_FAMILIES 64
#define P_KEY_MAX 256

struct p_sample {
	char key[P_KEY_MAX]; /* name{labels as written} or name */
	char family[96];
	double value;
};

struct p_family {
	char name[96];
	char type[16];
	int help, samples;
};

struct parsed {
	struct p_sample s[P_MAX_SAMPLES];
	size_t n;
	struct p_family f[P_MAX_FAMILIES];
	size_t nf;
};

static int
p_name_char(int c, int first)
{
	return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* Reads a metric or label name at *s; returns its length (0: none). */
static size_t
p_name(const char *s)
{
	size_t i = 0;

	while (p_name_char((unsigned char)s[i], i == 0))
		i++;
	return i;
}

static struct p_family *
p_family(struct parsed *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->nf; i++) {
		if (strlen(p->f[i].name) == len && strncmp(p->f[i].name, name, len) == 0)
			return &p->f[i];
	}
	assert_true(p->nf < P_MAX_FAMILIES);
	assert_true(len < sizeof(p->f[0].name));
	memcpy(p->f[p->nf].name, name, len);
	return &p->f[p->nf++];
}

/* "# HELP name text" or "# TYPE name type": each once, before samples. */
static struct p_family *
p_comment(struct parsed *p, const char *line, size_t len)
{
	int help = strncmp(line, "# HELP ", 7) == 0;
	size_t nl = p_name(line + 7);
	struct p_family *f;
	const char *rest = line + 7 + nl;

	assert_true(help || strncmp(line, "# TYPE ", 7) == 0);
	assert_true(nl > 0 && rest[0] == ' ' && 7 + nl + 1 < len);
	f = p_family(p, line + 7, nl);
	assert_int_equal(f->samples, 0);
	if (help) {
		assert_false(f->help);
		f->help = 1;
		return f;
	}
	assert_int_equal(f->type[0], '\0');
	assert_true(len - (7 + nl + 1) < sizeof(f->type));
	memcpy(f->type, rest + 1, len - (7 + nl + 1));
	assert_true(strcmp(f->type, "counter") == 0 || strcmp(f->type, "gauge") == 0 ||
	    strcmp(f->type, "histogram") == 0);
	return f;
}

/* {name="value",...}: returns the length consumed, escapes checked. */
static size_t
p_labels(const char *s)
{
	size_t i = 1, nl;

	assert_int_equal(s[0], '{');
	for (;;) {
		nl = p_name(s + i);
		assert_true(nl > 0);
		i += nl;
		assert_int_equal(s[i], '=');
		assert_int_equal(s[i + 1], '"');
		for (i += 2; s[i] != '"'; i++) {
			assert_true(s[i] != '\n' && s[i] != '\0');
			if (s[i] == '\\') {
				i++;
				assert_true(s[i] == '\\' || s[i] == '"' || s[i] == 'n');
			}
		}
		i++;
		if (s[i] == '}')
			return i + 1;
		assert_int_equal(s[i], ',');
		i++;
	}
}

/* The sample's name must belong to the family its TYPE line opened. */
static void
p_check_owner(const struct p_family *cur, const char *name, size_t nl)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	size_t fl, i;
	int ok = 0;

	assert_non_null(cur);
	assert_true(cur->help && cur->type[0] != '\0');
	fl = strlen(cur->name);
	assert_true(nl >= fl && strncmp(name, cur->name, fl) == 0);
	if (nl == fl) {
		assert_string_not_equal(cur->type, "histogram");
		return;
	}
	assert_string_equal(cur->type, "histogram");
	for (i = 0; i < 3; i++)
		ok |= nl - fl == strlen(suffixes[i]) &&
		    strncmp(name + fl, suffixes[i], nl - fl) == 0;
	assert_true(ok);
}

/*
 * A histogram's buckets: "le" strictly increasing, counts cumulative
 * (never decreasing), the last one +Inf, and _count equal to it.
 */
static void
p_check_histogram(const struct parsed *p, const char *family)
{
	char bucket[120], count[120];
	double le = -1, prev = 0, v, inf = -1;
	const char *l;
	size_t i;

	snprintf(bucket, sizeof(bucket), "%s_bucket{le=\"", family);
	snprintf(count, sizeof(count), "%s_count", family);
	for (i = 0; i < p->n; i++) {
		if (strncmp(p->s[i].key, bucket, strlen(bucket)) != 0)
			continue;
		assert_true(inf < 0); /* nothing after +Inf */
		l = p->s[i].key + strlen(bucket);
		v = strncmp(l, "+Inf\"}", 6) == 0 ? HUGE_VAL : strtod(l, NULL);
		assert_true(v > le);
		assert_true(p->s[i].value >= prev);
		le = v;
		prev = p->s[i].value;
		if (v == HUGE_VAL)
			inf = prev;
	}
	assert_true(inf >= 0);
	for (i = 0; i < p->n && strcmp(p->s[i].key, count) != 0; i++)
		;
	assert_true(i < p->n);
	assert_true(p->s[i].value == inf);
}

static void
p_sample_line(struct parsed *p, struct p_family *cur, const char *line, size_t len)
{
	size_t nl = p_name(line), kl = nl;
	struct p_sample *s;
	char vbuf[64], *end;

	assert_true(nl > 0);
	p_check_owner(cur, line, nl);
	if (line[kl] == '{')
		kl += p_labels(line + kl);
	assert_int_equal(line[kl], ' ');
	assert_true(len - kl - 1 > 0 && len - kl - 1 < sizeof(vbuf));
	memcpy(vbuf, line + kl + 1, len - kl - 1);
	vbuf[len - kl - 1] = '\0';
	assert_true(p->n < P_MAX_SAMPLES && kl < P_KEY_MAX);
	s = &p->s[p->n++];
	memcpy(s->key, line, kl);
	s->key[kl] = '\0';
	snprintf(s->family, sizeof(s->family), "%s", cur->name);
	s->value = strtod(vbuf, &end);
	assert_true(end != vbuf && *end == '\0');
	cur->samples++;
}

/* Parses the whole text; any deviation from the format fails the test. */
static void
p_parse(struct parsed *p, const char *text, size_t len)
{
	struct p_family *cur = NULL;
	const char *line = text, *nl;
	size_t i, j;

	memset(p, 0, sizeof(*p));
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true(nl > line); /* no empty lines */
		if (line[0] == '#')
			cur = p_comment(p, line, (size_t)(nl - line));
		else
			p_sample_line(p, cur, line, (size_t)(nl - line));
	}
	for (i = 0; i < p->nf; i++) {
		assert_true(p->f[i].help && p->f[i].type[0] != '\0');
		assert_memory_equal(p->f[i].name, "groupsync_", 10);
		if (strcmp(p->f[i].type, "counter") == 0)
			assert_string_equal(p->f[i].name + strlen(p->f[i].name) - 6, "_total");
		if (strcmp(p->f[i].type, "histogram") == 0)
			p_check_histogram(p, p->f[i].name);
	}
	for (i = 0; i < p->n; i++) {
		for (j = i + 1; j < p->n; j++)
			assert_string_not_equal(p->s[i].key, p->s[j].key);
	}
}

/* The value of the sample written exactly as key; fails when absent. */
static double
p_value(const struct parsed *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (strcmp(p->s[i].key, key) == 0)
			return p->s[i].value;
	}
	fail_msg("no sample %s", key);
	return -1;
}

static int
p_has(const struct parsed *p, const char *family)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (strcmp(p->s[i].family, family) == 0)
			return 1;
	}
	return 0;
}

static int
p_has_family(const struct parsed *p, const char *family)
{
	size_t i;

	for (i = 0; i < p->nf; i++) {
		if (strcmp(p->f[i].name, family) == 0)
			return 1;
	}
	return 0;
}

static struct metrics_gauges
gauges(void)
{
	struct metrics_gauges g;

	memset(&g, 0, sizeof(g));
	g.have_queue = 1;
	g.jobs[STORE_PENDING] = 3;
	g.jobs[STORE_LEASED] = 1;
	g.jobs[STORE_DONE] = 40;
	g.jobs[STORE_DEAD] = 2;
	g.oldest_pending_ms = 1234;
	g.have_okta = 1;
	g.okta.reads = 10;
	g.okta.writes = 4;
	g.okta.token_requests = 1;
	g.okta.rate_limited = 2;
	g.okta.deferred = 5;
	g.okta.rate_remaining = 57;
	g.okta.buckets[0].name = "users-id-get";
	g.okta.buckets[0].calls[OKTA_CALL_2XX] = 9;
	g.okta.buckets[0].calls[OKTA_CALL_429] = 1;
	g.okta.buckets[0].share_remaining = 0.25;
	g.okta.buckets[0].waited_s = 1.5;
	return g;
}

/* Renders and parses; the caller frees the parse with free(). */
static struct parsed *
scrape(const struct metrics_gauges *g)
{
	struct parsed *p = calloc(1, sizeof(*p));
	char *text = NULL;
	size_t len = 0;

	assert_non_null(p);
	assert_int_equal(metrics_render(g, &text, &len), 0);
	assert_non_null(text);
	p_parse(p, text, len);
	free(text);
	return p;
}

/* ---- the cases ---- */

static void
render_format(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;

	(void)state;
	metrics_reset();
	metrics_delivery(METRICS_DELIVERY_ACCEPTED);
	metrics_sync(METRICS_SYNC_OK, METRICS_ACTION_CREATE, 42000);
	p = scrape(&g);
	assert_true(p->nf >= 14);
	assert_string_equal(p->f[0].name, "groupsync_build_info");
	assert_true(p_value(p, "groupsync_build_info{version=\"" GROUPSYNC_VERSION "\"}") == 1);
	/* every fixed label value is present from the start, zero or not */
	assert_true(p_value(p, "groupsync_deliveries_total{outcome=\"store_failed\"}") == 0);
	assert_true(p_value(p,
	    "groupsync_syncs_total{outcome=\"dead\",action=\"undecided\"}") == 0);
	assert_true(p_value(p,
	    "groupsync_remote_requests_total{operation=\"find\",class=\"none\"}") == 0);
	free(p);
}

static void
counters_counted(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;

	(void)state;
	metrics_reset();
	metrics_delivery(METRICS_DELIVERY_ACCEPTED);
	metrics_delivery(METRICS_DELIVERY_ACCEPTED);
	metrics_delivery(METRICS_DELIVERY_UNAUTHORIZED);
	metrics_events(METRICS_EVENT_QUEUED, 5);
	metrics_events(METRICS_EVENT_IGNORED_NO_TARGET, 2);
	metrics_events(METRICS_EVENT_DUPLICATE, 0);
	metrics_sync(METRICS_SYNC_RETRY, METRICS_ACTION_UNDECIDED, 1);
	metrics_sync(METRICS_SYNC_SKIPPED, METRICS_ACTION_NOTHING, 1);
	metrics_sync(METRICS_SYNC_SKIPPED, METRICS_ACTION_NOTHING, 1);
	p = scrape(&g);
	assert_true(p_value(p, "groupsync_deliveries_total{outcome=\"accepted\"}") == 2);
	assert_true(p_value(p, "groupsync_deliveries_total{outcome=\"unauthorized\"}") == 1);
	assert_true(p_value(p, "groupsync_deliveries_total{outcome=\"duplicate\"}") == 0);
	assert_true(p_value(p, "groupsync_events_total{decision=\"queued\"}") == 5);
	assert_true(p_value(p, "groupsync_events_total{decision=\"ignored_no_target\"}") == 2);
	assert_true(p_value(p, "groupsync_events_total{decision=\"duplicate\"}") == 0);
	assert_true(p_value(p,
	    "groupsync_syncs_total{outcome=\"retry\",action=\"undecided\"}") == 1);
	assert_true(p_value(p,
	    "groupsync_syncs_total{outcome=\"skipped\",action=\"nothing\"}") == 2);
	free(p);
	/* a reset really zeroes */
	metrics_reset();
	p = scrape(&g);
	assert_true(p_value(p, "groupsync_deliveries_total{outcome=\"accepted\"}") == 0);
	assert_true(p_value(p, "groupsync_sync_duration_seconds_count") == 0);
	free(p);
}

static void
event_types(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;

	(void)state;
	metrics_reset();
	metrics_event_type("group.user_membership.add");
	metrics_event_type("group.user_membership.add");
	metrics_event_type("user.lifecycle.delete.initiated");
	metrics_event_type("user.session.start"); /* never a label of its own */
	metrics_event_type("user.lifecycle.activate\"} 9\n");
	metrics_event_type(NULL);
	p = scrape(&g);
	assert_true(p_value(p,
	    "groupsync_events_handled_total{type=\"group.user_membership.add\"}") == 2);
	assert_true(p_value(p,
	    "groupsync_events_handled_total{type=\"user.lifecycle.delete.initiated\"}") == 1);
	assert_true(p_value(p,
	    "groupsync_events_handled_total{type=\"user.lifecycle.activate\"}") == 0);
	assert_true(p_value(p, "groupsync_events_handled_total{type=\"other\"}") == 3);
	free(p);
}

static void
remote_status_classes(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;

	(void)state;
	metrics_reset();
	metrics_remote_call(METRICS_REMOTE_FIND, 200);
	metrics_remote_call(METRICS_REMOTE_CREATE, 201);
	metrics_remote_call(METRICS_REMOTE_CREATE, 0);
	metrics_remote_call(METRICS_REMOTE_UPDATE, 302);
	metrics_remote_call(METRICS_REMOTE_UPDATE, 429);
	metrics_remote_call(METRICS_REMOTE_UPDATE, 404);
	metrics_remote_call(METRICS_REMOTE_DELETE, 503);
	metrics_remote_call(METRICS_REMOTE_DELETE, 101);
	metrics_remote_call(METRICS_REMOTE_DELETE, 999);
	p = scrape(&g);
#define RR(op, cls) "groupsync_remote_requests_total{operation=\"" op "\",class=\"" cls "\"}"
	assert_true(p_value(p, RR("find", "2xx")) == 1);
	assert_true(p_value(p, RR("create", "2xx")) == 1);
	assert_true(p_value(p, RR("create", "none")) == 1);
	assert_true(p_value(p, RR("update", "3xx")) == 1);
	assert_true(p_value(p, RR("update", "4xx")) == 2);
	assert_true(p_value(p, RR("delete", "5xx")) == 1);
	assert_true(p_value(p, RR("delete", "other")) == 2);
	assert_true(p_value(p, RR("find", "none")) == 0);
#undef RR
	free(p);
}

static void
histogram_cumulative(void **state)
{
	static const uint64_t us[] = {0, 4999, 5000, 5001, 99999, 1000000, 29999999, 30000000,
	    30000001, 3600000000u};
	static const char *const le[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	    "1", "2.5", "5", "10", "30", "+Inf"};
	/* cumulative counts the durations above give, bucket by bucket */
	static const double want[] = {3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 8, 10};
	struct metrics_gauges g = gauges();
	struct parsed *p;
	char key[P_KEY_MAX];
	double prev = 0, v;
	size_t i;

	(void)state;
	metrics_reset();
	for (i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		metrics_sync(METRICS_SYNC_OK, METRICS_ACTION_UPDATE, us[i]);
	p = scrape(&g);
	for (i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		snprintf(key, sizeof(key), "groupsync_sync_duration_seconds_bucket{le=\"%s\"}",
		    le[i]);
		v = p_value(p, key);
		assert_true(v >= prev); /* cumulative */
		assert_true(v == want[i]);
		prev = v;
	}
	assert_true(p_value(p, "groupsync_sync_duration_seconds_count") == prev);
	/* the sum, exactly: 3,691,114,999 us */
	assert_true(p_value(p, "groupsync_sync_duration_seconds_sum") == 3691.114999);
	assert_true(p_value(p,
	    "groupsync_syncs_total{outcome=\"ok\",action=\"update\"}") == 10);
	assert_int_equal(METRICS_SYNC_BUCKETS + 1, sizeof(le) / sizeof(le[0]));
	free(p);
}

static void
label_escaping(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(metrics_escape_label("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(metrics_escape_label("a\\b", out, sizeof(out)), 4);
	assert_string_equal(out, "a\\\\b");
	assert_int_equal(metrics_escape_label("say \"hi\"", out, sizeof(out)), 10);
	assert_string_equal(out, "say \\\"hi\\\"");
	assert_int_equal(metrics_escape_label("two\nlines", out, sizeof(out)), 10);
	assert_string_equal(out, "two\\nlines");
	assert_int_equal(metrics_escape_label("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* never truncated silently: the whole escape fits or -1 */
	assert_int_equal(metrics_escape_label("abc", out, 4), 3);
	assert_int_equal(metrics_escape_label("abcd", out, 4), -1);
	assert_int_equal(metrics_escape_label("ab\"", out, 4), -1);
	assert_int_equal(metrics_escape_label("a\"", out, 4), 3);
	assert_string_equal(out, "a\\\"");
}

static void
gauges_rendered(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;

	(void)state;
	metrics_reset();
	p = scrape(&g);
	assert_true(p_value(p, "groupsync_queue_readable") == 1);
	assert_true(p_value(p, "groupsync_queue_jobs{state=\"pending\"}") == 3);
	assert_true(p_value(p, "groupsync_queue_jobs{state=\"leased\"}") == 1);
	assert_true(p_value(p, "groupsync_queue_jobs{state=\"done\"}") == 40);
	assert_true(p_value(p, "groupsync_queue_jobs{state=\"dead\"}") == 2);
	assert_true(p_value(p, "groupsync_dead_letters") == 2);
	assert_true(p_value(p, "groupsync_queue_oldest_pending_age_seconds") == 1.234);
	assert_true(p_value(p, "groupsync_okta_requests_total{kind=\"read\"}") == 10);
	assert_true(p_value(p, "groupsync_okta_requests_total{kind=\"write\"}") == 4);
	assert_true(p_value(p, "groupsync_okta_requests_total{kind=\"token\"}") == 1);
	assert_true(p_value(p, "groupsync_okta_rate_limited_total") == 2);
	assert_true(p_value(p, "groupsync_okta_deferred_total") == 5);
	assert_true(p_value(p, "groupsync_okta_rate_limit_remaining") == 57);
	assert_true(p_value(p, "groupsync_okta_calls_total{bucket=\"users-id-get\","
	    "class=\"2xx\"}") == 9);
	assert_true(p_value(p, "groupsync_okta_calls_total{bucket=\"users-id-get\","
	    "class=\"429\"}") == 1);
	assert_true(p_value(p, "groupsync_okta_calls_total{bucket=\"users-id-get\","
	    "class=\"error\"}") == 0);
	assert_true(p_value(p, "groupsync_okta_bucket_share_remaining{bucket=\"users-id-get\"}")
	    == 0.25);
	assert_true(p_value(p, "groupsync_okta_budget_wait_seconds_total{bucket="
	    "\"users-id-get\"}") == 1.5);
	free(p);
}

/* Unknown values are left out, never reported as made-up zeros. */
static void
gauges_absent(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;

	(void)state;
	g.okta.rate_remaining = -1;
	p = scrape(&g);
	assert_true(p_has_family(p, "groupsync_okta_rate_limit_remaining"));
	assert_false(p_has(p, "groupsync_okta_rate_limit_remaining"));
	free(p);
	g.have_queue = 0;
	g.have_okta = 0;
	p = scrape(&g);
	assert_true(p_value(p, "groupsync_queue_readable") == 0);
	assert_false(p_has(p, "groupsync_queue_jobs"));
	assert_false(p_has(p, "groupsync_dead_letters"));
	assert_false(p_has(p, "groupsync_queue_oldest_pending_age_seconds"));
	assert_false(p_has_family(p, "groupsync_okta_requests_total"));
	assert_true(p_has(p, "groupsync_deliveries_total"));
	free(p);
}

static void
out_of_range_ignored(void **state)
{
	struct metrics_gauges g = gauges();
	struct parsed *p;
	size_t i;
	double sum = 0;

	(void)state;
	metrics_reset();
	metrics_delivery(METRICS_DELIVERY_N);
	metrics_delivery((enum metrics_delivery)-1);
	metrics_events(METRICS_EVENT_N, 7);
	metrics_sync(METRICS_SYNC_OUTCOME_N, METRICS_ACTION_CREATE, 1);
	metrics_sync(METRICS_SYNC_OK, METRICS_ACTION_N, 1);
	metrics_remote_call(METRICS_REMOTE_OP_N, 200);
	p = scrape(&g);
	for (i = 0; i < p->n; i++) {
		if (strncmp(p->s[i].family, "groupsync_queue", 15) != 0 &&
		    strncmp(p->s[i].family, "groupsync_okta", 14) != 0 &&
		    strcmp(p->s[i].family, "groupsync_build_info") != 0 &&
		    strcmp(p->s[i].family, "groupsync_dead_letters") != 0)
			sum += p->s[i].value;
	}
	assert_true(sum == 0);
	free(p);
}

#define T_THREADS 8
#define T_ROUNDS 50000

static void *
hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < T_ROUNDS; i++) {
		metrics_delivery(METRICS_DELIVERY_ACCEPTED);
		metrics_events(METRICS_EVENT_QUEUED, 2);
		metrics_event_type("user.lifecycle.suspend");
		metrics_sync(METRICS_SYNC_OK, METRICS_ACTION_CREATE, 1000);
		metrics_remote_call(METRICS_REMOTE_CREATE, 201);
	}
	return NULL;
}

#define T_SCRAPES 32

/* Scrapes while the counters move. Only renders: cmocka's asserts belong
 * to the main thread, which parses every text afterwards. */
struct scrapes {
	_Atomic int done;
	char *text[T_SCRAPES];
	size_t len[T_SCRAPES];
	int n, failed;
};

static void *
scraper(void *arg)
{
	struct scrapes *sc = arg;
	struct metrics_gauges g = gauges();

	while (!atomic_load(&sc->done) && sc->n < T_SCRAPES) {
		if (metrics_render(&g, &sc->text[sc->n], &sc->len[sc->n]) < 0)
			sc->failed = 1;
		else
			sc->n++;
	}
	return NULL;
}

static void
concurrent_increments(void **state)
{
	pthread_t th[T_THREADS], st;
	static struct scrapes sc;
	struct metrics_gauges g = gauges();
	struct parsed *p = calloc(1, sizeof(*p));
	double n = (double)T_THREADS * T_ROUNDS;
	int i;

	(void)state;
	assert_non_null(p);
	metrics_reset();
	assert_int_equal(pthread_create(&st, NULL, scraper, &sc), 0);
	for (i = 0; i < T_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (i = 0; i < T_THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&sc.done, 1);
	pthread_join(st, NULL);
	assert_false(sc.failed);
	assert_true(sc.n > 0);
	for (i = 0; i < sc.n; i++) {
		p_parse(p, sc.text[i], sc.len[i]); /* histogram checks included */
		free(sc.text[i]);
	}
	free(p);
	p = scrape(&g);
	assert_true(p_value(p, "groupsync_deliveries_total{outcome=\"accepted\"}") == n);
	assert_true(p_value(p, "groupsync_events_total{decision=\"queued\"}") == 2 * n);
	assert_true(p_value(p,
	    "groupsync_events_handled_total{type=\"user.lifecycle.suspend\"}") == n);
	assert_true(p_value(p, "groupsync_syncs_total{outcome=\"ok\",action=\"create\"}") == n);
	assert_true(p_value(p, "groupsync_sync_duration_seconds_bucket{le=\"0.005\"}") == n);
	assert_true(p_value(p, "groupsync_sync_duration_seconds_count") == n);
	assert_true(p_value(p, "groupsync_sync_duration_seconds_sum") == n / 1000);
	assert_true(p_value(p,
	    "groupsync_remote_requests_total{operation=\"create\",class=\"2xx\"}") == n);
	free(p);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(render_format),
	cmocka_unit_test(counters_counted),
	cmocka_unit_test(event_types),
	cmocka_unit_test(remote_status_classes),
	cmocka_unit_test(histogram_cumulative),
	cmocka_unit_test(label_escaping),
	cmocka_unit_test(gauges_rendered),
	cmocka_unit_test(gauges_absent),
	cmocka_unit_test(out_of_range_ignored),
	cmocka_unit_test(concurrent_increments),
};

GS_UNIT_MAIN(tests)
