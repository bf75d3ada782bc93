// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rtvirt: the data path of rtvirt's shunt, in the guest kernel.
 *
 * A guest's filesystem sits on /dev/mapper/rtvirt-<vdev>.  The device has two
 * legs that reach the same disk image in dom0: the emulated disk (ata_piix/sd,
 * trapped to qemu) and the PV disk (the stock xen-blkfront).  Which leg a bio
 * takes is the table's mode:
 *
 *   emulated   everything to the emulated leg
 *   pv         everything to the PV leg
 *   selective  reads and writes via PV, every other operation (discard,
 *              write-zeroes) via emulated, and a flush covers both legs
 *              (seed 004: the shunt diverts some requests and passes the
 *              others through)
 *
 * Switching is a target message, not a table swap (shunt/README.md, "The
 * flip"): once a table holds both legs, `dmsetup message <dev> 0 mode pv`
 * changes the route under the target's lock and new bios take the new leg at
 * once; nothing is suspended and nothing waits for the old leg.  The bios in
 * flight on the old leg at the flip are concurrent with the new ones (the
 * block layer orders nothing between requests in flight at once).  Two
 * things still order across the legs:
 *
 *   - a flush: a FLUSH (REQ_PREFLUSH, and so FUA's preflush) covers every
 *     leg written since its last flush, not only the leg in force: a table
 *     with a PV leg asks dm for one empty flush per leg and sends each leg
 *     its clone when the leg is in force or was written since its last
 *     flush (the other clone ends at once);
 *   - flush_at_flip (default on; flush_at_suspend's job, moved here): a leg
 *     whose device model keeps a cache of its own (a stub domain's qemu)
 *     shows the other leg only what was flushed.  `prepare` flushes the
 *     legs in force before the flip (outside the window: I/O goes on) and
 *     records the writes that complete on them from then on; after the flip
 *     a bio on the other leg that overlaps one of those writes is held until
 *     the old legs' writes of before the flip have drained and those legs are
 *     flushed again, then goes on.  Nothing else waits.  Off (both legs reach
 *     one image file through dom0's page cache, what rtvirt-backd checks),
 *     `prepare` is a no-op and the flip holds nothing.
 *
 * Attaching and dropping the PV leg stay device-mapper's table swap (load,
 * suspend, resume), done by rtvirt-shunt outside the flip: before a flip to
 * pv/selective, after a flip back to emulated.  Between the drain and the new
 * table, postsuspend flushes every leg this table wrote (flush_at_suspend,
 * default on), so whatever either leg acknowledged is in the image before a
 * table that routes otherwise reads it through the other leg.
 *
 * Failover: a bio that fails on the PV leg (any error but "operation not
 * supported", which says nothing about the leg) is re-issued on the emulated
 * leg, so the filesystem sees no error, and from then on this table routes
 * everything to the emulated leg.  Both legs reach the same image file, so
 * the emulated leg serves the same data.  The status line says so and a dm
 * event wakes `dmsetup wait`.  The state lives in the table: loading a new
 * table clears it, and so does the message `clear-failover` once the route
 * is emulated and nothing is in flight on the PV leg (rtvirt-shunt sends it
 * after it dropped the dead disk, so a return to PV needs no table swap of
 * the guest's device).
 *
 * The PV disk direct (1.3): the table's PV leg is rtvirt-shunt's PV leg
 * device, a dm-linear over the blkfront disk, so a bio routed to it passed
 * two dm devices, and each costs a clone and its accounting per bio (on
 * null_blk legs under TCG a dm layer is ~1.8k instructions a bio, 0.83x the
 * raw disk at 4k QD1, and the target no more than dm-linear: `make
 * kmod-bench`).  `pv-disk <major:minor>` tells the target the disk the PV
 * leg device maps: the target opens it too and sends the bios it routes to
 * the PV leg there, past the PV leg device; `pv-disk -` stops that (new
 * bios take the PV leg device again), waits a bounded time for the bios
 * already sent to the disk, and closes it once they are all back.  The PV
 * leg device stays what attach, drop, flush and failover are done with;
 * the message only shortens the path, and a target never told keeps the
 * long one.
 *
 * Table line:  <start> <len> rtvirt <mode> <emulated_dev> <pv_dev|->
 *              (mode: the one in force, after any flip)
 * Status:      <mode-in-force> <ok|failed-over> <failovers> <pv_errors>
 *              <flip-state> <held> <flips> <last-flip-stall-us>
 * Messages:    prepare | cancel | mode <emulated|pv|selective> | clear-failover
 *              | pv-disk <major:minor|->
 * (shunt/README.md documents them.)
 *
 * Context: map runs in the submitter's context, end_io in completion context
 * (possibly hard irq), so end_io only records and queues; the re-issue and
 * the flip's flushes and release of held bios, which may sleep, run on a
 * WQ_MEM_RECLAIM workqueue (the filesystem's writeback may depend on them to
 * free memory).  Messages run in the ioctl's process context.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#define DM_MSG_PREFIX "rtvirt"

enum rtv_mode { RTV_EMULATED, RTV_PV, RTV_SELECTIVE, RTV_NR_MODES };

static const char *const rtv_mode_names[RTV_NR_MODES] = {
	[RTV_EMULATED] = "emulated",
	[RTV_PV] = "pv",
	[RTV_SELECTIVE] = "selective",
};

/* The legs; also the bit numbers of rtv_target.dirty and of leg masks.
 * LEG_NONE: a bio the target ended itself (a flush clone a leg does not
 * need, a REQ_NOWAIT bio it would have had to hold). */
enum rtv_leg { LEG_EMU, LEG_PV, NR_LEGS, LEG_NONE = NR_LEGS };

/* Bits of rtv_target.flags. */
enum {
	RTV_FAILED_OVER,	/* route everything to the emulated leg */
	RTV_REPORTED,		/* the failover was logged and the dm event raised */
};

/*
 * rtv_target.route, one word so that map reads the mode, the hold check and
 * the epoch of a flip together: the mode in its low bits, ROUTE_HOLDING while
 * a flip's hold phase runs (bios are then checked against the old legs'
 * recent writes), ROUTE_EPOCH flips with every mode change (the writes of
 * before and after a flip are counted apart).
 */
#define ROUTE_MODE	0x3UL
#define ROUTE_HOLDING	0x4UL
#define ROUTE_EPOCH	0x8UL

/* The flip's own state (flush_at_flip), under rtv_target.lock. */
enum rtv_flip_state {
	FLIP_IDLE,
	FLIP_PREPARING,		/* the legs in force are being flushed */
	FLIP_PREPARED,		/* flushed; their writes recorded since */
	FLIP_DRAINING,		/* flipped; holding what overlaps those writes */
	FLIP_NR_STATES,
};

static const char *const rtv_flip_names[FLIP_NR_STATES] = {
	[FLIP_IDLE] = "idle",
	[FLIP_PREPARING] = "preparing",
	[FLIP_PREPARED] = "prepared",
	[FLIP_DRAINING] = "draining",
};

/* A write that completed on a leg after `prepare` (sectors of the legs). */
struct rtv_range {
	sector_t start, end;
	enum rtv_leg leg;
};

/*
 * Enough for the writes of a flush and a drain at the queue depths of a
 * guest (fio QD4 in the lab: tens); past it the leg counts as written all
 * over (rtv_target.overflow) and every bio to the other leg is held.
 */
#define RTV_MAX_RANGES 256

struct rtv_target {
	struct dm_target *ti;
	struct dm_dev *leg[NR_LEGS];	/* leg[LEG_PV] is NULL without a PV leg */
	unsigned long route;		/* ROUTE_* (above) */
	unsigned long flags;
	unsigned long dirty;		/* legs written since their last flush */
	atomic64_t failovers;		/* bios re-issued on the emulated leg */
	atomic64_t pv_errors;		/* PV-leg completions with an error */
	int first_pv_error;		/* errno of the error that failed us over */

	spinlock_t lock;		/* protects retry and the flip below */
	struct bio_list retry;		/* failed on PV, to re-issue on emulated */
	struct work_struct retry_work;

	/* The flip (messages; flush_at_flip). */
	struct mutex msg_lock;		/* one message at a time */
	atomic_t writes[NR_LEGS][2];	/* writes in flight per leg and epoch */
	wait_queue_head_t drained;	/* woken when a count above reaches 0 */
	enum rtv_flip_state fstate;
	unsigned int prepare_gen;	/* bumped by each prepare and cancel */
	bool tracking;			/* record completed writes (prepare..release) */
	unsigned int track_epoch;	/* ... of this epoch */
	unsigned long track_legs;	/* ... on these legs (those in force) */
	unsigned long overflow;		/* legs with more writes than ranges */
	unsigned int nr_ranges;
	struct rtv_range *ranges;	/* RTV_MAX_RANGES */
	struct bio_list held;		/* bios waiting for the old legs' flush */
	unsigned int nr_held;
	u64 flips;
	u64 last_stall_us;		/* the longest a bio was held, last flip */
	struct delayed_work flip_work;	/* prepare's flush, the drain and release */

	/* The PV disk direct (pv-disk): map reads it under RCU. */
	struct block_device __rcu *direct;
	struct block_device *direct_closing;	/* told to stop; bios still out */
	atomic_t direct_inflight;	/* bios sent to a direct disk, not back */
	wait_queue_head_t direct_drained;
	struct work_struct direct_close_work;
};

/*
 * Per bio: where it went and what re-issuing it needs.  dm-bio-record.h,
 * which dm-mpath uses for the same job, is not an exported header, so the
 * fields a completed bio no longer has intact are kept here: the iterator
 * (the lower driver advanced it), the flags and the remaining count (a split
 * below us chained the bio).  counted: a write in rtv_target.writes[leg][epoch].
 * direct: sent to the PV disk direct, counted in rtv_target.direct_inflight.
 */
struct rtv_io {
	enum rtv_leg leg;
	bool direct;
	struct bvec_iter iter;
	unsigned short bi_flags;
	int remaining;
	bool counted;
	unsigned int epoch;
	ktime_t held_at;
};

/*
 * Two queues: a flip's worker may wait for the old leg's writes, and one of
 * those may need the failover worker to complete (a PV write re-issued on
 * the emulated leg); under memory pressure a WQ_MEM_RECLAIM queue may have
 * only its rescuer, so they must not share one.
 */
static struct workqueue_struct *rtv_wq;		/* failover re-issues */
static struct workqueue_struct *rtv_flip_wq;	/* prepare's flush, the drain, the release */

/*
 * On by default (above).  Off, a table swap's suspend is the drain alone: in
 * the lab each flush is an ATA flush through qemu or a blkif flush through
 * rtvirt-backd, an fdatasync in a nested dom0.  Read at each suspend.
 */
static bool flush_at_suspend = true;
module_param(flush_at_suspend, bool, 0644);
MODULE_PARM_DESC(flush_at_suspend,
		 "flush the legs a table wrote when it is suspended (default: yes; not needed when both legs reach one image file through dom0's page cache)");

/* On by default (above).  Read at each `prepare`. */
static bool flush_at_flip = true;
module_param(flush_at_flip, bool, 0644);
MODULE_PARM_DESC(flush_at_flip,
		 "at a flip, flush the legs left and hold bios on the other leg that overlap their last writes until then (default: yes; not needed when both legs reach one image file through dom0's page cache)");

/*
 * 0: the flip's worker (the drain, the flush of the old legs, the release
 * of held bios) is woken inside the mode message, and on a guest with one
 * vCPU it runs first, so the message (the switch's window) returns only
 * after it.  N (default 1): by a timer N ms later (rounded up to a jiffy),
 * so the message returns before the worker runs; bios a flip holds (those
 * that overlap the old legs' last writes, none in 127 switches of the
 * lab) wait that much longer.  Measured by rtvirt-flip-cost in make
 * kmod-check and in the lab (tests/lab/LOG.md, "The flip", "The PV
 * leg device"): the window's median 0.227 ms with 0, 0.113 ms with 1.
 */
static unsigned int flip_worker_delay_ms = 1;
module_param(flip_worker_delay_ms, uint, 0644);
MODULE_PARM_DESC(flip_worker_delay_ms,
		 "wake the flip's worker this many ms after a mode message instead of inside it (default 1)");

static enum rtv_mode route_mode(unsigned long route)
{
	return route & ROUTE_MODE;
}

static unsigned int route_epoch(unsigned long route)
{
	return !!(route & ROUTE_EPOCH);
}

/* The legs the mode sends data to (failed over: the emulated leg). */
static unsigned long rtv_legs_in_force(struct rtv_target *rt, enum rtv_mode mode)
{
	if (mode == RTV_EMULATED || test_bit(RTV_FAILED_OVER, &rt->flags))
		return BIT(LEG_EMU);
	if (mode == RTV_PV)
		return BIT(LEG_PV);
	return BIT(LEG_EMU) | BIT(LEG_PV);
}

static bool rtv_is_empty_flush(struct bio *bio)
{
	return (bio->bi_opf & REQ_PREFLUSH) && !bio_sectors(bio);
}

static enum rtv_leg rtv_route(struct rtv_target *rt, enum rtv_mode mode, struct bio *bio)
{
	if (mode == RTV_EMULATED || test_bit(RTV_FAILED_OVER, &rt->flags))
		return LEG_EMU;
	if (mode == RTV_PV)
		return LEG_PV;
	/* Selective: reads and writes via PV, the rest via emulated. */
	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		return LEG_PV;
	default:
		return LEG_EMU;
	}
}

/*
 * An empty flush.  With a PV leg dm hands it to us twice (num_flush_bios =
 * 2), clone 0 for the emulated leg and clone 1 for the PV leg; a clone goes to
 * its leg when the leg is in force or was written since its last flush (a
 * write that completed on the leg left before a flip is covered by the
 * guest's next flush), else it ends here.  A failed-over PV leg is never asked
 * (a dead blkfront may never answer): the emulated leg's flush covers what it
 * wrote, as both write the same image file and the emulated disk's flush
 * reaches qemu's fdatasync of it.
 */
static enum rtv_leg rtv_flush_leg(struct rtv_target *rt, enum rtv_mode mode, struct bio *bio)
{
	enum rtv_leg leg = rt->leg[LEG_PV] && dm_bio_get_target_bio_nr(bio) == 1 ? LEG_PV : LEG_EMU;
	bool needed = rtv_legs_in_force(rt, mode) & BIT(leg);

	if (leg == LEG_PV && test_bit(RTV_FAILED_OVER, &rt->flags)) {
		if (test_and_clear_bit(LEG_PV, &rt->dirty))
			set_bit(LEG_EMU, &rt->dirty);
		return LEG_NONE;
	}
	/* Cleared before the flush is sent: a write completing later sets it
	 * again, and the next flush covers it. */
	if (test_bit(leg, &rt->dirty) && test_and_clear_bit(leg, &rt->dirty))
		needed = true;
	return needed ? leg : LEG_NONE;
}

/* A count in rt->writes reached 0.  Only a flip's worker waits on it, so
 * the common case (no one waiting) takes no lock: atomic_dec_and_test is a
 * full barrier and wq_has_sleeper another, against the waiter's
 * prepare_to_wait. */
static void rtv_wake_drained(struct rtv_target *rt)
{
	if (wq_has_sleeper(&rt->drained))
		wake_up_all(&rt->drained);
}

/* The last bio of a direct disk that was told to stop is back: close it
 * (blkdev_put may sleep: not from a completion). */
static void rtv_direct_close_work(struct work_struct *work)
{
	struct rtv_target *rt = container_of(work, struct rtv_target, direct_close_work);
	struct block_device *bdev = NULL;

	/* (closing is set only while no disk is direct: the count is its bios) */
	if (!atomic_read(&rt->direct_inflight))
		bdev = xchg(&rt->direct_closing, NULL);
	if (bdev)
		blkdev_put(bdev, dm_table_get_mode(rt->ti->table));
}

/* A bio sent to the direct disk is back (or was never sent). */
static void rtv_direct_put(struct rtv_target *rt, struct rtv_io *io)
{
	if (!io->direct)
		return;
	io->direct = false;
	if (atomic_dec_and_test(&rt->direct_inflight)) {
		if (READ_ONCE(rt->direct_closing))
			queue_work(rtv_wq, &rt->direct_close_work);
		if (wq_has_sleeper(&rt->direct_drained))
			wake_up_all(&rt->direct_drained);
	}
}

/* Called with rt->lock held, while FLIP_DRAINING: does bio (sectors of the
 * legs), going to leg, overlap a write recorded on another leg? */
static bool rtv_overlaps_old_writes(struct rtv_target *rt, enum rtv_leg leg, struct bio *bio)
{
	sector_t start = bio->bi_iter.bi_sector, end = bio_end_sector(bio);
	unsigned int i;

	if (rt->overflow & ~BIT(leg))
		return true;
	for (i = 0; i < rt->nr_ranges; i++)
		if (rt->ranges[i].leg != leg && rt->ranges[i].start < end && start < rt->ranges[i].end)
			return true;
	return false;
}

static int rtv_map(struct dm_target *ti, struct bio *bio)
{
	struct rtv_target *rt = ti->private;
	struct rtv_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct block_device *direct;
	unsigned long route, flags;
	enum rtv_leg leg;

	io->counted = false;
	io->direct = false;
	/*
	 * The route word and the count of a write are one RCU read section:
	 * after a flip, synchronize_rcu() means every write that read the old
	 * epoch is counted in it.
	 */
	rcu_read_lock();
	route = READ_ONCE(rt->route);
	io->epoch = route_epoch(route);
	leg = rtv_is_empty_flush(bio) ? rtv_flush_leg(rt, route_mode(route), bio)
				      : rtv_route(rt, route_mode(route), bio);
	io->leg = leg;
	if (leg == LEG_NONE) {
		rcu_read_unlock();
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	/* The PV disk direct if told (counted in this RCU section: pv-disk's
	 * synchronize_rcu then sees every bio that took it), else the leg. */
	direct = leg == LEG_PV ? rcu_dereference(rt->direct) : NULL;
	if (direct) {
		atomic_inc(&rt->direct_inflight);
		io->direct = true;
		bio_set_dev(bio, direct);
	} else {
		bio_set_dev(bio, rt->leg[leg]->bdev);
	}
	/* Both legs have the layout of the disk: the offset is the same. */
	if (bio_sectors(bio))
		bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	io->iter = bio->bi_iter;
	io->bi_flags = bio->bi_flags;
	io->remaining = atomic_read(&bio->__bi_remaining);
	if (op_is_write(bio_op(bio)) && bio_sectors(bio)) {
		atomic_inc(&rt->writes[leg][io->epoch]);
		io->counted = true;
	}
	rcu_read_unlock();

	if (!(route & ROUTE_HOLDING) || !bio_sectors(bio))
		return DM_MAPIO_REMAPPED;
	/* A flip's hold phase: the rare path, under the lock. */
	spin_lock_irqsave(&rt->lock, flags);
	if (rt->fstate != FLIP_DRAINING || !rtv_overlaps_old_writes(rt, leg, bio)) {
		spin_unlock_irqrestore(&rt->lock, flags);
		return DM_MAPIO_REMAPPED;
	}
	if (bio->bi_opf & REQ_NOWAIT) {
		/* As dm does for a suspended device: the submitter retries it
		 * where it may block (and where it is then held). */
		spin_unlock_irqrestore(&rt->lock, flags);
		if (io->counted && atomic_dec_and_test(&rt->writes[leg][io->epoch]))
			rtv_wake_drained(rt);
		io->counted = false;
		rtv_direct_put(rt, io);
		io->leg = LEG_NONE;
		bio_wouldblock_error(bio);
		return DM_MAPIO_SUBMITTED;
	}
	io->held_at = ktime_get();
	bio_list_add(&rt->held, bio);
	rt->nr_held++;
	spin_unlock_irqrestore(&rt->lock, flags);
	return DM_MAPIO_SUBMITTED;
}

/* A write completed on leg: recorded for the flip, counted out.  In that
 * order: the drain that sees the count reach 0 must see the range. */
static void rtv_write_done(struct rtv_target *rt, struct rtv_io *io, enum rtv_leg leg, bool ok)
{
	unsigned long flags;

	if (ok && !test_bit(leg, &rt->dirty))
		set_bit(leg, &rt->dirty);
	if (ok && READ_ONCE(rt->tracking)) {
		spin_lock_irqsave(&rt->lock, flags);
		if (rt->tracking && io->epoch == rt->track_epoch && (rt->track_legs & BIT(leg))) {
			if (rt->nr_ranges < RTV_MAX_RANGES) {
				struct rtv_range *r = &rt->ranges[rt->nr_ranges++];

				r->start = io->iter.bi_sector;
				r->end = io->iter.bi_sector + (io->iter.bi_size >> SECTOR_SHIFT);
				r->leg = leg;
			} else {
				rt->overflow |= BIT(leg);
			}
		}
		spin_unlock_irqrestore(&rt->lock, flags);
	}
	if (atomic_dec_and_test(&rt->writes[leg][io->epoch]))
		rtv_wake_drained(rt);
}

static int rtv_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct rtv_target *rt = ti->private;
	struct rtv_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long flags;
	bool lost;

	if (io->leg == LEG_NONE)
		return DM_ENDIO_DONE;
	rtv_direct_put(rt, io);
	/*
	 * An operation the PV disk does not do (discard, say), or a REQ_NOWAIT
	 * bio the disk would have had to wait for (no free request: the
	 * submitter, io_uring say, retries it where it may block): not a lost
	 * leg.
	 */
	lost = io->leg == LEG_PV && *error != BLK_STS_OK && *error != BLK_STS_NOTSUPP &&
	       *error != BLK_STS_AGAIN;
	if (io->counted && !lost)
		rtv_write_done(rt, io, io->leg, *error == BLK_STS_OK);
	if (io->leg != LEG_PV || *error == BLK_STS_OK)
		return DM_ENDIO_DONE;
	atomic64_inc(&rt->pv_errors);
	if (!lost)
		return DM_ENDIO_DONE;
	if (!test_and_set_bit(RTV_FAILED_OVER, &rt->flags))
		rt->first_pv_error = blk_status_to_errno(*error);
	if (io->counted) {
		/* Counted on the emulated leg from now (same epoch): in, then out. */
		atomic_inc(&rt->writes[LEG_EMU][io->epoch]);
		if (atomic_dec_and_test(&rt->writes[LEG_PV][io->epoch]))
			rtv_wake_drained(rt);
	}
	io->leg = LEG_EMU;
	spin_lock_irqsave(&rt->lock, flags);
	bio_list_add(&rt->retry, bio);
	spin_unlock_irqrestore(&rt->lock, flags);
	queue_work(rtv_wq, &rt->retry_work);
	/* dm keeps the original bio open until the re-issued clone completes. */
	return DM_ENDIO_INCOMPLETE;
}

static void rtv_report_failover(struct rtv_target *rt)
{
	if (!test_and_set_bit(RTV_REPORTED, &rt->flags)) {
		DMWARN("%s: PV leg %s failed (error %d): failed over to the emulated leg %s",
		       dm_table_device_name(rt->ti->table), rt->leg[LEG_PV]->name,
		       rt->first_pv_error, rt->leg[LEG_EMU]->name);
		dm_table_event(rt->ti->table);
	}
}

static void rtv_retry_work(struct work_struct *work)
{
	struct rtv_target *rt = container_of(work, struct rtv_target, retry_work);
	struct bio_list list;
	struct bio *bio;

	spin_lock_irq(&rt->lock);
	list = rt->retry;
	bio_list_init(&rt->retry);
	spin_unlock_irq(&rt->lock);

	/*
	 * Report before re-issuing: the status line already says failed-over
	 * (the flag is set in end_io), so whoever `dmsetup wait`s reads it.
	 */
	rtv_report_failover(rt);

	while ((bio = bio_list_pop(&list))) {
		struct rtv_io *io = dm_per_bio_data(bio, sizeof(*io));

		bio->bi_iter = io->iter;
		bio->bi_flags = io->bi_flags;
		atomic_set(&bio->__bi_remaining, io->remaining);
		bio->bi_status = BLK_STS_OK;
		/* This worker may wait for a request; a would-block error now
		 * would reach the filesystem. */
		bio->bi_opf &= ~REQ_NOWAIT;
		bio_set_dev(bio, rt->leg[LEG_EMU]->bdev);
		atomic64_inc(&rt->failovers);
		submit_bio_noacct(bio);
	}
}

/*
 * Flushes leg and says whether it did.  The PV leg, once failed over, is not
 * asked (a dead blkfront may never answer): the emulated leg's flush covers
 * what it wrote, so that one is flushed instead.  A PV flush that fails fails
 * over the same way.  Sleeps.
 */
static void rtv_flush_leg_now(struct rtv_target *rt, enum rtv_leg leg, const char *why)
{
	int r;

	clear_bit(leg, &rt->dirty);
	if (leg == LEG_PV && !test_bit(RTV_FAILED_OVER, &rt->flags)) {
		r = blkdev_issue_flush(rt->leg[LEG_PV]->bdev);
		if (!r)
			return;
		atomic64_inc(&rt->pv_errors);
		DMWARN("%s: flush of the PV leg %s (%s) failed (error %d): flushing the emulated leg instead",
		       dm_table_device_name(rt->ti->table), rt->leg[LEG_PV]->name, why, r);
		if (!test_and_set_bit(RTV_FAILED_OVER, &rt->flags))
			rt->first_pv_error = r;
		rtv_report_failover(rt);
	}
	clear_bit(LEG_EMU, &rt->dirty);
	r = blkdev_issue_flush(rt->leg[LEG_EMU]->bdev);
	if (r)
		DMERR("%s: flush of the emulated leg %s (%s) failed (error %d)",
		      dm_table_device_name(rt->ti->table), rt->leg[LEG_EMU]->name, why, r);
}

/*
 * The flip's slow parts, off the ioctl and off the I/O path.
 *
 * FLIP_PREPARING: flush the legs in force that were written (their writes
 * completed before now are then in the image; those completing from now on
 * are being recorded), then FLIP_PREPARED and a dm event.
 *
 * FLIP_DRAINING: wait until every map that read the old epoch has counted its
 * write (an RCU grace period: the I/O goes on meanwhile), then until the old
 * legs' writes of that epoch completed, flush the old legs that completed a
 * recorded write, and let the held bios go on, on the route in force now.
 */
static void rtv_flip_work(struct work_struct *work)
{
	struct rtv_target *rt = container_of(to_delayed_work(work), struct rtv_target, flip_work);
	unsigned long legs, written;
	unsigned int old_epoch, i;
	struct bio_list held;
	struct bio *bio;
	ktime_t now;
	u64 stall = 0;
	int l;

	spin_lock_irq(&rt->lock);
	legs = rt->track_legs;
	old_epoch = rt->track_epoch;
	if (rt->fstate == FLIP_PREPARING) {
		unsigned int gen = rt->prepare_gen;

		spin_unlock_irq(&rt->lock);
		for (l = 0; l < NR_LEGS; l++)
			if ((legs & BIT(l)) && test_bit(l, &rt->dirty))
				rtv_flush_leg_now(rt, l, "prepare");
		spin_lock_irq(&rt->lock);
		/* Not if a cancel (and maybe a new prepare, whose recording
		 * began after these flushes) came meanwhile: that one's own
		 * run of this work decides. */
		if (rt->fstate == FLIP_PREPARING && rt->prepare_gen == gen)
			rt->fstate = FLIP_PREPARED;
		spin_unlock_irq(&rt->lock);
		dm_table_event(rt->ti->table);
		return;
	}
	if (rt->fstate != FLIP_DRAINING) {
		spin_unlock_irq(&rt->lock);
		return;
	}
	spin_unlock_irq(&rt->lock);

	synchronize_rcu();
	for (l = 0; l < NR_LEGS; l++)
		if (legs & BIT(l))
			wait_event(rt->drained, !atomic_read(&rt->writes[l][old_epoch]));

	/* Every write of the old epoch on the old legs is recorded now. */
	spin_lock_irq(&rt->lock);
	written = rt->overflow;
	for (i = 0; i < rt->nr_ranges; i++)
		written |= BIT(rt->ranges[i].leg);
	spin_unlock_irq(&rt->lock);
	for (l = 0; l < NR_LEGS; l++)
		if (written & BIT(l))
			rtv_flush_leg_now(rt, l, "flip");

	spin_lock_irq(&rt->lock);
	rt->tracking = false;
	rt->nr_ranges = 0;
	rt->overflow = 0;
	rt->fstate = FLIP_IDLE;
	WRITE_ONCE(rt->route, rt->route & ~ROUTE_HOLDING);
	held = rt->held;
	bio_list_init(&rt->held);
	rt->nr_held = 0;
	spin_unlock_irq(&rt->lock);

	now = ktime_get();
	while ((bio = bio_list_pop(&held))) {
		struct rtv_io *io = dm_per_bio_data(bio, sizeof(*io));

		stall = max_t(u64, stall, ktime_us_delta(now, io->held_at));
		if (io->leg == LEG_PV && test_bit(RTV_FAILED_OVER, &rt->flags)) {
			/* The PV leg failed meanwhile: its write count moves too. */
			if (io->counted) {
				atomic_inc(&rt->writes[LEG_EMU][io->epoch]);
				if (atomic_dec_and_test(&rt->writes[LEG_PV][io->epoch]))
					rtv_wake_drained(rt);
			}
			rtv_direct_put(rt, io);
			io->leg = LEG_EMU;
			bio_set_dev(bio, rt->leg[LEG_EMU]->bdev);
		}
		/* dm accounted it when map returned DM_MAPIO_SUBMITTED. */
		submit_bio_noacct(bio);
	}
	spin_lock_irq(&rt->lock);
	rt->last_stall_us = stall;
	spin_unlock_irq(&rt->lock);
	dm_table_event(rt->ti->table);
}

/* prepare: the legs in force flushed, their writes recorded from now. */
static int rtv_msg_prepare(struct rtv_target *rt)
{
	unsigned long route = READ_ONCE(rt->route);

	spin_lock_irq(&rt->lock);
	if (rt->fstate == FLIP_DRAINING) {
		spin_unlock_irq(&rt->lock);
		DMWARN("%s: prepare: the last flip is still draining", dm_table_device_name(rt->ti->table));
		return -EBUSY;
	}
	if (rt->fstate != FLIP_IDLE) {
		spin_unlock_irq(&rt->lock);
		return 0;   /* prepared or preparing already */
	}
	if (!READ_ONCE(flush_at_flip)) {
		rt->fstate = FLIP_PREPARED;
		spin_unlock_irq(&rt->lock);
		dm_table_event(rt->ti->table);
		return 0;
	}
	rt->tracking = true;
	rt->track_epoch = route_epoch(route);
	rt->track_legs = rtv_legs_in_force(rt, route_mode(route));
	rt->nr_ranges = 0;
	rt->overflow = 0;
	rt->fstate = FLIP_PREPARING;
	rt->prepare_gen++;
	spin_unlock_irq(&rt->lock);
	queue_delayed_work(rtv_flip_wq, &rt->flip_work, 0);
	return 0;
}

/* cancel: a prepare that no flip follows (the switch was given up).  Does
 * not wait for prepare's flush (a dead leg may never answer it). */
static int rtv_msg_cancel(struct rtv_target *rt)
{
	spin_lock_irq(&rt->lock);
	if (rt->fstate == FLIP_PREPARED || rt->fstate == FLIP_PREPARING) {
		rt->prepare_gen++;
		rt->tracking = false;
		rt->nr_ranges = 0;
		rt->overflow = 0;
		rt->fstate = FLIP_IDLE;
	}
	spin_unlock_irq(&rt->lock);
	return 0;
}

/* mode M: the flip.  New bios take the new route as soon as route is written. */
static int rtv_msg_mode(struct rtv_target *rt, const char *name)
{
	const char *dev = dm_table_device_name(rt->ti->table);
	unsigned long route;
	int mode = match_string(rtv_mode_names, RTV_NR_MODES, name);
	bool drain;

	if (mode < 0) {
		DMWARN("%s: mode %s: not emulated, pv or selective", dev, name);
		return -EINVAL;
	}
	if (mode != RTV_EMULATED && !rt->leg[LEG_PV]) {
		DMWARN("%s: mode %s: the table has no PV leg", dev, name);
		return -EINVAL;
	}
	if (mode != RTV_EMULATED && test_bit(RTV_FAILED_OVER, &rt->flags)) {
		DMWARN("%s: mode %s: failed over; load a table with a working PV leg", dev, name);
		return -EIO;
	}
	spin_lock_irq(&rt->lock);
	route = rt->route;
	if (rt->fstate == FLIP_IDLE && READ_ONCE(flush_at_flip) && route_mode(route) != mode) {
		spin_unlock_irq(&rt->lock);
		DMWARN("%s: mode %s: send prepare first (flush_at_flip)", dev, name);
		return -EAGAIN;
	}
	if (rt->fstate == FLIP_PREPARING || rt->fstate == FLIP_DRAINING) {
		spin_unlock_irq(&rt->lock);
		DMWARN("%s: mode %s: %s", dev, name, rt->fstate == FLIP_PREPARING ?
		       "prepare has not flushed yet" : "the last flip is still draining");
		return -EBUSY;
	}
	if (route_mode(route) == mode) {
		/* Nothing moves: a prepare, if any, is dropped. */
		rt->tracking = false;
		rt->fstate = FLIP_IDLE;
		spin_unlock_irq(&rt->lock);
		return 0;
	}
	drain = rt->tracking;
	route = (route & ~(ROUTE_MODE | ROUTE_HOLDING)) ^ ROUTE_EPOCH;
	route |= mode | (drain ? ROUTE_HOLDING : 0);
	rt->fstate = drain ? FLIP_DRAINING : FLIP_IDLE;
	rt->last_stall_us = 0;
	rt->flips++;
	WRITE_ONCE(rt->route, route);
	spin_unlock_irq(&rt->lock);
	/* With flip_worker_delay_ms, a timer wakes the worker after the
	 * message has returned: woken here, it may run first (above all on a
	 * guest with one vCPU) and the flip's ioctl returns only after it. */
	if (drain)
		queue_delayed_work(rtv_flip_wq, &rt->flip_work,
				   msecs_to_jiffies(READ_ONCE(flip_worker_delay_ms)));
	return 0;
}

/*
 * clear-failover: the table is "ok" again, so that a flip may take the PV
 * leg once it maps a working disk (rtvirt-shunt attaches a fresh one to the
 * PV leg device first; until then that leg is only asked for flushes, and
 * an `error` table without a write cache ends those at once).  Refused
 * while anything could still reach the PV leg or come back from it as a
 * failure of the old disk: a route other than emulated, a flip that has not
 * settled, writes of the PV leg in flight, re-issues queued.  A read of the
 * old disk still in flight that fails later fails over again, as it must.
 * The counters (failovers, pv_errors) go on counting for this table.
 */
static int rtv_msg_clear_failover(struct rtv_target *rt)
{
	const char *dev = dm_table_device_name(rt->ti->table);
	const char *busy = NULL;

	if (!test_bit(RTV_FAILED_OVER, &rt->flags))
		return 0;
	spin_lock_irq(&rt->lock);
	if (route_mode(rt->route) != RTV_EMULATED)
		busy = "the route is not emulated (flip to emulated first)";
	else if (rt->fstate != FLIP_IDLE)
		busy = "a flip has not settled";
	else if (atomic_read(&rt->writes[LEG_PV][0]) || atomic_read(&rt->writes[LEG_PV][1]))
		busy = "writes of the PV leg are in flight";
	else if (!bio_list_empty(&rt->retry))
		busy = "failed PV bios are being re-issued";
	if (!busy) {
		clear_bit(LEG_PV, &rt->dirty);
		rt->first_pv_error = 0;
		clear_bit(RTV_REPORTED, &rt->flags);
		clear_bit(RTV_FAILED_OVER, &rt->flags);
	}
	spin_unlock_irq(&rt->lock);
	if (busy) {
		DMWARN("%s: clear-failover: %s", dev, busy);
		return -EBUSY;
	}
	DMINFO("%s: failed-over state cleared (PV leg %s)", dev,
	       rt->leg[LEG_PV] ? rt->leg[LEG_PV]->name : "-");
	return 0;
}

/* How long `pv-disk -` waits for the bios it sent the disk (reads the flip
 * to emulated did not wait for; writes with flush_at_flip off).  Past it
 * the message fails, new bios take the PV leg device already, and the disk
 * is closed when its last bio is back. */
#define RTV_DIRECT_DRAIN_MS 1000

/* pv-disk -: new PV bios take the PV leg device; the disk is closed once
 * the bios sent to it are back.  Under msg_lock. */
static int rtv_direct_stop(struct rtv_target *rt)
{
	const char *dev = dm_table_device_name(rt->ti->table);
	struct block_device *old, *bdev;

	old = rcu_replace_pointer(rt->direct, NULL, lockdep_is_held(&rt->msg_lock));
	if (!old)
		return 0;
	/* Every map that took old has counted its bio now. */
	synchronize_rcu();
	WRITE_ONCE(rt->direct_closing, old);
	smp_mb();	/* against rtv_direct_put: one of us sees the other */
	if (!wait_event_timeout(rt->direct_drained, !atomic_read(&rt->direct_inflight),
				msecs_to_jiffies(RTV_DIRECT_DRAIN_MS))) {
		DMWARN("%s: pv-disk -: %d bios of the PV disk %pg not back in %u ms; closed when they are",
		       dev, atomic_read(&rt->direct_inflight), old, RTV_DIRECT_DRAIN_MS);
		return -ETIMEDOUT;
	}
	bdev = xchg(&rt->direct_closing, NULL);
	if (bdev)
		blkdev_put(bdev, dm_table_get_mode(rt->ti->table));
	DMINFO("%s: PV bios through the PV leg device %s again", dev, rt->leg[LEG_PV]->name);
	return 0;
}

/* pv-disk MAJ:MIN: the PV leg's bios go to that disk, the one the PV leg
 * device maps (rtvirt-shunt's word: the target cannot see under another dm
 * device; it checks what it can, the geometry). */
static int rtv_msg_pv_disk(struct rtv_target *rt, const char *arg)
{
	const char *dev = dm_table_device_name(rt->ti->table);
	fmode_t fmode = dm_table_get_mode(rt->ti->table);
	struct block_device *bdev, *emu, *cur;
	unsigned int maj, min;
	char dummy;
	dev_t devt;
	int r;

	if (!strcmp(arg, "-"))
		return rtv_direct_stop(rt);
	if (sscanf(arg, "%u:%u%c", &maj, &min, &dummy) != 2) {
		DMWARN("%s: pv-disk %s: not major:minor or -", dev, arg);
		return -EINVAL;
	}
	devt = MKDEV(maj, min);
	if (MAJOR(devt) != maj || MINOR(devt) != min) {
		DMWARN("%s: pv-disk %s: no such device number", dev, arg);
		return -EINVAL;
	}
	if (!rt->leg[LEG_PV]) {
		DMWARN("%s: pv-disk %s: the table has no PV leg", dev, arg);
		return -EINVAL;
	}
	cur = rcu_dereference_protected(rt->direct, lockdep_is_held(&rt->msg_lock));
	if (cur && cur->bd_dev == devt)
		return 0;
	r = rtv_direct_stop(rt);
	if (r)
		return r;
	if (READ_ONCE(rt->direct_closing)) {
		DMWARN("%s: pv-disk %s: the last PV disk's bios are not back yet", dev, arg);
		return -EBUSY;
	}
	emu = rt->leg[LEG_EMU]->bdev;
	if (devt == emu->bd_dev || devt == rt->leg[LEG_PV]->bdev->bd_dev) {
		DMWARN("%s: pv-disk %s: that is a leg of the table", dev, arg);
		return -EINVAL;
	}
	bdev = blkdev_get_by_dev(devt, fmode, NULL);
	if (IS_ERR(bdev)) {
		DMWARN("%s: pv-disk %s: cannot open it (error %ld)", dev, arg, PTR_ERR(bdev));
		return PTR_ERR(bdev);
	}
	if (bdev_nr_sectors(bdev) != bdev_nr_sectors(emu) ||
	    bdev_logical_block_size(bdev) != bdev_logical_block_size(emu)) {
		DMWARN("%s: pv-disk %pg: %llu sectors of %u bytes, the emulated leg %llu of %u",
		       dev, bdev, (unsigned long long)bdev_nr_sectors(bdev),
		       bdev_logical_block_size(bdev), (unsigned long long)bdev_nr_sectors(emu),
		       bdev_logical_block_size(emu));
		blkdev_put(bdev, fmode);
		return -EINVAL;
	}
	rcu_assign_pointer(rt->direct, bdev);
	DMINFO("%s: PV bios to the PV disk %pg direct, past the PV leg device %s",
	       dev, bdev, rt->leg[LEG_PV]->name);
	return 0;
}

static int rtv_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct rtv_target *rt = ti->private;
	int r = -EINVAL;

	mutex_lock(&rt->msg_lock);
	if (argc == 1 && !strcasecmp(argv[0], "prepare"))
		r = rtv_msg_prepare(rt);
	else if (argc == 1 && !strcasecmp(argv[0], "cancel"))
		r = rtv_msg_cancel(rt);
	else if (argc == 2 && !strcasecmp(argv[0], "mode"))
		r = rtv_msg_mode(rt, argv[1]);
	else if (argc == 1 && !strcasecmp(argv[0], "clear-failover"))
		r = rtv_msg_clear_failover(rt);
	else if (argc == 2 && !strcasecmp(argv[0], "pv-disk"))
		r = rtv_msg_pv_disk(rt, argv[1]);
	else
		DMWARN("%s: unknown message (expected prepare, cancel, mode <mode>, clear-failover or pv-disk <major:minor|->)",
		       dm_table_device_name(ti->table));
	mutex_unlock(&rt->msg_lock);
	return r;
}

/*
 * With flush_at_suspend (the default): everything this table wrote is
 * drained (dm waits before postsuspend); make it durable before the next
 * table reads the image through the other leg.  The PV leg goes first: if its
 * flush fails, the emulated leg's flush is the one that counts, and it covers
 * what the PV leg wrote too (rtv_flush_leg_now).
 */
static void rtv_postsuspend(struct dm_target *ti)
{
	struct rtv_target *rt = ti->private;

	if (!READ_ONCE(flush_at_suspend))
		return;
	if (rt->leg[LEG_PV] && test_bit(LEG_PV, &rt->dirty))
		rtv_flush_leg_now(rt, LEG_PV, "suspend");
	if (test_bit(LEG_EMU, &rt->dirty))
		rtv_flush_leg_now(rt, LEG_EMU, "suspend");
}

static void rtv_free(struct dm_target *ti, struct rtv_target *rt)
{
	int l;

	for (l = 0; l < NR_LEGS; l++)
		if (rt->leg[l])
			dm_put_device(ti, rt->leg[l]);
	kfree(rt->ranges);
	kfree(rt);
}

/* <mode> <emulated_dev> <pv_dev|-> */
static int rtv_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct rtv_target *rt;
	struct block_device *emu, *pv;
	int mode, r, l;

	if (argc != 3) {
		ti->error = "expected 3 arguments: <mode> <emulated_dev> <pv_dev|->";
		return -EINVAL;
	}
	mode = match_string(rtv_mode_names, RTV_NR_MODES, argv[0]);
	if (mode < 0) {
		ti->error = "unknown mode: expected emulated, pv or selective";
		return -EINVAL;
	}
	if (!strcmp(argv[2], "-") && mode != RTV_EMULATED) {
		ti->error = "modes pv and selective need a PV leg (not -)";
		return -EINVAL;
	}

	rt = kzalloc(sizeof(*rt), GFP_KERNEL);
	if (rt)
		rt->ranges = kcalloc(RTV_MAX_RANGES, sizeof(*rt->ranges), GFP_KERNEL);
	if (!rt || !rt->ranges) {
		kfree(rt);
		ti->error = "out of memory";
		return -ENOMEM;
	}
	rt->ti = ti;
	rt->route = mode;
	atomic64_set(&rt->failovers, 0);
	atomic64_set(&rt->pv_errors, 0);
	spin_lock_init(&rt->lock);
	bio_list_init(&rt->retry);
	INIT_WORK(&rt->retry_work, rtv_retry_work);
	mutex_init(&rt->msg_lock);
	for (l = 0; l < NR_LEGS; l++) {
		atomic_set(&rt->writes[l][0], 0);
		atomic_set(&rt->writes[l][1], 0);
	}
	init_waitqueue_head(&rt->drained);
	bio_list_init(&rt->held);
	INIT_DELAYED_WORK(&rt->flip_work, rtv_flip_work);
	RCU_INIT_POINTER(rt->direct, NULL);
	atomic_set(&rt->direct_inflight, 0);
	init_waitqueue_head(&rt->direct_drained);
	INIT_WORK(&rt->direct_close_work, rtv_direct_close_work);

	r = dm_get_device(ti, argv[1], dm_table_get_mode(ti->table), &rt->leg[LEG_EMU]);
	if (r) {
		ti->error = "cannot open the emulated leg";
		goto bad;
	}
	if (strcmp(argv[2], "-")) {
		r = dm_get_device(ti, argv[2], dm_table_get_mode(ti->table), &rt->leg[LEG_PV]);
		if (r) {
			ti->error = "cannot open the PV leg";
			goto bad;
		}
		if (rt->leg[LEG_PV]->bdev == rt->leg[LEG_EMU]->bdev) {
			ti->error = "the two legs are the same device";
			r = -EINVAL;
			goto bad;
		}
		/* Same disk image behind both: a difference means it is not. */
		emu = rt->leg[LEG_EMU]->bdev;
		pv = rt->leg[LEG_PV]->bdev;
		if (bdev_nr_sectors(emu) != bdev_nr_sectors(pv)) {
			DMERR("legs differ in size: emulated %s %llu sectors, PV %s %llu sectors",
			      rt->leg[LEG_EMU]->name, (unsigned long long)bdev_nr_sectors(emu),
			      rt->leg[LEG_PV]->name, (unsigned long long)bdev_nr_sectors(pv));
			ti->error = "the emulated and PV legs differ in size";
			r = -EINVAL;
			goto bad;
		}
		if (bdev_logical_block_size(emu) != bdev_logical_block_size(pv)) {
			DMERR("legs differ in logical block size: emulated %u, PV %u",
			      bdev_logical_block_size(emu), bdev_logical_block_size(pv));
			ti->error = "the emulated and PV legs differ in logical block size";
			r = -EINVAL;
			goto bad;
		}
	}

	/* One empty flush per leg (rtv_flush_leg), whatever the mode: a flip
	 * changes the mode but not this. */
	ti->num_flush_bios = rt->leg[LEG_PV] ? 2 : 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct rtv_io);
	ti->private = rt;
	return 0;

bad:
	rtv_free(ti, rt);
	return r;
}

static void rtv_dtr(struct dm_target *ti)
{
	struct rtv_target *rt = ti->private;
	struct block_device *direct;

	/* No bio is in flight (dm waited, and held bios are in flight to it),
	 * so no retry or release can be queued now. */
	flush_work(&rt->retry_work);
	flush_delayed_work(&rt->flip_work);
	flush_work(&rt->direct_close_work);
	WARN_ON(!bio_list_empty(&rt->held));
	/* dm waited for every bio, the direct disk's too (they are its clones). */
	WARN_ON(atomic_read(&rt->direct_inflight));
	direct = rcu_dereference_protected(rt->direct, 1);
	if (direct)
		blkdev_put(direct, dm_table_get_mode(ti->table));
	if (rt->direct_closing)
		blkdev_put(rt->direct_closing, dm_table_get_mode(ti->table));
	rtv_free(ti, rt);
}

static void rtv_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct rtv_target *rt = ti->private;
	bool failed = test_bit(RTV_FAILED_OVER, &rt->flags);
	enum rtv_mode mode = route_mode(READ_ONCE(rt->route));
	const char *pv = rt->leg[LEG_PV] ? rt->leg[LEG_PV]->name : "-";
	enum rtv_flip_state fstate;
	unsigned int held;
	u64 flips, stall;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&rt->lock);
		fstate = rt->fstate;
		held = rt->nr_held;
		flips = rt->flips;
		stall = rt->last_stall_us;
		spin_unlock_irq(&rt->lock);
		DMEMIT("%s %s %llu %llu %s %u %llu %llu",
		       rtv_mode_names[failed ? RTV_EMULATED : mode],
		       failed ? "failed-over" : "ok",
		       (unsigned long long)atomic64_read(&rt->failovers),
		       (unsigned long long)atomic64_read(&rt->pv_errors),
		       rtv_flip_names[fstate], held, (unsigned long long)flips,
		       (unsigned long long)stall);
		break;
	case STATUSTYPE_TABLE:
		/* The mode in force: reloading this line keeps the route. */
		DMEMIT("%s %s %s", rtv_mode_names[mode], rt->leg[LEG_EMU]->name, pv);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",mode=%s,emulated_device_name=%s,pv_device_name=%s;",
		       rtv_mode_names[mode], rt->leg[LEG_EMU]->name, pv);
		break;
	}
}

