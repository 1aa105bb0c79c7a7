"""Stop requests for the daemon: SIGTERM, SIGINT and SIGHUP each ask for one clean stop.

`jetsentry run` installs the handlers before anything slow (the heavy imports, the model
load), so a signal during start-up ends in a clean stop too.  Repeated signals change
nothing: the first one decides, later ones are counted.  SIGHUP stops rather than reopening
logs: the daemon logs to stderr (journald under systemd), so there is no log file to reopen,
and it has no configuration reload; a hang-up of the terminal it runs in stops it cleanly.

The handler only appends to a list.  A Python signal handler runs between two bytecodes of
the main thread, which may be holding any lock at that moment (even `threading.Event.set()`
could deadlock there), so the daemon polls `is_set()` between batches instead of being woken.
"""

from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopRequest:
    """Set by the first stop signal (or `request()`); never unset."""

    def __init__(self) -> None:
        self._requests: list[str] = []

    def install(self) -> StopRequest:
        """Handle the stop signals from now on (main thread only)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._requests.append(signal.Signals(signum).name)

    def request(self, reason: str) -> None:
        self._requests.append(reason)

    def is_set(self) -> bool:
        return bool(self._requests)

    @property
    def reason(self) -> str | None:
        """What asked first: a signal name such as 'SIGTERM', or the reason given to `request()`."""
        return self._requests[0] if self._requests else None

    @property
    def repeats(self) -> list[str]:
        """What asked again after the first (ignored)."""
        return self._requests[1:]

    def ignore_further(self) -> None:
        """Ignore the stop signals from now on; for when the daemon has shut down and exits.

        While the interpreter exits it gives the signals it handled back their default action,
        so a late SIGINT would kill the finished process (status 130) instead of being harmless.
        """
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
