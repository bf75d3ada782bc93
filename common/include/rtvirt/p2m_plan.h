/*
 * rtvirt P2M identity planner.
 *
 * Given a range of a domain's P2M (gfn -> mfn) and an oracle that says who
 * owns a machine frame, classify every page of the range ("query") and
 * produce the sequence of copies that makes p2m[gfn] == gfn for every page
 * that can reach it ("plan").
 *
 * The shape of the problem: page g wants frame g.  Frame g is held by at
 * most one page of the range (its "occupant"), so "g waits for the occupant
 * of frame g" links pages into simple paths and simple cycles:
 *
 *   chain:  g1 -> g2 -> ... -> gk, frame gk free.  Move gk first; that frees
 *           frame p2m[gk] == g(k-1), and so on back to g1.  One copy a page.
 *           Note the walk back needs no lookup at all: the page that wants
 *           the frame just vacated is the gfn with that number.
 *   cycle:  every frame held by the next page.  Save the lowest gfn to the
 *           scratch frame, which opens the cycle into a chain, run the chain,
 *           restore the saved page.  Copies = length + 1.
 *
 * So copies == (non-identity pages moved) + (cycles), the lower bound, and
 * one scratch frame serves every cycle because cycles run one after another.
 * A plan is restartable after any prefix of its operations: a half-done chain
 * is a shorter chain, and a half-done cycle (one page at the scratch frame)
 * is a chain, which is what lets the hypervisor preempt anywhere.
 *
 * Bookkeeping answers the one question the planner needs beyond the oracle:
 * which pages of the range map frame t.  Three ways (the trade of memory for
 * time named in the seed), which must and do give identical plans:
 *   BACKMAP   frame -> gfn array over the range's frames, 4 bytes a slot;
 *   REFCOUNT  how many pages of the range map each frame of the range, 2 bits
 *             a frame, kept at the frame's own place (no lookup); the
 *             planner never needs the occupant's name, only whether it is in
 *             the range (count 1), absent (0) or aliased (>1).  Over a sparse
 *             range the counts live in a directory beside a copy of the
 *             index, which then says which pages still have to move, so a
 *             step of a chain or cycle reads one line of it (4 bits a page);
 *   SEARCH    no memory at all; scan the P2M for each lookup (quadratic).
 *
 * Portability: pure C11 over caller-provided memory, no allocation, no I/O,
 * so the hypervisor compiles this same source (define __XEN__; see
 * xen-patches/).  Bad input (the P2M and the oracle are the peer here) gives
 * an error or a failed page, never an assert; asserts guard our invariants.
 */
#ifndef RTVIRT_P2M_PLAN_H
#define RTVIRT_P2M_PLAN_H

#ifdef __XEN__
#include <xen/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

#define RTV_P2M_INVALID_MFN   (~(uint64_t)0)  /* p2m entry: gfn is not RAM */
#define RTV_P2M_SCRATCH       (~(uint64_t)0 - 1) /* op from/to: the scratch frame */
#define RTV_P2M_MAX_PAGES     ((uint64_t)0xfffffff0u) /* backmap holds 32-bit offsets */

/* What the oracle says about a machine frame. */
enum rtv_p2m_frame_kind {
    RTV_FRAME_FREE = 0,     /* in the heap, may be taken */
    RTV_FRAME_OWN,          /* owned by the domain being rebuilt */
    RTV_FRAME_OTHER,        /* owned by Xen or another domain */
    RTV_FRAME_NOT_RAM,      /* no such RAM frame (hole, MMIO, beyond memory) */
};

/*
 * Per-page class.  rtv_p2m_query() leaves one of HOLE .. FAIL_NOT_OWNED or
 * FAIL_SOURCE_ALIASED;
 * rtv_p2m_plan() then turns TARGET_FREE / TARGET_OWN into MOVED or
 * FAIL_BLOCKED.  Values are stable: the hypercall reports them by number.
 */
enum rtv_p2m_class {
    RTV_P2M_HOLE = 0,               /* gfn not RAM in the P2M: skipped */
    RTV_P2M_IDENTITY,               /* already p2m[g] == g */
    RTV_P2M_TARGET_FREE,            /* frame g is free: direct move */
    RTV_P2M_TARGET_OWN,             /* frame g holds another page of the range */
    RTV_P2M_FAIL_TARGET_OTHER,      /* frame g owned by Xen / another domain */
    RTV_P2M_FAIL_TARGET_NOT_RAM,    /* frame g is not RAM */
    RTV_P2M_FAIL_TARGET_OUTSIDE,    /* frame g holds our page outside the range */
    RTV_P2M_FAIL_TARGET_ALIASED,    /* frame g mapped by several gfns */
    RTV_P2M_FAIL_NOT_OWNED,         /* g maps a frame it does not own (foreign, grant) */
    RTV_P2M_FAIL_BLOCKED,           /* waits on a page that cannot move */
    RTV_P2M_MOVED,                  /* planned: reaches identity */
    /* g's own frame is mapped by another gfn of the range too (an alias):
     * moving g would free the frame under the other gfn.  Numbered after
     * MOVED so the hypercall's class numbers above stay as they were.  Only
     * frames of the range are counted, so an alias through a frame outside
     * the range (or with a gfn outside it) is not seen here. */
    RTV_P2M_FAIL_SOURCE_ALIASED,
    RTV_P2M_CLASS_COUNT
};

