"""infer stage: letterbox, run a YOLO detection engine, decode and NMS, back to source pixels."""

from __future__ import annotations

from jetsentry.infer.detector import Detector, StageTimes, resolve_classes
from jetsentry.infer.engine import (
    Engine,
    EngineOptions,
    available_backends,
    backend_factory,
    create_engine,
    register_backend,
)
from jetsentry.infer.errors import BackendUnavailableError, GpuError, ModelError
from jetsentry.infer.model_info import ModelInfo

__all__ = [
    "BackendUnavailableError",
    "Detector",
    "Engine",
    "EngineOptions",
    "GpuError",
    "ModelError",
    "ModelInfo",
    "StageTimes",
    "available_backends",
    "backend_factory",
    "create_engine",
    "register_backend",
    "resolve_classes",
]
