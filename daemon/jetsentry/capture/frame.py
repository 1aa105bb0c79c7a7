"""A decoded frame as it leaves capture.

Capture hands over the decoder's own 4:2:0 picture (`YuvImage`, half the bytes of BGR)
and converts it to BGR only when a consumer asks for `Frame.image`.  Most decoded
frames of a live camera are replaced in the newest-frame slot before the batcher takes
them; converting those would be wasted work (GStreamer's videoconvert spent 3 CPU-ms
per 1080p frame here, OpenCV's conversion of a used frame 1.1-1.5 ms: bench/bench_decode.py).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

# OpenCV conversion codes for the 4:2:0 layouts capture delivers.
_TO_BGR = {"I420": cv2.COLOR_YUV2BGR_I420, "NV12": cv2.COLOR_YUV2BGR_NV12}


def even_size(width: int, height: int) -> tuple[int, int]:
    """The packed size of a picture: OpenCV's 4:2:0 conversions need even sides."""
    return width + width % 2, height + height % 2


class YuvImage:
    """A 4:2:0 picture packed as OpenCV expects it: ``data`` is (H' * 3/2, W') uint8
    with H', W' = height, width rounded up to even (odd sizes are edge-padded and
    cropped again after conversion).

    Conversion uses OpenCV's BT.601 limited-range matrix, the same as OpenCV's and
    Ultralytics' video readers (FFmpeg's swscale default), so a model sees the colours
    it would see through them.
    """

    __slots__ = ("data", "width", "height", "format")

    def __init__(self, data: np.ndarray, width: int, height: int, format: str) -> None:
        if format not in _TO_BGR:
            raise ValueError(f"unsupported YUV layout {format!r}; expected one of {sorted(_TO_BGR)}")
        even_w, even_h = even_size(width, height)
        if data.dtype != np.uint8 or data.shape != (even_h * 3 // 2, even_w):
            raise ValueError(f"{format} {width}x{height} needs a ({even_h * 3 // 2}, {even_w}) uint8 array, got {data.dtype} {data.shape}")
        self.data = data
        self.width = width
        self.height = height
        self.format = format

    def to_bgr(self) -> np.ndarray:
        bgr = cv2.cvtColor(self.data, _TO_BGR[self.format])
        if bgr.shape[:2] != (self.height, self.width):
            bgr = np.ascontiguousarray(bgr[: self.height, : self.width])
        return bgr


class Frame:
    """One frame of one camera.  ``image`` is the (H, W, 3) uint8 BGR picture, converted
    from the captured YUV on first use and kept."""

    __slots__ = ("camera_id", "seq", "capture_ts", "received_monotonic", "_yuv", "_bgr", "_lock")

    def __init__(
        self,
        camera_id: str,
        seq: int,
        picture: np.ndarray | YuvImage,
        capture_ts: float,
        received_monotonic: float,
    ) -> None:
        self.camera_id = camera_id
        self.seq = seq  # strictly increasing per camera, across reconnects
        self.capture_ts = capture_ts  # UTC epoch seconds; from the source clock where it has one
        self.received_monotonic = received_monotonic  # time.monotonic() when capture handed it over
        if isinstance(picture, YuvImage):
            self._yuv, self._bgr = picture, None
        elif isinstance(picture, np.ndarray) and picture.ndim == 3 and picture.shape[2] == 3:
            self._yuv, self._bgr = None, picture
        else:
            what = f"array {picture.shape}" if isinstance(picture, np.ndarray) else type(picture).__name__
            raise TypeError(f"a frame needs a YuvImage or an (H, W, 3) BGR array, got {what}")
        self._lock = threading.Lock()

    @property
    def width(self) -> int:
        return self._yuv.width if self._yuv is not None else self._bgr.shape[1]

    @property
    def height(self) -> int:
        return self._yuv.height if self._yuv is not None else self._bgr.shape[0]

    @property
    def yuv(self) -> YuvImage | None:
        """The captured picture, or None for a frame made from a BGR array."""
        return self._yuv

    @property
    def image(self) -> np.ndarray:
        if self._bgr is None:
            with self._lock:  # two consumers of one frame convert it once
                if self._bgr is None:
                    self._bgr = self._yuv.to_bgr()
        return self._bgr

    def __repr__(self) -> str:
        kind = self._yuv.format if self._yuv is not None else "BGR"
        return f"Frame({self.camera_id!r}, seq={self.seq}, {self.width}x{self.height} {kind}, capture_ts={self.capture_ts:.3f})"
