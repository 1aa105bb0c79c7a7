"""Replacing the detector behind a running FrameProcessor: the seam for fallback and model updates.

``DetectorSwitch.prepare(build, ...)`` creates the new detector on a background thread,
beside the one serving, and warms it up with a batch of real recent frames (and, when asked,
runs a probe batch whose result is checked), while frames keep flowing through the old one.
Once it is ready, ``commit()`` (called by the inference loop between two batches) moves
traffic to it: the next batch prepared is prepared and inferred by the new detector; a batch
the old one prepared already (the prefetch thread runs one ahead) is still inferred by the
old one, which is closed after it.  So no frame taken from a camera is lost: every one is
inferred by the old or the new detector.  Camera sessions are not touched (their ``seq``
continues); trackers stay when both detectors have the same class names and are reset
otherwise (``SwitchResult.trackers_kept``).

The background thread runs at normal priority: ONNX Runtime's threads inherit the priority
of the thread that creates the session, and SCHED_IDLE cannot be left again, so an idle
build would leave the new backend idle-priority for good.  The serving thread holds no lock
the build needs, so it keeps completing batches (and its heartbeats) while the build runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jetsentry.infer import Detector
from jetsentry.pipeline import FrameProcessor

log = logging.getLogger("jetsentry.switch")

# How long the build waits for a frame to warm up with (cameras deliver several a second;
# with none, the warm-up runs on a grey picture so a quiet site can still switch).
WARMUP_FRAMES_WAIT_S = 1.0
_GREY = 114  # the letterbox padding value: a neutral picture


class SwitchFailed(RuntimeError):
    """The new detector could not be built, warmed up or failed its probe."""


@dataclass(frozen=True)
class SwitchResult:
    previous_backend: str
    backend: str
    trackers_kept: bool
    label: str


@dataclass
class _Pending:
    label: str
    probe: bool
    owned: bool = True  # the switch closes the detector when the switch fails or is cancelled
    thread: threading.Thread | None = None
    detector: Detector | None = None
    error: str | None = None
    cancelled: bool = False
    done: bool = False
    ready_at: float | None = None  # monotonic time the build finished


class DetectorSwitch:
    """One switch at a time; ``prepare`` / ``poll`` / ``commit`` / ``cancel`` from the inference thread."""

    def __init__(self, processor: FrameProcessor, *, warmup_frames: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._processor = processor
        self._warmup_frames = max(1, warmup_frames)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: _Pending | None = None
        self._cancelled: list[_Pending] = []  # builds still running for nothing (close waits for them)

    @property
    def processor(self) -> FrameProcessor:
        return self._processor

    @property
    def idle(self) -> bool:
        """No build is running, not even a cancelled one (a detector it used is free again)."""
        with self._lock:
            return self._pending is None and all(p.done for p in self._cancelled)

    @property
    def busy(self) -> bool:
        return self._pending is not None

    @property
    def label(self) -> str | None:
        pending = self._pending
        return None if pending is None else pending.label

    def prepare(self, build: Callable[[], Detector], *, label: str, probe: bool = False, owned: bool = True) -> None:
        """Build and warm up ``build()`` in the background; ``label`` names it in logs and results.
        ``owned``: False when ``build`` returns a detector someone else owns (a parked one): it is
        not closed when the switch fails or is cancelled."""
        if self._pending is not None:
            raise RuntimeError(f"a switch to {self._pending.label} is being prepared already")
        pending = _Pending(label, probe, owned)
        pending.thread = threading.Thread(target=self._build, args=(pending, build), name="detector-switch",
                                          daemon=True)
        self._pending = pending
        pending.thread.start()

    def poll(self) -> bool | str | None:
        """None while building; True once ready to commit; the error text when it failed (the switch
        is then over)."""
        pending = self._pending
        if pending is None:
            return None
        with self._lock:
            if not pending.done:
                return None
            if pending.error is not None:
                self._pending = None
                return pending.error
        return True

    def commit(self, *, engine_timeout_s: float | None = None, keep_previous: bool = False) -> SwitchResult:
        """Move traffic to the prepared detector (between two batches); FrameProcessor.swap_detector
        says what ``engine_timeout_s`` and ``keep_previous`` do."""
        pending = self._pending
        if pending is None or pending.detector is None:
            raise RuntimeError("no prepared detector to switch to")
        self._pending = None
        previous = self._processor.backend
        _, kept = self._processor.swap_detector(pending.detector, engine_timeout_s=engine_timeout_s,
                                                keep_previous=keep_previous)
        return SwitchResult(previous, self._processor.backend, kept, pending.label)

    def cancel(self) -> None:
        """Drop the switch being prepared; a detector built for it is closed."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        with self._lock:
            pending.cancelled = True
            detector = pending.detector if pending.done and pending.owned else None
            pending.detector = None
            self._cancelled = [p for p in self._cancelled if not p.done]
            if not pending.done:
                self._cancelled.append(pending)
        if detector is not None:
            detector.close()

    def close(self, timeout_s: float = 30.0) -> None:
        """Cancel and wait for builds in progress (their detectors are closed)."""
        self.cancel()
        with self._lock:
            waiting, self._cancelled = self._cancelled, []
        for pending in waiting:
            pending.thread.join(timeout_s)

    def _build(self, pending: _Pending, build: Callable[[], Detector]) -> None:
        started = self._clock()
        detector = error = None
        try:
            detector = build()
            pictures = self._processor.recent_pictures(self._warmup_frames, WARMUP_FRAMES_WAIT_S)
            if pending.probe and pictures:  # a full batch: the largest the engine must hold
                pictures = [pictures[i % len(pictures)] for i in range(self._warmup_frames)]
            warm_up(detector, pictures, probe=pending.probe)
        except Exception as exc:  # any failure of the new backend ends this switch, not the daemon
            error = f"{pending.label}: {type(exc).__name__}: {exc}" if not isinstance(exc, SwitchFailed) \
                else f"{pending.label}: {exc}"
            if detector is not None and pending.owned:
                detector.close()
            detector = None
        with self._lock:
            pending.done = True
            pending.error = error
            pending.ready_at = self._clock()
            if pending.cancelled and detector is not None:
                cancelled, detector = (detector if pending.owned else None), None
            else:
                cancelled = None
                pending.detector = detector
        if cancelled is not None:
            cancelled.close()
        if error is None:
            log.info("%s built and warmed in %.2f s", pending.label, pending.ready_at - started)
        else:
            log.warning("switch failed: %s", error)


def warm_up(detector: Detector, pictures: list, *, probe: bool) -> None:
    """Run a batch of ``pictures`` (frames, or a grey picture when there are none) through
    ``detector``: the first run allocates and tunes; with ``probe`` a second run must give one
    finite result per picture (SwitchFailed otherwise)."""
    batch = pictures or [np.full((480, 640, 3), _GREY, np.uint8)]
    detector.detect(batch)
    if not probe:
        return
    detections, _ = detector.detect(batch)
    if len(detections) != len(batch):
        raise SwitchFailed(f"probe batch of {len(batch)} picture(s) gave {len(detections)} result(s)")
    for result in detections:
        if not np.isfinite(result.boxes).all() or not np.isfinite(result.scores).all():
            raise SwitchFailed("probe batch gave non-finite boxes or scores")
