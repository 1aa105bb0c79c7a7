"""ONNX Runtime's provider options for the GPU backends, from their configuration (no GPU needed)."""

from __future__ import annotations

import pytest

from jetsentry.config import ConfigError, load_config
from jetsentry.config.backends import OnnxRuntimeCudaBackend, OnnxRuntimeTensorrtBackend
from jetsentry.infer.ort_gpu_engine import provider_options
from tests.config.test_config import minimal, write_config


@pytest.mark.parametrize(("setting", "option"), [(None, "EXHAUSTIVE"), ("heuristic", "HEURISTIC"),
                                                 ("default", "DEFAULT"), ("exhaustive", "EXHAUSTIVE")])
def test_cudnn_conv_algo_search_reaches_the_cuda_provider(setting, option):
    fields = {"type": "onnxruntime-cuda"} | ({} if setting is None else {"cudnn_conv_algo_search": setting})
    (name, cuda), = provider_options(OnnxRuntimeCudaBackend(**fields), stream=7, arena_bytes=None, cache_dir=None)
    assert name == "CUDAExecutionProvider" and cuda["cudnn_conv_algo_search"] == option
    assert cuda["user_compute_stream"] == "7"


def test_the_tensorrt_provider_falls_back_to_cuda_with_its_default_search(tmp_path):
    providers = provider_options(OnnxRuntimeTensorrtBackend(type="onnxruntime-tensorrt"), stream=1,
                                 arena_bytes=64 << 20, cache_dir=tmp_path)
    assert [name for name, _ in providers] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert providers[1][1]["cudnn_conv_algo_search"] == "EXHAUSTIVE"
    assert providers[1][1]["gpu_mem_limit"] == str(64 << 20)


def test_an_unknown_search_names_the_field(tmp_path):
    model_file = tmp_path / "m.onnx"
    model_file.write_bytes(b"placeholder: config validation only checks the file exists")
    data = minimal(model_file)
    data["model"]["backend"] = {"type": "onnxruntime-cuda", "cudnn_conv_algo_search": "fastest"}
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data), environ={})
    assert "cudnn_conv_algo_search" in "\n".join(info.value.problems)


@pytest.mark.parametrize(("count", "max_batch", "size"), [
    (1, 16, 1), (2, 16, 2), (3, 16, 4), (5, 16, 8), (9, 16, 16), (16, 16, 16),
    (5, 6, 6), (6, 6, 6), (3, 3, 3), (1, 1, 1),
])
def test_a_dynamic_batch_runs_at_the_next_power_of_two_or_the_largest_batch(count, max_batch, size):
    from jetsentry.infer.ort_gpu_engine import run_size

    assert run_size(count, max_batch) == size


def test_the_warmed_sizes_are_every_size_a_batch_can_run_at():
    from jetsentry.infer.ort_gpu_engine import run_size, run_sizes

    assert run_sizes(16) == [1, 2, 4, 8, 16]
    assert run_sizes(12) == [1, 2, 4, 8, 12]
    for max_batch in range(1, 33):
        assert {run_size(count, max_batch) for count in range(1, max_batch + 1)} == set(run_sizes(max_batch))


def test_an_empty_batch_is_refused():
    from jetsentry.infer.ort_gpu_engine import run_size

    with pytest.raises(ValueError, match="at least one image"):
        run_size(0, 16)
