"""The TensorRT backend's real CUDA buffers, streams and copies, driven by the FAKE TensorRT
(tests/infer/fake_tensorrt.py), which executes through ONNX Runtime's CUDA provider on the
backend's device pointers.  This shows the backend around TensorRT works; it cannot show
that TensorRT accepts an engine."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.config.models import ModelConfig
from jetsentry.infer.errors import GpuMemoryError, TensorRTError
from tests.infer.fake_tensorrt import make_fake_tensorrt


def _engine(path, state_dir, version, **backend):
    import sys

    sys.modules.setdefault("tensorrt", make_fake_tensorrt(version))  # the module imports it
    from jetsentry.infer import tensorrt_engine
    from jetsentry.infer.engine import EngineOptions

    cfg = ModelConfig(path=path, backend={"type": "tensorrt", **backend}, input_size=64)
    return tensorrt_engine.from_config(cfg, EngineOptions(max_batch=4, state_dir=state_dir),
                                       trt=make_fake_tensorrt(version))


def _batch(levels):
    return np.stack([np.full((3, 64, 64), level, np.float32) for level in levels])


@pytest.mark.parametrize("version", ["8.6.2", "10.3.0", "11.4.1"])
def test_runs_on_device_buffers_and_matches_the_cpu(ort_cuda, make_model, tmp_path, version):
    from jetsentry.infer.onnx_engine import OnnxRuntimeEngine

    base = np.zeros((7, 4), np.float32)
    path = make_model(base, brightness=np.ones_like(base), batch=None)
    engine = _engine(path, tmp_path, version)
    cpu = OnnxRuntimeEngine(path, threads=1)
    try:
        assert engine.plan.input_shape == (4, 3, 64, 64)
        for levels in ([0.25], [0.125, 0.5, 0.875], [0.5] * 4):
            np.testing.assert_allclose(engine.infer(_batch(levels)), cpu.infer(_batch(levels)), atol=1e-6)
        with pytest.raises(ValueError, match="larger than the engine's buffers"):
            engine.infer(_batch([0.5] * 5))
    finally:
        engine.close()
        cpu.close()


def test_second_start_reuses_the_engine_and_an_upgrade_rebuilds(ort_cuda, make_model, simple_head, tmp_path):
    path = make_model(simple_head, batch=None)
    first = _engine(path, tmp_path, "10.3.0")
    first.close()
    again = _engine(path, tmp_path, "10.3.0")
    again.close()
    engines = sorted((tmp_path / "engines").glob("*.engine"))
    assert len(engines) == 1
    upgraded = _engine(path, tmp_path, "10.16.1")  # same file, rebuilt for the new version
    upgraded.close()
    import json

    manifest = json.loads(engines[0].with_suffix(".json").read_text())
    assert manifest["key"]["tensorrt_version"] == "10.16.1"
    assert manifest["reason"] == "TensorRT version changed: 10.3.0 when built, 10.16.1 now"


def test_memory_cap_counts_the_engines_memory(ort_cuda, make_model, simple_head, tmp_path):
    with pytest.raises(GpuMemoryError, match="more than its cap of 16 MiB"):
        import sys

        sys.modules.setdefault("tensorrt", make_fake_tensorrt("10.3.0"))
        from jetsentry.infer import tensorrt_engine
        from jetsentry.infer.engine import EngineOptions

        cfg = ModelConfig(path=make_model(simple_head, batch=None), input_size=64,
                          backend={"type": "tensorrt", "gpu_mem_limit_mib": 16})
        tensorrt_engine.from_config(cfg, EngineOptions(max_batch=4, state_dir=tmp_path),
                                    trt=make_fake_tensorrt("10.3.0", device_memory=64 << 20))


def test_engines_build_command_builds_then_confirms(ort_cuda, tmp_path, monkeypatch, capsys, make_model, simple_head):
    import sys

    from jetsentry import engines_cli

    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt("10.3.0"))
    monkeypatch.delitem(sys.modules, "jetsentry.infer.tensorrt_engine", raising=False)
    path = make_model(simple_head, batch=None)
    argv = ["build", "--model", str(path), "--state-dir", str(tmp_path), "--input-size", "64", "--max-batch", "2"]
    assert engines_cli.main(argv) == 0
    assert "built (no engine built yet)" in capsys.readouterr().out
    assert engines_cli.main(argv) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_refused_execution_is_a_tensorrt_error(ort_cuda, make_model, simple_head, tmp_path, monkeypatch):
    engine = _engine(make_model(simple_head, batch=None), tmp_path, "10.3.0")
    try:
        monkeypatch.setattr(engine._context, "execute_async_v3", lambda stream: False)
        with pytest.raises(TensorRTError, match="IExecutionContext.execute_async_v3 failed") as caught:
            engine.infer(_batch([0.5]))
        assert caught.value.call == "IExecutionContext.execute_async_v3"
    finally:
        engine.close()


def test_a_static_batch_engine_runs_larger_batches_in_runs(ort_cuda, make_model, tmp_path):
    from jetsentry.infer.onnx_engine import OnnxRuntimeEngine

    base = np.zeros((7, 4), np.float32)
    path = make_model(base, brightness=np.ones_like(base), batch=1)
    engine = _engine(path, tmp_path, "10.3.0")  # options.max_batch = 4, the model's batch 1
    cpu = OnnxRuntimeEngine(path, threads=1)
    try:
        levels = [0.125, 0.5, 0.875]
        np.testing.assert_allclose(engine.infer(_batch(levels)), cpu.infer(_batch(levels)), atol=1e-6)
        found = engine.infer_candidates(_batch(levels), 0.3, None)
        assert [len(c.scores) for c in found] == [0, 4, 4]  # every anchor scores the brightness
    finally:
        engine.close()
        cpu.close()
