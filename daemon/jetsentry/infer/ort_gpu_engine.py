"""ONNX Runtime on the GPU: the CUDA (or TensorRT) execution provider with I/O binding.

The input is bound to a device buffer: the letterbox kernel's output (this engine's
pre-processor, infer/gpu_preprocess.py) or, for a host array, this engine's own input
buffer after one copy.  The output is bound to a device buffer allocated once for the
largest batch; the frame path takes only the anchors above the threshold from it
(``infer_candidates``, selected on the GPU), ``infer`` the whole head.  ONNX Runtime
runs on this engine's one CUDA stream (``user_compute_stream``), so copies and
inference are ordered without extra synchronisation.

``gpu_mem_limit_mib`` caps the whole engine: its own buffers plus ONNX Runtime's CUDA
arena (``gpu_mem_limit``), checked against the device's free memory at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jetsentry.gpu.cuda import MIB, check_memory_cap, get_device
from jetsentry.gpu.memory import DeviceBuffer, DeviceTensor, PinnedBuffer, Resources, Stream, copy_dtoh_async, upload_batch
from jetsentry.infer.errors import BackendUnavailableError, ModelError
from jetsentry.infer.gpu_preprocess import GpuLetterbox, input_buffer_bytes, max_input_hw
from jetsentry.infer.head_kernel import Candidates, HeadDecoder
from jetsentry.infer.model_info import ModelInfo
from jetsentry.optional import ONNX_RUNTIME, missing

try:
    import onnxruntime as ort
except ImportError as exc:
    raise missing("model.backend onnxruntime-*", ONNX_RUNTIME, exc) from exc

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig
    from jetsentry.infer.engine import EngineOptions

_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
_ARENA = {"next_power_of_two": "kNextPowerOfTwo", "same_as_requested": "kSameAsRequested"}
_CONV_ALGO_SEARCH = {"exhaustive": "EXHAUSTIVE", "heuristic": "HEURISTIC", "default": "DEFAULT"}
# YOLOv8/YOLO11 heads: one anchor per cell of the stride-8, -16 and -32 grids.
HEAD_STRIDES = (8, 16, 32)


def anchors_for(height: int, width: int, strides: tuple[int, ...] = HEAD_STRIDES) -> int:
    return sum((height // s) * (width // s) for s in strides)


def run_size(count: int, max_batch: int) -> int:
    """The batch a dynamic-batch model runs for ``count`` images: the next power of two, or
    ``max_batch``.  So the model sees at most log2(max_batch) + 2 shapes, each warmed at start
    (cuDNN's algorithm search costs about a second per new shape); the padded images are
    whatever the buffer held and their outputs are not read.  Padding costs GPU time only on
    batches short of full, when the GPU has time to spare."""
    if count <= 0:
        raise ValueError(f"a batch needs at least one image, got {count}")
    size = 1 << (count - 1).bit_length()
    return max(count, min(size, max_batch))


def run_sizes(max_batch: int) -> list[int]:
    """Every size run_size gives for batches of 1 to ``max_batch``, smallest first."""
    return sorted({run_size(count, max_batch) for count in range(1, max_batch + 1)})


def provider_options(backend: Any, *, stream: int, arena_bytes: int | None, cache_dir: Path | None) -> list[tuple]:
    """ONNX Runtime's providers for a GPU backend config, most preferred first."""
    cuda = {"device_id": str(backend.device), "user_compute_stream": str(stream), "has_user_compute_stream": "1",
            "arena_extend_strategy": _ARENA[getattr(backend, "arena_extend_strategy", "next_power_of_two")],
            "cudnn_conv_algo_search": _CONV_ALGO_SEARCH[getattr(backend, "cudnn_conv_algo_search", "exhaustive")]}
    if arena_bytes is not None:
        cuda["gpu_mem_limit"] = str(arena_bytes)
    providers = [("CUDAExecutionProvider", cuda)]
    if backend.type == "onnxruntime-tensorrt":
        if cache_dir is None:
            raise ValueError("the TensorRT provider needs a cache directory")
        trt = {"device_id": str(backend.device), "user_compute_stream": str(stream), "has_user_compute_stream": "1",
               "trt_max_workspace_size": str(backend.workspace_mib * MIB),
               "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache_dir),
               "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(cache_dir)}
        providers.insert(0, ("TensorrtExecutionProvider", trt))
    return providers


class OrtGpuEngine:
    """One ONNX Runtime session on one GPU, inputs and outputs bound to device buffers."""

    def __init__(self, model_path: str | Path, backend: Any, *, max_batch: int, input_size: int,
                 cache_dir: Path | None = None) -> None:
        self.info = ModelInfo.from_onnx(model_path)
        self.backend = backend.type
        self.max_batch = max_batch
        self.input_size = input_size
        _require_provider(self.backend)  # before the device: says what is missing on a machine without either
        self.device = get_device(backend.device)
        self._cap = backend.gpu_mem_limit_mib * MIB if backend.gpu_mem_limit_mib is not None else None
        self._resources = Resources(self.device)
        self._session = None
        self._decoder: HeadDecoder | None = None
        try:
            self._open(backend, cache_dir)
        except BaseException:
            self.close()
            raise

    def _open(self, backend: Any, cache_dir: Path | None) -> None:
        info = self.info
        chunk = info.batch_size or self.max_batch
        slots = self._slots = -(-self.max_batch // chunk) * chunk  # a static batch pads its last chunk
        self._input_dtype = np.dtype(np.float16 if info.input_dtype == "float16" else np.float32)
        height, width = max_input_hw(info, self.input_size)
        anchors = info.num_anchors or anchors_for(height, width)
        # Own buffers: host-input staging, the output, and two pre-processor inputs (infer/detector.py).
        input_bytes = input_buffer_bytes(info, self.input_size, slots, self._input_dtype)
        output_bytes = slots * (4 + info.num_classes) * anchors * 4
        own = input_bytes * 3 + output_bytes
        check_memory_cap(self.device, self._cap, own, f"model.backend {self.backend} on {info.path.name}")
        arena = None if self._cap is None else self._cap - own
        self._stream = self._resources.keep(Stream(self.device))
        providers = provider_options(backend, stream=self._stream.handle, arena_bytes=arena, cache_dir=cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(info.path), sess_options=options, providers=providers)
        except Exception as exc:  # ONNX Runtime raises its own exception types
            raise ModelError(f"ONNX Runtime cannot load model.path {info.path} with {providers[0][0]}: {exc}") from exc
        if self._session.get_providers()[0] != providers[0][0]:
            raise BackendUnavailableError(
                f"model.backend {self.backend!r}: ONNX Runtime fell back to {self._session.get_providers()[0]} "
                f"because {providers[0][0]} failed to initialise (check the CUDA/cuDNN/TensorRT libraries)"
            )
        output = self._session.get_outputs()[0]
        self._output_dtype = np.dtype(_NP_TYPES.get(output.type, np.float32))
        self._output_bytes = slots * (4 + info.num_classes) * anchors * self._output_dtype.itemsize
        keep = self._resources.keep
        self._input = keep(DeviceBuffer(self.device, input_bytes))
        self._output = keep(DeviceBuffer(self.device, self._output_bytes))
        self._host_in = keep(PinnedBuffer(self.device, input_bytes))
        self._host_out = keep(PinnedBuffer(self.device, self._output_bytes))
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4
        self._warm_up()

    def _warm_up(self) -> None:
        """Run every batch size the model will run once: cuDNN picks its convolution algorithms
        on a shape's first run (about a second for a 640x640 YOLOv8n on an H200), which would
        otherwise stall the first batch of each size."""
        if self.info.output_channels is None:
            return  # a dynamic head is checked by a test run (infer/engine.py), which warms up too
        height, width = max_input_hw(self.info, self.input_size)
        for count in (self.info.batch_size,) if self.info.batch_size else run_sizes(self.max_batch):
            self._run_all(np.zeros((count, 3, height, width), np.float32))
        self._stream.synchronize()

    def create_preprocessor(self, input_size: int) -> GpuLetterbox:
        # Room for a static batch's padded last chunk, which the engine reads whole.
        return GpuLetterbox(self.device, self.info, input_size, self._slots, self._input_dtype)

    def infer(self, batch: DeviceTensor | np.ndarray) -> np.ndarray:
        """The raw head [B, 4+C, N] as float32 on the host."""
        count, channels, anchors = self._run_all(batch)
        out_bytes = count * channels * anchors * self._output_dtype.itemsize
        copy_dtoh_async(self._host_out.ptr, self._output.ptr, out_bytes, self._stream.handle)
        self._stream.synchronize()
        output = self._host_out.view(self._output_dtype, (count, channels, anchors))
        return output.astype(np.float32)  # a copy: the pinned buffer is reused by the next batch

    def infer_candidates(self, batch: DeviceTensor | np.ndarray, confidence: float,
                         class_ids: np.ndarray | None) -> list[Candidates]:
        """Each image's anchors above ``confidence``, selected on the GPU (infer/head_kernel.py)."""
        count, channels, anchors = self._run_all(batch)
        if self._decoder is None or self._decoder.anchors != anchors:
            if self._decoder is not None:
                self._decoder.close()
            self._decoder = HeadDecoder(self.device, self._slots, channels, anchors)
        return self._decoder.decode(self._output.ptr, count, half=self._output_dtype == np.float16,
                                    confidence=confidence, class_ids=class_ids, stream=self._stream.handle)

    def _run_all(self, batch: DeviceTensor | np.ndarray) -> tuple[int, int, int]:
        """Run the model on a batch; the head of its images lies in the output buffer, in order."""
        if self._session is None:
            raise RuntimeError("engine is closed")
        self.device.activate()
        tensor = batch if isinstance(batch, DeviceTensor) else upload_batch(
            batch, self._input_dtype, self._host_in, self._input, self._stream,
            f"this engine's input buffer ({self._slots} x {max_input_hw(self.info, self.input_size)})")
        count, _, height, width = tensor.shape
        if count > self._slots:
            raise ValueError(f"batch of {count}; this engine's buffers hold {self.max_batch} (model.backend.max_batch)")
        if not self.info.dynamic_hw and (height, width) != (self.info.input_height, self.info.input_width):
            raise ValueError(f"batch is {height}x{width} but model {self.info.path.name} takes "
                             f"{self.info.input_height}x{self.info.input_width}")
        if np.dtype(tensor.dtype) != self._input_dtype:
            raise ValueError(f"input is {np.dtype(tensor.dtype)}; model {self.info.path.name} takes {self._input_dtype}")
        chunk = self.info.batch_size or count
        if not self.info.batch_size:  # a dynamic batch runs at one of a few warmed sizes, padded
            padded = run_size(count, self.max_batch)
            if tensor.holds(padded * 3 * height * width * self._input_dtype.itemsize):
                chunk = padded
        channels = 4 + self.info.num_classes
        anchors = self.info.num_anchors or anchors_for(height, width)
        in_step = chunk * 3 * height * width * self._input_dtype.itemsize
        out_step = chunk * channels * anchors * self._output_dtype.itemsize
        runs = -(-count // chunk)
        if runs * out_step > self._output_bytes:
            raise ModelError(f"model.path {self.info.path}: a {height}x{width} input gives more anchors than "
                             "the output buffer was sized for")
        for run in range(runs):
            self._run(tensor.ptr + run * in_step, (chunk, 3, height, width),
                      self._output.ptr + run * out_step, (chunk, channels, anchors))
        return count, channels, anchors

    def _run(self, input_ptr: int, input_shape: tuple, output_ptr: int, output_shape: tuple) -> None:
        binding = self._session.io_binding()
        device = self.device.index
        binding.bind_input(self.info.input_name, "cuda", device, self._input_dtype, list(input_shape), input_ptr)
        binding.bind_output(self.info.output_name, "cuda", device, self._output_dtype, list(output_shape), output_ptr)
        try:
            self._session.run_with_iobinding(binding, self._run_options)
        except Exception as exc:
            message = str(exc)
            if "shape" in message.lower() and "output" in message.lower():
                raise ModelError(f"model.path {self.info.path}: output {self.info.output_name!r} is not "
                                 f"{list(output_shape)}: {message}") from exc
            raise

    def close(self) -> None:
        """Free the device buffers and the stream, after the session is gone."""
        self._session = None
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._resources.free_all()


def _require_provider(backend_type: str) -> None:
    wanted = "TensorrtExecutionProvider" if backend_type == "onnxruntime-tensorrt" else "CUDAExecutionProvider"
    available = ort.get_available_providers()
    if wanted not in available:
        raise BackendUnavailableError(
            f"model.backend {backend_type!r} needs ONNX Runtime's {wanted}, which this onnxruntime "
            f"build does not have (available: {', '.join(available)})"
        )


def from_config(model_cfg: ModelConfig, options: EngineOptions) -> OrtGpuEngine:
    """model.backend.type onnxruntime-cuda or onnxruntime-tensorrt."""
    backend = model_cfg.backend
    cache_dir = None
    if backend.type == "onnxruntime-tensorrt":
        from jetsentry.infer.engine_cache import writable_dir

        cache_dir = writable_dir(options.state_dir, "onnxruntime-tensorrt")
    return OrtGpuEngine(model_cfg.path, backend, max_batch=backend.max_batch or options.max_batch,
                        input_size=model_cfg.input_size, cache_dir=cache_dir)
