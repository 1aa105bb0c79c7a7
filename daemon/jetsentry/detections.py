"""The one data type that flows from inference through tracking to publishing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Detections:
    """Detections of one image, as parallel arrays (no per-object Python objects).

    boxes are [x1, y1, x2, y2] in source-image pixels.  track_ids is -1 where a
    detection carries no track (tracking disabled, or not yet confirmed).
    """

    boxes: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int32
    track_ids: np.ndarray = field(default=None)  # (N,) int64

    def __post_init__(self) -> None:
        if self.track_ids is None:
            self.track_ids = np.full(len(self.scores), -1, dtype=np.int64)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            class_ids=np.zeros((0,), np.int32),
        )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, index: np.ndarray) -> "Detections":
        """Subset by boolean mask or integer index array."""
        return Detections(
            boxes=self.boxes[index],
            scores=self.scores[index],
            class_ids=self.class_ids[index],
            track_ids=self.track_ids[index],
        )
