"""The engine interface and the backend registry.

A backend is a module with a factory ``(model_cfg) -> Engine``.  The registry
imports that module only when its backend is asked for, so an optional SDK
(CUDA, TensorRT) that is missing disables one backend, never the daemon.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from jetsentry.infer.errors import BackendUnavailableError, ModelError
from jetsentry.infer.model_info import ModelInfo, check_output_shape
from jetsentry.infer.variants import select_model_file
from jetsentry.optional import MissingDependencyError

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig


@runtime_checkable
class Engine(Protocol):
    """Runs a detection model on preprocessed batches."""

    info: ModelInfo
    backend: str

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """[B, 3, H, W] float32 RGB 0..1 -> the model's output, float32: [B, 4+C, N] or [B, K, 6]
        as ``info.output_layout`` says (infer/output_layout.py)."""
        ...

    def close(self) -> None:
        """Release the backend's resources; the engine is unusable afterwards."""
        ...


log = logging.getLogger("jetsentry.infer")

EngineFactory = Callable[["ModelConfig"], Engine]

# backend name -> "module:factory"; looked up lazily so optional SDKs stay optional.
_BACKENDS: dict[str, str] = {
    "onnxruntime-cpu": "jetsentry.infer.onnx_engine:from_config",
    "onnxruntime-cuda": "jetsentry.infer.onnx_engine:from_config",
    "onnxruntime-tensorrt": "jetsentry.infer.onnx_engine:from_config",
}


def register_backend(name: str, factory: str) -> None:
    """Add a backend, ``factory`` given as "package.module:function"."""
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def backend_factory(backend: str) -> EngineFactory:
    """The factory of `backend`, its module imported: what a command checks before any work.

    MissingDependencyError (with the install command) when the backend's runtime is not
    installed, BackendUnavailableError when the backend is unknown or otherwise cannot load.
    """
    target = _BACKENDS.get(backend)
    if target is None:
        raise BackendUnavailableError(
            f"model.backend {backend!r} is unknown; known backends: {', '.join(available_backends())}"
        )
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise BackendUnavailableError(f"model.backend {backend!r} cannot be loaded on this machine: {exc}") from exc
    return getattr(module, function_name)


def create_engine(model_cfg: ModelConfig) -> Engine:
    """The engine for ``model_cfg.backend``, loaded with the model file it runs best (model.path or
    one of model.variants: infer/variants.py) and its output checked; the factory gets a model
    section whose ``path`` is that file."""
    factory = backend_factory(model_cfg.backend)
    choice = select_model_file(model_cfg)
    if model_cfg.variants:
        log.info("model: %s (%s; %s)", choice.path, choice.precision, choice.reason)
    engine = factory(model_cfg.model_copy(update={"path": choice.path, "variants": {}, "precision": "auto"}))
    try:
        check_output(engine)
    except BaseException:
        engine.close()
        raise
    return engine


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
