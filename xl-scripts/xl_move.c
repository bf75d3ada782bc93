/*
 * xl-rtvirt save, restore and migrate: a managed guest moved by xl, its
 * disks brought back to their modes on the other side.
 *
 * libxl knows nothing of rtvirt-backd's PV twin: the twin (backend/vbd3) is
 * not in the guest's libxl config, so `xl restore` and `xl migrate` do not
 * bring it back, and the guest comes back under a new domid, with none of
 * its rtvirt nodes.  So the switch is taken back to emulated first (the
 * device model's state, disk included, is what libxl saves and restores),
 * the modes are recorded, xl does the move, and on the other side each disk
 * is managed again under the new domid and switched back to its mode.
 * The guest's shunt follows its new domid by itself (shunt/README.md).
 * Operator guide: xl-scripts/README.md, "Save, restore, migrate".
 */
#include "xl_move.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/ctl.h"
#include "rtvirt/xs_util.h"
#include "xl_run.h"

int xl_move_switch(void *step_ms, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *mode, struct rtv_err *err)
{
    struct rtv_ctl_status st;

    return rtv_ctl_switch(xs, dom, vdev, mode, *(unsigned *)step_ms, NULL, &st, err);
}

int xl_move_ready(void *ctx, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                  struct rtv_err *err)
{
    (void)ctx;
    return rtv_ctl_wait_shunt(xs, dom, vdev, XL_MOVE_SHUNT_READY_S * 1000u, err);
}

int xl_move_record_of(struct rtv_store *xs, rtv_domid_t dom, struct xl_move_record *rec,
                      struct rtv_err *err)
{
    char **devs, path[64], *name = NULL;
    unsigned n;
    size_t len;
    int rc;

    memset(rec, 0, sizeof(*rec));
    snprintf(path, sizeof(path), "/local/domain/%u/name", (unsigned)dom);
    if (rtv_xs_read(xs, RTV_XS_NO_TXN, path, &name, &len) < 0 || len == 0 ||
        len >= sizeof(rec->name)) {
        free(name);
        return rtv_err_set(err, ENOENT, "domain %u has no name (%s): xl names the domain "
                           "it restores after it", (unsigned)dom, path);
    }
    memcpy(rec->name, name, len);
    free(name);
    if ((rc = rtv_ctl_list(xs, dom, &devs, &n, err)) < 0)
        return rc;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct rtv_ctl_status st;
        struct xl_move_disk *d = &rec->disks[rec->n];

        if (strncmp(devs[i], "vif/", 4) == 0) {
            rc = rtv_err_set(err, EOPNOTSUPP, "%s of domain %u is a managed NIC: save, "
                             "restore and migrate bring back disks only (unmanage it "
                             "first: xl-rtvirt unmanage %u %s)", devs[i], (unsigned)dom,
                             (unsigned)dom, devs[i]);
        } else if (rec->n == XL_MOVE_MAX) {
            rc = rtv_err_set(err, E2BIG, "domain %u has more than %d managed disks",
                             (unsigned)dom, XL_MOVE_MAX);
        } else if ((rc = rtv_ctl_status(xs, dom, devs[i], &st, err)) == 0) {
            if (rtv_ctl_state_is_transient(st.state))
                rc = rtv_err_set(err, EBUSY, "%s of domain %u is %s: move it when the "
                                 "switch is over", devs[i], (unsigned)dom, st.state);
            else if (strcmp(st.state, "emulated") != 0 && strcmp(st.state, "pv") != 0 &&
                     strcmp(st.state, "selective") != 0)
                rc = rtv_err_set(err, EINVAL, "%s of domain %u is in state \"%s\" "
                                 "(movable: emulated, pv, selective)", devs[i],
                                 (unsigned)dom, st.state);
            else if (strpbrk(st.image, "\n") != NULL || st.image[0] == '\0')
                rc = rtv_err_set(err, EINVAL, "%s of domain %u has no usable image "
                                 "(\"%s\")", devs[i], (unsigned)dom, st.image);
            else {
                snprintf(d->vdev, sizeof(d->vdev), "%s", devs[i]);
                snprintf(d->mode, sizeof(d->mode), "%s", st.state);
                snprintf(d->image, sizeof(d->image), "%s", st.image);
                rec->n++;
            }
        }
    }
    free(devs);
    return rc;
}

/* ---- the record beside the save file -------------------------------------- */

static const char rec_magic[] = "# xl-rtvirt save record 1";

