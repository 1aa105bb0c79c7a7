"""ONNX Runtime engine: CPU, CUDA or TensorRT execution provider."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import onnx

from jetsentry.config.rules import CPU_BACKEND, check_parallel_runs
from jetsentry.infer.errors import BackendUnavailableError, ModelError
from jetsentry.infer.model_info import ModelInfo, check_output_shape
from jetsentry.infer.output_layout import ANCHORS, DETECTION_FIELDS, DETECTIONS
from jetsentry.infer.dfl_cpu import fast_dfl
from jetsentry.infer.qdq_cpu import cpu_form
from jetsentry.infer.run_plan import plan_runs
from jetsentry.optional import ONNX_RUNTIME, missing

try:
    import onnxruntime as ort
except ImportError as exc:
    raise missing("model.backend onnxruntime-*", ONNX_RUNTIME, exc) from exc

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig
    from jetsentry.infer.engine import EngineOptions

# Provider order per backend; ONNX Runtime hands nodes a provider cannot run to the next one.
PROVIDERS: dict[str, tuple[str, ...]] = {
    "onnxruntime-cpu": ("CPUExecutionProvider",),
    "onnxruntime-cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "onnxruntime-tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


# "auto" never runs more concurrent frames than the default batch (4) fills.
_AUTO_MAX_PARALLEL = 4


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))


def auto_parallel_runs(threads: int) -> int:
    """Concurrent single-frame runs for "auto": the largest divisor of the thread count up
    to 4, so every concurrent run gets the same number of threads."""
    total = threads or usable_cores()
    return max(d for d in range(1, min(total, _AUTO_MAX_PARALLEL) + 1) if total % d == 0)


class OnnxRuntimeEngine:
    """ONNX Runtime sessions for one model.

    Models with a static batch size get any batch size: the batch is cut into
    chunks of the model's size and the last chunk is zero-padded.  On the CPU backend
    with ``parallel_runs`` > 1, the frames of a batch are split between that many
    concurrent runs of a second session with threads / parallel_runs threads each
    (infer/run_plan.py says why); the all-core session runs single frames and leftovers.
    """

    def __init__(
        self,
        model_path: str | Path,
        backend: str = "onnxruntime-cpu",
        threads: int = 0,
        parallel_runs: int | Literal["auto"] = 1,
    ) -> None:
        if backend not in PROVIDERS:
            raise BackendUnavailableError(
                f"backend {backend!r} is not an ONNX Runtime backend; one of {sorted(PROVIDERS)}"
            )
        if threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = one per core), got {threads}")
        if check_parallel_runs(parallel_runs, backend) == "auto":
            parallel_runs = auto_parallel_runs(threads) if backend == CPU_BACKEND else 1
        self.info = ModelInfo.from_onnx(model_path)
        self.backend = backend
        self.parallel_runs = parallel_runs
        providers = PROVIDERS[backend]
        available = ort.get_available_providers()
        if providers[0] not in available:
            raise BackendUnavailableError(
                f"model.backend {backend!r} needs ONNX Runtime's {providers[0]}, which this onnxruntime "
                f"build does not have (available: {', '.join(available)})"
            )
        self._model = self._cpu_model_bytes() if backend == CPU_BACKEND else str(self.info.path)
        self._session = self._open_session(providers, threads)
        self._input_dtype = np.float16 if self.info.input_dtype == "float16" else np.float32
        # A failed run raises with ONNX Runtime's message, which the daemon logs rate-limited;
        # ONNX Runtime's own error line for it would go to stderr on every failing batch.
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4  # fatal only
        self._concurrent_session = None
        self._workers = None
        if parallel_runs > 1:
            self._concurrent_session = self._open_session(providers, max(1, (threads or usable_cores()) // parallel_runs))
            # The calling thread runs one group itself.
            self._workers = ThreadPoolExecutor(parallel_runs - 1, thread_name_prefix="jetsentry-infer")

    def _cpu_model_bytes(self) -> str | bytes:
        """What the CPU sessions load: the file, in the form ONNX Runtime's CPU kernels run
        fastest: the DFL decoding with reductions (infer/dfl_cpu.py: equal up to float rounding)
        and an INT8 file's Q/DQ as its integer kernels take them (infer/qdq_cpu.py: the same
        numbers)."""
        model = onnx.load(str(self.info.path))
        rewritten = fast_dfl(model)
        if self.info.precision == "int8":
            rewritten = cpu_form(rewritten or model) or rewritten
        return str(self.info.path) if rewritten is None else rewritten.SerializeToString()

    def _open_session(self, providers: tuple[str, ...], threads: int) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        # Idle intra-op threads otherwise spin-wait for work, burning the cores that
        # capture needs to decode (4 live cameras went from 5.5 to 9.1 frames/s without it).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1  # one model, sequential graph: extra inter-op threads only spin
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = ort.InferenceSession(self._model, sess_options=options, providers=list(providers))
        except Exception as exc:  # ONNX Runtime raises its own exception types (Fail, InvalidGraph, ...)
            raise ModelError(
                f"ONNX Runtime cannot load model.path {self.info.path} with {providers[0]}: {exc}"
            ) from exc
        # A provider whose libraries fail to load is dropped silently; refuse to run slower than asked.
        if session.get_providers()[0] != providers[0]:
            raise BackendUnavailableError(
                f"model.backend {self.backend!r}: ONNX Runtime fell back to {session.get_providers()[0]} "
                f"because {providers[0]} failed to initialise (check the CUDA/TensorRT libraries)"
            )
        return session

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self._check_batch(batch)
        session = self._session
        if session is None:
            raise RuntimeError("engine is closed")
        plan = plan_runs(batch.shape[0], self.info.batch_size, self.parallel_runs)
        outputs: dict[int, np.ndarray] = {}
        if plan.concurrent:
            *others, own = plan.concurrent
            futures = [self._workers.submit(self._run_group, self._concurrent_session, batch, g) for g in others]
            try:
                outputs.update(self._run_group(self._concurrent_session, batch, own))
            finally:
                wait(futures)  # no run may still read the batch when this returns
            for future in futures:
                outputs.update(future.result())
        outputs.update(self._run_group(session, batch, plan.after))
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        return np.concatenate([outputs[start] for start in sorted(outputs)], axis=0)

    def close(self) -> None:
        if self._workers is not None:
            self._workers.shutdown(wait=True)
        self._session = None
        self._concurrent_session = None
        self._model = None

    def _run_group(self, session: ort.InferenceSession, batch: np.ndarray, runs) -> dict[int, np.ndarray]:
        """{first frame: output} for each run of a group, in order."""
        outputs = {}
        chunk = self.info.batch_size
        for run in runs:
            part = batch[run]
            if chunk is not None and part.shape[0] < chunk:
                padded = np.zeros((chunk, *batch.shape[1:]), dtype=batch.dtype)
                padded[: part.shape[0]] = part
                outputs[run.start] = self._run(session, padded)[: part.shape[0]]
            else:
                outputs[run.start] = self._run(session, part)
        return outputs

    def _run(self, session: ort.InferenceSession, batch: np.ndarray) -> np.ndarray:
        feed = batch if self._input_dtype is np.float32 else batch.astype(self._input_dtype)
        (output,) = session.run([self.info.output_name], {self.info.input_name: feed}, self._run_options)
        if not self._fits(output.shape):
            check_output_shape(output.shape, self.info, f"model.path {self.info.path}: output {self.info.output_name!r}")
        return output if output.dtype == np.float32 else output.astype(np.float32)

    def _fits(self, shape: tuple[int, ...]) -> bool:
        """The output shape is the declared layout's (checked in full only when it is not)."""
        if len(shape) != 3:
            return False
        if self.info.output_layout == DETECTIONS:
            return shape[2] == DETECTION_FIELDS
        return self.info.output_layout == ANCHORS and shape[1] == 4 + self.info.num_classes

    def _check_batch(self, batch: np.ndarray) -> None:
        if batch.dtype != np.float32 or batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] == 0:
            raise ValueError(f"batch must be float32 [B>0, 3, H, W], got {batch.dtype} {batch.shape}")
        if not self.info.dynamic_hw and batch.shape[2:] != (self.info.input_height, self.info.input_width):
            raise ValueError(
                f"batch is {batch.shape[2]}x{batch.shape[3]} but model {self.info.path.name} takes "
                f"{self.info.input_height}x{self.info.input_width}"
            )


def from_config(model_cfg: ModelConfig, options: EngineOptions | None = None) -> OnnxRuntimeEngine:
    """The CPU backend (model.backend.type onnxruntime-cpu)."""
    backend = model_cfg.backend
    return OnnxRuntimeEngine(model_cfg.path, backend=backend.type, threads=backend.threads,
                             parallel_runs=backend.parallel_runs)
