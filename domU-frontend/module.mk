# domU-frontend/: librtvirt-front (userspace blkif frontend library) and the
# rtvirt-front CLI.  The library's API header is common/include/rtvirt/front_blk.h.
FRONT_LIB_SRCS    := domU-frontend/front_blk.c
FRONT_LIB         := $(BUILD)/lib/librtvirt-front.a
FRONT_VERIFY_SRCS := domU-frontend/front_verify.c domU-frontend/front_bench.c
FRONT_SRCS        := domU-frontend/front_main.c $(FRONT_VERIFY_SRCS)

$(FRONT_LIB): $(FRONT_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

all: $(FRONT_LIB)

# librtvirt again after the front library, which depends on it.
EXTRA_LIBS_rtvirt-front := $(FRONT_LIB) $(BUILD)/lib/librtvirt.a
INSTALL_SBIN += $(BUILD)/bin/rtvirt-front

ifneq ($(origin rtv_program),undefined)
$(eval $(call rtv_program,rtvirt-front,$(FRONT_SRCS),xen))
# See dom0-backend/module.mk: rtv_program's library prerequisites expand empty.
$(BUILD)/bin/rtvirt-front: $(FRONT_LIB) $(BUILD)/lib/librtvirt.a $(BUILD)/lib/librtvirt-xen.a
else
# rtv_program is defined after the module.mk files are included (see
# dom0-backend/module.mk): the same rule, spelled out.
FRONT_OBJS := $(FRONT_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/bin/rtvirt-front
all: $(BUILD)/bin/rtvirt-front
$(BUILD)/bin/rtvirt-front: $(FRONT_OBJS) $(FRONT_LIB) $(BUILD)/lib/librtvirt-xen.a $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(FRONT_OBJS) $(FRONT_LIB) $(BUILD)/lib/librtvirt-xen.a \
	    $(BUILD)/lib/librtvirt.a $(XEN_LIBS) $(LDLIBS)
endif
