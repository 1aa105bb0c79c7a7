"""What every monitor returns, the interface it implements, and the settings that choose monitors.

A monitor reads one documented source (a sysfs tree, a tool's output, a library) and
answers a `Reading`: the facts it found, each field `None` (or empty) when its source does
not give it.  A monitor that cannot read says why in `error` instead of raising; the set
that samples the monitors (monitor_set.py) turns a raise into such a reading too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class Reading:
    """One monitor's facts at one moment.

    temperatures_c: sensor or zone name -> degrees Celsius (empty when the monitor has none).
    gpu_load: the GPU's busy share, 0..1.
    gpu_memory_used_bytes / gpu_memory_total_bytes: the device memory in use and in all.
    throttle_reasons: why the GPU clocks are held down now ("sw_thermal", "hw_slowdown",
        "power_cap", ...: nvml.py lists them); empty when none or unknown.
    gpu_lost: the device is gone or unusable (NVML says the GPU is lost; a sysfs node that
        was there has vanished).
    error: why the monitor could not read (names the file or call), None when it could.
    latency_s: capture-to-publish latency of the recent frames, seconds (pipeline_load.py
        says which).
    backlog: frames that waited or were dropped because inference was busy, recently.
    dropped_by_camera: camera id -> frames dropped for that camera in the same window.
    skipped: source name -> why it gave no value this time (a powered-down thermal zone),
        while the monitor's other sources read.
    """

    monitor: str
    temperatures_c: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    gpu_load: float | None = None
    gpu_memory_used_bytes: int | None = None
    gpu_memory_total_bytes: int | None = None
    throttle_reasons: tuple[str, ...] = ()
    gpu_lost: bool = False
    error: str | None = None
    latency_s: float | None = None
    backlog: int | None = None
    dropped_by_camera: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    skipped: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@runtime_checkable
class Monitor(Protocol):
    """Reads one source; `read()` never blocks for long (a slow source is read on its own thread)."""

    name: str

    def read(self) -> Reading: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class MonitorSettings:
    """Which monitors to build and where they read (plain values; the daemon's config converts to it).

    sysfs_root: the root under which sys/... is read (tests point it at a tree they write).
    thermal_zone_types: the thermal zone types to read (e.g. "tj-thermal"); empty: every zone.
    jetson_gpu_load: read the Jetson GPU load node; None: when one exists under sysfs_root.
    tegrastats: the tegrastats binary to run; None: no tegrastats monitor.
    tegrastats_interval_ms: tegrastats' --interval.
    nvml: read the GPU through NVML (nvidia-ml-py); None: when it imports and finds the device.
    nvml_device_index: the NVML device to read.
    """

    sysfs_root: Path = Path("/")
    thermal_zone_types: tuple[str, ...] = ()
    jetson_gpu_load: bool | None = None
    tegrastats: str | None = None
    tegrastats_interval_ms: int = 1000
    nvml: bool | None = None
    nvml_device_index: int = 0
