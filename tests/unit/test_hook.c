/*
 * Unit tests of hook.c: Okta's sample deliveries, hand-made events for
 * each rule, hostile bodies, authentication and the verification answer.
 */
#include "unit.h"

#include <stdlib.h>

#include <json-c/json.h>

#include "groupsync/intake/hook.h"

#ifndef GS_TEST_DATA_DIR
#error "GS_TEST_DATA_DIR must name tests/data (okta/samples/)"
#endif

#define SYNC_GROUP "00g8sync7AbCdEfGh4x7"
#define OTHER_GROUP "00g8othr9ZyXwVuTs4x7"
#define JANE "00u8jane2XyZaBcDe4x7"
#define UUID1 "6a1f0d5e-3b0c-11ef-9d3c-8f2b6a1c0001"
#define PUB "2026-11-02T16:59:53.032Z"

#define Q(s) "\"" s "\""
#define CHANGED(v) \
	"\"debugContext\":{\"debugData\":{\"changedAttributes\":" v "}}"
#define T_USER "{\"type\":\"User\",\"id\":\"" JANE "\"}"
#define T_GROUP(g) "{\"type\":\"UserGroup\",\"id\":\"" g "\"}"

static const char *const groups[] = { SYNC_GROUP, "00g1another00000000x7" };
static const struct hook_filter filter = { groups, 2, NULL, NULL };

/* Reads okta/samples/NAME; the caller frees. */
static char *
read_sample(const char *name, size_t *len)
{
	char path[512];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/okta/samples/%s", GS_TEST_DATA_DIR, name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf; /* deliberately not NUL-terminated */
}

static int
parse_len(const char *body, size_t len, struct hook_delivery *d, char *err,
    size_t errlen)
{
	err[0] = '\0';
	return hook_parse_delivery(body, len, &filter, d, err, errlen);
}

static int
parse(const char *body, struct hook_delivery *d, char *err, size_t errlen)
{
	return parse_len(body, strlen(body), d, err, errlen);
}

static void
parse_sample(const char *name, struct hook_delivery *d)
{
	char err[128];
	size_t len;
	char *body = read_sample(name, &len);

	assert_int_equal(parse_len(body, len, d, err, sizeof(err)), 0);
	free(body);
}

static void
assert_ignored(const struct hook_delivery *d, size_t type, size_t notarget,
    size_t group, size_t invalid)
{
	assert_int_equal(d->ignored[HOOK_IGNORED_TYPE], type);
	assert_int_equal(d->ignored[HOOK_IGNORED_NO_TARGET], notarget);
	assert_int_equal(d->ignored[HOOK_IGNORED_GROUP], group);
	assert_int_equal(d->ignored[HOOK_IGNORED_INVALID], invalid);
	assert_int_equal(d->njobs + type + notarget + group + invalid,
	    d->nevents);
}

static void
assert_job(const struct store_job_in *j, const char *uuid, const char *type,
    const char *published, const char *group, const char *changed, int known)
{
	assert_string_equal(j->uuid, uuid);
	assert_string_equal(j->user_id, JANE);
	assert_string_equal(j->event_type, type);
	assert_string_equal(j->published, published);
	assert_string_equal(j->group_id, group);
	assert_string_equal(j->changed, changed);
	assert_int_equal(j->changed_known, known);
}

/* A delivery of one event: raw JSON for each field (NULL: left out). */
static char *
one_event(const char *type, const char *uuid, const char *published,
    const char *target, const char *extra)
{
	char *buf = malloc(8192);
	int n;

	assert_non_null(buf);
	n = snprintf(buf, 8192, "{\"eventType\":\"com.okta.event_hook\","
	    "\"eventId\":\"d-1\",\"data\":{\"events\":[{"
	    "\"eventType\":%s,\"uuid\":%s,\"published\":%s%s%s%s%s}]}}",
	    type, uuid, published, target ? ",\"target\":" : "",
	    target ? target : "", extra ? "," : "", extra ? extra : "");
	assert_true(n > 0 && n < 8192);
	return buf;
}

/* Parses one_event() and expects success with one job or one reason. */
static void
expect_event(const char *type, const char *uuid, const char *published,
    const char *target, const char *extra, int reason,
    struct hook_delivery *d)
{
	char err[128];
	char *body = one_event(type, uuid, published, target, extra);

	assert_int_equal(parse(body, d, err, sizeof(err)), 0);
	assert_int_equal(d->nevents, 1);
	assert_int_equal(d->njobs, reason < 0 ? 1 : 0);
	if (reason >= 0)
		assert_int_equal(d->ignored[reason], 1);
	free(body);
}

