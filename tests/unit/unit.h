/*
 * Shared scaffolding for rtvirt's Check unit tests.
 *
 * Each tests/unit/test_<module>.c builds one Suite for its module and ends
 * with RTV_UNIT_MAIN(<module>_suite).  Tests run forked (Check's default), so
 * a crash in one test is reported as an error of that test and the rest still
 * run; export CK_FORK=no to debug one under gdb.
 */
#ifndef RTV_TESTS_UNIT_H
#define RTV_TESTS_UNIT_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Fails the test unless hay contains needle, showing both. */
#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" lacks \"%s\"", (hay), (needle))

#define RTV_UNIT_MAIN(suite_fn)                                         \
    int main(void)                                                      \
    {                                                                   \
        SRunner *sr = srunner_create(suite_fn());                       \
        srunner_run_all(sr, CK_NORMAL);                                 \
        int failed = srunner_ntests_failed(sr);                         \
        srunner_free(sr);                                               \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;               \
    }

#endif
