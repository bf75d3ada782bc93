/*
 * rtvirt-p2m internals: the command table's handlers and the argument
 * helpers they share.  Every helper that rejects input prints one line naming
 * the command, the argument, the value and what is allowed.
 */
#ifndef RTV_P2M_TOOLS_H
#define RTV_P2M_TOOLS_H

#include <stdint.h>
#include <stdio.h>

#define P2M_EXIT_USAGE 2    /* bad command line */
#define P2M_EXIT_FAIL  1    /* the work itself failed */

int cmd_simulate(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_identity(int argc, char **argv);
int cmd_check_m2p(int argc, char **argv);

/* Parse helpers: 0 on success, else they print the error and return -1. */
int p2m_arg_u64(const char *cmd, const char *arg, const char *val, uint64_t *out);
int p2m_arg_size(const char *cmd, const char *arg, const char *val, uint64_t *bytes);
int p2m_arg_fraction(const char *cmd, const char *arg, const char *val, double *out);
int p2m_arg_range(const char *cmd, const char *arg, const char *val,
                  uint64_t *first, uint64_t *last);
/* A domain id as `xl list` shows it (below DOMID_FIRST_RESERVED). */
int p2m_arg_domid(const char *cmd, const char *val, uint16_t *domid);
int p2m_arg_bookkeeping(const char *cmd, const char *arg, const char *val, int *out);
/* Unknown or valueless option: prints and returns P2M_EXIT_USAGE. */
int p2m_bad_option(const char *cmd, const char *opt, const char *allowed);

/* Progress on stderr, at most about once a second; "\r"-updated on a tty. */
struct p2m_progress {
    const char *label;
    double last;
    int tty, shown;
};
void p2m_progress_init(struct p2m_progress *p, const char *label);
void p2m_progress_update(struct p2m_progress *p, uint64_t done, uint64_t total);
void p2m_progress_done(struct p2m_progress *p);
double p2m_now(void);

#endif
