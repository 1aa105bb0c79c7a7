"""The monitors read together: one `Snapshot` of every reading, with the facts merged.

A monitor that raises does not take the set down: its reading becomes one with `error`,
and the failure is logged without flooding (health/failures.py).  An error a monitor
reports itself is logged when it appears and when it clears, and a changed one at most
once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from jetsentry.health.failures import RepeatedFailureLog, exception_summary
from jetsentry.health.monitors.base import Monitor, Reading

log = logging.getLogger("jetsentry.health.monitors")

# One summary line at most this often while a monitor keeps raising.
FAILURE_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Snapshot:
    """Every monitor's reading at `ts` (time.monotonic()), in the set's order.

    Where more than one reading gives a fact, the first reading that gives it wins (the
    set's order puts the most direct source first: NVML, the GPU load node, thermal
    zones, tegrastats, the pipeline); throttle reasons are the union and `gpu_lost` is
    true when any reading says so.
    """

    ts: float
    readings: tuple[Reading, ...]

    @cached_property
    def temperatures_c(self) -> Mapping[str, float]:
        """Every temperature; a name given by more than one monitor is prefixed 'monitor:'."""
        counts: dict[str, int] = {}
        for reading in self.readings:
            for name in reading.temperatures_c:
                counts[name] = counts.get(name, 0) + 1
        merged: dict[str, float] = {}
        for reading in self.readings:
            for name, value in reading.temperatures_c.items():
                merged[name if counts[name] == 1 else f"{reading.monitor}:{name}"] = value
        return merged

    @property
    def max_temperature_c(self) -> float | None:
        return max(self.temperatures_c.values(), default=None)

    def _first(self, attribute: str):
        for reading in self.readings:
            value = getattr(reading, attribute)
            if value is not None:
                return value
        return None

    @property
    def gpu_load(self) -> float | None:
        return self._first("gpu_load")

    @property
    def gpu_memory_used_bytes(self) -> int | None:
        return self._first("gpu_memory_used_bytes")

    @property
    def gpu_memory_total_bytes(self) -> int | None:
        return self._first("gpu_memory_total_bytes")

    @property
    def latency_s(self) -> float | None:
        return self._first("latency_s")

    @property
    def backlog(self) -> int | None:
        return self._first("backlog")

    @property
    def dropped_by_camera(self) -> Mapping[str, int]:
        for reading in self.readings:
            if reading.dropped_by_camera:
                return reading.dropped_by_camera
        return {}

    @property
    def throttle_reasons(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for reading in self.readings for r in reading.throttle_reasons))

    @property
    def gpu_lost(self) -> bool:
        return any(reading.gpu_lost for reading in self.readings)

    @property
    def errors(self) -> Mapping[str, str]:
        """monitor name -> why it could not read."""
        return {reading.monitor: reading.error for reading in self.readings if reading.error is not None}


class MonitorSet:
    """Holds monitors (it closes them) and reads them all into one Snapshot."""

    def __init__(self, monitors: Iterable[Monitor], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.monitors: list[Monitor] = list(monitors)
        names = [m.name for m in self.monitors]
        if len(set(names)) != len(names):
            raise ValueError(f"monitor names must be unique, got {names}")
        self._clock = clock
        self._failures = {m.name: RepeatedFailureLog(log, interval_s=FAILURE_LOG_INTERVAL_S, clock=clock)
                          for m in self.monitors}
        self._last_error: dict[str, str | None] = {m.name: None for m in self.monitors}
        self._last_error_logged: dict[str, float] = {}

    def add(self, monitor: Monitor) -> None:
        """Add a monitor built elsewhere (the pipeline monitor needs the daemon's objects)."""
        if any(m.name == monitor.name for m in self.monitors):
            raise ValueError(f"a monitor named {monitor.name!r} is already in the set")
        self.monitors.append(monitor)
        self._failures[monitor.name] = RepeatedFailureLog(log, interval_s=FAILURE_LOG_INTERVAL_S,
                                                          clock=self._clock)
        self._last_error[monitor.name] = None

    def read(self) -> Snapshot:
        return Snapshot(self._clock(), tuple(self._read(m) for m in self.monitors))

    def _read(self, monitor: Monitor) -> Reading:
        try:
            reading = monitor.read()
        except Exception:  # one broken monitor must not blind the others
            self._failures[monitor.name].failed(f"monitor {monitor.name} failed")
            return Reading(monitor.name, error=f"read() raised {exception_summary()}")
        self._failures[monitor.name].succeeded(f"monitor {monitor.name} reads")
        self._log_reported_error(monitor.name, reading.error)
        return reading

    def _log_reported_error(self, name: str, error: str | None) -> None:
        """An error a monitor reports: logged when it appears and when it clears; a changed
        error at most every FAILURE_LOG_INTERVAL_S (an error that names a value changes often)."""
        last = self._last_error[name]
        if error == last:
            return
        now = self._clock()
        if error is None:
            log.info("monitor %s reads again", name)
        elif last is None or now - self._last_error_logged.get(name, -float("inf")) >= FAILURE_LOG_INTERVAL_S:
            log.warning("monitor %s: %s", name, error)
            self._last_error_logged[name] = now
        else:
            return  # a changed error within the interval: the next change after it is logged
        self._last_error[name] = error

    def close(self) -> None:
        for monitor in self.monitors:
            try:
                monitor.close()
            except Exception:
                log.exception("closing monitor %s failed", monitor.name)

    def __enter__(self) -> MonitorSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
