/* The I/O-sequence state machine engine; see rtvirt/ioseq.h. */
#include "rtvirt/ioseq.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

static bool dir_ok(uint8_t dir, bool any_allowed)
{
    return dir == RTV_IOSEQ_READ || dir == RTV_IOSEQ_WRITE ||
           (any_allowed && dir == RTV_IOSEQ_ANY_DIR);
}

int rtv_ioseq_table_check(const struct rtv_ioseq_table *t, struct rtv_err *err)
{
    if (!t->states || t->nstates == 0 || t->nstates > 255)
        return rtv_err_set(err, EINVAL, "%s: %u states (1..255 needed)",
                           t->name, t->nstates);
    if (t->initial >= t->nstates || !t->states[t->initial].boundary)
        return rtv_err_set(err, EINVAL, "%s: initial state %u is not a boundary state",
                           t->name, t->initial);
    if (t->nports == 0 || t->nports >= RTV_IOSEQ_ANY_OFFSET)
        return rtv_err_set(err, EINVAL, "%s: %u ports", t->name, t->nports);
    for (unsigned i = 0; i < t->ntrans; i++) {
        const struct rtv_ioseq_trans *tr = &t->trans[i];
        if (tr->from >= t->nstates || tr->to >= t->nstates)
            return rtv_err_set(err, EINVAL, "%s: transition %u: state %u -> %u out of range",
                               t->name, i, tr->from, tr->to);
        if (tr->offset != RTV_IOSEQ_ANY_OFFSET && tr->offset >= t->nports)
            return rtv_err_set(err, EINVAL, "%s: transition %u: offset %u beyond %u ports",
                               t->name, i, tr->offset, t->nports);
        if (!dir_ok(tr->dir, true))
            return rtv_err_set(err, EINVAL, "%s: transition %u: direction %u",
                               t->name, i, tr->dir);
        if (tr->ends && (t->states[tr->from].boundary || t->states[tr->to].boundary))
            return rtv_err_set(err, EINVAL, "%s: transition %u: 'ends' needs a mid-sequence state on both sides",
                               t->name, i);
        if (tr->match & ~tr->mask)
            return rtv_err_set(err, EINVAL, "%s: transition %u: match %#x has bits outside mask %#x",
                               t->name, i, tr->match, tr->mask);
    }
    for (unsigned i = 0; i < t->nbusy; i++) {
        if (t->busy[i].offset >= t->nports)
            return rtv_err_set(err, EINVAL, "%s: busy answer %u: offset %u beyond %u ports",
                               t->name, i, t->busy[i].offset, t->nports);
        for (unsigned j = 0; j < i; j++)
            if (t->busy[j].offset == t->busy[i].offset)
                return rtv_err_set(err, EINVAL, "%s: busy answer for offset %u defined twice",
                                   t->name, t->busy[i].offset);
    }
    return 0;
}

void rtv_ioseq_init(struct rtv_ioseq *s, const struct rtv_ioseq_table *t,
                    unsigned state)
{
    int rc = rtv_ioseq_table_check(t, NULL);
    assert(rc == 0);
    (void)rc;
    assert(state < t->nstates);
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->state = state;
    /* Started mid-sequence (a probe found the device there): the sequence
     * running is the one a transition into that state belongs to. */
    for (unsigned i = 0; i < t->ntrans && !t->states[state].boundary && !s->seq; i++)
        if (t->trans[i].to == state)
            s->seq = t->trans[i].seq;
}

static bool matches(const struct rtv_ioseq_trans *tr, unsigned state,
                    const struct rtv_ioseq_access *a)
{
    return tr->from == state &&
           (tr->offset == RTV_IOSEQ_ANY_OFFSET || tr->offset == a->offset) &&
           (tr->dir & a->dir) != 0 &&
           (a->value & tr->mask) == tr->match;
}

static const struct rtv_ioseq_trans *find(const struct rtv_ioseq_table *t,
                                          unsigned state,
                                          const struct rtv_ioseq_access *a)
{
    for (unsigned i = 0; i < t->ntrans; i++)
        if (matches(&t->trans[i], state, a))
            return &t->trans[i];
    return NULL;
}

/* Moves along tr; returns the flags it earns. */
static unsigned take(struct rtv_ioseq *s, const struct rtv_ioseq_trans *tr)
{
    bool was_inside = !s->t->states[s->state].boundary;
    bool now_boundary = s->t->states[tr->to].boundary;
    unsigned flags = RTV_IOSEQ_F_MOVED;

    if (was_inside && (now_boundary || tr->ends)) {
        s->sequences++;
        flags |= RTV_IOSEQ_F_COMPLETED;
    }
    s->state = tr->to;
    s->seq = now_boundary ? NULL : tr->seq;
    return flags;
}

