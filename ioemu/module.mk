# ioemu/: the device-model side: the QMP client (and later the ioreq server).
JSONC_LIBS := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
$(eval $(call rtv_program,rtvirt-qmp,ioemu/rtvirt-qmp.c ioemu/qmp.c))
EXTRA_LIBS_rtvirt-qmp := $(JSONC_LIBS)
INSTALL_SBIN += $(BUILD)/bin/rtvirt-qmp

