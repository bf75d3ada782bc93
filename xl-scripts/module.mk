# xl-scripts/: the operator's commands.
$(eval $(call rtv_program,xl-rtvirt,xl-scripts/xl-rtvirt.c,xen))
EXTRA_LIBS_xl-rtvirt := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
INSTALL_SBIN += $(BUILD)/bin/xl-rtvirt
