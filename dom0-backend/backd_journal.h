/*
 * The ring journal: what a restarted rtvirt-backd needs to take over a live
 * blkif ring its killed predecessor was serving (dom0-backend/README.md,
 * "Restart: taking over the live ring").
 *
 * The ring alone cannot say which requests were taken and not answered:
 * responses go out in completion order and overwrite request slots.  So
 * every request taken off a queue is first copied into a slot of a small
 * file on tmpfs (one file per queue, mmap'd: a store into it outlives a
 * kill -9 of the process, not a reboot of dom0, which ends the guest's ring
 * too), and marked with the ring index its response goes to before that
 * response is written.  After a restart, the shared rsp_prod is the commit
 * point: a journaled request whose response index is below it was answered;
 * every other one was not, and is executed again (block requests the
 * frontend has not seen answered may be redone: a read reads again, a write
 * writes the same data again, a flush flushes again).
 *
 * The journal slot of a request is its backd_req slot (q->reqs[i]).
 */
#ifndef RTVIRT_BACKD_JOURNAL_H
#define RTVIRT_BACKD_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/blkif_abi.h"

#include "rtvirt/seam.h"

struct backd_journal;

/* What the journal is for: a takeover maps the ring only if the frontend
 * still offers exactly these. */
struct backd_journal_ring {
    rtv_domid_t domid;
    unsigned    devid, queue;
    unsigned    nr_pages;
    rtv_gref_t  refs[16];
    rtv_port_t  remote_port;
    unsigned    ring_size;       /* RING_SIZE: the number of slots */
};

/* Creates (replacing any old one) the journal of a newly connected ring in
 * dir.  NULL with errno set. */
struct backd_journal *backd_journal_create(const char *dir,
                                           const struct backd_journal_ring *ring);
/* Opens the journal a killed predecessor left for this ring.  NULL with
 * errno set and why[] filled when there is none or it is for another ring
 * (other refs, port, size: the frontend reconnected meanwhile). */
struct backd_journal *backd_journal_open(const char *dir,
                                         const struct backd_journal_ring *ring,
                                         char *why, size_t why_len);
/* keep: leave the file for the next incarnation (the daemon stops, the
 * ring lives on); else remove it (the ring is gone). */
void backd_journal_close(struct backd_journal *j, bool keep);
/* Removes the journal files of (domid, devid): a device that will not be
 * taken over. */
void backd_journal_remove_dev(const char *dir, rtv_domid_t domid, unsigned devid);

/* Request lifecycle, slot = its backd_req index. */
void backd_journal_taken(struct backd_journal *j, unsigned slot, RING_IDX req_idx,
                         const struct blkif_request *copy);
void backd_journal_responding(struct backd_journal *j, unsigned slot, RING_IDX rsp_idx);
void backd_journal_free(struct backd_journal *j, unsigned slot);
/* A successor begins serving slot's request again: returns how many have
 * (this one included), counted in the file, so a request that kills every
 * daemon serving it is recognised (backd_io.c answers it with an error
 * after BACKD_REPLAY_MAX). */
unsigned backd_journal_replaying(struct backd_journal *j, unsigned slot);

/*
 * After a restart, with rsp_prod read from the shared ring: frees the
 * answered slots and lists the unanswered ones in slots[] (ordered by the
 * ring index they were taken at) with their copies.  *req_cons is where
 * the predecessor stopped taking: rsp_prod + the unanswered count.
 * Returns that count.
 */
unsigned backd_journal_recover(struct backd_journal *j, RING_IDX rsp_prod,
                               unsigned *slots, struct blkif_request *copies,
                               RING_IDX *req_cons);

#endif
