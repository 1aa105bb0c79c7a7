"""The Jetson integrated GPU's load, from its sysfs node.

Source: the nvgpu driver's ``load`` attribute of the GPU device, the busy share over
the driver's last sampling period in per mille (0..1000; jetson_stats and NVIDIA's
forum answers divide it by 10 for a percentage).  Where the device sits depends on the
module and the JetPack (its device tree), so the node is looked for at each known place
in turn and then through the GPU's devfreq entry (``sys/class/devfreq/*/device/load``):

    Orin, JetPack 6 (L4T 36)    sys/devices/platform/bus@0/17000000.gpu/load
                                (also reached as sys/devices/platform/gpu.0/load)
    Orin, JetPack 5 (L4T 35)    sys/devices/17000000.ga10b/load
    Xavier (JetPack 4, 5)       sys/devices/17000000.gv11b/load
    TX2, Nano, TX1              sys/devices/gpu.0/load (TX1 and Nano: 57000000.gpu)

Jetson Thor (JetPack 7) runs the GPU on NVIDIA's open kernel driver, not nvgpu, so none
of these nodes is there (the devfreq search finds one only if that driver offers it):
NVML (nvml.py) and tegrastats give its load.

A node that was there and vanishes (the driver unbound the device) reads as GPU lost.
"""

from __future__ import annotations

import errno
from pathlib import Path

from jetsentry.health.monitors.base import Reading
from jetsentry.health.monitors.sysfs import SysfsReadError, read_int

# Most specific first; the first that exists is read.
LOAD_NODES = (
    "sys/devices/platform/bus@0/17000000.gpu/load",
    "sys/devices/platform/17000000.gpu/load",
    "sys/devices/platform/gpu.0/load",
    "sys/devices/17000000.ga10b/load",
    "sys/devices/17000000.gv11b/load",
    "sys/devices/gpu.0/load",
    "sys/devices/57000000.gpu/load",
)
DEVFREQ_DIR = "sys/class/devfreq"
# The device-tree names of Jetson GPUs (devfreq entries of other engines are skipped).
GPU_OF_NAMES = ("gpu", "ga10b", "gv11b", "gp10b", "gm20b")

_PER_MILLE = 1000


def find_load_node(root: Path) -> Path | None:
    """The GPU load node under `root`, or None when this is no Jetson with nvgpu."""
    root = Path(root)
    for relative in LOAD_NODES:
        if (root / relative).is_file():
            return root / relative
    try:
        entries = sorted((root / DEVFREQ_DIR).iterdir())
    except OSError:
        return None
    for entry in entries:
        device = entry / "device"
        try:
            of_name = (device / "of_node" / "name").read_bytes().rstrip(b"\0\n").decode("ascii", "replace")
        except OSError:
            continue
        if of_name in GPU_OF_NAMES and (device / "load").is_file():
            return device / "load"
    return None


class JetsonGpuLoadMonitor:
    """Reads the load node found under `root` (or the one given as `node`)."""

    name = "jetson_gpu_load"

    def __init__(self, root: Path = Path("/"), node: Path | None = None) -> None:
        self.root = Path(root)
        self.node = node if node is not None else find_load_node(self.root)
        self._was_read = False

    def read(self) -> Reading:
        if self.node is None:
            return Reading(self.name, error=f"no Jetson GPU load node under {self.root} "
                                            f"(looked at {', '.join(LOAD_NODES)} and {DEVFREQ_DIR}/*/device/load)")
        try:
            per_mille = read_int(self.node)
        except SysfsReadError as exc:
            vanished = self._was_read and exc.errno in (errno.ENOENT, errno.ENODEV)
            return Reading(self.name, gpu_lost=vanished,
                           error=f"{exc}" + (" (the GPU device is gone)" if vanished else ""))
        self._was_read = True
        if not 0 <= per_mille <= _PER_MILLE:
            return Reading(self.name, error=f"{self.node}: {per_mille} is outside 0..1000 (per mille)")
        return Reading(self.name, gpu_load=per_mille / _PER_MILLE)

    def close(self) -> None:
        pass
