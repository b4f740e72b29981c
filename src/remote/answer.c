/*
 * answer: what the remote system's answers mean, for the remote client
 * and the OAuth 2.0 token request alike: the error of a status that is
 * not accepted (its class, and the start of the answer as printable
 * ASCII, never the request), and the remote ID at a template's pointer.
 */
#include "groupsync/remote/answer.h"

#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

#define REMOTE_SNIPPET 96

/* Copies up to REMOTE_SNIPPET bytes of s as printable ASCII. */
static size_t
remote_snippet(char *snip, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < REMOTE_SNIPPET && i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		snip[i] = ch < 0x20 || ch >= 0x7f ? ' ' : (char)ch;
	}
	snip[i] = '\0';
	return i;
}

/*
 * A SCIM error (RFC 7644 section 3.12): {"schemas": [...Error],
 * "status": "409", "scimType": "uniqueness", "detail": "..."}. Fills snip
 * with "scimType: detail" (or the detail alone); 0 when the answer is no
 * such object, so that the start of the answer is quoted instead.
 */
static size_t
remote_scim_error(char *snip, const struct http_response *resp)
{
	json_object *root = json_tokener_parse(resp->body), *detail, *type;
	char both[2 * REMOTE_SNIPPET + 4];
	size_t n = 0;

	if (root != NULL && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "detail", &detail) &&
	    json_object_is_type(detail, json_type_string)) {
		if (json_object_object_get_ex(root, "scimType", &type) &&
		    json_object_is_type(type, json_type_string))
			snprintf(both, sizeof(both), "%.64s: %s", json_object_get_string(type),
			    json_object_get_string(detail));
		else
			snprintf(both, sizeof(both), "%s", json_object_get_string(detail));
		n = remote_snippet(snip, both, strlen(both));
	}
	json_object_put(root);
	return n;
}

/*
 * A status the template does not accept: classify it (a 2xx that is not
 * listed as success is PERMANENT) and quote the answer: a SCIM error's
 * scimType and detail, else its start. The message is kept as the job's
 * error, so registered secrets are redacted from it: a server may echo
 * what it was sent.
 */
int
remote_status_error(struct remote_result *res, const char *what,
    const struct http_response *resp)
{
	char snip[REMOTE_SNIPPET + 1];
	size_t n = remote_scim_error(snip, resp);

	if (n == 0)
		n = remote_snippet(snip, resp->body, resp->body_len);
	res->status = resp->status;
	res->cls = http_classify(resp->status);
	if (res->cls == HTTP_CLASS_OK)
		res->cls = HTTP_CLASS_PERMANENT;
	util_format(res->error, sizeof(res->error), "%s: HTTP %ld%s%s", what, resp->status,
	    n > 0 ? ": " : "", snip);
	log_redact(res->error, sizeof(res->error));
	return -1;
}

/* See answer.h. */
int
remote_pick_pointer(json_object *root, const char *id, const char *prefer, const char *equals,
    char *out, size_t outlen)
{
	long n = template_id_list_len(id);
	json_object *list = NULL, *v;
	char head[260];
	size_t i, len;

	if (util_format(out, outlen, "%s", id) < 0)
		return -1;
	if (prefer == NULL || equals == NULL || n < 0 || (size_t)n >= sizeof(head))
		return 0;
	memcpy(head, id, (size_t)n);
	head[n] = '\0';
	if (json_pointer_get(root, head, &list) < 0 || !json_object_is_type(list, json_type_array))
		return 0;
	len = json_object_array_length(list);
	for (i = 0; i < len; i++) {
		if (json_pointer_get(json_object_array_get_idx(list, i), prefer, &v) == 0 &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), equals) == 0)
			return util_format(out, outlen, "%s/%zu%s", head, i, id + n + 2) < 0 ? -1 :
			    (int)i;
	}
	return 0;
}

/*
 * The ID at ptr in root: a string of 1 to REMOTE_ID_MAX characters
 * without control characters, or an integer written in decimal. 1 with
 * id filled, 0 when nothing is there (absent, null, or an empty array),
 * -1 (PERMANENT, res filled) when the value is no usable ID.
 */
int
remote_id_at(json_object *root, const char *ptr, const char *what, char *id,
    struct remote_result *res)
{
	const char *s = NULL;
	json_object *v = NULL;

	if (json_pointer_get(root, ptr, &v) < 0 || v == NULL ||
	    (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0))
		return 0;
	if (json_object_is_type(v, json_type_int))
		s = json_object_get_string(v);
	else if (json_object_is_type(v, json_type_string) &&
	    strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v))
		s = json_object_get_string(v);
	if (s != NULL && s[0] != '\0' && strlen(s) <= REMOTE_ID_MAX && !util_has_ctl(s)) {
		util_copy(id, REMOTE_ID_MAX + 1, s);
		return 1;
	}
	util_format(res->error, sizeof(res->error), "%s: the value at \"%s\" is no ID "
	    "(a string of 1 to %d characters, or an integer)", what, ptr, REMOTE_ID_MAX);
	res->cls = HTTP_CLASS_PERMANENT;
	return -1;
}

/* See answer.h. */
json_object *
remote_parse_answer(const char *what, const struct http_response *resp,
    struct remote_result *res)
{
	enum json_tokener_error jerr;
	json_object *root = json_tokener_parse_verbose(resp->body, &jerr);

