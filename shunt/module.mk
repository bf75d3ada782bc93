# shunt/: rtvirt-shunt, the control plane of the guest's dm device over the
# emulated disk and blkfront's PV disk (dmctl.c and what it uses; the tests
# link these with a fake dm seam instead of dm_libdm.c, the only
# libdevmapper user).  The data path is the kernel's (shunt/kmod, below).
SHUNT_DM_SRCS  := shunt/dmctl.c shunt/dm_disks.c shunt/shunt_nodes.c
SHUNT_SRCS     := $(SHUNT_DM_SRCS) shunt/dm_libdm.c shunt/shunt_main.c
DEVMAPPER_LIBS := $(shell $(PKG_CONFIG) --libs devmapper 2>/dev/null)

EXTRA_LIBS_rtvirt-shunt := $(DEVMAPPER_LIBS) -lpthread
INSTALL_SBIN += $(BUILD)/bin/rtvirt-shunt
$(eval $(call rtv_program,rtvirt-shunt,$(SHUNT_SRCS),xen))

# rtvirt-flip-cost: what the flip's ioctls cost through that seam (a
# measurement for `make kmod-check`; not installed).
EXTRA_LIBS_rtvirt-flip-cost := $(DEVMAPPER_LIBS) -lpthread
$(eval $(call rtv_program,rtvirt-flip-cost,shunt/flip_cost.c shunt/dm_libdm.c,))

# tests/unit/test_dmctl.c: the dm control plane against a fake dm seam (the
# component test, tests/component/module.mk, links the same objects).
SHUNT_DM_OBJS := $(SHUNT_DM_SRCS:%.c=$(BUILD)/obj/%.o)
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_dmctl, \
    $(BUILD)/obj/tests/unit/test_dmctl.o $(SHUNT_DM_OBJS),-lpthread))

# ---- shunt/kmod: dm-rtvirt.ko, the device-mapper target "rtvirt" ----------
# Built with Kbuild against the headers of the kernel the lab guest boots
# (KMOD_KVER; Debian's linux-headers-<version>), from a copy of shunt/kmod in
# $(BUILD)/kmod: Kbuild writes its objects next to the sources, and the
# checkout stays clean.  Part of `make` (and so of `make install`, which
# the lab's tools disk is made from) when those headers are installed; not
# in the sanitizer build, and `make check` never needs a kernel.
#   make kmod            build it (an error without the headers)
#   make install-dkms    the DKMS source tree in $(DESTDIR)/usr/src/rtvirt-<version>
#   make kmod-deb        the Debian package rtvirt-dkms (dh_dkms)
KMOD_KVER    ?= $(or $(shell sh tests/lab/images/guest-kernel-version),$(shell uname -r))
KMOD_KDIR    ?= /lib/modules/$(KMOD_KVER)/build
KMOD_SRCS    := shunt/kmod/dm-rtvirt.c shunt/kmod/Kbuild shunt/kmod/dkms.conf
KMOD_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' shunt/kmod/dkms.conf)
KMOD         := $(BUILD)/kmod/dm-rtvirt.ko

.PHONY: kmod install-kmod install-dkms
kmod: $(KMOD)
# An empty MAKEOVERRIDES keeps our command-line variables (CC, CFLAGS, SAN, ...)
# out of Kbuild, which must build with the compiler and flags of the kernel.
$(KMOD): MAKEOVERRIDES :=
$(KMOD): $(KMOD_SRCS)
	@test -f $(KMOD_KDIR)/Makefile || { echo "kmod: no kernel headers in $(KMOD_KDIR): install linux-headers-$(KMOD_KVER) (make deps)" >&2; exit 1; }
	@mkdir -p $(@D)
	cp $(KMOD_SRCS) $(@D)/
	$(MAKE) -C $(KMOD_KDIR) M=$(abspath $(@D)) $(if $(WERROR_FLAG),KCFLAGS=-Werror) modules

