/*
 * answer: what the remote system's answers mean (remote/answer.c), shared
 * by the remote client and its auth.
 *
 * Threads: pure functions of their arguments.
 */
#ifndef GROUPSYNC_REMOTE_ANSWER_H
#define GROUPSYNC_REMOTE_ANSWER_H

#include <stdint.h>

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

/* The answer's body as JSON (an answer "null" as an empty object); NULL
 * with res filled (RETRY: not JSON, perhaps cut short). Caller puts. */
json_object *remote_parse_answer(const char *what, const struct http_response *resp,
    struct remote_result *res);

/* The ID at ptr in root: 1 with id filled (REMOTE_ID_MAX + 1 bytes), 0
 * when nothing is there, -1 (PERMANENT, res filled) when no usable ID. */
int remote_id_at(json_object *root, const char *ptr, const char *what, char *id,
    struct remote_result *res);

/*
 * The ETag of the record whose ID is at id_ptr in root (RFC 7644 section
 * 3.14): the record's meta.version, else, when the record is the whole
 * answer and resp is given, the answer's ETag header. etag "" when none,
 * or one that could not go in a header (control characters, too long).
 */
void remote_read_etag(json_object *root, const char *id_ptr, const struct http_response *resp,
    char *etag, size_t len);

/*
 * A page of a list answer. For the SCIM list of "/Resources" (RFC 7644
 * section 3.4.2), totalResults, startIndex and itemsPerPage as answered
 * (total -1 when absent: the list is whole); len: the records listed.
 */
struct remote_page {
	int64_t total, start, per_page;
	size_t len;
};

/* The array at list_ptr in root (borrowed) and its page, or NULL when
 * the value there is no array. */
json_object *remote_list_at(json_object *root, const char *list_ptr, struct remote_page *pg);

/* The startIndex of the next page when this one (pg) leaves records
 * unlisted and have records are held so far, else 0. */
int64_t remote_next_start(const struct remote_page *pg, size_t have);

/* How many records of list have the string equals at pointer prefer;
 * *first is the index of the first of them. */
size_t remote_prefer_count(json_object *list, const char *prefer, const char *equals,
    size_t *first);

/*
 * A find that matches several records (total, or the list's length):
 * fills res (PERMANENT) with "what: ambiguous: N records match (IDs...)",
 * the IDs read at rest ("/id") in the first records. Returns -1.
 */
int remote_ambiguous(struct remote_result *res, const char *what, json_object *list,
    const char *rest, int64_t total);

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
