"""A camera's tracking in the frame path: processed rate from timestamps, gaps, what is returned."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.detections import Detections
from jetsentry.track import ByteTracker, CameraTracker
from jetsentry.track.frame_rate import MIN_INTERVALS, WINDOW, FrameRateMeter
from tests.track.test_byte_tracker import dets, moving_box


def _seen(frame: int, score: float = 0.9) -> Detections:
    return dets(moving_box(frame, vx=2.0), score)


def _track_ids(tracker: CameraTracker, frames: list[tuple[float, Detections]]) -> list[list[int]]:
    return [tracker.update(d, ts).track_ids.tolist() for ts, d in frames]


def test_meter_keeps_the_initial_rate_until_enough_intervals():
    meter = FrameRateMeter(25.0)
    for _ in range(MIN_INTERVALS - 1):
        meter.add(0.1)
    assert meter.rate == 25.0 and not meter.measured
    meter.add(0.1)
    assert meter.rate == 10.0 and meter.measured


def test_meter_averages_jitter_and_leaves_out_stalls_and_bad_intervals():
    rng = np.random.default_rng(0)
    # A 30 fps source through a newest-frame slot: every 1st to 4th frame is processed.
    intervals = rng.integers(1, 5, WINDOW) / 30.0
    meter = FrameRateMeter(30.0)
    for interval in intervals:
        meter.add(float(interval))
    expected = WINDOW / intervals.sum()
    assert meter.rate == pytest.approx(expected, rel=1e-3)
    for bad in (0.0, -0.05, float("nan"), float("inf")):
        meter.add(bad)
    meter.add(2.0)  # a stall: counted in the window, but not in the mean
    kept = intervals[1:]
    assert meter.rate == pytest.approx(kept.size / kept.sum(), rel=1e-3)


def test_meter_follows_a_change_of_rate_within_a_window():
    meter = FrameRateMeter(30.0)
    for _ in range(WINDOW):
        meter.add(1 / 15)
    assert meter.rate == 15.0
    for _ in range(WINDOW):
        meter.add(0.25)
    assert meter.rate == 4.0


def test_meter_rounds_nanosecond_timestamps_to_the_nominal_rate():
    """15 fps PTS alternate 66666666 and 66666667 ns; the buffer must be the 15 frames of 15.0 fps."""
    meter = FrameRateMeter(30.0)
    pts = np.round(np.arange(WINDOW + 1) * 1e9 / 15).astype(np.int64)
    for interval in np.diff(1.7e9 + pts / 1e9):
        meter.add(float(interval))
    assert meter.rate == 15.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True])
def test_meter_refuses_a_bad_initial_rate(bad):
    with pytest.raises(ValueError, match="initial frame rate"):
        FrameRateMeter(bad)


def test_tracker_runs_at_the_measured_rate_not_the_assumed_one():
    """Processed at 10 frames/s, assumed 30: a lost track is kept 10 frames (1 s), not 30."""
    tracker = CameraTracker(ByteTracker(frame_rate=30.0), min_score=0.25)
    frames = [(f / 10, _seen(f)) for f in range(20)]
    frames += [(f / 10, Detections.empty()) for f in range(20, 35)]  # 15 frames, 1.5 s, missing
    frames += [(f / 10, _seen(f)) for f in range(35, 40)]
    ids = _track_ids(tracker, frames)
    assert tracker.frame_rate == 10.0 and tracker.tracker.max_frames_lost == 10
    assert ids[:20] == [[1]] * 20
    assert ids[35] == [] and ids[36:] == [[2]] * 4  # a new track: the old one was lost too long
    assert tracker.gaps == 0


def test_a_short_absence_keeps_the_track_at_the_measured_rate():
    tracker = CameraTracker(ByteTracker(frame_rate=30.0), min_score=0.25)
    frames = [(f / 10, _seen(f) if not 20 <= f < 28 else Detections.empty()) for f in range(35)]
    assert {tuple(i) for i in _track_ids(tracker, frames) if i} == {(1,)}


@pytest.mark.parametrize("gap_s", [5.0, 60.0])
def test_a_gap_longer_than_the_buffer_starts_without_tracks_and_ids_keep_counting(gap_s):
    tracker = CameraTracker(ByteTracker(frame_rate=10.0), min_score=0.25)
    before = [(f / 10, _seen(f)) for f in range(20)]
    after = [(1.9 + gap_s + f / 10, _seen(19)) for f in range(5)]  # the object where it was left
    ids = _track_ids(tracker, before + after)
    assert ids[:20] == [[1]] * 20
    assert ids[20:] == [[2]] * 5  # a first frame again (confirmed at once), a new id, never 1
    assert tracker.gaps == 1


def test_a_gap_within_the_buffer_keeps_the_tracks():
    tracker = CameraTracker(ByteTracker(frame_rate=10.0), min_score=0.25)
    frames = [(f / 10, _seen(f)) for f in range(20)] + [(1.9 + 0.9 + f / 10, _seen(20 + f)) for f in range(5)]
    assert {tuple(i) for i in _track_ids(tracker, frames)} == {(1,)}
    assert tracker.gaps == 0


def test_a_slow_camera_is_no_gap_at_its_own_interval():
    """Processed every 1.6 s (more than the 1 s buffer): tracks continue from frame to frame."""
    tracker = CameraTracker(ByteTracker(frame_rate=30.0), min_score=0.25)
    frames = [(1.6 * f, _seen(f)) for f in range(20)]
    ids = _track_ids(tracker, frames)
    assert tracker.gaps == 0 and ids == [[1]] * 20 and tracker.frame_rate == 0.625
    assert tracker.tracker.max_frames_lost == 0  # a lost track is gone at the next frame, 1.6 s later


def test_timestamps_going_back_beyond_the_buffer_start_anew_and_small_steps_back_do_not():
    tracker = CameraTracker(ByteTracker(frame_rate=10.0), min_score=0.25)
    frames = [(100 + f / 10, _seen(f)) for f in range(10)]
    frames.append((100.85, _seen(10)))  # 50 ms back (a clock correction): same track
    frames += [(10 + f / 10, _seen(11 + f)) for f in range(3)]  # 91 s back (the source restarted)
    ids = _track_ids(tracker, frames)
    assert ids[:11] == [[1]] * 11 and ids[11:] == [[2]] * 3 and tracker.gaps == 1


def test_scores_at_or_below_min_score_are_tracked_but_not_returned():
    tracker = CameraTracker(ByteTracker(frame_rate=30.0), min_score=0.5)
    scores = [0.9] * 5 + [0.3] * 40 + [0.5] * 3 + [0.9] * 3  # 0.3: stage one (>= high 0.25), hidden
    ids = _track_ids(tracker, [(f / 30, _seen(f, s)) for f, s in enumerate(scores)])
    assert ids[:5] == [[1]] * 5 and ids[5:48] == [[]] * 43 and ids[48:] == [[1]] * 3
    assert tracker.tracker.update(_seen(51, 0.3)).track_ids.tolist() == [1]  # the track itself went on


def test_forget_tracks_now():
    tracker = CameraTracker(ByteTracker(frame_rate=10.0), min_score=0.25)
    _track_ids(tracker, [(f / 10, _seen(f)) for f in range(5)])
    tracker.forget_tracks()
    assert _track_ids(tracker, [(0.5, _seen(5))]) == [[2]]
    assert tracker.gaps == 0
