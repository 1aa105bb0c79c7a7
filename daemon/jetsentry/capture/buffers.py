"""GStreamer samples -> packed YUV pictures, and capture timestamps.

Copy policy: exactly one copy per frame.  Each mapped plane is viewed as an ndarray with
its real row stride and copied into one contiguous 4:2:0 array in OpenCV's layout, and
the buffer is unmapped at once.  Holding the mapping instead would pin the decoder's
buffer-pool memory for as long as inference keeps the frame, which stalls the pool.
Map + copy + unmap of a 1080p I420 frame is a 3 MB copy, half of BGR; conversion to
BGR waits until a consumer wants the frame (see frame.py).
"""

from __future__ import annotations

import numpy as np

from jetsentry.capture.errors import BadPipeline, HandoverFailed
from jetsentry.capture.yuv import YuvImage, even_size
from jetsentry.capture.gst import gst, gst_video

# Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_TO_UNIX_S = 2_208_988_800

# appsink caps; pipeline descriptions put videoconvert before it, which passes these
# through untouched and converts anything else (YUY2 webcams, 10-bit video) once.
YUV_FORMATS = ("I420", "NV12")


class YuvSampleReader:
    """Turns appsink samples (video/x-raw, I420 or NV12) into YuvImage pictures."""

    def __init__(self) -> None:
        self._Gst = gst()
        self._GstVideo = gst_video()
        self._caps = None
        self._layout: tuple[str, int, int, list[int], list[int]] | None = None

    def _layout_for(self, caps) -> tuple[str, int, int, list[int], list[int]]:
        if self._caps is None or not caps.is_equal(self._caps):
            info = self._GstVideo.VideoInfo.new_from_caps(caps)
            name = info.finfo.name if info is not None else None
            if name not in YUV_FORMATS:
                raise BadPipeline(
                    f"expected {' or '.join(YUV_FORMATS)} frames from appsink, got caps {caps.to_string()}"
                )
            self._caps = caps
            self._layout = (name, info.width, info.height, list(info.stride[:3]), list(info.offset[:3]))
        return self._layout

    def picture(self, sample) -> YuvImage:
        fmt, width, height, stride, offset = self._layout_for(sample.get_caps())
        buffer = sample.get_buffer()
        meta = self._GstVideo.buffer_get_video_meta(buffer)
        if meta is not None:  # an upstream allocator may choose its own strides and plane offsets
            stride, offset = list(meta.stride[:3]), list(meta.offset[:3])
        ok, mapping = buffer.map(self._Gst.MapFlags.READ)
        if not ok:
            raise HandoverFailed("could not map a decoded frame")
        try:
            return _pack(mapping.data, fmt, width, height, stride, offset)
        finally:
            buffer.unmap(mapping)


def _pack(data, fmt: str, width: int, height: int, stride: list[int], offset: list[int]) -> YuvImage:
    even_w, even_h = even_size(width, height)
    chroma_h, chroma_w = even_h // 2, even_w // 2
    packed = np.empty((even_h * 3 // 2, even_w), np.uint8)
    flat = packed.reshape(-1)

    def plane(index: int, rows: int, cols: int) -> np.ndarray:
        return np.ndarray((rows, cols), np.uint8, buffer=data, offset=offset[index], strides=(stride[index], 1))

    luma = packed[:even_h]
    luma[:height, :width] = plane(0, height, width)
    if width % 2:  # repeat the edge so OpenCV's even-size conversion sees real pixels
        luma[:height, width] = luma[:height, width - 1]
    if height % 2:
        luma[height] = luma[height - 1]
    chroma = flat[even_h * even_w :]
    if fmt == "I420":
        size = chroma_h * chroma_w
        chroma[:size].reshape(chroma_h, chroma_w)[:] = plane(1, chroma_h, chroma_w)
        chroma[size:].reshape(chroma_h, chroma_w)[:] = plane(2, chroma_h, chroma_w)
    else:  # NV12: one interleaved UV plane
        chroma.reshape(chroma_h, even_w)[:] = plane(1, chroma_h, even_w)
    return YuvImage(packed, width, height, fmt)


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
