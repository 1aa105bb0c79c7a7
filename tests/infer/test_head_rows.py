"""The head kernel's host side: its candidate rows for a whole batch, left in any order by the
atomic counter, back in image and anchor order (infer/head_kernel_types.candidates_from_rows),
equal to the NumPy selection."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.infer.head_kernel_types import ROW, candidates_from_rows
from tests.infer.head_selection import select_like_the_kernel


def _kernel_rows(head: np.ndarray, confidence: float, rng: np.random.Generator) -> np.ndarray:
    """What the kernel leaves in the pinned buffer: every image's rows in one array, shuffled."""
    parts = []
    for image, found in enumerate(select_like_the_kernel(head, confidence, None)):
        anchor_ids = np.flatnonzero(head[image, 4:].max(axis=0) > np.float32(confidence))
        parts.append(np.column_stack((np.full(len(anchor_ids), image), anchor_ids, found.scores, found.class_ids,
                                      found.xywh)).astype(np.float32))
    rows = np.concatenate(parts)
    assert rows.shape[1] == ROW
    return rows[rng.permutation(len(rows))]


def test_rows_come_back_per_image_in_anchor_order_as_the_host_selection() -> None:
    rng = np.random.default_rng(3)
    head = rng.uniform(0, 1, (4, 4 + 5, 600)).astype(np.float32)
    head[:, 4:] **= 6  # a few anchors above the threshold, the rest below
    head[2, 4:] = 0.0  # an image without candidates, between two with
    rows = _kernel_rows(head, 0.5, rng)
    got = candidates_from_rows(rows, len(head))
    want = select_like_the_kernel(head, 0.5, None)
    assert len(got) == 4
    assert [len(c.scores) for c in got] == [len(w.scores) for w in want]
    assert len(got[0].scores) > 10 and len(got[2].scores) == 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.xywh, w.xywh)
        np.testing.assert_array_equal(g.scores, w.scores)
        np.testing.assert_array_equal(g.class_ids, w.class_ids)
        assert g.class_ids.dtype == np.int64 and g.xywh.flags.c_contiguous


def test_images_after_the_last_candidate_come_back_empty() -> None:
    rng = np.random.default_rng(5)
    head = rng.uniform(0, 1, (3, 4 + 2, 50)).astype(np.float32)
    head[1:, 4:] = 0.0
    got = candidates_from_rows(_kernel_rows(head, 0.5, rng), 3)
    assert [len(c.scores) > 0 for c in got] == [True, False, False]
    assert all(c.xywh.shape[1] == 4 for c in got)
    assert [len(c.scores) for c in candidates_from_rows(np.zeros((0, ROW), np.float32), 2)] == [0, 0]


def test_rows_naming_an_image_outside_the_batch_are_refused() -> None:
    rows = np.zeros((1, ROW), np.float32)
    rows[0, 0] = 2
    with pytest.raises(ValueError, match="outside 0..1"):
        candidates_from_rows(rows, 2)


def test_candidates_do_not_share_the_reused_buffer() -> None:
    rng = np.random.default_rng(4)
    head = rng.uniform(0, 1, (1, 4 + 3, 100)).astype(np.float32)
    rows = _kernel_rows(head, 0.5, rng)
    got = candidates_from_rows(rows, 1)
    before = got[0].xywh.copy(), got[0].scores.copy()
    rows[:] = 0.0  # the next batch overwrites the pinned buffer
    np.testing.assert_array_equal(got[0].xywh, before[0])
    np.testing.assert_array_equal(got[0].scores, before[1])
