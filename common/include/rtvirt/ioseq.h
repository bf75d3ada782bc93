/*
 * The I/O-sequence state machine engine (seeds 000/002, FIG. 3 and 4).
 *
 * A driver talks to a device in I/O sequences: several register accesses
 * that together make one high-level I/O (program a divisor, service an
 * interrupt, send a message).  Taking a device over, or handing it back,
 * in the middle of a sequence would split it between two drivers that each
 * saw only half, so rtvirt changes who drives a device only at a sequence
 * boundary.  A device is described by a table: states (those flagged
 * `boundary` are start states: no sequence in progress), and transitions
 * on port accesses (offset, direction, and the value under a mask: the
 * value written, or the value the device answered to a read).  The engine
 * is fed every access and says whether the device is at a boundary.
 *
 * An access with no transition from the current state does not belong to
 * the running sequence.  In an open-ended state (a burst, which no access
 * closes) it ends the burst and is evaluated from the initial state.  At
 * another boundary it is simply outside every sequence (a scratch-register
 * read).  Elsewhere mid-sequence the table's policy decides:
 * RESTART (seed FIG. 4, step 416: the sequence is over, whatever it was,
 * and the access is evaluated again from the initial state, where it may
 * start the next one) or STAY (keep the state: for devices whose sequences
 * must be closed explicitly).  Either way it is counted as unexpected.
 *
 * Pure: no Xen, no I/O, no clock.  A table of our own that is malformed is
 * our broken invariant (assert); rtv_ioseq_table_check() names the fault.
 */
#ifndef RTVIRT_IOSEQ_H
#define RTVIRT_IOSEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"

enum rtv_ioseq_dir {
    RTV_IOSEQ_READ = 1,
    RTV_IOSEQ_WRITE = 2,
    RTV_IOSEQ_ANY_DIR = 3,       /* transitions only */
};

/* Transitions only: matches an access at any offset. */
#define RTV_IOSEQ_ANY_OFFSET 0xffffu

/* One access the guest made (or would make) to the device. */
struct rtv_ioseq_access {
    uint16_t offset;             /* from the device's base port */
    uint8_t  dir;                /* RTV_IOSEQ_READ or RTV_IOSEQ_WRITE */
    uint8_t  size;               /* bytes; informational */
    uint32_t value;              /* written, or what the read returned */
};

struct rtv_ioseq_state {
    const char *name;
    bool        boundary;        /* a start state: no sequence in progress */
    bool        open_ended;      /* the sequence has no closing access (a
                                    burst): any access without a transition
                                    from here completes it, and is then
                                    evaluated from the initial state; may
                                    be a boundary too (a burst that can be
                                    handed over, see uart16550_seq.c) */
};

struct rtv_ioseq_trans {
    uint8_t     from, to;        /* state indexes */
    uint16_t    offset;          /* or RTV_IOSEQ_ANY_OFFSET */
    uint8_t     dir;             /* READ, WRITE or ANY_DIR */
    bool        ends;            /* completes the running sequence even if
                                    `to` is not a boundary: the access both
                                    closes one sequence and opens the next */
    uint32_t    mask, match;     /* matches when (value & mask) == match */
    const char *seq;             /* the sequence it belongs to, for logs */
};

enum rtv_ioseq_unmatched {
    RTV_IOSEQ_UNMATCHED_RESTART,
    RTV_IOSEQ_UNMATCHED_STAY,
};

/* A read the device can answer with "busy" while the guest is held off:
 * the value it would read, with `clear` bits cleared and `set` bits set. */
struct rtv_ioseq_busy {
    uint16_t offset;
    uint32_t clear, set;
};

struct rtv_ioseq_table {
    const char                   *name;
    unsigned                      nports;    /* offsets 0..nports-1 */
    const struct rtv_ioseq_state *states;
    unsigned                      nstates;
    const struct rtv_ioseq_trans *trans;     /* first match wins */
    unsigned                      ntrans;
    unsigned                      initial;   /* a boundary state */
    enum rtv_ioseq_unmatched      unmatched;
    const struct rtv_ioseq_busy  *busy;
    unsigned                      nbusy;
};

/* 0, or -EINVAL with err naming the first fault: no states, more than 255,
 * initial not a boundary, a transition's state or offset out of range, a
 * direction that is none of READ/WRITE/ANY, `ends` on a transition from
 * or to a boundary state (where it means nothing), match bits outside
 * mask, a busy entry out of range or defined twice. */
int rtv_ioseq_table_check(const struct rtv_ioseq_table *t, struct rtv_err *err);

struct rtv_ioseq {
    const struct rtv_ioseq_table *t;
    unsigned    state;
    const char *seq;             /* sequence running, NULL at a boundary
                                    (and in a state no transition leads to) */
    uint64_t    accesses;        /* fed */
    uint64_t    sequences;       /* completed */
    uint64_t    unexpected;      /* mid-sequence accesses with no transition */
};

/* Feed results (flags). */
enum {
    RTV_IOSEQ_F_COMPLETED  = 1u << 0,  /* a sequence ended with this access */
    RTV_IOSEQ_F_UNEXPECTED = 1u << 1,  /* no transition from a mid-sequence state */
    RTV_IOSEQ_F_MOVED      = 1u << 2,  /* a transition matched */
};

/* Starts the machine in `state` (the table's initial state when the device's
 * position is unknown, or one a probe of the device found, e.g. DLAB set).
 * Asserts that the table passes rtv_ioseq_table_check(). */
void rtv_ioseq_init(struct rtv_ioseq *s, const struct rtv_ioseq_table *t,
                    unsigned state);

/* One access, in the order the device saw them; returns RTV_IOSEQ_F_*. */
unsigned rtv_ioseq_feed(struct rtv_ioseq *s, const struct rtv_ioseq_access *a);

bool rtv_ioseq_at_boundary(const struct rtv_ioseq *s);

/* Could this access open a sequence, i.e. take the machine to a state
 * that is not a boundary?  A write is judged on its value; a read, whose
 * value is not known before it is carried out, on any transition for its
 * offset and direction. */
bool rtv_ioseq_may_open(const struct rtv_ioseq *s, const struct rtv_ioseq_access *a);

/* Does this access close the running sequence (take a transition to a
 * boundary, or one that `ends` it) -- a read whatever value it returns?
 * Then the device is at a boundary just before it.  False at a boundary. */
bool rtv_ioseq_closes(const struct rtv_ioseq *s, const struct rtv_ioseq_access *a);

/* Forget the running sequence (the device was reset): back to initial. */
void rtv_ioseq_reset(struct rtv_ioseq *s);

const char *rtv_ioseq_state_name(const struct rtv_ioseq *s);

/* Index of the state named `name`, or -1. */
int rtv_ioseq_state_index(const struct rtv_ioseq_table *t, const char *name);

/* Does the table define a busy answer for reads at `offset`? */
bool rtv_ioseq_has_busy(const struct rtv_ioseq_table *t, uint16_t offset);

/* The busy answer for a read at `offset` whose real value is `value`;
 * false if the table defines none for that offset. */
bool rtv_ioseq_busy_value(const struct rtv_ioseq_table *t, uint16_t offset,
                          uint32_t value, uint32_t *busy);

#endif
