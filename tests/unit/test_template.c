/*
 * Unit tests of template.c: loading (and refusing) request templates,
 * rendering URLs, headers and bodies with hostile values, and the real
 * templates of hooks/rest against Okta's sample user.
 */
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/remote/template.h"

#ifndef GS_TEST_DATA_DIR
#error "GS_TEST_DATA_DIR must name tests/data (okta/samples/)"
#endif
#ifndef GS_SOURCE_DIR
#error "GS_SOURCE_DIR must name the source tree (hooks/rest/)"
#endif

#define JANE "00u8jane2XyZaBcDe4x7"
#define BASE "http://127.0.0.1:3000"
#define HEAD "{\"method\":\"POST\",\"url\":\"" BASE "/u\","

static struct config cfg;
static char dir[64];
static char err[512];

static void
cfg_env(const char *name, const char *value)
{
	cfg.remote_names[cfg.nremote] = strdup(name);
	cfg.remote_values[cfg.nremote++] = strdup(value);
}

static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg_env("REMOTE_BASE_URL", BASE);
	strcpy(dir, "/tmp/gs-template-XXXXXX");
	assert_non_null(mkdtemp(dir));
	err[0] = '\0';
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to dir/name and loads it; NULL with err on failure. */
static struct template *
load_named(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return template_load(path, err, sizeof(err));
}

static struct template *
load_ok(const char *text)
{
	struct template *t = load_named("t.json", text);

	if (t == NULL)
		fail_msg("load failed: %s", err);
	return t;
}

static struct template *
load_real(const char *name)
{
	char path[256];
	struct template *t;

	snprintf(path, sizeof(path), "%s/hooks/rest/%s", GS_SOURCE_DIR, name);
	t = template_load(path, err, sizeof(err));
	if (t == NULL)
		fail_msg("%s: %s", name, err);
	return t;
}

/* Expects the load to fail with "t.json: " and needle in the message. */
static void
load_bad(const char *text, const char *needle)
{
	struct template *t = load_named("t.json", text);

	if (t != NULL)
		fail_msg("loaded, expected an error with \"%s\": %s", needle, text);
	if (strncmp(err, "t.json: ", 8) != 0 || strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static int
render(const struct template *t, json_object *user, const char *rid,
    struct template_request *r)
{
	struct template_vars v = {user, rid, &cfg, NULL};

	return template_render(t, &v, r, err, sizeof(err));
}

static void
render_ok(const struct template *t, json_object *user, const char *rid,
    struct template_request *r)
{
	if (render(t, user, rid, r) < 0)
		fail_msg("render failed: %s", err);
}

/* The rendered body parsed back (caller frees). */
static json_object *
body_of(const struct template_request *r)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	assert_non_null(r->body);
	assert_int_equal(strlen(r->body), r->body_len);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	if (json_tokener_get_error(tok) != json_tokener_success)
		fail_msg("body is not valid JSON: %.200s", r->body);
	json_tokener_free(tok);
	return o;
}

static const char *
member_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		fail_msg("%s is not a string", key);
	return json_object_get_string(v);
}

static void
load_hooks_rest(void **state)
{
	struct template *c = load_real("create.json"), *u = load_real("update.json");
	struct template *d = load_real("delete.json"), *f = load_real("find.json");
	json_object *user = unit_sample_user(), *b, *src, *v;
	struct template_request r;

	(void)state;
	render_ok(c, user, NULL, &r);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.url, BASE "/users");
	assert_string_equal(r.headers[0], "Accept: application/json");
	assert_string_equal(r.headers[1], "Content-Type: application/json");
	assert_null(r.headers[2]);
	b = body_of(&r);
	assert_true(json_object_object_get_ex(user, "profile", &src));
	json_object_object_foreach(src, key, val) {
		if (json_object_object_get_ex(b, key, &v))
			assert_string_equal(json_object_get_string(v), json_object_get_string(val));
	}
	/* the nine profile attributes, oktaId, and active (re-enables a
	 * record GROUPSYNC_DEPROVISION=disable disabled) */
	assert_int_equal(json_object_object_length(b), 11);
	assert_true(json_object_object_get_ex(b, "active", &v) && json_object_get_boolean(v));
	assert_string_equal(member_str(b, "login"), "jane.doe@example.com");
	assert_string_equal(member_str(b, "countryCode"), "US");
	assert_string_equal(member_str(b, "oktaId"), JANE);
	json_object_put(b);
	template_request_free(&r);
	assert_true(template_is_success(c, 201) && template_is_success(c, 200));
	assert_false(template_is_success(c, 204));
	assert_string_equal(template_id_pointer(c), "/id");

	render_ok(u, user, "42", &r);
	assert_string_equal(r.method, "PUT");
	assert_string_equal(r.url, BASE "/users/42");
	b = body_of(&r);
	assert_int_equal(json_object_object_length(b), 11);
	json_object_put(b);
	template_request_free(&r);

	render_ok(d, user, "42", &r);
	assert_string_equal(r.method, "DELETE");
	assert_string_equal(r.url, BASE "/users/42");
	assert_null(r.body);
	assert_true(template_is_success(d, 200) && template_is_success(d, 204));
	assert_false(template_is_success(d, 404));
	template_request_free(&r);

	render_ok(f, user, NULL, &r);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.url, BASE "/users?oktaId=" JANE);
	assert_null(r.body);
	assert_string_equal(template_id_pointer(f), "/0/id");
	template_request_free(&r);

	json_object_put(user);
	template_free(c);
	template_free(u);
	template_free(d);
	template_free(f);
}

