"""The monitors that MonitorSettings asks for, or that this machine has when it leaves them on auto."""

from __future__ import annotations

import logging

from jetsentry.health.monitors.base import Monitor, MonitorSettings
from jetsentry.health.monitors.gpu_load import JetsonGpuLoadMonitor, find_load_node
from jetsentry.health.monitors.nvml import NvmlMonitor, nvml_monitor_if_available
from jetsentry.health.monitors.tegrastats import TegrastatsMonitor
from jetsentry.health.monitors.thermal import ThermalZoneMonitor

log = logging.getLogger("jetsentry.health.monitors")


def build_monitors(settings: MonitorSettings) -> list[Monitor]:
    """The monitors for `settings`, most direct source first (the order Snapshot prefers).

    NVML is read when nvidia-ml-py imports and NVML finds the device (or always when asked
    for: a missing nvidia-ml-py is then a MissingDependencyError with the install command,
    and a missing driver the readings' error).  The Jetson GPU load node is read when it exists (or always when asked for: its
    absence is then the reading's error).  Thermal zones are read when the sysfs root has any (or when types are named: their
    absence is then reported in every reading).  tegrastats runs when its binary is given
    (it is a process of its own: close the monitors, or the MonitorSet, to stop it).  The pipeline monitor is not built here:
    it reads the daemon's own counters, so the daemon adds it (MonitorSet.add).
    """
    monitors: list[Monitor] = []
    if settings.nvml:
        monitors.append(NvmlMonitor(settings.nvml_device_index))
    elif settings.nvml is None:
        monitor, why_not = nvml_monitor_if_available(settings.nvml_device_index)
        if monitor is not None:
            monitors.append(monitor)
        else:
            log.info("no NVML monitor: %s", why_not)
    root = settings.sysfs_root
    load_node = find_load_node(root) if settings.jetson_gpu_load is not False else None
    if settings.jetson_gpu_load or load_node is not None:
        monitors.append(JetsonGpuLoadMonitor(root, load_node))
    if settings.thermal_zone_types or ThermalZoneMonitor.available(settings.sysfs_root):
        monitors.append(ThermalZoneMonitor(settings.sysfs_root, settings.thermal_zone_types))
    if settings.tegrastats is not None:
        monitors.append(TegrastatsMonitor(settings.tegrastats, settings.tegrastats_interval_ms))
    for monitor in monitors:
        log.info("monitor %s: %s", monitor.name, _describe(monitor))
    return monitors


def _describe(monitor: Monitor) -> str:
    if isinstance(monitor, ThermalZoneMonitor):
        return f"{len(monitor.zones)} zone(s) under {monitor.directory}: {', '.join(monitor.zones) or 'none'}"
    if isinstance(monitor, NvmlMonitor):
        return f"device {monitor.device_index}: {monitor.device_name or monitor.init_error}"
    if isinstance(monitor, TegrastatsMonitor):
        return " ".join(monitor.command)
    if isinstance(monitor, JetsonGpuLoadMonitor):
        return f"{monitor.node}" if monitor.node is not None else f"no load node under {monitor.root}"
    return type(monitor).__name__
