/*
 * hook: the Okta event-hook protocol (see hook.h and okta/PROTOCOL.md).
 *
 * A delivery is outside input from the network: it is parsed here, once,
 * with a bounded nesting depth, strict JSON and UTF-8 validation, and
 * turned into fixed-size jobs. Nothing outside this file sees raw JSON.
 *
 * Decisions where the protocol is silent:
 * - A body with a NUL byte is refused (400): json-c would stop reading at
 *   it, and JSON text never contains one.
 * - A string value holding "\u0000" counts as absent: its C string would
 *   be a silent truncation of the value Okta sent.
 * - The delivery's eventId is copied only when it is a token of at most
 *   STORE_ID_MAX characters; otherwise it stays "" (the event uuids still
 *   de-duplicate), so that an odd eventId never loses a delivery.
 * - Targets are picked by type. A User (or UserGroup) entry whose id is
 *   missing or null does not count; one whose id is present but not a
 *   valid token, or two entries of the same type with different ids,
 *   make the event INVALID: we never guess which user was meant.
 * - A group event without a UserGroup target is ignored as GROUP: it
 *   cannot be shown to concern a configured group.
 * - Two events with the same uuid in one delivery give two jobs: the
 *   queue skips a uuid it already holds, in the same transaction too.
 * - changedAttributes that is missing, not a string, empty, too long or
 *   not printable ASCII is "unknown" (changed_known 0): the worker then
 *   reads the user, which costs a call but never misses a change.
 */
#include "groupsync/intake/hook.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/util.h"

#define HOOK_JSON_DEPTH 32 /* a delivery nests about 10 deep */
#define HOOK_JOB_MADE HOOK_IGNORED_NREASONS

/* The event types handled; the group membership events come first. */
static const char *const hook_types[] = {
	"group.user_membership.add",
	"group.user_membership.remove",
	"user.account.update_profile",
	"user.lifecycle.deactivate",
	"user.lifecycle.activate",
	"user.lifecycle.reactivate",
	"user.lifecycle.suspend",
	"user.lifecycle.unsuspend",
	"user.lifecycle.delete.initiated",
};
#define HOOK_NGROUP_TYPES 2
#define HOOK_NTYPES (sizeof(hook_types) / sizeof(hook_types[0]))

static int
hook_type_index(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < HOOK_NTYPES; i++)
		if (strcmp(s, hook_types[i]) == 0)
			return (int)i;
	return -1;
}

int
hook_is_group_type(const char *event_type)
{
	int i = hook_type_index(event_type);

	return i >= 0 && i < HOOK_NGROUP_TYPES;
}

int
hook_handles_type(const char *event_type)
{
	return hook_type_index(event_type) >= 0;
}

static void
hook_seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		(void)util_copy(err, errlen, msg);
}

/* obj[key] when it has type t, else NULL (obj may be NULL or no object). */
static struct json_object *
hook_member(struct json_object *obj, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return json_object_is_type(v, t) ? v : NULL;
}

/*
 * The string obj[key], or NULL when it is absent, not a string, or holds
 * a NUL ("\u0000"): its C string would silently cut the value short.
 */
