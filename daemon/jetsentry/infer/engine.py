"""The engine interface and the backend registry.

A backend is a module with a factory ``(model_cfg) -> Engine``.  The registry
imports that module only when its backend is asked for, so an optional SDK
(CUDA, TensorRT) that is missing disables one backend, never the daemon.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from jetsentry.infer.errors import BackendUnavailableError
from jetsentry.infer.model_info import ModelInfo
from jetsentry.optional import MissingDependencyError

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig


@runtime_checkable
class Engine(Protocol):
    """Runs a detection model on preprocessed batches."""

    info: ModelInfo
    backend: str

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """[B, 3, H, W] float32 RGB 0..1 -> raw head output [B, 4+C, N] float32."""
        ...

    def close(self) -> None:
        """Release the backend's resources; the engine is unusable afterwards."""
        ...


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
    """The engine for ``model_cfg.backend``, loaded with ``model_cfg.path``."""
    return backend_factory(model_cfg.backend)(model_cfg)
