/*
 * Internal to the config module (config_table.c: the table; config.c:
 * loading and printing; config_check.c: validation of values). Not for
 * other modules.
 */
#ifndef GROUPSYNC_CONFIG_TABLE_H
#define GROUPSYNC_CONFIG_TABLE_H

#include <stddef.h>

#include "groupsync/base/config.h"

enum config_type { CT_STRING, CT_SECRET, CT_INT, CT_BOOL };
enum config_origin { CO_UNSET = 0, CO_DEFAULT, CO_FILE, CO_ENV };

struct config_option;
typedef int (*config_check_fn)(const struct config *, const struct config_option *,
    const char *, char *, size_t);

/* One setting: the table (config_table.c) drives load, validation, dump and help. */
struct config_option {
	const char *name;
	enum config_type type;
	const char *def;     /* NULL: unset by default */
	size_t offset;       /* of a char * (strings) or int field */
	int min, max;        /* CT_INT bounds */
	config_check_fn check;
	const char *choices; /* "a|b|c" for check_choice */
	const char *help;
};

/* The table (config_table.c), config_noptions rows. */
extern const struct config_option config_options[];
extern const size_t config_noptions;

/* Value checks, one per kind of value (config_check.c). */
int check_listen(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_path(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_header(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_secret(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_url(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_word(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_proxies(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_choice(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_readable(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_dir(const struct config *, const struct config_option *, const char *, char *,
    size_t);
int check_pem_key(const struct config *, const struct config_option *, const char *, char *,
    size_t);

/* Rules across settings, after each value passed its own check. */
int config_validate_all(struct config *c, char *err, size_t errlen);

#endif
