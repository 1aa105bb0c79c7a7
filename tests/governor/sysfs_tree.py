"""A FAKE Jetson sysfs tree for tests (this machine has no Jetson): thermal zones as the kernel lays them out."""

from __future__ import annotations

import os
from pathlib import Path


class FakeThermalZones:
    """``root``/sys/devices/virtual/thermal/thermal_zone<N>/{type,temp}, temperatures in millidegrees."""

    def __init__(self, root: Path, zones: dict[str, float]) -> None:
        self.root = root
        self._dirs: dict[str, Path] = {}
        base = root / "sys" / "devices" / "virtual" / "thermal"
        for number, (zone_type, celsius) in enumerate(zones.items()):
            directory = base / f"thermal_zone{number}"
            directory.mkdir(parents=True)
            (directory / "type").write_text(zone_type + "\n")
            self._dirs[zone_type] = directory
            self.set(zone_type, celsius)

    def set(self, zone_type: str, celsius: float) -> None:
        """Write the zone's temp file whole (a reader never sees half a number)."""
        temp = self._dirs[zone_type] / "temp"
        partial = temp.with_name("temp.partial")
        partial.write_text(f"{round(celsius * 1000)}\n")
        os.replace(partial, temp)