static int rtv_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn, void *data)
{
	struct rtv_target *rt = ti->private;
	int l, r = 0;

	for (l = 0; l < NR_LEGS && !r; l++)
		if (rt->leg[l])
			r = fn(ti, rt->leg[l], 0, ti->len, data);
	return r;
}

/*
 * dm stacked the limits of both legs (the larger block sizes, the smaller
 * transfer limits, discard only if both legs discard).  The device stands
 * for the emulated disk, so its size hints are the emulated disk's; the
 * logical block size is the same on both legs (checked in the ctr).
 */
static void rtv_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct rtv_target *rt = ti->private;
	struct block_device *emu = rt->leg[LEG_EMU]->bdev;

	limits->physical_block_size = max(bdev_physical_block_size(emu),
					  limits->logical_block_size);
	limits->io_min = max(bdev_io_min(emu), limits->physical_block_size);
	limits->io_opt = bdev_io_opt(emu);
}

static struct target_type rtv_target_type = {
	.name = "rtvirt",
	.version = {1, 3, 0},
	/*
	 * map and end_io never sleep, so REQ_NOWAIT bios may come in (dm
	 * then also needs both legs to take them: blk-mq disks do).  Without
	 * it the device is not "nowait" and io_uring hands every read and
	 * write of it to an io-wq worker thread instead of submitting it
	 * inline, as it does on the raw leg and on dm-linear.
	 */
	.features = DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = rtv_ctr,
	.dtr = rtv_dtr,
	.map = rtv_map,
	.end_io = rtv_end_io,
	.postsuspend = rtv_postsuspend,
	.message = rtv_message,
	.status = rtv_status,
	.iterate_devices = rtv_iterate_devices,
	.io_hints = rtv_io_hints,
};

