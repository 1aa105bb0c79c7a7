"""systemd's watchdog tied to the pipeline: WATCHDOG=1 only while no stage is wedged.

A thread checks the heartbeats (health/heartbeat.py) every `check_interval_s` and pings
only when every required stage has beaten within its deadline; a wedged stage stops the
pings and, WatchdogSec= later, systemd kills and restarts the daemon.  The same thread
sends STATUS= whenever the one-line summary changes, naming a wedged stage while one is.

Deadlines.  Each stage gets half the watchdog timeout, but never less than its floor: the
longest it may legitimately go without a beat (STAGE_FLOORS_S).  A wedge is thus noticed
after its deadline, and systemd acts at most WatchdogSec= after the last ping.  Without a
watchdog the deadlines are UNSUPERVISED_DEADLINE_S, for `stale_stages()` alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from jetsentry.health.heartbeat import Heartbeats
from jetsentry.supervision.notify import SystemdNotifier

log = logging.getLogger(__name__)

# The longest each stage may go without a beat while working normally.
STAGE_FLOORS_S = {
    # A connection's set-up and teardown run on the session thread: GStreamer taking a
    # pipeline to NULL, probing a file; everything else there wakes every 50 ms.
    "capture": 10.0,
    # One wait for frames is at most 0.25 s plus batching.max_wait_ms.
    "batcher": 5.0,
    # One batch through the engine; a CPU batch of 8 at 640 takes about 1.5 s on an Orin Nano.
    "engine": 5.0,
    # One connection attempt: name resolution, the 5 s TCP connect timeout, and with mqtt.tls the
    # handshake, which paho bounds by the same 5 s.
    "publisher": 15.0,
}
UNSUPERVISED_DEADLINE_S = 30.0
# How often the heartbeats are checked (and pinged) at most; a datagram each time costs nothing.
MAX_CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class StageDeadlines:
    """Deadlines (seconds without a beat) per stage kind, from systemd's watchdog timeout."""

    watchdog_s: float | None

    def for_stage(self, kind: str) -> float:
        floor = STAGE_FLOORS_S[kind]
        if self.watchdog_s is None:
            return max(floor, UNSUPERVISED_DEADLINE_S)
        return max(floor, self.watchdog_s / 2)

    @property
    def check_interval_s(self) -> float:
        if self.watchdog_s is None:
            return MAX_CHECK_INTERVAL_S
        return min(MAX_CHECK_INTERVAL_S, self.watchdog_s / 4)


def describe_stale(stale: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} silent {age:.0f} s" for name, age in stale)


class WatchdogPinger:
    """The thread that pings systemd's watchdog while the stages beat, and keeps STATUS current.

    `status()` returns the one-line summary (supervision/status_line.py); it is called on
    this thread.  Pings are sent only when `watchdog_s` is set (systemd asked for them).
    """

    def __init__(self, notifier: SystemdNotifier, heartbeats: Heartbeats, status: Callable[[], str], *,
                 deadlines: StageDeadlines) -> None:
        self._notifier = notifier
        self._heartbeats = heartbeats
        self._status = status
        self._deadlines = deadlines
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_status: str | None = None
        self._wedged: tuple[str, ...] = ()
        self.pings = 0  # WATCHDOG=1 messages sent

    def start(self) -> None:
        if not self._notifier.enabled:
            return  # no systemd to tell: stale_stages() stays available to whoever asks
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        interval = self._deadlines.check_interval_s
        while not self._stop.wait(interval):
            try:
                self.check()
            except Exception:  # a bug here must not end supervision silently
                log.exception("watchdog check failed")

    def check(self) -> bool:
        """One check: ping (and update STATUS) when no stage is wedged; True when it pinged."""
        stale = self._heartbeats.stale_stages()
        self._log_change(stale)
        text = self._status()
        if stale:
            text = f"WEDGED: {describe_stale(stale)}; {text}"
        status = text if text != self._last_status else None
        self._last_status = text
        if stale or self._deadlines.watchdog_s is None:
            if status is not None:
                self._notifier.status(status)
            return False
        self._notifier.watchdog(status)
        self.pings += 1
        return True

    def _log_change(self, stale: list[tuple[str, float]]) -> None:
        wedged = tuple(sorted(name for name, _ in stale))
        if wedged == self._wedged:
            return
        if wedged:
            what = "withholding the watchdog ping: systemd restarts the daemon" \
                if self._deadlines.watchdog_s is not None else "no systemd watchdog to act on it"
            log.error("stage(s) wedged (%s): %s", describe_stale(stale), what)
        else:
            log.warning("every stage beats again (%s recovered)", ", ".join(self._wedged))
        self._wedged = wedged
