"""A FAKE device picture for tests (this machine has no GPU): capture's DevicePicture interface over
host memory.  The NV12 rows sit in a host array with a pitch wider than the picture, as NVDEC's
pool lays them out; ``download()`` copies them out as the real one does from the device, and
fails with the real CudaError once ``lost`` is set (a GPU that fell off the bus)."""

from __future__ import annotations

import numpy as np

from jetsentry.capture.frame import DevicePicture, PictureReleased, YuvImage
from jetsentry.capture.yuv import even_size
from jetsentry.infer.errors import CudaError


class FakeDevicePicture(DevicePicture):
    __slots__ = ("memory", "lost", "releases")

    def __init__(self, nv12: np.ndarray, width: int, height: int, pitch_pad: int = 64) -> None:
        even_w, even_h = even_size(width, height)
        memory = np.zeros((even_h * 3 // 2, even_w + pitch_pad), np.uint8)
        memory[:, :even_w] = nv12
        self.memory = memory
        self.lost = False
        self.releases = 0
        super().__init__(luma_ptr=memory.ctypes.data, chroma_ptr=memory.ctypes.data + memory.shape[1] * even_h,
                         pitch=memory.shape[1], width=width, height=height, release=self._count_release)

    def _count_release(self) -> None:
        self.releases += 1

    def download(self) -> YuvImage:
        if self.released:
            raise PictureReleased("the NV12 picture was released")
        if self.lost:
            raise CudaError("cuMemcpy2DAsync failed: CUDA_ERROR_DEVICE_UNAVAILABLE (fake)", call="cuMemcpy2DAsync",
                            status="CUDA_ERROR_DEVICE_UNAVAILABLE", code=46)
        even_w = even_size(self.width, self.height)[0]
        return YuvImage(np.ascontiguousarray(self.memory[:, :even_w]), self.width, self.height, "NV12")
