"""GPU pre-processing: frames' 4:2:0 pictures -> the letterboxed tensor in device memory.

One letterbox kernel launch per batch (infer/letterbox_kernel.py) writes straight into
this pre-processor's device input buffer, which the engine then reads.  Device
pictures (NVDEC) are read where they are; host pictures (GStreamer, Jetson's
nvvidconv) are copied once into pinned memory, which an integrated GPU reads in place
and a discrete GPU receives in one copy.  BGR arrays (callers that have no captured
picture) take the CPU letterbox and one upload of its tensor.

The kernel runs on this pre-processor's own stream and is waited for before ``__call__``
returns, so the pictures may be released as soon as it returns and the engine's stream
never waits on pre-processing of the next batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jetsentry.capture.frame import DevicePicture, Frame, YuvImage, even_size
from jetsentry.gpu.cuda import CudaDevice
from jetsentry.gpu.memory import DeviceBuffer, DeviceTensor, PinnedBuffer, Resources, Stream, copy_htod_async, upload_batch
from jetsentry.infer.letterbox import Letterbox, plan_batch
from jetsentry.infer.letterbox_kernel import FRAME_PARAMS, LAYOUT_I420, LAYOUT_NV12, launch, letterbox_kernel
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.preprocess import Preprocessor


def max_input_hw(info: ModelInfo, input_size: int) -> tuple[int, int]:
    """The largest (h, w) a batch's input can have: the static size, or input_size square."""
    return (info.input_height, info.input_width) if not info.dynamic_hw else (input_size, input_size)


def input_buffer_bytes(info: ModelInfo, input_size: int, max_batch: int, dtype: np.dtype) -> int:
    height, width = max_input_hw(info, input_size)
    return max_batch * 3 * height * width * np.dtype(dtype).itemsize


