"""JETSENTRY__* environment overrides.

JETSENTRY__MQTT__HOST=broker sets data['mqtt']['host']; JETSENTRY__CAMERAS__0__ENABLED=false
indexes lists.  How a value is read depends on the field it sets, looked up in the
models along its path: a text field (strings, secrets, paths, text choices) takes the
value exactly as given, so a password may be `[x`, `*x`, `#x`, `null` or `0123`; a
number, boolean, list or section is read as YAML.  Errors name the variable, never
its value.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

from jetsentry.config.errors import ConfigError
from jetsentry.config.limits import cut, utf8_size
from jetsentry.config.secrets import SecretRef
from jetsentry.config.yaml_load import YamlProblem, load_yaml

ENV_PREFIX = "JETSENTRY__"
_TEXT_TYPES = (str, SecretStr, Path)
_NONE = type(None)


def apply_env_overrides(
    data: dict[str, Any], environ: Mapping[str, str], model: type[BaseModel]
) -> dict[tuple[str | int, ...], str]:
    """Apply every JETSENTRY__* variable to `data` (validated later as `model`); returns
    where each one landed (path in `data` -> variable name), for error messages."""
    origins: dict[tuple[str | int, ...], str] = {}
    for key, raw in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        where = f"environment {cut(key)}"
        try:
            utf8_size(raw, "the value")
        except ValueError as exc:
            raise ConfigError(where, [str(exc)]) from None
        value = raw if takes_text(field_annotation(model, path)) else _parse(raw, where)
        origins[_set(data, path, value, where)] = cut(key)
    return origins


def _parse(raw: str, where: str) -> Any:
    if raw == "":
        return ""
    try:
        return load_yaml(raw)
    except YamlProblem as exc:
        raise ConfigError(where, [f"the value is not valid YAML for a number, boolean or list: {exc}"]) from None


def _set(data: dict[str, Any], path: list[str], value: Any, where: str) -> tuple[str | int, ...]:
    node: Any = data
    landed: list[str | int] = []
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(where, [f"list index {part[:20]!r} out of range (the list has {len(node)} items)"])
            index = int(part)
            landed.append(index)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            landed.append(part)
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ConfigError(where, [f"{'.'.join(path[:i])} is not a mapping"])
    return tuple(landed)


def field_annotation(model: type[BaseModel], path: list[str]) -> Any:
    """The annotation of the field at `path` below `model`; None when no field is there.
    In a union of sections (the backends), the first section that has the field counts."""
    node: Any = model
    for part in path:
        containers = _containers(node)
        if not containers:
            return None
        if typing.get_origin(containers[0]) is list:
            if not part.isdigit():
                return None
            node = typing.get_args(containers[0])[0]
            continue
        fields = [c.model_fields[part] for c in containers if part in c.model_fields]
        if not fields:
            return None
        node = fields[0].annotation
    return node


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (Annotated and Optional unwrapped), else [annotation]."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg) if m is not _NONE]
    return [annotation]


def _containers(annotation: Any) -> list[Any]:
    """What a path can descend into: models (several in a union), a list, or the mapping form of a secret."""
    found = []
    for member in _members(annotation):
        if member is SecretStr:
            return [SecretRef]
        if typing.get_origin(member) is list:
            return [member]
        if isinstance(member, type) and issubclass(member, BaseModel):
            found.append(member)
    return found


def takes_text(annotation: Any) -> bool:
    """True for fields whose values are text (an unknown key too: it is rejected later, by name)."""
    if annotation is None:
        return True
    for member in _members(annotation):
        if typing.get_origin(member) is Literal:
            if not all(isinstance(choice, str) for choice in typing.get_args(member)):
                return False
        elif not (isinstance(member, type) and issubclass(member, _TEXT_TYPES)):
            return False
    return True
