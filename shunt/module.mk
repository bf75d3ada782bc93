# shunt/: rtvirt-shunt, the guest's block device in front of the emulated
# disk and the PV ring.  Everything but main is the "engine" the host
# component test links (tests/component/test_switch_component.c).
SHUNT_ENGINE_SRCS := shunt/shunt.c shunt/shunt_emu.c shunt/shunt_pv.c \
                     shunt/shunt_xs.c shunt/shunt_nbd.c shunt/shunt_nbd_dev.c
SHUNT_SRCS        := $(SHUNT_ENGINE_SRCS) shunt/shunt_main.c

# librtvirt-front, then librtvirt again (the front library depends on it).
EXTRA_LIBS_rtvirt-shunt := $(FRONT_LIB) $(BUILD)/lib/librtvirt.a \
                           $(shell $(PKG_CONFIG) --libs liburing) -lpthread
INSTALL_SBIN += $(BUILD)/bin/rtvirt-shunt

$(eval $(call rtv_program,rtvirt-shunt,$(SHUNT_SRCS),xen))
$(BUILD)/bin/rtvirt-shunt: $(FRONT_LIB)

# The host measurement behind the README's nbd numbers (not installed).
EXTRA_LIBS_rtvirt-shunt-bench := $(EXTRA_LIBS_rtvirt-shunt)
$(eval $(call rtv_program,rtvirt-shunt-bench,$(SHUNT_ENGINE_SRCS) shunt/shunt_bench.c))
$(BUILD)/bin/rtvirt-shunt-bench: $(FRONT_LIB)

# tests/unit/test_shunt_*.c drive the real shunt (on the local hub), so they
# link its engine objects, the frontend library and liburing too.
SHUNT_ENGINE_OBJS := $(SHUNT_ENGINE_SRCS:%.c=$(BUILD)/obj/%.o)
SHUNT_UNIT_TESTS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,\
                       $(wildcard tests/unit/test_shunt_*.c))
SHUNT_UNIT_TESTS  := $(filter-out $(BUILD)/tests/unit/test_shunt_core,$(SHUNT_UNIT_TESTS))
$(SHUNT_UNIT_TESTS): $(SHUNT_ENGINE_OBJS) $(FRONT_LIB)
$(SHUNT_UNIT_TESTS): LDLIBS += $(SHUNT_ENGINE_OBJS) $(FRONT_LIB) $(BUILD)/lib/librtvirt.a \
                               $(shell $(PKG_CONFIG) --libs liburing) -lpthread

# `make bench`: the nbd route's host cost, direct vs through the shunt, side
# by side in one run (the lab's switch-live step prints the switch's own
# benchmark: blackout per switch, throughput emulating vs enlightened).
BENCH_TARGETS += bench-shunt
.PHONY: bench-shunt
bench-shunt: $(BUILD)/bin/rtvirt-shunt-bench
	@f=$$(mktemp /var/tmp/rtvirt-shunt-bench.XXXXXX) && \
	    trap 'rm -f "$$f"' EXIT && \
	    dd if=/dev/urandom of="$$f" bs=1M count=64 status=none && \
	    $(BUILD)/bin/rtvirt-shunt-bench "$$f" 64 2