int xl_move_record_write(const char *path, const struct xl_move_record *rec,
                         struct rtv_err *err)
{
    char tmp[1100];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    if ((f = fopen(tmp, "w")) == NULL)
        return rtv_err_set(err, errno, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "%s: each managed disk and its mode before the save\nname %s\n", rec_magic,
            rec->name);
    for (unsigned i = 0; i < rec->n; i++)
        fprintf(f, "disk %s %s %s\n", rec->disks[i].vdev, rec->disks[i].mode,
                rec->disks[i].image);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        return rtv_err_set(err, e, "cannot write %s: %s", tmp, strerror(e));
    }
    fclose(f);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return rtv_err_set(err, e, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}

int xl_move_record_read(const char *path, struct xl_move_record *rec, struct rtv_err *err)
{
    char line[1200];
    unsigned lineno = 0;
    int rc = 0;
    FILE *f;

    memset(rec, 0, sizeof(*rec));
    if ((f = fopen(path, "r")) == NULL)
        return rtv_err_set(err, errno, "cannot read %s: %s (a save by xl-rtvirt save "
                           "leaves it beside the save file)", path, strerror(errno));
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        char vdev[32], mode[32];
        int off = 0;

        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (lineno == 1) {
            if (strncmp(line, rec_magic, sizeof(rec_magic) - 1) != 0)
                rc = rtv_err_set(err, EINVAL, "%s is not an xl-rtvirt save record", path);
        } else if (strncmp(line, "name ", 5) == 0 && rec->name[0] == '\0' &&
                   strlen(line + 5) > 0 && strlen(line + 5) < sizeof(rec->name)) {
            snprintf(rec->name, sizeof(rec->name), "%s", line + 5);
        } else if (sscanf(line, "disk %31s %31s %n", vdev, mode, &off) == 2 && off > 0 &&
                   line[off] != '\0' && strlen(line + off) < sizeof(rec->disks[0].image) &&
                   rec->n < XL_MOVE_MAX &&
                   (strcmp(mode, "emulated") == 0 || strcmp(mode, "pv") == 0 ||
                    strcmp(mode, "selective") == 0)) {
            struct xl_move_disk *d = &rec->disks[rec->n++];
            snprintf(d->vdev, sizeof(d->vdev), "%s", vdev);
            snprintf(d->mode, sizeof(d->mode), "%s", mode);
            snprintf(d->image, sizeof(d->image), "%s", line + off);
        } else {
            rc = rtv_err_set(err, EINVAL, "%s line %u: \"%.80s\" (expected \"name NAME\" "
                             "once, then \"disk VDEV emulated|pv|selective IMAGE\")", path,
                             lineno, line);
        }
    }
    if (rc == 0 && ferror(f))
        rc = rtv_err_set(err, EIO, "cannot read %s", path);
    if (rc == 0 && rec->name[0] == '\0')
        rc = rtv_err_set(err, EINVAL, "%s names no domain", path);
    fclose(f);
    return rc;
}

/* ---- the moves ------------------------------------------------------------- */

/* Every disk of rec to mode (NULL: to its recorded mode); the number that
 * failed, each said on stderr. */
static unsigned switch_all(struct rtv_store *xs, const struct xl_move_ops *ops,
                           rtv_domid_t dom, const struct xl_move_record *rec,
                           const char *mode)
{
    unsigned failed = 0;

    for (unsigned i = 0; i < rec->n; i++) {
        const struct xl_move_disk *d = &rec->disks[i];
        const char *to = mode ? mode : d->mode;
        struct rtv_err err = { 0, "" };

        if (strcmp(d->mode, "emulated") == 0)
            continue;   /* emulated before and after: nothing to switch */
        /* After a restore: not before the guest's kernel has resumed its
         * xenbus, or the twin's disk is never probed (xl_move_ready). */
        if (mode == NULL && ops->ready && ops->ready(ops->ctx, xs, dom, d->vdev, &err) < 0) {
            fprintf(stderr, "xl-rtvirt: %s of %s (domain %u) stays emulated: %s\n", d->vdev,
                    rec->name, (unsigned)dom, err.msg);
            failed++;
            continue;
        }
        if (ops->sw(ops->ctx, xs, dom, d->vdev, to, &err) < 0) {
            fprintf(stderr, "xl-rtvirt: %s of %s (domain %u) to %s: %s\n", d->vdev, rec->name,
                    (unsigned)dom, to, err.msg);
            failed++;
        } else {
            printf("%s of %s (domain %u) is %s\n", d->vdev, rec->name, (unsigned)dom, to);
        }
    }
    return failed;
}

