"""The Jetson GPU load node, at each platform's place in a fake sysfs tree."""

from __future__ import annotations

import pytest

from jetsentry.health.monitors import MonitorSettings, build_monitors
from jetsentry.health.monitors.gpu_load import JetsonGpuLoadMonitor, find_load_node
from tests.support.fake_jetson_sysfs import NANO_GPU, ORIN_JP5_GPU, ORIN_JP6_GPU, FakeJetsonSysfs


@pytest.mark.parametrize("device", [ORIN_JP6_GPU, ORIN_JP5_GPU, NANO_GPU])
def test_found_at_the_platform_place(tmp_path, device):
    node = FakeJetsonSysfs(tmp_path).add_gpu(device, load_per_mille=734)
    assert find_load_node(tmp_path) == node
    assert JetsonGpuLoadMonitor(tmp_path).read().gpu_load == pytest.approx(0.734)


def test_found_through_devfreq_when_the_device_is_elsewhere(tmp_path):
    node = FakeJetsonSysfs(tmp_path).add_gpu("sys/devices/platform/soc@0/17000000.gpu", load_per_mille=1000,
                                             of_node_name="ga10b")
    found = find_load_node(tmp_path)
    assert found is not None and found.resolve() == node.resolve()
    assert JetsonGpuLoadMonitor(tmp_path).read().gpu_load == 1.0


def test_a_devfreq_entry_of_another_engine_is_not_the_gpu(tmp_path):
    FakeJetsonSysfs(tmp_path).add_gpu("sys/devices/platform/15340000.vic", devfreq_name="15340000.vic",
                                      of_node_name="vic")
    assert find_load_node(tmp_path) is None


def test_each_read_is_fresh(tmp_path):
    node = FakeJetsonSysfs(tmp_path).add_gpu(load_per_mille=0)
    monitor = JetsonGpuLoadMonitor(tmp_path)
    assert monitor.read().gpu_load == 0.0
    node.write_text("512\n")
    assert monitor.read().gpu_load == 0.512


def test_no_node_is_an_error_naming_where_it_looked(tmp_path):
    reading = JetsonGpuLoadMonitor(tmp_path).read()
    assert reading.gpu_load is None and not reading.gpu_lost
    assert "no Jetson GPU load node" in reading.error and "17000000.gpu/load" in reading.error


def test_a_node_that_vanishes_after_reading_is_gpu_lost(tmp_path):
    node = FakeJetsonSysfs(tmp_path).add_gpu(load_per_mille=300)
    monitor = JetsonGpuLoadMonitor(tmp_path)
    assert monitor.read().gpu_load == 0.3
    node.unlink()
    reading = monitor.read()
    assert reading.gpu_lost and "gone" in reading.error and str(node) in reading.error


def test_a_node_never_read_that_is_missing_is_not_gpu_lost(tmp_path):
    node = FakeJetsonSysfs(tmp_path).add_gpu()
    monitor = JetsonGpuLoadMonitor(tmp_path)
    node.unlink()
    reading = monitor.read()
    assert not reading.gpu_lost and reading.error is not None


def test_a_value_outside_per_mille_is_an_error(tmp_path):
    FakeJetsonSysfs(tmp_path).add_gpu(load_per_mille=1500)
    reading = JetsonGpuLoadMonitor(tmp_path).read()
    assert reading.gpu_load is None and "outside 0..1000" in reading.error


def test_build_auto_builds_it_only_when_a_node_exists(tmp_path):
    assert [m.name for m in build_monitors(MonitorSettings(sysfs_root=tmp_path, nvml=False))] == []
    FakeJetsonSysfs(tmp_path).add_gpu(load_per_mille=250)
    [monitor] = build_monitors(MonitorSettings(sysfs_root=tmp_path, nvml=False))
    assert monitor.name == "jetson_gpu_load" and monitor.read().gpu_load == 0.25


def test_build_on_without_a_node_reports_it_in_each_reading(tmp_path):
    [monitor] = build_monitors(MonitorSettings(sysfs_root=tmp_path, jetson_gpu_load=True, nvml=False))
    assert "no Jetson GPU load node" in monitor.read().error


def test_build_off_builds_none(tmp_path):
    FakeJetsonSysfs(tmp_path).add_gpu()
    assert build_monitors(MonitorSettings(sysfs_root=tmp_path, jetson_gpu_load=False, nvml=False)) == []
