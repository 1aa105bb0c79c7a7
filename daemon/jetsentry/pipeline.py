"""The frame path after capture: batch of frames -> infer -> track -> message.

Shared by the daemon (`service.py`), `jetsentry analyze` and `jetsentry eval`, so
all three run exactly the same stages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jetsentry.capture.frame import Frame
from jetsentry.config.models import TrackerConfig
from jetsentry.detections import Detections
from jetsentry.infer import Detector
from jetsentry.infer.detector import PreparedInput, StageTimes
from jetsentry.publish.message import ModelInfo as MessageModelInfo
from jetsentry.publish.message import build_detections_message
from jetsentry.track import ByteTracker, CameraTracker

log = logging.getLogger("jetsentry.pipeline")

DEFAULT_FRAME_RATE = 30.0  # assumed for a camera's tracker until its processed rate is measured


def tracking_nms_confidence(tracker: TrackerConfig | None) -> float | None:
    """The detector's NMS threshold in the frame path: the tracker's low_threshold while
    tracking, so its second stage gets input; None (model.confidence) without tracking."""
    return None if tracker is None else tracker.low_threshold


def tracker_input(detections: Detections, tracker: TrackerConfig) -> Detections:
    """Of detections made at a lower confidence, those the frame path's NMS keeps while tracking
    (greedy NMS drops a box only for higher-scored ones, so the cut equals NMS at the threshold)."""
    return detections.select(detections.scores > tracking_nms_confidence(tracker))


def camera_tracker(config: TrackerConfig, *, confidence: float, frame_rate: float, name: str = "") -> CameraTracker:
    """One camera's tracking from the configuration, publishing tracked scores above ``confidence``."""
    tracker = ByteTracker(**tracker_parameters(config, confidence), frame_rate=frame_rate)
    return CameraTracker(tracker, min_score=confidence, name=name)


def tracker_parameters(config: TrackerConfig, confidence: float | None = None) -> dict[str, float | int]:
    """ByteTracker's keyword arguments: every TrackerConfig field but ``enabled``.

    With the publishing confidence (model.confidence): where it is above high_threshold or
    new_track_threshold, those are raised to it, so a detection that could not be published
    neither starts a track nor matches in stage one (it may still extend a track in stage
    two).  docs/EVALUATION.md measures it.
    """
    parameters = config.model_dump(exclude={"enabled"})
    if confidence is not None:
        for name in ("high_threshold", "new_track_threshold"):
            parameters[name] = max(parameters[name], confidence)
    return parameters


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """Frames of one batch, letterboxed and waiting for inference."""

    frames: list[Frame]
    formed: float  # monotonic time the batch was taken from capture
    input: PreparedInput


@dataclass(frozen=True, slots=True)
class InferredBatch:
    """Detections of a batch, before tracking and messages."""

    frames: list[Frame]
    formed: float
    detections: list[Detections]
    times: StageTimes


@dataclass(slots=True)
class ProcessedFrame:
    frame: Frame
    detections: Detections  # track_ids filled when tracking is on
    latency_ms: dict[str, float]
    payload: bytes  # the JSON message


