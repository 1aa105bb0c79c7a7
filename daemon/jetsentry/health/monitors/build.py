"""The monitors that MonitorSettings asks for, or that this machine has when it leaves them on auto."""

from __future__ import annotations

import logging

from jetsentry.health.monitors.base import Monitor, MonitorSettings
from jetsentry.health.monitors.thermal import ThermalZoneMonitor

log = logging.getLogger("jetsentry.health.monitors")


def build_monitors(settings: MonitorSettings) -> list[Monitor]:
    """The monitors for `settings`, most direct source first (the order Snapshot prefers).

    Thermal zones are read when the sysfs root has any (or when types are named: their
    absence is then reported in every reading).  The pipeline monitor is not built here:
    it reads the daemon's own counters, so the daemon adds it (MonitorSet.add).
    """
    monitors: list[Monitor] = []
    if settings.thermal_zone_types or ThermalZoneMonitor.available(settings.sysfs_root):
        monitors.append(ThermalZoneMonitor(settings.sysfs_root, settings.thermal_zone_types))
    for monitor in monitors:
        log.info("monitor %s: %s", monitor.name, _describe(monitor))
    return monitors


def _describe(monitor: Monitor) -> str:
    if isinstance(monitor, ThermalZoneMonitor):
        return f"{len(monitor.zones)} zone(s) under {monitor.directory}: {', '.join(monitor.zones) or 'none'}"
    return type(monitor).__name__
