"""The ONNX Runtime CUDA backend with I/O binding, against the CPU backend on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.capture.frame import Frame
from jetsentry.config.models import ModelConfig
from jetsentry.infer import Detector, EngineOptions, create_engine
from jetsentry.infer.errors import GpuMemoryError
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.gpu.pictures import nv12_from_bgr, scenes, yuv


def _batch(levels, size=64):
    return np.stack([np.full((3, size, size), level, np.float32) for level in levels])


def _brightness(make_model, **options):
    base = np.zeros((7, 4), np.float32)
    return make_model(base, brightness=np.ones_like(base), **options)


@pytest.mark.parametrize("batch", [None, 1, 2])
def test_outputs_equal_the_cpu_backend(ort_cuda, make_model, batch):
    path = _brightness(make_model, batch=batch)
    gpu = create_engine(ModelConfig(path=path, backend={"type": "onnxruntime-cuda", "max_batch": 4}))
    cpu = OnnxRuntimeEngine(path, threads=1)
    try:
        levels = [0.125, 0.5, 0.875]
        np.testing.assert_allclose(gpu.infer(_batch(levels)), cpu.infer(_batch(levels)), atol=1e-6)
        np.testing.assert_allclose(gpu.infer(_batch([0.25])), cpu.infer(_batch([0.25])), atol=1e-6)
    finally:
        gpu.close()
        cpu.close()


def test_a_dynamic_batch_runs_only_at_its_warmed_sizes_and_gives_each_image_its_own_output(ort_cuda, make_model):
    path = _brightness(make_model, batch=None)
    gpu = create_engine(ModelConfig(path=path, backend={"type": "onnxruntime-cuda", "max_batch": 6}))
    run, sizes = gpu._run, []

    def recorded(input_ptr, input_shape, output_ptr, output_shape):  # the engine's own call, observed
        sizes.append(input_shape[0])
        run(input_ptr, input_shape, output_ptr, output_shape)

    gpu._run = recorded
    try:
        for count in range(6, 0, -1):  # larger batches first: a padded run reads what they left
            levels = [0.1 * (k + 1) for k in range(count)]
            output = gpu.infer(_batch(levels))
            assert output.shape[0] == count
            np.testing.assert_allclose(output[:, 0, 0], levels, atol=1e-6)
    finally:
        gpu.close()
    assert sizes == [6, 6, 4, 4, 2, 1]


def test_half_input_model(ort_cuda, make_model):
    path = _brightness(make_model, batch=None, half_input=True)
    engine = create_engine(ModelConfig(path=path, backend="onnxruntime-cuda"))
    try:
        np.testing.assert_allclose(engine.infer(_batch([0.25, 0.75]))[:, 0, 0], [0.25, 0.75], atol=1e-3)
    finally:
        engine.close()


def test_a_cap_the_engine_cannot_meet_is_refused(ort_cuda, make_model, simple_head):
    config = ModelConfig(path=make_model(simple_head, batch=None, hw=(640, 640)),  # 64 inputs: 300 MiB
                         backend={"type": "onnxruntime-cuda", "gpu_mem_limit_mib": 16, "max_batch": 64})
    with pytest.raises(GpuMemoryError, match="more than its cap of 16 MiB"):
        create_engine(config, EngineOptions(max_batch=64))
    from jetsentry.gpu.cuda import get_device

    total_mib = get_device(0).memory_info()[1] >> 20
    too_much = ModelConfig(path=make_model(simple_head, name="b.onnx"),
                           backend={"type": "onnxruntime-cuda", "gpu_mem_limit_mib": total_mib + 1024})
    with pytest.raises(GpuMemoryError, match="is more than GPU 0"):
        create_engine(too_much)


def test_coco_detections_match_the_cpu_path(ort_cuda, coco_model):
    bgrs = scenes(count=4)
    frames = [Frame("cam", i, yuv(nv12_from_bgr(b), 1920, 1080, "NV12"), 0.0, 0.0) for i, b in enumerate(bgrs)]
    cpu = Detector(OnnxRuntimeEngine(coco_model, threads=4))
    gpu = Detector.from_config(ModelConfig(path=coco_model, backend={"type": "onnxruntime-cuda", "max_batch": 4}),
                               EngineOptions(max_batch=4))
    try:
        expected, _ = cpu.detect(frames)
        got, _ = gpu.detect(frames)
    finally:
        cpu.close()
        gpu.close()
    for want, have in zip(expected, got):
        assert len(have) == len(want)
        if len(want):
            np.testing.assert_allclose(have.boxes, want.boxes, atol=1.0)
            np.testing.assert_allclose(have.scores, want.scores, atol=0.01)
            np.testing.assert_array_equal(have.class_ids, want.class_ids)


@pytest.mark.parametrize("classes", [None, [0, 2, 5]])
def test_candidates_selected_on_the_gpu_give_the_cpu_detections_exactly(ort_cuda, coco_model, classes):
    from jetsentry.infer.detector import resolve_classes
    from jetsentry.infer.postprocess import PostprocessSettings, postprocess, postprocess_candidates
    from jetsentry.infer.model_info import ModelInfo

    bgrs = scenes(count=3)
    frames = [Frame("cam", i, yuv(nv12_from_bgr(b), 1920, 1080, "NV12"), 0.0, 0.0) for i, b in enumerate(bgrs)]
    detector = Detector.from_config(ModelConfig(path=coco_model, backend={"type": "onnxruntime-cuda", "max_batch": 4}),
                                    EngineOptions(max_batch=4))
    try:
        prepared = detector.prepare(frames)
        ids = resolve_classes(classes or [], ModelInfo.from_onnx(coco_model))
        settings = PostprocessSettings(confidence=0.1, class_ids=ids)
        head = detector.engine.infer(prepared.tensor)
        expected = postprocess(head, prepared.boxes, settings)
        got = postprocess_candidates(detector.engine.infer_candidates(prepared.tensor, 0.1, ids), prepared.boxes,
                                     settings)
    finally:
        detector.close()
    assert sum(len(d) for d in expected) > 0
    for want, have in zip(expected, got):
        np.testing.assert_array_equal(have.boxes, want.boxes)
        np.testing.assert_array_equal(have.scores, want.scores)
        np.testing.assert_array_equal(have.class_ids, want.class_ids)
