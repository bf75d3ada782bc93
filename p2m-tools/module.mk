# p2m-tools: the P2M identity planner (pure core, in common/), its hypercall
# adapter (real Xen seam, common/xen/xen_p2m.c), and rtvirt-p2m.
# common/module.mk may already pick these up by wildcard; filter-out keeps
# each source listed once whichever way the core's module.mk is written.
P2M_LIB_SRCS := common/p2m_plan.c common/p2m_plan_model.c
LIB_SRCS     += $(filter-out $(LIB_SRCS),$(P2M_LIB_SRCS))

# The top Makefile expands `all`'s prerequisites before it collects
# UNIT_TESTS, so name our test program here to have `all` build it.
all: $(BUILD)/tests/unit/test_p2m_plan

# The hypercall adapter is real-Xen seam code (the only libxen* user here).
P2M_XENLIB_SRCS := common/xen/xen_p2m.c
XENLIB_SRCS     += $(filter-out $(XENLIB_SRCS),$(P2M_XENLIB_SRCS))

P2M_TOOL_SRCS := p2m-tools/rtvirt-p2m.c p2m-tools/simulate.c p2m-tools/domain.c
EXTRA_LIBS_rtvirt-p2m := -lm
ifneq ($(origin rtv_program),undefined)
$(eval $(call rtv_program,rtvirt-p2m,$(P2M_TOOL_SRCS),xen))
else
# The top Makefile defines rtv_program after including the module.mk files,
# so the call above would expand to nothing; spell the same rule out until
# it moves.  Same link line as rtv_program with "xen".
P2M_TOOL_OBJS := $(P2M_TOOL_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/bin/rtvirt-p2m
all: $(BUILD)/bin/rtvirt-p2m
$(BUILD)/bin/rtvirt-p2m: $(P2M_TOOL_OBJS) $(BUILD)/lib/librtvirt-xen.a $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(P2M_TOOL_OBJS) $(BUILD)/lib/librtvirt-xen.a \
	    $(BUILD)/lib/librtvirt.a $(XEN_LIBS) $(EXTRA_LIBS_rtvirt-p2m) $(LDLIBS)
$(P2M_TOOL_OBJS): RTV_CPPFLAGS += $(XEN_CFLAGS)
endif
INSTALL_SBIN += $(BUILD)/bin/rtvirt-p2m

# Benchmark, not a test: the simulator at 1 GiB, 64 GiB and 1 TiB.
.PHONY: bench-p2m
bench-p2m: $(BUILD)/bin/rtvirt-p2m
	BUILD=$(BUILD) sh bench/p2m-simulate
