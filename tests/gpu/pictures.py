"""Real 4:2:0 pictures for GPU tests: photographs (tests/infer/photos.py) converted as an encoder would."""

from __future__ import annotations

import cv2
import numpy as np

from jetsentry.capture.frame import DevicePicture, YuvImage
from tests.infer.photos import fit_to_frame, load_photos


def i420_from_bgr(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def nv12_from_bgr(bgr: np.ndarray) -> np.ndarray:
    """I420's U and V planes interleaved, as NVDEC and nvvidconv deliver them."""
    height, width = bgr.shape[:2]
    i420 = i420_from_bgr(bgr)
    u = i420[height : height + height // 4].reshape(height // 2, width // 2)
    v = i420[height + height // 4 :].reshape(height // 2, width // 2)
    nv12 = np.empty((height * 3 // 2, width), np.uint8)
    nv12[:height] = i420[:height]
    nv12[height:] = np.stack([u, v], axis=-1).reshape(height // 2, width)
    return nv12


def scenes(width: int = 1920, height: int = 1080, count: int = 4) -> list[np.ndarray]:
    """BGR frames of real photographs; blurred noise where no photographs are installed."""
    photos = load_photos()
    if photos:
        return [fit_to_frame(photos[i % len(photos)], width, height) for i in range(count)]
    rng = np.random.default_rng(3)
    return [cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 3) for _ in range(count)]


class DeviceNv12:
    """An NV12 picture uploaded to device memory with a pitch wider than its rows."""

    def __init__(self, device, nv12: np.ndarray, width: int, height: int, pitch_pad: int = 64) -> None:
        from jetsentry.gpu.memory import DeviceBuffer, copy_2d_async

        self.pitch = width + pitch_pad
        rows = nv12.shape[0]
        self.buffer = DeviceBuffer(device, self.pitch * rows)
        device.activate()
        copy_2d_async(dst=self.buffer.ptr, dst_pitch=self.pitch, src=nv12.ctypes.data, src_pitch=width,
                      width_bytes=width, height=rows, stream=0, src_host=True)
        device.synchronize()
        self.released = 0
        self.picture = DevicePicture(luma_ptr=self.buffer.ptr, chroma_ptr=self.buffer.ptr + self.pitch * height,
                                     pitch=self.pitch, width=width, height=height, device=device.index,
                                     release=self._release)

    def _release(self) -> None:
        self.released += 1

    def free(self) -> None:
        self.buffer.free()


def yuv(nv12_or_i420: np.ndarray, width: int, height: int, layout: str) -> YuvImage:
    return YuvImage(nv12_or_i420, width, height, layout)