static void
load_bad_json(void **state)
{
	(void)state;
	load_bad("{", "not valid JSON");
	load_bad("", "not valid JSON");
	load_bad(HEAD "}", "not valid JSON");
	load_bad(HEAD "\"method\":\"GET\"} x", "not valid JSON");
	load_bad("{'method':'GET'}", "not valid JSON");
	load_bad(HEAD "\"body\":\"\xff\xfe\"}", "not valid JSON");
	load_bad("[1, 2]", "must be a JSON object");
	load_bad("\"x\"", "must be a JSON object");
}

static void
load_missing_url(void **state)
{
	(void)state;
	load_bad("{\"method\":\"GET\"}", "\"url\" is required");
	load_bad("{\"method\":\"GET\",\"url\":null}", "\"url\" is required");
	load_bad("{\"method\":\"GET\",\"url\":5}", "\"url\" must be a string");
	load_bad("{\"method\":\"GET\",\"url\":\"\"}", "\"url\" must start with");
	load_bad("{\"method\":\"GET\",\"url\":\"" BASE "\\u0000x\"}", "\"url\" must be a string");
	load_bad("{\"url\":\"" BASE "\"}", "\"method\" is required");
}

static void
load_bad_method(void **state)
{
	(void)state;
	load_bad("{\"method\":\"get\",\"url\":\"" BASE "\"}", "\"method\" must be");
	load_bad("{\"method\":\"TRACE\",\"url\":\"" BASE "\"}", "\"method\" must be");
	load_bad("{\"method\":5,\"url\":\"" BASE "\"}", "\"method\" must be a string");
	load_bad("{\"method\":\"GET\",\"url\":\"" BASE "\",\"body\":{}}", "GET request has no body");
}

static void
load_unknown_placeholder(void **state)
{
	(void)state;
	load_bad(HEAD "\"body\":{\"a\":\"{{foo.bar}}\"}}", "unknown placeholder {{foo.bar}} in body");
	load_bad("{\"method\":\"GET\",\"url\":\"" BASE "/{{user.login}}\"}",
	    "unknown placeholder {{user.login}} in url");
	load_bad(HEAD "\"headers\":{\"X-A\":\"{{env.HOME}}\"}}",
	    "unknown placeholder {{env.HOME}} in header X-A");
	load_bad(HEAD "\"body\":\"{{remote.name}}\"}", "{{remote.name}}");
	load_bad(HEAD "\"body\":\"{{user.profile.}}\"}", "{{user.profile.}}");
	load_bad(HEAD "\"body\":\"{{user.profile.a.b}}\"}", "{{user.profile.a.b}}");
	load_bad(HEAD "\"body\":\"{{}}\"}", "unknown placeholder {{}}");
	load_bad(HEAD "\"body\":\"{{user.id\"}", "unterminated placeholder in body");
	load_bad(HEAD "\"body\":{\"{{user.id}}\":1}}", "object key");
	load_bad("{\"method\":\"GET\",\"url\":\"{{user.id}}/x\"}", "must start with text or {{env.*}}");
}

