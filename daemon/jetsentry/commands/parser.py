"""Reading one command: bytes from the broker -> a validated command, or the reason it is refused.

Pure and quick (no I/O), so the broker's network thread could call it; it is fuzzed
(tests/commands/test_parser_fuzz.py).  Every refusal names what is wrong; none quotes a
field's value (a camera source may hold a password).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from jetsentry.commands.models import COMMAND_TYPES, CommandId, CommandMessage, ErrorCode
from jetsentry.config.errors import validation_problems
from jetsentry.config.limits import cut

_ID = TypeAdapter(CommandId)
# Problems listed in one refusal; the rest are counted.
MAX_PROBLEMS = 5


@dataclass(frozen=True, slots=True)
class Parsed:
    command: Any  # one of the models in commands/models.py
    raw: dict[str, Any]  # the JSON object as sent (what a camera change persists)

    @property
    def id(self) -> str:
        return self.command.id

    @property
    def type(self) -> str:
        return self.command.type


@dataclass(frozen=True, slots=True)
class Refused:
    code: ErrorCode
    message: str
    id: str | None = None
    type: str | None = None


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_command(payload: bytes, max_bytes: int) -> Parsed | Refused:
    if len(payload) > max_bytes:
        return Refused("payload_too_large", f"the command is {len(payload)} bytes; at most {max_bytes} are read "
                       "(commands.max_payload_bytes)")
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        return Refused("malformed_json", f"the command is not UTF-8 (byte {exc.start})")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; nesting too deep
        return Refused("malformed_json", f"the command is not JSON: {cut(str(exc), 120)}")
    if not isinstance(data, dict):
        return Refused("not_an_object", f"a command is a JSON object with id and type, not {_json_kind(data)}")
    command_id = data.get("id")
    try:
        command_id = _ID.validate_python(command_id, strict=True)
    except ValidationError:
        what = "missing" if "id" not in data else _json_kind(command_id) if not isinstance(
            command_id, str) else "not 1-128 printable ASCII characters"
        return Refused("invalid_id", f"the command's id is {what}; it must be a string of 1-128 printable ASCII "
                       "characters, unique per command")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in COMMAND_TYPES:
        what = "missing" if "type" not in data else repr(cut(kind, 40)) if isinstance(kind, str) else \
            _json_kind(kind)
        return Refused("unknown_type", f"the command's type is {what}; it must be one of {', '.join(COMMAND_TYPES)}",
                       command_id)
    try:
        command = CommandMessage.model_validate(data).root
    except ValidationError as exc:
        problems = [_without_tag(problem, kind) for problem in validation_problems(exc)]
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        return Refused("invalid_field", "; ".join(problems[:MAX_PROBLEMS]) + more, command_id, kind)
    return Parsed(command, data)


def _without_tag(problem: str, kind: str) -> str:
    # pydantic puts the union's tag first in the location: "add_camera.camera.fps_cap: ..."
    problem = problem.removeprefix(f"{kind}.")
    return problem.replace("unknown key (not a configuration field)", "unknown field")


def _json_kind(value: Any) -> str:
    """The JSON kind of a value, with its article: 'a number', 'an array', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
