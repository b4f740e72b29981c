/*
 * Shared main for cmocka unit tests: CTest runs each case on its own
 * (argv[1] names it; tests/CMakeLists.txt reads the names from the file's
 * table). A name that matches no case fails, so that an entry the compiler
 * does not see (under #if 0, say) can never pass silently.
 */
#ifndef GROUPSYNC_TEST_UNIT_H
#define GROUPSYNC_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

/* Helpers several test files need (inline: no unused-function warnings). */

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

/* Removes a test's temporary directory and the files in it (one level:
 * the store and its -wal and -shm files). */
static inline void
unit_remove_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	for (de = d ? readdir(d) : NULL; de != NULL; de = readdir(d)) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static inline void
unit_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#ifdef GS_TEST_DATA_DIR
/* The sample Okta user of tests/data/okta; the caller puts it. */
static inline json_object *
unit_sample_user(void)
{
	json_object *u = json_object_from_file(GS_TEST_DATA_DIR "/okta/samples/api-get-user.json");

	assert_non_null(u);
	return u;
}
#endif

/* Sets user.profile.name (value NULL: JSON null; ownership taken). */
static inline void
unit_set_attr(json_object *user, const char *name, json_object *value)
{
	json_object *profile;

	assert_true(json_object_object_get_ex(user, "profile", &profile));
	json_object_object_add(profile, name, value);
}

#define GS_UNIT_MAIN(tests)                                                   \
	int main(int argc, char **argv)                                       \
	{                                                                     \
		size_t i_, n_ = sizeof(tests) / sizeof((tests)[0]);           \
		if (argc > 1) {                                               \
			int found_ = 0;                                       \
			for (i_ = 0; i_ < n_; i_++)                           \
				found_ |= strcmp((tests)[i_].name, argv[1]) == 0; \
			if (!found_) {                                        \
				fprintf(stderr, "no test case %s\n", argv[1]); \
				return 2;                                     \
			}                                                     \
			cmocka_set_test_filter(argv[1]);                      \
		}                                                             \
		return cmocka_run_group_tests(tests, NULL, NULL);             \
	}

#endif
