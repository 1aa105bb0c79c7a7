"""A batch of device (NVDEC-like) pictures that fails on the CUDA backend is copied to host NV12 pictures
before they go back, held, and inferred by the CPU backend: on a real GPU (skipped without one).

The failure is a FAKE injected around the real ONNX Runtime CUDA engine (its call raises the real
CudaError) after the real GPU letterbox read the device pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jetsentry.capture.frame import Frame
from jetsentry.config.models import ModelConfig, TrackerConfig
from jetsentry.governor.held_frames import HeldFrames
from jetsentry.infer import Detector, EngineOptions
from jetsentry.infer.errors import CudaError
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.pipeline import FrameProcessor
from tests.gpu.pictures import DeviceNv12, nv12_from_bgr, scenes, yuv

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "engines" / "models" / "jetsentry-default.onnx"


class FailingEngine:
    """A FAKE fault around the real engine: every call raises CudaError (CUDA_ERROR_LAUNCH_FAILED)."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.info, self.backend = engine.info, engine.backend
        if hasattr(engine, "infer_candidates"):
            self.infer_candidates = self._fail

    def infer(self, batch):
        self._fail()

    def _fail(self, *args):
        raise CudaError("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (fake)", call="cuLaunchKernel",
                        status="CUDA_ERROR_LAUNCH_FAILED", code=719)

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def close(self) -> None:
        self._engine.close()


def test_a_failed_cuda_batch_of_device_pictures_is_inferred_by_the_cpu_from_host_copies(gpu, ort_cuda):
    width, height = 1280, 720
    nv12s = [nv12_from_bgr(bgr) for bgr in scenes(width, height, count=3)]
    uploads = [DeviceNv12(gpu, picture, width, height) for picture in nv12s]
    frames = [Frame(f"cam{i}", i, upload.picture, 1.7e9, 0.0) for i, upload in enumerate(uploads)]
    primary = Detector.from_config(ModelConfig(path=DEFAULT_MODEL, backend={"type": "onnxruntime-cuda", "max_batch": 4}),
                                   EngineOptions(max_batch=4))
    primary.engine = FailingEngine(primary.engine)
    processor = FrameProcessor(primary, device_id="gpu", tracker=TrackerConfig())
    processor.copy_failed_pictures = True
    cpu = Detector(OnnxRuntimeEngine(DEFAULT_MODEL, threads=2))
    try:
        prepared = processor.prepare(frames)  # the GPU letterbox read the device pictures
        assert [u.released for u in uploads] == [0, 0, 0]
        try:
            processor.complete(prepared)
        except CudaError:
            pass
        else:
            raise AssertionError("the injected CudaError did not fail the batch")
        assert [u.released for u in uploads] == [1, 1, 1]
        for frame, picture in zip(frames, nv12s):
            assert frame.device is None and frame.yuv.format == "NV12"
            np.testing.assert_array_equal(frame.yuv.data, picture)
        held = HeldFrames()
        assert held.hold(frames) and held.given_up == 0
        retried, _ = cpu.detect(held.take_all()[0])
        direct, _ = cpu.detect([Frame("x", 0, yuv(p, width, height, "NV12"), 1.7e9, 0.0) for p in nv12s])
        for got, want in zip(retried, direct):
            np.testing.assert_array_equal(got.boxes, want.boxes)
            np.testing.assert_array_equal(got.scores, want.scores)
    finally:
        processor.close()
        cpu.close()
        for upload in uploads:
            upload.free()
