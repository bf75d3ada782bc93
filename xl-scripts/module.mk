# xl-scripts/: the operator's commands.
$(eval $(call rtv_program,xl-rtvirt,xl-scripts/xl-rtvirt.c xl-scripts/xl_p2m.c xl-scripts/xl_create.c xl-scripts/xl_run.c xl-scripts/xl_move.c,xen))
EXTRA_LIBS_xl-rtvirt := $(JSONC_LIBS) $(XLCFG_LIBS)
INSTALL_SBIN += $(BUILD)/bin/xl-rtvirt

# xl_p2m.c over the local store with a stand-in rtvirt-p2m
# (tests/unit/test_xl_p2m.c).
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_xl_p2m, \
    $(BUILD)/obj/tests/unit/test_xl_p2m.o $(BUILD)/obj/xl-scripts/xl_p2m.o, \
    $(JSONC_LIBS) -lpthread))

# xl_create.c with xl's real config parser (common/xen/xen_xlcfg.c over
# libxlutil), the local store and a stand-in xl (tests/unit/test_xl_create.c).
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_xl_create, \
    $(BUILD)/obj/tests/unit/test_xl_create.o $(BUILD)/obj/xl-scripts/xl_create.o \
    $(BUILD)/obj/xl-scripts/xl_run.o $(BUILD)/obj/common/xen/xen_xlcfg.o, \
    $(XLCFG_LIBS) -lpthread))

# xl_move.c (save, restore, migrate) over the local store with a stand-in xl,
# ssh and switch (tests/unit/test_xl_move.c).
$(eval $(call rtv_test,$(BUILD)/tests/unit/test_xl_move, \
    $(BUILD)/obj/tests/unit/test_xl_move.o $(BUILD)/obj/xl-scripts/xl_move.o \
    $(BUILD)/obj/xl-scripts/xl_run.o,-lpthread))