/* Expects -1, a short reason, and a zeroed delivery. */
static void
expect_reject_len(const char *body, size_t len, const char *why)
{
	struct hook_delivery d;
	char err[128];

	memset(&d, 0xa5, sizeof(d));
	assert_int_equal(parse_len(body, len, &d, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	if (why != NULL)
		assert_string_equal(err, why);
	assert_null(d.jobs);
	assert_int_equal(d.njobs, 0);
	assert_int_equal(d.nevents, 0);
	hook_delivery_free(&d);
}

static void
expect_reject(const char *body, const char *why)
{
	expect_reject_len(body, strlen(body), why);
}

/*
 * For input json-c 0.16 accepts although it is not strict JSON (NaN,
 * overlong UTF-8): either refused, or parsed without producing a job.
 */
static void
expect_no_job(const char *body)
{
	struct hook_delivery d;
	char err[128];

	if (parse(body, &d, err, sizeof(err)) == 0) {
		assert_int_equal(d.njobs, 0);
		assert_int_equal(d.ignored[HOOK_IGNORED_INVALID], d.nevents);
	}
	hook_delivery_free(&d);
}

static void
sample_group_add(void **state)
{
	struct hook_delivery d;

	(void)state;
	parse_sample("delivery-group-add.json", &d);
	assert_string_equal(d.event_id, "b5a188b9-5ece-4636-b041-482ffda96301");
	assert_int_equal(d.nevents, 1);
	assert_int_equal(d.njobs, 1);
	assert_ignored(&d, 0, 0, 0, 0);
	assert_job(&d.jobs[0], UUID1, "group.user_membership.add", PUB,
	    SYNC_GROUP, "", 0);
	hook_delivery_free(&d);
}

static void
sample_group_remove(void **state)
{
	struct hook_delivery d;

	(void)state;
	parse_sample("delivery-group-remove.json", &d);
	assert_string_equal(d.event_id, "b5a188b9-5ece-4636-b041-482ffda96302");
	assert_int_equal(d.njobs, 1);
	assert_ignored(&d, 0, 0, 0, 0);
	assert_job(&d.jobs[0], "6a1f0d5e-3b0c-11ef-9d3c-8f2b6a1c0002",
	    "group.user_membership.remove", "2026-11-02T17:10:01.511Z",
	    SYNC_GROUP, "", 0);
	hook_delivery_free(&d);
}

static void
sample_update_profile(void **state)
{
	struct hook_delivery d;

	(void)state;
	parse_sample("delivery-update-profile.json", &d);
	assert_string_equal(d.event_id, "b5a188b9-5ece-4636-b041-482ffda96303");
	assert_int_equal(d.njobs, 1);
	assert_ignored(&d, 0, 0, 0, 0);
	assert_job(&d.jobs[0], "6a1f0d5e-3b0c-11ef-9d3c-8f2b6a1c0003",
	    "user.account.update_profile", "2026-11-02T17:05:12.004Z", "",
	    "city,streetAddress", 1);
	hook_delivery_free(&d);
}

static void
sample_deactivate(void **state)
{
	struct hook_delivery d;

	(void)state;
	parse_sample("delivery-deactivate.json", &d);
	assert_string_equal(d.event_id, "b5a188b9-5ece-4636-b041-482ffda96304");
	assert_int_equal(d.njobs, 1);
	assert_ignored(&d, 0, 0, 0, 0);
	assert_job(&d.jobs[0], "6a1f0d5e-3b0c-11ef-9d3c-8f2b6a1c0004",
	    "user.lifecycle.deactivate", "2026-11-02T18:00:00.000Z", "", "", 0);
	hook_delivery_free(&d);
}

/*
 * Four events: an add for another group (User target second), a session
 * start, an add for the configured group, a profile update without
 * changedAttributes. Jobs keep the order of the events.
 */
static void
sample_batch_mixed(void **state)
{
	struct hook_delivery d;

	(void)state;
	parse_sample("delivery-batch-mixed.json", &d);
	assert_string_equal(d.event_id, "b5a188b9-5ece-4636-b041-482ffda96305");
	assert_int_equal(d.nevents, 4);
	assert_int_equal(d.njobs, 2);
	assert_ignored(&d, 1, 0, 1, 0);
	assert_job(&d.jobs[0], UUID1, "group.user_membership.add", PUB,
	    SYNC_GROUP, "", 0);
	assert_job(&d.jobs[1], "6a1f0d5e-3b0c-11ef-9d3c-8f2b6a1c0003",
	    "user.account.update_profile", "2026-11-02T17:05:12.004Z", "", "",
	    0);
	hook_delivery_free(&d);
}

static void
sample_okta_docs_session_start(void **state)
{
	struct hook_delivery d;

	(void)state;
	parse_sample("okta-docs-sample-session-start.json", &d);
	assert_string_equal(d.event_id, "85b60edb-4263-4e13-993b-818e26201052");
	assert_int_equal(d.nevents, 1);
	assert_int_equal(d.njobs, 0);
	assert_ignored(&d, 1, 0, 0, 0);
	hook_delivery_free(&d);
}

static void
targets_either_order(void **state)
{
	struct hook_delivery d;

	(void)state;
	expect_event("\"group.user_membership.remove\"", "\"" UUID1 "\"",
	    Q(PUB), "[" T_GROUP(SYNC_GROUP) "," T_USER "]", NULL, -1, &d);
	assert_job(&d.jobs[0], UUID1, "group.user_membership.remove", PUB,
	    SYNC_GROUP, "", 0);
	hook_delivery_free(&d);
	expect_event("\"group.user_membership.remove\"", "\"" UUID1 "\"",
	    Q(PUB), "[" T_USER "," T_GROUP(SYNC_GROUP) "]", NULL, -1, &d);
	assert_job(&d.jobs[0], UUID1, "group.user_membership.remove", PUB,
	    SYNC_GROUP, "", 0);
	hook_delivery_free(&d);
	/* Other target types around them change nothing. */
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[{\"type\":\"AppInstance\",\"id\":\"0oa1\"},"
	    "null,7," T_GROUP(SYNC_GROUP) ",{\"type\":\"User\",\"id\":null},"
	    T_USER "]", NULL, -1, &d);
	assert_job(&d.jobs[0], UUID1, "group.user_membership.add", PUB,
	    SYNC_GROUP, "", 0);
	hook_delivery_free(&d);
}

/* The Admin Console's preview: target and actor null. Accepted, no job. */
static void
preview_null_target(void **state)
{
	struct hook_delivery d;

	(void)state;
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "null", "\"actor\":null,\"debugContext\":null",
	    HOOK_IGNORED_NO_TARGET, &d);
	assert_ignored(&d, 0, 1, 0, 0);
	hook_delivery_free(&d);
	expect_event("\"user.account.update_profile\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "null", "\"actor\":null,\"debugContext\":null",
	    HOOK_IGNORED_NO_TARGET, &d);
	hook_delivery_free(&d);
}

static void
target_missing_or_empty(void **state)
{
	struct hook_delivery d;
	static const char *const targets[] = {
		NULL, "[]", "{}", "\"x\"", "[" T_GROUP(SYNC_GROUP) "]",
		"[{\"type\":\"user\",\"id\":\"" JANE "\"}]",
		"[{\"id\":\"" JANE "\"}]", "[{\"type\":\"User\"}]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
		    Q(PUB), targets[i], NULL, HOOK_IGNORED_NO_TARGET, &d);
		hook_delivery_free(&d);
	}
}

static void
group_filter(void **state)
{
	struct hook_delivery d;
	struct hook_filter none = { NULL, 0, NULL, NULL };
	char err[64];
	char *body;

	(void)state;
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "," T_GROUP(OTHER_GROUP) "]", NULL,
	    HOOK_IGNORED_GROUP, &d);
	hook_delivery_free(&d);
	/* No UserGroup target: cannot be for a configured group. */
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "]", NULL, HOOK_IGNORED_GROUP, &d);
	hook_delivery_free(&d);
	/* The second configured group counts too. */
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "," T_GROUP("00g1another00000000x7") "]",
	    NULL, -1, &d);
	assert_string_equal(d.jobs[0].group_id, "00g1another00000000x7");
	hook_delivery_free(&d);
	/* No group configured: every group event is ignored, others kept. */
	body = one_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "," T_GROUP(SYNC_GROUP) "]", NULL);
	assert_int_equal(hook_parse_delivery(body, strlen(body), &none, &d, err,
	    sizeof(err)), 0);
	assert_ignored(&d, 0, 0, 1, 0);
	hook_delivery_free(&d);
	free(body);
	/* User events do not need a group (the worker checks membership). */
	expect_event("\"user.lifecycle.activate\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "," T_GROUP(OTHER_GROUP) "]", NULL, -1,
	    &d);
	assert_string_equal(d.jobs[0].group_id, "");
	hook_delivery_free(&d);
}

