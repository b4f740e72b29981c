#include "groupsync/base/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "groupsync/base/log.h"
#include "groupsync/base/util.h"

#define CONFIG_FILE_MAX (64 * 1024) /* secret files, config files */

#include "config_table.h"

#define NOPTIONS config_noptions

static char **
config_str(struct config *c, const struct config_option *o)
{
	return (char **)(void *)((char *)c + o->offset);
}

static const char *
config_cstr(const struct config *c, const struct config_option *o)
{
	return *(char *const *)(const void *)((const char *)c + o->offset);
}

static int *
config_int(struct config *c, const struct config_option *o)
{
	return (int *)(void *)((char *)c + o->offset);
}

/* Reads a small file whole; strips one trailing newline (secret files). */
static char *
config_read_file(const char *path, char *err, size_t errlen, const char *name)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		util_format(err, errlen, "%s: cannot read %s: %s", name, path, strerror(errno));
		return NULL;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (buf == NULL || n > CONFIG_FILE_MAX) {
		util_format(err, errlen, "%s: %s is larger than %d bytes", name, path,
		    CONFIG_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (strlen(buf) != n) {
		util_format(err, errlen, "%s: %s contains a NUL byte", name, path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Sets the raw string of an option; "" means unset (compose passes
 * empty variables for unset ones). */
static int
config_set_raw(char **raw, unsigned char *origin, const char *value, enum config_origin from)
{
	char *copy = NULL;

	if (value != NULL && value[0] != '\0') {
		copy = strdup(value);
		if (copy == NULL)
			return -1;
	}
	free(*raw);
	*raw = copy;
	*origin = copy ? (unsigned char)from : CO_UNSET;
	return 0;
}

/* Applies NAME and (for secrets) NAME_FILE from one source; both set is
 * an error, since which one wins would be a guess. */
static int
config_apply_source(char **raw, unsigned char *origin, const struct config_option *o,
    const char *value, const char *file_value, enum config_origin from, char *err,
    size_t errlen)
{
	char *content;
	int rc;

	if (value != NULL && value[0] != '\0' && file_value != NULL && file_value[0] != '\0') {
		util_format(err, errlen, "%s and %s_FILE are both set: set only one",
		    o->name, o->name);
		return -1;
	}
	if (file_value != NULL && file_value[0] != '\0') {
		content = config_read_file(file_value, err, errlen, o->name);
		if (content == NULL)
			return -1;
		rc = config_set_raw(raw, origin, content, from);
		memset(content, 0, strlen(content));
		free(content);
		return rc;
	}
	/* Empty is not given (compose passes empty variables for unset
	 * ones): the default or the file's value stays. Clearing it instead
	 * left a NULL where the rest of groupsync expects a default
	 * ("GROUPSYNC_REMOTE_AUTH=" crashed config_validate_remote). */
	if (value != NULL && value[0] != '\0')
		return config_set_raw(raw, origin, value, from);
	return 0;
}

/*
 * REMOTE_* template variables: any name, so they are kept in a small list
 * rather than the table. NAME_FILE reads NAME from a file and marks it
 * secret (redacted in check-config and logs).
 */
static int
config_remote_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	char name[128], *content = NULL;
	size_t i, n = strlen(key);
	int secret = 0;

	err[0] = '\0';
	if (n > 5 && strcmp(key + n - 5, "_FILE") == 0) {
		if (util_format(name, sizeof(name), "%.*s", (int)(n - 5), key) < 0)
			goto bad;
		content = config_read_file(value, err, errlen, name);
		if (content == NULL)
			return -1;
		value = content;
		secret = 1;
	} else if (util_copy(name, sizeof(name), key) < 0) {
		goto bad;
	}
	for (i = 0; i < c->nremote && strcmp(c->remote_names[i], name) != 0; i++)
		;
	if (i == CONFIG_REMOTE_VARS_MAX)
		goto bad;
	if (i == c->nremote) {
		c->remote_names[i] = strdup(name);
		c->nremote++;
	}
	free(c->remote_values[i]);
	c->remote_values[i] = strdup(value);
	c->remote_secret[i] = (unsigned char)secret;
	free(content);
	if (c->remote_names[i] == NULL || c->remote_values[i] == NULL)
		goto bad;
	return 0;
bad:
	free(content);
	util_format(err, errlen, "%.64s: too many or too long REMOTE_* variables (at most %d)",
	    key, CONFIG_REMOTE_VARS_MAX);
	return -1;
}

static int
config_remote_env(struct config *c, char *err, size_t errlen)
{
	extern char **environ;
	char key[128];
	char **e;

	for (e = environ; *e != NULL; e++) {
		size_t n = strcspn(*e, "=");

		if (strncmp(*e, "REMOTE_", 7) != 0 || (*e)[n] != '=' || n >= sizeof(key))
			continue;
		memcpy(key, *e, n);
		key[n] = '\0';
		if (config_remote_set(c, key, *e + n + 1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

const char *
config_remote_value(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nremote; i++) {
		if (strcmp(c->remote_names[i], name) == 0)
			return c->remote_values[i];
	}
	return NULL;
}

static void
config_remote_free(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nremote; i++) {
		if (c->remote_secret[i] && c->remote_values[i] != NULL)
			memset(c->remote_values[i], 0, strlen(c->remote_values[i]));
		free(c->remote_names[i]);
		free(c->remote_values[i]);
	}
	c->nremote = 0;
}

/* A JSON config value as a string: strings, integers and booleans. */
static int
config_json_value(json_object *v, char *buf, size_t len)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return util_copy(buf, len, json_object_get_string(v));
	case json_type_int:
		return util_format(buf, len, "%lld", (long long)json_object_get_int64(v)) < 0 ? -1 : 0;
	case json_type_boolean:
		return util_copy(buf, len, json_object_get_boolean(v) ? "1" : "0");
	default:
		return -1;
	}
}

static const struct config_option *
config_find(const char *name, int *is_file)
{
	size_t i, n;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		n = strlen(o->name);
		if (strcmp(name, o->name) == 0) {
			*is_file = 0;
			return o;
		}
		if (o->type == CT_SECRET && strncmp(name, o->name, n) == 0 &&
		    strcmp(name + n, "_FILE") == 0) {
			*is_file = 1;
			return o;
		}
	}
	return NULL;
}

/* Loads the JSON config file into raw values: keys are the variable names. */
static int
config_load_file(struct config *c, char **raw, const char *path, char *err, size_t errlen)
{
	unsigned char *origin = c->origin;
	char *text, value[CONFIG_FILE_MAX];
	json_object *root;
	int rc = -1;

	text = config_read_file(path, err, errlen, "--config");
	if (text == NULL)
		return -1;
	root = json_tokener_parse(text);
	free(text);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		util_format(err, errlen, "--config: %s is not a JSON object", path);
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		int is_file;
		const struct config_option *o = config_find(key, &is_file);
		size_t i;

		if (strncmp(key, "REMOTE_", 7) == 0) {
			if (config_json_value(val, value, sizeof(value)) < 0 ||
			    config_remote_set(c, key, value, err, errlen) < 0) {
				if (err[0] == '\0')
					util_format(err, errlen, "%s: in %s: must be a string", key, path);
				goto out;
			}
			continue;
		}
		if (o == NULL) {
			util_format(err, errlen, "--config: unknown key %.64s in %s", key, path);
			goto out;
		}
		if (config_json_value(val, value, sizeof(value)) < 0) {
			util_format(err, errlen, "%s: in %s: must be a string, number or boolean",
			    key, path);
			goto out;
		}
		i = (size_t)(o - config_options);
		if (config_apply_source(&raw[i], &origin[i], o, is_file ? NULL : value,
		    is_file ? value : NULL, CO_FILE, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

static int
config_load_env(char **raw, unsigned char *origin, char *err, size_t errlen)
{
	char fname[128];
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		const char *fv = NULL;

		if (o->type == CT_SECRET) {
			util_format(fname, sizeof(fname), "%s_FILE", o->name);
			fv = getenv(fname);
		}
		if (config_apply_source(&raw[i], &origin[i], o, getenv(o->name), fv, CO_ENV,
		    err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int
config_parse_int(const struct config_option *o, const char *s, int *out, char *err,
    size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (o->type == CT_BOOL) {
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
			v = 1, end = (char *)s + strlen(s);
		else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
			v = 0, end = (char *)s + strlen(s);
	}
	if (errno != 0 || end == s || *end != '\0' || v < o->min || v > o->max) {
		if (o->type == CT_BOOL)
			util_format(err, errlen, "%s: must be 0 or 1", o->name);
		else
			util_format(err, errlen, "%s: must be an integer from %d to %d",
			    o->name, o->min, o->max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Moves raw strings into the typed struct (ownership passes to c). */
static int
config_convert(struct config *c, char **raw, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];

		if (o->type == CT_STRING || o->type == CT_SECRET) {
			*config_str(c, o) = raw[i];
			raw[i] = NULL;
		} else if (config_parse_int(o, raw[i] ? raw[i] : o->def, config_int(c, o), err,
		    errlen) < 0) {
			return -1;
		}
	}
	return 0;
}

static int
config_check_values(struct config *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		const char *v;

		if (o->check == NULL || (o->type != CT_STRING && o->type != CT_SECRET))
			continue;
		v = config_cstr(c, o);
		if (v != NULL && o->check(c, o, v, err, errlen) < 0)
			return -1;
	}
	return config_validate_all(c, err, errlen);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char *raw[CONFIG_OPTIONS_MAX] = {0};
	size_t i;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NOPTIONS; i++) {
		if (config_set_raw(&raw[i], &c->origin[i], config_options[i].def, CO_DEFAULT) < 0)
			goto out;
	}
	if (path != NULL && config_load_file(c, raw, path, err, errlen) < 0)
		goto out;
	if (config_load_env(raw, c->origin, err, errlen) < 0)
		goto out;
	if (config_remote_env(c, err, errlen) < 0)
		goto out;
	if (config_convert(c, raw, err, errlen) < 0)
		goto out;
	rc = config_check_values(c, err, errlen);
out:
	for (i = 0; i < NOPTIONS; i++)
		free(raw[i]);
	if (rc < 0)
		config_free(c);
	return rc;
}

void
config_free(struct config *c)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		char **s;

		if (o->type != CT_STRING && o->type != CT_SECRET)
			continue;
		s = config_str(c, o);
		if (*s != NULL && o->type == CT_SECRET)
			memset(*s, 0, strlen(*s));
		free(*s);
		*s = NULL;
	}
	config_remote_free(c);
	free(c->group_ids_split);
	c->group_ids_split = NULL;
	c->ngroup_ids = 0;
}

void
config_each_secret(const struct config *c, void (*fn)(const char *))
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const char *v;

		if (config_options[i].type != CT_SECRET)
			continue; /* the offset of an int setting is no char * */
		v = config_cstr(c, &config_options[i]);
		if (v != NULL)
			fn(v);
	}
	for (i = 0; i < c->nremote; i++) {
		if (c->remote_secret[i])
			fn(c->remote_values[i]);
	}
}

static const char *const config_origin_names[] = {"unset", "default", "file", "env"};

void
config_dump(const struct config *c, FILE *out)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		const char *origin = config_origin_names[c->origin[i]];

		if (o->type == CT_INT || o->type == CT_BOOL) {
			fprintf(out, "%s=%d (%s)\n", o->name,
			    *(const int *)(const void *)((const char *)c + o->offset), origin);
		} else if (config_cstr(c, o) == NULL) {
			fprintf(out, "%s= (unset)\n", o->name);
		} else if (o->type == CT_SECRET) {
			fprintf(out, "%s=<redacted> (%s)\n", o->name, origin);
		} else {
			fprintf(out, "%s=%s (%s)\n", o->name, config_cstr(c, o), origin);
		}
	}
	for (i = 0; i < c->nremote; i++) {
		fprintf(out, "%s=%s (template variable)\n", c->remote_names[i],
		    c->remote_secret[i] ? "<redacted>" : c->remote_values[i]);
	}
}

void
config_help(FILE *out)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];

		fprintf(out, "  %-30s %s%s%s%s%s%s\n", o->name, o->help,
		    o->choices ? ": " : "", o->choices ? o->choices : "",
		    o->def ? " [default: " : "", o->def ? o->def : "", o->def ? "]" : "");
		if (o->type == CT_SECRET)
			fprintf(out, "  %-30s   (or %s_FILE=/path/to/file)\n", "", o->name);
	}
	fprintf(out, "  %-30s values the request templates read as {{env.REMOTE_X}},\n"
	    "  %-30s e.g. REMOTE_BASE_URL; REMOTE_X_FILE=/path reads a secret one\n",
	    "REMOTE_*", "");
}