static void
load_bad_success(void **state)
{
	(void)state;
	load_bad(HEAD "\"success\":200}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[]}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[\"200\"]}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[99]}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[600]}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[200.0]}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[true]}", "\"success\" must be a list");
	load_bad(HEAD "\"success\":[200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,"
	    "215,216]}", "\"success\" must be a list");
	load_bad(HEAD "\"not_found\":{}}", "\"not_found\" must be a list");
	load_bad(HEAD "\"success\":[200,404],\"not_found\":[404]}", "404 is both");
	load_bad(HEAD "\"not_found\":[204]}", "204 is both");
}

static void
load_bad_id(void **state)
{
	(void)state;
	load_bad(HEAD "\"id\":\"id\"}", "\"id\" must be a JSON Pointer");
	load_bad(HEAD "\"id\":\"/a~2\"}", "\"id\" must be a JSON Pointer");
	load_bad(HEAD "\"id\":\"/a~\"}", "\"id\" must be a JSON Pointer");
	load_bad(HEAD "\"id\":5}", "\"id\" must be a string");
}

static void
load_too_large(void **state)
{
	size_t n = 70 * 1024;
	char *big = malloc(n + 64);
	struct template *t;

	(void)state;
	assert_non_null(big);
	/* valid JSON, only too long */
	strcpy(big, HEAD "\"_pad\":\"");
	memset(big + strlen(big), 'x', n);
	strcpy(big + strlen(HEAD "\"_pad\":\"") + n, "\"}");
	load_bad(big, "larger than 64 KiB");
	big[strlen(HEAD "\"_pad\":\"") + 60 * 1024] = '\0';
	strcat(big, "\"}");
	t = load_ok(big);
	template_free(t);
	free(big);
}

static void
load_missing_file(void **state)
{
	(void)state;
	assert_null(template_load("/nonexistent/hooks/create.json", err, sizeof(err)));
	assert_non_null(strstr(err, "create.json: cannot open /nonexistent/hooks/create.json"));
}

static void
load_other_keys(void **state)
{
	struct template *t;

	(void)state;
	load_bad(HEAD "\"sucess\":[200]}", "unknown key \"sucess\"");
	load_bad(HEAD "\"headers\":[]}", "\"headers\" must be an object");
	load_bad(HEAD "\"headers\":{\"X Bad\":\"1\"}}", "\"X Bad\" is not a header name");
	load_bad(HEAD "\"headers\":{\"X-A\":1}}", "\"X-A\" must be a string");
	load_bad(HEAD "\"headers\":{\"X-A\":\"a\\r\\nX-B: 1\"}}", "header X-A: value holds CR or LF");
	t = load_ok(HEAD "\"description\":\"d\",\"_comment\":[1],\"headers\":{\"X-A\":\"1\"}}");
	template_free(t);
}

static void
url_escaping(void **state)
{
	struct template *t = load_ok("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/u/"
	    "{{user.profile.login}}?q={{user.profile.city}}&r={{remote.id}}\"}");
	json_object *user = unit_sample_user();
	struct template_request r;
	CURLU *h = curl_url();
	char *host = NULL, *port = NULL;

	(void)state;
	unit_set_attr(user, "login", json_object_new_string("a/b?c#d@e f"));
	unit_set_attr(user, "city", json_object_new_string("Z\xc3\xbcrich & co"));
	render_ok(t, user, "x@evil.com:80/..", &r);
	assert_string_equal(r.url, BASE "/u/a%2Fb%3Fc%23d%40e%20f?q=Z%C3%BCrich%20%26%20co"
	    "&r=x%40evil.com%3A80%2F..");
	/* libcurl, which sends it, sees the configured host. */
	assert_int_equal(curl_url_set(h, CURLUPART_URL, r.url, 0), CURLUE_OK);
	assert_int_equal(curl_url_get(h, CURLUPART_HOST, &host, 0), CURLUE_OK);
	assert_int_equal(curl_url_get(h, CURLUPART_PORT, &port, 0), CURLUE_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "3000");
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	template_request_free(&r);
	json_object_put(user);
	template_free(t);
}

/* "|scimfilter": '"' and '\\' escaped as in a JSON string (RFC 7644
 * section 3.4.2.2), then percent-encoded; refused outside the URL. */
