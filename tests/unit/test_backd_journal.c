/*
 * rtvirt-backd's ring journal (dom0-backend/backd_journal.c): after a kill
 * at any point of a request's life, recovery must hand back exactly the
 * requests the frontend has not seen answered (the shared rsp_prod is the
 * commit point), in the order they were taken, and say where taking
 * resumes; a journal is picked up only for the very ring it was made for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dom0-backend/backd_journal.h"
#include "unit.h"

#define SLOTS 32u

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rtv-journal-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    backd_journal_remove_dev(dir, 3, 51712);
    rmdir(dir);
}

static const struct backd_journal_ring ring = {
    .domid = 3, .devid = 51712, .queue = 0, .nr_pages = 1, .refs = { 77 },
    .remote_port = 9, .ring_size = SLOTS,
};

static struct blkif_request req(uint64_t id)
{
    struct blkif_request r;

    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_WRITE;
    r.id = id;
    r.sector_number = id * 8;
    return r;
}

/* What a successor sees: the file reopened (the old mapping is gone with
 * the killed process). */
static struct backd_journal *successor(struct backd_journal *j)
{
    char why[300];

    backd_journal_close(j, true);
    j = backd_journal_open(dir, &ring, why, sizeof(why));
    ck_assert_msg(j != NULL, "%s", why);
    return j;
}

START_TEST(unanswered_come_back_in_taken_order)
{
    struct backd_journal *j = backd_journal_create(dir, &ring);
    struct blkif_request r, copies[SLOTS];
    unsigned slots[SLOTS];
    RING_IDX cons;

    ck_assert_ptr_nonnull(j);
    /* Requests 10..13 (ring indexes) in slots 5, 2, 7, 1. */
    r = req(100); backd_journal_taken(j, 5, 10, &r);
    r = req(101); backd_journal_taken(j, 2, 11, &r);
    r = req(102); backd_journal_taken(j, 7, 12, &r);
    r = req(103); backd_journal_taken(j, 1, 13, &r);
    /* 101 answered first (response index 10, pushed, slot freed). */
    backd_journal_responding(j, 2, 10);
    backd_journal_free(j, 2);
    /* 103 answered at 11 and pushed: the kill came before the slot was
     * freed (rsp_prod 12 covers it). */
    backd_journal_responding(j, 1, 11);
    /* 100's response written at 12, the kill came before the push. */
    backd_journal_responding(j, 5, 12);
    j = successor(j);
    ck_assert_uint_eq(backd_journal_recover(j, 12, slots, copies, &cons), 2);
    ck_assert_uint_eq(slots[0], 5);           /* taken at 10 */
    ck_assert_uint_eq(copies[0].id, 100);
    ck_assert_uint_eq(slots[1], 7);           /* taken at 12 */
    ck_assert_uint_eq(copies[1].id, 102);
    ck_assert_uint_eq(cons, 14);               /* 10..13 were taken */
    /* Recovery is idempotent: a successor killed at once finds the same. */
    j = successor(j);
    ck_assert_uint_eq(backd_journal_recover(j, 12, slots, copies, &cons), 2);
    ck_assert_uint_eq(cons, 14);
    backd_journal_close(j, false);
}
END_TEST

START_TEST(nothing_in_flight_resumes_at_rsp_prod)
{
    struct backd_journal *j = backd_journal_create(dir, &ring);
    struct blkif_request r = req(1), copies[SLOTS];
    unsigned slots[SLOTS];
    RING_IDX cons;

    ck_assert_ptr_nonnull(j);
    backd_journal_taken(j, 0, 40, &r);
    backd_journal_responding(j, 0, 40);
    backd_journal_free(j, 0);
    j = successor(j);
    ck_assert_uint_eq(backd_journal_recover(j, 41, slots, copies, &cons), 0);
    ck_assert_uint_eq(cons, 41);
    backd_journal_close(j, false);
}
END_TEST

