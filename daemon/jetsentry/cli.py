"""The `jetsentry` command: run, status, consume, analyze, check-config, engines, models, synth, eval, version.

Each subcommand imports its module lazily so `jetsentry version` or
`check-config` work without GStreamer or ONNX Runtime being importable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jetsentry import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad configuration or arguments


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"jetsentry {__version__}")
    return EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    from jetsentry.config import ConfigError, load_config, report_config_error

    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        report_config_error(exc)
        return EXIT_USAGE
    enabled = sum(1 for cam in cfg.cameras if cam.enabled)
    variants = f", variants {', '.join(sorted(cfg.model.variants))}" if cfg.model.variants else ""
    print(f"{args.file}: OK ({len(cfg.cameras)} camera(s), {enabled} enabled, model {cfg.model.path}{variants})")
    from jetsentry.capture.preflight import machine_warnings

    for warning in machine_warnings(cfg):  # valid, but will not work on this machine
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from jetsentry.signals import StopRequest

    # Before the heavy imports and the model load, so that a stop during them is a clean stop.
    stop = StopRequest().install()
    import faulthandler

    # Every thread's stack on stderr (the journal) when systemd's watchdog sends SIGABRT.
    faulthandler.enable()
    from jetsentry.malloc_arenas import cap_malloc_arenas

    cap_malloc_arenas()  # before the imports and stages below start threads
    from jetsentry.service import run_service

    try:
        return run_service(args.config, stop)
    finally:
        stop.ignore_further()  # done: a late signal must not kill the exiting process


def _cmd_analyze(args: argparse.Namespace) -> int:
    from jetsentry.analyze import analyze_main

    return analyze_main(args)


def _cmd_synth(argv: list[str]) -> int:
    from jetsentry.synth.cli import main as synth_main

    return synth_main(argv)


def _cmd_eval(argv: list[str]) -> int:
    from jetsentry.evaluate.cli import main as eval_main

    return eval_main(argv)


def _cmd_engines(argv: list[str]) -> int:
    from jetsentry.engines_cli import main as engines_main

    return engines_main(argv)


def _cmd_status(argv: list[str]) -> int:
    from jetsentry.status_cli import main as status_main

    return status_main(argv)


def _cmd_consume(argv: list[str]) -> int:
    from jetsentry.consume.cli import main as consume_main

    return consume_main(argv)


def _cmd_models(argv: list[str]) -> int:
    from jetsentry.convert.cli import main as models_main

    return models_main(argv)


# Subcommands that own their argument parsing.
_DELEGATED = {"synth": _cmd_synth, "eval": _cmd_eval, "engines": _cmd_engines, "models": _cmd_models,
              "status": _cmd_status, "consume": _cmd_consume}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetsentry", description="Edge video analytics daemon.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the daemon")
    p.add_argument("--config", type=Path, required=True, help="YAML configuration file")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("analyze", help="run every frame of a video file through the pipeline")
    p.add_argument("video", help="video file (mp4, mkv, raw .h264/.h265)")
    p.add_argument("--model", type=Path, required=True,
                   help="YOLO detection ONNX (YOLOv8, YOLO11, YOLO26, YOLOv10; FP32, FP16 or INT8)")
    p.add_argument("--out", type=Path, help="write one JSON message per frame to this .jsonl file")
    p.add_argument("--no-track", action="store_true", help="skip ByteTrack")
    p.add_argument("--config", type=Path, help="take model/tracker settings from this config")
    p.add_argument("--batch", type=int, default=1, help="frames per inference batch (default 1)")
    p.add_argument("--input-size", type=int, help="longest input side for dynamic-shape models")
    p.add_argument("--conf", type=float, help="confidence threshold")
    p.add_argument("--iou", type=float, help="NMS IoU threshold")
    p.add_argument("--backend", help="onnxruntime-cpu (default), onnxruntime-cuda, onnxruntime-tensorrt, tensorrt")
    p.add_argument("--state-dir", type=Path, help="where built TensorRT engines are kept (default: the config's "
                   "state_dir, or /var/lib/jetsentry)")
    p.add_argument("--decoder", default="auto", help="GStreamer decoder: auto, cpu, nvcodec, nvv4l2 or an element")
    p.add_argument("--camera-id", default="file", help="camera_id written in the messages")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("check-config", help="validate a configuration file; exit 2 on errors")
    p.add_argument("file", type=Path)
    p.set_defaults(func=_cmd_check_config)

    sub.add_parser("status", help="show the running daemon's cameras, health, backend and queues "
                   "(see status --help)", add_help=False)
    sub.add_parser("consume", help="receive detections messages, de-duplicated, gaps reported, as JSON lines "
                   "(see consume --help)", add_help=False)
    sub.add_parser("engines", help="build TensorRT engines ahead of time (see engines build --help)", add_help=False)
    sub.add_parser("synth", help="generate synthetic scenes with ground truth (see synth --help)", add_help=False)
    sub.add_parser("eval", help="evaluate detection and tracking on scenes (see eval --help)", add_help=False)
    sub.add_parser("models", help="make INT8 (quantize) and FP16 variants of a model (see models --help)",
                   add_help=False)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jetsentry.optional import MissingDependencyError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _DELEGATED:
            return _DELEGATED[argv[0]](argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        return args.func(args)
    except MissingDependencyError as exc:  # what to install and how, never a traceback
        print(f"jetsentry {argv[0]}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
