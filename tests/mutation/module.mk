# tests/mutation/: the mutation check of the pure core against its unit
# tests (`make mutate`; minutes, not seconds, so not part of `make check`).
# Each pair is a module and the unit test(s) that must catch every change
# to it; tests/mutation/equivalent.txt lists the mutants that change
# nothing, with the reason.  Mutants are built with ASan+UBSan so that one
# that only reads out of bounds is caught too.
MUTATE_PAIRS ?= \
    common/ioseq.c:tests/unit/test_ioseq.c \
    common/uart16550_seq.c:tests/unit/test_ioseq.c,tests/unit/test_iovirt.c \
    common/iovirt.c:tests/unit/test_iovirt.c \
    common/uart16550.c:tests/unit/test_uart16550.c \
    common/uart16550_mode.c:tests/unit/test_uart16550.c \
    common/ioemu_ctl.c:tests/unit/test_ioemu_ctl.c \
    common/request.c:tests/unit/test_switch_fsm.c,tests/unit/test_ioemu_ctl.c \
    common/ioreq_pio.c:tests/unit/test_ioreq_pio.c \
    common/uart_dm.c:tests/unit/test_uart_dm.c

MUTATE_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined

# mutate.py's own self-test (a toy module, seconds): part of `make check`.
CHECK_SCRIPTS += tests/mutation/selftest.sh

.PHONY: mutate
mutate: $(LIB) $(GEN_HDRS)
	$(PYTHON) tests/mutation/mutate.py --cc "$(CC)" \
	    --cflags "$(RTV_CPPFLAGS) $(CPPFLAGS) $(CHECK_CFLAGS) -Itests/unit -std=c11 -O0 $(MUTATE_SAN)" \
	    --libs "$(CHECK_LIBS) $(MUTATE_SAN)" --lib $(LIB) \
	    --equivalent tests/mutation/equivalent.txt $(MUTATE_PAIRS)
