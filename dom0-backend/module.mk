# dom0-backend/: rtvirt-backd, the userspace blkif backend daemon.  Its
# pure request checking (common/blkif_req.c, blkif_xs.c) is librtvirt's.

# The engine (everything but main: the blkif backend and the dom0 side of
# the live switch) is shared with the component tests.
BACKD_ENGINE_SRCS := $(addprefix dom0-backend/,backd_gone.c backd_io.c backd_journal.c \
                       backd_handshake.c backd_scan.c backd_lifecycle.c backd_loop.c \
                       backd_switch.c backd_dmsync.c backd_vif.c backd_vif_pin.c \
                       backd_vif_txq.c)
BACKD_SRCS        := $(BACKD_ENGINE_SRCS) dom0-backend/backd_main.c
EXTRA_LIBS_rtvirt-backd := $(shell $(PKG_CONFIG) --libs liburing) $(JSONC_LIBS) -lpthread
INSTALL_SBIN += $(BUILD)/bin/rtvirt-backd
INSTALL_UNITS += dom0-backend/rtvirt-backd.service.in dom0-backend/rtvirt-backd-orphans.service.in
# The units load (systemd-analyze verify) and the route into OnFailure= holds.
CHECK_SCRIPTS += dom0-backend/check-units.sh
$(eval $(call rtv_program,rtvirt-backd,$(BACKD_SRCS),xen,$(QMP_LIB)))

# rtvirt-vbd: writes/removes the vbd nodes libxl would (attach without xl).
INSTALL_SBIN += $(BUILD)/bin/rtvirt-vbd
$(eval $(call rtv_program,rtvirt-vbd,dom0-backend/vbd_main.c,xen))

BACKD_ENGINE_OBJS := $(BACKD_ENGINE_SRCS:%.c=$(BUILD)/obj/%.o)

# tests/unit/test_vif_pin.c: which bridge port learns the guest's MAC.
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_vif_pin, \
    $(BUILD)/obj/tests/unit/test_vif_pin.o $(BUILD)/obj/dom0-backend/backd_vif_pin.o))

# tests/unit/test_vif_txq.c: the bound on a switched NIC's tap queue.
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_vif_txq, \
    $(BUILD)/obj/tests/unit/test_vif_txq.o $(BUILD)/obj/dom0-backend/backd_vif_txq.o))

# tests/unit/test_backd_journal.c: the ring journal's recovery, alone.
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_backd_journal, \
    $(BUILD)/obj/tests/unit/test_backd_journal.o $(BUILD)/obj/dom0-backend/backd_journal.o))
