"""The model section for running one given file (`analyze --model`, `eval --model`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jetsentry.config.loader import load_config, validate_section
from jetsentry.config.models import AppConfig, ModelConfig


def model_for_file(model: Path, config: Path | None, overrides: Mapping[str, object]) -> tuple[ModelConfig, AppConfig | None]:
    """``--config``'s model section (defaults without one) running the file ``model``, with the
    command line's ``overrides`` (ModelConfig fields; None: not given), and the loaded config.

    The config's variants and precision belong to its own model.path, so they are dropped:
    the file given is the file run."""
    app = load_config(config) if config is not None else None
    fields = app.model.model_dump() if app is not None else {}
    fields.update(path=model, variants={}, precision="auto")
    fields.update({key: value for key, value in overrides.items() if value is not None})
    return validate_section(ModelConfig, fields, "model settings"), app
