"""A decoded frame as it leaves capture: a host picture (4:2:0 or BGR) or a device picture.

The batcher, the newest-frame slot and tracking do not look at the picture; the
engine's pre-processor does (infer/preprocess.py for the CPU, infer/gpu_preprocess.py
for a GPU backend).  ``Frame.image`` converts to BGR on first use, downloading a device
picture first, so nothing is converted that no consumer asked for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from jetsentry.capture.device_picture import DevicePicture, PictureReleased
from jetsentry.capture.yuv import YuvImage, even_size

__all__ = ["DevicePicture", "Frame", "PictureReleased", "YuvImage", "even_size", "pictures_to_host"]

log = logging.getLogger("jetsentry.capture")


class Frame:
    """One frame of one camera.  ``image`` is the (H, W, 3) uint8 BGR picture, converted
    from the captured picture on first use and kept.

    A frame holding a device picture must be released (``release()``) once its picture
    was read: the memory belongs to the decoder's buffer pool.  Releasing a host frame
    does nothing.
    """

    __slots__ = ("camera_id", "seq", "capture_ts", "received_monotonic", "_yuv", "_bgr", "_device", "_lock")

    def __init__(
        self,
        camera_id: str,
        seq: int,
        picture: np.ndarray | YuvImage | DevicePicture,
        capture_ts: float,
        received_monotonic: float,
    ) -> None:
        self.camera_id = camera_id
        self.seq = seq  # strictly increasing per camera, across reconnects
        self.capture_ts = capture_ts  # UTC epoch seconds; from the source clock where it has one
        self.received_monotonic = received_monotonic  # time.monotonic() when capture handed it over
        self._yuv: YuvImage | None = None
        self._bgr: np.ndarray | None = None
        self._device: DevicePicture | None = None
        if isinstance(picture, DevicePicture):
            self._device = picture
        elif isinstance(picture, YuvImage):
            self._yuv = picture
        elif isinstance(picture, np.ndarray) and picture.ndim == 3 and picture.shape[2] == 3:
            self._bgr = picture
        else:
            what = f"array {picture.shape}" if isinstance(picture, np.ndarray) else type(picture).__name__
            raise TypeError(f"a frame needs a YuvImage or an (H, W, 3) BGR array (or a DevicePicture), got {what}")
        self._lock = threading.Lock()

    @property
    def width(self) -> int:
        return self._picture_size()[0]

    @property
    def height(self) -> int:
        return self._picture_size()[1]

    def _picture_size(self) -> tuple[int, int]:
        if self._device is not None:
            return self._device.width, self._device.height
        if self._yuv is not None:
            return self._yuv.width, self._yuv.height
        return self._bgr.shape[1], self._bgr.shape[0]

    @property
    def yuv(self) -> YuvImage | None:
        """The captured host 4:2:0 picture; None for BGR and device frames."""
        return self._yuv

    @property
    def device(self) -> DevicePicture | None:
        """The captured device picture; None for host frames."""
        return self._device

    @property
    def picture(self) -> np.ndarray | YuvImage | DevicePicture:
        """What capture delivered: a DevicePicture, a YuvImage, or a BGR array."""
        if self._device is not None:
            return self._device
        return self._yuv if self._yuv is not None else self._bgr

    @property
    def image(self) -> np.ndarray:
        if self._bgr is None:
            with self._lock:  # two consumers of one frame convert it once
                if self._bgr is None:
                    yuv = self._yuv if self._yuv is not None else self._download()
                    self._bgr = yuv.to_bgr()
        return self._bgr

    def _download(self) -> YuvImage:
        try:
            return self._device.download()
        except PictureReleased:
            raise PictureReleased(f"{self!r}: its device picture was released before anyone asked for BGR") from None

    def copy_to_host(self) -> None:
        """Turn a device frame into a host one: its picture downloaded as a host NV12 YuvImage (what
        the CPU pre-processor takes), then the device picture given back to its decoder.  Nothing
        for host frames; on a failed download (PictureReleased, a CUDA error) the frame keeps its
        device picture and the error is raised."""
        device = self._device
        if device is None:
            return
        yuv = self._download()
        with self._lock:
            self._yuv, self._device = yuv, None
        device.release()

    def release(self) -> None:
        """Give a device picture back to its decoder (idempotent; nothing for host frames)."""
        if self._device is not None:
            self._device.release()

    def __repr__(self) -> str:
        kind = "NV12 device" if self._device is not None else (self._yuv.format if self._yuv is not None else "BGR")
        return f"Frame({self.camera_id!r}, seq={self.seq}, {self.width}x{self.height} {kind}, capture_ts={self.capture_ts:.3f})"


def pictures_to_host(frames: Sequence[Frame]) -> int:
    """Copy the device pictures of a failed batch's frames to host NV12 pictures (Frame.copy_to_host),
    so another backend can infer them; how many could not be copied (the GPU may be lost): those
    frames keep their device picture, which HeldFrames gives up."""
    failed = []
    for frame in frames:
        if frame.device is None:
            continue
        try:
            frame.copy_to_host()
        except Exception as exc:  # noqa: BLE001 - a lost GPU fails in its own ways
            failed.append((frame, exc))
    if failed:
        frame, exc = failed[0]
        log.warning("%d device picture(s) of a failed batch could not be copied to the host (first: %r: %s: %s): "
                    "those frames cannot be retried", len(failed), frame, type(exc).__name__, exc)
    return len(failed)
