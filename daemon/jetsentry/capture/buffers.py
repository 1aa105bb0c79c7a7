"""GStreamer samples -> BGR numpy images and capture timestamps.

Copy policy: exactly one copy per frame.  The mapped buffer is viewed as an ndarray
with the real row stride (GStreamer pads BGR rows to 4 bytes), that view is copied
into a contiguous (H, W, 3) array, and the buffer is unmapped at once.  Holding the
mapping instead would pin the decoder's buffer-pool memory for as long as inference
keeps the frame, which stalls the pool.  Map + copy + unmap of a 1080p frame measured
0.65 ms of one core here (2-core x86 VM).
"""

from __future__ import annotations

import numpy as np

from jetsentry.capture.errors import DecodeError
from jetsentry.capture.gst import gst, gst_video

# Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_TO_UNIX_S = 2_208_988_800


class BgrSampleConverter:
    """Turns appsink samples (video/x-raw,format=BGR) into (H, W, 3) uint8 arrays."""

    def __init__(self) -> None:
        self._Gst = gst()
        self._GstVideo = gst_video()
        self._caps = None
        self._layout: tuple[int, int, int, int] | None = None  # height, width, stride, offset

    def _layout_for(self, caps) -> tuple[int, int, int, int]:
        if self._caps is None or not caps.is_equal(self._caps):
            info = self._GstVideo.VideoInfo.new_from_caps(caps)
            if info is None or info.finfo.format != self._GstVideo.VideoFormat.BGR:
                raise DecodeError(f"expected BGR frames from appsink, got caps {caps.to_string()}")
            self._caps = caps
            self._layout = (info.height, info.width, info.stride[0], info.offset[0])
        return self._layout

    def image(self, sample) -> np.ndarray:
        height, width, stride, offset = self._layout_for(sample.get_caps())
        buffer = sample.get_buffer()
        meta = self._GstVideo.buffer_get_video_meta(buffer)
        if meta is not None:  # an upstream allocator may choose its own stride
            stride, offset = meta.stride[0], meta.offset[0]
        ok, mapping = buffer.map(self._Gst.MapFlags.READ)
        if not ok:
            raise DecodeError("could not map a decoded frame")
        try:
            view = np.ndarray(
                (height, width, 3), dtype=np.uint8, buffer=mapping.data, offset=offset, strides=(stride, 3, 1)
            )
            return view.copy()  # the one copy; drops row padding, frees the pool buffer
        finally:
            buffer.unmap(mapping)


class CaptureClock:
    """capture_ts (UTC epoch seconds) for each buffer.

    RTSP: the sender's NTP clock from RTCP sender reports (GstReferenceTimestampMeta,
    timestamp/x-ntp, added by rtspsrc add-reference-timestamp-meta) once one arrived;
    before that the wall clock at arrival.  Files: a wall-clock anchor plus the buffer
    PTS, re-anchored when the PTS goes backwards (loop, reconnect).  Live sources
    without a sender clock (V4L2, CSI, test): wall clock at arrival.
    """

    def __init__(self, wall_clock, *, use_pts: bool) -> None:
        Gst = gst()
        self._wall_clock = wall_clock
        self._use_pts = use_pts
        self._ntp_caps = Gst.Caps.from_string("timestamp/x-ntp")
        self._unix_caps = Gst.Caps.from_string("timestamp/x-unix")
        self._none = Gst.CLOCK_TIME_NONE
        self._second = Gst.SECOND
        self._anchor: float | None = None
        self._last_pts: int | None = None

    def reset(self) -> None:
        self._anchor = None
        self._last_pts = None

    def capture_ts(self, buffer) -> float:
        meta = buffer.get_reference_timestamp_meta(self._ntp_caps)
        if meta is not None:
            return meta.timestamp / self._second - NTP_TO_UNIX_S
        meta = buffer.get_reference_timestamp_meta(self._unix_caps)
        if meta is not None:
            return meta.timestamp / self._second
        pts = buffer.pts
        if not self._use_pts or pts == self._none:
            return self._wall_clock()
        if self._anchor is None or (self._last_pts is not None and pts < self._last_pts):
            self._anchor = self._wall_clock() - pts / self._second
        self._last_pts = pts
        return self._anchor + pts / self._second


def pts_seconds(buffer) -> float | None:
    Gst = gst()
    return None if buffer.pts == Gst.CLOCK_TIME_NONE else buffer.pts / Gst.SECOND