static void
ambiguous_targets(void **state)
{
	struct hook_delivery d;

	(void)state;
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER ",{\"type\":\"User\",\"id\":\"00u2\"}]",
	    NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "," T_GROUP(SYNC_GROUP) ","
	    T_GROUP(OTHER_GROUP) "]", NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	/* The same user twice is not ambiguous. */
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "," T_USER "]", NULL, -1, &d);
	hook_delivery_free(&d);
}

static void
all_handled_types(void **state)
{
	static const char *const types[] = {
		"user.account.update_profile", "user.lifecycle.deactivate",
		"user.lifecycle.activate", "user.lifecycle.reactivate",
		"user.lifecycle.suspend", "user.lifecycle.unsuspend",
		"user.lifecycle.delete.initiated",
	};
	static const char *const others[] = {
		"user.session.start", "user.lifecycle.delete.completed",
		"group.user_membership", "user.lifecycle.create", "",
		"USER.LIFECYCLE.SUSPEND", "user.lifecycle.suspend ",
	};
	struct hook_delivery d;
	char type[96];
	size_t i;

	(void)state;
	assert_true(hook_is_group_type("group.user_membership.add"));
	assert_true(hook_is_group_type("group.user_membership.remove"));
	assert_true(hook_handles_type("group.user_membership.add"));
	assert_true(hook_handles_type("group.user_membership.remove"));
	assert_false(hook_is_group_type("user.lifecycle.suspend"));
	assert_false(hook_handles_type(NULL));
	assert_false(hook_is_group_type(NULL));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_true(hook_handles_type(types[i]));
		snprintf(type, sizeof(type), "\"%s\"", types[i]);
		expect_event(type, "\"" UUID1 "\"", "\"" PUB "\"",
		    "[" T_USER "]", NULL, -1, &d);
		assert_string_equal(d.jobs[0].event_type, types[i]);
		assert_string_equal(d.jobs[0].user_id, JANE);
		hook_delivery_free(&d);
	}
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		assert_false(hook_handles_type(others[i]));
		snprintf(type, sizeof(type), "\"%s\"", others[i]);
		expect_event(type, "\"" UUID1 "\"", "\"" PUB "\"",
		    "[" T_USER "]", NULL, HOOK_IGNORED_TYPE, &d);
		hook_delivery_free(&d);
	}
}

static void
changed_attributes(void **state)
{
	static const char *const unknown[] = {
		NULL, "\"debugContext\":null", "\"debugContext\":{}",
		"\"debugContext\":{\"debugData\":null}",
		CHANGED("null"), CHANGED("7"), CHANGED("[\"a\"]"),
		CHANGED("\"\""), CHANGED("\"a\\nb\""), CHANGED("\"a\\u0000b\""),
		CHANGED("\"caf\\u00e9\""), CHANGED("{}"),
	};
	struct hook_delivery d;
	char extra[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		expect_event("\"user.account.update_profile\"", "\"" UUID1 "\"",
		    "\"" PUB "\"", "[" T_USER "]", unknown[i], -1, &d);
		assert_string_equal(d.jobs[0].changed, "");
		assert_int_equal(d.jobs[0].changed_known, 0);
		hook_delivery_free(&d);
	}
	/* Longer than STORE_ATTRS_MAX: unknown, never truncated. */
	memset(extra, 0, sizeof(extra));
	i = (size_t)snprintf(extra, sizeof(extra),
	    "\"debugContext\":{\"debugData\":{\"changedAttributes\":\"");
	memset(extra + i, 'a', STORE_ATTRS_MAX + 1);
	strcat(extra, "\"}}");
	expect_event("\"user.account.update_profile\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "]", extra, -1, &d);
	assert_int_equal(d.jobs[0].changed_known, 0);
	assert_string_equal(d.jobs[0].changed, "");
	hook_delivery_free(&d);
	/* Exactly STORE_ATTRS_MAX fits. */
	extra[i + STORE_ATTRS_MAX] = '\0';
	strcat(extra, "\"}}");
	expect_event("\"user.account.update_profile\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "]", extra, -1, &d);
	assert_int_equal(d.jobs[0].changed_known, 1);
	assert_int_equal(strlen(d.jobs[0].changed), STORE_ATTRS_MAX);
	hook_delivery_free(&d);
	/* Other event types never carry it. */
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[" T_USER "]",
	    "\"debugContext\":{\"debugData\":{\"changedAttributes\":\"city\"}}",
	    -1, &d);
	assert_int_equal(d.jobs[0].changed_known, 0);
	assert_string_equal(d.jobs[0].changed, "");
	hook_delivery_free(&d);
}

/* The templates of this test read city and email, nothing else. */
static int
only_city_email(const char *changed, void *arg)
{
	(void)arg;
	return changed == NULL || strstr(changed, "city") != NULL ||
	    strstr(changed, "email") != NULL;
}

