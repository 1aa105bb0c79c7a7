"""What GPU head decoding hands the host (infer/head_kernel.py), importable without CUDA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROW = 8  # the kernel's candidate row: image, anchor, score, class, cx, cy, w, h


@dataclass(frozen=True)
class Candidates:
    """One image's anchors above the confidence threshold, in anchor order."""

    xywh: np.ndarray  # (K, 4) float32, input pixels
    scores: np.ndarray  # (K,) float32
    class_ids: np.ndarray  # (K,) int64, model class ids


def candidates_from_rows(rows: np.ndarray, images: int) -> list[Candidates]:
    """Each of ``images`` images' candidates from the kernel's rows (K, ROW) float32 of a whole
    batch, put back in image and anchor order (the kernel's atomic counter leaves them in any
    order); copies, so the buffer behind ``rows`` may be reused."""
    image = rows[:, 0].astype(np.int64)
    anchor = rows[:, 1].astype(np.int64)
    if image.size and (image.min() < 0 or image.max() >= images):
        raise ValueError(f"candidate rows name images outside 0..{images - 1}")
    order = np.argsort(image * (int(anchor.max(initial=0)) + 1) + anchor, kind="stable")
    picked = rows[order]
    bounds = np.cumsum(np.bincount(image, minlength=images))[:-1]
    xywh = np.split(np.ascontiguousarray(picked[:, 4:8]), bounds)
    scores = np.split(picked[:, 2].copy(), bounds)
    class_ids = np.split(picked[:, 3].astype(np.int64), bounds)
    return [Candidates(xywh=x, scores=s, class_ids=c) for x, s, c in zip(xywh, scores, class_ids)]
