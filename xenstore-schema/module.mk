# xenstore-schema/: the contract document, the C table generated from it,
# and the check that code names no node the contract lacks.
SCHEMA_DOC := xenstore-schema/rtvirt-paths.md
SCHEMA_GEN_H := $(BUILD)/gen/rtvirt/xs_nodes.h
SCHEMA_GEN_C := $(BUILD)/gen/xs_nodes.c

GEN_HDRS += $(SCHEMA_GEN_H)
LIB_SRCS += $(SCHEMA_GEN_C)

$(SCHEMA_GEN_H) $(SCHEMA_GEN_C) &: $(SCHEMA_DOC) xenstore-schema/gen-table.py xenstore-schema/schema.py
	$(PYTHON) xenstore-schema/gen-table.py $(SCHEMA_DOC) $(SCHEMA_GEN_H) $(SCHEMA_GEN_C)

# The generated .c is compiled like any source, from the build tree.
$(BUILD)/obj/$(SCHEMA_GEN_C:.c=.o): $(SCHEMA_GEN_C)

CHECK_SCRIPTS += xenstore-schema/check-code.sh xenstore-schema/check-validator.sh
