"""How hard a scene is: objects in view, crossings, occlusions (from ground-truth arrays).

Shared by `jetsentry synth` (stored in scene.json) and `jetsentry eval` (printed with results).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

CROSSING_IOU = 0.3  # two boxes overlapping more than this in one frame form a crossing
OCCLUDED_BELOW = 0.9  # a track counts as occluded once its visibility drops below this


def _pairwise_iou(boxes_xywh: np.ndarray) -> np.ndarray:
    x1, y1 = boxes_xywh[:, 0], boxes_xywh[:, 1]
    x2, y2 = x1 + boxes_xywh[:, 2], y1 + boxes_xywh[:, 3]
    iw = np.clip(np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]), 0, None)
    inter = iw * ih
    area = boxes_xywh[:, 2] * boxes_xywh[:, 3]
    union = area[:, None] + area[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def scene_statistics(frame: np.ndarray, track_id: np.ndarray, boxes: np.ndarray,
                     visibility: np.ndarray, n_frames: int | None = None,
                     consider: np.ndarray | None = None) -> dict:
    """Difficulty statistics of one scene.

    frame (N,) 1-based frame numbers, track_id (N,), boxes (N, 4) [left, top, w, h],
    visibility (N,) in [0, 1]; n_frames defaults to the largest frame number.  With
    `consider` (N,) 0/1, only considered rows count as objects in view (else visibility > 0).
    """
    frame = np.asarray(frame, np.int64)
    track_id = np.asarray(track_id, np.int64)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    visibility = np.asarray(visibility, np.float64)
    if not (len(frame) == len(track_id) == len(boxes) == len(visibility)):
        raise ValueError("frame, track_id, boxes and visibility must have the same length")
    if n_frames is None:
        n_frames = int(frame.max()) if len(frame) else 0
    tracks = np.unique(track_id)
    in_view = visibility > 0 if consider is None else np.asarray(consider) == 1
    pair_a, pair_b, pair_f = [], [], []
    order = np.argsort(frame, kind="stable")
    f_sorted = frame[order]
    starts = np.flatnonzero(np.r_[True, f_sorted[1:] != f_sorted[:-1]]) if len(frame) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(frame)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s < 2:
            continue
        idx = order[s:e]
        iou = _pairwise_iou(boxes[idx])
        ia, ib = np.nonzero(np.triu(iou > CROSSING_IOU, k=1))
        if len(ia):
            a, b = track_id[idx[ia]], track_id[idx[ib]]
            pair_a.append(np.minimum(a, b))
            pair_b.append(np.maximum(a, b))
            pair_f.append(np.full(len(ia), f_sorted[s]))
    crossing_events = 0
    crossing_tracks = np.zeros(0, np.int64)
    if pair_a:
        a, b, f = np.concatenate(pair_a), np.concatenate(pair_b), np.concatenate(pair_f)
        o = np.lexsort((f, b, a))
        a, b, f = a[o], b[o], f[o]
        new_event = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (f[1:] != f[:-1] + 1)]
        crossing_events = int(new_event.sum())
        crossing_tracks = np.unique(np.r_[a, b])
    occluded_tracks = np.unique(track_id[visibility < OCCLUDED_BELOW])
    n_tracks = len(tracks)
    return {
        "frames": int(n_frames),
        "tracks": int(n_tracks),
        "boxes": int(len(frame)),
        "mean_objects_in_view": float(in_view.sum() / n_frames) if n_frames else 0.0,
        "crossing_events": crossing_events,
        "crossing_tracks_fraction": float(len(crossing_tracks) / n_tracks) if n_tracks else 0.0,
        "occluded_tracks_fraction": float(len(occluded_tracks) / n_tracks) if n_tracks else 0.0,
    }


def gt_statistics(gt) -> dict:
    """scene_statistics of a GroundTruth (jetsentry.synth.groundtruth)."""
    return scene_statistics(gt.frame, gt.track_id, gt.boxes, gt.visibility, consider=gt.consider)


def combine_statistics(per_scene: Iterable[Mapping]) -> dict:
    """Totals over scenes: counts summed, means weighted by frames, fractions by tracks."""
    per_scene = list(per_scene)
    frames = sum(s["frames"] for s in per_scene)
    tracks = sum(s["tracks"] for s in per_scene)
    return {
        "scenes": len(per_scene),
        "frames": frames,
        "tracks": tracks,
        "boxes": sum(s["boxes"] for s in per_scene),
        "mean_objects_in_view": (sum(s["mean_objects_in_view"] * s["frames"] for s in per_scene) / frames
                                 if frames else 0.0),
        "crossing_events": sum(s["crossing_events"] for s in per_scene),
        "crossing_tracks_fraction": (sum(s["crossing_tracks_fraction"] * s["tracks"] for s in per_scene) / tracks
                                     if tracks else 0.0),
        "occluded_tracks_fraction": (sum(s["occluded_tracks_fraction"] * s["tracks"] for s in per_scene) / tracks
                                     if tracks else 0.0),
    }


def format_statistics(stats: Mapping) -> str:
    return (f"objects in view {stats['mean_objects_in_view']:.1f}/frame, "
            f"crossings (IoU>{CROSSING_IOU}) {stats['crossing_events']} "
            f"({stats['crossing_tracks_fraction']:.0%} of tracks), "
            f"occluded tracks {stats['occluded_tracks_fraction']:.0%}, "
            f"{stats['tracks']} tracks, {stats['frames']} frames")
