"""sd_notify(3) in the standard library: one AF_UNIX datagram per message to $NOTIFY_SOCKET.

A message is newline-separated assignments (``READY=1``, ``STATUS=...``).  The socket's
address is a path, or with a leading ``@`` a name in the abstract namespace (sent as a
leading NUL byte).  Without $NOTIFY_SOCKET (not started by systemd, or a unit that is not
``Type=notify``) every call does nothing.  A failed send is logged once and never raised:
systemd's notification must not be able to stop the daemon.

The watchdog follows sd_watchdog_enabled(3): enabled when $WATCHDOG_USEC is set, unless
$WATCHDOG_PID is set and names another process.  The environment is read here only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping

log = logging.getLogger(__name__)

# EXTEND_TIMEOUT_USEC is sent every this many seconds while a long start-up step runs, each
# asking for twice that much more time, so one late message does not end the start.
EXTEND_PERIOD_S = 20.0


def _socket_address(value: str) -> str | bytes | None:
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # systemd's vsock: addresses are for VMs, not for this daemon


def watchdog_interval_s(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """systemd's watchdog timeout in seconds for this process, or None when it has none."""
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None  # meant for another process (our parent, or a child of the unit)
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a number of microseconds", usec)
        return None
    return value / 1e6 if value > 0 else None


class SystemdNotifier:
    """Sends notifications to one address; `enabled` is False when there is nowhere to send."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._target = _socket_address(address) if address else None
        if address and self._target is None:
            log.warning("ignoring NOTIFY_SOCKET=%r: not a path or an abstract socket name", address)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()  # the socket is made once; sends themselves need no lock
        self._failed = False
        self._said_stopping = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        environ = os.environ if environ is None else environ
        return cls(environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self._target is not None

    def send(self, *assignments: str) -> bool:
        """Send one message made of `assignments`; True when it was sent."""
        if self._target is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            with self._lock:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, self._target)
        except OSError as exc:
            if not self._failed:  # once: a socket that went away fails every time
                self._failed = True
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={one_line(status)}")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={one_line(text)}")

    def watchdog(self, status: str | None = None) -> bool:
        return self.send("WATCHDOG=1", *([f"STATUS={one_line(status)}"] if status is not None else []))

    def stopping(self, status: str) -> bool:
        """STOPPING=1, once: a process stops once, whichever path gets there first."""
        if self._said_stopping:
            return False
        self._said_stopping = True
        return self.send("STOPPING=1", f"STATUS={one_line(status)}")

    def extend_timeout(self, seconds: float) -> bool:
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}")

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def one_line(text: str) -> str:
    return " ".join(text.split())


_process_notifier: SystemdNotifier | None = None
_process_lock = threading.Lock()


def process_notifier() -> SystemdNotifier:
    """The notifier of this process (from $NOTIFY_SOCKET, read once)."""
    global _process_notifier
    with _process_lock:
        if _process_notifier is None:
            _process_notifier = SystemdNotifier.from_environment()
        return _process_notifier


@contextlib.contextmanager
def extended_timeout(what: str, notifier: SystemdNotifier | None = None,
                     period_s: float | None = None) -> Iterator[None]:
    """Keep systemd's current timeout (the start timeout, before READY=1) from running out while
    the block runs: STATUS=`what`, and EXTEND_TIMEOUT_USEC now and every `period_s` (default
    EXTEND_PERIOD_S), each for 2 x `period_s`."""
    notifier = process_notifier() if notifier is None else notifier
    period_s = EXTEND_PERIOD_S if period_s is None else period_s
    if not notifier.enabled:
        yield
        return
    done = threading.Event()

    def extend() -> None:
        while True:
            notifier.extend_timeout(2 * period_s)
            if done.wait(period_s):
                return

    notifier.status(what)
    thread = threading.Thread(target=extend, name="sd-extend-timeout", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