#define PROFILE_DELIVERY(changed) \
	"{\"eventType\":\"com.okta.event_hook\",\"data\":{\"events\":[{" \
	"\"uuid\":\"" UUID1 "\",\"published\":\"" PUB "\"," \
	"\"eventType\":\"user.account.update_profile\",\"target\":[" T_USER "]" \
	changed "}]}}"

/*
 * A profile update whose changedAttributes name nothing the templates read
 * (groupsync's own customId write-back coming back) is no job: the worker
 * could only skip it. Unknown attributes, a relevant one among others, or
 * no templates to ask (replay) keep the job.
 */
static void
unchanged_profile_not_stored(void **state)
{
	struct hook_filter f = { groups, 2, only_city_email, NULL };
	static const struct {
		const char *body;
		int job;
	} cases[] = {
		{ PROFILE_DELIVERY("," CHANGED("\"customId\"")), 0 },
		{ PROFILE_DELIVERY("," CHANGED("\"customId,nickName\"")), 0 },
		{ PROFILE_DELIVERY("," CHANGED("\"customId,city\"")), 1 },
		{ PROFILE_DELIVERY(""), 1 },
		{ PROFILE_DELIVERY("," CHANGED("null")), 1 },
	};
	struct hook_delivery d;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(hook_parse_delivery(cases[i].body, strlen(cases[i].body), &f,
		    &d, err, sizeof(err)), 0);
		assert_int_equal(d.nevents, 1);
		assert_int_equal(d.njobs, (size_t)cases[i].job);
		assert_int_equal(d.ignored[HOOK_IGNORED_UNCHANGED], (size_t)!cases[i].job);
		if (!cases[i].job) {
			assert_int_equal(d.skipped[0].reason, HOOK_IGNORED_UNCHANGED);
			assert_string_equal(d.skipped[0].user_id, JANE);
			assert_string_equal(hook_reason_name(d.skipped[0].reason),
			    "no synced attribute changed");
		}
		hook_delivery_free(&d);
	}
	/* without templates to ask, every update is kept */
	f.relevant = NULL;
	assert_int_equal(hook_parse_delivery(cases[0].body, strlen(cases[0].body), &f, &d,
	    err, sizeof(err)), 0);
	assert_int_equal(d.njobs, 1);
	hook_delivery_free(&d);
}