# Staged beside the programs, for `insmod` (the lab's runner copies this
# folder onto the guest's tools disk); not into /lib/modules, which belongs
# to the kernel's packages: a machine that keeps the module across kernels
# installs it with DKMS (install-dkms).
KMOD_MODDIR  := $(PREFIX)/lib/rtvirt/modules
KMOD_INSTDIR := $(KMOD_MODDIR)/$(KMOD_KVER)
install-kmod: $(KMOD)
	install -D -m 0644 $(KMOD) $(DESTDIR)$(KMOD_INSTDIR)/dm-rtvirt.ko

install-dkms:
	install -d $(DESTDIR)/usr/src/rtvirt-$(KMOD_VERSION)
	install -m 0644 $(KMOD_SRCS) $(DESTDIR)/usr/src/rtvirt-$(KMOD_VERSION)/

# The Debian package rtvirt-dkms (shunt/kmod/debian: dh with dh_dkms), built
# from a copy of shunt/kmod; its version (debian/changelog) must be the
# module's (dkms.conf).
KMOD_DEB := $(BUILD)/kmod-deb/rtvirt-dkms_$(KMOD_VERSION)_all.deb
.PHONY: kmod-deb
kmod-deb: $(KMOD_DEB)
$(KMOD_DEB): $(KMOD_SRCS) $(wildcard shunt/kmod/debian/* shunt/kmod/debian/*/*)
	@v=$$(dpkg-parsechangelog -l shunt/kmod/debian/changelog -S Version); \
	    [ "$$v" = "$(KMOD_VERSION)" ] || { echo "kmod-deb: debian/changelog says $$v, dkms.conf $(KMOD_VERSION)" >&2; exit 1; }
	rm -rf $(@D) && mkdir -p $(@D)/src
	cp -r $(KMOD_SRCS) shunt/kmod/debian $(@D)/src/
	cd $(@D)/src && dpkg-buildpackage -b -us -uc

ifneq ($(SAN),1)
ifneq ($(wildcard $(KMOD_KDIR)/Makefile),)
all: $(KMOD)
install: install-kmod
endif
endif

# The target's checks in a plain QEMU VM booting the guest's kernel (not in
# `make check`: it needs the kernel image and takes minutes of TCG).
.PHONY: kmod-check
kmod-check: $(KMOD) $(BUILD)/bin/rtvirt-flip-cost
	FLIP_COST=$(BUILD)/bin/rtvirt-flip-cost nice -n 10 shunt/kmod/qemu-check $(KMOD) $(KMOD_KVER)

# A measurement, not a check (shunt/kmod/qemu-bench.vm): what the target
# and a dm layer cost per bio, on null_blk legs, the guest's clock counting
# its instructions (-icount), so the host's load does not move it (two
# rounds on 2026-12-07 differed by 0.01-0.1%: one is the default).
# KMOD_BENCH_KOS="a.ko b.ko": other builds of the module beside this one;
# KMOD_BENCH_ARGS: more of qemu-bench.vm's settings (rtvbench.modes=emulated,
# rtvbench.nostat=1, rtvbench.runtime=1, rtvbench.pairs=30); KMOD_BENCH_QEMU=
# (empty) runs the guest on the host's clock, its load and all.
KMOD_BENCH_ROUNDS ?= 1
KMOD_BENCH_ARGS ?=
KMOD_BENCH_QEMU ?= -icount shift=0,sleep=off
.PHONY: kmod-bench
kmod-bench: $(KMOD)
	VM=qemu-bench.vm KOS="$(KMOD_BENCH_KOS)" VM_TIMEOUT=3600 \
	    VM_QEMU_ARGS="$(KMOD_BENCH_QEMU)" \
	    VM_APPEND="rtvbench.rounds=$(KMOD_BENCH_ROUNDS) rtvbench.runtime=2 $(KMOD_BENCH_ARGS)" \
	    nice -n 10 shunt/kmod/qemu-check $(KMOD) $(KMOD_KVER)

