"""A decoded 4:2:0 picture in host memory, converted to BGR only when a consumer asks.

Capture hands over the decoder's own 4:2:0 picture (half the bytes of BGR).  Most
decoded frames of a live camera are replaced in the newest-frame slot before the
batcher takes them; converting those would be wasted work (GStreamer's videoconvert
spent 3 CPU-ms per 1080p frame here, OpenCV's conversion of a used frame 1.1-1.5 ms:
bench/bench_decode.py).
"""

from __future__ import annotations

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
    it would see through them.  The GPU pre-processing kernel uses the same matrix
    (infer/letterbox_kernel.py).
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
