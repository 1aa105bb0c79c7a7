"""tegrastats, run in the background: the latest line it printed, as a Reading.

`tegrastats --interval MS` prints one line every MS milliseconds until stopped; a thread
reads them and keeps the latest parsed one, so `read()` never waits for the tool.  Run
as root it prints every field; as another user some (the power rails) may be missing.
When the tool exits it is started again after RESTART_AFTER_S, and every reading until
then says why it stopped.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable

from jetsentry.health.monitors.base import Reading
from jetsentry.health.monitors.tegrastats_line import TegrastatsLine, TegrastatsParseError, parse_tegrastats_line

log = logging.getLogger("jetsentry.health.monitors")

# A line older than this many intervals (and at least STALE_MIN_S) is no longer current.
STALE_INTERVALS = 3
STALE_MIN_S = 2.0
# How long after tegrastats exits it is started again (it exits on a bad option at once:
# this keeps that from becoming a busy loop).
RESTART_AFTER_S = 5.0
# How long close() waits for tegrastats to end after SIGTERM before SIGKILL.
STOP_WAIT_S = 2.0
_MB = 1024 * 1024


class TegrastatsMonitor:
    name = "tegrastats"

    def __init__(self, binary: str, interval_ms: int = 1000, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval_ms <= 0:
            raise ValueError(f"tegrastats interval must be > 0 ms, got {interval_ms}")
        self.binary = binary
        self.interval_ms = interval_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: tuple[float, TegrastatsLine] | None = None
        self._last_unparsed: str | None = None
        self._exited: tuple[float, str] | None = None  # when, and why
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start()

    @property
    def command(self) -> list[str]:
        return [self.binary, "--interval", str(self.interval_ms)]

    def _start(self) -> None:
        try:
            process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
        except OSError as exc:
            with self._lock:
                self._exited = (self._clock(), f"cannot run {self.binary}: {exc.strerror or exc}")
            return
        with self._lock:
            self._process, self._exited = process, None
        self._thread = threading.Thread(target=self._follow, args=(process,), name="tegrastats", daemon=True)
        self._thread.start()

    def _follow(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # PIPE: never None
            try:
                parsed = parse_tegrastats_line(line)
            except TegrastatsParseError:
                with self._lock:
                    self._last_unparsed = line.strip()[:200]
                continue
            with self._lock:
                self._latest = (self._clock(), parsed)
        process.stdout.close()
        status = process.wait()
        with self._lock:
            said = f"; its last other output: {self._last_unparsed!r}" if self._last_unparsed else ""
            self._exited = (self._clock(), f"{' '.join(self.command)} exited with status {status}{said}")

    def read(self) -> Reading:
        now = self._clock()
        with self._lock:
            latest, exited = self._latest, self._exited
        if exited is not None:
            if not self._closed and now - exited[0] >= RESTART_AFTER_S:
                self._reap()
                log.info("starting %s again", " ".join(self.command))
                self._start()
            return Reading(self.name, error=exited[1])
        if latest is None:
            return Reading(self.name, error=f"no line from {' '.join(self.command)} yet")
        stale_after = max(STALE_INTERVALS * self.interval_ms / 1e3, STALE_MIN_S)
        if now - latest[0] > stale_after:
            return Reading(self.name, error=f"no line from {self.binary} for more than {stale_after:g} s "
                                            f"(it prints every {self.interval_ms} ms)")
        return to_reading(self.name, latest[1])

    def _reap(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=STOP_WAIT_S)

    def close(self) -> None:
        """Stop tegrastats and the thread that reads it."""
        self._closed = True
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reap()


def to_reading(monitor: str, line: TegrastatsLine) -> Reading:
    """A parsed line as a Reading.  A Jetson's GPU allocates from the same RAM as the CPU
    (unified memory), so RAM in use / total is its memory used / total."""
    ram_used = int(line.ram_used_mb * _MB) if line.ram_used_mb is not None else None
    ram_total = int(line.ram_total_mb * _MB) if line.ram_total_mb is not None else None
    return Reading(monitor, temperatures_c=line.temperatures_c, gpu_load=line.gpu_load,
                   gpu_memory_used_bytes=ram_used, gpu_memory_total_bytes=ram_total, skipped=line.skipped)
