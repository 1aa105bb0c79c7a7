"""What GPU head decoding hands the host (infer/head_kernel.py), importable without CUDA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """One image's anchors above the confidence threshold, in anchor order."""

    xywh: np.ndarray  # (K, 4) float32, input pixels
    scores: np.ndarray  # (K,) float32
    class_ids: np.ndarray  # (K,) int64, model class ids
