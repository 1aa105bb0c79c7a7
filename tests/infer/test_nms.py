"""Vectorised NMS against a plain greedy reference and torchvision."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.infer import nms as nms_module
from jetsentry.infer.nms import nms


def reference_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Textbook greedy NMS, one box at a time, IoU in float64."""
    boxes = boxes.astype(np.float64)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    kept: list[int] = []
    for i in order:
        x1, y1, x2, y2 = boxes[i]
        suppressed = False
        for k in kept:
            a1, b1, a2, b2 = boxes[k]
            inter = max(0.0, min(x2, a2) - max(x1, a1)) * max(0.0, min(y2, b2) - max(y1, b1))
            union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
            if union > 0 and inter / union > threshold:
                suppressed = True
                break
        if not suppressed:
            kept.append(i)
    return kept


def clustered_boxes(count: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes jittered around a few centres, as a detector's anchors around objects are."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(50, 590, (clusters, 2))
    sizes = rng.uniform(10, 200, (clusters, 2))
    which = rng.integers(0, clusters, count)
    xy = centres[which] + rng.normal(0, 6, (count, 2))
    wh = sizes[which] * rng.uniform(0.8, 1.25, (count, 2))
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1).astype(np.float32)
    scores = rng.permutation(count).astype(np.float32) / count + np.float32(0.01)  # distinct: no ties
    return boxes, scores


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("count,clusters,seed", [(1, 1, 0), (40, 5, 1), (300, 30, 2), (1200, 60, 3)])
def test_equals_greedy_reference(count, clusters, seed, threshold):
    boxes, scores = clustered_boxes(count, clusters, seed)
    kept = nms(boxes, scores, threshold)
    assert kept.tolist() == reference_nms(boxes, scores, threshold)


def test_pair_chunks_give_the_same_result(monkeypatch):
    boxes, scores = clustered_boxes(700, 25, 4)
    whole = nms(boxes, scores, 0.5)
    monkeypatch.setattr(nms_module, "MAX_PAIRS", 50)  # many small chunks of candidate pairs
    assert nms(boxes, scores, 0.5).tolist() == whole.tolist()


@pytest.mark.parametrize("threshold", [0.45, 0.7])
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_equals_torchvision(seed, threshold):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    boxes, scores = clustered_boxes(800, 40, seed)
    # Class offsets as in class-aware NMS: large coordinates stress float32 rounding.
    boxes = boxes + (np.random.default_rng(seed).integers(0, 80, 800).astype(np.float32) * 7680)[:, None]
    expected = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
    assert nms(boxes, scores, threshold).tolist() == expected.tolist()


def test_equals_torchvision_on_awkward_boxes():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    rng = np.random.default_rng(8)
    # Snapped coordinates give many equal x1 values; some boxes are wide, inverted or empty.
    xy = np.round(rng.uniform(0, 100, (400, 2)) / 5) * 5
    wh = rng.choice([-5.0, 0.0, 5.0, 10.0, 30.0, 200.0], (400, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.permutation(400).astype(np.float32)
    expected = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
    assert nms(boxes, scores, 0.5).tolist() == expected.tolist()
    assert nms(boxes, scores, 0.5).tolist() == reference_nms(boxes, scores, 0.5)


def test_identical_boxes_keep_only_the_best():
    boxes = np.tile(np.array([[10, 10, 50, 50]], np.float32), (6, 1))
    scores = np.array([0.1, 0.6, 0.3, 0.9, 0.2, 0.5], np.float32)
    assert nms(boxes, scores, 0.7).tolist() == [3]


def test_suppressed_box_does_not_suppress():
    # A overlaps B, B overlaps C, A does not overlap C: greedy keeps A and C.
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [0, 2]


def test_output_is_sorted_by_score_and_degenerate_boxes_survive():
    boxes = np.array([[0, 0, 0, 0], [0, 0, 10, 10], [0, 0, 0, 0], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.2, 0.5, 0.3, 0.9], np.float32)
    # Zero-area boxes have IoU NaN (0/0), which never suppresses (as in torchvision).
    assert nms(boxes, scores, 0.5).tolist() == [3, 1, 2, 0]


def test_empty():
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).shape == (0,)