static const char *
hook_str(struct json_object *obj, const char *key)
{
	struct json_object *v = hook_member(obj, key, json_type_string);
	const char *s = v != NULL ? json_object_get_string(v) : NULL;

	if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

/*
 * "published" orders a user's jobs, so only a plausible ISO-8601 time is
 * stored: YYYY-MM-DD first, then only characters a timestamp uses.
 */
static int
hook_published_ok(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 10 || n > STORE_TIME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		int digit = s[i] >= '0' && s[i] <= '9';
		int dash = s[i] == '-';

		if (i < 10 && (i == 4 || i == 7 ? !dash : !digit))
			return 0;
		if (!digit && strchr("TZ:.+-", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/*
 * Finds the id of the target of the given type, by type and never by
 * position. Returns 1 with id filled, 0 when there is none (target null,
 * missing, empty, or no entry of that type with an id), -1 when an entry
 * has an unusable id or two entries disagree.
 */
static int
hook_pick_target(struct json_object *ev, const char *type, char *id,
    size_t idlen)
{
	struct json_object *targets, *v;
	size_t i, n;

	id[0] = '\0';
	targets = hook_member(ev, "target", json_type_array);
	n = targets != NULL ? json_object_array_length(targets) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(targets, i);
		const char *tid = hook_str(t, "type");

		if (tid == NULL || strcmp(tid, type) != 0)
			continue;
		if (!json_object_object_get_ex(t, "id", &v) || v == NULL)
			continue; /* absent or null (as in a preview): no id */
		tid = hook_str(t, "id");
		if (tid == NULL || !util_is_token(tid, STORE_ID_MAX))
			return -1;
		if (id[0] != '\0' && strcmp(id, tid) != 0)
			return -1;
		if (util_copy(id, idlen, tid) == -1)
			return -1;
	}
	return id[0] != '\0';
}

static int
hook_group_configured(const struct hook_filter *f, const char *id)
{
	size_t i;

	if (f == NULL || f->group_ids == NULL)
		return 0;
	for (i = 0; i < f->ngroup_ids; i++)
		if (f->group_ids[i] != NULL && strcmp(f->group_ids[i], id) == 0)
			return 1;
	return 0;
}

/* Fills changed/changed_known of an update_profile job (see the top). */
static void
hook_changed(struct json_object *ev, struct store_job_in *job)
{
	struct json_object *dc, *dd;
	const char *s;
	size_t i;

	job->changed[0] = '\0';
	job->changed_known = 0;
	dc = hook_member(ev, "debugContext", json_type_object);
	dd = hook_member(dc, "debugData", json_type_object);
	s = hook_str(dd, "changedAttributes");
	if (s == NULL || s[0] == '\0')
		return;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return;
	if (util_copy(job->changed, sizeof(job->changed), s) == -1) {
		job->changed[0] = '\0';
		return;
	}
	job->changed_known = 1;
}

/*
 * Turns one event into *job. Returns HOOK_JOB_MADE, or the reason why the
 * event is ignored, with *what set for HOOK_IGNORED_INVALID. The type is
 * checked first: events of other types are not ours to judge. The type
 * and user ID are copied into *job as soon as they are known to be
 * tokens, so that an ignored event can still be named in the log.
 */
static int
hook_parse_event(struct json_object *ev, const struct hook_filter *f,
    struct store_job_in *job, const char **what)
{
	const char *type, *uuid, *published;
	int r;

	memset(job, 0, sizeof(*job));
	*what = NULL;
	if (!json_object_is_type(ev, json_type_object)) {
		*what = "event is not an object";
		return HOOK_IGNORED_INVALID;
	}
	type = hook_str(ev, "eventType");
	if (type == NULL) {
		*what = "no eventType";
		return HOOK_IGNORED_INVALID;
	}
	if (util_is_token(type, STORE_TYPE_MAX))
		(void)util_copy(job->event_type, sizeof(job->event_type), type);
	if (!hook_handles_type(type))
		return HOOK_IGNORED_TYPE;
	r = hook_pick_target(ev, "User", job->user_id, sizeof(job->user_id));
	if (r == -1) {
		job->user_id[0] = '\0';
		*what = "bad or conflicting User target";
		return HOOK_IGNORED_INVALID;
	}
	uuid = hook_str(ev, "uuid");
	published = hook_str(ev, "published");
	if (uuid == NULL || !util_is_token(uuid, STORE_ID_MAX) ||
	    util_copy(job->uuid, sizeof(job->uuid), uuid) == -1) {
		*what = "bad uuid";
		return HOOK_IGNORED_INVALID;
	}
	if (!hook_published_ok(published) ||
	    util_copy(job->published, sizeof(job->published), published) == -1) {
		*what = "bad published";
		return HOOK_IGNORED_INVALID;
	}
	if (r == 0)
		return HOOK_IGNORED_NO_TARGET;
	if (hook_is_group_type(type)) {
		r = hook_pick_target(ev, "UserGroup", job->group_id,
		    sizeof(job->group_id));
		if (r == -1) {
			*what = "bad or conflicting UserGroup target";
			return HOOK_IGNORED_INVALID;
		}
		if (r == 0 || !hook_group_configured(f, job->group_id))
			return HOOK_IGNORED_GROUP;
	}
	if (strcmp(type, "user.account.update_profile") == 0) {
		hook_changed(ev, job);
		/* Such a job could only be skipped by the worker
		 * (sync_precheck), alone or with others: storing, leasing
		 * and completing it was 40% of a sync's CPU, since every
		 * write-back comes back as one. */
		if (job->changed_known && f->relevant != NULL &&
		    !f->relevant(job->changed, f->relevant_arg))
			return HOOK_IGNORED_UNCHANGED;
	}
	return HOOK_JOB_MADE;
}

/* Length of the UTF-8 sequence that starts with byte c, 0: not a lead byte. */
static size_t
hook_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0; /* continuation byte, C0/C1 (always overlong) or F5-FF */
}

/*
 * RFC 3629 UTF-8: json-c's JSON_TOKENER_VALIDATE_UTF8 checks the shape of
 * each sequence but lets overlong forms, UTF-16 surrogates and code points
 * past U+10FFFF through. A JSON text must be UTF-8 (RFC 8259), so such a
 * body is refused whole, wherever the bytes are.
 */
static int
hook_utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, n, k;

	while (i < len) {
		n = hook_utf8_len(p[i]);
		if (n == 0 || n > len - i)
			return 0;
		for (k = 1; k < n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		/* The second byte's range rules out the overlong 3- and
		 * 4-byte forms, surrogates (ED A0-BF) and > U+10FFFF. */
		if ((p[i] == 0xe0 && p[i + 1] < 0xa0) || (p[i] == 0xed && p[i + 1] > 0x9f) ||
		    (p[i] == 0xf0 && p[i + 1] < 0x90) || (p[i] == 0xf4 && p[i + 1] > 0x8f))
			return 0;
		i += n;
	}
	return 1;
}

/*
 * Parses exactly len bytes as one JSON value, with bounded depth, strict
 * syntax and UTF-8 validation. Returns the value (caller puts it) or NULL.
 */
static struct json_object *
hook_tokenize(const char *body, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *root = NULL;
	enum json_tokener_error jerr;
	const char *why = NULL;
	size_t end;

	if (body == NULL || len == 0)
		why = "empty body";
	else if (len > INT_MAX)
		why = "body too large";
	else if (memchr(body, '\0', len) != NULL)
		why = "NUL byte in body";
	if (why != NULL)
		goto out;
	tok = json_tokener_new_ex(HOOK_JSON_DEPTH);
	if (tok == NULL) {
		why = "out of memory";
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (json_tokener_get_error(tok) == json_tokener_continue) {
		/* All was read; a bare literal ends only at end of input. */
		end = len;
		root = json_tokener_parse_ex(tok, "", 1);
	}
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_error_parse_eof)
		why = "truncated JSON";
	else if (jerr != json_tokener_success)
		why = "invalid JSON";
	else if (root == NULL)
		why = "not a JSON object"; /* the literal null */
	/* Strict mode already refuses trailing data; do not depend on it. */
	for (; why == NULL && end < len; end++)
		if (strchr(" \t\r\n", body[end]) == NULL)
			why = "data after the JSON value";
	if (why == NULL && !hook_utf8_valid((const unsigned char *)body, len))
		why = "invalid UTF-8";
out:
	if (why != NULL) {
		json_object_put(root);
		hook_seterr(err, errlen, why);
		return NULL;
	}
	return root;
}

/* Checks the envelope and returns data.events, or NULL with err set. */
static struct json_object *
hook_envelope(struct json_object *root, struct hook_delivery *out, char *err,
    size_t errlen)
{
	struct json_object *data, *events;
	const char *why = NULL, *s;

	data = hook_member(root, "data", json_type_object);
	events = hook_member(data, "events", json_type_array);
	s = hook_str(root, "eventType");
	if (!json_object_is_type(root, json_type_object))
		why = "not a JSON object";
	else if (json_object_object_get_ex(root, "eventType", NULL) &&
	    (s == NULL || strcmp(s, "com.okta.event_hook") != 0))
		why = "eventType is not com.okta.event_hook";
	else if (data == NULL)
		why = "data is not an object";
	else if (events == NULL)
		why = "data.events is not an array";
	else if (json_object_array_length(events) > HOOK_MAX_EVENTS)
		why = "too many events";
	if (why != NULL) {
		hook_seterr(err, errlen, why);
		return NULL;
	}
	s = hook_str(root, "eventId");
	if (s != NULL && util_is_token(s, STORE_ID_MAX))
		(void)util_copy(out->event_id, sizeof(out->event_id), s);
	return events;
}

/*
 * On -1, *out is left zeroed, so hook_delivery_free() is safe either way.
 * Invariant on 0: njobs + the sum of ignored[] == nevents.
 */
int
hook_parse_delivery(const char *body, size_t len, const struct hook_filter *f,
    struct hook_delivery *out, char *err, size_t errlen)
{
	struct json_object *root, *events;
	size_t i;
	int r, rc = -1;

	memset(out, 0, sizeof(*out));
	root = hook_tokenize(body, len, err, errlen);
	if (root == NULL)
		return -1;
	events = hook_envelope(root, out, err, errlen);
	if (events == NULL)
		goto out;
	out->nevents = json_object_array_length(events);
	if (out->nevents > 0) {
		out->jobs = calloc(out->nevents, sizeof(*out->jobs));
		out->skipped = calloc(out->nevents, sizeof(*out->skipped));
		if (out->jobs == NULL || out->skipped == NULL) {
			hook_seterr(err, errlen, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < out->nevents; i++) {
		struct store_job_in *job = &out->jobs[out->njobs];
		struct hook_skipped *sk = &out->skipped[out->nskipped];
		const char *what;

		r = hook_parse_event(json_object_array_get_idx(events, i), f,
		    job, &what);
		if (r == HOOK_JOB_MADE) {
			out->njobs++;
			continue;
		}
		out->ignored[r]++;
		sk->reason = (enum hook_ignore_reason)r;
		sk->what = what;
		memcpy(sk->event_type, job->event_type, sizeof(sk->event_type));
		memcpy(sk->user_id, job->user_id, sizeof(sk->user_id));
		out->nskipped++;
	}
	assert(out->njobs + out->ignored[HOOK_IGNORED_TYPE] +
	    out->ignored[HOOK_IGNORED_NO_TARGET] +
	    out->ignored[HOOK_IGNORED_GROUP] +
	    out->ignored[HOOK_IGNORED_INVALID] +
	    out->ignored[HOOK_IGNORED_UNCHANGED] == out->nevents);
	rc = 0;
out:
	json_object_put(root);
	if (rc == -1)
		hook_delivery_free(out);
	return rc;
}

void
hook_delivery_free(struct hook_delivery *d)
{
	if (d == NULL)
		return;
	free(d->jobs);
	free(d->skipped);
	memset(d, 0, sizeof(*d));
}

const char *
hook_reason_name(enum hook_ignore_reason r)
{
	static const char *const names[HOOK_IGNORED_NREASONS] = {
		[HOOK_IGNORED_TYPE] = "unhandled type",
		[HOOK_IGNORED_NO_TARGET] = "no target",
		[HOOK_IGNORED_GROUP] = "other group",
		[HOOK_IGNORED_INVALID] = "invalid",
		[HOOK_IGNORED_UNCHANGED] = "no synced attribute changed",
	};

	return (unsigned)r < HOOK_IGNORED_NREASONS ? names[r] : "?";
}

/*
 * Appends one item to the list in buf (n: its length), or, once an item
 * does not fit with room left for the tail, counts it in *more.
 */
static void
hook_list_add(char *buf, size_t len, size_t *n, size_t *more,
    const char *item)
{
	size_t k = strlen(item), sep = *n > 0 ? 2 : 0;

	/* 24: room for " ... (N more)" with any N */
	if (*more > 0 || *n + sep + k + 24 >= len) {
		(*more)++;
		return;
	}
	if (sep > 0)
		memcpy(buf + *n, ", ", 2);
	memcpy(buf + *n + sep, item, k + 1);
	*n += sep + k;
}

static void
hook_list_end(char *buf, size_t len, size_t n, size_t more)
{
	if (more > 0 && n < len)
		(void)util_format(buf + n, len - n, "%s... (%zu more)",
		    n > 0 ? " " : "", more);
}

void
hook_delivery_describe(const struct hook_delivery *d, char *jobs,
    size_t jobslen, char *skipped, size_t skippedlen)
{
	char item[STORE_TYPE_MAX + STORE_ID_MAX + 64];
	size_t i, n = 0, more = 0;

	assert(jobslen > 0 && skippedlen > 0);
	jobs[0] = skipped[0] = '\0';
	for (i = 0; i < d->njobs; i++) {
		(void)util_format(item, sizeof(item), "%s %s",
		    d->jobs[i].event_type, d->jobs[i].user_id);
		hook_list_add(jobs, jobslen, &n, &more, item);
	}
	hook_list_end(jobs, jobslen, n, more);
	n = more = 0;
	for (i = 0; i < d->nskipped; i++) {
		const struct hook_skipped *s = &d->skipped[i];

		(void)util_format(item, sizeof(item), "%s%s%s: %s%s%s",
		    s->event_type[0] != '\0' ? s->event_type : "?",
		    s->user_id[0] != '\0' ? " " : "", s->user_id,
		    hook_reason_name(s->reason), s->what != NULL ? ": " : "",
		    s->what != NULL ? s->what : "");
		hook_list_add(skipped, skippedlen, &n, &more, item);
	}
	hook_list_end(skipped, skippedlen, n, more);
}

/*
 * Both comparisons always run and are combined without branching, so the
 * time does not tell whether the current or the next secret matched. An
 * empty or absent secret never matches (an unset secret must not let an
 * empty header in).
 */
int
hook_authenticate(const char *presented, const char *secret, const char *next)
{
	size_t plen, slen, nlen;
	int m1, m2;

	if (presented == NULL)
		return 0;
	if (secret == NULL)
		secret = "";
	if (next == NULL)
		next = "";
	plen = strlen(presented);
	slen = strlen(secret);
	nlen = strlen(next);
	m1 = util_secret_equal(presented, plen, secret, slen) & (slen > 0);
	m2 = util_secret_equal(presented, plen, next, nlen) & (nlen > 0);
	return m1 | m2;
}

/* Appends the JSON escape of c at buf[*n]; returns -1 when out of room. */
static int
hook_escape(unsigned char c, char *buf, size_t buflen, size_t *n)
{
	char tmp[8];
	int k;

	if (c == '"' || c == '\\')
		k = util_format(tmp, sizeof(tmp), "\\%c", c);
	else if (c < 0x20 || c == 0x7f)
		k = util_format(tmp, sizeof(tmp), "\\u%04x", c);
	else
		k = util_format(tmp, sizeof(tmp), "%c", c);
	if (k < 0 || *n + (size_t)k >= buflen)
		return -1;
	memcpy(buf + *n, tmp, (size_t)k);
	*n += (size_t)k;
	return 0;
}

/*
 * A challenge with bytes outside ASCII is refused (-1): an HTTP header
 * value is ASCII, Okta's challenges are random ASCII tokens, and echoing
 * arbitrary bytes could produce invalid JSON.
 */
int
hook_verification_answer(const char *challenge, char *buf, size_t buflen)
{
	static const char head[] = "{\"verification\":\"";
	size_t i, n;

	if (buf == NULL || buflen == 0)
		return -1;
	buf[0] = '\0';
	if (challenge == NULL ||
	    strnlen(challenge, HOOK_CHALLENGE_MAX + 1) > HOOK_CHALLENGE_MAX)
		return -1;
	if (buflen < sizeof(head))
		return -1;
	memcpy(buf, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (i = 0; challenge[i] != '\0'; i++) {
		unsigned char c = (unsigned char)challenge[i];

		if (c > 0x7f || hook_escape(c, buf, buflen, &n) == -1)
			goto fail;
	}
	if (n + 2 >= buflen || n + 2 > INT_MAX)
		goto fail;
	memcpy(buf + n, "\"}", 3);
	return (int)(n + 2);
fail:
	buf[0] = '\0';
	return -1;
}