/* Record dom's disks and take each to emulated; on a failure, those already
 * switched are taken back.  0 or EXIT_FAILURE. */
static int prepare(struct rtv_store *xs, const struct xl_move_ops *ops, const char *domain,
                   rtv_domid_t *dom, struct xl_move_record *rec)
{
    struct rtv_err err = { 0, "" };

    if (rtv_ctl_resolve_domain(xs, domain, dom, &err) < 0 ||
        xl_move_record_of(xs, *dom, rec, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: %s: %s (nothing done)\n", domain, err.msg);
        return EXIT_FAILURE;
    }
    if (switch_all(xs, ops, *dom, rec, "emulated") != 0) {
        struct xl_move_ops now = { ops->sw, NULL, ops->ctx };

        fprintf(stderr, "xl-rtvirt: %s: not every disk went back to emulated; switching "
                "them back to where they were, not moving the guest\n", rec->name);
        switch_all(xs, &now, *dom, rec, NULL);
        return EXIT_FAILURE;
    }
    return 0;
}

/* xl failed and the guest may still run here: its disks back to their modes
 * (the same domain, so no wait for its shunt). */
static void undo(struct rtv_store *xs, const struct xl_move_ops *ops,
                 const struct xl_move_record *rec)
{
    struct rtv_err err = { 0, "" };
    struct xl_move_ops now = { ops->sw, NULL, ops->ctx };
    rtv_domid_t dom;

    if (rtv_ctl_resolve_domain(xs, rec->name, &dom, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: and %s is no longer here (%s)\n", rec->name, err.msg);
        return;
    }
    if (switch_all(xs, &now, dom, rec, NULL) == 0)
        printf("%s (domain %u) runs on, its disks back in their modes\n", rec->name,
               (unsigned)dom);
}

int xl_move_save(struct rtv_store *xs, const struct xl_move_ops *ops, const char *xl,
                 const char *domain, const char *file)
{
    struct xl_move_record rec;
    struct rtv_err err = { 0, "" };
    char recpath[1100];
    rtv_domid_t dom;
    int rc;

    if (snprintf(recpath, sizeof(recpath), "%s.rtvirt", file) >= (int)sizeof(recpath)) {
        fprintf(stderr, "xl-rtvirt: save file name too long: %s\n", file);
        return EXIT_FAILURE;
    }
    if (prepare(xs, ops, domain, &dom, &rec) != 0)
        return EXIT_FAILURE;
    if (xl_move_record_write(recpath, &rec, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: %s\n", err.msg);
        undo(xs, ops, &rec);
        return EXIT_FAILURE;
    }
    char *argv[] = { (char *)xl, "save", (char *)domain, (char *)file, NULL };
    if ((rc = xl_run(argv)) != 0) {
        fprintf(stderr, "xl-rtvirt: %s save %s %s %s (status %d)\n", xl, domain, file,
                rc < 0 ? "could not run" : "failed", rc);
        unlink(recpath);
        undo(xs, ops, &rec);
        return EXIT_FAILURE;
    }
    printf("%s (domain %u) saved to %s, its %u managed disk(s) recorded in %s\n", rec.name,
           (unsigned)dom, file, rec.n, recpath);
    return EXIT_SUCCESS;
}

int xl_move_restore(struct rtv_store *xs, const struct xl_move_ops *ops, const char *xl,
                    const char *file, int paused)
{
    struct xl_move_record rec;
    struct rtv_err err = { 0, "" };
    char recpath[1100];
    rtv_domid_t dom;
    unsigned failed = 0;
    int rc;

    if (snprintf(recpath, sizeof(recpath), "%s.rtvirt", file) >= (int)sizeof(recpath) ||
        xl_move_record_read(recpath, &rec, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: %s (nothing restored)\n",
                err.msg[0] ? err.msg : "save file name too long");
        return EXIT_FAILURE;
    }
    /* Paused until its disks are managed: the shunt finds its nodes at once. */
    char *argv[] = { (char *)xl, "restore", "-p", (char *)file, NULL };
    if ((rc = xl_run(argv)) != 0) {
        fprintf(stderr, "xl-rtvirt: %s restore -p %s %s (status %d): nothing put under "
                "rtvirt\n", xl, file, rc < 0 ? "could not run" : "failed", rc);
        return EXIT_FAILURE;
    }
    if (rtv_ctl_resolve_domain(xs, rec.name, &dom, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: xl restored %s, but %s\n", file, err.msg);
        return EXIT_FAILURE;
    }
    for (unsigned i = 0; i < rec.n; i++) {
        const struct xl_move_disk *d = &rec.disks[i];

        if (rtv_ctl_manage(xs, dom, d->vdev, d->image, &err) < 0) {
            fprintf(stderr, "xl-rtvirt: %s (domain %u): %s is not under rtvirt: %s (it "
                    "stays on its emulated disk)\n", rec.name, (unsigned)dom, d->vdev, err.msg);
            failed++;
        } else {
            printf("%s of %s (domain %u) is under rtvirt (image %s)\n", d->vdev, rec.name,
                   (unsigned)dom, d->image);
        }
    }
    if (paused) {
        for (unsigned i = 0; i < rec.n; i++)
            if (strcmp(rec.disks[i].mode, "emulated") != 0)
                printf("%s is paused; after xl unpause: xl-rtvirt switch %u %s %s --wait\n",
                       rec.name, (unsigned)dom, rec.disks[i].vdev, rec.disks[i].mode);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    char dombuf[16];
    snprintf(dombuf, sizeof(dombuf), "%u", (unsigned)dom);
    char *unpause[] = { (char *)xl, "unpause", dombuf, NULL };
    if ((rc = xl_run(unpause)) != 0) {
        fprintf(stderr, "xl-rtvirt: %s unpause %u failed (status %d): %s stays paused, its "
                "disks emulated\n", xl, (unsigned)dom, rc, rec.name);
        return EXIT_FAILURE;
    }
    if (failed == 0)
        failed = switch_all(xs, ops, dom, &rec, NULL);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* `SSH HOST xl-rtvirt ARGS...` (each word quoted for the shell, as xl runs
 * its SSHCOMMAND through sh); its exit status. */
static int remote(const char *ssh, const char *host, const char *const words[])
{
    char cmd[4096];

    snprintf(cmd, sizeof(cmd), "exec %s ", ssh);
    if (xl_sh_quote(cmd, sizeof(cmd), host) < 0)
        return -1;
    for (unsigned i = 0; words[i]; i++) {
        size_t n = strlen(cmd);

        if (n + 2 > sizeof(cmd))
            return -1;
        cmd[n] = ' ';
        cmd[n + 1] = '\0';
        if (xl_sh_quote(cmd, sizeof(cmd), words[i]) < 0)
            return -1;
    }
    return xl_run_sh(cmd);
}

int xl_move_migrate(struct rtv_store *xs, const struct xl_move_ops *ops, const char *xl,
                    const char *ssh, const char *domain, const char *host)
{
    struct xl_move_record rec;
    rtv_domid_t dom;
    unsigned failed = 0;
    int rc;

    if (prepare(xs, ops, domain, &dom, &rec) != 0)
        return EXIT_FAILURE;
    char *argv[] = { (char *)xl, "migrate", "-s", (char *)(ssh ? ssh : "ssh"), (char *)domain,
                     (char *)host, NULL };
    if ((rc = xl_run(argv)) != 0) {
        fprintf(stderr, "xl-rtvirt: %s migrate %s %s %s (status %d)\n", xl, domain, host,
                rc < 0 ? "could not run" : "failed", rc);
        undo(xs, ops, &rec);
        return EXIT_FAILURE;
    }
    /* On the destination, through the same ssh command: manage, then switch. */
    for (unsigned i = 0; i < rec.n; i++) {
        const struct xl_move_disk *d = &rec.disks[i];
        const char *manage[] = { "xl-rtvirt", "manage", rec.name, d->vdev, "--image",
                                 d->image, NULL };
        const char *sw[] = { "xl-rtvirt", "switch", rec.name, d->vdev, d->mode, "--wait",
                             "--shunt-ready", XL_MOVE_STR(XL_MOVE_SHUNT_READY_S), NULL };

        if ((rc = remote(ssh ? ssh : "ssh", host, manage)) != 0) {
            fprintf(stderr, "xl-rtvirt: %s runs on %s, but %s is not under rtvirt there "
                    "(status %d; it stays on its emulated disk)\n", rec.name, host, d->vdev, rc);
            failed++;
        } else if (strcmp(d->mode, "emulated") != 0 &&
                   (rc = remote(ssh ? ssh : "ssh", host, sw)) != 0) {
            fprintf(stderr, "xl-rtvirt: %s runs on %s, but %s did not go back to %s there "
                    "(status %d)\n", rec.name, host, d->vdev, d->mode, rc);
            failed++;
        }
    }
    if (failed == 0)
        printf("%s migrated to %s, its %u managed disk(s) back in their modes\n", rec.name,
               host, rec.n);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
