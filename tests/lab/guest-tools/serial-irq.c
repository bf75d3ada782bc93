/*
 * serial-irq TTY [auto|N]: a lab guest tool (flight ioemu).  Opens the tty
 * (the 8250 driver then requests its IRQ and tests the THRE interrupt),
 * waits a second and prints how many interrupts the IRQ had.  With "auto",
 * a count of 0 means the line is not routed to this guest: the tty is then
 * switched to the driver's polled mode (TIOCSSERIAL irq 0, as setserial
 * does); with N, the tty's IRQ is set to N.  Exit 0, or 1 on an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Interrupts counted on every CPU for `irq` in /proc/interrupts, or -1. */
static long irq_count(int irq)
{
    char line[1024];
    long total = -1;
    FILE *f = fopen("/proc/interrupts", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *end;

        if (strtol(p, &end, 10) != irq || end == p || *end != ':')
            continue;
        total = 0;
        for (p = end + 1;;) {
            long v = strtol(p, &end, 10);

            if (end == p)
                break;
            total += v;
            p = end;
        }
        break;
    }
    fclose(f);
    return total;
}

int main(int argc, char **argv)
{
    struct serial_struct ss;
    const char *mode = argc > 2 ? argv[2] : "auto";
    long count;
    int fd, want;

    if (argc < 2) {
        fprintf(stderr, "usage: serial-irq TTY [auto|N]\n");
        return 1;
    }
    fd = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || ioctl(fd, TIOCGSERIAL, &ss) < 0) {
        fprintf(stderr, "serial-irq: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    sleep(1);
    count = irq_count(ss.irq);
    printf("%s: port %#x irq %d: %ld interrupt(s) after open\n", argv[1], ss.port, ss.irq, count);
    if (strcmp(mode, "auto") == 0)
        want = count > 0 ? ss.irq : 0;
    else
        want = atoi(mode);
    if (want != ss.irq) {
        ss.irq = want;
        if (ioctl(fd, TIOCSSERIAL, &ss) < 0) {
            fprintf(stderr, "serial-irq: %s: TIOCSSERIAL irq %d: %s\n", argv[1], want, strerror(errno));
            return 1;
        }
        printf("%s: irq now %d%s\n", argv[1], want, want ? "" : " (the driver polls)");
    }
    close(fd);
    return 0;
}
