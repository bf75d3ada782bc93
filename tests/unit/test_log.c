/*
 * Notes and log sinks (rtvirt/log.h): a note is bounded and never overruns
 * its buffer; a line goes to the sink when one is set, else to stderr after
 * the component's prefix.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "file_fixture.h"
#include "rtvirt/log.h"
#include "unit.h"

START_TEST(note_is_bounded)
{
    char buf[8];

    memset(buf, 'x', sizeof(buf));
    rtv_notef(buf, 6, "%s %d", "abcdef", 42);
    ck_assert_str_eq(buf, "abcde");
    ck_assert_int_eq(buf[6], 'x');   /* nothing past len */
    rtv_notef(NULL, 10, "nothing %d", 1);
    rtv_notef(buf, 0, "nothing %d", 2);
    ck_assert_str_eq(buf, "abcde");
}
END_TEST

struct seen {
    unsigned n;
    char     last[800];
};

static void sink_fn(void *ctx, const char *msg)
{
    struct seen *s = ctx;

    s->n++;
    snprintf(s->last, sizeof(s->last), "%s", msg);
}

START_TEST(line_goes_to_the_sink)
{
    struct seen s = { 0 };
    struct rtv_log_sink sink = { sink_fn, &s };
    char big[1000];

    rtv_logf(&sink, "rtvirt-test", "switch %u: %s", 7u, "done");
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(s.last, "switch 7: done");   /* no prefix: the sink words it */
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rtv_logf(&sink, "rtvirt-test", "%s", big);
    ck_assert_uint_eq(strlen(s.last), 767);
}
END_TEST

START_TEST(no_sink_writes_stderr_with_prefix)
{
    char path[128];
    int fd, saved = dup(STDERR_FILENO);

    snprintf(path, sizeof(path), "%s/rtv-test-log-XXXXXX", rtv_test_scratch_root());
    fd = mkstemp(path);
    char got[128] = "";

    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    rtv_logf(NULL, "rtvirt-test", "hello %d", 1);
    rtv_logf(&(struct rtv_log_sink){ NULL, NULL }, "rtvirt-x: vif", "again");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_int_gt(pread(fd, got, sizeof(got) - 1, 0), 0);
    close(fd);
    unlink(path);
    ck_assert_str_eq(got, "rtvirt-test: hello 1\nrtvirt-x: vif: again\n");
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(log_suite, "log", "log", NULL, NULL, 0,
                        note_is_bounded, line_goes_to_the_sink, no_sink_writes_stderr_with_prefix)

RTV_UNIT_MAIN(log_suite)
