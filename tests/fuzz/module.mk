# tests/fuzz/: libFuzzer harnesses for every parser of untrusted input
# (README.md here).  They are built by Debian's clang in a tree of their own,
# $(BUILD)/fuzz, where librtvirt is compiled with coverage instrumentation
# and ASan+UBSan, and run on the corpus in tests/fuzz/corpus/<name>/.
#   make fuzz        each harness for FUZZ_RUNS executions (a bench-style run)
#   make fuzz-smoke  each for FUZZ_SMOKE_RUNS (part of `make check`)
FUZZ_CC         ?= clang
FUZZ_RUNS       ?= 10000000
FUZZ_SMOKE_RUNS ?= 3000
FUZZ_NAMES      := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN        := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                   -fno-omit-frame-pointer
FUZZ_TREE_DIR   := $(BUILD)/fuzz

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_TREE_DIR) CC=$(FUZZ_CC) FUZZ_TREE=1 \
	    SAN_FLAGS='$(FUZZ_SAN) -fsanitize=fuzzer-no-link' fuzz-bins

fuzz: fuzz-build
	sh tests/fuzz/run $(FUZZ_TREE_DIR) $(FUZZ_RUNS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-build
	sh tests/fuzz/run $(FUZZ_TREE_DIR) $(FUZZ_SMOKE_RUNS) $(FUZZ_NAMES)

# A few seconds of runs (plus the clang build): every harness still builds,
# the corpus still passes, and a quick search around it finds nothing.
# Without clang's libFuzzer it skips, as tests/run-checks skips a check
# whose part is missing, and fails under RTV_CHECKS_STRICT=1 (make test).
.PHONY: fuzz-smoke-check
check: fuzz-smoke-check
fuzz-smoke-check:
	@if ls "$$($(FUZZ_CC) -print-resource-dir 2>/dev/null)"/lib/linux/libclang_rt.fuzzer-*.a \
	        >/dev/null 2>&1; then \
	    $(MAKE) fuzz-smoke; \
	else \
	    echo "fuzz-smoke: skipped: no $(FUZZ_CC) with libFuzzer (make deps installs clang and libclang-rt-14-dev)"; \
	    [ "$${RTV_CHECKS_STRICT:-0}" != 1 ]; \
	fi

# Inside the fuzz tree (the sub-make above): the harnesses themselves.
ifeq ($(FUZZ_TREE),1)
.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz_%)

$(FUZZ_NAMES:%=$(BUILD)/obj/tests/fuzz/fuzz_%.o): RTV_CPPFLAGS += -Itests/fuzz

# The QMP client is ioemu's, not librtvirt's.
FUZZ_OBJS_qmp := $(QMP_LIB)
FUZZ_LIBS_qmp := $(JSONC_LIBS)
$(BUILD)/tests/fuzz/fuzz_qmp: $(FUZZ_OBJS_qmp)

$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(FUZZ_SAN) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(FUZZ_OBJS_$*) $(LIB) \
	    $(FUZZ_LIBS_$*) $(LDLIBS)
endif
