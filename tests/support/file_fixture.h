/*
 * Scratch files for the tests: a fresh directory, a file written whole (a
 * stand-in tool when executable), a sysfs-like attribute in a tree of the
 * test's own, and the directory gone at teardown.
 * Header-only, as xs_fixture.h.
 */
#ifndef RTV_TESTS_FILE_FIXTURE_H
#define RTV_TESTS_FILE_FIXTURE_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Makes directory path and those above it that are missing (mkdir -p). */
static inline void rtv_test_mkdir_p(const char *path)
{
    char p[512];

    ck_assert_uint_lt(strlen(path), sizeof(p));
    strcpy(p, path);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;

        *s = '\0';
        ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p,
                      strerror(errno));
        if ((*s = c) == '\0')
            return;
    }
}

/* A sysfs-like attribute in a tree of the test's own: "value\n" into
 * dir/rel (rel may hold slashes), the directories on the way made. */
static inline void rtv_test_attr_put(const char *dir, const char *rel, const char *value)
{
    char p[512], text[256];
    int n = snprintf(p, sizeof(p), "%s/%s", dir, rel);

    ck_assert(n > 0 && (size_t)n < sizeof(p));
    char *slash = strrchr(p, '/');

    *slash = '\0';
    rtv_test_mkdir_p(p);
    *slash = '/';
    snprintf(text, sizeof(text), "%s\n", value);
    rtv_test_write_file(p, text, false);
}

/* The first line of the attribute dir/rel, without its newline, in buf. */
static inline const char *rtv_test_attr_get(const char *dir, const char *rel, char *buf,
                                            size_t len)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    ck_assert_msg((f = fopen(p, "r")) != NULL, "cannot read %s", p);
    ck_assert_msg(fgets(buf, (int)len, f) != NULL, "%s is empty", p);
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* Attribute attr of device dev in the tree dir (dir/dev/attr: a tap's
 * tx_queue_len, a bridge port's brport/learning), written and read. */
static inline void rtv_test_dev_attr_put(const char *dir, const char *dev, const char *attr,
                                         const char *value)
{
    char rel[256];

    ck_assert((size_t)snprintf(rel, sizeof(rel), "%s/%s", dev, attr) < sizeof(rel));
    rtv_test_attr_put(dir, rel, value);
}

static inline const char *rtv_test_dev_attr_get(const char *dir, const char *dev,
                                                const char *attr, char *buf, size_t len)
{
    char rel[256];

    ck_assert((size_t)snprintf(rel, sizeof(rel), "%s/%s", dev, attr) < sizeof(rel));
    return rtv_test_attr_get(dir, rel, buf, len);
}

/* Removes dir and everything under it. */
static inline void rtv_test_rm_tree(const char *dir)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

#endif
