"""Head decoding on the GPU: only the anchors above the confidence threshold cross to the host.

The raw YOLO head is [B, 4+C, N] (2.8 MB per 640x640 frame in float32); copying it to
the host and taking each anchor's best class there costs more host time per frame than
the rest of the frame path (bench/gpu/end_to_end.py).  This kernel does that selection on
the device, as ``postprocess`` does it on the host: per anchor the best of the kept
classes (the first on a tie), kept when its score is strictly above the threshold.  The
whole batch's candidates ([image, anchor, score, class, cx, cy, w, h]) are compacted into
one array with one atomic counter, so the host fetches the counter and the first
``SPECULATIVE_ROWS`` rows in one go (a second copy only for a batch with more), and puts
them back in image and anchor order, so NMS then sees exactly the candidates, in exactly
the order, that the host path gives it (``postprocess_candidates``).

Few CUDA calls per batch on purpose: each one releases Python's GIL, and taking it back
from a thread running Python can wait up to one switch interval (bench/gpu/gil_probe.py).
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from jetsentry.gpu.cuda import CudaDevice, check, driver
from jetsentry.gpu.memory import DeviceBuffer, PinnedBuffer, Resources, copy_dtoh_async, copy_htod_async
from jetsentry.gpu.nvrtc import CompiledKernel, compile_kernel
from jetsentry.infer.head_kernel_types import ROW, Candidates, candidates_from_rows

BLOCK = 256
SPECULATIVE_ROWS = 4096  # fetched with the counter (128 KiB): a 16-frame batch has a few hundred

SOURCE = r"""
__device__ __forceinline__ float load(const void* head, size_t at, int half) {
    if (!half) return ((const float*)head)[at];
    unsigned short h = ((const unsigned short*)head)[at];
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

extern "C" __global__ void select_candidates(const void* head, int half, int channels, int anchors,
                                             const unsigned char* keep, float confidence,
                                             int* count, float* rows) {
    int a = blockIdx.x * blockDim.x + threadIdx.x;
    int b = blockIdx.y;
    if (a >= anchors) return;
    size_t image = (size_t)b * channels * anchors;
    float best = 0.f;
    int best_class = -1;
    for (int c = 0; c < channels - 4; ++c) {
        if (!keep[c]) continue;
        float s = load(head, image + (size_t)(4 + c) * anchors + a, half);
        if (best_class < 0 || s > best) { best = s; best_class = c; }
    }
    if (best_class < 0 || !(best > confidence)) return;
    int slot = atomicAdd(count, 1);
    float* row = rows + (size_t)slot * 8;
    row[0] = (float)b;
    row[1] = (float)a;
    row[2] = best;
    row[3] = (float)best_class;
    for (int k = 0; k < 4; ++k) row[4 + k] = load(head, image + (size_t)k * anchors + a, half);
}
"""

_compiled: dict[tuple[int, tuple[int, int]], CompiledKernel] = {}
_lock = threading.Lock()


def _kernel(device: CudaDevice) -> CompiledKernel:
    key = (device.index, device.info.compute_capability)
    with _lock:
        if key not in _compiled:
            _compiled[key] = compile_kernel(device, SOURCE, "select_candidates", name="head.cu")
        return _compiled[key]


class HeadDecoder:
    """Buffers for one engine's largest batch: the candidate counter and rows."""

    def __init__(self, device: CudaDevice, max_batch: int, channels: int, anchors: int) -> None:
        self._device = device
        self._kernel = _kernel(device)
        self.max_batch, self.channels, self.anchors = max_batch, channels, anchors
        self._resources = Resources(device)
        keep = self._resources.keep
        try:
            self._counts = keep(DeviceBuffer(device, 4))
            self._rows = keep(DeviceBuffer(device, max_batch * anchors * ROW * 4))
            self._keep_mask = keep(DeviceBuffer(device, channels))
            self._host_counts = keep(PinnedBuffer(device, 4))
            self._host_rows = keep(PinnedBuffer(device, max_batch * anchors * ROW * 4))
            self._host_mask = keep(PinnedBuffer(device, channels))
        except BaseException:
            self.close()
            raise
        self._mask_for: object = ()

    def decode(self, head_ptr: int, count: int, *, half: bool, confidence: float,
               class_ids: np.ndarray | None, stream: int) -> list[Candidates]:
        """Candidates of ``count`` images of the head at ``head_ptr`` (queued after the
        engine's work on ``stream``); waits for the copies."""
        if not 1 <= count <= self.max_batch:
            raise ValueError(f"a batch of {count}; the head decoder holds {self.max_batch}")
        classes = self.channels - 4
        mask_key = None if class_ids is None else tuple(int(c) for c in class_ids)
        if mask_key != self._mask_for:
            mask = self._host_mask.array[:classes]
            mask[:] = 1 if class_ids is None else 0
            if class_ids is not None:
                mask[np.asarray(class_ids, np.int64)] = 1
            copy_htod_async(self._keep_mask.ptr, self._host_mask.ptr, classes, stream)
            self._mask_for = mask_key
        check(driver.cuMemsetD32Async(self._counts.ptr, 0, 1, stream), "cuMemsetD32Async")
        grid = ((self.anchors + BLOCK - 1) // BLOCK, count, 1)
        self._kernel.launch(grid, (BLOCK, 1, 1), stream, [
            ctypes.c_uint64(head_ptr), ctypes.c_int32(1 if half else 0), ctypes.c_int32(self.channels),
            ctypes.c_int32(self.anchors), ctypes.c_uint64(self._keep_mask.ptr), ctypes.c_float(confidence),
            ctypes.c_uint64(self._counts.ptr), ctypes.c_uint64(self._rows.ptr),
        ])
        capacity = count * self.anchors
        ahead = min(SPECULATIVE_ROWS, capacity)
        copy_dtoh_async(self._host_counts.ptr, self._counts.ptr, 4, stream)
        copy_dtoh_async(self._host_rows.ptr, self._rows.ptr, ahead * ROW * 4, stream)
        check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")
        total = int(self._host_counts.view(np.int32, (1,))[0])
        if total > ahead:
            done = ahead * ROW * 4
            copy_dtoh_async(self._host_rows.ptr + done, self._rows.ptr + done, (total - ahead) * ROW * 4, stream)
            check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")
        return candidates_from_rows(self._host_rows.view(np.float32, (self.max_batch * self.anchors, ROW))[:total],
                                    count)

    def close(self) -> None:
        self._resources.free_all()