static int __init dm_rtvirt_init(void)
{
	int r;

	rtv_wq = alloc_workqueue("rtvirt-failover", WQ_MEM_RECLAIM, 0);
	if (!rtv_wq)
		return -ENOMEM;
	rtv_flip_wq = alloc_workqueue("rtvirt-flip", WQ_MEM_RECLAIM, 0);
	if (!rtv_flip_wq) {
		destroy_workqueue(rtv_wq);
		return -ENOMEM;
	}
	r = dm_register_target(&rtv_target_type);
	if (r < 0) {
		DMERR("register failed %d", r);
		destroy_workqueue(rtv_flip_wq);
		destroy_workqueue(rtv_wq);
	}
	return r;
}

static void __exit dm_rtvirt_exit(void)
{
	dm_unregister_target(&rtv_target_type);
	destroy_workqueue(rtv_flip_wq);
	destroy_workqueue(rtv_wq);
}

module_init(dm_rtvirt_init);
module_exit(dm_rtvirt_exit);

MODULE_DESCRIPTION(DM_NAME " rtvirt target: emulated/PV/selective routing, flipped by message, with failover to the emulated leg");
MODULE_AUTHOR("rtvirt");
MODULE_LICENSE("GPL");
MODULE_VERSION(RTV_KMOD_VERSION);
