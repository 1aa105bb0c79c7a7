"""The pipeline monitor on real LatestFrameSlots and real frames."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from jetsentry.capture import LatestFrameSlot
from jetsentry.capture.frame import Frame
from jetsentry.health.monitors.pipeline_load import PipelineMonitor, PublishLatency


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def frame(camera: str, seq: int, received: float) -> Frame:
    return Frame(camera, seq, np.zeros((4, 4, 3), np.uint8), capture_ts=0.0, received_monotonic=received)


def test_latency_is_the_windows_90th_percentile():
    clock = Clock()
    latency = PublishLatency()
    monitor = PipelineMonitor({}, latency, window_s=5.0, clock=clock)
    assert monitor.read().latency_s is None  # nothing published yet
    for i in range(10):  # ten batches, 0.1 .. 1.0 s old when published
        latency.record(clock.now - 4 + i * 0.1, clock.now - 4 + i * 0.1 - (i + 1) / 10, frames=2)
    assert monitor.read().latency_s == pytest.approx(0.9)
    latency.record(clock.now, clock.now - 30.0)  # one very slow batch among eleven
    assert monitor.read().latency_s == pytest.approx(1.0)
    clock.now += 4.5  # the first batches leave the window
    assert monitor.read().latency_s == pytest.approx(30.0)
    clock.now += 10
    assert monitor.read().latency_s is None


def test_drops_and_waiting_frames_per_camera():
    clock = Clock()
    slots = {"door": LatestFrameSlot(), "yard": LatestFrameSlot()}
    monitor = PipelineMonitor(slots, PublishLatency(), clock=clock)
    for seq in range(4):  # inference takes none: three of the four are replaced
        slots["door"].put(frame("door", seq, clock.now))
    slots["yard"].put(frame("yard", 0, clock.now))
    reading = monitor.read()
    assert reading.dropped_by_camera == {"door": 3, "yard": 0}
    assert reading.backlog == 3 + 2  # three dropped, one waiting in each slot
    slots["door"].take()
    slots["yard"].take()
    reading = monitor.read()  # caught up: no new drops, nothing waiting
    assert reading.dropped_by_camera == {"door": 0, "yard": 0} and reading.backlog == 0


def test_drops_before_the_monitor_started_are_not_counted():
    slot = LatestFrameSlot()
    slot.put(frame("a", 0, 0.0))
    slot.put(frame("a", 1, 0.0))
    monitor = PipelineMonitor({"a": slot}, PublishLatency())
    assert monitor.read().dropped_by_camera == {"a": 0}


def test_the_record_is_bounded_and_safe_to_read_while_written():
    latency = PublishLatency(max_batches=100)
    stop = threading.Event()

    def write() -> None:
        t = 0.0
        while not stop.is_set():
            t += 0.001
            latency.record(t, t - 0.05)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(200):
            batches = latency.since(0.0)
            assert len(batches) <= 100
            assert all(a[0] <= b[0] for a, b in zip(batches, batches[1:]))
    finally:
        stop.set()
        writer.join()


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        PipelineMonitor({}, PublishLatency(), window_s=0)
