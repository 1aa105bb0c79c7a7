"""ONNX Runtime engine: CPU, CUDA or TensorRT execution provider."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from jetsentry.infer.errors import BackendUnavailableError, ModelError
from jetsentry.infer.model_info import ModelInfo

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig

# Provider order per backend; ONNX Runtime hands nodes a provider cannot run to the next one.
PROVIDERS: dict[str, tuple[str, ...]] = {
    "onnxruntime-cpu": ("CPUExecutionProvider",),
    "onnxruntime-cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "onnxruntime-tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


class OnnxRuntimeEngine:
    """One ONNX Runtime session for one model.

    Models with a static batch size get any batch size: the batch is cut into
    chunks of the model's size and the last chunk is zero-padded.
    """

    def __init__(self, model_path: str | Path, backend: str = "onnxruntime-cpu", threads: int = 0) -> None:
        if backend not in PROVIDERS:
            raise BackendUnavailableError(
                f"backend {backend!r} is not an ONNX Runtime backend; one of {sorted(PROVIDERS)}"
            )
        if threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = one per core), got {threads}")
        self.info = ModelInfo.from_onnx(model_path)
        self.backend = backend
        providers = PROVIDERS[backend]
        available = ort.get_available_providers()
        if providers[0] not in available:
            raise BackendUnavailableError(
                f"model.backend {backend!r} needs ONNX Runtime's {providers[0]}, which this onnxruntime "
                f"build does not have (available: {', '.join(available)})"
            )
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        # Idle intra-op threads otherwise spin-wait for work, burning the cores that
        # capture needs to decode; measured in docs/PERFORMANCE.md (4 cameras: 5.5 -> 9.1 frames/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1  # one model, sequential graph: extra inter-op threads only spin
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(str(self.info.path), sess_options=options, providers=list(providers))
        except Exception as exc:  # ONNX Runtime raises its own exception types (Fail, InvalidGraph, ...)
            raise ModelError(
                f"ONNX Runtime cannot load model.path {self.info.path} with {providers[0]}: {exc}"
            ) from exc
        # A provider whose libraries fail to load is dropped silently; refuse to run slower than asked.
        if self._session.get_providers()[0] != providers[0]:
            raise BackendUnavailableError(
                f"model.backend {backend!r}: ONNX Runtime fell back to {self._session.get_providers()[0]} "
                f"because {providers[0]} failed to initialise (check the CUDA/TensorRT libraries)"
            )
        self._input_dtype = np.float16 if self.info.input_dtype == "float16" else np.float32

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self._check_batch(batch)
        chunk = self.info.batch_size
        if chunk is None or batch.shape[0] == chunk:
            return self._run(batch)
        outputs = []
        for start in range(0, batch.shape[0], chunk):
            part = batch[start : start + chunk]
            if part.shape[0] < chunk:
                padded = np.zeros((chunk, *batch.shape[1:]), dtype=batch.dtype)
                padded[: part.shape[0]] = part
                outputs.append(self._run(padded)[: part.shape[0]])
            else:
                outputs.append(self._run(part))
        return np.concatenate(outputs, axis=0)

    def close(self) -> None:
        self._session = None

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise RuntimeError("engine is closed")
        feed = batch if self._input_dtype is np.float32 else batch.astype(self._input_dtype)
        (output,) = self._session.run([self.info.output_name], {self.info.input_name: feed})
        if output.ndim != 3 or output.shape[1] != 4 + self.info.num_classes:
            raise RuntimeError(
                f"model {self.info.path} returned shape {output.shape}, expected [B, {4 + self.info.num_classes}, N]"
            )
        return output if output.dtype == np.float32 else output.astype(np.float32)

    def _check_batch(self, batch: np.ndarray) -> None:
        if batch.dtype != np.float32 or batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] == 0:
            raise ValueError(f"batch must be float32 [B>0, 3, H, W], got {batch.dtype} {batch.shape}")
        if not self.info.dynamic_hw and batch.shape[2:] != (self.info.input_height, self.info.input_width):
            raise ValueError(
                f"batch is {batch.shape[2]}x{batch.shape[3]} but model {self.info.path.name} takes "
                f"{self.info.input_height}x{self.info.input_width}"
            )


def from_config(model_cfg: ModelConfig) -> OnnxRuntimeEngine:
    return OnnxRuntimeEngine(model_cfg.path, backend=model_cfg.backend, threads=model_cfg.threads)
