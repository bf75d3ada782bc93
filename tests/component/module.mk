# tests/component/: host component tests — several processes over the local
# transport (common/local/), run by `make check` as UNIT_TESTS entries.

# A real qemu with drives and a QMP socket, for the tests that talk to one.
QEMU_FIXTURE_OBJ := $(BUILD)/obj/tests/component/qemu_fixture.o
$(QEMU_FIXTURE_OBJ): RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit

# qmp: ioemu/'s QMP client against that qemu (QMP is qemu's protocol).
QMP_COMP := $(BUILD)/tests/component/test_qmp
UNIT_TESTS += $(QMP_COMP)
$(BUILD)/obj/tests/component/test_qmp.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit
$(QMP_COMP): $(BUILD)/obj/tests/component/test_qmp.o $(QEMU_FIXTURE_OBJ) $(QMP_LIB) \
             $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $^ $(JSONC_LIBS) $(CHECK_LIBS) $(LDLIBS)

# dmsync: rtvirt-backd's device-model sync threads against that qemu.
DMSYNC_COMP := $(BUILD)/tests/component/test_dmsync
UNIT_TESTS += $(DMSYNC_COMP)
$(BUILD)/obj/tests/component/test_dmsync.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit
$(DMSYNC_COMP): $(BUILD)/obj/tests/component/test_dmsync.o $(QEMU_FIXTURE_OBJ) \
                $(BUILD)/obj/dom0-backend/backd_dmsync.o $(QMP_LIB) $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $^ $(JSONC_LIBS) $(CHECK_LIBS) -lpthread $(LDLIBS)

# rtvirt-backd's engine in a child process (the blkif test and the sweep).
BACKD_PROC_OBJ := $(BUILD)/obj/tests/component/backd_proc.o
$(BACKD_PROC_OBJ): RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit

# blkif: rtvirt-backd's engine and librtvirt-front in separate processes.
BLKIF_COMP      := $(BUILD)/tests/component/test_blkif_component
BLKIF_COMP_OBJS := $(BUILD)/obj/tests/component/test_blkif_component.o $(BACKD_PROC_OBJ) \
                   $(BACKD_ENGINE_SRCS:%.c=$(BUILD)/obj/%.o) \
                   $(FRONT_VERIFY_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_TESTS += $(BLKIF_COMP)
all: $(BLKIF_COMP)

$(BUILD)/obj/tests/component/test_blkif_component.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit
$(BLKIF_COMP): $(BLKIF_COMP_OBJS) $(FRONT_LIB) $(QMP_LIB) $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(BLKIF_COMP_OBJS) $(FRONT_LIB) $(QMP_LIB) \
	    $(BUILD)/lib/librtvirt.a $(CHECK_LIBS) $(shell $(PKG_CONFIG) --libs liburing json-c) -lpthread $(LDLIBS)

# switch: the live switch end to end (rtvirt-shunt's dm control plane over
# a file-backed stand-in for the guest kernel's data path, rtvirt-backd's
# engine running the coordinator) with a load generator and kill -9 of that
# daemon.
SWITCH_COMP      := $(BUILD)/tests/component/test_switch_component
SWITCH_COMP_OBJS := $(BUILD)/obj/tests/component/test_switch_component.o $(QEMU_FIXTURE_OBJ) \
                    $(BUILD)/obj/tests/component/fake_dm_kernel.o \
                    $(BUILD)/obj/tests/component/fake_blkfront.o \
                    $(BUILD)/obj/tests/component/fake_emu_disk.o \
                    $(BUILD)/obj/tests/component/load_gen.o $(BACKD_PROC_OBJ) \
                    $(BACKD_ENGINE_SRCS:%.c=$(BUILD)/obj/%.o) \
                    $(SHUNT_DM_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_TESTS += $(SWITCH_COMP)
all: $(SWITCH_COMP)

$(BUILD)/obj/tests/component/test_switch_component.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit
$(SWITCH_COMP): $(SWITCH_COMP_OBJS) $(FRONT_LIB) $(QMP_LIB) $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(SWITCH_COMP_OBJS) $(FRONT_LIB) $(QMP_LIB) \
	    $(BUILD)/lib/librtvirt.a $(CHECK_LIBS) $(shell $(PKG_CONFIG) --libs liburing json-c) -lpthread $(LDLIBS)

# ioemu: rtvirt-ioemu's server (ioemu/ioemu_srv.c) in a thread, over the local
# store and a fake of the Xen side (fake_ioreq.c), with a polled guest driver,
# the line and the operator in the test.
IOEMU_COMP      := $(BUILD)/tests/component/test_ioemu_component
IOEMU_COMP_OBJS := $(BUILD)/obj/tests/component/test_ioemu_component.o \
                   $(BUILD)/obj/tests/component/fake_ioreq.o $(BUILD)/obj/ioemu/ioemu_srv.o
UNIT_TESTS += $(IOEMU_COMP)
$(BUILD)/obj/tests/component/test_ioemu_component.o $(BUILD)/obj/tests/component/fake_ioreq.o: \
    RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit
$(IOEMU_COMP): $(IOEMU_COMP_OBJS) $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(IOEMU_COMP_OBJS) $(BUILD)/lib/librtvirt.a \
	    $(CHECK_LIBS) -lpthread $(LDLIBS)

# fault sweep: the blkif scenario with the N-th call of each seam operation
# failing (test_fault_sweep.c).  The daemon's io_uring_submit() is wrapped
# at link time so the same injector can fail it.  make check runs a stride
# of every operation's calls; make fault-sweep runs every one.
SWEEP_COMP      := $(BUILD)/tests/component/test_fault_sweep
SWEEP_COMP_OBJS := $(BUILD)/obj/tests/component/test_fault_sweep.o $(BACKD_PROC_OBJ) \
                   $(BACKD_ENGINE_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_TESTS += $(SWEEP_COMP)
all: $(SWEEP_COMP)

$(BUILD)/obj/tests/component/test_fault_sweep.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit
$(SWEEP_COMP): $(SWEEP_COMP_OBJS) $(FRONT_LIB) $(QMP_LIB) $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -Wl,--wrap=io_uring_submit -o $@ $(SWEEP_COMP_OBJS) \
	    $(FRONT_LIB) $(QMP_LIB) $(BUILD)/lib/librtvirt.a $(CHECK_LIBS) \
	    $(shell $(PKG_CONFIG) --libs liburing json-c) -lpthread $(LDLIBS)

.PHONY: fault-sweep
fault-sweep: $(SWEEP_COMP)
	RTV_FAULT_SWEEP_STRIDE=1 $(SWEEP_COMP)
