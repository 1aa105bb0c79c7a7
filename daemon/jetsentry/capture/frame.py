"""A decoded frame as it leaves capture."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    camera_id: str
    seq: int  # strictly increasing per camera, across reconnects
    image: np.ndarray  # (H, W, 3) uint8 BGR
    capture_ts: float  # UTC epoch seconds; from the source clock where it has one
    received_monotonic: float  # time.monotonic() when capture handed the frame over
