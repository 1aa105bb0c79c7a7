"""The GPU letterbox kernel against the CPU path (cv2 colour conversion + letterbox) on real pictures."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.capture.frame import Frame
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.preprocess import Preprocessor
from tests.gpu.pictures import DeviceNv12, i420_from_bgr, nv12_from_bgr, scenes, yuv


@pytest.fixture
def static_info(make_model, simple_head):
    return ModelInfo.from_onnx(make_model(simple_head, batch=None, hw=(640, 640)))


@pytest.fixture
def dynamic_info(make_model, simple_head):
    return ModelInfo.from_onnx(make_model(simple_head, batch=None, hw=None))


def _download(tensor) -> np.ndarray:
    from jetsentry.gpu.cuda import check, driver

    host = np.empty(tensor.shape, tensor.dtype)
    check(driver.cuMemcpyDtoH(host.ctypes.data, tensor.ptr, host.nbytes), "cuMemcpyDtoH")
    return host


def _poison(gpu, letterbox) -> None:
    from jetsentry.gpu.cuda import check, driver

    gpu.activate()  # NaN in every value: an unwritten element shows
    check(driver.cuMemsetD32(letterbox._out.ptr, 0x7FC00000, letterbox._out.nbytes // 4), "cuMemsetD32")


def _frames(pictures):
    return [Frame("cam", i, p, 0.0, 0.0) for i, p in enumerate(pictures)]


@pytest.mark.parametrize("layout", ["NV12", "I420"])
def test_host_pictures_match_the_cpu_letterbox(gpu, static_info, layout):
    from jetsentry.infer.gpu_preprocess import GpuLetterbox

    bgrs = scenes(count=3)
    pack = nv12_from_bgr if layout == "NV12" else i420_from_bgr
    frames = _frames([yuv(pack(b), 1920, 1080, layout) for b in bgrs])
    letterbox = GpuLetterbox(gpu, static_info, 640, 4)
    try:
        _poison(gpu, letterbox)
        tensor, boxes = letterbox(frames)
        got = _download(tensor)
    finally:
        letterbox.close()
    expected, expected_boxes = Preprocessor(static_info, 640)(frames)
    assert boxes == expected_boxes and not np.isnan(got).any()
    difference = np.abs(got - expected)
    assert difference.mean() <= 1 / 255 / 10 and difference.max() <= 1 / 255 + 1e-6


def test_device_pictures_of_several_sizes_in_one_batch(gpu, dynamic_info):
    from jetsentry.infer.gpu_preprocess import GpuLetterbox

    sizes = [(1920, 1080), (1280, 720), (640, 480)]
    bgrs = [scenes(w, h, 1)[0] for w, h in sizes]
    uploads = [DeviceNv12(gpu, nv12_from_bgr(b), w, h) for b, (w, h) in zip(bgrs, sizes)]
    letterbox = GpuLetterbox(gpu, dynamic_info, 640, 4)
    try:
        _poison(gpu, letterbox)
        tensor, boxes = letterbox(_frames([u.picture for u in uploads]))
        got = _download(tensor)
    finally:
        letterbox.close()
        for upload in uploads:
            upload.free()
    expected, expected_boxes = Preprocessor(dynamic_info, 640)(
        _frames([yuv(nv12_from_bgr(b), w, h, "NV12") for b, (w, h) in zip(bgrs, sizes)]))
    assert boxes == expected_boxes and got.shape == expected.shape
    difference = np.abs(got - expected)
    assert difference.mean() <= 1 / 255 / 10 and difference.max() <= 1 / 255 + 1e-6


def test_half_output(gpu, make_model, simple_head):
    from jetsentry.infer.gpu_preprocess import GpuLetterbox

    info = ModelInfo.from_onnx(make_model(simple_head, batch=None, hw=(640, 640), half_input=True))
    frames = _frames([yuv(nv12_from_bgr(scenes(count=1)[0]), 1920, 1080, "NV12")])
    letterbox = GpuLetterbox(gpu, info, 640, 2, np.float16)
    try:
        tensor, _ = letterbox(frames)
        got = _download(tensor)
    finally:
        letterbox.close()
    expected, _ = Preprocessor(info, 640)(frames)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, expected.astype(np.float16))


def test_bgr_arrays_take_the_cpu_letterbox(gpu, static_info):
    from jetsentry.infer.gpu_preprocess import GpuLetterbox

    bgrs = scenes(count=2)
    letterbox = GpuLetterbox(gpu, static_info, 640, 2)
    try:
        tensor, _ = letterbox(bgrs)
        got = _download(tensor)
    finally:
        letterbox.close()
    np.testing.assert_array_equal(got, Preprocessor(static_info, 640)(bgrs)[0])


def test_too_large_a_batch_is_refused(gpu, static_info):
    from jetsentry.infer.gpu_preprocess import GpuLetterbox

    letterbox = GpuLetterbox(gpu, static_info, 640, 1)
    try:
        with pytest.raises(ValueError, match="takes 1 to 1"):
            letterbox(scenes(count=2))
    finally:
        letterbox.close()
