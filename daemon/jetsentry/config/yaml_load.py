"""Configuration YAML: UTF-8 text, no duplicate keys, bounded nesting and size.

`load_yaml` raises `YamlProblem` with a one-line reason and, where known, the line and
column.  Reasons never quote the document's text: an unquoted password beginning with
`*`, `&` or `!` reads as an alias, anchor or tag, whose name the YAML library would echo.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

import yaml

from jetsentry.config.limits import quoted

# Deeper than any configuration needs (it uses four levels); PyYAML's composer recurses
# once per level, so without a bound a few hundred levels exhaust Python's stack.
MAX_DEPTH = 32
# Values after alias expansion: nine aliases of nine aliases are 9**9 values otherwise.
MAX_VALUES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class YamlProblem(ValueError):
    """The text is not a usable YAML document; str() is one line."""


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and nesting deeper than MAX_DEPTH."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self._depth >= MAX_DEPTH:
            raise YamlProblem(_where(self.peek_event().start_mark) + f"nesting deeper than {MAX_DEPTH} levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first_at: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:  # merged keys may be overridden: that is what merging is
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = first_at.setdefault(key, key_node)
                except TypeError:  # unhashable: the base class reports it
                    continue
                if first is not key_node:
                    raise YamlProblem(
                        f"{_where(key_node.start_mark)}duplicate key {quoted(key)} "
                        f"(first at line {first.start_mark.line + 1})"
                    )
        return super().construct_mapping(node, deep)


def decode_utf8(data: bytes) -> str:
    """The text of a UTF-8 file (an optional byte-order mark is dropped)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise YamlProblem(f"the file is {name} text (byte-order mark); save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlProblem(
            f"line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8"
        ) from None


def load_yaml(text: str) -> Any:
    """The document in `text`, or YamlProblem."""
    try:
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(_where(exc.problem_mark) + _reason(exc.problem or exc.context or "invalid YAML")) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        raise YamlProblem(
            f"line {line}, column {column}: the character U+{exc.character:04X} is not allowed in YAML"
            if isinstance(exc.character, int) else f"line {line}, column {column}: {exc.reason}"
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"invalid YAML ({_reason(type(exc).__name__)})") from None
    _check_expanded(data)
    return data


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _line_column(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _reason(problem: str) -> str:
    # Quoted parts are the document's own text (alias, anchor and tag names, characters),
    # except token kinds such as '<stream end>': dropped, since they may be part of a
    # secret; the line and column say where.
    tab = "'\\t'" in problem
    reason = _QUOTED.sub(lambda m: m.group() if m.group()[1:2] == "<" else "…", problem)[:200]
    reason = f"invalid YAML ({reason})"
    return reason + "; YAML indentation cannot use tabs" if tab else reason


def _check_expanded(data: Any) -> None:
    """Aliases share nodes: count values and depth as the models will see them."""
    stack = [(data, 1)]
    values = 0
    while stack:
        value, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise YamlProblem(f"the document expands to more than {MAX_VALUES} values (YAML aliases)")
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nesting deeper than {MAX_DEPTH} levels (YAML aliases)")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
