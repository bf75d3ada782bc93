# ioemu/: the device-model side: the QMP client (and later the ioreq server).
JSONC_LIBS := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
$(eval $(call rtv_program,rtvirt-qmp,ioemu/rtvirt-qmp.c ioemu/qmp.c))
EXTRA_LIBS_rtvirt-qmp := $(JSONC_LIBS)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-qmp


# rtvirt-ioemu: the ioreq-server device model (issue 13).  ioemu_srv.c is
# also linked into the component test, against the fake device-model seam.
$(eval $(call rtv_program,rtvirt-ioemu,ioemu/rtvirt-ioemu.c ioemu/ioemu_srv.c ioemu/uart_port.c,xen))
INSTALL_SBIN += $(BUILD)/bin/rtvirt-ioemu