enum rtv_p2m_bookkeeping {
    RTV_P2M_BK_BACKMAP = 0,
    RTV_P2M_BK_REFCOUNT,
    RTV_P2M_BK_SEARCH,
    RTV_P2M_BK_COUNT
};

enum rtv_p2m_op_kind {
    RTV_P2M_OP_MOVE = 0,    /* copy frame from -> frame to, p2m[gfn] = to, free from */
    RTV_P2M_OP_SAVE,        /* copy frame from -> scratch, p2m[gfn] = scratch, free from */
    RTV_P2M_OP_RESTORE,     /* copy scratch -> frame to, p2m[gfn] = to, scratch unused */
};

struct rtv_p2m_op {
    uint64_t gfn;
    uint64_t from;          /* RTV_P2M_SCRATCH for RESTORE */
    uint64_t to;            /* RTV_P2M_SCRATCH for SAVE */
    unsigned int kind;      /* enum rtv_p2m_op_kind */
};

struct rtv_p2m_counts {
    uint64_t pages;                         /* gfns in the range */
    uint64_t by_class[RTV_P2M_CLASS_COUNT]; /* pages per class */
    uint64_t remapped;      /* pages the plan moves (== by_class[MOVED]) */
    uint64_t failed;        /* sum of the FAIL_* classes */
    uint64_t copies;        /* page copies in the plan */
    uint64_t cycles;
    uint64_t chains;
    uint64_t scratch_uses;  /* SAVE operations (one a cycle) */
    uint64_t longest_cycle;
    uint64_t lookups;       /* occupant lookups done by the bookkeeping */
};

/*
 * A range of the P2M, in one of two forms (exactly one pointer set, or
 * neither for an empty range):
 *
 *   flat     p2m[i] is the mfn of gfn gfn_start + i: 8 bytes a page.  What
 *            the hypervisor snapshots (its calls cover at most 2^22 pages).
 *   sparse   only the pages that are not identity are stored (struct
 *            rtv_p2m_sparse): memory in proportion to the non-identity part
 *            plus 1.5 bits a page for the index, which is what lets a host plan
 *            a terabyte-sized P2M that is mostly identity.
 *
 * The planner works on "slots": in the flat form every page of the range
 * is one (slot == gfn - gfn_start), in the sparse form every listed page
 * is one (in gfn order).  klass[] and the bookkeeping are per slot.  Both
 * forms of the same P2M give the same plan.
 */
struct rtv_p2m_sparse {
    /* Bit i of listed[i / 64]: gfn gfn_start + i has a slot.  An unlisted
     * gfn is identity.  (nr + 63) / 64 words; bits past nr are zero. */
    const uint64_t *listed;
    /* rank[b]: listed gfns in the words before word b * RTV_P2M_RANK_WORDS
     * (rtv_p2m_sparse_rank()). */
    const uint32_t *rank;
    /* mfn[slot]: the frame of the slot's gfn, RTV_P2M_SPARSE_HOLE when the
     * gfn is not RAM.  Writable through the caller's own pointer (the emit
     * hook may apply operations to it, as to the flat p2m). */
    const uint32_t *mfn;
    uint64_t nlisted;
};
/* Sparse frames are 32-bit: machines up to 16 TiB; bigger ones use flat. */
#define RTV_P2M_SPARSE_HOLE   0xffffffffu

struct rtv_p2m_range {
    uint64_t gfn_start;
    uint64_t nr;
    const uint64_t *p2m;                    /* flat form, or NULL */
    const struct rtv_p2m_sparse *sparse;    /* sparse form, or NULL */
};

/* Slots of a range: nr (flat) or nlisted (sparse); klass[] holds this many. */
uint64_t rtv_p2m_slots(const struct rtv_p2m_range *range);
/*
 * Words of listed[] a rank entry covers.  8 (a cache line of listed[]) would
 * make a lookup miss once instead of twice, but its popcounts of the words
 * before the gfn's own cost more than that miss where the compiler may not
 * use the popcnt instruction (Debian's x86-64 baseline): measured at 1 TiB,
 * the chains took 12.2-13.0 s CPU with 8 against 8.0 s with 1.
 */
