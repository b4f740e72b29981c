/*
 * answer: what the remote system's answers mean (remote/answer.c), shared
 * by the remote client and its auth.
 *
 * Threads: pure functions of their arguments.
 */
#ifndef GROUPSYNC_REMOTE_ANSWER_H
#define GROUPSYNC_REMOTE_ANSWER_H

#include "groupsync/base/http.h"
#include "groupsync/remote/client.h"
#include "groupsync/remote/template.h"

/*
 * Fills res for a status that was not accepted: its class (a 2xx that is
 * not listed as success is PERMANENT) and "what: HTTP nnn: <start of the
 * answer>". Returns -1.
 */
int remote_status_error(struct remote_result *res, const char *what,
    const struct http_response *resp);

/*
 * Reads the remote ID at t's pointer into id (REMOTE_ID_MAX + 1 bytes).
 * Returns 1 with id filled, 0 when nothing is there, -1 with res filled
 * (RETRY: the answer is not JSON; PERMANENT: no usable ID).
 */
int remote_read_id(const struct template *t, const char *what, const struct http_response *resp,
    const char *prefer, char *id, struct remote_result *res);

/*
 * The selection rule of a find template's "prefer": when the id pointer
 * goes through a list ("/Resources/0/id") and a listed record's value at
 * prefer is the string equals, out is the id pointer with that record's
 * index, and the index is returned; else out is id unchanged (the first
 * record wins) and 0 is returned. -1: out is too small.
 */
int remote_pick_pointer(json_object *root, const char *id, const char *prefer,
    const char *equals, char *out, size_t outlen);

#endif