/* A string of n 'x' characters, quoted, for JSON; the caller frees. */
static char *
long_string(size_t n)
{
	char *s = malloc(n + 3);

	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, 'x', n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

static void
oversized_ids_invalid(void **state)
{
	struct hook_delivery d;
	char target[256];
	char *big = long_string(STORE_ID_MAX + 1);
	char *fits = long_string(STORE_ID_MAX);

	(void)state;
	expect_event("\"user.lifecycle.suspend\"", big, "\"" PUB "\"",
	    "[" T_USER "]", NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	expect_event("\"user.lifecycle.suspend\"", fits, "\"" PUB "\"",
	    "[" T_USER "]", NULL, -1, &d);
	assert_int_equal(strlen(d.jobs[0].uuid), STORE_ID_MAX);
	hook_delivery_free(&d);
	snprintf(target, sizeof(target), "[{\"type\":\"User\",\"id\":%s}]",
	    big);
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", target, NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	snprintf(target, sizeof(target), "[" T_USER ",{\"type\":\"UserGroup\","
	    "\"id\":%s}]", big);
	expect_event("\"group.user_membership.add\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", target, NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	free(big);
	free(fits);
}

/* IDs with characters outside a token, or an escaped NUL, are refused. */
static void
bad_id_characters(void **state)
{
	static const char *const uuids[] = {
		"\"\"", "\"a b\"", "\"a/b\"", "\"a\\u0000b\"", "\"\\u00e9\"",
		"\"a\\\"b\"", "null", "7", "{}", "[\"" UUID1 "\"]", "true",
	};
	struct hook_delivery d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
		expect_event("\"user.lifecycle.suspend\"", uuids[i], Q(PUB),
		    "[" T_USER "]", NULL, HOOK_IGNORED_INVALID, &d);
		hook_delivery_free(&d);
	}
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[{\"type\":\"User\",\"id\":\"00u\\u0000x\"}]", NULL,
	    HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
}

/* Numbers (and other types) where strings are expected. */
static void
numbers_for_strings(void **state)
{
	struct hook_delivery d;

	(void)state;
	expect_event("7", "\"" UUID1 "\"", "\"" PUB "\"", "[" T_USER "]", NULL,
	    HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	expect_event("\"user.lifecycle.suspend\"", "123456", "\"" PUB "\"",
	    "[" T_USER "]", NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "1730566793032", "[" T_USER "]", NULL, HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[{\"type\":\"User\",\"id\":12345}]", NULL,
	    HOOK_IGNORED_INVALID, &d);
	hook_delivery_free(&d);
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"" PUB "\"", "[{\"type\":1,\"id\":\"" JANE "\"}]", NULL,
	    HOOK_IGNORED_NO_TARGET, &d);
	hook_delivery_free(&d);
	expect_reject("{\"eventType\":1,\"data\":{\"events\":[]}}",
	    "eventType is not com.okta.event_hook");
	expect_reject("{\"data\":{\"events\":5}}",
	    "data.events is not an array");
	expect_reject("{\"data\":5}", "data is not an object");
}

static void
published_invalid(void **state)
{
	static const char *const bad[] = {
		"null", "\"\"", "\"yesterday\"", "\"2026-11-02 16:59\"",
		"\"26-11-02T16:59:53Z\"", "\"2026/11/02T16:59:53Z\"",
		"\"2026-11-02T16:59:53.032Z;drop\"",
		"\"2026-11-02T16:59:53.000000000000000000000000000000Z\"",
	};
	struct hook_delivery d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_event("\"user.lifecycle.suspend\"", Q(UUID1), bad[i],
		    "[" T_USER "]", NULL, HOOK_IGNORED_INVALID, &d);
		hook_delivery_free(&d);
	}
	expect_event("\"user.lifecycle.suspend\"", "\"" UUID1 "\"",
	    "\"2026-11-02T16:59:53+02:00\"", "[" T_USER "]", NULL, -1, &d);
	assert_string_equal(d.jobs[0].published, "2026-11-02T16:59:53+02:00");
	hook_delivery_free(&d);
}

/* Non-object entries of data.events count as invalid events. */
static void
non_object_events(void **state)
{
	struct hook_delivery d;
	char err[64];

	(void)state;
	assert_int_equal(parse("{\"data\":{\"events\":"
	    "[null,1,\"x\",[],true,{}]}}", &d, err, sizeof(err)), 0);
	assert_int_equal(d.nevents, 6);
	assert_int_equal(d.njobs, 0);
	assert_ignored(&d, 0, 0, 0, 6);
	hook_delivery_free(&d);
	assert_int_equal(parse("{\"data\":{\"events\":[]}}", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.nevents, 0);
	assert_null(d.jobs);
	assert_string_equal(d.event_id, "");
	hook_delivery_free(&d);
}

/* The same uuid twice in one delivery: two jobs, the queue de-duplicates. */
static void
duplicate_uuid_two_jobs(void **state)
{
	static const char body[] = "{\"data\":{\"events\":["
	    "{\"eventType\":\"user.lifecycle.suspend\",\"uuid\":\"" UUID1 "\","
	    "\"published\":\"" PUB "\",\"target\":[" T_USER "]},"
	    "{\"eventType\":\"user.lifecycle.suspend\",\"uuid\":\"" UUID1 "\","
	    "\"published\":\"" PUB "\",\"target\":[" T_USER "]}]}}";
	struct hook_delivery d;
	char err[64];

	(void)state;
	assert_int_equal(parse(body, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nevents, 2);
	assert_int_equal(d.njobs, 2);
	assert_string_equal(d.jobs[0].uuid, UUID1);
	assert_string_equal(d.jobs[1].uuid, UUID1);
	hook_delivery_free(&d);
}

static void
event_id_optional(void **state)
{
	struct hook_delivery d;
	char err[64];
	char body[512];
	char *big = long_string(STORE_ID_MAX + 1);

	(void)state;
	/* Missing: "" and accepted. */
	assert_int_equal(parse("{\"data\":{\"events\":[]}}", &d, err,
	    sizeof(err)), 0);
	assert_string_equal(d.event_id, "");
	hook_delivery_free(&d);
	/* Too long, or not a token: "" and still accepted. */
	snprintf(body, sizeof(body),
	    "{\"eventId\":%s,\"data\":{\"events\":[]}}", big);
	assert_int_equal(parse(body, &d, err, sizeof(err)), 0);
	assert_string_equal(d.event_id, "");
	hook_delivery_free(&d);
	assert_int_equal(parse("{\"eventId\":\"a b\",\"data\":{\"events\":[]}}",
	    &d, err, sizeof(err)), 0);
	assert_string_equal(d.event_id, "");
	hook_delivery_free(&d);
	assert_int_equal(parse("{\"eventId\":42,\"data\":{\"events\":[]}}", &d,
	    err, sizeof(err)), 0);
	assert_string_equal(d.event_id, "");
	hook_delivery_free(&d);
	free(big);
}

static void
envelope_event_type(void **state)
{
	struct hook_delivery d;
	char err[64];

	(void)state;
	expect_reject("{\"eventType\":\"user.session.start\",\"data\":"
	    "{\"events\":[]}}", "eventType is not com.okta.event_hook");
	expect_reject("{\"eventType\":null,\"data\":{\"events\":[]}}",
	    "eventType is not com.okta.event_hook");
	assert_int_equal(parse("{\"eventType\":\"com.okta.event_hook\","
	    "\"data\":{\"events\":[]}}", &d, err, sizeof(err)), 0);
	hook_delivery_free(&d);
}

static void
hostile_empty_body(void **state)
{
	(void)state;
	expect_reject_len("", 0, "empty body");
	expect_reject_len(NULL, 0, "empty body");
	expect_reject(" ", "truncated JSON");
	expect_reject("\n\t ", "truncated JSON");
}

static void
hostile_not_json(void **state)
{
	(void)state;
	expect_reject("hello", "invalid JSON");
	expect_reject("<xml/>", "invalid JSON");
	expect_reject("{data: {events: []}}", "invalid JSON");
	expect_reject("{\"data\":{\"events\":[],}}", "invalid JSON");
	expect_reject("\"just a string\"", "not a JSON object");
	expect_reject("null", "not a JSON object");
	expect_reject("42", "not a JSON object");
	expect_reject("true", "not a JSON object");
	expect_reject("tru", "truncated JSON");
	expect_no_job("{\"data\":{\"events\":[NaN,-Infinity]}}");
	expect_no_job("{\"data\":{\"events\":[{\"eventType\":"
	    "\"user.lifecycle.suspend\",\"uuid\":NaN,\"published\":\"" PUB
	    "\",\"target\":[" T_USER "]}]}}");
}

static void
hostile_truncated(void **state)
{
	struct hook_delivery d;
	char err[128];
	size_t len, cut;
	char *body = read_sample("delivery-group-add.json", &len);

	(void)state;
	/* Every strict prefix of a delivery is refused; the whole is not. */
	for (cut = 1; cut < len; cut++) {
		if (body[cut - 1] == '}' && cut == len - 1)
			continue; /* only the final newline cut off: complete */
		memset(&d, 0, sizeof(d));
		assert_int_equal(parse_len(body, cut, &d, err, sizeof(err)),
		    -1);
		assert_null(d.jobs);
	}
	expect_reject("{\"data\":{\"events\":[", "truncated JSON");
	assert_int_equal(parse_len(body, len, &d, err, sizeof(err)), 0);
	hook_delivery_free(&d);
	free(body);
}

static void
hostile_trailing_garbage(void **state)
{
	struct hook_delivery d;
	char err[64];

	(void)state;
	expect_reject("{\"data\":{\"events\":[]}}x", NULL);
	expect_reject("{\"data\":{\"events\":[]}} {}", NULL);
	expect_reject("{\"data\":{\"events\":[]}}{\"data\":{\"events\":[]}}",
	    NULL);
	expect_reject("{\"data\":{\"events\":[]}}]", NULL);
	/* Trailing whitespace is fine. */
	assert_int_equal(parse("{\"data\":{\"events\":[]}} \r\n\t", &d, err,
	    sizeof(err)), 0);
	hook_delivery_free(&d);
}

static void
hostile_top_level_array(void **state)
{
	(void)state;
	expect_reject("[]", "not a JSON object");
	expect_reject("[{\"data\":{\"events\":[]}}]", "not a JSON object");
}

static void
hostile_events_not_array(void **state)
{
	(void)state;
	expect_reject("{}", "data is not an object");
	expect_reject("{\"data\":null}", "data is not an object");
	expect_reject("{\"data\":[]}", "data is not an object");
	expect_reject("{\"data\":{}}", "data.events is not an array");
	expect_reject("{\"data\":{\"events\":null}}",
	    "data.events is not an array");
	expect_reject("{\"data\":{\"events\":{}}}",
	    "data.events is not an array");
	expect_reject("{\"data\":{\"events\":\"[]\"}}",
	    "data.events is not an array");
	expect_reject("{\"events\":[]}", "data is not an object");
}

static void
hostile_deep_nesting(void **state)
{
	size_t n = 10000, i, off;
	char *body = malloc(2 * n + 64);

	(void)state;
	assert_non_null(body);
	memset(body, '[', n);
	expect_reject_len(body, n, NULL);
	for (i = 0; i < n; i++)
		body[n + i] = ']';
	expect_reject_len(body, 2 * n, "invalid JSON");
	/* Deep inside an otherwise good delivery. */
	off = (size_t)snprintf(body, 64, "{\"data\":{\"events\":[");
	memset(body + off, '[', n);
	memset(body + off + n, ']', n);
	memcpy(body + off + 2 * n, "]}}", 3);
	expect_reject_len(body, off + 2 * n + 3, "invalid JSON");
	/* Objects too. */
	for (i = 0; i + 5 < n; i += 5)
		memcpy(body + i, "{\"a\":", 5);
	expect_reject_len(body, i, NULL);
	free(body);
}

static void
hostile_nul_byte(void **state)
{
	static const char body[] = "{\"data\":{\"events\":[]}}\0garbage";
	static const char inner[] = "{\"data\":{\"ev\0ents\":[]}}";

	(void)state;
	expect_reject_len(body, sizeof(body) - 1, "NUL byte in body");
	expect_reject_len(inner, sizeof(inner) - 1, "NUL byte in body");
	expect_reject_len("\0", 1, "NUL byte in body");
}

/*
 * Byte sequences json-c's UTF-8 check lets through, in a field no job
 * reads: before the strict check such a delivery was stored (200).
 */
static void
hostile_strict_utf8(void **state)
{
	static const char *const bad[] = {
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", /* overlong */
		"\xed\xa0\x80", "\xed\xbf\xbf",                               /* surrogates */
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80",                        /* > U+10FFFF */
	};
	struct hook_delivery d;
	char body[512], err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"displayMessage\":\"%s\",\"data\":{\"events\":["
		    "{\"eventType\":\"user.lifecycle.suspend\",\"uuid\":\"u1\",\"published\":\""
		    PUB "\",\"target\":[" T_USER "]}]}}", bad[i]);
		expect_reject(body, "invalid UTF-8");
	}
	/* The largest of each length is valid and accepted. */
	snprintf(body, sizeof(body), "{\"displayMessage\":\"\x7f\xdf\xbf\xef\xbf\xbf"
	    "\xf4\x8f\xbf\xbf\xed\x9f\xbf\",\"data\":{\"events\":[]}}");
	assert_int_equal(parse(body, &d, err, sizeof(err)), 0);
	hook_delivery_free(&d);
}

static void
hostile_invalid_utf8(void **state)
{
	(void)state;
	expect_reject("{\"data\":{\"events\":[\"\xff\"]}}", "invalid JSON");
	expect_reject("{\"data\":{\"events\":[\"\xc3\"]}}", "invalid JSON");
	expect_reject("{\"d\xe9\":1}", "invalid JSON");
	/* An overlong form in a uuid: refused whole (hostile_strict_utf8). */
	expect_reject("{\"data\":{\"events\":[{\"eventType\":"
	    "\"user.lifecycle.suspend\",\"uuid\":\"\xc0\xaf\",\"published\":\""
	    PUB "\",\"target\":[" T_USER "]}]}}", "invalid UTF-8");
	expect_no_job("{\"data\":{\"events\":[{\"eventType\":"
	    "\"user.lifecycle.suspend\",\"uuid\":\"\\ud800\",\"published\":\""
	    PUB "\",\"target\":[" T_USER "]}]}}");
	expect_no_job("{\"data\":{\"events\":[{\"eventType\":"
	    "\"user.lifecycle.suspend\",\"uuid\":\"" UUID1 "\",\"published\":\""
	    PUB "\",\"target\":[{\"type\":\"User\","
	    "\"id\":\"00u\xed\xa0\x80\"}]}]}}");
}

/* A body that is not NUL-terminated is read for exactly len bytes. */
static void
body_not_terminated(void **state)
{
	static const char body[] = "{\"data\":{\"events\":[]}}XXXX";
	struct hook_delivery d;
	char err[64];

	(void)state;
	assert_int_equal(parse_len(body, sizeof(body) - 5, &d, err,
	    sizeof(err)), 0);
	hook_delivery_free(&d);
}

/* Builds a delivery of n suspend events; the caller frees. */
static char *
many_events(size_t n, size_t *len)
{
	static const char head[] = "{\"data\":{\"events\":[";
	static const char ev[] = "{\"eventType\":\"user.lifecycle.suspend\","
	    "\"uuid\":\"" UUID1 "\",\"published\":\"" PUB "\",\"target\":["
	    T_USER "]}";
	size_t i, off;
	char *body = malloc(sizeof(head) + n * sizeof(ev) + 8);

	assert_non_null(body);
	memcpy(body, head, sizeof(head) - 1);
	off = sizeof(head) - 1;
	for (i = 0; i < n; i++) {
		if (i > 0)
			body[off++] = ',';
		memcpy(body + off, ev, sizeof(ev) - 1);
		off += sizeof(ev) - 1;
	}
	memcpy(body + off, "]}}", 3);
	*len = off + 3;
	return body;
}

static void
too_many_events(void **state)
{
	struct hook_delivery d;
	char err[64];
	size_t len;
	char *body;

	(void)state;
	body = many_events(HOOK_MAX_EVENTS, &len);
	assert_int_equal(parse_len(body, len, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nevents, HOOK_MAX_EVENTS);
	assert_int_equal(d.njobs, HOOK_MAX_EVENTS);
	hook_delivery_free(&d);
	free(body);
	body = many_events(HOOK_MAX_EVENTS + 1, &len);
	expect_reject_len(body, len, "too many events");
	free(body);
}

/* The reason never echoes the body; a tiny or absent err buffer is fine. */
static void
error_never_echoes_body(void **state)
{
	static const char body[] = "{\"data\":{\"events\":\"SECRET-VALUE\"}}";
	struct hook_delivery d;
	char err[256], tiny[4];

	(void)state;
	assert_int_equal(parse(body, &d, err, sizeof(err)), -1);
	assert_null(strstr(err, "SECRET"));
	assert_int_equal(hook_parse_delivery(body, strlen(body), &filter, &d,
	    tiny, sizeof(tiny)), -1);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(hook_parse_delivery(body, strlen(body), &filter, &d,
	    NULL, 0), -1);
	assert_int_equal(hook_parse_delivery("bad SECRET", 10, &filter, &d, err,
	    sizeof(err)), -1);
	assert_null(strstr(err, "SECRET"));
	hook_delivery_free(&d);
	hook_delivery_free(NULL);
}

static void
auth_equal(void **state)
{
	(void)state;
	assert_int_equal(hook_authenticate("Basic dXNlcjpwYXNz",
	    "Basic dXNlcjpwYXNz", NULL), 1);
	assert_int_equal(hook_authenticate("s3cret", "s3cret", ""), 1);
	assert_int_equal(hook_authenticate("s3cret", "s3cret", "other"), 1);
}

static void
auth_different(void **state)
{
	(void)state;
	assert_int_equal(hook_authenticate("wrong", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("wrong", "s3cret", "n3xt"), 0);
}

static void
auth_near_miss(void **state)
{
	(void)state;
	assert_int_equal(hook_authenticate("s3cre", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("s3crett", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("s3creT", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("S3cret", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("s3cret ", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate(" s3cret", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("n3x", "s3cret", "n3xt"), 0);
}

static void
auth_null_presented(void **state)
{
	(void)state;
	assert_int_equal(hook_authenticate(NULL, "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate(NULL, "s3cret", "n3xt"), 0);
	assert_int_equal(hook_authenticate(NULL, "", ""), 0);
	assert_int_equal(hook_authenticate(NULL, NULL, NULL), 0);
}

static void
auth_next_secret(void **state)
{
	(void)state;
	assert_int_equal(hook_authenticate("n3xt", "s3cret", "n3xt"), 1);
	assert_int_equal(hook_authenticate("s3cret", "s3cret", "n3xt"), 1);
	assert_int_equal(hook_authenticate("n3xt", "s3cret", NULL), 0);
	assert_int_equal(hook_authenticate("n3xt", "s3cret", ""), 0);
}

static void
auth_empty_secret(void **state)
{
	(void)state;
	assert_int_equal(hook_authenticate("", "", NULL), 0);
	assert_int_equal(hook_authenticate("", "", ""), 0);
	assert_int_equal(hook_authenticate("", NULL, NULL), 0);
	assert_int_equal(hook_authenticate("x", "", NULL), 0);
	assert_int_equal(hook_authenticate("", "s3cret", ""), 0);
	assert_int_equal(hook_authenticate("n3xt", "", "n3xt"), 1);
}

/* Parses an answer back with json-c and checks the round trip. */
static void
assert_answer_roundtrip(const char *answer, const char *challenge)
{
	struct json_object *root, *v;

	root = json_tokener_parse(answer);
	assert_non_null(root);
	assert_true(json_object_is_type(root, json_type_object));
	assert_int_equal(json_object_object_length(root), 1);
	assert_true(json_object_object_get_ex(root, "verification", &v));
	assert_string_equal(json_object_get_string(v), challenge);
	json_object_put(root);
}

static void
verification_plain(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(hook_verification_answer("X1v7cDgnkhuRx", buf,
	    sizeof(buf)), (int)strlen("{\"verification\":\"X1v7cDgnkhuRx\"}"));
	assert_string_equal(buf, "{\"verification\":\"X1v7cDgnkhuRx\"}");
	assert_int_equal(hook_verification_answer("", buf, sizeof(buf)), 19);
	assert_string_equal(buf, "{\"verification\":\"\"}");
	assert_int_equal(hook_verification_answer(NULL, buf, sizeof(buf)), -1);
}

static void
verification_escaping(void **state)
{
	static const char challenge[] = "a\"b\\c/d\n\r\t\x01\x1f\x7f</script>";
	char buf[256];
	int n;

	(void)state;
	n = hook_verification_answer(challenge, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_string_equal(buf, "{\"verification\":\"a\\\"b\\\\c/d\\u000a"
	    "\\u000d\\u0009\\u0001\\u001f\\u007f</script>\"}");
	assert_answer_roundtrip(buf, challenge);
	/* Not ASCII: refused rather than echoed as possibly invalid UTF-8. */
	assert_int_equal(hook_verification_answer("caf\xc3\xa9", buf,
	    sizeof(buf)), -1);
	assert_string_equal(buf, "");
}

static void
verification_too_long(void **state)
{
	char challenge[HOOK_CHALLENGE_MAX + 2];
	char buf[HOOK_CHALLENGE_MAX * 6 + 64];
	int n;

	(void)state;
	memset(challenge, 'a', sizeof(challenge) - 1);
	challenge[sizeof(challenge) - 1] = '\0';
	assert_int_equal(hook_verification_answer(challenge, buf, sizeof(buf)),
	    -1);
	challenge[HOOK_CHALLENGE_MAX] = '\0';
	n = hook_verification_answer(challenge, buf, sizeof(buf));
	assert_int_equal(n, HOOK_CHALLENGE_MAX + 19);
	assert_answer_roundtrip(buf, challenge);
	/* The worst case (every byte escaped) fits in 6 * MAX + 20. */
	memset(challenge, '\x01', HOOK_CHALLENGE_MAX);
	n = hook_verification_answer(challenge, buf, sizeof(buf));
	assert_int_equal(n, 6 * HOOK_CHALLENGE_MAX + 19);
	assert_answer_roundtrip(buf, challenge);
}

static void
verification_small_buffer(void **state)
{
	char buf[64];
	const char *want = "{\"verification\":\"abc\"}";
	size_t need = strlen(want) + 1, i;

	(void)state;
	for (i = 0; i < need; i++) {
		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(hook_verification_answer("abc", buf, i), -1);
		if (i > 0)
			assert_int_equal(buf[0], '\0');
		assert_int_equal(buf[i], 'Z'); /* nothing written past buflen */
	}
	assert_int_equal(hook_verification_answer("abc", buf, need),
	    (int)need - 1);
	assert_string_equal(buf, want);
	assert_int_equal(hook_verification_answer("\"", buf, 21), -1);
	assert_int_equal(hook_verification_answer("\"", buf, 22), 21);
	assert_int_equal(hook_verification_answer("abc", NULL, 0), -1);
}

/* A membership add for JANE to group g, with uuid u. */
#define EV_ADD(u, g) "{\"eventType\":\"group.user_membership.add\",\"uuid\":\"" u "\"," \
	"\"published\":" Q(PUB) ",\"target\":[" T_USER "," T_GROUP(g) "]}"

/* Issue 13 §1: every event not turned into a job is named with its reason. */
static void
describe_names_reasons(void **state)
{
	struct hook_delivery d;
	char err[128], jobs[256], skipped[512];
	const char *body = "{\"data\":{\"events\":["
	    EV_ADD("u1", SYNC_GROUP) "," EV_ADD("u2", OTHER_GROUP) ","
	    "{\"eventType\":\"user.lifecycle.suspend\",\"uuid\":\"u3\","
	    "\"target\":[" T_USER "]},"
	    "{\"eventType\":\"user.lifecycle.suspend\",\"uuid\":\"u4\","
	    "\"published\":" Q(PUB) ",\"target\":null},"
	    "{\"eventType\":\"user.session.start\",\"uuid\":\"u5\"},"
	    "{\"eventType\":\"bad type\\n\",\"uuid\":\"u6\"},"
	    "7]}}";

	(void)state;
	assert_int_equal(parse(body, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nskipped, 6);
	hook_delivery_describe(&d, jobs, sizeof(jobs), skipped, sizeof(skipped));
	assert_string_equal(jobs, "group.user_membership.add " JANE);
	assert_string_equal(skipped,
	    "group.user_membership.add " JANE ": other group, "
	    "user.lifecycle.suspend " JANE ": invalid: bad published, "
	    "user.lifecycle.suspend: no target, "
	    "user.session.start: unhandled type, "
	    "?: unhandled type, "
	    "?: invalid: event is not an object");
	hook_delivery_free(&d);
}

/* A delivery too long for the buffer is cut with a count of the rest. */
static void
describe_bounded(void **state)
{
	struct hook_delivery d;
	char err[128], jobs[80], skipped[8];
	const char *body = "{\"data\":{\"events\":[1,2,3,"
	    EV_ADD("u1", SYNC_GROUP) "," EV_ADD("u2", SYNC_GROUP) "]}}";

	(void)state;
	assert_int_equal(parse(body, &d, err, sizeof(err)), 0);
	hook_delivery_describe(&d, jobs, sizeof(jobs), skipped, sizeof(skipped));
	assert_string_equal(jobs, "group.user_membership.add " JANE " ... (1 more)");
	assert_true(strlen(skipped) < sizeof(skipped));
	hook_delivery_free(&d);
}


static const struct CMUnitTest tests[] = {
	cmocka_unit_test(sample_group_add),
	cmocka_unit_test(sample_group_remove),
	cmocka_unit_test(sample_update_profile),
	cmocka_unit_test(sample_deactivate),
	cmocka_unit_test(sample_batch_mixed),
	cmocka_unit_test(sample_okta_docs_session_start),
	cmocka_unit_test(targets_either_order),
	cmocka_unit_test(preview_null_target),
	cmocka_unit_test(target_missing_or_empty),
	cmocka_unit_test(group_filter),
	cmocka_unit_test(ambiguous_targets),
	cmocka_unit_test(all_handled_types),
	cmocka_unit_test(changed_attributes),
	cmocka_unit_test(unchanged_profile_not_stored),
	cmocka_unit_test(oversized_ids_invalid),
	cmocka_unit_test(bad_id_characters),
	cmocka_unit_test(numbers_for_strings),
	cmocka_unit_test(published_invalid),
	cmocka_unit_test(non_object_events),
	cmocka_unit_test(duplicate_uuid_two_jobs),
	cmocka_unit_test(event_id_optional),
	cmocka_unit_test(envelope_event_type),
	cmocka_unit_test(hostile_empty_body),
	cmocka_unit_test(hostile_not_json),
	cmocka_unit_test(hostile_truncated),
	cmocka_unit_test(hostile_trailing_garbage),
	cmocka_unit_test(hostile_top_level_array),
	cmocka_unit_test(hostile_events_not_array),
	cmocka_unit_test(hostile_deep_nesting),
	cmocka_unit_test(hostile_nul_byte),
	cmocka_unit_test(hostile_invalid_utf8),
	cmocka_unit_test(hostile_strict_utf8),
	cmocka_unit_test(body_not_terminated),
	cmocka_unit_test(too_many_events),
	cmocka_unit_test(error_never_echoes_body),
	cmocka_unit_test(describe_names_reasons),
	cmocka_unit_test(describe_bounded),
	cmocka_unit_test(auth_equal),
	cmocka_unit_test(auth_different),
	cmocka_unit_test(auth_near_miss),
	cmocka_unit_test(auth_null_presented),
	cmocka_unit_test(auth_next_secret),
	cmocka_unit_test(auth_empty_secret),
	cmocka_unit_test(verification_plain),
	cmocka_unit_test(verification_escaping),
	cmocka_unit_test(verification_too_long),
	cmocka_unit_test(verification_small_buffer),
};

GS_UNIT_MAIN(tests)