#define RTV_P2M_RANK_WORDS    1
/* Words of a sparse range's listed[] for nr pages. */
uint64_t rtv_p2m_sparse_words(uint64_t nr);
/* Entries of its rank[]. */
uint64_t rtv_p2m_sparse_rank_entries(uint64_t nr);
/* Fill rank[] from listed[] (nr pages); returns nlisted. */
uint64_t rtv_p2m_sparse_rank(const uint64_t *listed, uint32_t *rank, uint64_t nr);
/* Slot of gfn in the range, or RTV_P2M_NO_SLOT (outside it, or unlisted). */
#define RTV_P2M_NO_SLOT       (~(uint64_t)0)
uint64_t rtv_p2m_slot(const struct rtv_p2m_range *range, uint64_t gfn);

struct rtv_p2m_hooks {
    /* Who owns machine frame mfn: enum rtv_p2m_frame_kind.  Required. */
    unsigned int (*frame_kind)(void *ctx, uint64_t mfn);
    /* Called for each operation in plan order; nonzero stops the plan and
     * is returned by rtv_p2m_plan().  May be NULL (count only).  It may
     * apply the operation to the range's p2m (or sparse mfn) in place: the
     * planner reads an entry before emitting the operation that changes it,
     * and never after.
     * The oracle is only asked before the first emit. */
    int (*emit)(void *ctx, const struct rtv_p2m_op *op);
    /* A hint that frame_kind(mfn) will be asked soon (the caller may
     * prefetch what it reads).  May be NULL. */
    void (*prefetch)(void *ctx, uint64_t mfn);
    /* Progress of long work: phase 0 classify, 1 chains, 2 cycles; done of
     * total slots.
     * May be NULL. */
    void (*progress)(void *ctx, unsigned int phase, uint64_t done, uint64_t total);
    void *ctx;
};

/* Workspace bytes the bookkeeping needs for range: BACKMAP 4 a slot
 * (rtv_p2m_slots()), REFCOUNT 2 bits a page (flat) or a directory of 32
 * bytes a 64 pages plus 64 (sparse: 4 bits a page), SEARCH 0; 0 for a bad
 * range.  Any alignment will do. */
size_t rtv_p2m_workspace_size(const struct rtv_p2m_range *range, unsigned int bookkeeping);

/*
 * Classify every slot of range into klass[0 .. slots-1] and count the
 * classes (unlisted gfns of a sparse range count as identity).
 * ws/ws_size: workspace of rtv_p2m_workspace_size() bytes (NULL for SEARCH).
 * Returns 0, or -EINVAL (bad range / mode / mfn), -ENOSPC (workspace short).
 */
int rtv_p2m_query(const struct rtv_p2m_range *range,
                  unsigned int bookkeeping, void *ws, size_t ws_size,
                  const struct rtv_p2m_hooks *hooks,
                  uint8_t *klass, struct rtv_p2m_counts *counts);

/*
 * Query, then emit the plan through hooks->emit in canonical order (chains
 * from their free end, lowest gfn first; then cycles, lowest gfn first), and
 * leave each page's final class in klass.  Returns 0, a query error, or the
 * emit hook's nonzero value (counts then cover what was emitted).
 */
int rtv_p2m_plan(const struct rtv_p2m_range *range,
                 unsigned int bookkeeping, void *ws, size_t ws_size,
                 const struct rtv_p2m_hooks *hooks,
                 uint8_t *klass, struct rtv_p2m_counts *counts);

/* Is klass one of the FAIL_* classes (a page that cannot be made identity)? */
int rtv_p2m_class_failed(unsigned int klass);
/* Names for logs and JSON ("identity", "backmap", "move", ...); "?" if bad. */
const char *rtv_p2m_class_name(unsigned int klass);
const char *rtv_p2m_bookkeeping_name(unsigned int bookkeeping);
const char *rtv_p2m_op_name(unsigned int kind);
/* Parse a bookkeeping name; returns the mode or -1. */
int rtv_p2m_bookkeeping_parse(const char *name);

#ifndef __XEN__
/*
 * Host-side model of a machine, for the unit tests and the simulator
 * (common/p2m_plan_model.c): frames with owners and a 32-bit content tag,
 * one P2M range in either form, one scratch frame.  rtv_p2m_model_frame_kind
 * and rtv_p2m_model_apply are ready-made hooks (ctx = the model); apply
 * checks every operation against the machine and refuses a bad one, so a
 * wrong plan cannot pass silently.  The caller owns the arrays, except
 * those rtv_p2m_synth_build() allocates (rtv_p2m_model_release()).
 */
