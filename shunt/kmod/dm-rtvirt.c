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
 * Switching is device-mapper's own table swap, done from userspace:
 * `dmsetup load` (the new mode), `dmsetup suspend` (new bios are held: the
 * guest sees a busy device, never an error; bios in flight drain: the
 * I/O-sequence boundary), `dmsetup resume` (the held bios go on, in order, on
 * the new route).  Between the drain and the new table, postsuspend flushes
 * every leg this table wrote, so whatever either leg acknowledged is in the
 * image before the other leg reads it.  With a dom0 qemu on a raw image (what
 * rtvirt-backd checks) that flush is not needed: both legs reach one image
 * file through dom0's page cache, and the guest's next flush on either leg
 * is an fdatasync of it (shunt/README.md, "What the blackout holds"); the
 * module parameter flush_at_suspend=N drops it from the blackout.  It stays
 * on by default because the guest cannot tell that dom0 from one whose
 * device model keeps a cache of its own (a stub domain's).  Nothing here
 * holds bios.
 *
 * Failover: a bio that fails on the PV leg (any error but "operation not
 * supported", which says nothing about the leg) is re-issued on the emulated
 * leg, so the filesystem sees no error, and from then on this table routes
 * everything to the emulated leg.  Both legs reach the same image file, so
 * the emulated leg serves the same data.  The status line says so and a dm
 * event wakes `dmsetup wait`.  The state lives in the table: loading a new
 * table (dom0 switched back to PV) clears it.
 *
 * Table line:  <start> <len> rtvirt <mode> <emulated_dev> <pv_dev|->
 * Status:      <mode-in-force> <ok|failed-over> <failovers> <pv_errors>
 * (shunt/README.md documents both.)
 *
 * Context: map runs in the submitter's context, end_io in completion context
 * (possibly hard irq), so end_io only records and queues; the re-issue, which
 * may sleep, runs on a WQ_MEM_RECLAIM workqueue (the filesystem's writeback
 * may depend on it to free memory).
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#define DM_MSG_PREFIX "rtvirt"

enum rtv_mode { RTV_EMULATED, RTV_PV, RTV_SELECTIVE, RTV_NR_MODES };

static const char *const rtv_mode_names[RTV_NR_MODES] = {
	[RTV_EMULATED] = "emulated",
	[RTV_PV] = "pv",
	[RTV_SELECTIVE] = "selective",
};

/* The legs; also the bit numbers of rtv_target.dirty. */
enum rtv_leg { LEG_EMU, LEG_PV, NR_LEGS };

/* Bits of rtv_target.flags. */
enum {
	RTV_FAILED_OVER,	/* route everything to the emulated leg */
	RTV_REPORTED,		/* the failover was logged and the dm event raised */
};

struct rtv_target {
	struct dm_target *ti;
	enum rtv_mode mode;
	struct dm_dev *leg[NR_LEGS];	/* leg[LEG_PV] is NULL without a PV leg */
	unsigned long flags;
	unsigned long dirty;		/* legs written since their last flush by us */
	atomic64_t failovers;		/* bios re-issued on the emulated leg */
	atomic64_t pv_errors;		/* PV-leg completions with an error */
	int first_pv_error;		/* errno of the error that failed us over */

	spinlock_t lock;		/* protects retry */
	struct bio_list retry;		/* failed on PV, to re-issue on emulated */
	struct work_struct retry_work;
};

/*
 * Per bio: where it went and what re-issuing it needs.  dm-bio-record.h,
 * which dm-mpath uses for the same job, is not an exported header, so the
 * fields a completed bio no longer has intact are kept here: the iterator
 * (the lower driver advanced it), the flags and the remaining count (a split
 * below us chained the bio).
 */
struct rtv_io {
	enum rtv_leg leg;
	struct bvec_iter iter;
	unsigned short bi_flags;
	int remaining;
};

static struct workqueue_struct *rtv_wq;

/*
 * On by default (above).  Off, the suspend is the drain alone: in the lab
 * each flush is an ATA flush through qemu or a blkif flush through
 * rtvirt-backd, an fdatasync in a nested dom0.  Read at each suspend.
 */
static bool flush_at_suspend = true;
module_param(flush_at_suspend, bool, 0644);
MODULE_PARM_DESC(flush_at_suspend,
		 "flush the legs a table wrote when it is suspended (default: yes; not needed when both legs reach one image file through dom0's page cache)");

static enum rtv_leg rtv_route(struct rtv_target *rt, struct bio *bio)
{
	if (rt->mode == RTV_EMULATED || test_bit(RTV_FAILED_OVER, &rt->flags))
		return LEG_EMU;
	if (rt->mode == RTV_PV)
		return LEG_PV;
	/*
	 * Selective.  dm core hands an empty flush to the target
	 * num_flush_bios (2) times, each with its own number: one per leg.
	 * A flush with data never gets here (dm sends its empty flush first,
	 * then the data without REQ_PREFLUSH).
	 */
	if ((bio->bi_opf & REQ_PREFLUSH) && !bio_sectors(bio))
		return dm_bio_get_target_bio_nr(bio) == 0 ? LEG_EMU : LEG_PV;
	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		return LEG_PV;
	default:
		return LEG_EMU;
	}
}

static int rtv_map(struct dm_target *ti, struct bio *bio)
{
	struct rtv_target *rt = ti->private;
	struct rtv_io *io = dm_per_bio_data(bio, sizeof(*io));
	enum rtv_leg leg = rtv_route(rt, bio);

	bio_set_dev(bio, rt->leg[leg]->bdev);
	/* Both legs have the layout of the disk: the offset is the same. */
	if (bio_sectors(bio))
		bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	io->leg = leg;
	io->iter = bio->bi_iter;
	io->bi_flags = bio->bi_flags;
	io->remaining = atomic_read(&bio->__bi_remaining);
	if (op_is_write(bio_op(bio)) && bio_sectors(bio) && !test_bit(leg, &rt->dirty))
		set_bit(leg, &rt->dirty);
	return DM_MAPIO_REMAPPED;
}

static int rtv_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct rtv_target *rt = ti->private;
	struct rtv_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long flags;

	if (io->leg != LEG_PV || *error == BLK_STS_OK)
		return DM_ENDIO_DONE;
	atomic64_inc(&rt->pv_errors);
	/*
	 * An operation the PV disk does not do (discard, say), or a REQ_NOWAIT
	 * bio the disk would have had to wait for (no free request: the
	 * submitter, io_uring say, retries it where it may block): not a lost
	 * leg.
	 */
	if (*error == BLK_STS_NOTSUPP || *error == BLK_STS_AGAIN)
		return DM_ENDIO_DONE;
	if (!test_and_set_bit(RTV_FAILED_OVER, &rt->flags))
		rt->first_pv_error = blk_status_to_errno(*error);
	io->leg = LEG_EMU;
	spin_lock_irqsave(&rt->lock, flags);
	bio_list_add(&rt->retry, bio);
	spin_unlock_irqrestore(&rt->lock, flags);
	queue_work(rtv_wq, &rt->retry_work);
	/* dm keeps the original bio open until the re-issued clone completes. */
	return DM_ENDIO_INCOMPLETE;
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
	if (!test_and_set_bit(RTV_REPORTED, &rt->flags)) {
		DMWARN("%s: PV leg %s failed (error %d): failed over to the emulated leg %s",
		       dm_table_device_name(rt->ti->table), rt->leg[LEG_PV]->name,
		       rt->first_pv_error, rt->leg[LEG_EMU]->name);
		dm_table_event(rt->ti->table);
	}

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
		if (op_is_write(bio_op(bio)) && bio_sectors(bio))
			set_bit(LEG_EMU, &rt->dirty);
		atomic64_inc(&rt->failovers);
		submit_bio_noacct(bio);
	}
}

