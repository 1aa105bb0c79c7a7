from __future__ import annotations

import numpy as np
import pytest

from jetsentry.detections import Detections
from tests.infer.matching import match_detections


def _dets(boxes, scores, classes) -> Detections:
    return Detections(
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        scores=np.asarray(scores, np.float32),
        class_ids=np.asarray(classes, np.int32),
    )


def test_identical_outputs_match_fully():
    frame = _dets([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.5], [0, 1])
    stats = match_detections([frame, Detections.empty()], [frame, Detections.empty()])
    assert (stats.frames, stats.ours, stats.theirs, stats.matched) == (2, 2, 2, 2)
    assert stats.matched_fraction == 1.0 and stats.max_score_diff == 0.0


def test_shifted_box_wrong_class_and_extra_box_do_not_match():
    ours = _dets([[0, 0, 100, 100], [200, 200, 300, 300], [400, 400, 500, 500]], [0.9, 0.8, 0.7], [0, 1, 2])
    theirs = _dets([[3, 0, 103, 100], [200, 200, 300, 300]], [0.88, 0.8], [0, 2])  # IoU 0.94; class 2 != 1
    stats = match_detections([ours], [theirs], iou_min=0.95)
    assert stats.matched == 0 and stats.matched_fraction == 0.0
    assert stats.unmatched_ours == [(0, 0), (0, 1), (0, 2)] and stats.unmatched_theirs == [(0, 0), (0, 1)]
    loose = match_detections([ours], [theirs], iou_min=0.9)
    assert loose.matched == 1 and loose.matched_fraction == pytest.approx(1 / 3)
    assert loose.max_score_diff == pytest.approx(0.02, abs=1e-6)


def test_assignment_is_one_to_one():
    ours = _dets([[0, 0, 100, 100], [1, 0, 101, 100]], [0.9, 0.8], [0, 0])
    theirs = _dets([[1, 0, 101, 100]], [0.8], [0])
    stats = match_detections([ours], [theirs])
    assert stats.matched == 1 and stats.unmatched_ours == [(0, 0)]


def test_frame_counts_must_agree():
    with pytest.raises(ValueError, match="frame counts differ"):
        match_detections([Detections.empty()], [])