class FrameProcessor:
    """Runs one batch of frames (from any cameras) through infer, track and message building.

    Without a tracker (None, or enabled: false) the detector keeps scores above
    model.confidence and every detection is published without a track id.  With one:

    * NMS keeps scores above the tracker's low_threshold, and all of them go to the
      camera's tracker, so ByteTrack's second stage gets the detections between
      low_threshold and high_threshold (model.confidence alone would cut them);
    * published are the tracked detections scoring above model.confidence (the detector's
      rule, score > confidence), so tracking never publishes a detection the detector
      alone would have dropped;
    * confidence above high_threshold (or new_track_threshold) raises those to it: only
      publishable detections start tracks or match in stage one, weaker ones may carry a
      track through frames where it is not published (``tracker_parameters``);
    * confidence below low_threshold changes nothing: no detection at or below
      low_threshold is ever tracked, so none is published (a warning says so).

    One CameraTracker per camera, created on first sight: its tracker runs at the rate
    the camera's frames are actually processed, measured from their capture timestamps
    (the rate given by ``frame_rates``/``set_frame_rate``, e.g. an fps cap or a file's
    rate, or 30 frames/s, only until measured), and drops its tracks after a gap longer
    than the track buffer (track/camera_tracker.py).
    ``prepare`` may run in another thread than ``complete``, at most one batch ahead
    (batch/prefetch.py); ``complete`` is ``infer`` then ``finish``, and ``finish`` may run
    in a third thread, behind ``infer`` (batch/finisher.py).  Each is called from one
    thread at a time.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        device_id: str,
        tracker: TrackerConfig | None,
        frame_rates: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        run: int = 0,
    ) -> None:
        self._detector = detector
        self._device_id = device_id
        self._run = run  # the daemon's start count: part of each message_id
        self._tracker_config = tracker if tracker is not None and tracker.enabled else None
        self._nms_confidence = tracking_nms_confidence(self._tracker_config)
        self._frame_rates = dict(frame_rates or {})
        self._trackers: dict[str, CameraTracker] = {}
        self._clock = clock
        info = detector.info
        self._labels = np.asarray(info.class_names, dtype=object)
        self._model = MessageModelInfo(name=info.name, version=info.version or "", sha256=info.sha256)
        self.backend = detector.engine.backend  # the backend type (model.backend.type)
        self.model_precision = info.precision  # fp32, fp16 or int8: the file the backend runs
        if self._tracker_config is not None and detector.confidence < self._tracker_config.low_threshold:
            log.warning("model.confidence %g is below tracker.low_threshold %g: with tracking on, no detection "
                        "scoring %g or less is published", detector.confidence,
                        self._tracker_config.low_threshold, self._tracker_config.low_threshold)

    def set_frame_rate(self, camera_id: str, fps: float) -> None:
        """Assume this rate for a camera's tracker until it is measured (only before its first frame)."""
        self._frame_rates[camera_id] = fps

    def frame_rate(self, camera_id: str) -> float | None:
        """The rate a camera's tracker runs at now; None before its first tracked frame."""
        tracker = self._trackers.get(camera_id)
        return None if tracker is None else tracker.frame_rate

    def _tracker_for(self, camera_id: str) -> CameraTracker:
        tracker = self._trackers.get(camera_id)
        if tracker is None:
            rate = self._frame_rates.get(camera_id) or DEFAULT_FRAME_RATE
            tracker = self._trackers[camera_id] = camera_tracker(
                self._tracker_config, confidence=self._detector.confidence, frame_rate=rate, name=camera_id)
        return tracker

    def forget_camera(self, camera_id: str) -> None:
        """Drop a camera's tracks now (its ids keep counting); a gap longer than the track
        buffer does this by itself."""
        tracker = self._trackers.get(camera_id)
        if tracker is not None:
            tracker.forget_tracks()

    def process(self, frames: Sequence[Frame], batch_formed: float | None = None) -> list[ProcessedFrame]:
        if not frames:
            return []
        return self.complete(self.prepare(frames, batch_formed))

    def prepare(self, frames: Sequence[Frame], batch_formed: float | None = None) -> PreparedBatch:
        """Pre-processing of a non-empty batch by the engine's side (colour conversion and
        letterbox; may run in another thread than ``complete``, one batch ahead).  Device
        pictures go back to their decoders once read, also when pre-processing failed."""
        if not frames:
            raise ValueError("no frames to prepare")
        formed = self._clock() if batch_formed is None else batch_formed
        try:
            prepared = self._detector.prepare(frames)
        finally:
            for frame in frames:
                frame.release()
        return PreparedBatch(list(frames), formed, prepared)

    def complete(self, batch: PreparedBatch) -> list[ProcessedFrame]:
        """Inference, decoding, tracking and messages for a prepared batch, in batch order."""
        return self.finish(self.infer(batch))

    def infer(self, batch: PreparedBatch) -> InferredBatch:
        """Inference and head decoding + NMS of a prepared batch."""
        detections, times = self._detector.run(batch.input, confidence=self._nms_confidence)
        return InferredBatch(batch.frames, batch.formed, detections, times)

    def finish(self, batch: InferredBatch) -> list[ProcessedFrame]:
        """Tracking and messages for an inferred batch, in batch order (may run in another
        thread than ``infer``, behind it: batch/finisher.py; one thread at a time, in order)."""
        formed, times = batch.formed, batch.times
        results = []
        for frame, dets in zip(batch.frames, batch.detections):
            track_started = self._clock()
            if self._tracker_config is not None:
                dets = self._tracker_for(frame.camera_id).update(dets, frame.capture_ts)
            tracked = self._clock()
            latency = {
                "decode_to_batch": max(0.0, (formed - frame.received_monotonic) * 1e3),
                "preprocess": times.preprocess_ms,
                "inference": times.inference_ms,
                "postprocess": times.postprocess_ms,
                "tracking": (tracked - track_started) * 1e3,
                "total": max(0.0, (tracked - frame.received_monotonic) * 1e3),
            }
            payload = build_detections_message(
                device_id=self._device_id,
                camera_id=frame.camera_id,
                seq=frame.seq,
                capture_ts=frame.capture_ts,
                model=self._model,
                backend=self.backend,
                width=frame.width,
                height=frame.height,
                detections=dets,
                labels=self._labels,
                latency_ms=latency,
                run=self._run,
            )
            results.append(ProcessedFrame(frame=frame, detections=dets, latency_ms=latency, payload=payload))
        return results
