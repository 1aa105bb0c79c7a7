"""A decoded NV12 picture that stays in CUDA device memory.

Made by a GPU decoder (capture/nvdec.py) and read by a GPU pre-processor
(infer/gpu_preprocess.py) without ever crossing to the host; the batcher, the
newest-frame slot and tracking only pass it along.  Other CUDA code can wrap it without
a copy through ``__cuda_array_interface__`` or DLPack.  A consumer that needs BGR (a
snapshot) calls ``Frame.image``, which downloads it first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from jetsentry.capture.yuv import YuvImage, even_size
from jetsentry.dlpack import KDL_CUDA, to_capsule


class PictureReleased(RuntimeError):
    """The picture's memory went back to its producer before this use."""


class DevicePicture:
    """NV12 in device memory: ``height`` luma rows at ``luma_ptr`` and ``height / 2`` rows of
    interleaved U, V at ``chroma_ptr``, each row ``pitch`` bytes from the next.

    The producer wrote it on ``stream`` and synchronised that stream before handing it over,
    so readers need no synchronisation.  ``release()`` gives the memory back to the producer
    (its buffer pool), once; the frame path calls it after the pre-processing kernel that
    read the picture finished.
    """

    format = "NV12"
    __slots__ = ("luma_ptr", "chroma_ptr", "pitch", "width", "height", "device", "stream",
                 "_release", "_released", "_lock")

    def __init__(
        self,
        *,
        luma_ptr: int,
        chroma_ptr: int,
        pitch: int,
        width: int,
        height: int,
        device: int = 0,
        stream: int = 0,
        release: Callable[[], None] | None = None,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"an NV12 picture needs a positive size, got {width}x{height}")
        if pitch < even_size(width, height)[0]:
            raise ValueError(f"NV12 pitch {pitch} is less than the row width {width}")
        if not luma_ptr or not chroma_ptr:
            raise ValueError("an NV12 device picture needs both plane pointers")
        self.luma_ptr = int(luma_ptr)
        self.chroma_ptr = int(chroma_ptr)
        self.pitch = int(pitch)
        self.width = int(width)
        self.height = int(height)
        self.device = int(device)
        self.stream = int(stream)
        self._release = release
        self._released = False
        self._lock = threading.Lock()

    @property
    def released(self) -> bool:
        with self._lock:
            return self._released

    @property
    def rows(self) -> int:
        """Rows of the packed picture: luma rows (rounded up to even) plus half as many chroma rows."""
        even_h = even_size(self.width, self.height)[1]
        return even_h * 3 // 2

    @property
    def contiguous(self) -> bool:
        """Chroma rows follow the luma rows in one allocation (one array can describe both)."""
        return self.chroma_ptr == self.luma_ptr + self.pitch * even_size(self.width, self.height)[1]

    def release(self) -> None:
        """Give the memory back to its producer; later calls do nothing."""
        with self._lock:
            if self._released:
                return
            self._released = True
            release = self._release
        if release is not None:
            release()

    def _packed_view(self) -> tuple[tuple[int, int], tuple[int, int]]:
        if not self.contiguous:
            raise AttributeError("this NV12 picture's planes are separate allocations; use its plane pointers")
        if self.released:
            raise PictureReleased("the NV12 picture was released")
        return (self.rows, even_size(self.width, self.height)[0]), (self.pitch, 1)

    @property
    def __cuda_array_interface__(self) -> dict:
        """The picture as a (rows, width) uint8 array with row stride ``pitch`` (CUDA Array
        Interface v3; no stream: the producer synchronised it)."""
        shape, strides = self._packed_view()
        return {"shape": shape, "strides": strides, "typestr": "|u1", "data": (self.luma_ptr, False),
                "version": 3, "stream": None}

    def __dlpack__(self, stream: int | None = None, **_options: object):
        shape, strides = self._packed_view()
        return to_capsule(data=self.luma_ptr, shape=shape, strides=strides, device_type=KDL_CUDA,
                          device_id=self.device, owner=self)

    def __dlpack_device__(self) -> tuple[int, int]:
        return KDL_CUDA, self.device

    def download(self) -> YuvImage:
        """A host copy, packed as capture's host pictures are (for snapshots and the CPU path)."""
        from jetsentry.gpu.cuda import get_device
        from jetsentry.gpu.memory import copy_2d_async, driver, check

        if self.released:
            raise PictureReleased("the NV12 picture was released")
        even_w, even_h = even_size(self.width, self.height)
        host = np.empty((even_h * 3 // 2, even_w), np.uint8)
        device = get_device(self.device)
        device.activate()
        # The legacy default stream: the producer synchronised its own stream already, and
        # that stream may be gone when a consumer downloads late.
        for dst_row, src, rows in ((0, self.luma_ptr, even_h), (even_h, self.chroma_ptr, even_h // 2)):
            copy_2d_async(dst=host.ctypes.data + dst_row * even_w, dst_pitch=even_w, src=src, src_pitch=self.pitch,
                          width_bytes=even_w, height=rows, stream=0, dst_host=True)
        check(driver.cuStreamSynchronize(0), "cuStreamSynchronize")
        return YuvImage(host, self.width, self.height, "NV12")

    def __repr__(self) -> str:
        state = ", released" if self._released else ""
        return f"DevicePicture(NV12 {self.width}x{self.height}, pitch {self.pitch}, GPU {self.device}{state})"
