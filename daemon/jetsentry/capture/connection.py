"""What a camera session needs from one connection attempt, whatever decodes the video.

A connection (GStreamer: capture/gst_connection.py; NVDEC: capture/nvdec.py) runs its
source on threads of its own and hands each decoded frame to the session's
``FrameSink.deliver``; the session thread starts it, waits for its events (an error, the
end of the stream) and watches for stalls.  So the state machine, backoff, fps cap,
newest-frame slot and counters are the session's, once, for every decoder.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jetsentry.capture.decode_problems import DecodeProblems
from jetsentry.capture.errors import CaptureError
from jetsentry.capture.probe import VideoFileInfo


class Delivery(enum.Enum):
    HANDED_OVER = "handed over"  # in the slot
    DROPPED = "dropped"  # over the fps cap: no picture was made
    CANCELLED = "cancelled"  # a lossless hand-over given up at teardown


class FrameSink(Protocol):
    def deliver(self, make_picture: Callable[[], Any], pts_s: float | None,
                capture_ts: Callable[[], float]) -> Delivery:
        """One decoded frame: its picture is made only when the frame is admitted."""
        ...


@dataclass(frozen=True)
class EndOfStream:
    """The source ended (a file's end, or a live source that hung up)."""


@dataclass(frozen=True)
class Failed:
    error: CaptureError


ConnectionEvent = EndOfStream | Failed


class Connection(Protocol):
    kind: str  # the source kind: file, rtsp, v4l2, csi, test
    problems: DecodeProblems  # decode problems met so far (capture/decode_problems.py)
    file_info: VideoFileInfo | None  # a file's probe, kept across reconnects

    def start(self) -> None:
        """Start decoding; raises CaptureError when the source cannot start."""

    def next_event(self, timeout_s: float) -> ConnectionEvent | None:
        """The next error or end of stream, or None after ``timeout_s`` (or a wake())."""

    def seek_to_start(self) -> bool:
        """Restart a file from its beginning; False when it cannot (the session reopens it)."""

    def stream_note(self) -> str | None:
        """What to log once frames flow (e.g. the RTSP codec and its decoder)."""

    def wake(self) -> None:
        """Make a pending next_event return now (any thread)."""

    def close(self) -> None:
        """Stop decoding and free the source; blocks until its threads have stopped."""
