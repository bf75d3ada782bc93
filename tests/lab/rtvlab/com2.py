"""COM2 of the outer machine (job setting `com2 yes`, issue 13).

The outer QEMU gets a second 16550 at 0x2f8-0x2ff, IRQ 3, on a socket
chardev.  A host thread holds the other end: every byte the UART transmits,
whoever drives the UART (a domU with the ports mapped, or rtvirt-ioemu in
dom0), comes out of the socket and the thread appends it to the share's
com2/out, which dom0 reads back; bytes appended to the share's com2/in (by
a step in dom0) are written into the socket in order, at the pace the UART
takes them (QEMU reads its socket only while the receive FIFO has room, so
nothing is dropped on the host's side).

The socket, not QEMU's chardev logfile, is the witness: QEMU 7.2's
qemu_chr_write_buffer logs a byte whose write failed with EAGAIN (a full
socket: the UART writes one byte per send, so a reader late by a fraction
of a second fills it) and the 16550 then sends the same byte again, which
the logfile records a second time (demo run 20, 2026-12-07: "G 0002433"
for "G 000243" under host load 10).  What crossed the socket is what the
UART transmitted, once.
"""

import os
import select
import socket
import threading
import time

CONNECT_DEADLINE = 60   # seconds for QEMU to create its socket


def qemu_args(jdir, share):
    """QEMU's words for COM2 (after COM1's `-serial`, so it is index 1:
    ISA serial 1 is 0x2f8, IRQ 3)."""
    d = os.path.join(share, "com2")
    os.makedirs(d, exist_ok=True)
    for name in ("in", "out"):
        open(os.path.join(d, name), "wb").close()
    sock = os.path.join(jdir, "com2.sock")
    return ["-chardev", "socket,id=ser1,path=%s,server=on,wait=off" % sock,
            "-serial", "chardev:ser1"]


class Feeder(threading.Thread):
    """Copies the share's com2/in into COM2's socket as it grows, and what
    comes out of the socket to the share's com2/out."""

    def __init__(self, jdir, share, say):
        super().__init__(daemon=True)
        self.sock_path = os.path.join(jdir, "com2.sock")
        self.in_path = os.path.join(share, "com2", "in")
        self.out_path = os.path.join(share, "com2", "out")
        self.say = say
        self.stop_ev = threading.Event()
        self.fed = 0

    def connect(self):
        t0 = time.time()
        while not self.stop_ev.is_set() and time.time() - t0 < CONNECT_DEADLINE:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock_path)
                s.setblocking(False)
                return s
            except OSError:
                s.close()
                time.sleep(0.5)
        return None

    def run(self):
        s = self.connect()
        if s is None:
            self.say("com2: no socket %s within %d s: nothing fed" % (self.sock_path, CONNECT_DEADLINE))
            return
        pending = b""
        # unbuffered: dom0 reads com2/out while the guest writes
        with s, open(self.in_path, "rb") as src, open(self.out_path, "ab", buffering=0) as out:
            while not self.stop_ev.is_set():
                if not pending:
                    pending = src.read(4096)
                r, w, _ = select.select([s], [s] if pending else [], [], 0.1)
                try:
                    got = s.recv(65536) if r else None
                    if got == b"":
                        self.say("com2: QEMU closed the socket (%d bytes fed)" % self.fed)
                        return
                    if got:
                        out.write(got)
                    n = s.send(pending) if w and pending else 0
                except BlockingIOError:
                    n = 0
                except OSError as e:   # QEMU went away (the job's end)
                    self.say("com2: socket: %s (%d bytes fed)" % (e, self.fed))
                    return
                if pending:
                    pending = pending[n:]
                    self.fed += n

    def stop(self):
        self.stop_ev.set()
        self.join(5)
