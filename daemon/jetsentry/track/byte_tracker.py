"""ByteTrack for one camera: Detections of a frame in, the same detections with track ids out.

The association follows the ByteTrack paper and Ultralytics' BYTETracker (the reference
the tests compare against, with fuse_score=True):

1. high-score detections (score >= high_threshold) against confirmed and lost tracks,
   cost 1 - IoU * score, matched when the cost is below match_threshold;
2. low-score detections (low_threshold < score < high_threshold) against the confirmed
   tracks still unmatched, cost 1 - IoU, matched when IoU > 0.5; a low-score detection
   can extend a track but never start one;
3. unconfirmed tracks (born last frame) against the high-score detections left over,
   cost 1 - IoU * score below 0.7; unconfirmed tracks left unmatched are dropped;
4. a new, unconfirmed track for each high-score detection still left with
   score >= new_track_threshold (tracks born on the very first frame start confirmed).

Tracks unmatched in 1-2 become lost and may be found again in stage 1 until they have
been missing for more than int(frame_rate / 30 * track_buffer) frames.  (The reference,
like the original ByteTrack code, still lets a track be found in the frame after it was
removed; we do not, which is the one behavioural difference: tests/track/reference.py.)
A tracked and a lost track on the same spot (IoU > 0.85) are merged into the older one.

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

import numpy as np

from jetsentry.detections import Detections
from jetsentry.track import kalman_filter
from jetsentry.track.frame_rate import check_frame_rate
from jetsentry.track.matching import EMPTY_MATCHES, fuse_score, iou_cost, linear_assignment
from jetsentry.track.track_table import LOST, NO_TRACK_ID, TRACKED, TrackTable

# Fixed by the reference, not configurable there either: stage 2 needs IoU > 0.5,
# stage 3 a fused cost below 0.7, and tracked/lost pairs with IoU > 0.85 are duplicates.
_LOW_SCORE_MATCH_THRESHOLD = 0.5
_UNCONFIRMED_MATCH_THRESHOLD = 0.7
_DUPLICATE_COST = 0.15


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
    """

    def __init__(
        self,
        *,
        high_threshold: float = 0.25,
        low_threshold: float = 0.1,
        new_track_threshold: float = 0.25,
        match_threshold: float = 0.8,
        track_buffer: int = 30,
        frame_rate: float = 30.0,
    ) -> None:
        for name, value in (("high_threshold", high_threshold), ("low_threshold", low_threshold),
                            ("new_track_threshold", new_track_threshold), ("match_threshold", match_threshold)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a score within 0..1, got {value!r}")
        if low_threshold > high_threshold:
            raise ValueError(f"low_threshold {low_threshold} must not exceed high_threshold {high_threshold}")
        if isinstance(track_buffer, bool) or not (isinstance(track_buffer, int) and track_buffer >= 1):
            raise ValueError(f"track_buffer must be a whole number of frames >= 1, got {track_buffer!r}")
        self.high_threshold = float(high_threshold)
        self.low_threshold = float(low_threshold)
        self.new_track_threshold = float(new_track_threshold)
        self.match_threshold = float(match_threshold)
        self.track_buffer = track_buffer
        self.frame_rate = frame_rate
        self.reset()

    @property
    def frame_rate(self) -> float:
        return self._frame_rate

    @frame_rate.setter
    def frame_rate(self, fps: float) -> None:
        check_frame_rate(fps)
        self._frame_rate = float(fps)
        self.max_frames_lost = int(self._frame_rate / 30.0 * self.track_buffer)

    @property
    def buffer_seconds(self) -> float:
        """How long a lost track is kept: track_buffer frames at 30 frames/s."""
        return self.track_buffer / 30.0

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self.forget_tracks()
        self._next_id = 1

    def forget_tracks(self) -> None:
        """Forget every track but keep numbering ids where it was, so no id ever names two
        objects; the next frame is treated as a first frame (its tracks start confirmed)."""
        # One table: rows [0, _n_tracked) were tracked at the end of the last frame, the rest lost.
        self._tracks = TrackTable.empty()
        self._n_tracked = 0
        self._frame = 0

    @property
    def frame_count(self) -> int:
        """Frames seen since construction, reset() or forget_tracks()."""
        return self._frame

    def update(self, dets: Detections) -> Detections:
        """Track one frame: the detections that belong to a confirmed track, with its id.

        Rows keep the input's order; detections that belong to no confirmed track
        (unconfirmed births, unmatched low scores, zero-size boxes) are left out.
        """
        _check_detections(dets)
        self._frame += 1
        frame = self._frame
        boxes, scores = dets.boxes, dets.scores
        size = boxes[:, 2:] - boxes[:, :2]
        valid = (size[:, 0] > 0) & (size[:, 1] > 0)  # a zero height would give an infinite aspect ratio
        high = (valid & (scores >= self.high_threshold)).nonzero()[0]
        low = (valid & (scores > self.low_threshold) & (scores < self.high_threshold)).nonzero()[0]

        # The table is this tracker's own copy (take() below), so it is updated in place.
        n_tracked = self._n_tracked
        tracks = self._tracks
        tracks.det_index[:] = -1
        tracked_rows = np.arange(n_tracked)
        lost_rows = np.arange(n_tracked, len(tracks))
        activated = tracks.activated[:n_tracked]
        confirmed = tracked_rows[activated]
        unconfirmed = tracked_rows[~activated]
        pool = np.concatenate((confirmed, lost_rows))

        # The reference lets lost boxes coast without changing height; unconfirmed
        # tracks are not predicted (they were born one frame ago).
        tracks.mean[n_tracked:, 7] = 0.0
        if pool.size:
            tracks.mean[pool], tracks.covariance[pool] = kalman_filter.predict(
                tracks.mean[pool], tracks.covariance[pool]
            )
        pool_boxes = tracks.boxes(pool)

        # Stage 1: high-score detections against confirmed and lost tracks.
        matches, pool_left, high_left = _associate(pool_boxes, boxes[high], self.match_threshold, scores[high])
        matched_rows = [pool[matches[:, 0]]]
        matched_dets = [high[matches[:, 1]]]
        refound = matched_rows[0][matched_rows[0] >= n_tracked]

        # Stage 2: low-score detections against confirmed tracks still unmatched.
        still_tracked = pool[pool_left] < n_tracked
        stage2_rows = pool[pool_left][still_tracked]
        matches, stage2_left, _ = _associate(pool_boxes[pool_left][still_tracked], boxes[low],
                                             _LOW_SCORE_MATCH_THRESHOLD)
        matched_rows.append(stage2_rows[matches[:, 0]])
        matched_dets.append(low[matches[:, 1]])
        newly_lost = stage2_rows[stage2_left]
        tracks.state[newly_lost] = LOST

        # Stage 3: unconfirmed tracks against the high-score detections left over.
        high = high[high_left]
        dropped = unconfirmed[:0]
        if unconfirmed.size:
            matches, unconfirmed_left, high_left = _associate(
                tracks.boxes(unconfirmed), boxes[high], _UNCONFIRMED_MATCH_THRESHOLD, scores[high])
            matched_rows.append(unconfirmed[matches[:, 0]])
            matched_dets.append(high[matches[:, 1]])
            dropped = unconfirmed[unconfirmed_left]
        else:
            high_left = np.arange(high.size)

        # The stages never look at a box corrected in an earlier stage, so one batched
        # correction serves all three.
        _correct(tracks, np.concatenate(matched_rows), np.concatenate(matched_dets), boxes, frame)
        kept_tracked = tracks.state[:n_tracked] == TRACKED
        kept_tracked[dropped] = False

        # Stage 4: births from confident detections nobody claimed.
        high = high[high_left]
        births = high[scores[high] >= self.new_track_threshold]
        born_rows = np.arange(len(tracks), len(tracks) + births.size)
        if births.size:
            tracks = TrackTable.concat(tracks, TrackTable.born(boxes[births], births, frame, activated=frame == 1))

        # Keep the reference's list order (it decides assignment ties next frame):
        # tracked = still-tracked old rows, births, refound; lost = old lost, newly lost.
        tracked_order = np.concatenate((tracked_rows[kept_tracked], born_rows, refound))
        old_lost = lost_rows[tracks.state[lost_rows] == LOST]
        old_lost = old_lost[frame - tracks.frame_id[old_lost] <= self.max_frames_lost]
        lost_order = np.concatenate((old_lost, newly_lost))
        tracked_order, lost_order = _drop_duplicates(tracks, tracked_order, lost_order)

        self._tracks = tracks.take(np.concatenate((tracked_order, lost_order)))
        self._n_tracked = tracked_order.size
        return self._confirmed_output(dets)

    def _confirmed_output(self, dets: Detections) -> Detections:
        n_tracked = self._n_tracked
        activated = self._tracks.activated[:n_tracked]
        track_id = self._tracks.track_id[:n_tracked]  # a view: ids given here stay in the table
        needs_id = (activated & (track_id == NO_TRACK_ID)).nonzero()[0]
        track_id[needs_id] = np.arange(self._next_id, self._next_id + needs_id.size)
        self._next_id += needs_id.size
        # Every confirmed tracked row was matched this frame, so det_index >= 0 here.
        det_index = self._tracks.det_index[:n_tracked][activated]
        order = np.argsort(det_index, kind="stable")
        out = dets.select(det_index[order])
        out.track_ids = track_id[activated][order].astype(np.int64)
        return out


def _associate(track_boxes: np.ndarray, det_boxes: np.ndarray, threshold: float,
               det_scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """linear_assignment on 1 - IoU (fused with the detection scores where given); with no
    track or no detection, nothing is matched and no cost is computed."""
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return EMPTY_MATCHES, np.arange(len(track_boxes)), np.arange(len(det_boxes))
    cost = iou_cost(track_boxes, det_boxes)
    if det_scores is not None:
        cost = fuse_score(cost, det_scores)
    return linear_assignment(cost, threshold)


def _correct(tracks: TrackTable, rows: np.ndarray, det_index: np.ndarray, boxes: np.ndarray, frame: int) -> None:
    """Kalman-correct the given rows with their matched detections and mark them tracked."""
    if rows.size == 0:
        return
    tracks.mean[rows], tracks.covariance[rows] = kalman_filter.update(
        tracks.mean[rows], tracks.covariance[rows], kalman_filter.xyxy_to_xyah(boxes[det_index])
    )
    tracks.state[rows] = TRACKED
    tracks.activated[rows] = True
    tracks.frame_id[rows] = frame
    tracks.det_index[rows] = det_index


def _drop_duplicates(
    tracks: TrackTable, tracked_order: np.ndarray, lost_order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A tracked and a lost track on the same spot are one object: keep the older.

    The reference's remove_duplicate_stracks: IoU > 0.85; on equal age the tracked one goes.
    """
    if tracked_order.size == 0 or lost_order.size == 0:
        return tracked_order, lost_order
    cost = iou_cost(tracks.boxes(tracked_order), tracks.boxes(lost_order))
    pairs_tracked, pairs_lost = np.nonzero(cost < _DUPLICATE_COST)
    if pairs_tracked.size == 0:
        return tracked_order, lost_order
    age = tracks.frame_id - tracks.start_frame
    tracked_older = age[tracked_order[pairs_tracked]] > age[lost_order[pairs_lost]]
    return (
        np.delete(tracked_order, pairs_tracked[~tracked_older]),
        np.delete(lost_order, pairs_lost[tracked_older]),
    )


def _check_detections(dets: Detections) -> None:
    if not isinstance(dets, Detections):
        raise TypeError(f"ByteTracker.update expects jetsentry.detections.Detections, got {type(dets).__name__}")
    n = len(dets)
    if dets.boxes.shape != (n, 4):
        raise ValueError(f"Detections.boxes must have shape ({n}, 4) to match {n} scores, got {dets.boxes.shape}")
    if dets.class_ids.shape != (n,):
        raise ValueError(f"Detections.class_ids must have shape ({n},) to match {n} scores, got {dets.class_ids.shape}")
    if not (np.isfinite(dets.boxes).all() and np.isfinite(dets.scores).all()):
        raise ValueError("Detections.boxes and Detections.scores must be finite (found NaN or infinity)")
