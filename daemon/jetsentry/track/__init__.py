"""track stage: ByteTrack per camera, Detections in, Detections with track ids out."""

from jetsentry.track.byte_tracker import ByteTracker
from jetsentry.track.camera_tracker import CameraTracker

__all__ = ["ByteTracker", "CameraTracker"]
