/*
 * libFuzzer target for the intake of outside input in hook.c: the
 * delivery body (hook_parse_delivery) and the verification challenge
 * (hook_verification_answer). Besides the sanitizers, it checks the
 * invariants callers rely on and aborts when one breaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/intake/hook.h"
#include "groupsync/base/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_groups[] = {
	"00g8sync7AbCdEfGh4x7",
	"00g1another00000000x7",
};

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

/* Every job field is bounded, NUL-terminated and of the expected form. */
static void
fuzz_check_delivery(const struct hook_delivery *d)
{
	size_t i, sum = d->njobs;

	for (i = 0; i < HOOK_IGNORED_NREASONS; i++)
		sum += d->ignored[i];
	fuzz_check(sum == d->nevents);
	fuzz_check(d->nevents <= HOOK_MAX_EVENTS);
	fuzz_check(d->event_id[0] == '\0' ||
	    util_is_token(d->event_id, STORE_ID_MAX));
	for (i = 0; i < d->njobs; i++) {
		const struct store_job_in *j = &d->jobs[i];

		fuzz_check(util_is_token(j->uuid, STORE_ID_MAX));
		fuzz_check(util_is_token(j->user_id, STORE_ID_MAX));
		fuzz_check(hook_handles_type(j->event_type));
		fuzz_check(strlen(j->published) <= STORE_TIME_MAX);
		fuzz_check(hook_is_group_type(j->event_type) ==
		    (j->group_id[0] != '\0'));
		fuzz_check(strlen(j->changed) <= STORE_ATTRS_MAX);
		fuzz_check(j->changed_known == (j->changed[0] != '\0'));
	}
}

/* The answer must parse back to exactly the challenge. */
static void
fuzz_check_answer(const char *challenge, const char *buf, int n)
{
	struct json_object *root, *v;

	fuzz_check((size_t)n == strlen(buf));
	root = json_tokener_parse(buf);
	fuzz_check(root != NULL);
	fuzz_check(json_object_object_get_ex(root, "verification", &v));
	fuzz_check(strcmp(json_object_get_string(v), challenge) == 0);
	json_object_put(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hook_filter filter = { fuzz_groups, 2, NULL, NULL };
	struct hook_delivery d;
	char err[128], answer[HOOK_CHALLENGE_MAX * 6 + 32];
	char *copy;
	int n;

	if (hook_parse_delivery((const char *)data, size, &filter, &d, err,
	    sizeof(err)) == 0)
		fuzz_check_delivery(&d);
	else
		fuzz_check(d.jobs == NULL && strlen(err) < sizeof(err));
	hook_delivery_free(&d);

	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	n = hook_verification_answer(copy, answer, sizeof(answer));
	if (n >= 0)
		fuzz_check_answer(copy, answer, n);
	free(copy);
	return 0;
}
