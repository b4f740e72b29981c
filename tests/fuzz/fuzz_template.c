/*
 * libFuzzer target for the template module: template_load (reading and
 * checking a request template, template_load.c) and template_render
 * (expanding it for one user, template.c).
 *
 * Input: TEMPLATE [NUL USER [NUL REMOTE_ID]]. TEMPLATE is the file's
 * content (a NUL never belongs in it: the loader refuses one, so NUL is
 * free to split the input); USER is an Okta user object as JSON, read
 * as okta/client.c reads Okta's answers (a fixed sample user when absent or not
 * an object); REMOTE_ID is the remote ID
 * ({{remote.id}}), absent meaning none. {{env.*}} reads the fixed values
 * of fuzz_cfg below. Besides the sanitizers, it checks what callers of
 * template_render rely on and aborts when one breaks.
 */
#include "fuzz_file.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/remote/template.h"
#include "groupsync/okta/response.h" /* okta_json_parse: how Okta answers are read */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_user[] =
    "{\"id\":\"00u8jane2XyZaBcDe4x7\",\"status\":\"ACTIVE\",\"profile\":{"
    "\"firstName\":\"Jane\",\"lastName\":\"O'Doe \\\"{{user.id}}\\\"\","
    "\"email\":\"jane@example.com\",\"login\":\"jane@example.com\","
    "\"city\":\"..\",\"zipCode\":12345,\"score\":1.5,\"admin\":true,"
    "\"countryCode\":null,\"tags\":[\"a\",\"b\"],\"addr\":{\"street\":\"x\"},"
    "\"crlf\":\"a\\r\\nX-Injected: 1\",\"nul\":\"a\\u0000b\",\"customId\":\"/../7\"}}";

static const char *const fuzz_env[][2] = {
	{"REMOTE_BASE_URL", "http://127.0.0.1:3000/api"},
	{"REMOTE_TOKEN", "s3cret-token-value"},
	{"REMOTE_EMPTY", ""},
	{"REMOTE_PATH", "/v1/users"},
};

static struct config fuzz_cfg;
static struct fuzz_file fuzz_tpl_file;

static void
fuzz_setup(void)
{
	size_t i;

	if (fuzz_cfg.nremote > 0)
		return;
	for (i = 0; i < sizeof(fuzz_env) / sizeof(fuzz_env[0]); i++) {
		fuzz_cfg.remote_names[i] = strdup(fuzz_env[i][0]);
		fuzz_cfg.remote_values[i] = strdup(fuzz_env[i][1]);
		fuzz_check(fuzz_cfg.remote_names[i] && fuzz_cfg.remote_values[i]);
	}
	fuzz_cfg.nremote = i;
}

/* The user as okta/client.c reads it from an Okta answer (okta_json_parse),
 * or NULL when that is not an object. */
static json_object *
fuzz_parse_user(const char *s, size_t size)
{
	json_object *o = okta_json_parse(s, size);

	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The body parses back whole in json-c's strict mode (which still lets
 * NaN and Infinity through: a user value Okta sent so goes out so). */
static int
fuzz_strict_json(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(128);
	json_object *o;
	int ok;

	fuzz_check(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	ok = json_tokener_get_parse_end(tok) == len;
	if (json_tokener_get_error(tok) == json_tokener_continue) /* "null", "1": */
		o = json_tokener_parse_ex(tok, "", 1);            /* end of input */
	ok = ok && json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

/* What remote.c and http.c rely on in a rendered request. */
static void
fuzz_check_request(const struct template_request *r)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	struct http_request h;
	size_t i, n = 0;

	for (i = 0; i < 5 && strcmp(r->method, methods[i]) != 0; i++)
		;
	fuzz_check(i < 5);
	fuzz_check(strncasecmp(r->url, "http://", 7) == 0 ||
	    strncasecmp(r->url, "https://", 8) == 0);
	while (n < HTTP_MAX_HEADERS && r->headers[n] != NULL) {
		const char *colon = strstr(r->headers[n], ": ");

		fuzz_check(colon != NULL && colon != r->headers[n]);
		fuzz_check(strpbrk(r->headers[n], "\r\n") == NULL);
		n++;
	}
	/* NULL-ended, with room for the auth header remote.c adds */
	fuzz_check(n + 2 <= HTTP_MAX_HEADERS);
	fuzz_check(r->body == NULL || strcmp(r->method, "GET") != 0);
	if (r->body != NULL) {
		fuzz_check(strlen(r->body) == r->body_len);
		fuzz_check(fuzz_strict_json(r->body, r->body_len));
	}
	template_request_to_http(r, &h);
	fuzz_check(h.url == r->url && h.body_len == r->body_len);
}

static void
fuzz_render(const struct template *t, json_object *user, const char *remote_id)
{
	struct template_vars v = {user, remote_id, &fuzz_cfg, NULL};
	struct template_request r;
	char err[256];

	err[0] = 'x';
	if (template_render(t, &v, &r, err, sizeof(err)) == 0) {
		fuzz_check_request(&r);
		template_request_free(&r);
	} else {
		fuzz_check(err[0] != '\0' && strlen(err) < sizeof(err));
		fuzz_check(r.method == NULL && r.url == NULL && r.body == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *user_s, *rid_s = NULL, *sep;
	size_t tlen = size, ulen = 0, i, nattrs = 0;
	char names[TEMPLATE_MAX_ATTRS][64], err[256], *rid = NULL;
	json_object *user = NULL, *fallback;
	struct template *t;

	fuzz_setup();
	sep = memchr(s, '\0', size);
	if (sep != NULL) {
		tlen = (size_t)(sep - s);
		user_s = sep + 1;
		ulen = size - tlen - 1;
		sep = memchr(user_s, '\0', ulen);
		if (sep != NULL) {
			rid_s = sep + 1;
			rid = strndup(rid_s, size - (size_t)(rid_s - s));
			fuzz_check(rid != NULL);
			ulen = (size_t)(sep - user_s);
		}
		user = fuzz_parse_user(user_s, ulen);
	}
	fallback = fuzz_parse_user(fuzz_user, sizeof(fuzz_user) - 1);
	fuzz_check(fallback != NULL);

	t = template_load(fuzz_file_set(&fuzz_tpl_file, "template.json", s, tlen), err,
	    sizeof(err));
	if (t == NULL) {
		fuzz_check(err[0] != '\0' && strlen(err) < sizeof(err));
		goto out;
	}
	template_profile_attrs(t, names, TEMPLATE_MAX_ATTRS, &nattrs);
	fuzz_check(nattrs <= TEMPLATE_MAX_ATTRS);
	for (i = 0; i < nattrs; i++)
		fuzz_check(names[i][0] != '\0' && strlen(names[i]) < 64);
	for (i = 100; i < 600; i++)
		fuzz_check(!(template_is_success(t, (long)i) && template_is_not_found(t, (long)i)));
	fuzz_check(template_id_pointer(t) == NULL || template_id_pointer(t)[0] == '\0' ||
	    template_id_pointer(t)[0] == '/');

	fuzz_render(t, user ? user : fallback, rid);
	fuzz_render(t, fallback, rid ? NULL : "rid/../7?x=1#f");
	template_free(t);
out:
	json_object_put(user);
	json_object_put(fallback);
	free(rid);
	return 0;
}