static void
url_scimfilter(void **state)
{
	struct template *t = load_ok("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/U?"
	    "filter=userName%20eq%20%22{{ user.profile.login|scimfilter }}%22&x={{user.profile.login}}\"}");
	json_object *user = unit_sample_user();
	struct template_request r;

	(void)state;
	unit_set_attr(user, "login", json_object_new_string("a\"b\\c"));
	render_ok(t, user, NULL, &r);
	assert_string_equal(r.url, BASE "/U?filter=userName%20eq%20%22a%5C%22b%5C%5Cc%22&x="
	    "a%22b%5Cc");
	template_request_free(&r);
	json_object_put(user);
	template_free(t);
	load_bad(HEAD "\"body\":\"{{user.id|scimfilter}}\"}", "for user, remote and group values");
	load_bad("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/"
	    "{{env.REMOTE_BASE_URL|scimfilter}}\"}", "for user, remote and group values");
	/* "prefer" needs an id through a list */
	load_bad("{\"method\":\"GET\",\"url\":\"" BASE "/u\",\"id\":\"/id\",\"prefer\":"
	    "{\"pointer\":\"/externalId\",\"equals\":\"{{user.id}}\"}}", "\"prefer\" must be");
}

static void
url_dot_segments_and_types(void **state)
{
	struct template *t = load_ok("{\"method\":\"GET\",\"url\":\"" BASE "/u/{{remote.id}}?"
	    "m={{user.profile.mobilePhone}}&n={{user.profile.nope}}&i={{user.profile.i}}&"
	    "d={{user.profile.d}}&b={{user.profile.b}}\"}");
	json_object *user = unit_sample_user();
	struct template_request r;

	(void)state;
	unit_set_attr(user, "i", json_object_new_int64(-42));
	unit_set_attr(user, "d", json_object_new_double(0.1));
	unit_set_attr(user, "b", json_object_new_boolean(1));
	render_ok(t, user, "..", &r);
	assert_string_equal(r.url, BASE "/u/%2E%2E?m=&n=&i=-42&d=0.1&b=true");
	template_request_free(&r);
	render_ok(t, user, ".", &r);
	assert_string_equal(r.url, BASE "/u/%2E?m=&n=&i=-42&d=0.1&b=true");
	template_request_free(&r);
	render_ok(t, user, "...", &r);
	assert_string_equal(r.url, BASE "/u/...?m=&n=&i=-42&d=0.1&b=true");
	template_request_free(&r);
	unit_set_attr(user, "i", json_object_new_string_len("a\0b", 3));
	assert_int_equal(render(t, user, "1", &r), -1);
	assert_string_equal(err, "t.json: {{user.profile.i}} holds a NUL byte");
	unit_set_attr(user, "i", json_object_new_array());
	assert_int_equal(render(t, user, "1", &r), -1);
	assert_non_null(strstr(err, "{{user.profile.i}} is an array or object"));
	json_object_put(user);
	template_free(t);
}

static void
url_host_from_value_refused(void **state)
{
	json_object *user = unit_sample_user();
	struct template_request r;
	struct template *t;

	(void)state;
	unit_set_attr(user, "city", json_object_new_string("evil.com"));
	t = load_ok("{\"method\":\"GET\",\"url\":\"https://{{user.profile.city}}.example.com/\"}");
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_non_null(strstr(err, "t.json: url: the host must come from the template"));
	template_free(t);
	t = load_ok("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}{{user.profile.city}}\"}");
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_non_null(strstr(err, "the host must come from the template"));
	template_free(t);
	t = load_ok("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_X}}/u\"}");
	cfg_env("REMOTE_X", "ftp://example.com");
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_non_null(strstr(err, "url does not start with http:// or https://"));
	template_free(t);
	/* an env value may carry the whole base, path included */
	t = load_ok("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_Y}}/{{user.profile.city}}\"}");
	cfg_env("REMOTE_Y", "https://api.example.com/v2");
	render_ok(t, user, NULL, &r);
	assert_string_equal(r.url, "https://api.example.com/v2/evil.com");
	template_request_free(&r);
	template_free(t);
	json_object_put(user);
}

