/*
 * okta/send: the gate every Okta call goes through, the token request
 * included: the call's bucket (okta_bucket_of), a paced slot in it
 * (okta/rate.h: waited for when it is near, else the call is not sent
 * and the caller retries at the slot), a place under the concurrency
 * bound, the call, and what the answer teaches the budget.
 *
 * Waits are interruptible: they end when the client's abort flag is set
 * (serve's shutdown, reconcile's stop), as a call in flight would be.
 * The time waited is added to the client (http_client_add_wait), for the
 * caller's log line, and to the bucket's total, for /metrics.
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
 * Sends req through the rate gate of its bucket, counting it in *sent
 * (may be NULL) when it goes out. Returns 0 when Okta answered (resp
 * filled: free it), -1 when the call was deferred (res RETRY with
 * retry_at_ms), aborted or got no answer (res filled; resp holds nothing
 * to free).
 */
int okta_send(struct okta_rate *r, struct http_client *hc, const struct http_request *req,
    struct http_response *resp, struct okta_result *res, const char *what,
    _Atomic uint64_t *sent);

#endif
