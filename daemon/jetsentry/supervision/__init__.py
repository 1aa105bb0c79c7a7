"""supervision: the daemon's side of systemd's service protocol.

`notify` sends sd_notify(3) messages (READY, STATUS, WATCHDOG, STOPPING, EXTEND_TIMEOUT_USEC)
to $NOTIFY_SOCKET; `watchdog` pings systemd's watchdog only while every stage's heartbeat
(health/heartbeat.py) is within its deadline, and keeps the one-line STATUS current;
`supervisor` registers the daemon's stages and says READY and STOPPING (docs/SYSTEMD.md).
"""

from jetsentry.supervision.notify import SystemdNotifier, extended_timeout, process_notifier, watchdog_interval_s
from jetsentry.supervision.supervisor import StatusLine, Supervisor
from jetsentry.supervision.watchdog import StageDeadlines, WatchdogPinger

__all__ = [
    "StageDeadlines",
    "StatusLine",
    "Supervisor",
    "SystemdNotifier",
    "WatchdogPinger",
    "extended_timeout",
    "process_notifier",
    "watchdog_interval_s",
]
