"""The GPU head kernel's selection (infer/head_kernel.py) in NumPy, for CPU tests of what follows it."""

from __future__ import annotations

import numpy as np

from jetsentry.infer.head_kernel_types import Candidates


def select_like_the_kernel(head: np.ndarray, confidence: float, class_ids: np.ndarray | None) -> list[Candidates]:
    """Per image: anchors whose best kept class scores strictly above ``confidence``, in anchor order."""
    out = []
    kept = np.arange(head.shape[1] - 4) if class_ids is None else np.asarray(class_ids)
    for image in head:
        scores = image[4:][kept]
        best = scores.argmax(axis=0)  # the first maximum, as the kernel's strict '>'
        best_score = scores[best, np.arange(scores.shape[1])]
        anchors = np.flatnonzero(best_score > np.float32(confidence))
        out.append(Candidates(xywh=np.ascontiguousarray(image[:4, anchors].T), scores=best_score[anchors],
                              class_ids=kept[best[anchors]].astype(np.int64)))
    return out