# rtvirt-netshunt: the guest side of the NIC switch (a team, or bonding,
# master over the emulated NIC and netfront; the kernel moves the packets).
NETSHUNT_SRCS := shunt/netshunt_main.c shunt/netshunt.c shunt/netshunt_sys.c \
                 shunt/netshunt_team.c shunt/team_nl.c shunt/netshunt_ring.c
# tests/unit/test_netshunt.c drives the engine against a fake of the kernel;
# tests/unit/test_team_nl.c checks the netlink bytes for the team driver.
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_netshunt, \
    $(BUILD)/obj/tests/unit/test_netshunt.o $(BUILD)/obj/shunt/netshunt.o))
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_netshunt_ring, \
    $(BUILD)/obj/tests/unit/test_netshunt_ring.o $(BUILD)/obj/shunt/netshunt_ring.o))
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_team_nl, \
    $(BUILD)/obj/tests/unit/test_team_nl.o $(BUILD)/obj/shunt/team_nl.o))
INSTALL_SBIN += $(BUILD)/bin/rtvirt-netshunt
$(eval $(call rtv_program,rtvirt-netshunt,$(NETSHUNT_SRCS),xen))

# rtvirt-netcheck: the NIC switch's checker (a numbered TCP stream both ways,
# an ICMP flood), run at both ends by the lab's net flight; needs nothing of
# librtvirt.
INSTALL_SBIN += $(BUILD)/bin/rtvirt-netcheck
$(eval $(call rtv_program,rtvirt-netcheck,shunt/netcheck.c))

# ---- the root filesystem on the shunt (shunt/initramfs-tools) --------------
# The shell functions rtvirt-root (the dm device from rtvirt.disk= on the
# kernel command line) go to $(PREFIX)/share/rtvirt/; the lab's guest /init
# sources them from there (its tools disk), a Debian guest's initramfs gets
# them from the hook.  The hook and the local-top script go where
# mkinitramfs reads them: /usr/share/initramfs-tools for a package
# (PREFIX=/usr), else /etc/initramfs-tools, the local administrator's place
# (mkinitramfs reads no /usr/local).  rtvirt-shunt@VDEV.service runs the
# control plane that picks the device up once the real root runs.
RTVIRT_DATADIR := $(PREFIX)/share/rtvirt
INITRAMFS_DIR  ?= $(if $(filter /usr,$(PREFIX)),/usr/share/initramfs-tools,/etc/initramfs-tools)
INITRAMFS_SCRIPTS := shunt/initramfs-tools/rtvirt-root shunt/initramfs-tools/hooks/rtvirt \
                     shunt/initramfs-tools/scripts/local-top/rtvirt
INSTALL_UNITS += shunt/rtvirt-shunt@.service.in
CHECK_SCRIPTS += shunt/initramfs-tools/check-initramfs.sh

.PHONY: install-initramfs
install: install-initramfs
install-initramfs:
	install -D -m 0644 shunt/initramfs-tools/rtvirt-root $(DESTDIR)$(RTVIRT_DATADIR)/rtvirt-root
	install -d $(DESTDIR)$(INITRAMFS_DIR)/hooks $(DESTDIR)$(INITRAMFS_DIR)/scripts/local-top
	sed -e 's|@DATADIR@|$(RTVIRT_DATADIR)|g' -e 's|@KMODDIR@|$(KMOD_MODDIR)|g' \
	    shunt/initramfs-tools/hooks/rtvirt > $(DESTDIR)$(INITRAMFS_DIR)/hooks/rtvirt
	chmod 0755 $(DESTDIR)$(INITRAMFS_DIR)/hooks/rtvirt
	install -m 0755 shunt/initramfs-tools/scripts/local-top/rtvirt \
	    $(DESTDIR)$(INITRAMFS_DIR)/scripts/local-top/rtvirt
