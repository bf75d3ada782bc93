# p2m-tools: rtvirt-p2m and the identity op's self-test tools.  The P2M
# identity planner (common/p2m_plan*.c) is librtvirt's, its hypercall
# adapter (common/xen/xen_p2m.c) the real Xen seam's (common/module.mk).

$(eval $(call rtv_program,rtvirt-p2m,p2m-tools/rtvirt-p2m.c p2m-tools/simulate.c p2m-tools/domain.c p2m-tools/m2p_check.c,xen))
EXTRA_LIBS_rtvirt-p2m := -lm
INSTALL_SBIN += $(BUILD)/bin/rtvirt-p2m

# Benchmark, not a test: the simulator at 1 GiB, 64 GiB and 1 TiB.
.PHONY: bench-p2m
BENCH_TARGETS += bench-p2m
bench-p2m: $(BUILD)/bin/rtvirt-p2m
	BUILD=$(BUILD) sh bench/p2m-simulate

# The identity op's self-test sequence (dom0 on itself) and the checker of
# its result lines: xen-patches/boot-smoke puts them in its initramfs / runs
# the checker on the host; the lab's dom0 gets them from `make install`
# (flight p2m, steps p2m-*).
INSTALL_SCRIPTS += p2m-tools/rtvirt-p2m-selftest p2m-tools/rtvirt-p2m-check
# ... and that checker can fail (make check)
CHECK_SCRIPTS += p2m-tools/check-rtvirt-p2m-check.sh p2m-tools/check-seqwriter.sh

# The cycle driver of the self-test (rtvirt-p2m-cycles.c): makes
# cycles of the domain's own pages, which a fresh dom0 never has, so the
# lab's flight p2m drives the rebuild's scratch-frame path on real Xen.
$(eval $(call rtv_program,rtvirt-p2m-cycles,p2m-tools/rtvirt-p2m-cycles.c p2m-tools/selfmem.c,xen))
INSTALL_SBIN += $(BUILD)/bin/rtvirt-p2m-cycles

# The lost-write detector of the self-test's concurrent rebuild
# (rtvirt-p2m-seqwriter.c): numbered writes, each found again.
$(eval $(call rtv_program,rtvirt-p2m-seqwriter,p2m-tools/rtvirt-p2m-seqwriter.c p2m-tools/selfmem.c))
INSTALL_SBIN += $(BUILD)/bin/rtvirt-p2m-seqwriter

# The M2P read-back of the independent identity check (issue 17): the seam
# common/xen/xen_m2p.c under the pure check common/p2m_idcheck.c.  It
# includes xenctrl.h, which needs GNU C (see common/module.mk, xen_ioreq.o).
$(BUILD)/obj/common/xen/xen_m2p.o: RTV_CFLAGS += -std=gnu11
