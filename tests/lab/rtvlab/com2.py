"""COM2 of the outer machine (job setting `com2 yes`, issue 13).

The outer QEMU gets a second 16550 at 0x2f8-0x2ff, IRQ 3, on a socket
chardev whose logfile is the share's com2/out: every byte the UART
transmits lands there, whoever drives the UART (a domU with the ports
mapped, or rtvirt-ioemu in dom0), and dom0 reads it back through the share.
The receive side is fed by a host thread: bytes appended to the share's
com2/in (by a step in dom0) are written into the socket in order, at the
pace the UART takes them (QEMU reads its socket only while the receive FIFO
has room, so nothing is dropped on the host's side).  The thread also reads
and drops what QEMU sends to the socket (the logfile has it): an unread
socket would fill and stall the transmitter.
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
    open(os.path.join(d, "in"), "wb").close()
    sock = os.path.join(jdir, "com2.sock")
    return ["-chardev", "socket,id=ser1,path=%s,server=on,wait=off,logfile=%s"
            % (sock, os.path.join(d, "out")),
            "-serial", "chardev:ser1"]


class Feeder(threading.Thread):
    """Copies the share's com2/in into COM2's socket as it grows."""

    def __init__(self, jdir, share, say):
        super().__init__(daemon=True)
        self.sock_path = os.path.join(jdir, "com2.sock")
        self.in_path = os.path.join(share, "com2", "in")
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
        with s, open(self.in_path, "rb") as src:
            while not self.stop_ev.is_set():
                if not pending:
                    pending = src.read(4096)
                r, w, _ = select.select([s], [s] if pending else [], [], 0.1)
                try:
                    if r and not s.recv(65536):
                        self.say("com2: QEMU closed the socket (%d bytes fed)" % self.fed)
                        return
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
