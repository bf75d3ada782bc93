# tests/component/: host component tests — several processes over the local
# transport (common/local/), run by `make check` as UNIT_TESTS entries.  Each
# test program below is listed with what it is made of (rtv_test, top
# Makefile); every object here is test code and sees Check and the tests'
# shared helpers.
$(BUILD)/obj/tests/component/%.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit

COMP      := $(BUILD)/tests/component
COMP_OBJ  := $(BUILD)/obj/tests/component
# A real qemu with drives and a QMP socket, for the tests that talk to one.
QEMU_FIXTURE_OBJ := $(COMP_OBJ)/qemu_fixture.o
# rtvirt-backd's engine in a child process (the blkif, switch and sweep tests).
BACKD_PROC_OBJ   := $(COMP_OBJ)/backd_proc.o
BACKD_LIBS       := $(shell $(PKG_CONFIG) --libs liburing) $(JSONC_LIBS) -lpthread

# qmp: ioemu/'s QMP client against that qemu (QMP is qemu's protocol).
$(eval $(call rtv_test,$(COMP)/test_qmp, \
    $(COMP_OBJ)/test_qmp.o $(QEMU_FIXTURE_OBJ) $(QMP_LIB),$(JSONC_LIBS)))

# dmsync: rtvirt-backd's device-model sync threads against that qemu.
$(eval $(call rtv_test,$(COMP)/test_dmsync, \
    $(COMP_OBJ)/test_dmsync.o $(QEMU_FIXTURE_OBJ) $(BUILD)/obj/dom0-backend/backd_dmsync.o \
    $(QMP_LIB),$(JSONC_LIBS) -lpthread))

# blkif: rtvirt-backd's engine and librtvirt-front in separate processes.
$(eval $(call rtv_test,$(COMP)/test_blkif_component, \
    $(COMP_OBJ)/test_blkif_component.o $(BACKD_PROC_OBJ) $(BACKD_ENGINE_OBJS) \
    $(FRONT_VERIFY_SRCS:%.c=$(BUILD)/obj/%.o) $(FRONT_LIB) $(QMP_LIB),$(BACKD_LIBS)))

# switch: the live switch end to end (rtvirt-shunt's dm control plane over
# a file-backed stand-in for the guest kernel's data path, rtvirt-backd's
# engine running the coordinator) with a load generator and kill -9 of that
# daemon.  Its seam fault sweep fails the daemon's io_uring_submit() too
# (wrapped at link time, as test_fault_sweep's).
SWITCH_COMP := $(COMP)/test_switch_component
$(eval $(call rtv_test,$(SWITCH_COMP), \
    $(COMP_OBJ)/test_switch_component.o $(QEMU_FIXTURE_OBJ) \
    $(addprefix $(COMP_OBJ)/,fake_dm_kernel.o fake_blkfront.o fake_emu_disk.o load_gen.o) \
    $(BACKD_PROC_OBJ) $(BACKD_ENGINE_OBJS) $(SHUNT_DM_OBJS) $(FRONT_LIB) $(QMP_LIB), \
    -Wl$(comma)--wrap=io_uring_submit $(BACKD_LIBS)))

# ioemu: rtvirt-ioemu's server (librtvirt-ioemu) in a thread, over the local
# store and a fake of the Xen side (fake_ioreq.c), with a polled guest driver,
# the line and the operator in the test.
$(eval $(call rtv_test,$(COMP)/test_ioemu_component, \
    $(COMP_OBJ)/test_ioemu_component.o $(COMP_OBJ)/fake_ioreq.o $(IOEMU_LIB),-lpthread))

# ioemu_probe_irq: `rtvirt-ioemu probe-irq`'s core over the same fake.
$(eval $(call rtv_test,$(COMP)/test_ioemu_probe_irq, \
    $(COMP_OBJ)/test_ioemu_probe_irq.o $(COMP_OBJ)/fake_ioreq.o $(IOEMU_LIB),$(JSONC_LIBS) -lpthread))

# vif: the NIC switch's dom0 side (dom0-backend/backd_vif.c) in a child
# process, with a stand-in xl; the test plays libxl and the guest's
# netshunt.  Its store fault sweep: a stride in make check, every N in
# make fault-sweep.
VIF_COMP := $(COMP)/test_vif_component
$(eval $(call rtv_test,$(VIF_COMP), \
    $(COMP_OBJ)/test_vif_component.o $(BACKD_PROC_OBJ) $(BACKD_ENGINE_OBJS) $(FRONT_LIB) \
    $(QMP_LIB),$(BACKD_LIBS)))

# fault sweep: the blkif scenario with the N-th call of each seam operation
# failing (test_fault_sweep.c).  The daemon's io_uring_submit() is wrapped
# at link time so the same injector can fail it.  make check runs a stride
# of every operation's calls; make fault-sweep runs every one.
SWEEP_COMP := $(COMP)/test_fault_sweep
$(eval $(call rtv_test,$(SWEEP_COMP), \
    $(COMP_OBJ)/test_fault_sweep.o $(BACKD_PROC_OBJ) $(BACKD_ENGINE_OBJS) $(FRONT_LIB) \
    $(QMP_LIB),-Wl$(comma)--wrap=io_uring_submit $(BACKD_LIBS)))

# The same over a switch: test_switch_component's seam_fault_sweep (a
# stride of it in make check).
.PHONY: fault-sweep
fault-sweep: $(SWEEP_COMP) $(SWITCH_COMP) $(VIF_COMP)
	RTV_FAULT_SWEEP_STRIDE=1 $(SWEEP_COMP)
	RTV_FAULT_SWEEP_STRIDE=1 RTV_SWITCH_TEST=sweep $(SWITCH_COMP)
	RTV_FAULT_SWEEP_STRIDE=1 $(VIF_COMP)
