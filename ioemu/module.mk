# ioemu/: the device-model side: the QMP client (and later the ioreq server).
JSONC_LIBS := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
$(eval $(call rtv_program,rtvirt-qmp,ioemu/rtvirt-qmp.c ioemu/qmp.c))
EXTRA_LIBS_rtvirt-qmp := $(JSONC_LIBS)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-qmp

# Component test against a real qemu process (QMP is qemu's protocol).
UNIT_TESTS += $(BUILD)/tests/component/test_qmp
$(BUILD)/obj/tests/component/test_qmp.o: RTV_CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit -Iioemu
$(BUILD)/tests/component/test_qmp: $(BUILD)/obj/tests/component/test_qmp.o $(BUILD)/obj/ioemu/qmp.o $(BUILD)/lib/librtvirt.a
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $^ $(JSONC_LIBS) $(CHECK_LIBS) $(LDLIBS)
