# p2m-tools: the P2M identity planner (pure core, in common/), its hypercall
# adapter (real Xen seam, common/xen/xen_p2m.c), and rtvirt-p2m.
# common/module.mk may already pick these up by wildcard; filter-out keeps
# each source listed once whichever way the core's module.mk is written.
P2M_LIB_SRCS := common/p2m_plan.c common/p2m_plan_model.c
LIB_SRCS     += $(filter-out $(LIB_SRCS),$(P2M_LIB_SRCS))

# The top Makefile expands `all`'s prerequisites before it collects
# UNIT_TESTS, so name our test program here to have `all` build it.
all: $(BUILD)/tests/unit/test_p2m_plan
