"""The Kalman filter and the assignment, each against an independent computation."""

from __future__ import annotations

import itertools

import lap
import numpy as np
import pytest

from jetsentry.track import kalman_filter
from jetsentry.track.matching import fuse_score, iou_matrix, linear_assignment


def _full_covariance(blocks: np.ndarray) -> np.ndarray:
    """(N, 4, 3) per-coordinate blocks -> (N, 8, 8) as in the textbook form."""
    n = blocks.shape[0]
    full = np.zeros((n, 8, 8))
    for i in range(4):
        full[:, i, i] = blocks[:, i, kalman_filter.VAR_POS]
        full[:, i, i + 4] = full[:, i + 4, i] = blocks[:, i, kalman_filter.COV_POS_VEL]
        full[:, i + 4, i + 4] = blocks[:, i, kalman_filter.VAR_VEL]
    return full


def test_kalman_filter_matches_the_full_matrix_reference():
    reference = pytest.importorskip(
        "ultralytics.trackers.utils.kalman_filter", reason="Ultralytics (test-only reference) is not installed"
    ).KalmanFilterXYAH()
    rng = np.random.default_rng(0)
    n = 6
    xyah = np.column_stack(
        (rng.uniform(0, 1000, n), rng.uniform(0, 600, n), rng.uniform(0.3, 2, n), rng.uniform(20, 200, n))
    )
    mean, cov = kalman_filter.initiate(xyah)
    ref = [reference.initiate(z) for z in xyah]
    for step in range(25):
        mean, cov = kalman_filter.predict(mean, cov)
        ref = [reference.predict(m, c) for m, c in ref]
        if step % 4 != 3:  # some steps coast without a measurement
            z = mean[:, :4] + rng.normal(0, 2, (n, 4)) * [1, 1, 0.01, 1]
            mean, cov = kalman_filter.update(mean, cov, z)
            ref = [reference.update(m, c, zi) for (m, c), zi in zip(ref, z)]
        np.testing.assert_allclose(mean, np.array([m for m, _ in ref]), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(_full_covariance(cov), np.array([c for _, c in ref]), rtol=1e-9, atol=1e-12)


def test_box_conversions_round_trip():
    boxes = np.array([[10, 20, 70, 140], [0.5, 0.5, 1.5, 3.0]])
    xyah = kalman_filter.xyxy_to_xyah(boxes)
    np.testing.assert_allclose(xyah[0], [40, 80, 0.5, 120])
    np.testing.assert_allclose(kalman_filter.xyah_to_xyxy(xyah), boxes)


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 120]], np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [50, 50, 60, 60], [3, 3, 3, 8]], np.float32)
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou[0], [50 / 150, 1.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(iou[1], [0, 0, 0, 0])
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_fuse_score_weights_overlap_by_confidence():
    cost = np.array([[0.2, 0.6]], np.float32)  # IoU 0.8 and 0.4
    np.testing.assert_allclose(fuse_score(cost, np.array([0.5, 1.0])), [[0.6, 0.6]], rtol=1e-6)


def _brute_force(cost: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Best partial matching: minimise sum(cost - threshold) over matched pairs."""
    n_rows, n_cols = cost.shape
    best, best_pairs = 0.0, set()
    for k in range(1, min(n_rows, n_cols) + 1):
        for rows in itertools.combinations(range(n_rows), k):
            for cols in itertools.permutations(range(n_cols), k):
                total = sum(cost[r, c] - threshold for r, c in zip(rows, cols))
                if total < best - 1e-12:
                    best, best_pairs = total, set(zip(rows, cols))
    return best_pairs


def test_linear_assignment_is_the_thresholded_optimum():
    rng = np.random.default_rng(1)
    for trial in range(150):
        shape = tuple(rng.integers(1, 5, 2))
        cost = rng.uniform(0, 1, shape)
        if trial % 2:  # IoU-like: mostly 1 (no overlap) with a few real candidates
            cost = np.where(rng.random(shape) < 0.7, 1.0, cost)
        threshold = float(rng.choice([0.5, 0.7, 0.8]))
        matches, rows_left, cols_left = linear_assignment(cost, threshold)
        assert {tuple(m) for m in matches.tolist()} == _brute_force(cost, threshold)
        assert list(matches[:, 0]) == sorted(matches[:, 0])
        assert sorted([*matches[:, 0], *rows_left]) == list(range(shape[0]))
        assert sorted([*matches[:, 1], *cols_left]) == list(range(shape[1]))


def test_linear_assignment_pruning_agrees_with_plain_lapjv_on_large_problems():
    rng = np.random.default_rng(2)
    for _ in range(50):
        cost = np.where(rng.random((60, 55)) < 0.95, 1.0, rng.uniform(0, 1, (60, 55)))
        matches, _, _ = linear_assignment(cost, 0.8)
        _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=0.8)
        plain = {(r, c) for r, c in enumerate(row_to_col) if c >= 0}
        assert {tuple(m) for m in matches.tolist()} == plain


def test_linear_assignment_empty():
    matches, rows_left, cols_left = linear_assignment(np.zeros((0, 3)), 0.8)
    assert matches.shape == (0, 2) and rows_left.size == 0 and cols_left.tolist() == [0, 1, 2]
    matches, rows_left, cols_left = linear_assignment(np.ones((2, 2)), 0.8)
    assert matches.shape == (0, 2) and rows_left.tolist() == [0, 1] and cols_left.tolist() == [0, 1]
