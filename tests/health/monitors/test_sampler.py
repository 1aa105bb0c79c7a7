"""The monitor thread: snapshots to the callback every interval, a failing callback survived, a clean stop."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from jetsentry.health.monitors import MonitorSet, Reading, ThermalZoneMonitor
from jetsentry.health.monitors.sampler import MonitorThread
from tests.support.fake_jetson_sysfs import FakeJetsonSysfs


def wait_until(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def monitors(tmp_path):
    tree = FakeJetsonSysfs(tmp_path)
    tree.add_zones()
    with MonitorSet([ThermalZoneMonitor(tree.root)]) as monitor_set:
        yield tree, monitor_set


def test_snapshots_reach_the_callback_and_follow_the_files(monitors):
    tree, monitor_set = monitors
    seen = []
    before = set(threading.enumerate())
    with MonitorThread(monitor_set, seen.append, interval_s=0.01):
        assert wait_until(lambda: len(seen) >= 3)
        tree.set_temp("tj-thermal", 95000)
        assert wait_until(lambda: seen[-1].temperatures_c["tj-thermal"] == 95.0)
    count = len(seen)
    time.sleep(0.05)
    assert len(seen) == count  # nothing after stop
    assert all(isinstance(s.readings[0], Reading) for s in seen)
    assert [s.ts for s in seen] == sorted(s.ts for s in seen)
    assert set(threading.enumerate()) <= before  # no thread left behind


def test_a_failing_callback_is_logged_and_sampling_goes_on(monitors, caplog):
    _, monitor_set = monitors
    calls = []

    def handler(snapshot):
        calls.append(snapshot)
        raise KeyError("governor bug")

    with caplog.at_level(logging.ERROR, logger="jetsentry.health.monitors"):
        with MonitorThread(monitor_set, handler, interval_s=0.01) as thread:
            assert wait_until(lambda: len(calls) >= 5)
            assert thread.running
    assert len([r for r in caplog.records if r.exc_info]) == 1  # the first in full, not one per sample


def test_stop_does_not_wait_for_the_interval(monitors):
    _, monitor_set = monitors
    thread = MonitorThread(monitor_set, lambda s: None, interval_s=3600).start()
    assert wait_until(lambda: thread.samples == 1)
    thread.stop(timeout_s=10)
    assert not thread.running  # stopped within stop()'s wait, not after the hour
    assert thread.samples == 1 and thread.latest is not None


def test_start_once_and_a_positive_interval(monitors):
    _, monitor_set = monitors
    thread = MonitorThread(monitor_set, lambda s: None)
    thread.start()
    with pytest.raises(RuntimeError, match="once"):
        thread.start()
    thread.stop()
    with pytest.raises(ValueError):
        MonitorThread(monitor_set, lambda s: None, interval_s=0)
    MonitorThread(monitor_set, lambda s: None).stop()  # never started: nothing to wait for
