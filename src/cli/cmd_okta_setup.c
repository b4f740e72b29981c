/*
 * cmd_okta_setup: `groupsync okta setup`, the Okta side of an installation
 * that the Workflows template made an admin do by hand: the custom profile
 * attribute that holds the remote ID (GROUPSYNC_REMOTE_ID_ATTRIBUTE) and
 * the event hook that sends groupsync the event types it handles, with
 * groupsync's authentication header, then Okta's one-time verification.
 * Idempotent: the attribute is added only when missing; a hook with the
 * same URI (or name) is updated instead of a second one being created.
 * The hook secret is sent to Okta and never printed.
 *
 * Three steps, each read first and written only when needed:
 *   1. GET /api/v1/meta/schemas/user/default; POST the remote-ID attribute
 *      when definitions.custom.properties has none;
 *   2. GET /api/v1/eventHooks; PUT /api/v1/eventHooks/{id} over the one
 *      with the same URI (or name), else POST a new one;
 *      POST .../lifecycle/activate when it is INACTIVE;
 *   3. POST /api/v1/eventHooks/{id}/lifecycle/verify: Okta sends its
 *      verification GET to the URL, which a running groupsync answers.
 * --dry-run prints the calls instead, secret redacted, and sends nothing.
 */
#include "groupsync/cli/commands.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/base/log.h"
#include "groupsync/base/url.h"
#include "groupsync/base/util.h"
#include "groupsync/cli/command.h"
#include "groupsync/intake/hook.h"
#include "groupsync/okta/client.h"
#include "groupsync/okta/response.h"

#define SETUP_PATH_MAX 512
#define SETUP_ID_MAX 128
#define SETUP_REDACTED "<redacted>"
#define SETUP_SCHEMA_PATH "/api/v1/meta/schemas/user/default"
#define SETUP_HOOKS_PATH "/api/v1/eventHooks"

/* The event types the hook subscribes to: those groupsync handles. */
static const char *const setup_types[] = {
	"group.user_membership.add", "group.user_membership.remove",
	"user.account.update_profile", "user.lifecycle.deactivate",
	"user.lifecycle.activate", "user.lifecycle.reactivate",
	"user.lifecycle.suspend", "user.lifecycle.unsuspend",
	"user.lifecycle.delete.initiated",
};
#define SETUP_NTYPES (sizeof(setup_types) / sizeof(setup_types[0]))

struct setup_ctx {
	const char *url, *name, *config;
	int dry_run;
	const struct config *cfg;
	struct okta *okta;
	struct http_client *hc;
	char hook_id[SETUP_ID_MAX];
};

static json_object *
setup_str(const char *s)
{
	return json_object_new_string(s);
}

static const char *
setup_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The string at a path of object members, or NULL. */
static const char *
setup_get(json_object *o, const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!json_object_object_get_ex(o, keys[i], &o))
			return NULL;
	return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

/*
 * One call. In a dry run prints it (the body as given: redacted by the
 * caller) and sets *answer NULL. Otherwise sends it and parses a 2xx
 * answer into *answer (may be NULL for an empty body). 0, or -1 (said).
 */
static int
setup_call(struct setup_ctx *c, const char *method, const char *path, json_object *body,
    json_object **answer)
{
	struct http_response resp;
	struct okta_result res;
	int rc = -1;

	*answer = NULL;
	if (c->dry_run) {
		printf("%s %s%s%s\n", method, path, body ? " " : "", body ? setup_text(body) : "");
		return 0;
	}
	if (okta_request(c->okta, c->hc, method, path, body ? setup_text(body) : NULL, &resp,
	    &res) < 0) {
		fprintf(stderr, "groupsync: okta setup: %s\n", res.error);
		return -1;
	}
	if (res.cls != HTTP_CLASS_OK)
		fprintf(stderr, "groupsync: okta setup: %s\n", res.error);
	else if (resp.body_len > 0 && (*answer = okta_json_parse(resp.body,
	    resp.body_len)) == NULL)
		fprintf(stderr, "groupsync: okta setup: %s %s: answer is not JSON\n", method,
		    path);
	else
		rc = 0;
	http_response_free(&resp);
	return rc;
}

/* {"definitions":{"custom":{"id":"#custom","type":"object","properties":
 * {"<attr>":{"title":"Remote ID","type":"string"}}}}} */
static json_object *
setup_schema_body(const char *attr)
{
	json_object *root = json_object_new_object(), *defs = json_object_new_object();
	json_object *custom = json_object_new_object(), *props = json_object_new_object();
	json_object *prop = json_object_new_object();

	json_object_object_add(prop, "title", setup_str("Remote ID"));
	json_object_object_add(prop, "type", setup_str("string"));
	json_object_object_add(props, attr, prop);
	json_object_object_add(custom, "id", setup_str("#custom"));
	json_object_object_add(custom, "type", setup_str("object"));
	json_object_object_add(custom, "properties", props);
	json_object_object_add(defs, "custom", custom);
	json_object_object_add(root, "definitions", defs);
	return root;
}

