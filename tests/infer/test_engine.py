from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from jetsentry.config.models import ModelConfig
from jetsentry.infer import BackendUnavailableError, Engine, create_engine
from jetsentry.infer import engine as engine_registry
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine


def _brightness_model(make_model, **options):
    """Output equals the image's mean brightness in every channel of every anchor."""
    base = np.zeros((7, 4), np.float32)
    return make_model(base, brightness=np.ones_like(base), **options)


def _batch(levels: list[float], size: int = 64) -> np.ndarray:
    # Levels that are multiples of 1/8 keep ReduceMean exact, so outputs compare tightly.
    return np.stack([np.full((3, size, size), level, np.float32) for level in levels])


def test_create_engine_for_cpu_backend(make_model, simple_head):
    cfg = ModelConfig(path=make_model(simple_head), backend="onnxruntime-cpu", threads=1)
    engine = create_engine(cfg)
    try:
        assert isinstance(engine, Engine)
        assert isinstance(engine, OnnxRuntimeEngine)
        assert engine.backend == "onnxruntime-cpu"
        assert engine.info.class_names == ("person", "car", "dog")
        output = engine.infer(_batch([0.0]))
        np.testing.assert_array_equal(output, simple_head[None])
    finally:
        engine.close()


def test_dynamic_batch_runs_the_whole_batch(make_model):
    engine = OnnxRuntimeEngine(_brightness_model(make_model, batch=None), threads=1)
    output = engine.infer(_batch([0.125, 0.5, 0.875]))
    assert output.shape == (3, 7, 4)
    np.testing.assert_allclose(output[:, 0, 0], [0.125, 0.5, 0.875], atol=1e-6)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_static_batch_is_split_and_padded(make_model, count):
    engine = OnnxRuntimeEngine(_brightness_model(make_model, batch=2), threads=1)
    levels = [0.125 * (i + 1) for i in range(count)]  # sums exact in float32
    output = engine.infer(_batch(levels))
    assert output.shape == (count, 7, 4)
    np.testing.assert_allclose(output[:, 0, 0], levels, atol=1e-6)


def test_half_precision_input_is_fed_float16(make_model):
    engine = OnnxRuntimeEngine(_brightness_model(make_model, half_input=True), threads=1)
    assert engine.info.input_dtype == "float16"
    output = engine.infer(_batch([0.25, 0.75]))
    assert output.dtype == np.float32
    np.testing.assert_allclose(output[:, 0, 0], [0.25, 0.75], atol=1e-3)


def test_wrong_input_size_for_static_model(make_model, simple_head):
    engine = OnnxRuntimeEngine(make_model(simple_head), threads=1)
    with pytest.raises(ValueError, match="batch is 32x32 but model model.onnx takes 64x64"):
        engine.infer(_batch([0.5], size=32))
    with pytest.raises(ValueError, match="batch must be float32"):
        engine.infer(_batch([0.5]).astype(np.float64))


def test_closed_engine_refuses_to_run(make_model, simple_head):
    engine = OnnxRuntimeEngine(make_model(simple_head), threads=1)
    engine.close()
    with pytest.raises(RuntimeError, match="closed"):
        engine.infer(_batch([0.5]))


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime build has CUDA")
def test_missing_provider_is_a_clear_error(make_model, simple_head):
    cfg = ModelConfig(path=make_model(simple_head), backend="onnxruntime-cuda")
    with pytest.raises(BackendUnavailableError, match="needs ONNX Runtime's CUDAExecutionProvider"):
        create_engine(cfg)


def test_unknown_backend(make_model, simple_head):
    cfg = ModelConfig(path=make_model(simple_head)).model_copy(update={"backend": "tensorrt"})
    with pytest.raises(BackendUnavailableError, match="'tensorrt' is unknown; known backends: onnxruntime-cpu"):
        create_engine(cfg)


def test_backend_whose_sdk_is_missing(make_model, simple_head, monkeypatch):
    monkeypatch.setitem(engine_registry._BACKENDS, "tensorrt", "jetsentry_no_such_sdk.engine:from_config")
    cfg = ModelConfig(path=make_model(simple_head)).model_copy(update={"backend": "tensorrt"})
    with pytest.raises(BackendUnavailableError, match="'tensorrt' cannot be loaded on this machine"):
        create_engine(cfg)


def test_intra_op_threads_do_not_spin_wait(make_model, simple_head):
    # Spinning threads would take CPU from capture's decoders between inferences.
    engine = OnnxRuntimeEngine(make_model(simple_head), threads=2)
    options = engine._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
