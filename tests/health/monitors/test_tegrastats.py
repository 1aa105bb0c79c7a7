"""The tegrastats monitor, running a FAKE tegrastats that prints recorded lines."""

from __future__ import annotations

import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from jetsentry.health.monitors import tegrastats as tegrastats_module
from jetsentry.health.monitors.tegrastats import TegrastatsMonitor
from tests.health.monitors import tegrastats_lines as lines

FAKE = Path(__file__).with_name("fake_tegrastats.py")


def fake_binary(tmp_path: Path) -> str:
    """An executable named tegrastats that runs the fake with this interpreter."""
    binary = tmp_path / "tegrastats"
    binary.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return str(binary)


def wait_for(monitor: TegrastatsMonitor, predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        reading = monitor.read()
        if predicate(reading) or time.monotonic() > deadline:
            return reading
        time.sleep(0.02)


@pytest.fixture
def monitor_of(tmp_path):
    made: list[TegrastatsMonitor] = []

    def make(interval_ms: int = 50, **kwargs) -> TegrastatsMonitor:
        made.append(TegrastatsMonitor(fake_binary(tmp_path), interval_ms, **kwargs))
        return made[-1]

    yield make
    for monitor in made:
        monitor.close()


def test_latest_line_as_a_reading(monitor_of, tmp_path, monkeypatch):
    only = tmp_path / "lines.txt"
    only.write_text(lines.THOR_LOADED + "\n")
    monkeypatch.setenv("FAKE_TEGRASTATS_LINES", str(only))
    monitor = monitor_of()
    reading = wait_for(monitor, lambda r: r.error is None)
    assert reading.error is None
    assert reading.gpu_load == 0.87
    assert reading.temperatures_c["tj"] == 66.625
    assert reading.gpu_memory_total_bytes == 125749 * 1024 * 1024
    assert reading.gpu_memory_used_bytes == 8353 * 1024 * 1024


def test_before_the_first_line_says_so(tmp_path):
    silent = tmp_path / "tegrastats"  # a tool that has printed nothing yet
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(0o755)
    monitor = TegrastatsMonitor(str(silent), 1000)
    try:
        reading = monitor.read()
        assert reading.error == f"no line from {silent} --interval 1000 yet"
    finally:
        monitor.close()
    assert monitor._process.poll() is not None


def test_every_recorded_line_comes_through(monitor_of):
    monitor = monitor_of(interval_ms=20)
    seen = set()
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:
        reading = monitor.read()
        if reading.error is None:
            seen.add(reading.gpu_memory_total_bytes)
        time.sleep(0.01)
    assert len(seen) >= 3  # lines of different machines (their RAM totals differ) were read in turn


def test_an_exit_is_reported_with_its_status_and_output_then_restarted(monitor_of, monkeypatch):
    monkeypatch.setenv("FAKE_TEGRASTATS_EXIT_AFTER", "2")
    monkeypatch.setattr(tegrastats_module, "RESTART_AFTER_S", 0.2)
    monitor = monitor_of()
    reading = wait_for(monitor, lambda r: r.error is not None and "exited" in r.error)
    assert "exited with status 3" in reading.error and "told to stop" in reading.error
    first = monitor._process
    wait_for(monitor, lambda r: monitor._process is not first)
    assert monitor._process is not first  # started again
    assert first.poll() == 3


def test_a_missing_binary_is_an_error_naming_it(tmp_path):
    monitor = TegrastatsMonitor(str(tmp_path / "no-tegrastats"))
    try:
        reading = monitor.read()
        assert "cannot run" in reading.error and "no-tegrastats" in reading.error
    finally:
        monitor.close()


def test_a_stale_line_is_an_error(tmp_path):
    clock = [100.0]
    monitor = TegrastatsMonitor(fake_binary(tmp_path), 50, clock=lambda: clock[0])
    try:
        wait_for(monitor, lambda r: r.error is None)
        clock[0] += 10.0
        reading = monitor.read()
        assert reading.error == f"no line from {monitor.binary} for more than 2 s (it prints every 50 ms)"
    finally:
        monitor.close()


def test_close_stops_the_tool_and_the_thread(monitor_of):
    before = set(threading.enumerate())
    monitor = monitor_of()
    wait_for(monitor, lambda r: r.error is None)
    process = monitor._process
    monitor.close()
    assert process.poll() is not None
    assert set(threading.enumerate()) <= before


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval"):
        TegrastatsMonitor("tegrastats", 0)


def test_build_monitors_runs_the_named_binary(tmp_path):
    from jetsentry.health.monitors import MonitorSet, MonitorSettings, build_monitors

    settings = MonitorSettings(sysfs_root=tmp_path, tegrastats=fake_binary(tmp_path), tegrastats_interval_ms=50,
                               jetson_gpu_load=False, nvml=False)
    with MonitorSet(build_monitors(settings)) as monitors:
        [monitor] = monitors.monitors
        assert monitor.command[1:] == ["--interval", "50"]
        reading = wait_for(monitor, lambda r: r.error is None)
        assert reading.error is None and reading.temperatures_c
    assert monitor._process.poll() is not None
