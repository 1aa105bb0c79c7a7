"""The TensorRT backend: an engine from the cache (built when missing or outdated), run on
device buffers with one CUDA stream per execution context.

Buffers are allocated once, for the optimization profile's largest input and the output
that input gives; a batch runs with its own shape (``set_input_shape``), reading the GPU
pre-processor's buffer directly (or this engine's own input buffer after one copy of a
host array).  Only the head output crosses to the host, into pinned memory.  TensorRT
objects are released in the order the documentation asks (context, engine, runtime),
then the buffers, in ``close()``; nothing is freed in ``__del__``.

Cannot run in this project's workplace (no TensorRT for its GPU); tests drive it with a
fake of the TensorRT API subset it uses (tests/infer/fake_tensorrt.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jetsentry.gpu.cuda import MIB, check_memory_cap, get_device
from jetsentry.gpu.memory import DeviceBuffer, DeviceTensor, PinnedBuffer, Resources, Stream, copy_dtoh_async, upload_batch
from jetsentry.infer.engine_cache import EngineCache, EngineKey
from jetsentry.infer.errors import ModelError, TensorRTError
from jetsentry.infer.gpu_preprocess import GpuLetterbox
from jetsentry.infer.head_kernel import Candidates, HeadDecoder
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.tensorrt_build import (
    build_engine,
    build_environment,
    build_settings,
    make_logger,
    tensorrt_major,
)
from jetsentry.infer.tensorrt_io import plan_buffers, tensor_io

from jetsentry.optional import TENSORRT, missing

try:
    import tensorrt  # noqa: F401 - a missing TensorRT fails when the backend loads, with the install command
except ImportError as exc:
    raise missing("model.backend tensorrt", TENSORRT, exc) from exc

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig
    from jetsentry.infer.engine import EngineOptions

log = logging.getLogger("jetsentry.infer")


class TensorRTEngine:
    """One TensorRT execution context on one GPU, for one model."""

    def __init__(self, model_path: str | Path, backend: Any, *, max_batch: int, input_size: int,
                 state_dir: Path, trt: Any) -> None:
        self.info = ModelInfo.from_onnx(model_path)
        self.backend = backend.type
        self._trt = trt
        self._major = tensorrt_major(trt)
        self.device = get_device(backend.device)
        self._cap = backend.gpu_mem_limit_mib * MIB if backend.gpu_mem_limit_mib is not None else None
        self._resources = Resources(self.device)
        self._decoder: HeadDecoder | None = None
        self._context = self._engine = self._runtime = None
        settings = build_settings(self.info, backend, max_batch=max_batch, input_size=input_size, major=self._major)
        key = EngineKey(self.info.name, self.info.sha256, settings, build_environment(trt, self.device.info))
        self.device.activate()
        cached = EngineCache(state_dir).load_or_build(
            key, lambda timing: build_engine(trt, self.info.path, settings, major=self._major, timing_cache=timing),
            allow_build=backend.build_at_start)
        self.engine_path = cached.path
        self.max_batch = max_batch
        try:
            self._open(cached.data, backend.dla_core)
        except BaseException:
            self.close()
            raise

    def _open(self, data: bytes, dla_core: int | None) -> None:
        trt = self._trt
        self._logger = make_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        if self._runtime is None:
            raise TensorRTError("trt.Runtime returned no runtime", call="trt.Runtime")
        if dla_core is not None:
            self._runtime.DLA_core = dla_core
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise TensorRTError(f"TensorRT could not deserialise {self.engine_path}: "
                                f"{'; '.join(self._logger.errors) or 'no reason given'}",
                                call="Runtime.deserialize_cuda_engine")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise TensorRTError("create_execution_context returned no context (device memory?)",
                                call="ICudaEngine.create_execution_context")
        self._io = tensor_io(trt, self._major, self._engine, self._context)
        self.plan = plan_buffers(self._io, self.info)
        # A batch runs in profile-sized runs (a static model's batch each); the buffers hold
        # the runs of the largest batch, back to back.
        self._chunk = self.plan.input_shape[0]
        runs = -(-self.max_batch // self._chunk)
        self._slots = runs * self._chunk
        input_bytes, output_bytes = self.plan.input_bytes * runs, self.plan.output_bytes * runs
        need = self._io.device_memory_bytes() + input_bytes * 3 + output_bytes
        check_memory_cap(self.device, self._cap, need, f"model.backend tensorrt on {self.info.path.name}")
        keep = self._resources.keep
        self._stream = keep(Stream(self.device))
        self._input = keep(DeviceBuffer(self.device, input_bytes))
        self._output = keep(DeviceBuffer(self.device, output_bytes))
        self._host_in = keep(PinnedBuffer(self.device, input_bytes))
        self._host_out = keep(PinnedBuffer(self.device, output_bytes))

    def create_preprocessor(self, input_size: int) -> GpuLetterbox:
        return GpuLetterbox(self.device, self.info, input_size, self._slots, self.plan.input.dtype)

    def infer(self, batch: DeviceTensor | np.ndarray) -> np.ndarray:
        """The raw head [B, 4+C, N] as float32 on the host."""
        count, runs = self._run_all(batch)
        used = sum(int(np.prod(shape)) for shape, _ in runs) * self.plan.output.dtype.itemsize
        copy_dtoh_async(self._host_out.ptr, self._output.ptr, used, self._stream.handle)
        self._stream.synchronize()
        dtype, parts, offset = self.plan.output.dtype, [], 0
        for shape, keep in runs:
            size = int(np.prod(shape)) * dtype.itemsize
            parts.append(self._host_out.array[offset : offset + size].view(dtype).reshape(shape)[:keep])
            offset += size
        return np.concatenate(parts).astype(np.float32)

    def infer_candidates(self, batch: DeviceTensor | np.ndarray, confidence: float,
                         class_ids: np.ndarray | None) -> list[Candidates]:
        """Each image's anchors above ``confidence``, selected on the GPU (infer/head_kernel.py)."""
        count, runs = self._run_all(batch)
        _, channels, anchors = runs[0][0]
        if self._decoder is None or self._decoder.anchors != anchors:
            if self._decoder is not None:
                self._decoder.close()
            self._decoder = HeadDecoder(self.device, self._slots, channels, anchors)
        # Runs' outputs follow each other; only a static batch's last run is padded, at the end.
        return self._decoder.decode(self._output.ptr, count, half=self.plan.output.dtype == np.float16,
                                    confidence=confidence, class_ids=class_ids, stream=self._stream.handle)

    def _run_all(self, batch: DeviceTensor | np.ndarray) -> tuple[int, list[tuple[tuple[int, ...], int]]]:
        """Run a batch in profile-sized runs; their heads follow each other in the output buffer.
        Returns the image count and each run's (output shape, images of it kept)."""
        if self._context is None:
            raise RuntimeError("engine is closed")
        self.device.activate()
        tensor = batch if isinstance(batch, DeviceTensor) else upload_batch(
            batch, self.plan.input.dtype, self._host_in, self._input, self._stream,
            f"the engine's buffers ({self._slots} inputs of the profile's largest, {list(self.plan.input_shape[1:])})")
        if np.dtype(tensor.dtype) != self.plan.input.dtype:
            raise ValueError(f"input is {np.dtype(tensor.dtype)}; the engine takes {self.plan.input.dtype}")
        count, *image = tensor.shape
        chunk = self._chunk
        name_in, name_out = self.plan.input.name, self.plan.output.name
        in_frame = int(np.prod(image)) * self.plan.input.dtype.itemsize
        runs: list[tuple[tuple[int, ...], int]] = []
        done, out_at = 0, self._output.ptr
        while done < count:
            run = min(chunk, count - done) if self.info.batch_size is None else chunk
            self._io.set_input_shape(name_in, (run, *image))
            shape = self._io.output_shape(name_out)
            out_bytes = int(np.prod(shape)) * self.plan.output.dtype.itemsize
            if out_at + out_bytes > self._output.ptr + self._output.nbytes:
                raise ModelError(f"output {list(shape)} does not fit the buffer sized for {list(self.plan.output_shape)}")
            self._io.set_address(name_in, tensor.ptr + done * in_frame)
            self._io.set_address(name_out, out_at)
            self._io.execute(self._stream.handle)
            runs.append((shape, min(run, count - done)))
            out_at += out_bytes
            done += run
        return count, runs

    def close(self) -> None:
        """Release the context, engine and runtime (in that order), then the buffers and stream."""
        if getattr(self, "_stream", None) is not None and self._stream.handle:
            self.device.activate()
            self._stream.synchronize()  # nothing may still run on the buffers
        self._context = None
        self._engine = None
        self._runtime = None
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._resources.free_all()


def from_config(model_cfg: ModelConfig, options: EngineOptions, *, trt: Any = None) -> TensorRTEngine:
    """model.backend.type tensorrt."""
    backend = model_cfg.backend
    return TensorRTEngine(model_cfg.path, backend, max_batch=backend.max_batch or options.max_batch,
                          input_size=model_cfg.input_size, state_dir=options.state_dir, trt=trt or tensorrt)
