/*
 * cmd_check_online: the --online half of `groupsync check-config`: what
 * only the outside parties can say. The Okta credentials work; each
 * OAuth app was granted the scopes groupsync needs; each
 * configured group exists (name, member count); the remote-ID attribute
 * is in the user profile schema; every template renders for one real
 * member; the remote system answers the find request with the configured
 * auth; and the event hook registered at Okta for this service, if any,
 * with its verification status. One line per check, "ok" or "FAIL";
 * every check runs, whatever failed before it.
 */
#include "groupsync/cli/commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"
#include "groupsync/cli/command.h"
#include "groupsync/okta/response.h"
#include "groupsync/remote/client.h"
#include "groupsync/remote/template.h"

struct online {
	struct command_ctx *run;
	struct remote *remote;
	int failed;
	int oauth;             /* an OAuth app: its token carries scopes */
	json_object *member; /* the first member seen, for the templates */
	size_t members;
};

static void
online_line(struct online *o, int ok, const char *what, const char *detail)
{
	printf("%-4s %-16s %s\n", ok ? "ok" : "FAIL", what, detail != NULL ? detail : "");
	if (!ok)
		o->failed = 1;
}

/* GET path at Okta; the parsed 2xx answer (caller puts) or NULL, why set. */
static json_object *
online_get(struct online *o, const char *path, char *why, size_t whylen)
{
	struct http_response resp;
	struct okta_result res;
	json_object *answer = NULL;

	why[0] = '\0';
	if (okta_request(o->run->okta, o->run->hc, "GET", path, NULL, &resp, &res) < 0) {
		(void)util_copy(why, whylen, res.error);
		return NULL;
	}
	if (res.cls != HTTP_CLASS_OK)
		(void)util_copy(why, whylen, res.error);
	else if ((answer = okta_json_parse(resp.body, resp.body_len)) == NULL)
		(void)util_format(why, whylen, "GET %s: answer is not JSON", path);
	http_response_free(&resp);
	return answer;
}

/* The credentials work, and an OAuth app was granted every scope needed. */
static void
online_auth(struct online *o)
{
	char line[768];
	int rc = okta_check_scopes(o->run->okta, o->run->hc, line, sizeof(line));

	o->oauth = rc != 2;
	online_line(o, rc == 0 || rc == 2, "okta auth", line);
}

/*
 * An OAuth app's token refused (403) a read that only this check makes:
 * serving does not need the scope, so "skip" naming it, not a failure.
 * 1 when so.
 */
static int
online_unscoped(struct online *o, const char *what, const char *why, const char *scope)
{
	if (!o->oauth || strstr(why, ": 403 ") == NULL)
		return 0;
	printf("%-4s %-16s not checked: the token lacks %s (only this check needs it: "
	    "grant it to the app and add it to GROUPSYNC_OKTA_SCOPES to check)\n", "skip", what,
	    scope);
	return 1;
}

/* obj.a.b... (NULL-ended keys), or NULL. */
static json_object *
online_dig(json_object *obj, ...)
{
	va_list ap;
	const char *key;

	va_start(ap, obj);
	while (obj != NULL && (key = va_arg(ap, const char *)) != NULL)
		if (!json_object_object_get_ex(obj, key, &obj))
			obj = NULL;
	va_end(ap);
	return obj;
}

static int
online_count(json_object *user, void *arg)
{
	struct online *o = arg;

	if (o->member == NULL)
		o->member = json_object_get(user);
	o->members++;
	return 0;
}

/* Each group: it exists (its name), and how many members it has. */
static void
online_groups(struct online *o)
{
	const struct config *cfg = &o->run->cfg;
	struct okta_result res;
	char path[256], why[300], line[400];
	json_object *g;
	size_t i, before;

	for (i = 0; i < cfg->ngroup_ids; i++) {
		(void)util_format(path, sizeof(path), "/api/v1/groups/%s", cfg->group_ids[i]);
		g = online_get(o, path, why, sizeof(why));
		if (g == NULL) {
			(void)util_format(line, sizeof(line), "%s: %s", cfg->group_ids[i], why);
			online_line(o, 0, "group", line);
			continue;
		}
		before = o->members;
		if (okta_list_group_users(o->run->okta, o->run->hc, cfg->group_ids[i],
		    online_count, o, &res) < 0) {
			(void)util_format(line, sizeof(line), "%s: members: %s",
			    cfg->group_ids[i], res.error);
			online_line(o, 0, "group", line);
		} else {
			(void)util_format(line, sizeof(line), "%s \"%s\", %zu members",
			    cfg->group_ids[i], json_object_get_string(online_dig(g, "profile",
			    "name", (char *)NULL)), o->members - before);
			online_line(o, 1, "group", line);
		}
		json_object_put(g);
	}
}