/*
 * With flush_at_suspend (the default).  Everything this table wrote is
 * drained (dm waits before postsuspend); make it durable before the next
 * table reads the image through the other leg.  The PV leg goes first: if its flush fails, the emulated leg's flush
 * is the one that counts, and it covers what the PV leg wrote too, because
 * both legs write the same image file in dom0 and the emulated disk's flush
 * reaches qemu's fdatasync of it.
 */
static void rtv_postsuspend(struct dm_target *ti)
{
	struct rtv_target *rt = ti->private;
	int r;

	if (!READ_ONCE(flush_at_suspend))
		return;
	/*
	 * A PV leg that failed is not asked again (a dead blkfront may never
	 * answer, and this would hold the suspend): the emulated leg's flush
	 * covers what it wrote.
	 */
	if (rt->leg[LEG_PV] && test_bit(RTV_FAILED_OVER, &rt->flags) &&
	    test_and_clear_bit(LEG_PV, &rt->dirty))
		set_bit(LEG_EMU, &rt->dirty);
	if (rt->leg[LEG_PV] && test_and_clear_bit(LEG_PV, &rt->dirty)) {
		r = blkdev_issue_flush(rt->leg[LEG_PV]->bdev);
		if (r) {
			atomic64_inc(&rt->pv_errors);
			DMWARN("%s: flush of the PV leg %s failed (error %d): flushing the emulated leg instead",
			       dm_table_device_name(ti->table), rt->leg[LEG_PV]->name, r);
			set_bit(LEG_EMU, &rt->dirty);
			if (!test_and_set_bit(RTV_FAILED_OVER, &rt->flags))
				rt->first_pv_error = r;
			if (!test_and_set_bit(RTV_REPORTED, &rt->flags))
				dm_table_event(ti->table);
		}
	}
	if (test_and_clear_bit(LEG_EMU, &rt->dirty)) {
		r = blkdev_issue_flush(rt->leg[LEG_EMU]->bdev);
		if (r)
			DMERR("%s: flush of the emulated leg %s failed (error %d)",
			      dm_table_device_name(ti->table), rt->leg[LEG_EMU]->name, r);
	}
}

