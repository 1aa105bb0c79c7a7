"""The NVML monitor against a FAKE pynvml that keeps nvidia-ml-py's constants and error types."""

from __future__ import annotations

import pytest

pynvml = pytest.importorskip("pynvml")

from jetsentry.health.monitors import MonitorSettings, build_monitors  # noqa: E402
from jetsentry.health.monitors import nvml as nvml_module  # noqa: E402
from jetsentry.health.monitors.nvml import (  # noqa: E402
    HEAT_OR_POWER_REASONS,
    NvmlMonitor,
    decode_throttle_reasons,
)
from tests.health.monitors.fake_nvml import FakeNvml  # noqa: E402


def test_throttle_bits_decode_with_nvmls_own_constants():
    assert decode_throttle_reasons(0) == ()
    assert decode_throttle_reasons(pynvml.nvmlClocksEventReasonGpuIdle) == ("gpu_idle",)
    mask = (pynvml.nvmlClocksEventReasonSwThermalSlowdown | pynvml.nvmlClocksEventReasonHwSlowdown
            | pynvml.nvmlClocksEventReasonSwPowerCap)
    assert decode_throttle_reasons(mask) == ("power_cap", "hw_slowdown", "sw_thermal")
    assert decode_throttle_reasons(pynvml.nvmlClocksThrottleReasonHwThermalSlowdown
                                   | pynvml.nvmlClocksThrottleReasonHwPowerBrakeSlowdown) == ("hw_thermal",
                                                                                               "hw_power_brake")
    assert decode_throttle_reasons(0x800) == ("unknown_0x800",)
    every = decode_throttle_reasons(pynvml.nvmlClocksThrottleReasonAll)
    assert len(every) == 11 and not any(name.startswith("unknown") for name in every)
    assert HEAT_OR_POWER_REASONS <= set(every)


def test_a_reading_of_the_device():
    fake = FakeNvml()
    fake.temperature_c, fake.utilization_percent = 83, 97
    fake.reasons = pynvml.nvmlClocksEventReasonSwThermalSlowdown
    monitor = NvmlMonitor(0, nvml=fake)
    reading = monitor.read()
    assert reading.error is None and not reading.gpu_lost
    assert reading.temperatures_c == {"gpu": 83.0}
    assert reading.gpu_load == 0.97
    assert (reading.gpu_memory_used_bytes, reading.gpu_memory_total_bytes) == (2 * 1024**3, 141 * 1024**3)
    assert reading.throttle_reasons == ("sw_thermal",)
    assert monitor.device_name == "NVIDIA H200"
    monitor.close()
    assert fake.initialised == 0


def test_gpu_lost_from_any_call():
    fake = FakeNvml()
    monitor = NvmlMonitor(0, nvml=fake)
    fake.failing["nvmlDeviceGetMemoryInfo"] = pynvml.NVML_ERROR_GPU_IS_LOST
    reading = monitor.read()
    assert reading.gpu_lost
    assert "GPU is lost" in reading.error and "memory" in reading.error


def test_an_unsupported_field_is_skipped_and_the_rest_read():
    fake = FakeNvml(name="NVIDIA Thor")
    fake.failing["nvmlDeviceGetMemoryInfo"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    reading = NvmlMonitor(0, nvml=fake).read()
    assert reading.error is None
    assert reading.gpu_memory_total_bytes is None and reading.gpu_load == 0.3
    assert "not supported by NVIDIA Thor" in reading.skipped["memory"]


def test_another_nvml_error_names_the_field_and_keeps_the_others():
    fake = FakeNvml()
    fake.failing["nvmlDeviceGetTemperature"] = pynvml.NVML_ERROR_UNKNOWN
    reading = NvmlMonitor(0, nvml=fake).read()
    assert reading.temperatures_c == {} and reading.gpu_load == 0.3
    assert reading.error.startswith("NVML device 0: temperature:")


def test_without_a_driver_it_says_so_and_retries_later(monkeypatch):
    now = [0.0]
    fake = FakeNvml()
    fake.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    monitor = NvmlMonitor(0, nvml=fake, clock=lambda: now[0])
    assert not monitor.available
    assert monitor.read().error == "NVML cannot start (nvmlInit): Driver Not Loaded"
    fake.init_error = None  # the driver is loaded now
    now[0] += 1.0
    assert monitor.read().error is not None  # not retried before INIT_RETRY_S
    now[0] += nvml_module.INIT_RETRY_S
    assert monitor.read().error is None and monitor.available


def test_a_missing_device_index_names_the_count():
    fake = FakeNvml(devices=1)
    monitor = NvmlMonitor(3, nvml=fake)
    assert not monitor.available
    assert "no device 3" in monitor.init_error and "1 device(s)" in monitor.init_error
    assert fake.initialised == 0  # NVML shut down again


def test_without_nvidia_ml_py_the_error_gives_the_install_command(monkeypatch):
    import sys

    from tests.support.without_modules import AbsentPackages

    monkeypatch.delitem(sys.modules, "pynvml")
    monkeypatch.setattr(sys, "meta_path", [AbsentPackages({"pynvml"}), *sys.meta_path])
    with pytest.raises(ImportError, match=r"nvidia-ml-py \(NVML\).*Install: .*nvml.*nvidia-ml-py>=12.535"):
        NvmlMonitor(0)


def test_build_auto_skips_nvml_without_a_driver(tmp_path):
    # This machine has nvidia-ml-py but no NVIDIA driver: NVML cannot start, so auto builds none.
    assert build_monitors(MonitorSettings(sysfs_root=tmp_path)) == []


def test_build_on_keeps_the_monitor_and_reports_why(tmp_path):
    [monitor] = build_monitors(MonitorSettings(sysfs_root=tmp_path, nvml=True))
    try:
        assert monitor.name == "nvml" and "NVML cannot start" in monitor.read().error
    finally:
        monitor.close()
