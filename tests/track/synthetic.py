"""Detection streams made from synthetic ground-truth trajectories, deterministic per seed.

Objects of 4 classes move with velocity, acceleration and turns, change scale, enter and
leave the frame and cross each other.  The simulated detector jitters the boxes, misses
objects (more often when occluded), lowers the scores of occluded objects (so many fall
in ByteTrack's low-score band), flips the class now and then, and adds false positives:
random ones, and a few static "phantoms" (background that looks like an object) that
flicker in and out, so some false tracks do start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetsentry.detections import Detections

# Aspect ratio w / h per class, roughly person, car, bicycle, dog.
_CLASS_ASPECT = np.array([0.45, 1.8, 1.1, 1.3])


@dataclass(frozen=True)
class SyntheticStream:
    ground_truth: list[Detections]  # per frame; track_ids are the object ids (from 1)
    detections: list[Detections]  # per frame; what a detector would output after NMS
    frame_rate: float


def make_stream(
    seed: int,
    num_frames: int = 300,
    num_objects: int = 50,
    width: int = 1280,
    height: int = 720,
    miss_rate: float = 0.05,
    false_positives_per_frame: float = 1.0,
    frame_rate: float = 30.0,
    num_phantoms: int = 3,
) -> SyntheticStream:
    """num_objects trajectories with births spread over the stream (a third present at the start)."""
    rng = np.random.default_rng(seed)
    n = num_objects
    birth = np.where(rng.random(n) < 1 / 3, 0, rng.integers(0, num_frames, n))
    lifetime = rng.integers(num_frames // 4, num_frames, n)
    class_id = rng.integers(0, len(_CLASS_ASPECT), n).astype(np.int32)
    box_h = rng.uniform(40, 150, n) / np.sqrt(_CLASS_ASPECT[class_id])
    aspect = _CLASS_ASPECT[class_id] * rng.uniform(0.85, 1.15, n)
    quality = rng.uniform(0.35, 0.95, n)  # how confidently the detector sees this object
    # Present-at-start objects anywhere; later ones enter from an edge, heading inwards.
    centre = np.stack((rng.uniform(0, width, n), rng.uniform(0, height, n)), axis=1)
    enters = birth > 0
    edge = rng.integers(0, 4, n)
    centre[enters & (edge == 0), 0] = 0
    centre[enters & (edge == 1), 0] = width
    centre[enters & (edge == 2), 1] = 0
    centre[enters & (edge == 3), 1] = height
    heading = np.arctan2(height / 2 - centre[:, 1], width / 2 - centre[:, 0]) + rng.normal(0, 0.6, n)
    heading = np.where(enters, heading, rng.uniform(-np.pi, np.pi, n))
    speed = rng.uniform(1.0, 7.0, n)
    accel = rng.normal(0, 0.03, n)
    turn = rng.normal(0, 0.01, n)
    growth = rng.normal(0, 0.002, n)
    phantoms = _boxes(
        np.stack((rng.uniform(0, width, num_phantoms), rng.uniform(0, height, num_phantoms)), axis=1),
        rng.uniform(30, 100, num_phantoms),
        rng.uniform(0.5, 1.5, num_phantoms),
    )

    ground_truth, detections = [], []
    for frame in range(num_frames):
        age = frame - birth
        alive = (age >= 0) & (age < lifetime)
        boxes = _boxes(centre, box_h, aspect)
        clipped = np.clip(boxes, 0, [width, height, width, height])
        size = clipped[:, 2:] - clipped[:, :2]
        visible = alive & (size[:, 0] >= 8) & (size[:, 1] >= 8)
        idx = np.flatnonzero(visible)
        ground_truth.append(
            Detections(
                boxes=clipped[idx].astype(np.float32),
                scores=np.ones(idx.size, np.float32),
                class_ids=class_id[idx],
                track_ids=(idx + 1).astype(np.int64),
            )
        )
        detections.append(
            _detect(
                rng,
                clipped[idx],
                class_id[idx],
                quality[idx],
                miss_rate,
                false_positives_per_frame,
                phantoms,
                (width, height),
            )
        )
        # Motion update for everything (cheap, and keeps the random stream independent of visibility).
        heading += turn
        speed = np.clip(speed + accel, 0.3, 9.0)
        centre += speed[:, None] * np.stack((np.cos(heading), np.sin(heading)), axis=1)
        box_h = np.clip(box_h * (1 + growth), 20, 260)
    return SyntheticStream(ground_truth=ground_truth, detections=detections, frame_rate=frame_rate)


def _boxes(centre: np.ndarray, box_h: np.ndarray, aspect: np.ndarray) -> np.ndarray:
    half = np.stack((box_h * aspect, box_h), axis=1) / 2
    return np.concatenate((centre - half, centre + half), axis=1)


def occlusion(boxes: np.ndarray) -> np.ndarray:
    """Fraction of each box hidden by the most-covering box in front (lower bottom edge = nearer)."""
    x1, y1, x2, y2 = boxes.T
    inter = np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None) * np.clip(
        np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None
    )
    in_front = y2[None, :] > y2[:, None]
    area = (x2 - x1) * (y2 - y1)
    covered = np.where(in_front, inter, 0).max(axis=1, initial=0) / np.maximum(area, 1e-6)
    return np.clip(covered, 0, 1)


def _detect(
    rng: np.random.Generator,
    boxes: np.ndarray,
    class_id: np.ndarray,
    quality: np.ndarray,
    miss_rate: float,
    false_positives_per_frame: float,
    phantoms: np.ndarray,
    frame_size: tuple[int, int],
) -> Detections:
    width, height = frame_size
    n = boxes.shape[0]
    hidden = occlusion(boxes)
    miss = rng.random(n) < miss_rate + np.clip(hidden - 0.5, 0, None) * 1.6
    score = np.clip(quality * (1 - 0.8 * hidden) + rng.normal(0, 0.12, n), 0.02, 0.99)
    size = np.tile(boxes[:, 2:] - boxes[:, :2], 2)  # w, h, w, h
    jittered = boxes + rng.normal(0, 0.04, (n, 4)) * size
    flipped = rng.random(n) < 0.02
    cls = np.where(flipped, (class_id + 1) % len(_CLASS_ASPECT), class_id).astype(np.int32)
    keep = ~miss

    n_false = rng.poisson(false_positives_per_frame)
    false_h = rng.uniform(30, 120, n_false)
    false_c = np.stack((rng.uniform(0, width, n_false), rng.uniform(0, height, n_false)), axis=1)
    false_boxes = _boxes(false_c, false_h, rng.uniform(0.5, 1.5, n_false))
    seen_phantoms = phantoms[rng.random(len(phantoms)) < 0.4]
    false_boxes = np.concatenate((false_boxes, seen_phantoms + rng.normal(0, 1.0, seen_phantoms.shape)))
    n_false = false_boxes.shape[0]

    all_boxes = np.concatenate((jittered[keep], false_boxes))
    all_boxes = np.clip(all_boxes, 0, [width, height, width, height]).astype(np.float32)
    all_scores = np.concatenate((score[keep], rng.uniform(0.15, 0.45, n_false))).astype(np.float32)
    all_cls = np.concatenate((cls[keep], rng.integers(0, len(_CLASS_ASPECT), n_false))).astype(np.int32)
    order = np.argsort(-all_scores, kind="stable")  # detector output after NMS: best first
    return Detections(boxes=all_boxes[order], scores=all_scores[order], class_ids=all_cls[order])
