"""Agreement of the COCO YOLOv8n's INT8 files with its FP32 model on real photographs.

The photographs Ultralytics and scikit-image ship (tests/infer/photos.py) are split into two
folds; each fold's INT8 model is calibrated on the other fold only, then both folds' results
are pooled, so no photo is judged by a model calibrated on it.  Each photo is used in eight
views (`views`) and in 2x2 mosaics of its fold.  Agreement: the share of
FP32 detections (score > 0.25) that the INT8 model finds at IoU >= 0.9 with the same class
(one-to-one), with the score differences of those pairs.  Accuracy, not speed.

    python bench/int8_agreement_coco.py [--model ../shared/models/yolov8n-coco.onnx] \
        [--methods minmax entropy percentile] [--same-photos]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from common import write_result

from jetsentry.convert.calibration import load_calibration
from jetsentry.convert.quantize import quantize_model
from jetsentry.infer import Detector, ModelInfo
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.infer.matching import match_detections
from tests.infer.photos import fit_to_frame, load_photos, mosaic

COCO_MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / "yolov8n-coco.onnx"


def views(photos: list[np.ndarray]) -> list[np.ndarray]:
    """Each photo whole, mirrored, centred in 1280x720 and 960x540 (mirrored) frames, its left,
    right and upper 70 %, at half size; then 2x2 mosaics: objects at many scales and places."""
    frames = []
    for photo in photos:
        h, w = photo.shape[:2]
        mirrored = np.ascontiguousarray(photo[:, ::-1])
        frames += [photo, mirrored, fit_to_frame(photo, 1280, 720), fit_to_frame(mirrored, 960, 540),
                   np.ascontiguousarray(photo[:, : int(w * 0.7)]), np.ascontiguousarray(photo[:, w - int(w * 0.7):]),
                   np.ascontiguousarray(photo[: int(h * 0.7)]), cv2.resize(photo, (w // 2, h // 2))]
    frames += [mosaic(photos[i:] + photos[:i], 1280, 720) for i in range(0, len(photos), 2)]
    return frames


def detect(path: Path, frames: list[np.ndarray]) -> list:
    with Detector(OnnxRuntimeEngine(path, threads=0, parallel_runs=1), confidence=0.25) as detector:
        return [detector.detect([frame])[0][0] for frame in frames]


def fold_calibrations(folds: list[list[np.ndarray]], info: ModelInfo, work: Path) -> list:
    """Each fold's views as a calibration set, through image folders under ``work`` (the
    quantizer's own loader)."""
    sets = []
    for index, fold in enumerate(folds):
        folder = work / f"fold{index}"
        folder.mkdir()
        for number, frame in enumerate(views(fold)):
            cv2.imwrite(str(folder / f"{number:03d}.png"), frame)
        sets.append(load_calibration(folder, info, len(views(fold))))
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=COCO_MODEL)
    parser.add_argument("--methods", nargs="+", default=["minmax", "entropy", "percentile"])
    parser.add_argument("--percentiles", nargs="+", type=float, default=[],
                        help="also the percentile method at these percentiles (the default is 99.999)")
    parser.add_argument("--same-photos", action="store_true",
                        help="calibrate on all photographs and judge the same ones (not held out: an upper bound)")
    parser.add_argument("--name", default=None, help="result file (default int8_agreement_coco[_same_photos])")
    args = parser.parse_args()
    photos = load_photos()
    folds = [photos, photos] if args.same_photos else [photos[0::2], photos[1::2]]
    evaluation = [views(fold) for fold in folds]
    reference = [detect(args.model, frames) for frames in evaluation]
    info = ModelInfo.from_onnx(args.model)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="int8-coco-") as work:
        work = Path(work)
        calibration_sets = fold_calibrations(folds, info, work)
        settings = [(method, {}) for method in args.methods]
        settings += [(f"percentile {value:g}", {"percentile": value}) for value in args.percentiles]
        for method, options in settings:
            ours, theirs = [], []
            for index in ((0,) if args.same_photos else (0, 1)):  # fold `index`, calibrated on the other
                out = work / f"{method.replace(' ', '-')}-{index}.int8.onnx"
                quantize_model(args.model, calibration_sets[1 - index], out, method=method.split()[0],
                               show_progress=False, **options)
                ours += detect(out, evaluation[index])
                theirs += reference[index]
            stats = match_detections(ours, theirs, iou_min=0.9)
            loose = match_detections(ours, theirs, iou_min=0.5)
            rows[method] = {
                "fp32_boxes": stats.theirs, "int8_boxes": stats.ours, "matched_iou90": stats.matched,
                "agreement_iou90": round(stats.matched / max(stats.theirs, 1), 4),
                "agreement_iou50": round(loose.matched / max(loose.theirs, 1), 4),
                "mean_score_diff": round(float(stats.score_diffs.mean()), 4) if stats.score_diffs.size else 0.0,
                "max_score_diff": round(stats.max_score_diff, 4),
            }
            print(f"{method:10s} {rows[method]}", flush=True)
    name = args.name or ("int8_agreement_coco_same_photos" if args.same_photos else "int8_agreement_coco")
    write_result(name, {"model": str(args.model), "photos": len(photos), "held_out": not args.same_photos,
                        "frames": sum(len(e) for e in evaluation[: 1 if args.same_photos else 2]), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