static void
header_rendering(void **state)
{
	struct template *t;
	json_object *user = unit_sample_user();
	struct template_request r;
	struct http_request h;

	(void)state;
	t = load_ok(HEAD "\"headers\":{\"X-Login\":\"user {{ user.profile.login }}\","
	    "\"X-Key\":\"{{env.REMOTE_BASE_URL}}\"},\"body\":{\"a\":1}}");
	render_ok(t, user, NULL, &r);
	assert_string_equal(r.headers[0], "X-Login: user jane.doe@example.com");
	assert_string_equal(r.headers[1], "X-Key: " BASE);
	assert_string_equal(r.headers[2], "Content-Type: application/json");
	assert_null(r.headers[3]);
	template_request_to_http(&r, &h);
	assert_ptr_equal(h.method, r.method);
	assert_ptr_equal(h.url, r.url);
	assert_ptr_equal(h.headers[2], r.headers[2]);
	assert_null(h.headers[3]);
	assert_ptr_equal(h.body, r.body);
	assert_int_equal(h.body_len, r.body_len);
	assert_string_equal(r.body, "{\"a\":1}");
	template_request_free(&r);
	template_free(t);
	/* the template's own Content-Type, in any case, wins */
	t = load_ok(HEAD "\"headers\":{\"content-type\":\"application/vnd.x+json\"},\"body\":1}");
	render_ok(t, user, NULL, &r);
	assert_string_equal(r.headers[0], "content-type: application/vnd.x+json");
	assert_null(r.headers[1]);
	template_request_free(&r);
	template_free(t);
	json_object_put(user);
}

static void
header_injection_refused(void **state)
{
	static const char *const bad[] = {"a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rb"};
	struct template *t = load_ok(HEAD "\"headers\":{\"X-City\":\"{{user.profile.city}}\","
	    "\"X-Env\":\"{{env.REMOTE_E}}\"}}");
	json_object *user = unit_sample_user();
	struct template_request r;
	size_t i;

	(void)state;
	cfg_env("REMOTE_E", "ok");
	for (i = 0; i < 3; i++) {
		unit_set_attr(user, "city", json_object_new_string(bad[i]));
		assert_int_equal(render(t, user, NULL, &r), -1);
		assert_string_equal(err, "t.json: header X-City: value holds CR, LF or NUL");
	}
	unit_set_attr(user, "city", json_object_new_string_len("a\0X-Evil: 1", 11));
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_string_equal(err, "t.json: header X-City: value holds CR, LF or NUL");
	unit_set_attr(user, "city", json_object_new_string("fine"));
	free(cfg.remote_values[1]);
	cfg.remote_values[1] = strdup("secret\r\nX-Evil: 1");
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_string_equal(err, "t.json: header X-Env: value holds CR, LF or NUL");
	json_object_put(user);
	template_free(t);
}

static void
body_exact_types(void **state)
{
	struct template *t = load_ok(HEAD "\"body\":{\"s\":\"{{user.profile.s}}\","
	    "\"i\":\"{{user.profile.i}}\",\"d\":\"{{user.profile.d}}\",\"t\":\"{{user.profile.t}}\","
	    "\"f\":\"{{user.profile.f}}\",\"n\":\"{{user.profile.n}}\",\"a\":\"{{user.profile.a}}\","
	    "\"id\":\"{{user.id}}\",\"st\":\"{{user.status}}\",\"r\":\"{{remote.id}}\","
	    "\"e\":\"{{env.REMOTE_BASE_URL}}\",\"lit\":[1,2.5,true,null,{\"x\":\"y\"}]}}");
	json_object *user = unit_sample_user(), *arr = json_object_new_array(), *b, *v;
	struct template_request r;

	(void)state;
	json_object_array_add(arr, json_object_new_string("g1"));
	json_object_array_add(arr, json_object_new_string("g2"));
	unit_set_attr(user, "s", json_object_new_string("text"));
	unit_set_attr(user, "i", json_object_new_int64(9007199254740993LL));
	unit_set_attr(user, "d", json_object_new_double(1.5));
	unit_set_attr(user, "t", json_object_new_boolean(1));
	unit_set_attr(user, "f", json_object_new_boolean(0));
	unit_set_attr(user, "n", NULL);
	unit_set_attr(user, "a", arr);
	render_ok(t, user, "77", &r);
	assert_string_equal(r.body, "{\"s\":\"text\",\"i\":9007199254740993,\"d\":1.5,\"t\":true,"
	    "\"f\":false,\"n\":null,\"a\":[\"g1\",\"g2\"],\"id\":\"" JANE "\",\"st\":\"ACTIVE\","
	    "\"r\":\"77\",\"e\":\"" BASE "\",\"lit\":[1,2.5,true,null,{\"x\":\"y\"}]}");
	b = body_of(&r);
	assert_true(json_object_object_get_ex(b, "i", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), 9007199254740993LL);
	json_object_put(b);
	template_request_free(&r);
	json_object_put(user);
	template_free(t);
}

