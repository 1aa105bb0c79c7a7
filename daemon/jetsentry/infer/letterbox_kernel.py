"""The GPU letterbox: one CUDA kernel from NV12 or I420 pictures to the engine's input tensor.

One launch per batch reads each frame's 4:2:0 planes (device memory, or pinned host
memory mapped into the device) and writes the letterboxed, RGB, CHW, 0..1 float32 or
float16 tensor straight into the engine's input buffer.  It computes what the CPU path
computes (infer/letterbox.py after capture/yuv.py), in the same integer arithmetic:

- colour: OpenCV's BT.601 limited-range YUV->RGB conversion (its fixed-point constants,
  nearest chroma sample per 2x2 block), as ``YuvImage.to_bgr`` does;
- resize: OpenCV's INTER_LINEAR sample positions and 11-bit weights (``cv2.resize``),
  the vertical pass rounded as its SIMD path rounds;
- padding 114, borders and centring from the same ``Letterbox`` plan; values / 255.

Compiled at start with NVRTC (cuda-python) for the device's own architecture.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from jetsentry.gpu.cuda import CudaDevice
from jetsentry.gpu.nvrtc import CompiledKernel, compile_kernel

# OpenCV's BT.601 YUV->RGB constants (modules/imgproc color_yuv: ITUR_BT_601_*), 20-bit fixed point.
BT601_CY = 1220542
BT601_CUB = 2116026
BT601_CUG = -409993
BT601_CVG = -852492
BT601_CVR = 1673527
BT601_SHIFT = 20
RESIZE_COEF_BITS = 11  # cv2.resize INTER_RESIZE_COEF_BITS
PAD_VALUE = 114

LAYOUT_NV12 = 0
LAYOUT_I420 = 1

# One frame's parameters, as the kernel's FrameParams struct lays them out (64 bytes).
FRAME_PARAMS = np.dtype([
    ("y", "<u8"), ("u", "<u8"), ("v", "<u8"),
    ("y_pitch", "<i4"), ("uv_pitch", "<i4"),
    ("src_w", "<i4"), ("src_h", "<i4"),
    ("new_w", "<i4"), ("new_h", "<i4"),
    ("left", "<i4"), ("top", "<i4"),
    ("layout", "<i4"), ("reserved", "<i4"),
])

BLOCK = (32, 8, 1)

SOURCE = r"""
struct FrameParams {
    unsigned long long y, u, v;   // plane addresses the device can read
    int y_pitch, uv_pitch;        // bytes per row of luma, of chroma
    int src_w, src_h;             // picture size
    int new_w, new_h;             // resized size inside the input
    int left, top;                // padding before it
    int layout;                   // 0: NV12 (u = interleaved UV), 1: I420
    int reserved;
};

#define CY %(cy)d
#define CUB %(cub)d
#define CUG %(cug)d
#define CVG %(cvg)d
#define CVR %(cvr)d
#define SHIFT %(shift)d
#define COEF_SCALE %(coef_scale)d

