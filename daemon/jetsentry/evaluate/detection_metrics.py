"""Detection accuracy, COCO protocol: mAP50 and mAP50-95, computed by faster-coco-eval (or pycocotools).

Every frame of every scene is one COCO image.  Ground truth with consider=0 (mostly
hidden or tiny) becomes an `iscrowd` region: COCO ignores it, so a detection matched to
it is neither a true nor a false positive, and a missed one is no false negative.
(COCO matches detections to crowd regions by intersection over the detection's own
area, so a detection lying inside one is always ignored, never a false positive.)
AP is computed per class and averaged over the classes that have ground truth,
all object sizes, at most 100 detections per image and class (COCO's defaults).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from jetsentry.detections import Detections
from jetsentry.synth.groundtruth import GroundTruth

LIBRARIES = ("faster-coco-eval", "pycocotools")


@dataclass(frozen=True)
class DetectionScores:
    map50: float | None  # None where no considered ground truth was evaluated
    map50_95: float | None
    per_class: dict[str, dict]  # name -> {"ap50", "ap50_95", "gt"}; APs None for classes without ground truth
    images: int
    ground_truth: int  # considered ground-truth boxes
    ignored: int  # consider=0 boxes (crowd regions)
    detections: int

    def as_dict(self) -> dict:
        return {"map50": self.map50, "map50_95": self.map50_95, "per_class": self.per_class, "images": self.images,
                "ground_truth": self.ground_truth, "ignored": self.ignored, "detections": self.detections}


class CocoDetectionEvaluator:
    """Collects scenes as COCO images, then scores all of them or a subset.

    add_sequence(name, gt, detections): detections[i] holds the detections of frame i + 1.
    """

    def __init__(self, classes: Sequence[str], library: str = "faster-coco-eval") -> None:
        if library not in LIBRARIES:
            raise ValueError(f"library must be one of {', '.join(LIBRARIES)}, got {library!r}")
        if not classes:
            raise ValueError("classes must not be empty")
        self.classes = tuple(classes)
        self.library = library
        self._images: dict[str, np.ndarray] = {}  # sequence name -> its COCO image ids
        self._gt_rows: list[np.ndarray] = []  # (N, 7): image_id, x, y, w, h, category_id, iscrowd
        self._dt_rows: list[np.ndarray] = []  # (M, 7): image_id, x, y, w, h, score, category_id
        self._next_image = 1

    def add_sequence(self, name: str, gt: GroundTruth, detections: Sequence[Detections]) -> None:
        if name in self._images:
            raise ValueError(f"sequence {name!r} added twice")
        n_frames = len(detections)
        if len(gt) and int(gt.frame.max()) > n_frames:
            raise ValueError(f"{name}: ground truth reaches frame {int(gt.frame.max())} "
                             f"but detections cover {n_frames} frames")
        if len(gt) and int(gt.class_id.max()) >= len(self.classes):
            raise ValueError(f"{name}: ground-truth class {int(gt.class_id.max())} is beyond the "
                             f"{len(self.classes)} classes")
        ids = np.arange(self._next_image, self._next_image + n_frames)
        self._next_image += n_frames
        self._images[name] = ids
        self._gt_rows.append(np.column_stack((ids[gt.frame - 1], gt.boxes, gt.class_id + 1, 1 - gt.consider)))
        counts = np.array([len(d) for d in detections], np.int64)
        if counts.sum():
            boxes = np.concatenate([d.boxes for d in detections]).astype(np.float64)
            self._dt_rows.append(np.column_stack((
                np.repeat(ids, counts), boxes[:, :2], boxes[:, 2:] - boxes[:, :2],
                np.concatenate([d.scores for d in detections]),
                np.concatenate([d.class_ids for d in detections]) + 1,
            )))

    @property
    def sequences(self) -> list[str]:
        return list(self._images)

    def scores(self, names: Iterable[str] | None = None) -> DetectionScores:
        """COCO scores over the named sequences (all when None)."""
        names = self.sequences if names is None else list(names)
        unknown = [n for n in names if n not in self._images]
        if unknown:
            raise KeyError(f"unknown sequences: {unknown}")
        image_ids = np.concatenate([self._images[n] for n in names]) if names else np.zeros(0, np.int64)
        gt = _rows_of(self._gt_rows, image_ids)
        dt = _rows_of(self._dt_rows, image_ids)
        considered = gt[:, 6] == 0
        gt_per_class = np.bincount(gt[considered, 5].astype(np.int64) - 1, minlength=len(self.classes))
        summary = dict(images=len(image_ids), ground_truth=int(considered.sum()), ignored=int((~considered).sum()),
                       detections=len(dt))
        if not considered.any():
            per_class = {c: {"ap50": None, "ap50_95": None, "gt": 0} for c in self.classes}
            return DetectionScores(map50=None, map50_95=None, per_class=per_class, **summary)
        precision = self._coco_precision(image_ids, gt, dt)
        per_class = {}
        for k, name in enumerate(self.classes):
            p = precision[:, :, k]
            per_class[name] = {"ap50": _mean_valid(p[0]), "ap50_95": _mean_valid(p), "gt": int(gt_per_class[k])}
        return DetectionScores(map50=_mean_valid(precision[0]), map50_95=_mean_valid(precision),
                               per_class=per_class, **summary)

    def _coco_precision(self, image_ids: np.ndarray, gt: np.ndarray, dt: np.ndarray) -> np.ndarray:
        """COCO's precision array [iou threshold, recall, class] (all areas, 100 detections); -1 = no gt."""
        coco_cls, eval_cls = _library(self.library)
        dataset = {
            "images": [{"id": int(i)} for i in image_ids],
            "categories": [{"id": k + 1, "name": name} for k, name in enumerate(self.classes)],
            "annotations": [
                # ids start at 1: COCOeval stores matches as annotation ids, 0 meaning none.
                {"id": n + 1, "image_id": int(r[0]), "bbox": r[1:5].tolist(), "area": float(r[3] * r[4]),
                 "category_id": int(r[5]), "iscrowd": int(r[6])}
                for n, r in enumerate(gt)
            ],
        }
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco_gt = coco_cls()
            coco_gt.dataset = dataset
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes(dt) if len(dt) else _empty_results(coco_cls, coco_gt)
            evaluation = eval_cls(coco_gt, coco_dt, iouType="bbox")
            evaluation.params.imgIds = [int(i) for i in image_ids]
            evaluation.evaluate()
            evaluation.accumulate()
        precision = np.asarray(evaluation.eval["precision"])  # [T, R, K, A, M]
        area_all = list(evaluation.params.areaRngLbl).index("all")
        return precision[:, :, :, area_all, -1]


def _library(name: str):
    if name == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        return COCO, COCOeval_faster
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return COCO, COCOeval


def _empty_results(coco_cls, coco_gt):
    """A result set without detections (loadRes refuses an empty list)."""
    coco_dt = coco_cls()
    coco_dt.dataset = {"images": coco_gt.dataset["images"], "categories": coco_gt.dataset["categories"],
                       "annotations": []}
    coco_dt.createIndex()
    return coco_dt


def _rows_of(chunks: list[np.ndarray], image_ids: np.ndarray) -> np.ndarray:
    if not chunks:
        return np.zeros((0, 7))
    rows = np.concatenate(chunks)
    return rows[np.isin(rows[:, 0], image_ids)]


def _mean_valid(values: np.ndarray) -> float | None:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else None