	if (jerr != json_tokener_success) {
		util_format(res->error, sizeof(res->error), "%s: the answer is not JSON "
		    "(cut short?)", what);
		res->cls = HTTP_CLASS_RETRY;
		return NULL;
	}
	if (root == NULL) /* the answer "null" */
		root = json_object_new_object();
	if (root == NULL) {
		util_format(res->error, sizeof(res->error), "%s: out of memory", what);
		res->cls = HTTP_CLASS_RETRY;
	}
	return root;
}

/*
 * Reads the remote ID at the template's pointer (see remote_id_at).
 *
 * An answer that is not JSON is RETRY: a connection closed early in a
 * body without Content-Length (or chunks) reads as a whole, shorter
 * answer, and the next attempt's find sees what the remote did. JSON
 * without a usable ID at the pointer is PERMANENT: the template is wrong.
 */
int
remote_read_id(const struct template *t, const char *what, const struct http_response *resp,
    const char *prefer, char *id, struct remote_result *res)
{
	const char *ptr = template_id_pointer(t);
	char picked[300];
	json_object *root = remote_parse_answer(what, resp, res);
	int rc;

	if (root == NULL)
		return -1;
	if (remote_pick_pointer(root, ptr, template_prefer_pointer(t), prefer, picked,
	    sizeof(picked)) >= 0)
		ptr = picked;
	rc = remote_id_at(root, ptr, what, id, res);
	json_object_put(root);
	return rc;
}

/* See answer.h. */
void
remote_read_etag(json_object *root, const char *id_ptr, const struct http_response *resp,
    char *etag, size_t len)
{
	const char *slash = strrchr(id_ptr, '/'), *v = NULL;
	json_object *ver = NULL;
	char ptr[300];

	etag[0] = '\0';
	if (slash == NULL || util_format(ptr, sizeof(ptr), "%.*s/meta/version",
	    (int)(slash - id_ptr), id_ptr) < 0)
		return;
	if (json_pointer_get(root, ptr, &ver) == 0 && json_object_is_type(ver, json_type_string))
		v = json_object_get_string(ver);
	else if (resp != NULL && slash == id_ptr)
		v = http_header_get(resp, "ETag", 0);
	if (v != NULL && v[0] != '\0' && strlen(v) < len && !util_has_ctl(v))
		(void)util_copy(etag, len, v);
}

/* See answer.h. */
json_object *
remote_list_at(json_object *root, const char *list_ptr, struct remote_page *pg)
{
	json_object *list = NULL, *v;

	memset(pg, 0, sizeof(*pg));
	pg->total = -1;
	pg->start = 1;
	if (json_pointer_get(root, list_ptr, &list) < 0 ||
	    !json_object_is_type(list, json_type_array))
		return NULL;
	pg->len = json_object_array_length(list);
	/* the paging attributes of a SCIM list (RFC 7644 section 3.4.2),
	 * only for the list of Resources itself */
	if (strcmp(list_ptr, "/Resources") != 0)
		return list;
	if (json_object_object_get_ex(root, "totalResults", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
		pg->total = json_object_get_int64(v);
	if (json_object_object_get_ex(root, "startIndex", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 1)
		pg->start = json_object_get_int64(v);
	if (json_object_object_get_ex(root, "itemsPerPage", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
		pg->per_page = json_object_get_int64(v);
	return list;
}

/* See answer.h. */
int64_t
remote_next_start(const struct remote_page *pg, size_t have)
{
	if (pg->total < 0 || pg->len == 0 || (int64_t)have >= pg->total)
		return 0;
	return pg->start + (int64_t)pg->len;
}

/* See answer.h. */
size_t
remote_prefer_count(json_object *list, const char *prefer, const char *equals, size_t *first)
{
	size_t i, n = 0, len = json_object_array_length(list);
	json_object *v;

	for (i = 0; i < len; i++) {
		if (json_pointer_get(json_object_array_get_idx(list, i), prefer, &v) == 0 &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), equals) == 0 && n++ == 0)
			*first = i;
	}
	return n;
}

/* See answer.h. */
int
remote_ambiguous(struct remote_result *res, const char *what, json_object *list,
    const char *rest, int64_t total)
{
	char ids[160] = "", one[REMOTE_ID_MAX + 1], ptr[300];
	struct remote_result ignore;
	size_t i, len = json_object_array_length(list);

	for (i = 0; i < len && i < 4; i++) {
		if (util_format(ptr, sizeof(ptr), "/%zu%s", i, rest) < 0 ||
		    remote_id_at(list, ptr, what, one, &ignore) != 1)
			continue;
		if (util_format(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%.40s",
		    ids[0] != '\0' ? ", " : "", one) < 0)
			break;
	}
	res->cls = HTTP_CLASS_PERMANENT;
	util_format(res->error, sizeof(res->error), "%s: ambiguous: %lld records match "
	    "(%s%s), groupsync links none: remove or merge the duplicates", what,
	    (long long)(total > (int64_t)len ? total : (int64_t)len), ids,
	    len > 4 ? ", ..." : "");
	log_redact(res->error, sizeof(res->error));
	return -1;
}
