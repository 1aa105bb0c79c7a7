"""Match two detectors' outputs frame by frame, for comparisons with Ultralytics.

Per frame, boxes are paired one-to-one (Hungarian assignment on IoU) among pairs of
the same class with IoU >= ``iou_min``.  ``matched_fraction`` divides the pairs by the
larger of the two box counts, so both missing and extra boxes lower it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from jetsentry.detections import Detections


@dataclass(frozen=True)
class MatchStats:
    frames: int
    ours: int
    theirs: int
    matched: int
    max_score_diff: float  # over matched pairs; 0 when none matched
    score_diffs: np.ndarray = field(repr=False)  # |ours - theirs| per matched pair
    unmatched_ours: list[tuple[int, int]] = field(default_factory=list)  # (frame, box index)
    unmatched_theirs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def matched_fraction(self) -> float:
        larger = max(self.ours, self.theirs)
        return 1.0 if larger == 0 else self.matched / larger

    def summary(self) -> str:
        return (
            f"{self.frames} frames: ours {self.ours} boxes, theirs {self.theirs}, matched {self.matched} "
            f"({self.matched_fraction:.1%}), max score diff {self.max_score_diff:.4f}, "
            f"unmatched ours {self.unmatched_ours[:10]}, unmatched theirs {self.unmatched_theirs[:10]}"
        )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes (M, 4) x (N, 4), in float64."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_detections(ours: Sequence[Detections], theirs: Sequence[Detections], iou_min: float = 0.95) -> MatchStats:
    if len(ours) != len(theirs):
        raise ValueError(f"frame counts differ: ours {len(ours)}, theirs {len(theirs)}")
    matched = 0
    diffs: list[np.ndarray] = []
    unmatched_ours: list[tuple[int, int]] = []
    unmatched_theirs: list[tuple[int, int]] = []
    for frame, (mine, other) in enumerate(zip(ours, theirs)):
        iou = box_iou(mine.boxes, other.boxes)
        valid = (iou >= iou_min) & (mine.class_ids[:, None] == other.class_ids[None, :])
        rows, cols = linear_sum_assignment(np.where(valid, -iou, 1.0)) if valid.any() else ([], [])
        pairs = [(r, c) for r, c in zip(rows, cols) if valid[r, c]]
        matched += len(pairs)
        if pairs:
            r_idx, c_idx = np.array(pairs).T
            diffs.append(np.abs(mine.scores[r_idx].astype(np.float64) - other.scores[c_idx]))
        paired_ours = {r for r, _ in pairs}
        paired_theirs = {c for _, c in pairs}
        unmatched_ours += [(frame, i) for i in range(len(mine)) if i not in paired_ours]
        unmatched_theirs += [(frame, j) for j in range(len(other)) if j not in paired_theirs]
    score_diffs = np.concatenate(diffs) if diffs else np.zeros(0)
    return MatchStats(
        frames=len(ours),
        ours=sum(len(d) for d in ours),
        theirs=sum(len(d) for d in theirs),
        matched=matched,
        max_score_diff=float(score_diffs.max()) if score_diffs.size else 0.0,
        score_diffs=score_diffs,
        unmatched_ours=unmatched_ours,
        unmatched_theirs=unmatched_theirs,
    )


def detections_from_ultralytics(results: Sequence[Any]) -> list[Detections]:
    """Ultralytics ``Results`` (one per frame) as Detections."""
    return [
        Detections(
            boxes=result.boxes.xyxy.cpu().numpy().astype(np.float32),
            scores=result.boxes.conf.cpu().numpy().astype(np.float32),
            class_ids=result.boxes.cls.cpu().numpy().astype(np.int32),
        )
        for result in results
    ]
