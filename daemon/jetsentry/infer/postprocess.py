"""YOLO output decoding, class-aware NMS and mapping back to source pixels, as Ultralytics does.

Two output layouts (infer/output_layout.py).  ``anchors`` [B, 4+C, N]: per anchor cx, cy,
w, h in input pixels, then C class scores.  Follows Ultralytics' ``non_max_suppression`` (single label per
anchor, strict ``>`` confidence, at most ``max_nms`` boxes into NMS, classes kept
apart by offsetting boxes by ``class_id * max_wh``) and ``scale_boxes`` (undo the
padding, divide by the per-axis gain, clip to the image).

One deliberate difference: with a class filter, the best class is chosen among the
kept classes only (Ultralytics picks the best of all classes, then drops the box if
that class is not kept), so a wanted class is never hidden by an unwanted one.

``detections`` [B, K, 6]: final x1, y1, x2, y2, score, class per row (NMS-free heads and
exports with NMS inside): only the confidence (strict ``>``) and class filters and the
detection cap apply, then the same mapping to source pixels.  The model chose each row's
class, so a class filter drops rows of other classes.  Rows whose class id is not one of
the model's classes are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jetsentry.detections import Detections
from jetsentry.infer.letterbox import Letterbox
from jetsentry.infer.nms import nms
from jetsentry.infer.output_layout import ANCHORS, DETECTION_FIELDS, DETECTIONS, OutputLayout

MAX_NMS = 30_000  # Ultralytics' cap on boxes entering NMS
MAX_WH = 7680  # Ultralytics' per-class box offset (pixels), larger than any input side
BATCHED_NMS_FROM = 3  # images; fewer go through NMS one by one (timed: 38 candidates an image)


@dataclass(frozen=True, slots=True)
class PostprocessSettings:
    confidence: float = 0.25
    iou: float = 0.7
    max_detections: int = 300
    class_ids: np.ndarray | None = None  # keep only these class ids; None keeps all
    max_nms: int = MAX_NMS
    max_wh: int = MAX_WH
    num_classes: int | None = None  # the model's; rows of a detections output outside it are dropped


def postprocess(
    output: np.ndarray, boxes: Sequence[Letterbox], settings: PostprocessSettings, layout: OutputLayout = ANCHORS
) -> list[Detections]:
    """Detections per image, in source pixels, highest score first."""
    if layout == DETECTIONS:
        return _final_detections(output, boxes, settings)
    if output.ndim != 3 or output.shape[0] != len(boxes) or output.shape[1] <= 4:
        raise ValueError(f"head output {output.shape} does not fit {len(boxes)} images as [B, 4+C, N]")
    scores = output[:, 4:, :]
    if settings.class_ids is not None:
        scores = scores[:, settings.class_ids, :]
    best_scores = scores.max(axis=1)  # (B, N), one pass over the whole batch
    results = []
    for image_index, box in enumerate(boxes):
        candidates = np.flatnonzero(best_scores[image_index] > settings.confidence)
        detections = _decode_image(output[image_index], scores[image_index], candidates, settings)
        _to_source_pixels(detections.boxes, box)
        results.append(detections)
    return results


def _decode_image(
    output: np.ndarray, scores: np.ndarray, candidates: np.ndarray, settings: PostprocessSettings
) -> Detections:
    if candidates.size == 0:
        return Detections.empty()
    best = scores[:, candidates].argmax(axis=0)
    confidences = scores[best, candidates]
    class_ids = best if settings.class_ids is None else settings.class_ids[best]
    return _nms(output[:4, candidates].T, confidences, class_ids, settings)


def postprocess_candidates(candidates: Sequence, boxes: Sequence[Letterbox], settings: PostprocessSettings
                           ) -> list[Detections]:
    """``postprocess`` from each image's anchors above the threshold, already selected (on the
    GPU: infer/head_kernel.py) and in anchor order: the same NMS on the same candidates, run
    for the whole batch in one pass (each image's boxes suppress only their own)."""
    if len(candidates) != len(boxes):
        raise ValueError(f"{len(candidates)} candidate sets for {len(boxes)} images")
    images = len(candidates)
    counts = np.fromiter((found.scores.size for found in candidates), np.int64, images)
    # Image by image below BATCHED_NMS_FROM images (the one pass's fixed cost is more than it saves
    # there), and for an image over the cap, which keeps its own top max_nms.
    if images < BATCHED_NMS_FROM or counts.max() > settings.max_nms:
        return [_one_image_candidates(found, box, settings) for found, box in zip(candidates, boxes)]
    total = int(counts.sum())
    if total == 0:
        return [Detections.empty() for _ in range(images)]
    xywh = np.concatenate([found.xywh for found in candidates])
    confidences = np.concatenate([found.scores for found in candidates]).astype(np.float32, copy=False)
    class_ids = np.concatenate([found.class_ids for found in candidates])
    image = np.repeat(np.arange(images), counts)
    xyxy, offset_xyxy = _corners(xywh, class_ids, settings)
    keep = nms(offset_xyxy, confidences, settings.iou, groups=image)  # score order, all images
    keep = keep[np.argsort(image[keep], kind="stable")]  # by image, score order kept within each
    kept_image = image[keep]
    first = np.searchsorted(kept_image, np.arange(images))
    keep = keep[np.arange(keep.size) - first[kept_image] < settings.max_detections]
    kept_image = image[keep]
    out_boxes = xyxy[keep]
    _undo_letterbox(out_boxes, _letterbox_columns(boxes)[kept_image])
    bounds = np.cumsum(np.bincount(kept_image, minlength=images))[:-1]
    return [Detections(boxes=b, scores=s, class_ids=c) for b, s, c in zip(
        np.split(out_boxes, bounds), np.split(confidences[keep], bounds),
        np.split(class_ids[keep].astype(np.int32), bounds))]


def _one_image_candidates(found, box: Letterbox, settings: PostprocessSettings) -> Detections:
    if found.scores.size == 0:
        detections = Detections.empty()
    else:
        detections = _nms(found.xywh, found.scores.astype(np.float32, copy=False), found.class_ids, settings)
    _to_source_pixels(detections.boxes, box)
    return detections


def _nms(xywh: np.ndarray, confidences: np.ndarray, class_ids: np.ndarray, settings: PostprocessSettings
         ) -> Detections:
    """Class-aware NMS of one image's candidates (anchor order), at most max_nms of them in."""
    if confidences.size > settings.max_nms:
        top = np.argsort(-confidences, kind="stable")[: settings.max_nms]
        xywh, confidences, class_ids = xywh[top], confidences[top], class_ids[top]
    xyxy, offset_xyxy = _corners(xywh, class_ids, settings)
    keep = nms(offset_xyxy, confidences, settings.iou)[: settings.max_detections]
    return Detections(
        boxes=xyxy[keep],
        scores=confidences[keep].astype(np.float32, copy=False),
        class_ids=class_ids[keep].astype(np.int32),
    )


def _final_detections(output: np.ndarray, boxes: Sequence[Letterbox], settings: PostprocessSettings) -> list[Detections]:
    if output.ndim != 3 or output.shape[0] != len(boxes) or output.shape[2] != DETECTION_FIELDS:
        raise ValueError(f"output {output.shape} does not fit {len(boxes)} images as [B, K, 6]")
    scores = output[:, :, 4]
    class_ids = np.rint(output[:, :, 5])
    keep = (scores > settings.confidence) & (class_ids >= 0)
    if settings.num_classes is not None:
        keep &= class_ids < settings.num_classes
    if settings.class_ids is not None:
        keep &= np.isin(class_ids, settings.class_ids)
    results = []
    for image_index, box in enumerate(boxes):
        rows = np.flatnonzero(keep[image_index])
        rows = rows[np.argsort(-scores[image_index, rows], kind="stable")][: settings.max_detections]
        detections = Detections(
            boxes=output[image_index, rows, :4].astype(np.float32, copy=True),
            scores=scores[image_index, rows].astype(np.float32, copy=False),
            class_ids=class_ids[image_index, rows].astype(np.int32),
        )
        _to_source_pixels(detections.boxes, box)
        results.append(detections)
    return results


def _corners(xywh: np.ndarray, class_ids: np.ndarray, settings: PostprocessSettings) -> tuple[np.ndarray, np.ndarray]:
    """xyxy boxes of cx, cy, w, h rows, and the same offset by class (class_id * max_wh) so that
    NMS keeps classes apart."""
    half_wh = xywh[:, 2:] / np.float32(2)
    xyxy = np.concatenate([xywh[:, :2] - half_wh, xywh[:, :2] + half_wh], axis=1)
    offsets = (class_ids.astype(np.float32) * np.float32(settings.max_wh))[:, None]
    return xyxy, xyxy + offsets


def _letterbox_columns(boxes: Sequence[Letterbox]) -> np.ndarray:
    """(len(boxes), 6) float32: left, top, gain_x, gain_y, source width, source height."""
    return np.array([(b.left, b.top, b.gain_x, b.gain_y, b.source_hw[1], b.source_hw[0]) for b in boxes],
                    np.float32).reshape(-1, 6)


def _to_source_pixels(xyxy: np.ndarray, box: Letterbox) -> None:
    """Undo one image's letterbox in place."""
    _undo_letterbox(xyxy, _letterbox_columns([box]))


def _undo_letterbox(xyxy: np.ndarray, columns: np.ndarray) -> None:
    """Subtract the padding, divide by the gain, clip to the image, in place; ``columns`` is one
    row of _letterbox_columns for all boxes, or one per box."""
    xyxy[:, 0::2] -= columns[:, 0:1]
    xyxy[:, 1::2] -= columns[:, 1:2]
    xyxy[:, 0::2] /= columns[:, 2:3]
    xyxy[:, 1::2] /= columns[:, 3:4]
    np.clip(xyxy[:, 0::2], 0, columns[:, 4:5], out=xyxy[:, 0::2])
    np.clip(xyxy[:, 1::2], 0, columns[:, 5:6], out=xyxy[:, 1::2])
