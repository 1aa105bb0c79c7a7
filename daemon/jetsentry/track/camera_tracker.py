"""One camera's tracking as the frame path runs it, in the daemon, `analyze` and `eval` alike.

* Input: every detection the detector emits.  While tracking, the pipeline runs NMS at
  the tracker's low_threshold (not at model.confidence), so ByteTrack's second stage gets
  the detections between low_threshold and high_threshold it is built for.
* Output: the tracked detections scoring above ``min_score`` (model.confidence, with the
  detector's own rule ``score > confidence``).  A tracked object whose score dips to
  min_score or below keeps its track and id but is left out of that frame's output.
* Time: the tracker's frame rate is the rate this camera's frames are actually processed
  at, measured from their timestamps (FrameRateMeter), so the lost-track buffer lasts
  track_buffer / 30 s whatever share of the source's frames the pipeline keeps.
* Gaps: a frame that comes more than the track buffer later than the usual (median)
  interval (an outage, a reconnect, a stall), or whose timestamp goes back by more than
  the buffer (a restarted source, a clock step), starts without tracks: every track
  would have been lost for longer than the buffer.  Ids keep counting, so none names two
  objects.  A camera processed less often than the buffer is no gap at its own interval.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from jetsentry.detections import Detections
from jetsentry.track.byte_tracker import ByteTracker
from jetsentry.track.frame_rate import FrameRateMeter

log = logging.getLogger("jetsentry.track")


class CameraTracker:
    """A ByteTracker fed with timestamps: measures the processed rate, drops tracks after gaps,
    and returns only what may be published.

    tracker: the camera's ByteTracker; its frame_rate is the rate assumed until measured.
    min_score: tracked detections scoring at or below it are not returned.
    name: the camera, for log lines.
    """

    def __init__(self, tracker: ByteTracker, *, min_score: float, name: str = "") -> None:
        self.tracker = tracker
        self.min_score = float(min_score)
        self.name = name
        self.gaps = 0  # times the tracks were dropped after a gap
        self._meter = FrameRateMeter(tracker.frame_rate)
        self._last_timestamp: float | None = None

    @property
    def frame_rate(self) -> float:
        """The rate the tracker runs at: measured, or the initial one until enough frames came."""
        return self.tracker.frame_rate

    def update(self, dets: Detections, timestamp: float) -> Detections:
        """Track one frame taken at ``timestamp`` (seconds, the camera's clock)."""
        return CameraTracker.update_many([self], [dets], [timestamp])[0]

    @staticmethod
    def update_many(cameras: Sequence[CameraTracker], frames: Sequence[Detections],
                    timestamps: Sequence[float]) -> list[Detections]:
        """``update`` of each camera with its frame and timestamp, the tracking in one pass
        (ByteTracker.update_many: distinct cameras whose trackers share a TrackerGroup)."""
        for camera, timestamp in zip(cameras, timestamps):
            camera._advance(timestamp)
        tracked = ByteTracker.update_many([camera.tracker for camera in cameras], frames)
        return [t.select(t.scores > camera.min_score) for camera, t in zip(cameras, tracked)]

    def forget_tracks(self) -> None:
        """Drop every track now (ids keep counting); the rate measured so far is kept."""
        self.tracker.forget_tracks()
        self._last_timestamp = None

    def _advance(self, timestamp: float) -> None:
        last, self._last_timestamp = self._last_timestamp, timestamp
        if last is None:
            return
        interval = timestamp - last
        buffer_s = self.tracker.buffer_seconds
        usual = self._meter.usual_interval  # None until one interval is known: nothing to compare with
        gap = interval < -buffer_s or (usual is not None and interval > buffer_s + usual)
        was_measured = self._meter.measured
        # A gap is measured too: one long interval moves neither the median nor, past 3 medians, the mean.
        self._meter.add(interval)
        self.tracker.frame_rate = self._meter.rate
        if gap:
            self.gaps += 1
            self.tracker.forget_tracks()
            what = f"no frame for {interval:.1f} s" if interval > 0 else f"timestamps went back {-interval:.1f} s"
            log.info("camera %s: %s, more than the %.1f s track buffer: tracks start anew", self.name, what, buffer_s)
        if self._meter.measured and not was_measured:
            log.info("camera %s: tracking at %.3g processed frames/s (lost tracks kept %d frames)",
                     self.name, self.tracker.frame_rate, self.tracker.max_frames_lost)