static int
setup_schema(struct setup_ctx *c)
{
	const char *attr = c->cfg->remote_id_attribute;
	json_object *schema, *body, *v = NULL, *answer;
	int rc;

	if (setup_call(c, "GET", SETUP_SCHEMA_PATH, NULL, &schema) < 0)
		return -1;
	if (c->dry_run)
		printf("  (then only when definitions.custom.properties.%s is missing:)\n", attr);
	if (!c->dry_run && json_object_object_get_ex(schema, "definitions", &v) &&
	    json_object_object_get_ex(v, "custom", &v) &&
	    json_object_object_get_ex(v, "properties", &v) &&
	    json_object_object_get_ex(v, attr, NULL)) {
		printf("schema: %s present\n", attr);
		json_object_put(schema);
		return 0;
	}
	json_object_put(schema);
	body = setup_schema_body(attr);
	rc = setup_call(c, "POST", SETUP_SCHEMA_PATH, body, &answer);
	json_object_put(body);
	json_object_put(answer);
	if (rc == 0 && !c->dry_run)
		printf("schema: %s added\n", attr);
	return rc;
}

/* The hook's channel; the secret redacted unless real. */
static json_object *
setup_channel(const struct setup_ctx *c, int real)
{
	json_object *ch = json_object_new_object(), *conf = json_object_new_object();
	json_object *auth = json_object_new_object();

	json_object_object_add(auth, "type", setup_str("HEADER"));
	json_object_object_add(auth, "key", setup_str(c->cfg->hook_auth_header));
	json_object_object_add(auth, "value",
	    setup_str(real ? c->cfg->hook_secret : SETUP_REDACTED));
	json_object_object_add(conf, "uri", setup_str(c->url));
	json_object_object_add(conf, "headers", json_object_new_array());
	json_object_object_add(conf, "authScheme", auth);
	json_object_object_add(ch, "type", setup_str("HTTP"));
	json_object_object_add(ch, "version", setup_str("1.0.0"));
	json_object_object_add(ch, "config", conf);
	return ch;
}

static json_object *
setup_hook_body(const struct setup_ctx *c, int real)
{
	json_object *root = json_object_new_object(), *events = json_object_new_object();
	json_object *items = json_object_new_array();
	size_t i;

	for (i = 0; i < SETUP_NTYPES; i++)
		if (hook_handles_type(setup_types[i]))
			json_object_array_add(items, setup_str(setup_types[i]));
	json_object_object_add(events, "type", setup_str("EVENT_TYPE"));
	json_object_object_add(events, "items", items);
	json_object_object_add(root, "name", setup_str(c->name));
	json_object_object_add(root, "events", events);
	json_object_object_add(root, "channel", setup_channel(c, real));
	return root;
}

/*
 * Finds the hook to update: same URI first, else same name. Sets
 * c->hook_id ("" none) and *inactive. 0, or -1 (said).
 */
static int
setup_find_hook(struct setup_ctx *c, int *inactive)
{
	static const char *const uri[] = {"channel", "config", "uri"};
	static const char *const name[] = {"name"};
	json_object *hooks, *h, *pick = NULL;
	const char *s;
	size_t i;

	c->hook_id[0] = '\0';
	*inactive = 0;
	if (setup_call(c, "GET", SETUP_HOOKS_PATH, NULL, &hooks) < 0)
		return -1;
	for (i = 0; json_object_is_type(hooks, json_type_array) &&
	    i < json_object_array_length(hooks); i++) {
		h = json_object_array_get_idx(hooks, i);
		if ((s = setup_get(h, uri, 3)) != NULL && strcmp(s, c->url) == 0) {
			pick = h;
			break;
		}
		if (pick == NULL && (s = setup_get(h, name, 1)) != NULL &&
		    strcmp(s, c->name) == 0)
			pick = h;
	}
	if (pick != NULL && (s = okta_jstr(pick, "id")) != NULL)
		util_copy(c->hook_id, sizeof(c->hook_id), s);
	s = pick != NULL ? okta_jstr(pick, "status") : NULL;
	*inactive = s != NULL && strcmp(s, "INACTIVE") == 0;
	json_object_put(hooks);
	return 0;
}

