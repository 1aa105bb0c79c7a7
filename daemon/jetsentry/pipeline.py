"""The frame path after capture: batch of frames -> infer -> track -> message.

Shared by the daemon (`service.py`), `jetsentry analyze` and `jetsentry eval`, so
all three run exactly the same stages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jetsentry.capture.frame import Frame, pictures_to_host
from jetsentry.config.models import TrackerConfig
from jetsentry.detections import Detections
from jetsentry.infer import Detector
from jetsentry.infer.deadline import EngineDeadline
from jetsentry.infer.detector import PreparedInput, StageTimes
from jetsentry.publish.message import ModelInfo as MessageModelInfo
from jetsentry.publish.message import build_detections_message
from jetsentry.snapshot.latest import LatestFrames
from jetsentry.track import ByteTracker, CameraTracker
from jetsentry.track.tracker_group import TrackerGroup

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


def camera_tracker(config: TrackerConfig, *, confidence: float, frame_rate: float, name: str = "",
                   groups: dict[tuple, TrackerGroup] | None = None) -> CameraTracker:
    """One camera's tracking from the configuration, publishing tracked scores above ``confidence``.

    groups: the TrackerGroups of cameras tracked together, by their parameters; the camera
    joins the one with its parameters (made if missing).  None: a group of its own."""
    parameters = tracker_parameters(config, confidence)
    if groups is None:
        tracker = ByteTracker(**parameters, frame_rate=frame_rate)
    else:
        key = tuple(sorted(parameters.items()))
        group = groups.get(key)
        if group is None:
            group = groups[key] = TrackerGroup(**parameters)
        tracker = ByteTracker(group=group, frame_rate=frame_rate)
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
class _Serving:
    """A detector and what its messages say about it."""

    detector: Detector
    backend: str  # the backend type (model.backend.type)
    labels: np.ndarray
    model: MessageModelInfo
    deadline: EngineDeadline | None = None  # the engine's calls run on a worker, waited on this long

    @classmethod
    def of(cls, detector: Detector, deadline: EngineDeadline | None = None) -> _Serving:
        info = detector.info
        return cls(detector, detector.engine.backend, np.asarray(info.class_names, dtype=object),
                   MessageModelInfo(name=info.name, version=info.version or "", sha256=info.sha256), deadline)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """Frames of one batch, letterboxed and waiting for inference by the detector that prepared them."""

    frames: list[Frame]
    formed: float  # monotonic time the batch was taken from capture
    input: PreparedInput
    serving: _Serving | None = None  # None: the processor's current detector


@dataclass(frozen=True, slots=True)
class InferredBatch:
    """Detections of a batch, before tracking and messages."""

    frames: list[Frame]
    formed: float
    detections: list[Detections]
    times: StageTimes
    serving: _Serving | None = None


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
        self._tracker_groups: dict[tuple, TrackerGroup] = {}  # cameras of one group are tracked in one pass
        self._clock = clock
        self._serving = _Serving.of(detector)
        # The detector may be replaced between batches (detector_switch.py): a batch is inferred
        # by the detector that prepared it, which is closed once none of its batches is left.
        self._swap_lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # id(detector) -> its prepared batches not yet inferred
        self._retired: list[Detector] = []
        self._keep: set[int] = set()  # ids of retired detectors to park once drained instead of closing
        self._parked: list[Detector] = []  # replaced, kept alive for a return (swap_detector keep_previous)
        self._deadlines: dict[int, EngineDeadline] = {}  # id(detector) -> its engine calls' deadline
        self._abandoned: list[Detector] = []  # engines stuck in a call: never called or closed again
        # Device pictures of a batch are kept until it was inferred, and copied to the host when
        # it fails (retriable by another backend); False: given back once pre-processed.
        self.copy_failed_pictures = False
        self._keep_pictures = 0  # host copies of this many next pictures are wanted (warm-up frames)
        self._recent: list[Frame] = []
        self.latest = LatestFrames()  # each camera's newest processed frame, for snapshots
        self._forget: set[str] = set()  # cameras whose tracks go before their next frame
        if self._tracker_config is not None and detector.confidence < self._tracker_config.low_threshold:
            log.warning("model.confidence %g is below tracker.low_threshold %g: with tracking on, no detection "
                        "scoring %g or less is published", detector.confidence,
                        self._tracker_config.low_threshold, self._tracker_config.low_threshold)

    @property
    def detector(self) -> Detector:
        return self._detector

    @property
    def backend(self) -> str:
        """The serving backend's type (model.backend.type, or the governor's fallback)."""
        return self._serving.backend

    @property
    def model_precision(self) -> str:
        """fp32, fp16 or int8: the file the serving backend runs."""
        return self._detector.info.precision

    def swap_detector(self, detector: Detector, *, engine_timeout_s: float | None = None,
                      keep_previous: bool = False) -> tuple[Detector, bool]:
        """Serve from ``detector`` from the next prepared batch on; call between batches.

        Returns the previous detector and whether the trackers were kept (they are when
        both detectors have the same class names, else every camera starts without tracks).
        A batch the previous detector prepared is still inferred by it; it is closed once no
        batch of its is left (``close_retired`` when none was in flight), or with
        ``keep_previous`` parked instead, alive and idle, until it is swapped in again or
        ``drop_parked``.  ``engine_timeout_s``: the new detector's engine calls get that
        deadline (infer/deadline.py).
        """
        with self._swap_lock:
            old, self._detector = self._detector, detector
            self._parked = [d for d in self._parked if d is not detector]
            self._keep.discard(id(detector))  # back before it drained: it serves, nothing to park
            self._retired = [d for d in self._retired if d is not detector]
            self._serving = _Serving.of(detector, self._deadline_for(detector, engine_timeout_s))
            self._retired.append(old)
            if keep_previous:
                self._keep.add(id(old))
        keep = list(old.info.class_names) == list(detector.info.class_names)
        if not keep:  # class ids mean other things now; track ids keep counting
            self._forget.update(list(self._trackers))  # before each camera's next frame, on the finishing thread
        self.close_retired()
        return old, keep

    @property
    def draining(self) -> bool:
        """A replaced detector still has a prepared batch to infer."""
        with self._swap_lock:
            return bool(self._retired)

    def prepared_by_current(self, batch: PreparedBatch) -> bool:
        """Whether the serving detector prepared ``batch`` (False: a replaced one did)."""
        return batch.serving is None or batch.serving.detector is self._detector

    def set_engine_timeout(self, timeout_s: float | None) -> None:
        """Give the serving detector's engine calls a deadline (None: none); between batches."""
        with self._swap_lock:
            self._serving = _Serving.of(self._detector, self._deadline_for(self._detector, timeout_s))

    def _deadline_for(self, detector: Detector, timeout_s: float | None) -> EngineDeadline | None:
        if timeout_s is None:
            return None
        deadline = self._deadlines.get(id(detector))
        if deadline is None or deadline.timeout_s != timeout_s:
            deadline = self._deadlines[id(detector)] = EngineDeadline(timeout_s, name=detector.engine.backend)
        return deadline

    def engine_hung(self, detector: Detector) -> bool:
        """Whether a call of ``detector``'s engine passed its deadline (it is abandoned)."""
        deadline = self._deadlines.get(id(detector))
        return deadline is not None and deadline.hung is not None

    @property
    def parked(self) -> Detector | None:
        """The latest detector parked by ``swap_detector(keep_previous=True)``, once drained."""
        with self._swap_lock:
            return self._parked[-1] if self._parked else None

    def drop_parked(self) -> None:
        """Close the parked detectors (their return was given up)."""
        with self._swap_lock:
            parked, self._parked = self._parked, []
        for detector in parked:
            self._close(detector)

    def close_retired(self) -> None:
        """Close (or park) replaced detectors with no batch left in flight."""
        with self._swap_lock:
            done = [d for d in self._retired if not self._in_flight.get(id(d))]
            self._retired = [d for d in self._retired if self._in_flight.get(id(d))]
            for detector in [d for d in done if id(d) in self._keep]:
                self._keep.discard(id(detector))
                self._parked.append(detector)
                done.remove(detector)
        for detector in done:
            self._close(detector)

    def close(self) -> None:
        """Close the serving detector and every replaced or parked one (not an abandoned one)."""
        with self._swap_lock:
            detectors, self._retired, self._parked = [self._detector, *self._retired, *self._parked], [], []
            self._keep.clear()
        for detector in detectors:
            self._close(detector)

    def _close(self, detector: Detector) -> None:
        deadline = self._deadlines.pop(id(detector), None)
        if deadline is not None and deadline.hung is not None:
            # Closing an engine a thread is still running in could crash the process: leave it.
            log.warning("%s: not closed, left to its stuck thread: %s", detector.engine.backend, deadline.hung)
            self._abandoned.append(detector)
            deadline.close()
            return
        detector.close()
        if deadline is not None:
            deadline.close()

    def recent_pictures(self, count: int, timeout_s: float) -> list[Frame]:
        """Up to ``count`` recent frames with host pictures (warm-up frames for a new detector).

        Frames with host pictures are kept by reference from each batch; device pictures go back
        to their decoder, so for those the next batch's pictures are copied to the host (once,
        on request), waiting up to ``timeout_s``.  [] when no frame came."""
        deadline = self._clock() + timeout_s
        with self._swap_lock:
            self._keep_pictures = max(self._keep_pictures, count)
        while True:
            with self._swap_lock:
                recent = list(self._recent[-count:])
            if recent or self._clock() >= deadline:
                return recent
            time.sleep(0.01)

    def _note_recent(self, frames: Sequence[Frame]) -> None:
        if all(frame.device is None for frame in frames):
            self._recent = list(frames)
        elif self._keep_pictures:
            self._recent = [Frame(f.camera_id, f.seq, f.image, f.capture_ts, f.received_monotonic)
                            for f in frames[:self._keep_pictures]]
            self._keep_pictures = 0

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
                self._tracker_config, confidence=self._detector.confidence, frame_rate=rate, name=camera_id,
                groups=self._tracker_groups)
        return tracker

    def forget_camera(self, camera_id: str) -> None:
        """Drop a camera's tracks before its next frame (its ids keep counting), and its snapshot
        frame; from any thread (a camera removed or restarted at run time).  A gap longer than
        the track buffer drops the tracks by itself."""
        self._forget.add(camera_id)
        self.latest.forget(camera_id)

    def _forget_tracks(self, camera_id: str) -> None:
        self._forget.discard(camera_id)
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
        pictures go back to their decoders once read, also when pre-processing failed; with
        ``copy_failed_pictures`` once the batch was inferred, and when it fails (here or in
        ``infer``) after they were copied to the host (capture/frame.py ``pictures_to_host``)."""
        if not frames:
            raise ValueError("no frames to prepare")
        formed = self._clock() if batch_formed is None else batch_formed
        with self._swap_lock:
            serving = self._serving
            self._in_flight[id(serving.detector)] = self._in_flight.get(id(serving.detector), 0) + 1
            self._note_recent(frames)
        try:
            self.latest.before_release(frames)
            prepared = serving.detector.prepare(frames)
        except BaseException:
            self._batch_left(serving)
            if self.copy_failed_pictures:
                pictures_to_host(frames)
            _release(frames)
            raise
        if not self.copy_failed_pictures:
            _release(frames)
        return PreparedBatch(list(frames), formed, prepared, serving)

    def _batch_left(self, serving: _Serving) -> None:
        key = id(serving.detector)
        with self._swap_lock:
            left = self._in_flight.get(key, 1) - 1
            if left:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)
            retired = any(d is serving.detector for d in self._retired)
        if retired and not left:
            self.close_retired()

    def complete(self, batch: PreparedBatch) -> list[ProcessedFrame]:
        """Inference, decoding, tracking and messages for a prepared batch, in batch order."""
        return self.finish(self.infer(batch))

    def infer(self, batch: PreparedBatch) -> InferredBatch:
        """Inference and head decoding + NMS of a prepared batch."""
        serving = batch.serving or self._serving
        try:
            if serving.deadline is None:
                detections, times = serving.detector.run(batch.input, confidence=self._nms_confidence)
            else:  # on the deadline's worker thread: a hung call raises EngineTimeoutError here
                detections, times = serving.deadline.call(serving.detector.run, batch.input,
                                                          confidence=self._nms_confidence)
        except BaseException:
            if self.copy_failed_pictures:
                pictures_to_host(batch.frames)
            raise
        finally:
            _release(batch.frames)  # kept until now with copy_failed_pictures (idempotent otherwise)
            if batch.serving is not None:
                self._batch_left(serving)
        return InferredBatch(batch.frames, batch.formed, detections, times, serving)

    def finish(self, batch: InferredBatch) -> list[ProcessedFrame]:
        """Tracking and messages for an inferred batch, in batch order (may run in another
        thread than ``infer``, behind it: batch/finisher.py; one thread at a time, in order)."""
        formed, times = batch.formed, batch.times
        serving = batch.serving or self._serving
        frames = batch.frames
        if self._forget:
            for camera_id in {frame.camera_id for frame in frames}:
                if camera_id in self._forget:  # (membership only: other threads add to the set)
                    self._forget_tracks(camera_id)
        detections = list(batch.detections)
        tracking = [(0.0, self._clock())] * len(frames)  # per frame: tracking's ms, and when it ended
        if self._tracker_config is not None:
            self._track(frames, detections, tracking)
        results = []
        for frame, dets, (tracking_ms, tracked) in zip(frames, detections, tracking):
            latency = {
                "decode_to_batch": max(0.0, (formed - frame.received_monotonic) * 1e3),
                "preprocess": times.preprocess_ms,
                "inference": times.inference_ms,
                "postprocess": times.postprocess_ms,
                "tracking": tracking_ms,
                "total": max(0.0, (tracked - frame.received_monotonic) * 1e3),
            }
            payload = build_detections_message(
                device_id=self._device_id,
                camera_id=frame.camera_id,
                seq=frame.seq,
                capture_ts=frame.capture_ts,
                model=serving.model,
                backend=serving.backend,
                width=frame.width,
                height=frame.height,
                detections=dets,
                labels=serving.labels,
                latency_ms=latency,
                run=self._run,
            )
            results.append(ProcessedFrame(frame=frame, detections=dets, latency_ms=latency, payload=payload))
        self.latest.record(batch.frames, [result.detections for result in results], serving.labels)
        return results

    def _track(self, frames: Sequence[Frame], detections: list[Detections],
               tracking: list[tuple[float, float]]) -> None:
        """Each frame's detections through its camera's tracker, in place; ``tracking`` gets
        each frame's share: the time of the pass it was tracked in, and when that ended.

        The cameras of a batch are tracked in one pass (per TrackerGroup); a camera with more
        than one frame in the batch has them in successive passes, in batch order."""
        rounds: list[dict[int, list[int]]] = []  # per pass: frame indices by tracker group
        seen: dict[str, int] = {}
        for index, frame in enumerate(frames):
            tracker = self._tracker_for(frame.camera_id)
            turn = seen.get(frame.camera_id, 0)
            seen[frame.camera_id] = turn + 1
            if turn == len(rounds):
                rounds.append({})
            rounds[turn].setdefault(id(tracker.tracker.group), []).append(index)
        for passes in rounds:
            for indices in passes.values():
                started = self._clock()
                tracked = CameraTracker.update_many([self._trackers[frames[i].camera_id] for i in indices],
                                                    [detections[i] for i in indices],
                                                    [frames[i].capture_ts for i in indices])
                ended = self._clock()
                for i, dets in zip(indices, tracked):
                    detections[i] = dets
                    tracking[i] = ((ended - started) * 1e3, ended)


def _release(frames: Sequence[Frame]) -> None:
    for frame in frames:
        frame.release()
