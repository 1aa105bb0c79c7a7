"""One scene through the daemon's own stages: decode -> batch -> infer -> NMS, then ByteTrack.

Detections come from `analyze_frames` and `FrameProcessor`, the code the daemon and
`jetsentry analyze` run, with the detector at the (low) evaluation confidence that COCO's
mAP needs.  The tracker is then fed what the daemon would feed it: the same detections
cut at the daemon's confidence (`score > confidence`, the detector's own rule).  That cut
equals running the detector at that confidence, because greedy NMS keeps or drops a box
by higher-scored boxes only (tests/evaluate/test_runner.py checks it frame by frame).
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
from jetsentry.pipeline import DEFAULT_FRAME_RATE, tracker_parameters
from jetsentry.track import ByteTracker


@dataclass(frozen=True)
class SceneRun:
    scene: Scene
    detections: list[Detections]  # per frame (index 0 = frame 1), evaluation confidence, before tracking
    tracked: list[Detections]  # per frame, the tracker's output (track_ids >= 1)
    frame_rate: float  # what the tracker was told
    seconds: float  # wall time of decode + inference (tracking excluded)

    @property
    def frames(self) -> int:
        return len(self.detections)


def track_detections(detections: Sequence[Detections], config: TrackerConfig, *, frame_rate: float,
                     confidence: float) -> list[Detections]:
    """A fresh ByteTracker over one camera's frames, fed only detections scoring above `confidence`."""
    tracker = ByteTracker(**tracker_parameters(config), frame_rate=frame_rate)
    return [tracker.update(d.select(d.scores > confidence)) for d in detections]


class SceneRunner:
    """Runs scenes through one detector (loaded once) and a fresh tracker per scene.

    model: detector settings; its confidence is the evaluation confidence (e.g. 0.001).
    tracker, track_confidence: the daemon's tracker settings and model confidence.
    """

    def __init__(self, model: ModelConfig, tracker: TrackerConfig, *, track_confidence: float,
                 batch: int = 1, decoder: str = "auto") -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if not model.confidence <= track_confidence <= 1.0:
            raise ValueError(f"track confidence {track_confidence} must lie between the detector's "
                             f"confidence {model.confidence} and 1 (detections below it were never made)")
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
        detections = [r.detections for r in analyze_frames(reader, self.processor, batch=self.batch)]
        seconds = time.perf_counter() - started
        _check_length(scene, len(detections))
        frame_rate = reader.fps or scene.fps or DEFAULT_FRAME_RATE
        tracked = track_detections(detections, self.tracker, frame_rate=frame_rate,
                                   confidence=self.track_confidence)
        return SceneRun(scene=scene, detections=detections, tracked=tracked, frame_rate=frame_rate,
                        seconds=seconds)


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
