"""ByteTrack for many cameras at once: one pass of array operations per batch, whatever the
number of cameras in it, each camera tracked exactly as on its own.

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
   score >= new_track_threshold (tracks born on a camera's very first frame start confirmed).

Tracks unmatched in 1-2 become lost and may be found again in stage 1 until they have
been missing for more than their camera's max_frames_lost frames.  (The reference, like the
original ByteTrack code, still lets a track be found in the frame after it was removed; we
do not, which is the one behavioural difference: tests/track/reference.py.)  A tracked and a
lost track on the same spot (IoU > 0.85) are merged into the older one.

Cameras: each camera is a slot with its own frame counter, lost-track buffer and track ids;
every track row carries its slot, and costs are computed only for pairs of one camera
(matching.same_group_pairs), so no camera's detection can match another camera's track.
One update takes a frame from each of any subset of the slots; cameras not in it are left
as they are.  ByteTrack's per-frame work is mostly a fixed number of small array operations,
so one pass for a batch of 16 cameras costs about a third of 16 separate updates
(docs/PERFORMANCE.md, "Host cost per frame after inference").
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import numpy as np

from jetsentry.detections import Detections
from jetsentry.track import kalman_filter
from jetsentry.track.frame_rate import check_frame_rate
from jetsentry.track.matching import (EMPTY_MATCHES, dense_pairs, fuse_score, iou_cost, iou_pairs,
                                      linear_assignment_pairs, same_group_pairs)
from jetsentry.track.track_table import LOST, NO_TRACK_ID, TRACKED, TrackTable

# Fixed by the reference, not configurable there either: stage 2 needs IoU > 0.5,
# stage 3 a fused cost below 0.7, and tracked/lost pairs with IoU > 0.85 are duplicates.
_LOW_SCORE_MATCH_THRESHOLD = 0.5
_UNCONFIRMED_MATCH_THRESHOLD = 0.7
_DUPLICATE_COST = 0.15

# Where a row goes in the table rebuilt after a frame, per camera, in this order (the
# reference's list order, which decides assignment ties next frame): tracked = still-tracked
# old rows, births, refound; lost = old lost, newly lost.
_KEPT, _BORN, _REFOUND, _OLD_LOST, _NEWLY_LOST = range(5)
_GONE = -1


class TrackerGroup:
    """The tracks of several cameras under one set of ByteTrack parameters (see ByteTracker,
    the one-camera handle on a slot, for what each means)."""

    def __init__(
        self,
        *,
        high_threshold: float = 0.25,
        low_threshold: float = 0.1,
        new_track_threshold: float = 0.25,
        match_threshold: float = 0.8,
        track_buffer: int = 30,
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
        self._tracks = TrackTable.empty()
        # Per slot: frames seen since the last forget, the lost-track buffer in frames, the next id.
        self._frame = np.zeros(0, np.int64)
        self._max_lost = np.zeros(0, np.int64)
        self._next_id = np.zeros(0, np.int64)

    # ---- slots ------------------------------------------------------------------------------

    def add(self, frame_rate: float) -> int:
        """A new camera: its slot, with no tracks, ids starting at 1."""
        slot = self._frame.shape[0]
        self._frame = np.append(self._frame, 0)
        self._max_lost = np.append(self._max_lost, 0)
        self._next_id = np.append(self._next_id, 1)
        self.set_frame_rate(slot, frame_rate)
        return slot

    def set_frame_rate(self, slot: int, fps: float) -> None:
        """The frames per second fed to this camera: its lost-track buffer is
        int(fps / 30 * track_buffer) processed frames."""
        check_frame_rate(fps)
        self._max_lost[slot] = int(float(fps) / 30.0 * self.track_buffer)

    def max_frames_lost(self, slot: int) -> int:
        return int(self._max_lost[slot])

    def frame_count(self, slot: int) -> int:
        return int(self._frame[slot])

    def forget(self, slot: int) -> None:
        """Drop the camera's tracks (ids keep counting); its next frame counts as a first frame."""
        keep = (self._tracks.slot != slot).nonzero()[0]
        if keep.size < len(self._tracks):
            self._tracks = self._tracks.take(keep)
        self._frame[slot] = 0

    def reset(self, slot: int) -> None:
        """Drop the camera's tracks; its ids start again at 1."""
        self.forget(slot)
        self._next_id[slot] = 1

    # ---- one frame for each of some cameras ---------------------------------------------------

    def update(self, slots: Sequence[int], frames: Sequence[Detections]) -> list[Detections]:
        """Track one frame of each given camera (distinct slots): for each, in the given order,
        the detections that belong to a confirmed track, with its id, in the input's row order
        (unconfirmed births, unmatched low scores and zero-size boxes left out)."""
        if len(slots) != len(frames):
            raise ValueError(f"{len(slots)} slots for {len(frames)} frames")
        if len(set(slots)) != len(slots):
            raise ValueError("a camera may appear only once in an update")
        if not frames:
            return []
        for dets in frames:
            _check_shapes(dets)
        if len(frames) == 1:  # one camera (a tracker on its own): nothing to gather or split
            dets = frames[0]
            rows, ids = self._pass([int(slots[0])], dets.boxes, dets.scores, [len(dets)])
            tracked = dets.select(rows)
            tracked.track_ids = ids
            return [tracked]
        order = sorted(range(len(slots)), key=slots.__getitem__)  # cameras in slot order, as the table
        slot_list = [int(slots[i]) for i in order]
        det_frames = [frames[i] for i in order]
        counts = [len(d) for d in det_frames]
        rows, ids = self._pass(slot_list, np.concatenate([d.boxes for d in det_frames]),
                               np.concatenate([d.scores for d in det_frames]), counts)

        # Each camera's rows are contiguous (det_index is slot-grouped): split them apart.
        offsets = list(accumulate(counts, initial=0))
        bounds = np.searchsorted(rows, offsets).tolist()
        out: list[Detections] = [None] * len(slots)  # type: ignore[list-item]
        for k, index in enumerate(order):
            a, b = bounds[k], bounds[k + 1]
            tracked = det_frames[k].select(rows[a:b] - offsets[k])
            tracked.track_ids = ids[a:b]
            out[index] = tracked
        return out

    def _pass(self, slot_list: list[int], boxes: np.ndarray, scores: np.ndarray,
              counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """One frame of each camera in ``slot_list`` (ascending), their detections one after
        another (``counts`` each): the confirmed tracks' detections and ids (_associate_frame)."""
        _check_finite(boxes, scores)
        det_slot = np.repeat(np.array(slot_list, np.int64), counts)
        in_batch = np.zeros(self._frame.shape[0], bool)
        in_batch[slot_list] = True
        self._frame[slot_list] += 1
        return self._associate_frame(boxes, scores, det_slot, in_batch)

    def _associate_frame(self, boxes: np.ndarray, scores: np.ndarray, det_slot: np.ndarray,
                         in_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The four stages for the cameras in ``in_batch``; returns the confirmed tracks'
        detections (indices into ``boxes``, ascending) and their track ids."""
        size = boxes[:, 2:] - boxes[:, :2]
        valid = (size[:, 0] > 0) & (size[:, 1] > 0)  # a zero height would give an infinite aspect ratio
        high = (valid & (scores >= self.high_threshold)).nonzero()[0]
        low = (valid & (scores > self.low_threshold) & (scores < self.high_threshold)).nonzero()[0]

        # The table is this group's own copy (take() below), so it is updated in place.
        tracks = self._tracks
        n_old = len(tracks)
        tracks.det_index[:] = -1
        mine = in_batch[tracks.slot]  # rows of the cameras in this update
        was_tracked = mine & (tracks.state == TRACKED)
        was_lost = mine & (tracks.state == LOST)
        confirmed = was_tracked & tracks.activated
        unconfirmed = (was_tracked & ~tracks.activated).nonzero()[0]
        lost_rows = was_lost.nonzero()[0]
        pool = (confirmed | was_lost).nonzero()[0]  # per camera: its confirmed rows, then its lost ones

        # The reference lets lost boxes coast without changing height; unconfirmed
        # tracks are not predicted (they were born one frame ago).
        tracks.mean[lost_rows, 7] = 0.0
        if pool.size:
            tracks.mean[pool], tracks.covariance[pool] = kalman_filter.predict(
                tracks.mean[pool], tracks.covariance[pool]
            )
        pool_boxes = tracks.boxes(pool)
        pool_slot = tracks.slot[pool]

        # Stage 1: high-score detections against confirmed and lost tracks.
        matches, pool_left, high_left = _associate(pool_boxes, pool_slot, boxes[high], det_slot[high],
                                                   self.match_threshold, scores[high])
        matched_rows = [pool[matches[:, 0]]]
        matched_dets = [high[matches[:, 1]]]
        refound = matched_rows[0][was_lost[matched_rows[0]]]

        # Stage 2: low-score detections against confirmed tracks still unmatched.
        still_tracked = was_tracked[pool[pool_left]]
        stage2 = pool_left[still_tracked]
        stage2_rows = pool[stage2]
        matches, stage2_left, _ = _associate(pool_boxes[stage2], pool_slot[stage2], boxes[low], det_slot[low],
                                             _LOW_SCORE_MATCH_THRESHOLD)
        matched_rows.append(stage2_rows[matches[:, 0]])
        matched_dets.append(low[matches[:, 1]])
        newly_lost = stage2_rows[stage2_left]
        tracks.state[newly_lost] = LOST

        # Stage 3: unconfirmed tracks against the high-score detections left over.
        high = high[high_left]
        dropped = unconfirmed
        if unconfirmed.size:
            matches, unconfirmed_left, high_left = _associate(
                tracks.boxes(unconfirmed), tracks.slot[unconfirmed], boxes[high], det_slot[high],
                _UNCONFIRMED_MATCH_THRESHOLD, scores[high])
            matched_rows.append(unconfirmed[matches[:, 0]])
            matched_dets.append(high[matches[:, 1]])
            dropped = unconfirmed[unconfirmed_left]
        else:
            high_left = np.arange(high.size)

        # The stages never look at a box corrected in an earlier stage, so one batched
        # correction serves all three.
        _correct(tracks, np.concatenate(matched_rows), np.concatenate(matched_dets), boxes, self._frame)

        # Stage 4: births from confident detections nobody claimed.
        high = high[high_left]
        births = high[scores[high] >= self.new_track_threshold]
        if births.size:
            born_slot = det_slot[births]
            born_frame = self._frame[born_slot]
            tracks = TrackTable.concat(tracks, TrackTable.born(boxes[births], births, born_frame,
                                                               born_frame == 1, born_slot))

        # Where each row goes: cameras not in this update keep their rows as they were.
        place = np.full(len(tracks), _GONE, np.int8)
        place[:n_old] = np.where(tracks.state[:n_old] == TRACKED, _KEPT, _OLD_LOST)
        place[n_old:] = _BORN
        gone = lost_rows[tracks.state[lost_rows] == LOST]  # old lost rows not refound ...
        expired = gone[self._frame[tracks.slot[gone]] - tracks.frame_id[gone] > self._max_lost[tracks.slot[gone]]]
        place[expired] = _GONE  # ... past their camera's buffer
        place[dropped] = _GONE
        place[refound] = _REFOUND
        place[newly_lost] = _NEWLY_LOST
        _drop_duplicates(tracks, place, in_batch)

        kept = (place != _GONE).nonzero()[0]
        # Camera, then place, then the row's own order (a birth's is its detection's).
        tracks = tracks.take(kept[np.lexsort((kept, place[kept], tracks.slot[kept]))])
        self._tracks = tracks
        return self._confirmed(tracks, in_batch)

    def _confirmed(self, tracks: TrackTable, in_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids for newly confirmed tracks (per camera, in table order), and every confirmed
        track's detection of this frame with its id, by detection."""
        confirmed = (in_batch[tracks.slot] & (tracks.state == TRACKED) & tracks.activated).nonzero()[0]
        track_id = tracks.track_id
        needs_id = confirmed[track_id[confirmed] == NO_TRACK_ID]
        if needs_id.size:
            slots = tracks.slot[needs_id]  # ascending: the table is grouped by camera
            rank = np.arange(slots.size) - slots.searchsorted(slots, "left")
            track_id[needs_id] = self._next_id[slots] + rank
            self._next_id += np.bincount(slots, minlength=self._next_id.shape[0])
        # Every confirmed tracked row was matched this frame, so det_index >= 0 here.
        det_index = tracks.det_index[confirmed]
        by_detection = det_index.argsort(kind="stable")
        return det_index[by_detection], track_id[confirmed][by_detection].astype(np.int64)


def _associate(track_boxes: np.ndarray, track_slot: np.ndarray, det_boxes: np.ndarray, det_slot: np.ndarray,
               threshold: float, det_scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """linear_assignment per camera on 1 - IoU (fused with the detection scores where given,
    1 - IoU * score: a confident detection wins a tie between equally overlapping ones);
    with no track or no detection, nothing is matched and no cost is computed."""
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return EMPTY_MATCHES, np.arange(len(track_boxes)), np.arange(len(det_boxes))
    rows, cols, cost, dense = _pair_costs(track_boxes, track_slot, det_boxes, det_slot)
    if det_scores is not None:
        cost = fuse_score(cost, det_scores[cols])
    return linear_assignment_pairs(rows, cols, cost, track_slot, det_slot, threshold, dense=dense)


def _pair_costs(boxes_a: np.ndarray, slot_a: np.ndarray, boxes_b: np.ndarray,
                slot_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """1 - IoU of every pair of one camera (non-empty inputs, slots ascending): the pairs, their
    costs, and whether they are one camera's whole matrix (then computed as a dense matrix)."""
    if slot_a[0] == slot_a[-1] == slot_b[0] == slot_b[-1]:
        rows, cols = dense_pairs(len(boxes_a), len(boxes_b))
        return rows, cols, iou_cost(boxes_a, boxes_b).reshape(-1), True
    rows, cols = same_group_pairs(slot_a, slot_b)
    return rows, cols, 1.0 - iou_pairs(boxes_a[rows], boxes_b[cols]), False


def _correct(tracks: TrackTable, rows: np.ndarray, det_index: np.ndarray, boxes: np.ndarray,
             frame: np.ndarray) -> None:
    """Kalman-correct the given rows with their matched detections and mark them tracked."""
    if rows.size == 0:
        return
    tracks.mean[rows], tracks.covariance[rows] = kalman_filter.update(
        tracks.mean[rows], tracks.covariance[rows], kalman_filter.xyxy_to_xyah(boxes[det_index])
    )
    tracks.state[rows] = TRACKED
    tracks.activated[rows] = True
    tracks.frame_id[rows] = frame[tracks.slot[rows]]
    tracks.det_index[rows] = det_index


def _drop_duplicates(tracks: TrackTable, place: np.ndarray, in_batch: np.ndarray) -> None:
    """A tracked and a lost track of one camera on the same spot are one object: keep the older.

    The reference's remove_duplicate_stracks: IoU > 0.85; on equal age the tracked one goes."""
    mine = in_batch[tracks.slot]
    tracked = (mine & (place >= _KEPT) & (place <= _REFOUND)).nonzero()[0]
    lost = (mine & (place >= _OLD_LOST)).nonzero()[0]
    if tracked.size == 0 or lost.size == 0:
        return
    pairs_tracked, pairs_lost, cost, _ = _pair_costs(tracks.boxes(tracked), tracks.slot[tracked],
                                                     tracks.boxes(lost), tracks.slot[lost])
    duplicate = cost < _DUPLICATE_COST
    if not duplicate.any():
        return
    tracked_rows, lost_rows = tracked[pairs_tracked[duplicate]], lost[pairs_lost[duplicate]]
    age = tracks.frame_id - tracks.start_frame
    tracked_older = age[tracked_rows] > age[lost_rows]
    place[tracked_rows[~tracked_older]] = _GONE
    place[lost_rows[tracked_older]] = _GONE


def _check_finite(boxes: np.ndarray, scores: np.ndarray) -> None:
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValueError("Detections.boxes and Detections.scores must be finite (found NaN or infinity)")


def _check_shapes(dets: Detections) -> None:
    if not isinstance(dets, Detections):
        raise TypeError(f"ByteTracker.update expects jetsentry.detections.Detections, got {type(dets).__name__}")
    n = len(dets)
    if dets.boxes.shape != (n, 4):
        raise ValueError(f"Detections.boxes must have shape ({n}, 4) to match {n} scores, got {dets.boxes.shape}")
    if dets.class_ids.shape != (n,):
        raise ValueError(f"Detections.class_ids must have shape ({n},) to match {n} scores, got {dets.class_ids.shape}")
