"""LatestFrameSlot: newest frame wins, drops are counted, consumers are woken."""

from __future__ import annotations

import threading

import numpy as np

from jetsentry.capture.frame import Frame
from jetsentry.capture.slot import LatestFrameSlot

IMAGE = np.zeros((2, 2, 3), np.uint8)


def frame(seq: int, camera: str = "c") -> Frame:
    return Frame(camera, seq, IMAGE, 0.0, 0.0)


def test_empty_slot_gives_none():
    assert LatestFrameSlot().take() is None


def test_newest_frame_replaces_unread_and_counts_the_drop():
    slot = LatestFrameSlot()
    for seq in range(5):
        slot.put(frame(seq))
    assert slot.take().seq == 4
    assert slot.take() is None
    assert slot.dropped == 4 and slot.put_count == 5


def test_taken_frames_are_not_dropped():
    slot = LatestFrameSlot()
    for seq in range(3):
        slot.put(frame(seq))
        assert slot.take().seq == seq
    assert slot.dropped == 0


def test_shared_ready_event_wakes_on_any_camera():
    ready = threading.Event()
    slots = {name: LatestFrameSlot(ready) for name in "abc"}
    assert not ready.is_set()
    slots["b"].put(frame(0, "b"))
    assert ready.wait(1.0)
    assert [name for name, slot in slots.items() if slot.has_frame()] == ["b"]


def test_concurrent_producer_and_consumer_lose_nothing_uncounted():
    slot = LatestFrameSlot()
    total = 20_000
    taken: list[int] = []
    done = threading.Event()

    def consume():
        while not done.is_set() or slot.has_frame():
            f = slot.take()
            if f is not None:
                taken.append(f.seq)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for seq in range(total):
        slot.put(frame(seq))
    done.set()
    consumer.join()
    assert taken == sorted(taken)  # newest-wins never goes backwards
    assert len(taken) + slot.dropped == total
