"""Load configuration from YAML plus JETSENTRY__* environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, create_model

from jetsentry.config.env import ENV_PREFIX, apply_env_overrides
from jetsentry.config.errors import ConfigError, format_location, report_config_error, validation_problems
from jetsentry.config.files import CONFIG_MAX_BYTES, UnreadableFile, display_path, read_regular_file
from jetsentry.config.limits import path_problem
from jetsentry.config.models import AppConfig
from jetsentry.config.yaml_load import YamlProblem, decode_utf8, load_yaml

__all__ = ["ENV_PREFIX", "ConfigError", "format_location", "load_config", "parse_config", "report_config_error",
           "validate_section"]

Model = TypeVar("Model", bound=BaseModel)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> AppConfig:
    path = Path(path)
    source, data, origins = _read_settings(path, environ)
    _resolve_relative_paths(data, path.parent)
    return parse_config(data, source, origins)


def load_section(path: str | Path, name: str, model: type[Model],
                 environ: Mapping[str, str] | None = None) -> Model:
    """One top-level section of a config file (with its environment overrides), validated alone:
    the other sections, their secrets and files are not read."""
    source, data, origins = _read_settings(Path(path), environ)
    section = create_model(f"{model.__name__}Section", **{name: (model, ...)})  # errors keep the section's name
    value = {} if data.get(name) is None else data[name]
    return getattr(validate_section(section, {name: value}, source, origins), name)


def _read_settings(path: Path, environ: Mapping[str, str] | None) -> tuple[str, dict[str, Any], dict]:
    """(display name, settings with environment overrides applied, where each override came from)."""
    source = display_path(path)
    try:
        data = load_yaml(decode_utf8(read_regular_file(path, max_bytes=CONFIG_MAX_BYTES)))
    except UnreadableFile as exc:
        raise ConfigError(source, [f"cannot read file: {exc}"]) from None
    except YamlProblem as exc:
        raise ConfigError(source, [str(exc)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["<root>: the file must hold a mapping of settings"])
    origins = apply_env_overrides(data, os.environ if environ is None else environ, AppConfig)
    return source, data, origins


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> None:
    """Relative file paths (model and its variants, plain-path camera sources) are relative to the config
    file, so a config travels with its model and videos whatever the working directory."""

    def resolve(value: Any) -> Any:
        if not isinstance(value, str) or not value or "://" in value or path_problem(value):
            return value  # a path the OS cannot take is reported by the field's check
        if os.path.isabs(value):
            return value
        joined = base / value
        try:
            return str(joined.resolve())
        except (OSError, RuntimeError):  # a symlink loop, a path grown too long
            return str(joined)

    model = data.get("model")
    if isinstance(model, dict):
        model["path"] = resolve(model.get("path"))
        variants = model.get("variants")
        if isinstance(variants, dict):
            model["variants"] = {key: resolve(value) for key, value in variants.items()}
    cameras = data.get("cameras")
    if isinstance(cameras, list):
        for camera in cameras:
            if isinstance(camera, dict) and "source" in camera:
                camera["source"] = resolve(camera["source"])


def parse_config(data: dict[str, Any], source: str = "<config>",
                 origins: dict[tuple[Any, ...], str] | None = None) -> AppConfig:
    return validate_section(AppConfig, data, source, origins)


def validate_section(model: type[Model], data: Any, source: str,
                     origins: dict[tuple[Any, ...], str] | None = None) -> Model:
    """`model` validated from `data`, or ConfigError with one line per problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, origins)) from None
