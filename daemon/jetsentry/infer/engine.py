"""The engine interface and the backend registry.

A backend is a module with a factory ``(model_cfg, options) -> Engine``, registered
under its config ``type`` (config/backends.py).  The registry imports that module only
when its backend is asked for, so an optional SDK (CUDA, TensorRT) that is missing
disables one backend, never the daemon.

Pre-processing belongs to the engine's side: an engine may offer
``create_preprocessor(input_size)``, which turns captured pictures into the input it
takes (a GPU backend letterboxes NV12 on the GPU into its own input buffer); an engine
without one gets the CPU letterbox (infer/preprocess.py).  A GPU engine may also offer
``infer_candidates(batch, confidence, class_ids)``: the anchors above the threshold,
selected on the device (infer/head_kernel.py), which the Detector then uses instead of
the whole head.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from jetsentry.infer.errors import BackendUnavailableError, ModelError
from jetsentry.infer.letterbox import Letterbox
from jetsentry.infer.model_info import ModelInfo, check_output_shape
from jetsentry.infer.variants import select_model_file
from jetsentry.optional import MissingDependencyError

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig

DEFAULT_STATE_DIR = Path("/var/lib/jetsentry")


@runtime_checkable
class Engine(Protocol):
    """Runs a detection model on preprocessed batches."""

    info: ModelInfo
    backend: str

    def infer(self, batch: Any) -> np.ndarray:
        """[B, 3, H, W] float32 RGB 0..1 (a host array, or what the engine's own pre-processor
        made) -> the model's output, float32 on the host: [B, 4+C, N] or [B, K, 6] as
        ``info.output_layout`` says (infer/output_layout.py)."""
        ...

    def close(self) -> None:
        """Release the backend's resources; the engine is unusable afterwards."""
        ...


log = logging.getLogger("jetsentry.infer")


class Preprocess(Protocol):
    """Pictures (BGR arrays or frames) -> (the engine's input, where each picture sits in it)."""

    def __call__(self, pictures: Sequence[Any]) -> tuple[Any, list[Letterbox]]: ...


@dataclass(frozen=True)
class EngineOptions:
    """What an engine needs besides its model settings."""

    max_batch: int = 4  # batching.max_batch: the largest batch buffers are sized for
    state_dir: Path = DEFAULT_STATE_DIR  # built engines live in <state_dir>/engines


EngineFactory = Callable[["ModelConfig", EngineOptions], Engine]

# backend type -> "module:factory"; looked up lazily so optional SDKs stay optional.
_BACKENDS: dict[str, str] = {
    "onnxruntime-cpu": "jetsentry.infer.onnx_engine:from_config",
    "onnxruntime-cuda": "jetsentry.infer.ort_gpu_engine:from_config",
    "onnxruntime-tensorrt": "jetsentry.infer.ort_gpu_engine:from_config",
    "tensorrt": "jetsentry.infer.tensorrt_engine:from_config",
}


def register_backend(name: str, factory: str) -> None:
    """Add a backend, ``factory`` given as "package.module:function"."""
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def backend_type(backend: Any) -> str:
    """The type of a backend setting (a config model or its bare type name)."""
    return backend if isinstance(backend, str) else backend.type


def backend_factory(backend: Any) -> EngineFactory:
    """The factory of `backend` (a type, or a backend config), its module imported: what a
    command checks before any work.

    MissingDependencyError (with the install command) when the backend's runtime is not
    installed, BackendUnavailableError when the backend is unknown or otherwise cannot load.
    """
    name = backend_type(backend)
    target = _BACKENDS.get(name)
    if target is None:
        raise BackendUnavailableError(
            f"model.backend {name!r} is unknown; known backends: {', '.join(available_backends())}"
        )
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise BackendUnavailableError(f"model.backend {name!r} cannot be loaded on this machine: {exc}") from exc
    return getattr(module, function_name)


def create_engine(model_cfg: ModelConfig, options: EngineOptions | None = None) -> Engine:
    """The engine for ``model_cfg.backend``, loaded with the model file it runs best (model.path or
    one of model.variants: infer/variants.py) and its output checked; the factory gets a model
    section whose ``path`` is that file."""
    factory = backend_factory(model_cfg.backend)
    choice = select_model_file(model_cfg)
    if model_cfg.variants:
        log.info("model: %s (%s; %s)", choice.path, choice.precision, choice.reason)
    engine = factory(model_cfg.model_copy(update={"path": choice.path, "variants": {}, "precision": "auto"}),
                     options or EngineOptions())
    try:
        check_output(engine)
    except BaseException:
        engine.close()
        raise
    return engine


def create_preprocessor(engine: Engine, input_size: int) -> Preprocess:
    """The engine's own pre-processor, or the CPU letterbox."""
    own = getattr(engine, "create_preprocessor", None)
    if own is not None:
        return own(input_size)
    from jetsentry.infer.preprocess import Preprocessor

    return Preprocessor(engine.info, input_size)


def check_output(engine: Engine) -> None:
    """Refuse a model whose output does not fit its class names (ModelError naming the shape).

    A static output was checked when the file was read; one with dynamic dimensions is
    only known from a run, so the engine runs once on the smallest input the model takes
    (one stride square where height and width are dynamic: about a millisecond on a CPU),
    and the layout that run shows becomes ``engine.info.output_layout``.
    """
    info = engine.info
    if info.output_layout is not None and info.output_channels is not None:
        return
    shape = (info.batch_size or 1, 3, info.input_height or info.stride, info.input_width or info.stride)
    run = f"a test run on a {list(shape)} input"
    try:
        output = engine.infer(np.zeros(shape, np.float32))
    except ModelError as exc:  # the engine checked the output itself
        raise ModelError(f"{exc} (found by {run})") from None
    except Exception as exc:  # each backend raises its own types
        raise ModelError(f"model.path {info.path}: {run} failed: {exc}") from exc
    layout = check_output_shape(output.shape, info, f"model.path {info.path}: output {info.output_name!r} of {run}")
    if info.output_layout is None:
        engine.info = replace(info, output_layout=layout)
