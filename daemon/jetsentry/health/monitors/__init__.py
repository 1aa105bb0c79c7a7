"""health.monitors: what the health governor watches, each source behind one interface.

`base`: the Reading every monitor returns, the Monitor protocol, MonitorSettings.
`monitor_set`: monitors read together into one Snapshot.  `build`: the monitors that the
settings and this machine call for.  `sampler`: the thread that samples them.
One module per source:
    thermal          Linux thermal zones (Jetson sysfs)
    gpu_load         the Jetson GPU load node
    tegrastats_line  tegrastats' output, parsed;  tegrastats: the tool, run in the background
    nvml             NVML, through nvidia-ml-py (desktop GPUs, Jetson Thor)
    pipeline_load    the daemon's own capture-to-publish latency and backlog
    engine_errors    engine failures by kind (imported from its module: it needs the infer
                     stage's error types)
"""

from jetsentry.health.monitors.base import Monitor, MonitorSettings, Reading
from jetsentry.health.monitors.build import build_monitors
from jetsentry.health.monitors.gpu_load import JetsonGpuLoadMonitor
from jetsentry.health.monitors.monitor_set import MonitorSet, Snapshot
from jetsentry.health.monitors.nvml import NvmlMonitor, decode_throttle_reasons
from jetsentry.health.monitors.pipeline_load import PipelineMonitor, PublishLatency
from jetsentry.health.monitors.sampler import MonitorThread
from jetsentry.health.monitors.tegrastats import TegrastatsMonitor
from jetsentry.health.monitors.tegrastats_line import TegrastatsLine, parse_tegrastats_line
from jetsentry.health.monitors.thermal import ThermalZoneMonitor

__all__ = [
    "JetsonGpuLoadMonitor",
    "Monitor",
    "MonitorSet",
    "MonitorSettings",
    "MonitorThread",
    "NvmlMonitor",
    "PipelineMonitor",
    "PublishLatency",
    "Reading",
    "Snapshot",
    "TegrastatsLine",
    "TegrastatsMonitor",
    "ThermalZoneMonitor",
    "build_monitors",
    "decode_throttle_reasons",
    "parse_tegrastats_line",
]
