# common/: librtvirt, the core every program links (no libxen* calls), the
# local seam (common/local/), and the real Xen seam (common/xen/, the only
# code allowed to call libxen*).
LIB_SRCS    += $(wildcard common/*.c common/local/*.c)
XENLIB_SRCS += $(wildcard common/xen/*.c)

CHECK_SCRIPTS += common/check-seam.sh

# Every public header compiles on its own (it includes what it uses).
PUBLIC_HDRS := $(wildcard $(LIB_INCLUDE_DIRS:%=%/rtvirt/*.h))
# (It needs the generated headers: that prerequisite is added in the top
# Makefile, once every module.mk has named its GEN_HDRS.)
.PHONY: check-headers
check-headers:
	@for h in $(PUBLIC_HDRS); do \
	    printf '#include "%s"\n' "rtvirt/$${h##*/}" | \
	    $(CC) $(RTV_CPPFLAGS) -std=c11 -Wall -Wextra -Werror -fsyntax-only -x c - \
	    || { echo "header $$h does not compile on its own"; exit 1; }; \
	done; echo "headers: $(words $(PUBLIC_HDRS)) public headers compile on their own"
check-run: check-headers

# xenctrl.h (XEN_DOMCTL_ioport_mapping, the domain's vCPU count) pulls in
# Xen's save-record headers, which need GNU C's anonymous unions and
# __align8__: that one adapter is compiled as gnu11.
$(BUILD)/obj/common/xen/xen_ioreq.o: RTV_CFLAGS += -std=gnu11

# xl's own config parser (libxlutil, with libxenlight's disk types) for
# xen_xlcfg.c: only xl-rtvirt links it (xl-scripts/module.mk).
XLCFG_CFLAGS := $(shell $(PKG_CONFIG) --cflags xlutil xenlight 2>/dev/null)
XLCFG_LIBS   := $(shell $(PKG_CONFIG) --libs xlutil xenlight 2>/dev/null)
$(BUILD)/obj/common/xen/xen_xlcfg.o: RTV_CPPFLAGS += $(XLCFG_CFLAGS)
