# ioemu/: the device-model side: the QMP client library (librtvirt-qmp, API in
# include/rtvirt/qmp.h; rtvirt-backd's device-model sync uses it too), and the
# ioreq-server device model.
$(QMP_LIB): $(BUILD)/obj/ioemu/qmp.o
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
all: $(QMP_LIB)

$(eval $(call rtv_program,rtvirt-qmp,ioemu/rtvirt-qmp.c,,$(QMP_LIB)))
EXTRA_LIBS_rtvirt-qmp := $(JSONC_LIBS)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-qmp

# rtvirt-ioemu: the ioreq-server device model (issue 13).  ioemu_srv.c is
# also linked into the component test, against the fake device-model seam.
$(eval $(call rtv_program,rtvirt-ioemu,ioemu/rtvirt-ioemu.c ioemu/ioemu_srv.c ioemu/uart_port.c,xen))
INSTALL_SBIN += $(BUILD)/bin/rtvirt-ioemu
