/*
 * okta/response: reading Okta's answers: JSON bodies (bounded), the
 * rel="next" paging link, error bodies summarised for logs (credentials
 * scrubbed), the retry class of a status, and the struct okta_result that
 * reports an operation's outcome. Pure functions of their input: no I/O,
 * no state.
 *
 * Threads: all reentrant.
 */
#ifndef GROUPSYNC_OKTA_RESPONSE_H
#define GROUPSYNC_OKTA_RESPONSE_H

#include <stddef.h>

#include <json-c/json.h>

#include "groupsync/base/http.h"
#include "groupsync/okta/client.h"

#define OKTA_URL_MAX 2048 /* org URL + path, or a next-page link */

/*
 * Finds the rel="next" link in every Link header of resp (one header with
 * several comma-separated links, or several headers). Returns 1 with the
 * URL in out, 0 when there is none, -1 when it is malformed, too long,
 * relative, bare (the origin alone) or not on org's origin (scheme, host
 * and port of the org URL): the token must never be sent elsewhere.
 */
int okta_parse_link_next(const struct http_response *resp, const char *org, char *out,
    size_t outlen);

/*
 * Summarises an error body into out: "E0000006 You do not have
 * permission..." (Okta API), "invalid_client The client..." (OAuth), or
 * a short printable prefix of anything else. Never more than outlen - 1.
 */
void okta_parse_error(const char *body, size_t len, char *out, size_t outlen);

/* Retry or permanent, by status (0: no answer). 401 is permanent. */
enum http_class okta_classify(long status);

/*
 * Fills res for an answer that is not a success: status, class, retry time
 * (Retry-After, or the rate-limit block on a 429) and "what: status
 * (hint401, on a 401 only) errorCode errorSummary".
 */
void okta_result_fill(struct okta_result *res, const char *what,
    const struct http_response *resp, const char *hint401);

/* Fails res: class cls, error "what: why". Returns -1, for tail calls. */
int okta_result_fail(struct okta_result *res, enum http_class cls, const char *what,
    const char *why);

/* Parses a whole JSON text (bounded depth); NULL when it is not one.
 * Caller puts the result. */
json_object *okta_json_parse(const char *s, size_t len);

/* The string member key of object o (o may be NULL), or NULL when it is
 * absent or not a string. */
const char *okta_jstr(json_object *o, const char *key);

#endif