static void rtv_free(struct dm_target *ti, struct rtv_target *rt)
{
	int l;

	for (l = 0; l < NR_LEGS; l++)
		if (rt->leg[l])
			dm_put_device(ti, rt->leg[l]);
	kfree(rt);
}

/* <mode> <emulated_dev> <pv_dev|-> */
static int rtv_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct rtv_target *rt;
	struct block_device *emu, *pv;
	int mode, r;

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
	if (!rt) {
		ti->error = "out of memory";
		return -ENOMEM;
	}
	rt->ti = ti;
	rt->mode = mode;
	atomic64_set(&rt->failovers, 0);
	atomic64_set(&rt->pv_errors, 0);
	spin_lock_init(&rt->lock);
	bio_list_init(&rt->retry);
	INIT_WORK(&rt->retry_work, rtv_retry_work);

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

	ti->num_flush_bios = mode == RTV_SELECTIVE ? 2 : 1;
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

	/* No bio is in flight (dm waited), so no retry can be queued now. */
	flush_work(&rt->retry_work);
	rtv_free(ti, rt);
}

static void rtv_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct rtv_target *rt = ti->private;
	bool failed = test_bit(RTV_FAILED_OVER, &rt->flags);
	const char *pv = rt->leg[LEG_PV] ? rt->leg[LEG_PV]->name : "-";
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%s %s %llu %llu",
		       rtv_mode_names[failed ? RTV_EMULATED : rt->mode],
		       failed ? "failed-over" : "ok",
		       (unsigned long long)atomic64_read(&rt->failovers),
		       (unsigned long long)atomic64_read(&rt->pv_errors));
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %s", rtv_mode_names[rt->mode], rt->leg[LEG_EMU]->name, pv);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",mode=%s,emulated_device_name=%s,pv_device_name=%s;",
		       rtv_mode_names[rt->mode], rt->leg[LEG_EMU]->name, pv);
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
	.version = {1, 0, 0},
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
	r = dm_register_target(&rtv_target_type);
	if (r < 0) {
		DMERR("register failed %d", r);
		destroy_workqueue(rtv_wq);
	}
	return r;
}

static void __exit dm_rtvirt_exit(void)
{
	dm_unregister_target(&rtv_target_type);
	destroy_workqueue(rtv_wq);
}

module_init(dm_rtvirt_init);
module_exit(dm_rtvirt_exit);

MODULE_DESCRIPTION(DM_NAME " rtvirt target: emulated/PV/selective routing with failover to the emulated leg");
MODULE_AUTHOR("rtvirt");
MODULE_LICENSE("GPL");
MODULE_VERSION(RTV_KMOD_VERSION);
