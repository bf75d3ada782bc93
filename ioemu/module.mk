# ioemu/: the device-model side: the QMP client library (librtvirt-qmp, API in
# include/rtvirt/qmp.h; rtvirt-backd's device-model sync uses it too), and the
# ioreq-server device model (librtvirt-ioemu, its server, API in
# include/rtvirt/ioemu_srv.h; rtvirt-ioemu is it over the real Xen seam and
# the real UART, the component test over fakes of both).
$(QMP_LIB): $(BUILD)/obj/ioemu/qmp.o
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
all: $(QMP_LIB)

$(eval $(call rtv_program,rtvirt-qmp,ioemu/rtvirt-qmp.c,,$(QMP_LIB)))
EXTRA_LIBS_rtvirt-qmp := $(JSONC_LIBS)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-qmp

# rtvirt-ioemu: the ioreq-server device model (issue 13).
# probe_irq.o: `rtvirt-ioemu probe-irq`'s core (json-c for --json).
$(IOEMU_LIB): $(BUILD)/obj/ioemu/ioemu_srv.o $(BUILD)/obj/ioemu/probe_irq.o
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
all: $(IOEMU_LIB)

$(eval $(call rtv_program,rtvirt-ioemu,ioemu/rtvirt-ioemu.c ioemu/probe_irq_cli.c ioemu/uart_port.c,xen,$(IOEMU_LIB)))
EXTRA_LIBS_rtvirt-ioemu := $(JSONC_LIBS)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-ioemu
