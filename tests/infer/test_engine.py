from __future__ import annotations

import os
import threading

import numpy as np
import onnxruntime as ort
import pytest
from pydantic import ValidationError

from jetsentry.config.models import ModelConfig
from jetsentry.infer import BackendUnavailableError, Engine, create_engine
from jetsentry.infer import engine as engine_registry
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine, auto_parallel_runs


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
    cfg = ModelConfig(path=make_model(simple_head)).model_copy(update={"backend": "openvino"})
    with pytest.raises(BackendUnavailableError, match="'openvino' is unknown; known backends: onnxruntime-cpu"):
        create_engine(cfg)


def test_backend_whose_sdk_is_missing(make_model, simple_head, monkeypatch):
    monkeypatch.setitem(engine_registry._BACKENDS, "openvino", "jetsentry_no_such_sdk.engine:from_config")
    cfg = ModelConfig(path=make_model(simple_head)).model_copy(update={"backend": "openvino"})
    with pytest.raises(BackendUnavailableError, match="'openvino' cannot be loaded on this machine"):
        create_engine(cfg)


def test_intra_op_threads_do_not_spin_wait(make_model, simple_head):
    # Spinning threads would take CPU from capture's decoders between inferences.
    engine = OnnxRuntimeEngine(make_model(simple_head), threads=2)
    options = engine._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2


class _BarrierSession:
    """Wraps a real session: each thread's first run waits at a barrier, so workers that
    do not run concurrently time out there; optionally one run raises."""

    def __init__(self, session, parties: int, fail_on_start: float | None = None) -> None:
        self._session = session
        self._barrier = threading.Barrier(parties, timeout=10)
        self._fail_on_start = fail_on_start
        self.threads: set[str] = set()

    def run(self, names, feed, run_options=None):
        name = threading.current_thread().name
        if name not in self.threads:
            self.threads.add(name)
            self._barrier.wait()
        if self._fail_on_start is not None and float(next(iter(feed.values()))[0, 0, 0, 0]) == self._fail_on_start:
            raise RuntimeError("run failed on purpose")
        return self._session.run(names, feed, run_options)


@pytest.mark.parametrize("batch_dim", [None, 1, 2])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_parallel_runs_give_the_serial_outputs_in_order(make_model, batch_dim, count):
    model = _brightness_model(make_model, batch=batch_dim)
    serial = OnnxRuntimeEngine(model, threads=2)
    parallel = OnnxRuntimeEngine(model, threads=2, parallel_runs=2)
    try:
        levels = [0.125 * (i + 1) for i in range(count)]
        expected = serial.infer(_batch(levels))
        output = parallel.infer(_batch(levels))
        assert output.shape == (count, 7, 4)
        np.testing.assert_array_equal(output, expected)
        np.testing.assert_allclose(output[:, 0, 0], levels, atol=1e-6)
    finally:
        serial.close()
        parallel.close()


def test_parallel_runs_really_overlap(make_model):
    engine = OnnxRuntimeEngine(_brightness_model(make_model, batch=1), threads=2, parallel_runs=2)
    try:
        # Both workers must be inside a run at once, or the barrier times out.
        engine._concurrent_session = recorder = _BarrierSession(engine._concurrent_session, parties=2)
        output = engine.infer(_batch([0.125, 0.25, 0.375, 0.5]))
        np.testing.assert_allclose(output[:, 0, 0], [0.125, 0.25, 0.375, 0.5], atol=1e-6)
        assert len(recorder.threads) == 2
    finally:
        engine.close()


def test_a_failing_parallel_run_fails_the_batch_and_the_engine_goes_on(make_model):
    engine = OnnxRuntimeEngine(_brightness_model(make_model, batch=1), threads=2, parallel_runs=2)
    try:
        real = engine._concurrent_session
        engine._concurrent_session = _BarrierSession(real, parties=2, fail_on_start=0.375)
        with pytest.raises(RuntimeError, match="run failed on purpose"):
            engine.infer(_batch([0.125, 0.25, 0.375, 0.5]))
        engine._concurrent_session = real
        np.testing.assert_allclose(engine.infer(_batch([0.25, 0.5]))[:, 0, 0], [0.25, 0.5], atol=1e-6)
    finally:
        engine.close()


def test_a_failing_run_raises_with_onnx_runtimes_message_and_prints_nothing_itself(make_model, capfd):
    # The daemon logs failing batches rate-limited; ONNX Runtime must not print each one itself.
    engine = OnnxRuntimeEngine(_brightness_model(make_model, batch=None, hw=None, runs_only_on_hw=(32, 32)), threads=1)
    try:
        capfd.readouterr()
        for _ in range(3):
            with pytest.raises(Exception, match="broadcast"):
                engine.infer(_batch([0.5], size=64))
        assert capfd.readouterr().err == ""
    finally:
        engine.close()


def test_parallel_sessions_share_the_threads(make_model, simple_head):
    engine = OnnxRuntimeEngine(make_model(simple_head), threads=4, parallel_runs=2)
    try:
        assert engine._session.get_session_options().intra_op_num_threads == 4  # single frames: all threads
        assert engine._concurrent_session.get_session_options().intra_op_num_threads == 2
    finally:
        engine.close()


@pytest.mark.parametrize("threads, expected", [(1, 1), (2, 2), (3, 3), (4, 4), (6, 3), (8, 4), (12, 4), (7, 1)])
def test_auto_parallel_runs_divide_the_threads_evenly(threads, expected):
    assert auto_parallel_runs(threads) == expected


def test_auto_parallel_runs_count_the_usable_cores_when_threads_is_zero():
    assert auto_parallel_runs(0) == auto_parallel_runs(len(os.sched_getaffinity(0)))


def test_auto_parallel_runs_from_config(make_model, simple_head):
    cfg = ModelConfig(path=make_model(simple_head), threads=2)
    assert cfg.backend.parallel_runs == "auto" and cfg.backend.threads == 2
    engine = create_engine(cfg)
    try:
        assert engine.parallel_runs == 2
    finally:
        engine.close()


def test_parallel_runs_are_for_the_cpu_backend_only(make_model, simple_head):
    with pytest.raises(ValidationError, match="parallel_runs > 1 needs backend onnxruntime-cpu"):
        ModelConfig(path=make_model(simple_head), backend="onnxruntime-cuda", parallel_runs=2)
    with pytest.raises(ValueError, match="parallel_runs > 1 needs backend onnxruntime-cpu"):
        OnnxRuntimeEngine(make_model(simple_head), backend="onnxruntime-cuda", parallel_runs=2)
    with pytest.raises(ValueError, match="parallel_runs must be 'auto' or an integer from 1 to 64"):
        OnnxRuntimeEngine(make_model(simple_head), parallel_runs=0)
