/*
 * The driver of a switch's store fault sweep, shared by the disk's
 * (test_switch_component.c) and the NIC's (test_vif_component.c): the
 * scenario is theirs (a switch to pv and back with the N-th call of one
 * store operation failing, and what each run must end with); counting
 * the N to run, tallying the outcomes and failing the test is here.
 * Header-only, as the other fixtures.
 *
 *   RTV_FAULT_SWEEP_STRIDE=k  every k-th N (1: every N, make fault-sweep);
 *                             unset: about check_runs N per operation
 *   RTV_FAULT_SWEEP_OP=text   only the operations whose name has it
 *   RTV_FAULT_SWEEP_CALL=n    only that N (debugging)
 *   RTV_FAULT_SWEEP_VERBOSE=1 one line per run
 */
#ifndef RTV_TESTS_SWITCH_SWEEP_H
#define RTV_TESTS_SWITCH_SWEEP_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one run ended with. */
struct switch_sweep_run {
    unsigned calls, hits;         /* the operation's calls, the faults injected */
    char outcome[2][200];         /* each switch's result, and why ("" if not run) */
    char defect[300];             /* empty: none */
};

/* Records the run's first defect. */
#define SWITCH_SWEEP_DEFECT(res, ...) \
    do { if ((res)->defect[0] == '\0') \
             snprintf((res)->defect, sizeof((res)->defect), __VA_ARGS__); } while (0)

/* Judges the answer to switch k of a run (to target, from mode from): ok
 * must land in target; rolled-back or error must say why and land back in
 * from; nothing else is an answer.  outcome[k] says what came. */
static inline void switch_sweep_judge(struct switch_sweep_run *res, unsigned k,
                                      const char *target, const char *from, const char *result,
                                      const char *state, const char *error)
{
    snprintf(res->outcome[k], sizeof(res->outcome[k]), "%s: %s%s%.100s", target, result,
             error[0] ? ": " : "", error);
    if (strcmp(result, "ok") == 0) {
        if (strcmp(state, target) != 0)
            SWITCH_SWEEP_DEFECT(res, "switch to %s answered ok in state %s", target, state);
    } else if (strcmp(result, "rolled-back") == 0 || strcmp(result, "error") == 0) {
        if (error[0] == '\0')
            SWITCH_SWEEP_DEFECT(res, "switch to %s %s without a reason", target, result);
        if (strcmp(state, from) != 0)
            SWITCH_SWEEP_DEFECT(res, "switch to %s %s into %s, not back to %s", target, result,
                                state, from);
    } else {
        SWITCH_SWEEP_DEFECT(res, "switch to %s: result \"%s\"", target, result);
    }
}

typedef void (*switch_sweep_fn)(const void *op, unsigned n, struct switch_sweep_run *res);

/* Sweeps operation `name` (label prefixes its lines): run(op, 0) once
 * clean, which must end without a defect (and, unless it may, call the
 * operation), then run(op, n) for the N chosen above; one summary line on
 * stdout; the test fails on any defect, naming the first. */
static inline void switch_sweep(const char *label, const char *name, const void *op,
                                switch_sweep_fn run, unsigned check_runs, bool may_not_call)
{
    const char *only = getenv("RTV_FAULT_SWEEP_OP"), *one = getenv("RTV_FAULT_SWEEP_CALL");
    const char *s = getenv("RTV_FAULT_SWEEP_STRIDE");
    bool verbose = getenv("RTV_FAULT_SWEEP_VERBOSE") != NULL;
    unsigned runs = 0, ok = 0, rolled = 0, unreached = 0, defects = 0, stride;
    struct switch_sweep_run clean, res;
    char first[400] = "";

    if (only != NULL && strstr(name, only) == NULL)
        return;
    run(op, 0, &clean);
    ck_assert_msg(clean.defect[0] == '\0', "%s: the clean run: %s", name, clean.defect);
    if (clean.calls == 0) {
        ck_assert_msg(may_not_call, "%s: a switch never calls it", name);
        printf("%s %-28s never called by a switch\n", label, name);
        return;
    }
    if (s != NULL && atoi(s) > 0)
        stride = (unsigned)atoi(s);
    else
        stride = clean.calls > check_runs ? (clean.calls + check_runs - 1) / check_runs : 1;
    for (unsigned n = 1; n <= clean.calls; n += stride) {
        if (one != NULL && (unsigned)atoi(one) != n)
            continue;
        run(op, n, &res);
        runs++;
        if (verbose)
            fprintf(stderr, "%s %s call %u: hits %u; %s; %s%s%s\n", label, name, n, res.hits,
                    res.outcome[0], res.outcome[1], res.defect[0] ? "; DEFECT " : "",
                    res.defect);
        if (res.defect[0] != '\0') {
            defects++;
            fprintf(stderr, "%s %s: fail call %u: %s\n", label, name, n, res.defect);
            if (first[0] == '\0')
                snprintf(first, sizeof(first), "call %u: %s", n, res.defect);
        } else if (res.hits == 0) {
            unreached++;         /* this run made fewer calls than the clean one */
        } else if (strstr(res.outcome[0], ": ok") != NULL &&
                   strstr(res.outcome[1], ": ok") != NULL) {
            ok++;
        } else {
            rolled++;
        }
    }
    printf("%s %-28s %3u calls, %3u runs (stride %u): %3u both ok, %3u rolled back "
           "or refused, %3u not reached, %u defects\n", label, name, clean.calls, runs, stride,
           ok, rolled, unreached, defects);
    fflush(stdout);
    ck_assert_msg(defects == 0, "%s: %u defect(s), first %s", name, defects, first);
}

#endif
