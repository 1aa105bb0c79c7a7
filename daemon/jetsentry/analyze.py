"""`jetsentry analyze`: every frame of a video file through the daemon's stages, as fast as possible."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from jetsentry.batch.prefetch import PrefetchedBatches
from jetsentry.capture.errors import CaptureError
from jetsentry.capture.frame import Frame
from jetsentry.capture.reader import VideoFileReader
from jetsentry.config.models import ModelConfig, TrackerConfig
from jetsentry.infer.engine import DEFAULT_STATE_DIR, EngineOptions
from jetsentry.pipeline import FrameProcessor, ProcessedFrame

STAGES = ("decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total")


@dataclass
class AnalyzeSummary:
    frames: int = 0
    seconds: float = 0.0
    detections: int = 0
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    declared_frames: int | None = None  # what the container declares; None for raw streams
    decode_errors: int = 0  # capture/decode_problems.py

    @property
    def frames_lost(self) -> int | None:
        """Declared frames that were not decoded; None when the file declares no count."""
        return None if self.declared_frames is None else max(0, self.declared_frames - self.frames)

    def add(self, result: ProcessedFrame) -> None:
        self.frames += 1
        self.detections += len(result.detections)
        for stage in STAGES:
            self.stage_ms[stage].append(result.latency_ms[stage])

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        means = {s: round(float(np.mean(v)), 3) if v else 0.0 for s, v in self.stage_ms.items()}
        return {"frames": self.frames, "seconds": round(self.seconds, 3), "fps": round(self.fps, 2),
                "detections": self.detections, "declared_frames": self.declared_frames,
                "frames_lost": self.frames_lost, "decode_errors": self.decode_errors, "mean_ms": means}


def analyze_frames(
    reader: VideoFileReader, processor: FrameProcessor, *, batch: int = 1, overlap: bool = True
) -> Iterator[ProcessedFrame]:
    """Every decoded frame of `reader`, processed in batches of `batch`, in order.

    With `overlap` the next batch is converted and letterboxed in a background thread at
    idle priority while the current one is inferred (batch/prefetch.py); the results are
    the same either way.
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    batches = _batches(reader, batch)
    if not overlap:
        for frames in batches:
            yield from processor.process(frames)
        return
    with PrefetchedBatches(batches, processor.prepare, idle_priority=True) as prepared:
        for ready in prepared:
            yield from processor.complete(ready)


