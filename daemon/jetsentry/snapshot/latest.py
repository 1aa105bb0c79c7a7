"""The newest processed frame of each camera, with its detections, kept for snapshots.

The frame path hands every finished batch to `record` (a reference per frame: host
pictures are the frame's own copy out of the decoder, nothing is converted).  A frame
holding a device picture gives its memory back to the decoder right after pre-processing,
so such a picture is downloaded only when a snapshot asked for it: `newest` marks the
camera wanted and waits; `before_release` (called by pre-processing, before the pictures
go back) downloads the next picture of a wanted camera.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jetsentry.capture.frame import Frame
from jetsentry.detections import Detections


@dataclass(frozen=True, slots=True)
class LatestFrame:
    frame: Frame  # with a host picture
    detections: Detections
    labels: np.ndarray  # class id -> name
    downloaded: bool  # a host copy of a device picture: not refreshed by later frames


class LatestFrames:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._latest: dict[str, LatestFrame] = {}
        self._wanted: set[str] = set()  # cameras whose next device picture is to be downloaded
        self._copies: dict[tuple[str, int], Frame] = {}

    def before_release(self, frames: Sequence[Frame]) -> None:
        """Download the device pictures of wanted cameras (pre-processing's thread)."""
        if not self._wanted:
            return
        for frame in frames:
            if frame.device is not None and frame.camera_id in self._wanted:
                copy = Frame(frame.camera_id, frame.seq, frame.device.download(), frame.capture_ts,
                             frame.received_monotonic)
                with self._cond:
                    self._copies[(frame.camera_id, frame.seq)] = copy
                    self._wanted.discard(frame.camera_id)

    def record(self, frames: Sequence[Frame], detections: Sequence[Detections], labels: np.ndarray) -> None:
        """A finished batch (the frame path's thread): one reference kept per camera."""
        with self._cond:
            for frame, dets in zip(frames, detections):
                if frame.device is None:
                    self._latest[frame.camera_id] = LatestFrame(frame, dets, labels, False)
                elif self._copies:
                    copy = self._copies.pop((frame.camera_id, frame.seq), None)
                    if copy is not None:
                        self._latest[frame.camera_id] = LatestFrame(copy, dets, labels, True)
            self._cond.notify_all()

    def newest(self, camera_id: str, timeout_s: float) -> LatestFrame | None:
        """The camera's newest processed frame; for device pictures the next one (downloaded),
        waiting up to timeout_s; None when none came."""
        with self._cond:
            entry = self._latest.get(camera_id)
            if entry is not None and not entry.downloaded:
                return entry
            self._wanted.add(camera_id)
            self._cond.wait_for(lambda: self._latest.get(camera_id) is not entry, timeout_s)
            newer = self._latest.get(camera_id)
            self._wanted.discard(camera_id)
            return newer if newer is not entry else None

    def forget(self, camera_id: str) -> None:
        """A removed camera: its last frame goes."""
        with self._cond:
            self._latest.pop(camera_id, None)
            self._wanted.discard(camera_id)
