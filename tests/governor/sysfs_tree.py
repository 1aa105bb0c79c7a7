"""A FAKE Jetson sysfs tree for tests (this machine has no Jetson): thermal zones as the kernel lays them out,
written by tests/support/fake_jetson_sysfs.py and addressed here in degrees Celsius."""

from __future__ import annotations

from pathlib import Path

from tests.support.fake_jetson_sysfs import FakeJetsonSysfs


class FakeThermalZones:
    """``root``/sys/devices/virtual/thermal/thermal_zone<N>/{type,temp}, temperatures in millidegrees."""

    def __init__(self, root: Path, zones: dict[str, float]) -> None:
        self.root = root
        self._tree = FakeJetsonSysfs(root)
        self._tree.add_zones(tuple((zone_type, round(celsius * 1000)) for zone_type, celsius in zones.items()))

    def set(self, zone_type: str, celsius: float) -> None:
        """Write the zone's temp file whole (a reader never sees half a number)."""
        self._tree.set_temp(zone_type, round(celsius * 1000))
