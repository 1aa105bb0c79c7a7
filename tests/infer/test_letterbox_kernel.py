"""The GPU letterbox kernel: what can be checked without a GPU (its colour constants, its
compilation for the GPUs jetsentry runs on, the per-frame parameters it is given)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jetsentry.capture.frame import DevicePicture, YuvImage
from jetsentry.infer.letterbox import fit

kernel = pytest.importorskip("jetsentry.infer.letterbox_kernel", reason="needs cuda-python")


def _nv12_to_bgr_with_kernel_constants(nv12: np.ndarray, height: int) -> np.ndarray:
    """The kernel's colour arithmetic (fetch_rgb) applied with NumPy to every pixel."""
    luma = nv12[:height].astype(np.int64)
    uv = nv12[height:].reshape(height // 2, -1, 2).astype(np.int64)
    u = np.repeat(np.repeat(uv[..., 0], 2, 0), 2, 1) - 128
    v = np.repeat(np.repeat(uv[..., 1], 2, 0), 2, 1) - 128
    y = np.maximum(0, luma - 16) * kernel.BT601_CY
    half = 1 << (kernel.BT601_SHIFT - 1)
    r = np.clip((y + half + kernel.BT601_CVR * v) >> kernel.BT601_SHIFT, 0, 255)
    g = np.clip((y + half + kernel.BT601_CVG * v + kernel.BT601_CUG * u) >> kernel.BT601_SHIFT, 0, 255)
    b = np.clip((y + half + kernel.BT601_CUB * u) >> kernel.BT601_SHIFT, 0, 255)
    return np.stack([b, g, r], axis=-1).astype(np.uint8)


def test_colour_constants_are_opencvs_bt601():
    # The CPU path converts with cv2.cvtColor; the kernel must compute the same bytes.
    rng = np.random.default_rng(7)
    nv12 = rng.integers(0, 256, (72 * 3 // 2, 96), dtype=np.uint8)
    np.testing.assert_array_equal(_nv12_to_bgr_with_kernel_constants(nv12, 72),
                                  cv2.cvtColor(nv12, cv2.COLOR_YUV2BGR_NV12))


def test_frame_params_match_the_kernels_struct():
    assert kernel.FRAME_PARAMS.itemsize == 64
    assert kernel.FRAME_PARAMS.fields["layout"][1] == 56
    assert "struct FrameParams" in kernel.SOURCE and "%(" not in kernel.SOURCE


@pytest.mark.parametrize("arch", [87, 90, 110])  # Jetson Orin, H100/H200, Jetson Thor
def test_kernels_compile_for_jetsentrys_gpus(arch):
    from jetsentry.gpu.nvrtc import compile_source, supported_archs

    try:
        archs = supported_archs()
    except Exception as exc:  # noqa: BLE001 - NVRTC's library missing
        pytest.skip(f"needs NVRTC: {exc}")
    if arch not in archs and not any(a < arch for a in archs):
        pytest.skip(f"this NVRTC does not know sm_{arch}")
    from jetsentry.infer import head_kernel

    for source in (kernel.SOURCE, head_kernel.SOURCE):
        image = compile_source(source, arch=arch, name="kernel.cu")
        assert image.kind in ("cubin", "ptx") and len(image.data) > 1000


def test_compile_errors_carry_the_log():
    from jetsentry.gpu.nvrtc import compile_source
    from jetsentry.infer.errors import NvrtcError

    with pytest.raises(NvrtcError, match=r"NVRTC_ERROR_COMPILATION[\s\S]*broken.cu\(1\): error"):
        compile_source("__global__ void broken( {", arch=90, name="broken.cu")


def test_params_for_each_picture_kind():
    from jetsentry.infer.gpu_preprocess import _fill

    params = np.zeros(3, kernel.FRAME_PARAMS)
    box = fit((1080, 1920), (640, 640))
    device = DevicePicture(luma_ptr=0x10000, chroma_ptr=0x10000 + 2048 * 1080, pitch=2048, width=1920, height=1080)
    nv12 = YuvImage(np.zeros((1620, 1920), np.uint8), 1920, 1080, "NV12")
    i420 = YuvImage(np.zeros((1620, 1920), np.uint8), 1920, 1080, "I420")
    addresses = {id(nv12): 0x100000, id(i420): 0x900000}
    for index, picture in enumerate((device, nv12, i420)):
        _fill(params[index], picture, box, addresses)
    assert params["new_w"].tolist() == [640] * 3 and params["new_h"].tolist() == [360] * 3
    assert params["top"].tolist() == [140] * 3 and params["left"].tolist() == [0] * 3
    assert params[0]["y"] == 0x10000 and params[0]["u"] == 0x10000 + 2048 * 1080 and params[0]["y_pitch"] == 2048
    assert params[0]["layout"] == kernel.LAYOUT_NV12
    assert params[1]["u"] == 0x100000 + 1920 * 1080 and params[1]["uv_pitch"] == 1920
    assert params[2]["layout"] == kernel.LAYOUT_I420 and params[2]["uv_pitch"] == 960
    assert params[2]["v"] == params[2]["u"] + 960 * 540
