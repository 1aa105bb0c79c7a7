"""Inference backend settings: one model per backend, chosen by its ``type`` (a discriminated union).

Each backend has only the fields that mean something to it, so a CPU thread count never
sits beside a GPU memory cap.  ``model.backend`` may also be written as the bare type
(``backend: onnxruntime-cpu``): it then gets that backend's defaults.  The classes live
here rather than beside each engine so that a configuration loads (check-config) on a
machine without the backend's SDK; infer/engine.py maps each type to its engine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from jetsentry.config.rules import check_parallel_runs

CPU_TYPE = "onnxruntime-cpu"
MIB_MAX = 1 << 20  # 1 TiB in MiB: far above any device, below any overflow


class _BackendModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)


class OnnxRuntimeCpuBackend(_BackendModel):
    type: Literal["onnxruntime-cpu"] = Field(description="ONNX Runtime on the CPU.")
    threads: int = Field(0, ge=0, le=256, description="Intra-op threads; 0 = one per core.")
    parallel_runs: int | Literal["auto"] = Field(
        "auto",
        description="Frames of one batch inferred side by side, each run with threads/parallel_runs threads "
        "(more frames/s than one frame after another on all threads, docs/PERFORMANCE.md row 1; a batch "
        "of one frame still uses every thread). auto: the largest divisor of the thread count up to 4.",
    )

    @field_validator("parallel_runs")
    @classmethod
    def _parallel_runs(cls, value: int | str) -> int | str:
        return check_parallel_runs(value)


class _GpuBackend(_BackendModel):
    device: int = Field(0, ge=0, le=63, description="CUDA device index.")
    gpu_mem_limit_mib: int | None = Field(
        None, ge=16, le=MIB_MAX,
        description="Most device memory this engine may take, in MiB; checked at start against what the "
        "device has free (a clear error when it cannot be met). null: no cap.",
    )
    max_batch: int | None = Field(
        None, ge=1, le=64,
        description="Largest batch the engine's device buffers (and a TensorRT profile) are sized for; "
        "null: batching.max_batch.",
    )


class OnnxRuntimeCudaBackend(_GpuBackend):
    type: Literal["onnxruntime-cuda"] = Field(description="ONNX Runtime's CUDA execution provider, I/O on the GPU.")
    arena_extend_strategy: Literal["next_power_of_two", "same_as_requested"] = Field(
        "next_power_of_two",
        description="How the CUDA memory arena grows: next_power_of_two (ONNX Runtime's default, fewer "
        "allocations) or same_as_requested (no slack, for a tight gpu_mem_limit_mib).",
    )
    cudnn_conv_algo_search: Literal["exhaustive", "heuristic", "default"] = Field(
        "exhaustive",
        description="How cuDNN picks each convolution's algorithm on a session's first runs (ONNX Runtime's "
        "cudnn_conv_algo_search): exhaustive (its default: benchmarks them all, the fastest kernels, a slow "
        "first run), heuristic (cuDNN's guess, no benchmarking: a fast first run, kernels maybe slower) or "
        "default (the default algorithm).",
    )


class OnnxRuntimeTensorrtBackend(_GpuBackend):
    type: Literal["onnxruntime-tensorrt"] = Field(
        description="ONNX Runtime's TensorRT execution provider (engine and timing caches in <state_dir>/engines)."
    )
    workspace_mib: int = Field(1024, ge=16, le=MIB_MAX, description="TensorRT builder workspace, MiB.")


class TensorrtBackend(_GpuBackend):
    type: Literal["tensorrt"] = Field(
        description="TensorRT directly (8.5/8.6, 10.x, 11.x). Precision comes from the model file: an "
        "explicitly quantized (QDQ) ONNX gives INT8, an FP16 ONNX gives FP16."
    )
    workspace_mib: int = Field(1024, ge=16, le=MIB_MAX, description="Builder workspace (memory pool limit), MiB.")
    opt_batch: int | None = Field(
        None, ge=1, le=64, description="Batch size the optimization profile tunes for; null: max_batch."
    )
    dla_core: int | None = Field(
        None, ge=0, le=7, description="Run on this DLA core (Jetson AGX/NX), layers it cannot run on the GPU; null: GPU."
    )
    gpu_fallback: bool = Field(True, description="With dla_core: let layers the DLA cannot run fall back to the GPU.")
    build_at_start: bool = Field(
        True,
        description="Build a missing or outdated engine when the daemon starts (takes minutes; later starts "
        "reuse it). false: refuse to start instead; build with `jetsentry engines build`.",
    )


BACKEND_TYPES = ("onnxruntime-cpu", "onnxruntime-cuda", "onnxruntime-tensorrt", "tensorrt")
GPU_BACKEND_TYPES = BACKEND_TYPES[1:]


def _from_type_name(value: Any) -> Any:
    """``backend: onnxruntime-cuda`` is short for ``backend: {type: onnxruntime-cuda}``."""
    if isinstance(value, str):
        if value not in BACKEND_TYPES:
            raise ValueError(f"unknown backend {value!r}; one of {', '.join(BACKEND_TYPES)}")
        return {"type": value}
    return value


BackendConfig = Annotated[
    Union[OnnxRuntimeCpuBackend, OnnxRuntimeCudaBackend, OnnxRuntimeTensorrtBackend, TensorrtBackend],
    Field(discriminator="type"),
    BeforeValidator(_from_type_name),
]

# model.threads and model.parallel_runs predate the per-backend settings; they still
# configure the CPU backend.
LEGACY_CPU_FIELDS = ("threads", "parallel_runs")
_LEGACY_DEFAULTS = {"threads": (0,), "parallel_runs": ("auto", 1)}


def move_legacy_cpu_fields(data: Any) -> Any:
    """Move model.threads / model.parallel_runs into model.backend (the CPU backend's settings).

    A GPU backend takes them only at their defaults (what the example config writes);
    anything else is an error saying where the setting belongs.
    """
    if not isinstance(data, dict) or not any(name in data for name in LEGACY_CPU_FIELDS):
        return data
    data = dict(data)
    backend = _from_type_name(data.get("backend", CPU_TYPE))
    legacy = {name: data.pop(name) for name in LEGACY_CPU_FIELDS if name in data}
    if not isinstance(backend, dict):
        return data  # the union reports a malformed backend
    kind = backend.get("type")
    if kind != CPU_TYPE:
        for name, value in legacy.items():
            if not any(value == default and type(value) is type(default) for default in _LEGACY_DEFAULTS[name]):
                if name == "parallel_runs" and isinstance(value, int) and not isinstance(value, bool) and value > 1:
                    raise ValueError(f"parallel_runs > 1 needs backend {CPU_TYPE}, not {kind}")
                raise ValueError(f"model.{name} applies to backend {CPU_TYPE} only, not {kind}; remove it")
        data["backend"] = backend
        return data
    backend = dict(backend)
    for name, value in legacy.items():
        if name in backend:
            raise ValueError(f"model.{name} and model.backend.{name} are both set; keep model.backend.{name}")
        backend[name] = value
    data["backend"] = backend
    return data