class GpuLetterbox:
    """Letterboxes up to ``max_batch`` pictures per call into its own device buffer."""

    def __init__(self, device: CudaDevice, info: ModelInfo, input_size: int, max_batch: int,
                 dtype: np.dtype | type = np.float32) -> None:
        if info.dynamic_hw and input_size % info.stride:
            raise ValueError(f"model.input_size {input_size} must be a multiple of the model stride {info.stride}")
        self._device = device
        self._static_hw = None if info.dynamic_hw else (info.input_height, info.input_width)
        self._input_size = input_size
        self._stride = info.stride
        self.max_batch = max_batch
        self.dtype = np.dtype(dtype)
        self._cpu = Preprocessor(info, input_size)
        self._kernel = letterbox_kernel(device)
        self._resources = Resources(device)
        keep = self._resources.keep
        try:
            self._stream = keep(Stream(device))
            self._out = keep(DeviceBuffer(device, input_buffer_bytes(info, input_size, max_batch, self.dtype)))
            self._params_host = keep(PinnedBuffer(device, max_batch * FRAME_PARAMS.itemsize))
            self._params_dev = keep(DeviceBuffer(device, max_batch * FRAME_PARAMS.itemsize))
        except BaseException:
            self.close()
            raise
        self._params = self._params_host.view(FRAME_PARAMS, (max_batch,))
        self._host_staging: PinnedBuffer | None = None
        self._device_staging: DeviceBuffer | None = None

    def __call__(self, pictures: Sequence[Any]) -> tuple[DeviceTensor, list[Letterbox]]:
        count = len(pictures)
        if not 1 <= count <= self.max_batch:
            raise ValueError(f"a batch of {count} pictures; this GPU pre-processor takes 1 to {self.max_batch} "
                             "(model.backend.max_batch)")
        sources = [_source(p) for p in pictures]
        if any(source is None for source in sources):
            return self._upload_cpu_letterbox(pictures)
        for index, source in enumerate(sources):
            if isinstance(source, DevicePicture) and source.device != self._device.index:
                raise ValueError(f"picture {index} is on GPU {source.device}; this engine runs on GPU {self._device.index}")
        boxes = plan_batch([(s.height, s.width) for s in sources], input_hw=self._static_hw,
                           input_size=self._input_size, stride=self._stride)
        self._device.activate()
        addresses = self._stage([s for s in sources if isinstance(s, YuvImage)])
        for index, (source, box) in enumerate(zip(sources, boxes)):
            _fill(self._params[index], source, box, addresses)
        stream = self._stream.handle
        copy_htod_async(self._params_dev.ptr, self._params_host.ptr, count * FRAME_PARAMS.itemsize, stream)
        height, width = boxes[0].input_hw
        launch(self._kernel, params_ptr=self._params_dev.ptr, batch=count, out_ptr=self._out.ptr,
               out_hw=(height, width), half=self.dtype == np.float16, stream=stream)
        self._stream.synchronize()  # the pictures and the staging memory are free to reuse
        return DeviceTensor(self._out.ptr, (count, 3, height, width), self.dtype, self._device.index,
                            self._out.nbytes), boxes

    def _stage(self, pictures: list[YuvImage]) -> dict[int, int]:
        """Device-readable addresses of host pictures: id(picture) -> address."""
        if not pictures:
            return {}
        total = sum(p.data.nbytes for p in pictures)
        if self._host_staging is None or self._host_staging.nbytes < total:
            self._host_staging = self._resources.replace(self._host_staging, PinnedBuffer(self._device, total))
        offsets, at = {}, 0
        for picture in pictures:
            np.copyto(self._host_staging.array[at : at + picture.data.nbytes], picture.data.reshape(-1))
            offsets[id(picture)] = at
            at += picture.data.nbytes
        if self._device.info.integrated:  # Jetson: pinned memory is the device's memory
            base = self._host_staging.device_ptr
        else:
            if self._device_staging is None or self._device_staging.nbytes < total:
                self._device_staging = self._resources.replace(self._device_staging, DeviceBuffer(self._device, total))
            copy_htod_async(self._device_staging.ptr, self._host_staging.ptr, total, self._stream.handle)
            base = self._device_staging.ptr
        return {key: base + offset for key, offset in offsets.items()}

    def _upload_cpu_letterbox(self, pictures: Sequence[Any]) -> tuple[DeviceTensor, list[Letterbox]]:
        tensor, boxes = self._cpu(pictures)
        needed = tensor.size * self.dtype.itemsize
        if self._host_staging is None or self._host_staging.nbytes < needed:
            self._host_staging = self._resources.replace(self._host_staging, PinnedBuffer(self._device, needed))
        self._device.activate()
        uploaded = upload_batch(tensor, self.dtype, self._host_staging, self._out, self._stream,
                                "this pre-processor's buffer")
        self._stream.synchronize()
        return uploaded, boxes

    def close(self) -> None:
        """Free the buffers and the stream (after the last batch's inference finished)."""
        self._resources.free_all()


def _source(picture: Any) -> DevicePicture | YuvImage | None:
    """The 4:2:0 picture the kernel can read, or None (a BGR array: CPU letterbox)."""
    if isinstance(picture, Frame):
        picture = picture.device or picture.yuv
    return picture if isinstance(picture, (DevicePicture, YuvImage)) else None


def _fill(params: np.void, source: DevicePicture | YuvImage, box: Letterbox, addresses: dict[int, int]) -> None:
    params["src_w"], params["src_h"] = source.width, source.height
    params["new_w"], params["new_h"] = box.resized_wh
    params["left"], params["top"] = box.left, box.top
    if isinstance(source, DevicePicture):
        params["y"], params["u"], params["v"] = source.luma_ptr, source.chroma_ptr, 0
        params["y_pitch"] = params["uv_pitch"] = source.pitch
        params["layout"] = LAYOUT_NV12
        return
    even_w, even_h = even_size(source.width, source.height)
    base = addresses[id(source)]
    chroma = base + even_w * even_h
    params["y"], params["y_pitch"] = base, even_w
    if source.format == "NV12":
        params["u"], params["v"], params["uv_pitch"], params["layout"] = chroma, 0, even_w, LAYOUT_NV12
    else:  # I420: U plane, then V plane, each (H/2, W/2)
        params["u"], params["v"] = chroma, chroma + (even_w // 2) * (even_h // 2)
        params["uv_pitch"], params["layout"] = even_w // 2, LAYOUT_I420