/* Creates or updates the hook; c->hook_id is its ID after. */
static int
setup_put_hook(struct setup_ctx *c)
{
	char path[SETUP_PATH_MAX], esc[SETUP_ID_MAX * 3 + 1];
	json_object *body, *answer;
	const char *id;
	int update = c->hook_id[0] != '\0', rc;

	if (update && (http_url_escape(c->hook_id, esc, sizeof(esc)) < 0 ||
	    util_format(path, sizeof(path), SETUP_HOOKS_PATH "/%s", esc) < 0))
		return -1;
	body = setup_hook_body(c, !c->dry_run);
	rc = setup_call(c, update ? "PUT" : "POST", update ? path : SETUP_HOOKS_PATH, body,
	    &answer);
	json_object_put(body);
	if (c->dry_run)
		printf("  (or PUT %s/{id}, same body, when a hook has this URI or name)\n",
		    SETUP_HOOKS_PATH);
	if (rc == 0 && !c->dry_run) {
		id = okta_jstr(answer, "id");
		if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(c->hook_id)) {
			fprintf(stderr, "groupsync: okta setup: event hook answer has no id\n");
			rc = -1;
		} else {
			util_copy(c->hook_id, sizeof(c->hook_id), id);
			printf("event hook: %s %s (%s)\n", update ? "updated" : "created", id,
			    c->url);
		}
	}
	json_object_put(answer);
	return rc;
}

/* POST .../lifecycle/<what> on the hook; *answer as setup_call. */
static int
setup_lifecycle(struct setup_ctx *c, const char *what, json_object **answer)
{
	char path[SETUP_PATH_MAX], esc[SETUP_ID_MAX * 3 + 1];

	if (c->dry_run)
		util_copy(esc, sizeof(esc), "{id}");
	else if (http_url_escape(c->hook_id, esc, sizeof(esc)) < 0)
		return -1;
	if (util_format(path, sizeof(path), SETUP_HOOKS_PATH "/%s/lifecycle/%s", esc,
	    what) < 0)
		return -1;
	return setup_call(c, "POST", path, NULL, answer);
}

static int
setup_hook(struct setup_ctx *c)
{
	json_object *answer;
	const char *st;
	int inactive, rc;

	if (setup_find_hook(c, &inactive) < 0 || setup_put_hook(c) < 0)
		return -1;
	if (c->dry_run)
		printf("  (POST %s/{id}/lifecycle/activate only when it is INACTIVE)\n",
		    SETUP_HOOKS_PATH);
	else if (inactive) {
		if (setup_lifecycle(c, "activate", &answer) < 0)
			return -1;
		json_object_put(answer);
		printf("event hook: activated\n");
	}
	if (setup_lifecycle(c, "verify", &answer) < 0)
		return -1;
	rc = 0;
	if (!c->dry_run) {
		st = okta_jstr(answer, "verificationStatus");
		printf("verification: %s\n", st ? st : "unknown");
		rc = st != NULL && strcmp(st, "VERIFIED") == 0 ? 0 : -1;
	}
	json_object_put(answer);
	return rc;
}

static int
setup_parse(struct setup_ctx *c, int argc, char **argv)
{
	int i;

	if (argc < 2 || strcmp(argv[1], "setup") != 0) {
		fprintf(stderr, "groupsync: unknown command okta%s%s (see groupsync --help)\n",
		    argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		return -1;
	}
	c->name = "groupsync";
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			c->dry_run = 1;
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			c->url = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			c->name = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			c->config = argv[++i];
		else {
			fprintf(stderr, "groupsync: okta setup: unexpected argument %s (see "
			    "groupsync --help)\n", argv[i]);
			return -1;
		}
	}
	if (c->url == NULL || c->name[0] == '\0') {
		fprintf(stderr, "groupsync: okta setup: give --url PUBLIC_HOOK_URL\n");
		return -1;
	}
	return 0;
}

int
cmd_okta_setup(const char *config_path, int argc, char **argv)
{
	struct command_ctx run;
	struct setup_ctx c;
	char err[512];
	int rc;

	memset(&c, 0, sizeof(c));
	if (setup_parse(&c, argc, argv) < 0)
		return COMMAND_EXIT_USAGE;
	rc = command_open(&run, "okta setup", c.config ? c.config : config_path, COMMAND_OKTA);
	c.cfg = &run.cfg;
	c.okta = run.okta;
	c.hc = run.hc;
	if (rc == 0 && url_check(c.url, c.cfg->allow_insecure_http, err, sizeof(err)) < 0) {
		command_error(&run, "--url: %s", err);
		rc = COMMAND_EXIT_USAGE;
	}
	if (rc == 0 && c.dry_run)
		printf("dry run: these calls would be sent to %s\n", c.cfg->okta_org_url);
	if (rc == 0 && (setup_schema(&c) < 0 || setup_hook(&c) < 0))
		rc = COMMAND_EXIT_RUNTIME;
	command_close(&run);
	return rc;
}

void
cmd_okta_setup_usage(FILE *out)
{
	fprintf(out, "  okta setup --url PUBLIC_HOOK_URL [--name NAME] [--dry-run]\n"
	    "                 add the remote-ID profile attribute, create or update the\n"
	    "                 event hook (name: groupsync) and verify it\n");
}
