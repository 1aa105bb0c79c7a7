"""COCO mAP on hand-made cases whose answer is known, and the two COCO libraries agreeing."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.evaluate.detection_metrics import CocoDetectionEvaluator
from tests.evaluate.cases import detections, ground_truth

CLASSES = ("car", "person")
# Four cars and one person in frame 1; frame 2 is empty.
GT_ROWS = [(1, 1, 10, 10, 50, 40), (1, 2, 100, 10, 50, 40), (1, 3, 200, 10, 50, 40), (1, 4, 300, 10, 50, 40),
           (1, 5, 10, 200, 20, 60, 1, 1)]


def _scores(gt_rows, frames, library="faster-coco-eval"):
    evaluator = CocoDetectionEvaluator(CLASSES, library=library)
    evaluator.add_sequence("s", ground_truth(gt_rows), frames)
    return evaluator.scores()


def _perfect(gt_rows):
    gt = ground_truth(gt_rows)
    first = gt.frame == 1
    return [detections(gt.boxes[first], classes=gt.class_id[first]), detections([])]


@pytest.mark.parametrize("library", ["faster-coco-eval", "pycocotools"])
def test_perfect_detections_score_one(library):
    s = _scores(GT_ROWS, _perfect(GT_ROWS), library)
    assert s.map50 == pytest.approx(1.0) and s.map50_95 == pytest.approx(1.0)
    assert s.per_class["car"]["gt"] == 4 and s.per_class["person"]["gt"] == 1
    assert s.images == 2 and s.detections == 5 and s.ignored == 0


def test_missing_object_lowers_recall_by_its_share():
    frames = _perfect(GT_ROWS)
    frames[0] = frames[0].select(np.array([0, 1, 2, 4]))  # the fourth car is missed
    s = _scores(GT_ROWS, frames)
    # Recall 3/4 at precision 1: 76 of COCO's 101 recall points (0, 0.01, ..., 0.75) reach it.
    assert s.per_class["car"]["ap50"] == pytest.approx(76 / 101)
    assert s.per_class["person"]["ap50"] == pytest.approx(1.0)
    assert s.map50 == pytest.approx((76 / 101 + 1.0) / 2)


def test_false_positive_ranked_first_halves_precision():
    gt_rows = [(1, 1, 10, 10, 50, 40)]
    frames = [detections([(10, 10, 50, 40), (300, 300, 50, 40)], [0.8, 0.95])]
    s = _scores(gt_rows, frames)
    assert s.map50 == pytest.approx(0.5)
    assert s.per_class["person"]["ap50"] is None  # no person ground truth: left out of the mean


def test_loose_box_counts_only_at_the_iou_thresholds_it_reaches():
    gt_rows = [(1, 1, 0, 0, 100, 100)]
    frames = [detections([(10, 0, 100, 100)])]  # IoU 90/110 = 0.818: a hit at 0.50 .. 0.80, 7 of 10 thresholds
    s = _scores(gt_rows, frames)
    assert s.map50 == pytest.approx(1.0)
    assert s.map50_95 == pytest.approx(0.7)


def test_ignored_ground_truth_is_neither_missed_nor_a_false_positive():
    hidden_found = (1, 6, 400, 10, 50, 40, 0)  # consider=0, and detected
    hidden_missed = (1, 7, 500, 10, 50, 40, 0)  # consider=0, not detected
    gt_rows = GT_ROWS + [hidden_found, hidden_missed]
    frames = _perfect(GT_ROWS)
    extra = detections([(400, 10, 50, 40), (402, 12, 40, 30)], [0.99, 0.98])  # two boxes on the hidden car
    frames[0] = _concat(frames[0], extra)
    s = _scores(gt_rows, frames)
    assert s.map50_95 == pytest.approx(1.0)
    assert s.ground_truth == 5 and s.ignored == 2
    # The same objects counted as ground truth: one is missed, so the car AP drops.
    counted = [r[:6] for r in gt_rows]
    assert _scores(counted, frames).per_class["car"]["ap50"] < 0.9


def test_scores_of_one_sequence_use_only_its_images():
    evaluator = CocoDetectionEvaluator(CLASSES)
    gt = ground_truth(GT_ROWS)
    evaluator.add_sequence("good", gt, _perfect(GT_ROWS))
    evaluator.add_sequence("blind", gt, [detections([]), detections([])])
    assert evaluator.scores(["good"]).map50 == pytest.approx(1.0)
    assert evaluator.scores(["blind"]).map50 == pytest.approx(0.0)
    assert evaluator.scores().per_class["car"]["ap50"] == pytest.approx(51 / 101)  # recall 1/2
    with pytest.raises(ValueError, match="added twice"):
        evaluator.add_sequence("good", gt, _perfect(GT_ROWS))
    with pytest.raises(KeyError, match="nope"):
        evaluator.scores(["nope"])


def test_ground_truth_beyond_the_detected_frames_is_refused():
    with pytest.raises(ValueError, match="frame 3"):
        CocoDetectionEvaluator(CLASSES).add_sequence("s", ground_truth([(3, 1, 0, 0, 9, 9)]), [detections([])] * 2)


def test_no_considered_ground_truth_gives_no_score():
    s = _scores([(1, 1, 0, 0, 20, 20, 0)], [detections([(0, 0, 20, 20)])])
    assert s.map50 is None and s.map50_95 is None and s.ignored == 1


def test_libraries_agree_on_noisy_detections():
    rng = np.random.default_rng(7)
    gt_rows, frames = [], []
    for f in range(1, 31):
        n = int(rng.integers(3, 9))
        ltwh = np.c_[rng.uniform(0, 500, (n, 2)), rng.uniform(8, 120, (n, 2))]
        consider = (rng.random(n) > 0.15).astype(int)
        classes = rng.integers(0, 2, n)
        gt_rows += [(f, i + 1, *b, c, k) for i, (b, c, k) in enumerate(zip(ltwh, consider, classes))]
        keep = rng.random(n) > 0.2
        noisy = ltwh[keep] + rng.normal(0, 4, (keep.sum(), 4))
        false = np.c_[rng.uniform(0, 500, (2, 2)), rng.uniform(8, 120, (2, 2))]
        boxes = np.r_[noisy, false]
        flipped = np.where(rng.random(keep.sum()) < 0.1, 1 - classes[keep], classes[keep])
        frames.append(detections(boxes, rng.uniform(0.01, 1, len(boxes)), np.r_[flipped, rng.integers(0, 2, 2)]))
    fast, reference = _scores(gt_rows, frames), _scores(gt_rows, frames, "pycocotools")
    assert 0.1 < fast.map50_95 < fast.map50 < 0.95
    assert fast.map50 == pytest.approx(reference.map50, abs=1e-9)
    assert fast.map50_95 == pytest.approx(reference.map50_95, abs=1e-9)
    for name in CLASSES:
        assert fast.per_class[name] == pytest.approx(reference.per_class[name], abs=1e-9)


def _concat(a, b):
    from jetsentry.detections import Detections

    return Detections(boxes=np.r_[a.boxes, b.boxes], scores=np.r_[a.scores, b.scores],
                      class_ids=np.r_[a.class_ids, b.class_ids])
