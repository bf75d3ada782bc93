# dom0-backend/: rtvirt-backd, the userspace blkif backend daemon.
# The pure request checking lives in common/ (named here so it is built even
# if common/module.mk's glob changes; duplicates are deduplicated).
LIB_SRCS += common/blkif_req.c

# The engine (everything but main) is shared with the component test.
BACKD_ENGINE_SRCS := dom0-backend/backd_io.c dom0-backend/backd_xs.c

$(eval $(call rtv_program,rtvirt-backd,$(BACKD_ENGINE_SRCS) dom0-backend/backd_main.c,xen))
EXTRA_LIBS_rtvirt-backd := $(shell $(PKG_CONFIG) --libs liburing)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-backd
