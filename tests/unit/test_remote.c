/*
 * Unit tests of remote.c: the hooks/rest templates against a real
 * json-server (started here on a free loopback port), and, against a
 * small scripted HTTP server in a thread, authentication, the OAuth 2.0
 * token cache, status handling and what error messages may say.
 */
#include "unit.h"
#include "http_test_server.h"

#include "groupsync/base/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/remote/answer.h"
#include "groupsync/remote/client.h"
#include "groupsync/base/util.h"

#ifndef GS_TEST_DATA_DIR
#error "GS_TEST_DATA_DIR must name tests/data (okta/samples/)"
#endif
#ifndef GS_SOURCE_DIR
#error "GS_SOURCE_DIR must name the source tree (hooks/rest/, tests/node_modules/)"
#endif

#define JSON_SERVER GS_SOURCE_DIR "/tests/node_modules/.bin/json-server"
#define REST GS_SOURCE_DIR "/hooks/rest"
#define SCIM GS_SOURCE_DIR "/hooks/scim"
#define JANE "00u8jane2XyZaBcDe4x7"

static struct config cfg;
static struct http_client *hc;
static char tmp[64];
static char base[64];
static char err[512];

/* --- fixtures ---------------------------------------------------------- */

static void
cfg_env(const char *name, const char *value)
{
	cfg.remote_names[cfg.nremote] = strdup(name);
	cfg.remote_values[cfg.nremote++] = strdup(value);
}

static void
cfg_set(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
}

