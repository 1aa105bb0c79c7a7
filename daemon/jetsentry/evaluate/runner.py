"""One scene through the daemon's own stages: decode -> batch -> infer -> NMS, then ByteTrack.

Detections come from `analyze_frames` and `FrameProcessor`, the code the daemon and
`jetsentry analyze` run, with the detector at the (low) evaluation confidence that COCO's
mAP needs.  The tracking is then the daemon's own, `pipeline.camera_tracker`: fed what
the daemon's detector emits while tracking (scores above the tracker's low_threshold,
`pipeline.tracker_input`), given each frame's capture timestamp, and returning the
tracked detections the daemon would publish (scores above its model.confidence).  Cutting
the low-confidence stream equals running NMS at the cut, because greedy NMS keeps or drops
a box by higher-scored boxes only (tests/evaluate/test_runner.py checks it frame by frame).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jetsentry.analyze import analyze_frames, build_processor
from jetsentry.capture.errors import CaptureError
from jetsentry.capture.reader import VideoFileReader
from jetsentry.config.models import ModelConfig, TrackerConfig
from jetsentry.detections import Detections
from jetsentry.evaluate.scenes import Scene, SceneError
from jetsentry.pipeline import DEFAULT_FRAME_RATE, camera_tracker, tracker_input


@dataclass(frozen=True)
class SceneRun:
    scene: Scene
    detections: list[Detections]  # per frame (index 0 = frame 1), evaluation confidence, before tracking
    tracked: list[Detections]  # per frame, what the daemon would publish (track_ids >= 1)
    timestamps: list[float]  # per frame, the capture timestamp the tracker was given
    frame_rate: float  # the rate the tracker ran at (measured from the timestamps)
    seconds: float  # wall time of decode + inference (tracking excluded)

    @property
    def frames(self) -> int:
        return len(self.detections)


def track_detections(detections: Sequence[Detections], timestamps: Sequence[float], config: TrackerConfig, *,
                     confidence: float, frame_rate: float = DEFAULT_FRAME_RATE) -> tuple[list[Detections], float]:
    """One camera's tracking as the daemon runs it over these frames: (published detections per frame,
    the rate the tracker ended at).  `confidence` is the daemon's model.confidence; `frame_rate` the
    rate assumed until measured."""
    tracker = camera_tracker(config, confidence=confidence, frame_rate=frame_rate)
    tracked = [tracker.update(tracker_input(d, config), ts) for d, ts in zip(detections, timestamps, strict=True)]
    return tracked, tracker.frame_rate


class SceneRunner:
    """Runs scenes through one detector (loaded once) and a fresh tracker per scene.

    model: detector settings; its confidence is the evaluation confidence (e.g. 0.001),
    at most the tracker's low_threshold so the tracker gets all it would get in the daemon.
    tracker, track_confidence: the daemon's tracker settings and model confidence.
    """

    def __init__(self, model: ModelConfig, tracker: TrackerConfig, *, track_confidence: float,
                 batch: int = 1, decoder: str = "auto") -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if model.confidence > tracker.low_threshold:
            raise ValueError(f"detector confidence {model.confidence:g} is above tracker.low_threshold "
                             f"{tracker.low_threshold:g}: the tracker would miss detections the daemon gives it")
        self.model = model
        self.tracker = tracker
        self.track_confidence = track_confidence
        self.batch = batch
        self.decoder = decoder
        # No tracker inside the processor: it sees the low-confidence stream.
        self.processor = build_processor(model, None, camera_id="eval", frame_rate=None, device_id="eval")

    @property
    def backend(self) -> str:
        return self.processor.backend

    def run(self, scene: Scene) -> SceneRun:
        """Raises SceneError when the video cannot be opened or has the wrong length, CaptureError
        when decoding fails part way."""
        try:
            reader = VideoFileReader(scene.video, camera_id=scene.name, decoder=self.decoder)
        except CaptureError as exc:
            raise SceneError(naming(scene.video, exc)) from None
        started = time.perf_counter()
        results = list(analyze_frames(reader, self.processor, batch=self.batch))
        seconds = time.perf_counter() - started
        _check_length(scene, len(results))
        detections = [r.detections for r in results]
        timestamps = [r.frame.capture_ts for r in results]
        tracked, frame_rate = track_detections(detections, timestamps, self.tracker,
                                               confidence=self.track_confidence,
                                               frame_rate=reader.fps or scene.fps or DEFAULT_FRAME_RATE)
        return SceneRun(scene=scene, detections=detections, tracked=tracked, timestamps=timestamps,
                        frame_rate=frame_rate, seconds=seconds)


def naming(path: Path, exc: Exception) -> str:
    """The error's message, prefixed with the path unless it names it already."""
    message = str(exc)
    return message if str(path) in message else f"{path}: {message}"


def _check_length(scene: Scene, decoded: int) -> None:
    last_gt = int(scene.gt.frame.max()) if len(scene.gt) else 0
    if scene.frames is not None and decoded != scene.frames:
        raise SceneError(f"{scene.video}: decoded {decoded} frames but {scene.path / 'scene.json'} "
                         f"declares {scene.frames}")
    if decoded < last_gt:
        raise SceneError(f"{scene.video}: decoded {decoded} frames but the ground truth reaches frame {last_gt}")
