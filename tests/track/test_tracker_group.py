"""Many cameras tracked in one pass (TrackerGroup, ByteTracker.update_many) against each camera
tracked alone: the same track ids, rows and boxes, frame by frame.

The streams are the synthetic ones the reference parity tests use (crossings, occlusions,
low scores, false tracks), one per camera with its own seed, so assignments with crossing
objects (lap's solver) and duplicate merges happen in several cameras in the same pass.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.detections import Detections
from jetsentry.track import ByteTracker
from jetsentry.track.matching import iou_matrix, iou_pairs, linear_assignment, same_group_pairs
from jetsentry.track.tracker_group import TrackerGroup
from tests.track.synthetic import make_stream

PARAMETERS = {"high_threshold": 0.5, "low_threshold": 0.1, "new_track_threshold": 0.6, "match_threshold": 0.8,
              "track_buffer": 30}


def assert_same(ours: Detections, alone: Detections, where: str) -> None:
    assert ours.track_ids.tolist() == alone.track_ids.tolist(), where
    np.testing.assert_array_equal(ours.boxes, alone.boxes, err_msg=where)
    np.testing.assert_array_equal(ours.scores, alone.scores, err_msg=where)
    np.testing.assert_array_equal(ours.class_ids, alone.class_ids, err_msg=where)


def streams(cameras: int, frames: int) -> list[list[Detections]]:
    return [make_stream(100 + c, num_frames=frames, num_objects=12 + 3 * c, false_positives_per_frame=1.5).detections
            for c in range(cameras)]


def test_cameras_in_one_pass_track_as_each_alone_including_absent_frames_forgets_and_rates():
    cameras, frames = 6, 160
    data = streams(cameras, frames)
    group = TrackerGroup(**PARAMETERS)
    together = [ByteTracker(group=group, frame_rate=30.0) for _ in range(cameras)]
    alone = [ByteTracker(**PARAMETERS, frame_rate=30.0) for _ in range(cameras)]
    rng = np.random.default_rng(7)
    compared = tracked = 0
    for f in range(frames):
        # Each camera misses some batches (its frame comes later, or was dropped), in a random order.
        present = [c for c in rng.permutation(cameras).tolist() if rng.random() > 0.2]
        if f == 60:  # one camera forgets its tracks, another one resets its ids; one slows down
            together[1].forget_tracks(), alone[1].forget_tracks()
            together[2].reset(), alone[2].reset()
            together[3].frame_rate = alone[3].frame_rate = 7.5
        out = ByteTracker.update_many([together[c] for c in present], [data[c][f] for c in present])
        for c, ours in zip(present, out):
            assert_same(ours, alone[c].update(data[c][f]), f"camera {c}, frame {f}")
            compared += 1
            tracked += len(ours)
        for c in range(cameras):
            assert together[c].frame_count == alone[c].frame_count
    assert compared > 0.7 * cameras * frames and tracked > 1000  # the comparison covered real tracking


def test_a_camera_alone_in_a_pass_leaves_the_others_untouched():
    data = streams(2, 40)
    group = TrackerGroup(**PARAMETERS)
    a, b = ByteTracker(group=group), ByteTracker(group=group)
    b_alone = ByteTracker(**PARAMETERS)
    for f in range(20):
        ByteTracker.update_many([a, b], [data[0][f], data[1][f]])
        b_alone.update(data[1][f])
    for f in range(20, 30):  # camera b is not fed: its tracks neither coast nor expire
        a.update(data[0][f])
    for f in range(20, 40):
        assert_same(b.update(data[1][f]), b_alone.update(data[1][f]), f"frame {f}")


def test_one_cameras_detection_never_matches_another_cameras_track():
    box = Detections(np.array([[100, 100, 200, 300]], np.float32), np.array([0.9], np.float32),
                     np.zeros(1, np.int32))
    empty = Detections.empty()
    group = TrackerGroup(**PARAMETERS)
    a, b = ByteTracker(group=group), ByteTracker(group=group)
    for _ in range(3):  # camera a tracks the box (id 1); camera b sees nothing
        out_a, out_b = ByteTracker.update_many([a, b], [box, empty])
        assert out_a.track_ids.tolist() == [1] and len(out_b) == 0
    # The box moves to camera b, on the very spot of a's track: a's track is lost, b's box is a
    # birth of b's own (unconfirmed after b's first frame, so not output yet), then b's id 1.
    out_a, out_b = ByteTracker.update_many([a, b], [empty, box])
    assert len(out_a) == 0 and len(out_b) == 0
    out_a, out_b = ByteTracker.update_many([a, b], [empty, box])
    assert len(out_a) == 0 and out_b.track_ids.tolist() == [1]
    # Back in camera a (its lost track refound, id 1) while b keeps its own.
    out_a, out_b = ByteTracker.update_many([a, b], [box, box])
    assert out_a.track_ids.tolist() == out_b.track_ids.tolist() == [1]


def test_update_many_refuses_what_it_cannot_do():
    group = TrackerGroup(**PARAMETERS)
    a = ByteTracker(group=group)
    other = ByteTracker(**PARAMETERS)
    empty = Detections.empty()
    with pytest.raises(ValueError, match="one TrackerGroup"):
        ByteTracker.update_many([a, other], [empty, empty])
    with pytest.raises(ValueError, match="only once"):
        ByteTracker.update_many([a, a], [empty, empty])
    with pytest.raises(ValueError, match="group's parameters"):
        ByteTracker(group=group, high_threshold=0.3)
    assert ByteTracker.update_many([], []) == []


def test_iou_pairs_and_group_pairs_equal_the_dense_matrix():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 500, (30, 2)).astype(np.float32)
    boxes = np.hstack([xy, xy + rng.uniform(1, 80, (30, 2)).astype(np.float32)])
    groups_a, groups_b = np.sort(rng.integers(0, 4, 12)), np.sort(rng.integers(0, 4, 18))
    rows, cols = same_group_pairs(groups_a, groups_b)
    expected = [(i, j) for i in range(12) for j in range(18) if groups_a[i] == groups_b[j]]
    assert list(zip(rows.tolist(), cols.tolist())) == expected
    dense = iou_matrix(boxes[:12], boxes[12:])
    np.testing.assert_array_equal(iou_pairs(boxes[:12][rows], boxes[12:][cols]), dense[rows, cols])


def test_the_dense_assignment_is_the_pairs_assignment_of_one_group():
    rng = np.random.default_rng(5)
    for _ in range(50):
        cost = rng.uniform(0, 1.2, (rng.integers(0, 6), rng.integers(0, 6)))
        matches, left_rows, left_cols = linear_assignment(cost, 0.8)
        assert set(left_rows.tolist()).isdisjoint(matches[:, 0].tolist())
        assert sorted(left_rows.tolist() + matches[:, 0].tolist()) == list(range(cost.shape[0]))
        assert sorted(left_cols.tolist() + matches[:, 1].tolist()) == list(range(cost.shape[1]))
        assert (cost[matches[:, 0], matches[:, 1]] < 0.8).all()


def test_crowded_cameras_in_one_pass_track_as_each_alone():
    # Many objects and false positives per camera: most of each pass goes to lap's solver.
    cameras, frames = 8, 30
    data = [make_stream(300 + c, num_frames=frames, num_objects=80, false_positives_per_frame=8).detections
            for c in range(cameras)]
    group = TrackerGroup(**PARAMETERS)
    together = [ByteTracker(group=group) for _ in range(cameras)]
    alone = [ByteTracker(**PARAMETERS) for _ in range(cameras)]
    for f in range(frames):
        out = ByteTracker.update_many(together, [data[c][f] for c in range(cameras)])
        for c in range(cameras):
            assert_same(out[c], alone[c].update(data[c][f]), f"camera {c}, frame {f}")
    assert sum(len(o) for o in out) > 80  # tracks in every camera at the end
    assert np.mean([len(d) for stream in data for d in stream]) > 25  # crowded frames went in
