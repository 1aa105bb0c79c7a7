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


def test_put_when_taken_waits_for_the_consumer_and_never_drops():
    slot = LatestFrameSlot()
    cancel = threading.Event()
    assert slot.put_when_taken(frame(0), cancel)  # empty slot: at once
    second_put = threading.Thread(target=slot.put_when_taken, args=(frame(1), cancel))
    second_put.start()
    second_put.join(0.3)
    assert second_put.is_alive()  # frame 0 not taken yet: the producer waits
    assert slot.take().seq == 0
    second_put.join(2)
    assert not second_put.is_alive()
    assert slot.take().seq == 1 and slot.dropped == 0 and slot.put_count == 2


def test_put_when_taken_gives_up_when_cancelled():
    slot = LatestFrameSlot()
    cancel = threading.Event()
    slot.put(frame(0))
    result = []
    waiter = threading.Thread(target=lambda: result.append(slot.put_when_taken(frame(1), cancel, poll_s=0.02)))
    waiter.start()
    cancel.set()
    waiter.join(2)
    assert result == [False]
    assert slot.take().seq == 0 and slot.take() is None  # frame 1 was not put
