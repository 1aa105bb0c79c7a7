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
    return _iou(a.T[:, :, None], b.T[:, None, :])  # each coordinate as a column, to broadcast against b's rows


def iou_pairs(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(K, 4) and (K, 4) xyxy boxes -> (K,) IoU of row k with row k, float32: the values
    iou_matrix gives for the same pairs, bit for bit."""
    a = np.asarray(boxes_a, dtype=np.float32)
    b = np.asarray(boxes_b, dtype=np.float32)
    return _iou(a.T, b.T)


def _iou(a_t: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """IoU from coordinate-first float32 arrays (x1, y1, x2, y2 along axis 0) that broadcast."""
    inter_w = np.minimum(a_t[2], b_t[2])
    inter_w -= np.maximum(a_t[0], b_t[0])
    np.maximum(inter_w, 0, out=inter_w)
    inter_h = np.minimum(a_t[3], b_t[3])
    inter_h -= np.maximum(a_t[1], b_t[1])
    np.maximum(inter_h, 0, out=inter_h)
    inter = inter_w
    inter *= inter_h
    area_a = (a_t[2] - a_t[0]) * (a_t[3] - a_t[1])
    area_b = (b_t[2] - b_t[0]) * (b_t[3] - b_t[1])
    # The small epsilon keeps degenerate (zero-area) pairs at IoU 0 instead of NaN.
    union = area_a + area_b
    union -= inter
    union += np.float32(1e-7)
    inter /= union
    return inter


def same_group_pairs(groups_a: np.ndarray, groups_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with groups_a[i] == groups_b[j], for group labels sorted ascending in both:
    i ascending, and j ascending within each i (each group's block of a dense matrix, row by row)."""
    lo = groups_b.searchsorted(groups_a, "left")
    counts = groups_b.searchsorted(groups_a, "right") - lo
    rows = np.arange(groups_a.shape[0]).repeat(counts)
    run_start = counts.cumsum() - counts  # where each i's run begins among the pairs
    cols = np.arange(rows.shape[0]) - (run_start - lo).repeat(counts)
    return rows, cols


def dense_pairs(n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) of an n_rows x n_cols matrix, row by row (its flattened order)."""
    return np.divmod(np.arange(n_rows * n_cols), max(n_cols, 1))


def iou_cost(track_boxes: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    """1 - IoU: 0 for identical boxes, 1 for disjoint ones."""
    return 1.0 - iou_matrix(track_boxes, det_boxes)


def fuse_score(cost: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """1 - IoU * score: a confident detection wins a tie between equally overlapping ones.
    ``det_scores`` along cost's last axis: a (tracks, detections) matrix's columns, or each
    pair's detection.

    Ultralytics' fuse_score; with it, a stage-one match needs IoU * score > 1 - match_threshold.
    """
    return 1.0 - (1.0 - cost) * np.asarray(det_scores, dtype=np.float32)


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching that leaves a pair unmatched rather than pay threshold or more.

    Returns (matches (K, 2) as [row, col] sorted by row, unmatched rows, unmatched cols):
    linear_assignment_pairs over every pair of the matrix, as one group."""
    cost = np.asarray(cost)
    n_rows, n_cols = cost.shape
    rows, cols = dense_pairs(n_rows, n_cols)
    return linear_assignment_pairs(rows, cols, cost.reshape(-1), np.zeros(n_rows, np.intp),
                                   np.zeros(n_cols, np.intp), threshold, dense=True)


def linear_assignment_pairs(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, row_groups: np.ndarray, col_groups: np.ndarray,
    threshold: float, *, dense: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """linear_assignment of each group (a camera) on its own, all groups in one pass.

    ``rows``, ``cols``, ``cost``: every pair of a row and a column of the same group, as
    same_group_pairs lists them; ``row_groups``, ``col_groups``: each row's and column's
    group, sorted ascending.  A row is only ever matched to a column of its group.
    ``dense``: the pairs are every (row, column) in row-major order (one group's whole matrix),
    which lets the candidates be counted along the matrix's axes.

    The result is, group by group, that of lapjv(extend_cost=True, cost_limit=threshold) on
    the group's dense cost matrix, as in the ByteTrack reference: the optimum of
    sum(cost - threshold) over matched pairs.  That problem splits along pairs below
    threshold, so rows and columns without such a pair stay unmatched and a row and column
    that are each other's only candidate match outright; only the rest (usually a handful of
    crossing objects) goes to lap's solver, one group at a time.
    Returns (matches (K, 2) as [row, col] sorted by row, unmatched rows, unmatched cols).
    """
    n_rows, n_cols = row_groups.shape[0], col_groups.shape[0]
    if n_rows == 0 or n_cols == 0:
        return EMPTY_MATCHES, np.arange(n_rows), np.arange(n_cols)
    cost = np.asarray(cost, dtype=np.float64)
    candidate = cost < threshold
    # Array methods, not np.flatnonzero/np.count_nonzero/np.stack: on the few rows of a
    # frame the functions' Python wrappers cost more than the work.
    if dense:  # counted along the matrix's axes; a sole row's column is its first candidate
        matrix = candidate.reshape(n_rows, n_cols)
        row_count, col_count = matrix.sum(axis=1), matrix.sum(axis=0)
        only_col = matrix.argmax(axis=1)
        sole_rows = ((row_count == 1) & (col_count[only_col] == 1)).nonzero()[0]
        sole_cols = only_col[sole_rows]
    else:
        cand_rows, cand_cols = rows[candidate], cols[candidate]
        row_count = np.bincount(cand_rows, minlength=n_rows)
        col_count = np.bincount(cand_cols, minlength=n_cols)
        sole = (row_count[cand_rows] == 1) & (col_count[cand_cols] == 1)
        sole_rows, sole_cols = cand_rows[sole], cand_cols[sole]
    row_to_col = np.full(n_rows, -1, dtype=np.intp)
    row_to_col[sole_rows] = sole_cols
    col_taken = np.zeros(n_cols, bool)
    col_taken[sole_cols] = True

    left_rows = ((row_count > 0) & (row_to_col < 0)).nonzero()[0]
    if left_rows.size:
        left_cols = ((col_count > 0) & ~col_taken).nonzero()[0]
        if dense:
            _solve(cost.reshape(n_rows, n_cols)[np.ix_(left_rows, left_cols)], left_rows, left_cols, threshold,
                   row_to_col)
        else:
            _solve_groups(rows, cols, cost, row_groups, col_groups, left_rows, left_cols, threshold, row_to_col)

    is_matched = row_to_col >= 0
    matches = np.empty((int(is_matched.sum()), 2), dtype=np.intp)
    matches[:, 0] = is_matched.nonzero()[0]
    matches[:, 1] = row_to_col[is_matched]
    col_taken[matches[:, 1]] = True
    return matches, (~is_matched).nonzero()[0], (~col_taken).nonzero()[0]


def _solve_groups(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, row_groups: np.ndarray,
                  col_groups: np.ndarray, left_rows: np.ndarray, left_cols: np.ndarray, threshold: float,
                  row_to_col: np.ndarray) -> None:
    """lapjv on each group's rows and columns left after the sole pairs, into row_to_col."""
    # Each left row's and column's place among the left ones: a group's are contiguous there.
    row_at = np.full(row_groups.shape[0], -1, np.intp)
    row_at[left_rows] = np.arange(left_rows.size)
    col_at = np.full(col_groups.shape[0], -1, np.intp)
    col_at[left_cols] = np.arange(left_cols.size)
    inside = ((row_at[rows] >= 0) & (col_at[cols] >= 0)).nonzero()[0]  # in group order, as the pairs
    pair_rows, pair_cols, pair_cost = row_at[rows[inside]], col_at[cols[inside]], cost[inside]
    groups_r, groups_c = row_groups[left_rows], col_groups[left_cols]
    pair_groups = groups_r[pair_rows]
    for group in np.unique(groups_r).tolist():  # groups with crossing objects: usually a few
        r0, r1 = groups_r.searchsorted(group, "left"), groups_r.searchsorted(group, "right")
        c0, c1 = groups_c.searchsorted(group, "left"), groups_c.searchsorted(group, "right")
        if c1 == c0:  # cannot happen (a left row's candidate column is left too); lapjv needs columns
            continue
        p0, p1 = pair_groups.searchsorted(group, "left"), pair_groups.searchsorted(group, "right")
        block = np.empty((r1 - r0, c1 - c0))  # every entry is a pair of the group: all are set
        block[pair_rows[p0:p1] - r0, pair_cols[p0:p1] - c0] = pair_cost[p0:p1]
        _solve(block, left_rows[r0:r1], left_cols[c0:c1], threshold, row_to_col)


def _solve(block: np.ndarray, block_rows: np.ndarray, block_cols: np.ndarray, threshold: float,
           row_to_col: np.ndarray) -> None:
    """lap's solver on one group's dense block of the rows and columns left, into row_to_col."""
    _, sub_row_to_col, _ = lap.lapjv(block, extend_cost=True, cost_limit=threshold)
    sub_row_to_col = np.asarray(sub_row_to_col, dtype=np.intp)
    solved = sub_row_to_col >= 0
    row_to_col[block_rows[solved]] = block_cols[sub_row_to_col[solved]]
