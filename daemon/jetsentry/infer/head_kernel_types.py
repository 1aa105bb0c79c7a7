"""What GPU head decoding hands the host (infer/head_kernel.py), importable without CUDA."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ROW = 7  # the kernel's candidate row: anchor, score, class, cx, cy, w, h


@dataclass(frozen=True)
class Candidates:
    """One image's anchors above the confidence threshold, in anchor order."""

    xywh: np.ndarray  # (K, 4) float32, input pixels
    scores: np.ndarray  # (K,) float32
    class_ids: np.ndarray  # (K,) int64, model class ids


def candidates_from_rows(rows: np.ndarray, counts: Sequence[int]) -> list[Candidates]:
    """Each image's first ``counts[i]`` kernel rows of ``rows`` (B, N, ROW) float32, put back in
    anchor order (the kernel's atomic counter leaves them in any order); copies, so the
    buffer behind ``rows`` may be reused."""
    out = []
    for image, found in enumerate(counts):
        picked = rows[image, : int(found)]
        picked = picked[np.argsort(picked[:, 0], kind="stable")]
        out.append(Candidates(xywh=np.ascontiguousarray(picked[:, 3:7]), scores=picked[:, 1].copy(),
                              class_ids=picked[:, 2].astype(np.int64)))
    return out
