"""Snapshots: a camera's newest processed frame as a JPEG with its detections and track ids drawn
(for the `snapshot` command and GET /snapshot/{camera}.jpg on the metrics listener)."""

from jetsentry.snapshot.draw import draw_detections, encode_jpeg
from jetsentry.snapshot.latest import LatestFrames
from jetsentry.snapshot.snapshots import NoFrameYet, SnapshotImage, Snapshots, UnknownCamera

__all__ = ["LatestFrames", "NoFrameYet", "SnapshotImage", "Snapshots", "UnknownCamera", "draw_detections",
           "encode_jpeg"]
