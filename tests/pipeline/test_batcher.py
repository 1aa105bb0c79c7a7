"""FrameBatcher over real LatestFrameSlots and a shared ready Event."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from jetsentry.batch import FrameBatcher
from jetsentry.capture import Frame, LatestFrameSlot


def frame(camera_id: str, seq: int) -> Frame:
    return Frame(camera_id, seq, np.zeros((4, 4, 3), np.uint8), time.time(), time.monotonic())


def make(camera_ids, max_batch=4, max_wait_s=0.05):
    ready = threading.Event()
    slots = {cid: LatestFrameSlot(ready) for cid in camera_ids}
    return slots, FrameBatcher(slots, ready, max_batch=max_batch, max_wait_s=max_wait_s)


def test_takes_one_newest_frame_per_camera_up_to_max_batch():
    slots, batcher = make(["a", "b", "c"], max_batch=2)
    for seq in range(3):  # older frames are replaced in the slot: only seq 2 remains
        for cid in slots:
            slots[cid].put(frame(cid, seq))
    first = batcher.next_batch(timeout=1)
    assert [(f.camera_id, f.seq) for f in first] == [("a", 2), ("b", 2)]
    second = batcher.next_batch(timeout=1)
    assert [(f.camera_id, f.seq) for f in second] == [("c", 2)]


def test_round_robin_does_not_starve_later_cameras():
    slots, batcher = make(["a", "b", "c"], max_batch=1, max_wait_s=0)
    order = []
    for seq in range(6):
        for cid in slots:
            slots[cid].put(frame(cid, seq))
        order.append(batcher.next_batch(timeout=1)[0].camera_id)
    assert order == ["a", "b", "c", "a", "b", "c"]


def test_returns_empty_after_timeout_without_frames():
    _, batcher = make(["a"])
    assert batcher.next_batch(timeout=0.05) == []


def test_waits_for_more_cameras_then_returns_partial_batch():
    slots, batcher = make(["a", "b"], max_batch=4, max_wait_s=0.5)
    slots["a"].put(frame("a", 0))

    def late_put():
        time.sleep(0.05)
        slots["b"].put(frame("b", 0))

    thread = threading.Thread(target=late_put)
    thread.start()
    batch = batcher.next_batch(timeout=1)
    thread.join()
    # The frame that landed during the fill wait is in the same batch.
    assert sorted(f.camera_id for f in batch) == ["a", "b"]


def test_wakes_on_a_frame_that_arrives_while_waiting():
    slots, batcher = make(["a"], max_wait_s=0)
    threading.Timer(0.05, lambda: slots["a"].put(frame("a", 7))).start()
    batch = batcher.next_batch(timeout=5)
    assert [f.seq for f in batch] == [7]


def test_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="max_batch"):
        make(["a"], max_batch=0)


def test_cameras_added_and_removed_while_a_batch_waits():
    slots, batcher = make(["a"], max_batch=4, max_wait_s=0)
    added = LatestFrameSlot(slots["a"].ready)
    waiting = threading.Thread(target=lambda: result.extend(batcher.next_batch(timeout=5)))
    result: list[Frame] = []
    waiting.start()
    batcher.add_source("new", added)  # from another thread, as a command does
    added.put(frame("new", 0))
    waiting.join(5)
    assert [(f.camera_id, f.seq) for f in result] == [("new", 0)]
    batcher.remove_source("a")
    slots["a"].put(frame("a", 1))
    added.put(frame("new", 1))
    assert [(f.camera_id, f.seq) for f in batcher.next_batch(timeout=1)] == [("new", 1)]
    batcher.remove_source("new")
    assert batcher.next_batch(timeout=0.05) == []
