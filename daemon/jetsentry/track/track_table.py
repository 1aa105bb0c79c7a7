"""The tracker's tracks as parallel arrays, one row per track (no per-track objects).

This plays the part of the reference's STrack list: row order matters (it is the
reference's list order, which decides ties in the assignment).  One table holds the tracks of
every camera of a TrackerGroup, grouped by camera slot in ascending order, each camera's
tracked rows first and its lost ones after them; the group rebuilds it each frame with take()
(and concat() for births).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from jetsentry.track import kalman_filter

TRACKED = np.int8(1)  # matched in the latest frame it was seen
LOST = np.int8(2)  # unmatched, kept for the lost-track buffer

NO_TRACK_ID = 0  # rows not yet confirmed carry no public id


@dataclass(slots=True)
class TrackTable:
    mean: np.ndarray  # (N, 8) Kalman state, xyah + velocities
    covariance: np.ndarray  # (N, 4, 3) per-coordinate 2x2 blocks, see kalman_filter
    track_id: np.ndarray  # (N,) int64, NO_TRACK_ID until the track is confirmed
    state: np.ndarray  # (N,) int8, TRACKED or LOST
    activated: np.ndarray  # (N,) bool, confirmed (matched in two frames, or born on frame 1)
    frame_id: np.ndarray  # (N,) int64, last frame the track was matched
    start_frame: np.ndarray  # (N,) int64, frame the track was born
    det_index: np.ndarray  # (N,) int64, detection matched in the current frame, else -1
    slot: np.ndarray  # (N,) int64, the camera (TrackerGroup slot) the track belongs to

    @classmethod
    def empty(cls) -> TrackTable:
        return cls(
            mean=np.zeros((0, 8)),
            covariance=np.zeros((0, 4, 3)),
            track_id=np.zeros(0, np.int64),
            state=np.zeros(0, np.int8),
            activated=np.zeros(0, bool),
            frame_id=np.zeros(0, np.int64),
            start_frame=np.zeros(0, np.int64),
            det_index=np.zeros(0, np.int64),
            slot=np.zeros(0, np.int64),
        )

    @classmethod
    def born(cls, boxes: np.ndarray, det_index: np.ndarray, frame_id: np.ndarray, activated: np.ndarray,
             slot: np.ndarray) -> TrackTable:
        """New tracks from xyxy detection boxes, one row per box; the other arguments per box too."""
        n = boxes.shape[0]
        mean, covariance = kalman_filter.initiate(kalman_filter.xyxy_to_xyah(boxes))
        frame_id = np.asarray(frame_id, np.int64)
        return cls(
            mean=mean,
            covariance=covariance,
            track_id=np.full(n, NO_TRACK_ID, np.int64),
            state=np.full(n, TRACKED, np.int8),
            activated=np.asarray(activated, bool),
            frame_id=frame_id,
            start_frame=frame_id.copy(),
            det_index=np.asarray(det_index, np.int64),
            slot=np.asarray(slot, np.int64),
        )

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def take(self, rows: np.ndarray) -> TrackTable:
        """The given rows, in the given order (a copy)."""
        return TrackTable(*(getattr(self, name)[rows] for name in _FIELDS))

    @staticmethod
    def concat(first: TrackTable, second: TrackTable) -> TrackTable:
        return TrackTable(*(np.concatenate((getattr(first, name), getattr(second, name))) for name in _FIELDS))

    def boxes(self, rows: np.ndarray) -> np.ndarray:
        """xyxy boxes of the given rows, from the current Kalman mean."""
        return kalman_filter.xyah_to_xyxy(self.mean[rows])


_FIELDS = tuple(f.name for f in fields(TrackTable))
