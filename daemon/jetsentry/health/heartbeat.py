"""Heartbeats: each stage says it is alive; a stage silent past its deadline is wedged.

A stage owns a `Heartbeat` and calls `beat()` from the thread that does its work, at every
turn of its loop, also when it turns idle (no input) or waits out a backoff: a beat is one
`time.monotonic()` call and one attribute store, no lock, so it costs nothing on the frame
path.  A stage whose work ended on purpose (a file camera at its end, a camera that FAILED:
its thread has returned) calls `finish()` and is no longer required.  A stage called by
another (the batcher, called by the inference loop) calls `start()` on entry and `finish()`
on return: it is wedged only when stuck inside a call, and the caller answers for the rest.

`Heartbeats` is the registry the watchdog reads (supervision/watchdog.py): every stage with
its deadline, and `stale_stages()`, the required stages silent for longer than their
deadline.  The registry's own lock guards only adding and listing stages, never a beat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_monotonic = time.monotonic


class Heartbeat:
    """One stage's liveness: when it last beat, and whether it is still required to."""

    __slots__ = ("name", "last", "active")

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = _monotonic()
        self.active = False  # required to beat only once its thread runs

    def beat(self) -> None:
        self.last = _monotonic()

    def start(self) -> None:
        """The stage's thread runs: from now on it must beat."""
        self.last = _monotonic()
        self.active = True

    def finish(self) -> None:
        """The stage's work ended on purpose: it is no longer required to beat."""
        self.active = False


@dataclass(frozen=True, slots=True)
class StageBeat:
    """One registered stage as the registry last saw it."""

    name: str
    age_s: float  # seconds since its last beat
    deadline_s: float
    active: bool

    @property
    def stale(self) -> bool:
        return self.active and self.age_s > self.deadline_s


class Heartbeats:
    """The stages the watchdog requires, each with its deadline (seconds without a beat)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._stages: dict[str, tuple[Heartbeat, float]] = {}

    def add(self, heartbeat: Heartbeat, deadline_s: float) -> Heartbeat:
        if deadline_s <= 0:
            raise ValueError(f"heartbeat {heartbeat.name!r}: deadline must be > 0 s, got {deadline_s}")
        with self._lock:
            if heartbeat.name in self._stages:
                raise ValueError(f"heartbeat {heartbeat.name!r} is registered already")
            self._stages[heartbeat.name] = (heartbeat, deadline_s)
        return heartbeat

    def remove(self, name: str) -> None:
        with self._lock:
            self._stages.pop(name, None)

    def stages(self) -> list[StageBeat]:
        """Every registered stage, in the order they were added."""
        now = self._clock()
        with self._lock:
            entries = list(self._stages.values())
        return [StageBeat(hb.name, max(0.0, now - hb.last), deadline, hb.active) for hb, deadline in entries]

    def stale_stages(self) -> list[tuple[str, float]]:
        """(name, seconds since its last beat) of each required stage past its deadline, oldest first."""
        stale = [(stage.name, stage.age_s) for stage in self.stages() if stage.stale]
        return sorted(stale, key=lambda item: -item[1])


# A long wait (a reconnect backoff) is slept in slices this long, each ending with a beat:
# a stage waiting on purpose is alive, not wedged.
WAIT_SLICE_S = 1.0


def wait_beating(event: threading.Event, seconds: float, heartbeat: Heartbeat) -> bool:
    """`event.wait(seconds)`, beating `heartbeat` at least every WAIT_SLICE_S; True when set."""
    deadline = _monotonic() + seconds
    while True:
        heartbeat.beat()
        remaining = deadline - _monotonic()
        if remaining <= 0:
            return event.is_set()
        if event.wait(min(remaining, WAIT_SLICE_S)):
            heartbeat.beat()
            return True
