"""`jetsentry models quantize` and `jetsentry models fp16`: INT8 (QDQ) and FP16 files from an FP32 ONNX.

Exit status: 0 written; 2 bad arguments or input (not an ONNX detection model, a model that
is not FP32, a calibration source that is missing, empty, unreadable or has fewer frames
than --samples, a bad config), with a message naming the problem; 1 a failure while
quantizing or converting.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from jetsentry.command import UsageError, run_command
from jetsentry.optional import GSTREAMER, ONNX_RUNTIME, require

EXIT_FAILURE = 1


def build_parser(prog: str = "jetsentry models") -> argparse.ArgumentParser:
    from jetsentry.convert.fp16 import DEFAULT_HEAD
    from jetsentry.convert.quantize import DEFAULT_METHOD, DEFAULT_SAMPLES, METHODS

    parser = argparse.ArgumentParser(prog=prog, description="Make INT8 (QDQ) and FP16 variants of a detection ONNX.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = sub.add_parser("quantize", help="static INT8 quantization (QDQ), calibrated on real frames",
                       description="Static INT8 quantization in explicit Q/DQ form, for ONNX Runtime and TensorRT "
                                   "8.5 to 11 (docs/QUANTIZATION.md).")
    q.add_argument("--model", type=Path, required=True, help="FP32 detection ONNX")
    q.add_argument("--calib", type=Path, required=True, action="append",
                   help="calibration frames: a video file, a folder of images, or a daemon config (its cameras); "
                        "repeat for several sources (an equal share of --samples from each)")
    q.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                   help=f"calibration frames, spread evenly over the source (default {DEFAULT_SAMPLES})")
    q.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                   help=f"calibration method (default {DEFAULT_METHOD}: the most accurate, docs/QUANTIZATION.md)")
    q.add_argument("--input-size", type=int, default=None,
                   help="longest input side for dynamic-shape models (default: the config's model.input_size, else 640)")
    q.add_argument("--decoder", default="auto", help="GStreamer decoder for videos: auto, cpu, nvcodec, nvv4l2")
    q.add_argument("--out", type=Path, required=True, help="the INT8 ONNX to write")
    f = sub.add_parser("fp16", help="FP16 weights and compute, float32 input and output",
                       description="FP16 weights and compute with float32 input and output (docs/QUANTIZATION.md).")
    f.add_argument("--model", type=Path, required=True, help="FP32 detection ONNX")
    f.add_argument("--head", choices=("fp32", "fp16"), default=DEFAULT_HEAD,
                   help=f"precision of the head's final convolutions and box decoding (default {DEFAULT_HEAD})")
    f.add_argument("--out", type=Path, required=True, help="the FP16 ONNX to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    action = argv[0] if argv and argv[0] in ("quantize", "fp16") else None
    return run_command(f"jetsentry models {action}" if action else "jetsentry models", build_parser(), argv, _run)


def _run(args: argparse.Namespace) -> int:
    try:
        return _quantize(args) if args.action == "quantize" else _fp16(args)
    except UsageError:
        raise
    except Exception as exc:  # the quantizer or converter failed on a valid model: one line, no traceback
        from jetsentry.config import ConfigError
        from jetsentry.optional import MissingDependencyError

        if isinstance(exc, (ConfigError, MissingDependencyError)):
            raise
        reason = traceback.format_exception_only(type(exc), exc)[-1].strip()
        print(f"jetsentry models {args.action}: error: {args.model} -> {args.out} failed: {reason}", file=sys.stderr)
        return EXIT_FAILURE


def _quantize(args: argparse.Namespace) -> int:
    from jetsentry.convert.calibration import CONFIG_SUFFIXES, CalibrationError, load_calibration
    from jetsentry.convert.files import ConversionError
    from jetsentry.convert.quantize import quantize_model

    needs = [ONNX_RUNTIME]
    if not all(source.is_dir() for source in args.calib):  # video files and cameras decode through GStreamer
        needs.append(GSTREAMER)
    require("jetsentry models quantize", *needs)
    if args.samples < 1:
        raise UsageError(f"--samples must be >= 1, got {args.samples}")
    info = _checked_paths(args)
    input_size = args.input_size
    configs = [s for s in args.calib if s.suffix.lower() in CONFIG_SUFFIXES and s.is_file()]
    if input_size is None and configs:
        from jetsentry.config import load_config

        input_size = load_config(configs[0]).model.input_size
    try:
        calibration = load_calibration(args.calib, info, args.samples, input_size=input_size or 640,
                                       decoder=args.decoder)
    except (CalibrationError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        result = quantize_model(args.model, calibration, args.out, method=args.method)
    except ConversionError as exc:
        raise UsageError(str(exc)) from None
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {result.path}: INT8 QDQ, {result.quantized_convs} weighted layers in INT8; in float: "
          f"{len(result.final_convs)} final convolutions and {result.float_nodes - len(result.final_convs)} nodes "
          f"after them; calibration {args.method} on {len(calibration)} frames of {calibration.source} "
          f"(sha256 {calibration.sha256[:16]}); meets TensorRT's explicit-quantization rules "
          f"(TensorRT {result.metadata['tensorrt']})")
    return 0


def _fp16(args: argparse.Namespace) -> int:
    from jetsentry.convert.files import ConversionError
    from jetsentry.convert.fp16 import convert_to_fp16

    require("jetsentry models fp16", ONNX_RUNTIME)
    _checked_paths(args)
    try:
        result = convert_to_fp16(args.model, args.out, head=args.head)
    except ConversionError as exc:
        raise UsageError(str(exc)) from None
    kept = f"{result.float32_nodes} head nodes in float32" if result.float32_nodes else "head in float16"
    print(f"wrote {result.path}: FP16 weights and compute, float32 input and output, {kept}")
    return 0


def _checked_paths(args: argparse.Namespace):
    """The model's ModelInfo, once --model and --out are usable."""
    from jetsentry.infer import ModelError, ModelInfo

    try:
        info = ModelInfo.from_onnx(args.model)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    out: Path = args.out
    if out.exists() and out.resolve() == args.model.resolve():
        raise UsageError(f"--out {out} is the input model; write the converted model to another file")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    return info
