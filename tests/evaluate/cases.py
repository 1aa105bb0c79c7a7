"""Hand-made ground truth and detections whose scores are known in advance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jetsentry.detections import Detections
from jetsentry.synth.groundtruth import GroundTruth


def ground_truth(rows: Sequence[Sequence[float]]) -> GroundTruth:
    """From (frame, id, left, top, width, height[, consider[, class[, visibility]]]) rows."""
    full = [list(r) + [1, 0, 1.0][len(r) - 6:] for r in rows]
    return GroundTruth.from_rows(np.array(full, np.float64).reshape(-1, 9))


def detections(boxes_ltwh: Sequence[Sequence[float]], scores: Sequence[float] | None = None,
               classes: Sequence[int] | None = None, track_ids: Sequence[int] | None = None) -> Detections:
    """Detections of one frame from [left, top, width, height] boxes."""
    ltwh = np.asarray(boxes_ltwh, np.float32).reshape(-1, 4)
    n = len(ltwh)
    dets = Detections(
        boxes=np.concatenate((ltwh[:, :2], ltwh[:, :2] + ltwh[:, 2:]), axis=1),
        scores=np.asarray(scores if scores is not None else [0.9] * n, np.float32),
        class_ids=np.asarray(classes if classes is not None else [0] * n, np.int32),
    )
    if track_ids is not None:
        dets.track_ids = np.asarray(track_ids, np.int64)
    return dets


def frames_from_gt(gt: GroundTruth, n_frames: int, *, score: float = 0.9, drop=lambda frame, track_id: False,
                   relabel=lambda frame, track_id: track_id) -> list[Detections]:
    """Per-frame detections equal to the ground truth (track ids = gt ids), with objects dropped or relabelled."""
    out = []
    for f in range(1, n_frames + 1):
        rows = [i for i in np.flatnonzero(gt.frame == f) if not drop(f, int(gt.track_id[i]))]
        out.append(detections(gt.boxes[rows], [score] * len(rows), gt.class_id[rows],
                              [relabel(f, int(gt.track_id[i])) for i in rows]))
    return out