struct rtv_p2m_model {
    uint64_t nframes;           /* frames [0, nframes); beyond is not RAM */
    uint8_t *kind;              /* 2 bits a frame: rtv_p2m_model_kind_bytes() */
    uint32_t *content;          /* nframes, or NULL to skip data checks */
    uint64_t gfn_start, nr;
    uint64_t *p2m;              /* flat form: nr entries, updated by apply */
    /* or the sparse form (p2m NULL): see struct rtv_p2m_sparse */
    uint64_t *listed;
    uint32_t *rank, *mfn;
    uint64_t nlisted;
    uint32_t scratch_content;
    int scratch_busy;
    uint64_t applied;           /* operations applied */
    const char *error;          /* first refusal, NULL if none */
    uint64_t error_gfn;
};

/* Bytes of a model's kind[] for nframes frames (2 bits a frame). */
size_t rtv_p2m_model_kind_bytes(uint64_t nframes);
unsigned int rtv_p2m_model_kind(const struct rtv_p2m_model *m, uint64_t mfn);
void rtv_p2m_model_set_kind(struct rtv_p2m_model *m, uint64_t mfn, unsigned int kind);
/* The frame gfn of the range maps (identity for an unlisted sparse gfn). */
uint64_t rtv_p2m_model_entry(const struct rtv_p2m_model *m, uint64_t gfn);
/* The planner's view of the model's P2M (sparse is filled when sparse). */
void rtv_p2m_model_range(const struct rtv_p2m_model *m, struct rtv_p2m_range *range,
                         struct rtv_p2m_sparse *sparse);

unsigned int rtv_p2m_model_frame_kind(void *model, uint64_t mfn);
int rtv_p2m_model_apply(void *model, const struct rtv_p2m_op *op);
/* The tag the model's data for gfn starts with (and must end with). */
uint32_t rtv_p2m_model_tag(uint64_t gfn);
/* Fill content so that frame p2m[g] holds tag(g) for every RAM gfn. */
void rtv_p2m_model_fill(struct rtv_p2m_model *m);
/*
 * After a plan ran through apply: every page klass (per slot of m's range)
 * calls MOVED or IDENTITY maps frame gfn, every other page kept the frame
 * it has in orig (the model as it was before the plan, either form), and
 * every page's data is its tag (a FAIL_SOURCE_ALIASED page shares its
 * frame: only that it still has it, and that it is ours).  Returns 0, or -1
 * with *bad_gfn set.
 */
int rtv_p2m_model_verify(const struct rtv_p2m_model *m, const struct rtv_p2m_model *orig,
                         const uint8_t *klass, uint64_t *bad_gfn);

/*
 * A synthetic dom0-like machine for tests and the simulator, built in the
 * sparse form.  gfns [0, nr); a fraction identity_fraction is identity; of
 * the rest, cycle_fraction sits in explicit cycles of 2..max_cycle pages,
 * and the others take distinct frames in a pseudo-random order among the
 * frames nobody holds yet, i.e. the non-identity gfns' frames and nr/2 extra
 * frames above nr (which makes chains and the odd random cycle).  Frames of
 * [0, nr) that nobody took are free, except other_fraction owned by someone
 * else and not_ram_fraction not RAM; hole_fraction of gfns are not RAM.
 * Allocates the model's kind, listed, rank and mfn (content stays NULL);
 * memory: 2 bits a frame + 1.5 bits a gfn + 4 bytes a non-identity gfn (plus
 * 4 bytes a cycle page while building).  Returns 0, -EINVAL, -ENOMEM.
 */
struct rtv_p2m_synth {
    uint64_t nr;
    double identity_fraction, cycle_fraction, other_fraction;
    double not_ram_fraction, hole_fraction;
    unsigned int max_cycle;
    uint64_t seed;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
};
uint64_t rtv_p2m_synth_frames(uint64_t nr);
int rtv_p2m_synth_build(const struct rtv_p2m_synth *s, struct rtv_p2m_model *m);
/* Free what rtv_p2m_synth_build() allocated (and content, if set). */
void rtv_p2m_model_release(struct rtv_p2m_model *m);
/*
 * malloc (zeroed when `zero`) for the big arrays the planner reads at random
 * places, asking the kernel for transparent huge pages (madvise; a hint, so
 * ignored where unsupported): at 1 TiB each of those reads would otherwise
 * also miss the TLB, which in a VM costs a two-dimensional page walk.  Freed
 * with free().
 */
void *rtv_p2m_big_alloc(size_t bytes, int zero);
/* The PRNG behind it (splitmix64), for tests that want their own. */
uint64_t rtv_p2m_rand(uint64_t *state);
#endif /* !__XEN__ */

#endif /* RTVIRT_P2M_PLAN_H */
