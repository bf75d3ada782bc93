# p2m-tools: the P2M identity planner (pure core, in common/), its hypercall
# adapter (real Xen seam), and rtvirt-p2m.  common/module.mk belongs to the
# core; the planner's sources are registered here so this module stays
# self-contained.
LIB_SRCS    += common/p2m_plan.c common/p2m_plan_model.c
