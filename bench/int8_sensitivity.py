"""Per-layer INT8 sensitivity of a detection model: which layers' quantization costs accuracy.

Prepares the model as the quantizer does (convert/prepare.py), calibrates once (the
quantizer's settings, MinMax), then builds QDQ models from the same
ranges and compares each with the FP32 model on held-out frames:

  all        every convolution in INT8, the head's included
  rule       the quantizer's rule: the float tail (convert/float_tail.py) kept in float
  tail-only  only the float tail's convolutions in INT8, the trunk in float
  default-ops  the rule, with ONNX Runtime's default operator set instead of convolutions only
  conv:NAME  one convolution alone in INT8 (with its input, weights and output), all else float
  float:NAME the rule, with this convolution kept in float too (--leave-one-out)

For each: the share of FP32 detections (score > 0.25) matched by the INT8 model at IoU >= 0.9
with the same class ("agreement"), the mean score difference of matched pairs and their
mean IoU.  Accuracy, not speed: the host's load does not matter here.

    python bench/int8_sensitivity.py --model engines/models/jetsentry-default.onnx \
        --calib CALIB_FRAMES_DIR --frames HELD_OUT_SCENES_DIR [--samples 64] [--every 15]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from common import write_result

from jetsentry.convert.calibration import load_calibration
from jetsentry.convert.float_tail import float_tail
from jetsentry.convert.prepare import prepared_for_quantization
from jetsentry.convert.quantize import EXTRA_OPTIONS, QUANTIZED_OPS, _CalibrationReader
from jetsentry.infer import Detector
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.infer.matching import box_iou, match_detections


def held_out_frames(folder: Path, every: int) -> list[np.ndarray]:
    """Every `every`-th frame of each scene_*/video.mp4 under `folder`, of one video, or of the
    images in a folder."""
    import cv2

    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg")) if folder.is_dir() else []
    if images:
        return [cv2.imread(str(p)) for p in images[::every]]
    videos = sorted(folder.glob("scene_*/video.mp4")) if folder.is_dir() else [folder]
    frames = []
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                frames.append(frame)
            index += 1
        capture.release()
    return frames


def detect_all(path: Path, frames: list[np.ndarray]) -> list:
    with Detector(OnnxRuntimeEngine(path, threads=0, parallel_runs=1), confidence=0.25) as detector:
        return [detector.detect([frame])[0][0] for frame in frames]


def compare(reference: list, candidate: list) -> dict:
    strict = match_detections(candidate, reference, iou_min=0.9)
    loose = match_detections(candidate, reference, iou_min=0.5)
    ious = []
    for ours, theirs in zip(candidate, reference):
        if len(ours) and len(theirs):
            iou = box_iou(ours.boxes, theirs.boxes)
            same = ours.class_ids[:, None] == theirs.class_ids[None, :]
            best = np.where(same, iou, 0).max(axis=0)
            ious.extend(best[best >= 0.5].tolist())
    return {
        "agreement_iou90": round(strict.matched / max(strict.theirs, 1), 4),
        "agreement_iou50": round(loose.matched / max(loose.theirs, 1), 4),
        "mean_score_diff": round(float(strict.score_diffs.mean()) if strict.score_diffs.size else 0.0, 4),
        "mean_iou": round(float(np.mean(ious)) if ious else 0.0, 4),
        "fp32_boxes": strict.theirs,
        "int8_boxes": strict.ours,
    }


def main() -> int:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--calib", type=Path, required=True, action="append",
                        help="calibration source (as for models quantize; repeat for several)")
    parser.add_argument("--frames", type=Path, required=True, help="held-out scenes folder or a video")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--every", type=int, default=15, help="every n-th held-out frame")
    parser.add_argument("--input-size", type=int, default=640)
    parser.add_argument("--method", choices=("minmax", "entropy", "percentile"), default="minmax")
    parser.add_argument("--leave-one-out", action="store_true", help="also the rule with each trunk convolution in float")
    parser.add_argument("--leave-one-out-only", action="store_true", help="those instead of single convolutions in INT8")
    parser.add_argument("--name", default=None, help="result file bench/results/NAME.json")
    args = parser.parse_args()
    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[args.method]

    info = ModelInfo.from_onnx(args.model)
    model = prepared_for_quantization(onnx.load(str(args.model)))  # as the quantizer prepares it
    tail = float_tail(model)
    convs = [node.name for node in model.graph.node if node.op_type == "Conv"]
    calibration = load_calibration(args.calib, info, args.samples, input_size=args.input_size)
    frames = held_out_frames(args.frames, args.every)
    print(f"{len(calibration)} calibration samples, {len(frames)} held-out frames, {len(convs)} convolutions, "
          f"float tail {len(tail)} nodes ({len(tail.final_convs)} convolutions)", flush=True)
    reference = detect_all(args.model, frames)

    with tempfile.TemporaryDirectory(prefix="int8-sensitivity-") as work:
        work = Path(work)
        source = work / "model.onnx"
        onnx.save(model, str(source))
        cache = work / "ranges.json"

        def quantized(label: str, *, exclude=(), only=None, op_types=QUANTIZED_OPS) -> dict:
            out = work / "q.onnx"
            reader = _CalibrationReader(calibration, info, None)
            started = time.monotonic()
            quantize_static(str(source), str(out), reader, quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                            calibrate_method=method, nodes_to_exclude=list(exclude),
                            op_types_to_quantize=list(op_types) if op_types else None,
                            nodes_to_quantize=list(only or []),
                            extra_options={**EXTRA_OPTIONS, "CalibStridedMinMax": reader.stride()},
                            calibration_cache_path=str(cache.with_name(f"ranges-{'-'.join(op_types or ['all'])}.json")))
            row = {"config": label, **compare(reference, detect_all(out, frames)),
                   "seconds": round(time.monotonic() - started, 1)}
            print(f"{label:60s} agreement {row['agreement_iou90']:.3f} (IoU .5: {row['agreement_iou50']:.3f}) "
                  f"score diff {row['mean_score_diff']:.4f} IoU {row['mean_iou']:.4f}", flush=True)
            return row

        rows = [quantized("all"), quantized("rule", exclude=sorted(tail.nodes))]
        trunk = [n.name for n in model.graph.node if n.name not in tail.nodes]
        rows.append(quantized("tail-only", exclude=trunk))
        rows.append(quantized("default-ops", exclude=sorted(tail.nodes), op_types=None))
        for conv in convs if not args.leave_one_out_only else ():
            rows.append(quantized(f"conv:{conv}", only=[conv]))
        if args.leave_one_out or args.leave_one_out_only:
            for conv in convs:
                if conv not in tail.nodes:
                    rows.append(quantized(f"float:{conv}", exclude=sorted(tail.nodes | {conv})))

    singles = sorted((r for r in rows if r["config"].startswith("conv:")), key=lambda r: r["mean_iou"])
    print("\nmost sensitive convolutions alone in INT8 (mean IoU of matched boxes, agreement at IoU 0.9):")
    for row in singles[:12]:
        marker = " (float tail)" if row["config"][5:] in tail.nodes else ""
        print(f"  {row['mean_iou']:.4f} {row['agreement_iou90']:.3f}  {row['config'][5:]}{marker}")
    kept = sorted((r for r in rows if r["config"].startswith("float:")), key=lambda r: -r["agreement_iou90"])
    if kept:
        print("\nconvolutions whose float keeping helps most (agreement at IoU 0.9, the rule alone: "
              f"{rows[1]['agreement_iou90']:.3f}):")
        for row in kept[:12]:
            print(f"  {row['agreement_iou90']:.3f} {row['mean_iou']:.4f}  {row['config'][6:]}")
    write_result(args.name or f"int8_sensitivity_{args.model.stem}", {
        "model": str(args.model), "method": args.method, "samples": len(calibration), "held_out_frames": len(frames),
        "float_tail_nodes": len(tail), "float_tail_convs": list(tail.final_convs), "rows": rows,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
