"""Reference ByteTrack runs and MOT metrics, for comparing jetsentry's tracker with it.

Reusable outside these tests (the evaluation of rendered scenes reruns it): feed the same
per-frame Detections to run_reference_bytetrack() and run_jetsentry_bytetrack(), then
score both against ground truth with mot_metrics().

Reference: Ultralytics' BYTETracker (test-only dependency).  supervision's ByteTrack
was the first choice, but supervision 0.31 no longer ships a tracker (it moved to the
separate `trackers` package); Ultralytics' is the implementation both descend from.

Parameter mapping (TrackerConfig -> Ultralytics bytetrack.yaml):
    high_threshold      -> track_high_thresh
    low_threshold       -> track_low_thresh
    new_track_threshold -> new_track_thresh
    match_threshold     -> match_thresh
    track_buffer        -> track_buffer = int(frame_rate / 30 * track_buffer)
                           (Ultralytics 8.4 no longer scales by frame rate itself)
    (always)            -> fuse_score = True
For supervision <= 0.26 (sv.ByteTrack), the equivalent is track_activation_threshold =
high_threshold, lost_track_buffer = track_buffer, minimum_matching_threshold =
match_threshold, frame_rate = frame_rate, minimum_consecutive_frames = 1; it hard-codes
low_threshold = 0.1 and new_track_threshold = high_threshold + 0.1, uses score >
(not >=) high_threshold, and gives ids to unconfirmed tracks, so only configurations
with those values are equivalent.

Output: both runs return, per frame, the input detections that belong to a confirmed
track (the detector's box, score and class) with the track id, in input order.
Ultralytics returns Kalman-smoothed boxes with the detection's index; we map them back
to the detection through that index, as supervision's update_with_detections does.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from jetsentry.config.models import TrackerConfig
from jetsentry.detections import Detections
from jetsentry.pipeline import tracker_parameters
from jetsentry.track import ByteTracker


def reference_arguments(config: TrackerConfig, frame_rate: float) -> SimpleNamespace:
    """Ultralytics' tracker arguments equivalent to our config at this frame rate."""
    return SimpleNamespace(
        tracker_type="bytetrack",
        track_high_thresh=config.high_threshold,
        track_low_thresh=config.low_threshold,
        new_track_thresh=config.new_track_threshold,
        match_thresh=config.match_threshold,
        track_buffer=int(frame_rate / 30.0 * config.track_buffer),
        fuse_score=True,
    )


class _UltralyticsBoxes:
    """The slice of ultralytics.engine.results.Boxes that BYTETracker reads."""

    def __init__(self, dets: Detections) -> None:
        self.xyxy = dets.boxes.astype(np.float32)
        self.conf = dets.scores.astype(np.float32)
        self.cls = dets.class_ids.astype(np.float32)
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        self.xywh = np.concatenate((self.xyxy[:, :2] + wh / 2, wh), axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: np.ndarray) -> _UltralyticsBoxes:
        out = object.__new__(_UltralyticsBoxes)
        out.xyxy, out.conf, out.cls, out.xywh = self.xyxy[index], self.conf[index], self.cls[index], self.xywh[index]
        return out


def _reference_tracker(config: TrackerConfig, frame_rate: float, prompt_removal: bool):
    from ultralytics.trackers.byte_tracker import BYTETracker

    class PromptRemovalBYTETracker(BYTETracker):
        """Drops a stale lost track in the frame that marks it removed.

        The reference (here and in the original ByteTrack) filters the lost list against
        the removals of earlier frames only, so a track marked removed stays matchable
        for one more frame; jetsentry keeps a lost track for exactly the buffer.
        """

        def _remove_stale_lost(self, removed: list) -> None:
            super()._remove_stale_lost(removed)
            self.lost_stracks = [t for t in self.lost_stracks if t not in removed]

    cls = PromptRemovalBYTETracker if prompt_removal else BYTETracker
    return cls(reference_arguments(config, frame_rate))


def run_reference_bytetrack(
    frames_of_detections: Sequence[Detections],
    frame_rate: float = 30.0,
    config: TrackerConfig | None = None,
    prompt_removal: bool = False,
) -> list[Detections]:
    """Ultralytics' BYTETracker over a stream; per frame, the tracked input detections.

    prompt_removal=True removes the reference's one-frame grace for stale lost tracks,
    the one known behavioural difference, so its associations equal jetsentry's.
    """
    tracker = _reference_tracker(config or TrackerConfig(), frame_rate, prompt_removal)
    out = []
    for dets in frames_of_detections:
        rows = tracker.update(_UltralyticsBoxes(dets))
        if len(rows) == 0:
            out.append(Detections.empty())
            continue
        det_index = rows[:, -1].astype(np.int64)
        order = np.argsort(det_index, kind="stable")
        tracked = dets.select(det_index[order])
        tracked.track_ids = rows[order, 4].astype(np.int64)
        out.append(tracked)
    return out


def run_jetsentry_bytetrack(
    frames_of_detections: Sequence[Detections],
    frame_rate: float = 30.0,
    config: TrackerConfig | None = None,
) -> list[Detections]:
    """Our ByteTracker over a stream, with the same inputs and outputs as the reference run."""
    tracker = ByteTracker(**tracker_parameters(config or TrackerConfig()), frame_rate=frame_rate)
    return [tracker.update(dets) for dets in frames_of_detections]


def iou_distances(gt_boxes: np.ndarray, hyp_boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """motmetrics' distance matrix: 1 - IoU, NaN where IoU < iou_threshold (no match allowed).

    motmetrics.distances.iou_matrix would do this, but it calls np.asfarray, which NumPy 2
    removed; the metrics themselves are still motmetrics'.
    """
    a = np.asarray(gt_boxes, np.float64)
    b = np.asarray(hyp_boxes, np.float64)
    inter = np.clip(np.minimum(a[:, None, 2], b[:, 2]) - np.maximum(a[:, None, 0], b[:, 0]), 0, None) * np.clip(
        np.minimum(a[:, None, 3], b[:, 3]) - np.maximum(a[:, None, 1], b[:, 1]), 0, None
    )
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return np.where(iou >= iou_threshold, 1.0 - iou, np.nan)


def mot_metrics(
    ground_truth: Sequence[Detections],
    tracked: Sequence[Detections],
    iou_threshold: float = 0.5,
) -> dict[str, float]:
    """MOTA, IDF1 and friends (motmetrics) of tracked frames against ground-truth frames.

    Both are per-frame Detections whose track_ids are the identities; frames pair up by
    position, so the two sequences must have the same length.
    """
    import motmetrics

    if len(ground_truth) != len(tracked):
        raise ValueError(f"ground truth has {len(ground_truth)} frames but the tracker output has {len(tracked)}")
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for gt, hyp in zip(ground_truth, tracked):
        accumulator.update(
            gt.track_ids.tolist(),
            hyp.track_ids.tolist(),
            iou_distances(gt.boxes, hyp.boxes, iou_threshold),
        )
    names = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_unique_objects"]
    summary = motmetrics.metrics.create().compute(accumulator, metrics=names, name="run")
    return {name: float(summary[name].iloc[0]) for name in names}