def _batches(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    pending: list[Frame] = []
    for frame in frames:
        pending.append(frame)
        if len(pending) == size:
            yield pending
            pending = []
    if pending:
        yield pending


def build_processor(model_cfg: ModelConfig, tracker_cfg: TrackerConfig | None, *, camera_id: str,
                    frame_rate: float | None, device_id: str = "analyze",
                    options: EngineOptions | None = None) -> FrameProcessor:
    from jetsentry.infer import Detector

    detector = Detector.from_config(model_cfg, options)
    processor = FrameProcessor(detector, device_id=device_id, tracker=tracker_cfg)
    if frame_rate:
        processor.set_frame_rate(camera_id, frame_rate)
    return processor


def _settings(args: argparse.Namespace) -> tuple[ModelConfig, TrackerConfig | None, EngineOptions]:
    """Model and tracker settings: from --config if given, then command-line overrides."""
    from jetsentry.config.model_file import model_for_file

    model_cfg, app = model_for_file(args.model, args.config, {
        "input_size": args.input_size, "confidence": args.conf, "iou": args.iou, "backend": args.backend})
    tracker_cfg = app.tracker if app is not None else TrackerConfig()
    state_dir = app.state_dir if app is not None else DEFAULT_STATE_DIR
    if getattr(args, "state_dir", None) is not None:
        state_dir = args.state_dir
    options = EngineOptions(max_batch=max(1, args.batch), state_dir=state_dir)
    return model_cfg, (None if args.no_track or not tracker_cfg.enabled else tracker_cfg), options


def analyze_main(args: argparse.Namespace) -> int:
    from jetsentry.config import ConfigError, report_config_error
    from jetsentry.infer import BackendUnavailableError, GpuError, ModelError, backend_factory
    from jetsentry.optional import GSTREAMER, require

    try:
        model_cfg, tracker_cfg, options = _settings(args)
    except ConfigError as exc:
        report_config_error(exc)
        return 2
    if args.batch < 1:
        print("error: --batch must be >= 1", file=sys.stderr)
        return 2
    try:
        require("jetsentry analyze", GSTREAMER)
        backend_factory(model_cfg.backend)
        reader = VideoFileReader(args.video, camera_id=args.camera_id, decoder=args.decoder, idle_priority=True)
        processor = build_processor(model_cfg, tracker_cfg, camera_id=args.camera_id, frame_rate=reader.fps,
                                    options=options)
    except (CaptureError, ModelError, BackendUnavailableError, GpuError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    summary = AnalyzeSummary()
    out = open(args.out, "wb") if args.out else None  # noqa: SIM115 - closed below
    started = time.perf_counter()
    status = 0
    read_to_end = True  # False when processing stopped before the file's end: no verdict on lost frames
    try:
        for result in analyze_frames(reader, processor, batch=args.batch):
            summary.add(result)
            if out is not None:
                out.write(result.payload + b"\n")
    except CaptureError as exc:
        print(f"error: {args.video}: {exc} (after {summary.frames} frames)", file=sys.stderr)
        status = 1
    except Exception as exc:  # an engine that loaded but fails on real frames: one line, not a traceback
        reason = traceback.format_exception_only(type(exc), exc)[-1].strip()
        print(f"error: {args.video}: processing failed after {summary.frames} frames: {reason}", file=sys.stderr)
        status = 1
        read_to_end = False
    finally:
        summary.seconds = time.perf_counter() - started
        summary.declared_frames = reader.info.frame_count
        summary.decode_errors = reader.decode_errors
        if out is not None:
            out.close()
    _print_summary(summary, reader, processor)
    if not read_to_end:
        return status
    lost, verdict = decode_verdict(summary, reader)
    if verdict:
        print(f"{'error' if lost else 'warning'}: {args.video}: {verdict}", file=sys.stderr)
    return 1 if lost else status


def decode_verdict(summary: AnalyzeSummary, reader: VideoFileReader) -> tuple[bool, str | None]:
    """(frames were lost, what to tell the user about damaged data; None when nothing was).

    Frames are lost when fewer decoded than the container declares; where it declares no
    count (raw H.264/H.265), any decode error counts as a loss of unknown size.
    """
    errors = summary.decode_errors
    latest = f" (latest: {reader.latest_decode_error})" if errors else ""
    problems = f"{errors} decode error(s){latest}"
    if summary.frames_lost:
        return True, (f"{summary.frames_lost} frames lost: decoded {summary.frames} of the {summary.declared_frames} "
                      f"the file declares; {problems}")
    if errors and summary.declared_frames is None:
        what = "a raw stream" if reader.info.container == "raw" else "this file"
        return True, f"{problems}; frames lost or damaged, how many is unknown: {what} declares no frame count"
    if errors:
        return False, f"{problems}; every declared frame decoded, some may be damaged"
    return False, None


def _print_summary(summary: AnalyzeSummary, reader: VideoFileReader, processor: FrameProcessor) -> None:
    data = summary.as_dict()
    info = reader.info
    print(f"video: {info.width}x{info.height} {info.codec}, decoder {reader.decoder}; backend {processor.backend}, "
          f"model {processor.model_precision}", file=sys.stderr)
    print(f"frames: {data['frames']}  time: {data['seconds']:.2f} s  frames/s: {data['fps']:.2f}  "
          f"detections: {data['detections']}", file=sys.stderr)
    declared = "not declared" if summary.declared_frames is None else f"{summary.declared_frames} declared"
    print(f"decode: {summary.frames} frames decoded ({declared}), {summary.decode_errors} decode error(s)",
          file=sys.stderr)
    print("mean ms per frame: " + "  ".join(f"{k} {v:.2f}" for k, v in data["mean_ms"].items()), file=sys.stderr)
    print(json.dumps(data))