/* The remote-ID attribute, in the base or the custom part of the schema. */
static void
online_schema(struct online *o)
{
	const char *attr = o->run->cfg.remote_id_attribute;
	char why[300];
	json_object *s = online_get(o, "/api/v1/meta/schemas/user/default", why, sizeof(why));
	int found = online_dig(s, "definitions", "custom", "properties", attr, (char *)NULL) !=
	    NULL || online_dig(s, "definitions", "base", "properties", attr, (char *)NULL) != NULL;

	char line[300];

	if (s == NULL && online_unscoped(o, "schema", why, "okta.schemas.read"))
		return;
	(void)util_format(line, sizeof(line), found ? "%s in the user profile" :
	    "%s missing from the user profile (groupsync okta setup adds it)", attr);
	online_line(o, s != NULL && found, "schema", s == NULL ? why : line);
	json_object_put(s);
}

/* Every template renders for one real member; the remote answers find. */
static void
online_remote(struct online *o)
{
	static const char *const files[] = {"find.json", "create.json", "update.json",
	    "delete.json"};
	struct template_request tr;
	struct remote_result res;
	char err[300], line[400];
	size_t i;
	int rc;

	if (o->member == NULL) {
		online_line(o, 1, "templates", "not rendered: no member to render them for");
		return;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		rc = remote_render(o->remote, files[i], o->member, "0", &tr, err, sizeof(err));
		if (rc == 1)
			template_request_free(&tr);
		if (rc != 0)
			online_line(o, rc == 1, "template", rc == 1 ? files[i] : err);
	}
	if (!remote_has_find(o->remote)) {
		online_line(o, 1, "remote", "no find.json: not called");
		return;
	}
	rc = remote_find(o->remote, o->run->hc, o->member, &res);
	(void)util_format(line, sizeof(line), "find answered %ld (%s)", res.status,
	    rc < 0 ? res.error : res.found ? "found" : "not found");
	online_line(o, rc == 0, "remote", line);
}

/* The event hooks whose URL ends with our hook path: name, status. */
static void
online_hook(struct online *o)
{
	const char *hook_path = o->run->cfg.hook_path;
	char why[300], line[400];
	json_object *hooks = online_get(o, "/api/v1/eventHooks", why, sizeof(why));
	size_t i, n = json_object_is_type(hooks, json_type_array) ?
	    json_object_array_length(hooks) : 0, seen = 0, k = strlen(hook_path);

	if (hooks == NULL) {
		if (!online_unscoped(o, "event hook", why, "okta.eventHooks.read"))
			online_line(o, 0, "event hook", why);
		return;
	}
	for (i = 0; i < n; i++) {
		json_object *h = json_object_array_get_idx(hooks, i);
		const char *uri = json_object_get_string(online_dig(h, "channel", "config", "uri",
		    (char *)NULL));
		size_t u = uri != NULL ? strlen(uri) : 0;

		if (u < k || strcmp(uri + u - k, hook_path) != 0)
			continue;
		(void)util_format(line, sizeof(line), "%s (%s): %s, verification %s",
		    json_object_get_string(online_dig(h, "name", (char *)NULL)), uri,
		    json_object_get_string(online_dig(h, "status", (char *)NULL)),
		    json_object_get_string(online_dig(h, "verificationStatus", (char *)NULL)));
		online_line(o, 1, "event hook", line);
		seen++;
	}
	(void)util_format(line, sizeof(line), "none registered for ...%s (groupsync okta setup)",
	    hook_path);
	if (seen == 0)
		online_line(o, 1, "event hook", line);
	json_object_put(hooks);
}

int
cmd_check_online(struct command_ctx *run, struct remote *remote)
{
	struct online o = {run, remote, 0, 0, NULL, 0};

	online_auth(&o);
	online_groups(&o);
	online_schema(&o);
	online_remote(&o);
	online_hook(&o);
	json_object_put(o.member);
	return o.failed ? COMMAND_EXIT_RUNTIME : 0;
}
