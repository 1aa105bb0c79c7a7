"""track stage: ByteTrack per camera, Detections in, Detections with track ids out."""

from jetsentry.track.byte_tracker import ByteTracker

__all__ = ["ByteTracker"]
