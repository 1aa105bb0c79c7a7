"""Ground truth of one scene as parallel arrays, and its MOTChallenge `gt.txt` form.

Line format: frame,id,bb_left,bb_top,bb_width,bb_height,consider,class,visibility
(frame 1-based, class 0-based index into SYNTH_CLASSES, consider 0 = ignore in evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_CONSIDER_VISIBILITY = 0.25
MIN_CONSIDER_SIDE_PX = 8.0


@dataclass(frozen=True)
class GroundTruth:
    frame: np.ndarray  # (N,) int64, 1-based
    track_id: np.ndarray  # (N,) int64, >= 1
    boxes: np.ndarray  # (N, 4) float64, [left, top, width, height] px, rounded to 0.01
    consider: np.ndarray  # (N,) int64, 0 or 1
    class_id: np.ndarray  # (N,) int64
    visibility: np.ndarray  # (N,) float64 in [0, 1], rounded to 1e-4

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> "GroundTruth":
        """From an (N, 9) array in gt.txt column order; rows are sorted by (frame, id)."""
        rows = np.asarray(rows, np.float64).reshape(-1, 9)
        rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
        return cls(
            frame=rows[:, 0].astype(np.int64),
            track_id=rows[:, 1].astype(np.int64),
            boxes=np.round(rows[:, 2:6], 2),
            consider=rows[:, 6].astype(np.int64),
            class_id=rows[:, 7].astype(np.int64),
            visibility=np.round(rows[:, 8], 4),
        )


def consider_flags(boxes: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """1 where an object should count in evaluation, 0 where it is too hidden or too small."""
    big = (boxes[:, 2] >= MIN_CONSIDER_SIDE_PX) & (boxes[:, 3] >= MIN_CONSIDER_SIDE_PX)
    return (big & (visibility >= MIN_CONSIDER_VISIBILITY)).astype(np.int64)


def write_gt(path: str | Path, gt: GroundTruth) -> None:
    lines = [
        f"{f},{i},{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f},{c},{k},{v:.4f}\n"
        for f, i, b, c, k, v in zip(gt.frame.tolist(), gt.track_id.tolist(), gt.boxes.tolist(),
                                    gt.consider.tolist(), gt.class_id.tolist(), gt.visibility.tolist())
    ]
    Path(path).write_text("".join(lines), encoding="ascii")


def read_gt(path: str | Path) -> GroundTruth:
    """Read a gt.txt written by write_gt (or any 9-column MOTChallenge gt file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground truth file not found: {path}")
    text = path.read_text(encoding="ascii").strip()
    if not text:
        return GroundTruth.from_rows(np.zeros((0, 9)))
    try:
        rows = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a MOTChallenge gt file: {exc}") from exc
    if rows.shape[1] != 9:
        raise ValueError(f"{path}: expected 9 comma-separated columns, found {rows.shape[1]}")
    return GroundTruth.from_rows(rows)
