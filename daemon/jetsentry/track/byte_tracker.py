"""ByteTrack for one camera: Detections of a frame in, the same detections with track ids out.

A ByteTracker is one camera's slot in a TrackerGroup (track/tracker_group.py, which holds
the algorithm: the ByteTrack paper's four association stages as Ultralytics' BYTETracker
runs them, the reference the tests compare against, with fuse_score=True).  Made on its own
it has a group of its own; trackers made on one group can be updated together
(``update_many``: one pass for a batch of cameras), each with the results it would have
had alone.

Time: the Kalman filter steps one processed frame per update(), as in the reference, so
its velocities are in pixels per processed frame and need no frame rate.  Only the
lost-track buffer does: track_buffer is a duration (frames at 30 frames/s), turned into
processed frames with frame_rate (Ultralytics 8.4 counts track_buffer processed frames at
any rate).  Which rate a camera is processed at is the pipeline's to measure
(track/camera_tracker.py).

Classes: association ignores the class, as the reference does, so a detection whose
class flickers between frames keeps its track; each output row carries the class (and
box and score) of its own detection, not a value smoothed over the track.

Track ids: 1, 2, 3, ... in the order tracks are confirmed, never reused by one tracker
(until reset(); forget_tracks() keeps counting).  Unlike Ultralytics, a track that is
never confirmed consumes no id, so the numbers differ from the reference's while the
associations are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from jetsentry.detections import Detections
from jetsentry.track.tracker_group import TrackerGroup


class ByteTracker:
    """Multi-object tracker for one camera; create one per camera.

    The parameters are TrackerConfig's fields (its descriptions say more), as numbers:

    high_threshold: detections scoring at least this take part in stage one and may start
        tracks; raising it trusts fewer detections, more of them only extend tracks (the
        pipeline raises it, and new_track_threshold, to model.confidence where that is higher).
    low_threshold: detections scoring above it and below high_threshold only extend
        confirmed tracks (stage two); lowering it lets weaker detections carry a track
        through an occlusion, at the risk of following a false one.  The detector must
        emit them: the pipeline runs NMS at this threshold while tracking.
    new_track_threshold: score a stage-one leftover needs to start a track; raising it
        cuts spurious tracks.
    match_threshold: largest stage-one cost (1 - IoU * score) accepted; lowering it
        makes association stricter.
    track_buffer: how long a lost track is kept, in frames at 30 frames/s (so a duration,
        track_buffer / 30 s); raising it bridges longer occlusions but lets a track jump
        to another object that appears where it was lost.
    frame_rate: frames per second actually fed to update(); the buffer in frames is
        int(frame_rate / 30 * track_buffer), so a camera processed at 10 frames/s keeps a
        lost track as long as one at 30.  It may be changed between frames.
    group: a TrackerGroup to take a slot in (its parameters apply; give no others); by
        default the tracker has a group of its own.
    """

    def __init__(self, *, frame_rate: float = 30.0, group: TrackerGroup | None = None, **parameters: float) -> None:
        if group is not None and parameters:
            raise ValueError(f"a tracker on a group takes the group's parameters; got {', '.join(sorted(parameters))}")
        self.group = group if group is not None else TrackerGroup(**parameters)
        self.slot = self.group.add(frame_rate)
        self._frame_rate = float(frame_rate)

    high_threshold = property(lambda self: self.group.high_threshold)
    low_threshold = property(lambda self: self.group.low_threshold)
    new_track_threshold = property(lambda self: self.group.new_track_threshold)
    match_threshold = property(lambda self: self.group.match_threshold)
    track_buffer = property(lambda self: self.group.track_buffer)

    @property
    def frame_rate(self) -> float:
        return self._frame_rate

    @frame_rate.setter
    def frame_rate(self, fps: float) -> None:
        self.group.set_frame_rate(self.slot, fps)
        self._frame_rate = float(fps)

    @property
    def max_frames_lost(self) -> int:
        """The lost-track buffer in processed frames: int(frame_rate / 30 * track_buffer)."""
        return self.group.max_frames_lost(self.slot)

    @property
    def buffer_seconds(self) -> float:
        """How long a lost track is kept: track_buffer frames at 30 frames/s."""
        return self.track_buffer / 30.0

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self.group.reset(self.slot)

    def forget_tracks(self) -> None:
        """Forget every track but keep numbering ids where it was, so no id ever names two
        objects; the next frame is treated as a first frame (its tracks start confirmed)."""
        self.group.forget(self.slot)

    @property
    def frame_count(self) -> int:
        """Frames seen since construction, reset() or forget_tracks()."""
        return self.group.frame_count(self.slot)

    def update(self, dets: Detections) -> Detections:
        """Track one frame: the detections that belong to a confirmed track, with its id.

        Rows keep the input's order; detections that belong to no confirmed track
        (unconfirmed births, unmatched low scores, zero-size boxes) are left out.
        """
        return self.group.update([self.slot], [dets])[0]

    @staticmethod
    def update_many(trackers: Sequence[ByteTracker], frames: Sequence[Detections]) -> list[Detections]:
        """``update`` of each tracker with its frame, in one pass: the trackers must be distinct
        and of one group.  The results are those of updating them one after another."""
        if not trackers:
            return []
        group = trackers[0].group
        if any(t.group is not group for t in trackers):
            raise ValueError("update_many needs trackers of one TrackerGroup")
        return group.update([t.slot for t in trackers], frames)
