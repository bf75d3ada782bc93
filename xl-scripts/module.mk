# xl-scripts/: the operator's commands.
$(eval $(call rtv_program,xl-rtvirt,xl-scripts/xl-rtvirt.c xl-scripts/xl_p2m.c xl-scripts/xl_create.c xl-scripts/xl_run.c xl-scripts/xl_move.c,xen))
EXTRA_LIBS_xl-rtvirt := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null) $(XLCFG_LIBS)
INSTALL_SBIN += $(BUILD)/bin/xl-rtvirt

# xl_p2m.c over the local store with a stand-in rtvirt-p2m
# (tests/unit/test_xl_p2m.c): its own link line, for xl_p2m.o and json-c.
$(BUILD)/tests/unit/test_xl_p2m: $(BUILD)/obj/tests/unit/test_xl_p2m.o \
                                 $(BUILD)/obj/xl-scripts/xl_p2m.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CHECK_LIBS) \
	    $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null) -lpthread $(LDLIBS)

# xl_create.c with xl's real config parser (common/xen/xen_xlcfg.c over
# libxlutil), the local store and a stand-in xl (tests/unit/test_xl_create.c).
$(BUILD)/tests/unit/test_xl_create: $(BUILD)/obj/tests/unit/test_xl_create.o \
                                    $(BUILD)/obj/xl-scripts/xl_create.o \
                                    $(BUILD)/obj/xl-scripts/xl_run.o \
                                    $(BUILD)/obj/common/xen/xen_xlcfg.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CHECK_LIBS) \
	    $(XLCFG_LIBS) -lpthread $(LDLIBS)

# xl_move.c (save, restore, migrate) over the local store with a stand-in xl,
# ssh and switch (tests/unit/test_xl_move.c).
$(BUILD)/tests/unit/test_xl_move: $(BUILD)/obj/tests/unit/test_xl_move.o \
                                  $(BUILD)/obj/xl-scripts/xl_move.o \
                                  $(BUILD)/obj/xl-scripts/xl_run.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CHECK_LIBS) -lpthread $(LDLIBS)
