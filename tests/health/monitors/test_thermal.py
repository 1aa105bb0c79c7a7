"""Thermal zones read from a sysfs tree laid out like a Jetson Orin's (JetPack 6)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from jetsentry.health.monitors import MonitorSettings, ThermalZoneMonitor, build_monitors
from jetsentry.health.monitors.sysfs import SysfsReadError, read_int
from tests.support.fake_jetson_sysfs import ORIN_JP6_ZONES, FakeJetsonSysfs


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeJetsonSysfs:
    tree = FakeJetsonSysfs(tmp_path)
    tree.add_zones()
    return tree


def test_every_zone_in_degrees(sysfs):
    reading = ThermalZoneMonitor(sysfs.root).read()
    assert reading.error is None
    assert reading.temperatures_c == {name: value / 1000 for name, value in ORIN_JP6_ZONES}
    assert list(reading.temperatures_c)[-1] == "tj-thermal"


def test_only_the_named_zone_types(sysfs):
    reading = ThermalZoneMonitor(sysfs.root, ("tj-thermal", "gpu-thermal")).read()
    assert reading.temperatures_c == {"gpu-thermal": 46.093, "tj-thermal": 47.531}


def test_a_new_temperature_is_read_each_time(sysfs):
    monitor = ThermalZoneMonitor(sysfs.root, ("tj-thermal",))
    sysfs.set_temp("tj-thermal", 91250)
    assert monitor.read().temperatures_c == {"tj-thermal": 91.25}
    sysfs.set_temp("tj-thermal", 60000)
    assert monitor.read().temperatures_c == {"tj-thermal": 60.0}


def test_offline_marker_is_skipped_with_its_reason(sysfs):
    sysfs.set_temp("cv1-thermal", -256000)
    reading = ThermalZoneMonitor(sysfs.root).read()
    assert "cv1-thermal" not in reading.temperatures_c
    assert "sensor-offline" in reading.skipped["cv1-thermal"]
    assert reading.error is None  # the other zones still read
    assert len(reading.temperatures_c) == len(ORIN_JP6_ZONES) - 1


def test_unreadable_zone_is_skipped_and_named(sysfs):
    (sysfs.zone_dir("cv0-thermal") / "temp").unlink()
    reading = ThermalZoneMonitor(sysfs.root).read()
    assert "cv0-thermal" not in reading.temperatures_c
    assert "cv0-thermal" in reading.skipped and "temp" in reading.skipped["cv0-thermal"]
    assert reading.error is None


def test_a_zone_answering_eagain_is_skipped_and_the_others_read(sysfs, monkeypatch):
    # An Orin's power-gated cv*-thermal zone answers read() with EAGAIN, which a plain file
    # cannot: the fake below gives that answer for the cv0-thermal file only.
    gated = str(sysfs.zone_dir("cv0-thermal") / "temp")
    real_read = os.read

    def read_like_a_power_gated_zone(fd, n):
        if os.readlink(f"/proc/self/fd/{fd}") == gated:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_read(fd, n)

    monkeypatch.setattr("jetsentry.health.monitors.sysfs.os.read", read_like_a_power_gated_zone)
    reading = ThermalZoneMonitor(sysfs.root).read()
    assert "cv0-thermal" not in reading.temperatures_c
    assert "EAGAIN" in reading.skipped["cv0-thermal"]
    assert reading.temperatures_c["tj-thermal"] == 47.531
    assert reading.error is None


def test_read_int_names_the_file_and_the_reason(tmp_path):
    path = tmp_path / "temp"
    with pytest.raises(SysfsReadError, match="temp: .*No such file"):
        read_int(path)
    path.write_text("n/a\n")
    with pytest.raises(SysfsReadError, match="not an integer: 'n/a'") as info:
        read_int(path)
    assert info.value.errno == errno.EINVAL


def test_no_zone_reading_is_an_error(sysfs):
    for name, _ in ORIN_JP6_ZONES:
        sysfs.set_temp(name, -256000)
    reading = ThermalZoneMonitor(sysfs.root).read()
    assert reading.temperatures_c == {}
    assert reading.error is not None and "no thermal zone" in reading.error and "cpu-thermal" in reading.error


def test_a_named_type_that_is_absent_is_reported(sysfs):
    reading = ThermalZoneMonitor(sysfs.root, ("tj-thermal", "Tj-therm")).read()
    assert reading.temperatures_c == {"tj-thermal": 47.531}
    assert "no thermal zone of type 'Tj-therm'" in reading.skipped["Tj-therm"]


def test_two_zones_of_one_type_keep_both(tmp_path):
    tree = FakeJetsonSysfs(tmp_path)
    tree.add_zones((("acpitz", 27800), ("acpitz", 29800), ("x86_pkg_temp", 41000)))
    reading = ThermalZoneMonitor(tree.root).read()
    assert reading.temperatures_c == {"acpitz": 27.8, "acpitz.thermal_zone1": 29.8, "x86_pkg_temp": 41.0}


def test_build_monitors_finds_the_zones(sysfs):
    monitors = build_monitors(MonitorSettings(sysfs_root=sysfs.root, jetson_gpu_load=False, nvml=False))
    assert [m.name for m in monitors] == ["thermal"]
    assert monitors[0].read().temperatures_c["tj-thermal"] == 47.531


def test_build_monitors_without_zones_builds_no_thermal_monitor(tmp_path):
    assert build_monitors(MonitorSettings(sysfs_root=tmp_path, jetson_gpu_load=False, nvml=False)) == []


def test_build_monitors_with_named_types_reports_them_missing(tmp_path):
    [monitor] = build_monitors(MonitorSettings(sysfs_root=tmp_path, thermal_zone_types=("tj-thermal",),
                                               jetson_gpu_load=False, nvml=False))
    reading = monitor.read()
    assert reading.error is not None and "tj-thermal" in reading.error
