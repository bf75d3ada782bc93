# tests/lab: osstest-style flights on real Xen nested in QEMU (tests/lab/README.md).
#   make lab [FLIGHT=smoke]   run a flight; results in build/lab/<flight>/
#   make demo                 flight demo: the live switch job, then the ioemu job
#   make lab-images           build/refresh the cached images ($RTVIRT_CACHE)
#   make lab-broken-example   a failing site step must fail the flight (self-test)
# LAB_ARGS passes extra runner options, e.g. LAB_ARGS="--steps-dir /srv/site-steps".
FLIGHT   ?= smoke
LAB_ARGS ?=

.PHONY: lab demo lab-images lab-broken-example
lab:
	tests/lab/flight $(FLIGHT) $(LAB_ARGS)

# The demo: the switch flight's job (tests/lab/steps/switch-*: rtvirt-shunt
# under fio verify, switched live across emulated, PV and selective) and
# demo-ioemu's job (one virtualize/devirtualize of the guest's real UART).
demo:
	tests/lab/flight demo $(LAB_ARGS)

lab-images:
	tests/lab/lab-images

lab-broken-example:
	@if tests/lab/flight smoke --out build/lab/broken-example \
	        --steps-dir tests/lab/examples/broken-step $(LAB_ARGS); then \
	    echo "lab-broken-example: the flight passed although a step is broken" >&2; exit 1; \
	else \
	    echo "lab-broken-example: flight exited $$? (non-zero, as it must)"; \
	fi
	tests/lab/examples/check-broken-result build/lab/broken-example/result.json

# Quick self-test of the lab's own code (no QEMU): part of `make check`.
CHECK_SCRIPTS += tests/lab/selftest.sh

# Lab guest tools: built here, installed under $(PREFIX)/lib/rtvirt/lab-guest/
# (not sbin: they are no operator's tools); the runner puts them in the
# guest's tools disk (/opt/lab/sbin).
LAB_GUEST_TOOLS := $(BUILD)/lab-guest/serial-irq
all: $(LAB_GUEST_TOOLS)
$(BUILD)/lab-guest/serial-irq: tests/lab/guest-tools/serial-irq.c
	@mkdir -p $(@D)
	$(COMPILE) $(RTV_LDFLAGS) $(LDFLAGS) -o $@ $<
install: install-lab-guest
.PHONY: install-lab-guest
# fio-pick: a script (busybox awk), installed as it is.
LAB_GUEST_SCRIPTS := tests/lab/guest-tools/fio-pick
install-lab-guest: $(LAB_GUEST_TOOLS)
	install -d $(DESTDIR)$(PREFIX)/lib/rtvirt/lab-guest
	install -m 0755 $(LAB_GUEST_TOOLS) $(LAB_GUEST_SCRIPTS) $(DESTDIR)$(PREFIX)/lib/rtvirt/lab-guest/
