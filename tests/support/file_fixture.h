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
#include <unistd.h>

/*
 * Where the tests' scratch files go: $RTV_TEST_SCRATCH if set, else
 * /dev/shm when it is a writable directory, else /tmp.  Not /tmp first:
 * on a host whose /tmp is the root ext4, an fsync of a test's image
 * (qemu's drive flush, the backend's flush) commits the journal and waits
 * for every other writer's ordered data, the lab's multi-GB guest images
 * included; the tests' 30 s hang bounds ran out that way under load
 * (test_qmp, 2026-12-07).  The tests check what the code does, not a disk.
 */
static inline const char *rtv_test_scratch_root(void)
{
    const char *env = getenv("RTV_TEST_SCRATCH");

    if (env != NULL && *env != '\0')
        return env;
    return access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
}

/* dir (at least 32 bytes) gets a new directory <scratch root>/<prefix>.XXXXXX. */
static inline void rtv_test_mkdtemp(char *dir, size_t len, const char *prefix)
{
    snprintf(dir, len, "%s/%s.XXXXXX", rtv_test_scratch_root(), prefix);
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
