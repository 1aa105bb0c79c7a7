"""Linux thermal zones, as a Jetson exposes them.

Source: ``{root}/sys/devices/virtual/thermal/thermal_zone*/{type,temp}`` (the kernel's
thermal sysfs ABI: ``type`` names the zone, ``temp`` is millidegrees Celsius).  Jetson
Orin on JetPack 6 names its zones cpu-thermal, gpu-thermal, cv0/cv1/cv2-thermal,
soc0/soc1/soc2-thermal and tj-thermal (tj: the hottest point of the SoC); JetPack 5
names them CPU-therm, GPU-therm, ..., Tj-therm.  The same ABI on an x86 host gives
acpitz, x86_pkg_temp, ...

A zone that gives no temperature this time is skipped with its reason, and the other
zones are still read: the Orin's cv*-thermal zones answer EAGAIN while their cluster is
power-gated (and on modules without that cluster), and a BPMP sensor that is off reads
-256000 (-256 °C, the offline marker jetson_stats also treats as "offline").
"""

from __future__ import annotations

import re
from pathlib import Path

from jetsentry.health.monitors.base import Reading
from jetsentry.health.monitors.sysfs import SysfsReadError, read_attribute, read_int

THERMAL_DIR = Path("sys/devices/virtual/thermal")

# The BPMP's "sensor off" value; anything this cold is no reading.
OFFLINE_MILLIDEGREES = -256000

_ZONE_DIR = re.compile(r"thermal_zone(\d+)$")


class ThermalZoneMonitor:
    """Reads every thermal zone (or those of `zone_types`) under `root`.

    The zones are found once, at construction (a zone's type does not change while the
    system runs); a zone whose files vanish later is reported as skipped.
    """

    name = "thermal"

    def __init__(self, root: Path = Path("/"), zone_types: tuple[str, ...] = ()) -> None:
        self.directory = Path(root) / THERMAL_DIR
        self.zone_types = tuple(zone_types)
        self.zones: dict[str, Path] = {}  # name in readings -> the zone's temp file
        self._not_found: dict[str, str] = {}
        self._discover()

    def _discover(self) -> None:
        found: list[tuple[int, str, Path]] = []
        try:
            entries = sorted(self.directory.iterdir())
        except OSError:
            entries = []
        for entry in entries:
            match = _ZONE_DIR.match(entry.name)
            if match is None:
                continue
            try:
                zone_type = read_attribute(entry / "type")
            except SysfsReadError:
                zone_type = entry.name  # a zone without a readable type is still a zone
            if self.zone_types and zone_type not in self.zone_types:
                continue
            found.append((int(match.group(1)), zone_type, entry / "temp"))
        found.sort()
        for number, zone_type, temp in found:
            name = zone_type if zone_type not in self.zones else f"{zone_type}.thermal_zone{number}"
            self.zones[name] = temp
        present = {zone_type for _, zone_type, _ in found}
        self._not_found = {t: f"no thermal zone of type {t!r} under {self.directory}"
                           for t in self.zone_types if t not in present}

    def read(self) -> Reading:
        temperatures: dict[str, float] = {}
        skipped = dict(self._not_found)
        for name, path in self.zones.items():
            try:
                millidegrees = read_int(path)
            except SysfsReadError as exc:
                skipped[name] = str(exc)
                continue
            if millidegrees <= OFFLINE_MILLIDEGREES:
                skipped[name] = f"{path}: {millidegrees} is the sensor-offline value (-256 °C)"
                continue
            temperatures[name] = millidegrees / 1000.0
        error = None
        if not temperatures:
            error = (f"no thermal zone under {self.directory} gave a temperature"
                     + (f": {'; '.join(f'{n}: {why}' for n, why in skipped.items())}" if skipped else " (none found)"))
        return Reading(self.name, temperatures_c=temperatures, skipped=skipped, error=error)

    def close(self) -> None:
        pass

    @staticmethod
    def available(root: Path) -> bool:
        """Whether `root` has any thermal zone."""
        try:
            return any(_ZONE_DIR.match(p.name) for p in (Path(root) / THERMAL_DIR).iterdir())
        except OSError:
            return False
