"""Engine failures by kind, and a count of them over a recent window.

`classify_engine_error` names the kind of an exception a batch failed with:

    gpu_memory   the device ran out of memory: GpuMemoryError (a CUDA call answered
                 CUDA_ERROR_OUT_OF_MEMORY, or a configured memory cap), or ONNX Runtime's
                 CUDA provider: "CUDA failure 2: out of memory", its arena's "Failed to
                 allocate memory for requested buffer of size N" and, under a gpu_mem_limit,
                 "Available memory of N is smaller than requested bytes of M",
                 CUBLAS_STATUS_ALLOC_FAILED, CUDNN_STATUS_ALLOC_FAILED.  (ONNX Runtime's CPU arena fails with the same
                 arena message, so on the CPU backend this kind means host memory.)
    cuda_launch  a kernel failed on the device: launch failure, illegal address or
                 instruction, too many resources, launch timeout, no kernel image for the GPU
    cuda         any other failure of CUDA or a CUDA library (CudaError, NvrtcError, another
                 GpuError; ONNX Runtime's "CUDA/CUBLAS/CUDNN/CUDNN_FE failure N: ...")
    tensorrt     TensorRTError, or ONNX Runtime's TensorRT provider ("TensorRT EP ...")
    onnxruntime  any other ONNX Runtime error (its pybind exception types: Fail,
                 RuntimeException, InvalidArgument, EPFail, ...; and the plain RuntimeError
                 "Error in execution: ..." its run_with_iobinding raises for a failed run)
    timeout      TimeoutError (and concurrent.futures' on Python 3.10), EngineTimeoutError: an engine
                 call past its deadline (governor.engine_timeout_s)
    other        anything else

ONNX Runtime's CUDA provider formats a failed call as "<LIB> failure <code>: <error string>
; GPU=<n> ; hostname=<h> ; file=<f> ; line=<l> ; expr=<call>; <message>"
(onnxruntime/core/providers/cuda/cuda_call.cc) and raises it as Fail or RuntimeException, so
its messages are read; an exception raised from another (`raise X from exc`) is judged by
the first cause in its chain that has a kind.
"""

# Not imported by the monitors package: it imports the infer stage's error types.

from __future__ import annotations

import concurrent.futures
import re
import threading
from collections import deque

from jetsentry.infer.errors import CudaError, GpuError, GpuMemoryError, TensorRTError

GPU_MEMORY = "gpu_memory"
CUDA_LAUNCH = "cuda_launch"
CUDA = "cuda"
TENSORRT = "tensorrt"
ONNXRUNTIME = "onnxruntime"
TIMEOUT = "timeout"
OTHER = "other"
KINDS = (GPU_MEMORY, CUDA_LAUNCH, CUDA, TENSORRT, ONNXRUNTIME, TIMEOUT, OTHER)

# CUDA driver statuses (CudaError.status) of a kernel that failed on the device.
LAUNCH_STATUSES = frozenset({
    "CUDA_ERROR_LAUNCH_FAILED", "CUDA_ERROR_ILLEGAL_ADDRESS", "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
    "CUDA_ERROR_LAUNCH_TIMEOUT", "CUDA_ERROR_ILLEGAL_INSTRUCTION", "CUDA_ERROR_MISALIGNED_ADDRESS",
    "CUDA_ERROR_INVALID_PC", "CUDA_ERROR_HARDWARE_STACK_ERROR", "CUDA_ERROR_NO_BINARY_FOR_GPU",
})

_MEMORY_TEXT = re.compile(
    r"out of memory|Failed to allocate memory for requested buffer|CUBLAS_STATUS_ALLOC_FAILED"
    r"|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY"
    r"|Available memory of \d+ is smaller than requested bytes", re.IGNORECASE)
