# dom0-backend/: rtvirt-backd, the userspace blkif backend daemon.
# The pure request checking lives in common/ (named here so it is built even
# if common/module.mk's glob changes; duplicates are filtered out).
BLKIF_LIB_SRCS := common/blkif_req.c common/blkif_xs.c
LIB_SRCS += $(filter-out $(LIB_SRCS),$(BLKIF_LIB_SRCS))

# `all` is expanded before the top Makefile adds the unit tests.
all: $(BUILD)/tests/unit/test_blkif_req $(BUILD)/tests/unit/test_blkif_xs

# The engine (everything but main: the blkif backend and the dom0 side of
# the live switch) is shared with the component tests.
BACKD_ENGINE_SRCS := dom0-backend/backd_io.c dom0-backend/backd_xs.c dom0-backend/backd_switch.c \
                     dom0-backend/backd_dmsync.c dom0-backend/backd_vif.c \
                     ioemu/qmp.c
BACKD_SRCS        := $(BACKD_ENGINE_SRCS) dom0-backend/backd_main.c
EXTRA_LIBS_rtvirt-backd := $(shell $(PKG_CONFIG) --libs liburing json-c) -lpthread
INSTALL_SBIN += $(BUILD)/bin/rtvirt-backd
INSTALL_UNITS += dom0-backend/rtvirt-backd.service.in

ifneq ($(origin rtv_program),undefined)
$(eval $(call rtv_program,rtvirt-backd,$(BACKD_SRCS),xen))
# rtv_program's $$(LIB) prerequisite expands before LIB is defined (the
# module.mk files are included first): name the libraries ourselves.
$(BUILD)/bin/rtvirt-backd: $(BUILD)/lib/librtvirt.a $(BUILD)/lib/librtvirt-xen.a
else
# The top Makefile defines rtv_program after including the module.mk files,
# so a call here would expand to nothing: the same rule, spelled out.
BACKD_OBJS := $(BACKD_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/bin/rtvirt-backd
all: $(BUILD)/bin/rtvirt-backd
$(BUILD)/bin/rtvirt-backd: $(BACKD_OBJS) $(BUILD)/lib/librtvirt-xen.a $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(BACKD_OBJS) $(BUILD)/lib/librtvirt-xen.a \
	    $(BUILD)/lib/librtvirt.a $(XEN_LIBS) $(EXTRA_LIBS_rtvirt-backd) $(LDLIBS)
endif

# rtvirt-vbd: writes/removes the vbd nodes libxl would (attach without xl).
VBD_SRCS := dom0-backend/vbd_main.c
INSTALL_SBIN += $(BUILD)/bin/rtvirt-vbd
ifneq ($(origin rtv_program),undefined)
$(eval $(call rtv_program,rtvirt-vbd,$(VBD_SRCS),xen))
$(BUILD)/bin/rtvirt-vbd: $(BUILD)/lib/librtvirt.a $(BUILD)/lib/librtvirt-xen.a
else
VBD_OBJS := $(VBD_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/bin/rtvirt-vbd
all: $(BUILD)/bin/rtvirt-vbd
$(BUILD)/bin/rtvirt-vbd: $(VBD_OBJS) $(BUILD)/lib/librtvirt-xen.a $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(VBD_OBJS) $(BUILD)/lib/librtvirt-xen.a \
	    $(BUILD)/lib/librtvirt.a $(XEN_LIBS) $(LDLIBS)
endif
