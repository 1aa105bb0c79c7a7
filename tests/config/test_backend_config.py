"""model.backend: one settings model per backend type, the bare type shorthand, and older configs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jetsentry.config import ConfigError, parse_config
from jetsentry.config.backends import OnnxRuntimeCpuBackend, OnnxRuntimeCudaBackend, TensorrtBackend
from jetsentry.config.models import ModelConfig


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"x")
    return path


def test_default_is_the_cpu_backend(model_file):
    backend = ModelConfig(path=model_file).backend
    assert isinstance(backend, OnnxRuntimeCpuBackend) and backend.threads == 0 and backend.parallel_runs == "auto"


@pytest.mark.parametrize("name, kind", [("onnxruntime-cpu", OnnxRuntimeCpuBackend),
                                        ("onnxruntime-cuda", OnnxRuntimeCudaBackend), ("tensorrt", TensorrtBackend)])
def test_a_bare_type_gets_that_backends_defaults(model_file, name, kind):
    backend = ModelConfig(path=model_file, backend=name).backend
    assert isinstance(backend, kind) and backend.type == name


def test_a_mapping_selects_by_type(model_file):
    backend = ModelConfig(path=model_file, backend={"type": "tensorrt", "dla_core": 0, "workspace_mib": 512}).backend
    assert isinstance(backend, TensorrtBackend) and backend.dla_core == 0 and backend.workspace_mib == 512
    assert backend.build_at_start and backend.gpu_fallback


def test_settings_of_another_backend_are_refused(model_file):
    with pytest.raises(ValidationError, match=r"backend\.onnxruntime-cuda\.threads\n.*Extra inputs"):
        ModelConfig(path=model_file, backend={"type": "onnxruntime-cuda", "threads": 2})
    with pytest.raises(ValidationError, match="dla_core"):
        ModelConfig(path=model_file, backend={"type": "onnxruntime-cpu", "dla_core": 0})


def test_unknown_backend_names_the_choices(model_file):
    with pytest.raises(ValidationError, match="unknown backend 'openvino'; one of onnxruntime-cpu, onnxruntime-cuda"):
        ModelConfig(path=model_file, backend="openvino")


def test_older_cpu_settings_still_configure_the_cpu_backend(model_file):
    cfg = ModelConfig(path=model_file, backend="onnxruntime-cpu", threads=2, parallel_runs=2)
    assert cfg.backend.threads == 2 and cfg.backend.parallel_runs == 2
    assert cfg.threads is None and cfg.parallel_runs is None


def test_older_settings_at_their_defaults_are_fine_with_a_gpu_backend(model_file):
    cfg = ModelConfig(path=model_file, backend="onnxruntime-cuda", threads=0, parallel_runs="auto")
    assert isinstance(cfg.backend, OnnxRuntimeCudaBackend)


@pytest.mark.parametrize("fields, message", [
    ({"threads": 4}, "model.threads applies to backend onnxruntime-cpu only, not onnxruntime-cuda"),
    ({"parallel_runs": 2}, "parallel_runs > 1 needs backend onnxruntime-cpu, not onnxruntime-cuda"),
])
def test_older_cpu_settings_with_a_gpu_backend_are_errors(model_file, fields, message):
    with pytest.raises(ValidationError, match=message):
        ModelConfig(path=model_file, backend="onnxruntime-cuda", **fields)


def test_the_same_setting_twice_is_an_error(model_file):
    with pytest.raises(ValidationError, match="model.threads and model.backend.threads are both set"):
        ModelConfig(path=model_file, threads=1, backend={"type": "onnxruntime-cpu", "threads": 2})


@pytest.mark.parametrize("field, value", [("gpu_mem_limit_mib", 8), ("max_batch", 0), ("device", -1),
                                          ("workspace_mib", 0), ("dla_core", 9)])
def test_gpu_limits(model_file, field, value):
    with pytest.raises(ValidationError, match=field):
        ModelConfig(path=model_file, backend={"type": "tensorrt", field: value})


def test_state_dir_default_and_errors(model_file):
    base = {"device_id": "d", "cameras": [{"id": "c", "source": "test://smpte"}], "model": {"path": str(model_file)}}
    assert str(parse_config(base).state_dir) == "/var/lib/jetsentry"
    assert str(parse_config({**base, "state_dir": "/tmp/js"}).state_dir) == "/tmp/js"
    with pytest.raises(ConfigError, match="state_dir"):
        parse_config({**base, "state_dir": "bad\0path"})


def test_backend_settings_from_the_environment(tmp_path, model_file):
    from jetsentry.config import load_config

    config = tmp_path / "c.yaml"
    config.write_text(f"device_id: d\ncameras: [{{id: c, source: 'test://smpte'}}]\n"
                      f"model: {{path: {model_file}, backend: {{type: tensorrt}}}}\n")
    cfg = load_config(config, environ={"JETSENTRY__MODEL__BACKEND__DLA_CORE": "1",
                                       "JETSENTRY__MODEL__BACKEND__GPU_MEM_LIMIT_MIB": "2048"})
    assert cfg.model.backend.dla_core == 1 and cfg.model.backend.gpu_mem_limit_mib == 2048