START_TEST(ring_indexes_wrap)
{
    struct backd_journal *j = backd_journal_create(dir, &ring);
    struct blkif_request r, copies[SLOTS];
    unsigned slots[SLOTS];
    RING_IDX cons;

    ck_assert_ptr_nonnull(j);
    r = req(1); backd_journal_taken(j, 3, 0xfffffffeu, &r);
    r = req(2); backd_journal_taken(j, 4, 0xffffffffu, &r);
    r = req(3); backd_journal_taken(j, 0, 0, &r);
    /* 2 answered at 0xfffffffe and pushed; 3's response at 0xffffffff
     * was not pushed. */
    backd_journal_responding(j, 4, 0xfffffffeu);
    backd_journal_responding(j, 0, 0xffffffffu);
    j = successor(j);
    ck_assert_uint_eq(backd_journal_recover(j, 0xffffffffu, slots, copies, &cons), 2);
    ck_assert_uint_eq(copies[0].id, 1);       /* 0xfffffffe before 0 */
    ck_assert_uint_eq(copies[1].id, 3);
    ck_assert_uint_eq(cons, 1);                /* 0xffffffff + 2, wrapped */
    backd_journal_close(j, false);
}
END_TEST

START_TEST(only_the_same_ring_is_picked_up)
{
    struct backd_journal *j = backd_journal_create(dir, &ring);
    struct backd_journal_ring other = ring;
    char why[300];

    ck_assert_ptr_nonnull(j);
    backd_journal_close(j, true);
    other.refs[0] = 78;                        /* the frontend re-made its ring */
    ck_assert_ptr_null(backd_journal_open(dir, &other, why, sizeof(why)));
    ck_assert_int_eq(errno, ESTALE);
    ck_assert_ptr_nonnull(strstr(why, "another ring"));
    other = ring;
    other.remote_port = 10;
    ck_assert_ptr_null(backd_journal_open(dir, &other, why, sizeof(why)));
    other = ring;
    other.ring_size = 64;
    ck_assert_ptr_null(backd_journal_open(dir, &other, why, sizeof(why)));
    other = ring;
    other.queue = 1;                           /* no such file */
    ck_assert_ptr_null(backd_journal_open(dir, &other, why, sizeof(why)));
    ck_assert_ptr_nonnull(strstr(why, "no journal"));
    /* The ring goes: so does its journal. */
    j = backd_journal_open(dir, &ring, why, sizeof(why));
    ck_assert_ptr_nonnull(j);
    backd_journal_close(j, false);
    ck_assert_ptr_null(backd_journal_open(dir, &ring, why, sizeof(why)));
}
END_TEST

/* A request every successor dies serving is recognised: the count lives in
 * the file, survives each successor, and starts again for a new request in
 * the slot. */
START_TEST(replays_are_counted_across_successors)
{
    struct backd_journal *j = backd_journal_create(dir, &ring);
    struct blkif_request r = req(7), copies[SLOTS];
    unsigned slots[SLOTS];
    RING_IDX cons;

    ck_assert_ptr_nonnull(j);
    backd_journal_taken(j, 4, 100, &r);
    for (unsigned n = 1; n <= 4; n++) {
        j = successor(j);
        ck_assert_uint_eq(backd_journal_recover(j, 100, slots, copies, &cons), 1);
        ck_assert_uint_eq(slots[0], 4);
        ck_assert_uint_eq(backd_journal_replaying(j, 4), n);   /* ...and it dies */
    }
    backd_journal_responding(j, 4, 100);
    backd_journal_free(j, 4);
    r = req(8);
    backd_journal_taken(j, 4, 101, &r);
    j = successor(j);
    ck_assert_uint_eq(backd_journal_recover(j, 101, slots, copies, &cons), 1);
    ck_assert_uint_eq(backd_journal_replaying(j, 4), 1);
    backd_journal_close(j, false);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(backd_journal_suite, "backd_journal", "journal", setup, teardown, 0,
                        unanswered_come_back_in_taken_order, nothing_in_flight_resumes_at_rsp_prod,
                        ring_indexes_wrap, only_the_same_ring_is_picked_up,
                        replays_are_counted_across_successors)

RTV_UNIT_MAIN(backd_journal_suite)
