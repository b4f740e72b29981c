/*
 * Shared main for cmocka unit tests: CTest runs each case on its own
 * (argv[1] names it). A name that matches no case fails, so that a test
 * listed in CMake but missing from the file can never pass silently.
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