static void
body_interpolation(void **state)
{
	struct template *t = load_ok(HEAD "\"body\":{\"g\":\"Hello {{user.profile.firstName}} "
	    "{{user.profile.lastName}}!\",\"n\":\"n={{user.profile.n}};m={{user.profile.mobilePhone}};"
	    "x={{user.profile.nope}};b={{user.profile.b}}\",\"p\":\"{{user.id}}{{user.id}}\","
	    "\"u\":\"{{env.REMOTE_BASE_URL}}/users/{{remote.id}}\"}}");
	json_object *user = unit_sample_user();
	struct template_request r;

	(void)state;
	unit_set_attr(user, "n", json_object_new_int(42));
	unit_set_attr(user, "b", json_object_new_boolean(0));
	render_ok(t, user, "5", &r);
	assert_string_equal(r.body, "{\"g\":\"Hello Jane Doe!\",\"n\":\"n=42;m=;x=;b=false\","
	    "\"p\":\"" JANE JANE "\",\"u\":\"" BASE "/users/5\"}");
	template_request_free(&r);
	unit_set_attr(user, "b", json_object_new_object());
	assert_int_equal(render(t, user, "5", &r), -1);
	assert_non_null(strstr(err, "t.json: {{user.profile.b}} is an array or object"));
	json_object_put(user);
	template_free(t);
}

/* Renders value as a whole body value and inside a string; parses the
 * output back and compares the exact bytes. */
static void
roundtrip(struct template *t, json_object *user, const char *val, size_t len)
{
	struct template_request r;
	json_object *b, *v;
	char *wrapped = malloc(len + 2);

	assert_non_null(wrapped);
	wrapped[0] = '<';
	memcpy(wrapped + 1, val, len);
	wrapped[len + 1] = '>';
	unit_set_attr(user, "h", json_object_new_string_len(val, (int)len));
	render_ok(t, user, NULL, &r);
	b = body_of(&r);
	assert_true(json_object_object_get_ex(b, "exact", &v));
	assert_int_equal(json_object_get_string_len(v), len);
	assert_memory_equal(json_object_get_string(v), val, len);
	assert_true(json_object_object_get_ex(b, "inner", &v));
	assert_int_equal(json_object_get_string_len(v), len + 2);
	assert_memory_equal(json_object_get_string(v), wrapped, len + 2);
	json_object_put(b);
	template_request_free(&r);
	free(wrapped);
}

static void
body_hostile_roundtrip(void **state)
{
	static const char *const vals[] = {
		"\"quoted\"", "back\\slash\\", "\\\"", "{{user.id}}", "}}{{", "{{env.REMOTE_BASE_URL}}",
		"\x01\x02\x1f\t\n\r\b\f", "\x7f", "</script>", "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89",
		"\xe2\x80\xa8\xe2\x80\xa9", "", "null", "{\"a\":1}",
	};
	struct template *t = load_ok(HEAD "\"body\":{\"exact\":\"{{user.profile.h}}\","
	    "\"inner\":\"<{{user.profile.h}}>\"}}");
	json_object *user = unit_sample_user();
	size_t i, big = 100 * 1024;
	char *s = malloc(big);

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		roundtrip(t, user, vals[i], strlen(vals[i]));
	roundtrip(t, user, "a\0b", 3);
	assert_non_null(s);
	for (i = 0; i < big; i++)
		s[i] = "\"\\{}\n\001ab"[i % 8];
	roundtrip(t, user, s, big);
	free(s);
	json_object_put(user);
	template_free(t);
}

static void
missing_values_named(void **state)
{
	struct template *t;
	json_object *user = unit_sample_user();
	struct template_request r;

	(void)state;
	t = load_named("create.json", HEAD "\"body\":{\"r\":\"{{remote.id}}\"}}");
	assert_non_null(t);
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_string_equal(err, "create.json: {{remote.id}} has no value");
	assert_int_equal(render(t, user, "", &r), -1);
	assert_string_equal(err, "create.json: {{remote.id}} has no value");
	template_free(t);
	t = load_ok("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_NOPE}}/x\"}");
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_string_equal(err, "t.json: {{env.REMOTE_NOPE}} has no value");
	template_free(t);
	t = load_ok(HEAD "\"body\":\"{{user.status}}\"}");
	json_object_object_del(user, "status");
	assert_int_equal(render(t, user, NULL, &r), -1);
	assert_string_equal(err, "t.json: {{user.status}} has no value");
	template_free(t);
	json_object_put(user);
}

