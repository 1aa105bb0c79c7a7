"""One execution context's tensors, through the API of the TensorRT version at hand.

TensorRT 10.x and 11.x address tensors by name (``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``); 8.5/8.6 runs here through bindings
(``set_binding_shape``, ``execute_async_v2`` with a list of addresses).  Each call's
status is checked and a refusal raised as TensorRTError naming the call.

Documentation followed:
- 8.5/8.6: https://docs.nvidia.com/deeplearning/tensorrt/archives/tensorrt-861/api/python_api/infer/Core/ExecutionContext.html
  and .../infer/Core/Engine.html (``num_bindings``, ``binding_is_input``, ``get_profile_shape``)
- 10.x: https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Core/ExecutionContext.html
  and the 8.x-to-10.x migration (name-based tensors, enqueueV3)
  https://docs.nvidia.com/deeplearning/tensorrt/11.0.0/api/migration/tensorrt-8x-to-10x-python-api.html
- 11.x: https://docs.nvidia.com/deeplearning/tensorrt/11.4.0/_static/python-api/infer/Core/ExecutionContext.html
  (``ICudaEngine.device_memory_size`` removed: ``device_memory_size_v2``)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jetsentry.infer.errors import ModelError, TensorRTError
from jetsentry.infer.model_info import ModelInfo, check_output_shape


@dataclass(frozen=True)
class TensorSpec:
    name: str
    is_input: bool
    dtype: np.dtype
    max_shape: tuple[int, ...]  # inputs: the profile's maximum; outputs: filled in by the engine


def _ok(result: Any, call: str, why: str = "") -> None:
    if result is False or result is None:
        raise TensorRTError(f"{call} failed{f': {why}' if why else ''}", call=call)


class NamedTensorIO:
    """TensorRT 10.x / 11.x: tensors by name."""

    def __init__(self, trt: Any, engine: Any, context: Any) -> None:
        self._trt, self._engine, self._context = trt, engine, context
        self.tensors: list[TensorSpec] = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            shape = tuple(engine.get_tensor_profile_shape(name, 0)[2]) if is_input else ()
            self.tensors.append(TensorSpec(name, is_input, np.dtype(trt.nptype(engine.get_tensor_dtype(name))), shape))

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> None:
        _ok(self._context.set_input_shape(name, tuple(shape)), f"IExecutionContext.set_input_shape({name}, {list(shape)})",
            "outside the engine's optimization profile")

    def output_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._context.get_tensor_shape(name))

    def set_address(self, name: str, ptr: int) -> None:
        _ok(self._context.set_tensor_address(name, int(ptr)), f"IExecutionContext.set_tensor_address({name})")

    def execute(self, stream: int) -> None:
        _ok(self._context.execute_async_v3(stream), "IExecutionContext.execute_async_v3")

    def device_memory_bytes(self) -> int:
        size = getattr(self._engine, "device_memory_size_v2", None)
        return int(size if size is not None else self._engine.device_memory_size)


class BindingIO:
    """TensorRT 8.5/8.6: tensors by binding index, executed with a list of addresses."""

    def __init__(self, trt: Any, engine: Any, context: Any) -> None:
        self._engine, self._context = engine, context
        self._index: dict[str, int] = {}
        self.tensors = []
        for index in range(engine.num_bindings):
            name = engine.get_binding_name(index)
            is_input = bool(engine.binding_is_input(index))
            shape = tuple(engine.get_profile_shape(0, index)[2]) if is_input else ()
            self._index[name] = index
            self.tensors.append(TensorSpec(name, is_input, np.dtype(trt.nptype(engine.get_binding_dtype(index))), shape))
        self._bindings = [0] * engine.num_bindings

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> None:
        _ok(self._context.set_binding_shape(self._index[name], tuple(shape)),
            f"IExecutionContext.set_binding_shape({name}, {list(shape)})", "outside the engine's optimization profile")

    def output_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._context.get_binding_shape(self._index[name]))

    def set_address(self, name: str, ptr: int) -> None:
        self._bindings[self._index[name]] = int(ptr)

    def execute(self, stream: int) -> None:
        _ok(self._context.execute_async_v2(bindings=list(self._bindings), stream_handle=stream),
            "IExecutionContext.execute_async_v2")

    def device_memory_bytes(self) -> int:
        return int(self._engine.device_memory_size)


def tensor_io(trt: Any, major: int, engine: Any, context: Any) -> NamedTensorIO | BindingIO:
    return BindingIO(trt, engine, context) if major == 8 else NamedTensorIO(trt, engine, context)


@dataclass(frozen=True)
class BufferPlan:
    """Device buffer sizes for an engine's profile maximum."""

    input: TensorSpec
    output: TensorSpec
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    @property
    def input_bytes(self) -> int:
        return int(np.prod(self.input_shape)) * self.input.dtype.itemsize

    @property
    def output_bytes(self) -> int:
        return int(np.prod(self.output_shape)) * self.output.dtype.itemsize


def plan_buffers(io: Any, info: ModelInfo) -> BufferPlan:
    """The input and output tensors the model names, sized for the profile's largest input."""
    by_name = {t.name: t for t in io.tensors}
    inputs = [t for t in io.tensors if t.is_input]
    if len(inputs) != 1 or info.input_name not in by_name or info.output_name not in by_name:
        names = ", ".join(f"{t.name} ({'in' if t.is_input else 'out'})" for t in io.tensors)
        raise ModelError(f"the TensorRT engine for {info.path.name} has tensors {names}; expected input "
                         f"{info.input_name!r} and output {info.output_name!r}")
    spec_in, spec_out = by_name[info.input_name], by_name[info.output_name]
    io.set_input_shape(spec_in.name, spec_in.max_shape)
    output_shape = io.output_shape(spec_out.name)
    if len(output_shape) != 3 or min(output_shape) <= 0:
        raise ModelError(f"the TensorRT engine for {info.path.name} gives output {list(output_shape)} for input "
                         f"{list(spec_in.max_shape)}; expected [B, 4+C, N] or [B, K, 6]")
    check_output_shape(tuple(output_shape), info, f"model.path {info.path}: output {info.output_name!r}")
    return BufferPlan(spec_in, spec_out, tuple(spec_in.max_shape), tuple(output_shape))
