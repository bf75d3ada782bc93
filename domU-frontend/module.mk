# domU-frontend/: librtvirt-front (userspace blkif frontend library, API in
# include/rtvirt/front_blk.h) and the rtvirt-front CLI.
FRONT_LIB_SRCS    := domU-frontend/front_xs.c domU-frontend/front_ring.c
FRONT_VERIFY_SRCS := domU-frontend/front_verify.c domU-frontend/front_bench.c
FRONT_SRCS        := domU-frontend/front_main.c $(FRONT_VERIFY_SRCS)

$(FRONT_LIB): $(FRONT_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
all: $(FRONT_LIB)

INSTALL_SBIN += $(BUILD)/bin/rtvirt-front
$(eval $(call rtv_program,rtvirt-front,$(FRONT_SRCS),xen,$(FRONT_LIB)))
