/*
 * template_internal.h: internals of the template module, shared by
 * template_load.c (reading, parsing and checking a file) and template.c
 * (rendering a request). Not for other modules: they use
 * include/groupsync/template.h, where struct template stays opaque.
 *
 * Why this header exists: both halves need the layout of struct template
 * (the loader fills it, the renderer reads it) and the same placeholder
 * grammar. The grammar is defined once, in template_load.c, so that what
 * is checked at load time is exactly what is expanded at render time: a
 * template that loaded can never hit a placeholder the renderer does not
 * know.
 */
#ifndef GROUPSYNC_TEMPLATE_INTERNAL_H
#define GROUPSYNC_TEMPLATE_INTERNAL_H

#include <stddef.h>

#include <json-c/json.h>

#include "groupsync/remote/template.h"

#define TEMPLATE_MAX_HEADERS 16 /* leaves room for Content-Type and auth */
#define TEMPLATE_NAME_MAX 64 /* attribute names, as template_profile_attrs */

enum tpl_kind { TPL_USER_ID, TPL_USER_STATUS, TPL_PROFILE, TPL_REMOTE_ID, TPL_ENV };

/* One placeholder in a string: where it is and what it names. */
struct tpl_ph {
	size_t start, end; /* s[start..end) is "{{...}}" */
	enum tpl_kind kind;
	char text[160];    /* canonical, e.g. "user.profile.city" */
	const char *name;  /* into text: the attribute or variable name */
};

/*
 * A loaded template. Filled by template_load (template_load.c), freed by
 * template_free (template_load.c), read-only in between: template.c
 * renders from any thread and never writes to it, body included.
 */
struct template {
	char file[64]; /* base name, for messages */
	char method[8];
	char *url;
	char *hname[TEMPLATE_MAX_HEADERS];
	char *hvalue[TEMPLATE_MAX_HEADERS];
	size_t nheaders;
	json_object *body; /* NULL: none */
	long success[TEMPLATE_MAX_STATUSES];
	size_t nsuccess;   /* 0: any 2xx */
	long not_found[TEMPLATE_MAX_STATUSES];
	size_t nnot_found;
	char *id;          /* JSON Pointer, NULL when absent */
	char attrs[TEMPLATE_MAX_ATTRS][TEMPLATE_NAME_MAX];
	size_t nattrs;
};

/*
 * Finds the next placeholder in s[from..len) (template_load.c). Returns 1
 * with *ph filled, 0 when there is none, -1 (err filled, naming t's file
 * and where) when a "{{" opens something that is not a placeholder.
 * Used by the loader to check every string once, and by the renderer to
 * expand them.
 */
int template_next(const struct template *t, const char *where, const char *s, size_t len,
    size_t from, struct tpl_ph *ph, char *err, size_t errlen);

#endif
