"""A camera's snapshot: its newest processed frame, drawn and encoded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jetsentry.snapshot.draw import draw_detections, encode_jpeg
from jetsentry.snapshot.latest import LatestFrames

# How long a snapshot waits for a frame (a device picture is downloaded from the next one).
WAIT_S = 3.0


class UnknownCamera(LookupError):
    """No running camera has that id."""


class NoFrameYet(RuntimeError):
    """The camera runs, but no frame of it was processed within the wait."""


@dataclass(frozen=True, slots=True)
class SnapshotImage:
    jpeg: bytes
    width: int  # of the JPEG (smaller than the frame only when shrunk to fit a size bound)
    height: int
    frame_width: int
    frame_height: int
    seq: int
    capture_ts: float
    detections: int


class Snapshots:
    """Snapshots of the cameras in `sessions` (camera id -> session), from `latest`."""

    def __init__(self, latest: LatestFrames, sessions: Mapping[str, object], quality: int) -> None:
        self._latest = latest
        self._sessions = sessions
        self.quality = quality

    def take(self, camera_id: str, *, max_bytes: int | None = None, wait_s: float = WAIT_S) -> SnapshotImage:
        """UnknownCamera, NoFrameYet, or ValueError when it cannot fit in max_bytes."""
        if camera_id not in self._sessions:
            raise UnknownCamera(camera_id)
        entry = self._latest.newest(camera_id, wait_s)
        if entry is None:
            raise NoFrameYet(f"no frame of camera {camera_id} was processed within {wait_s:g} s")
        frame = entry.frame
        picture = draw_detections(frame.image, entry.detections, entry.labels)
        jpeg, width, height = encode_jpeg(picture, self.quality, max_bytes)
        return SnapshotImage(jpeg, width, height, frame.width, frame.height, frame.seq, frame.capture_ts,
                             len(entry.detections))