static void
absent_profile_null(void **state)
{
	struct template *t = load_ok(HEAD "\"body\":{\"m\":\"{{user.profile.mobilePhone}}\","
	    "\"n\":\"{{user.profile.nope}}\",\"c\":\"{{user.profile.customId}}\"}}");
	json_object *user = unit_sample_user();
	struct template_request r;

	(void)state;
	render_ok(t, user, NULL, &r);
	assert_string_equal(r.body, "{\"m\":null,\"n\":null,\"c\":null}");
	template_request_free(&r);
	json_object_object_del(user, "profile");
	render_ok(t, user, NULL, &r);
	assert_string_equal(r.body, "{\"m\":null,\"n\":null,\"c\":null}");
	template_request_free(&r);
	json_object_put(user);
	template_free(t);
}

static int
has_name(char names[][64], size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return 1;
	return 0;
}

static void
profile_attrs(void **state)
{
	static const char *const want[] = {"firstName", "lastName", "email", "streetAddress",
	    "city", "state", "zipCode", "countryCode", "login"};
	struct template *c = load_real("create.json"), *u = load_real("update.json"), *t;
	char names[TEMPLATE_MAX_ATTRS][64];
	size_t n = 0, i;

	(void)state;
	template_profile_attrs(c, names, TEMPLATE_MAX_ATTRS, &n);
	template_profile_attrs(u, names, TEMPLATE_MAX_ATTRS, &n);
	assert_int_equal(n, 9);
	for (i = 0; i < 9; i++)
		assert_true(has_name(names, n, want[i]));
	t = load_ok("{\"method\":\"GET\",\"url\":\"" BASE "/{{user.profile.employeeNumber}}\","
	    "\"headers\":{\"X\":\"{{user.profile.city}}{{user.profile.dept}}\"}}");
	template_profile_attrs(t, names, TEMPLATE_MAX_ATTRS, &n);
	assert_int_equal(n, 11);
	assert_true(has_name(names, n, "employeeNumber") && has_name(names, n, "dept"));
	n = 0;
	template_profile_attrs(c, names, 3, &n);
	assert_int_equal(n, 3);
	template_free(c);
	template_free(u);
	template_free(t);
}

static void
status_and_id_accessors(void **state)
{
	struct template *t;

	(void)state;
	t = load_ok(HEAD "\"success\":[201],\"not_found\":[404,410],\"id\":\"/data/id\"}");
	assert_true(template_is_success(t, 201));
	assert_false(template_is_success(t, 200));
	assert_true(template_is_not_found(t, 404) && template_is_not_found(t, 410));
	assert_false(template_is_not_found(t, 500));
	assert_string_equal(template_id_pointer(t), "/data/id");
	template_free(t);
	t = load_ok(HEAD "\"id\":\"\"}");
	assert_true(template_is_success(t, 200) && template_is_success(t, 204) &&
	    template_is_success(t, 299));
	assert_false(template_is_success(t, 199) || template_is_success(t, 300) ||
	    template_is_success(t, 404));
	assert_false(template_is_not_found(t, 404));
	assert_string_equal(template_id_pointer(t), "");
	template_free(t);
	t = load_ok(HEAD "\"id\":\"/a~1b/~0c\"}");
	assert_string_equal(template_id_pointer(t), "/a~1b/~0c");
	template_free(t);
	t = load_ok(HEAD "\"body\":null}");
	assert_null(template_id_pointer(t));
	template_free(t);
}

/* Group push placeholders: {{group.id}}, {{group.name}} (a whole body
 * value keeps its text, JSON-escaped; in a URL percent-encoded),
 * {{group.remote_id}}; without a group they have no value. */
