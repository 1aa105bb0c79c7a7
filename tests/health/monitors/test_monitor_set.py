"""The monitor set: readings merged into one snapshot; a monitor that raises becomes an error reading."""

from __future__ import annotations

import logging

import pytest

from jetsentry.health.monitors import MonitorSet, Reading, Snapshot, ThermalZoneMonitor
from tests.support.fake_jetson_sysfs import FakeJetsonSysfs


class FixedMonitor:
    """Answers the readings it was given, in turn (the last one again once they run out)."""

    def __init__(self, name: str, *readings: Reading | Exception) -> None:
        self.name = name
        self._readings = list(readings)
        self.closed = False

    def read(self) -> Reading:
        item = self._readings.pop(0) if len(self._readings) > 1 else self._readings[0]
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


def test_first_reading_that_gives_a_fact_wins_and_lost_is_any():
    nvml = FixedMonitor("nvml", Reading("nvml", temperatures_c={"gpu": 81.0}, gpu_load=0.9,
                                        gpu_memory_used_bytes=5, gpu_memory_total_bytes=10,
                                        throttle_reasons=("sw_thermal",)))
    tegra = FixedMonitor("tegrastats", Reading("tegrastats", temperatures_c={"gpu": 79.5, "tj": 83.0},
                                                gpu_load=0.5, throttle_reasons=("sw_thermal", "hw_slowdown"),
                                                gpu_lost=True))
    snapshot = MonitorSet([nvml, tegra], clock=lambda: 12.5).read()
    assert snapshot.ts == 12.5
    assert snapshot.gpu_load == 0.9
    assert (snapshot.gpu_memory_used_bytes, snapshot.gpu_memory_total_bytes) == (5, 10)
    assert snapshot.throttle_reasons == ("sw_thermal", "hw_slowdown")
    assert snapshot.gpu_lost
    # "gpu" comes from two monitors: both kept, prefixed; "tj" only from one.
    assert snapshot.temperatures_c == {"nvml:gpu": 81.0, "tegrastats:gpu": 79.5, "tj": 83.0}
    assert snapshot.max_temperature_c == 83.0
    assert snapshot.errors == {}


def test_a_fact_no_reading_gives_is_none():
    snapshot = Snapshot(0.0, (Reading("a"), Reading("b", error="gone")))
    assert snapshot.gpu_load is None and snapshot.max_temperature_c is None and snapshot.latency_s is None
    assert snapshot.backlog is None and snapshot.dropped_by_camera == {} and not snapshot.gpu_lost
    assert snapshot.errors == {"b": "gone"}


def test_a_monitor_that_raises_does_not_take_the_set_down(tmp_path, caplog):
    tree = FakeJetsonSysfs(tmp_path)
    tree.add_zones()
    broken = FixedMonitor("broken", RuntimeError("driver went away"))
    monitors = MonitorSet([broken, ThermalZoneMonitor(tree.root)])
    with caplog.at_level(logging.ERROR, logger="jetsentry.health.monitors"):
        first = monitors.read()
        for _ in range(20):
            last = monitors.read()
    assert first.errors == {"broken": "read() raised RuntimeError: driver went away"}
    assert first.temperatures_c["tj-thermal"] == 47.531
    assert last.errors == first.errors
    # The first failure with its traceback; the next 20 within the interval not one line each.
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "monitor broken failed" in tracebacks[0].getMessage()
    assert len(caplog.records) == 1


def test_a_reported_error_is_logged_when_it_appears_and_when_it_clears(caplog):
    monitor = FixedMonitor("tegrastats", Reading("tegrastats", error="exited"), Reading("tegrastats", error="exited"),
                           Reading("tegrastats", gpu_load=0.1))
    monitors = MonitorSet([monitor])
    with caplog.at_level(logging.INFO, logger="jetsentry.health.monitors"):
        for _ in range(4):
            monitors.read()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["monitor tegrastats: exited", "monitor tegrastats reads again"]


def test_close_closes_every_monitor_even_when_one_raises(caplog):
    class BadClose(FixedMonitor):
        def close(self) -> None:
            raise OSError("already gone")

    good = FixedMonitor("good", Reading("good"))
    with caplog.at_level(logging.ERROR, logger="jetsentry.health.monitors"):
        with MonitorSet([BadClose("bad", Reading("bad")), good]):
            pass
    assert good.closed
    assert "closing monitor bad failed" in caplog.text


def test_names_are_unique():
    with pytest.raises(ValueError, match="unique"):
        MonitorSet([FixedMonitor("a", Reading("a")), FixedMonitor("a", Reading("a"))])
    monitors = MonitorSet([FixedMonitor("a", Reading("a"))])
    with pytest.raises(ValueError, match="already"):
        monitors.add(FixedMonitor("a", Reading("a")))
    monitors.add(FixedMonitor("b", Reading("b", backlog=3)))
    assert monitors.read().backlog == 3


def test_a_changing_reported_error_is_not_logged_each_time(caplog):
    now = [0.0]
    readings = [Reading("gpu", error=f"value {i} out of range") for i in range(30)] + [Reading("gpu")]
    monitors = MonitorSet([FixedMonitor("gpu", *readings)], clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="jetsentry.health.monitors"):
        for _ in range(20):
            monitors.read()
            now[0] += 1.0
        now[0] += 60.0
        monitors.read()  # a minute later, a changed error is logged again
        for _ in range(10):
            monitors.read()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["monitor gpu: value 0 out of range", "monitor gpu: value 20 out of range",
                        "monitor gpu reads again"]
