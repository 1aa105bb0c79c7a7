"""A private systemd service manager for tests: `systemd --user` in a mount namespace of its own.

PID 1 of a test machine (a container, a VM's own init) is often not systemd, and then
`systemd --user` refuses to run ("the system has not been booted with systemd": it looks for
/run/systemd/system).  In a private mount namespace with a tmpfs over /run/systemd holding
that directory, it runs: a real service manager with Type=notify, WatchdogSec=, Restart=,
slices and the sandboxing options, managing units from a folder the test writes.  Nothing
outside the namespace changes; stop() ends the manager (and with it every unit it started).
Needs root (mount namespaces, and a manager that may apply the unit's sandboxing).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SYSTEMD = Path("/lib/systemd/systemd")
# The runtime directory is a tmpfs, as /run/user/UID is: the manager refuses to clean
# credentials off a disk file system.  Shared, because a helper sets up each unit's credentials
# in a mount namespace of its own and they must propagate back (the namespace is private).
# The sandbox of a root manager's units masks paths with /run/systemd/inaccessible/*, which
# systemd as PID 1 would have made: made here, as it makes them (mode 0000).
_BOOT = """mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && \
cd /run/systemd && mkdir -m 0 inaccessible && cd inaccessible && mkdir -m 0 dir && touch reg && \
mkfifo fifo && mknod chr c 0 0 && mknod blk b 0 0 && \
{python} -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')" && chmod 0 reg fifo chr blk sock && \
cd / && mount -t tmpfs -o mode=0700 tmpfs {runtime} && mount --make-shared {runtime} && \
exec {systemd} --user --unit=jetsentry-test.target --log-target=null"""


def unavailable_reason() -> str | None:
    """Why a private manager cannot run here, or None."""
    if os.geteuid() != 0:
        return "a private systemd manager needs root (a mount namespace, and the unit's sandboxing)"
    if not SYSTEMD.exists():
        return f"{SYSTEMD} is missing (Debian package systemd)"
    for tool in ("unshare", "nsenter", "systemctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


class UserManager:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runtime = folder / "runtime"
        self.config = folder / "config"
        self.units = self.config / "systemd" / "user"
        self.log_path = folder / "manager.log"  # what the shell before it says (it logs nowhere itself)
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, XDG_RUNTIME_DIR=str(self.runtime), XDG_CONFIG_HOME=str(self.config),
                    XDG_STATE_HOME=str(self.folder / "state"), XDG_DATA_HOME=str(self.folder / "data"),
                    XDG_CACHE_HOME=str(self.folder / "cache"), DBUS_SESSION_BUS_ADDRESS="")

    def start(self, timeout_s: float = 30.0) -> UserManager:
        self.runtime.mkdir(parents=True, mode=0o700)
        self.units.mkdir(parents=True)
        (self.units / "jetsentry-test.target").write_text("[Unit]\nDescription=the tests' empty start target\n")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", _BOOT.format(systemd=SYSTEMD, runtime=self.runtime, python=sys.executable)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.systemctl("is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"systemd --user did not come up (state {state!r}): {self.log[-2000:]}")
            time.sleep(0.1)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = ["nsenter", "-t", str(self.proc.pid), "-m", "systemctl", "--user", "--no-pager", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=check, timeout=60)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"-p{p}" for p in properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the manager stops its units, then exits
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
