"""ByteTracker behaviour on hand-made detection streams."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.config.models import TrackerConfig
from jetsentry.detections import Detections
from jetsentry.pipeline import tracker_parameters
from jetsentry.track import ByteTracker
from jetsentry.track.tracker_group import TrackerGroup
from jetsentry.track.matching import iou_matrix
from tests.track.synthetic import make_stream


def dets(boxes, scores, class_ids=None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if class_ids is None:
        class_ids = np.zeros(len(scores), np.int32)
    return Detections(boxes=boxes, scores=scores, class_ids=np.asarray(class_ids, np.int32))


def moving_box(frame: int, x0: float = 100.0, y0: float = 200.0, vx: float = 4.0, vy: float = 1.0):
    x, y = x0 + vx * frame, y0 + vy * frame
    return [x, y, x + 60, y + 120]


def run(tracker: ByteTracker, frames: list[Detections]) -> list[Detections]:
    return [tracker.update(d) for d in frames]


def test_single_object_moving_linearly_keeps_one_id():
    frames = [dets(moving_box(f), 0.9) for f in range(100)]
    out = run(ByteTracker(), frames)
    assert all(len(o) == 1 for o in out)
    assert {int(o.track_ids[0]) for o in out} == {1}
    # Output carries the detection itself, not the Kalman estimate.
    np.testing.assert_array_equal(out[57].boxes, frames[57].boxes)
    assert out[57].scores[0] == np.float32(0.9)


def test_two_crossing_objects_keep_their_ids():
    rng = np.random.default_rng(3)
    frames, which = [], []
    for f in range(100):
        a = np.array(moving_box(f, x0=100, y0=300, vx=6, vy=0)) + rng.normal(0, 1, 4)
        b = np.array(moving_box(f, x0=700, y0=310, vx=-6, vy=0)) + rng.normal(0, 1, 4)
        order = [0, 1] if f % 2 else [1, 0]  # input order must not carry identity
        frames.append(dets(np.array([a, b])[order], [0.9, 0.85]))
        which.append(order)
    out = run(ByteTracker(), frames)
    ids_a, ids_b = set(), set()
    best_iou = 0.0
    for f, (o, order) in enumerate(zip(out, which)):
        assert len(o) == 2
        ids_a.add(int(o.track_ids[order.index(0)]))
        ids_b.add(int(o.track_ids[order.index(1)]))
        a_box, b_box = frames[f].boxes[order.index(0)], frames[f].boxes[order.index(1)]
        best_iou = max(best_iou, float(iou_matrix(a_box[None], b_box[None])[0, 0]))
    assert best_iou > 0.8  # the boxes really do pass over each other
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def _gap_stream(gap: int) -> list[Detections]:
    """Seen for 20 frames, missing for `gap` frames, then seen for 5 more."""
    return [dets(moving_box(f, vx=3), 0.9) if not 20 <= f < 20 + gap else Detections.empty() for f in range(25 + gap)]


@pytest.mark.parametrize("frame_rate, track_buffer, kept", [(30.0, 10, 10), (15.0, 10, 5), (30.0, 3, 3)])
def test_lost_track_buffer_decides_whether_the_id_survives(frame_rate, track_buffer, kept):
    tracker = ByteTracker(track_buffer=track_buffer, frame_rate=frame_rate)
    assert tracker.max_frames_lost == kept

    out = run(tracker, _gap_stream(kept))
    back = 20 + kept
    assert [int(o.track_ids[0]) for o in out[back:]] == [1] * 5  # found again at once

    tracker.reset()
    out = run(tracker, _gap_stream(kept + 1))
    back = 20 + kept + 1
    assert len(out[back]) == 0  # a new track, unconfirmed on its first frame
    assert [int(o.track_ids[0]) for o in out[back + 1 :]] == [2] * 4


def test_low_score_detections_extend_tracks():
    scores = [0.9] * 10 + [0.15] * 20
    out = run(ByteTracker(), [dets(moving_box(f), s) for f, s in enumerate(scores)])
    assert [int(o.track_ids[0]) for o in out] == [1] * 30
    assert out[-1].scores[0] == np.float32(0.15)


def test_low_score_detections_never_start_tracks():
    frames = [dets(moving_box(f), 0.2) for f in range(30)]  # between low (0.1) and high (0.25)
    assert all(len(o) == 0 for o in run(ByteTracker(), frames))


def test_detections_below_low_threshold_do_not_extend_tracks():
    scores = [0.9] * 10 + [0.05] * 5
    out = run(ByteTracker(), [dets(moving_box(f), s) for f, s in enumerate(scores)])
    assert all(len(o) == 1 for o in out[:10])
    assert all(len(o) == 0 for o in out[10:])


def test_new_track_threshold_gates_births_but_not_matches():
    config = dict(high_threshold=0.3, new_track_threshold=0.6)
    never = [dets(moving_box(f), 0.5) for f in range(20)]
    assert all(len(o) == 0 for o in run(ByteTracker(**config), never))
    started = [dets(moving_box(f), 0.9 if f < 3 else 0.5) for f in range(20)]
    assert [int(o.track_ids[0]) for o in run(ByteTracker(**config), started)] == [1] * 20


def test_empty_frames():
    tracker = ByteTracker()
    out = tracker.update(Detections.empty())
    assert len(out) == 0 and out.boxes.shape == (0, 4) and out.track_ids.dtype == np.int64
    frames = [dets(moving_box(f), 0.9) for f in range(5)] + [Detections.empty()] * 3
    frames += [dets(moving_box(f), 0.9) for f in range(8, 12)]
    out = run(tracker, frames)
    # Only tracks born on the tracker's very first frame (here: the empty one) start
    # confirmed, as in the reference; this one is confirmed on its second frame.
    assert [len(o) for o in out] == [0] + [1] * 4 + [0] * 3 + [1] * 4
    assert {int(o.track_ids[0]) for o in out if len(o)} == {1}


def test_new_track_is_unconfirmed_for_one_frame_after_the_first():
    tracker = ByteTracker()
    tracker.update(dets(moving_box(0), 0.9))  # born on frame 1: confirmed at once
    second = [moving_box(1), moving_box(1, x0=600)]
    assert tracker.update(dets(second, [0.9, 0.9])).track_ids.tolist() == [1]
    third = [moving_box(2), moving_box(2, x0=600)]
    assert tracker.update(dets(third, [0.9, 0.9])).track_ids.tolist() == [1, 2]


def test_class_flicker_keeps_the_track_and_reports_each_detection_class():
    frames = [dets(moving_box(f), 0.9, [f % 2]) for f in range(20)]
    out = run(ByteTracker(), frames)
    assert {int(o.track_ids[0]) for o in out} == {1}
    assert [int(o.class_ids[0]) for o in out] == [f % 2 for f in range(20)]


def test_zero_size_boxes_are_ignored():
    frames = [dets([moving_box(f), [50, 50, 50, 90]], [0.9, 0.9]) for f in range(5)]
    out = run(ByteTracker(), frames)
    assert all(len(o) == 1 and o.boxes[0, 0] != 50 for o in out)


def test_output_is_the_input_rows_in_input_order():
    stream = make_stream(seed=11, num_frames=120)
    tracker = ByteTracker(frame_rate=stream.frame_rate)
    for d in stream.detections:
        out = tracker.update(d)
        rows = [int(np.flatnonzero(np.all(d.boxes == box, axis=1))[0]) for box in out.boxes]
        assert rows == sorted(rows)
        np.testing.assert_array_equal(out.scores, d.scores[rows])
        np.testing.assert_array_equal(out.class_ids, d.class_ids[rows])


def test_ids_start_at_one_are_unique_per_frame_and_never_reused():
    stream = make_stream(seed=5, num_frames=300)
    out = run(ByteTracker(), stream.detections)
    first_seen, last_seen = {}, {}
    for f, o in enumerate(out):
        ids = o.track_ids.tolist()
        assert len(ids) == len(set(ids))
        for i in ids:
            first_seen.setdefault(i, f)
            last_seen[i] = f
    order = sorted(first_seen, key=lambda i: (first_seen[i], i))
    assert order[0] == 1 and order == sorted(order)  # new ids are always larger
    assert sorted(first_seen) == list(range(1, len(first_seen) + 1))  # no unconfirmed track used an id
    assert len(first_seen) > 20


def test_deterministic_and_reset_restarts():
    stream = make_stream(seed=2, num_frames=150)
    tracker = ByteTracker()
    first = run(tracker, stream.detections)
    tracker.reset()
    assert tracker.frame_count == 0
    again = run(tracker, stream.detections)
    other = run(ByteTracker(), stream.detections)
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.track_ids, c.track_ids)
        np.testing.assert_array_equal(a.boxes, c.boxes)


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            Detections(np.zeros((2, 3), np.float32), np.ones(2, np.float32), np.zeros(2, np.int32)),
            r"boxes must have shape \(2, 4\)",
        ),
        (
            Detections(np.zeros((2, 4), np.float32), np.ones(2, np.float32), np.zeros(3, np.int32)),
            r"class_ids must have shape \(2,\)",
        ),
        (dets([[0, 0, np.nan, 10]], 0.9), "finite"),
        (dets([[0, 0, 10, 10]], np.inf), "finite"),
    ],
)
def test_bad_detections_are_rejected_with_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        ByteTracker().update(bad)


def test_bad_arguments_are_rejected():
    with pytest.raises(TypeError, match="Detections"):
        ByteTracker().update(np.zeros((1, 6)))
    with pytest.raises(TypeError):
        ByteTracker(TrackerConfig())  # numbers, not a configuration model: pipeline.tracker_parameters
    for rate in (0, -5, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="frame_rate"):
            ByteTracker(frame_rate=rate)
    for name in ("high_threshold", "low_threshold", "new_track_threshold", "match_threshold"):
        for value in (-0.1, 1.5, float("nan"), "0.5"):
            with pytest.raises(ValueError, match=name):
                ByteTracker(**{name: value})
    with pytest.raises(ValueError, match="low_threshold 0.3 must not exceed high_threshold 0.2"):
        ByteTracker(high_threshold=0.2, low_threshold=0.3)
    for buffer in (0, 2.5, True):
        with pytest.raises(ValueError, match="track_buffer"):
            ByteTracker(track_buffer=buffer)
    tracker = ByteTracker()
    with pytest.raises(ValueError, match="frame_rate"):
        tracker.frame_rate = 0
    assert tracker.frame_rate == 30.0  # unchanged by the refused rate


def test_defaults_are_the_configurations_and_parameters_come_from_it():
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(TrackerGroup).parameters.items()}
    assert tracker_parameters(TrackerConfig()) == defaults
    config = TrackerConfig(high_threshold=0.5, low_threshold=0.2, new_track_threshold=0.6, match_threshold=0.7,
                           track_buffer=12)
    tracker = ByteTracker(**tracker_parameters(config), frame_rate=15.0)
    assert (tracker.high_threshold, tracker.low_threshold, tracker.new_track_threshold, tracker.match_threshold,
            tracker.track_buffer, tracker.max_frames_lost) == (0.5, 0.2, 0.6, 0.7, 12, 6)


def test_a_new_frame_rate_rescales_the_lost_track_buffer():
    tracker = ByteTracker(track_buffer=30, frame_rate=30.0)
    assert tracker.max_frames_lost == 30 and tracker.buffer_seconds == 1.0
    tracker.frame_rate = 7.5
    assert tracker.max_frames_lost == 7 and tracker.buffer_seconds == 1.0


def test_forget_tracks_drops_them_but_ids_keep_counting():
    tracker = ByteTracker()
    run(tracker, [dets(moving_box(f), 0.9) for f in range(5)])
    tracker.forget_tracks()
    assert tracker.frame_count == 0
    out = run(tracker, [dets(moving_box(f), 0.9) for f in range(5, 8)])
    assert [o.track_ids.tolist() for o in out] == [[2]] * 3  # a first frame again: confirmed at once, id 2
    tracker.reset()
    assert tracker.update(dets(moving_box(9), 0.9)).track_ids.tolist() == [1]
