/* See backd_dmsync.h. */
#include "backd_dmsync.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/qmp.h"

struct job {
    struct job                *next;
    pthread_t                  thread;
    struct backd_dmsync       *ds;
    char                       sock[256];
    char                       image[256];
    unsigned                   timeout_ms;
    bool                       flush;  /* sync (check + flush), or check only */
    bool                       done;   /* under ds->lock */
    struct backd_dmsync_result r;
};

struct backd_dmsync {
    pthread_mutex_t lock;
    int             efd;
    struct job     *jobs;      /* the loop's: only it links and unlinks */
    unsigned        running;
};

/* The thread: only its own job's fields, then done under the lock. */
static void *run(void *arg)
{
    struct job *j = arg;
    struct backd_dmsync *ds = j->ds;
    struct rtv_err err = { 0, "" };
    struct rtv_qmp *q;
    struct rtv_qmp_drive d;
    uint64_t t0 = rtv_now_us();
    uint64_t one = 1;
    int rc;

    rc = rtv_qmp_connect(j->sock, j->timeout_ms, &q, &err);
    if (rc == 0) {
        rc = j->flush ? rtv_qmp_drive_sync(q, j->image, &d, &err)
                      : rtv_qmp_drive_check(q, j->image, &d, &err);
        rtv_qmp_close(q);
    }
    j->r.rc = rc;
    j->r.took_us = rtv_now_us() - t0;
    if (rc < 0)
        snprintf(j->r.msg, sizeof(j->r.msg), "%s", err.msg);
    else   /* what was found, for the log */
        snprintf(j->r.msg, sizeof(j->r.msg), "%s drive %s, %s, cache %s",
                 j->flush ? "flushed" : "checked", d.device, d.format,
                 d.cache[0] ? d.cache : "?");
    pthread_mutex_lock(&ds->lock);
    j->done = true;   /* j is the loop's from here (it joins before freeing) */
    pthread_mutex_unlock(&ds->lock);
    /* Fails only on a counter overflow; the loop's next tick reaps anyway. */
    ssize_t w = write(ds->efd, &one, sizeof(one));
    (void)w;
    return NULL;
}

struct backd_dmsync *backd_dmsync_new(struct rtv_err *err)
{
    struct backd_dmsync *ds = calloc(1, sizeof(*ds));

    if (ds == NULL) {
        rtv_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    ds->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ds->efd < 0) {
        rtv_err_set(err, errno, "eventfd: %s", strerror(errno));
        free(ds);
        return NULL;
    }
    pthread_mutex_init(&ds->lock, NULL);
    return ds;
}

int backd_dmsync_fd(const struct backd_dmsync *ds)
{
    return ds->efd;
}

unsigned backd_dmsync_running(const struct backd_dmsync *ds)
{
    return ds->running;
}

int backd_dmsync_start(struct backd_dmsync *ds, const char *sock, rtv_domid_t dom,
                       const char *vdev, const char *image, uint32_t switch_id,
                       unsigned timeout_ms, bool flush, struct rtv_err *err)
{
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (j == NULL)
        return rtv_err_set(err, ENOMEM, "out of memory");
    j->ds = ds;
    j->timeout_ms = timeout_ms;
    j->flush = flush;
    snprintf(j->sock, sizeof(j->sock), "%s", sock);
    snprintf(j->image, sizeof(j->image), "%s", image);
    j->r.dom = dom;
    j->r.switch_id = switch_id;
    snprintf(j->r.vdev, sizeof(j->r.vdev), "%s", vdev);
    /* Signals (SIGTERM: stop) are the loop's: the thread starts with all
     * of them blocked, so poll() there sees the EINTR. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&j->thread, NULL, run, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free(j);
        return rtv_err_set(err, rc, "cannot start the device-model sync: %s", strerror(rc));
    }
    j->next = ds->jobs;
    ds->jobs = j;
    ds->running++;
    return 0;
}

void backd_dmsync_reap(struct backd_dmsync *ds,
                       void (*done)(void *ctx, const struct backd_dmsync_result *r),
                       void *ctx)
{
    struct job **pp = &ds->jobs, *finished = NULL;
    uint64_t n;

    /* Only clears the fd: the done flags below are what count. */
    ssize_t r = read(ds->efd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&ds->lock);
    while (*pp != NULL) {
        struct job *j = *pp;
        if (j->done) {
            *pp = j->next;
            j->next = finished;
            finished = j;
        } else {
            pp = &j->next;
        }
    }
    pthread_mutex_unlock(&ds->lock);
    while (finished != NULL) {
        struct job *j = finished;
        finished = j->next;
        pthread_join(j->thread, NULL);   /* it has returned or is about to */
        ds->running--;
        if (done)
            done(ctx, &j->r);
        free(j);
    }
}

void backd_dmsync_free(struct backd_dmsync *ds)
{
    if (ds == NULL)
        return;
    while (ds->jobs != NULL) {
        struct job *j = ds->jobs;
        ds->jobs = j->next;
        pthread_join(j->thread, NULL);
        free(j);
    }
    close(ds->efd);
    pthread_mutex_destroy(&ds->lock);
    free(ds);
}
