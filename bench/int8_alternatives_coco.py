"""Alternatives to the quantizer's choices, on the COCO agreement protocol of int8_agreement_coco.py.

Each variant changes one thing against the shipped quantizer (Percentile at 99.999, Q/DQ on
the convolutions' inputs, weights and outputs, the float tail) and is judged as that script
judges the INT8 files: two folds of the photographs, each calibrated on the other fold;
agreement with FP32 at IoU >= 0.9 (same class), at IoU >= 0.5, and the mean score difference.

  percentile        the quantizer as shipped (the reference row)
  mse               each activation's range from the Percentile histograms, chosen to minimise
                    that tensor's quantization error (rounding inside, clipping outside)
  no-output-pairs   the convolutions' output Q/DQ pairs removed: inputs and weights only, the
                    placement TensorRT alone would need (ONNX Runtime's CPU kernels need the
                    output pairs to run integer convolutions)
  first-conv-float  the first convolution (the image's) kept in float as well
  bias-correction   empirical bias correction: in graph order, each trunk convolution's float
                    bias moved by the mean (per output channel, over the calibration frames) of
                    its INT8 output's difference from FP32's
  box-branch-float  the detection head's box branches (Ultralytics' cv2.*: three convolutions a
                    scale) kept in float, the class branches quantized (by node name: YOLOv8)
  head-float        the whole detection head (box and class branches) kept in float

Accuracy, not speed.

    python bench/int8_alternatives_coco.py [--model ../shared/models/yolov8n-coco.onnx] \
        [--variants percentile mse no-output-pairs first-conv-float bias-correction]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from common import write_result

from int8_agreement_coco import COCO_MODEL, detect, fold_calibrations, views
from int8_error_split import without_pairs
from jetsentry.convert.calibration import CalibrationSet
from jetsentry.convert.float_tail import float_tail
from jetsentry.convert.prepare import prepared_for_quantization
from jetsentry.convert.quantize import quantize_model
from jetsentry.infer import ModelInfo
from tests.infer.matching import match_detections
from tests.infer.photos import load_photos

VARIANTS = ("percentile", "mse", "no-output-pairs", "first-conv-float", "bias-correction", "box-branch-float",
            "head-float")
# Variants that keep more convolutions in float: which, by the FP32 graph's node names.
FLOAT_TOO = {
    "first-conv-float": lambda names: names[:1],
    "box-branch-float": lambda names: [n for n in names if "/model.22/cv2." in n],
    "head-float": lambda names: [n for n in names if "/model.22/" in n],
}


def mse_threshold(hist: np.ndarray, edges: np.ndarray) -> float:
    """The symmetric INT8 range (of |x|'s histogram) with the least expected squared error."""
    centres = (edges[:-1] + edges[1:]) / 2
    counts = hist.astype(np.float64)
    best, best_t = np.inf, float(edges[-1])
    for k in range(16, len(edges), 4):
        t = float(edges[k])
        step = t / 127.0
        error = np.where(centres <= t, np.minimum(centres ** 2, step * step / 12), (centres - t) ** 2)
        total = float((counts * error).sum())
        if total < best:
            best, best_t = total, t
    return best_t


@contextlib.contextmanager
def mse_ranges() -> Iterator[None]:
    """While inside: ONNX Runtime's calibrators hand over MSE ranges from their histograms."""
    ort_quantize = importlib.import_module("onnxruntime.quantization.quantize")
    original = ort_quantize.create_calibrator

    def create(*args, **kwargs):
        calibrator = original(*args, **kwargs)
        compute = calibrator.compute_data

        def compute_data():
            data = compute()
            for name, (hist, edges, _, _) in calibrator.collector.histogram_dict.items():
                t = np.float32(mse_threshold(hist, edges))
                data.data[name].lowest, data.data[name].highest = np.array(-t), np.array(t)
            return data

        calibrator.compute_data = compute_data
        return calibrator

    ort_quantize.create_calibrator = create
    try:
        yield
    finally:
        ort_quantize.create_calibrator = original


def without_output_pairs(model: onnx.ModelProto) -> onnx.ModelProto:
    def after_conv(node: onnx.NodeProto, producers: dict) -> bool:
        source = producers.get(node.input[0])
        return source is not None and source.op_type == "Conv"

    return without_pairs(model, after_conv)


def conv_output_means(model: onnx.ModelProto, names: list[str], tensors: list[np.ndarray]) -> list[np.ndarray]:
    """Per output channel, the mean of each named tensor over the frames (graph unoptimised)."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    sums = [0.0] * len(names)
    for x in tensors:
        for i, out in enumerate(session.run(names, {feed: x})):
            sums[i] = sums[i] + out.mean(axis=(0, 2, 3))
    return [s / len(tensors) for s in sums]


def bias_corrected(model: onnx.ModelProto, fp32: onnx.ModelProto, calibration: CalibrationSet,
                   frames: int = 12) -> onnx.ModelProto:
    initializers = {i.name: i for i in model.graph.initializer}
    tail = float_tail(fp32).nodes
    convs = [n for n in model.graph.node if n.op_type == "Conv" and len(n.input) > 2
             and n.input[2] in initializers and n.name not in tail]
    tensors = list(calibration.tensors())[:frames]
    reference = conv_output_means(fp32, [n.output[0] for n in convs], tensors)
    for node, expected in zip(convs, reference):  # graph order: each sees the corrections before it
        shift = conv_output_means(model, [node.output[0]], tensors)[0] - expected
        bias = initializers[node.input[2]]
        bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) - shift.astype(np.float32), bias.name))
    return model


def make_variant(variant: str, model: Path, calibration: CalibrationSet, out: Path, fp32: onnx.ModelProto) -> Path:
    quantize = importlib.import_module("jetsentry.convert.quantize")
    if variant == "mse":
        with mse_ranges():
            quantize_model(model, calibration, out, show_progress=False)
        return out
    if variant in FLOAT_TOO:
        kept = set(FLOAT_TOO[variant]([n.name for n in fp32.graph.node if n.op_type == "Conv"]))
        if not kept:
            raise SystemExit(f"{variant}: no convolution of {model.name} matches (its node names are not YOLOv8's)")
        original: Callable = quantize.float_tail

        def with_kept(m):
            tail = original(m)
            return dataclasses.replace(tail, nodes=tail.nodes | kept)

        quantize.float_tail = with_kept
        try:
            quantize_model(model, calibration, out, show_progress=False)
        finally:
            quantize.float_tail = original
        return out
    quantize_model(model, calibration, out, show_progress=False)
    if variant == "no-output-pairs":
        onnx.save(without_output_pairs(onnx.load(str(out))), str(out))
    elif variant == "bias-correction":
        onnx.save(bias_corrected(onnx.load(str(out)), fp32, calibration), str(out))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=COCO_MODEL)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--name", default="int8_alternatives_coco")
    args = parser.parse_args()
    photos = load_photos()
    folds = [photos[0::2], photos[1::2]]
    evaluation = [views(fold) for fold in folds]
    reference = [detect(args.model, frames) for frames in evaluation]
    info = ModelInfo.from_onnx(args.model)
    fp32 = prepared_for_quantization(onnx.load(str(args.model)))
    rows = {}
    with tempfile.TemporaryDirectory(prefix="int8-alternatives-") as work:
        work = Path(work)
        calibration_sets = fold_calibrations(folds, info, work)
        for variant in args.variants:
            ours, theirs = [], []
            for index in (0, 1):  # fold `index`, calibrated on the other
                out = make_variant(variant, args.model, calibration_sets[1 - index], work / f"{variant}-{index}.onnx",
                                   fp32)
                ours += detect(out, evaluation[index])
                theirs += reference[index]
            strict = match_detections(ours, theirs, iou_min=0.9)
            loose = match_detections(ours, theirs, iou_min=0.5)
            rows[variant] = {
                "fp32_boxes": strict.theirs, "matched_iou90": strict.matched,
                "agreement_iou90": round(strict.matched / max(strict.theirs, 1), 4),
                "agreement_iou50": round(loose.matched / max(loose.theirs, 1), 4),
                "mean_score_diff": round(float(strict.score_diffs.mean()), 4) if strict.score_diffs.size else None,
            }
            print(f"{variant:18s} {rows[variant]}", flush=True)
    write_result(args.name, {"model": str(args.model), "photos": len(photos), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
