# common/: librtvirt, the core every program links (no libxen* calls), the
# local seam (common/local/), and the real Xen seam (common/xen/, the only
# code allowed to call libxen*).
LIB_SRCS    += $(wildcard common/*.c common/local/*.c)
XENLIB_SRCS += $(wildcard common/xen/*.c)
