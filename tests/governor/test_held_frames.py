"""Failed batches held for the fallback: bounded, expiring, host pictures only."""

from __future__ import annotations

import numpy as np

from jetsentry.capture.frame import Frame
from jetsentry.governor.held_frames import HeldFrames


def batch(first_seq: int, size: int = 2) -> list[Frame]:
    return [Frame("cam", first_seq + i, np.zeros((8, 8, 3), np.uint8), 1.7e9, 0.0) for i in range(size)]


class DevicePictureFrame:
    """Stands in for a frame whose picture is in GPU memory (only its `device` is looked at)."""

    device = object()


def test_held_batches_come_back_oldest_first_and_the_bound_gives_up_the_oldest():
    held = HeldFrames(max_batches=3)
    for seq in range(0, 10, 2):
        assert held.hold(batch(seq), now=float(seq))
    assert len(held) == 6 and held.given_up == 4
    assert [[f.seq for f in b] for b in held.take_all()] == [[4, 5], [6, 7], [8, 9]]
    assert len(held) == 0 and held.retried == 6 and held.take_all() == []


def test_expiry_and_give_up_count_what_they_drop_and_device_pictures_are_not_held():
    held = HeldFrames()
    held.hold(batch(0), now=1.0)
    held.hold(batch(2), now=5.0)
    assert held.expire(older_than=2.0) == 2 and len(held) == 2
    assert held.give_up() == 2 and held.given_up == 4 and len(held) == 0
    assert not held.hold([DevicePictureFrame()]) and not held.hold([])
