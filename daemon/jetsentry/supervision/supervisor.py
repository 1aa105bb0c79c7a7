"""The daemon's supervision by systemd: the stages' heartbeats, READY/STATUS/STOPPING, the watchdog.

    STATUS=loading model ...  (run_service)   -> STATUS=warming up the engine
    -> READY=1 once the engine is warm and every enabled camera's session has started
    -> WATCHDOG=1 while every stage beats; STATUS= kept current
    -> STOPPING=1 when the daemon begins to shut down

`status_line()` is the one-line summary systemd shows (`systemctl status jetsentry`), e.g.
``2/3 cameras streaming, 14.2 fps, health degraded: camera gate: reconnecting, mqtt connected``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from jetsentry.health.heartbeat import Heartbeat, Heartbeats
from jetsentry.supervision.notify import SystemdNotifier, process_notifier, watchdog_interval_s
from jetsentry.supervision.watchdog import StageDeadlines, WatchdogPinger

# The health reason shown in STATUS is cut to this many characters (the whole list is in the
# retained health message).
STATUS_REASON_CHARS = 120


class StatusLine:
    """The one-line summary: cameras streaming, frames/s since the previous line, health, broker."""

    def __init__(self, sessions: Mapping[str, object], counters: object, health: object, publisher: object,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._counters = counters
        self._health = health  # a HealthState
        self._publisher = publisher
        self._clock = clock
        self._last = (clock(), counters.frames)

    def __call__(self) -> str:
        now, frames = self._clock(), self._counters.frames
        then, frames_then = self._last
        fps = (frames - frames_then) / (now - then) if now > then else 0.0
        self._last = (now, frames)
        streaming = sum(1 for s in self._sessions.values() if s.state.value == "streaming")
        current = self._health.current
        health = f"health {current.state.value}"
        if current.reasons:
            reason = str(current.reasons[0])
            if len(reason) > STATUS_REASON_CHARS:
                reason = reason[:STATUS_REASON_CHARS - 3] + "..."
            more = f" (+{len(current.reasons) - 1} more)" if len(current.reasons) > 1 else ""
            health += f": {reason}{more}"
        mqtt = "mqtt connected" if self._publisher.connected else "mqtt not connected"
        return f"{streaming}/{len(self._sessions)} cameras streaming, {fps:.1f} fps, {health}, {mqtt}"


class Supervisor:
    """Registers every stage's heartbeat with its deadline and talks to systemd for the daemon.

    `engine` is the inference loop's heartbeat, beaten by the daemon between batches.
    `stale_stages()` is the read-only view of wedged stages for health and metrics.
    """

    def __init__(self, sessions: Mapping[str, object], batcher: object, publisher: object, counters: object,
                 health: object, *, notifier: SystemdNotifier | None = None) -> None:
        self.notifier = process_notifier() if notifier is None else notifier
        self.deadlines = StageDeadlines(watchdog_interval_s())
        self.heartbeats = Heartbeats()
        self.engine = Heartbeat("engine")
        for session in sessions.values():
            self.heartbeats.add(session.heartbeat, self.deadlines.for_stage("capture"))
        self.heartbeats.add(batcher.heartbeat, self.deadlines.for_stage("batcher"))
        self.heartbeats.add(self.engine, self.deadlines.for_stage("engine"))
        self.heartbeats.add(publisher.heartbeat, self.deadlines.for_stage("publisher"))
        self.status_line = StatusLine(sessions, counters, health, publisher)
        self._pinger = WatchdogPinger(self.notifier, self.heartbeats, self.status_line, deadlines=self.deadlines)
        self._ready = False

    def watch_camera(self, session) -> None:
        """Require a camera session started at run time (commands/) to beat, as those of the start."""
        self.heartbeats.add(session.heartbeat, self.deadlines.for_stage("capture"))

    def forget_camera(self, session) -> None:
        self.heartbeats.remove(session.heartbeat.name)

    def status(self, text: str) -> None:
        self.notifier.status(text)

    def ready(self) -> None:
        """The engine is warm and every camera's session has started: READY=1, then the watchdog."""
        self.engine.start()
        self.notifier.ready(self.status_line())
        self._pinger.start()
        self._ready = True

    def stopping(self, reason: str) -> None:
        """Shutdown begins: no more watchdog pings (the stages are being stopped), STOPPING=1."""
        self._pinger.stop()
        self.engine.finish()
        self.notifier.stopping(f"stopping: {reason}")

    def stale_stages(self) -> list[tuple[str, float]]:
        return self.heartbeats.stale_stages()