/* A config that reads hooks from dir and sends to http://127.0.0.1:port. */
static void
cfg_init(const char *dir, int port)
{
	config_free(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	cfg_set(&cfg.hooks_dir, dir);
	cfg_set(&cfg.remote_auth, "none");
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	cfg_env("REMOTE_BASE_URL", base);
}

static int
setup(void **state)
{
	struct http_options o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = 2000;
	o.timeout_ms = 5000;
	memset(&cfg, 0, sizeof(cfg));
	strcpy(tmp, "/tmp/gs-remote-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	assert_int_equal(http_global_init(), 0);
	hc = http_client_new(&o);
	assert_non_null(hc);
	err[0] = '\0';
	return 0;
}

static void
copy_file(const char *from, const char *to)
{
	json_object *o = json_object_from_file(from);

	assert_non_null(o);
	assert_int_equal(json_object_to_file(to, o), 0);
	json_object_put(o);
}

/*
 * A hooks directory in tmp: hooks/rest's create, update and delete, and
 * find (text; NULL: none) or create (text; NULL: hooks/rest's).
 */
static const char *
hooks_with(const char *find, const char *create)
{
	static char dir[128];
	char path[256];

	snprintf(dir, sizeof(dir), "%s/hooks", tmp);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/create.json", dir);
	if (create != NULL)
		unit_write_file(path, create);
	else
		copy_file(REST "/create.json", path);
	snprintf(path, sizeof(path), "%s/update.json", dir);
	copy_file(REST "/update.json", path);
	snprintf(path, sizeof(path), "%s/delete.json", dir);
	copy_file(REST "/delete.json", path);
	snprintf(path, sizeof(path), "%s/find.json", dir);
	unlink(path);
	if (find != NULL)
		unit_write_file(path, find);
	return dir;
}

static struct remote *
remote_ok(void)
{
	struct remote *r = remote_new(&cfg, err, sizeof(err));

	if (r == NULL)
		fail_msg("remote_new: %s", err);
	return r;
}

/* GET base + path with no auth; returns the parsed body (caller frees). */
static json_object *
raw_get(const char *path, long *status)
{
	struct http_request req;
	struct http_response resp;
	char url[512];
	json_object *o = NULL;

	memset(&req, 0, sizeof(req));
	snprintf(url, sizeof(url), "%s%s", base, path);
	req.method = "GET";
	req.url = url;
	*status = 0;
	if (http_do(hc, &req, &resp) == 0) {
		*status = resp.status;
		o = json_tokener_parse(resp.body);
	}
	http_response_free(&resp);
	return o;
}

/* --- json-server ------------------------------------------------------- */

static pid_t js_pid;

/* Starts json-server on a free port with db as its data; 0 when absent. */
static int
js_start(const char *db)
{
	char path[128], logp[128], port[16];
	json_object *o;
	int i, p, fd;
	long st;

	if (access(JSON_SERVER, X_OK) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/db.json", tmp);
	snprintf(logp, sizeof(logp), "%s/json-server.log", tmp);
	unit_write_file(path, db);
	p = srv_free_port();
	snprintf(port, sizeof(port), "%d", p);
	js_pid = fork();
	assert_true(js_pid >= 0);
	if (js_pid == 0) {
		setpgid(0, 0);
		fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(JSON_SERVER, "json-server", "--port", port, "--host", "127.0.0.1",
		    "--quiet", path, (char *)NULL);
		_exit(127);
	}
	cfg_init(REST, p);
	for (i = 0; i < 300; i++) {
		o = raw_get("/users", &st);
		json_object_put(o);
		if (st == 200)
			return 1;
		nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
	}
	fail_msg("json-server did not answer on port %d (see %s)", p, logp);
	return 0;
}

static void
js_start_or_skip(const char *db)
{
	if (!js_start(db)) {
		print_message("SKIP: %s is absent (run the setup script's npm step)\n",
		    JSON_SERVER);
		skip();
	}
}

/* --- the scripted HTTP server (http_test_server.h) ------------------------ */

static struct srv *scripted;

/* Starts the scripted server; the config then points at it. */
static void
scripted_start(const char *hooks, const struct srv_reply *script, size_t n)
{
	scripted = srv_start_script(script, n);
	cfg_init(hooks ? hooks : REST, scripted->port);
}

static size_t
scripted_count(void)
{
	return (size_t)srv_count(scripted, NULL);
}

/* The value of header name in request i ("" when absent). */
static const char *
scripted_header(size_t i, const char *name)
{
	static char v[1024];
	static struct srv_req r;

	srv_get(scripted, (int)i, &r);
	if (!req_header(&r, name, v, sizeof(v)))
		v[0] = '\0';
	return v;
}

/* The request line, or the body, of request i. */
static const char *
scripted_part(size_t i, int body)
{
	static struct srv_req r;

	srv_get(scripted, (int)i, &r);
	return body ? r.body : r.line;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (js_pid > 0) {
		kill(-js_pid, SIGTERM);
		kill(js_pid, SIGTERM);
		waitpid(js_pid, NULL, 0);
		js_pid = 0;
	}
	if (scripted != NULL) {
		srv_stop(scripted);
		scripted = NULL;
	}
	http_client_free(hc);
	http_global_cleanup();
	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- json-server ------------------------------------------------------- */

static const char *
member_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		fail_msg("%s is not a string", key);
	return json_object_get_string(v);
}

/* The record the remote holds for id (caller frees), or NULL on 404. */
static json_object *
record(const char *id, long *status)
{
	char path[REMOTE_ID_MAX + 16];

	snprintf(path, sizeof(path), "/users/%s", id);
	return raw_get(path, status);
}

static void
json_server_lifecycle(void **state)
{
	struct remote *r;
	struct remote_result res;
	json_object *user, *rec;
	char id[REMOTE_ID_MAX + 1], fp1[65], fp2[65], fp3[65];
	long st;

	(void)state;
	js_start_or_skip("{\"users\": []}");
	user = unit_sample_user();
	r = remote_ok();
	assert_true(remote_has_find(r));
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	assert_int_equal(res.status, 201);
	assert_int_equal(res.cls, HTTP_CLASS_OK);
	assert_string_equal(res.remote_id, "1"); /* json-server's numeric id */
	strcpy(id, res.remote_id);
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(res.remote_id, id);
	rec = record(id, &st);
	assert_int_equal(st, 200);
	assert_string_equal(member_str(rec, "oktaId"), JANE);
	assert_string_equal(member_str(rec, "login"), "jane.doe@example.com");
	assert_string_equal(member_str(rec, "city"), "Springfield");
	json_object_put(rec);
	assert_int_equal(remote_fingerprint(r, user, id, fp1), 0);
	assert_int_equal(remote_fingerprint(r, user, id, fp2), 0);
	assert_string_equal(fp1, fp2);
	unit_set_attr(user, "city", json_object_new_string("Shelbyville"));
	assert_int_equal(remote_fingerprint(r, user, id, fp3), 0);
	assert_string_not_equal(fp1, fp3);
	assert_int_equal(remote_update(r, hc, user, id, &res), 0);
	assert_int_equal(res.found, 1);
	assert_int_equal(res.status, 200);
	rec = record(id, &st);
	assert_string_equal(member_str(rec, "city"), "Shelbyville");
	assert_string_equal(member_str(rec, "oktaId"), JANE); /* PUT sent everything */
	assert_string_equal(member_str(rec, "zipCode"), "62701");
	json_object_put(rec);
	assert_int_equal(remote_delete(r, hc, user, id, &res), 0);
	assert_int_equal(res.found, 1);
	json_object_put(record(id, &st));
	assert_int_equal(st, 404);
	assert_int_equal(remote_delete(r, hc, user, id, &res), 0);
	assert_int_equal(res.status, 404);
	assert_int_equal(res.found, 0);
	assert_int_equal(remote_update(r, hc, user, id, &res), 0);
	assert_int_equal(res.status, 404);
	assert_int_equal(res.found, 0);
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	remote_free(r);
	json_object_put(user);
}

/* Hostile profile values reach json-server and come back unchanged; a
 * record with a string id is found by its Okta ID. */
static void
json_server_hostile_values(void **state)
{
	static const char *const vals[] = {"\"q\" \\ {{user.id}} }}", "\xe6\x97\xa5 \xf0\x9f\x8e\x89",
	    "a/b?c#d@e", "\x01\t\n\x1f", "</script><!--"};
	static const char *const keys[] = {"firstName", "lastName", "email", "streetAddress",
	    "city"};
	struct remote *r;
	struct remote_result res;
	json_object *user, *other, *rec;
	char *big;
	long st;
	size_t i;

	(void)state;
	js_start_or_skip("{\"users\": [{\"id\": \"u-7\", \"oktaId\": \"00uOTHER\"}]}");
	user = unit_sample_user();
	other = unit_sample_user();
	big = malloc(20001);
	assert_non_null(big);
	r = remote_ok();
	json_object_object_add(other, "id", json_object_new_string("00uOTHER"));
	assert_int_equal(remote_find(r, hc, other, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(res.remote_id, "u-7");
	for (i = 0; i < 5; i++)
		unit_set_attr(user, keys[i], json_object_new_string(vals[i]));
	memset(big, 'z', 20000);
	big[20000] = '\0';
	unit_set_attr(user, "state", json_object_new_string(big));
	unit_set_attr(user, "zipCode", json_object_new_int(62701));
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	rec = record(res.remote_id, &st);
	assert_int_equal(st, 200);
	for (i = 0; i < 5; i++)
		assert_string_equal(member_str(rec, keys[i]), vals[i]);
	assert_string_equal(member_str(rec, "state"), big);
	assert_int_equal(json_object_get_int(json_object_object_get(rec, "zipCode")), 62701);
	assert_null(json_object_object_get(rec, "mobilePhone"));
	json_object_put(rec);
	free(big);
	remote_free(r);
	json_object_put(user);
	json_object_put(other);
}

/* --- auth -------------------------------------------------------------- */

static const struct srv_reply created[] = {{201, NULL, "{\"id\": 7}"}};

/* Sends one create to the scripted server with the current config; checks the ID. */
static void
create_once(void)
{
	struct remote *r = remote_ok();
	struct remote_result res;
	json_object *user = unit_sample_user();

	if (remote_create(r, hc, user, &res) != 0)
		fail_msg("create: %s", res.error);
	assert_string_equal(res.remote_id, "7");
	remote_free(r);
	json_object_put(user);
}

static void
auth_none(void **state)
{
	(void)state;
	scripted_start(NULL, created, 1);
	create_once();
	assert_int_equal(scripted_count(), 1);
	assert_string_equal(scripted_part(0, 0), "POST /users HTTP/1.1");
	assert_string_equal(scripted_header(0, "Authorization"), "");
	assert_string_equal(scripted_header(0, "Content-Type"), "application/json");
}

static void
auth_basic(void **state)
{
	(void)state;
	scripted_start(NULL, created, 1);
	cfg_set(&cfg.remote_auth, "basic");
	cfg_set(&cfg.remote_username, "alice");
	cfg_set(&cfg.remote_password, "s3cr3t pass");
	create_once();
	assert_string_equal(scripted_header(0, "Authorization"), "Basic YWxpY2U6czNjcjN0IHBhc3M=");
}

static void
auth_bearer(void **state)
{
	(void)state;
	scripted_start(NULL, created, 1);
	cfg_set(&cfg.remote_auth, "bearer");
	cfg_set(&cfg.remote_token, "tok-123");
	create_once();
	assert_string_equal(scripted_header(0, "Authorization"), "Bearer tok-123");
}

static void
auth_header(void **state)
{
	(void)state;
	scripted_start(NULL, created, 1);
	cfg_set(&cfg.remote_auth, "header");
	cfg_set(&cfg.remote_auth_header, "X-Api-Key");
	cfg_set(&cfg.remote_auth_value, "k-456");
	create_once();
	assert_string_equal(scripted_header(0, "X-Api-Key"), "k-456");
	assert_string_equal(scripted_header(0, "Authorization"), "");
}

static void
oauth2_config(const char *scope)
{
	char url[96];

	snprintf(url, sizeof(url), "%s/oauth/token", base);
	cfg_set(&cfg.remote_auth, "oauth2");
	cfg_set(&cfg.remote_token_url, url);
	cfg_set(&cfg.remote_client_id, "my client");
	cfg_set(&cfg.remote_client_secret, "sec/ret:1");
	if (scope != NULL)
		cfg_set(&cfg.remote_scope, scope);
}

static void
auth_oauth2_cached(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, "{\"access_token\":\"at-1\",\"token_type\":\"bearer\",\"expires_in\":3600}"},
		{201, NULL, "{\"id\": 7}"},
		{200, NULL, "{}"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(NULL, script, 3);
	oauth2_config("users:write users:read");
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	assert_int_equal(remote_update(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 1);
	assert_int_equal(scripted_count(), 3); /* one token for two calls */
	assert_string_equal(scripted_part(0, 0), "POST /oauth/token HTTP/1.1");
	assert_string_equal(scripted_header(0, "Authorization"),
	    "Basic bXklMjBjbGllbnQ6c2VjJTJGcmV0JTNBMQ==");
	assert_string_equal(scripted_header(0, "Content-Type"), "application/x-www-form-urlencoded");
	assert_string_equal(scripted_part(0, 1),
	    "grant_type=client_credentials&scope=users%3Awrite%20users%3Aread");
	assert_string_equal(scripted_part(1, 0), "POST /users HTTP/1.1");
	assert_string_equal(scripted_header(1, "Authorization"), "Bearer at-1");
	assert_string_equal(scripted_part(2, 0), "PUT /users/7 HTTP/1.1");
	assert_string_equal(scripted_header(2, "Authorization"), "Bearer at-1");
	remote_free(r);
	json_object_put(user);
}

static void
auth_oauth2_401_refetch(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, "{\"access_token\":\"at-1\",\"token_type\":\"Bearer\",\"expires_in\":\"3600\"}"},
		{401, NULL, "{\"error\":\"invalid_token\"}"},
		{200, NULL, "{\"access_token\":\"at-2\",\"expires_in\":3600}"},
		{201, NULL, "{\"id\": \"x-1\"}"},
		{401, NULL, "{}"},
		{200, NULL, "{\"access_token\":\"at-3\"}"},
		{401, NULL, "{}"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(NULL, script, 7);
	oauth2_config(NULL);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	assert_string_equal(res.remote_id, "x-1");
	assert_int_equal(scripted_count(), 4);
	assert_string_equal(scripted_part(0, 1), "grant_type=client_credentials");
	assert_string_equal(scripted_header(1, "Authorization"), "Bearer at-1");
	assert_string_equal(scripted_part(2, 0), "POST /oauth/token HTTP/1.1");
	assert_string_equal(scripted_header(3, "Authorization"), "Bearer at-2");
	/* a 401 that persists is retried once only, then PERMANENT */
	assert_int_equal(remote_delete(r, hc, user, "x-1", &res), -1);
	assert_int_equal(res.status, 401);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(scripted_count(), 7);
	assert_string_equal(scripted_header(6, "Authorization"), "Bearer at-3");
	remote_free(r);
	json_object_put(user);
}

static void
auth_oauth2_token_refused(void **state)
{
	static const struct srv_reply script[] = {
		{401, NULL, "{\"error\":\"invalid_client\"}"},
		{503, "Retry-After: 30\r\n", "{}"},
		{200, NULL, "{\"access_token\":\"at-1\",\"token_type\":\"DPoP\"}"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(NULL, script, 3);
	oauth2_config(NULL);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error, "oauth2 token: HTTP 401: {\"error\":\"invalid_client\"}");
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_true(res.retry_at_ms > util_now_ms() + 25000);
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_non_null(strstr(res.error, "no Bearer access_token"));
	assert_null(strstr(res.error, "sec/ret"));
	assert_int_equal(scripted_count(), 3); /* the API was never called */
	remote_free(r);
	json_object_put(user);
}

struct worker_arg {
	struct remote *r;
	int ok;
};

static void *
oauth2_worker(void *p)
{
	struct worker_arg *a = p;
	struct http_options o;
	struct http_client *c;
	struct remote_result res;
	json_object *user = json_object_from_file(GS_TEST_DATA_DIR "/okta/samples/api-get-user.json");
	int i;

	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = 2000;
	o.timeout_ms = 5000;
	c = http_client_new(&o);
	for (i = 0; c != NULL && user != NULL && i < 3; i++)
		a->ok += remote_create(a->r, c, user, &res) == 0;
	http_client_free(c);
	json_object_put(user);
	return NULL;
}

/* Workers share one token: the first fetches it, the others wait for it. */
static void
auth_oauth2_threads(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, "{\"access_token\":\"at-1\",\"expires_in\":3600}"},
		{201, NULL, "{\"id\": 7}"},
	};
	struct worker_arg args[4];
	pthread_t th[4];
	size_t i, tokens = 0;

	(void)state;
	scripted_start(NULL, script, 2);
	oauth2_config(NULL);
	memset(args, 0, sizeof(args));
	args[0].r = remote_ok();
	for (i = 1; i < 4; i++)
		args[i].r = args[0].r;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, oauth2_worker, &args[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, 3);
	}
	assert_int_equal(scripted_count(), 13);
	for (i = 0; i < 13; i++) {
		if (strcmp(scripted_part(i, 0), "POST /oauth/token HTTP/1.1") == 0)
			tokens++;
		else
			assert_string_equal(scripted_header(i, "Authorization"), "Bearer at-1");
	}
	assert_int_equal(tokens, 1);
	remote_free(args[0].r);
}

/* --- statuses and answers ---------------------------------------------- */

static void
retry_after_503(void **state)
{
	static const struct srv_reply script[] = {{503, "Retry-After: 120\r\n", "busy"}};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();
	int64_t now = util_now_ms();

	(void)state;
	scripted_start(NULL, script, 1);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.status, 503);
	assert_true(res.retry_at_ms >= now + 119000 && res.retry_at_ms <= now + 125000);
	assert_string_equal(res.error, "create.json: HTTP 503: busy");
	assert_int_equal(remote_update(r, hc, user, "7", &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_true(res.retry_at_ms >= now + 119000);
	remote_free(r);
	json_object_put(user);
}

static void
permanent_400(void **state)
{
	static const struct srv_reply script[] = {{400, NULL, "{\"message\":\"bad\nemail\"}"}};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(NULL, script, 1);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 400);
	assert_int_equal(res.retry_at_ms, 0);
	assert_string_equal(res.error, "create.json: HTTP 400: {\"message\":\"bad email\"}");
	assert_int_equal(remote_delete(r, hc, user, "7", &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error, "delete.json: HTTP 400: {\"message\":\"bad email\"}");
	remote_free(r);
	json_object_put(user);
}

static void
create_answers(void **state)
{
	static const struct srv_reply script[] = {
		{201, NULL, "{\"id\": 12345678901}"},
		{200, NULL, "{\"id\": \"abc-1\"}"},
		{201, NULL, "{}"},
		{201, NULL, "{\"id\": 1.5}"},
		{201, NULL, "{\"id\": \"\"}"},
		{201, NULL, "{\"id\": \"a\\nb\"}"},
		{202, NULL, "{\"id\": 1}"},
		{201, NULL, "{\"id\": 4"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();
	size_t i;

	(void)state;
	scripted_start(NULL, script, 8);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	assert_string_equal(res.remote_id, "12345678901");
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	assert_string_equal(res.remote_id, "abc-1");
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_string_equal(res.error, "create.json: the answer has no ID at \"/id\"");
	for (i = 0; i < 3; i++) {
		assert_int_equal(remote_create(r, hc, user, &res), -1);
		assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
		assert_string_equal(res.remote_id, "");
	}
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 202);
	/* Cut short (a close ends a body without length): the record may
	 * exist, and the next attempt's find sees it. */
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_string_equal(res.error, "create.json: the answer is not JSON (cut short?)");
	remote_free(r);
	json_object_put(user);
}

/* Without find.json a retried create could make a second record: an
 * answer cut short is permanent there, not retried. */
static void
create_cut_without_find(void **state)
{
	static const struct srv_reply script[] = {
		{201, NULL, "{\"id\": 4"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(hooks_with(NULL, NULL), script, 1);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	remote_free(r);
	json_object_put(user);
}

static void
find_statuses(void **state)
{
	static const struct srv_reply script[] = {
		{404, NULL, "{}"},
		{200, NULL, "{\"data\": []}"},
		{200, NULL, "{\"data\": [{\"id\": \"q-1\"}, {\"id\": \"q-2\"}]}"},
		{200, NULL, "{\"data\": null}"},
		{500, NULL, "{}"},
		{200, NULL, "{\"data\": [{\"id"},
	};
	const char *dir = hooks_with("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/find?"
	    "login={{user.profile.login}}\",\"not_found\":[404],\"id\":\"/data/0/id\"}", NULL);
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(dir, script, 6);
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(res.status, 404);
	assert_string_equal(scripted_part(0, 0), "GET /find?login=jane.doe%40example.com HTTP/1.1");
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	/* two records for one user: an ambiguity, never the first of them */
	assert_int_equal(remote_find(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error, "find.json: ambiguous: 2 records match (q-1, q-2), "
	    "groupsync links none: remove or merge the duplicates");
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(remote_find(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(remote_find(r, hc, user, &res), -1); /* cut short */
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	remote_free(r);
	json_object_put(user);
}

static void
update_delete_statuses(void **state)
{
	static const struct srv_reply script[] = {
		{404, NULL, "{}"}, {410, NULL, ""}, {204, NULL, ""}, {500, NULL, "oops"},
		{404, NULL, "{}"}, {204, NULL, ""}, {409, NULL, "{}"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(NULL, script, 7);
	r = remote_ok();
	assert_int_equal(remote_update(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(remote_update(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(remote_update(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 1);
	assert_int_equal(remote_update(r, hc, user, "7", &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_string_equal(res.error, "update.json: HTTP 500: oops");
	assert_int_equal(remote_delete(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(remote_delete(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 1);
	assert_int_equal(remote_delete(r, hc, user, "7", &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(scripted_part(6, 0), "DELETE /users/7 HTTP/1.1");
	/* no remote ID: nothing is sent */
	assert_int_equal(remote_update(r, hc, user, NULL, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error, "update.json: {{remote.id}} has no value");
	assert_int_equal(scripted_count(), 7);
	remote_free(r);
	json_object_put(user);
}

static void
transport_failure(void **state)
{
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	cfg_init(REST, srv_free_port()); /* nobody listens there */
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.error, "create.json: "));
	remote_free(r);
	json_object_put(user);
}

/* Neither auth secrets nor {{env.*}} values show in messages. */
static void
secrets_not_in_errors(void **state)
{
	static const struct srv_reply script[] = {{400, NULL, "nope"}};
	const char *dir = hooks_with(NULL, "{\"method\":\"POST\",\"url\":\"{{env.REMOTE_BASE_URL}}"
	    "/users?key={{env.REMOTE_KEY}}\",\"headers\":{\"X-Key\":\"{{env.REMOTE_KEY}}\"},"
	    "\"body\":{},\"id\":\"/id\"}");
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(dir, script, 1);
	cfg_env("REMOTE_KEY", "KEY-SECRET-1");
	cfg_set(&cfg.remote_auth, "bearer");
	cfg_set(&cfg.remote_token, "TOKEN-SECRET-2");
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_string_equal(res.error, "create.json: HTTP 400: nope");
	assert_string_equal(scripted_header(0, "X-Key"), "KEY-SECRET-1");
	remote_free(r);
	free(cfg.remote_values[0]);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv_free_port());
	cfg.remote_values[0] = strdup(base);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_null(strstr(res.error, "SECRET"));
	assert_null(strstr(res.error, "127.0.0.1"));
	remote_free(r);
	cfg_set(&cfg.remote_token, "bad\r\nX-Evil: 1");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_string_equal(err, "GROUPSYNC_REMOTE_TOKEN: required, without control characters");
	json_object_put(user);
}

/* --- hooks/scim: two finds, 409 then link, SCIM errors, disable --------- */

#define SCIM_EMPTY "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"]," \
	"\"totalResults\":0,\"Resources\":[]}"
#define SCIM_ONE(id) "{\"totalResults\":1,\"Resources\":[{\"id\":\"" id "\"}]}"
#define SCIM_409 "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"]," \
	"\"status\":\"409\",\"scimType\":\"uniqueness\",\"detail\":\"userName taken\"}"

#define SCIM_TWO "{\"totalResults\":2,\"Resources\":[" \
	"{\"id\":\"by-name\",\"userName\":\"jane.doe@example.com\",\"externalId\":\"other\"}," \
	"{\"id\":\"by-ext\",\"userName\":\"x\",\"externalId\":\"00u8jane2XyZaBcDe4x7\"}]}"

/* hooks/scim's find.json: one request, externalId or userName; of two
 * records, the one whose externalId is the Okta ID wins ("prefer"), else
 * the first listed (the userName match). */
static void
scim_find_one_request(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, SCIM_TWO}, {200, NULL, SCIM_ONE("s-2")}, {200, NULL, SCIM_EMPTY},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(SCIM, script, 3);
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(res.remote_id, "by-ext");
	assert_string_equal(scripted_part(0, 0), "GET /Users?filter=externalId%20eq%20%22"
	    "00u8jane2XyZaBcDe4x7%22%20or%20userName%20eq%20%22jane.doe%40example.com%22 HTTP/1.1");
	assert_string_equal(scripted_header(0, "Accept"), "application/scim+json");
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_string_equal(res.remote_id, "s-2");
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(scripted_count(), 3);
	remote_free(r);
	json_object_put(user);
}

/* The selection rule alone (remote_pick_pointer). */
static void
pick_rule(void **state)
{
	json_object *two = json_tokener_parse(SCIM_TWO), *one = json_tokener_parse(SCIM_ONE("a"));
	char out[64];

	(void)state;
	assert_int_equal(remote_pick_pointer(two, "/Resources/0/id", "/externalId",
	    "00u8jane2XyZaBcDe4x7", out, sizeof(out)), 1);
	assert_string_equal(out, "/Resources/1/id");
	/* no externalId match: the first listed */
	assert_int_equal(remote_pick_pointer(two, "/Resources/0/id", "/externalId", "00uX", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/Resources/0/id");
	/* a record without the attribute, no list, no prefer: unchanged */
	assert_int_equal(remote_pick_pointer(one, "/Resources/0/id", "/externalId", "a", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/Resources/0/id");
	assert_int_equal(remote_pick_pointer(one, "/id", "/externalId", "a", out, sizeof(out)), 0);
	assert_string_equal(out, "/id");
	assert_int_equal(remote_pick_pointer(two, "/Resources/0/id", NULL, NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/Resources/0/id");
	json_object_put(two);
	json_object_put(one);
}

/* A server that cannot do "or": find.no-or.json by externalId, then
 * find_fallback.no-or.json by userName, each reading Resources[0]; the
 * fallback is not sent when find finds. */
static void
scim_find_then_fallback(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, SCIM_EMPTY}, {200, NULL, SCIM_ONE("s-1")}, {200, NULL, SCIM_ONE("s-2")},
		{200, NULL, SCIM_EMPTY}, {200, NULL, SCIM_EMPTY},
	};
	static const char *const files[] = {"create.json", "update.json", "delete.json"};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();
	char dir[160], from[256], to[256];
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/noor", tmp);
	mkdir(dir, 0700);
	for (i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/%s", SCIM, files[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
		copy_file(from, to);
	}
	snprintf(to, sizeof(to), "%s/find.json", dir);
	copy_file(SCIM "/find.no-or.json", to);
	snprintf(to, sizeof(to), "%s/find_fallback.json", dir);
	copy_file(SCIM "/find_fallback.no-or.json", to);
	scripted_start(dir, script, 5);
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(res.remote_id, "s-1");
	assert_non_null(strstr(scripted_part(0, 0), "GET /Users?filter=externalId%20eq%20%22"));
	assert_non_null(strstr(scripted_part(1, 0),
	    "GET /Users?filter=userName%20eq%20%22jane.doe%40example.com%22 HTTP/1.1"));
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_string_equal(res.remote_id, "s-2");
	assert_int_equal(scripted_count(), 3);
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 0);
	remote_free(r);
	json_object_put(user);
	for (i = 0; i < 3; i++) {
		snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
		unlink(to);
	}
	snprintf(to, sizeof(to), "%s/find.json", dir);
	unlink(to);
	snprintf(to, sizeof(to), "%s/find_fallback.json", dir);
	unlink(to);
	rmdir(dir);
}

/* A 409 on create runs the finds and links what they find; when they
 * find nothing, the 409 is a permanent failure, not a loop. */
static void
scim_conflict_links(void **state)
{
	static const struct srv_reply script[] = {
		{409, NULL, SCIM_409}, {200, NULL, SCIM_ONE("s-7")}, {409, NULL, SCIM_409},
		{200, NULL, SCIM_EMPTY},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(SCIM, script, 4);
	r = remote_ok();
	assert_int_equal(remote_create(r, hc, user, &res), 0);
	assert_int_equal(res.linked, 1);
	assert_string_equal(res.remote_id, "s-7");
	assert_string_equal(scripted_part(0, 0), "POST /Users HTTP/1.1");
	assert_string_equal(scripted_header(0, "Content-Type"), "application/scim+json");
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 409);
	assert_int_equal(res.linked, 0);
	assert_non_null(strstr(res.error, "HTTP 409"));
	assert_int_equal(scripted_count(), 4);
	remote_free(r);
	json_object_put(user);
}

/* A SCIM error body gives scimType and detail; a secret the server
 * echoes is redacted from the message (it becomes the job's error). */
static void
scim_error_detail_redacted(void **state)
{
	static const struct srv_reply script[] = {
		{400, NULL, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
		    "\"status\":\"400\",\"scimType\":\"invalidValue\","
		    "\"detail\":\"you sent Bearer TOKEN-SECRET-3\"}"},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(SCIM, script, 1);
	cfg_set(&cfg.remote_auth, "bearer");
	cfg_set(&cfg.remote_token, "TOKEN-SECRET-3");
	log_add_secret("TOKEN-SECRET-3");
	r = remote_ok();
	assert_int_equal(remote_disable(r, hc, user, "9", &res), -1); /* none loaded */
	assert_int_equal(remote_create(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error,
	    "create.json: HTTP 400: invalidValue: you sent Bearer [redacted]");
	remote_free(r);
	json_object_put(user);
}

/* disable.json: required by GROUPSYNC_DEPROVISION=disable, sent as is. */
static void
disable_template(void **state)
{
	static const struct srv_reply script[] = {{200, NULL, "{}"}, {404, NULL, "{}"}};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();
	char path[256];

	(void)state;
	cfg_init(hooks_with(NULL, NULL), 3000);
	cfg_set(&cfg.deprovision, "disable");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "disable.json: cannot open"));
	snprintf(path, sizeof(path), "%s/hooks/find_fallback.json", tmp);
	copy_file(SCIM "/find_fallback.no-or.json", path);
	cfg_set(&cfg.deprovision, "delete");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "find_fallback.json: needs find.json"));
	unlink(path);

	scripted_start(REST, script, 2);
	cfg_set(&cfg.deprovision, "disable");
	r = remote_ok();
	assert_true(remote_has_disable(r));
	assert_int_equal(remote_disable(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(scripted_part(0, 0), "PATCH /users/7 HTTP/1.1");
	assert_string_equal(scripted_part(0, 1), "{\"active\":false}");
	assert_int_equal(remote_disable(r, hc, user, "7", &res), 0);
	assert_int_equal(res.found, 0); /* already gone */
	remote_free(r);
	json_object_put(user);
}

/* --- SCIM list paging (RFC 7644 section 3.4.2.4) ------------------------- */

/*
 * A SCIM server holding list_n records, answering list_page of them per
 * request from the startIndex asked (1 when none), as scimmy does. Record
 * i (1-based) has id "r<i>"; record list_ext (0: none) has the sample
 * user's Okta ID as externalId. list_ignore: every page is the first, as a
 * server that ignores startIndex answers.
 */
static int list_n, list_page, list_ext, list_ignore;

static void
list_answer(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	const char *p = strstr(r->target, "startIndex=");
	long start = p != NULL && !list_ignore ? strtol(p + 11, NULL, 10) : 1, k;
	char body[4096];
	size_t n;

	(void)s;
	(void)i;
	n = (size_t)snprintf(body, sizeof(body), "{\"schemas\":[\"urn:ietf:params:scim:api:"
	    "messages:2.0:ListResponse\"],\"totalResults\":%d,\"startIndex\":%ld,"
	    "\"itemsPerPage\":%d,\"Resources\":[", list_n, start, list_page);
	for (k = start; k < start + list_page && k <= list_n; k++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"id\":\"r%ld\","
		    "\"externalId\":\"%s\"}", k > start ? "," : "", k,
		    k == list_ext ? JANE : "someone-else");
	snprintf(body + n, sizeof(body) - n, "]}");
	reply(out, len, 200, "Content-Type: application/scim+json\r\n", body);
}

static void
list_start(const char *hooks, int n, int page, int ext)
{
	list_n = n;
	list_page = page;
	list_ext = ext;
	list_ignore = 0;
	scripted = srv_start(list_answer, NULL);
	cfg_init(hooks, scripted->port);
}

/*
 * hooks/scim's find (externalId or userName, "prefer" the externalId):
 * when the answer is one page of several, the next pages are asked
 * (startIndex = previous + itemsPerPage) until the preferred record is
 * among those read; several records and none preferred is an ambiguity;
 * a server that ignores startIndex is an error, not a loop.
 */
static void
scim_find_pages(void **state)
{
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	list_start(SCIM, 5, 2, 5);
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(res.remote_id, "r5");
	assert_int_equal(scripted_count(), 3);
	assert_null(strstr(scripted_part(0, 0), "startIndex"));
	assert_non_null(strstr(scripted_part(1, 0), "%22&startIndex=3 HTTP/1.1"));
	assert_non_null(strstr(scripted_part(2, 0), "%22&startIndex=5 HTTP/1.1"));

	list_ext = 0; /* five records, none of them this user's */
	assert_int_equal(remote_find(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error, "find.json: ambiguous: 5 records match (r1, r2, r3, "
	    "r4, ...), groupsync links none: remove or merge the duplicates");
	assert_int_equal(scripted_count(), 6);

	list_ext = 5;
	list_ignore = 1;
	assert_int_equal(remote_find(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_string_equal(res.error, "find.json: the page at startIndex 3 is not that page "
	    "of the list");
	remote_free(r);
	json_object_put(user);
}

/* A find without "prefer" (find.no-or.json, by externalId): two records
 * are an ambiguity at once, from totalResults, without reading page 2;
 * one record is it. */
static void
scim_find_ambiguous(void **state)
{
	char dir[160], to[256];
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	snprintf(dir, sizeof(dir), "%s/noor", tmp);
	mkdir(dir, 0700);
	copy_file(SCIM "/create.json", strcat(strcpy(to, dir), "/create.json"));
	copy_file(SCIM "/update.json", strcat(strcpy(to, dir), "/update.json"));
	copy_file(SCIM "/delete.json", strcat(strcpy(to, dir), "/delete.json"));
	copy_file(SCIM "/find.no-or.json", strcat(strcpy(to, dir), "/find.json"));
	list_start(dir, 2, 1, 2);
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), -1);
	assert_string_equal(res.error, "find.json: ambiguous: 2 records match (r1), groupsync "
	    "links none: remove or merge the duplicates");
	assert_int_equal(scripted_count(), 1);
	list_n = 1;
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(res.remote_id, "r1");
	remote_free(r);
	json_object_put(user);
}

/* A hooks/scim copy for group push, with group_get.json's text (NULL:
 * hooks/scim's). */
static const char *
scim_groups_with(const char *group_get)
{
	static const char *const files[] = {"create.json", "update.json", "delete.json",
	    "find.json", "group_find.json", "group_create.json", "group_update.json",
	    "group_add_member.json", "group_remove_member.json", "group_get.json"};
	static char dir[160];
	char from[256], to[256];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/scimg", tmp);
	mkdir(dir, 0700);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s", SCIM, files[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
		copy_file(from, to);
	}
	if (group_get != NULL)
		unit_write_file(to, group_get);
	return dir;
}

static void
assert_members(json_object *m, const char *want)
{
	assert_non_null(m);
	assert_string_equal(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), want);
}

/* group_get.json: the members of a SCIM group (hooks/scim's: "/members",
 * "/value"), none when the attribute is left out, found 0 on 404; and a
 * group_get that lists users ("/Resources") reads every page. */
static void
group_get_members(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, "{\"id\":\"g1\",\"displayName\":\"x\",\"members\":[{\"value\":\"7\"},"
		    "{\"value\":\"8\",\"display\":\"b\"},{\"display\":\"no value\"}]}"},
		{200, NULL, "{\"id\":\"g1\",\"displayName\":\"x\"}"},
		{404, NULL, "{}"},
		{200, NULL, "{\"id\":\"g1\",\"members\":{\"value\":\"7\"}}"},
	};
	struct template_group g = {"00gsync", "Sales", "g1", NULL};
	struct remote *r;
	struct remote_result res;
	json_object *m;

	(void)state;
	scripted_start(scim_groups_with(NULL), script, 4);
	cfg.push_groups = 1;
	r = remote_ok();
	assert_true(remote_has_group_get(r));
	assert_int_equal(remote_group_get(r, hc, &g, &m, &res), 0);
	assert_int_equal(res.found, 1);
	assert_members(m, "[\"7\",\"8\"]");
	json_object_put(m);
	assert_string_equal(scripted_part(0, 0), "GET /Groups/g1 HTTP/1.1");
	assert_int_equal(remote_group_get(r, hc, &g, &m, &res), 0);
	assert_members(m, "[]");
	json_object_put(m);
	assert_int_equal(remote_group_get(r, hc, &g, &m, &res), 0);
	assert_int_equal(res.found, 0);
	assert_null(m);
	assert_int_equal(remote_group_get(r, hc, &g, &m, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	remote_free(r);
	srv_stop(scripted);

	list_start(scim_groups_with("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/Users?"
	    "filter=groups.value%20eq%20%22{{group.remote_id|scimfilter}}%22&count=2\","
	    "\"members\":\"/Resources\",\"member_id\":\"/id\"}"), 5, 2, 0);
	cfg.push_groups = 1;
	r = remote_ok();
	assert_int_equal(remote_group_get(r, hc, &g, &m, &res), 0);
	assert_members(m, "[\"r1\",\"r2\",\"r3\",\"r4\",\"r5\"]");
	json_object_put(m);
	assert_int_equal(scripted_count(), 3);
	assert_non_null(strstr(scripted_part(2, 0), "%22&count=2&startIndex=5 HTTP/1.1"));
	remote_free(r);

	/* both pointers, or neither */
	scim_groups_with("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/Groups/"
	    "{{group.remote_id}}\",\"members\":\"/members\"}");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "group_get.json: \"members\" and \"member_id\" go together"));
	scim_groups_with("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/Groups/"
	    "{{group.remote_id}}\"}");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "group_get.json: \"members\" and \"member_id\" are required"));
}

/* --- ETags (RFC 7644 section 3.14) --------------------------------------- */

#define SCIM_VER(id, ver) "{\"totalResults\":1,\"Resources\":[{\"id\":\"" id "\"," \
	"\"externalId\":\"" JANE "\",\"meta\":{\"version\":\"" ver "\"}}]}"

/*
 * A find reads the record's ETag (meta.version); an update given it sends
 * If-Match; a 412 finds the record again and sends the update once more
 * with the new ETag, and a second 412 is the error. An update without an
 * ETag sends no If-Match (and a 412 then also finds and retries).
 */
static void
etag_if_match(void **state)
{
	static const struct srv_reply script[] = {
		{200, NULL, SCIM_VER("s-1", "W/\\\"3\\\"")},
		{412, NULL, "{\"status\":\"412\",\"detail\":\"changed\"}"},
		{200, NULL, SCIM_VER("s-1", "W/\\\"4\\\"")},
		{200, NULL, "{}"},
		{200, NULL, "{}"},
		{412, NULL, "{}"},
		{200, NULL, SCIM_VER("s-1", "W/\\\"5\\\"")},
		{412, NULL, "{\"status\":\"412\",\"detail\":\"changed again\"}"},
		{200, NULL, SCIM_VER("s-1", "bad\\r\\nX-Evil: 1")},
	};
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();
	char etag[REMOTE_ETAG_MAX + 1];

	(void)state;
	scripted_start(SCIM, script, sizeof(script) / sizeof(script[0]));
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_string_equal(res.etag, "W/\"3\"");
	strcpy(etag, res.etag);
	assert_int_equal(remote_update_if(r, hc, user, "s-1", etag, &res), 0);
	assert_int_equal(res.found, 1);
	assert_string_equal(scripted_part(1, 0), "PUT /Users/s-1 HTTP/1.1");
	assert_string_equal(scripted_header(1, "If-Match"), "W/\"3\"");
	assert_non_null(strstr(scripted_part(2, 0), "GET /Users?filter=externalId"));
	assert_string_equal(scripted_header(3, "If-Match"), "W/\"4\"");
	/* no ETag known: no If-Match */
	assert_int_equal(remote_update(r, hc, user, "s-1", &res), 0);
	assert_string_equal(scripted_header(4, "If-Match"), "");
	/* a 412, found again, a 412 again: retried once, then the error */
	assert_int_equal(remote_update(r, hc, user, "s-1", &res), -1);
	assert_int_equal(res.status, 412);
	assert_string_equal(res.error, "update.json: HTTP 412: changed again");
	assert_string_equal(scripted_header(7, "If-Match"), "W/\"5\"");
	assert_int_equal(scripted_count(), 8);
	/* an ETag that could not go in a header is not used */
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_string_equal(res.etag, "");
	remote_free(r);
	json_object_put(user);
}

/* A find whose answer is the record itself: the ETag header. */
static void
etag_header(void **state)
{
	static const struct srv_reply script[] = {
		{200, "ETag: \"v9\"\r\n", "{\"id\":\"5\"}"},
	};
	const char *dir = hooks_with("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/by/"
	    "{{user.id}}\",\"not_found\":[404],\"id\":\"/id\"}", NULL);
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	scripted_start(dir, script, 1);
	r = remote_ok();
	assert_int_equal(remote_find(r, hc, user, &res), 0);
	assert_string_equal(res.remote_id, "5");
	assert_string_equal(res.etag, "\"v9\"");
	remote_free(r);
	json_object_put(user);
}

/* --- loading, fingerprints, changed attributes --------------------------- */

static void
new_errors(void **state)
{
	char path[256];

	(void)state;
	cfg_init(hooks_with(NULL, NULL), 3000);
	snprintf(path, sizeof(path), "%s/hooks/update.json", tmp);
	unlink(path);
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "update.json: cannot open"));
	cfg_init(hooks_with(NULL, "{\"method\":\"POST\",\"url\":\"{{env.REMOTE_BASE_URL}}/u\"}"),
	    3000);
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "create.json: \"id\" is required"));
	cfg_init(hooks_with("{\"method\":\"GET\",\"url\":\"{{env.REMOTE_BASE_URL}}/u\"}", NULL),
	    3000);
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "find.json: \"id\" is required"));
	cfg_init(REST, 3000);
	free(cfg.remote_names[0]);
	cfg.remote_names[0] = strdup("REMOTE_OTHER");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_string_equal(err, "find.json: {{env.REMOTE_BASE_URL}} has no value");
	cfg_init(REST, 3000);
	free(cfg.remote_values[0]);
	cfg.remote_values[0] = strdup("http://example.com");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "find.json: url plain http:// is refused"));
	cfg.allow_insecure_http = 1;
	remote_free(remote_ok());
	cfg_init(REST, 3000);
	cfg_set(&cfg.remote_auth, "kerberos");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_REMOTE_AUTH: must be"));
	cfg_set(&cfg.remote_auth, "basic");
	cfg_set(&cfg.remote_username, "a:b");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_REMOTE_USERNAME"));
	cfg_set(&cfg.remote_auth, "oauth2");
	assert_null(remote_new(&cfg, err, sizeof(err)));
	assert_string_equal(err, "GROUPSYNC_REMOTE_TOKEN_URL: required");
}

static void
find_optional(void **state)
{
	struct remote *r;
	struct remote_result res;
	json_object *user = unit_sample_user();

	(void)state;
	cfg_init(hooks_with(NULL, NULL), 3000);
	r = remote_ok();
	assert_false(remote_has_find(r));
	assert_int_equal(remote_find(r, hc, user, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	remote_free(r);
	json_object_put(user);
}

static void
fingerprint(void **state)
{
	struct remote *r;
	json_object *user = unit_sample_user();
	char a[65], b[65], c[65];

	(void)state;
	cfg_init(REST, 3000);
	r = remote_ok();
	assert_int_equal(remote_fingerprint(r, user, "7", a), 0);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_int_equal(remote_fingerprint(r, user, "7", b), 0);
	assert_string_equal(a, b);
	assert_int_equal(remote_fingerprint(r, user, "8", c), 0);
	assert_string_not_equal(a, c);
	unit_set_attr(user, "zipCode", json_object_new_string("62702"));
	assert_int_equal(remote_fingerprint(r, user, "7", c), 0);
	assert_string_not_equal(a, c);
	unit_set_attr(user, "zipCode", json_object_new_string("62701"));
	unit_set_attr(user, "mobilePhone", json_object_new_string("555")); /* not sent */
	assert_int_equal(remote_fingerprint(r, user, "7", c), 0);
	assert_string_equal(a, c);
	assert_int_equal(remote_fingerprint(r, user, NULL, c), -1);
	remote_free(r);
	json_object_put(user);
}

static void
uses_any(void **state)
{
	struct remote *r;

	(void)state;
	cfg_init(REST, 3000);
	r = remote_ok();
	assert_true(remote_uses_any(r, "city,streetAddress"));
	assert_true(remote_uses_any(r, "customId, login"));
	assert_true(remote_uses_any(r, " customId , city "));
	assert_true(remote_uses_any(r, "countryCode"));
	assert_true(remote_uses_any(r, NULL));
	assert_false(remote_uses_any(r, "customId"));
	assert_false(remote_uses_any(r, "mobilePhone,secondEmail"));
	assert_false(remote_uses_any(r, "cit,ity,City"));
	assert_false(remote_uses_any(r, ""));
	assert_false(remote_uses_any(r, " , ,,"));
	remote_free(r);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(json_server_lifecycle, setup, teardown),
	cmocka_unit_test_setup_teardown(json_server_hostile_values, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_none, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_basic, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_bearer, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_header, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_oauth2_cached, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_oauth2_401_refetch, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_oauth2_token_refused, setup, teardown),
	cmocka_unit_test_setup_teardown(auth_oauth2_threads, setup, teardown),
	cmocka_unit_test_setup_teardown(retry_after_503, setup, teardown),
	cmocka_unit_test_setup_teardown(permanent_400, setup, teardown),
	cmocka_unit_test_setup_teardown(create_answers, setup, teardown),
	cmocka_unit_test_setup_teardown(create_cut_without_find, setup, teardown),
	cmocka_unit_test_setup_teardown(find_statuses, setup, teardown),
	cmocka_unit_test_setup_teardown(update_delete_statuses, setup, teardown),
	cmocka_unit_test_setup_teardown(transport_failure, setup, teardown),
	cmocka_unit_test_setup_teardown(secrets_not_in_errors, setup, teardown),
	cmocka_unit_test_setup_teardown(scim_find_one_request, setup, teardown),
	cmocka_unit_test_setup_teardown(pick_rule, setup, teardown),
	cmocka_unit_test_setup_teardown(scim_find_then_fallback, setup, teardown),
	cmocka_unit_test_setup_teardown(scim_conflict_links, setup, teardown),
	cmocka_unit_test_setup_teardown(scim_error_detail_redacted, setup, teardown),
	cmocka_unit_test_setup_teardown(disable_template, setup, teardown),
	cmocka_unit_test_setup_teardown(scim_find_pages, setup, teardown),
	cmocka_unit_test_setup_teardown(scim_find_ambiguous, setup, teardown),
	cmocka_unit_test_setup_teardown(group_get_members, setup, teardown),
	cmocka_unit_test_setup_teardown(etag_if_match, setup, teardown),
	cmocka_unit_test_setup_teardown(etag_header, setup, teardown),
	cmocka_unit_test_setup_teardown(new_errors, setup, teardown),
	cmocka_unit_test_setup_teardown(find_optional, setup, teardown),
	cmocka_unit_test_setup_teardown(fingerprint, setup, teardown),
	cmocka_unit_test_setup_teardown(uses_any, setup, teardown),
};

GS_UNIT_MAIN(tests)
