/*
 * okta/send: the gate every Okta call goes through (see
 * groupsync/okta/send.h): the rate budget first, then the call, then what
 * the answer teaches the budget.
 */
#include "groupsync/okta/send.h"

#include <string.h>

#include "groupsync/base/util.h"
#include "groupsync/okta/response.h"

int
okta_send(struct okta_rate *r, enum okta_bucket b, struct http_client *hc,
    const struct http_request *req, struct http_response *resp, struct okta_result *res,
    const char *what, _Atomic uint64_t *sent)
{
	int64_t now = util_now_ms(), until = 0, blocked;
	char why[96];

	memset(resp, 0, sizeof(*resp));
	res->status = 0;
	res->retry_at_ms = 0;
	if (okta_rate_admit(r, b, now, &until) < 0) {
		res->retry_at_ms = until;
		util_format(why, sizeof(why), "not sent: Okta rate limit, next call in %lld s",
		    (long long)((until - now + 999) / 1000));
		return okta_result_fail(res, HTTP_CLASS_RETRY, what, why);
	}
	if (sent != NULL)
		atomic_fetch_add(sent, 1);
	if (http_do(hc, req, resp) < 0) {
		okta_result_fail(res, resp->cls, what, resp->error);
		http_response_free(resp);
		return -1;
	}
	blocked = okta_rate_update(r, b, resp, util_now_ms());
	if (resp->status == 429 && blocked > resp->retry_after_ms)
		resp->retry_after_ms = blocked;
	return 0;
}
