"""MOTA, IDF1 and HOTA (TrackEval) on hand-made tracks whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.evaluate.tracking_metrics import TrackingEvaluator, sequence_data
from tests.evaluate.cases import detections, frames_from_gt, ground_truth

FRAMES = 10
# Two objects walking right, 10 frames: 20 ground-truth boxes.
TWO_WALKERS = ground_truth([(f, i, 20 * f + 200 * i, 50 * i, 40, 80) for f in range(1, FRAMES + 1) for i in (1, 2)])


def _score(gt, tracked):
    return TrackingEvaluator().add_sequence("s", gt, tracked)


def test_perfect_tracks_score_one():
    s = _score(TWO_WALKERS, frames_from_gt(TWO_WALKERS, FRAMES))
    assert (s.mota, s.idf1, s.hota) == pytest.approx((1.0, 1.0, 1.0))
    assert s.details["tp"] == 20 and s.details["id_switches"] == 0


def test_missed_boxes_lower_mota_and_idf1_by_their_share():
    tracked = frames_from_gt(TWO_WALKERS, FRAMES, drop=lambda f, i: i == 2 and f > 5)  # 5 of 20 boxes missed
    s = _score(TWO_WALKERS, tracked)
    assert s.mota == pytest.approx(1 - 5 / 20)
    assert s.idf1 == pytest.approx(2 * 15 / (2 * 15 + 5))  # IDTP 15, IDFN 5, IDFP 0
    assert s.details["fn"] == 5 and s.details["fp"] == 0


def test_id_switch_lowers_idf1():
    tracked = frames_from_gt(TWO_WALKERS, FRAMES, relabel=lambda f, i: 3 if i == 1 and f > 5 else i)
    s = _score(TWO_WALKERS, tracked)
    assert s.details["id_switches"] == 1
    assert s.mota == pytest.approx(1 - 1 / 20)
    assert s.idf1 == pytest.approx(2 * 15 / (2 * 15 + 5 + 5))  # track 3's five boxes are IDFP, object 1's IDFN
    assert s.hota < 0.9


def test_ignored_ground_truth_is_neither_missed_nor_a_false_positive():
    hidden = [(f, 9, 500, 300, 40, 40, 0) for f in range(1, FRAMES + 1)]  # consider=0 all along
    gt = ground_truth([(int(f), int(i), *b) for f, i, b in zip(TWO_WALKERS.frame, TWO_WALKERS.track_id,
                                                                TWO_WALKERS.boxes)] + hidden)
    tracked_on_hidden = frames_from_gt(gt, FRAMES)  # the tracker follows the hidden object too
    missed_hidden = frames_from_gt(gt, FRAMES, drop=lambda f, i: i == 9)
    for tracked in (tracked_on_hidden, missed_hidden):
        s = _score(gt, tracked)
        assert (s.mota, s.idf1, s.hota) == pytest.approx((1.0, 1.0, 1.0))
        assert s.details["fp"] == 0 and s.details["fn"] == 0
    # A box elsewhere stays a false positive.
    stray = frames_from_gt(TWO_WALKERS, FRAMES)
    stray[0] = detections(np.r_[_ltwh(stray[0]), [[600, 0, 30, 30]]], track_ids=[1, 2, 7])
    assert _score(gt, stray).details["fp"] == 1


def test_box_on_a_counted_object_beside_an_ignored_one_is_kept():
    # A hidden object overlaps object 1 (IoU 0.9); the tracker's box on object 1 must count as
    # object 1's (MOTChallenge matches against all ground truth first), not be removed.
    gt = ground_truth([(1, 1, 0, 0, 100, 100), (1, 2, 5, 0, 100, 100, 0)])
    data = sequence_data(gt, [detections([(0, 0, 100, 100)], track_ids=[4])])
    assert data["num_gt_dets"] == 1 and data["num_tracker_dets"] == 1
    assert _score(gt, [detections([(0, 0, 100, 100)], track_ids=[4])]).mota == pytest.approx(1.0)
    # On the hidden object instead, the box is removed with it.
    data = sequence_data(gt, [detections([(5, 0, 100, 100)], track_ids=[4])])
    assert data["num_tracker_dets"] == 0


def test_class_is_ignored_when_tracking():
    tracked = frames_from_gt(TWO_WALKERS, FRAMES)
    for dets in tracked:
        dets.class_ids[:] = 3
    assert _score(TWO_WALKERS, tracked).mota == pytest.approx(1.0)


def test_sequences_combine_by_counts():
    evaluator = TrackingEvaluator()
    evaluator.add_sequence("a", TWO_WALKERS, frames_from_gt(TWO_WALKERS, FRAMES))
    evaluator.add_sequence("b", TWO_WALKERS, frames_from_gt(TWO_WALKERS, FRAMES, drop=lambda f, i: i == 2))
    assert evaluator.scores(["a"]).mota == pytest.approx(1.0)
    assert evaluator.scores(["b"]).mota == pytest.approx(0.5)
    assert evaluator.scores().mota == pytest.approx(1 - 10 / 40)


def test_bad_tracker_output_is_refused():
    with pytest.raises(ValueError, match="frame 10"):
        sequence_data(TWO_WALKERS, frames_from_gt(TWO_WALKERS, FRAMES)[:8])
    untracked = frames_from_gt(TWO_WALKERS, FRAMES)
    untracked[2].track_ids[:] = -1
    with pytest.raises(ValueError, match="frame 3.*without a track id"):
        sequence_data(TWO_WALKERS, untracked)


def _ltwh(dets):
    return np.c_[dets.boxes[:, :2], dets.boxes[:, 2:] - dets.boxes[:, :2]]


@pytest.mark.slow
def test_trackeval_agrees_with_motmetrics_on_real_tracks(heldout_run):
    """With nothing ignored, TrackEval's MOTA/IDF1 equal motmetrics' on the pipeline's own tracks."""
    from jetsentry.detections import Detections
    from jetsentry.synth.groundtruth import GroundTruth
    from tests.track.reference import mot_metrics

    gt = heldout_run.scene.gt
    everything = GroundTruth(gt.frame, gt.track_id, gt.boxes, np.ones_like(gt.consider), gt.class_id,
                             gt.visibility)
    ours = _score(everything, heldout_run.tracked)
    gt_frames = []
    for f in range(1, heldout_run.frames + 1):
        rows = gt.frame == f
        ltwh = gt.boxes[rows]
        gt_frames.append(Detections(boxes=np.c_[ltwh[:, :2], ltwh[:, :2] + ltwh[:, 2:]].astype(np.float32),
                                    scores=np.ones(rows.sum(), np.float32), class_ids=gt.class_id[rows].astype(np.int32),
                                    track_ids=gt.track_id[rows]))
    theirs = mot_metrics(gt_frames, heldout_run.tracked)
    assert ours.mota == pytest.approx(theirs["mota"], abs=1e-9)
    assert ours.idf1 == pytest.approx(theirs["idf1"], abs=1e-9)
    assert ours.details["id_switches"] == theirs["num_switches"]
