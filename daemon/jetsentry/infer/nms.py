"""Greedy non-maximum suppression, vectorised, equal to ``torchvision.ops.nms``.

IoU is computed in float32 with torchvision's operation order and compared with the
threshold in float64, as its kernel does, so the same boxes survive.

No N x N matrix and no per-box Python loop:
1. Sweep in x: only boxes whose x-intervals overlap can overlap, so pairs come from
   sorting by x1 and a ``searchsorted`` for each x2.  With class-aware offsets, boxes
   of different classes never pair.  Pairs are generated in chunks to bound memory.
2. Keep the pairs with IoU above the threshold, as (higher-scored, lower-scored).
   Boxes may carry a group (the image of a batch): groups are laid side by side in x for
   the sweep alone, so boxes of different groups never pair, and one call serves a batch.
3. Greedy result as a fixed point: "a box survives if no surviving higher-scored box
   overlaps it", iterated from "all survive".  A box's state depends only on boxes
   ranked above it, so the iteration settles on exactly the greedy result, after as
   many rounds as the longest suppression chain (two or three on detector output).
"""

from __future__ import annotations

import numpy as np

MAX_PAIRS = 1 << 20  # candidate pairs per chunk: ~30 MB of temporaries


def box_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a[k]`` and ``b[k]`` (K, 4) xyxy float32, with torchvision's float32 arithmetic."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter_w = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), np.float32(0))
    inter_h = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), np.float32(0))
    inter = inter_w * inter_h
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate boxes: NaN, never suppressing
        return inter / (area_a + area_b - inter)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, groups: np.ndarray | None = None) -> np.ndarray:
    """Indices of the boxes kept, highest score first.  ``boxes`` (N, 4) xyxy float32.

    groups: (N,) small non-negative integers; boxes suppress only boxes of their own group,
    so the result is, group by group, what one call per group keeps (ties in score go to
    the lower index, as there)."""
    count = scores.shape[0]
    if count == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    ranked = np.ascontiguousarray(boxes[order], dtype=np.float32)  # index = rank by score
    earlier, later = _overlapping_pairs(ranked, np.float64(iou_threshold),
                                        None if groups is None else np.asarray(groups)[order])
    keep = np.ones(count, bool)
    while True:
        suppressed = np.zeros(count, bool)
        suppressed[later[keep[earlier]]] = True
        if np.array_equal(suppressed, ~keep):  # fixed point: the greedy result
            return order[keep]
        keep = ~suppressed


def _overlapping_pairs(ranked: np.ndarray, threshold: np.float64, groups: np.ndarray | None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) rank pairs of one group whose IoU exceeds ``threshold``."""
    count = ranked.shape[0]
    x1, x2 = ranked[:, 0], ranked[:, 2]
    if groups is not None:
        # Each group shifted right past the previous one's extent, in float64: only the sweep
        # sees the shift; the IoU below reads the boxes as given.
        span = np.float64(np.nanmax(x2)) - np.float64(np.nanmin(x1)) + 1.0
        shift = groups.astype(np.float64) * (span if np.isfinite(span) else 0.0)
        x1, x2 = x1 + shift, x2 + shift
    by_x1 = np.argsort(x1, kind="stable")
    x1_sorted = x1[by_x1]
    # Partners of sorted position p: positions after p whose x1 lies before p's x2.
    ends = np.searchsorted(x1_sorted, x2[by_x1], side="left")
    partners = np.maximum(ends - np.arange(1, count + 1), 0)
    cumulative = np.cumsum(partners)
    earlier_parts, later_parts = [], []
    start = 0
    while start < count:
        already = cumulative[start - 1] if start else 0
        stop = max(int(np.searchsorted(cumulative, already + MAX_PAIRS, side="right")), start + 1)
        counts = partners[start:stop]
        total = int(counts.sum())
        if total:
            first = np.repeat(np.arange(start, stop), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            rank_a, rank_b = by_x1[first], by_x1[first + 1 + offsets]
            hit = box_iou_pairs(ranked[rank_a], ranked[rank_b]) > threshold
            rank_a, rank_b = rank_a[hit], rank_b[hit]
            earlier_parts.append(np.minimum(rank_a, rank_b))
            later_parts.append(np.maximum(rank_a, rank_b))
        start = stop
    if not earlier_parts:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.concatenate(earlier_parts), np.concatenate(later_parts)
