"""`jetsentry eval`: detection mAP and tracking MOTA/IDF1/HOTA of the full pipeline on scene folders.

Prints per-scene and overall tables and the scene statistics, then, as the last line
of stdout, one JSON object whose first keys are map50, map50_95, mota, idf1 and hota.
Exit status: 0 done, 2 bad arguments or input (message on stderr), 1 a failure while
decoding or inferring.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jetsentry.command import UsageError, run_command
from jetsentry.config.models import ModelConfig, TrackerConfig
from jetsentry.optional import (
    FASTER_COCO_EVAL,
    GSTREAMER,
    PYCOCOTOOLS,
    SCIPY,
    TRACKEVAL,
    require,
)

EXIT_FAILURE = 1
DEFAULT_EVAL_CONFIDENCE = 0.001  # COCO mAP integrates over all scores; Ultralytics' val uses the same
COCO_LIBRARIES = {"faster-coco-eval": FASTER_COCO_EVAL, "pycocotools": PYCOCOTOOLS}


def build_parser(prog: str = "jetsentry eval") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Run scene videos through the full pipeline and score detection and tracking "
                               "against their ground truth.")
    p.add_argument("--model", type=Path, required=True,
                   help="YOLO detection ONNX (YOLOv8, YOLO11, YOLO26, YOLOv10; FP32, FP16 or INT8)")
    p.add_argument("--scenes", type=Path, required=True, help="folder of scene_* folders, or one scene folder")
    p.add_argument("--backend", default=None,
                   help="onnxruntime-cpu (default), onnxruntime-cuda or onnxruntime-tensorrt")
    p.add_argument("--batch", type=int, default=1, help="frames per inference batch (default 1)")
    p.add_argument("--conf", type=float, default=DEFAULT_EVAL_CONFIDENCE,
                   help=f"detector confidence for mAP (default {DEFAULT_EVAL_CONFIDENCE})")
    p.add_argument("--track-conf", type=float, default=None,
                   help="the daemon's model.confidence: tracked objects scoring above it are scored, as the daemon "
                        "publishes them (default: --config's, else "
                        f"{ModelConfig.model_fields['confidence'].default}); the tracker is fed detections above "
                        "tracker.low_threshold, as in the daemon")
    p.add_argument("--iou", type=float, default=None, help="NMS IoU threshold (default: --config's, else 0.7)")
    p.add_argument("--input-size", type=int, default=None, help="longest input side for dynamic-shape models")
    p.add_argument("--config", type=Path, default=None,
                   help="take model and tracker settings from this daemon configuration")
    p.add_argument("--decoder", default="auto", help="GStreamer decoder: auto, cpu, nvcodec, nvv4l2 or an element")
    p.add_argument("--coco-library", choices=tuple(COCO_LIBRARIES), default="faster-coco-eval",
                   help="library computing mAP (default faster-coco-eval; both give the same numbers)")
    p.add_argument("--json", type=Path, default=None, help="also write the result object to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command("jetsentry eval", build_parser(), argv, _evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    # Before any work: without these the run would fail after decoding every scene.
    require("jetsentry eval", GSTREAMER, COCO_LIBRARIES[args.coco_library], TRACKEVAL, SCIPY)
    from jetsentry.capture.errors import CaptureError
    from jetsentry.evaluate.detection_metrics import CocoDetectionEvaluator
    from jetsentry.evaluate.report import format_tables, summarize
    from jetsentry.evaluate.runner import SceneRunner, naming
    from jetsentry.evaluate.scenes import SceneError, load_scenes
    from jetsentry.evaluate.tracking_metrics import TrackingEvaluator
    from jetsentry.infer import BackendUnavailableError, ModelError, backend_factory

    _check_numbers(args)
    if not args.model.is_file():
        raise UsageError(f"model file not found: {args.model}")
    try:
        scenes = load_scenes(args.scenes)
    except SceneError as exc:
        raise UsageError(str(exc)) from None
    model_cfg, tracker_cfg, track_conf = _settings(args)
    try:
        backend_factory(model_cfg.backend)
        model_info = _checked_model(model_cfg.path, scenes[0].classes, scenes[0].path)
        runner = SceneRunner(model_cfg, tracker_cfg, track_confidence=track_conf, batch=args.batch,
                             decoder=args.decoder)
    except (ModelError, BackendUnavailableError, ValueError) as exc:
        raise UsageError(str(exc)) from None

    detection = CocoDetectionEvaluator(scenes[0].classes, library=args.coco_library)
    tracking = TrackingEvaluator()
    print(f"evaluating {len(scenes)} scene(s) with {model_cfg.path} on {runner.backend}: detector confidence "
          f"{model_cfg.confidence:g} for mAP, tracker fed detections above {tracker_cfg.low_threshold:g}, "
          f"tracks scored above {track_conf:g}", file=sys.stderr)
    runs = []
    for scene in scenes:
        try:
            runs.append(_run_scene(runner, scene, detection, tracking))
        except SceneError as exc:
            raise UsageError(str(exc)) from None
        except CaptureError as exc:  # decoding failed part way
            print(f"jetsentry eval: error: {naming(scene.video, exc)}", file=sys.stderr)
            return EXIT_FAILURE

    record = _settings_record(args, model_cfg, tracker_cfg, track_conf, runner.backend, model_info.sha256)
    summary = summarize(runs, detection, tracking, record)
    line = json.dumps(summary)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(format_tables(summary))
    print(line, flush=True)
    return 0


def _run_scene(runner, scene, detection, tracking):
    """Run one scene and hand its detections and tracks to the evaluators."""
    run = runner.run(scene)
    detection.add_sequence(scene.name, scene.gt, run.detections)
    scores = tracking.add_sequence(scene.name, scene.gt, run.tracked)
    print(f"  {scene.name}: {run.frames} frames in {run.seconds:.1f} s, MOTA {scores.mota:.3f} "
          f"IDF1 {scores.idf1:.3f}", file=sys.stderr, flush=True)
    return run


def _check_numbers(args: argparse.Namespace) -> None:
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}")
    if not 0.0 <= args.conf < 1.0:
        raise UsageError(f"--conf must be within [0, 1), got {args.conf}")
    if args.track_conf is not None and not 0.0 <= args.track_conf <= 1.0:
        raise UsageError(f"--track-conf must be within [0, 1], got {args.track_conf}")
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        raise UsageError(f"--json {args.json}: " + ("is a directory" if args.json.is_dir()
                                                    else f"folder {args.json.parent} does not exist"))


def _settings(args: argparse.Namespace) -> tuple[ModelConfig, TrackerConfig, float]:
    """Detector settings at the evaluation confidence, the tracker's, and the daemon's confidence."""
    from jetsentry.config.model_file import model_for_file

    model_cfg, app = model_for_file(args.model, args.config, {
        "confidence": args.conf, "iou": args.iou, "input_size": args.input_size, "backend": args.backend})
    tracker_cfg = app.tracker if app is not None else TrackerConfig()
    track_conf = args.track_conf
    if track_conf is None:
        track_conf = app.model.confidence if app is not None else ModelConfig.model_fields["confidence"].default
    return model_cfg, tracker_cfg, float(track_conf)


def _checked_model(model_path: Path, scene_classes: tuple[str, ...], scene_path: Path):
    """The model's ModelInfo; it must predict exactly the scenes' classes, in order (ids are compared)."""
    from jetsentry.infer import ModelInfo

    info = ModelInfo.from_onnx(model_path)
    names = info.class_names
    where = scene_path / "scene.json"
    if len(names) != len(scene_classes):
        raise UsageError(f"{model_path} predicts {len(names)} classes but {where} lists {len(scene_classes)} "
                         f"({', '.join(scene_classes)}): the model was not trained for these scenes")
    if tuple(n.lower() for n in names) != tuple(c.lower() for c in scene_classes):
        raise UsageError(f"{model_path} classes {list(names)} differ from {where} classes {list(scene_classes)}: "
                         "class ids would be compared across different classes")
    return info


def _settings_record(args: argparse.Namespace, model_cfg: ModelConfig, tracker_cfg: TrackerConfig,
                     track_conf: float, backend: str, model_sha256: str) -> dict:
    import onnxruntime

    return {
        "model": str(model_cfg.path),
        "model_sha256": model_sha256,
        "scenes": str(args.scenes),
        "backend": backend,
        "onnxruntime": onnxruntime.__version__,
        "conf": model_cfg.confidence,
        "track_conf": track_conf,
        "tracker_input_conf": tracker_cfg.low_threshold,
        "iou": model_cfg.iou,
        "input_size": model_cfg.input_size,
        "max_detections": model_cfg.max_detections,
        "batch": args.batch,
        "tracker": tracker_cfg.model_dump(),
        "tracking_classes": "agnostic",
        "coco_library": args.coco_library,
    }
