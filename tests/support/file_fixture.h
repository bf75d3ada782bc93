/*
 * Scratch files for the tests: a fresh directory, a file written whole (a
 * stand-in tool when executable), and the directory gone at teardown.
 * Header-only, as xs_fixture.h.
 */
#ifndef RTV_TESTS_FILE_FIXTURE_H
#define RTV_TESTS_FILE_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* dir (at least 32 bytes) gets a new directory /tmp/<prefix>.XXXXXX. */
static inline void rtv_test_mkdtemp(char *dir, size_t len, const char *prefix)
{
    snprintf(dir, len, "/tmp/%s.XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Writes text to path; mode 0755 when exec (a stand-in tool). */
static inline void rtv_test_write_file(const char *path, const char *text, bool exec)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    if (exec)
        ck_assert_int_eq(chmod(path, 0755), 0);
}

/* Removes dir and everything under it. */
static inline void rtv_test_rm_tree(const char *dir)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

#endif
