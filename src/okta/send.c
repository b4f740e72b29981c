/*
 * okta/send: the gate every Okta call goes through (see
 * groupsync/okta/send.h): a slot in the bucket's pace, a place under the
 * concurrency bound, the call, then what the answer teaches the budget.
 */
#include "groupsync/okta/send.h"

#include <string.h>
#include <time.h>

#include "groupsync/base/util.h"
#include "groupsync/okta/response.h"

#define OKTA_SEND_NAP_MS 50 /* longest sleep between looks at the abort flag */

/* Sleeps until the unix time at_ms; -1 at once when the client aborts. */
static int
okta_send_sleep_until(struct http_client *hc, int64_t at_ms)
{
	struct timespec ts;
	int64_t left;

	while ((left = at_ms - util_now_ms()) > 0) {
		if (http_client_aborting(hc))
			return -1;
		if (left > OKTA_SEND_NAP_MS)
			left = OKTA_SEND_NAP_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
	return http_client_aborting(hc) ? -1 : 0;
}

/*
 * Waits for a slot of bucket b: 0 when one is reached, -1 with res filled
 * when the call is not to be sent (Okta said to wait, or the slot is
 * beyond the horizon: retry then; or the client aborts). A slot not yet
 * known (the window's first call is out, or the next window is near) is
 * asked for again, all waits together within the horizon.
 */
static int
okta_send_slot(struct okta_rate *r, enum okta_bucket b, struct http_client *hc,
    struct okta_result *res, const char *what)
{
	int64_t start = util_now_ms(), now = start, at = start;
	enum okta_rate_verdict v;
	char why[96];
	int rc = 0;

	for (;;) {
		v = okta_rate_reserve(r, b, now, &at);
		/* Okta's own "wait" goes through the queue, as does a slot too
		 * far ahead: a worker is not held that long. */
		if (v == OKTA_RATE_BLOCKED || (v == OKTA_RATE_LATER && at - start > r->horizon_ms)) {
			atomic_fetch_add(&r->deferred, 1);
			res->retry_at_ms = at;
			util_format(why, sizeof(why), "not sent: Okta rate limit, next call in %lld s",
			    (long long)((at - now + 999) / 1000));
			rc = okta_result_fail(res, HTTP_CLASS_RETRY, what, why);
			res->deferred = 1;
			break;
		}
		if (okta_send_sleep_until(hc, at) < 0) {
			if (v == OKTA_RATE_GO)
				okta_rate_cancel(r, b);
			rc = okta_result_fail(res, HTTP_CLASS_RETRY, what, "not sent: stopping");
			break;
		}
		now = util_now_ms();
		if (v == OKTA_RATE_GO)
			break;
	}
	okta_rate_note_wait(r, b, now - start);
	http_client_add_wait(hc, now - start);
	return rc;
}

/* A place under GROUPSYNC_OKTA_CONCURRENCY; -1 when the client aborts. */
static int
okta_send_enter(struct okta_rate *r, struct http_client *hc)
{
	while (okta_rate_enter(r, OKTA_SEND_NAP_MS) < 0) {
		if (http_client_aborting(hc))
			return -1;
	}
	return 0;
}

int
okta_send(struct okta_rate *r, struct http_client *hc, const struct http_request *req,
    struct http_response *resp, struct okta_result *res, const char *what,
    _Atomic uint64_t *sent)
{
	enum okta_bucket b = okta_bucket_of(req->method, req->url);
	int64_t blocked;
	int rc;

	memset(resp, 0, sizeof(*resp));
	res->status = 0;
	res->retry_at_ms = 0;
	res->deferred = 0;
	if (okta_send_slot(r, b, hc, res, what) < 0)
		return -1;
	if (okta_send_enter(r, hc) < 0) {
		okta_rate_cancel(r, b);
		return okta_result_fail(res, HTTP_CLASS_RETRY, what, "not sent: stopping");
	}
	if (sent != NULL)
		atomic_fetch_add(sent, 1);
	rc = http_do(hc, req, resp);
	okta_rate_leave(r);
	if (rc < 0) {
		okta_rate_update(r, b, NULL, util_now_ms());
		okta_result_fail(res, resp->cls, what, resp->error);
		http_response_free(resp);
		return -1;
	}
	blocked = okta_rate_update(r, b, resp, util_now_ms());
	if (resp->status == 429 && blocked > resp->retry_after_ms)
		resp->retry_after_ms = blocked;
	return 0;
}