unsigned rtv_ioseq_feed(struct rtv_ioseq *s, const struct rtv_ioseq_access *a)
{
    const struct rtv_ioseq_table *t = s->t;
    const struct rtv_ioseq_trans *tr;
    unsigned flags;

    s->accesses++;
    tr = find(t, s->state, a);
    if (tr)
        return take(s, tr);
    if (t->states[s->state].open_ended) {
        s->sequences++;
        flags = RTV_IOSEQ_F_COMPLETED;
    } else if (t->states[s->state].boundary) {
        return 0;                 /* outside every sequence */
    } else {
        s->unexpected++;
        if (t->unmatched == RTV_IOSEQ_UNMATCHED_STAY)
            return RTV_IOSEQ_F_UNEXPECTED;
        flags = RTV_IOSEQ_F_UNEXPECTED;
    }
    /* The running sequence is over; the access may open the next one. */
    s->state = t->initial;
    s->seq = NULL;
    tr = find(t, s->state, a);
    return flags | (tr ? take(s, tr) : 0);
}

bool rtv_ioseq_at_boundary(const struct rtv_ioseq *s)
{
    return s->t->states[s->state].boundary;
}

/* Could `a`, fed in `state`, take a transition to a mid-sequence state? */
static bool opens_from(const struct rtv_ioseq_table *t, unsigned state,
                       const struct rtv_ioseq_access *a)
{
    for (unsigned i = 0; i < t->ntrans; i++) {
        struct rtv_ioseq_access probe = *a;
        const struct rtv_ioseq_trans *tr = &t->trans[i];

        if (a->dir == RTV_IOSEQ_READ)
            probe.value = tr->match;      /* whatever the device answers */
        if (matches(tr, state, &probe) && !t->states[tr->to].boundary)
            return true;
    }
    return false;
}

bool rtv_ioseq_may_open(const struct rtv_ioseq *s, const struct rtv_ioseq_access *a)
{
    /* An open-ended state hands what it has no transition for to the
     * initial state (rtv_ioseq_feed), where it may open a sequence. */
    return opens_from(s->t, s->state, a) ||
           (s->t->states[s->state].open_ended && opens_from(s->t, s->t->initial, a));
}

/* Does `a`, fed now, take a transition that closes the running sequence
 * (to a boundary, or `ends`)?  NULL transition: no. */
static bool closes_with(const struct rtv_ioseq *s, const struct rtv_ioseq_access *a)
{
    const struct rtv_ioseq_trans *tr = find(s->t, s->state, a);

    return tr && (s->t->states[tr->to].boundary || tr->ends);
}

bool rtv_ioseq_closes(const struct rtv_ioseq *s, const struct rtv_ioseq_access *a)
{
    const struct rtv_ioseq_table *t = s->t;
    struct rtv_ioseq_access probe = *a;
    uint32_t bits = 0, sub;

    if (t->states[s->state].boundary)
        return false;                     /* nothing is running */
    if (a->dir != RTV_IOSEQ_READ)
        return closes_with(s, a);
    /* A read's value is not known before it is carried out: every value
     * it could return must close.  Only the bits the matching transitions
     * look at tell values apart; each combination of them is tried
     * (first match wins, as in feeding). */
    for (unsigned i = 0; i < t->ntrans; i++) {
        const struct rtv_ioseq_trans *tr = &t->trans[i];

        if (tr->from == s->state && (tr->dir & a->dir) &&
            (tr->offset == RTV_IOSEQ_ANY_OFFSET || tr->offset == a->offset))
            bits |= tr->mask;
    }
    if (__builtin_popcount(bits) > 8)
        return false;                     /* too many outcomes to judge: no */
    for (sub = bits;; sub = (sub - 1) & bits) {
        probe.value = sub;
        if (!closes_with(s, &probe))
            return false;
        if (sub == 0)
            return true;
    }
}

void rtv_ioseq_reset(struct rtv_ioseq *s)
{
    s->state = s->t->initial;
    s->seq = NULL;
}

const char *rtv_ioseq_state_name(const struct rtv_ioseq *s)
{
    return s->t->states[s->state].name;
}

int rtv_ioseq_state_index(const struct rtv_ioseq_table *t, const char *name)
{
    for (unsigned i = 0; name && i < t->nstates; i++)
        if (strcmp(t->states[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const struct rtv_ioseq_busy *busy_answer(const struct rtv_ioseq_table *t,
                                                uint16_t offset)
{
    for (unsigned i = 0; i < t->nbusy; i++)
        if (t->busy[i].offset == offset)
            return &t->busy[i];
    return NULL;
}

bool rtv_ioseq_has_busy(const struct rtv_ioseq_table *t, uint16_t offset)
{
    return busy_answer(t, offset) != NULL;
}

bool rtv_ioseq_busy_value(const struct rtv_ioseq_table *t, uint16_t offset,
                          uint32_t value, uint32_t *busy)
{
    const struct rtv_ioseq_busy *b = busy_answer(t, offset);

    if (!b)
        return false;
    *busy = (value & ~b->clear) | b->set;
    return true;
}
