"""Execution-context tensors per TensorRT version and the buffer plan, against the fake TensorRT."""

from __future__ import annotations

import pytest

from jetsentry.config.backends import TensorrtBackend
from jetsentry.infer.errors import ModelError, TensorRTError
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.tensorrt_build import build_engine, build_settings, make_logger, tensorrt_major
from jetsentry.infer.tensorrt_io import BindingIO, NamedTensorIO, plan_buffers, tensor_io
from tests.infer.fake_tensorrt import make_fake_tensorrt


def _context(version, path, *, max_batch=4, input_size=64):
    trt = make_fake_tensorrt(version)
    major = tensorrt_major(trt)
    info = ModelInfo.from_onnx(path)
    settings = build_settings(info, TensorrtBackend(type="tensorrt"), max_batch=max_batch, input_size=input_size,
                              major=major)
    data, _ = build_engine(trt, info.path, settings, major=major, timing_cache=None)
    engine = trt.Runtime(make_logger(trt)).deserialize_cuda_engine(data)
    context = engine.create_execution_context()
    return trt, info, tensor_io(trt, major, engine, context)


@pytest.mark.parametrize("version, kind", [("8.6.2", BindingIO), ("10.3.0", NamedTensorIO), ("11.4.1", NamedTensorIO)])
def test_io_api_per_version(make_model, simple_head, version, kind):
    _, _, io = _context(version, make_model(simple_head, batch=None))
    assert isinstance(io, kind)
    assert [(t.name, t.is_input) for t in io.tensors] == [("images", True), ("output0", False)]
    assert io.tensors[0].max_shape == (4, 3, 64, 64)
    assert io.device_memory_bytes() == 1 << 20


@pytest.mark.parametrize("version", ["8.6.2", "10.3.0", "11.4.1"])
def test_buffers_are_sized_for_the_profile_maximum(make_model, simple_head, version):
    _, info, io = _context(version, make_model(simple_head, batch=None), max_batch=6)
    plan = plan_buffers(io, info)
    assert plan.input_shape == (6, 3, 64, 64) and plan.input_bytes == 6 * 3 * 64 * 64 * 4
    assert plan.output_shape == (6, 7, 8) and plan.output_bytes == 6 * 7 * 8 * 4


def test_half_input_buffers(make_model, simple_head):
    _, info, io = _context("10.3.0", make_model(simple_head, batch=None, half_input=True))
    assert plan_buffers(io, info).input_bytes == 4 * 3 * 64 * 64 * 2


@pytest.mark.parametrize("version, call", [("8.6.2", "set_binding_shape"), ("10.3.0", "set_input_shape")])
def test_a_shape_outside_the_profile_names_the_call(make_model, simple_head, version, call):
    _, _, io = _context(version, make_model(simple_head, batch=None), max_batch=2)
    with pytest.raises(TensorRTError, match=rf"IExecutionContext.{call}\(images, \[3, 3, 64, 64\]\) failed: outside") as caught:
        io.set_input_shape("images", (3, 3, 64, 64))
    assert caught.value.call.startswith(f"IExecutionContext.{call}")


def test_an_engine_without_the_models_output_is_refused(make_model, simple_head, tmp_path):
    _, info, io = _context("10.3.0", make_model(simple_head, batch=None))
    other = ModelInfo.from_onnx(make_model(simple_head, batch=None, name="other.onnx"))
    import dataclasses

    renamed = dataclasses.replace(other, output_name="boxes")
    with pytest.raises(ModelError, match="expected input 'images' and output 'boxes'"):
        plan_buffers(io, renamed)


def test_an_engine_of_another_version_is_refused_by_the_runtime(make_model, simple_head):
    trt_old = make_fake_tensorrt("8.6.2")
    info = ModelInfo.from_onnx(make_model(simple_head))
    settings = build_settings(info, TensorrtBackend(type="tensorrt"), max_batch=1, input_size=64, major=8)
    data, _ = build_engine(trt_old, info.path, settings, major=8, timing_cache=None)
    trt_new = make_fake_tensorrt("10.3.0")
    logger = make_logger(trt_new)
    assert trt_new.Runtime(logger).deserialize_cuda_engine(data) is None  # what the cache never lets happen
    assert "expecting library version 10.3.0 got 8.6.2" in logger.errors[-1]
