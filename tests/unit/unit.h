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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Fails the test unless hay contains needle, showing both. */
#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" lacks \"%s\"", (hay), (needle))

/* Runs the suite; the program's exit status. */
static inline int rtv_unit_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define RTV_UNIT_MAIN(suite_fn)                                         \
    int main(void)                                                      \
    {                                                                   \
        return rtv_unit_run(suite_fn());                                \
    }

/* The exit status of a test program that cannot run here (automake's SKIP):
 * tests/run-checks counts it apart, and fails it under make test. */
#define RTV_UNIT_SKIP 77

/* As RTV_UNIT_MAIN, for a suite that needs program prog (from Debian package
 * pkg) on PATH: without it, says why and exits RTV_UNIT_SKIP. */
#define RTV_UNIT_MAIN_NEEDS(suite_fn, prog, pkg)                        \
    int main(void)                                                      \
    {                                                                   \
        if (!rtv_unit_have_program(prog)) {                             \
            printf("SKIP: needs %s (Debian package %s; make deps)\n",   \
                   prog, pkg);                                          \
            return RTV_UNIT_SKIP;                                       \
        }                                                               \
        return rtv_unit_run(suite_fn());                                \
    }

/* True if an executable called name is in one of PATH's directories. */
static inline bool rtv_unit_have_program(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4352];
    struct stat st;

    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);

        snprintf(dir, sizeof(dir), "%.*s", (int)n, n ? path : ".");
        snprintf(file, sizeof(file), "%s/%s", dir, name);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR))
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

#endif
