"""Capture stage: GStreamer or NVDEC sources -> 4:2:0 frames in host or GPU memory (BGR on
demand), one newest-frame slot per camera.

    CameraSession      one camera's reconnecting connection (session.py; GStreamer: gst_connection.py,
                       NVDEC: nvdec.py, chosen by decoders.py)
    LatestFrameSlot    the one-frame hand-over to the batcher (slot.py)
    VideoFileReader    every frame of a file, for `jetsentry analyze` (reader.py)
"""

from jetsentry.backoff import Backoff, RetryDelay
from jetsentry.capture.elements import choose_decoder, has_element
from jetsentry.capture.errors import (
    AuthFailed,
    BadPipeline,
    BadVideoFile,
    CaptureError,
    ConnectionFailed,
    DecodeError,
    ElementMissing,
    EndOfStream,
    FatalCaptureError,
    FileNotFound,
    GStreamerMissing,
    HandoverFailed,
    PipelineStartFailed,
    SourceNotFound,
)
from jetsentry.capture.frame import Frame
from jetsentry.capture.probe import VideoFileInfo, probe_video_file
from jetsentry.capture.reader import VideoFileReader, iter_video_frames
from jetsentry.capture.session import CameraSession
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.capture.state import SessionState, SessionStats, StateChange

__all__ = [
    "AuthFailed",
    "Backoff",
    "BadPipeline",
    "BadVideoFile",
    "CameraSession",
    "CaptureError",
    "ConnectionFailed",
    "DecodeError",
    "ElementMissing",
    "EndOfStream",
    "FatalCaptureError",
    "FileNotFound",
    "Frame",
    "GStreamerMissing",
    "HandoverFailed",
    "PipelineStartFailed",
    "LatestFrameSlot",
    "RetryDelay",
    "SessionState",
    "SessionStats",
    "SourceNotFound",
    "StateChange",
    "VideoFileInfo",
    "VideoFileReader",
    "choose_decoder",
    "has_element",
    "iter_video_frames",
    "probe_video_file",
]
