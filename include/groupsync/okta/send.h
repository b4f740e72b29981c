/*
 * okta/send: the gate every Okta call goes through, the token request
 * included: asks the bucket's rate budget first (okta/rate.h), sends, and
 * teaches the budget what the answer said.
 *
 * Threads: safe; r is shared, hc is the caller's.
 */
#ifndef GROUPSYNC_OKTA_SEND_H
#define GROUPSYNC_OKTA_SEND_H

#include <stdatomic.h>
#include <stdint.h>

#include "groupsync/base/http.h"
#include "groupsync/okta/client.h"
#include "groupsync/okta/rate.h"

/*
 * Sends req through the rate gate of bucket b, counting it in *sent (may
 * be NULL) when it goes out. Returns 0 when Okta answered (resp filled:
 * free it), -1 when the call was deferred or got no answer (res filled;
 * resp holds nothing to free).
 */
int okta_send(struct okta_rate *r, enum okta_bucket b, struct http_client *hc,
    const struct http_request *req, struct http_response *resp, struct okta_result *res,
    const char *what, _Atomic uint64_t *sent);

#endif
