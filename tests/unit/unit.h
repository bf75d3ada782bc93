/*
 * Shared scaffolding for rtvirt's Check unit tests.
 *
 * Each tests/unit/test_<module>.c builds one Suite for its module and ends
 * with RTV_UNIT_MAIN(<module>_suite); a suite of one case is written with
 * RTV_UNIT_ONE_CASE_SUITE, others make their cases with rtv_unit_case and
 * fill them with RTV_UNIT_ADD.  Tests run forked (Check's default), so
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

/*
 * The program's scratch: every scratch file of its tests goes under one
 * directory of its own (file_fixture.h's root, through RTV_TEST_SCRATCH,
 * which each forked test inherits), removed here once the suite ran,
 * whatever its tests did.  A test's own teardown does not do it alone: a
 * test that fails ends its forked process at the failed assertion, before
 * the teardown, and one past its timeout is killed; their images gathered
 * in /dev/shm (278 MB in a session).  RTV_KEEP_SCRATCH=1 keeps the
 * directory of a run that failed, for the evidence, and says where.
 */
static inline bool rtv_unit_scratch_begin(char *dir, size_t len)
{
    /* file_fixture.h's roots in its order, each tried (no unistd.h here:
     * tests name functions as its calls are named). */
    const char *const roots[] = { getenv("RTV_TEST_SCRATCH"), "/dev/shm", "/tmp" };

    for (unsigned i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        if (roots[i] == NULL || roots[i][0] == '\0')
            continue;
        snprintf(dir, len, "%s/rtv-run.XXXXXX", roots[i]);
        if (mkdtemp(dir) != NULL) {
            setenv("RTV_TEST_SCRATCH", dir, 1);
            return true;
        }
    }
    fprintf(stderr, "no scratch directory of its own for this run: its tests' files stay "
            "where file_fixture.h puts them\n");
    return false;
}

static inline void rtv_unit_scratch_end(const char *dir, int failed)
{
    const char *keep = getenv("RTV_KEEP_SCRATCH");
    char cmd[300];

    if (failed > 0 && keep != NULL && strcmp(keep, "1") == 0) {
        printf("scratch of the failed run kept in %s (RTV_KEEP_SCRATCH=1)\n", dir);
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove the run's scratch %s\n", dir);
    else if (failed > 0)
        printf("scratch of the failed run removed (%s); RTV_KEEP_SCRATCH=1 keeps it\n", dir);
}

/* A test case of suite s: its forked tests run between setup and teardown
 * (a checked fixture; both NULL: none), each cut off after timeout seconds
 * (0: Check's default, 4 s).  Added to s here, in the order made. */
static inline TCase *rtv_unit_case(Suite *s, const char *name, SFun setup, SFun teardown,
                                   double timeout)
{
    TCase *tc = tcase_create(name);

    if (setup != NULL || teardown != NULL)
        tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

/* Adds the tests to tc in the order given (Check wants a call a test). */
static inline void rtv_unit_add_tests(TCase *tc, const TTest *const *tests, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
}

#define RTV_UNIT_ADD(tc, ...)                                                   \
    rtv_unit_add_tests((tc), (const TTest *const[]){ __VA_ARGS__ },             \
                       sizeof((const TTest *const[]){ __VA_ARGS__ }) / sizeof(const TTest *))

/*
 * The suite function fn of a module whose suite is one test case (most
 * are): suite suite_name holding case case_name, made by rtv_unit_case with
 * setup, teardown and timeout, its tests the rest of the arguments in their
 * order.  A suite of several cases, or with loop tests, writes its function
 * out with rtv_unit_case and RTV_UNIT_ADD.
 */
#define RTV_UNIT_ONE_CASE_SUITE(fn, suite_name, case_name, setup, teardown, timeout, ...) \
    static Suite *fn(void)                                                              \
    {                                                                                   \
        Suite *s = suite_create(suite_name);                                            \
                                                                                        \
        RTV_UNIT_ADD(rtv_unit_case(s, (case_name), (setup), (teardown), (timeout)),     \
                     __VA_ARGS__);                                                      \
        return s;                                                                       \
    }

/* Runs the suite; the program's exit status. */
static inline int rtv_unit_run(Suite *suite)
{
    char scratch[256];
    bool own = rtv_unit_scratch_begin(scratch, sizeof(scratch));
    SRunner *sr = srunner_create(suite);

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (own)
        rtv_unit_scratch_end(scratch, failed);
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
