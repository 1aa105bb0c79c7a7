"""The head kernel's host side: its candidate rows, left in any order by the atomic counter, back
in anchor order (infer/head_kernel_types.candidates_from_rows), equal to the NumPy selection."""

from __future__ import annotations

import numpy as np

from jetsentry.infer.head_kernel_types import ROW, candidates_from_rows
from tests.infer.head_selection import select_like_the_kernel


def _kernel_rows(head: np.ndarray, confidence: float, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """What the kernel leaves in the pinned buffer: each image's rows shuffled, garbage after them."""
    batch, _, anchors = head.shape
    rows = rng.uniform(-1e3, 1e3, (batch, anchors, ROW)).astype(np.float32)
    counts = []
    for image, found in enumerate(select_like_the_kernel(head, confidence, None)):
        anchor_ids = np.flatnonzero(head[image, 4:].max(axis=0) > np.float32(confidence))
        picked = np.column_stack((anchor_ids, found.scores, found.class_ids, found.xywh)).astype(np.float32)
        rows[image, : len(picked)] = picked[rng.permutation(len(picked))]
        counts.append(len(picked))
    return rows, counts


def test_rows_come_back_in_anchor_order_as_the_host_selection() -> None:
    rng = np.random.default_rng(3)
    head = rng.uniform(0, 1, (3, 4 + 5, 600)).astype(np.float32)
    head[:, 4:] **= 6  # a few anchors above the threshold, the rest below
    head[2, 4:] = 0.0  # an image without candidates
    rows, counts = _kernel_rows(head, 0.5, rng)
    got = candidates_from_rows(rows, counts)
    want = select_like_the_kernel(head, 0.5, None)
    assert [len(c.scores) for c in got] == counts and counts[0] > 10 and counts[2] == 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.xywh, w.xywh)
        np.testing.assert_array_equal(g.scores, w.scores)
        np.testing.assert_array_equal(g.class_ids, w.class_ids)
        assert g.class_ids.dtype == np.int64 and g.xywh.flags.c_contiguous


def test_candidates_do_not_share_the_reused_buffer() -> None:
    rng = np.random.default_rng(4)
    head = rng.uniform(0, 1, (1, 4 + 3, 100)).astype(np.float32)
    rows, counts = _kernel_rows(head, 0.5, rng)
    got = candidates_from_rows(rows, counts)
    before = got[0].xywh.copy(), got[0].scores.copy()
    rows[:] = 0.0  # the next batch overwrites the pinned buffer
    np.testing.assert_array_equal(got[0].xywh, before[0])
    np.testing.assert_array_equal(got[0].scores, before[1])
