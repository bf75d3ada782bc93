/* `rtvirt-ioemu probe-irq ...` (ioemu/probe_irq_cli.c): argv[0] is
 * "probe-irq".  Returns the exit status. */
#ifndef RTVIRT_IOEMU_PROBE_IRQ_CLI_H
#define RTVIRT_IOEMU_PROBE_IRQ_CLI_H

int probe_irq_main(int argc, char **argv);

#endif
