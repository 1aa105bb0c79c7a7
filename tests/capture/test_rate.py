"""fps cap by source timestamps."""

from __future__ import annotations

import pytest

from jetsentry.capture.rate import FpsLimiter


def admitted(limiter: FpsLimiter, fps: float, seconds: float, start: float = 0.0) -> int:
    return sum(limiter.admit(start + i / fps) for i in range(int(fps * seconds)))


@pytest.mark.parametrize(("source_fps", "cap", "expected"), [(30, 10, 30), (30, 15, 45), (30, 20, 60), (25, 30, 75)])
def test_cap_passes_the_right_number_of_frames(source_fps, cap, expected):
    assert admitted(FpsLimiter(cap), source_fps, 3.0) == expected


def test_no_cap_passes_everything():
    assert admitted(FpsLimiter(None), 60, 1.0) == 60


def test_timestamps_going_backwards_restart_the_schedule():
    limiter = FpsLimiter(10)
    assert admitted(limiter, 30, 1.0) == 10
    # A file loop: PTS restarts at 0; the first frame passes at once.
    assert limiter.admit(0.0)


def test_a_gap_does_not_cause_a_burst():
    limiter = FpsLimiter(10)
    assert admitted(limiter, 30, 1.0) == 10
    assert admitted(limiter, 30, 1.0, start=5.0) == 10


def test_bad_cap():
    with pytest.raises(ValueError):
        FpsLimiter(0)