__device__ __forceinline__ int clamp255(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

__device__ __forceinline__ void fetch_rgb(const FrameParams& p, int x, int y, int* rgb) {
    const unsigned char* luma = (const unsigned char*)p.y;
    int yy = luma[(size_t)y * p.y_pitch + x];
    int u, v;
    size_t row = (size_t)(y >> 1) * p.uv_pitch;
    if (p.layout == 0) {
        const unsigned char* uv = (const unsigned char*)p.u + row + (x & ~1);
        u = uv[0];
        v = uv[1];
    } else {
        u = ((const unsigned char*)p.u)[row + (x >> 1)];
        v = ((const unsigned char*)p.v)[row + (x >> 1)];
    }
    int uu = u - 128, vv = v - 128;
    int ly = max(0, yy - 16) * CY;
    int half = 1 << (SHIFT - 1);
    rgb[0] = clamp255((ly + half + CVR * vv) >> SHIFT);
    rgb[1] = clamp255((ly + half + CVG * vv + CUG * uu) >> SHIFT);
    rgb[2] = clamp255((ly + half + CUB * uu) >> SHIFT);
}

// cv2.resize INTER_LINEAR: sample position (computed in double, as OpenCV does), neighbours
// and the first weight (11 bits).
__device__ __forceinline__ void coefficient(int d, int resized, int size, int* i0, int* i1, int* w0) {
    double scale = 1.0 / ((double)resized / (double)size);
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= s;
    if (s < 0) { f = 0.f; s = 0; }
    if (s >= size - 1) { f = 0.f; s = size - 1; }
    *i0 = s;
    *i1 = min(s + 1, size - 1);
    *w0 = __float2int_rn((1.f - f) * COEF_SCALE);
}

__device__ __forceinline__ unsigned short to_half(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %%0, %%1;" : "=h"(h) : "f"(f));
    return h;
}

extern "C" __global__ void letterbox(const FrameParams* __restrict__ frames, int batch, void* out,
                                     int out_h, int out_w, int half_output) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int b = blockIdx.z;
    if (x >= out_w || y >= out_h || b >= batch) return;
    const FrameParams p = frames[b];
    int value[3];
    int rx = x - p.left, ry = y - p.top;
    if (rx < 0 || ry < 0 || rx >= p.new_w || ry >= p.new_h) {
        value[0] = value[1] = value[2] = %(pad)d;
    } else {
        int x0, x1, wx0, y0, y1, wy0;
        coefficient(rx, p.new_w, p.src_w, &x0, &x1, &wx0);
        coefficient(ry, p.new_h, p.src_h, &y0, &y1, &wy0);
        int wx1 = COEF_SCALE - wx0, wy1 = COEF_SCALE - wy0;
        int c00[3], c01[3], c10[3], c11[3];
        fetch_rgb(p, x0, y0, c00);
        fetch_rgb(p, x1, y0, c01);
        fetch_rgb(p, x0, y1, c10);
        fetch_rgb(p, x1, y1, c11);
        #pragma unroll
        for (int c = 0; c < 3; ++c) {
            int top_row = c00[c] * wx0 + c01[c] * wx1;
            int bottom_row = c10[c] * wx0 + c11[c] * wx1;
            value[c] = clamp255(((((top_row >> 4) * wy0) >> 16) + (((bottom_row >> 4) * wy1) >> 16) + 2) >> 2);
        }
    }
    size_t plane = (size_t)out_h * out_w;
    size_t at = (size_t)b * 3 * plane + (size_t)y * out_w + x;
    if (half_output) {
        unsigned short* o = (unsigned short*)out;
        for (int c = 0; c < 3; ++c) o[at + c * plane] = to_half(value[c] / 255.f);
    } else {
        float* o = (float*)out;
        for (int c = 0; c < 3; ++c) o[at + c * plane] = value[c] / 255.f;
    }
}
""" % {
    "cy": BT601_CY, "cub": BT601_CUB, "cug": BT601_CUG, "cvg": BT601_CVG, "cvr": BT601_CVR,
    "shift": BT601_SHIFT, "coef_scale": 1 << RESIZE_COEF_BITS, "pad": PAD_VALUE,
}

_compiled: dict[tuple[int, tuple[int, int]], CompiledKernel] = {}
_compile_lock = threading.Lock()


def letterbox_kernel(device: CudaDevice) -> CompiledKernel:
    """The kernel for ``device``, compiled once per process and device."""
    key = (device.index, device.info.compute_capability)
    with _compile_lock:
        kernel = _compiled.get(key)
        if kernel is None:
            kernel = _compiled[key] = compile_kernel(device, SOURCE, "letterbox", name="letterbox.cu")
        return kernel


def launch(kernel: CompiledKernel, *, params_ptr: int, batch: int, out_ptr: int, out_hw: tuple[int, int],
           half: bool, stream: int) -> None:
    """One launch over the whole batch: a thread per output pixel, three channels each."""
    height, width = out_hw
    grid = ((width + BLOCK[0] - 1) // BLOCK[0], (height + BLOCK[1] - 1) // BLOCK[1], batch)
    kernel.launch(grid, BLOCK, stream, [
        ctypes.c_uint64(params_ptr), ctypes.c_int32(batch), ctypes.c_uint64(out_ptr),
        ctypes.c_int32(height), ctypes.c_int32(width), ctypes.c_int32(1 if half else 0),
    ])
