"""Association costs between tracks and detections, and the assignment that uses them."""

from __future__ import annotations

import lap  # Jonker-Volgenant (LAPJV), the solver of the ByteTrack reference
import numpy as np

EMPTY_MATCHES = np.zeros((0, 2), dtype=np.intp)  # linear_assignment's matches when nothing matches


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy boxes -> (N, M) intersection over union, float32."""
    a = np.asarray(boxes_a, dtype=np.float32)
    b = np.asarray(boxes_b, dtype=np.float32)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float32)
    a_t = a.T[:, :, None]  # each coordinate as a column, to broadcast against b's rows
    b_t = b.T[:, None, :]
    inter_w = np.minimum(a_t[2], b_t[2])
    inter_w -= np.maximum(a_t[0], b_t[0])
    np.maximum(inter_w, 0, out=inter_w)
    inter_h = np.minimum(a_t[3], b_t[3])
    inter_h -= np.maximum(a_t[1], b_t[1])
    np.maximum(inter_h, 0, out=inter_h)
    inter = inter_w
    inter *= inter_h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    # The small epsilon keeps degenerate (zero-area) pairs at IoU 0 instead of NaN.
    union = area_a[:, None] + area_b[None, :]
    union -= inter
    union += np.float32(1e-7)
    inter /= union
    return inter


def iou_cost(track_boxes: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    """1 - IoU: 0 for identical boxes, 1 for disjoint ones."""
    return 1.0 - iou_matrix(track_boxes, det_boxes)


def fuse_score(cost: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """1 - IoU * score: a confident detection wins a tie between equally overlapping ones.

    Ultralytics' fuse_score; with it, a stage-one match needs IoU * score > 1 - match_threshold.
    """
    return 1.0 - (1.0 - cost) * np.asarray(det_scores, dtype=np.float32)[None, :]


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching that leaves a pair unmatched rather than pay threshold or more.

    Returns (matches (K, 2) as [row, col] sorted by row, unmatched rows, unmatched cols).
    The result is that of lapjv(extend_cost=True, cost_limit=threshold), as in the
    ByteTrack reference: the optimum of sum(cost - threshold) over matched pairs.  That
    problem splits along pairs below threshold, so rows and columns without such a pair
    stay unmatched and a row and column that are each other's only candidate match
    outright; only the rest (usually a handful of crossing objects) goes to lap's solver.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return EMPTY_MATCHES, np.arange(n_rows), np.arange(n_cols)
    candidate = cost < threshold
    # Array methods, not np.flatnonzero/np.count_nonzero/np.stack: on the few rows of one
    # camera's frame the functions' Python wrappers cost more than the work.
    row_count = candidate.sum(axis=1)
    col_count = candidate.sum(axis=0)
    only_col = candidate.argmax(axis=1)
    sole = (row_count == 1) & (col_count[only_col] == 1)
    row_to_col = np.full(n_rows, -1, dtype=np.intp)
    row_to_col[sole] = only_col[sole]
    col_taken = np.zeros(n_cols, bool)
    col_taken[only_col[sole]] = True

    rows = ((row_count > 0) & ~sole).nonzero()[0]
    if rows.size:
        cols = ((col_count > 0) & ~col_taken).nonzero()[0]
        _, sub_row_to_col, _ = lap.lapjv(cost[np.ix_(rows, cols)], extend_cost=True, cost_limit=threshold)
        sub_row_to_col = np.asarray(sub_row_to_col, dtype=np.intp)
        solved = sub_row_to_col >= 0
        row_to_col[rows[solved]] = cols[sub_row_to_col[solved]]

    is_matched = row_to_col >= 0
    matches = np.empty((np.count_nonzero(is_matched), 2), dtype=np.intp)
    matches[:, 0] = is_matched.nonzero()[0]
    matches[:, 1] = row_to_col[is_matched]
    col_taken[matches[:, 1]] = True
    return matches, (~is_matched).nonzero()[0], (~col_taken).nonzero()[0]