_LAUNCH_TEXT = re.compile(
    r"unspecified launch failure|illegal memory access|illegal instruction|misaligned address"
    r"|too many resources requested for launch|the launch timed out|no kernel image is available"
    r"|cudaErrorLaunch|cudaErrorIllegalAddress|CUDA_ERROR_LAUNCH|CUDA_ERROR_ILLEGAL_ADDRESS", re.IGNORECASE)
_TENSORRT_TEXT = re.compile(r"\bTensorRT(?:RTX)? EP\b|NvTensorRTRTX EP")
_CUDA_TEXT = re.compile(r"\b(?:CUDA|CUBLAS|CUDNN|CUDNN_FE|CUFFT|CURAND|NCCL) (?:failure|error)\b|\bcudaError\w+",
                        re.IGNORECASE)
# ONNX Runtime's run_with_iobinding raises a plain RuntimeError for a run that failed.
_ORT_RUN_FAILED = "Error in execution: "
_TIMEOUTS = (TimeoutError, concurrent.futures.TimeoutError)


def classify_engine_error(exc: BaseException) -> str:
    """The kind (one of KINDS) of the failure `exc`, or of the first cause of it that has one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = _kind_of(current)
        if kind != OTHER:
            return kind
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return OTHER


def _kind_of(exc: BaseException) -> str:
    if isinstance(exc, _TIMEOUTS):  # before GpuError: EngineTimeoutError is both
        return TIMEOUT
    if isinstance(exc, GpuMemoryError):
        return GPU_MEMORY
    if isinstance(exc, CudaError):
        return CUDA_LAUNCH if exc.status in LAUNCH_STATUSES else CUDA
    if isinstance(exc, TensorRTError):
        return TENSORRT
    if isinstance(exc, GpuError):
        return CUDA
    text = str(exc)
    from_onnxruntime = type(exc).__module__.startswith("onnxruntime") or \
        (isinstance(exc, RuntimeError) and text.startswith(_ORT_RUN_FAILED))
    if _MEMORY_TEXT.search(text):
        return GPU_MEMORY
    if _LAUNCH_TEXT.search(text):
        return CUDA_LAUNCH
    if _TENSORRT_TEXT.search(text):
        return TENSORRT
    if _CUDA_TEXT.search(text):
        return CUDA
    return ONNXRUNTIME if from_onnxruntime else OTHER


class EngineErrorCounter:
    """Engine failures by kind with the time each happened; thread-safe.

    Only the last `keep_s` seconds (and at most `max_entries` failures) are kept: the
    governor asks about a window of seconds to minutes.
    """

    def __init__(self, *, keep_s: float = 3600.0, max_entries: int = 10_000) -> None:
        if keep_s <= 0 or max_entries <= 0:
            raise ValueError("keep_s and max_entries must be > 0")
        self._keep_s = keep_s
        self._lock = threading.Lock()
        self._entries: deque[tuple[float, str]] = deque(maxlen=max_entries)
        self.total: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.last: tuple[str, str] | None = None  # kind, "Type: message" of the latest failure

    def record(self, exc: BaseException, now: float) -> str:
        """Count `exc` as failed at `now` (time.monotonic()); returns its kind."""
        kind = classify_engine_error(exc)
        summary = f"{type(exc).__name__}: {exc}"[:300]
        with self._lock:
            self._entries.append((now, kind))
            self.total[kind] += 1
            self.last = (kind, summary)
            while self._entries and now - self._entries[0][0] > self._keep_s:
                self._entries.popleft()
        return kind

    def count(self, kind: str | None = None, *, within_s: float, now: float) -> int:
        """Failures (of `kind`, or of every kind) at most `within_s` seconds before `now`."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown engine error kind {kind!r}; kinds: {', '.join(KINDS)}")
        since = now - within_s
        counted = 0
        with self._lock:
            for t, k in reversed(self._entries):  # oldest first in the deque: stop at the window's start
                if t < since:
                    break
                if t <= now and (kind is None or k == kind):
                    counted += 1
        return counted
