"""Tracking accuracy: MOTA (CLEAR), IDF1 (Identity) and HOTA, by TrackEval's metric classes.

TrackEval's metrics are called directly on in-memory sequences (no files, no dataset
class).  The sequence data is prepared as its MOTChallenge 2D-box dataset prepares it:

* class-agnostic: every ground-truth object and every track count, whatever their class
  (our tracker associates across classes, as ByteTrack does);
* per frame, tracker boxes are matched to all ground truth (Hungarian on IoU, pairs with
  IoU >= 0.5); tracker boxes matched to ignored ground truth (consider=0) are removed,
  then the ignored ground truth is removed;
* ids are relabelled 0..n-1 and similarity is box IoU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from jetsentry.detections import Detections
from jetsentry.synth.groundtruth import GroundTruth
from jetsentry.track.matching import iou_matrix

MATCH_IOU = 0.5  # MOTChallenge's threshold for removing tracker boxes on ignored ground truth
_EPS = np.finfo("float").eps


@dataclass(frozen=True)
class TrackingScores:
    mota: float
    idf1: float
    hota: float
    details: dict  # motp, deta, assa, idp, idr, id_switches, fp, fn, tp, mt, ml, frag, gt_ids, tracker_ids

    def as_dict(self) -> dict:
        return {"mota": self.mota, "idf1": self.idf1, "hota": self.hota, **self.details}


def sequence_data(gt: GroundTruth, tracked: Sequence[Detections]) -> dict:
    """TrackEval's per-sequence data; tracked[i] is the tracker output of frame i + 1 (track_ids >= 1)."""
    n_frames = len(tracked)
    if len(gt) and int(gt.frame.max()) > n_frames:
        raise ValueError(f"ground truth reaches frame {int(gt.frame.max())} but the tracker output has "
                         f"{n_frames} frames")
    gt_xyxy = np.column_stack((gt.boxes[:, :2], gt.boxes[:, :2] + gt.boxes[:, 2:]))
    starts = np.searchsorted(gt.frame, np.arange(1, n_frames + 2))  # gt rows are sorted by frame
    gt_ids, tracker_ids, similarity = [], [], []
    for t, dets in enumerate(tracked):
        rows = slice(starts[t], starts[t + 1])
        ids = dets.track_ids
        if len(ids) and ids.min() < 0:
            raise ValueError(f"frame {t + 1}: tracker output has detections without a track id")
        iou = iou_matrix(gt_xyxy[rows], dets.boxes).astype(np.float64)
        keep_dets = _not_on_ignored(iou, gt.consider[rows] == 0)
        keep_gt = gt.consider[rows] == 1
        gt_ids.append(gt.track_id[rows][keep_gt])
        tracker_ids.append(ids[keep_dets])
        similarity.append(iou[np.ix_(keep_gt, keep_dets)])
    return _relabelled(gt_ids, tracker_ids, similarity)


def _not_on_ignored(iou: np.ndarray, ignored_gt: np.ndarray) -> np.ndarray:
    """Mask of tracker boxes to keep: those not matched to ignored ground truth."""
    keep = np.ones(iou.shape[1], bool)
    if not ignored_gt.any() or iou.shape[1] == 0:
        return keep
    scores = np.where(iou < MATCH_IOU - _EPS, 0.0, iou)
    rows, cols = linear_sum_assignment(-scores)
    matched = scores[rows, cols] > _EPS
    keep[cols[matched & ignored_gt[rows]]] = False
    return keep


def _relabelled(gt_ids: list, tracker_ids: list, similarity: list) -> dict:
    all_gt = np.unique(np.concatenate(gt_ids)) if gt_ids else np.zeros(0, np.int64)
    all_tr = np.unique(np.concatenate(tracker_ids)) if tracker_ids else np.zeros(0, np.int64)
    return {
        "num_timesteps": len(gt_ids),
        "num_gt_ids": len(all_gt),
        "num_tracker_ids": len(all_tr),
        "num_gt_dets": int(sum(len(g) for g in gt_ids)),
        "num_tracker_dets": int(sum(len(t) for t in tracker_ids)),
        "gt_ids": [np.searchsorted(all_gt, g) for g in gt_ids],
        "tracker_ids": [np.searchsorted(all_tr, t) for t in tracker_ids],
        "similarity_scores": similarity,
    }


class TrackingEvaluator:
    """Scores sequences one by one and combined, with TrackEval's HOTA, CLEAR and Identity."""

    def __init__(self) -> None:
        from trackeval.metrics import CLEAR, HOTA, Identity

        quiet = {"PRINT_CONFIG": False}
        self._metrics = {"HOTA": HOTA(), "CLEAR": CLEAR(quiet), "Identity": Identity(quiet)}
        self._results: dict[str, dict] = {}

    def add_sequence(self, name: str, gt: GroundTruth, tracked: Sequence[Detections]) -> TrackingScores:
        if name in self._results:
            raise ValueError(f"sequence {name!r} added twice")
        data = sequence_data(gt, tracked)
        result = {key: metric.eval_sequence(data) for key, metric in self._metrics.items()}
        self._results[name] = result
        return _scores(result)

    def scores(self, names: Sequence[str] | None = None) -> TrackingScores:
        """Scores of the named sequences (all when None) combined as TrackEval combines them."""
        names = list(self._results) if names is None else list(names)
        if not names:
            raise ValueError("no sequences to combine")
        chosen: Mapping[str, dict] = {n: self._results[n] for n in names}
        combined = {key: metric.combine_sequences({n: r[key] for n, r in chosen.items()})
                    for key, metric in self._metrics.items()}
        return _scores(combined)


def _scores(result: dict) -> TrackingScores:
    hota, clear, identity = result["HOTA"], result["CLEAR"], result["Identity"]
    details = {
        "motp": float(clear["MOTP"]),
        "deta": float(np.mean(hota["DetA"])),
        "assa": float(np.mean(hota["AssA"])),
        "idp": float(identity["IDP"]),
        "idr": float(identity["IDR"]),
        "id_switches": int(clear["IDSW"]),
        "tp": int(clear["CLR_TP"]),
        "fp": int(clear["CLR_FP"]),
        "fn": int(clear["CLR_FN"]),
        "mostly_tracked": int(clear["MT"]),
        "mostly_lost": int(clear["ML"]),
        "fragmentations": int(clear["Frag"]),
    }
    return TrackingScores(mota=float(clear["MOTA"]), idf1=float(identity["IDF1"]),
                          hota=float(np.mean(hota["HOTA"])), details=details)