static void
group_placeholders(void **state)
{
	struct template *t = load_named("g.json", "{\"method\":\"PATCH\",\"url\":"
	    "\"https://api.example.com/Groups/{{group.remote_id}}?x={{group.id}}\",\"body\":"
	    "{\"displayName\":\"{{group.name}}\",\"m\":\"{{remote.id}}\"}}");
	const struct template_group g = {"00g/1", "Sales \"EMEA\"", "g 7", NULL};
	struct template_vars v = {NULL, "u-1", &cfg, &g};
	struct template_request r;

	(void)state;
	assert_non_null(t);
	if (template_render(t, &v, &r, err, sizeof(err)) < 0)
		fail_msg("render failed: %s", err);
	assert_string_equal(r.url, "https://api.example.com/Groups/g%207?x=00g%2F1");
	assert_string_equal(r.body, "{\"displayName\":\"Sales \\\"EMEA\\\"\",\"m\":\"u-1\"}");
	template_request_free(&r);
	v.group = NULL;
	assert_int_equal(template_render(t, &v, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "{{group.remote_id}} has no value"));
	assert_false(template_reads_members(t));
	template_free(t);
}

/* {{group.members}}: the whole member list as a JSON array, for APIs that
 * replace it; only as a whole body value (text cannot hold an array). */
static void
group_members_placeholder(void **state)
{
	struct template *t = load_named("m.json", "{\"method\":\"PATCH\",\"url\":"
	    "\"https://api.example.com/groups/{{group.remote_id}}\",\"body\":"
	    "{\"members\":\"{{group.members}}\"}}");
	struct template *text = load_named("n.json", "{\"method\":\"PATCH\",\"url\":"
	    "\"https://api.example.com/groups/1\",\"body\":{\"m\":\"x {{group.members}}\"}}");
	struct template_group g = {"00g1", "G", "7", NULL};
	struct template_vars v = {NULL, NULL, &cfg, &g};
	struct template_request r;

	(void)state;
	assert_non_null(t);
	assert_non_null(text);
	assert_true(template_reads_members(t));
	assert_int_equal(template_render(t, &v, &r, err, sizeof(err)), -1); /* not built */
	g.members = json_tokener_parse("[\"1\", \"a/b\"]");
	if (template_render(t, &v, &r, err, sizeof(err)) < 0)
		fail_msg("render failed: %s", err);
	assert_string_equal(r.body, "{\"members\":[\"1\",\"a/b\"]}");
	template_request_free(&r);
	assert_int_equal(template_render(text, &v, &r, err, sizeof(err)), -1);
	json_object_put(g.members);
	template_free(t);
	template_free(text);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(group_placeholders, setup, teardown),
	cmocka_unit_test_setup_teardown(group_members_placeholder, setup, teardown),
	cmocka_unit_test_setup_teardown(load_hooks_rest, setup, teardown),
	cmocka_unit_test_setup_teardown(load_bad_json, setup, teardown),
	cmocka_unit_test_setup_teardown(load_missing_url, setup, teardown),
	cmocka_unit_test_setup_teardown(load_bad_method, setup, teardown),
	cmocka_unit_test_setup_teardown(load_unknown_placeholder, setup, teardown),
	cmocka_unit_test_setup_teardown(load_bad_success, setup, teardown),
	cmocka_unit_test_setup_teardown(load_bad_id, setup, teardown),
	cmocka_unit_test_setup_teardown(load_too_large, setup, teardown),
	cmocka_unit_test_setup_teardown(load_missing_file, setup, teardown),
	cmocka_unit_test_setup_teardown(load_other_keys, setup, teardown),
	cmocka_unit_test_setup_teardown(url_escaping, setup, teardown),
	cmocka_unit_test_setup_teardown(url_scimfilter, setup, teardown),
	cmocka_unit_test_setup_teardown(url_dot_segments_and_types, setup, teardown),
	cmocka_unit_test_setup_teardown(url_host_from_value_refused, setup, teardown),
	cmocka_unit_test_setup_teardown(header_rendering, setup, teardown),
	cmocka_unit_test_setup_teardown(header_injection_refused, setup, teardown),
	cmocka_unit_test_setup_teardown(body_exact_types, setup, teardown),
	cmocka_unit_test_setup_teardown(body_interpolation, setup, teardown),
	cmocka_unit_test_setup_teardown(body_hostile_roundtrip, setup, teardown),
	cmocka_unit_test_setup_teardown(missing_values_named, setup, teardown),
	cmocka_unit_test_setup_teardown(absent_profile_null, setup, teardown),
	cmocka_unit_test_setup_teardown(profile_attrs, setup, teardown),
	cmocka_unit_test_setup_teardown(status_and_id_accessors, setup, teardown),
};

GS_UNIT_MAIN(tests)
