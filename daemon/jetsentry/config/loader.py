"""Load configuration from YAML plus JETSENTRY__* environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jetsentry.config.models import AppConfig

ENV_PREFIX = "JETSENTRY__"


class ConfigError(Exception):
    """Configuration could not be loaded; `problems` holds one line per error."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def format_location(loc: tuple[Any, ...]) -> str:
    """('cameras', 1, 'source') -> 'cameras[1].source'"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        # Drop pydantic's internal tags for unions/validators from the path.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("function-" in p or p.startswith("constrained"))))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not a configuration field)"
        problems.append(f"{format_location(loc)}: {msg}")
    return problems


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """JETSENTRY__MQTT__HOST=broker sets data['mqtt']['host'];
    JETSENTRY__CAMERAS__0__ENABLED=false indexes lists.  Values are parsed as YAML scalars."""
    for key, raw in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        value = yaml.safe_load(raw) if raw != "" else ""
        node: Any = data
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"environment {key}", [f"list index {part!r} out of range"])
                idx = int(part)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(f"environment {key}", [f"{'.'.join(path[:i])} is not a mapping"])
    return data


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> AppConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}invalid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["<root>: the file must hold a mapping of settings"])
    data = apply_env_overrides(data, os.environ if environ is None else environ)
    _resolve_relative_paths(data, path.parent)
    return parse_config(data, str(path))


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> None:
    """Relative file paths (model, plain-path camera sources) are relative to the config
    file, so a config travels with its model and videos whatever the working directory."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value and "://" not in value and not os.path.isabs(value):
            return str((base / value).resolve())
        return value

    model = data.get("model")
    if isinstance(model, dict):
        model["path"] = resolve(model.get("path"))
    cameras = data.get("cameras")
    if isinstance(cameras, list):
        for camera in cameras:
            if isinstance(camera, dict) and "source" in camera:
                camera["source"] = resolve(camera["source"])


def parse_config(data: dict[str, Any], source: str = "<config>") -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _validation_problems(exc)) from None
