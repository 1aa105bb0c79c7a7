"""Errors of the infer stage; each message names the file or setting at fault."""

from __future__ import annotations


class ModelError(ValueError):
    """The model file is missing, is not ONNX, or is not a YOLO detection model."""


class BackendUnavailableError(RuntimeError):
    """The requested inference backend cannot run on this machine."""
