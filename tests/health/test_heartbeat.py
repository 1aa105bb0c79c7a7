"""The heartbeat registry: stages, deadlines, and which are stale."""

from __future__ import annotations

import threading

import pytest

from jetsentry.health.heartbeat import Heartbeat, Heartbeats, wait_beating


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def beat_at(heartbeat: Heartbeat, when: float) -> None:
    heartbeat.last = when  # what beat() stores, at a chosen time


def test_only_active_stages_past_their_deadline_are_stale_oldest_first():
    clock = Clock()
    beats = Heartbeats(clock)
    engine, batcher, camera, done = (beats.add(Heartbeat(n), d) for n, d in
                                     (("engine", 5.0), ("batcher", 5.0), ("capture:gate", 10.0), ("capture:file", 1.0)))
    for hb in (engine, batcher, camera, done):
        hb.start()
        beat_at(hb, 100.0)
    done.finish()  # a file camera at its end
    clock.now = 104.0
    assert beats.stale_stages() == []
    clock.now = 106.0
    beat_at(batcher, 105.5)
    assert beats.stale_stages() == [("engine", 6.0)]
    clock.now = 112.0
    assert beats.stale_stages() == [("engine", 12.0), ("capture:gate", 12.0), ("batcher", 6.5)]
    beat_at(engine, 111.0)  # the engine came back
    assert [name for name, _ in beats.stale_stages()] == ["capture:gate", "batcher"]
    stage = {s.name: s for s in beats.stages()}["capture:file"]
    assert not stage.active and not stage.stale and stage.deadline_s == 1.0


def test_a_stage_never_started_is_not_required():
    clock = Clock()
    beats = Heartbeats(clock)
    beats.add(Heartbeat("publisher"), 1.0)
    clock.now += 1e6
    assert beats.stale_stages() == []


def test_names_are_unique_and_deadlines_positive():
    beats = Heartbeats()
    beats.add(Heartbeat("engine"), 1.0)
    with pytest.raises(ValueError, match="registered already"):
        beats.add(Heartbeat("engine"), 1.0)
    with pytest.raises(ValueError, match="deadline must be > 0"):
        beats.add(Heartbeat("batcher"), 0)
    beats.remove("engine")
    beats.add(Heartbeat("engine"), 2.0)


def test_wait_beating_returns_when_set_and_beats_meanwhile():
    event, heartbeat = threading.Event(), Heartbeat("x")
    beat_at(heartbeat, 0.0)
    assert not wait_beating(event, 0.05, heartbeat)
    assert heartbeat.last > 0.0
    threading.Timer(0.05, event.set).start()
    assert wait_beating(event, 30.0, heartbeat)
