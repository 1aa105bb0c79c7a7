"""A FAKE Jetson sysfs tree, written under a temporary root, for the health monitors.

This machine has no Jetson: the tree reproduces the files the monitors read, with the
names and units a Jetson Orin on JetPack 6 has (thermal zones cpu-thermal ... tj-thermal,
temp in millidegrees Celsius; the GPU's devfreq node and its `load`, per mille).
"""

from __future__ import annotations

import os
from pathlib import Path

# A Jetson Orin Nano on JetPack 6: its zones in their kernel order, millidegrees Celsius.
# cv0..cv2 are there but power-gated on a module without the DLA/PVA cluster in use.
ORIN_JP6_ZONES: tuple[tuple[str, int], ...] = (
    ("cpu-thermal", 47531),
    ("gpu-thermal", 46093),
    ("cv0-thermal", 45000),
    ("cv1-thermal", 45250),
    ("cv2-thermal", 45500),
    ("soc0-thermal", 46687),
    ("soc1-thermal", 45812),
    ("soc2-thermal", 45343),
    ("tj-thermal", 47531),
)

# Where the GPU's sysfs node is on each platform, relative to the root (docs/GOVERNOR.md, Monitors).
ORIN_JP6_GPU = "sys/devices/platform/bus@0/17000000.gpu"
ORIN_JP5_GPU = "sys/devices/17000000.ga10b"
NANO_GPU = "sys/devices/57000000.gpu"


class FakeJetsonSysfs:
    """Writes and rewrites the files; `root` is what MonitorSettings.sysfs_root points at."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def thermal(self) -> Path:
        return self.root / "sys/devices/virtual/thermal"

    def add_zones(self, zones=ORIN_JP6_ZONES, *, start: int = 0) -> None:
        for number, (zone_type, millidegrees) in enumerate(zones, start):
            zone = self.thermal / f"thermal_zone{number}"
            zone.mkdir(parents=True, exist_ok=True)
            (zone / "type").write_text(f"{zone_type}\n")
            (zone / "temp").write_text(f"{millidegrees}\n")

    def zone_dir(self, zone_type: str) -> Path:
        for zone in sorted(self.thermal.glob("thermal_zone*")):
            if (zone / "type").read_text().strip() == zone_type:
                return zone
        raise KeyError(zone_type)

    def set_temp(self, zone_type: str, millidegrees: int) -> None:
        """Atomically, as the kernel does: a reader never sees a half-written value."""
        temp = self.zone_dir(zone_type) / "temp"
        tmp = temp.with_name("temp.tmp")
        tmp.write_text(f"{millidegrees}\n")
        os.replace(tmp, temp)

    def add_gpu(self, device: str = ORIN_JP6_GPU, *, load_per_mille: int = 0, devfreq_name: str = "17000000.gpu",
                of_node_name: str = "gpu") -> Path:
        """The GPU device folder with `load`, and its devfreq entry linking to it, as the kernel lays them out."""
        gpu = self.root / device
        (gpu / "of_node").mkdir(parents=True, exist_ok=True)
        (gpu / "of_node" / "name").write_text(f"{of_node_name}\0")  # device-tree names end in NUL
        (gpu / "load").write_text(f"{load_per_mille}\n")
        devfreq = self.root / "sys/class/devfreq"
        devfreq.mkdir(parents=True, exist_ok=True)
        entry = devfreq / devfreq_name
        entry.mkdir(exist_ok=True)
        link = entry / "device"
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(gpu, entry))
        return gpu / "load"
